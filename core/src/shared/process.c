/*
 * shared/process.c - the processes of a shared heap: their slots (and how a dead
 * one is told from a live one, by a lock the kernel drops at its death), and the
 * frees of small blocks that reach a block's owner through its queue in the
 * segment.
 */
#include "shm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- liveness -----------------------------------------------------------------------
 * A process tells the others that it lives by holding an open file description
 * (OFD) lock on one byte of the segment's file per slot (layout.h). The kernel
 * keeps the lock while the description is open and drops it when the process
 * dies, whatever the way; asking whether a lock is held (F_OFD_GETLK) needs no
 * descriptor, no /proc and no pid, so a process with no descriptor left, or
 * under hidepid, decides exactly as any other. Where nothing can be decided
 * (the question fails, or this attachment shares its description with another
 * holder), the answer is "alive": data is kept, never freed on a guess.
 *
 * OFD locks, not fcntl's classic process-owned locks: those go whenever the
 * process closes any descriptor of the file (a user's own copy of a memfd
 * included), and a fork child does not inherit them. An OFD lock belongs to
 * the description, so each attachment needs a description of its own: create
 * and attach by name open one; attach by descriptor and a fork child reopen
 * theirs (reopen_own). */

static int lock_cmd(int fd, int cmd, short type, unsigned slot, struct flock *fl)
{
    memset(fl, 0, sizeof(*fl));
    fl->l_type = type;
    fl->l_whence = SEEK_SET;
    fl->l_start = (off_t)MKF_SHM_LIVENESS_BYTE(slot);
    fl->l_len = 1;
    return fcntl(fd, cmd, fl);
}

/* Test hook: MKF_SHARED_TEST_NO_PROC=1 makes /proc look unreadable. */
static bool proc_usable(void) { return getenv("MKF_SHARED_TEST_NO_PROC") == NULL; }

int mkf_shm_reopen_own(int fd, const char *name)
{
    struct stat want, got;
    if (fstat(fd, &want) != 0)
        return -1;
    int nfd = -1;
    if (proc_usable()) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        nfd = open(path, O_RDWR | O_CLOEXEC);
    }
    if (nfd < 0 && name != NULL)
        nfd = shm_open(name, O_RDWR | O_CLOEXEC, 0);
    if (nfd >= 0 && (fstat(nfd, &got) != 0 || got.st_dev != want.st_dev ||
                     got.st_ino != want.st_ino)) {
        close(nfd); /* the name now names another segment */
        nfd = -1;
    }
    return nfd;
}

bool mkf_shm_slot_alive(struct mkf_shm *s, unsigned slot)
{
    struct mkf_shm_slot *sl = &s->h->slots[slot];
    if (atomic_load_explicit(&sl->state, memory_order_acquire) != SLOT_LIVE)
        return false;
    if (slot == s->slot)
        return true; /* this attachment */
    if (sl->liveness != LIVENESS_LOCK)
        return true; /* nobody can tell */
    struct flock fl;
    if (lock_cmd(s->fd, F_OFD_GETLK, F_WRLCK, slot, &fl) != 0)
        return true; /* cannot tell */
    /* No other description holds it: the holder is gone, unless it is our own
     * description (then nothing can be told either). */
    return fl.l_type != F_UNLCK || !s->own_ofd;
}

/* A slot whose process is gone and which holds no page is free again, whoever
 * gave its last page back (lock held). */
void mkf_shm_settle(struct mkf_shm *s, unsigned slot)
{
    struct mkf_shm_slot *sl = &s->h->slots[slot];
    if (atomic_load_explicit(&sl->state, memory_order_relaxed) != SLOT_DEAD || sl->pages != 0)
        return;
    atomic_store_explicit(&sl->parked, 0, memory_order_relaxed);
    atomic_store_explicit(&sl->remote_head, 0, memory_order_relaxed);
    atomic_store_explicit(&sl->state, SLOT_FREE, memory_order_release);
}

/* A process found dead gives back at once what was free in its hands: its parked
 * large block. A slot left with no page then holds nothing anyone can reach (no
 * slab for remote frees, no large block) and is free again. */
void mkf_shm_mark_dead(struct mkf_shm *s)
{
    for (unsigned i = 0; i < MKF_SHM_SLOTS; i++) {
        struct mkf_shm_slot *sl = &s->h->slots[i];
        unsigned st = atomic_load_explicit(&sl->state, memory_order_relaxed);
        if (st == SLOT_DEAD) {
            mkf_shm_settle(s, i);
            continue;
        }
        if (st != SLOT_LIVE || mkf_shm_slot_alive(s, i))
            continue;
        atomic_store_explicit(&sl->state, SLOT_DEAD, memory_order_release);
        (void)mkf_shm_give_parked(s, i);
        mkf_shm_settle(s, i);
    }
}

size_t mkf_shm_reclaim_dead(struct mkf_shm *s)
{
    size_t pages = 0;
    mkf_shm_mark_dead(s);
    for (unsigned i = 0; i < MKF_SHM_SLOTS; i++) {
        struct mkf_shm_slot *sl = &s->h->slots[i];
        if (atomic_load_explicit(&sl->state, memory_order_relaxed) != SLOT_DEAD)
            continue;
        pages += mkf_shm_free_slot_pages(s, i);
        sl->pages = sl->large_pages = 0; /* whatever a damaged map said */
        mkf_shm_settle(s, i);
    }
    return pages;
}

