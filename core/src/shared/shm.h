/*
 * shared/shm.h - the layout of a shared heap's segment and what the files of
 * core/src/shared/ share. docs/shared.md describes the model.
 *
 * Segment: [header][page map: one 64-bit word per heap page][heap pages]. The
 * header and the page map are the only bookkeeping that lives in the segment;
 * each process's jemalloc arena, thread caches and metadata are private to it.
 */
#ifndef MKF_SHARED_SHM_H
#define MKF_SHARED_SHM_H

#include "../internal.h"

#include "layout.h"

/* One process's attachment (the kind's struct mkf_fixed points here). */
struct mkf_shm {
    struct mkf_shm_header *h;
    _Atomic uint64_t *map;
    uintptr_t data;      /* the heap's first page in this process */
    size_t npages, page;
    void *reserve;       /* the whole address range reserved for the mapping */
    size_t reserve_size;
    unsigned slot;       /* MKF_SHM_NO_SLOT: none (a fork child before its first use) */
    int fd;
    /* fd is an open file description no other attachment or process shares, so
     * the liveness locks held through it are this attachment's alone. */
    bool own_ofd;
    char *name;          /* NULL: memfd or attached by descriptor */
    /* Set while the kind is detached or in a fork child before it re-attaches:
     * the hooks neither take nor give pages (the arena's pages are not ours). */
    _Atomic bool orphan; /* a fork child's first allocation clears it (page_map.c) */
    /* Set when the kind is detached: no slot is taken any more. */
    bool detached;
};

#define MKF_SHM_NO_SLOT UINT32_MAX

/* The attachment of a shared kind's fixed state. */
static inline struct mkf_shm *mkf_shm_of(struct mkf_fixed *fx) { return fx->source; }

/* ---- the page source's operations (page_map.c, process.c): page_source.h */
MKF_HIDDEN void *mkf_shm_take(struct mkf_fixed *fx, void *new_addr, size_t size,
                              size_t alignment, bool *zeroed, bool for_jemalloc);
MKF_HIDDEN void *mkf_shm_take_block(struct mkf_fixed *fx, size_t pages, size_t alignment,
                                    bool *zeroed);
MKF_HIDDEN size_t mkf_shm_block_pages(struct mkf_fixed *fx, const void *ptr);
MKF_HIDDEN void mkf_shm_give_block(struct mkf_fixed *fx, void *ptr);
MKF_HIDDEN bool mkf_shm_resize_block(struct mkf_fixed *fx, void *ptr, size_t pages);
/* The process's parked large block: its slot's word swapped for `w`. */
MKF_HIDDEN uintptr_t mkf_shm_park_exchange(struct mkf_fixed *fx, uintptr_t w);
/* Record the size class of the small block `ptr` just handed out (other processes
 * read it), and read it back for a block of another process (0: unknown). */
MKF_HIDDEN void mkf_shm_tag(struct mkf_fixed *fx, const void *ptr, size_t usable);
MKF_HIDDEN size_t mkf_shm_small_usable(struct mkf_fixed *fx, const void *ptr);
MKF_HIDDEN int mkf_shm_slab_owner(struct mkf_fixed *fx, const void *ptr);
/* A small block that this process's jemalloc does not know: to its owner's queue. */
MKF_HIDDEN bool mkf_shm_remote_free(struct mkf_fixed *fx, void *ptr);
MKF_HIDDEN bool mkf_shm_remote_pending(struct mkf_fixed *fx);
/* Free the blocks other processes pushed to this one (no lock of the shared heap). */
MKF_HIDDEN void mkf_shm_drain(struct memkind *kind);
/* In a fork child: a description of the segment of our own; no slot until the
 * first allocation (process.c). */
MKF_HIDDEN enum mkf_fork_use mkf_shm_fork_child(struct mkf_fixed *fx);

/* page_map.c */
/* Lock the heap: 0, or MEMKIND_ERROR_SHARED_CORRUPT when the lock cannot be
 * had within the bound (MEMKIND_SHARED_LOCK_TIMEOUT_MS) or is unusable. */
MKF_HIDDEN void mkf_shm_init_map(struct mkf_shm *s);
MKF_HIDDEN int mkf_shm_lock(struct mkf_shm *s);
/* Make the heap's lock (robust, process-shared) in a new segment. */
MKF_HIDDEN int mkf_shm_init_lock(pthread_mutex_t *m);
MKF_HIDDEN void mkf_shm_unlock(struct mkf_shm *s);
/* Give every page of slot `slot` back (lock held); returns the pages given. */
MKF_HIDDEN size_t mkf_shm_free_slot_pages(struct mkf_shm *s, unsigned slot);
/* Take slot `slot`'s parked block and give it back to the page map (lock held);
 * returns its pages, 0 when none was parked. */
MKF_HIDDEN size_t mkf_shm_give_parked(struct mkf_shm *s, unsigned slot);
/* The pages of slot `slot`'s parked block now (no lock: a statistic). */
MKF_HIDDEN size_t mkf_shm_parked_pages(struct mkf_shm *s, unsigned slot);
/* process.c */
MKF_HIDDEN bool mkf_shm_slot_alive(struct mkf_shm *s, unsigned slot);
/* Mark slots whose process is gone (lock held). */
MKF_HIDDEN void mkf_shm_mark_dead(struct mkf_shm *s);
/* A dead slot with no page left becomes free (lock held). */
MKF_HIDDEN void mkf_shm_settle(struct mkf_shm *s, unsigned slot);
/* Give back every page of every dead process and free its slot (lock held);
 * returns the pages given. */
MKF_HIDDEN size_t mkf_shm_reclaim_dead(struct mkf_shm *s);
/* Take a free slot for the calling process, reclaiming dead processes' slots
 * when none is free (lock held): 0 or SHARED_FULL. */
MKF_HIDDEN int mkf_shm_take_slot(struct mkf_shm *s);
/* Leave this attachment's slot: free, or dead while it holds pages (lock held). */
MKF_HIDDEN void mkf_shm_leave_slot(struct mkf_shm *s);
/* A new open file description of the segment behind fd (by /proc/self/fd, or
 * else by name when it still names the same file), or -1. */
MKF_HIDDEN int mkf_shm_reopen_own(int fd, const char *name);

#endif /* MKF_SHARED_SHM_H */
