/*
 * shm_worker.c - one measurement of the shared-heap benchmark: one heap, one row,
 * in processes of its own. bench/shared/shared_bench.py runs it once per heap, row
 * and repetition (interleaved), and makes the table and the JSON; run alone it is:
 *
 *     shm_worker --heap ID --row ROW [--size BYTES] [--count N] [--block BYTES]
 *                [--procs N] [--seed N] [--deps DIR] [--rts-lib PATH]
 *     shm_worker --heap ID --probe        "ok", or "absent REASON" (not loadable)
 *
 * Heaps (--heap): mkf_shared, mkf_private, boost_rbtree, boost_seqfit, rts_alloc,
 * bare_segment (shm_heaps.h). Rows (--row):
 *
 *   pairs      --procs processes at once (1 or 2), each --count malloc(--block) +
 *              free pairs: ns per pair (wall and thread CPU) per process
 *   prodcons   process A allocates --count blocks of --block bytes and passes their
 *              offsets through a ring in shared memory to process B, which frees
 *              them: pairs/s, CPU ns per pair on each side
 *   random     --procs processes at once, each with 1024 live blocks of random
 *              sizes 16..4096 B: --count times, a random one is freed and a new one
 *              of a random size takes its place: pairs/s of all together
 *   lifecycle  process A creates a segment of --size bytes, process B attaches,
 *              makes one pair of 64 B, and detaches; then A detaches: µs of each
 *
 * The worker forks every process of a row before the segment exists: process 0
 * creates it, the others attach by name once it is there, and all start together
 * at a barrier in an anonymous shared page (which also holds the ring and the
 * results). Nothing of a heap is touched by the worker itself.
 *
 * Prints "key value" lines on stdout, or "na REASON" when the heap cannot serve the
 * row. Exits 0 when it measured (or the row does not apply), 1 when a process
 * failed, 2 on bad usage.
 */
#include "shm_heaps.h"

#include "bench/bench.h"

#include <getopt.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_PROCS 8
#define RING_CAP 4096 /* offsets in flight between producer and consumer */
#define RANDOM_WINDOW 1024
#define RANDOM_MIN 16
#define RANDOM_MAX 4096
#define FIRST_PAIR_SIZE 64
#define WAIT_SPINS 64 /* pauses before a wait yields */

static const struct shm_type *const types[] = {
    &shm_mkf_shared, &shm_mkf_private, &shm_boost_rbtree, &shm_boost_seqfit,
    &shm_rts,        &shm_bare,
};

enum row { ROW_PAIRS, ROW_PRODCONS, ROW_RANDOM, ROW_LIFECYCLE };
static const char *const row_names[] = {"pairs", "prodcons", "random", "lifecycle"};

struct options {
    const struct shm_type *t;
    enum row row;
    size_t size, block;
    long long count;
    int procs;
    uint64_t seed;
};

/* What each process reports, in the shared page. */
struct proc_result {
    double start_ns, end_ns; /* CLOCK_MONOTONIC: one clock for all processes */
    double cpu_ns;           /* thread CPU time of the timed part */
    double wait_cpu_ns;      /* prodcons: the part of it spent yielding on the ring */
    double create_ns, attach_ns, first_pair_ns, detach_ns; /* lifecycle */
    char error[160];
};

struct sync {
    _Atomic int created; /* 1: process 0 made the segment; -1: it could not */
    _Atomic int ready;   /* processes at the start barrier */
    _Atomic int done;    /* processes past the timed part */
    _Atomic int failed;  /* a process gave up: the others stop waiting */
    struct proc_result res[MAX_PROCS];
    /* prodcons: a single-producer single-consumer ring of offsets. */
    alignas(64) _Atomic uint64_t head; /* written by the producer */
    alignas(64) _Atomic uint64_t tail; /* written by the consumer */
    alignas(64) uint64_t ring[RING_CAP];
};

static struct sync *sync_page;

static void usage(FILE *f)
{
    fprintf(f, "usage: shm_worker --heap ID (--probe | --row ROW [--size BYTES] [--count N]\n"
               "                  [--block BYTES] [--procs N] [--seed N]) [--deps DIR]\n"
               "                  [--rts-lib PATH]\n"
               "  heaps: mkf_shared mkf_private boost_rbtree boost_seqfit rts_alloc bare_segment\n"
               "  rows:  pairs prodcons random lifecycle\n");
}

