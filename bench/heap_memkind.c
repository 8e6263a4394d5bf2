/*
 * heap_memkind.c - competitor: memkind 1.14's own fixed kind (Debian's
 * libmemkind0), the library whose API memkind-fixed keeps. Loaded with dlopen():
 * it exports the same memkind_* names as libmemkind_fixed.so, which the benchmark
 * is linked with, so its functions are looked up in its own handle.
 */
#include "bench.h"

#include <stdlib.h>

/* memkind.h's declarations for the calls made here (memkind_t is a pointer). */
typedef void *memkind114_t;
static struct {
    int (*create_fixed)(void *addr, size_t size, memkind114_t *kind);
    int (*destroy_kind)(memkind114_t kind);
    void *(*malloc)(memkind114_t kind, size_t size);
    void (*free)(memkind114_t kind, void *ptr);
    void *(*realloc)(memkind114_t kind, void *ptr, size_t size);
} mk;

static const char *memkind_load(void)
{
    static const char *const names[] = {"memkind_create_fixed", "memkind_destroy_kind",
                                        "memkind_malloc", "memkind_free", "memkind_realloc"};
    const char *why = NULL;
    void *lib = bench_dlopen("libmemkind.so.0", false, &why);
    if (lib != NULL && !bench_dlsyms(lib, names, (void **)&mk, sizeof(names) / sizeof(names[0]),
                                     &why))
        return why;
    return why;
}

struct heap {
    memkind114_t kind;
};

static struct heap *memkind_open(void *region, size_t size, bool zeroed)
{
    (void)zeroed;
    struct heap *h = malloc(sizeof(*h));
    if (h != NULL && mk.create_fixed(region, size, &h->kind) != 0) {
        free(h);
        h = NULL;
    }
    return h;
}

static void memkind_close(struct heap *h)
{
    mk.destroy_kind(h->kind);
    free(h);
}

static void *memkind_alloc(struct heap *h, size_t size) { return mk.malloc(h->kind, size); }
static void memkind_free(struct heap *h, void *ptr) { mk.free(h->kind, ptr); }
static void *memkind_realloc(struct heap *h, void *ptr, size_t size)
{
    return mk.realloc(h->kind, ptr, size);
}

const struct heap_type heap_memkind = {
    .id = "memkind_1_14",
    .label = "memkind 1.14",
    .about = "memkind 1.14's fixed kind (Debian libmemkind0): memkind_create_fixed() + "
             "memkind_malloc/realloc/free; its jemalloc arena takes the region with a bump "
             "pointer and never hands a released extent back",
    .regional = true,
    .open = memkind_open,
    .close = memkind_close,
    .alloc = memkind_alloc,
    .free = memkind_free,
    .realloc = memkind_realloc,
    .load = memkind_load,
};
