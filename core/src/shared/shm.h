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
    bool orphan;
};

#define MKF_SHM_NO_SLOT UINT32_MAX

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
