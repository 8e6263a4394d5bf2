/*
 * shared/heap.c - shared kinds: the segment (create, attach, detach, unlink), the
 * kind's operations, offsets, statistics, reclaim, and re-attaching in a fork
 * child. A shared kind is a fixed kind whose region is this process's mapping of
 * the segment's heap and whose region map is the page map in the segment
 * (page_map.c); everything else (arena, thread caches, large blocks) is the fixed
 * kind's machinery.
 */
#include "shm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <unistd.h>

extern int mkf_shm_crash_at;         /* page_map.c: the test hooks */
extern long mkf_shm_lock_timeout_ms;

static size_t round_up(size_t x, size_t a) { return (x + a - 1) / a * a; }

/* ---- the segment ------------------------------------------------------------------ */

struct geometry {
    size_t page, npages, map_off, data_off, segment;
};

static bool geometry_of(size_t page, size_t npages, struct geometry *g)
{
    g->page = page;
    g->npages = npages;
    g->map_off = round_up(sizeof(struct mkf_shm_header), page);
    if (npages > (SIZE_MAX / 2) / page)
        return false;
    g->data_off = g->map_off + round_up(npages * sizeof(uint64_t), page);
    g->segment = g->data_off + npages * page;
    return true;
}

/* Map the segment so that its heap starts at an address aligned to
 * MKF_SHM_DATA_ALIGN: reserve a little more, map the file inside. */
static int map_segment(struct mkf_shm *s, int fd, const struct geometry *g)
{
    size_t reserve = g->segment + MKF_SHM_DATA_ALIGN;
    void *r = mmap(NULL, reserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED)
        return MEMKIND_ERROR_MMAP;
    uintptr_t data = round_up((uintptr_t)r + g->data_off, MKF_SHM_DATA_ALIGN);
    void *base = mmap((void *)(data - g->data_off), g->segment, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_FIXED, fd, 0);
    if (base == MAP_FAILED) {
        munmap(r, reserve);
        return MEMKIND_ERROR_MMAP;
    }
    s->reserve = r;
    s->reserve_size = reserve;
    s->h = base;
    s->map = (_Atomic uint64_t *)((char *)base + g->map_off);
    s->data = data;
    s->npages = g->npages;
    s->page = g->page;
    s->fd = fd;
    return MEMKIND_SUCCESS;
}

static void unmap_segment(struct mkf_shm *s)
{
    if (s->reserve != NULL)
        munmap(s->reserve, s->reserve_size);
    if (s->fd >= 0)
        close(s->fd);
    free(s->name);
    free(s);
}

static int init_header(struct mkf_shm *s, const struct geometry *g, unsigned flags)
{
    struct mkf_shm_header *h = s->h;
    h->version = MKF_SHM_VERSION;
    h->flags = flags;
    h->page_size = (uint32_t)g->page;
    h->segment_size = g->segment;
    h->map_off = g->map_off;
    h->data_off = g->data_off;
    h->npages = g->npages;
    h->max_slots = MKF_SHM_SLOTS;
    if (mkf_shm_init_lock(&h->lock) != 0)
        return MEMKIND_ERROR_OPERATION_FAILED;
    mkf_shm_init_map(s);
    /* Last: attach() refuses a segment whose magic is not there yet. */
    atomic_store_explicit(&h->magic, MKF_SHM_MAGIC, memory_order_release);
    return MEMKIND_SUCCESS;
}

/* Check the header of the segment behind fd before mapping it whole. */
static int check_segment(int fd, struct geometry *g)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return MEMKIND_ERROR_OPERATION_FAILED;
    size_t page = mkf_je_page_size();
    if ((size_t)st.st_size < sizeof(struct mkf_shm_header))
        return st.st_size == 0 ? MEMKIND_ERROR_SHARED_BAD_MAGIC : MEMKIND_ERROR_SHARED_SIZE;
    struct mkf_shm_header *h = mmap(NULL, sizeof(*h), PROT_READ, MAP_SHARED, fd, 0);
    if (h == MAP_FAILED)
        return MEMKIND_ERROR_MMAP;
    int err = MEMKIND_SUCCESS;
    if (atomic_load_explicit(&h->magic, memory_order_acquire) != MKF_SHM_MAGIC)
        err = MEMKIND_ERROR_SHARED_BAD_MAGIC;
    else if (h->version != MKF_SHM_VERSION || h->max_slots != MKF_SHM_SLOTS)
        err = MEMKIND_ERROR_SHARED_VERSION;
    else if (h->page_size != page || !geometry_of(page, h->npages, g) ||
             g->segment != h->segment_size || g->map_off != h->map_off ||
             g->data_off != h->data_off || (uint64_t)st.st_size != h->segment_size)
        err = MEMKIND_ERROR_SHARED_SIZE;
    munmap(h, sizeof(*h));
    return err;
}

