/*
 * region_map.c - the free extents of a fixed kind's regions.
 *
 * Each region keeps a sorted array of free ranges, never adjacent (neighbours are
 * merged when memory comes back). jemalloc's extent hooks take ranges out
 * (address-ordered first fit, any alignment, or an exact address for in-place
 * growth) and give them back when jemalloc releases an extent. That is what
 * memkind's fixed kind lacks: its hooks only bump a pointer and refuse every
 * release, so memory freed once can only ever be reused by the same size class
 * of the same arena.
 *
 * A range also remembers whether its bytes are known to be zero, so calloc
 * clears memory exactly when it has to. Merging two ranges keeps "zero" only if
 * both were.
 *
 * This is the page source of private fixed kinds (page_source.h: mkf_region_pages,
 * at the end of the file); shared kinds have the page map of shared/page_map.c.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static void region_discard(struct mkf_fixed *fx, void *addr, size_t size);

static uintptr_t align_up(uintptr_t x, size_t a) { return (x + a - 1) & ~(uintptr_t)(a - 1); }

struct mkf_region *mkf_region_of(struct mkf_fixed *fx, uintptr_t addr)
{
    unsigned n = atomic_load_explicit(&fx->nregions, memory_order_acquire);
    for (unsigned i = 0; i < n; i++) {
        struct mkf_region *r = &fx->regions[i];
        if (addr >= r->start && addr < r->end)
            return r;
    }
    return NULL;
}

bool mkf_region_same(struct mkf_fixed *fx, uintptr_t a, uintptr_t b)
{
    struct mkf_region *r = mkf_region_of(fx, a);
    return r != NULL && b >= r->start && b < r->end;
}

static bool ranges_reserve(struct mkf_region *r, size_t n)
{
    if (n <= r->capfree)
        return true;
    size_t cap = r->capfree ? r->capfree * 2 : 16;
    while (cap < n)
        cap *= 2;
    struct mkf_range *f = realloc(r->free, cap * sizeof(*f));
    if (f == NULL)
        return false;
    r->free = f;
    r->capfree = cap;
    return true;
}

static void range_insert_at(struct mkf_region *r, size_t i, struct mkf_range v)
{
    memmove(&r->free[i + 1], &r->free[i], (r->nfree - i) * sizeof(*r->free));
    r->free[i] = v;
    r->nfree++;
}

static void range_remove_at(struct mkf_region *r, size_t i)
{
    memmove(&r->free[i], &r->free[i + 1], (r->nfree - i - 1) * sizeof(*r->free));
    r->nfree--;
}

int mkf_region_add(struct mkf_fixed *fx, void *addr, size_t size, unsigned flags)
{
    size_t page = mkf_je_page_size();
    uintptr_t a = (uintptr_t)addr;
    if (addr == NULL || size == 0 || a + size < a)
        return MEMKIND_ERROR_INVALID;
    if (flags & ~(unsigned)(MEMKIND_REGION_ZEROED | MEMKIND_REGION_PURGE))
        return MEMKIND_ERROR_INVALID;
    uintptr_t start = align_up(a, page);
    uintptr_t end = (a + size) & ~(uintptr_t)(page - 1);
    if (start >= end || start < a)
        return MEMKIND_ERROR_REGION_TOO_SMALL;
    if (fx->nregions == MKF_MAX_REGIONS)
        return MEMKIND_ERROR_TOOMANY;

    struct mkf_region r = {.start = start, .end = end, .flags = flags};
    size_t pages = (end - start) / page;
    r.nleaves = (pages + MKF_LEAF_PAGES - 1) >> MKF_LG_LEAF_PAGES;
    r.leaves = calloc(r.nleaves, sizeof(*r.leaves));
    if (r.leaves == NULL || !ranges_reserve(&r, 16)) {
        free(r.leaves);
        return MEMKIND_ERROR_MALLOC;
    }
    r.free[0] = (struct mkf_range){start, end, (flags & MEMKIND_REGION_ZEROED) != 0};
    r.nfree = 1;

    /* The table refuses an overlap with any live kind's region, this one's too. */
    int err = mkf_region_table_insert(start, end, fx->kind);
    if (err != MEMKIND_SUCCESS) {
        free(r.free);
        free(r.leaves);
        return err;
    }
    pthread_mutex_lock(&fx->lock);
    unsigned n = atomic_load_explicit(&fx->nregions, memory_order_relaxed);
    fx->regions[n] = r;
    fx->capacity += end - start;
    atomic_store_explicit(&fx->nregions, n + 1, memory_order_release);
    pthread_mutex_unlock(&fx->lock);
    if (n == 0 && !mkf_debug) { /* debug mode checks every pointer (api.c) */
        fx->kind->region_lo = start;
        fx->kind->region_span = end - start;
    }
    return MEMKIND_SUCCESS;
}