/* ---- waiting ------------------------------------------------------------------ */

/* One round of a wait: spins a little, then yields (four processes on two cores
 * must let each other run). False when another process failed. */
static bool wait_step(unsigned n)
{
    if (atomic_load_explicit(&sync_page->failed, memory_order_relaxed))
        return false;
    if (n < WAIT_SPINS)
        __builtin_ia32_pause();
    else
        sched_yield();
    return true;
}

static bool wait_at_least(_Atomic int *v, int want)
{
    for (unsigned n = 0; atomic_load_explicit(v, memory_order_acquire) < want; n++)
        if (!wait_step(n))
            return false;
    return true;
}

static bool barrier(_Atomic int *counter, int procs)
{
    atomic_fetch_add_explicit(counter, 1, memory_order_acq_rel);
    return wait_at_least(counter, procs);
}

static void fail(int me, const char *fmt, const char *what, long long n)
{
    snprintf(sync_page->res[me].error, sizeof(sync_page->res[me].error), fmt, what, n);
    atomic_store(&sync_page->failed, 1);
}

/* ---- the rows, in process `me` of o->procs -------------------------------------- */

static void timed_start(struct proc_result *r)
{
    r->start_ns = now_ns();
    r->cpu_ns = thread_cpu_ns();
}

static void timed_end(struct proc_result *r)
{
    r->cpu_ns = thread_cpu_ns() - r->cpu_ns;
    r->end_ns = now_ns();
}

static bool row_pairs(const struct options *o, struct shm_heap *h, int me)
{
    const struct shm_type *t = o->t;
    struct proc_result *r = &sync_page->res[me];
    for (int i = 0; i < 1000; i++) { /* warm-up: caches, first pages */
        void *p = t->alloc(h, o->block);
        if (p == NULL) {
            fail(me, "%s: malloc(%lld) failed in the warm-up", t->id, (long long)o->block);
            return false;
        }
        t->free(h, p);
    }
    if (!barrier(&sync_page->ready, o->procs))
        return false;
    timed_start(r);
    for (long long i = 0; i < o->count; i++) {
        void *p = t->alloc(h, o->block);
        if (p == NULL) {
            fail(me, "%s: malloc failed at pair %lld", t->id, i);
            return false;
        }
        t->free(h, p);
    }
    timed_end(r);
    return true;
}

/* Waits for the ring index `v` to pass `want` (producer: for room, consumer: for
 * an offset). A wait that goes on past its spins (the other side is not running)
 * has its CPU time counted apart in *wait_cpu: with two cores shared with other
 * load, yielding would otherwise be charged to the heap. The clock is read only
 * then, so short waits cost no system call. */
static bool ring_wait(_Atomic uint64_t *v, uint64_t want, uint64_t *seen, double *wait_cpu)
{
    uint64_t x;
    double c0 = 0;
    unsigned n = 0;
    for (; (x = atomic_load_explicit(v, memory_order_acquire)) < want; n++) {
        if (n == WAIT_SPINS)
            c0 = thread_cpu_ns();
        if (!wait_step(n))
            return false;
    }
    if (n > WAIT_SPINS)
        *wait_cpu += thread_cpu_ns() - c0;
    *seen = x;
    return true;
}

/* The first 1% (at least 100) of the blocks are a warm-up: each side starts its
 * clocks when it has handled that many. */
static long long prodcons_warmup(long long count)
{
    long long w = count / 100;
    return w < 100 ? 100 : w;
}

/* One block through the ring, producer's side: allocate it, wait for room, publish
 * its offset. `tail`: the consumer's index as last seen. */
static bool produce(const struct options *o, struct shm_heap *h, uint64_t i, uint64_t *tail)
{
    void *p = o->t->alloc(h, o->block);
    if (p == NULL) {
        fail(0, "%s: malloc failed at block %lld", o->t->id, (long long)i);
        return false;
    }
    uint64_t off = o->t->offset(h, p);
    if (i - *tail >= RING_CAP &&
        !ring_wait(&sync_page->tail, i - RING_CAP + 1, tail, &sync_page->res[0].wait_cpu_ns))
        return false;
    sync_page->ring[i % RING_CAP] = off;
    atomic_store_explicit(&sync_page->head, i + 1, memory_order_release);
    return true;
}

/* Consumer's side: wait for the offset, take it, free the block. `head`: the
 * producer's index as last seen. */
