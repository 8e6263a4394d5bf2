/*
 * workloads.c - the timed workloads (a)-(d), kind create + destroy and (f) realloc
 * doubling.
 *
 * Every block gets one byte written, as a program would, so that pages an
 * allocator hands out are really touched (and their faults counted). Sizes and
 * free orders are drawn once from a fixed seed and are the same for every
 * allocator.
 */
#include "bench.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

const struct workload workloads[W_COUNT] = {
    [W_SMALL] = {"a_64B", "(a) 64 B alloc+free", "ns/pair"},
    [W_RANDOM] = {"b_random", "(b) random 16..4096 B, random free order", "ns/pair"},
    [W_THREADS] = {"c_2threads", "(c) 2 threads doing (b) on one heap", "ns/pair/thread"},
    [W_LARGE] = {"d_256KiB", "(d) 256 KiB alloc+free", "ns/pair"},
    [W_KIND] = {"e_create_destroy", "create+alloc+free+destroy a kind", "us/cycle"},
    [W_REALLOC] = {"f_realloc_doubling", "(f) realloc doubling 16 B..16 MiB", "ns/growth"},
};

#define THREADS 2

/* (b) and (c): per thread, the sizes of its objects and the order it frees them. */
static struct random_set {
    size_t n;
    size_t *sizes, *order;
    void **ptrs;
} g_sets[THREADS];

static void set_prepare(struct random_set *rs, size_t n, uint64_t seed)
{
    rs->n = n;
    rs->sizes = malloc(n * sizeof(*rs->sizes));
    rs->order = malloc(n * sizeof(*rs->order));
    rs->ptrs = malloc(n * sizeof(*rs->ptrs));
    if (!rs->sizes || !rs->order || !rs->ptrs) {
        fprintf(stderr, "bench: out of memory preparing inputs\n");
        exit(2);
    }
    for (size_t i = 0; i < n; i++) {
        rs->sizes[i] = 16 + rng_next(&seed) % (4096 - 16 + 1);
        rs->order[i] = i;
    }
    for (size_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
        size_t j = rng_next(&seed) % (i + 1);
        size_t t = rs->order[i];
        rs->order[i] = rs->order[j];
        rs->order[j] = t;
    }
}

void workloads_prepare(const struct settings *s)
{
    for (int t = 0; t < THREADS; t++)
        set_prepare(&g_sets[t], s->random_objects, s->seed + 1000003u * (uint64_t)t);
}

void workloads_release(void)
{
    for (int t = 0; t < THREADS; t++) {
        free(g_sets[t].sizes);
        free(g_sets[t].order);
        free(g_sets[t].ptrs);
    }
}

static inline void touch(void *p) { *(volatile char *)p = 1; }

/* n pairs of one size. False when an allocation failed. */
static bool pairs(const struct heap_type *t, struct heap *h, size_t size, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        void *p = t->alloc(h, size);
        if (p == NULL)
            return false;
        touch(p);
        t->free(h, p);
    }
    return true;
}

/* `iters` passes of: allocate every object of the set, free them in its order. */
static bool random_passes(const struct heap_type *t, struct heap *h,
                          struct random_set *rs, int iters)
{
    for (int it = 0; it < iters; it++) {
        for (size_t i = 0; i < rs->n; i++) {
            void *p = t->alloc(h, rs->sizes[i]);
            if (p == NULL) {
                for (size_t j = 0; j < i; j++)
                    t->free(h, rs->ptrs[j]);
                return false;
            }
            touch(p);
            rs->ptrs[i] = p;
        }
        for (size_t i = 0; i < rs->n; i++)
            t->free(h, rs->ptrs[rs->order[i]]);
    }
    return true;
}

struct worker {
    pthread_t thread;
    const struct heap_type *t;
    struct heap *h;
    struct random_set *rs;
    int iters;
    pthread_barrier_t *start;
    double ns, cpu;
    bool ok;
    volatile bool started; /* passed the start barrier */
    int crash;           /* the signal that ended the thread's work, or 0 */
};

static void worker_body(void *arg)
{
    struct worker *w = arg;
    /* One small pair first, so that per-thread set-up (a thread cache) is not
     * timed, as it is not for the single-threaded runs either. */
    void *p = w->t->alloc(w->h, 64);
    if (p != NULL)
        w->t->free(w->h, p);
    w->started = true;
    pthread_barrier_wait(w->start);
    double t0 = now_ns(), c0 = thread_cpu_ns();
    w->ok = random_passes(w->t, w->h, w->rs, w->iters);
    w->ns = now_ns() - t0;
    w->cpu = thread_cpu_ns() - c0;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    /* A competitor that crashes here ends this thread's work, not the run. The
     * barrier must still be passed once, or the other threads wait forever. */
    w->ok = false;
    if ((w->crash = guarded(worker_body, w)) != 0 && !w->started)
        pthread_barrier_wait(w->start);
    return NULL;
}

