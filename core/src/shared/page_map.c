/*
 * shared/page_map.c - the pages of a shared heap: who holds each one, under one
 * robust process-shared mutex, with a crash-safe way to change them.
 *
 * The page map has a word per page (shm.h). Its states are the truth; the run
 * lengths at both ends of each free run, and the page counts in the header and
 * the slots, are derived from them. Every change of states is written first as
 * an intent (at most two ranges of words) and cleared when done. If the process
 * that holds the lock dies (SIGKILL at any instruction), the next process to lock
 * gets EOWNERDEAD and repairs the map: it redoes the intent, which is idempotent,
 * then rebuilds everything derived from the states by one scan, marks slots whose
 * process is gone as dead, and declares the mutex consistent. A mutation either
 * happened completely or (if its intent was not yet published) not at all.
 *
 * Placement mirrors the private region map: jemalloc's slabs are taken from the
 * top of the heap (last fit), large blocks from the bottom (first fit, from the
 * lowest free page the header knows of: the blocks below it are not walked).
 *
 * Also here: the large block each process parks in its slot for reuse without
 * the lock, and the ways it comes back to the page map (see "parked large
 * blocks" below).
 */
#include "shm.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct mkf_shm *shm_of(struct mkf_fixed *fx) { return mkf_shm_of(fx); }

/* ---- the test hook -------------------------------------------------------------
 * MKF_SHARED_TEST_CRASH_AT=n: the n-th mutation of this process kills the process
 * with SIGKILL half-way through its page words, while it holds the lock. Read
 * when the process attaches (heap.c); tests only. */
int mkf_shm_crash_at = -1;
static int g_mutations;

/* ---- derived state ---------------------------------------------------------------- */

static uint64_t load(struct mkf_shm *s, size_t i)
{
    return atomic_load_explicit(&s->map[i], memory_order_relaxed);
}

static void store(struct mkf_shm *s, size_t i, uint64_t w)
{
    atomic_store_explicit(&s->map[i], w, memory_order_relaxed);
}

/* The length tag of a free run at page i (its first or last), keeping the page's
 * "known zero" bit. Only ever on a free page: a run length read from a damaged
 * segment may end on a live page, which a tag would turn into a free one (and
 * hand out twice). */
static void tag_free(struct mkf_shm *s, size_t i, size_t len)
{
    uint64_t w = load(s, i);
    if (w_state(w) == W_FREE)
        store(s, i, (w & W_ZERO) | W_FREE | ((uint64_t)len << W_LEN_SHIFT));
}

static void tag_run(struct mkf_shm *s, size_t first, size_t len)
{
    if (len == 0 || first >= s->npages || len > s->npages - first)
        return; /* from damaged tags: never a word outside the map */
    tag_free(s, first, len);
    tag_free(s, first + len - 1, len);
}

static void count(struct mkf_shm *s, uint64_t w, int64_t d)
{
    unsigned st = w_state(w);
    if (st == W_FREE)
        return;
    unsigned owner = w_owner(w) % MKF_SHM_SLOTS;
    struct mkf_shm_slot *slot = &s->h->slots[owner];
    s->h->used_pages += (uint64_t)d;
    if (s->h->used_pages > s->h->peak_pages && s->h->used_pages <= s->npages)
        s->h->peak_pages = s->h->used_pages;
    slot->pages += (uint64_t)d;
    if (st == W_LARGE)
        slot->large_pages += (uint64_t)d;
    /* A dead process's last page given back (by anyone): its slot is free. */
    if (d < 0 && slot->pages == 0)
        mkf_shm_settle(s, owner);
}

/* Rebuild the free runs' tags and every page count from the states. */
static void rebuild(struct mkf_shm *s)
{
    struct mkf_shm_header *h = s->h;
    h->used_pages = 0;
    for (unsigned i = 0; i < MKF_SHM_SLOTS; i++)
        h->slots[i].pages = h->slots[i].large_pages = 0;
    h->low_free = s->npages;
    size_t run = 0;
    for (size_t i = 0; i < s->npages; i++) {
        uint64_t w = load(s, i);
        if (w_state(w) == W_FREE) {
            if (h->low_free == s->npages)
                h->low_free = i;
            run++;
            continue;
        }
        tag_run(s, i - run, run);
        run = 0;
        count(s, w, 1);
    }
    tag_run(s, s->npages - run, run);
}

