/*
 * bench.h - what the benchmark's files share: the run's settings, the measured
 * figures, and the small helpers (clock, page faults, random numbers, regions).
 */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "heaps.h"

#define MAX_REPS 15

struct settings {
    bool quick;          /* counts shrunk ~10x: a smoke run */
    int reps;            /* runs of every timed workload per allocator (median) */
    const char *json;    /* where the JSON goes */
    uint64_t seed;       /* random sizes and free orders */
    /* Counts, from --quick or not. */
    uint64_t small_pairs;   /* (a) */
    size_t random_objects;  /* (b), (c): objects alive at once */
    int random_iters;       /* (b), (c): fill + free passes */
    uint64_t large_pairs;   /* (d) */
    int kind_cycles;        /* create + destroy */
    int realloc_cycles;     /* (f): blocks grown from 16 B to 16 MiB, at least... */
    double realloc_min_ns;  /* ...and more, in as many again, until this much time passed */
    int fill_rounds;        /* utilisation: fill / free-all rounds */
};

/* ---- timed workloads (workloads.c) --------------------------------------- */

enum { W_SMALL, W_RANDOM, W_THREADS, W_LARGE, W_KIND, W_REALLOC, W_COUNT };

/* (f): one block grown by realloc from 16 B to 16 MiB, doubling: 20 growth steps. */
#define REALLOC_FROM ((size_t)16)
#define REALLOC_STEPS 20

struct workload {
    const char *id;     /* JSON key */
    const char *title;  /* table row */
    const char *unit;   /* of the figure */
};
extern const struct workload workloads[W_COUNT];

/* One run of one workload on one allocator. */
struct measure {
    double value;        /* in the workload's unit */
    double cpu;          /* the same from the thread's CPU time (the slowest
                            thread's for (c)): less disturbed by other load */
    double faults;       /* minor page faults per operation */
    double left;         /* create + destroy only: address space left, bytes */
    int crash;           /* (c): the signal that ended a worker thread, or 0 */
};

/* All runs of one workload on one allocator. */
struct cell {
    bool na;             /* the allocator has no such operation */
    bool failed;         /* an allocation failed during a run */
    int crashed;         /* the signal that ended a run (the allocator's later runs
                            are skipped), or 0 */
    bool skipped;        /* not run: the allocator crashed earlier */
    const char *absent;  /* not run: the allocator could not be loaded (why) */
    int n;
    double value[MAX_REPS], cpu[MAX_REPS], faults[MAX_REPS], left[MAX_REPS];
};

struct summary {
    double median, min, max, cpu, faults, left, left_max;
};
struct summary cell_summary(const struct cell *c);

/* Prepared inputs, the same for every allocator. */
void workloads_prepare(const struct settings *s);
void workloads_release(void);
/* Run workload w once on heap h (type t). False when it failed or does not
 * apply (then *m is untouched). */
bool workload_run(int w, const struct settings *s, const struct heap_type *t,
                  struct heap *h, struct measure *m);
bool workload_applies(int w, const struct heap_type *t);

/* ---- region utilisation (utilisation.c) ------------------------------------ */

#define UTIL_REGION (64u << 20)

/* The block sizes of the fresh fills and of the reuse matrix: 64 B, 3000 B, 8 KiB,
 * 100 000 B, 1 MiB, 8 MiB. */
#define UTIL_SIZES 6
extern const size_t util_sizes[UTIL_SIZES];
extern const char *const util_size_names[UTIL_SIZES];
/* Empty regions in which the largest single block is searched: 1 MiB, 64 MiB. */
#define UTIL_LARGEST 2
extern const size_t util_largest_regions[UTIL_LARGEST];