static bool consume(const struct options *o, struct shm_heap *h, uint64_t i, uint64_t *head)
{
    if (i >= *head && !ring_wait(&sync_page->head, i + 1, head, &sync_page->res[1].wait_cpu_ns))
        return false;
    uint64_t off = sync_page->ring[i % RING_CAP];
    atomic_store_explicit(&sync_page->tail, i + 1, memory_order_release);
    o->t->free(h, o->t->ptr(h, off));
    return true;
}

/* Process 0 produces, process 1 consumes. */
static bool row_prodcons(const struct options *o, struct shm_heap *h, int me)
{
    struct proc_result *r = &sync_page->res[me];
    long long warm = prodcons_warmup(o->count), total = warm + o->count;
    uint64_t seen = 0; /* the other side's index as last seen */
    if (!barrier(&sync_page->ready, 2))
        return false;
    for (long long i = 0; i < total; i++) {
        if (i == warm) {
            timed_start(r);
            r->wait_cpu_ns = 0; /* the warm-up's waits do not count */
        }
        if (!(me == 0 ? produce(o, h, (uint64_t)i, &seen) : consume(o, h, (uint64_t)i, &seen)))
            return false;
    }
    timed_end(r);
    return true;
}

static bool row_random(const struct options *o, struct shm_heap *h, int me)
{
    const struct shm_type *t = o->t;
    struct proc_result *r = &sync_page->res[me];
    uint64_t rng = o->seed + 0x1000u * (uint64_t)me;
    static void *live[RANDOM_WINDOW];
    for (int i = 0; i < RANDOM_WINDOW; i++) {
        live[i] = t->alloc(h, RANDOM_MIN + rng_next(&rng) % (RANDOM_MAX - RANDOM_MIN + 1));
        if (live[i] == NULL) {
            fail(me, "%s: malloc failed filling block %lld", t->id, (long long)i);
            return false;
        }
    }
    if (!barrier(&sync_page->ready, o->procs))
        return false;
    timed_start(r);
    for (long long i = 0; i < o->count; i++) {
        uint64_t x = rng_next(&rng);
        size_t j = x % RANDOM_WINDOW;
        t->free(h, live[j]);
        live[j] = t->alloc(h, RANDOM_MIN + (x >> 32) % (RANDOM_MAX - RANDOM_MIN + 1));
        if (live[j] == NULL) {
            fail(me, "%s: malloc failed at pair %lld", t->id, i);
            return false;
        }
    }
    timed_end(r);
    for (int i = 0; i < RANDOM_WINDOW; i++)
        t->free(h, live[i]);
    return true;
}

/* ---- one process of a row ----------------------------------------------------------- */

static int run_process(const struct options *o, const char *name, int me)
{
    const struct shm_type *t = o->t;
    struct proc_result *r = &sync_page->res[me];
    struct shm_heap *h;
    double t0 = now_ns();
    if (me == 0) {
        h = t->create(name, o->size);
        r->create_ns = now_ns() - t0;
        atomic_store(&sync_page->created, h != NULL ? 1 : -1);
        if (h == NULL) {
            fail(me, "%s: cannot create a segment of %lld bytes", t->id, (long long)o->size);
            return 1;
        }
    } else {
        if (!wait_at_least(&sync_page->created, 1))
            return 1;
        t0 = now_ns();
        h = t->attach(name);
        r->attach_ns = now_ns() - t0;
        if (h == NULL) {
            fail(me, "%s: cannot attach (process %lld)", t->id, (long long)me);
            return 1;
        }
    }
    bool ok = true;
    switch (o->row) {
    case ROW_PAIRS:
        ok = row_pairs(o, h, me);
        break;
    case ROW_PRODCONS:
        ok = row_prodcons(o, h, me);
        break;
    case ROW_RANDOM:
        ok = row_random(o, h, me);
        break;
    case ROW_LIFECYCLE:
        if (me == 1 && t->alloc != NULL) {
            t0 = now_ns();
            void *p = t->alloc(h, FIRST_PAIR_SIZE);
            if (p != NULL)
                t->free(h, p);
            r->first_pair_ns = now_ns() - t0;
            ok = p != NULL;
            if (!ok)
                fail(me, "%s: the first malloc(%lld) after attach failed", t->id,
                     (long long)FIRST_PAIR_SIZE);
        }
        break;
    }
    /* Nobody detaches before every process is done with the heap (the consumer
     * frees the producer's blocks; A's detach is timed after B's). */
    if (!ok || !barrier(&sync_page->done, o->procs))
        return 1;
    if (o->row == ROW_LIFECYCLE && me == 0 && !wait_at_least(&sync_page->ready, 1))
        return 1;
    t0 = now_ns();
    t->detach(h);
    r->detach_ns = now_ns() - t0;
    if (o->row == ROW_LIFECYCLE && me == 1)
        atomic_store(&sync_page->ready, 1); /* A may now detach */
    return 0;
}

