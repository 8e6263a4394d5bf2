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
#include "page_source.h"

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
#define MKF_NOINLINE __attribute__((noinline))
#define MKF_COLD __attribute__((cold))

/* ThreadSanitizer builds. The private jemalloc is not instrumented, and the owner's
 * side of the reclaim handshake (tcache.c) runs in it: TSan would not see the
 * release of `busy` that orders the owner's use of its blocks before a reclaiming
 * thread flushes its cache. The core says it with annotations instead: the owner
 * releases before each use of its cache, the reclaimer acquires once it has seen
 * `busy` clear. No code in other builds. */
#if defined(__SANITIZE_THREAD__)
#define MKF_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MKF_TSAN 1
#endif
#endif
#ifdef MKF_TSAN
#include <sanitizer/tsan_interface.h>
#define MKF_TSAN_RELEASE(addr) __tsan_release((void *)(addr))
#define MKF_TSAN_ACQUIRE(addr) __tsan_acquire((void *)(addr))
#else
#define MKF_TSAN_RELEASE(addr) ((void)0)
#define MKF_TSAN_ACQUIRE(addr) ((void)0)
#endif

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
size_t mkf_je_nallocx(size_t size, int flags);
void *mkf_je_malloc(size_t size);
void *mkf_je_calloc(size_t num, size_t size);
void *mkf_je_realloc(void *ptr, size_t size);
int mkf_je_posix_memalign(void **out, size_t alignment, size_t size);
void mkf_je_free(void *ptr);
/* Our fast path for explicit thread caches (third_party/jemalloc/mkf_tcache_fast.c,
 * compiled into the private jemalloc, which has the contract in full): pop / push
 * a small block on cache `tc` (from mkf_je_tc_get(); NULL: none) inside the
 * thread's reclaim handshake `hs` (&mkf_thread_caches.busy: busy, then stop), and
 * on any miss end in mkf_arena_malloc_slow() / mkf_arena_free_slow(). Cache `tc`
 * must only ever be used with `kind`'s arena. mkf_je_tc_flush() empties a cache and
 * keeps it. */
void *mkf_je_tc_malloc(size_t size, void *tc, unsigned *hs, struct memkind *kind);
void mkf_je_tc_free(void *ptr, void *tc, unsigned *hs, struct memkind *kind);
void *mkf_je_tc_get(unsigned tcache);
int mkf_je_tc_flush(unsigned tcache);
/* Call fn (unless NULL) for every block that cache tc's bin of size's small class
 * holds; returns how many it holds. */
size_t mkf_je_tc_bin_each(void *tc, size_t size,
                          void (*fn)(void *ctx, void *ptr, size_t usable), void *ctx);
int mkf_je_arena_of(const void *ptr, unsigned *out);
int mkf_je_arena_live(unsigned arena, uint64_t *blocks, uint64_t *bytes);
int mkf_je_block_check(const void *ptr, unsigned *arena);
int mkf_je_arena_coalesce_eagerly(unsigned arena);
int mkf_je_arena_recycle(unsigned arena);
int mkf_je_tc_discard(unsigned tcache, uint64_t *blocks, uint64_t *bytes);
int mkf_je_arena_rebind(unsigned arena, void *hooks);
int mkf_je_arena_decay(unsigned arena, long decay_ms);
int mkf_je_tc_setup(unsigned tcache);
void mkf_je_tc_postfork_child(void); /* fork child: caches back on the arenas' lists */
int mkf_je_slab_flush(unsigned arena, bool stop);
void *mkf_je_tsd(void); /* the calling thread's tsd */
size_t mkf_je_slab_parked(unsigned arena); /* bytes; UINT_MAX: every arena */

/* Arena and thread-cache management, each returning 0 or an errno value. */
MKF_HIDDEN int mkf_je_arena_create(struct extent_hooks_s *hooks, unsigned *out);
MKF_HIDDEN int mkf_je_arena_destroy(unsigned arena);
/* Point a manual arena at other extent hooks. */
MKF_HIDDEN int mkf_je_arena_set_hooks(unsigned arena, struct extent_hooks_s *hooks);
/* Make an arena merge freed extents at once from now on (fixed kinds, from their
 * first reclaim: arena.c). */