struct utilisation {
    bool done;
    int crashed;                   /* the signal that ended the tests, or 0 */
    double pct_64, pct_4k, pct_1m; /* bytes requested / region, fresh region */
    int fit_8m;                    /* 8 MiB blocks in a fresh region */
    long fresh_blocks[UTIL_SIZES]; /* blocks of each util_sizes[] a fresh region takes */
    double fresh_pct[UTIL_SIZES];  /* the same as bytes requested / region */
    /* Fill with size A, free all, fill with size B: blocks of B as % of
     * fresh_blocks[B], indexed [A][B] (NaN: not measured, --quick leaves out 64 B);
     * and the worst (lowest) cell. */
    double reuse[UTIL_SIZES][UTIL_SIZES];
    int reuse_worst_a, reuse_worst_b;
    /* The largest single block that fits in an empty region of each
     * util_largest_regions[], bytes (binary search); -1: no heap on such a region. */
    long long largest[UTIL_LARGEST];
    /* Fragmented: the mixed fill below, then every second block freed. The region's
     * free bytes and largest free run as the heap reports them (-1: the heap cannot
     * tell), whether malloc(largest free run) then succeeded (-1: not asked), and the
     * largest block that fits (binary search). */
    long frag_live;
    long long frag_free, frag_largest_free, frag_largest_fit;
    int frag_malloc_ok;
    int fit_8m_after_small;        /* after 64 B blocks filled it and were freed */
    double refill_cross_pct;       /* 64 B refill after another thread freed, % of first */
    int fit_8m_after_cross;        /* 8 MiB blocks after another thread freed */
    int rounds;                    /* fill / free-all rounds */
    long first_blocks, worst_blocks;
    double first_pct, worst_pct;
    int worst_round;
    /* At the failure that ended the first and the worst round: the request, and
     * (when the heap can tell) the free bytes and largest free run of the region. */
    size_t first_fail_size, worst_fail_size;
    long long first_free, first_largest, worst_free, worst_largest; /* -1: unknown */
    double seconds;                /* wall time of all tests */
};

bool utilisation_run(const struct settings *s, const struct heap_type *t,
                     struct utilisation *out);

/* ---- report (report.c) ----------------------------------------------------- */

struct results {
    /* Why an allocator could not be loaded (NULL: it was); the signal that ended
     * one of its runs (0: none). */
    const char *absent[HEAP_COUNT];
    int crashed[HEAP_COUNT];
    struct cell cells[W_COUNT][HEAP_COUNT];
    struct utilisation util[HEAP_COUNT];
    double seconds;
};

void report_table(const struct settings *s, const struct results *r);
int report_json(const struct settings *s, const struct results *r);

/* ---- helpers (util.c) ---------------------------------------------------------- */

double now_ns(void);
/* CPU time of the calling thread. */
double thread_cpu_ns(void);
long minor_faults(void);
/* Sum of the sizes of all mappings in /proc/self/maps, bytes, after purging
 * jemalloc's caches of freed memory; -1 on error. */
long long mapped_bytes(void);
/* A competitor's library: `name` from the system's library path, or (in_deps) from
 * bench_deps_dir. NULL with *why set when it cannot be loaded. */
void *bench_dlopen(const char *name, bool in_deps, const char **why);
/* Where bench/setup_competitors.sh left the competitors: .deps/bench of the workspace
 * under `bazel run` ($BUILD_WORKSPACE_DIRECTORY), else of the working directory;
 * NULL when there is no such folder. */
const char *bench_deps_default(void);
/* dlsym() of n names into out[]; false with *why set when one is missing. */
bool bench_dlsyms(void *lib, const char *const *names, void **out, size_t n, const char **why);
/* fn(arg) with SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGABRT caught on this thread:
 * the signal that ended it, or 0. After a crash the allocator's state is unknown:
 * the caller stops using it. */
int guarded(void (*fn)(void *), void *arg);
/* A fresh anonymous region (zero-filled, faulted in on first touch). */
void *region_map(size_t size);
void region_unmap(void *p, size_t size);
/* The same for a heap of type t: a heap that can never give its region back
 * (t->no_destroy) keeps it mapped to the end of the process. *zeroed: fresh memory. */
void *heap_region_map(const struct heap_type *t, size_t size, bool *zeroed);
void heap_region_unmap(const struct heap_type *t, void *p, size_t size);

static inline uint64_t rng_next(uint64_t *state)
{
    /* splitmix64: good enough for sizes and shuffles, one line of state. */
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#endif /* BENCH_BENCH_H */
