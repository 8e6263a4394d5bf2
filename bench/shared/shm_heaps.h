/*
 * shm_heaps.h - the heaps that the shared-heap benchmark compares, behind one small
 * interface: memkind-fixed's shared kind, its private fixed kind (one process
 * only: the reference of row "pair64"), Boost.Interprocess's managed_shared_memory
 * with rbtree_best_fit and with simple_seq_fit, rts-alloc, and a bare segment (the
 * cost of making, reserving and mapping one, with no heap in it).
 *
 * Every call goes through these function pointers, for every heap alike (the
 * indirect call costs each the same ~1 ns), as in bench/heaps.h.
 */
#ifndef BENCH_SHARED_SHM_HEAPS_H
#define BENCH_SHARED_SHM_HEAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One process's attachment to one segment. */
struct shm_heap;

struct shm_type {
    const char *id;    /* short, stable: command line and JSON keys */
    const char *label; /* table column */
    const char *about; /* one line for the legend */
    /* Loads the heap's library (dlopen): NULL when ready, else why not. NULL for
     * the heaps linked into the benchmark. */
    const char *(*load)(void);
    /* False: the heap lives in one process (a private fixed kind): it takes part
     * only in the rows of one process. */
    bool shared;
    /* The largest block it serves (0: no limit), and the smallest slot it hands
     * out (a smaller request takes one of these). */
    size_t max_block, min_block;
    /* Makes the segment `name` ("/..." as for shm_open) with `size` bytes for
     * blocks and attaches this process; NULL on failure. */
    struct shm_heap *(*create)(const char *name, size_t size);
    /* Attaches this process to the segment `name`; NULL on failure. */
    struct shm_heap *(*attach)(const char *name);
    /* Detaches this process (the segment and its name stay). */
    void (*detach)(struct shm_heap *h);
    /* Removes the name; nothing when there is none. */
    void (*unlink)(const char *name);
    /* NULL for the bare segment: it has no heap. */
    void *(*alloc)(struct shm_heap *h, size_t size);
    void (*free)(struct shm_heap *h, void *p);
    /* A block's offset in the segment (the same in every process), and back. */
    uint64_t (*offset)(struct shm_heap *h, void *p);
    void *(*ptr)(struct shm_heap *h, uint64_t offset);
};

/* heap_mkf.c */
extern const struct shm_type shm_mkf_shared, shm_mkf_private, shm_bare;
/* heap_boost.c */
extern const struct shm_type shm_boost_rbtree, shm_boost_seqfit;
/* heap_rts.c; --rts-lib PATH overrides .deps/bench/libmkfbench_rts.so */
extern const struct shm_type shm_rts;
extern const char *shm_rts_lib;

#endif /* BENCH_SHARED_SHM_HEAPS_H */
