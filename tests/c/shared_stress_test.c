/*
 * shared_stress_test.c - issue 14, acceptance 1: 4 processes x 2 threads on one
 * shared kind. Random malloc / free / hand-off of offsets through a pipe, freed by
 * the receiver; every block carries its seed and size and is filled from them,
 * checked whenever it is freed. Two of the four processes die: one by SIGKILL
 * from the parent at a random moment, one by the test hook while it holds the
 * heap's lock, half-way through a page map change (MKF_SHARED_TEST_CRASH_AT).
 *
 * Checked at the end:
 * - every block's content (a block handed out twice, or a byte the library
 *   wrote inside a live block, breaks it);
 * - no block handed out twice, directly: a map of 16-byte granules in separate
 *   shared memory, marked live with an atomic OR at malloc (the bit must have
 *   been clear) and cleared at free;
 * - no byte written outside blocks: every granule that was never part of a block
 *   is still zero (the segment starts zero-filled);
 * - stats: used = the survivors' pages while they hold blocks; after every
 *   survivor freed everything and purged, and the parent reclaimed the dead
 *   processes, used = 0 and the largest free run is the whole heap; the lock
 *   holder's death was repaired (recoveries >= 1).
 *
 * With STRESS_OBSERVER=emfile, survivor 1 has no free file descriptor from the
 * start, and with STRESS_OBSERVER=noproc it sees an empty /proc (a mount
 * namespace, or the library's MKF_SHARED_TEST_NO_PROC switch where the sandbox
 * forbids one); in both it also reclaims dead processes all through the run
 * (and the victims hand no block over, which reclaim would make garbage).
 * Deciding liveness by reading /proc, it took its live peers for dead and
 * handed their blocks out again.
 *
 * With STRESS_THREADS_ONLY=1 (the TSan run) only the in-process part runs: the
 * threads of one process on a shared kind, with two attachments so that frees
 * cross "processes" through the queues.
 */
#define _GNU_SOURCE
#include "check.h"
#include "proc.h"
#include "rng.h"
#include "stamp.h"

#include <memkind_fixed.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MiB ((size_t)1 << 20)
#define HEAP (64 * MiB)
#define NPROC 4
#define OPS 15000
#define KEEP 150

struct shared_state { /* MAP_SHARED anonymous, made before fork */
    _Atomic unsigned long double_handout, bad_content, blocks, remote_sent;
    _Atomic unsigned survivors_done;
    _Atomic unsigned victims_dead; /* reaped by the parent */
    _Atomic uint8_t granule[HEAP / 16];
};

static struct shared_state *g;
static int g_id; /* this process's number: granules carry it in bits 2-3 */
static memkind_t g_kind;
static uint64_t g_data_off;

struct msg {
    uint64_t off;
    uint64_t size;
};

static size_t pick_size(uint64_t *r)
{
    if (rng_xorshift(r) % 64 == 0)
        return 20000 + rng_xorshift(r) % 300000; /* large: exact pages */
    /* log-uniform 16 .. 16 KiB */
    return 16 + (rng_xorshift(r) % (1u << (4 + rng_xorshift(r) % 11)));
}

static void mark(memkind_t k, void *p, size_t size, bool live)
{
    size_t first = (memkind_shared_offset(k, p) - g_data_off) / 16;
    size_t n = (size + 15) / 16;
    for (size_t i = 0; i < n; i++) {
        if (live) {
            /* live, ever in a block, and whose: one exchange */
            uint8_t old = atomic_exchange(&g->granule[first + i], (uint8_t)(3 | g_id << 2));
            if (old & 1)
                atomic_fetch_add(&g->double_handout, 1);
        } else {
            atomic_fetch_and(&g->granule[first + i], (uint8_t)~1);
        }
    }
}

/* A block: its seed and size, then from byte 16 on the sequence that byte i is
 * seed * 31 + i. */
static void fill(unsigned char *p, size_t size, uint64_t seed)
{
    memcpy(p, &seed, 8);
    uint64_t sz = size;
    memcpy(p + 8, &sz, 8);
    stamp_seq(p + 16, size - 16, (unsigned char)(seed * 31 + 16));
}

static bool intact(const unsigned char *p, size_t size)
{
    uint64_t seed, sz;
    memcpy(&seed, p, 8);
    memcpy(&sz, p + 8, 8);
    return sz == size && seq_intact(p + 16, size - 16, (unsigned char)(seed * 31 + 16));
}

