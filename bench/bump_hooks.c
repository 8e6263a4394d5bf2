/*
 * bump_hooks.c - the baseline that stands for memkind's own fixed kind: a jemalloc
 * arena whose extent hooks hand out the region with a bump pointer and refuse every
 * release, so jemalloc keeps freed extents as "retained" inside the arena.
 *
 * Two variants share the arena code:
 * - hooks_notcache: MALLOCX_TCACHE_NONE on every call, as memkind runs fixed
 *   kinds: each small allocation takes the arena's bin lock;
 * - hooks_tcache: the same arena with an explicit jemalloc tcache per thread
 *   (tcache.create, MALLOCX_TCACHE), the design memkind-fixed adopted. It shows
 *   what the core's region map and bookkeeping cost on top of plain hooks.
 *
 * Written for the benchmark only; nothing here is shared with core/.
 */
#include "heaps.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JEMALLOC_NO_DEMANGLE
#include <jemalloc/jemalloc.h>

struct heap {
    extent_hooks_t hooks; /* first: a hook finds its heap from the hooks pointer */
    pthread_mutex_t lock; /* guards the bump pointer and the tcache list */
    uintptr_t next, end;
    bool zeroed;
    unsigned arena;
    uint64_t gen;         /* tells this heap from an earlier one at the same address */
    struct owned_tcache {
        pthread_t owner;
        unsigned tcache;
    } *tcaches;           /* explicit tcaches made for this heap, one per thread */
    size_t ntcaches, captcaches;
};

static struct heap *heap_of(extent_hooks_t *hooks) { return (struct heap *)hooks; }

static void *bump_alloc(extent_hooks_t *hooks, void *new_addr, size_t size,
                        size_t alignment, bool *zero, bool *commit, unsigned arena_ind)
{
    (void)arena_ind;
    struct heap *h = heap_of(hooks);
    pthread_mutex_lock(&h->lock);
    uintptr_t at = (h->next + alignment - 1) & ~(uintptr_t)(alignment - 1);
    if (new_addr != NULL && (uintptr_t)new_addr != at)
        at = 0; /* growth in place only at the bump pointer */
    if (at == 0 || at < h->next || at > h->end || h->end - at < size) {
        pthread_mutex_unlock(&h->lock);
        return NULL;
    }
    h->next = at + size;
    pthread_mutex_unlock(&h->lock);
    /* Bytes below the bump pointer are never handed out twice, so fresh
     * anonymous memory is still zero. */
    if (*zero && !h->zeroed)
        memset((void *)at, 0, size);
    else
        *zero = h->zeroed;
    *commit = true;
    return (void *)at;
}

/* Refuse: jemalloc keeps the extent as retained and may only reuse it itself. */
static bool bump_dalloc(extent_hooks_t *hooks, void *addr, size_t size, bool committed,
                        unsigned arena_ind)
{
    (void)hooks, (void)addr, (void)size, (void)committed, (void)arena_ind;
    return true;
}

static void bump_destroy(extent_hooks_t *hooks, void *addr, size_t size, bool committed,
                         unsigned arena_ind)
{
    (void)hooks, (void)addr, (void)size, (void)committed, (void)arena_ind;
}

static bool bump_commit(extent_hooks_t *hooks, void *addr, size_t size, size_t offset,
                        size_t length, unsigned arena_ind)
{
    (void)hooks, (void)addr, (void)size, (void)offset, (void)length, (void)arena_ind;
    return false;
}

static bool bump_refuse(extent_hooks_t *hooks, void *addr, size_t size, size_t offset,
                        size_t length, unsigned arena_ind)
{
    (void)hooks, (void)addr, (void)size, (void)offset, (void)length, (void)arena_ind;
    return true;
}

static bool bump_split(extent_hooks_t *hooks, void *addr, size_t size, size_t size_a,
                       size_t size_b, bool committed, unsigned arena_ind)
{
    (void)hooks, (void)addr, (void)size, (void)size_a, (void)size_b, (void)committed,
        (void)arena_ind;
    return false;
}

static bool bump_merge(extent_hooks_t *hooks, void *addr_a, size_t size_a, void *addr_b,
                       size_t size_b, bool committed, unsigned arena_ind)
{
    (void)hooks, (void)addr_a, (void)size_a, (void)addr_b, (void)size_b, (void)committed,
        (void)arena_ind;
    return false;
}

/* jemalloc 5.3.0's arena_config_t (experimental.arenas_create_ext checks the size). */
struct arena_config {
    extent_hooks_t *hooks;
    bool metadata_use_hooks;
};

static atomic_uint_fast64_t g_gen = 1;