/* Take [at, at + size) out of range i of r (the range holds it). */
static bool carve(struct mkf_region *r, size_t i, uintptr_t at, size_t size)
{
    struct mkf_range f = r->free[i];
    bool left = at > f.start, right = at + size < f.end;
    if (left && right) {
        if (!ranges_reserve(r, r->nfree + 1))
            return false;
        r->free[i].end = at;
        range_insert_at(r, i + 1, (struct mkf_range){at + size, f.end, f.zeroed});
    } else if (left) {
        r->free[i].end = at;
    } else if (right) {
        r->free[i].start = at + size;
    } else {
        range_remove_at(r, i);
    }
    return true;
}

/* Placement: large blocks (and reservations) by address-ordered first fit, from
 * the bottom of the regions; jemalloc's extents (slabs of small blocks) by last
 * fit, from the top. Slabs that a cache keeps alive then sit at the far end from
 * where large blocks grow, instead of between them, and a large block has free
 * pages after it to grow into. */
enum placement { FROM_BOTTOM, FROM_TOP };

static void *take_locked(struct mkf_fixed *fx, void *new_addr, size_t size,
                         size_t alignment, bool *zeroed, enum placement where)
{
    if (new_addr != NULL) {
        uintptr_t at = (uintptr_t)new_addr;
        if (at + size < at)
            return NULL;
        struct mkf_region *r = mkf_region_of(fx, at);
        if (r == NULL)
            return NULL;
        for (size_t i = 0; i < r->nfree; i++) {
            struct mkf_range f = r->free[i];
            if (f.start > at)
                break;
            if (at < f.end && at + size <= f.end) {
                if (!carve(r, i, at, size))
                    return NULL;
                *zeroed = f.zeroed;
                return new_addr;
            }
        }
        return NULL;
    }
    if (where == FROM_TOP) {
        for (unsigned ri = fx->nregions; ri-- > 0;) {
            struct mkf_region *r = &fx->regions[ri];
            for (size_t i = r->nfree; i-- > 0;) {
                struct mkf_range f = r->free[i];
                if (f.end - f.start < size)
                    continue;
                uintptr_t at = (f.end - size) & ~(uintptr_t)(alignment - 1);
                if (at < f.start)
                    continue;
                if (!carve(r, i, at, size))
                    return NULL;
                *zeroed = f.zeroed;
                return (void *)at;
            }
        }
        return NULL;
    }
    for (unsigned ri = 0; ri < fx->nregions; ri++) {
        struct mkf_region *r = &fx->regions[ri];
        for (size_t i = 0; i < r->nfree; i++) {
            struct mkf_range f = r->free[i];
            uintptr_t at = align_up(f.start, alignment);
            if (at < f.start || at >= f.end || f.end - at < size)
                continue;
            if (!carve(r, i, at, size))
                return NULL;
            *zeroed = f.zeroed;
            return (void *)at;
        }
    }
    return NULL;
}

/* Count `size` bytes taken from the regions (fx->lock held). */
static void count_taken(struct mkf_fixed *fx, size_t size)
{
    fx->used += size;
    if (fx->used > fx->peak_used)
        fx->peak_used = fx->used;
}

static void *region_take(struct mkf_fixed *fx, void *new_addr, size_t size,
                      size_t alignment, bool *zeroed, bool for_jemalloc)
{
    if (size == 0 || !mkf_is_pow2(alignment) || fx->forked)
        return NULL;
    pthread_mutex_lock(&fx->lock);
    void *p = take_locked(fx, new_addr, size, alignment, zeroed,
                          for_jemalloc ? FROM_TOP : FROM_BOTTOM);
    if (p != NULL)
        count_taken(fx, size);
    pthread_mutex_unlock(&fx->lock);
    return p;
}

