/*
 * tcache.c - one explicit jemalloc thread cache per (thread, kind).
 *
 * memkind runs fixed kinds without a thread cache (MALLOCX_TCACHE_NONE), which
 * makes every small allocation take the arena's locks. jemalloc's implicit
 * per-thread cache cannot be used either: combined with MALLOCX_ARENA it can hand
 * a block of one arena to a request for another. So each thread gets its own
 * explicit cache (tcache.create) for each kind it uses, made on first use:
 *
 * - The thread's table, indexed by the kind's slot, holds the arena, the cache
 *   and the mallocx() flags naming both (struct mkf_tc_sel).
 *   An entry is valid while its generation equals the kind's: a destroyed kind
 *   changes generation, so stale entries are never used.
 * - The kind keeps a list of its caches so that memkind_destroy_kind() can destroy
 *   them all; a thread's exit destroys the caches of the kinds still alive.
 * - jemalloc has about 4094 explicit caches in all. When none is left, the pair
 *   (thread, kind) runs without a cache: correct, slower, and counted in no error.
 *   It gets a cache again after the thread ends or the kind is destroyed.
 *
 * Reclaim. A region is finite, so before a fixed kind reports ENOMEM (and in
 * memkind_fixed_purge) every thread's cache for the kind is flushed, not only the
 * caller's: blocks cached by idle threads would otherwise never serve anyone. An
 * explicit cache is not thread-safe, so the owner marks the moments it uses one
 * (`busy`, a plain store) and checks a `stop` flag (a plain load); the reclaiming
 * thread sets `stop`, runs membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), which
 * makes every running thread execute a full memory barrier, and then waits until
 * the owner's `busy` is 0. After the barrier either the owner saw `stop` and keeps
 * out of its caches until the reclaim is over (it waits on the registry lock), or
 * the reclaimer sees `busy` and waits: the owner's fast path pays two stores and
 * a load, no atomic read-modify-write and no fence. Where membarrier(2) is not
 * available, only the calling thread's cache is flushed, as before.
 */
#include "internal.h"

#include <linux/membarrier.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define TABLE_BYTES (MEMKIND_MAX_KIND * sizeof(struct mkf_tc_entry))

/* membarrier(2) registered: other threads' caches can be reclaimed. */
static bool g_membarrier;

static bool membarrier_register(void)
{
    return syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
}

__thread struct mkf_thread_caches *mkf_tls_caches;
struct mkf_thread_caches *_Atomic mkf_tp_table[MKF_TP_SLOTS];

/* Every thread record ever made (registry lock): those of exited threads
 * (in_use false) are reused by new threads. */
static struct mkf_thread_caches *g_all_records;

/* A record's thread is gone: out of the table, its table of entries unmapped,
 * free for the next thread (registry lock). */
static void record_retire(struct mkf_thread_caches *t)
{
    /* A record is only ever put in the slot of its own thread pointer. */
    uintptr_t tp = atomic_exchange_explicit(&t->tp, 0, memory_order_relaxed);
    struct mkf_thread_caches *expected = t;
    if (tp != 0)
        atomic_compare_exchange_strong(&mkf_tp_table[mkf_tp_slot(tp)], &expected, NULL);
    if (t->entries != NULL)
        munmap(t->entries, TABLE_BYTES);
    t->entries = NULL;
    t->used = 0;
    t->in_use = false;
}

/* The calling thread's record (the TLS variable), put in its slot of the table
 * (internal.h, mkf_thread_caches_table); NULL if it has none yet. */
struct mkf_thread_caches *mkf_thread_caches_install(void)
{
    struct mkf_thread_caches *t = mkf_tls_caches;
    uintptr_t tp = mkf_thread_pointer();
    if (t != NULL && tp != 0) {
        /* Stores only when needed: the table's lines are read by every thread. */
        struct mkf_thread_caches *_Atomic *slot = &mkf_tp_table[mkf_tp_slot(tp)];
        if (atomic_load_explicit(&t->tp, memory_order_relaxed) != tp)
            atomic_store_explicit(&t->tp, tp, memory_order_relaxed);
        if (atomic_load_explicit(slot, memory_order_relaxed) != t)
            atomic_store_explicit(slot, t, memory_order_release);
    }
    return t;
}
static pthread_key_t g_key;

static void unlink_node(struct memkind *kind, struct mkf_tcache_node *node)
{
    if (node->prev)
        node->prev->next = node->next;
    else
        kind->tcaches = node->next;
    if (node->next)
        node->next->prev = node->prev;
}