static int take_free_slot(struct mkf_shm *s)
{
    for (unsigned i = 0; i < MKF_SHM_SLOTS; i++) {
        struct mkf_shm_slot *sl = &s->h->slots[i];
        if (atomic_load_explicit(&sl->state, memory_order_relaxed) != SLOT_FREE)
            continue;
        uint32_t liveness = LIVENESS_NONE;
        if (s->own_ofd) {
            struct flock fl;
            if (lock_cmd(s->fd, F_OFD_SETLK, F_WRLCK, i, &fl) == 0)
                liveness = LIVENESS_LOCK;
            else if (errno == EAGAIN || errno == EACCES)
                continue; /* someone still holds this slot: a damaged state word */
        }
        sl->pid = getpid();
        sl->liveness = liveness;
        sl->gen++;
        sl->pages = sl->large_pages = 0;
        atomic_store_explicit(&sl->remote_head, 0, memory_order_relaxed);
        atomic_store_explicit(&sl->remote_frees, 0, memory_order_relaxed);
        atomic_store_explicit(&sl->parked, 0, memory_order_relaxed); /* a free slot has no page */
        atomic_store_explicit(&sl->state, SLOT_LIVE, memory_order_release);
        s->slot = i;
        return MEMKIND_SUCCESS;
    }
    return MEMKIND_ERROR_SHARED_FULL;
}

int mkf_shm_take_slot(struct mkf_shm *s)
{
    mkf_shm_mark_dead(s);
    if (take_free_slot(s) == MEMKIND_SUCCESS)
        return MEMKIND_SUCCESS;
    /* Every slot taken: the dead ones' blocks are garbage now, as after
     * memkind_shared_reclaim(), which this process could not call without a slot. */
    (void)mkf_shm_reclaim_dead(s);
    return take_free_slot(s);
}

void mkf_shm_leave_slot(struct mkf_shm *s)
{
    if (s->slot >= MKF_SHM_SLOTS)
        return;
    struct mkf_shm_slot *sl = &s->h->slots[s->slot];
    sl->pid = 0;
    atomic_store_explicit(&sl->state, sl->pages == 0 ? SLOT_FREE : SLOT_DEAD,
                          memory_order_release);
    if (sl->liveness == LIVENESS_LOCK) {
        struct flock fl;
        (void)lock_cmd(s->fd, F_OFD_SETLK, F_UNLCK, s->slot, &fl);
    }
    s->slot = MKF_SHM_NO_SLOT;
}

/* ---- remote frees -------------------------------------------------------------------
 * A small block lives in a slab of the process that allocated it, and only that
 * process's jemalloc can free it. Another process pushes the block's offset onto
 * the owner's stack (the link goes in the freed block's first 8 bytes); the owner
 * takes the whole stack with one exchange on its slow paths (a cache miss, calloc,
 * posix_memalign, realloc, purge, before ENOMEM, detach) and frees the blocks into its own arena. Pushes use CAS and
 * the owner only ever takes everything, so there is no ABA problem. A pusher that
 * dies between writing the link and the CAS loses that one block (it stays
 * allocated in its owner's slab until the owner detaches or is reclaimed). */

bool mkf_shm_remote_free(struct mkf_fixed *fx, void *ptr)
{
    struct mkf_shm *s = mkf_shm_of(fx);
    int owner = mkf_shm_slab_owner(fx, ptr);
    if (owner < 0 || (unsigned)owner == s->slot)
        return false; /* ours, or no small block of any process */
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
    return true;
}

bool mkf_shm_remote_pending(struct mkf_fixed *fx)
{
    struct mkf_shm *s = mkf_shm_of(fx);
    return !s->orphan &&
           atomic_load_explicit(&s->h->slots[s->slot].remote_head, memory_order_relaxed) != 0;
}

void mkf_shm_drain(struct memkind *kind)
{
    struct mkf_fixed *fx = kind->priv;
    struct mkf_shm *s = mkf_shm_of(fx);
    if (s->orphan)
        return;
    uint64_t off = atomic_exchange_explicit(&s->h->slots[s->slot].remote_head, 0,
                                            memory_order_acquire);
    /* The stack is written by other processes: each link must name an aligned
     * word of a slab of ours before it is read, and a cycle ends after as many
     * links as the heap could hold blocks. */
    uint64_t data_off = s->data - (uintptr_t)s->h;
    uint64_t limit = data_off + s->npages * s->page;
    for (uint64_t n = 0; off != 0 && n < s->npages * (s->page / 16); n++) {
        if (off < data_off || off > limit - 16 || off % 16 != 0 ||
            mkf_shm_slab_owner(fx, (char *)s->h + off) != (int)s->slot)
            break;
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

/* ---- fork ---------------------------------------------------------------------------
 * The child maps the same heap as the parent, which keeps its own slot, arena and
 * blocks: the child takes part in its own right (MKF_FORK_OWN: fork.c gives it
 * a new arena), with a slot taken at its first allocation, not here (a child
 * that only execs holds none), and an open file description of its own, so that
 * the parent's liveness lock is the parent's alone. Without one (no /proc, no
 * name) it judges nobody dead and its slot counts as alive until it detaches. */
enum mkf_fork_use mkf_shm_fork_child(struct mkf_fixed *fx)
{
    struct mkf_shm *s = mkf_shm_of(fx);
    bool was_orphan = s->orphan && s->slot != MKF_SHM_NO_SLOT;
    s->orphan = true;
    s->slot = MKF_SHM_NO_SLOT; /* the parent's slot is the parent's */
    if (was_orphan)
        return MKF_FORK_NONE; /* detached: nothing to take part in */
    int own = mkf_shm_reopen_own(s->fd, s->name);
    /* Under the same number (memkind_shared_fd() taken before the fork stays
     * right), which lets the parent's description go in this process. */
    s->own_ofd = own >= 0 && dup3(own, s->fd, O_CLOEXEC) == s->fd;
    if (own >= 0)
        close(own);
    return MKF_FORK_OWN;
}
