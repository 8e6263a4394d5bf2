/*
 * utilisation.c - how much of a 64 MiB region an allocator can hand out, and
 * whether freed memory comes back for other sizes, other threads and later rounds;
 * the largest single block an empty region gives, and whether a fragmented region
 * gives the largest free run it reports. Not timed (the wall time is reported for
 * information only).
 *
 * Every test uses a fresh heap on a fresh region (the reuse matrix: see there).
 * "Fill" means: allocate blocks until the first failure; utilisation is the bytes
 * requested over the region's size.
 */
#include "bench.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

const size_t util_sizes[UTIL_SIZES] = {64, 3000, 8u << 10, 100000, 1u << 20, 8u << 20};
const char *const util_size_names[UTIL_SIZES] = {"64 B",     "3000 B", "8 KiB",
                                                 "100000 B", "1 MiB",  "8 MiB"};
const size_t util_largest_regions[UTIL_LARGEST] = {1u << 20, UTIL_REGION};

struct blocks {
    void **p;
    long n, cap;
};

static void blocks_push(struct blocks *b, void *p)
{
    if (b->n == b->cap) {
        long cap = b->cap ? 2 * b->cap : 1024;
        void **n = realloc(b->p, (size_t)cap * sizeof(*n));
        if (n == NULL) {
            fprintf(stderr, "bench: out of memory\n");
            exit(2);
        }
        b->p = n;
        b->cap = cap;
    }
    b->p[b->n++] = p;
}

/* Allocate `size` blocks until one fails (or the 64 MiB region must be full). */
static long fill(const struct heap_type *t, struct heap *h, size_t size, struct blocks *b)
{
    long limit = (long)(UTIL_REGION / size) + 1, n = 0;
    void *p;
    while (n < limit && (p = t->alloc(h, size)) != NULL) {
        *(volatile char *)p = 1;
        blocks_push(b, p);
        n++;
    }
    return n;
}

static void free_all(const struct heap_type *t, struct heap *h, struct blocks *b)
{
    for (long i = 0; i < b->n; i++)
        t->free(h, b->p[i]);
    b->n = 0;
}

/* A fresh region with a heap on it. */
struct bed {
    void *region;
    size_t size;
    struct heap *h;
};

static bool bed_open_size(const struct heap_type *t, struct bed *bed, size_t size)
{
    bool zeroed;
    bed->size = size;
    bed->region = heap_region_map(t, size, &zeroed);
    bed->h = bed->region != NULL ? t->open(bed->region, size, zeroed) : NULL;
    if (bed->h == NULL) {
        heap_region_unmap(t, bed->region, size);
        return false;
    }
    return true;
}

static bool bed_open(const struct heap_type *t, struct bed *bed)
{
    return bed_open_size(t, bed, UTIL_REGION);
}

static void bed_close(const struct heap_type *t, struct bed *bed)
{
    t->close(bed->h);
    heap_region_unmap(t, bed->region, bed->size);
}

static double pct(long n, size_t size) { return 100.0 * (double)n * (double)size / UTIL_REGION; }

/* Fill a fresh region with one size; the number of blocks. */
static long fresh_fill(const struct heap_type *t, size_t size, struct blocks *b)
{
    struct bed bed;
    if (!bed_open(t, &bed))
        return -1;
    long n = fill(t, bed.h, size, b);
    free_all(t, bed.h, b);
    bed_close(t, &bed);
    return n;
}

/* ---- one thread frees what another allocated ----------------------------------- */

struct freer {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    const struct heap_type *t;
    struct heap *h;
    struct blocks *b;
    enum { IDLE, FREE_ALL, DONE, EXIT } cmd;
};

