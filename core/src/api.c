/*
 * api.c - memkind's public entry points. Each dispatches to the kind's ops table;
 * a NULL kind means "find it from the pointer" where memkind allows that.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* ---- destroyed kinds ---------------------------------------------------------
 * A destroyed kind's handle keeps pointing at these, so a use after destroy
 * fails cleanly (until a newer kind reuses the handle's slot). */

static void *dead_malloc(struct memkind *kind, size_t size)
{
    (void)kind, (void)size;
    errno = EINVAL;
    return NULL;
}
static void *dead_calloc(struct memkind *kind, size_t num, size_t size)
{
    (void)num;
    return dead_malloc(kind, size);
}
static int dead_posix_memalign(struct memkind *kind, void **memptr, size_t alignment,
                               size_t size)
{
    (void)kind, (void)alignment, (void)size;
    if (memptr != NULL)
        *memptr = NULL;
    return EINVAL;
}
static void *dead_realloc(struct memkind *kind, void *ptr, size_t size)
{
    (void)ptr;
    return dead_malloc(kind, size);
}
/* A block of a live kind, or of the default heap, is freed there; a block of the
 * destroyed kind went away with it. */
static void dead_free(struct memkind *kind, void *ptr)
{
    (void)kind;
    memkind_free(NULL, ptr);
}
static int dead_create(struct memkind *kind, struct memkind_ops *ops, const char *name)
{
    (void)kind, (void)ops, (void)name;
    return MEMKIND_ERROR_DESTROYED;
}
static int dead_destroy(struct memkind *kind)
{
    (void)kind;
    return MEMKIND_ERROR_DESTROYED;
}
static size_t dead_usable_size(struct memkind *kind, void *ptr)
{
    (void)kind, (void)ptr;
    return 0;
}
static int dead_check_available(struct memkind *kind)
{
    (void)kind;
    return MEMKIND_ERROR_DESTROYED;
}
static int dead_get_stat(memkind_t kind, memkind_stat_type stat, size_t *value)
{
    (void)kind, (void)stat, (void)value;
    return MEMKIND_ERROR_DESTROYED;
}

struct memkind_ops mkf_dead_ops = {
    .create = dead_create,
    .destroy = dead_destroy,
    .malloc = dead_malloc,
    .calloc = dead_calloc,
    .posix_memalign = dead_posix_memalign,
    .realloc = dead_realloc,
    .free = dead_free,
    .check_available = dead_check_available,
    .malloc_usable_size = dead_usable_size,
    .get_stat = dead_get_stat,
};

/* ---- finding a pointer's kind ------------------------------------------------
 * The caller may name the wrong kind, or none: a block always goes back to the heap
 * that handed it out, found from jemalloc's own map of its extents (the arena of
 * the block, and the kind that owns that arena). Trusting a named kind would put a
 * block of one heap into another heap's cache (see docs/design.md). */

/* A live kind made by memkind_create() with ops that serve memory of their own,
 * which jemalloc does not know: its pointers cannot be checked, only trusted. */
static bool serves_own_memory(const struct memkind *kind)
{
    return kind != NULL && mkf_kind_is_live(kind) && !kind->builtin && !kind->fixed &&
           kind->arena == UINT32_MAX && kind->ops->free != memkind_default_free;
}

/* A fixed kind's large block at `ptr` (jemalloc does not know those), or any
 * address in memory that holds other processes' blocks too (a shared heap: another
 * process's small block): its kind. */
static struct memkind *large_owner(void *ptr)
{
    struct memkind *kind = mkf_region_table_lookup(ptr);
    if (kind == NULL || !kind->fixed)
        return NULL;
    const struct mkf_fixed *fx = kind->priv;
    return mkf_large_usable(kind, ptr) != 0 || fx->pages->foreign_blocks ? kind : NULL;
}

/* Debug mode (MEMKIND_FIXED_DEBUG): abort with a report unless `ptr` starts a live
 * block. Without thread caches (debug mode runs none) a free block is known as
 * free: the slab's bitmap, or the large extent's state, says so. */
static void debug_check(const char *func, struct memkind *named, void *ptr)
{
    unsigned arena;
    int state = mkf_je_check_block(ptr, &arena);
    if (state == 0 ||
        (state == ENOENT && (serves_own_memory(named) || large_owner(ptr) != NULL)))
        return;
    const char *why = state == EALREADY ? "the block is already free (double free)"
                      : state == EINVAL ? "the address is inside a block, not at its start"
                                        : "no heap of the library holds this address "
                                          "(a pointer it did not hand out, or a large "
                                          "block freed twice)";
    fprintf(stderr, "memkind-fixed: %s(%p): %s\n", func, ptr, why);
    abort();
}