static void give_locked(struct mkf_fixed *fx, void *addr, size_t size, bool zeroed)
{
    uintptr_t start = (uintptr_t)addr, end = start + size;
    struct mkf_region *r = mkf_region_of(fx, start);
    if (r == NULL || end > r->end)
        return; /* not ours: jemalloc only gives back what the hooks handed out */
    /* i: the first free range that starts after `start`. */
    size_t lo = 0, hi = r->nfree;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->free[mid].start < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t i = lo;
    bool merge_prev = i > 0 && r->free[i - 1].end == start;
    bool merge_next = i < r->nfree && r->free[i].start == end;
    if (merge_prev && merge_next) {
        r->free[i - 1].end = r->free[i].end;
        r->free[i - 1].zeroed = r->free[i - 1].zeroed && zeroed && r->free[i].zeroed;
        range_remove_at(r, i);
    } else if (merge_prev) {
        r->free[i - 1].end = end;
        r->free[i - 1].zeroed = r->free[i - 1].zeroed && zeroed;
    } else if (merge_next) {
        r->free[i].start = start;
        r->free[i].zeroed = r->free[i].zeroed && zeroed;
    } else if (ranges_reserve(r, r->nfree + 1)) {
        range_insert_at(r, i, (struct mkf_range){start, end, zeroed});
    } else {
        /* No memory to record the range: it stays lost until the kind is
         * destroyed. Counted as used, so the statistics stay truthful. */
        return;
    }
    fx->used -= size;
}

static void region_give(struct mkf_fixed *fx, void *addr, size_t size, bool zeroed)
{
    pthread_mutex_lock(&fx->lock);
    give_locked(fx, addr, size, zeroed);
    pthread_mutex_unlock(&fx->lock);
}

/* ---- large blocks --------------------------------------------------------------
 * Requests above jemalloc's small sizes are served here with exactly the pages
 * they need (large.c says why). Each block's page count is kept at its first page,
 * in a leaf of its region; the leaves are read without the lock. */

/* The word for the page at `addr` of region r; NULL when its leaf does not exist
 * (and `make` is false, or no memory). Writers hold fx->lock. */
static mkf_block_word *block_word(const struct mkf_region *r, uintptr_t addr, bool make)
{
    size_t lg_page = (size_t)__builtin_ctzll(mkf_page_mask + 1);
    size_t pn = (addr - r->start) >> lg_page;
    size_t li = pn >> MKF_LG_LEAF_PAGES;
    mkf_block_word *leaf = atomic_load_explicit(&r->leaves[li], memory_order_acquire);
    if (leaf == NULL && make) {
        size_t region_pages = (r->end - r->start) >> lg_page;
        size_t n = region_pages - (li << MKF_LG_LEAF_PAGES);
        leaf = calloc(n < MKF_LEAF_PAGES ? n : MKF_LEAF_PAGES, sizeof(*leaf));
        if (leaf != NULL)
            atomic_store_explicit(&r->leaves[li], leaf, memory_order_release);
    }
    return leaf != NULL ? &leaf[pn & (MKF_LEAF_PAGES - 1)] : NULL;
}

static void *region_take_block(struct mkf_fixed *fx, size_t pages, size_t alignment,
                            bool *zeroed)
{
    size_t page = mkf_je_page_size();
    if (pages == 0 || pages > SIZE_MAX / page || fx->forked)
        return NULL;
    size_t size = pages * page;
    pthread_mutex_lock(&fx->lock);
    void *p = take_locked(fx, NULL, size, alignment < page ? page : alignment, zeroed,
                          FROM_BOTTOM);
    if (p != NULL) {
        mkf_block_word *w = block_word(mkf_region_of(fx, (uintptr_t)p), (uintptr_t)p, true);
        if (w == NULL) { /* no memory for the leaf */
            fx->used += size;
            give_locked(fx, p, size, *zeroed);
            p = NULL;
        } else {
            atomic_store_explicit(w, pages, memory_order_relaxed);
            count_taken(fx, size);
            fx->large_blocks++;
            fx->large_bytes += size;
        }
    }
    pthread_mutex_unlock(&fx->lock);
    return p;
}

/* The word of the large block that may start at `ptr`, and its page count (0:
 * none); NULL when `ptr` is not a page of a region with a leaf made for it. */
static mkf_block_word *word_of(struct mkf_fixed *fx, const void *ptr, size_t *pages)
{
    struct mkf_region *r = mkf_region_of(fx, (uintptr_t)ptr);
    mkf_block_word *w = r != NULL && ((uintptr_t)ptr & mkf_page_mask) == 0
                            ? block_word(r, (uintptr_t)ptr, false)
                            : NULL;
    *pages = w != NULL ? (size_t)atomic_load_explicit(w, memory_order_relaxed) : 0;
    return w;
}