/* ---- reserving the pages ------------------------------------------------------------
 * A memfd has no size limit of its own and a named segment's tmpfs may be larger
 * than memory: posix_fallocate() of more than the machine holds ends with the OOM
 * killer, which picks any process. So a size beyond what memory and swap (and the
 * file system, for a name) could ever back is refused before anything is
 * reserved, and the pages are reserved in steps, each only while the memory
 * left after it stays above a margin. */

#define RESERVE_STEP ((off_t)64 << 20)

/* Bytes of memory the system could still hand out: MemAvailable + SwapFree from
 * /proc/meminfo, or free RAM + buffers + free swap when /proc cannot be read. */
static uint64_t memory_available(void)
{
    uint64_t avail = 0, swap = 0;
    bool have_avail = false, have_swap = false;
    FILE *f = fopen("/proc/meminfo", "re");
    if (f != NULL) {
        char line[128];
        unsigned long long kb;
        while (fgets(line, sizeof(line), f) != NULL) {
            if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
                avail = (uint64_t)kb << 10, have_avail = true;
            else if (sscanf(line, "SwapFree: %llu kB", &kb) == 1)
                swap = (uint64_t)kb << 10, have_swap = true;
        }
        fclose(f);
    }
    if (have_avail && have_swap)
        return avail + swap;
    struct sysinfo si;
    if (sysinfo(&si) != 0)
        return 0;
    return ((uint64_t)si.freeram + si.bufferram + si.freeswap) * si.mem_unit;
}

/* What could ever back the segment: RAM and swap, and for a named segment the
 * free space of its file system. */
static uint64_t backing_limit(int fd, bool named)
{
    struct sysinfo si;
    uint64_t limit = UINT64_MAX;
    if (sysinfo(&si) == 0)
        limit = ((uint64_t)si.totalram + si.totalswap) * si.mem_unit;
    struct statvfs fs;
    if (named && fstatvfs(fd, &fs) == 0 && (uint64_t)fs.f_bavail * fs.f_frsize < limit)
        limit = (uint64_t)fs.f_bavail * fs.f_frsize;
    return limit;
}

static int reserve_pages(int fd, off_t size)
{
    struct sysinfo si;
    uint64_t margin = (uint64_t)64 << 20;
    if (sysinfo(&si) == 0 && (uint64_t)si.totalram * si.mem_unit / 32 > margin)
        margin = (uint64_t)si.totalram * si.mem_unit / 32;
    for (off_t at = 0; at < size; at += RESERVE_STEP) {
        off_t step = size - at < RESERVE_STEP ? size - at : RESERVE_STEP;
        if (memory_available() < (uint64_t)step + margin)
            return MEMKIND_ERROR_SHARED_NO_SPACE;
        int rc = posix_fallocate(fd, at, step);
        if (rc != 0)
            return rc == ENOSPC || rc == ENOMEM || rc == EFBIG ? MEMKIND_ERROR_SHARED_NO_SPACE
                                                               : MEMKIND_ERROR_OPERATION_FAILED;
    }
    return MEMKIND_SUCCESS;
}

/* ---- the kind ------------------------------------------------------------------------ */

/* The attachment being made, for shared_create (called by mkf_kind_create on the
 * same thread). */
static __thread struct mkf_shm *g_pending;

static int shared_create(struct memkind *kind, struct memkind_ops *ops, const char *name)
{
    struct mkf_shm *s = g_pending;
    if (s == NULL)
        return MEMKIND_ERROR_INVALID; /* memkind_create() with these ops */
    int err = memkind_fixed_create(kind, ops, name);
    if (err == MEMKIND_SUCCESS) {
        struct mkf_fixed *fx = kind->priv;
        fx->pages = &mkf_shared_pages; /* the page map in the segment */
        fx->source = s;
    }
    return err;
}

