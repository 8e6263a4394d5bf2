/*
 * fork.c - keeping the library's locks consistent across fork().
 *
 * Lock order in normal operation: the registry lock is taken before jemalloc's
 * locks (kind creation calls into jemalloc), and a region map lock after them
 * (jemalloc calls the extent hooks with its locks held). fork() must take them in
 * the same order, so the handlers are registered in two steps around jemalloc's
 * own (pthread_atfork runs "prepare" handlers in reverse order of registration):
 *   registered early (before jemalloc starts): region map locks, prepared last;
 *   jemalloc's handlers (registered when it starts);
 *   registered late: the registry lock and the region table's lock, prepared
 *   first (registry.c).
 * The child keeps all kinds and can allocate and free in them, except fixed kinds
 * whose region is a shared mapping (below).
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static void for_each_fixed(void (*fn)(pthread_mutex_t *))
{
    for (unsigned i = 0; i < MEMKIND_MAX_KIND; i++) {
        struct memkind *kind = mkf_kind_by_slot(i);
        if (kind->state == MKF_KIND_LIVE && kind->fixed && kind->priv != NULL)
            fn(&((struct mkf_fixed *)kind->priv)->lock);
    }
}

static void lock(pthread_mutex_t *m) { pthread_mutex_lock(m); }
static void unlock(pthread_mutex_t *m) { pthread_mutex_unlock(m); }
/* In the child the locks are owned by a thread id that no longer exists: they
 * are made anew instead of unlocked. */
static void reinit(pthread_mutex_t *m) { pthread_mutex_init(m, NULL); }

static void maps_prepare(void) { for_each_fixed(lock); }
static void maps_parent(void) { for_each_fixed(unlock); }
static void maps_child(void) { for_each_fixed(reinit); }


void mkf_fork_register_early(void) { pthread_atfork(maps_prepare, maps_parent, maps_child); }
void mkf_fork_register_late(void)
{
    pthread_atfork(mkf_registry_fork_prepare, mkf_registry_fork_parent,
                   mkf_registry_fork_child);
}

/* ---- fixed kinds on shared mappings ------------------------------------------
 * A fork child gets its own copy of a kind's bookkeeping (jemalloc's arena, the
 * thread caches, the region map), but a MAP_SHARED region is the same bytes in
 * both processes: two heaps would hand out the same blocks. So in the child such
 * a kind refuses to allocate or free (EPERM, MEMKIND_ERROR_SHARED_FORKED) and its
 * hooks neither hand out nor purge pages; destroying it only drops the child's
 * copy of the bookkeeping. The parent is not affected. Private mappings are copied
 * on write and keep working in the child. */

static void *forked_malloc(struct memkind *kind, size_t size)
{
    (void)kind, (void)size;
    errno = EPERM;
    return NULL;
}
static void *forked_calloc(struct memkind *kind, size_t num, size_t size)
{
    (void)num;
    return forked_malloc(kind, size);
}
static int forked_posix_memalign(struct memkind *kind, void **memptr, size_t alignment,
                                 size_t size)
{
    (void)kind, (void)alignment, (void)size;
    if (memptr != NULL)
        *memptr = NULL;
    return EPERM;
}
static void *forked_realloc(struct memkind *kind, void *ptr, size_t size)
{
    (void)ptr;
    return forked_malloc(kind, size);
}
/* The block stays with the parent's heap. Said once on stderr, since free()
 * has no result to carry the error. */
static void forked_free(struct memkind *kind, void *ptr)
{
    static atomic_flag said = ATOMIC_FLAG_INIT;
    if (!atomic_flag_test_and_set(&said))
        fprintf(stderr,
                "memkind-fixed: free(%p) ignored: kind %s lies in a shared mapping "
                "inherited through fork(); only the parent may allocate and free "
                "there\n",
                ptr, kind->name);
    errno = EPERM;
}
static void *forked_mmap(struct memkind *kind, void *addr, size_t size)
{
    (void)kind, (void)addr, (void)size;
    errno = EPERM;
    return MAP_FAILED;
}
static int forked_check_available(struct memkind *kind)
{
    (void)kind;
    return MEMKIND_ERROR_SHARED_FORKED;
}
static int forked_get_stat(memkind_t kind, memkind_stat_type stat, size_t *value)
{
    (void)kind, (void)stat, (void)value;
    return MEMKIND_ERROR_SHARED_FORKED;
}
static void *forked_defrag(struct memkind *kind, void *ptr)
{
    (void)kind, (void)ptr;
    return NULL;
}
static int forked_create(struct memkind *kind, struct memkind_ops *ops, const char *name)
{
    (void)kind, (void)ops, (void)name;
    return MEMKIND_ERROR_SHARED_FORKED;
}