static size_t region_block_pages(struct mkf_fixed *fx, const void *ptr)
{
    size_t pages;
    (void)word_of(fx, ptr, &pages);
    return pages;
}

static void region_give_block(struct mkf_fixed *fx, void *ptr)
{
    size_t page = mkf_je_page_size();
    /* Discard the pages while they are still the caller's block: once they are in
     * the free map another thread may take them, and a discard then would wipe
     * its data. The word is read without the lock: only the block's owner, the
     * caller, changes it. */
    size_t pages;
    (void)word_of(fx, ptr, &pages);
    if (pages != 0)
        region_discard(fx, ptr, pages * page);
    pthread_mutex_lock(&fx->lock);
    mkf_block_word *w = word_of(fx, ptr, &pages);
    if (pages != 0) {
        atomic_store_explicit(w, 0, memory_order_relaxed);
        give_locked(fx, ptr, pages * page, false);
        fx->large_blocks--;
        fx->large_bytes -= pages * page;
    }
    pthread_mutex_unlock(&fx->lock);
}

static bool region_resize_block(struct mkf_fixed *fx, void *ptr, size_t pages)
{
    size_t page = mkf_je_page_size();
    bool done = false;
    size_t old;
    /* A shrink discards the tail first, while it is still the block's (as in
     * region_give_block()). */
    (void)word_of(fx, ptr, &old);
    if (pages != 0 && pages < old)
        region_discard(fx, (char *)ptr + pages * page, (old - pages) * page);
    pthread_mutex_lock(&fx->lock);
    mkf_block_word *w = word_of(fx, ptr, &old);
    struct mkf_region *r = mkf_region_of(fx, (uintptr_t)ptr);
    if (old == 0 || pages == 0) {
        /* not a large block */
    } else if (pages <= old) {
        size_t freed = (old - pages) * page;
        if (freed != 0)
            give_locked(fx, (char *)ptr + pages * page, freed, false);
        done = true;
    } else if (pages - old <= (r->end - (uintptr_t)ptr) / page - old) {
        /* Grow into the free pages that follow, if they are free. */
        bool zeroed;
        size_t more = (pages - old) * page;
        if (take_locked(fx, (char *)ptr + old * page, more, page, &zeroed, FROM_BOTTOM) !=
            NULL) {
            count_taken(fx, more);
            done = true;
        }
    }
    if (done) {
        atomic_store_explicit(w, pages, memory_order_relaxed);
        fx->large_bytes = fx->large_bytes - old * page + pages * page;
    }
    pthread_mutex_unlock(&fx->lock);
    return done;
}

/* Pages that leave the heap for good go back to the operating system when the
 * region asked for it (MEMKIND_REGION_PURGE). MADV_REMOVE frees the backing of
 * shared and file mappings; private anonymous memory needs MADV_DONTNEED. */
static void region_discard(struct mkf_fixed *fx, void *addr, size_t size)
{
    /* No lock: regions are only appended, and a published region never changes
     * (mkf_region_of reads the count with acquire). */
    struct mkf_region *r = mkf_region_of(fx, (uintptr_t)addr);
    /* In a fork child the shared pages are the parent's heap's (fork.c). */
    bool purge = r != NULL && (r->flags & MEMKIND_REGION_PURGE) && !fx->forked;
    if (!purge)
        return;
    if (madvise(addr, size, MADV_REMOVE) != 0)
        (void)madvise(addr, size, MADV_DONTNEED);
}

/* Takes fx->lock: the free ranges change under it (the page source's statistics
 * are read without the kind's lock, page_source.h). */
static size_t region_largest_free(struct mkf_fixed *fx)
{
    size_t best = 0;
    pthread_mutex_lock(&fx->lock);
    for (unsigned ri = 0; ri < fx->nregions; ri++) {
        struct mkf_region *r = &fx->regions[ri];
        for (size_t i = 0; i < r->nfree; i++) {
            size_t len = r->free[i].end - r->free[i].start;
            if (len > best)
                best = len;
        }
    }
    pthread_mutex_unlock(&fx->lock);
    return best;
}