static void *freer_main(void *arg)
{
    struct freer *f = arg;
    pthread_mutex_lock(&f->lock);
    for (;;) {
        while (f->cmd == IDLE || f->cmd == DONE)
            pthread_cond_wait(&f->cond, &f->lock);
        if (f->cmd == EXIT)
            break;
        free_all(f->t, f->h, f->b);
        f->cmd = DONE;
        pthread_cond_broadcast(&f->cond);
    }
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

/* The freeing thread stays alive (with whatever it caches) while the main thread
 * allocates again. */
static void freer_free_all(struct freer *f)
{
    pthread_mutex_lock(&f->lock);
    f->cmd = FREE_ALL;
    pthread_cond_broadcast(&f->cond);
    while (f->cmd != DONE)
        pthread_cond_wait(&f->cond, &f->lock);
    f->cmd = IDLE;
    pthread_mutex_unlock(&f->lock);
}

static bool cross_thread(const struct heap_type *t, struct blocks *b, double *refill_pct,
                         int *fit_8m)
{
    struct bed bed;
    if (!bed_open(t, &bed))
        return false;
    struct freer f = {.t = t, .h = bed.h, .b = b, .cmd = IDLE};
    pthread_mutex_init(&f.lock, NULL);
    pthread_cond_init(&f.cond, NULL);
    pthread_t th;
    if (pthread_create(&th, NULL, freer_main, &f) != 0) {
        fprintf(stderr, "bench: pthread_create failed\n");
        exit(2);
    }
    long first = fill(t, bed.h, 64, b);
    freer_free_all(&f);
    long again = fill(t, bed.h, 64, b);
    freer_free_all(&f);
    *fit_8m = (int)fill(t, bed.h, 8u << 20, b);
    freer_free_all(&f);
    pthread_mutex_lock(&f.lock);
    f.cmd = EXIT;
    pthread_cond_broadcast(&f.cond);
    pthread_mutex_unlock(&f.lock);
    pthread_join(th, NULL);
    pthread_cond_destroy(&f.cond);
    pthread_mutex_destroy(&f.lock);
    bed_close(t, &bed);
    *refill_pct = first > 0 ? 100.0 * (double)again / (double)first : 0;
    return true;
}

/* ---- many rounds -------------------------------------------------------------------- */

/* Sizes log-uniform between 64 B and 1 MiB, the same sequence every round, so a
 * round that fits fewer blocks than the first failed early. */
static size_t round_size(uint64_t *rng)
{
    int lg = 6 + (int)(rng_next(rng) % 14);         /* 2^6 .. 2^19 */
    size_t lo = (size_t)1 << lg;
    return lo + rng_next(rng) % lo;                 /* [2^lg, 2^(lg+1)) */
}

/* Fill with round_size()'s sequence until the first failure: the bytes requested,
 * and in *failed the request that failed. */
static size_t mixed_fill(const struct settings *s, const struct heap_type *t, struct heap *h,
                         struct blocks *b, size_t *failed)
{
    uint64_t rng = s->seed;
    size_t bytes = 0, size;
    void *p;
    while ((p = t->alloc(h, size = round_size(&rng))) != NULL) {
        *(volatile char *)p = 1;
        blocks_push(b, p);
        bytes += size;
    }
    *failed = size;
    return bytes;
}

static bool rounds(const struct settings *s, const struct heap_type *t, struct blocks *b,
                   struct utilisation *u)
{
    struct bed bed;
    if (!bed_open(t, &bed))
        return false;
    u->rounds = s->fill_rounds;
    u->worst_blocks = -1;
    for (int r = 0; r < s->fill_rounds; r++) {
        size_t size;
        size_t bytes = mixed_fill(s, t, bed.h, b, &size);
        long n = b->n;
        double got = 100.0 * (double)bytes / UTIL_REGION;
        size_t fr, lg;
        long long free_now = -1, largest_now = -1;
        if (t->region_free != NULL && t->region_free(bed.h, &fr, &lg)) {
            free_now = (long long)fr;
            largest_now = (long long)lg;
        }
        if (r == 0) {
            u->first_blocks = n;
            u->first_pct = got;
            u->first_fail_size = size;
            u->first_free = free_now;
            u->first_largest = largest_now;
        }
        if (u->worst_blocks < 0 || n < u->worst_blocks) {
            u->worst_blocks = n;
            u->worst_pct = got;
            u->worst_round = r;
            u->worst_fail_size = size;
            u->worst_free = free_now;
            u->worst_largest = largest_now;
        }
        free_all(t, bed.h, b);
    }
    bed_close(t, &bed);
    return true;
}

/* ---- reuse across sizes ------------------------------------------------------------- */

/* Fill with A, free all, fill with B; a new heap per cell. The cells share one
 * mapping (a new heap on memory the last one used, not zeroed): its pages stay
 * faulted in, which makes the 36 cells several times faster and changes no count.
 * --quick leaves out the 11 cells with 64 B (a million blocks per fill): NaN. */
static bool reuse_matrix(const struct settings *s, const struct heap_type *t,
                         struct blocks *b, struct utilisation *u)
{
    bool zeroed;
    void *region = heap_region_map(t, UTIL_REGION, &zeroed);
    if (region == NULL)
        return false;
    int from = s->quick ? 1 : 0;
    u->reuse_worst_a = u->reuse_worst_b = from;
    for (int i = 0; i < UTIL_SIZES; i++)
        for (int j = 0; j < UTIL_SIZES; j++)
            u->reuse[i][j] = NAN;
    for (int i = from; i < UTIL_SIZES; i++) {
        for (int j = from; j < UTIL_SIZES; j++) {
            struct heap *h = t->open(region, UTIL_REGION, zeroed);
            if (h == NULL) {
                heap_region_unmap(t, region, UTIL_REGION);
                return false;
            }
            zeroed = false;
            fill(t, h, util_sizes[i], b);
            free_all(t, h, b);
            long n = fill(t, h, util_sizes[j], b);
            free_all(t, h, b);
            t->close(h);
            long fresh = u->fresh_blocks[j];
            u->reuse[i][j] = fresh > 0 ? 100.0 * (double)n / (double)fresh : 100.0;
            if (u->reuse[i][j] < u->reuse[u->reuse_worst_a][u->reuse_worst_b]) {
                u->reuse_worst_a = i;
                u->reuse_worst_b = j;
            }
        }
    }
    heap_region_unmap(t, region, UTIL_REGION);
    return true;
}

/* ---- the largest single block ------------------------------------------------------- */

/* Does one block of `size` fit? Probes that succeed free the block at once. */
typedef int (*fits_fn)(const struct heap_type *t, struct heap *h, size_t region, size_t size);

static int fits_live(const struct heap_type *t, struct heap *h, size_t region, size_t size)
{
    (void)region;
    void *p = t->alloc(h, size);
    if (p == NULL)
        return 0;
    *(volatile char *)p = 1;
    t->free(h, p);
    return 1;
}

/* Every probe on a new heap on a new region: a failed probe leaves nothing behind
 * for the next. -1: no heap could be opened. */
static int fits_fresh(const struct heap_type *t, struct heap *h, size_t region, size_t size)
{
    (void)h;
    struct bed bed;
    if (!bed_open_size(t, &bed, region))
        return -1;
    int ok = fits_live(t, bed.h, region, size);
    bed_close(t, &bed);
    return ok;
}

/* Binary search on the size: the largest that fits (a region never holds more than
 * itself), assuming that a size fits when a larger one did. -1: fits() was -1. */
static long long largest_fit(const struct heap_type *t, struct heap *h, size_t region,
                             fits_fn fits)
{
    size_t lo = 0, hi = region + 1; /* lo fits (0: nothing needed), hi does not */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        int ok = fits(t, h, region, mid);
        if (ok < 0)
            return -1;
        if (ok)
            lo = mid;
        else
            hi = mid;
    }
    return (long long)lo;
}

