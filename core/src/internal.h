/*
 * internal.h - what the core's files share and nothing else sees.
 *
 * Naming tiers: public functions are memkind_* (declared in memkind_fixed.h);
 * functions shared between the core's files are mkf_* and hidden; file-local
 * helpers are static.
 */
#ifndef MKF_INTERNAL_H
#define MKF_INTERNAL_H

#include "memkind_fixed.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MKF_HIDDEN __attribute__((visibility("hidden")))
#define MKF_EXPORT __attribute__((visibility("default")))
#define MKF_LIKELY(x) __builtin_expect(!!(x), 1)
#define MKF_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ---- the private jemalloc (jemalloc_glue.c) ------------------------------ */

/* mallocx() flags, as jemalloc 5.3.0 encodes them (jemalloc.h stays inside
 * jemalloc_glue.c so that no other file can reach jemalloc directly). */
#define MKF_MALLOCX_ZERO 0x40
#define MKF_MALLOCX_TCACHE(tc) ((int)(((unsigned)(tc) + 2u) << 8))
#define MKF_MALLOCX_TCACHE_NONE MKF_MALLOCX_TCACHE(-1)
/* Shifted as unsigned: arena indices from 2047 up would overflow an int shift. */
#define MKF_MALLOCX_ARENA(a) ((int)(((unsigned)(a) + 1u) << 20))
#define MKF_MALLOCX_LG_ALIGN(la) ((int)(la))

/* jemalloc's own entry points under the private prefix, called directly on the
 * allocation paths (no wrapper call in between). */
void *mkf_je_mallocx(size_t size, int flags);
void *mkf_je_rallocx(void *ptr, size_t size, int flags);
size_t mkf_je_xallocx(void *ptr, size_t size, size_t extra, int flags);
void mkf_je_dallocx(void *ptr, int flags);
size_t mkf_je_sallocx(const void *ptr, int flags);
void *mkf_je_malloc(size_t size);
void *mkf_je_calloc(size_t num, size_t size);
void *mkf_je_realloc(void *ptr, size_t size);
int mkf_je_posix_memalign(void **out, size_t alignment, size_t size);
void mkf_je_free(void *ptr);
/* Our fast path for explicit thread caches (third_party/jemalloc/mkf_tcache_fast.c,
 * compiled into the private jemalloc): pop / push the bin of cache `tcache` for
 * small sizes, else mallocx() / dallocx() with MALLOCX_ARENA(arena) |
 * MALLOCX_TCACHE(tcache). tcache UINT32_MAX: no cache. Cache `tcache` must only
 * ever be used with arena `arena`. Absent from the Rust crate's bundled jemalloc,
 * which defines MKF_NO_TC_FASTPATH. */
#ifndef MKF_NO_TC_FASTPATH
void *mkf_je_tc_malloc(size_t size, unsigned tcache, unsigned arena);
void mkf_je_tc_free(void *ptr, unsigned tcache, unsigned arena);
int mkf_je_arena_of(const void *ptr, unsigned *out);
int mkf_je_arena_live(unsigned arena, uint64_t *blocks, uint64_t *bytes);
int mkf_je_block_check(const void *ptr, unsigned *arena);
#endif

/* Arena and thread-cache management, each returning 0 or an errno value. */
MKF_HIDDEN int mkf_je_arena_create(struct extent_hooks_s *hooks, unsigned *out);
MKF_HIDDEN int mkf_je_arena_destroy(unsigned arena);
MKF_HIDDEN int mkf_je_arena_purge(unsigned arena);
/* Dirty and muzzy decay time of an arena in ms; -1: never purge by time. */
MKF_HIDDEN int mkf_je_arena_set_decay(unsigned arena, long ms);
#define MKF_DECAY_DEFAULT_MS 10000
MKF_HIDDEN int mkf_je_arena_lookup(const void *ptr, unsigned *out);
/* Blocks of `arena` handed out and not freed (thread caches' count too), and
 * their size classes' sum in bytes. */
MKF_HIDDEN int mkf_je_arena_live_blocks(unsigned arena, uint64_t *blocks, uint64_t *bytes);
MKF_HIDDEN unsigned mkf_je_narenas_auto(void);
MKF_HIDDEN int mkf_je_tcache_create(unsigned *out);
MKF_HIDDEN void mkf_je_tcache_destroy(unsigned tcache);
MKF_HIDDEN void mkf_je_tcache_flush(unsigned tcache);
MKF_HIDDEN int mkf_je_stats_refresh(void);
/* A statistic of one arena, or of all arenas merged with MKF_ALL_ARENAS. */
#define MKF_ALL_ARENAS UINT32_MAX
MKF_HIDDEN int mkf_je_arena_stat(unsigned arena, memkind_stat_type stat, size_t *out);
MKF_HIDDEN int mkf_je_global_stat(memkind_stat_type stat, size_t *out);
MKF_HIDDEN size_t mkf_je_page_size(void);
/* Starts the private jemalloc; with `no_tcache`, without jemalloc's implicit
 * per-thread cache (debug mode). */
