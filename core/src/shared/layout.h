/*
 * shared/layout.h - the format of a shared heap's segment: the header, the
 * process slots, the intent record and the page map's words. Nothing here
 * depends on the rest of the core, so that tests and the fuzz target can read
 * and damage a segment the way a hostile process would.
 *
 * Segment: [header][page map: one 64-bit word per heap page][heap pages].
 * Every value in it may have been written by another process, or by anyone who
 * can open the segment: the core checks each one against the geometry before
 * it uses it (page_map.c, process.c).
 */
#ifndef MKF_SHARED_LAYOUT_H
#define MKF_SHARED_LAYOUT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#ifndef MEMKIND_SHARED_MAX_PROCESSES
#define MEMKIND_SHARED_MAX_PROCESSES 64
#endif

#define MKF_SHM_MAGIC 0x4d4b4653484541ull /* "MKFSHEA" */
#define MKF_SHM_VERSION 5u /* 2: flags in the header; 3: each slot's parked block;
                              4: the lowest free page (low_free); 5: liveness by a
                              lock on the segment, slots on cache lines of their
                              own, the peak of used pages */
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

/* How a live slot's process can be told alive (process.c). */
enum {
    /* It holds an open-file-description lock on byte MKF_SHM_LIVENESS_BYTE(slot)
     * of the segment for as long as it uses the slot; the kernel drops the lock
     * when the last descriptor of that description closes, at death included. */
    LIVENESS_LOCK = 1,
    /* It could not get a description of its own (no /proc to reopen its
     * descriptor, no name): nobody can tell, so the slot counts as alive until
     * the process detaches. */
    LIVENESS_NONE = 2,
};

/* The byte of the segment's file whose lock says that slot i's process lives:
 * past the end of any segment (locks need no data there), one byte per slot. */
#define MKF_SHM_LIVENESS_BASE ((uint64_t)1 << 62)
#define MKF_SHM_LIVENESS_BYTE(i) (MKF_SHM_LIVENESS_BASE + (uint64_t)(i))

/* A slot fills cache lines of its own: two processes' hot words (the parked
 * block, the remote-free stack) never share one. */
#define MKF_SHM_CACHE_LINE 64

struct mkf_shm_slot {
    _Alignas(MKF_SHM_CACHE_LINE) _Atomic uint32_t state;
    uint32_t gen;        /* bumped each time the slot is taken */
    int32_t pid;         /* for people reading the segment; never trusted */
    uint32_t liveness;   /* LIVENESS_*, while LIVE */
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

_Static_assert(sizeof(struct mkf_shm_slot) % MKF_SHM_CACHE_LINE == 0,
               "a process slot must fill whole cache lines");

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
    uint64_t peak_pages; /* the most pages ever used at once, all processes */
    struct mkf_shm_slot slots[MKF_SHM_SLOTS];
};

#endif /* MKF_SHARED_LAYOUT_H */
