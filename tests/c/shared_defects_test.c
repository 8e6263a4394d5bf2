/*
 * shared_defects_test.c - the defects of shared kinds that issue 25 lists, one
 * test each, written from their description. Each test runs in a child process
 * of its own with a time limit, so that a crash or a hang fails that test only.
 *
 *  1 emfile          a process with no free descriptor takes its peers for dead
 *                    and reclaim frees a live peer's slab
 *  1 noproc          the same where /proc cannot be read (a mount namespace with
 *                    an empty /proc; skipped where the sandbox forbids it)
 *  1 empty_slot      a live process's slot that holds no page is set free and
 *                    given to another process
 *  2 paths           every way of making a block in one process, checked from a
 *                    second one (usable size, contents, realloc, free); a large
 *                    block shrunk to a small one was not tagged
 *    many_small      the same for 1600 small blocks, most out of thread caches
 *                    filled in batches (the inline fast path)
 *  3 huge            memkind_shared_create(NULL, 1 PiB) reserved memory until
 *                    the OOM killer came
 *  4 grown           reclaim freed a block that a live process grew in place
 *  5 dead_freed      a dead process's slot whose pages others free is never free
 *  5 all_dead        64 processes died holding blocks: every attach failed
 *  5 exec            children that fork and exec held slots
 *  6 run_length      a bad run length in the page map: a write outside the mapping
 *  6 queue_head      an unaligned remote-free queue head at the end: SIGSEGV
 *  6 lock_word       a lock word naming a live foreign thread: attach waited for ever
 *  6 lock_kind       a lock whose kind word glibc does not expect: glibc aborted
 *    slot_lines      two processes' slots shared a cache line (the slot array
 *                    started at byte 200 of the header)
 * (5: Python's interpreter exit is tested in tests/python/test_shared.py.)
 */
#define _GNU_SOURCE
#include "check.h"
#include "proc.h"
#include "shared.h"
#include "stamp.h"

#include <memkind_fixed.h>

#include "shared/layout.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

static char g_name[96];

/* A name of our own (parallel runs share /dev/shm and, sandboxed, the pid). */
static const char *new_name(const char *what)
{
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "mkf_defects_%s", what);
    return shared_name(g_name, sizeof(g_name), prefix);
}

/* ---- 1: liveness ---------------------------------------------------------------- */

/* The parent holds 64 small blocks of 4 KiB stamped 0x5a (one slab's worth and
 * more); a child attaches, loses its descriptors (or its /proc) and reclaims,
 * then fills the heap. The parent's blocks must be untouched. */
static void liveness(bool no_proc)
{
    memkind_t k;
    REQUIRE(memkind_shared_create(NULL, 16 * MiB, 0, &k) == 0);
    enum { N = 64 };
    unsigned char *b[N];
    for (int i = 0; i < N; i++) {
        b[i] = memkind_malloc(k, 4096);
        REQUIRE(b[i] != NULL);
        memset(b[i], 0x5a, 4096);
    }
    memkind_t c;
    pid_t pid = shared_fork_attached(k, &c);
    if (pid == 0) {
        if (no_proc) {
            if (unshare(CLONE_NEWNS) != 0 ||
                mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0 ||
                mount("none", "/proc", "tmpfs", 0, NULL) != 0)
                _exit(77); /* not allowed here */
            if (access("/proc/self/stat", R_OK) == 0)
                _exit(11);
        } else {
            REQUIRE(exhaust_descriptors() == 0);
        }
        size_t bytes = 0;
        if (memkind_shared_reclaim(c, &bytes) != 0)
            _exit(12);
        struct memkind_shared_stats s;
        if (memkind_shared_get_stats(c, &s) != 0)
            _exit(13);
        if (s.processes != 2)
            _exit(14); /* the parent is alive */
        for (;;) { /* fill the heap: reused pages would be the parent's */
            unsigned char *p = memkind_malloc(c, 4096);
            if (p == NULL)
                break;
            memset(p, 0xee, 4096);
        }
        _exit(0);
    }
    int rc = proc_wait_exit(pid);
    if (rc == 77) {
        printf("  noproc: skipped (no mount namespace here)\n");
    } else {
        CHECK_EQ(rc, 0);
        size_t bad = 0;
        for (int i = 0; i < N; i++)
            bad += bytes_not(b[i], 4096, 0x5a);
        CHECK_EQ(bad, 0);
    }
    for (int i = 0; i < N; i++)
        memkind_free(k, b[i]);
    CHECK_EQ(memkind_shared_detach(k), 0);
}

