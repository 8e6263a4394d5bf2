/*
 * heap_boost.c - competitor: Boost.Interprocess's managed_shared_memory (Debian's
 * libboost-dev, header-only), with its default algorithm rbtree_best_fit and with
 * simple_seq_fit, both under Boost's process-shared mutex. Boost is C++:
 * bench/setup_competitors.sh builds bench/shared/boost_ipc.cc into
 * .deps/bench/libmkfbench_boostipc.so, loaded here with dlopen().
 *
 * The segment's size is the whole shared memory object (Boost's header and
 * index included); names are passed without the leading '/' (Boost adds it).
 */
#include "shm_heaps.h"

#include "bench/bench.h"

#include <stdlib.h>

/* bench/shared/boost_ipc.cc's interface. */
static struct {
    void *(*create)(int algo, const char *name, size_t size);
    void *(*attach)(int algo, const char *name);
    void (*detach)(int algo, void *shm);
    int (*remove)(const char *name);
    void *(*manager)(int algo, void *shm);
    void *(*base)(int algo, void *shm);
    void *(*rbtree_malloc)(void *mgr, size_t size);
    void (*rbtree_free)(void *mgr, void *p);
    void *(*seqfit_malloc)(void *mgr, size_t size);
    void (*seqfit_free)(void *mgr, void *p);
} bip;

enum { ALGO_RBTREE = 0, ALGO_SEQFIT = 1 };

static const char *boost_load(void)
{
    static const char *const names[] = {
        "mkfb_bip_create",        "mkfb_bip_attach",      "mkfb_bip_detach",
        "mkfb_bip_remove",        "mkfb_bip_manager",     "mkfb_bip_base",
        "mkfb_bip_rbtree_malloc", "mkfb_bip_rbtree_free", "mkfb_bip_seqfit_malloc",
        "mkfb_bip_seqfit_free",
    };
    const char *why = NULL;
    void *lib = bench_dlopen("libmkfbench_boostipc.so", true, &why);
    if (lib != NULL)
        bench_dlsyms(lib, names, (void **)&bip, sizeof(names) / sizeof(names[0]), &why);
    return why;
}

struct boost_heap {
    void *mgr; /* first: the allocation calls load it from the handle */
    char *base;
    void *shm;
    int algo;
};

static const char *boost_name(const char *name)
{
    return name[0] == '/' ? name + 1 : name;
}

static struct shm_heap *boost_open(int algo, void *shm)
{
    if (shm == NULL)
        return NULL;
    struct boost_heap *b = malloc(sizeof(*b));
    if (b == NULL) {
        bip.detach(algo, shm);
        return NULL;
    }
    b->shm = shm;
    b->algo = algo;
    b->mgr = bip.manager(algo, shm);
    b->base = bip.base(algo, shm);
    return (struct shm_heap *)b;
}

static struct shm_heap *rbtree_create(const char *name, size_t size)
{
    return boost_open(ALGO_RBTREE, bip.create(ALGO_RBTREE, boost_name(name), size));
}

static struct shm_heap *rbtree_attach(const char *name)
{
    return boost_open(ALGO_RBTREE, bip.attach(ALGO_RBTREE, boost_name(name)));
}

static struct shm_heap *seqfit_create(const char *name, size_t size)
{
    return boost_open(ALGO_SEQFIT, bip.create(ALGO_SEQFIT, boost_name(name), size));
}

static struct shm_heap *seqfit_attach(const char *name)
{
    return boost_open(ALGO_SEQFIT, bip.attach(ALGO_SEQFIT, boost_name(name)));
}

static void boost_detach(struct shm_heap *h)
{
    struct boost_heap *b = (struct boost_heap *)h;
    bip.detach(b->algo, b->shm);
    free(b);
}

static void boost_unlink(const char *name)
{
    bip.remove(boost_name(name));
}

static void *rbtree_alloc(struct shm_heap *h, size_t size)
{
    return bip.rbtree_malloc(((struct boost_heap *)h)->mgr, size);
}

static void rbtree_free(struct shm_heap *h, void *p)
{
    bip.rbtree_free(((struct boost_heap *)h)->mgr, p);
}

static void *seqfit_alloc(struct shm_heap *h, size_t size)
{
    return bip.seqfit_malloc(((struct boost_heap *)h)->mgr, size);
}

static void seqfit_free(struct shm_heap *h, void *p)
{
    bip.seqfit_free(((struct boost_heap *)h)->mgr, p);
}

/* Boost's own get_handle_from_address / get_address_from_handle: the distance
 * from the segment's base. */
static uint64_t boost_offset(struct shm_heap *h, void *p)
{
    return (uint64_t)((char *)p - ((struct boost_heap *)h)->base);
}

static void *boost_ptr(struct shm_heap *h, uint64_t offset)
{
    return ((struct boost_heap *)h)->base + offset;
}

const struct shm_type shm_boost_rbtree = {
    .id = "boost_rbtree",
    .label = "Boost rbtree",
    .about = "Boost.Interprocess managed_shared_memory, rbtree_best_fit (its default), "
             "Debian libboost-dev 1.74",
    .load = boost_load,
    .shared = true,
    .create = rbtree_create,
    .attach = rbtree_attach,
    .detach = boost_detach,
    .unlink = boost_unlink,
    .alloc = rbtree_alloc,
    .free = rbtree_free,
    .offset = boost_offset,
    .ptr = boost_ptr,
};

const struct shm_type shm_boost_seqfit = {
    .id = "boost_seqfit",
    .label = "Boost seqfit",
    .about = "Boost.Interprocess basic_managed_shared_memory with simple_seq_fit, Debian "
             "libboost-dev 1.74",
    .load = boost_load,
    .shared = true,
    .create = seqfit_create,
    .attach = seqfit_attach,
    .detach = boost_detach,
    .unlink = boost_unlink,
    .alloc = seqfit_alloc,
    .free = seqfit_free,
    .offset = boost_offset,
    .ptr = boost_ptr,
};
