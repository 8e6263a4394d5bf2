/*
 * fixed.c - the fixed kind: memkind_create_fixed(), MEMKIND_FIXED_OPS and the
 * memkind_fixed_* operations, plus the fixed-kind extensions (more regions,
 * region statistics, purge).
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

MKF_EXPORT struct memkind_ops MEMKIND_FIXED_OPS = {
    .create = memkind_fixed_create,
    .destroy = memkind_fixed_destroy,
    .malloc = memkind_arena_malloc,
    .calloc = memkind_arena_calloc,
    .posix_memalign = memkind_arena_posix_memalign,
    .realloc = memkind_arena_realloc,
    .free = memkind_arena_free,
    .mmap = memkind_fixed_mmap,
    .get_arena = memkind_thread_get_arena,
    .malloc_usable_size = memkind_default_malloc_usable_size,
    .update_memory_usage_policy = memkind_arena_update_memory_usage_policy,
    .get_stat = memkind_arena_get_kind_stat,
    .defrag_reallocate = memkind_arena_defrag_reallocate,
};

bool mkf_fixed_owns(struct memkind *kind, const void *ptr)
{
    struct mkf_fixed *fx = kind->priv;
    return fx != NULL && mkf_region_of(fx, (uintptr_t)ptr) != NULL;
}

MKF_EXPORT int memkind_fixed_create(struct memkind *kind, struct memkind_ops *ops,
                                    const char *name)
{
    int err = memkind_default_create(kind, ops, name);
    if (err != MEMKIND_SUCCESS)
        return err;
    struct mkf_fixed *fx = calloc(1, sizeof(*fx));
    if (fx == NULL)
        return MEMKIND_ERROR_MALLOC;
    pthread_mutex_init(&fx->lock, NULL);
    fx->kind = kind;
    fx->pages = &mkf_region_pages; /* a shared kind puts its own in (shared/heap.c) */
    mkf_hooks_init(fx);
    kind->priv = fx;
    kind->fixed = true;

    /* The region first: a bad one is refused before an arena exists. */
    if (kind->pending_addr != NULL || kind->pending_size != 0) {
        err = mkf_region_add(fx, kind->pending_addr, kind->pending_size,
                             kind->pending_flags);
        if (err != MEMKIND_SUCCESS)
            goto fail;
    }
    err = mkf_arena_create_fixed(kind, (struct extent_hooks_s *)&fx->hooks);
    if (err != MEMKIND_SUCCESS)
        goto fail;
    /* Freed pages stay in the arena's cache until an allocation would fail (or
     * memkind_fixed_purge()), not until a timer fires: reuse then does not depend
     * on timing, and no time is spent purging. Regions that give pages back to the
     * system keep jemalloc's timed decay (see set_purge_decay). */
    mkf_je_arena_set_decay(kind->arena,
                           (kind->pending_flags & MEMKIND_REGION_PURGE) ? MKF_DECAY_DEFAULT_MS : -1);
    return MEMKIND_SUCCESS;
fail:
    mkf_region_table_remove_kind(kind);
    mkf_region_release_all(fx);
    pthread_mutex_destroy(&fx->lock);
    free(fx);
    kind->priv = NULL;
    kind->fixed = false;
    kind->region_lo = kind->region_span = 0;
    return err;
}

MKF_EXPORT int memkind_fixed_destroy(struct memkind *kind)
{
    struct mkf_fixed *fx = kind->priv;
    if (fx == NULL)
        return MEMKIND_ERROR_INVALID;
    /* The arena goes first: destroying it hands every extent back through the
     * hooks, which still need `fx`. */
    memkind_arena_destroy(kind);
    mkf_region_table_remove_kind(kind);
    mkf_region_release_all(fx);
    pthread_mutex_destroy(&fx->lock);
    free(fx);
    kind->priv = NULL;
    kind->fixed = false;
    kind->region_lo = kind->region_span = 0;
    return MEMKIND_SUCCESS;
}

MKF_EXPORT void *memkind_fixed_mmap(struct memkind *kind, void *addr, size_t size)
{
    (void)addr;
    if (kind == NULL || !kind->fixed || size == 0)
        return MAP_FAILED;
    struct mkf_fixed *fx = kind->priv;
    size_t page = mkf_je_page_size();
    if (size > SIZE_MAX - page)
        return MAP_FAILED;
    size = (size + page - 1) & ~(page - 1);
    bool zeroed;
    void *p = fx->pages->take(fx, NULL, size, page, &zeroed, false);
    return p != NULL ? p : MAP_FAILED;
}

static int create_fixed(void *addr, size_t size, unsigned flags, memkind_t *kind)
{
    if (addr == NULL || size == 0 || kind == NULL || (uintptr_t)addr + size < (uintptr_t)addr)
        return MEMKIND_ERROR_INVALID;
    /* memkind_fixed_<n>, never the name of a live kind (a user may have taken one). */
    return mkf_kind_create(&MEMKIND_FIXED_OPS, "memkind_fixed_", true, addr, size, flags,
                           kind);
}

MKF_EXPORT int memkind_create_fixed(void *addr, size_t size, memkind_t *kind)
{
    return create_fixed(addr, size, 0, kind);
}

MKF_EXPORT int memkind_create_fixed_flags(void *addr, size_t size, unsigned flags,
                                          memkind_t *kind)
{
    return create_fixed(addr, size, flags, kind);
}

