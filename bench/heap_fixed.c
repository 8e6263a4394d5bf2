/*
 * heap_fixed.c - the subject: memkind-fixed's fixed kind, through the public
 * memkind API exactly as a program written for memkind calls it.
 *
 * //bench:bench links libmemkind_fixed.so, as programs and the language bindings
 * load it; //bench:bench_static (BENCH_FIXED_STATIC) links the core's static
 * library, which also lets --fixed-decay-ms reach the kind's jemalloc arena.
 */
#include "heaps.h"

#include <stdio.h>
#include <stdlib.h>

#include "memkind_fixed.h"

#ifdef BENCH_FIXED_STATIC
#define JEMALLOC_NO_DEMANGLE
#include <jemalloc/jemalloc.h>
#define FIXED_LINK "static"
const bool heap_fixed_can_set_decay = true;
#else
#define FIXED_LINK ".so"
const bool heap_fixed_can_set_decay = false;
#endif

/* --fixed-decay-ms: an experiment, not a setting of the library. It sets the
 * kind's arena's dirty and muzzy decay times so that a proposed core change can be
 * measured without rebuilding the core (docs/performance.md). < -1: unchanged. */
long heap_fixed_decay_ms = -2;

static void set_decay(memkind_t kind)
{
#ifndef BENCH_FIXED_STATIC
    (void)kind; /* main.c refuses --fixed-decay-ms here */
#else
    unsigned arena;
    if (heap_fixed_decay_ms < -1 || memkind_thread_get_arena(kind, &arena, 0) != 0)
        return;
    ssize_t ms = (ssize_t)heap_fixed_decay_ms;
    char name[64];
    snprintf(name, sizeof(name), "arena.%u.dirty_decay_ms", arena);
    je_mallctl(name, NULL, NULL, &ms, sizeof(ms));
    snprintf(name, sizeof(name), "arena.%u.muzzy_decay_ms", arena);
    je_mallctl(name, NULL, NULL, &ms, sizeof(ms));
#endif
}

struct heap {
    memkind_t kind;
};

static struct heap *open_flags(void *region, size_t size, unsigned flags)
{
    struct heap *h = malloc(sizeof(*h));
    if (h == NULL)
        return NULL;
    int err = memkind_create_fixed_flags(region, size, flags, &h->kind);
    if (err != MEMKIND_SUCCESS) {
        free(h);
        return NULL;
    }
    set_decay(h->kind);
    return h;
}

static struct heap *fixed_open(void *region, size_t size, bool zeroed)
{
    return open_flags(region, size, zeroed ? MEMKIND_REGION_ZEROED : 0);
}

/* The same with MEMKIND_REGION_PURGE: what giving freed pages back to the system
 * costs on each workload. */
static struct heap *fixed_purge_open(void *region, size_t size, bool zeroed)
{
    return open_flags(region, size, MEMKIND_REGION_PURGE | (zeroed ? MEMKIND_REGION_ZEROED : 0));
}

static void fixed_close(struct heap *h)
{
    memkind_destroy_kind(h->kind);
    free(h);
}

static void *fixed_alloc(struct heap *h, size_t size) { return memkind_malloc(h->kind, size); }
static void fixed_free(struct heap *h, void *ptr) { memkind_free(h->kind, ptr); }
static void *fixed_realloc(struct heap *h, void *ptr, size_t size)
{
    return memkind_realloc(h->kind, ptr, size);
}

static bool fixed_region_free(struct heap *h, size_t *free, size_t *largest)
{
    struct memkind_fixed_stats st;
    if (memkind_fixed_get_stats(h->kind, &st) != MEMKIND_SUCCESS)
        return false;
    *free = st.free;
    *largest = st.largest_free;
    return true;
}

const struct heap_type heap_fixed = {
    .id = "memkind_fixed",
    .label = "memkind-fixed " FIXED_LINK,
    .about = "memkind-fixed through its " FIXED_LINK " library: memkind_create_fixed() + "
             "memkind_malloc/realloc/free (region map hooks, explicit tcache per thread and "
             "kind)",
    .regional = true,
    .open = fixed_open,
    .close = fixed_close,
    .alloc = fixed_alloc,
    .free = fixed_free,
    .realloc = fixed_realloc,
    .region_free = fixed_region_free,
};

const struct heap_type heap_fixed_purge = {
    .id = "memkind_fixed_purge",
    .label = "fixed PURGE",
    .about = "the same kind made with MEMKIND_REGION_PURGE: freed large blocks, shrunk tails "
             "and released slabs go back to the system (madvise) before they are reused",
    .regional = true,
    .open = fixed_purge_open,
    .close = fixed_close,
    .alloc = fixed_alloc,
    .free = fixed_free,
    .realloc = fixed_realloc,
    .region_free = fixed_region_free,
};