/* Both threads on the same heap; the figure is the slower thread's time per pair. */
static bool threads_run(const struct settings *s, const struct heap_type *t, struct heap *h,
                        double *ns, double *cpu, long *faults, int *crash)
{
    struct worker w[THREADS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS + 1);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.t = t, .h = h, .rs = &g_sets[i], .iters = s->random_iters,
                               .start = &start};
        if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0) {
            fprintf(stderr, "bench: pthread_create failed\n");
            exit(2);
        }
    }
    pthread_barrier_wait(&start);
    long f0 = minor_faults();
    bool ok = true;
    double worst = 0, worst_cpu = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(w[i].thread, NULL);
        ok = ok && w[i].ok;
        if (w[i].crash != 0)
            *crash = w[i].crash;
        if (w[i].ns > worst)
            worst = w[i].ns;
        if (w[i].cpu > worst_cpu)
            worst_cpu = w[i].cpu;
    }
    *cpu = worst_cpu;
    *faults = minor_faults() - f0;
    pthread_barrier_destroy(&start);
    *ns = worst;
    return ok;
}

/* create + one 64 B block + destroy, on a 64 MiB region. */
static bool kind_cycles(const struct settings *s, const struct heap_type *t, double *ns,
                        double *left)
{
    size_t size = UTIL_REGION;
    void *region = t->regional ? region_map(size) : NULL;
    if (t->regional && region == NULL)
        return false;
    bool ok = true;
    long long before = 0;
    double t0 = 0;
    /* Cycle 0 is a warm-up: lazy set-up of the library is not a leftover. */
    for (int i = 0; i <= s->kind_cycles && ok; i++) {
        if (i == 1) {
            before = mapped_bytes();
            t0 = now_ns();
        }
        if (t->regional) {
            struct heap *h = t->open(region, size, i == 0);
            void *p = h != NULL ? t->alloc(h, 64) : NULL;
            if (p != NULL) {
                touch(p);
                t->free(h, p);
            }
            if (h != NULL)
                t->close(h);
            ok = p != NULL;
        } else {
            ok = t->arena_cycle();
        }
    }
    *ns = (now_ns() - t0) / s->kind_cycles;
    *left = (double)(mapped_bytes() - before);
    region_unmap(region, size);
    return ok;
}

/* (f): `cycles` times, malloc(16), 20 reallocs each doubling the size, free. The
 * figure is the time of it all over the growth steps: the one malloc and free per
 * 20 steps are counted in, as a program growing a buffer pays them too. After every
 * step the first byte must have moved with the block, and the last byte is written,
 * so that the grown part is really taken. */
static bool realloc_cycles(const struct heap_type *t, struct heap *h, int cycles)
{
    for (int c = 0; c < cycles; c++) {
        size_t size = REALLOC_FROM;
        volatile char *p = t->alloc(h, size);
        if (p == NULL)
            return false;
        p[0] = 'M';
        for (int i = 0; i < REALLOC_STEPS; i++) {
            volatile char *q = t->realloc(h, (void *)p, size * 2);
            if (q == NULL || q[0] != 'M') {
                if (q != NULL)
                    fprintf(stderr, "bench: %s: realloc lost the block's contents\n", t->label);
                t->free(h, (void *)(q != NULL ? q : p));
                return false;
            }
            p = q;
            size *= 2;
            p[size - 1] = 1;
        }
        t->free(h, (void *)p);
    }
    return true;
}

bool workload_applies(int w, const struct heap_type *t)
{
    return w != W_KIND || (t->regional && !t->no_destroy) || t->arena_cycle != NULL;
}

bool workload_run(int w, const struct settings *s, const struct heap_type *t,
                  struct heap *h, struct measure *m)
{
    m->crash = 0;
    if (!workload_applies(w, t))
        return false;
    long f0 = minor_faults(), faults;
    double t0 = now_ns(), c0 = thread_cpu_ns(), ns = 0, cpu = 0, ops = 1, left = 0;
    bool ok;
    switch (w) {
    case W_SMALL:
        ok = pairs(t, h, 64, s->small_pairs);
        ns = now_ns() - t0;
        ops = (double)s->small_pairs;
        break;
    case W_RANDOM:
        ok = random_passes(t, h, &g_sets[0], s->random_iters);
        ns = now_ns() - t0;
        ops = (double)s->random_iters * (double)s->random_objects;
        break;
    case W_THREADS:
        ok = threads_run(s, t, h, &ns, &cpu, &f0, &m->crash);
        ops = (double)s->random_iters * (double)s->random_objects;
        /* threads_run() counted the faults of the timed part itself. */
        m->value = ns / ops;
        m->cpu = cpu / ops;
        m->faults = (double)f0 / (ops * THREADS);
        m->left = 0;
        return ok;
    case W_LARGE:
        ok = pairs(t, h, 256u << 10, s->large_pairs);
        ns = now_ns() - t0;
        ops = (double)s->large_pairs;
        break;
    case W_REALLOC:
        ops = 0;
        do {
            ok = realloc_cycles(t, h, s->realloc_cycles);
            ops += (double)s->realloc_cycles * REALLOC_STEPS;
        } while (ok && now_ns() - t0 < s->realloc_min_ns);
        ns = now_ns() - t0;
        break;
    case W_KIND:
        ok = kind_cycles(s, t, &ns, &left);
        m->value = ns / 1000.0; /* microseconds per cycle */
        m->cpu = (thread_cpu_ns() - c0) / s->kind_cycles / 1000.0;
        m->faults = (double)(minor_faults() - f0) / (s->kind_cycles + 1);
        m->left = left;
        return ok;
    default:
        return false;
    }
    faults = minor_faults() - f0;
    cpu = thread_cpu_ns() - c0;
    m->value = ns / ops;
    m->cpu = cpu / ops;
    m->faults = (double)faults / ops;
    m->left = 0;
    return ok;
}