struct memkind_ops mkf_forked_ops = {
    .create = forked_create,
    .destroy = memkind_fixed_destroy,
    .malloc = forked_malloc,
    .calloc = forked_calloc,
    .posix_memalign = forked_posix_memalign,
    .realloc = forked_realloc,
    .free = forked_free,
    .mmap = forked_mmap,
    .check_available = forked_check_available,
    .malloc_usable_size = memkind_default_malloc_usable_size,
    .get_stat = forked_get_stat,
    .defrag_reallocate = forked_defrag,
};

void mkf_fork_child_disable_shared(void)
{
    for (unsigned i = 0; i < MEMKIND_MAX_KIND; i++) {
        struct memkind *kind = mkf_kind_by_slot(i);
        if (kind->state != MKF_KIND_LIVE || !kind->fixed || kind->priv == NULL)
            continue;
        struct mkf_fixed *fx = kind->priv;
        enum mkf_fork_use use = fx->pages->fork_child(fx);
        if (use == MKF_FORK_KEEP)
            continue;
        if (use == MKF_FORK_OWN && mkf_arena_fork_own(kind) == MEMKIND_SUCCESS)
            continue; /* the child takes part in its own right */
        fx->forked = true;
        kind->arena_fastpath = false;
        /* memkind_malloc() tries a kind's one thread before arena_fastpath. */
        atomic_store_explicit(&kind->solo_tp, 0, memory_order_relaxed);
        kind->ops = &mkf_forked_ops;
    }
}

/* Mark the live fixed kinds that have a region on a shared mapping (fx->any_shared).
 * Called by the registry's fork "prepare" handler with the registry lock held,
 * before jemalloc's handlers: it reads /proc/self/maps once for all kinds, with
 * glibc's stdio and malloc, which fork() itself has not locked yet. Checking at
 * fork time rather than at kind creation keeps creation free of a read of
 * /proc/self/maps (tens of microseconds, more in a process with many mappings),
 * and sees the mappings as they are when the child is made. Lines of
 * /proc/self/maps: "start-end perms offset dev inode path", sorted by address,
 * perms[3] 's' for a shared mapping and 'p' for a private one. */
void mkf_fork_mark_shared(void)
{
    bool any_fixed = false;
    for (unsigned i = 0; i < MEMKIND_MAX_KIND && !any_fixed; i++) {
        struct memkind *kind = mkf_kind_by_slot(i);
        any_fixed = kind->state == MKF_KIND_LIVE && kind->fixed && kind->priv != NULL;
    }
    if (!any_fixed)
        return;
    FILE *maps = fopen("/proc/self/maps", "re");
    if (maps == NULL)
        return; /* as if nothing were shared: the child keeps every kind */
    struct span {
        uintptr_t lo, hi;
    } *shared = NULL;
    size_t n = 0, cap = 0;
    char *line = NULL;
    size_t len = 0;
    while (getline(&line, &len, maps) > 0) {
        unsigned long lo, hi;
        char perms[5];
        if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) != 3 || perms[3] != 's')
            continue;
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            struct span *grown = realloc(shared, ncap * sizeof(*shared));
            if (grown == NULL)
                break;
            shared = grown;
            cap = ncap;
        }
        shared[n++] = (struct span){lo, hi};
    }
    free(line);
    fclose(maps);
    for (unsigned i = 0; i < MEMKIND_MAX_KIND; i++) {
        struct memkind *kind = mkf_kind_by_slot(i);
        if (kind->state != MKF_KIND_LIVE || !kind->fixed || kind->priv == NULL)
            continue;
        struct mkf_fixed *fx = kind->priv;
        unsigned nregions = atomic_load_explicit(&fx->nregions, memory_order_acquire);
        bool any = false;
        for (unsigned r = 0; r < nregions && !any; r++)
            for (size_t j = 0; j < n && !any; j++)
                any = shared[j].lo < fx->regions[r].end && shared[j].hi > fx->regions[r].start;
        fx->any_shared = any;
    }
    free(shared);
}
