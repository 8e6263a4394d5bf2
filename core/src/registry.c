/*
 * registry.c - the kinds: storage, creation, destruction, and the table of live
 * regions that maps a pointer to its fixed kind.
 *
 * Kind handles point into one static array and are never freed, so a destroyed
 * handle can be recognised (its state says DEAD) until a newer kind reuses the
 * slot. Slots are handed out round-robin to make that reuse as late as possible.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
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
static pthread_once_t g_init_once = PTHREAD_ONCE_INIT;
static uint64_t g_next_gen = 2;   /* under the registry lock */
static unsigned g_next_slot = 1;  /* under the registry lock */

/* jemalloc arena index -> kind, for pointer lookups of arena kinds. */
#define MKF_ARENA_MAP_SIZE 4096
static _Atomic(struct memkind *) g_arena_kind[MKF_ARENA_MAP_SIZE];

/* Also used in a fork child: the lock is held there by a thread id that no
 * longer exists, so it is made anew rather than unlocked. */
static void registry_lock_init(void)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    /* Recursive: an ops->create may itself allocate from another kind. */
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&g_registry_lock, &attr);
    pthread_mutexattr_destroy(&attr);
}

bool mkf_debug;

static void name_insert(struct memkind *kind);

static void init_once(void)
{
    registry_lock_init();
    const char *debug = getenv("MEMKIND_FIXED_DEBUG");
    mkf_debug = debug != NULL && debug[0] != '\0' && strcmp(debug, "0") != 0;

    /* Fork handlers around jemalloc's own: see fork.c for the order. */
    mkf_fork_register_early();
    mkf_je_init(mkf_debug);
    mkf_fork_register_late();
    mkf_tcache_init();
    for (unsigned i = 0; i < MEMKIND_MAX_KIND; i++) /* the built-in kinds */
        if (g_kinds[i].state == MKF_KIND_LIVE)
            name_insert(&g_kinds[i]);
}

void mkf_init(void) { pthread_once(&g_init_once, init_once); }

/* At load time, so that our fork handlers are registered around jemalloc's even
 * when the first call of the program goes straight to the default kind. */
__attribute__((constructor)) static void init_at_load(void) { mkf_init(); }
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

static bool ops_valid(const struct memkind_ops *ops)
{
    return ops->create && ops->destroy && ops->malloc && ops->calloc &&
           ops->posix_memalign && ops->realloc && ops->free && !ops->init_once;
}

/* The live kinds by name: chains of a hash table, under the registry lock, so that
 * a kind's creation does not compare its name with every slot. */
#define MKF_NAME_BUCKETS 1024
static struct memkind *g_names[MKF_NAME_BUCKETS];

static struct memkind **name_bucket(const char *name)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        h = (h ^ *c) * 16777619u;
    return &g_names[h % MKF_NAME_BUCKETS];
}

static void name_insert(struct memkind *kind)
{
    struct memkind **b = name_bucket(kind->name);
    kind->name_next = *b;
    *b = kind;
}

static void name_remove(struct memkind *kind)
{
    for (struct memkind **p = name_bucket(kind->name); *p != NULL; p = &(*p)->name_next) {
        if (*p == kind) {
            *p = kind->name_next;
            break;
        }
    }
    kind->name_next = NULL;
}

static bool name_in_use(const char *name)
{
    for (struct memkind *k = *name_bucket(name); k != NULL; k = k->name_next)
        if (strcmp(k->name, name) == 0)
            return true;
    return false;
}

static struct memkind *take_slot(void)
{
    for (unsigned n = 0; n < MEMKIND_MAX_KIND - 1; n++) {
        unsigned i = 1 + (g_next_slot - 1 + n) % (MEMKIND_MAX_KIND - 1);
        if (g_kinds[i].state != MKF_KIND_LIVE) {
            g_next_slot = i + 1 >= MEMKIND_MAX_KIND ? 1 : i + 1;
            return &g_kinds[i];
        }
    }
    return NULL;
}

/* "<prefix><n>" with the first n from a process-wide counter that no live kind
 * has as its name (registry lock held). */
static void generate_name(const char *prefix, char *out)
{
    static uint64_t counter;
    do
        snprintf(out, MEMKIND_NAME_LENGTH, "%s%llu", prefix, (unsigned long long)counter++);
    while (name_in_use(out));
}