void mkf_shm_init_map(struct mkf_shm *s)
{
    /* A fresh segment is zero-filled: every page is free and known zero. */
    for (size_t i = 0; i < s->npages; i++)
        store(s, i, W_FREE | W_ZERO);
    tag_run(s, 0, s->npages);
    s->h->low_free = 0;
}

/* Pages from `head` on became free, and `head` starts the free run that holds
 * them. The lower bound follows; a crash before this only leaves it too high
 * until the repair, which recomputes it (rebuild). */
static void lower_low_free(struct mkf_shm *s, size_t head)
{
    if (head < s->h->low_free)
        s->h->low_free = head;
}

/* ---- mutations ---------------------------------------------------------------------- */

struct range {
    size_t first, n;
    uint64_t head, word;
};

/* Set the words of r; true when every page was free and known zero before. */
static bool apply(struct mkf_shm *s, const struct range *r, bool crash)
{
    bool zero = true;
    if (r->first >= s->npages || r->n > s->npages - r->first)
        return false; /* callers check; a damaged tag must still not reach out */
    for (size_t i = 0; i < r->n; i++) {
        if (crash && i == r->n / 2)
            raise(SIGKILL); /* the test hook: die holding the lock, half-way */
        size_t p = r->first + i;
        uint64_t old = load(s, p), w = i == 0 ? r->head : r->word;
        zero = zero && w_state(old) == W_FREE && (old & W_ZERO);
        count(s, old, -1);
        count(s, w, 1);
        store(s, p, w);
    }
    return zero;
}

/* Publish the intent for nr ranges, apply them, clear it. Lock held. */
static bool mutate(struct mkf_shm *s, const struct range *r, unsigned nr)
{
    struct mkf_shm_intent *in = &s->h->intent;
    for (unsigned i = 0; i < nr; i++) {
        in->r[i].first = r[i].first;
        in->r[i].n = r[i].n;
        in->r[i].head = r[i].head;
        in->r[i].word = r[i].word;
    }
    atomic_store_explicit(&in->nranges, nr, memory_order_release);
    bool crash = mkf_shm_crash_at >= 0 && ++g_mutations == mkf_shm_crash_at;
    bool zero = true;
    for (unsigned i = 0; i < nr; i++)
        zero = apply(s, &r[i], crash) && zero;
    return zero;
}

static void mutate_done(struct mkf_shm *s)
{
    atomic_store_explicit(&s->h->intent.nranges, 0, memory_order_release);
}

/* The lock holder died: redo its mutation, rebuild, declare the lock consistent. */
static void recover(struct mkf_shm *s)
{
    struct mkf_shm_header *h = s->h;
    struct mkf_shm_intent *in = &h->intent;
    unsigned nr = (unsigned)atomic_load_explicit(&in->nranges, memory_order_acquire);
    for (unsigned i = 0; i < nr && i < 2; i++) {
        struct range r = {in->r[i].first, in->r[i].n, in->r[i].head, in->r[i].word};
        if (r.first < s->npages && r.n <= s->npages - r.first)
            for (size_t j = 0; j < r.n; j++)
                store(s, r.first + j, j == 0 ? r.head : r.word);
    }
    atomic_store_explicit(&in->nranges, 0, memory_order_release);
    rebuild(s);
    mkf_shm_mark_dead(s);
    h->recoveries++;
}

/* Waits in rounds of LOCK_ROUND_NS, never in one pthread_mutex_lock(): a wake-up
 * can be lost for good when the process it went to is killed. Unlocking (or the
 * owner's death) wakes one waiter; if that waiter dies before it takes the lock
 * and the lock is not free at that moment (another process took it meanwhile, or
 * it is marked owner-dead), neither glibc nor the kernel wakes anyone else, and
 * the other waiters sleep on a lock that nobody holds (shown with plain glibc
 * mutexes: lock word 0, waiters asleep). shared_stress_test, whose third process
 * is SIGKILLed, hung so once in some 600 runs: both survivors' readers asleep in
 * here, their workers blocked on full pipes. After a round each waiter looks at
 * the lock again and takes it, free or owner-dead. Uncontended, the first
 * trylock takes it. */
#define LOCK_ROUND_NS 20000000L

/* MKF_SHARED_TEST_LOCK_TIMEOUT_MS: a shorter bound, for tests (read at attach). */
long mkf_shm_lock_timeout_ms = MEMKIND_SHARED_LOCK_TIMEOUT_MS;