MKF_HIDDEN void mkf_je_init(bool no_tcache);
/* Is `ptr` the start of a live block? 0 (and its arena in *arena), ENOENT (no
 * heap knows the address), EINVAL (inside a block, not its start) or EALREADY
 * (free). Exact only while no thread cache holds blocks, as in debug mode. */
MKF_HIDDEN int mkf_je_check_block(const void *ptr, unsigned *arena);

/* ---- kinds (registry.c) --------------------------------------------------- */

enum mkf_kind_state { MKF_KIND_FREE = 0, MKF_KIND_LIVE, MKF_KIND_DEAD };

struct memkind {
    struct memkind_ops *ops;  /* MKF_DEAD_OPS once destroyed */
    unsigned int partition;   /* slot in the registry, as memkind names it */
    char name[MEMKIND_NAME_LENGTH];
    pthread_once_t init_once;
    void *priv;               /* owned by the ops (struct mkf_fixed for fixed kinds) */
    unsigned int arena;       /* the kind's jemalloc arena; UINT32_MAX if none */
    uint64_t gen;             /* unique per creation; thread caches key on it */
    enum mkf_kind_state state;
    bool allow_zero_allocs;   /* read and written with mkf_zero_allowed() / atomics */
    bool builtin;             /* MEMKIND_DEFAULT: never destroyed */
    /* Region and flags passed from memkind_create_fixed*() to memkind_fixed_create(). */
    void *pending_addr;
    size_t pending_size;
    unsigned pending_flags;
    /* Thread caches made for this kind (tcache.c), under the registry lock. */
    struct mkf_tcache_node *tcaches;
    /* Fixed kinds: the first region's bounds, for a one-comparison ownership check
     * on the free path (region_span is 0 for other kinds). */
    bool fixed;
    uintptr_t region_lo, region_span;
    /* ops->malloc and ops->free are memkind_arena_malloc / memkind_arena_free:
     * memkind_malloc() and memkind_free() take the inline path below instead of
     * two indirect calls. Set at creation. */
    bool arena_fastpath;
};

MKF_HIDDEN extern struct memkind_ops mkf_dead_ops;
/* The ops of a fixed kind on a shared mapping, in a child of fork(): every use
 * fails with EPERM / MEMKIND_ERROR_SHARED_FORKED (fork.c). */
MKF_HIDDEN extern struct memkind_ops mkf_forked_ops;

/* MEMKIND_FIXED_DEBUG set (and not "0") when the library was loaded: no thread
 * caches, and free, realloc and usable_size check their pointer (api.c). */
MKF_HIDDEN extern bool mkf_debug;

/* The registry lock guards kind creation and destruction, thread-cache
 * bookkeeping and the region table's writers. */
MKF_HIDDEN void mkf_registry_lock(void);
/* fork handlers for the registry and region-table locks (fork.c). */
MKF_HIDDEN void mkf_registry_fork_prepare(void);
MKF_HIDDEN void mkf_registry_fork_parent(void);
MKF_HIDDEN void mkf_registry_fork_child(void);
MKF_HIDDEN void mkf_registry_unlock(void);
/* True when `kind` points into the registry's storage and is live. */
MKF_HIDDEN bool mkf_kind_is_live(const struct memkind *kind);
MKF_HIDDEN bool mkf_kind_is_handle(const struct memkind *kind);
/* The live kind that owns jemalloc arena `arena`, or NULL. */
MKF_HIDDEN struct memkind *mkf_kind_by_arena(unsigned arena);
/* The kind in registry slot `slot` (live or not), or NULL out of range. */
MKF_HIDDEN struct memkind *mkf_kind_by_slot(unsigned slot);
MKF_HIDDEN void mkf_kind_set_arena(struct memkind *kind, unsigned arena);
/* Create a kind with its pending region fields set before ops->create runs.
 * With `generate`, `name` is a prefix and the kind is named <prefix><n>, with n
 * chosen so that no live kind has that name. */
MKF_HIDDEN int mkf_kind_create(struct memkind_ops *ops, const char *name, bool generate,
                               void *addr, size_t size, unsigned flags,
                               memkind_t *out);
MKF_HIDDEN void mkf_init(void);

/* ---- per-thread caches (tcache.c) ------------------------------------------ */