static struct mkf_fixed *fixed_of(struct memkind *kind) { return kind->priv; }

/* Blocks other processes freed to this one, taken in before the calls that do
 * not go the inline way (memkind_malloc's misses take them in: arena.c). */
static void drain_if_pending(struct memkind *kind)
{
    if (MKF_UNLIKELY(mkf_shm_remote_pending(fixed_of(kind))))
        mkf_shm_drain(kind);
}

static void *shared_calloc(struct memkind *kind, size_t num, size_t size)
{
    drain_if_pending(kind);
    return memkind_arena_calloc(kind, num, size);
}

static int shared_posix_memalign(struct memkind *kind, void **memptr, size_t alignment,
                                 size_t size)
{
    drain_if_pending(kind);
    return memkind_arena_posix_memalign(kind, memptr, alignment, size);
}

/* A small block of another process: this process's jemalloc does not know it. */
static bool foreign_small(struct memkind *kind, const void *ptr)
{
    unsigned arena;
    return mkf_shm_block_pages(fixed_of(kind), ptr) == 0 &&
           (mkf_je_arena_lookup(ptr, &arena) != 0 || arena != kind->arena);
}

static size_t shared_usable_size(struct memkind *kind, void *ptr)
{
    struct mkf_fixed *fx = fixed_of(kind);
    size_t pages = mkf_shm_block_pages(fx, ptr);
    if (pages != 0)
        return pages * mkf_shm_of(fx)->page;
    if (foreign_small(kind, ptr))
        return mkf_shm_small_usable(fx, ptr);
    return memkind_default_malloc_usable_size(kind, ptr);
}

static void *shared_realloc(struct memkind *kind, void *ptr, size_t size)
{
    if (ptr == NULL)
        return memkind_arena_malloc(kind, size);
    if (!foreign_small(kind, ptr)) {
        drain_if_pending(kind);
        void *q = memkind_arena_realloc(kind, ptr, size);
        /* A small block made by realloc (from a large one, or moved to another
         * size class) goes through paths that do not tag: tag it here, so that
         * other processes know its size. */
        struct mkf_fixed *fx = fixed_of(kind);
        if (q != NULL && mkf_shm_block_pages(fx, q) == 0)
            mkf_shm_tag(fx, q, mkf_je_sallocx(q, 0));
        return q;
    }
    if (size == 0 && !mkf_zero_allowed(kind)) {
        memkind_arena_free(kind, ptr);
        return NULL;
    }
    void *q = memkind_arena_malloc(kind, size);
    if (q == NULL)
        return NULL;
    size_t old = mkf_shm_small_usable(fixed_of(kind), ptr);
    memcpy(q, ptr, old < size ? old : size);
    memkind_arena_free(kind, ptr);
    return q;
}

/* Detach: take in remote frees, empty the caches, give back every page the arena
 * does not need, then drop the arena without touching the page map (pages still
 * holding live blocks stay in the slot). */
static int shared_destroy(struct memkind *kind)
{
    struct mkf_fixed *fx = fixed_of(kind);
    if (fx == NULL || fx->pages != &mkf_shared_pages)
        return MEMKIND_ERROR_INVALID;
    struct mkf_shm *s = mkf_shm_of(fx);
    s->detached = true; /* from now on no slot is taken (page_map.c, slot_late) */
    if (!s->orphan) {
        mkf_shm_drain(kind);
        mkf_tcache_flush_all(kind);
        mkf_large_drain(kind);
        (void)mkf_je_arena_purge(kind->arena);
        mkf_shm_drain(kind); /* what the flush freed may have been pushed meanwhile */
    }
    /* A fork child that never allocated has no slot, but may be the last user. */
    if ((!s->orphan || s->slot == MKF_SHM_NO_SLOT) && mkf_shm_lock(s) == MEMKIND_SUCCESS) {
        mkf_shm_leave_slot(s);
        bool last = true;
        for (unsigned i = 0; i < MKF_SHM_SLOTS && last; i++)
            last = !mkf_shm_slot_alive(s, i);
        /* The last live process unlinks a heap made to go away with its users.
         * Under the lock: an attach that opened the name before the unlink still
         * works (on a heap nobody else can reach); one after it finds no name. */
        if (last && (s->h->flags & MEMKIND_SHARED_UNLINK_ON_LAST_DETACH) && s->name != NULL)
            shm_unlink(s->name);
        mkf_shm_unlock(s);
    }
    s->orphan = true;
    int err = memkind_fixed_destroy(kind);
    unmap_segment(s);
    return err;
}

