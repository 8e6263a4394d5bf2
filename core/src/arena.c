/*
 * arena.c - the memkind_arena_* operations: heap functions on a kind's own
 * jemalloc arena, through the calling thread's cache for that kind (tcache.c).
 *
 * Fixed kinds add one rule: before an allocation reports ENOMEM, every thread's
 * cache for the kind is flushed and the arena purged, which hands every cached
 * free page back to the region map, and the request is tried once more. This
 * keeps the fast path free of any purging, yet a region that was filled and
 * freed serves any size again at once (see docs/design.md). A shared kind also
 * takes in what other processes freed to it and gives their parked large blocks
 * back to the page map (shared/page_map.c).
 *
 * Every use of the calling thread's cache runs between mkf_cache_enter() and
 * mkf_cache_exit(), so that another thread may reclaim it (tcache.c).
 */
#include "internal.h"

#include <errno.h>


static int lg_align(size_t alignment) { return __builtin_ctzll((unsigned long long)alignment); }

/* What a reclaim did: could not run; ran; ran and pages came back to the region map
 * (worth another try while other threads refill their caches meanwhile). */
enum { RECLAIM_NONE, RECLAIM_DONE, RECLAIM_FREED };

static int reclaim(struct memkind *kind)
{
    if (!kind->fixed || kind->arena == UINT32_MAX)
        return RECLAIM_NONE;
    int result = RECLAIM_NONE;
    mkf_registry_lock();
    if (mkf_kind_is_live(kind) && kind->priv != NULL) {
        struct mkf_fixed *fx = kind->priv;
        /* From the first shortage on, freed slabs merge at once: the region is
         * full enough that a slab split for another size would strand memory
         * (jemalloc_glue.c). Before that, jemalloc's cheaper delayed merge. */
        if (!fx->eager_coalesce)
            fx->eager_coalesce = mkf_je_arena_set_eager_coalesce(kind->arena) == 0;
        size_t before = fx->pages->used(fx);
        /* What others freed to this kind, and the large blocks others keep
         * parked, which must not make this request fail (a shared heap). */
        fx->pages->take_in(kind);
        size_t unparked = fx->pages->unpark_others(fx);
        mkf_tcache_flush_all(kind);
        mkf_large_drain(kind);
        if (mkf_je_arena_purge(kind->arena) == 0)
            result = fx->pages->used(fx) < before || unparked != 0 ? RECLAIM_FREED
                                                                  : RECLAIM_DONE;
    }
    mkf_registry_unlock();
    return result;
}

/* A small block just handed out on the slow path: the page source may record its
 * size class (a shared heap does, for other processes' usable size and realloc). */
static void *tag_shared(struct memkind *kind, void *p)
{
    struct mkf_fixed *fx = kind->fixed ? kind->priv : NULL;
    if (p != NULL && fx != NULL && fx->pages->tags_blocks)
        fx->pages->tag(fx, p, mkf_je_sallocx(p, 0));
    return p;
}

static void tag_one(void *ctx, void *ptr, size_t usable)
{
    struct mkf_fixed *fx = ctx;
    fx->pages->tag(fx, ptr, usable);
}

/* For a page source that wants every block tagged: the size class a request of
 * `size` with `flags` (alignment included) takes, when the thread cache's bin of
 * it is empty (the request will fill it), else 0. Inside the cache's handshake. */
static size_t bin_to_tag(struct mkf_tc_sel sel, size_t size, int flags)
{
    size_t usize = mkf_je_nallocx(size, flags);
    return mkf_je_tc_bin_each(mkf_je_tc_get(sel.tcache), usize, NULL, NULL) == 0 ? usize : 0;
}

/* mallocx() (ptr NULL) or rallocx() for a page source that wants every block
 * tagged, inside the cache's handshake: a request that finds its bin empty fills
 * it, and each block of the filled bin is tagged (the inline fast path hands them
 * out without a tag), then the block returned. */
static MKF_NOINLINE void *tagged_xallocx(struct memkind *kind, struct mkf_tc_sel sel,
                                         void *ptr, size_t size, int flags)
{
    struct mkf_fixed *fx = kind->priv;
    size_t fill = bin_to_tag(sel, size, flags);
    void *p = ptr == NULL ? mkf_je_mallocx(size, flags) : mkf_je_rallocx(ptr, size, flags);
    if (p != NULL && fill != 0)
        mkf_je_tc_bin_each(mkf_je_tc_get(sel.tcache), fill, tag_one, fx);
    if (p != NULL)
        fx->pages->tag(fx, p, mkf_je_sallocx(p, 0));
    return p;
}