static void test_emfile(void) { liveness(false); }
static void test_noproc(void) { liveness(true); }

/* A live process with no page: a peer without descriptors must still count it,
 * and a further attachment must not get its slot. */
static void test_empty_slot(void)
{
    memkind_t k;
    REQUIRE(memkind_shared_create(NULL, 8 * MiB, 0, &k) == 0);
    unsigned mine = shared_stats(k).slot;
    memkind_t c, d;
    pid_t pid = shared_fork_attached(k, &c);
    if (pid == 0) {
        int fd = memkind_shared_fd(c);
        int spare = dup(fd); /* for the attachment below */
        REQUIRE(exhaust_descriptors() == 0);
        close(spare);
        struct memkind_shared_stats s;
        if (memkind_shared_get_stats(c, &s) != 0)
            _exit(11);
        if (s.processes < 2)
            _exit(12);
        if (memkind_shared_attach_fd(fd, &d) != 0)
            _exit(13);
        if (memkind_shared_get_stats(d, &s) != 0 || s.slot == mine)
            _exit(14);
        _exit(0);
    }
    CHECK_EQ(proc_wait_exit(pid), 0);
    CHECK_EQ(memkind_shared_detach(k), 0);
}

/* ---- 2: every path tags its block --------------------------------------------------- */

struct made {
    uint64_t off;
    size_t size;
    unsigned char stamp;
};

enum { NMADE = 9 * 8 };

static void test_paths(void)
{
    memkind_t k;
    REQUIRE(memkind_shared_create(NULL, 64 * MiB, 0, &k) == 0);
    struct made m[NMADE];
    int n = 0;
    for (int r = 0; r < 8; r++) {
        size_t small = 24 + (size_t)r * 700, large = 20000 + (size_t)r * 9000;
        void *p[9];
        size_t sz[9];
        p[0] = memkind_malloc(k, sz[0] = small);
        p[1] = memkind_calloc(k, 1, sz[1] = small + 8);
        REQUIRE(memkind_posix_memalign(k, &p[2], 256, sz[2] = small) == 0);
        p[3] = memkind_realloc(k, NULL, sz[3] = small);
        p[4] = memkind_realloc(k, memkind_malloc(k, 16), sz[4] = small + 100); /* small up */
        p[5] = memkind_realloc(k, memkind_malloc(k, large), sz[5] = small);    /* large down */
        p[6] = memkind_realloc(k, memkind_malloc(k, small), sz[6] = large);    /* small up */
        p[7] = memkind_realloc(k, memkind_malloc(k, large), sz[7] = large + 50000);
        p[8] = memkind_malloc(k, sz[8] = large);
        for (int i = 0; i < 9; i++) {
            REQUIRE(p[i] != NULL);
            unsigned char stamp = (unsigned char)(1 + n);
            memset(p[i], stamp, sz[i]);
            m[n++] = (struct made){memkind_shared_offset(k, p[i]), sz[i], stamp};
        }
    }
    int tell[2];
    REQUIRE(pipe(tell) == 0);
    memkind_t c;
    pid_t pid = shared_fork_attached(k, &c);
    if (pid == 0) {
        int bad_usable = 0, bad_bytes = 0, bad_realloc = 0;
        for (int i = 0; i < NMADE; i++) {
            unsigned char *p = memkind_shared_ptr(c, m[i].off);
            if (p == NULL || memkind_malloc_usable_size(c, p) < m[i].size)
                bad_usable++;
            for (size_t j = 0; p != NULL && j < m[i].size; j++)
                bad_bytes += p[j] != m[i].stamp;
            unsigned char *q = memkind_realloc(c, p, m[i].size + 5000);
            if (q == NULL) {
                bad_realloc++;
                continue;
            }
            for (size_t j = 0; j < m[i].size; j++)
                bad_realloc += q[j] != m[i].stamp;
            memkind_free(c, q);
        }
        pipe_put_u64(tell[1], (uint64_t)bad_usable);
        pipe_put_u64(tell[1], (uint64_t)bad_bytes);
        pipe_put_u64(tell[1], (uint64_t)bad_realloc);
        _exit(memkind_shared_detach(c) == 0 ? 0 : 11);
    }
    CHECK_EQ(proc_wait_exit(pid), 0);
    CHECK_EQ(pipe_get_u64(tell[0]), 0); /* usable sizes */
    CHECK_EQ(pipe_get_u64(tell[0]), 0); /* contents */
    CHECK_EQ(pipe_get_u64(tell[0]), 0); /* realloc kept the bytes */
    CHECK_EQ(memkind_fixed_purge(k), 0);
    CHECK_EQ(shared_stats(k).used, 0);
    close(tell[0]), close(tell[1]);
    CHECK_EQ(memkind_shared_detach(k), 0);
}