static struct memkind_ops shared_ops = {
    .create = shared_create,
    .destroy = shared_destroy,
    /* The inline fast path of every fixed kind: the blocks in the thread caches
     * were tagged when the caches were filled (arena.c, tag_bin), so other
     * processes know their size class; a fork child takes its slot when its
     * page source first needs one. */
    .malloc = memkind_arena_malloc,
    .calloc = shared_calloc,
    .posix_memalign = shared_posix_memalign,
    .realloc = shared_realloc,
    .free = memkind_arena_free,
    .get_arena = memkind_thread_get_arena,
    .malloc_usable_size = shared_usable_size,
    .update_memory_usage_policy = memkind_arena_update_memory_usage_policy,
    .get_stat = memkind_arena_get_kind_stat,
    .defrag_reallocate = memkind_arena_defrag_reallocate,
};

/* Take a slot and make the kind; on failure `s` is released. */
static int attach(struct mkf_shm *s, memkind_t *out)
{
    const char *crash = getenv("MKF_SHARED_TEST_CRASH_AT");
    mkf_shm_crash_at = crash != NULL ? atoi(crash) : -1;
    const char *timeout = getenv("MKF_SHARED_TEST_LOCK_TIMEOUT_MS");
    mkf_shm_lock_timeout_ms = timeout != NULL && atol(timeout) > 0
                                  ? atol(timeout)
                                  : MEMKIND_SHARED_LOCK_TIMEOUT_MS;
    s->slot = MKF_SHM_NO_SLOT;
    int err = mkf_shm_lock(s);
    if (err == MEMKIND_SUCCESS) {
        err = mkf_shm_take_slot(s);
        mkf_shm_unlock(s);
    }
    if (err != MEMKIND_SUCCESS) {
        unmap_segment(s);
        return err;
    }
    g_pending = s;
    memkind_t kind;
    err = mkf_kind_create(&shared_ops, "memkind_shared_", true, (void *)s->data,
                          s->npages * s->page, 0, &kind);
    g_pending = NULL;
    if (err != MEMKIND_SUCCESS) {
        if (mkf_shm_lock(s) == MEMKIND_SUCCESS) {
            mkf_shm_leave_slot(s);
            mkf_shm_unlock(s);
        }
        unmap_segment(s);
        return err;
    }
    *out = kind;
    return MEMKIND_SUCCESS;
}

static int open_error(int e)
{
    switch (e) {
    case EEXIST: return MEMKIND_ERROR_SHARED_EXISTS;
    case ENOENT: return MEMKIND_ERROR_SHARED_NOT_FOUND;
    case EINVAL:
    case ENAMETOOLONG: return MEMKIND_ERROR_INVALID;
    default: return MEMKIND_ERROR_OPERATION_FAILED;
    }
}

MKF_EXPORT int memkind_shared_create(const char *name, size_t size, unsigned flags,
                                     memkind_t *kind)
{
    if (kind == NULL || size == 0 || (flags & ~MEMKIND_SHARED_UNLINK_ON_LAST_DETACH) != 0)
        return MEMKIND_ERROR_INVALID;
    mkf_init();
    struct geometry g;
    size_t page = mkf_je_page_size();
    if (size > SIZE_MAX / 4 || !geometry_of(page, round_up(size, page) / page, &g))
        return MEMKIND_ERROR_INVALID;
    int fd = name != NULL ? shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)
                          : memfd_create("memkind_shared", MFD_CLOEXEC);
    if (fd < 0)
        return open_error(errno);
    int err = MEMKIND_SUCCESS;
    struct mkf_shm *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        err = MEMKIND_ERROR_MALLOC;
    } else if ((uint64_t)g.segment > backing_limit(fd, name != NULL)) {
        err = MEMKIND_ERROR_SHARED_NO_SPACE; /* before reserving anything */
    } else if (ftruncate(fd, (off_t)g.segment) != 0) {
        err = errno == EFBIG || errno == EINVAL ? MEMKIND_ERROR_INVALID
                                                : MEMKIND_ERROR_SHARED_NO_SPACE;
    } else {
        /* Every page now: a full /dev/shm fails here, not with SIGBUS later. */
        err = reserve_pages(fd, (off_t)g.segment);
        if (err != MEMKIND_SUCCESS && ftruncate(fd, 0) != 0)
            err = MEMKIND_ERROR_SHARED_NO_SPACE; /* the pages go with the fd anyway */
    }
    if (err == MEMKIND_SUCCESS && (err = map_segment(s, fd, &g)) == MEMKIND_SUCCESS) {
        fd = -1; /* the attachment owns it */
        s->own_ofd = true; /* a new file: nobody else has a description of it */
        err = init_header(s, &g, flags);
        if (err == MEMKIND_SUCCESS && name != NULL && (s->name = strdup(name)) == NULL)
            err = MEMKIND_ERROR_MALLOC;
        if (err == MEMKIND_SUCCESS) {
            err = attach(s, kind);
            s = NULL; /* attach() released it on failure */
        }
    }
    if (err != MEMKIND_SUCCESS) {
        if (s != NULL && s->h != NULL)
            unmap_segment(s);
        else
            free(s);
        if (fd >= 0)
            close(fd);
        if (name != NULL)
            shm_unlink(name);
    }
    return err;
}