/* The mixed fill, then every second block freed, so that live and free blocks
 * alternate; then malloc() of the largest free run that the heap reports, and the
 * largest block that fits. */
static bool fragmented(const struct settings *s, const struct heap_type *t, struct blocks *b,
                       struct utilisation *u)
{
    struct bed bed;
    if (!bed_open(t, &bed))
        return false;
    size_t failed;
    mixed_fill(s, t, bed.h, b, &failed);
    long kept = 0;
    for (long i = 0; i < b->n; i++) {
        if (i % 2)
            t->free(bed.h, b->p[i]);
        else
            b->p[kept++] = b->p[i];
    }
    b->n = kept;
    u->frag_live = kept;
    u->frag_free = u->frag_largest_free = -1;
    u->frag_malloc_ok = -1;
    size_t fr, lg;
    if (t->region_free != NULL && t->region_free(bed.h, &fr, &lg)) {
        u->frag_free = (long long)fr;
        u->frag_largest_free = (long long)lg;
        if (lg > 0) {
            void *p = t->alloc(bed.h, lg);
            u->frag_malloc_ok = p != NULL;
            if (p != NULL) {
                *(volatile char *)p = 1;
                t->free(bed.h, p);
            }
        }
    }
    u->frag_largest_fit = largest_fit(t, bed.h, UTIL_REGION, fits_live);
    free_all(t, bed.h, b);
    bed_close(t, &bed);
    return true;
}

bool utilisation_run(const struct settings *s, const struct heap_type *t,
                     struct utilisation *u)
{
    if (!t->regional)
        return false;
    double t0 = now_ns();
    struct blocks b = {0};
    for (int i = 0; i < UTIL_SIZES; i++) {
        if ((u->fresh_blocks[i] = fresh_fill(t, util_sizes[i], &b)) < 0)
            return false;
        u->fresh_pct[i] = pct(u->fresh_blocks[i], util_sizes[i]);
    }
    long n4k = fresh_fill(t, 4096, &b);
    if (n4k < 0)
        return false;
    u->pct_64 = u->fresh_pct[0];
    u->pct_4k = pct(n4k, 4096);
    u->pct_1m = u->fresh_pct[4];
    u->fit_8m = (int)u->fresh_blocks[5];

    struct bed bed;
    if (!bed_open(t, &bed))
        return false;
    fill(t, bed.h, 64, &b);
    free_all(t, bed.h, &b);
    u->fit_8m_after_small = (int)fill(t, bed.h, 8u << 20, &b);
    free_all(t, bed.h, &b);
    bed_close(t, &bed);

    if (!cross_thread(t, &b, &u->refill_cross_pct, &u->fit_8m_after_cross))
        return false;
    if (!rounds(s, t, &b, u))
        return false;
    if (!reuse_matrix(s, t, &b, u))
        return false;
    for (int i = 0; i < UTIL_LARGEST; i++)
        u->largest[i] = largest_fit(t, NULL, util_largest_regions[i], fits_fresh);
    if (!fragmented(s, t, &b, u))
        return false;
    free(b.p);
    u->seconds = (now_ns() - t0) / 1e9;
    u->done = true;
    return true;
}