/* ---- reporting ---------------------------------------------------------------------- */

static void print_results(const struct options *o)
{
    struct proc_result *res = sync_page->res;
    double first = res[0].start_ns, last = res[0].end_ns, wall_sum = 0, cpu_sum = 0,
           wall_max = 0;
    for (int i = 0; i < o->procs; i++) {
        double wall = res[i].end_ns - res[i].start_ns;
        first = res[i].start_ns < first ? res[i].start_ns : first;
        last = res[i].end_ns > last ? res[i].end_ns : last;
        wall_sum += wall;
        cpu_sum += res[i].cpu_ns;
        wall_max = wall > wall_max ? wall : wall_max;
    }
    double n = (double)o->count;
    /* How much of its wall time each process was on a CPU: with two cores shared
     * with other load, processes that should run at once may take turns. */
    if (o->row != ROW_LIFECYCLE)
        printf("on_cpu_share %.4f\n", cpu_sum / wall_sum);
    switch (o->row) {
    case ROW_PAIRS:
        printf("ns_per_pair %.4f\ncpu_ns_per_pair %.4f\nns_per_pair_slowest %.4f\n",
               wall_sum / o->procs / n, cpu_sum / o->procs / n, wall_max / n);
        break;
    case ROW_PRODCONS:
        /* CPU per pair without the yielding waits on the ring; the waits apart. */
        printf("pairs_per_s %.1f\ncpu_ns_per_pair_producer %.4f\ncpu_ns_per_pair_consumer %.4f\n"
               "wait_cpu_ns_per_pair_producer %.4f\nwait_cpu_ns_per_pair_consumer %.4f\n",
               n / ((res[1].end_ns - res[0].start_ns) / 1e9),
               (res[0].cpu_ns - res[0].wait_cpu_ns) / n, (res[1].cpu_ns - res[1].wait_cpu_ns) / n,
               res[0].wait_cpu_ns / n, res[1].wait_cpu_ns / n);
        break;
    case ROW_RANDOM:
        printf("pairs_per_s %.1f\ncpu_ns_per_pair %.4f\n", n * o->procs / ((last - first) / 1e9),
               cpu_sum / o->procs / n);
        break;
    case ROW_LIFECYCLE:
        printf("create_us %.3f\nattach_us %.3f\ndetach_us %.3f\ncreator_detach_us %.3f\n",
               res[0].create_ns / 1e3, res[1].attach_ns / 1e3, res[1].detach_ns / 1e3,
               res[0].detach_ns / 1e3);
        if (o->t->alloc != NULL)
            printf("first_pair_us %.3f\n", res[1].first_pair_ns / 1e3);
        break;
    }
}

/* Why the heap cannot serve the row, or NULL. */
static const char *not_applicable(const struct options *o)
{
    static char why[160];
    const struct shm_type *t = o->t;
    if (!t->shared && (o->row != ROW_PAIRS || o->procs != 1))
        return "a private kind lives in one process";
    if (t->alloc == NULL && o->row != ROW_LIFECYCLE)
        return "no heap: a bare segment";
    size_t largest = o->row == ROW_RANDOM ? RANDOM_MAX : o->row == ROW_LIFECYCLE ? FIRST_PAIR_SIZE
                                                                              : o->block;
    if (t->max_block != 0 && largest > t->max_block) {
        snprintf(why, sizeof(why), "blocks of %zu B: its largest is %zu B", largest, t->max_block);
        return why;
    }
    return NULL;
}

static bool parse_size(const char *s, size_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 0);
    int shift = *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 0;
    if (shift != 0)
        end++;
    if (end == s || *end != '\0')
        return false;
    *out = (size_t)v << shift;
    return true;
}

