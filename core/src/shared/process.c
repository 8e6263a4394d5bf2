/*
 * shared/process.c - the processes of a shared heap: their slots (and how a dead
 * one is told from a live one, which gives its parked large block back), and the
 * frees of small blocks that reach a block's owner through its queue in the
 * segment.
 */
#include "shm.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), 0 when
 * the process does not exist or is a zombie (it died and awaits its wait()). */
uint64_t mkf_shm_start_time(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name (field 2) may hold spaces and parentheses: fields are
     * counted from the last ')'. */
    char *p = strrchr(buf, ')');
    if (p == NULL || p[1] != ' ')
        return 0;
    char state = p[2];
    if (state == 'Z' || state == 'X' || state == 'x')
        return 0;
    p += 2;
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (p == NULL)
            return 0;
        p++;
    }
    return strtoull(p, NULL, 10);
}

bool mkf_shm_slot_alive(struct mkf_shm *s, unsigned slot)
{
    struct mkf_shm_slot *sl = &s->h->slots[slot];
    if (atomic_load_explicit(&sl->state, memory_order_acquire) != SLOT_LIVE)
        return false;
    if (sl->pid == getpid())
        return true; /* this process, in one attachment or another */
    if (kill(sl->pid, 0) != 0 && errno == ESRCH)
        return false;
    uint64_t st = mkf_shm_start_time(sl->pid);
    return st != 0 && st == sl->start_time;
}

/* A process found dead gives back at once what was free in its hands: its parked
 * large block. A slot left with no page then holds nothing anyone can reach (no
 * slab for remote frees, no large block) and is free again. */
void mkf_shm_mark_dead(struct mkf_shm *s)
{
    for (unsigned i = 0; i < MKF_SHM_SLOTS; i++) {
        struct mkf_shm_slot *sl = &s->h->slots[i];
        if (atomic_load_explicit(&sl->state, memory_order_relaxed) != SLOT_LIVE ||
            mkf_shm_slot_alive(s, i))
            continue;
        atomic_store_explicit(&sl->state, SLOT_DEAD, memory_order_release);
        (void)mkf_shm_give_parked(s, i);
        if (sl->pages == 0) {
            atomic_store_explicit(&sl->remote_head, 0, memory_order_relaxed);
            atomic_store_explicit(&sl->state, SLOT_FREE, memory_order_release);
        }
    }
}

int mkf_shm_take_slot(struct mkf_shm *s)
{
    mkf_shm_mark_dead(s);
    for (unsigned i = 0; i < MKF_SHM_SLOTS; i++) {
        struct mkf_shm_slot *sl = &s->h->slots[i];
        if (atomic_load_explicit(&sl->state, memory_order_relaxed) != SLOT_FREE)
            continue;
        sl->pid = getpid();
        sl->start_time = mkf_shm_start_time(sl->pid);
        sl->gen++;
        atomic_store_explicit(&sl->remote_head, 0, memory_order_relaxed);
        atomic_store_explicit(&sl->remote_frees, 0, memory_order_relaxed);
        atomic_store_explicit(&sl->parked, 0, memory_order_relaxed); /* a free slot has no page */
        atomic_store_explicit(&sl->state, SLOT_LIVE, memory_order_release);
        s->slot = i;
        return MEMKIND_SUCCESS;
    }
    return MEMKIND_ERROR_SHARED_FULL;
}

/* ---- remote frees -------------------------------------------------------------------
 * A small block lives in a slab of the process that allocated it, and only that
 * process's jemalloc can free it. Another process pushes the block's offset onto
 * the owner's stack (the link goes in the freed block's first 8 bytes); the owner
 * takes the whole stack with one exchange on its slow paths (shared_malloc, purge,
 * before ENOMEM, detach) and frees the blocks into its own arena. Pushes use CAS and
 * the owner only ever takes everything, so there is no ABA problem. A pusher that
 * dies between writing the link and the CAS loses that one block (it stays
 * allocated in its owner's slab until the owner detaches or is reclaimed). */

void mkf_shm_remote_free(struct mkf_fixed *fx, void *ptr)
{
    struct mkf_shm *s = fx->shm;
    int owner = mkf_shm_slab_owner(fx, ptr);
    if (owner < 0 || (unsigned)owner == s->slot)
        return; /* not a small block of any process: ignored, as a foreign pointer */
    struct mkf_shm_slot *sl = &s->h->slots[owner];
    /* A dead owner's slab pages come back whole with memkind_shared_reclaim(); the
     * free still counts. */
    atomic_fetch_add_explicit(&sl->remote_frees, 1, memory_order_relaxed);
    uint64_t off = (uintptr_t)ptr - (uintptr_t)s->h;
    _Atomic uint64_t *link = (_Atomic uint64_t *)ptr;
    uint64_t head = atomic_load_explicit(&sl->remote_head, memory_order_relaxed);
    do {
        atomic_store_explicit(link, head, memory_order_relaxed);
    } while (!atomic_compare_exchange_weak_explicit(&sl->remote_head, &head, off,
                                                    memory_order_release,
                                                    memory_order_relaxed));
}

bool mkf_shm_remote_pending(struct mkf_fixed *fx)
{
    struct mkf_shm *s = fx->shm;
    return atomic_load_explicit(&s->h->slots[s->slot].remote_head, memory_order_relaxed) != 0;
}

void mkf_shm_drain(struct memkind *kind)
{
    struct mkf_fixed *fx = kind->priv;
    struct mkf_shm *s = fx->shm;
    if (s->orphan)
        return;
    uint64_t off = atomic_exchange_explicit(&s->h->slots[s->slot].remote_head, 0,
                                            memory_order_acquire);
    uint64_t limit = (s->data - (uintptr_t)s->h) + s->npages * s->page;
    while (off != 0 && off < limit) {
        void *ptr = (char *)s->h + off;
        off = atomic_load_explicit((_Atomic uint64_t *)ptr, memory_order_relaxed);
        /* Only blocks our jemalloc knows: a stale push (a block freed by another
         * process after its owner's slot was reclaimed and taken again) is
         * dropped instead of corrupting the arena. */
        unsigned arena;
        if (mkf_je_arena_lookup(ptr, &arena) == 0 && arena == kind->arena)
            mkf_arena_free_fast(kind, ptr);
    }
}