int mkf_kind_create(struct memkind_ops *ops, const char *name, bool generate,
                    void *addr, size_t size, unsigned flags, memkind_t *out)
{
    if (ops == NULL || name == NULL || out == NULL)
        return MEMKIND_ERROR_INVALID;
    if (!ops_valid(ops))
        return MEMKIND_ERROR_BADOPS;
    if (strnlen(name, MEMKIND_NAME_LENGTH) >= MEMKIND_NAME_LENGTH)
        return MEMKIND_ERROR_INVALID;
    mkf_init();

    mkf_registry_lock();
    int err = MEMKIND_SUCCESS;
    struct memkind *kind = NULL;
    char generated[MEMKIND_NAME_LENGTH];
    if (generate) {
        generate_name(name, generated);
        name = generated;
    } else if (name_in_use(name)) {
        err = MEMKIND_ERROR_INVALID;
        goto out;
    }
    kind = take_slot();
    if (kind == NULL) {
        err = MEMKIND_ERROR_TOOMANY;
        goto out;
    }
    enum mkf_kind_state before = kind->state;
    unsigned slot = (unsigned)(kind - g_kinds);
    memset(kind, 0, sizeof(*kind));
    kind->ops = ops;
    kind->partition = slot;
    strcpy(kind->name, name);
    kind->init_once = (pthread_once_t)PTHREAD_ONCE_INIT;
    kind->arena = UINT32_MAX;
    kind->gen = g_next_gen++;
    kind->state = MKF_KIND_LIVE;
    name_insert(kind);
    kind->pending_addr = addr;
    kind->pending_size = size;
    kind->pending_flags = flags;

    kind->arena_fastpath = ops->malloc == memkind_arena_malloc && ops->free == memkind_arena_free;
    err = ops->create(kind, ops, name);
    kind->pending_addr = NULL;
    kind->pending_size = 0;
    if (err != MEMKIND_SUCCESS) {
        memkind_arena_destroy(kind);
        name_remove(kind);
        kind->state = before == MKF_KIND_DEAD ? MKF_KIND_DEAD : MKF_KIND_FREE;
        kind->ops = &mkf_dead_ops;
        kind->arena_fastpath = false;
        kind->gen = g_next_gen++;
        kind->name[0] = '\0';
        goto out;
    }
    *out = kind;
out:
    mkf_registry_unlock();
    return err;
}

uint64_t mkf_kind_new_gen(void) { return g_next_gen++; }

MKF_EXPORT int memkind_create(struct memkind_ops *ops, const char *name, memkind_t *kind)
{
    return mkf_kind_create(ops, name, false, NULL, 0, 0, kind);
}

MKF_EXPORT int memkind_destroy_kind(memkind_t kind)
{
    if (kind == NULL || !mkf_kind_is_handle(kind) || kind->builtin)
        return MEMKIND_ERROR_INVALID;
    mkf_init();
    mkf_registry_lock();
    int err = MEMKIND_SUCCESS;
    if (kind->state != MKF_KIND_LIVE) {
        err = MEMKIND_ERROR_DESTROYED;
        goto out;
    }
    err = kind->ops->destroy(kind);
    if (err != MEMKIND_SUCCESS)
        goto out;
    /* Whatever an ops table left behind: thread caches, the arena. */
    memkind_arena_destroy(kind);
    mkf_region_table_remove_kind(kind);
    kind->ops = &mkf_dead_ops;
    kind->arena_fastpath = false;
    atomic_store_explicit(&kind->solo_tp, 0, memory_order_relaxed);
    kind->priv = NULL;
    kind->gen = g_next_gen++;
    name_remove(kind);
    kind->state = MKF_KIND_DEAD;
    kind->name[0] = '\0';
out:
    mkf_registry_unlock();
    return err;
}

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

/* fork(): the registry lock and the table lock, in their normal order. */
void mkf_registry_fork_prepare(void)
{
    mkf_registry_lock();
    mkf_fork_mark_shared();
    pthread_rwlock_wrlock(&g_table_lock);
}

void mkf_registry_fork_parent(void)
{
    pthread_rwlock_unlock(&g_table_lock);
    mkf_registry_unlock();
}

void mkf_registry_fork_child(void)
{
    pthread_rwlock_init(&g_table_lock, NULL);
    registry_lock_init();
    mkf_tcache_fork_child();
    mkf_fork_child_disable_shared();
}

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
