/*
 * shared_kind_test.c - shared kinds (issue 14): create / attach / detach /
 * unlink, offsets in processes that map the heap at different addresses, frees
 * of another process's blocks (small ones through the owner's queue, large ones
 * straight to the page map), usable sizes and realloc across processes, a fork
 * child attached in its own right, a process killed while it holds the heap's
 * lock (the test hook MKF_SHARED_TEST_CRASH_AT), reclaim, the large block a
 * process parks for reuse (given back at purge and detach, when the process dies,
 * and to another process's request that would fail), first fit of large blocks
 * from the lowest free page on (holes below it are found again), and bad input.
 */
#define _GNU_SOURCE
#include "check.h"
#include "proc.h"
#include "shared.h"
#include "stamp.h"

#include <memkind_fixed.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MiB ((size_t)1 << 20)

/* One process alone: memfd heap, sizes, offsets, stats back to 0. */
static void test_basics(void)
{
    memkind_t k;
    REQUIRE(memkind_shared_create(NULL, 8 * MiB, 0, &k) == 0);
    CHECK(memkind_shared_name(k) == NULL);
    CHECK(memkind_shared_fd(k) >= 0);
    CHECK_EQ(memkind_check_available(k), 0);
    struct memkind_shared_stats s = shared_stats(k);
    CHECK_EQ(s.capacity, 8 * MiB);
    CHECK_EQ(s.used, 0);
    CHECK_EQ(s.processes, 1);
    CHECK(s.segment_size > s.capacity);

    void *small = memkind_malloc(k, 100);
    void *large = memkind_malloc(k, 100000);
    void *z = memkind_calloc(k, 1000, 40);
    void *al = NULL;
    CHECK_EQ(memkind_posix_memalign(k, &al, 65536, 5000), 0);
    REQUIRE(small && large && z && al);
    CHECK(((uintptr_t)al & 65535) == 0);
    CHECK(bytes_all(z, 40000, 0));
    CHECK_EQ(memkind_malloc_usable_size(k, small), 112);
    CHECK_EQ(memkind_malloc_usable_size(k, large), 25 * 4096);
    CHECK(memkind_detect_kind(small) == k);
    uint64_t off = memkind_shared_offset(k, small);
    CHECK(off != 0);
    CHECK(memkind_shared_ptr(k, off) == small);
    CHECK(memkind_shared_offset(k, &off) == 0); /* not in the heap */
    errno = 0;
    CHECK(memkind_shared_ptr(k, 0) == NULL);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK(memkind_shared_ptr(k, s.segment_size) == NULL);
    CHECK_EQ(errno, EINVAL);
    CHECK(memkind_shared_ptr(k, 64) == NULL); /* the header */

    stamp_bytes(large, 100000, 7);
    void *grown = memkind_realloc(k, large, 300000);
    REQUIRE(grown != NULL);
    CHECK(bytes_all(grown, 100000, 7));
    s = shared_stats(k);
    CHECK(s.used >= 300000);
    CHECK_EQ(s.process_used, s.used);

    size_t peak_before = s.used;

    memkind_free(k, small);
    memkind_free(NULL, grown);
    memkind_free(k, z);
    memkind_free(k, al);
    CHECK_EQ(memkind_fixed_purge(k), 0);
    s = shared_stats(k);
    CHECK_EQ(s.used, 0);
    /* The fixed statistics' peak of a shared kind: the segment's, all processes. */
    struct memkind_fixed_stats fs;
    CHECK_EQ(memkind_fixed_get_stats(k, &fs), 0);
    CHECK(fs.peak_used >= peak_before);
    CHECK(fs.peak_used <= 8 * MiB);
    CHECK_EQ(s.process_allocated, 0);
    CHECK_EQ(s.largest_free, 8 * MiB);

    /* The whole heap fits in large blocks, then in small ones after a free. */
    void *all_of_it = memkind_malloc(k, 8 * MiB);
    CHECK(all_of_it != NULL);
    errno = 0;
    CHECK(memkind_malloc(k, 64) == NULL);
    CHECK_EQ(errno, ENOMEM);
    memkind_free(k, all_of_it);
    void *again = memkind_malloc(k, 64);
    CHECK(again != NULL);
    memkind_free(k, again);
    CHECK_EQ(memkind_shared_detach(k), 0);
    CHECK_EQ(memkind_shared_detach(k), MEMKIND_ERROR_DESTROYED);
}