MKF_HIDDEN int mkf_je_arena_set_eager_coalesce(unsigned arena);
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
    /* The fields of memkind_malloc() / memkind_free()'s fast paths come first, in
     * the kind's first cache line (the registry's array is 64-byte aligned). */
    _Alignas(64) struct memkind_ops *ops; /* MKF_DEAD_OPS once destroyed */
    unsigned int partition;   /* slot in the registry, as memkind names it */
    /* Fixed kinds: the first region's bounds, for a one-comparison ownership check
     * on the free path (region_span is 0 for other kinds). */
    bool fixed;
    /* ops->malloc and ops->free are memkind_arena_malloc / memkind_arena_free:
     * memkind_malloc() and memkind_free() take the inline path below instead of
     * two indirect calls. Set at creation. */
    bool arena_fastpath;
    uintptr_t region_lo, region_span;
    /* The kind's one thread (tcache.c, "solo"): while a single live thread uses
     * the kind, solo_tp is that thread's thread pointer and solo_tc / solo_t its
     * cache and record, which the fast paths take without the thread table. 0:
     * no thread yet (or the one thread exited); MKF_SOLO_SHARED: more than one
     * thread has a cache for the kind. Written under the registry lock (solo_tp
     * last, with release); solo_tc and solo_t are read only by the thread whose
     * thread pointer solo_tp holds, after an acquire load of it. Only ever set
     * while arena_fastpath is true: memkind_malloc() tries it first; whatever
     * clears arena_fastpath clears solo_tp too. */
    _Atomic uintptr_t solo_tp;
    void *_Atomic solo_tc;
    struct mkf_thread_caches *_Atomic solo_t;
    uint64_t gen;             /* unique per creation; thread caches key on it */
    char name[MEMKIND_NAME_LENGTH];
    pthread_once_t init_once;
    void *priv;               /* owned by the ops (struct mkf_fixed for fixed kinds) */
    unsigned int arena;       /* the kind's jemalloc arena; UINT32_MAX if none */
    enum mkf_kind_state state;
    bool allow_zero_allocs;   /* read and written with mkf_zero_allowed() / atomics */
    bool builtin;             /* MEMKIND_DEFAULT: never destroyed */
    /* Region and flags passed from memkind_create_fixed*() to memkind_fixed_create(). */
    void *pending_addr;
    size_t pending_size;
    unsigned pending_flags;
    /* Thread caches made for this kind (tcache.c), under the registry lock. */
    struct mkf_tcache_node *tcaches;
    /* The next live kind whose name hashes to the same bucket (registry.c). */
    struct memkind *name_next;
};
_Static_assert(offsetof(struct memkind, gen) + sizeof(uint64_t) <= 64,
               "the fast paths' fields fit in the kind's first cache line");

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
/* One explicit cache of one thread for one kind, in the kind's list. */
struct mkf_tcache_node {
    struct mkf_tcache_node *prev, *next;
    unsigned tcache;                 /* jemalloc's explicit cache: small blocks */
    struct mkf_thread_caches *owner; /* the thread whose cache this is */
};

struct mkf_tc_entry {
    uint64_t gen;                 /* the kind's generation when this was made */
    struct mkf_tc_sel sel;
    void *tc;                     /* jemalloc's cache behind sel.tcache, NULL: none */
    struct mkf_tcache_node *node; /* NULL: no cache */
};
struct mkf_thread_caches {
    /* The reclaim handshake (tcache.c, docs/design.md): the owner thread sets
     * `busy` while it uses any of its caches; a thread that reclaims other threads'
     * caches sets `stop`, fences every thread with membarrier(2), and flushes a
     * cache only once its owner's `busy` is 0. Both are plain stores and loads on
     * the owner's side. The two come first and in this order: the jemalloc side
     * of the fast path takes them as an array of two unsigned, followed by
     * `je_tsd`. */
    atomic_uint busy;
    atomic_uint stop;
    void *je_tsd;                 /* this thread's jemalloc tsd (mkf_je_tsd()): the
                                     fast path reads it here, not through TLS */
    size_t used;                  /* 1 + the highest slot this thread used */
    struct mkf_tc_entry *entries; /* MEMKIND_MAX_KIND entries, indexed by
                                     kind->partition (tcache.c) */
    _Atomic uintptr_t tp;         /* the owner's thread pointer; 0 once it exited */
    bool in_use;                  /* false: its thread exited; free for reuse */
    struct mkf_thread_caches *all_next; /* every record, never freed (tcache.c) */
};
MKF_HIDDEN extern __thread struct mkf_thread_caches *mkf_tls_caches;

