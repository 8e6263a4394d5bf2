/*
 * extent_hooks.c - how a fixed kind's jemalloc arena gets its memory.
 *
 * jemalloc asks for extents (page-aligned runs of pages) through these hooks and
 * hands them back when it no longer needs them. The contract (jemalloc 5.3.0):
 * - alloc returns memory or NULL. When new_addr is not NULL the extent must start
 *   there (in-place growth) or the call fails. If *zero is true on entry the
 *   memory must be zero-filled; on return *zero says whether it is. *commit
 *   says whether it is committed (always, here).
 * - the bool hooks return false on success and true to refuse.
 * - dalloc / destroy give an extent back for good.
 * Each hook finds its kind through the extent_hooks_t pointer, which is the
 * first member of the kind's struct mkf_fixed.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#define JEMALLOC_NO_DEMANGLE
#include <jemalloc/jemalloc.h>

_Static_assert(sizeof(extent_hooks_t) == sizeof(((struct mkf_fixed *)0)->hooks),
               "extent_hooks_t does not fit struct mkf_fixed's storage");
_Static_assert(offsetof(struct mkf_fixed, hooks) == 0,
               "the hooks must be the first member of struct mkf_fixed");

static struct mkf_fixed *fixed_of(extent_hooks_t *hooks) { return (struct mkf_fixed *)hooks; }

static void *hook_alloc(extent_hooks_t *hooks, void *new_addr, size_t size,
                        size_t alignment, bool *zero, bool *commit, unsigned arena_ind)
{
    (void)arena_ind;
    struct mkf_fixed *fx = fixed_of(hooks);
    bool zeroed = false;
    void *p = fx->pages->take(fx, new_addr, size, alignment, &zeroed, true);
    if (p == NULL)
        return NULL;
    if (*zero && !zeroed)
        memset(p, 0, size);
    else
        *zero = zeroed;
    *commit = true;
    return p;
}

static bool hook_dalloc(extent_hooks_t *hooks, void *addr, size_t size,
                        bool committed, unsigned arena_ind)
{
    (void)committed, (void)arena_ind;
    struct mkf_fixed *fx = fixed_of(hooks);
    fx->pages->discard(fx, addr, size); /* while the pages are still ours */
    /* Freed memory holds old data (or, after a purge of a private file mapping,
     * the file's data): never report it as zero. */
    fx->pages->give(fx, addr, size, false);
    return false;
}

static void hook_destroy(extent_hooks_t *hooks, void *addr, size_t size,
                         bool committed, unsigned arena_ind)
{
    hook_dalloc(hooks, addr, size, committed, arena_ind);
}

static bool hook_commit(extent_hooks_t *hooks, void *addr, size_t size,
                        size_t offset, size_t length, unsigned arena_ind)
{
    (void)hooks, (void)addr, (void)size, (void)offset, (void)length, (void)arena_ind;
    return false; /* region memory is always committed */
}

static bool hook_refuse(extent_hooks_t *hooks, void *addr, size_t size,
                        size_t offset, size_t length, unsigned arena_ind)
{
    /* decommit and purge: the pages stay as they are while jemalloc holds them,
     * which keeps reuse fast; MEMKIND_REGION_PURGE acts when they leave. */
    (void)hooks, (void)addr, (void)size, (void)offset, (void)length, (void)arena_ind;
    return true;
}

static bool hook_split(extent_hooks_t *hooks, void *addr, size_t size, size_t size_a,
                       size_t size_b, bool committed, unsigned arena_ind)
{
    (void)hooks, (void)addr, (void)size, (void)size_a, (void)size_b, (void)committed,
        (void)arena_ind;
    return false; /* the region map tracks bytes, not jemalloc's extents */
}

static bool hook_merge(extent_hooks_t *hooks, void *addr_a, size_t size_a, void *addr_b,
                       size_t size_b, bool committed, unsigned arena_ind)
{
    (void)size_a, (void)committed, (void)arena_ind;
    struct mkf_fixed *fx = fixed_of(hooks);
    /* Two regions may be neighbours in the address space; an extent never spans
     * both, so each region's accounting stays its own. No lock, as in
     * the region map's discard: this runs on every merge of large blocks. */
    return !mkf_region_same(fx, (uintptr_t)addr_a, (uintptr_t)addr_b + size_b - 1);
}

void mkf_hooks_init(struct mkf_fixed *fx)
{
    extent_hooks_t h = {
        .alloc = hook_alloc,
        .dalloc = hook_dalloc,
        .destroy = hook_destroy,
        .commit = hook_commit,
        .decommit = hook_refuse,
        .purge_lazy = hook_refuse,
        .purge_forced = hook_refuse,
        .split = hook_split,
        .merge = hook_merge,
    };
    memcpy(&fx->hooks, &h, sizeof(h));
}

/* The hooks of an arena waiting in the pool of recycled arenas (arena.c): it has
 * no region, so it gets no memory and gives nothing back (it holds none). */
static void *idle_alloc(extent_hooks_t *hooks, void *new_addr, size_t size,
                        size_t alignment, bool *zero, bool *commit, unsigned arena_ind)
{
    (void)hooks, (void)new_addr, (void)size, (void)alignment, (void)zero, (void)commit,
        (void)arena_ind;
    return NULL;
}

static bool idle_dalloc(extent_hooks_t *hooks, void *addr, size_t size, bool committed,
                        unsigned arena_ind)
{
    (void)hooks, (void)addr, (void)size, (void)committed, (void)arena_ind;
    return true;
}

static void idle_destroy(extent_hooks_t *hooks, void *addr, size_t size, bool committed,
                         unsigned arena_ind)
{
    (void)hooks, (void)addr, (void)size, (void)committed, (void)arena_ind;
}

static bool idle_merge(extent_hooks_t *hooks, void *addr_a, size_t size_a, void *addr_b,
                       size_t size_b, bool committed, unsigned arena_ind)
{
    (void)hooks, (void)addr_a, (void)size_a, (void)addr_b, (void)size_b, (void)committed,
        (void)arena_ind;
    return true;
}

static extent_hooks_t g_idle_hooks = {
    .alloc = idle_alloc,
    .dalloc = idle_dalloc,
    .destroy = idle_destroy,
    .commit = hook_commit,
    .decommit = hook_refuse,
    .purge_lazy = hook_refuse,
    .purge_forced = hook_refuse,
    .split = hook_split,
    .merge = idle_merge,
};

struct extent_hooks_s *mkf_idle_hooks(void) { return &g_idle_hooks; }
