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

#define MKF_SHM_MAGIC 0x4d4b4653484541ull /* "MKFSHEA" */
#define MKF_SHM_VERSION 4u /* 2: flags in the header; 3: each slot's parked block;
                              4: the lowest free page (low_free) */
#define MKF_SHM_SLOTS MEMKIND_SHARED_MAX_PROCESSES
/* The heap starts at an address aligned to this in every process, so that
 * alignments up to it hold whichever process looks at a block. */
#define MKF_SHM_DATA_ALIGN ((size_t)2 << 20)

/* ---- page map words ----------------------------------------------------------
 * Every page has a word. Only the states are authoritative: the run lengths of
 * free runs (at their first and last page) and the counters in the header and
 * the slots are derived from them, and rebuilt after a crash (page_map.c). */
#define W_FREE 0u
#define W_SLAB 1u  /* held by a process's jemalloc arena (slabs, its cache) */
#define W_LARGE 2u /* a large block (exact pages, any process may free it) */
#define W_STATE_MASK 3ull
#define W_HEAD 4ull   /* LARGE: the block's first page, which holds its length */
#define W_ZERO 8ull   /* FREE: the page's bytes are known to be zero */
#define W_OWNER_SHIFT 8
#define W_OWNER_MASK 0xffull
#define W_CLASS_SHIFT 16 /* SLAB: the small size class of blocks that start here, /16 */
#define W_CLASS_MASK 0xffffull
#define W_LEN_SHIFT 32   /* FREE run head and tail, LARGE head: pages */

static inline unsigned w_state(uint64_t w) { return (unsigned)(w & W_STATE_MASK); }
static inline unsigned w_owner(uint64_t w) { return (unsigned)((w >> W_OWNER_SHIFT) & W_OWNER_MASK); }
static inline size_t w_len(uint64_t w) { return (size_t)(w >> W_LEN_SHIFT); }
static inline size_t w_class(uint64_t w) { return (size_t)((w >> W_CLASS_SHIFT) & W_CLASS_MASK) << 4; }
static inline uint64_t w_make(unsigned state, unsigned owner, size_t len)
{
    return state | ((uint64_t)owner << W_OWNER_SHIFT) | ((uint64_t)len << W_LEN_SHIFT);
}

/* ---- process slots ------------------------------------------------------------ */
enum { SLOT_FREE = 0, SLOT_LIVE = 1, SLOT_DEAD = 2 /* died, or detached holding pages */ };

struct mkf_shm_slot {
    _Atomic uint32_t state;
    uint32_t gen;        /* bumped each time the slot is taken */
    int32_t pid;
    uint32_t pad;
    uint64_t start_time; /* /proc/<pid>/stat field 22: tells a reused pid apart */
    /* Blocks other processes freed to this one: a stack of offsets linked through
     * the blocks' first 8 bytes; pushed with CAS, taken whole with an exchange. */
    _Atomic uint64_t remote_head;
    _Atomic uint64_t remote_frees;
    /* Derived (under the lock, rebuilt after a crash). */
    uint64_t pages, large_pages;
    /* The process's parked large block (large.c, page_map.c): the offset of one
     * of its own large blocks that the program freed, with a thread tag in the
     * low bits; 0 when none. Only ever swapped with atomic exchanges, by the
     * process (park, reuse) and by others (to give it back to the page map), so
     * a block is at every instant either here or in exactly one process's hands.
     * Its pages stay W_LARGE under this slot in the page map. */
    _Atomic uint64_t parked;
};

/* The one mutation in flight, written before the page words change: a crash in
 * the middle is redone by whoever takes the lock next. A mutation sets up to two
 * ranges of page words: the first page of each to `head`, the others to `word`. */
struct mkf_shm_intent {
    _Atomic uint64_t nranges; /* 0: nothing in flight */
    struct {
        uint64_t first, n, head, word;
    } r[2];
};

struct mkf_shm_header {
    _Atomic uint64_t magic; /* written last at creation */
    uint32_t version, page_size;
    uint32_t flags, pad; /* memkind_shared_create()'s flags */
    uint64_t segment_size, map_off, data_off, npages;
    uint64_t max_slots;
    pthread_mutex_t lock; /* robust, process-shared: guards the page map and slots */
    struct mkf_shm_intent intent;
    /* Derived (under the lock). */
    uint64_t used_pages;
    /* No page below this one is free (a lower bound, exact after a rebuild): first
     * fit starts here, so that taking a large block does not walk over every live
     * block below the first hole (page_map.c, find_bottom). */
    uint64_t low_free;
    uint64_t recoveries;
    struct mkf_shm_slot slots[MKF_SHM_SLOTS];
};

/* One process's attachment (the kind's struct mkf_fixed points here). */
struct mkf_shm {
    struct mkf_shm_header *h;
    _Atomic uint64_t *map;
    uintptr_t data;      /* the heap's first page in this process */
    size_t npages, page;
    void *reserve;       /* the whole address range reserved for the mapping */
    size_t reserve_size;
    unsigned slot;
    int fd;
    char *name;          /* NULL: memfd or attached by descriptor */
    /* Set while the kind is detached or in a fork child before it re-attaches:
     * the hooks neither take nor give pages (the arena's pages are not ours). */
    bool orphan;
};

/* page_map.c */
MKF_HIDDEN void mkf_shm_init_map(struct mkf_shm *s);
MKF_HIDDEN void mkf_shm_lock(struct mkf_shm *s);
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
/* Take a free slot for the calling process (lock held): 0 or SHARED_FULL. */
MKF_HIDDEN int mkf_shm_take_slot(struct mkf_shm *s);
MKF_HIDDEN uint64_t mkf_shm_start_time(pid_t pid);

#endif /* MKF_SHARED_SHM_H */
