/*
 * kind_table.c - the table of kinds and regions that every layer looks things up
 * in: kind handles, which point into one static array and are never freed (so a
 * destroyed handle is recognised, its state says DEAD, until a newer kind reuses
 * the slot), the jemalloc arena -> kind map, the live regions -> kind table, kind
 * generations, and the registry lock that guards them. It calls nothing above it
 * (docs/design.md, "Layers"); creating and destroying kinds is registry.c's.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* Slot 0 is the built-in default kind. */
static struct memkind g_kinds[MEMKIND_MAX_KIND] = {
    [0] = {
        .ops = &MEMKIND_DEFAULT_OPS,
        .partition = 0,
        .name = "memkind_default",
        .init_once = PTHREAD_ONCE_INIT,
        .arena = UINT32_MAX,
        .gen = 1,
        .state = MKF_KIND_LIVE,
        .builtin = true,
    },
};

MKF_EXPORT memkind_t MEMKIND_DEFAULT = &g_kinds[0];

static pthread_mutex_t g_registry_lock;
static uint64_t g_next_gen = 2; /* under the registry lock */

/* jemalloc arena index -> kind, for pointer lookups of arena kinds. */
#define MKF_ARENA_MAP_SIZE 4096
static _Atomic(struct memkind *) g_arena_kind[MKF_ARENA_MAP_SIZE];

/* Also used in a fork child: the lock is held there by a thread id that no
 * longer exists, so it is made anew rather than unlocked. */
void mkf_registry_lock_init(void)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    /* Recursive: an ops->create may itself allocate from another kind. */
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&g_registry_lock, &attr);
    pthread_mutexattr_destroy(&attr);
}

void mkf_registry_lock(void) { pthread_mutex_lock(&g_registry_lock); }
void mkf_registry_unlock(void) { pthread_mutex_unlock(&g_registry_lock); }

bool mkf_kind_is_handle(const struct memkind *kind)
{
    uintptr_t p = (uintptr_t)kind, lo = (uintptr_t)&g_kinds[0],
              hi = (uintptr_t)&g_kinds[MEMKIND_MAX_KIND];
    return p >= lo && p < hi && (p - lo) % sizeof(struct memkind) == 0;
}

bool mkf_kind_is_live(const struct memkind *kind)
{
    return kind != NULL && mkf_kind_is_handle(kind) && kind->state == MKF_KIND_LIVE;
}

struct memkind *mkf_kind_by_slot(unsigned slot)
{
    return slot < MEMKIND_MAX_KIND ? &g_kinds[slot] : NULL;
}

struct memkind *mkf_kind_by_arena(unsigned arena)
{
    if (arena >= MKF_ARENA_MAP_SIZE)
        return NULL;
    return atomic_load_explicit(&g_arena_kind[arena], memory_order_acquire);
}

void mkf_kind_set_arena(struct memkind *kind, unsigned arena)
{
    if (kind->arena < MKF_ARENA_MAP_SIZE)
        atomic_store_explicit(&g_arena_kind[kind->arena], NULL, memory_order_release);
    kind->arena = arena;
    if (arena < MKF_ARENA_MAP_SIZE)
        atomic_store_explicit(&g_arena_kind[arena], kind, memory_order_release);
}

uint64_t mkf_kind_new_gen(void) { return g_next_gen++; }

/* ---- the region table ---------------------------------------------------- */

struct table_entry {
    uintptr_t start, end;
    struct memkind *kind;
};

static pthread_rwlock_t g_table_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct table_entry *g_table;
static size_t g_table_len, g_table_cap;

/* Index of the first entry whose end is above `addr`. */
static size_t table_search(uintptr_t addr)
{
    size_t lo = 0, hi = g_table_len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (g_table[mid].end <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int mkf_region_table_insert(uintptr_t start, uintptr_t end, struct memkind *kind)
{
    pthread_rwlock_wrlock(&g_table_lock);
    int err = MEMKIND_SUCCESS;
    size_t i = table_search(start);
    if (i < g_table_len && g_table[i].start < end) {
        err = MEMKIND_ERROR_REGION_OVERLAP;
        goto out;
    }
    if (g_table_len == g_table_cap) {
        size_t cap = g_table_cap ? 2 * g_table_cap : 64;
        struct table_entry *t = realloc(g_table, cap * sizeof(*t));
        if (t == NULL) {
            err = MEMKIND_ERROR_MALLOC;
            goto out;
        }
        g_table = t;
        g_table_cap = cap;
    }
    memmove(&g_table[i + 1], &g_table[i], (g_table_len - i) * sizeof(*g_table));
    g_table[i] = (struct table_entry){start, end, kind};
    g_table_len++;
out:
    pthread_rwlock_unlock(&g_table_lock);
    return err;
}

void mkf_region_table_remove_kind(struct memkind *kind)
{
    pthread_rwlock_wrlock(&g_table_lock);
    size_t j = 0;
    for (size_t i = 0; i < g_table_len; i++) {
        if (g_table[i].kind != kind)
            g_table[j++] = g_table[i];
    }
    g_table_len = j;
    pthread_rwlock_unlock(&g_table_lock);
}

/* fork(): the table lock after the registry lock (registry.c), and made anew in
 * the child. */
void mkf_region_table_fork_prepare(void) { pthread_rwlock_wrlock(&g_table_lock); }
void mkf_region_table_fork_parent(void) { pthread_rwlock_unlock(&g_table_lock); }
void mkf_region_table_fork_child(void) { pthread_rwlock_init(&g_table_lock, NULL); }

struct memkind *mkf_region_table_lookup(const void *ptr)
{
    uintptr_t p = (uintptr_t)ptr;
    struct memkind *kind = NULL;
    pthread_rwlock_rdlock(&g_table_lock);
    size_t i = table_search(p);
    if (i < g_table_len && g_table[i].start <= p)
        kind = g_table[i].kind;
    pthread_rwlock_unlock(&g_table_lock);
    return kind;
}