/* How the calling thread reaches `kind`'s arena: the arena, the thread's explicit
 * cache for it (MKF_NO_TCACHE: none) and the mallocx() flags naming both. The fast
 * path is one TLS load and one comparison. */
#define MKF_NO_TCACHE UINT32_MAX
struct mkf_tc_sel {
    int flags;       /* MALLOCX_ARENA(arena) | MALLOCX_TCACHE(tcache) (or _NONE) */
    unsigned tcache; /* MKF_NO_TCACHE: no cache */
    unsigned arena;
};
MKF_HIDDEN struct mkf_tc_sel mkf_tcache_sel_slow(struct memkind *kind);
struct mkf_tc_entry {
    uint64_t gen;                 /* the kind's generation when this was made */
    struct mkf_tc_sel sel;
    struct mkf_tcache_node *node; /* NULL: no cache */
};
struct mkf_thread_caches {
    size_t used;                  /* 1 + the highest slot this thread used */
    struct mkf_tc_entry *entries; /* MEMKIND_MAX_KIND entries, indexed by
                                     kind->partition (tcache.c) */
};
MKF_HIDDEN extern __thread struct mkf_thread_caches *mkf_tls_caches;

static inline struct mkf_tc_sel mkf_arena_sel(struct memkind *kind)
{
    struct mkf_thread_caches *t = mkf_tls_caches;
    if (MKF_LIKELY(t != NULL)) {
        const struct mkf_tc_entry *e = &t->entries[kind->partition];
        if (MKF_LIKELY(e->gen == kind->gen))
            return e->sel;
    }
    return mkf_tcache_sel_slow(kind);
}

/* The mallocx() flags that select `kind`'s arena and the calling thread's cache
 * for it. */
static inline int mkf_arena_flags(struct memkind *kind)
{
    return mkf_arena_sel(kind).flags;
}

/* The allocation fast path of arena kinds, shared by memkind_malloc() /
 * memkind_free() (api.c) and memkind_arena_malloc() / memkind_arena_free()
 * (arena.c). Everything unusual goes to mkf_arena_malloc_slow(). */
MKF_HIDDEN void *mkf_arena_malloc_slow(struct memkind *kind, size_t size);

/* memkind treats sizes from LLONG_MAX up as the result of a negative size. */
#define MKF_SIZE_LIMIT ((size_t)INT64_MAX)

/* memkind's rules for size 0 and out-of-range sizes, for every kind's malloc-like
 * operation. false: answer NULL (errno ENOMEM for a huge size, untouched for 0);
 * an allowed 0 becomes 1. */
static inline bool mkf_zero_allowed(const struct memkind *kind)
{
    /* Relaxed atomic: memkind_set_allow_zero_allocs() may run in another thread. */
    return kind != NULL && __atomic_load_n(&kind->allow_zero_allocs, __ATOMIC_RELAXED);
}

static inline bool mkf_size_ok(const struct memkind *kind, size_t *size)
{
    if (MKF_LIKELY(*size - 1 < MKF_SIZE_LIMIT - 1))
        return true;
    if (*size == 0) {
        if (!mkf_zero_allowed(kind))
            return false;
        *size = 1;
        return true;
    }
    errno = ENOMEM;
    return false;
}

static inline void *mkf_arena_malloc_fast(struct memkind *kind, size_t size)
{
    /* 1 <= size < LLONG_MAX; 0 and huge sizes go the slow way. */
    if (MKF_LIKELY(size - 1 < MKF_SIZE_LIMIT - 1)) {
        struct mkf_tc_sel sel = mkf_arena_sel(kind);
#ifndef MKF_NO_TC_FASTPATH
        void *p = mkf_je_tc_malloc(size, sel.tcache, sel.arena);
#else
        void *p = mkf_je_mallocx(size, sel.flags);
#endif
        if (MKF_LIKELY(p != NULL))
            return p;
    }
    return mkf_arena_malloc_slow(kind, size);
}

static inline void mkf_arena_free_fast(struct memkind *kind, void *ptr)
{
    struct mkf_tc_sel sel = mkf_arena_sel(kind);
#ifndef MKF_NO_TC_FASTPATH
    mkf_je_tc_free(ptr, sel.tcache, sel.arena);
#else
    /* Only the cache bits of the flags matter to dallocx(). */
    mkf_je_dallocx(ptr, sel.flags);
#endif
}

/* Destroy every thread cache of `kind` (registry lock held). */
MKF_HIDDEN void mkf_tcache_destroy_kind(struct memkind *kind);
/* Flush the calling thread's cache for `kind`, if it has one. */
MKF_HIDDEN void mkf_tcache_flush_mine(struct memkind *kind);
MKF_HIDDEN void mkf_tcache_init(void);