/* Two attachments in one process: two mappings, two slots, frees across. */
static void test_two_attachments(const char *name)
{
    memkind_t a, b;
    REQUIRE(memkind_shared_create(name, 4 * MiB, 0, &a) == 0);
    CHECK_EQ(memkind_shared_create(name, 4 * MiB, 0, &b), MEMKIND_ERROR_SHARED_EXISTS);
    CHECK(strcmp(memkind_shared_name(a), name) == 0);
    REQUIRE(memkind_shared_attach(name, &b) == 0);
    CHECK(a != b);
    CHECK(shared_stats(a).slot != shared_stats(b).slot);
    CHECK_EQ(shared_stats(a).processes, 2);

    char *pa = memkind_malloc(a, 48);
    REQUIRE(pa != NULL);
    strcpy(pa, "from a");
    char *pb = memkind_shared_ptr(b, memkind_shared_offset(a, pa));
    REQUIRE(pb != NULL);
    CHECK(pb != pa); /* another mapping */
    CHECK(strcmp(pb, "from a") == 0);
    CHECK_EQ(memkind_malloc_usable_size(b, pb), 48);
    CHECK(memkind_detect_kind(pb) == b);
    /* realloc of a's block through b: a copy in b's slab, a's block goes home */
    char *moved = memkind_realloc(b, pb, 200);
    REQUIRE(moved != NULL);
    CHECK(strcmp(moved, "from a") == 0);
    CHECK_EQ(shared_stats(a).remote_frees, 1);
    /* a takes the block in, in a batch with any others, at its next cache miss,
     * purge or detach (its mallocs stay on the inline fast path meanwhile) */
    CHECK(shared_stats(a).process_allocated >= 48);
    CHECK_EQ(memkind_fixed_purge(a), 0);
    CHECK_EQ(shared_stats(a).process_allocated, 0);
    memkind_free(a, memkind_shared_ptr(a, memkind_shared_offset(b, moved)));

    /* large blocks: straight back to the page map from either side */
    void *big = memkind_malloc(b, 1 * MiB);
    REQUIRE(big != NULL);
    memkind_free(a, memkind_shared_ptr(a, memkind_shared_offset(b, big)));
    CHECK_EQ(memkind_fixed_purge(a), 0);
    CHECK_EQ(memkind_fixed_purge(b), 0);
    CHECK_EQ(shared_stats(a).used, 0);

    CHECK_EQ(memkind_shared_detach(b), 0);
    CHECK_EQ(shared_stats(a).processes, 1);
    CHECK_EQ(memkind_shared_detach(a), 0);
    CHECK_EQ(memkind_shared_unlink(name), 0);
    CHECK_EQ(memkind_shared_unlink(name), MEMKIND_ERROR_SHARED_NOT_FOUND);
    CHECK_EQ(memkind_shared_attach(name, &a), MEMKIND_ERROR_SHARED_NOT_FOUND);
}