static int lock_mutex(pthread_mutex_t *m)
{
    int rc = pthread_mutex_trylock(m);
    if (rc != EBUSY)
        return rc;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += mkf_shm_lock_timeout_ms / 1000;
    deadline.tv_nsec += mkf_shm_lock_timeout_ms % 1000 * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    while (rc == EBUSY || rc == ETIMEDOUT) {
        struct timespec now, until;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > deadline.tv_sec ||
            (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec))
            return ETIMEDOUT; /* held too long: a stopped or hostile process */
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += LOCK_ROUND_NS;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        rc = pthread_mutex_timedlock(m, &until);
    }
    return rc;
}

/* The robust, process-shared mutex of every segment. glibc dispatches on the
 * kind word inside the mutex (type, robust, shared, priority protocol) and
 * asserts on values it does not expect; in a segment that word is input, so it
 * is compared with the one this library writes before glibc reads it. */
static int g_lock_kind = -1;

int mkf_shm_init_lock(pthread_mutex_t *m)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    int rc = pthread_mutex_init(m, &attr);
    pthread_mutexattr_destroy(&attr);
    return rc;
}

static bool lock_kind_ok(pthread_mutex_t *m)
{
    int want = __atomic_load_n(&g_lock_kind, __ATOMIC_RELAXED);
    if (want < 0) {
        pthread_mutex_t probe;
        if (mkf_shm_init_lock(&probe) != 0)
            return false;
        want = probe.__data.__kind;
        pthread_mutex_destroy(&probe);
        __atomic_store_n(&g_lock_kind, want, __ATOMIC_RELAXED);
    }
    return __atomic_load_n(&m->__data.__kind, __ATOMIC_RELAXED) == want;
}

int mkf_shm_lock(struct mkf_shm *s)
{
    if (!lock_kind_ok(&s->h->lock))
        return MEMKIND_ERROR_SHARED_CORRUPT;
    int rc = lock_mutex(&s->h->lock);
    if (MKF_LIKELY(rc == 0))
        return MEMKIND_SUCCESS;
    if (rc == EOWNERDEAD) {
        recover(s);
        pthread_mutex_consistent(&s->h->lock);
        return MEMKIND_SUCCESS;
    }
    /* ETIMEDOUT (held beyond the bound), ENOTRECOVERABLE (a repair was cut
     * short), EINVAL or EDEADLK (a lock word that is not a lock): the heap
     * cannot be changed safely now. */
    return MEMKIND_ERROR_SHARED_CORRUPT;
}

void mkf_shm_unlock(struct mkf_shm *s) { pthread_mutex_unlock(&s->h->lock); }

/* ---- finding free pages (lock held) ----------------------------------------------- */

/* First fit from the bottom: the first page of `n` free pages aligned to `align`
 * bytes, and the free run [*rh, *rh + *rl) that holds them. */
static bool find_bottom(struct mkf_shm *s, size_t n, size_t align, size_t *at, size_t *rh,
                        size_t *rl)
{
    /* From the lowest free page on: no page below it is free, so the page there,
     * if free, starts its run (and its length tag is valid). The first free page
     * met becomes the bound, whether or not its run fits. */
    bool first_free = true;
    size_t i = s->h->low_free < s->npages ? (size_t)s->h->low_free : s->npages;
    while (i < s->npages) {
        uint64_t w = load(s, i);
        unsigned st = w_state(w);
        if (st == W_FREE) {
            if (first_free) {
                s->h->low_free = i;
                first_free = false;
            }
            size_t len = w_len(w);
            if (len == 0 || len > s->npages - i)
                len = 1; /* a damaged tag: step one page, never past the map */
            uintptr_t addr = s->data + i * s->page;
            uintptr_t al = (addr + align - 1) & ~(uintptr_t)(align - 1);
            size_t a = (al - s->data) / s->page;
            if (al >= addr && a < i + len && i + len - a >= n) {
                *at = a, *rh = i, *rl = len;
                return true;
            }
            i += len;
        } else if (st == W_LARGE && (w & W_HEAD) && w_len(w) != 0 &&
                   w_len(w) <= s->npages - i) {
            i += w_len(w);
        } else {
            i++;
        }
    }
    if (first_free)
        s->h->low_free = s->npages; /* nothing is free */
    return false;
}