static bool wants_tags(const struct memkind *kind)
{
    const struct mkf_fixed *fx = kind->fixed ? kind->priv : NULL;
    return fx != NULL && fx->pages->tags_blocks;
}

/* mallocx() / rallocx() through the calling thread's cache for `kind`. */
static void *cached_mallocx(struct memkind *kind, size_t size, int extra_flags)
{
    struct mkf_tc_sel sel = mkf_arena_sel(kind);
    struct mkf_thread_caches *t = mkf_thread_caches_install();
    if (sel.tcache == MKF_NO_TCACHE || t == NULL)
        return tag_shared(kind, mkf_je_mallocx(size, sel.flags | extra_flags));
    mkf_cache_enter_wait(t);
    void *p = MKF_UNLIKELY(wants_tags(kind))
                  ? tagged_xallocx(kind, sel, NULL, size, sel.flags | extra_flags)
                  : mkf_je_mallocx(size, sel.flags | extra_flags);
    mkf_cache_exit(t);
    return p;
}

static void *cached_rallocx(struct memkind *kind, void *ptr, size_t size)
{
    struct mkf_tc_sel sel = mkf_arena_sel(kind);
    struct mkf_thread_caches *t = mkf_thread_caches_install();
    if (sel.tcache == MKF_NO_TCACHE || t == NULL)
        return tag_shared(kind, mkf_je_rallocx(ptr, size, sel.flags));
    mkf_cache_enter_wait(t);
    void *p = MKF_UNLIKELY(wants_tags(kind)) ? tagged_xallocx(kind, sel, ptr, size, sel.flags)
                                             : mkf_je_rallocx(ptr, size, sel.flags);
    mkf_cache_exit(t);
    return p;
}

void mkf_arena_free_slow(struct memkind *kind, void *ptr)
{
    if (kind->fixed) {
        /* Large blocks of fixed kinds are page-aligned and unknown to jemalloc. */
        if (((uintptr_t)ptr & mkf_page_mask) == 0 && mkf_large_free(kind, ptr))
            return;
        /* Another process's small block, in memory that holds others' blocks (a
         * shared heap): the page source sends it to its owner, before any lookup
         * in our jemalloc, which does not know it. */
        struct mkf_fixed *fx = kind->priv;
        if (fx->pages->foreign_blocks && fx->pages->foreign_free(fx, ptr))
            return;
        /* An address of the region that is no block jemalloc knows either: a
         * large block freed twice, or one freed by an address inside it. Passing
         * it to dallocx() would read metadata that does not exist. */
        unsigned arena;
        if (mkf_je_arena_lookup(ptr, &arena) != 0)
            return;
    }
    struct mkf_tc_sel sel = mkf_arena_sel(kind);
    struct mkf_thread_caches *t = mkf_thread_caches_install();
    if (sel.tcache == MKF_NO_TCACHE || t == NULL) {
        mkf_je_dallocx(ptr, sel.flags);
        return;
    }
    mkf_cache_enter_wait(t);
    mkf_je_dallocx(ptr, sel.flags);
    mkf_cache_exit(t);
}

static void *fail_enomem(struct memkind *kind)
{
    if (kind->fixed && kind->priv != NULL)
        atomic_fetch_add_explicit(&((struct mkf_fixed *)kind->priv)->failed_allocs, 1,
                                  memory_order_relaxed);
    errno = ENOMEM;
    return NULL;
}

/* The kind's out-of-memory callback, if any: true when it asks for a retry. */
static bool oom_callback(struct memkind *kind, size_t size)
{
    if (!kind->fixed || kind->priv == NULL)
        return false;
    struct mkf_fixed *fx = kind->priv;
    pthread_mutex_lock(&fx->lock);
    memkind_fixed_oom_fn fn = fx->oom_fn;
    void *arg = fx->oom_arg;
    pthread_mutex_unlock(&fx->lock);
    return fn != NULL && fn(kind, size, arg) == 0;
}