/*
 * The calling thread's record, found by its thread pointer, without a TLS access.
 *
 * In a shared library, reading a __thread variable is a call (a TLS descriptor's,
 * or __tls_get_addr): with one in each of memkind_malloc and memkind_free, a 64 B
 * pair took 14 ns instead of 9 (docs/performance.md). The initial-exec model would
 * make it a load, but it applies to the library's whole TLS block, jemalloc's
 * several KiB included, which a late dlopen (Python, Java) cannot get. So the fast
 * path reads the thread pointer (%fs:0 on x86-64, unique among live threads and
 * fixed for a thread's life) and looks in a small table indexed by its hash: a hit
 * is a record whose `tp` is the caller's; a miss reads the TLS variable. A record
 * is put in its slot by its own thread (mkf_thread_caches_install: when it is
 * made, and in every slow path) and is never freed: when its
 * thread exits its `tp` becomes 0 and it waits for reuse (tcache.c), so a reader
 * that finds another thread's record in a slot reads a live record whose `tp` is
 * not its own. Two threads whose slots collide take turns: the one that went
 * through a slow path last hits, the other reads its TLS variable. A fork child empties the table
 * (mkf_tcache_fork_child): the parent's other threads' records still name thread
 * pointers that the child's new threads may get.
 */
#define MKF_TP_SLOTS 256
MKF_HIDDEN extern struct mkf_thread_caches *_Atomic mkf_tp_table[MKF_TP_SLOTS];
MKF_HIDDEN struct mkf_thread_caches *mkf_thread_caches_install(void);

static inline uintptr_t mkf_thread_pointer(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    uintptr_t tp;
    __asm__("mov %%fs:0, %0" : "=r"(tp));
    return tp;
#elif defined(__aarch64__) && defined(__GNUC__)
    return (uintptr_t)__builtin_thread_pointer();
#else
    return 0; /* no table: mkf_thread_caches_install() reads the TLS variable */
#endif
}

/* Whether mkf_thread_pointer() gives the thread pointer (else 0, and neither the
 * table nor a kind's one-thread path is used). */
#if (defined(__x86_64__) || defined(__aarch64__)) && defined(__GNUC__)
#define MKF_HAVE_TP 1
#else
#define MKF_HAVE_TP 0
#endif
/* struct memkind's solo_tp once a second thread used the kind (no thread pointer
 * is 1). */
#define MKF_SOLO_SHARED ((uintptr_t)1)

static inline unsigned mkf_tp_slot(uintptr_t tp)
{
    return (unsigned)((tp * UINT64_C(0x9e3779b97f4a7c15)) >> 56) & (MKF_TP_SLOTS - 1);
}

/* The calling thread's record when its slot in the table holds it, else NULL
 * (then the caller reads the TLS variable, out of line: mkf_arena_malloc_tls). */
static inline struct mkf_thread_caches *mkf_thread_caches_table(void)
{
    uintptr_t tp = mkf_thread_pointer();
    struct mkf_thread_caches *t =
        atomic_load_explicit(&mkf_tp_table[mkf_tp_slot(tp)], memory_order_acquire);
    if (MKF_LIKELY(t != NULL) &&
        MKF_LIKELY(atomic_load_explicit(&t->tp, memory_order_relaxed) == tp))
        return t;
    return NULL;
}

/* Enter the calling thread's cache section: false when a reclaim of this thread's
 * caches is under way (the caller then takes the slow path, which waits). The
 * signal fence only stops the compiler from moving the load above the store; the
 * reclaiming thread's membarrier() orders them in hardware. */
