/*
 * heap_tbbpool.c - competitor: a tbbmalloc memory pool (Debian's libtbbmalloc2)
 * whose raw memory comes from the caller's region, as oneAPI UMF's "scalable" pool
 * runs over a memory provider. tbbmalloc's pool API is C++; bench/setup_competitors.sh
 * builds bench/tbb_pool.cc into .deps/bench/libmkfbench_tbbpool.so, loaded here.
 *
 * The region is handed out by a small first-fit list of free ranges (what a fixed
 * memory provider does): the pool asks for chunks and gives them back when it is
 * done with them, so freed memory serves later requests of any size.
 */
#include "bench.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PAGE ((size_t)4096)

/* bench/tbb_pool.cc's interface. */
struct mkfb_tbb_raw {
    void *(*alloc)(void *arg, size_t *bytes);
    int (*free)(void *arg, void *ptr, size_t bytes);
    void *arg;
};
static struct {
    void *(*create)(const struct mkfb_tbb_raw *raw);
    int (*destroy)(void *pool);
    void *(*malloc)(void *pool, size_t size);
    void (*free)(void *pool, void *ptr);
    void *(*realloc)(void *pool, void *ptr, size_t size);
} tbb;

static const char *tbbpool_load(void)
{
    static const char *const names[] = {"mkfb_tbb_pool_create", "mkfb_tbb_pool_destroy",
                                        "mkfb_tbb_pool_malloc", "mkfb_tbb_pool_free",
                                        "mkfb_tbb_pool_realloc"};
    const char *why = NULL;
    void *lib = bench_dlopen("libmkfbench_tbbpool.so", true, &why);
    if (lib != NULL)
        bench_dlsyms(lib, names, (void **)&tbb, sizeof(names) / sizeof(names[0]), &why);
    return why;
}

struct range {
    uintptr_t start, end;
};

struct heap {
    struct mkfb_tbb_raw raw; /* the pool's id points here */
    void *pool;
    pthread_mutex_t lock;    /* guards the free ranges */
    struct range *free;      /* sorted by address, never adjacent */
    size_t nfree, capfree;
    uintptr_t start, end;
};

/* First fit, in whole pages. */
static void *range_alloc(void *arg, size_t *bytes)
{
    struct heap *h = arg;
    size_t want = (*bytes + PAGE - 1) & ~(PAGE - 1);
    void *p = NULL;
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < h->nfree; i++) {
        struct range *r = &h->free[i];
        if (r->end - r->start < want)
            continue;
        p = (void *)r->start;
        r->start += want;
        if (r->start == r->end) {
            memmove(r, r + 1, (h->nfree - i - 1) * sizeof(*r));
            h->nfree--;
        }
        *bytes = want;
        break;
    }
    pthread_mutex_unlock(&h->lock);
    return p;
}

/* Back into the sorted list, merged with its neighbours. */
static int range_free(void *arg, void *ptr, size_t bytes)
{
    struct heap *h = arg;
    uintptr_t s = (uintptr_t)ptr, e = s + ((bytes + PAGE - 1) & ~(PAGE - 1));
    int rc = 0;
    pthread_mutex_lock(&h->lock);
    size_t i = 0;
    while (i < h->nfree && h->free[i].start < s)
        i++;
    bool prev = i > 0 && h->free[i - 1].end == s;
    bool next = i < h->nfree && h->free[i].start == e;
    if (prev && next) {
        h->free[i - 1].end = h->free[i].end;
        memmove(&h->free[i], &h->free[i + 1], (h->nfree - i - 1) * sizeof(h->free[0]));
        h->nfree--;
    } else if (prev) {
        h->free[i - 1].end = e;
    } else if (next) {
        h->free[i].start = s;
    } else {
        if (h->nfree == h->capfree) {
            size_t cap = h->capfree ? 2 * h->capfree : 64;
            struct range *n = realloc(h->free, cap * sizeof(*n));
            if (n == NULL) {
                rc = -1;
                goto out;
            }
            h->free = n;
            h->capfree = cap;
        }
        memmove(&h->free[i + 1], &h->free[i], (h->nfree - i) * sizeof(h->free[0]));
        h->free[i] = (struct range){s, e};
        h->nfree++;
    }
out:
    pthread_mutex_unlock(&h->lock);
    return rc;
}

static struct heap *tbbpool_open(void *region, size_t size, bool zeroed)
{
    (void)zeroed;
    struct heap *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    pthread_mutex_init(&h->lock, NULL);
    h->start = ((uintptr_t)region + PAGE - 1) & ~(PAGE - 1);
    h->end = ((uintptr_t)region + size) & ~(PAGE - 1);
    h->free = malloc(64 * sizeof(*h->free));
    h->capfree = 64;
    if (h->free != NULL && h->end > h->start) {
        h->free[0] = (struct range){h->start, h->end};
        h->nfree = 1;
    }
    h->raw = (struct mkfb_tbb_raw){range_alloc, range_free, h};
    if (h->free == NULL || (h->pool = tbb.create(&h->raw)) == NULL) {
        free(h->free);
        free(h);
        return NULL;
    }
    return h;
}

static void tbbpool_close(struct heap *h)
{
    tbb.destroy(h->pool);
    pthread_mutex_destroy(&h->lock);
    free(h->free);
    free(h);
}

static void *tbbpool_alloc(struct heap *h, size_t size) { return tbb.malloc(h->pool, size); }
static void tbbpool_free(struct heap *h, void *ptr) { tbb.free(h->pool, ptr); }
static void *tbbpool_realloc(struct heap *h, void *ptr, size_t size)
{
    return tbb.realloc(h->pool, ptr, size);
}

const struct heap_type heap_tbbpool = {
    .id = "tbbmalloc_pool",
    .label = "tbbmalloc pool",
    .about = "oneTBB 2021.8's tbbmalloc memory pool (Debian libtbbmalloc2): "
             "rml::pool_create_v1 with raw-memory callbacks that hand out the region "
             "first-fit (UMF's \"scalable\" pool over a fixed provider); pool_malloc/"
             "realloc/free",
    .regional = true,
    .open = tbbpool_open,
    .close = tbbpool_close,
    .alloc = tbbpool_alloc,
    .free = tbbpool_free,
    .realloc = tbbpool_realloc,
    .load = tbbpool_load,
};