/* Many small blocks of a few classes: most come out of the thread cache, filled
 * in batches, on the inline fast path; another process must know each one's size. */
static void test_many_small(void)
{
    memkind_t k;
    REQUIRE(memkind_shared_create(NULL, 32 * MiB, 0, &k) == 0);
    enum { PER = 400 };
    static const size_t sizes[] = {24, 200, 3000, 9000};
    enum { N = PER * sizeof(sizes) / sizeof(sizes[0]) };
    static uint64_t off[N];
    for (int i = 0; i < N; i++) {
        size_t size = sizes[i / PER];
        /* malloc, calloc and aligned blocks: each way can fill a cache's bin */
        unsigned char *p = NULL;
        if (i % 3 == 0)
            p = memkind_malloc(k, size);
        else if (i % 3 == 1)
            p = memkind_calloc(k, 1, size);
        else
            REQUIRE(memkind_posix_memalign(k, (void **)&p, 64 << (i % 4), size) == 0);
        REQUIRE(p != NULL);
        memset(p, (unsigned char)i, size);
        off[i] = memkind_shared_offset(k, p);
    }
    int tell[2];
    REQUIRE(pipe(tell) == 0);
    memkind_t c;
    pid_t pid = shared_fork_attached(k, &c);
    if (pid == 0) {
        uint64_t bad_usable = 0, bad_bytes = 0;
        for (int i = 0; i < N; i++) {
            size_t size = sizes[i / PER];
            unsigned char *p = memkind_shared_ptr(c, off[i]);
            bad_usable += p == NULL || memkind_malloc_usable_size(c, p) < size;
            for (size_t j = 0; p != NULL && j < size; j++)
                bad_bytes += p[j] != (unsigned char)i;
            memkind_free(c, p); /* to the owner's queue */
        }
        pipe_put_u64(tell[1], bad_usable);
        pipe_put_u64(tell[1], bad_bytes);
        _exit(memkind_shared_detach(c) == 0 ? 0 : 11);
    }
    CHECK_EQ(proc_wait_exit(pid), 0);
    CHECK_EQ(pipe_get_u64(tell[0]), 0);
    CHECK_EQ(pipe_get_u64(tell[0]), 0);
    CHECK_EQ(memkind_fixed_purge(k), 0); /* takes the frees in */
    CHECK_EQ(shared_stats(k).used, 0);
    close(tell[0]), close(tell[1]);
    CHECK_EQ(memkind_shared_detach(k), 0);
}

/* ---- 3: sizes the machine cannot back ----------------------------------------------- */

static void test_huge(void)
{
    /* In a child with an alarm: if the library reserved the petabyte it would
     * be killed after a second (a few GiB at most), before the OOM killer acts. */
    pid_t pid = proc_fork();
    if (pid == 0) {
        alarm(1);
        memkind_t k;
        int err = memkind_shared_create(NULL, (size_t)1 << 50, 0, &k);
        if (err != MEMKIND_ERROR_SHARED_NO_SPACE)
            _exit(10);
        err = memkind_shared_create(new_name("huge"), (size_t)1 << 50, 0, &k);
        if (err != MEMKIND_ERROR_SHARED_NO_SPACE)
            _exit(11);
        if (shm_open(g_name, O_RDONLY, 0) >= 0)
            _exit(12); /* nothing left behind */
        /* What fits still works. */
        if (memkind_shared_create(NULL, 64 * MiB, 0, &k) != 0)
            _exit(13);
        _exit(memkind_shared_detach(k) == 0 ? 0 : 14);
    }
    CHECK_EQ(proc_wait_exit(pid), 0);
}

/* ---- 4: a block grown in place changes owner ---------------------------------------- */

