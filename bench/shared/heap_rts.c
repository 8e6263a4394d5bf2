/*
 * heap_rts.c - competitor: rts-alloc (crates.io; its version pinned in
 * bench/rust_shared/Cargo.lock), a lock-free slab allocator for blocks of 256 to
 * 4096 B in a shared file. bench/rust_shared is a cdylib with a C interface over
 * it, loaded here with dlopen(): .deps/bench/libmkfbench_rts.so, which
 * bench/setup_competitors.sh builds, or the file given with --rts-lib (bench/run_all.sh
 * passes the one cargo just built).
 *
 * rts-alloc hands out slots of 256, 512, 1024, 2048 and 4096 B: a smaller request
 * takes a 256 B slot, a larger one fails. A free of another worker's block waits
 * on the owner's remote-free stack until the owner cleans it: the cdylib cleans
 * every 64 allocations and before it gives up (bench/rust_shared/src/lib.rs).
 */
#include "shm_heaps.h"

#include "bench/bench.h"

const char *shm_rts_lib;

static struct {
    struct shm_heap *(*create)(const char *name, size_t size);
    struct shm_heap *(*attach)(const char *name);
    void (*detach)(struct shm_heap *h);
    int (*unlink)(const char *name);
    void *(*malloc)(struct shm_heap *h, size_t size);
    void (*free)(struct shm_heap *h, void *p);
    uint64_t (*offset)(struct shm_heap *h, void *p);
    void *(*ptr)(struct shm_heap *h, uint64_t offset);
} rts;

static const char *rts_load(void)
{
    static const char *const names[] = {"mkfb_rts_create", "mkfb_rts_attach",
                                        "mkfb_rts_detach", "mkfb_rts_unlink",
                                        "mkfb_rts_malloc", "mkfb_rts_free",
                                        "mkfb_rts_offset", "mkfb_rts_ptr"};
    const char *why = NULL;
    void *lib = shm_rts_lib != NULL ? bench_dlopen(shm_rts_lib, false, &why)
                                    : bench_dlopen("libmkfbench_rts.so", true, &why);
    if (lib != NULL)
        bench_dlsyms(lib, names, (void **)&rts, sizeof(names) / sizeof(names[0]), &why);
    return why;
}

static struct shm_heap *rts_create(const char *name, size_t size)
{
    return rts.create(name, size);
}

static struct shm_heap *rts_attach(const char *name)
{
    return rts.attach(name);
}

static void rts_detach(struct shm_heap *h)
{
    rts.detach(h);
}

static void rts_unlink(const char *name)
{
    rts.unlink(name);
}

static void *rts_alloc(struct shm_heap *h, size_t size)
{
    return rts.malloc(h, size);
}

static void rts_free(struct shm_heap *h, void *p)
{
    rts.free(h, p);
}

static uint64_t rts_offset(struct shm_heap *h, void *p)
{
    return rts.offset(h, p);
}

static void *rts_ptr(struct shm_heap *h, uint64_t offset)
{
    return rts.ptr(h, offset);
}

const struct shm_type shm_rts = {
    .id = "rts_alloc",
    .label = "rts-alloc",
    .about = "rts-alloc 5.1.0 (crates.io), lock-free slabs of 256..4096 B, 64 KiB slabs, "
             "through bench/rust_shared",
    .load = rts_load,
    .shared = true,
    .max_block = 4096,
    .min_block = 256,
    .create = rts_create,
    .attach = rts_attach,
    .detach = rts_detach,
    .unlink = rts_unlink,
    .alloc = rts_alloc,
    .free = rts_free,
    .offset = rts_offset,
    .ptr = rts_ptr,
};