/* Runs `fn` on a live fixed kind under the registry lock. */
static int with_fixed(memkind_t kind, int (*fn)(struct memkind *, void *), void *arg)
{
    if (kind == NULL || !mkf_kind_is_handle(kind))
        return MEMKIND_ERROR_INVALID;
    mkf_init();
    mkf_registry_lock();
    int err;
    if (kind->state != MKF_KIND_LIVE)
        err = MEMKIND_ERROR_DESTROYED;
    else if (!kind->fixed)
        err = MEMKIND_ERROR_NOT_FIXED;
    else if (kind->ops == &mkf_forked_ops)
        err = MEMKIND_ERROR_SHARED_FORKED;
    else
        err = fn(kind, arg);
    mkf_registry_unlock();
    return err;
}

struct add_args {
    void *addr;
    size_t size;
    unsigned flags;
};

static int do_add(struct memkind *kind, void *arg)
{
    struct add_args *a = arg;
    int err = mkf_region_add(kind->priv, a->addr, a->size, a->flags);
    /* set_purge_decay: a region that gives pages back needs the timed decay. */
    if (err == MEMKIND_SUCCESS && (a->flags & MEMKIND_REGION_PURGE))
        mkf_je_arena_set_decay(kind->arena, MKF_DECAY_DEFAULT_MS);
    return err;
}

MKF_EXPORT int memkind_fixed_add_region(memkind_t kind, void *addr, size_t size,
                                        unsigned flags)
{
    struct add_args a = {addr, size, flags};
    return with_fixed(kind, do_add, &a);
}

static int do_stats(struct memkind *kind, void *arg)
{
    struct memkind_fixed_stats *out = arg;
    struct mkf_fixed *fx = kind->priv;
    size_t allocated = 0;
    if (mkf_je_stats_refresh() == 0)
        (void)mkf_je_arena_stat(kind->arena, MEMKIND_STAT_TYPE_ALLOCATED, &allocated);
    /* What the page source says (a shared heap: the pages this process holds,
     * the segment's peak of all processes; memkind_shared_get_stats() has the
     * rest). Its own locks: not under fx->lock. */
    out->used = fx->pages->used(fx);
    out->peak_used = fx->pages->peak_used(fx);
    out->largest_free = fx->pages->largest_free(fx);
    pthread_mutex_lock(&fx->lock);
    allocated += mkf_large_allocated(fx); /* large blocks are outside jemalloc (large.c) */
    out->capacity = fx->capacity;
    out->free = fx->capacity > out->used ? fx->capacity - out->used : 0;
    out->regions = atomic_load(&fx->nregions);
    pthread_mutex_unlock(&fx->lock);
    out->allocated = allocated;
    out->failed_allocs = atomic_load(&fx->failed_allocs);
    return MEMKIND_SUCCESS;
}

static int do_capacity(struct memkind *kind, void *arg)
{
    struct mkf_fixed *fx = kind->priv;
    pthread_mutex_lock(&fx->lock);
    *(size_t *)arg = fx->capacity;
    pthread_mutex_unlock(&fx->lock);
    return MEMKIND_SUCCESS;
}

int mkf_fixed_capacity(memkind_t kind, size_t *out) { return with_fixed(kind, do_capacity, out); }

MKF_EXPORT int memkind_fixed_get_stats(memkind_t kind, struct memkind_fixed_stats *out)
{
    if (out == NULL)
        return MEMKIND_ERROR_INVALID;
    int err = with_fixed(kind, do_stats, out);
    /* mincore() over every page takes time in proportion to the regions' size:
     * done outside the registry lock (a live kind's regions only grow). */
    if (err == MEMKIND_SUCCESS)
        out->resident = mkf_region_resident(kind->priv);
    return err;
}

struct oom_args {
    memkind_fixed_oom_fn fn;
    void *arg;
};

static int do_set_oom(struct memkind *kind, void *arg)
{
    struct oom_args *a = arg;
    struct mkf_fixed *fx = kind->priv;
    pthread_mutex_lock(&fx->lock);
    fx->oom_fn = a->fn;
    fx->oom_arg = a->arg;
    pthread_mutex_unlock(&fx->lock);
    return MEMKIND_SUCCESS;
}

MKF_EXPORT int memkind_fixed_set_oom_callback(memkind_t kind, memkind_fixed_oom_fn fn,
                                              void *arg)
{
    struct oom_args a = {fn, arg};
    return with_fixed(kind, do_set_oom, &a);
}

static int do_purge(struct memkind *kind, void *arg)
{
    (void)arg;
    ((struct mkf_fixed *)kind->priv)->pages->take_in(kind); /* others' frees to us */
    mkf_tcache_flush_all(kind);
    mkf_large_drain(kind);
    return mkf_je_arena_purge(kind->arena) == 0 ? MEMKIND_SUCCESS
                                                : MEMKIND_ERROR_OPERATION_FAILED;
}

MKF_EXPORT int memkind_fixed_purge(memkind_t kind) { return with_fixed(kind, do_purge, NULL); }

size_t mkf_fixed_large_bytes_all(void)
{
    size_t sum = 0;
    mkf_registry_lock();
    for (unsigned i = 0; i < MEMKIND_MAX_KIND; i++) {
        struct memkind *kind = mkf_kind_by_slot(i);
        if (kind->state != MKF_KIND_LIVE || !kind->fixed || kind->priv == NULL)
            continue;
        struct mkf_fixed *fx = kind->priv;
        pthread_mutex_lock(&fx->lock);
        sum += mkf_large_allocated(fx);
        pthread_mutex_unlock(&fx->lock);
    }
    mkf_registry_unlock();
    return sum;
}