/* Last fit from the top. */
static bool find_top(struct mkf_shm *s, size_t n, size_t align, size_t *at, size_t *rh,
                     size_t *rl)
{
    for (size_t i = s->npages; i-- > 0;) {
        uint64_t w = load(s, i);
        if (w_state(w) != W_FREE)
            continue;
        size_t len = w_len(w);
        if (len == 0 || len > i + 1)
            len = 1; /* cannot happen with consistent tags; be safe */
        size_t head = i + 1 - len;
        if (len >= n) {
            uintptr_t al = (s->data + (i + 1 - n) * s->page) & ~(uintptr_t)(align - 1);
            if (al >= s->data + head * s->page) {
                *at = (al - s->data) / s->page, *rh = head, *rl = len;
                return true;
            }
        }
        i = head; /* the loop's i-- steps past the run */
    }
    return false;
}

/* Whether every page of [first, first + n) is free. Run lengths are derived and
 * may have been damaged: a page is handed out only when its own state says free,
 * never because a tag said so (a damaged run could cover live pages, which would
 * then be handed out twice, even to their own holder). */
static bool all_free(struct mkf_shm *s, size_t first, size_t n)
{
    for (size_t i = first; i < first + n; i++)
        if (w_state(load(s, i)) != W_FREE)
            return false;
    return true;
}

/* Whether [first, first + n) is one large block whose head is at `first`: every
 * other page LARGE, not a head, with the head's owner. A damaged length must not
 * free the pages of other blocks. */
static bool block_ok(struct mkf_shm *s, size_t first, size_t n)
{
    uint64_t head = load(s, first);
    if (w_state(head) != W_LARGE || !(head & W_HEAD) || n == 0 || n > s->npages - first)
        return false;
    for (size_t i = first + 1; i < first + n; i++) {
        uint64_t w = load(s, i);
        if (w_state(w) != W_LARGE || (w & W_HEAD) || w_owner(w) != w_owner(head))
            return false;
    }
    return true;
}

/* Take [at, at + n) out of the free run [rh, rh + rl) with the given words; false
 * when the run was not what its tags said (then the tags are rebuilt from the
 * states, and the caller's request fails this once). */
static bool carve(struct mkf_shm *s, size_t at, size_t n, size_t rh, size_t rl,
                  uint64_t head, uint64_t word, bool *zeroed)
{
    /* The run must be what its tags say at both ends (a stale or damaged tag
     * makes a search see a run that is not there), and the pages taken free. */
    bool ok = rh <= at && at + n <= rh + rl && rh + rl <= s->npages &&
              w_len(load(s, rh)) == rl && w_len(load(s, rh + rl - 1)) == rl &&
              all_free(s, rh, 1) && all_free(s, rh + rl - 1, 1) && all_free(s, at, n);
    if (!ok) {
        rebuild(s);
        return false;
    }
    struct range r = {at, n, head, word};
    *zeroed = mutate(s, &r, 1);
    tag_run(s, rh, at - rh);
    tag_run(s, at + n, rh + rl - (at + n));
    mutate_done(s);
    return true;
}

/* Give [first, first + n) back, merged with free neighbours. */
static void release(struct mkf_shm *s, size_t first, size_t n)
{
    struct range r = {first, n, W_FREE, W_FREE};
    (void)mutate(s, &r, 1);
    size_t a = first, b = first + n;
    /* The neighbours' tags are read from the segment: a length that does not
     * fit is not followed (the run is tagged as far as it is known). */
    if (a > 0 && w_state(load(s, a - 1)) == W_FREE) {
        size_t len = w_len(load(s, a - 1));
        a = len != 0 && len <= a ? a - len : a - 1;
    }
    if (b < s->npages && w_state(load(s, b)) == W_FREE) {
        size_t len = w_len(load(s, b));
        b = len != 0 && len <= s->npages - b ? b + len : b + 1;
    }
    tag_run(s, a, b - a);
    lower_low_free(s, a);
    mutate_done(s);
}

static size_t page_of(struct mkf_shm *s, const void *ptr)
{
    return ((uintptr_t)ptr - s->data) / s->page;
}

static bool in_heap(struct mkf_shm *s, const void *ptr)
{
    return (uintptr_t)ptr - s->data < s->npages * s->page;
}

/* ---- the region map's operations for a shared kind ---------------------------------- */

/* A fork child takes its slot when it first needs pages, not at fork: a child that
 * only execs, or never allocates, holds none (process.c, mkf_shm_fork_child).
 * Lock held; false when the kind cannot take pages (detached, or no slot free). */