void *mkf_arena_retry(struct memkind *kind, size_t size, void *(*attempt)(void *ctx),
                      void *ctx)
{
    void *p = NULL;
    for (int round = 0; round < MKF_RECLAIM_ROUNDS && p == NULL; round++) {
        int r = reclaim(kind);
        if (r != RECLAIM_NONE)
            p = attempt(ctx);
        if (r != RECLAIM_FREED)
            break;
    }
    if (p == NULL && oom_callback(kind, size))
        p = attempt(ctx);
    return p != NULL ? p : fail_enomem(kind);
}

struct mallocx_args {
    struct memkind *kind;
    void *ptr; /* rallocx when not NULL */
    size_t size;
    int extra_flags;
};

static void *attempt_mallocx(void *ctx)
{
    struct mallocx_args *a = ctx;
    return a->ptr != NULL ? cached_rallocx(a->kind, a->ptr, a->size)
                          : cached_mallocx(a->kind, a->size, a->extra_flags);
}

static void *alloc_slow(struct memkind *kind, size_t size, int extra_flags)
{
    struct mallocx_args a = {kind, NULL, size, extra_flags};
    return mkf_arena_retry(kind, size, attempt_mallocx, &a);
}

/* The fast paths with the record from TLS (internal.h); the malloc side is only
 * called with 1 <= size <= MKF_TC_FAST_MAX. */
void *mkf_arena_malloc_tls(struct memkind *kind, size_t size)
{
    return mkf_tc_malloc_with(mkf_tls_caches, kind, size);
}

void mkf_arena_free_tls(struct memkind *kind, void *ptr)
{
    mkf_tc_free_with(mkf_tls_caches, kind, ptr);
}

void *mkf_arena_malloc_slow(struct memkind *kind, size_t size)
{
    if (!mkf_size_ok(kind, &size))
        return NULL;
    /* What others freed to this kind (a shared heap), taken in at each miss. */
    if (kind->fixed && kind->priv != NULL)
        ((struct mkf_fixed *)kind->priv)->pages->take_in(kind);
    /* A failed fast path, the thread's first use of the kind, a reclaim under way,
     * or an allowed size 0 (now 1): try through the cache, then reclaim. */
    void *p = cached_mallocx(kind, size, 0);
    return p != NULL ? p : alloc_slow(kind, size, 0);
}

MKF_EXPORT void *memkind_arena_malloc(struct memkind *kind, size_t size)
{
    return mkf_arena_malloc_fast(kind, size);
}

MKF_EXPORT void *memkind_arena_calloc(struct memkind *kind, size_t num, size_t size)
{
    size_t total;
    if (MKF_UNLIKELY(__builtin_mul_overflow(num, size, &total))) {
        errno = ENOMEM;
        return NULL;
    }
    if (MKF_UNLIKELY(!mkf_size_ok(kind, &total)))
        return NULL;
    if (total > mkf_small_max && kind->fixed)
        return mkf_large_malloc(kind, total, 0, true);
    void *p = cached_mallocx(kind, total, MKF_MALLOCX_ZERO);
    if (MKF_UNLIKELY(p == NULL))
        return alloc_slow(kind, total, MKF_MALLOCX_ZERO);
    return p;
}

MKF_EXPORT int memkind_posix_check_alignment(struct memkind *kind, size_t alignment)
{
    (void)kind;
    return mkf_is_pow2(alignment) && alignment % sizeof(void *) == 0 ? 0 : EINVAL;
}

MKF_EXPORT int memkind_arena_posix_memalign(struct memkind *kind, void **memptr,
                                            size_t alignment, size_t size)
{
    if (memptr == NULL)
        return EINVAL;
    *memptr = NULL;
    if (memkind_posix_check_alignment(kind, alignment) != 0)
        return EINVAL;
    int saved = errno;
    if (!mkf_size_ok(kind, &size)) {
        int err = size == 0 ? 0 : ENOMEM;
        errno = saved;
        return err;
    }
    void *p;
    if (kind->fixed && (size > mkf_small_max || alignment > (size_t)mkf_page_mask + 1)) {
        p = mkf_large_malloc(kind, size, alignment, false);
    } else {
        int flags = MKF_MALLOCX_LG_ALIGN(lg_align(alignment));
        p = cached_mallocx(kind, size, flags);
        if (p == NULL)
            p = alloc_slow(kind, size, flags);
    }
    errno = saved;
    *memptr = p;
    return p != NULL ? 0 : ENOMEM;
}