/* ---- regions (region_map.c) ------------------------------------------------- */

struct mkf_range {
    uintptr_t start, end;
    bool zeroed; /* known to hold only zero bytes */
};

struct mkf_region {
    uintptr_t start, end; /* page-aligned */
    unsigned flags;       /* MEMKIND_REGION_* */
    bool shared;          /* a MAP_SHARED mapping (or SysV shm): see fork.c */
    struct mkf_range *free; /* sorted, disjoint, never adjacent */
    size_t nfree, capfree;
};

#define MKF_MAX_REGIONS 64

/* The state of a fixed kind (its kind->priv). The extent hooks come first so that
 * a hook finds its kind from the hooks pointer jemalloc passes it. */
struct mkf_fixed {
    struct mkf_hooks_holder {
        /* jemalloc's extent_hooks_t: nine function pointers (extent_hooks.c). */
        void *fns[9];
    } hooks;
    struct memkind *kind;
    pthread_mutex_t lock; /* guards regions, counters */
    struct mkf_region regions[MKF_MAX_REGIONS];
    atomic_uint nregions; /* appended under `lock` with a release store */
    size_t capacity, used, peak_used;
    atomic_uint_fast64_t failed_allocs;
    /* Out-of-memory callback, set under `lock`, read on the slow path. */
    memkind_fixed_oom_fn oom_fn;
    void *oom_arg;
    /* A region is a shared mapping (set with the region, under the registry lock). */
    bool any_shared;
    /* In a child of fork(), a kind with a shared region: the hooks hand out
     * nothing and never purge, since the parent's heap owns those bytes. */
    bool forked;
};

MKF_HIDDEN int mkf_region_add(struct mkf_fixed *fx, void *addr, size_t size,
                              unsigned flags);
/* Carve [size] bytes aligned to `alignment` (or exactly at new_addr when it is not
 * NULL); *zeroed tells whether the bytes are known zero. NULL when none fits. */
MKF_HIDDEN void *mkf_region_take(struct mkf_fixed *fx, void *new_addr, size_t size,
                                 size_t alignment, bool *zeroed);
MKF_HIDDEN void mkf_region_give(struct mkf_fixed *fx, void *addr, size_t size,
                                bool zeroed);
MKF_HIDDEN bool mkf_region_same(struct mkf_fixed *fx, uintptr_t a, uintptr_t b);
MKF_HIDDEN struct mkf_region *mkf_region_of(struct mkf_fixed *fx, uintptr_t addr);
MKF_HIDDEN size_t mkf_region_largest_free(struct mkf_fixed *fx);
MKF_HIDDEN size_t mkf_region_resident(struct mkf_fixed *fx);
/* The capacity of a live fixed kind, without the cost of the full statistics. */
MKF_HIDDEN int mkf_fixed_capacity(memkind_t kind, size_t *out);
MKF_HIDDEN void mkf_region_release_all(struct mkf_fixed *fx);

/* The process-wide table of live regions: pointer -> kind lookups and overlap
 * checks. Writers hold the registry lock. */
MKF_HIDDEN int mkf_region_table_insert(uintptr_t start, uintptr_t end,
                                       struct memkind *kind);
MKF_HIDDEN void mkf_region_table_remove_kind(struct memkind *kind);
MKF_HIDDEN struct memkind *mkf_region_table_lookup(const void *ptr);

/* Is `ptr` inside one of `kind`'s regions? Lock-free reads of the region bounds,
 * which only change under the registry lock while the kind is not in use. */
MKF_HIDDEN bool mkf_fixed_owns(struct memkind *kind, const void *ptr);

/* ---- extent hooks (extent_hooks.c) ----------------------------------------- */

MKF_HIDDEN void mkf_hooks_init(struct mkf_fixed *fx);

/* ---- fork (fork.c) ------------------------------------------------------------ */

MKF_HIDDEN void mkf_fork_register_early(void);
MKF_HIDDEN void mkf_fork_register_late(void);
/* In a fork child (registry lock state remade): fixed kinds on shared mappings
 * stop serving (mkf_forked_ops). */
MKF_HIDDEN void mkf_fork_child_disable_shared(void);
/* Is any page of [start, end) a shared mapping? (/proc/self/maps; false when it
 * cannot be read.) */
MKF_HIDDEN bool mkf_range_is_shared(uintptr_t start, uintptr_t end);

/* ---- helpers ------------------------------------------------------------------ */

static inline bool mkf_is_pow2(size_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

#endif /* MKF_INTERNAL_H */
