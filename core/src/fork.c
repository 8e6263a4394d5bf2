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
 * The child keeps all kinds and can allocate and free in them.
 */
#include "internal.h"

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