MKF_EXPORT void *memkind_arena_realloc(struct memkind *kind, void *ptr, size_t size)
{
    if (ptr == NULL)
        return memkind_arena_malloc(kind, size);
    if (size == 0 && !mkf_zero_allowed(kind)) {
        memkind_arena_free(kind, ptr);
        return NULL;
    }
    if (!mkf_size_ok(kind, &size))
        return NULL;
    if (kind->fixed) {
        struct mkf_fixed *fx = kind->priv;
        size_t old_pages = fx->pages->block_pages(fx, ptr);
        if (old_pages != 0 || size > mkf_small_max)
            return mkf_large_realloc(kind, ptr, size, old_pages);
    }
    void *p = cached_rallocx(kind, ptr, size);
    if (MKF_UNLIKELY(p == NULL)) {
        struct mallocx_args a = {kind, ptr, size, 0};
        p = mkf_arena_retry(kind, size, attempt_mallocx, &a);
    }
    return p;
}

/* Also the free of fixed kinds: mkf_arena_free_fast() tells large blocks apart. */
MKF_EXPORT void memkind_arena_free(struct memkind *kind, void *ptr)
{
    if (ptr != NULL)
        mkf_arena_free_fast(kind, ptr);
}

MKF_EXPORT int memkind_thread_get_arena(struct memkind *kind, unsigned int *arena,
                                        size_t size)
{
    (void)size;
    if (kind == NULL || arena == NULL || kind->arena == UINT32_MAX)
        return MEMKIND_ERROR_INVALID;
    *arena = kind->arena;
    return MEMKIND_SUCCESS;
}

/* Recycled arenas. Creating a jemalloc arena (arenas.create and its ctl set-up)
 * and destroying one (arena.<i>.destroy, which merges its statistics into the
 * "destroyed" ones) were most of the time of a fixed kind's create + destroy. A
 * destroyed fixed kind's arena is emptied instead (mkf_je_arena_recycle: every
 * block discarded, every extent handed back to the region map, the growth and
 * coalescing state of a new arena), parked here with hooks that neither give nor
 * take memory, and taken by the next kind made with extent hooks, which points
 * it at its own. At most MKF_ARENA_POOL wait; beyond that arenas are destroyed,
 * so that a burst of kinds leaves no more than that many arenas' metadata behind.
 * Under the registry lock. */
#define MKF_ARENA_POOL 64
static unsigned g_pool[MKF_ARENA_POOL];
static unsigned g_npool;

static bool pool_take(struct extent_hooks_s *hooks, unsigned *out)
{
    while (g_npool > 0) {
        unsigned arena = g_pool[--g_npool];
        if (mkf_je_arena_set_hooks(arena, hooks) == 0) {
            *out = arena;
            return true;
        }
        mkf_je_arena_destroy(arena);
    }
    return false;
}

/* Empty `arena` and park it; false when it must be destroyed instead. */
static bool pool_put(unsigned arena)
{
    if (g_npool == MKF_ARENA_POOL || mkf_je_arena_recycle(arena) != 0)
        return false;
    if (mkf_je_arena_set_hooks(arena, mkf_idle_hooks()) != 0)
        return false;
    g_pool[g_npool++] = arena;
    return true;
}

static int create_map(struct memkind *kind, struct extent_hooks_s *hooks, bool recycled)
{
    if (kind == NULL)
        return MEMKIND_ERROR_INVALID;
    unsigned arena; /* the library started when it was loaded (registry.c) */
    mkf_registry_lock();
    bool reused = recycled && pool_take(hooks, &arena);
    mkf_registry_unlock();
    if (!reused && mkf_je_arena_create(hooks, &arena) != 0)
        return MEMKIND_ERROR_ARENAS_CREATE;
    mkf_kind_set_arena(kind, arena);
    return MEMKIND_SUCCESS;
}

MKF_EXPORT int memkind_arena_create_map(struct memkind *kind, struct extent_hooks_s *hooks)
{
    /* A new arena: a recycled one carries the settings its fixed kind gave it. */
    return create_map(kind, hooks, false);
}

int mkf_arena_create_fixed(struct memkind *kind, struct extent_hooks_s *hooks)
{
    return create_map(kind, hooks, true);
}