/* The kind that owns `ptr`, or NULL when no heap of the library holds it. */
static struct memkind *owner_of(const char *func, struct memkind *named, void *ptr)
{
    if (MKF_UNLIKELY(mkf_debug))
        debug_check(func, named, ptr);
    /* Another region of the named fixed kind (the first one is checked inline). */
    if (named != NULL && named->fixed && mkf_fixed_owns(named, ptr))
        return named;
    unsigned arena;
    if (mkf_je_arena_lookup(ptr, &arena) == 0) {
        struct memkind *kind = mkf_kind_by_arena(arena);
        if (kind != NULL)
            return kind;
        /* jemalloc's automatic arenas: the default heap, also behind a live kind
         * made with the memkind_default_* operations. */
        bool default_like = named != NULL && mkf_kind_is_live(named) && !named->fixed &&
                            named->arena == UINT32_MAX;
        return default_like ? named : MEMKIND_DEFAULT;
    }
    if (serves_own_memory(named))
        return named;
    return large_owner(ptr);
}

/* The kind that owns `ptr`, or NULL when no heap of the library holds it. One
 * comparison when `kind` is a fixed kind and `ptr` lies in its first region (never
 * in debug mode, where region_span stays 0); a lookup in every other case. */
static inline struct memkind *resolve(const char *func, struct memkind *kind, void *ptr)
{
    if (MKF_LIKELY(kind != NULL) && MKF_LIKELY((uintptr_t)ptr - kind->region_lo < kind->region_span))
        return kind;
    return owner_of(func, kind, ptr);
}

MKF_EXPORT memkind_t memkind_detect_kind(void *ptr)
{
    if (ptr == NULL)
        return NULL;
    struct memkind *kind = mkf_region_table_lookup(ptr);
    if (kind != NULL)
        return kind;
    unsigned arena;
    if (mkf_je_arena_lookup(ptr, &arena) != 0)
        return NULL;
    kind = mkf_kind_by_arena(arena);
    return kind != NULL ? kind : MEMKIND_DEFAULT;
}

/* ---- heap management ------------------------------------------------------------ */

/* NULL with errno EINVAL, out of line: the fast paths that call it stay free of
 * calls that return, so they need no stack frame. */
static MKF_NOINLINE MKF_COLD void *fail_einval(void)
{
    errno = EINVAL;
    return NULL;
}

MKF_EXPORT void *memkind_malloc(memkind_t kind, size_t size)
{
    if (MKF_UNLIKELY(kind == NULL))
        return fail_einval();
    /* The kind's one thread first: only arena_fastpath kinds have one. */
    if (MKF_LIKELY(size - 1 < MKF_TC_FAST_MAX) && MKF_LIKELY(mkf_solo_mine(kind)))
        return mkf_solo_malloc(kind, size);
    if (MKF_LIKELY(kind->arena_fastpath))
        return mkf_arena_malloc_table(kind, size);
    return kind->ops->malloc(kind, size);
}

MKF_EXPORT void *memkind_calloc(memkind_t kind, size_t num, size_t size)
{
    if (MKF_UNLIKELY(kind == NULL)) {
        errno = EINVAL;
        return NULL;
    }
    return kind->ops->calloc(kind, num, size);
}

MKF_EXPORT int memkind_posix_memalign(memkind_t kind, void **memptr, size_t alignment,
                                      size_t size)
{
    if (MKF_UNLIKELY(kind == NULL || memptr == NULL)) {
        if (memptr != NULL)
            *memptr = NULL;
        return EINVAL;
    }
    return kind->ops->posix_memalign(kind, memptr, alignment, size);
}

MKF_EXPORT void *memkind_realloc(memkind_t kind, void *ptr, size_t size)
{
    if (ptr == NULL) {
        if (kind == NULL)
            kind = MEMKIND_DEFAULT;
        return kind->ops->realloc(kind, NULL, size);
    }
    kind = resolve("memkind_realloc", kind, ptr);
    if (MKF_UNLIKELY(kind == NULL)) {
        errno = EINVAL;
        return NULL;
    }
    return kind->ops->realloc(kind, ptr, size);
}

/* memkind_free() past its first test: the owner looked up. */
static MKF_NOINLINE void free_resolved(struct memkind *kind, void *ptr)
{
    kind = owner_of("memkind_free", kind, ptr);
    if (MKF_UNLIKELY(kind == NULL))
        return; /* no heap of the library holds it */
    if (MKF_LIKELY(kind->arena_fastpath))
        mkf_arena_free_fast(kind, ptr);
    else
        kind->ops->free(kind, ptr);
}