static void grown(bool grow)
{
    memkind_t k;
    REQUIRE(memkind_shared_create(NULL, 32 * MiB, 0, &k) == 0);
    int tell[2];
    REQUIRE(pipe(tell) == 0);
    memkind_t c;
    pid_t pid = shared_fork_attached(k, &c);
    if (pid == 0) { /* allocates 2 MiB and dies holding it */
        void *p = memkind_malloc(c, 2 * MiB);
        if (p == NULL)
            _exit(11);
        pipe_put_u64(tell[1], memkind_shared_offset(c, p));
        _exit(0);
    }
    CHECK_EQ(proc_wait_exit(pid), 0);
    unsigned char *p = memkind_shared_ptr(k, pipe_get_u64(tell[0]));
    REQUIRE(p != NULL);
    size_t size = grow ? 3 * MiB : 1 * MiB;
    unsigned char *q = memkind_realloc(k, p, size);
    CHECK(q == p); /* in place */
    REQUIRE(q != NULL);
    memset(q, 0x77, size);
    size_t bytes = 0;
    CHECK_EQ(memkind_shared_reclaim(k, &bytes), 0);
    CHECK_EQ(memkind_malloc_usable_size(k, q), size);
    /* Fill the heap: nothing may land on the block. */
    int overlaps = 0;
    void *r[64];
    int nr = 0;
    while (nr < 64 && (r[nr] = memkind_malloc(k, 1 * MiB)) != NULL) {
        unsigned char *x = r[nr++];
        overlaps += x < q + size && q < x + 1 * MiB;
        memset(x, 0x11, 1 * MiB);
    }
    CHECK_EQ(overlaps, 0);
    CHECK_EQ(bytes_not(q, size, 0x77), 0);
    for (int i = 0; i < nr; i++)
        memkind_free(k, r[i]);
    memkind_free(k, q);
    close(tell[0]), close(tell[1]);
    CHECK_EQ(memkind_shared_detach(k), 0);
}

static void test_grown(void)
{
    grown(true);
    grown(false);
}

/* ---- 5: slots come back -------------------------------------------------------------- */

/* 70 producers one after the other, each dying with a block that the consumer
 * frees after noticing the death. */
static void test_dead_freed(void)
{
    memkind_t k;
    REQUIRE(memkind_shared_create(NULL, 16 * MiB, 0, &k) == 0);
    int tell[2];
    REQUIRE(pipe(tell) == 0);
    int failed_at = 0;
    for (int i = 1; i <= 70 && failed_at == 0; i++) {
        pid_t pid = proc_fork();
        if (pid == 0) {
            memkind_t c;
            if (memkind_shared_attach_fd(memkind_shared_fd(k), &c) != 0) {
                pipe_put_u64(tell[1], 0);
                _exit(10);
            }
            void *p = memkind_malloc(c, 40000);
            pipe_put_u64(tell[1], p != NULL ? memkind_shared_offset(c, p) : 0);
            _exit(0);
        }
        int rc = proc_wait_exit(pid);
        uint64_t off = pipe_get_u64(tell[0]);
        if (rc != 0 || off == 0) {
            failed_at = i;
            break;
        }
        (void)shared_stats(k); /* notices the death while the block is held */
        memkind_free(k, memkind_shared_ptr(k, off));
    }
    CHECK_EQ(failed_at, 0);
    struct memkind_shared_stats s = shared_stats(k);
    CHECK_EQ(s.processes, 1);
    CHECK_EQ(s.dead_processes, 0);
    CHECK_EQ(s.used, 0);
    close(tell[0]), close(tell[1]);
    CHECK_EQ(memkind_shared_detach(k), 0);
}

/* Every slot held by a dead process (the creator detached holding a block): an
 * attach reclaims them instead of failing for ever. */
static void test_all_dead(void)
{
    const char *name = new_name("alldead");
    memkind_t k;
    REQUIRE(memkind_shared_create(name, 16 * MiB, 0, &k) == 0);
    for (int i = 0; i < MEMKIND_SHARED_MAX_PROCESSES - 1; i++) {
        pid_t pid = proc_fork();
        if (pid == 0) {
            memkind_t c;
            if (memkind_shared_attach(name, &c) != 0)
                _exit(10);
            _exit(memkind_malloc(c, 40000) != NULL ? 0 : 11);
        }
        REQUIRE(proc_wait_exit(pid) == 0);
    }
    REQUIRE(memkind_malloc(k, 40000) != NULL);
    CHECK_EQ(memkind_shared_detach(k), 0); /* holding its block: a dead slot */
    int err = memkind_shared_attach(name, &k);
    CHECK_EQ(err, 0);
    if (err == 0) {
        struct memkind_shared_stats s = shared_stats(k);
        CHECK_EQ(s.processes, 1);
        CHECK_EQ(s.dead_processes, 0);
        CHECK_EQ(memkind_shared_detach(k), 0);
    }
    memkind_shared_unlink(name);
}

