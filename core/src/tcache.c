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
 */
#include "internal.h"

#include <stdlib.h>
#include <sys/mman.h>

#define TABLE_BYTES (MEMKIND_MAX_KIND * sizeof(struct mkf_tc_entry))

struct mkf_tcache_node {
    struct mkf_tcache_node *prev, *next; /* in the kind's list */
    unsigned tcache;
};

__thread struct mkf_thread_caches *mkf_tls_caches;
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
        unlink_node(kind, e->node);
        mkf_je_tcache_destroy(e->node->tcache);
        free(e->node);
    }
    mkf_registry_unlock();
    if (mkf_tls_caches == t)
        mkf_tls_caches = NULL;
    munmap(t->entries, TABLE_BYTES);
    free(t);
}

void mkf_tcache_init(void) { pthread_key_create(&g_key, thread_exit); }

/* The table has an entry for every kind slot from the start: it never grows
 * (no reallocation under the registry lock, no address space added as kinds come
 * and go) and, being mapped, costs resident memory only for the pages of the
 * slots the thread uses (128 entries per page). */
static struct mkf_tc_entry *entry_for(struct memkind *kind)
{
    struct mkf_thread_caches *t = mkf_tls_caches;
    if (t == NULL) {
        t = calloc(1, sizeof(*t));
        if (t == NULL)
            return NULL;
        void *e = mmap(NULL, TABLE_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
        if (e == MAP_FAILED) {
            free(t);
            return NULL;
        }
        t->entries = e;
        mkf_tls_caches = t;
        pthread_setspecific(g_key, t);
    }
    if (kind->partition >= t->used) /* slots are < MEMKIND_MAX_KIND (registry.c) */
        t->used = kind->partition + 1;
    return &t->entries[kind->partition];
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

struct mkf_tc_sel mkf_tcache_sel_slow(struct memkind *kind)
{
    mkf_init();
    mkf_registry_lock();
    struct mkf_tc_sel sel = make_sel(kind->arena, MKF_NO_TCACHE);
    if (!mkf_kind_is_live(kind) || kind->arena == UINT32_MAX)
        goto out;
    struct mkf_tc_entry *e = entry_for(kind);
    if (e == NULL)
        goto out; /* no memory for the table: run uncached this time */
    /* Debug mode runs without caches, so that a free block is known as free. */
    struct mkf_tcache_node *node = mkf_debug ? NULL : malloc(sizeof(*node));
    unsigned tc;
    if (node != NULL && mkf_je_tcache_create(&tc) == 0) {
        node->tcache = tc;
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
    e->node = node;
out:
    mkf_registry_unlock();
    return sel;
}

void mkf_tcache_destroy_kind(struct memkind *kind)
{
    struct mkf_tcache_node *node = kind->tcaches;
    while (node != NULL) {
        struct mkf_tcache_node *next = node->next;
        mkf_je_tcache_destroy(node->tcache);
        free(node);
        node = next;
    }
    kind->tcaches = NULL;
}

void mkf_tcache_flush_mine(struct memkind *kind)
{
    struct mkf_thread_caches *t = mkf_tls_caches;
    if (t == NULL)
        return;
    struct mkf_tc_entry *e = &t->entries[kind->partition];
    if (e->gen == kind->gen && e->node != NULL)
        mkf_je_tcache_flush(e->node->tcache);
}
