/*
 * utilisation.c - how much of a 64 MiB region an allocator can hand out, and
 * whether freed memory comes back for other sizes, other threads and later rounds.
 * Not timed (the wall time is reported for information only).
 *
 * Every test uses a fresh region. "Fill" means: allocate blocks until the first
 * failure; utilisation is the bytes requested over the region's size.
 */
#include "bench.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

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

/* Allocate `size` blocks until one fails (or the region must be full). */
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
    struct heap *h;
};

static bool bed_open(const struct heap_type *t, struct bed *bed)
{
    bed->region = region_map(UTIL_REGION);
    bed->h = bed->region != NULL ? t->open(bed->region, UTIL_REGION, true) : NULL;
    if (bed->h == NULL) {
        region_unmap(bed->region, UTIL_REGION);
        return false;
    }
    return true;
}

static void bed_close(const struct heap_type *t, struct bed *bed)
{
    t->close(bed->h);
    region_unmap(bed->region, UTIL_REGION);
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

static bool rounds(const struct settings *s, const struct heap_type *t, struct blocks *b,
                   struct utilisation *u)
{
    struct bed bed;
    if (!bed_open(t, &bed))
        return false;
    u->rounds = s->fill_rounds;
    u->worst_blocks = -1;
    for (int r = 0; r < s->fill_rounds; r++) {
        uint64_t rng = s->seed;
        size_t bytes = 0;
        void *p;
        size_t size;
        while ((p = t->alloc(bed.h, size = round_size(&rng))) != NULL) {
            *(volatile char *)p = 1;
            blocks_push(b, p);
            bytes += size;
        }
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

bool utilisation_run(const struct settings *s, const struct heap_type *t,
                     struct utilisation *u)
{
    if (!t->regional)
        return false;
    double t0 = now_ns();
    struct blocks b = {0};
    long n64 = fresh_fill(t, 64, &b), n4k = fresh_fill(t, 4096, &b),
         n1m = fresh_fill(t, 1u << 20, &b), n8m = fresh_fill(t, 8u << 20, &b);
    if (n64 < 0 || n4k < 0 || n1m < 0 || n8m < 0)
        return false;
    u->pct_64 = pct(n64, 64);
    u->pct_4k = pct(n4k, 4096);
    u->pct_1m = pct(n1m, 1u << 20);
    u->fit_8m = (int)n8m;

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
    free(b.p);
    u->seconds = (now_ns() - t0) / 1e9;
    u->done = true;
    return true;
}