static void *alloc_block(memkind_t k, size_t size, uint64_t seed)
{
    unsigned char *p = memkind_malloc(k, size);
    if (p == NULL)
        return NULL;
    mark(k, p, size, true);
    fill(p, size, seed);
    atomic_fetch_add(&g->blocks, 1);
    return p;
}

static void free_block(memkind_t k, void *p, size_t size)
{
    if (!intact(p, size))
        atomic_fetch_add(&g->bad_content, 1);
    mark(k, p, size, false);
    memkind_free(k, p);
}

struct worker {
    memkind_t kind;      /* the kind this thread allocates from */
    memkind_t free_kind; /* ... and frees its hand-offs through (threads-only run) */
    int out;             /* pipe to hand blocks to; -1: none */
    uint64_t seed;
    long ops;            /* < 0: until killed */
};

static void *work(void *arg)
{
    struct worker *w = arg;
    void *ptr[KEEP] = {0};
    size_t size[KEEP] = {0};
    uint64_t r = w->seed;
    for (long op = 0; w->ops < 0 || op < w->ops; op++) {
        unsigned i = (unsigned)(rng_xorshift(&r) % KEEP);
        if (ptr[i] != NULL) {
            if (w->out >= 0 && rng_xorshift(&r) % 3 == 0) {
                struct msg m = {memkind_shared_offset(w->kind, ptr[i]), size[i]};
                if (write(w->out, &m, sizeof(m)) == sizeof(m)) {
                    atomic_fetch_add(&g->remote_sent, 1);
                    ptr[i] = NULL;
                    continue;
                }
            }
            free_block(w->kind, ptr[i], size[i]);
            ptr[i] = NULL;
        } else {
            size[i] = pick_size(&r);
            ptr[i] = alloc_block(w->kind, size[i], rng_xorshift(&r));
        }
    }
    for (unsigned i = 0; i < KEEP; i++)
        if (ptr[i] != NULL)
            free_block(w->kind, ptr[i], size[i]);
    return NULL;
}

/* Reads hand-offs until every writer closed its end, and frees them. */
struct reader {
    memkind_t kind;
    int in;
};

static void *read_and_free(void *arg)
{
    struct reader *rd = arg;
    struct msg m;
    while (read(rd->in, &m, sizeof(m)) == sizeof(m)) {
        void *p = memkind_shared_ptr(rd->kind, m.off);
        if (p == NULL) {
            atomic_fetch_add(&g->bad_content, 1);
            continue;
        }
        free_block(rd->kind, p, m.size);
    }
    return NULL;
}

/* STRESS_OBSERVER: how survivor 1 is blinded (NULL: not). */
static const char *g_observer;
static atomic_int g_workers_done;

static void blind(void)
{
    if (strcmp(g_observer, "emfile") == 0) {
        (void)exhaust_descriptors(); /* as far as it goes */
    } else if (unshare(CLONE_NEWNS) != 0 ||
               mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0 ||
               mount("none", "/proc", "tmpfs", 0, NULL) != 0) {
        setenv("MKF_SHARED_TEST_NO_PROC", "1", 1); /* no namespace here */
    }
}

/* The blinded survivor looks at the others all the while (statistics, and an
 * attach + detach: both decide who is dead), and once the parent has reaped
 * both victims, reclaims them again and again. Their blocks are garbage then:
 * their granules stop counting as live first, so that the pages coming back
 * are not taken for blocks handed out twice. A live peer taken for dead would
 * be reclaimed too, and its blocks handed out again. */
static void *reclaimer(void *arg)
{
    memkind_t k = arg;
    bool cleared = false;
    while (atomic_load(&g_workers_done) == 0) {
        struct memkind_shared_stats s;
        memkind_shared_get_stats(k, &s);
        memkind_t other;
        if (memkind_shared_attach_fd(memkind_shared_fd(k), &other) == 0)
            memkind_shared_detach(other);
        if (atomic_load(&g->victims_dead) == 2) {
            if (!cleared) {
                for (size_t i = 0; i < HEAP / 16; i++)
                    if ((atomic_load(&g->granule[i]) >> 2) >= 2)
                        atomic_fetch_and(&g->granule[i], (uint8_t)~1);
                cleared = true;
            }
            size_t bytes;
            memkind_shared_reclaim(k, &bytes);
        }
        usleep(2000);
    }
    return NULL;
}