static inline bool mkf_cache_enter(struct mkf_thread_caches *t)
{
    atomic_store_explicit(&t->busy, 1, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
    /* Acquire (a plain load on x86): what a finished reclaim wrote is seen. */
    if (MKF_LIKELY(!atomic_load_explicit(&t->stop, memory_order_acquire)))
        return true;
    atomic_store_explicit(&t->busy, 0, memory_order_release);
    return false;
}

static inline void mkf_cache_exit(struct mkf_thread_caches *t)
{
    atomic_store_explicit(&t->busy, 0, memory_order_release);
}

/* mkf_cache_enter(), waiting out a reclaim (slow path). */
MKF_HIDDEN void mkf_cache_enter_wait(struct mkf_thread_caches *t);

/* The calling thread's entry for `kind` when it is current, else NULL. */
static inline const struct mkf_tc_entry *mkf_tc_entry_of(struct mkf_thread_caches *t,
                                                         const struct memkind *kind)
{
    if (MKF_LIKELY(t != NULL)) {
        const struct mkf_tc_entry *e = &t->entries[kind->partition];
        if (MKF_LIKELY(e->gen == kind->gen))
            return e;
    }
    return NULL;
}

static inline struct mkf_tc_sel mkf_arena_sel(struct memkind *kind)
{
    const struct mkf_tc_entry *e = mkf_tc_entry_of(mkf_tls_caches, kind);
    return MKF_LIKELY(e != NULL) ? e->sel : mkf_tcache_sel_slow(kind);
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

/* ---- large blocks of fixed kinds (large.c) ----------------------------------- */

struct mkf_fixed;

/* The largest of jemalloc's small size classes (14336 with 4 KiB pages): fixed
 * kinds serve larger requests from the region map with exact pages. */
MKF_HIDDEN extern size_t mkf_small_max;
MKF_HIDDEN extern uintptr_t mkf_page_mask;
MKF_HIDDEN void *mkf_large_malloc(struct memkind *kind, size_t size, size_t alignment,
                                  bool zero);
/* Free `ptr` when it is a large block of fixed kind `kind`: false when it is not. */
MKF_HIDDEN bool mkf_large_free(struct memkind *kind, void *ptr);
/* The usable size of a large block of fixed kind `kind`, 0 when `ptr` is not one. */
MKF_HIDDEN size_t mkf_large_usable(struct memkind *kind, const void *ptr);
/* realloc on a fixed kind when the old or the new size is large (size >= 1). */
MKF_HIDDEN void *mkf_large_realloc(struct memkind *kind, void *ptr, size_t size,
                                   size_t old_pages);
/* Give the kind's parked large block (if any) back to the region map. */
MKF_HIDDEN void mkf_large_drain(struct memkind *kind);
/* Bytes of the large blocks the program holds (not the parked one); fx->lock held. */
MKF_HIDDEN size_t mkf_large_allocated(struct mkf_fixed *fx);

/* After an allocation of `size` failed: reclaim every cache of the kind and call
 * attempt(ctx) again, as long as reclaims bring pages back to the region map (other
 * threads may refill their caches meanwhile), up to MKF_RECLAIM_ROUNDS times; then
 * ask the OOM callback. The block, or NULL with errno ENOMEM, counted (arena.c). */
#define MKF_RECLAIM_ROUNDS 4
/* memkind_arena_create_map() for a fixed kind (`hooks` its own): takes an arena
 * from the pool of recycled ones when there is one (arena.c). The caller sets the
 * arena's decay times. */
MKF_HIDDEN int mkf_arena_create_fixed(struct memkind *kind, struct extent_hooks_s *hooks);
/* In a fork child, for a kind whose memory the parent keeps using (page source:
 * MKF_FORK_OWN): drop the copy of the parent's arena and caches without giving
 * their pages back (they are the parent's), and take a new arena. */
MKF_HIDDEN int mkf_arena_fork_own(struct memkind *kind);
MKF_HIDDEN void *mkf_arena_retry(struct memkind *kind, size_t size,
                                 void *(*attempt)(void *ctx), void *ctx);

/* The handshake words of `t` as the jemalloc side takes them. */
static inline unsigned *mkf_tc_handshake(struct mkf_thread_caches *t)
{
    _Static_assert(offsetof(struct mkf_thread_caches, stop) ==
                       offsetof(struct mkf_thread_caches, busy) + sizeof(unsigned),
                   "busy and stop are an unsigned[2]");
    _Static_assert(sizeof(atomic_uint) == sizeof(unsigned), "atomic_uint is plain");
    return (unsigned *)&t->busy;
}

/* The slow paths (arena.c), and the fast paths' second chance for a thread that
 * the table does not know (its slot taken by another thread): the same steps with
 * the record read from TLS, out of line so that the inline part makes no call. */
MKF_HIDDEN void *mkf_arena_malloc_tls(struct memkind *kind, size_t size);
MKF_HIDDEN void mkf_arena_free_slow(struct memkind *kind, void *ptr);
MKF_HIDDEN void mkf_arena_free_tls(struct memkind *kind, void *ptr);

/* jemalloc's SC_LOOKUP_MAXCLASS: mkf_je_tc_malloc() serves sizes up to this, and
 * only those may be passed to it (mkf_tcache_fast.c asserts the value). It is
 * below every page size's mkf_small_max. */
#define MKF_TC_FAST_MAX 4096

/* Is the calling thread `kind`'s one thread (struct memkind's solo_tp)? Then its
 * cache and handshake are the kind's solo_tc and solo_t. */
static inline bool mkf_solo_mine(struct memkind *kind)
{
    return MKF_HAVE_TP &&
           atomic_load_explicit(&kind->solo_tp, memory_order_acquire) == mkf_thread_pointer();
}

/*
 * The fast paths, in layers that memkind_malloc() / memkind_free() (api.c) and
 * memkind_arena_malloc() / memkind_arena_free() (arena.c) share. Each ends in a
 * tail call into jemalloc's side (mkf_je_tc_malloc / mkf_je_tc_free), which ends in
 * the slow path on any miss: none of them builds a stack frame.
 *   mkf_solo_*     the kind's one thread (after mkf_solo_mine()): its cache from
 *                  the kind;
 *   mkf_tc_*_with  thread record `t`'s cache for the kind, or the slow path;
 *   mkf_arena_*_table  another thread: `t` from the thread table, or from TLS out
 *                  of line (mkf_arena_*_tls, arena.c) when the table's slot is
 *                  another thread's;
 *   mkf_arena_*_fast   all of it, for callers that have not tried the one thread.
 */
static inline void *mkf_solo_malloc(struct memkind *kind, size_t size)
{
    struct mkf_thread_caches *st = atomic_load_explicit(&kind->solo_t, memory_order_relaxed);
    MKF_TSAN_RELEASE(&st->busy);
    return mkf_je_tc_malloc(size, atomic_load_explicit(&kind->solo_tc, memory_order_relaxed),
                            mkf_tc_handshake(st), kind);
}

static inline void mkf_solo_free(struct memkind *kind, void *ptr)
{
    struct mkf_thread_caches *st = atomic_load_explicit(&kind->solo_t, memory_order_relaxed);
    MKF_TSAN_RELEASE(&st->busy);
    mkf_je_tc_free(ptr, atomic_load_explicit(&kind->solo_tc, memory_order_relaxed),
                   mkf_tc_handshake(st), kind);
}

/* 1 <= size <= MKF_TC_FAST_MAX. */
static inline void *mkf_tc_malloc_with(struct mkf_thread_caches *t, struct memkind *kind,
                                       size_t size)
{
    const struct mkf_tc_entry *e = mkf_tc_entry_of(t, kind);
    if (MKF_LIKELY(e != NULL && e->tc != NULL)) {
        MKF_TSAN_RELEASE(&t->busy);
        return mkf_je_tc_malloc(size, e->tc, mkf_tc_handshake(t), kind);
    }
    return mkf_arena_malloc_slow(kind, size);
}

static inline void mkf_tc_free_with(struct mkf_thread_caches *t, struct memkind *kind,
                                    void *ptr)
{
    const struct mkf_tc_entry *e = mkf_tc_entry_of(t, kind);
    if (MKF_LIKELY(e != NULL && e->tc != NULL)) {
        MKF_TSAN_RELEASE(&t->busy);
        mkf_je_tc_free(ptr, e->tc, mkf_tc_handshake(t), kind);
        return;
    }
    mkf_arena_free_slow(kind, ptr);
}

/* Any size, the one thread not tried (or not this one). 0 and huge sizes go the
 * slow way; large blocks of fixed kinds to the region map. */
static inline void *mkf_arena_malloc_table(struct memkind *kind, size_t size)
{
    if (MKF_LIKELY(size - 1 < MKF_TC_FAST_MAX)) {
        struct mkf_thread_caches *t = mkf_thread_caches_table();
        if (MKF_UNLIKELY(t == NULL))
            return mkf_arena_malloc_tls(kind, size);
        return mkf_tc_malloc_with(t, kind, size);
    }
    if (size - 1 < MKF_SIZE_LIMIT - 1 && size > mkf_small_max && kind->fixed)
        return mkf_large_malloc(kind, size, 0, false);
    return mkf_arena_malloc_slow(kind, size);
}

static inline void *mkf_arena_malloc_fast(struct memkind *kind, size_t size)
{
    if (MKF_LIKELY(size - 1 < MKF_TC_FAST_MAX) && MKF_LIKELY(mkf_solo_mine(kind)))
        return mkf_solo_malloc(kind, size);
    return mkf_arena_malloc_table(kind, size);
}

/* A small block goes onto the thread's cache; anything else (a large block of a
 * fixed kind, which jemalloc does not know, a full bin, a cold rtree cache, a
 * reclaim under way) takes mkf_arena_free_slow(). */
static inline void mkf_arena_free_table(struct memkind *kind, void *ptr)
{
    struct mkf_thread_caches *t = mkf_thread_caches_table();
    if (MKF_UNLIKELY(t == NULL)) {
        mkf_arena_free_tls(kind, ptr);
        return;
    }
    mkf_tc_free_with(t, kind, ptr);
}

static inline void mkf_arena_free_fast(struct memkind *kind, void *ptr)
{
    if (MKF_LIKELY(mkf_solo_mine(kind))) {
        mkf_solo_free(kind, ptr);
        return;
    }
    mkf_arena_free_table(kind, ptr);
}

/* Take every thread cache away from `kind`, which is being destroyed (registry
 * lock held). Blocks that the caches held and did not give back to the arena
 * (which still counts them as allocated) are added to *blocks and *bytes. */
MKF_HIDDEN void mkf_tcache_destroy_kind(struct memkind *kind, uint64_t *blocks,
                                        uint64_t *bytes);
/* Flush every thread's cache for `kind` (the calling thread's too), so that no
 * cache holds a block of it; registry lock held. Other threads' caches are
 * reclaimed only where membarrier(2) works (else just the caller's). */
MKF_HIDDEN void mkf_tcache_flush_all(struct memkind *kind);
/* In a fork child: register for membarrier(2) again, and drop the caches of the
 * threads that did not survive the fork from the kinds' lists (fork.c). */
MKF_HIDDEN void mkf_tcache_fork_child(void);
MKF_HIDDEN void mkf_tcache_init(void);

/* ---- regions (region_map.c) ------------------------------------------------- */

struct mkf_range {
    uintptr_t start, end;
    bool zeroed; /* known to hold only zero bytes */
};

/* The page count of the large block that starts at a page (0: none), in leaves
 * of MKF_LEAF_PAGES pages (large.c). */
typedef _Atomic(uint64_t) mkf_block_word;
#define MKF_LG_LEAF_PAGES 12
#define MKF_LEAF_PAGES ((size_t)1 << MKF_LG_LEAF_PAGES)

struct mkf_region {
    uintptr_t start, end; /* page-aligned */
    unsigned flags;       /* MEMKIND_REGION_* */
    struct mkf_range *free; /* sorted, disjoint, never adjacent */
    size_t nfree, capfree;
    /* Large blocks (served from the region map, not by jemalloc): one leaf
     * pointer per MKF_LEAF_PAGES pages of the region, a leaf made on first use
     * under the kind's lock and read without it. */
    _Atomic(mkf_block_word *) *leaves;
    size_t nleaves;
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
    /* Large blocks handed out (the parked one included), under `lock`. */
    size_t large_blocks, large_bytes;
    /* The last large block freed, parked for the next request of about its size
     * from the same thread (large.c): its address with a thread tag in the low
     * bits, 0 when none. Taken and put with atomic exchanges. Always 0 for a
     * shared kind, whose parked block is in its process slot in the segment. */
    _Atomic(uintptr_t) parked;
    atomic_uint_fast64_t failed_allocs;
    /* Out-of-memory callback, set under `lock`, read on the slow path. */
    memkind_fixed_oom_fn oom_fn;
    void *oom_arg;
    /* A region is a MAP_SHARED mapping or System V shared memory (set before each fork, under
     * the registry lock, by mkf_fork_mark_shared()): see fork.c. */
    bool any_shared;
    /* The region ran short once: freed slabs now merge at once (arena.c). Set
     * under the registry lock. */
    bool eager_coalesce;
    /* In a child of fork(), a kind with a shared region: the hooks hand out
     * nothing and never purge, since the parent's heap owns those bytes. */
    bool forked;
    /* Where the kind's pages come from (page_source.h), chosen when the kind is
     * made, and that source's own state (NULL for the region map, which is the
     * rest of this struct). */
    const struct mkf_page_source *pages;
    void *source;
};

/* The regions of a fixed kind (every kind has them: a shared kind's is its
 * mapping of the heap). Taking and giving pages goes through fx->pages. */
MKF_HIDDEN int mkf_region_add(struct mkf_fixed *fx, void *addr, size_t size,
                              unsigned flags);
MKF_HIDDEN bool mkf_region_same(struct mkf_fixed *fx, uintptr_t a, uintptr_t b);
MKF_HIDDEN struct mkf_region *mkf_region_of(struct mkf_fixed *fx, uintptr_t addr);
MKF_HIDDEN size_t mkf_region_resident(struct mkf_fixed *fx);
/* The bytes of large blocks of every live fixed kind (memkind_get_stat(NULL)). */
MKF_HIDDEN size_t mkf_fixed_large_bytes_all(void);
/* The capacity of a live fixed kind, without the cost of the full statistics. */
MKF_HIDDEN int mkf_fixed_capacity(memkind_t kind, size_t *out);
MKF_HIDDEN void mkf_region_release_all(struct mkf_fixed *fx);

/* The process-wide table of live regions: pointer -> kind lookups and overlap
 * checks. Writers hold the registry lock. */
MKF_HIDDEN int mkf_region_table_insert(uintptr_t start, uintptr_t end,
                                       struct memkind *kind);
MKF_HIDDEN void mkf_region_table_remove_kind(struct memkind *kind);
MKF_HIDDEN struct memkind *mkf_region_table_lookup(const void *ptr);
/* The region table's lock around fork() (kind_table.c), and the registry lock
 * made anew (in a fork child, and at the start). */
MKF_HIDDEN void mkf_region_table_fork_prepare(void);
MKF_HIDDEN void mkf_region_table_fork_parent(void);
MKF_HIDDEN void mkf_region_table_fork_child(void);
MKF_HIDDEN void mkf_registry_lock_init(void);

/* Is `ptr` inside one of `kind`'s regions? Lock-free reads of the region bounds,
 * which only change under the registry lock while the kind is not in use. */
MKF_HIDDEN bool mkf_fixed_owns(struct memkind *kind, const void *ptr);

/* ---- extent hooks (extent_hooks.c) ----------------------------------------- */

MKF_HIDDEN void mkf_hooks_init(struct mkf_fixed *fx);
/* The hooks of an arena in the pool of recycled arenas: no memory in or out. */
MKF_HIDDEN struct extent_hooks_s *mkf_idle_hooks(void);

/* ---- fork (fork.c) ------------------------------------------------------------ */

MKF_HIDDEN void mkf_fork_register_early(void);
MKF_HIDDEN void mkf_fork_register_late(void);
/* In a fork child (registry lock state remade): fixed kinds on shared mappings
 * stop serving (mkf_forked_ops). */
MKF_HIDDEN void mkf_fork_child_disable_shared(void);
/* Before fork (registry lock held): mark the fixed kinds with a region on a shared
 * mapping (fx->any_shared), from one read of /proc/self/maps. */
MKF_HIDDEN void mkf_fork_mark_shared(void);

/* A new kind generation (registry lock held): thread caches made before are stale. */
MKF_HIDDEN uint64_t mkf_kind_new_gen(void);

/* ---- helpers ------------------------------------------------------------------ */

static inline bool mkf_is_pow2(size_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

#endif /* MKF_INTERNAL_H */