int mkf_arena_fork_own(struct memkind *kind)
{
    struct mkf_fixed *fx = kind->priv;
    uint64_t cached_blocks = 0, cached_bytes = 0; /* the parent's, not counted here */
    mkf_tcache_destroy_kind(kind, &cached_blocks, &cached_bytes);
    unsigned old = kind->arena;
    mkf_kind_set_arena(kind, UINT32_MAX);
    if (old != UINT32_MAX)
        mkf_je_arena_destroy(old);
    kind->gen = mkf_kind_new_gen();
    atomic_store_explicit(&fx->parked, 0, memory_order_relaxed);
    if (memkind_arena_create_map(kind, (struct extent_hooks_s *)&fx->hooks) != 0)
        return MEMKIND_ERROR_ARENAS_CREATE;
    mkf_je_arena_set_decay(kind->arena, -1);
    return MEMKIND_SUCCESS;
}

/* What destroyed arenas still had allocated (memkind_get_destroy_stats), under
 * the registry lock. */
static struct memkind_destroy_stats g_destroyed;

MKF_EXPORT int memkind_get_destroy_stats(struct memkind_destroy_stats *out)
{
    if (out == NULL)
        return MEMKIND_ERROR_INVALID;
    mkf_registry_lock(); /* made when the library was loaded (registry.c) */
    *out = g_destroyed;
    mkf_registry_unlock();
    return MEMKIND_SUCCESS;
}

MKF_EXPORT int memkind_arena_destroy(struct memkind *kind)
{
    if (kind == NULL)
        return MEMKIND_ERROR_INVALID;
    mkf_registry_lock();
    /* Caches first: they hold blocks of the arena. After that, whatever the
     * arena still counts as allocated, the program never freed. */
    uint64_t cached_blocks = 0, cached_bytes = 0;
    mkf_tcache_destroy_kind(kind, &cached_blocks, &cached_bytes);
    if (kind->arena != UINT32_MAX) {
        unsigned arena = kind->arena;
        uint64_t blocks = 0, bytes = 0;
        (void)mkf_je_arena_live_blocks(arena, &blocks, &bytes);
        /* The caches' blocks were freed by the program, not left behind. */
        blocks -= cached_blocks < blocks ? cached_blocks : blocks;
        bytes -= cached_bytes < bytes ? cached_bytes : bytes;
        struct mkf_fixed *fx = kind->fixed ? kind->priv : NULL;
        if (fx != NULL) { /* not counting what caches held */
            mkf_large_drain(kind);
            blocks += fx->large_blocks;
            bytes += fx->large_bytes;
        }
        if (blocks > 0) {
            g_destroyed.kinds++;
            g_destroyed.blocks += blocks;
            g_destroyed.bytes += bytes;
        }
        mkf_kind_set_arena(kind, UINT32_MAX);
        /* A fixed kind's arena serves the next fixed kind (its hooks are the
         * kind's own; other arenas keep jemalloc's). */
        if (fx == NULL || !pool_put(arena))
            mkf_je_arena_destroy(arena);
    }
    mkf_registry_unlock();
    return MEMKIND_SUCCESS;
}

MKF_EXPORT int memkind_arena_get_kind_stat(memkind_t kind, memkind_stat_type stat,
                                           size_t *value)
{
    if (kind == NULL || value == NULL || (unsigned)stat >= MEMKIND_STAT_TYPE_MAX_VALUE ||
        kind->arena == UINT32_MAX)
        return MEMKIND_ERROR_INVALID;
    if (mkf_je_arena_stat(kind->arena, stat, value) != 0)
        return MEMKIND_ERROR_INVALID;
    struct mkf_fixed *fx = kind->fixed ? kind->priv : NULL;
    if (fx != NULL) { /* large blocks of a fixed kind are outside jemalloc */
        pthread_mutex_lock(&fx->lock);
        *value += mkf_large_allocated(fx);
        pthread_mutex_unlock(&fx->lock);
    }
    return MEMKIND_SUCCESS;
}

MKF_EXPORT int memkind_arena_update_memory_usage_policy(struct memkind *kind,
                                                        memkind_mem_usage_policy policy)
{
    (void)kind;
    return (unsigned)policy < MEMKIND_MEM_USAGE_POLICY_MAX_VALUE ? MEMKIND_SUCCESS
                                                                 : MEMKIND_ERROR_INVALID;
}

MKF_EXPORT void *memkind_arena_defrag_reallocate(struct memkind *kind, void *ptr)
{
    /* Moving blocks is never needed to reuse a fixed kind's free memory (the
     * region map merges freed extents), so blocks stay where they are. */
    (void)kind, (void)ptr;
    return NULL;
}