/* One process of the stress: 2 workers and a reader; exits with 0 on success. */
static int process(int id, memkind_t k, int in, int out, long ops)
{
    struct worker w[2];
    pthread_t t[2], rt, ct;
    struct reader rd = {k, in};
    bool observer = id == 1 && g_observer != NULL;
    if (observer) {
        blind();
        pthread_create(&ct, NULL, reclaimer, k);
    }
    if (in >= 0)
        pthread_create(&rt, NULL, read_and_free, &rd);
    for (int i = 0; i < 2; i++) {
        w[i] = (struct worker){k, k, out, 0x9e3779b97f4a7c15ull * (uint64_t)(id * 2 + i + 1), ops};
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    if (out >= 0)
        close(out);
    if (in >= 0)
        pthread_join(rt, NULL);
    if (observer) {
        atomic_store(&g_workers_done, 1);
        pthread_join(ct, NULL);
    }
    /* Every survivor has freed what it holds: now each takes in what the others
     * freed to it, and purges. */
    atomic_fetch_add(&g->survivors_done, 1);
    while (atomic_load(&g->survivors_done) < 2)
        usleep(1000);
    if (memkind_fixed_purge(k) != 0)
        return 40;
    struct memkind_shared_stats s;
    if (memkind_shared_get_stats(k, &s) != 0)
        return 41;
    if (s.process_used != 0 || s.process_allocated != 0) {
        fprintf(stderr, "process %d: still holds %zu bytes (%zu allocated)\n", id,
                s.process_used, s.process_allocated);
        return 42;
    }
    return memkind_shared_detach(k) == 0 ? 0 : 43;
}

static void run_processes(void)
{
    memkind_t k;
    REQUIRE(memkind_shared_create(NULL, HEAP, 0, &k) == 0);
    struct memkind_shared_stats s0;
    REQUIRE(memkind_shared_get_stats(k, &s0) == 0);
    g_kind = k;
    g_data_off = s0.segment_size - s0.capacity;
    int fd = memkind_shared_fd(k);
    signal(SIGPIPE, SIG_IGN);
    /* pipes[i]: to survivor i (0, 1). Survivors send to each other, victim 2 to 0
     * and victim 3 to 1: nothing is ever sent to a process that may die. */
    int pipes[2][2];
    REQUIRE(pipe(pipes[0]) == 0 && pipe(pipes[1]) == 0);
    uint64_t seed = (uint64_t)time(NULL) ^ (uint64_t)getpid();
    srand((unsigned)seed);
    int crash_at = 20 + rand() % 300;
    int kill_ms = 50 + rand() % 400;
    printf("seed %llu: process 2 dies holding the lock at its mutation %d, process 3 is "
           "killed after %d ms\n", (unsigned long long)seed, crash_at, kill_ms);
    fflush(stdout);
    pid_t pid[NPROC];
    for (int id = 0; id < NPROC; id++) {
        pid[id] = fork();
        REQUIRE(pid[id] >= 0);
        if (pid[id] != 0)
            continue;
        int in = id < 2 ? pipes[id][0] : -1;
        int out = id < 2 ? pipes[1 - id][1] : pipes[id - 2][1];
        /* A blinded survivor reclaims the dead all through the run: then no
         * survivor may hold a block the victims handed over (reclaim makes
         * them garbage), so the victims keep theirs. */
        if (id >= 2 && g_observer != NULL)
            out = -1;
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++)
                if (pipes[i][j] != in && pipes[i][j] != out)
                    close(pipes[i][j]);
        g_id = id;
        memkind_t mine = k; /* a fork child is attached in its own right */
        if (id == 2) { /* ... and this one attaches anew, with the crash hook */
            char v[16];
            snprintf(v, sizeof(v), "%d", crash_at);
            setenv("MKF_SHARED_TEST_CRASH_AT", v, 1);
            if (memkind_shared_attach_fd(fd, &mine) != 0)
                _exit(50);
        }
        _exit(process(id, mine, in, out, id < 2 ? OPS : -1));
    }
    for (int i = 0; i < 2; i++)
        close(pipes[i][0]), close(pipes[i][1]);
    usleep((useconds_t)kill_ms * 1000);
    kill(pid[3], SIGKILL);
    /* The victims first (the blinded survivor waits for them to reclaim). */
    static const int order[NPROC] = {3, 2, 0, 1};
    for (int o = 0; o < NPROC; o++) {
        int id = order[o], st;
        if (id == 2) { /* must have died by the hook; give it 20 s */
            for (int t = 0; t < 2000 && waitpid(pid[2], &st, WNOHANG) == 0; t++)
                usleep(10000);
            if (waitpid(pid[2], &st, WNOHANG) == 0) {
                kill(pid[2], SIGKILL);
                waitpid(pid[2], &st, 0);
                fprintf(stderr, "process 2 never reached mutation %d\n", crash_at);
                CHECK(0);
                continue;
            }
        } else {
            st = proc_wait(pid[id]);
        }
        if (id < 2) {
            CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                fprintf(stderr, "process %d: status %#x\n", id, st);
        } else {
            CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
            atomic_fetch_add(&g->victims_dead, 1);
        }
    }
    struct memkind_shared_stats s;
    REQUIRE(memkind_shared_get_stats(k, &s) == 0);
    printf("blocks %lu, handed over %lu; after the run: used %zu, dead %u holding %zu, "
           "recoveries %llu\n", (unsigned long)g->blocks, (unsigned long)g->remote_sent,
           s.used, s.dead_processes, s.dead_used, (unsigned long long)s.recoveries);
    CHECK(s.recoveries >= 1);
    CHECK_EQ(s.processes, 1);
    CHECK_EQ(s.used, s.dead_used); /* survivors hold nothing */
    CHECK_EQ(g->double_handout, 0);
    CHECK_EQ(g->bad_content, 0);
    size_t bytes;
    CHECK_EQ(memkind_shared_reclaim(k, &bytes), 0);
    REQUIRE(memkind_shared_get_stats(k, &s) == 0);
    CHECK_EQ(s.used, 0);
    CHECK_EQ(s.largest_free, HEAP);
    CHECK_EQ(s.dead_processes, 0);
    /* No byte outside blocks written: granules never in a block are still 0. */
    const unsigned char *heap = memkind_shared_ptr(k, g_data_off);
    size_t stray = 0;
    for (size_t i = 0; i < HEAP / 16; i++)
        if (!(g->granule[i] & 2))
            for (int j = 0; j < 16; j++)
                stray += heap[i * 16 + j] != 0;
    CHECK_EQ(stray, 0);
    /* The heap serves its whole size again. */
    void *all = memkind_malloc(k, HEAP);
    CHECK(all != NULL);
    memkind_free(k, all);
    CHECK_EQ(memkind_shared_detach(k), 0);
}