/* A child attaches by name (a mapping at another address) and trades blocks. */
static void test_processes(const char *name)
{
    memkind_t k;
    REQUIRE(memkind_shared_create(name, 16 * MiB, 0, &k) == 0);
    int to_child[2], to_parent[2];
    REQUIRE(pipe(to_child) == 0 && pipe(to_parent) == 0);
    char *msg = memkind_malloc(k, 32);
    strcpy(msg, "hello child");
    uint64_t off = memkind_shared_offset(k, msg);
    pid_t pid = proc_fork();
    if (pid == 0) {
        memkind_t c;
        if (memkind_shared_attach(name, &c) != 0)
            _exit(10);
        char *m = memkind_shared_ptr(c, off);
        if (m == msg || strcmp(m, "hello child") != 0)
            _exit(11);
        memkind_free(c, m); /* the parent's small block */
        uint64_t offs[2];
        char *mine = memkind_malloc(c, 64);
        void *big = memkind_malloc(c, 200000);
        if (!mine || !big)
            _exit(12);
        strcpy(mine, "hello parent");
        offs[0] = memkind_shared_offset(c, mine);
        offs[1] = memkind_shared_offset(c, big);
        if (write(to_parent[1], offs, sizeof(offs)) != sizeof(offs))
            _exit(13);
        char done;
        if (read(to_child[0], &done, 1) != 1)
            _exit(14);
        /* The parent freed both: the small one is in our queue; purge takes it. */
        memkind_fixed_purge(c);
        struct memkind_shared_stats s;
        memkind_shared_get_stats(c, &s);
        if (s.process_used != 0 || s.remote_frees != 1)
            _exit(15);
        _exit(memkind_shared_detach(c) == 0 ? 0 : 16);
    }
    uint64_t offs[2];
    REQUIRE(read(to_parent[0], offs, sizeof(offs)) == sizeof(offs));
    char *theirs = memkind_shared_ptr(k, offs[0]);
    CHECK(strcmp(theirs, "hello parent") == 0);
    CHECK_EQ(memkind_malloc_usable_size(k, theirs), 64);
    CHECK_EQ(memkind_malloc_usable_size(k, memkind_shared_ptr(k, offs[1])), 49 * 4096);
    memkind_free(k, theirs);
    memkind_free(NULL, memkind_shared_ptr(k, offs[1]));
    REQUIRE(write(to_child[1], "x", 1) == 1);
    int st = proc_wait(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_EQ(shared_stats(k).remote_frees, 1);
    CHECK_EQ(memkind_fixed_purge(k), 0);
    struct memkind_shared_stats s = shared_stats(k);
    CHECK_EQ(s.used, 0);
    CHECK_EQ(s.processes, 1);
    CHECK_EQ(s.dead_processes, 0);
    close(to_child[0]), close(to_child[1]), close(to_parent[0]), close(to_parent[1]);
    CHECK_EQ(memkind_shared_detach(k), 0);
    CHECK_EQ(memkind_shared_unlink(name), 0);
}

/* fork() of an attached process: the child is a process of the heap in its own
 * right, with the same kind handle. */
static void test_fork_child(void)
{
    memkind_t k;
    REQUIRE(memkind_shared_create(NULL, 8 * MiB, 0, &k) == 0);
    char *p = memkind_malloc(k, 100);
    strcpy(p, "before fork");
    unsigned parent_slot = shared_stats(k).slot;
    pid_t pid = proc_fork();
    if (pid == 0) {
        /* No slot until the child's first allocation (a child that only execs
         * takes none). */
        struct memkind_shared_stats s;
        if (memkind_shared_get_stats(k, &s) != 0 || s.slot != MEMKIND_SHARED_MAX_PROCESSES ||
            s.processes != 1)
            _exit(20);
        if (strcmp(p, "before fork") != 0)
            _exit(21);
        void *q[100];
        for (int i = 0; i < 100; i++)
            if ((q[i] = memkind_malloc(k, 64 + i)) == NULL || q[i] == p)
                _exit(22);
        if (memkind_shared_get_stats(k, &s) != 0 || s.slot == parent_slot || s.processes != 2)
            _exit(24);
        for (int i = 0; i < 100; i++)
            memkind_free(k, q[i]);
        memkind_free(k, p); /* the parent's block: to its queue */
        _exit(memkind_shared_detach(k) == 0 ? 0 : 23);
    }
    int st = proc_wait(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_EQ(shared_stats(k).processes, 1);
    CHECK_EQ(memkind_fixed_purge(k), 0);
    CHECK_EQ(shared_stats(k).used, 0);
    CHECK_EQ(memkind_shared_detach(k), 0);
}

/* A child dies while it holds the lock, half-way through a page map change; then
 * another dies without the lock, holding blocks and cached pages. */
static void test_crash(void)
{
    memkind_t k;
    REQUIRE(memkind_shared_create(NULL, 16 * MiB, 0, &k) == 0);
    int fd = memkind_shared_fd(k);
    int pfd[2];
    REQUIRE(pipe(pfd) == 0);
    pid_t pid = proc_fork();
    if (pid == 0) {
        memkind_t c;
        setenv("MKF_SHARED_TEST_CRASH_AT", "3", 1);
        if (memkind_shared_attach_fd(fd, &c) != 0)
            _exit(30);
        void *a = memkind_malloc(c, 40000);      /* mutation 1 */
        uint64_t off = memkind_shared_offset(c, a);
        if (write(pfd[1], &off, sizeof(off)) != sizeof(off))
            _exit(31);
        void *b = memkind_malloc(c, 64);         /* 2: a slab */
        (void)b;
        (void)memkind_malloc(c, 8 * 4096 * 2);   /* 3: killed half-way */
        _exit(32);
    }
    int st = proc_wait(pid);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    uint64_t off;
    REQUIRE(read(pfd[0], &off, sizeof(off)) == sizeof(off));
    /* Whoever locks next repairs the map. */
    struct memkind_shared_stats s = shared_stats(k);
    CHECK_EQ(s.recoveries, 1);
    CHECK_EQ(s.processes, 1);
    CHECK_EQ(s.dead_processes, 1);
    CHECK(s.dead_used >= 40960 + 4096 + 16 * 4096);
    CHECK_EQ(s.used, s.dead_used);
    /* Its large block is still valid and anyone may free it. */
    void *a = memkind_shared_ptr(k, off);
    CHECK_EQ(memkind_malloc_usable_size(k, a), 40960);
    memkind_free(k, a);
    CHECK_EQ(shared_stats(k).dead_used, s.dead_used - 40960);
    /* The heap keeps working. */
    void *mine = memkind_malloc(k, 1 * MiB);
    CHECK(mine != NULL);
    memkind_free(k, mine);
    size_t bytes = 0;
    CHECK_EQ(memkind_shared_reclaim(k, &bytes), 0);
    CHECK_EQ(bytes, s.dead_used - 40960);
    s = shared_stats(k);
    CHECK_EQ(s.used, 0);
    CHECK_EQ(s.dead_processes, 0);
    CHECK_EQ(s.largest_free, 16 * MiB);
    close(pfd[0]), close(pfd[1]);
    CHECK_EQ(memkind_shared_detach(k), 0);
}

/* Large blocks go first fit from the bottom, and the search starts at the lowest
 * free page the heap knows of: holes that frees open below it are found, a hole
 * too small is not passed over for good, and a crash repair keeps the order.
 * Another attachment frees the blocks, so that none is parked for reuse. */
static void test_first_fit(void)
{
    enum { B = 64 * 1024 };
    memkind_t k, other;
    REQUIRE(memkind_shared_create(NULL, 16 * MiB, 0, &k) == 0);
    REQUIRE(memkind_shared_attach_fd(memkind_shared_fd(k), &other) == 0);
    char *p[6];
    for (int i = 0; i < 6; i++) {
        p[i] = memkind_malloc(k, B);
        REQUIRE(p[i] != NULL);
        if (i > 0)
            CHECK(p[i] == p[i - 1] + B); /* one after the other from the bottom */
    }
#define THEIRS(q) memkind_shared_ptr(other, memkind_shared_offset(k, (q)))
    memkind_free(other, THEIRS(p[3]));
    memkind_free(other, THEIRS(p[1]));
    /* Two holes of one block each, at 1 and 3: a request of two passes both. */
    char *two = memkind_malloc(k, 2 * B);
    CHECK(two == p[5] + B);
    CHECK(memkind_malloc(k, B) == p[1]); /* the lowest hole, still known */
    CHECK(memkind_malloc(k, B) == p[3]);
    CHECK(memkind_malloc(k, B) == two + 2 * B);
    /* A hole opened below the bound after the bound moved up. */
    memkind_free(other, THEIRS(p[0]));
    CHECK(memkind_malloc(k, B) == p[0]);
    /* Shrinking a block frees its tail: once the lower hole is full, the next
     * block goes there. */
    memkind_free(other, THEIRS(two));
    char *four = memkind_malloc(k, 4 * B);
    CHECK(four > two); /* the hole of two blocks is too small */
    REQUIRE(four != NULL);
    CHECK(memkind_realloc(k, four, B) == four);
    CHECK(memkind_malloc(k, B) == two);
    CHECK(memkind_malloc(k, B) == two + B);
    CHECK(memkind_malloc(k, B) == four + B);
#undef THEIRS

    /* After a process died holding the lock half-way through taking pages, the
     * repair recomputes the bound: the next block is the lowest free one. */
    pid_t pid = proc_fork();
    if (pid == 0) {
        memkind_t c;
        setenv("MKF_SHARED_TEST_CRASH_AT", "1", 1);
        if (memkind_shared_attach_fd(memkind_shared_fd(k), &c) != 0)
            _exit(30);
        (void)memkind_malloc(c, 32 * B); /* killed half-way */
        _exit(31);
    }
    int st = proc_wait(pid);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    memkind_free(k, p[2]);  /* this process's own: parked, not in the page map */
    memkind_free(other, memkind_shared_ptr(other, memkind_shared_offset(k, p[4])));
    CHECK(memkind_malloc(k, 2 * B) != p[2]); /* another size: the parked one goes back */
    CHECK_EQ(shared_stats(k).recoveries, 1);
    CHECK(memkind_malloc(k, B) == p[2]);
    CHECK(memkind_malloc(k, B) == p[4]);
    size_t bytes;
    CHECK_EQ(memkind_shared_detach(other), 0);
    CHECK_EQ(memkind_shared_reclaim(k, &bytes), 0);
    CHECK_EQ(bytes, 32 * B);
    CHECK_EQ(memkind_shared_detach(k), 0);
}

/* The last large block a process freed stays parked in its slot: the next request
 * of about its size takes it back without the page map, and stats count it as
 * used but not allocated; purge and another size give it back. */
static void test_parking(void)
{
    memkind_t k, other;
    REQUIRE(memkind_shared_create(NULL, 16 * MiB, 0, &k) == 0);
    REQUIRE(memkind_shared_attach_fd(memkind_shared_fd(k), &other) == 0);
    void *p = memkind_malloc(k, 4 * MiB);
    REQUIRE(p != NULL);
    struct memkind_shared_stats held = shared_stats(k);
    CHECK_EQ(held.used, 4 * MiB);
    CHECK_EQ(held.process_allocated, 4 * MiB);
    memkind_free(k, p);
    struct memkind_shared_stats parked = shared_stats(k);
    CHECK_EQ(parked.used, 4 * MiB); /* still the process's pages */
    CHECK_EQ(parked.free, held.free);
    CHECK_EQ(parked.process_used, 4 * MiB);
    CHECK_EQ(parked.process_allocated, 0); /* but free for the program */
    struct memkind_fixed_stats fs;
    REQUIRE(memkind_fixed_get_stats(k, &fs) == 0);
    CHECK_EQ(fs.allocated, 0);
    CHECK_EQ(fs.used, 4 * MiB);
    size_t stat = 1;
    CHECK_EQ(memkind_get_stat(k, MEMKIND_STAT_TYPE_ALLOCATED, &stat), 0);
    CHECK_EQ(stat, 0);
    /* The same block again, the page map untouched; calloc zeroes it. */
    memset(p, 0x5a, 4 * MiB);
    void *q = memkind_malloc(k, 4 * MiB);
    CHECK(q == p);
    CHECK_EQ(shared_stats(k).free, held.free);
    CHECK_EQ(shared_stats(k).process_allocated, 4 * MiB);
    memkind_free(k, q);
    q = memkind_calloc(k, 1, 4 * MiB - 100000); /* a quarter smaller at most */
    CHECK(q == p);
    CHECK(bytes_all(q, 4 * MiB - 100000, 0));
    memkind_free(k, q);
    /* Freeing the parked block again, from another attachment, changes nothing. */
    memkind_free(other, memkind_shared_ptr(other, memkind_shared_offset(k, p)));
    CHECK_EQ(shared_stats(k).used, 4 * MiB);
    CHECK(memkind_malloc(k, 4 * MiB) == p);
    memkind_free(k, p);
    /* A block another process allocated goes straight back to the page map. */
    void *theirs = memkind_malloc(other, 1 * MiB);
    REQUIRE(theirs != NULL);
    memkind_free(k, memkind_shared_ptr(k, memkind_shared_offset(other, theirs)));
    CHECK_EQ(shared_stats(k).used, 4 * MiB);
    CHECK_EQ(shared_stats(other).process_used, 0);
    /* Another size gives the parked block back before it takes pages. */
    void *big = memkind_malloc(k, 8 * MiB);
    REQUIRE(big != NULL);
    CHECK(big == p); /* first fit: where the parked block was */
    CHECK_EQ(shared_stats(k).used, 8 * MiB);
    memkind_free(k, big); /* above the parking limit: straight back */
    CHECK_EQ(shared_stats(k).used, 0);
    /* Purge gives it back, as detach does. */
    memkind_free(k, memkind_malloc(k, 64 * 1024));
    CHECK_EQ(shared_stats(k).used, 64 * 1024);
    CHECK_EQ(memkind_fixed_purge(k), 0);
    CHECK_EQ(shared_stats(k).used, 0);
    memkind_free(other, memkind_malloc(other, 2 * MiB));
    CHECK_EQ(shared_stats(k).used, 2 * MiB);
    CHECK_EQ(memkind_shared_detach(other), 0);
    struct memkind_shared_stats s = shared_stats(k);
    CHECK_EQ(s.used, 0);
    CHECK_EQ(s.dead_processes, 0);
    CHECK_EQ(s.largest_free, 16 * MiB);
    CHECK_EQ(memkind_shared_detach(k), 0);
}

/* A process killed with a block parked: whoever notices the death first gives the
 * block back, with or without the lock held at the kill. */
static void test_parked_by_dead_process(void)
{
    for (int hold_lock = 0; hold_lock < 2; hold_lock++) {
        memkind_t k;
        REQUIRE(memkind_shared_create(NULL, 16 * MiB, 0, &k) == 0);
        int fd = memkind_shared_fd(k), pfd[2];
        REQUIRE(pipe(pfd) == 0);
        pid_t pid = proc_fork();
        if (pid == 0) {
            memkind_t c;
            if (hold_lock)
                setenv("MKF_SHARED_TEST_CRASH_AT", "2", 1);
            if (memkind_shared_attach_fd(fd, &c) != 0)
                _exit(50);
            void *p = memkind_malloc(c, 4 * MiB); /* mutation 1 */
            if (p == NULL)
                _exit(51);
            memkind_free(c, p);                   /* parked: no mutation */
            struct memkind_shared_stats s;
            if (memkind_shared_get_stats(c, &s) != 0 || s.process_used != 4 * MiB ||
                s.process_allocated != 0)
                _exit(52);
            if (hold_lock)
                (void)memkind_malloc(c, 64); /* 2: a slab, killed half-way */
            if (write(pfd[1], "p", 1) != 1)
                _exit(53);
            pause();
            _exit(54);
        }
        close(pfd[1]);
        char c;
        /* The child parked its block and, holding the lock, killed itself (the
         * pipe's end), or waits for our SIGKILL. */
        CHECK_EQ(read(pfd[0], &c, 1), (ssize_t)(hold_lock ? 0 : 1));
        if (!hold_lock)
            kill(pid, SIGKILL);
        int st = proc_wait(pid);
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        struct memkind_shared_stats s = shared_stats(k); /* notices the death */
        CHECK_EQ(s.processes, 1);
        CHECK_EQ(s.recoveries, (uint64_t)hold_lock);
        if (hold_lock) {
            /* Only the slab it was taking is left, under its dead slot. */
            CHECK(s.used > 0 && s.used < 4 * MiB);
            CHECK_EQ(s.used, s.dead_used);
            CHECK_EQ(s.dead_processes, 1);
        } else {
            CHECK_EQ(s.used, 0);
            CHECK_EQ(s.dead_processes, 0); /* its slot is free again */
        }
        CHECK_EQ(s.free, s.capacity - s.used);
        CHECK(s.largest_free >= 12 * MiB);
        /* The whole heap, or all of it but the slab, in one block now. */
        void *p = memkind_malloc(k, hold_lock ? 12 * MiB : 16 * MiB);
        CHECK(p != NULL);
        memkind_free(k, p);
        size_t bytes = 0;
        CHECK_EQ(memkind_shared_reclaim(k, &bytes), 0);
        CHECK_EQ(bytes, s.dead_used);
        s = shared_stats(k);
        CHECK_EQ(s.used, 0);
        CHECK_EQ(s.largest_free, 16 * MiB);
        close(pfd[0]);
        CHECK_EQ(memkind_shared_detach(k), 0);
    }
}

/* A request that only fits in another live process's parked block takes it,
 * instead of failing; that process then finds its block gone. */
static void test_unpark_for_another(void)
{
    memkind_t k;
    REQUIRE(memkind_shared_create(NULL, 8 * MiB, 0, &k) == 0);
    int fd = memkind_shared_fd(k), to_child[2], to_parent[2];
    REQUIRE(pipe(to_child) == 0 && pipe(to_parent) == 0);
    pid_t pid = proc_fork();
    if (pid == 0) {
        memkind_t c;
        if (memkind_shared_attach_fd(fd, &c) != 0)
            _exit(60);
        void *p = memkind_malloc(c, 4 * MiB);
        if (p == NULL)
            _exit(61);
        uint64_t off = memkind_shared_offset(c, p);
        memkind_free(c, p); /* parked */
        if (write(to_parent[1], &off, sizeof(off)) != sizeof(off))
            _exit(62);
        char x;
        if (read(to_child[0], &x, 1) != 1)
            _exit(63);
        /* The parent holds the whole heap: our block is not ours any more. */
        struct memkind_shared_stats s;
        if (memkind_shared_get_stats(c, &s) != 0 || s.process_used != 0 || s.free != 0)
            _exit(64);
        errno = 0;
        if (memkind_malloc(c, 4 * MiB) != NULL || errno != ENOMEM)
            _exit(65);
        if (write(to_parent[1], "d", 1) != 1 || read(to_child[0], &x, 1) != 1)
            _exit(66);
        /* The parent freed everything: the heap serves us again. */
        p = memkind_malloc(c, 4 * MiB);
        if (p == NULL)
            _exit(67);
        memkind_free(c, p);
        _exit(memkind_shared_detach(c) == 0 ? 0 : 68);
    }
    uint64_t off;
    REQUIRE(read(to_parent[0], &off, sizeof(off)) == sizeof(off));
    CHECK_EQ(shared_stats(k).used, 4 * MiB); /* the child's parked block */
    void *mine = memkind_malloc(k, 4 * MiB);
    REQUIRE(mine != NULL);
    CHECK_EQ(shared_stats(k).free, 0);
    /* Only the child's parked pages could hold this: it takes them. */
    void *taken = memkind_malloc(k, 4 * MiB);
    CHECK(taken != NULL);
    CHECK_EQ(memkind_shared_offset(k, taken), off);
    struct memkind_shared_stats s = shared_stats(k);
    CHECK_EQ(s.process_used, 8 * MiB);
    CHECK_EQ(s.process_allocated, 8 * MiB);
    struct memkind_fixed_stats fs;
    REQUIRE(memkind_fixed_get_stats(k, &fs) == 0);
    CHECK_EQ(fs.failed_allocs, 0);
    REQUIRE(write(to_child[1], "x", 1) == 1);
    char d;
    REQUIRE(read(to_parent[0], &d, 1) == 1);
    memkind_free(k, taken);
    memkind_free(k, mine);
    CHECK_EQ(memkind_fixed_purge(k), 0);
    REQUIRE(write(to_child[1], "x", 1) == 1);
    int st = proc_wait(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    s = shared_stats(k);
    CHECK_EQ(s.used, 0);
    CHECK_EQ(s.processes, 1);
    CHECK_EQ(s.dead_processes, 0);
    close(to_child[0]), close(to_child[1]), close(to_parent[0]), close(to_parent[1]);
    CHECK_EQ(memkind_shared_detach(k), 0);
}

/* Segments that are not shared heaps, or damaged ones. */
static void test_bad_input(void)
{
    memkind_t k = NULL, fixed;
    CHECK_EQ(memkind_shared_create(NULL, 0, 0, &k), MEMKIND_ERROR_INVALID);
    CHECK_EQ(memkind_shared_create(NULL, MiB, 2, &k), MEMKIND_ERROR_INVALID);
    CHECK_EQ(memkind_shared_create(NULL, MiB, 0, NULL), MEMKIND_ERROR_INVALID);
    CHECK_EQ(memkind_shared_create("no-slash/x", MiB, 0, &k), MEMKIND_ERROR_INVALID);
    CHECK_EQ(memkind_shared_attach(NULL, &k), MEMKIND_ERROR_INVALID);
    CHECK_EQ(memkind_shared_attach_fd(-1, &k), MEMKIND_ERROR_INVALID);
    CHECK(k == NULL);

    int junk = memfd_create("junk", 0);
    REQUIRE(junk >= 0 && ftruncate(junk, 1 * MiB) == 0);
    CHECK_EQ(memkind_shared_attach_fd(junk, &k), MEMKIND_ERROR_SHARED_BAD_MAGIC);
    close(junk);

    memkind_t good;
    REQUIRE(memkind_shared_create(NULL, 2 * MiB, 0, &good) == 0);
    int fd = memkind_shared_fd(good);
    struct stat st;
    REQUIRE(fstat(fd, &st) == 0);
    /* A copy of the segment, then damaged in turn. */
    int copy = memfd_create("copy", 0);
    REQUIRE(copy >= 0 && ftruncate(copy, st.st_size) == 0);
    void *src = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    void *dst = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, copy, 0);
    REQUIRE(src != MAP_FAILED && dst != MAP_FAILED);
    memcpy(dst, src, 4096);
    uint32_t *version = (uint32_t *)((char *)dst + 8);
    (*version)++;
    CHECK_EQ(memkind_shared_attach_fd(copy, &k), MEMKIND_ERROR_SHARED_VERSION);
    (*version)--;
    REQUIRE(ftruncate(copy, st.st_size - 4096) == 0);
    CHECK_EQ(memkind_shared_attach_fd(copy, &k), MEMKIND_ERROR_SHARED_SIZE);
    munmap(src, st.st_size);
    munmap(dst, st.st_size);
    close(copy);

    /* Shared-kind calls on other kinds. */
    static char area[1 << 16] __attribute__((aligned(4096)));
    REQUIRE(memkind_create_fixed(area, sizeof(area), &fixed) == 0);
    CHECK_EQ(memkind_shared_fd(fixed), MEMKIND_ERROR_NOT_SHARED);
    CHECK_EQ(memkind_shared_detach(fixed), MEMKIND_ERROR_NOT_SHARED);
    CHECK_EQ(memkind_shared_reclaim(MEMKIND_DEFAULT, NULL), MEMKIND_ERROR_NOT_SHARED);
    CHECK(memkind_shared_offset(fixed, area + 4096) == 0);
    CHECK(memkind_shared_name(fixed) == NULL);
    struct memkind_shared_stats s;
    CHECK_EQ(memkind_shared_get_stats(NULL, &s), MEMKIND_ERROR_INVALID);
    CHECK_EQ(memkind_shared_get_stats(good, NULL), MEMKIND_ERROR_INVALID);
    CHECK_EQ(memkind_destroy_kind(fixed), 0);
    /* A pointer of another heap given to a shared kind goes to its own heap. */
    void *d = memkind_malloc(MEMKIND_DEFAULT, 64);
    memkind_free(good, d);
    char msg[MEMKIND_ERROR_MESSAGE_SIZE];
    memkind_error_message(MEMKIND_ERROR_SHARED_FULL, msg, sizeof(msg));
    CHECK(strstr(msg, "slot") != NULL);
    CHECK_EQ(memkind_destroy_kind(good), 0); /* detaches */
}

/* MEMKIND_SHARED_UNLINK_ON_LAST_DETACH: the name goes with the last live
 * attachment, not before; without the flag it stays. */
static void test_unlink_on_last_detach(const char *name)
{
    memkind_t a, b;
    REQUIRE(memkind_shared_create(name, MiB, MEMKIND_SHARED_UNLINK_ON_LAST_DETACH, &a) == 0);
    REQUIRE(memkind_shared_attach(name, &b) == 0);
    void *p = memkind_malloc(b, 100);
    CHECK(p != NULL);
    memkind_free(a, p);
    CHECK_EQ(memkind_shared_detach(a), 0);
    memkind_t c;
    CHECK_EQ(memkind_shared_attach(name, &c), 0); /* b is alive: the name is there */
    CHECK_EQ(memkind_shared_detach(c), 0);
    CHECK_EQ(memkind_shared_detach(b), 0); /* the last one */
    CHECK_EQ(memkind_shared_attach(name, &c), MEMKIND_ERROR_SHARED_NOT_FOUND);
    CHECK_EQ(memkind_shared_unlink(name), MEMKIND_ERROR_SHARED_NOT_FOUND);

    REQUIRE(memkind_shared_create(name, MiB, 0, &a) == 0);
    CHECK_EQ(memkind_shared_detach(a), 0);
    CHECK_EQ(memkind_shared_attach(name, &a), 0); /* no flag: the heap stays */
    CHECK_EQ(memkind_shared_detach(a), 0);
    CHECK_EQ(memkind_shared_unlink(name), 0);
}

int main(void)
{
    char buf[64];
    const char *name = shared_name(buf, sizeof(buf), "mkf_shared_kind_test");
    test_basics();
    test_two_attachments(name);
    test_processes(name);
    test_fork_child();
    test_crash();
    test_parking();
    test_parked_by_dead_process();
    test_unpark_for_another();
    test_first_fit();
    test_bad_input();
    test_unlink_on_last_detach(name);
    return check_done("shared_kind_test");
}
