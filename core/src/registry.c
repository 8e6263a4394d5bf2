/*
 * registry.c - the kinds: the library's start, their creation (names, slots)
 * and destruction, and the registry's part in fork(). The table the kinds live in
 * (handles, arena and region lookups, the registry lock) is kind_table.c, a layer
 * below, which the heap engine and the page sources use too.
 *
 * Slots are handed out round-robin to make the reuse of a destroyed kind's
 * handle as late as possible.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t g_init_once = PTHREAD_ONCE_INIT;
static unsigned g_next_slot = 1;  /* under the registry lock */

bool mkf_debug;

static void name_insert(struct memkind *kind);

static void init_once(void)
{
    mkf_registry_lock_init();
    const char *debug = getenv("MEMKIND_FIXED_DEBUG");
    mkf_debug = debug != NULL && debug[0] != '\0' && strcmp(debug, "0") != 0;

    /* Fork handlers around jemalloc's own: see fork.c for the order. */
    mkf_fork_register_early();
    mkf_je_init(mkf_debug);
    mkf_fork_register_late();
    mkf_tcache_init();
    for (unsigned i = 0; i < MEMKIND_MAX_KIND; i++) /* the built-in kinds */
        if (mkf_kind_by_slot(i)->state == MKF_KIND_LIVE)
            name_insert(mkf_kind_by_slot(i));
}

void mkf_init(void) { pthread_once(&g_init_once, init_once); }

/* At load time, so that our fork handlers are registered around jemalloc's even
 * when the first call of the program goes straight to the default kind. */
__attribute__((constructor)) static void init_at_load(void) { mkf_init(); }
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
        if (mkf_kind_by_slot(i)->state != MKF_KIND_LIVE) {
            g_next_slot = i + 1 >= MEMKIND_MAX_KIND ? 1 : i + 1;
            return mkf_kind_by_slot(i);
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
    unsigned slot = (unsigned)(kind - mkf_kind_by_slot(0));
    memset(kind, 0, sizeof(*kind));
    kind->ops = ops;
    kind->partition = slot;
    strcpy(kind->name, name);
    kind->init_once = (pthread_once_t)PTHREAD_ONCE_INIT;
    kind->arena = UINT32_MAX;
    kind->gen = mkf_kind_new_gen();
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
        kind->gen = mkf_kind_new_gen();
        kind->name[0] = '\0';
        goto out;
    }
    *out = kind;
out:
    mkf_registry_unlock();
    return err;
}


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
    kind->gen = mkf_kind_new_gen();
    name_remove(kind);
    kind->state = MKF_KIND_DEAD;
    kind->name[0] = '\0';
out:
    mkf_registry_unlock();
    return err;
}

/* fork(): the registry lock and the table lock, in their normal order. */
void mkf_registry_fork_prepare(void)
{
    mkf_registry_lock();
    mkf_fork_mark_shared();
    mkf_region_table_fork_prepare();
}

void mkf_registry_fork_parent(void)
{
    mkf_region_table_fork_parent();
    mkf_registry_unlock();
}

void mkf_registry_fork_child(void)
{
    mkf_region_table_fork_child();
    mkf_registry_lock_init();
    mkf_tcache_fork_child();
    mkf_fork_child_disable_shared();
}