static bool slot_late(struct mkf_shm *s)
{
    if (s->detached || s->slot != MKF_SHM_NO_SLOT || mkf_shm_take_slot(s) != MEMKIND_SUCCESS)
        return false;
    s->orphan = false;
    return true;
}

void *mkf_shm_take(struct mkf_fixed *fx, void *new_addr, size_t size, size_t alignment,
                   bool *zeroed, bool for_jemalloc)
{
    struct mkf_shm *s = shm_of(fx);
    if (size == 0 || size % s->page != 0 || !mkf_is_pow2(alignment))
        return NULL;
    size_t n = size / s->page, at, rh, rl;
    if (alignment < s->page)
        alignment = s->page;
    void *p = NULL;
    if (mkf_shm_lock(s) != MEMKIND_SUCCESS)
        return NULL;
    if (MKF_UNLIKELY(s->orphan) && !slot_late(s)) {
        mkf_shm_unlock(s);
        return NULL;
    }
    bool found;
    if (new_addr != NULL) {
        /* Only at the start of a free run (the end of a block grows into it). */
        at = in_heap(s, new_addr) ? page_of(s, new_addr) : s->npages;
        uint64_t w = at < s->npages ? load(s, at) : 0;
        found = at < s->npages && ((uintptr_t)new_addr & (s->page - 1)) == 0 &&
                w_state(w) == W_FREE && (at == 0 || w_state(load(s, at - 1)) != W_FREE) &&
                w_len(w) >= n && w_len(w) <= s->npages - at;
        rh = at, rl = found ? w_len(w) : 0;
    } else {
        found = for_jemalloc ? find_top(s, n, alignment, &at, &rh, &rl)
                             : find_bottom(s, n, alignment, &at, &rh, &rl);
    }
    uint64_t word = w_make(W_SLAB, s->slot, 0);
    if (found && carve(s, at, n, rh, rl, word, word, zeroed))
        p = (void *)(s->data + at * s->page);
    mkf_shm_unlock(s);
    return p;
}

static void mkf_shm_give(struct mkf_fixed *fx, void *addr, size_t size, bool zeroed)
{
    (void)zeroed; /* given pages are never taken for zero (W_ZERO is not set) */
    struct mkf_shm *s = shm_of(fx);
    if (s->orphan || !in_heap(s, addr) || size == 0)
        return;
    size_t first = page_of(s, addr), n = size / s->page;
    if (n > s->npages - first || mkf_shm_lock(s) != MEMKIND_SUCCESS)
        return; /* a heap that cannot be locked keeps the pages in our slot */
    release(s, first, n);
    mkf_shm_unlock(s);
}

void *mkf_shm_take_block(struct mkf_fixed *fx, size_t pages, size_t alignment, bool *zeroed)
{
    struct mkf_shm *s = shm_of(fx);
    if (pages == 0 || pages > s->npages)
        return NULL;
    if (alignment < s->page)
        alignment = s->page;
    size_t at, rh, rl;
    void *p = NULL;
    if (mkf_shm_lock(s) != MEMKIND_SUCCESS)
        return NULL;
    if (MKF_UNLIKELY(s->orphan) && !slot_late(s)) {
        mkf_shm_unlock(s);
        return NULL;
    }
    uint64_t word = w_make(W_LARGE, s->slot, 0);
    if (find_bottom(s, pages, alignment, &at, &rh, &rl) &&
        carve(s, at, pages, rh, rl, word | W_HEAD | ((uint64_t)pages << W_LEN_SHIFT), word,
              zeroed))
        p = (void *)(s->data + at * s->page);
    mkf_shm_unlock(s);
    return p;
}

/* No lock: a block's head word only changes when it is freed or resized, which
 * the program does not do while it asks about the block. */
size_t mkf_shm_block_pages(struct mkf_fixed *fx, const void *ptr)
{
    struct mkf_shm *s = shm_of(fx);
    if (!in_heap(s, ptr) || ((uintptr_t)ptr & (s->page - 1)) != 0)
        return 0;
    size_t first = page_of(s, ptr);
    uint64_t w = load(s, first);
    return w_state(w) == W_LARGE && (w & W_HEAD) && w_len(w) <= s->npages - first ? w_len(w)
                                                                                   : 0;
}

/* The offset of `ptr` in the segment, which names it in every process. */
static uint64_t off_of(struct mkf_shm *s, const void *ptr)
{
    return (uintptr_t)ptr - (uintptr_t)s->h;
}

