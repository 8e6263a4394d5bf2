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
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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

    struct mkf_region r = {.start = start, .end = end, .flags = flags,
                           .shared = mkf_range_is_shared(start, end)};
    if (!ranges_reserve(&r, 16))
        return MEMKIND_ERROR_MALLOC;
    r.free[0] = (struct mkf_range){start, end, (flags & MEMKIND_REGION_ZEROED) != 0};
    r.nfree = 1;

    /* The table refuses an overlap with any live kind's region, this one's too. */
    int err = mkf_region_table_insert(start, end, fx->kind);
    if (err != MEMKIND_SUCCESS) {
        free(r.free);
        return err;
    }
    pthread_mutex_lock(&fx->lock);
    unsigned n = atomic_load_explicit(&fx->nregions, memory_order_relaxed);
    fx->regions[n] = r;
    fx->capacity += end - start;
    fx->any_shared |= r.shared;
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

static void *take_locked(struct mkf_fixed *fx, void *new_addr, size_t size,
                         size_t alignment, bool *zeroed)
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

void *mkf_region_take(struct mkf_fixed *fx, void *new_addr, size_t size,
                      size_t alignment, bool *zeroed)
{
    if (size == 0 || !mkf_is_pow2(alignment) || fx->forked)
        return NULL;
    pthread_mutex_lock(&fx->lock);
    void *p = take_locked(fx, new_addr, size, alignment, zeroed);
    if (p != NULL) {
        fx->used += size;
        if (fx->used > fx->peak_used)
            fx->peak_used = fx->used;
    }
    pthread_mutex_unlock(&fx->lock);
    return p;
}

void mkf_region_give(struct mkf_fixed *fx, void *addr, size_t size, bool zeroed)
{
    uintptr_t start = (uintptr_t)addr, end = start + size;
    pthread_mutex_lock(&fx->lock);
    struct mkf_region *r = mkf_region_of(fx, start);
    if (r == NULL || end > r->end) {
        /* Not ours: jemalloc only gives back what the hooks handed out. */
        pthread_mutex_unlock(&fx->lock);
        return;
    }
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
        pthread_mutex_unlock(&fx->lock);
        return;
    }
    fx->used -= size;
    pthread_mutex_unlock(&fx->lock);
}

size_t mkf_region_largest_free(struct mkf_fixed *fx)
{
    size_t best = 0;
    for (unsigned ri = 0; ri < fx->nregions; ri++) {
        struct mkf_region *r = &fx->regions[ri];
        for (size_t i = 0; i < r->nfree; i++) {
            size_t len = r->free[i].end - r->free[i].start;
            if (len > best)
                best = len;
        }
    }
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
    for (unsigned ri = 0; ri < n; ri++)
        free(fx->regions[ri].free);
    atomic_store_explicit(&fx->nregions, 0, memory_order_relaxed);
}