MKF_EXPORT void memkind_free(memkind_t kind, void *ptr)
{
    if (ptr == NULL)
        return;
    /* resolve()'s one comparison, then the cache; everything else out of line,
     * so that this builds no stack frame. */
    if (MKF_LIKELY(kind != NULL) &&
        MKF_LIKELY((uintptr_t)ptr - kind->region_lo < kind->region_span)) {
        /* The kind's one thread first: only arena_fastpath kinds have one. */
        if (MKF_LIKELY(mkf_solo_mine(kind))) {
            mkf_solo_free(kind, ptr);
            return;
        }
        if (MKF_LIKELY(kind->arena_fastpath)) {
            mkf_arena_free_table(kind, ptr);
            return;
        }
    }
    free_resolved(kind, ptr);
}

MKF_EXPORT size_t memkind_malloc_usable_size(memkind_t kind, void *ptr)
{
    if (ptr == NULL)
        return 0;
    kind = resolve("memkind_malloc_usable_size", kind, ptr);
    if (kind == NULL)
        return 0;
    if (kind->ops->malloc_usable_size != NULL)
        return kind->ops->malloc_usable_size(kind, ptr);
    return memkind_default_malloc_usable_size(kind, ptr);
}

MKF_EXPORT void *memkind_defrag_reallocate(memkind_t kind, void *ptr)
{
    if (ptr == NULL)
        return NULL;
    kind = resolve("memkind_defrag_reallocate", kind, ptr);
    if (kind == NULL || kind->ops->defrag_reallocate == NULL)
        return NULL;
    return kind->ops->defrag_reallocate(kind, ptr);
}

/* ---- kind properties ---------------------------------------------------------------- */

MKF_EXPORT void memkind_set_allow_zero_allocs(memkind_t kind, bool allow_zero_allocs)
{
    if (kind != NULL && mkf_kind_is_handle(kind))
        __atomic_store_n(&kind->allow_zero_allocs, allow_zero_allocs, __ATOMIC_RELAXED);
}

MKF_EXPORT int memkind_check_available(memkind_t kind)
{
    if (kind == NULL || !mkf_kind_is_handle(kind))
        return MEMKIND_ERROR_INVALID;
    if (kind->state != MKF_KIND_LIVE)
        return MEMKIND_ERROR_DESTROYED;
    if (kind->ops->check_available != NULL)
        return kind->ops->check_available(kind);
    return MEMKIND_SUCCESS;
}

MKF_EXPORT ssize_t memkind_get_capacity(memkind_t kind)
{
    if (kind == NULL || !mkf_kind_is_live(kind))
        return -1;
    if (kind == MEMKIND_DEFAULT) {
        long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
        return pages > 0 && page > 0 ? (ssize_t)pages * page : -1;
    }
    if (!kind->fixed)
        return -1;
    size_t capacity;
    if (mkf_fixed_capacity(kind, &capacity) != MEMKIND_SUCCESS)
        return -1;
    return (ssize_t)capacity;
}

/* ---- statistics ------------------------------------------------------------------------ */

MKF_EXPORT int memkind_update_cached_stats(void)
{
    mkf_init();
    return mkf_je_stats_refresh() == 0 ? MEMKIND_SUCCESS : MEMKIND_ERROR_OPERATION_FAILED;
}

MKF_EXPORT int memkind_get_stat(memkind_t kind, memkind_stat_type stat, size_t *value)
{
    if (value == NULL || (unsigned)stat >= MEMKIND_STAT_TYPE_MAX_VALUE)
        return MEMKIND_ERROR_INVALID;
    mkf_init();
    if (kind == NULL) {
        if (mkf_je_global_stat(stat, value) != 0)
            return MEMKIND_ERROR_OPERATION_FAILED;
        *value += mkf_fixed_large_bytes_all(); /* outside jemalloc (large.c) */
        return MEMKIND_SUCCESS;
    }
    if (!mkf_kind_is_handle(kind))
        return MEMKIND_ERROR_INVALID;
    if (kind->state != MKF_KIND_LIVE)
        return MEMKIND_ERROR_DESTROYED;
    if (kind->ops->get_stat == NULL)
        return MEMKIND_ERROR_INVALID;
    return kind->ops->get_stat(kind, stat, value);
}

/* memkind's arena ops name this one; it is memkind_free() with a NULL kind. */
MKF_EXPORT void memkind_arena_free_with_kind_detect(void *ptr) { memkind_free(NULL, ptr); }