/* Whether slot `slot` has the block at page `first` parked. */
static bool is_parked(struct mkf_shm *s, unsigned slot, size_t first)
{
    uint64_t v = atomic_load_explicit(&s->h->slots[slot % MKF_SHM_SLOTS].parked,
                                      memory_order_acquire);
    uint64_t off = off_of(s, (void *)(s->data + first * s->page));
    return v != 0 && (v & ~(uint64_t)(s->page - 1)) == off;
}

void mkf_shm_give_block(struct mkf_fixed *fx, void *ptr)
{
    struct mkf_shm *s = shm_of(fx);
    if (!in_heap(s, ptr))
        return;
    size_t first = page_of(s, ptr);
    if (mkf_shm_lock(s) != MEMKIND_SUCCESS)
        return;
    uint64_t w = load(s, first);
    /* Checked under the lock: a large block freed twice is ignored, also when
     * the first free parked it in its owner's slot (a double free across
     * processes). */
    if (block_ok(s, first, w_len(w)) && !is_parked(s, w_owner(w), first))
        release(s, first, w_len(w));
    mkf_shm_unlock(s);
}

/* A block resized in place becomes the block of the process that resized it:
 * every page is written with the new owner, so that the death of the process
 * that allocated it (and a reclaim) cannot take it from the one that uses it. */
bool mkf_shm_resize_block(struct mkf_fixed *fx, void *ptr, size_t pages)
{
    struct mkf_shm *s = shm_of(fx);
    if (s->orphan || !in_heap(s, ptr) || pages == 0 || pages > s->npages)
        return false;
    size_t first = page_of(s, ptr);
    bool done = false;
    if (mkf_shm_lock(s) != MEMKIND_SUCCESS)
        return false;
    uint64_t w = load(s, first);
    size_t old = w_len(w);
    if (block_ok(s, first, old) && !is_parked(s, w_owner(w), first)) {
        uint64_t body = w_make(W_LARGE, s->slot, 0);
        uint64_t head = w_make(W_LARGE, s->slot, pages) | W_HEAD;
        if (pages <= old) {
            /* One mutation of two ranges: the block, the freed tail. */
            struct range r[2] = {{first, pages, head, body},
                                 {first + pages, old - pages, W_FREE, W_FREE}};
            (void)mutate(s, r, old > pages ? 2 : 1);
            if (old > pages) {
                size_t b = first + old;
                if (b < s->npages && w_state(load(s, b)) == W_FREE) {
                    size_t len = w_len(load(s, b));
                    b += len != 0 && len <= s->npages - b ? len : 1;
                }
                tag_run(s, first + pages, b - (first + pages));
                lower_low_free(s, first + pages); /* the block's head is below */
            }
            mutate_done(s);
            done = true;
        } else if (first + old < s->npages) {
            size_t at = first + old, more = pages - old;
            uint64_t nw = load(s, at);
            size_t rl = w_len(nw);
            if (w_state(nw) == W_FREE && rl >= more && rl <= s->npages - at &&
                all_free(s, at, more)) {
                struct range r[2] = {{first, old, head, body}, {at, more, body, body}};
                (void)mutate(s, r, 2);
                tag_run(s, at + more, rl - more);
                mutate_done(s);
                done = true;
            }
        }
    }
    mkf_shm_unlock(s);
    return done;
}

static size_t mkf_shm_largest_free(struct mkf_fixed *fx)
{
    struct mkf_shm *s = shm_of(fx);
    size_t best = 0;
    if (mkf_shm_lock(s) != MEMKIND_SUCCESS)
        return 0;
    for (size_t i = 0; i < s->npages;) {
        uint64_t w = load(s, i);
        if (w_state(w) == W_FREE) {
            size_t len = w_len(w);
            if (len == 0 || len > s->npages - i)
                len = 1;
            best = len > best ? len : best;
            i += len;
        } else {
            i++;
        }
    }
    mkf_shm_unlock(s);
    return best * s->page;
}

size_t mkf_shm_free_slot_pages(struct mkf_shm *s, unsigned slot)
{
    size_t freed = 0;
    for (size_t i = 0; i < s->npages;) {
        uint64_t w = load(s, i);
        if (w_state(w) == W_FREE || w_owner(w) != slot) {
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < s->npages && w_state(load(s, j)) != W_FREE && w_owner(load(s, j)) == slot)
            j++;
        release(s, i, j - i);
        freed += j - i;
        i = j;
    }
    return freed;
}