/* Children that exec take no slot: only the parent counts. */
static void test_exec(void)
{
    memkind_t k;
    REQUIRE(memkind_shared_create(NULL, 8 * MiB, 0, &k) == 0);
    REQUIRE(memkind_malloc(k, 100) != NULL);
    enum { KIDS = 8 };
    pid_t kids[KIDS];
    for (int i = 0; i < KIDS; i++) {
        kids[i] = fork();
        REQUIRE(kids[i] >= 0);
        if (kids[i] == 0) {
            execl("/bin/sleep", "sleep", "30", (char *)NULL);
            _exit(127);
        }
    }
    struct timespec t = {0, 200 * 1000 * 1000};
    nanosleep(&t, NULL);
    CHECK_EQ(shared_stats(k).processes, 1);
    for (int i = 0; i < KIDS; i++) {
        kill(kids[i], SIGKILL);
        waitpid(kids[i], NULL, 0);
    }
    CHECK_EQ(memkind_shared_detach(k), 0);
}

/* ---- 6: a corrupt segment ------------------------------------------------------------ */

/* The segment behind fd, mapped as a hostile process would. */
static struct mkf_shm_header *map_raw(int fd, size_t *len)
{
    struct stat st;
    REQUIRE(fstat(fd, &st) == 0);
    *len = (size_t)st.st_size;
    void *p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    REQUIRE(p != MAP_FAILED);
    return p;
}

/* Runs `op` in a child on a kind whose segment `damage` spoiled; the child must
 * exit normally, and every call must either work or fail with a code. */
static int run_damaged(void (*damage)(struct mkf_shm_header *h, size_t len),
                       int (*op)(memkind_t k))
{
    memkind_t k;
    REQUIRE(memkind_shared_create(NULL, 8 * MiB, 0, &k) == 0);
    void *keep = memkind_malloc(k, 64);
    REQUIRE(keep != NULL);
    size_t len;
    struct mkf_shm_header *h = map_raw(memkind_shared_fd(k), &len);
    damage(h, len);
    pid_t pid = proc_fork();
    if (pid == 0) {
        alarm(30);
        _exit(op(k));
    }
    int rc = proc_wait_exit(pid);
    munmap(h, len);
    /* This process's kind may be unusable too; detaching must not crash. */
    (void)memkind_shared_detach(k);
    return rc;
}

static void bad_run_length(struct mkf_shm_header *h, size_t len)
{
    (void)len;
    _Atomic uint64_t *map = (_Atomic uint64_t *)((char *)h + h->map_off);
    /* The first page is free (slabs come from the top): its run is said to be
     * a billion pages long. */
    for (uint64_t i = 0; i < h->npages; i++) {
        if (w_state(map[i]) == W_FREE) {
            map[i] = W_FREE | ((uint64_t)1 << 30) << W_LEN_SHIFT;
            break;
        }
    }
}

static int alloc_large(memkind_t k)
{
    for (int i = 0; i < 8; i++) {
        void *p = memkind_malloc(k, 40000 + (size_t)i * 100000);
        if (p != NULL) {
            if (memkind_shared_offset(k, p) == 0)
                return 20; /* outside the heap */
            memkind_free(k, p);
        }
    }
    return 0;
}

static void test_run_length(void) { CHECK_EQ(run_damaged(bad_run_length, alloc_large), 0); }

static void bad_queue_head(struct mkf_shm_header *h, size_t len)
{
    for (unsigned i = 0; i < MEMKIND_SHARED_MAX_PROCESSES; i++)
        atomic_store(&h->slots[i].remote_head, len - 4); /* unaligned, at the end */
}

static int drain(memkind_t k)
{
    /* The owner takes its queue in on its slow paths. */
    if (memkind_fixed_purge(k) != 0)
        return 0; /* an error code is fine */
    for (int i = 0; i < 1000; i++)
        memkind_free(k, memkind_malloc(k, 64 + (size_t)i));
    return 0;
}

static void test_queue_head(void) { CHECK_EQ(run_damaged(bad_queue_head, drain), 0); }

static pid_t g_sleeper;

static void bad_lock_word(struct mkf_shm_header *h, size_t len)
{
    (void)len;
    /* glibc's mutex word holds the owner's thread id: a live process's, which is
     * not a holder (robust mutexes trust the word). */
    *(volatile int *)&h->lock = (int)g_sleeper;
}

