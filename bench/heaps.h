/*
 * heaps.h - the allocators the benchmark compares, behind one small interface.
 *
 * Every workload calls alloc/free through these function pointers, for every
 * allocator alike: the indirect call costs each the same ~1 ns, and it keeps the
 * compiler from eliding a malloc/free pair of glibc (which it may do for a
 * direct call whose result is unused).
 */
#ifndef BENCH_HEAPS_H
#define BENCH_HEAPS_H

#include <stdbool.h>
#include <stddef.h>

/* One open heap of some allocator: a kind, an arena, or the process heap. */
struct heap;

struct heap_type {
    const char *id;    /* short, stable: JSON keys and plot labels */
    const char *label; /* table column */
    const char *about; /* one line for the table's legend and the docs */
    /* True when the heap lives in a caller-provided region (the utilisation
     * tests and create + destroy need one). */
    bool regional;
    /* Open a heap on [region, region + size) (ignored when !regional); `zeroed`
     * says the region is fresh anonymous memory. NULL on failure. */
    struct heap *(*open)(void *region, size_t size, bool zeroed);
    void (*close)(struct heap *h);
    void *(*alloc)(struct heap *h, size_t size);
    void (*free)(struct heap *h, void *ptr);
    /* The allocator's own realloc (every allocator here has one): NULL on failure,
     * with `ptr` still valid. */
    void *(*realloc)(struct heap *h, void *ptr, size_t size);
    /* For non-regional heaps that have their own notion of a heap to create and
     * destroy (a jemalloc arena): one create + allocate + free + destroy cycle.
     * NULL when there is none (glibc); returns false on failure. */
    bool (*arena_cycle)(void);
    /* Regional heaps that can tell: bytes of the region no part of the heap holds,
     * and the largest contiguous run of them. NULL when unknown. */
    bool (*region_free)(struct heap *h, size_t *free, size_t *largest);
    /* Competitors that come as libraries from bench/setup_competitors.sh: load them
     * (dlopen) before the first open. NULL when ready, else why not ("not
     * installed: ..."); the column then says so and the run goes on. NULL for the
     * heaps built into the benchmark. */
    const char *(*load)(void);
    /* Regional heaps that can never give their region back (a mimalloc arena):
     * create + destroy does not apply. */
    bool no_destroy;
};

/* The allocators, in table order: the subject, the baselines built into the
 * benchmark, then the competitors loaded from libraries (heap_memkind.c,
 * heap_tbbpool.c, heap_mimalloc.c). */
enum { HEAP_FIXED, HEAP_FIXED_PURGE, HEAP_JE_DEFAULT, HEAP_HOOKS_TCACHE, HEAP_HOOKS_NOTCACHE, HEAP_GLIBC,
       HEAP_MEMKIND, HEAP_TBBPOOL, HEAP_MI_DEBIAN, HEAP_MI_2, HEAP_MI_3, HEAP_COUNT };
/* The first competitor: the heaps from here on are loaded, and may be missing. */
#define HEAP_FIRST_COMPETITOR HEAP_MEMKIND
extern const struct heap_type *const heap_types[HEAP_COUNT];

/* heap_fixed.c: --fixed-decay-ms (an experiment; < -1 leaves jemalloc's default).
 * Only //bench:bench_static can reach the kind's arena; it is false in //bench:bench. */
extern long heap_fixed_decay_ms;
extern const bool heap_fixed_can_set_decay;

/* Where bench/setup_competitors.sh left the competitors it builds (.deps/bench):
 * --deps DIR, else $BUILD_WORKSPACE_DIRECTORY/.deps/bench under `bazel run`. NULL:
 * unknown, and only the competitors from Debian's library path load. */
extern const char *bench_deps_dir;

/* Each allocator's table, defined next to its code. */
extern const struct heap_type heap_fixed;        /* heap_fixed.c */
extern const struct heap_type heap_fixed_purge;
extern const struct heap_type heap_je_default;   /* heap_process.c */
extern const struct heap_type heap_hooks_tcache; /* bump_hooks.c */
extern const struct heap_type heap_hooks_notcache;
extern const struct heap_type heap_glibc;        /* heap_process.c */
extern const struct heap_type heap_memkind;      /* heap_memkind.c */
extern const struct heap_type heap_tbbpool;      /* heap_tbbpool.c */
extern const struct heap_type heap_mi_debian;    /* heap_mimalloc.c */
extern const struct heap_type heap_mi_2;
extern const struct heap_type heap_mi_3;

#endif /* BENCH_HEAPS_H */