static void solo_release(struct memkind *kind, uintptr_t tp);
static void solo_last(struct memkind *kind);

/* pthread key destructor: the thread is ending. */
static void thread_exit(void *arg)
{
    struct mkf_thread_caches *t = arg;
    mkf_registry_lock();
    for (size_t i = 0; i < t->used; i++) {
        struct mkf_tc_entry *e = &t->entries[i];
        struct memkind *kind = mkf_kind_by_slot((unsigned)i);
        if (e->node == NULL || kind == NULL || kind->gen != e->gen)
            continue; /* no cache, or its kind is gone and took the cache with it */
        solo_release(kind, mkf_thread_pointer());
        unlink_node(kind, e->node);
        mkf_je_tcache_destroy(e->node->tcache);
        free(e->node);
        solo_last(kind);
    }
    /* Kept for reuse, not freed: mkf_thread_caches_table() may still read its
     * `tp`, from another thread, after this. */
    record_retire(t);
    if (mkf_tls_caches == t)
        mkf_tls_caches = NULL;
    mkf_registry_unlock();
}

void mkf_tcache_init(void)
{
    pthread_key_create(&g_key, thread_exit);
    g_membarrier = membarrier_register();
}

/* The table has an entry for every kind slot from the start: it never grows
 * (no reallocation under the registry lock, no address space added as kinds come
 * and go) and, being mapped, costs resident memory only for the pages of the
 * slots the thread uses (128 entries per page). */