static int attach_again(memkind_t k)
{
    memkind_t c;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int err = memkind_shared_attach_fd(memkind_shared_fd(k), &c);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (err == 0)
        return 21; /* the lock cannot have been taken */
    if (err != MEMKIND_ERROR_SHARED_CORRUPT)
        return 22;
    return t1.tv_sec - t0.tv_sec > 20 ? 23 : 0;
}

static void test_lock_word(void)
{
    g_sleeper = fork();
    REQUIRE(g_sleeper >= 0);
    if (g_sleeper == 0) {
        pause();
        _exit(0);
    }
    setenv("MKF_SHARED_TEST_LOCK_TIMEOUT_MS", "500", 1);
    CHECK_EQ(run_damaged(bad_lock_word, attach_again), 0);
    unsetenv("MKF_SHARED_TEST_LOCK_TIMEOUT_MS");
    kill(g_sleeper, SIGKILL);
    waitpid(g_sleeper, NULL, 0);
}

static void bad_lock_kind(struct mkf_shm_header *h, size_t len)
{
    (void)len;
    h->lock.__data.__kind = 0x7fff; /* priority protection with garbage in it */
}

static void test_lock_kind(void) { CHECK_EQ(run_damaged(bad_lock_kind, attach_again), 0); }

/* Each process's slot on cache lines of its own: in the layout, and in two
 * processes' mappings of one heap. */
static void test_slot_lines(void)
{
    CHECK_EQ(sizeof(struct mkf_shm_slot) % 64, 0);
    CHECK_EQ(offsetof(struct mkf_shm_header, slots) % 64, 0);
    memkind_t k;
    REQUIRE(memkind_shared_create(NULL, 8 * MiB, 0, &k) == 0);
    REQUIRE(memkind_malloc(k, 64) != NULL);
    int tell[2];
    REQUIRE(pipe(tell) == 0);
    memkind_t c;
    pid_t pid = shared_fork_attached(k, &c);
    if (pid == 0) {
        if (memkind_malloc(c, 64) == NULL)
            _exit(10);
        struct memkind_shared_stats s;
        if (memkind_shared_get_stats(c, &s) != 0)
            _exit(11);
        pipe_put_u64(tell[1], s.slot);
        _exit(0);
    }
    CHECK_EQ(proc_wait_exit(pid), 0);
    unsigned other = (unsigned)pipe_get_u64(tell[0]), mine = shared_stats(k).slot;
    CHECK(other != mine);
    size_t len;
    struct mkf_shm_header *h = map_raw(memkind_shared_fd(k), &len);
    uintptr_t a = (uintptr_t)&h->slots[mine], b = (uintptr_t)&h->slots[other];
    CHECK_EQ(a % 64, 0);
    CHECK_EQ(b % 64, 0);
    uintptr_t lo = a < b ? a : b, hi = a < b ? b : a;
    CHECK(lo + sizeof(struct mkf_shm_slot) <= hi); /* no line of one is the other's */
    munmap(h, len);
    close(tell[0]), close(tell[1]);
    CHECK_EQ(memkind_shared_detach(k), 0);
}

/* ---- the runner ---------------------------------------------------------------------- */

static const struct {
    const char *name;
    void (*run)(void);
} tests[] = {
    {"emfile", test_emfile},         {"noproc", test_noproc},
    {"empty_slot", test_empty_slot}, {"paths", test_paths},
    {"many_small", test_many_small},
    {"huge", test_huge},             {"grown", test_grown},
    {"dead_freed", test_dead_freed}, {"all_dead", test_all_dead},
    {"exec", test_exec},             {"run_length", test_run_length},
    {"queue_head", test_queue_head}, {"lock_word", test_lock_word},
    {"lock_kind", test_lock_kind},   {"slot_lines", test_slot_lines},
};

int main(int argc, char **argv)
{
    int failed = 0;
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        if (argc > 1 && strcmp(argv[1], tests[i].name) != 0)
            continue;
        pid_t pid = proc_fork();
        if (pid == 0) {
            alarm(120);
            tests[i].run();
            int rc = check_done(tests[i].name);
            fflush(stdout);
            _exit(rc);
        }
        int rc = proc_wait_exit(pid);
        printf("%s: %s (%d)\n", tests[i].name, rc == 0 ? "ok" : "FAILED", rc);
        failed += rc != 0;
    }
    printf("shared_defects_test: %d of %zu failed\n", failed,
           sizeof(tests) / sizeof(tests[0]));
    return failed != 0;
}