/* Resident bytes of the regions, by mincore(2) in steps of 4096 pages. */
size_t mkf_region_resident(struct mkf_fixed *fx)
{
    enum { STEP = 4096 };
    unsigned char vec[STEP];
    size_t page = mkf_je_page_size(), resident = 0;
    unsigned n = atomic_load_explicit(&fx->nregions, memory_order_acquire);
    for (unsigned ri = 0; ri < n; ri++) {
        for (uintptr_t a = fx->regions[ri].start; a < fx->regions[ri].end;) {
            size_t pages = (fx->regions[ri].end - a) / page;
            if (pages > STEP)
                pages = STEP;
            if (mincore((void *)a, pages * page, vec) == 0)
                for (size_t i = 0; i < pages; i++)
                    resident += (vec[i] & 1) * page;
            a += pages * page;
        }
    }
    return resident;
}

void mkf_region_release_all(struct mkf_fixed *fx)
{
    unsigned n = atomic_load_explicit(&fx->nregions, memory_order_relaxed);
    for (unsigned ri = 0; ri < n; ri++) {
        struct mkf_region *r = &fx->regions[ri];
        free(r->free);
        for (size_t i = 0; i < r->nleaves; i++)
            free(atomic_load_explicit(&r->leaves[i], memory_order_relaxed));
        free(r->leaves);
    }
    atomic_store_explicit(&fx->nregions, 0, memory_order_relaxed);
}

/* ---- the page source -----------------------------------------------------------
 * The region map as a kind's page source (page_source.h). The parked large block
 * is a word of the kind (fx->parked); nothing else uses the region, so there is
 * nobody else's block to unpark, tag or take in. */

static uintptr_t region_park_exchange(struct mkf_fixed *fx, uintptr_t w)
{
    return atomic_exchange_explicit(&fx->parked, w, memory_order_acq_rel);
}

static bool region_may_park(struct mkf_fixed *fx, const void *ptr)
{
    (void)fx, (void)ptr;
    return true;
}

static size_t region_unpark_others(struct mkf_fixed *fx)
{
    (void)fx;
    return 0;
}

static size_t region_used(struct mkf_fixed *fx)
{
    pthread_mutex_lock(&fx->lock);
    size_t used = fx->used;
    pthread_mutex_unlock(&fx->lock);
    return used;
}

static size_t region_peak_used(struct mkf_fixed *fx)
{
    pthread_mutex_lock(&fx->lock);
    size_t peak = fx->peak_used;
    pthread_mutex_unlock(&fx->lock);
    return peak;
}

/* fx->lock held. */
static size_t region_large_bytes(struct mkf_fixed *fx)
{
    uintptr_t parked = atomic_load_explicit(&fx->parked, memory_order_acquire);
    size_t parked_bytes =
        parked != 0 ? region_block_pages(fx, (void *)(parked & ~mkf_page_mask)) *
                          (mkf_page_mask + 1)
                    : 0;
    return fx->large_bytes > parked_bytes ? fx->large_bytes - parked_bytes : 0;
}

static void region_tag(struct mkf_fixed *fx, const void *ptr, size_t usable)
{
    (void)fx, (void)ptr, (void)usable;
}

static bool region_foreign_free(struct mkf_fixed *fx, void *ptr)
{
    (void)fx, (void)ptr;
    return false; /* nobody else's blocks lie in a private region */
}

static void region_take_in(struct memkind *kind) { (void)kind; }

/* A private region stays the child's own copy, unless it is a shared mapping
 * (fork.c found out before the fork): then the parent's heap owns those bytes. */
static enum mkf_fork_use region_fork_child(struct mkf_fixed *fx)
{
    return fx->any_shared ? MKF_FORK_NONE : MKF_FORK_KEEP;
}

const struct mkf_page_source mkf_region_pages = {
    .name = "region map",
    .foreign_blocks = false,
    .tags_blocks = false,
    .take = region_take,
    .give = region_give,
    .discard = region_discard,
    .take_block = region_take_block,
    .block_pages = region_block_pages,
    .give_block = region_give_block,
    .resize_block = region_resize_block,
    .park_exchange = region_park_exchange,
    .may_park = region_may_park,
    .unpark_others = region_unpark_others,
    .largest_free = region_largest_free,
    .used = region_used,
    .peak_used = region_peak_used,
    .large_bytes = region_large_bytes,
    .tag = region_tag,
    .foreign_free = region_foreign_free,
    .take_in = region_take_in,
    .fork_child = region_fork_child,
};