/* ---- parked large blocks ----------------------------------------------------------
 * A process parks the last large block it freed in its slot (shm.h), if it
 * allocated that block itself (so the page map already has it under the slot),
 * and reuses it for its next large request of about that size without the lock
 * (large.c). The slot's word holds the block's offset in the segment, which
 * other processes can read: each exchange below either leaves the block parked
 * or hands it to exactly one process. It comes back to the page map when the
 * process takes pages for another request, purges or detaches; when its process
 * is found dead (process.c); at memkind_shared_reclaim(); and when another
 * process is about to fail a request for want of pages (mkf_shm_unpark_others).
 * A process killed between taking a parked block and giving it back leaves it as
 * one of its live large blocks (reclaim returns them). */

uintptr_t mkf_shm_park_exchange(struct mkf_fixed *fx, uintptr_t w)
{
    struct mkf_shm *s = shm_of(fx);
    /* Detached, or a fork child without a slot: nothing parked, and nothing is
     * parked then (mkf_shm_may_park() says no). */
    if (s->orphan)
        return 0;
    uint64_t old = atomic_exchange_explicit(&s->h->slots[s->slot].parked,
                                            w != 0 ? off_of(s, (void *)w) : 0,
                                            memory_order_acq_rel);
    return old != 0 ? (uintptr_t)s->h + (uintptr_t)old : 0;
}

static bool mkf_shm_may_park(struct mkf_fixed *fx, const void *ptr)
{
    struct mkf_shm *s = shm_of(fx);
    return !s->orphan && in_heap(s, ptr) && w_owner(load(s, page_of(s, ptr))) == s->slot;
}

/* The first page of the block a parked word names, or npages when it names none
 * (0, or anything else a dead process may have left). */
static size_t parked_first(struct mkf_shm *s, unsigned slot, uint64_t v)
{
    uint64_t data_off = s->data - (uintptr_t)s->h;
    v &= ~(uint64_t)(s->page - 1);
    if (v < data_off || (v - data_off) / s->page >= s->npages)
        return s->npages;
    size_t first = (size_t)(v - data_off) / s->page;
    uint64_t w = load(s, first);
    bool ok = w_state(w) == W_LARGE && (w & W_HEAD) && w_owner(w) == slot && w_len(w) != 0 &&
              w_len(w) <= s->npages - first;
    return ok ? first : s->npages;
}

size_t mkf_shm_give_parked(struct mkf_shm *s, unsigned slot)
{
    struct mkf_shm_slot *sl = &s->h->slots[slot];
    if (atomic_load_explicit(&sl->parked, memory_order_relaxed) == 0)
        return 0;
    uint64_t v = atomic_exchange_explicit(&sl->parked, 0, memory_order_acq_rel);
    size_t first = parked_first(s, slot, v);
    if (first == s->npages)
        return 0;
    size_t n = w_len(load(s, first));
    if (!block_ok(s, first, n))
        return 0; /* a damaged block: its pages stay where they are */
    release(s, first, n);
    return n;
}

size_t mkf_shm_parked_pages(struct mkf_shm *s, unsigned slot)
{
    uint64_t v = atomic_load_explicit(&s->h->slots[slot].parked, memory_order_acquire);
    size_t first = v != 0 ? parked_first(s, slot, v) : s->npages;
    return first != s->npages ? w_len(load(s, first)) : 0;
}

static size_t mkf_shm_unpark_others(struct mkf_fixed *fx)
{
    struct mkf_shm *s = shm_of(fx);
    if (s->orphan)
        return 0;
    /* A look first, without the lock: usually nobody else has a block parked. */
    bool any = false;
    for (unsigned i = 0; i < MKF_SHM_SLOTS && !any; i++)
        any = i != s->slot &&
              atomic_load_explicit(&s->h->slots[i].parked, memory_order_relaxed) != 0;
    if (!any)
        return 0;
    size_t pages = 0;
    if (mkf_shm_lock(s) != MEMKIND_SUCCESS)
        return 0;
    for (unsigned i = 0; i < MKF_SHM_SLOTS; i++)
        if (i != s->slot)
            pages += mkf_shm_give_parked(s, i);
    mkf_shm_unlock(s);
    return pages * s->page;
}

/* ---- small blocks across processes ------------------------------------------------ */

