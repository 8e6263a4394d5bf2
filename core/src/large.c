/*
 * large.c - the large blocks of fixed kinds: requests above jemalloc's small size
 * classes (14 KiB with 4 KiB pages), and any request aligned to more than a page.
 *
 * jemalloc would serve them from its large size classes, four per doubling of the
 * size, each block followed by a page of padding (its cache-oblivious layout):
 * on a region of fixed size that wastes a tenth of a mixed fill, leaves the last
 * eighth of an empty region out of reach of one request, and makes every large
 * request go through the arena's extent machinery. Here a large block is exactly
 * the pages it needs, taken from the region map (first fit by address, while
 * jemalloc's slabs come from the top of the regions), with its page count
 * recorded at its first page (region_map.c), and:
 * - the last large block freed is parked in the kind (one atomic exchange) and
 *   reused by the same thread's next request of its size or up to a quarter
 *   smaller, so a repeated large malloc + free takes no lock. Any other request
 *   gives the parked block back before it takes new pages, so parking never
 *   changes where blocks go: no thread keeps large memory that another thread's
 *   request cannot use. (Per-thread caches of large blocks would: an idle
 *   thread's cached 1 MiB block splits the free space for good, and so would
 *   another thread reusing it where first fit would not have put its block.)
 *   A shared kind parks the same way, one block per process, in its process
 *   slot in the segment (shared/page_map.c), and only blocks the process
 *   allocated itself; the parked blocks of other processes go back to the page
 *   map before a request of this one fails (arena.c's reclaim), so no process's
 *   parked block makes another's request fail;
 * - realloc grows a block in place into free pages that follow it, and shrinks
 *   it in place, so a growing buffer is not copied while the region has room
 *   behind it.
 * Small blocks stay with jemalloc's slabs and thread caches.
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

size_t mkf_small_max = 14336;
uintptr_t mkf_page_mask = 4095;

/* Larger freed blocks go straight back to the region map. */
#define MKF_PARK_MAX ((size_t)4 << 20)

static size_t page_size(void) { return (size_t)mkf_page_mask + 1; }

/* A parked block is its page-aligned address with a tag of the thread that parked
 * it in the low bits: pthread_self() folded to 12 bits (threads whose tags
 * collide may reuse each other's block, which is still correct). */
#define PARK_TAG_MASK ((uintptr_t)0xfff)

static uintptr_t thread_tag(void)
{
    uintptr_t x = (uintptr_t)pthread_self() >> 12;
    return (x ^ (x >> 12) ^ (x >> 24)) & PARK_TAG_MASK & mkf_page_mask;
}

static void *unpark(uintptr_t parked) { return (void *)(parked & ~mkf_page_mask); }

void mkf_large_drain(struct memkind *kind)
{
    struct mkf_fixed *fx = kind->priv;
    uintptr_t p = fx != NULL ? fx->pages->park_exchange(fx, 0) : 0;
    if (p != 0)
        fx->pages->give_block(fx, unpark(p));
}

struct take_args {
    struct mkf_fixed *fx;
    size_t pages, alignment;
    bool zeroed;
};

static void *attempt_take(void *ctx)
{
    struct take_args *t = ctx;
    return t->fx->pages->take_block(t->fx, t->pages, t->alignment, &t->zeroed);
}

void *mkf_large_malloc(struct memkind *kind, size_t size, size_t alignment, bool zero)
{
    size_t page = page_size();
    if (size > MKF_SIZE_LIMIT) {
        errno = ENOMEM;
        return NULL;
    }
    struct mkf_fixed *fx = kind->priv;
    size_t pages = (size + page - 1) / page;
    if (alignment < page)
        alignment = page;
    void *p;
    uintptr_t parked = fx->pages->park_exchange(fx, 0);
    if (parked != 0) {
        p = unpark(parked);
        size_t have = fx->pages->block_pages(fx, p);
        if ((parked & mkf_page_mask) == thread_tag() && have >= pages &&
            have - pages <= pages / 4 && ((uintptr_t)p & (alignment - 1)) == 0) {
            if (zero)
                memset(p, 0, have * page);
            return p;
        }
        fx->pages->give_block(fx, p); /* before taking pages: see above */
    }
    struct take_args t = {fx, pages, alignment, false};
    p = attempt_take(&t);
    if (p == NULL && (p = mkf_arena_retry(kind, size, attempt_take, &t)) == NULL)
        return NULL;
    bool zeroed = t.zeroed;
    if (zero && !zeroed)
        memset(p, 0, pages * page);
    return p;
}

bool mkf_large_free(struct memkind *kind, void *ptr)
{
    struct mkf_fixed *fx = kind->priv;
    size_t pages = fx != NULL ? fx->pages->block_pages(fx, ptr) : 0;
    if (pages == 0)
        return false;
    if (pages * page_size() <= MKF_PARK_MAX && !mkf_debug) {
        /* The page source says whether this block may be parked here (a shared
         * heap parks only blocks this process allocated, which the page map has
         * under its slot). */
        if (fx->pages->may_park(fx, ptr)) {
            uintptr_t w = (uintptr_t)ptr | thread_tag();
            uintptr_t old = fx->pages->park_exchange(fx, w);
            /* The same block parked twice is a double free: keep it parked once. */
            ptr = old != 0 && unpark(old) != ptr ? unpark(old) : NULL;
        }
    }
    if (ptr != NULL)
        fx->pages->give_block(fx, ptr);
    return true;
}

size_t mkf_large_usable(struct memkind *kind, const void *ptr)
{
    struct mkf_fixed *fx = kind->priv;
    return fx != NULL ? fx->pages->block_pages(fx, ptr) * page_size() : 0;
}

void *mkf_large_realloc(struct memkind *kind, void *ptr, size_t size, size_t old_pages)
{
    size_t page = page_size();
    if (size > MKF_SIZE_LIMIT) {
        errno = ENOMEM;
        return NULL;
    }
    if (old_pages != 0 && size > mkf_small_max &&
        ((struct mkf_fixed *)kind->priv)->pages->resize_block(kind->priv, ptr,
                                                              (size + page - 1) / page))
        return ptr;
    void *q = size > mkf_small_max ? mkf_large_malloc(kind, size, 0, false)
                                   : memkind_arena_malloc(kind, size);
    if (q == NULL)
        return NULL; /* errno ENOMEM; the block is untouched */
    size_t old = old_pages != 0 ? old_pages * page : mkf_je_sallocx(ptr, 0);
    memcpy(q, ptr, old < size ? old : size);
    if (old_pages != 0)
        mkf_large_free(kind, ptr);
    else
        mkf_arena_free_fast(kind, ptr);
    return q;
}

/* The parked block is free for the program: not allocated, though its pages are
 * still taken (`used`) until the next request or purge. The page source counts. */
size_t mkf_large_allocated(struct mkf_fixed *fx) { return fx->pages->large_bytes(fx); }