static struct mkf_tc_entry *entry_for(struct memkind *kind)
{
    struct mkf_thread_caches *t = mkf_tls_caches;
    if (t == NULL) {
        void *e = mmap(NULL, TABLE_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
        if (e == MAP_FAILED)
            return NULL;
        for (t = g_all_records; t != NULL && t->in_use; t = t->all_next)
            ;
        if (t == NULL) {
            if ((t = calloc(1, sizeof(*t))) == NULL) {
                munmap(e, TABLE_BYTES);
                return NULL;
            }
            t->all_next = g_all_records;
            g_all_records = t;
        }
        /* Field by field: a reused record's `tp` may be read meanwhile. */
        atomic_store_explicit(&t->busy, 0, memory_order_relaxed);
        atomic_store_explicit(&t->stop, 0, memory_order_relaxed);
        atomic_store_explicit(&t->tp, 0, memory_order_relaxed);
        t->used = 0;
        t->in_use = true;
        t->entries = e;
        t->je_tsd = mkf_je_tsd();
        mkf_tls_caches = t;
        pthread_setspecific(g_key, t);
        (void)mkf_thread_caches_install();
    }
    if (kind->partition >= t->used) /* slots are < MEMKIND_MAX_KIND (registry.c) */
        t->used = kind->partition + 1;
    return &t->entries[kind->partition];
}

/* Emptied caches of destroyed kinds, for the next (thread, kind) pair. Destroying
 * a cache (tcache.destroy) frees its memory into jemalloc's arena 0 and purges
 * that arena, and creating one allocates it again: together a large part of a
 * short-lived kind's create + destroy. An explicit cache belongs to no thread and
 * no arena of ours (the arena comes with each request), so an empty one can serve
 * any pair. Under the registry lock; at most MKF_TCACHE_POOL wait. */
#define MKF_TCACHE_POOL 256
static unsigned g_tc_pool[MKF_TCACHE_POOL];
static unsigned g_tc_npool;

static bool pool_take(unsigned *out)
{
    if (g_tc_npool == 0)
        return false;
    *out = g_tc_pool[--g_tc_npool];
    return true;
}

/* Keep `tcache` of a kind being destroyed, emptied without handing its blocks
 * back: the kind's arena is reset next, which frees their slabs wholesale. False
 * when it must be destroyed instead. */
static bool pool_put(unsigned tcache, uint64_t *blocks, uint64_t *bytes)
{
    uint64_t n = 0, b = 0;
    if (g_tc_npool == MKF_TCACHE_POOL || mkf_je_tc_discard(tcache, &n, &b) != 0)
        return false;
    *blocks += n;
    *bytes += b;
    g_tc_pool[g_tc_npool++] = tcache;
    return true;
}

static struct mkf_tc_sel make_sel(unsigned arena, unsigned tcache)
{
    struct mkf_tc_sel sel;
    sel.arena = arena;
    sel.tcache = tcache;
    sel.flags = MKF_MALLOCX_ARENA(arena) | (tcache == MKF_NO_TCACHE
                                                ? MKF_MALLOCX_TCACHE_NONE
                                                : MKF_MALLOCX_TCACHE(tcache));
    return sel;
}

/*
 * A kind's one thread (struct memkind's solo_*; registry lock held). The first
 * thread that gets a cache for the kind claims it: the fast paths then compare the
 * kind's solo_tp with the thread pointer and take the cache and the handshake from
 * the kind, with no table lookup. A second thread ends that (MKF_SOLO_SHARED)
 * until only one thread's cache for the kind is left, whose thread then has the
 * kind again (solo_last). The claim goes when its cache goes: its thread's exit, the
 * kind's caches destroyed (kind destroyed, shared kind in a fork child), a fork
 * child whose thread it is not. A thread pointer is unique among live threads and
 * a claim never outlives its thread, so no other thread ever matches it.
 */
static void solo_claim(struct memkind *kind, const struct mkf_tc_entry *e)
{
    uintptr_t tp = mkf_thread_pointer();
    uintptr_t cur = atomic_load_explicit(&kind->solo_tp, memory_order_relaxed);
    if (!MKF_HAVE_TP || tp == 0 || cur == tp || cur == MKF_SOLO_SHARED ||
        !kind->arena_fastpath)
        return;
    if (cur != 0 || e->tc == NULL || mkf_tls_caches == NULL) {
        atomic_store_explicit(&kind->solo_tp, MKF_SOLO_SHARED, memory_order_relaxed);
        return;
    }
    atomic_store_explicit(&kind->solo_tc, e->tc, memory_order_relaxed);
    atomic_store_explicit(&kind->solo_t, mkf_tls_caches, memory_order_relaxed);
    atomic_store_explicit(&kind->solo_tp, tp, memory_order_release);
}

/* After a thread's cache for `kind` went (registry lock held): when one thread's
 * cache is left, that thread is the kind's one thread again. */
static void solo_last(struct memkind *kind)
{
    const struct mkf_tcache_node *n = kind->tcaches;
    if (!MKF_HAVE_TP || n == NULL || n->next != NULL || n->owner == NULL ||
        !n->owner->in_use || !kind->arena_fastpath)
        return;
    uintptr_t tp = atomic_load_explicit(&n->owner->tp, memory_order_relaxed);
    void *tc = mkf_je_tc_get(n->tcache);
    if (tp == 0 || tc == NULL)
        return;
    atomic_store_explicit(&kind->solo_tc, tc, memory_order_relaxed);
    atomic_store_explicit(&kind->solo_t, n->owner, memory_order_relaxed);
    atomic_store_explicit(&kind->solo_tp, tp, memory_order_release);
}

/* The claim of thread pointer `tp` (0: any) on `kind` ends (registry lock held). */
static void solo_release(struct memkind *kind, uintptr_t tp)
{
    uintptr_t cur = atomic_load_explicit(&kind->solo_tp, memory_order_relaxed);
    if (cur != MKF_SOLO_SHARED && cur != 0 && (tp == 0 || cur == tp))
        atomic_store_explicit(&kind->solo_tp, 0, memory_order_relaxed);
}

struct mkf_tc_sel mkf_tcache_sel_slow(struct memkind *kind)
{
    mkf_registry_lock();
    struct mkf_tc_sel sel = make_sel(kind->arena, MKF_NO_TCACHE);
    if (!mkf_kind_is_live(kind) || kind->arena == UINT32_MAX)
        goto out;
    struct mkf_tc_entry *e = entry_for(kind);
    if (e == NULL)
        goto out; /* no memory for the table: run uncached this time */
    /* Debug mode runs without caches, so that a free block is known as free. */
    struct mkf_tcache_node *node = mkf_debug ? NULL : calloc(1, sizeof(*node));
    unsigned tc;
    bool have = node != NULL && pool_take(&tc); /* pooled caches are set up */
    if (node != NULL && !have && mkf_je_tcache_create(&tc) == 0) {
        mkf_je_tc_setup(tc);
        have = true;
    }
    if (have) {
        node->tcache = tc;
        node->owner = mkf_tls_caches;
        node->prev = NULL;
        node->next = kind->tcaches;
        if (kind->tcaches)
            kind->tcaches->prev = node;
        kind->tcaches = node;
        sel = make_sel(kind->arena, tc);
    } else {
        free(node);
        node = NULL;
    }
    e->gen = kind->gen;
    e->sel = sel;
    e->tc = node != NULL ? mkf_je_tc_get(node->tcache) : NULL;
    e->node = node;
    solo_claim(kind, e);
out:
    mkf_registry_unlock();
    return sel;
}

void mkf_tcache_destroy_kind(struct memkind *kind, uint64_t *blocks, uint64_t *bytes)
{
    solo_release(kind, 0);
    struct mkf_tcache_node *node = kind->tcaches;
    while (node != NULL) {
        struct mkf_tcache_node *next = node->next;
        if (!pool_put(node->tcache, blocks, bytes))
            mkf_je_tcache_destroy(node->tcache);
        free(node);
        node = next;
    }
    kind->tcaches = NULL;
}

void mkf_cache_enter_wait(struct mkf_thread_caches *t)
{
    while (!mkf_cache_enter(t)) {
        /* A reclaim holds the registry lock until it has cleared `stop`. */
        mkf_registry_lock();
        mkf_registry_unlock();
    }
}

void mkf_tcache_flush_all(struct memkind *kind)
{
    struct mkf_thread_caches *me = mkf_tls_caches;
    struct mkf_tcache_node *node;
    bool others = false;
    if (g_membarrier) {
        for (node = kind->tcaches; node != NULL; node = node->next) {
            if (node->owner != me) {
                atomic_store_explicit(&node->owner->stop, 1, memory_order_relaxed);
                others = true;
            }
        }
        if (others &&
            syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0) {
            /* Not ordered: leave the other threads' caches alone. */
            for (node = kind->tcaches; node != NULL; node = node->next)
                if (node->owner != me)
                    atomic_store_explicit(&node->owner->stop, 0, memory_order_release);
            others = false;
        }
    }
    for (node = kind->tcaches; node != NULL; node = node->next) {
        if (node->owner == me) {
            /* Emptied in place: the owner's entry keeps pointing at it. */
            mkf_je_tc_flush(node->tcache);
        } else if (others) {
            /* The owner is between its store to `busy` and its exit: a few
             * instructions, or one refill from the arena. */
            while (atomic_load_explicit(&node->owner->busy, memory_order_acquire))
                sched_yield();
            MKF_TSAN_ACQUIRE(&node->owner->busy);
            mkf_je_tc_flush(node->tcache);
        }
    }
    if (others)
        for (node = kind->tcaches; node != NULL; node = node->next)
            if (node->owner != me)
                atomic_store_explicit(&node->owner->stop, 0, memory_order_release);
}

void mkf_tcache_fork_child(void)
{
    /* The parent's other threads' records name thread pointers that new threads
     * of the child may get: no record is found by its thread pointer until its
     * thread installs it again (ours at its next call). */
    for (unsigned i = 0; i < MKF_TP_SLOTS; i++)
        atomic_store_explicit(&mkf_tp_table[i], NULL, memory_order_relaxed);
    /* ... and their records are free for the child's new threads. */
    for (struct mkf_thread_caches *r = g_all_records; r != NULL; r = r->all_next)
        if (r != mkf_tls_caches && r->in_use)
            record_retire(r);
    /* The child is a new process for membarrier(2). */
    g_membarrier = g_membarrier && membarrier_register();
    /* jemalloc's child handler forgets every explicit cache (pooled ones, this
     * thread's, the other threads') in its arenas' lists but leaves them linked
     * to the parent's list entries; destroying one here would corrupt the lists
     * that "epoch" walks (mkf_tcache_fast.c). Relinked first, before a kind's
     * caches are pooled or destroyed below (mkf_arena_fork_own). */
    mkf_je_tc_postfork_child();
    /* The caches of the parent's other threads: those threads do not exist here,
     * and one of them may have been in the middle of using its cache when the
     * parent forked, so the cache may be inconsistent. They are dropped from the
     * kinds' lists, never flushed: what they held stays allocated in the child. */
    struct mkf_thread_caches *me = mkf_tls_caches;
    uintptr_t my_tp = mkf_thread_pointer();
    for (unsigned i = 0; i < MEMKIND_MAX_KIND; i++) {
        struct memkind *kind = mkf_kind_by_slot(i);
        /* A kind's one thread, if it is not this one, is gone. */
        uintptr_t solo = atomic_load_explicit(&kind->solo_tp, memory_order_relaxed);
        if (solo != my_tp && solo != MKF_SOLO_SHARED)
            atomic_store_explicit(&kind->solo_tp, 0, memory_order_relaxed);
        struct mkf_tcache_node *n = kind->tcaches;
        while (n != NULL) {
            struct mkf_tcache_node *next = n->next;
            if (n->owner != me) {
                unlink_node(kind, n);
                free(n);
            }
            n = next;
        }
    }
    if (me != NULL) {
        atomic_store_explicit(&me->busy, 0, memory_order_relaxed);
        atomic_store_explicit(&me->stop, 0, memory_order_relaxed);
    }
}