/* The in-process part: two threads on each of two attachments of one heap in
 * one process, hand-offs between them through a pipe (frees cross attachments
 * through the queues). Under TSan (`one`) a single attachment: two mappings of
 * the same memory are two unrelated address ranges to TSan, which then sees no
 * synchronisation through the queues and the lock and reports false races. */
static void run_threads(bool one)
{
    memkind_t a, b;
    REQUIRE(memkind_shared_create(NULL, HEAP, 0, &a) == 0);
    if (one)
        b = a;
    else
        REQUIRE(memkind_shared_attach_fd(memkind_shared_fd(a), &b) == 0);
    struct memkind_shared_stats s0;
    REQUIRE(memkind_shared_get_stats(a, &s0) == 0);
    g_data_off = s0.segment_size - s0.capacity;
    /* Granules are per attachment offset: both share one map (same offsets). */
    int p[2];
    REQUIRE(pipe(p) == 0);
    struct worker w[4];
    pthread_t t[4], rt;
    struct reader rd = {b, p[0]};
    pthread_create(&rt, NULL, read_and_free, &rd);
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){i < 2 ? a : b, i < 2 ? a : b, i < 2 ? p[1] : -1,
                               0x2545f4914f6cdd1dull * (uint64_t)(i + 1), OPS / 3};
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    close(p[1]);
    pthread_join(rt, NULL);
    close(p[0]);
    CHECK_EQ(g->double_handout, 0);
    CHECK_EQ(g->bad_content, 0);
    CHECK_EQ(memkind_fixed_purge(a), 0);
    CHECK_EQ(memkind_fixed_purge(b), 0);
    struct memkind_shared_stats s;
    REQUIRE(memkind_shared_get_stats(a, &s) == 0);
    CHECK_EQ(s.used, 0);
    if (b != a)
        CHECK_EQ(memkind_shared_detach(b), 0);
    CHECK_EQ(memkind_shared_detach(a), 0);
}

int main(void)
{
    g = mmap(NULL, sizeof(*g), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(g != MAP_FAILED);
    const char *only = getenv("STRESS_THREADS_ONLY");
    g_observer = getenv("STRESS_OBSERVER");
    bool threads_only = only != NULL && strcmp(only, "1") == 0;
    run_threads(threads_only);
    if (!threads_only) {
        memset(g, 0, sizeof(*g));
        run_processes();
    }
    return check_done("shared_stress_test");
}
