/*
 * page_source.h - what a fixed kind needs from the memory under it: pages for
 * jemalloc's arena, exact runs of pages for large blocks, and a few questions.
 *
 * A kind chooses its page source once, when it is made (fx->pages), and nothing
 * above this interface asks which one it has: the heap engine (arena.c, large.c,
 * extent_hooks.c, tcache.c), the kinds (fixed.c, fork.c) and the API call
 * through the table. Two implementations:
 *
 *   mkf_region_pages  region_map.c      the private region map: free ranges per
 *                                       region, large blocks' page counts in leaves,
 *                                       one mutex per kind
 *   mkf_shared_pages  shared/page_map.c the page map in a shared segment, one word
 *                     shared/process.c  per page, a robust process-shared mutex,
 *                                       process slots, remote frees
 *
 * The contract, for every implementation (fx is the kind's struct mkf_fixed,
 * fx->source the implementation's own state):
 * - take: `size` bytes (whole pages) aligned to `alignment`, or exactly at
 *   new_addr when it is not NULL (in-place growth of an extent); *zeroed says
 *   whether they are known to be zero. for_jemalloc: an extent for the arena
 *   (placed from the top), else from the bottom. NULL when nothing fits.
 * - give: an extent back (from jemalloc's hooks). `zeroed`: known zero.
 * - discard: pages that leave the heap, while still the caller's, before they
 *   are given back: the source gives them to the system if its memory asks for
 *   that (MEMKIND_REGION_PURGE), or does nothing.
 * - take_block / block_pages / give_block / resize_block: large blocks of exact
 *   pages; block_pages is 0 when no block starts at the address, and is read
 *   without a lock (the block's owner does not change it meanwhile).
 * - park_exchange: swap the kind's parked large block word (an address with a
 *   thread tag in the low bits; 0: take only) and return the old one.
 *   may_park: whether the block at ptr may be parked in this process.
 *   unpark_others: give back the blocks that other users of the memory keep
 *   parked (before a request fails); returns the bytes given.
 * - largest_free, used, peak_used: statistics of the memory this kind sees (used:
 *   the pages held by this kind in this process), called without fx->lock (each
 *   source takes its own). large_bytes: bytes of large blocks the program holds
 *   (the parked one is free); the region map's needs fx->lock held.
 * - tag: a small block was just handed out (others may need its size class).
 *   With tags_blocks, every small block must be tagged before it can be handed
 *   out: the engine tags each block a thread cache is filled with (the inline
 *   fast path then hands them out untouched), and each block of its slow paths.
 *   foreign_free: with foreign_blocks, a pointer the engine frees the slow way:
 *   true when it is another process's small block, which the source sent to its
 *   owner; false when it is not (the engine goes on with it).
 *   take_in: take in what others freed to this kind (the engine then frees it).
 * - fork_child: in a child of fork(), before anything else; returns how the kind
 *   goes on in the child (enum mkf_fork_use).
 * - foreign_blocks: true when blocks this process did not allocate lie in the
 *   memory (memkind_free(NULL, p) must then look there too).
 */
#ifndef MKF_PAGE_SOURCE_H
#define MKF_PAGE_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct memkind;
struct mkf_fixed;

/* What a kind does in a child of fork() (fork.c acts on it). */
enum mkf_fork_use {
    MKF_FORK_KEEP,  /* the child's copy of the memory is its own: go on as before */
    MKF_FORK_OWN,   /* the memory is shared with the parent, which keeps its heap:
                       the child drops its copy of the arena and takes a new one */
    MKF_FORK_NONE,  /* shared with the parent and no way to take part: refuse */
};

struct mkf_page_source {
    const char *name;
    bool foreign_blocks;
    bool tags_blocks; /* tag() must see every small block handed out */
    void *(*take)(struct mkf_fixed *fx, void *new_addr, size_t size, size_t alignment,
                  bool *zeroed, bool for_jemalloc);
    void (*give)(struct mkf_fixed *fx, void *addr, size_t size, bool zeroed);
    void (*discard)(struct mkf_fixed *fx, void *addr, size_t size);
    void *(*take_block)(struct mkf_fixed *fx, size_t pages, size_t alignment, bool *zeroed);
    size_t (*block_pages)(struct mkf_fixed *fx, const void *ptr);
    void (*give_block)(struct mkf_fixed *fx, void *ptr);
    bool (*resize_block)(struct mkf_fixed *fx, void *ptr, size_t pages);
    uintptr_t (*park_exchange)(struct mkf_fixed *fx, uintptr_t w);
    bool (*may_park)(struct mkf_fixed *fx, const void *ptr);
    size_t (*unpark_others)(struct mkf_fixed *fx);
    size_t (*largest_free)(struct mkf_fixed *fx);
    size_t (*used)(struct mkf_fixed *fx);
    size_t (*peak_used)(struct mkf_fixed *fx);
    size_t (*large_bytes)(struct mkf_fixed *fx);
    void (*tag)(struct mkf_fixed *fx, const void *ptr, size_t usable);
    bool (*foreign_free)(struct mkf_fixed *fx, void *ptr);
    void (*take_in)(struct memkind *kind);
    enum mkf_fork_use (*fork_child)(struct mkf_fixed *fx);
};

/* The two implementations. */
extern const struct mkf_page_source mkf_region_pages; /* region_map.c */
extern const struct mkf_page_source mkf_shared_pages; /* shared/page_map.c */

#endif /* MKF_PAGE_SOURCE_H */