/* After the owner handed out a small block: the size class of blocks that start
 * in its page, for other processes' malloc_usable_size and realloc. Written only
 * by the page's owner, which alone changes the words of its slab pages. */
void mkf_shm_tag(struct mkf_fixed *fx, const void *ptr, size_t usable)
{
    struct mkf_shm *s = shm_of(fx);
    if (!in_heap(s, ptr))
        return;
    _Atomic uint64_t *wp = &s->map[page_of(s, ptr)];
    uint64_t w = atomic_load_explicit(wp, memory_order_relaxed);
    uint64_t cls = (uint64_t)((usable >> 4) & W_CLASS_MASK) << W_CLASS_SHIFT;
    while (w_state(w) == W_SLAB && (w & (W_CLASS_MASK << W_CLASS_SHIFT)) != cls &&
           !atomic_compare_exchange_weak_explicit(
               wp, &w, (w & ~(W_CLASS_MASK << W_CLASS_SHIFT)) | cls,
               memory_order_relaxed, memory_order_relaxed)) {
    }
}

/* The usable size of a small block of another process, 0 when unknown. */
size_t mkf_shm_small_usable(struct mkf_fixed *fx, const void *ptr)
{
    struct mkf_shm *s = shm_of(fx);
    if (!in_heap(s, ptr))
        return 0;
    uint64_t w = load(s, page_of(s, ptr));
    return w_state(w) == W_SLAB ? w_class(w) : 0;
}

/* The slot whose slab holds `ptr`, or -1 when no slab does. */
int mkf_shm_slab_owner(struct mkf_fixed *fx, const void *ptr)
{
    struct mkf_shm *s = shm_of(fx);
    if (!in_heap(s, ptr))
        return -1;
    uint64_t w = load(s, page_of(s, ptr));
    return w_state(w) == W_SLAB ? (int)w_owner(w) : -1;
}

/* Read without the lock: a statistic. */
static size_t mkf_shm_process_used(struct mkf_fixed *fx)
{
    struct mkf_shm *s = shm_of(fx);
    return s->orphan ? 0 : s->h->slots[s->slot].pages * s->page;
}

static size_t mkf_shm_peak_used(struct mkf_fixed *fx)
{
    struct mkf_shm *s = shm_of(fx);
    uint64_t peak = s->h->peak_pages; /* a statistic: no lock */
    return (size_t)(peak <= s->npages ? peak : s->npages) * s->page;
}

/* The parked block is free for the program: not allocated, though its pages are
 * still the process's (`used`) until it is reused or given back. */
static size_t mkf_shm_large_bytes(struct mkf_fixed *fx)
{
    struct mkf_shm *s = shm_of(fx);
    if (s->orphan)
        return 0;
    uint64_t pages = s->h->slots[s->slot].large_pages;
    size_t parked = mkf_shm_parked_pages(s, s->slot);
    return (size_t)(pages > parked ? pages - parked : 0) * s->page;
}

/* ---- the page source ---------------------------------------------------------------
 * The page map as a kind's page source (page_source.h). */

/* Pages stay the segment's: every process maps them, so nothing is given back to
 * the system when one process frees them. */
static void shm_discard(struct mkf_fixed *fx, void *addr, size_t size)
{
    (void)fx, (void)addr, (void)size;
}

static void shm_take_in(struct memkind *kind)
{
    if (mkf_shm_remote_pending(kind->priv))
        mkf_shm_drain(kind);
}

const struct mkf_page_source mkf_shared_pages = {
    .name = "shared page map",
    .foreign_blocks = true,
    .tags_blocks = true,
    .take = mkf_shm_take,
    .give = mkf_shm_give,
    .discard = shm_discard,
    .take_block = mkf_shm_take_block,
    .block_pages = mkf_shm_block_pages,
    .give_block = mkf_shm_give_block,
    .resize_block = mkf_shm_resize_block,
    .park_exchange = mkf_shm_park_exchange,
    .may_park = mkf_shm_may_park,
    .unpark_others = mkf_shm_unpark_others,
    .largest_free = mkf_shm_largest_free,
    .used = mkf_shm_process_used,
    .peak_used = mkf_shm_peak_used,
    .large_bytes = mkf_shm_large_bytes,
    .tag = mkf_shm_tag,
    .foreign_free = mkf_shm_remote_free,
    .take_in = shm_take_in,
    .fork_child = mkf_shm_fork_child,
};