static struct heap *bump_open(void *region, size_t size, bool zeroed)
{
    struct heap *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    h->hooks = (extent_hooks_t){
        .alloc = bump_alloc,
        .dalloc = bump_dalloc,
        .destroy = bump_destroy,
        .commit = bump_commit,
        .decommit = bump_refuse,
        .purge_lazy = bump_refuse,
        .purge_forced = bump_refuse,
        .split = bump_split,
        .merge = bump_merge,
    };
    pthread_mutex_init(&h->lock, NULL);
    h->next = (uintptr_t)region;
    h->end = (uintptr_t)region + size;
    h->zeroed = zeroed;
    h->gen = atomic_fetch_add(&g_gen, 1);
    /* Metadata outside the region, as in the core: the whole region is heap. */
    struct arena_config cfg = {&h->hooks, false};
    size_t len = sizeof(h->arena);
    if (je_mallctl("experimental.arenas_create_ext", &h->arena, &len, &cfg, sizeof(cfg))) {
        pthread_mutex_destroy(&h->lock);
        free(h);
        return NULL;
    }
    return h;
}

static void bump_close(struct heap *h)
{
    for (size_t i = 0; i < h->ntcaches; i++)
        je_mallctl("tcache.destroy", NULL, NULL, &h->tcaches[i].tcache, sizeof(unsigned));
    char name[64];
    snprintf(name, sizeof(name), "arena.%u.destroy", h->arena);
    je_mallctl(name, NULL, NULL, NULL, 0);
    free(h->tcaches);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

/* The calling thread's mallocx() flags for the heap it used last. A thread that
 * comes back to a heap finds its tcache in the heap's list (a thread that
 * ended leaves its tcache idle, so a later thread with the same id may take it). */
static __thread struct {
    uint64_t gen;
    int flags;
} t_slot;

static int flags_slow(struct heap *h)
{
    int flags = MALLOCX_ARENA(h->arena) | MALLOCX_TCACHE_NONE;
    unsigned tc;
    size_t len = sizeof(tc);
    pthread_t self = pthread_self();
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < h->ntcaches; i++) {
        if (pthread_equal(h->tcaches[i].owner, self)) {
            flags = MALLOCX_ARENA(h->arena) | MALLOCX_TCACHE(h->tcaches[i].tcache);
            goto out;
        }
    }
    if (h->ntcaches == h->captcaches) {
        size_t cap = h->captcaches ? 2 * h->captcaches : 4;
        struct owned_tcache *n = realloc(h->tcaches, cap * sizeof(*n));
        if (n != NULL) {
            h->tcaches = n;
            h->captcaches = cap;
        }
    }
    if (h->ntcaches < h->captcaches && je_mallctl("tcache.create", &tc, &len, NULL, 0) == 0) {
        h->tcaches[h->ntcaches++] = (struct owned_tcache){self, tc};
        flags = MALLOCX_ARENA(h->arena) | MALLOCX_TCACHE(tc);
    }
out:
    pthread_mutex_unlock(&h->lock);
    t_slot.gen = h->gen;
    t_slot.flags = flags;
    return flags;
}

static inline int tcache_flags(struct heap *h)
{
    return t_slot.gen == h->gen ? t_slot.flags : flags_slow(h);
}

static void *alloc_tcache(struct heap *h, size_t size)
{
    return je_mallocx(size, tcache_flags(h));
}

static void free_tcache(struct heap *h, void *ptr) { je_dallocx(ptr, tcache_flags(h)); }

static void *realloc_tcache(struct heap *h, void *ptr, size_t size)
{
    return je_rallocx(ptr, size, tcache_flags(h));
}

static void *alloc_notcache(struct heap *h, size_t size)
{
    return je_mallocx(size, MALLOCX_ARENA(h->arena) | MALLOCX_TCACHE_NONE);
}

static void free_notcache(struct heap *h, void *ptr)
{
    (void)h;
    je_dallocx(ptr, MALLOCX_TCACHE_NONE);
}

static void *realloc_notcache(struct heap *h, void *ptr, size_t size)
{
    return je_rallocx(ptr, size, MALLOCX_ARENA(h->arena) | MALLOCX_TCACHE_NONE);
}

const struct heap_type heap_hooks_tcache = {
    .id = "hooks_tcache",
    .label = "hooks+tcache",
    .about = "jemalloc arena with bump-pointer region hooks (no release) and an explicit "
             "tcache per thread (bench/bump_hooks.c)",
    .regional = true,
    .open = bump_open,
    .close = bump_close,
    .alloc = alloc_tcache,
    .free = free_tcache,
    .realloc = realloc_tcache,
};

const struct heap_type heap_hooks_notcache = {
    .id = "hooks_notcache",
    .label = "hooks, no tcache",
    .about = "the same arena with MALLOCX_TCACHE_NONE: memkind's own fixed-kind design "
             "(bench/bump_hooks.c)",
    .regional = true,
    .open = bump_open,
    .close = bump_close,
    .alloc = alloc_notcache,
    .free = free_notcache,
    .realloc = realloc_notcache,
};