int main(int argc, char **argv)
{
    struct options o = {.row = ROW_PAIRS, .size = (size_t)256 << 20, .block = 64,
                        .count = 1000000, .procs = 1, .seed = 42};
    bool probe = false, have_row = false;
    bench_deps_dir = bench_deps_default();
    enum { OPT_HEAP = 256, OPT_ROW, OPT_SIZE, OPT_COUNT, OPT_BLOCK, OPT_PROCS, OPT_SEED,
           OPT_DEPS, OPT_RTS, OPT_PROBE };
    static const struct option options[] = {
        {"heap", required_argument, NULL, OPT_HEAP},
        {"row", required_argument, NULL, OPT_ROW},
        {"size", required_argument, NULL, OPT_SIZE},
        {"count", required_argument, NULL, OPT_COUNT},
        {"block", required_argument, NULL, OPT_BLOCK},
        {"procs", required_argument, NULL, OPT_PROCS},
        {"seed", required_argument, NULL, OPT_SEED},
        {"deps", required_argument, NULL, OPT_DEPS},
        {"rts-lib", required_argument, NULL, OPT_RTS},
        {"probe", no_argument, NULL, OPT_PROBE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        bool bad = false;
        switch (opt) {
        case OPT_HEAP:
            for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
                if (strcmp(optarg, types[i]->id) == 0)
                    o.t = types[i];
            bad = o.t == NULL;
            break;
        case OPT_ROW:
            bad = true;
            for (size_t i = 0; i < sizeof(row_names) / sizeof(row_names[0]); i++) {
                if (strcmp(optarg, row_names[i]) == 0) {
                    o.row = (enum row)i;
                    bad = false;
                }
            }
            have_row = !bad;
            break;
        case OPT_SIZE:
            bad = !parse_size(optarg, &o.size);
            break;
        case OPT_BLOCK:
            bad = !parse_size(optarg, &o.block) || o.block == 0;
            break;
        case OPT_COUNT:
            o.count = atoll(optarg);
            bad = o.count < 1;
            break;
        case OPT_PROCS:
            o.procs = atoi(optarg);
            bad = o.procs < 1 || o.procs > MAX_PROCS;
            break;
        case OPT_SEED:
            o.seed = strtoull(optarg, NULL, 0);
            break;
        case OPT_DEPS:
            bench_deps_dir = optarg;
            break;
        case OPT_RTS:
            shm_rts_lib = optarg;
            break;
        case OPT_PROBE:
            probe = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            bad = true;
        }
        if (bad) {
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc || o.t == NULL || probe == have_row) {
        usage(stderr);
        return 2;
    }
    if (o.row == ROW_PRODCONS || o.row == ROW_LIFECYCLE)
        o.procs = 2;
    const char *why = o.t->load != NULL ? o.t->load() : NULL;
    if (why != NULL) {
        printf("absent %s\n", why);
        return 0;
    }
    if (probe) {
        printf("ok\n");
        return 0;
    }
    if ((why = not_applicable(&o)) != NULL) {
        printf("na %s\n", why);
        return 0;
    }

    sync_page = mmap(NULL, sizeof(*sync_page), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sync_page == MAP_FAILED) {
        perror("shm_worker: mmap");
        return 1;
    }
    char name[64];
    /* The pid alone is not unique: Bazel runs concurrent tests in PID namespaces of
     * their own over one /dev/shm. */
    snprintf(name, sizeof(name), "/mkfsb-%d-%08x-%s", (int)getpid(),
             (unsigned)((uint64_t)now_ns() & 0xffffffffu), o.t->id);
    fflush(stdout);
    pid_t pids[MAX_PROCS];
    int forked = 0;
    for (; forked < o.procs; forked++) {
        pids[forked] = fork();
        if (pids[forked] == 0)
            _exit(run_process(&o, name, forked));
        if (pids[forked] < 0) {
            perror("shm_worker: fork");
            atomic_store(&sync_page->failed, 1);
            break;
        }
    }
    bool ok = forked == o.procs;
    for (int i = 0; i < forked; i++) {
        int status;
        if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            ok = false;
            if (WIFSIGNALED(status))
                fprintf(stderr, "shm_worker: %s, %s: process %d died of signal %d\n", o.t->id,
                        row_names[o.row], i, WTERMSIG(status));
        }
        if (sync_page->res[i].error[0] != '\0')
            fprintf(stderr, "shm_worker: %s\n", sync_page->res[i].error);
    }
    o.t->unlink(name);
    if (!ok) {
        printf("error see stderr\n");
        return 1;
    }
    print_results(&o);
    return 0;
}