static int attach_fd(int fd, bool own_ofd, const char *name, memkind_t *kind)
{
    struct geometry g;
    int err = check_segment(fd, &g);
    struct mkf_shm *s = err == MEMKIND_SUCCESS ? calloc(1, sizeof(*s)) : NULL;
    if (err == MEMKIND_SUCCESS && s == NULL)
        err = MEMKIND_ERROR_MALLOC;
    if (err == MEMKIND_SUCCESS)
        err = map_segment(s, fd, &g);
    if (err != MEMKIND_SUCCESS) {
        free(s);
        close(fd);
        return err;
    }
    s->own_ofd = own_ofd;
    if (name != NULL && (s->name = strdup(name)) == NULL) {
        unmap_segment(s);
        return MEMKIND_ERROR_MALLOC;
    }
    return attach(s, kind);
}

MKF_EXPORT int memkind_shared_attach(const char *name, memkind_t *kind)
{
    if (name == NULL || kind == NULL)
        return MEMKIND_ERROR_INVALID;
    mkf_init();
    int fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0)
        return open_error(errno);
    return attach_fd(fd, true, name, kind);
}

MKF_EXPORT int memkind_shared_attach_fd(int fd, memkind_t *kind)
{
    if (fd < 0 || kind == NULL)
        return MEMKIND_ERROR_INVALID;
    mkf_init();
    /* A description of our own, for the liveness lock (process.c); a copy of
     * the caller's when the file cannot be reopened. */
    int mine = mkf_shm_reopen_own(fd, NULL);
    bool own = mine >= 0;
    if (!own && (mine = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
        return errno == EBADF ? MEMKIND_ERROR_INVALID : MEMKIND_ERROR_OPERATION_FAILED;
    return attach_fd(mine, own, NULL, kind);
}

MKF_EXPORT int memkind_shared_unlink(const char *name)
{
    if (name == NULL)
        return MEMKIND_ERROR_INVALID;
    return shm_unlink(name) == 0 ? MEMKIND_SUCCESS : open_error(errno);
}

/* The attachment of a live shared kind, or an error code in *err. */
static struct mkf_shm *shm_of_kind(memkind_t kind, int *err)
{
    *err = MEMKIND_SUCCESS;
    if (kind == NULL || !mkf_kind_is_handle(kind)) {
        *err = MEMKIND_ERROR_INVALID;
        return NULL;
    }
    if (kind->state != MKF_KIND_LIVE) {
        *err = MEMKIND_ERROR_DESTROYED;
        return NULL;
    }
    if (kind->ops != &shared_ops || kind->priv == NULL ||
        fixed_of(kind)->pages != &mkf_shared_pages) {
        *err = MEMKIND_ERROR_NOT_SHARED;
        return NULL;
    }
    return mkf_shm_of(fixed_of(kind));
}

MKF_EXPORT int memkind_shared_detach(memkind_t kind)
{
    int err;
    if (shm_of_kind(kind, &err) == NULL)
        return err;
    return memkind_destroy_kind(kind);
}

MKF_EXPORT int memkind_shared_fd(memkind_t kind)
{
    int err;
    struct mkf_shm *s = shm_of_kind(kind, &err);
    return s != NULL ? s->fd : err;
}

MKF_EXPORT const char *memkind_shared_name(memkind_t kind)
{
    int err;
    struct mkf_shm *s = shm_of_kind(kind, &err);
    return s != NULL ? s->name : NULL;
}

MKF_EXPORT uint64_t memkind_shared_offset(memkind_t kind, const void *ptr)
{
    int err;
    struct mkf_shm *s = shm_of_kind(kind, &err);
    if (s == NULL || (uintptr_t)ptr - s->data >= s->npages * s->page)
        return 0;
    return (uintptr_t)ptr - (uintptr_t)s->h;
}

MKF_EXPORT void *memkind_shared_ptr(memkind_t kind, uint64_t offset)
{
    int err;
    struct mkf_shm *s = shm_of_kind(kind, &err);
    uint64_t data_off = s != NULL ? s->data - (uintptr_t)s->h : 0;
    if (s == NULL || offset < data_off || offset - data_off >= s->npages * s->page) {
        errno = EINVAL;
        return NULL;
    }
    return (char *)s->h + offset;
}

MKF_EXPORT int memkind_shared_get_stats(memkind_t kind, struct memkind_shared_stats *out)
{
    int err;
    struct mkf_shm *s = shm_of_kind(kind, &err);
    if (s == NULL)
        return err;
    if (out == NULL)
        return MEMKIND_ERROR_INVALID;
    memset(out, 0, sizeof(*out));
    size_t allocated = 0;
    if (mkf_je_stats_refresh() == 0)
        (void)mkf_je_arena_stat(kind->arena, MEMKIND_STAT_TYPE_ALLOCATED, &allocated);
    out->largest_free = mkf_shared_pages.largest_free(fixed_of(kind));
    struct mkf_shm_header *h = s->h;
    if ((err = mkf_shm_lock(s)) != MEMKIND_SUCCESS)
        return err;
    mkf_shm_mark_dead(s);
    out->segment_size = h->segment_size;
    out->capacity = s->npages * s->page;
    out->used = h->used_pages * s->page;
    out->free = out->capacity - out->used;
    out->recoveries = h->recoveries;
    for (unsigned i = 0; i < MKF_SHM_SLOTS; i++) {
        struct mkf_shm_slot *sl = &h->slots[i];
        unsigned st = atomic_load_explicit(&sl->state, memory_order_relaxed);
        if (st == SLOT_LIVE)
            out->processes++;
        else if (st == SLOT_DEAD && sl->pages != 0) {
            out->dead_processes++;
            out->dead_used += sl->pages * s->page;
        }
    }
    out->slot = MEMKIND_SHARED_MAX_PROCESSES; /* none yet: a fork child before its first use */
    if (s->slot < MKF_SHM_SLOTS) {
        struct mkf_shm_slot *me = &h->slots[s->slot];
        out->slot = s->slot;
        out->process_used = me->pages * s->page;
        /* Not the parked block: free for the program, though its pages are ours. */
        size_t parked = mkf_shm_parked_pages(s, s->slot);
        size_t large = me->large_pages > parked ? (size_t)me->large_pages - parked : 0;
        out->process_allocated = allocated + large * s->page;
        out->remote_frees = atomic_load_explicit(&me->remote_frees, memory_order_relaxed);
    }
    mkf_shm_unlock(s);
    return MEMKIND_SUCCESS;
}

MKF_EXPORT int memkind_shared_reclaim(memkind_t kind, size_t *bytes)
{
    int err;
    struct mkf_shm *s = shm_of_kind(kind, &err);
    if (s == NULL)
        return err;
    err = memkind_fixed_purge(kind);
    if (err != MEMKIND_SUCCESS)
        return err;
    size_t pages = 0;
    if ((err = mkf_shm_lock(s)) != MEMKIND_SUCCESS)
        return err;
    /* Every other process's parked block too, as purge gives back ours. */
    for (unsigned i = 0; i < MKF_SHM_SLOTS; i++)
        if (i != s->slot)
            pages += mkf_shm_give_parked(s, i);
    pages += mkf_shm_reclaim_dead(s);
    mkf_shm_unlock(s);
    if (bytes != NULL)
        *bytes = pages * s->page;
    return MEMKIND_SUCCESS;
}
