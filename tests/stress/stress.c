/*
 * stress.c - randomised multi-thread stress of fixed kinds, bounded in time and
 * in operations.
 *
 * Worker threads allocate (malloc, calloc, posix_memalign, realloc) from two
 * shared kinds (one with one region, one with two), fill every block with a
 * pattern (pattern.h) and check it whenever the block changes hands: blocks are
 * sent to other threads' inboxes, and the receiver checks, then frees (naming the
 * kind or NULL) or reallocates it. Threads also read statistics and purge while
 * the others allocate. A churn thread creates, uses and destroys kinds of its own
 * on guarded regions all the while. With --fork, the main thread forks now and
 * then; each child allocates, checks and frees in the shared kinds.
 *
 * At the end, with every block freed and every worker gone: the shared kinds,
 * purged, hold no memory at all (nothing lost to a thread cache or a leak).
 *
 *   stress [--seconds S] [--threads N] [--ops N] [--fork] [--seed N] [--flags F]
 * Defaults: 2 seconds (or $STRESS_SECONDS), 4 threads, no operation limit, no
 * region flags (--flags 1: MEMKIND_REGION_ZEROED, 2: PURGE, 3: both).
 * bazel test //tests/stress:stress_test runs it short (also under --config=tsan);
 * for a long plain run: bazel run //tests/stress:stress_test -- --seconds 300
 */
#include "tests/c/check.h"
#include "tests/c/clock.h"
#include "tests/c/proc.h"
#include "tests/c/region.h"
#include "tests/c/rng.h"
#include "tests/stress/pattern.h"

#include <memkind_fixed.h>

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
enum { MAX_THREADS = 64, OWN = 256, INBOX = 512 };

struct block {
    unsigned char *p;
    size_t size;
    unsigned tag;
    int kind; /* index in g_kinds */
};

struct inbox {
    pthread_mutex_t lock;
    struct block q[INBOX];
    size_t len;
};

struct shared_kind {
    memkind_t k;
    struct test_region r[2];
    int nreg;
};

static struct shared_kind g_kinds[2];
static struct inbox g_inbox[MAX_THREADS];
static int g_threads = 4;
static double g_seconds = 2;
static unsigned long long g_max_ops; /* per thread; 0: no limit */
static bool g_fork;
static unsigned g_flags; /* MEMKIND_REGION_* of the shared kinds and churn kinds */
static uint64_t g_seed = 0x5eed;
static atomic_int g_stop;
static atomic_ullong g_errors, g_ops, g_allocs, g_enomem, g_passed, g_cross;
static atomic_ullong g_churn_kinds, g_forks;

static void error(const char *what, const void *p)
{
    fprintf(stderr, "stress: %s (%p)\n", what, p);
    atomic_fetch_add(&g_errors, 1);
}

static bool in_kind(int ki, const void *p, size_t len)
{
    const struct shared_kind *s = &g_kinds[ki];
    for (int i = 0; i < s->nreg; i++)
        if (in_range(p, len, s->r[i].base, s->r[i].size))
            return true;
    return false;
}

static size_t pick_size(uint64_t *s)
{
    uint64_t r = rng_xorshift(s) % 100;
    if (r < 70)
        return 1 + rng_xorshift(s) % 256;
    if (r < 95)
        return 1 + rng_xorshift(s) % (16 * KiB);
    if (r < 99)
        return 1 + rng_xorshift(s) % (512 * KiB);
    return 1 + rng_xorshift(s) % (4 * MiB);
}

/* A new block from kind ki, or NULL when the kind is full for now. */
static bool alloc_block(uint64_t *s, struct block *b)
{
    int ki = (int)(rng_xorshift(s) % 2);
    size_t size = pick_size(s);
    size_t align = size <= 8 ? 8 : 16; /* aligned for any type that fits */
    memkind_t k = g_kinds[ki].k;
    unsigned char *p = NULL;
    bool zero = false;
    switch (rng_xorshift(s) % 4) {
    case 0:
        p = memkind_calloc(k, 1, size);
        zero = true;
        break;
    case 1:
        align = (size_t)16 << (rng_xorshift(s) % 10);
        if (memkind_posix_memalign(k, (void **)&p, align, size) != 0)
            p = NULL;
        break;
    default:
        p = memkind_malloc(k, size);
        break;
    }
    if (p == NULL) {
        atomic_fetch_add(&g_enomem, 1);
        return false;
    }
    atomic_fetch_add(&g_allocs, 1);
    if (!in_kind(ki, p, size) || (uintptr_t)p % align != 0 ||
        memkind_malloc_usable_size(NULL, p) < size)
        error("block outside its kind, misaligned, or too small", p);
    if (zero)
        for (size_t i = 0; i < size; i += 1 + i / 16)
            if (p[i] != 0) {
                error("calloc memory not zero", p);
                break;
            }
    *b = (struct block){p, size, (unsigned)rng_xorshift(s), ki};
    pattern_fill(p, 0, size, b->tag);
    return true;
}

static void check_block(const struct block *b)
{
    if (!pattern_ok(b->p, 0, b->size, b->tag))
        error("block lost its contents", b->p);
}

static void free_block(uint64_t *s, struct block *b)
{
    check_block(b);
    memkind_free(rng_xorshift(s) % 2 ? NULL : g_kinds[b->kind].k, b->p);
    b->p = NULL;
}

/* Grow or shrink a block; its first bytes must stay. */
static void realloc_block(uint64_t *s, struct block *b)
{
    check_block(b);
    size_t size = pick_size(s);
    memkind_t through = rng_xorshift(s) % 2 ? NULL : g_kinds[b->kind].k;
    unsigned char *q = memkind_realloc(through, b->p, size);
    if (q == NULL) {
        atomic_fetch_add(&g_enomem, 1);
        check_block(b); /* untouched */
        return;
    }
    size_t kept = size < b->size ? size : b->size;
    if (!pattern_ok(q, 0, kept, b->tag))
        error("realloc lost the contents", q);
    if (!in_kind(b->kind, q, size))
        error("realloc moved the block out of its kind", q);
    b->p = q;
    b->size = size;
    pattern_fill(q, kept, size, b->tag);
}

static bool send_block(int to, const struct block *b)
{
    struct inbox *in = &g_inbox[to];
    bool sent = false;
    pthread_mutex_lock(&in->lock);
    if (in->len < INBOX) {
        in->q[in->len++] = *b;
        sent = true;
    }
    pthread_mutex_unlock(&in->lock);
    return sent;
}

static bool receive_block(int me, struct block *b)
{
    struct inbox *in = &g_inbox[me];
    bool got = false;
    pthread_mutex_lock(&in->lock);
    if (in->len > 0) {
        *b = in->q[--in->len];
        got = true;
    }
    pthread_mutex_unlock(&in->lock);
    return got;
}

static void check_stats(int ki)
{
    struct memkind_fixed_stats st;
    if (memkind_fixed_get_stats(g_kinds[ki].k, &st) != 0 || st.used > st.capacity ||
        st.free != st.capacity - st.used || st.largest_free > st.free ||
        st.regions != (unsigned)g_kinds[ki].nreg)
        error("statistics do not add up", g_kinds[ki].k);
}

static void *worker(void *arg)
{
    int me = (int)(intptr_t)arg;
    uint64_t s = g_seed * 0x9e3779b97f4a7c15ull + (uint64_t)me * 7919 + 1;
    struct block own[OWN] = {{0}};
    unsigned long long ops = 0;
    while (!atomic_load_explicit(&g_stop, memory_order_relaxed) &&
           (g_max_ops == 0 || ops < g_max_ops)) {
        ops++;
        struct block *b = &own[rng_xorshift(&s) % OWN];
        uint64_t what = rng_xorshift(&s) % 100;
        if (b->p == NULL) {
            struct block got;
            if (what < 30 && receive_block(me, &got)) {
                check_block(&got);
                atomic_fetch_add(&g_cross, 1);
                *b = got; /* kept: freed or reallocated later by this thread */
            } else {
                alloc_block(&s, b);
            }
        } else if (what < 35) {
            free_block(&s, b);
        } else if (what < 60) {
            int to = (int)(rng_xorshift(&s) % (uint64_t)g_threads);
            check_block(b);
            if (to != me && send_block(to, b)) {
                atomic_fetch_add(&g_passed, 1);
                b->p = NULL;
            }
        } else if (what < 80) {
            realloc_block(&s, b);
        } else if (what < 98) {
            check_block(b);
        } else if (what < 99) {
            check_stats((int)(rng_xorshift(&s) % 2));
        } else if (rng_xorshift(&s) % 64 == 0) {
            if (memkind_fixed_purge(g_kinds[rng_xorshift(&s) % 2].k) != 0)
                error("memkind_fixed_purge failed", NULL);
        }
    }
    for (int i = 0; i < OWN; i++)
        if (own[i].p != NULL)
            free_block(&s, &own[i]);
    atomic_fetch_add(&g_ops, ops);
    return NULL;
}

/* Kinds of its own, created, used and destroyed while the workers run. */
static void *churn(void *arg)
{
    (void)arg;
    struct test_region r = region_new(4 * MiB, 0x5a);
    if (r.base == NULL) {
        error("churn: no region", NULL);
        return NULL;
    }
    uint64_t s = g_seed + 77;
    void *blocks[200];
    while (!atomic_load_explicit(&g_stop, memory_order_relaxed)) {
        memkind_t k;
        /* unaligned starts */
        size_t off = (rng_xorshift(&s) % 16) * 4096 + rng_xorshift(&s) % 4096;
        /* The churn region is reused, so never ZEROED; PURGE as the others. */
        if (memkind_create_fixed_flags((char *)r.base + off, r.size - off,
                                       g_flags & MEMKIND_REGION_PURGE, &k) != 0) {
            error("churn: create failed", NULL);
            break;
        }
        for (int i = 0; i < 200; i++) {
            size_t size = 1 + rng_xorshift(&s) % 20000;
            blocks[i] = memkind_malloc(k, size);
            if (blocks[i] == NULL || !in_range(blocks[i], size, r.base, r.size))
                error("churn: bad block", blocks[i]);
            else
                memset(blocks[i], i, size);
        }
        for (int i = 0; i < 200; i += 2) /* the other half goes with the kind */
            memkind_free(i % 4 ? NULL : k, blocks[i]);
        if (memkind_destroy_kind(k) != 0)
            error("churn: destroy failed", NULL);
        atomic_fetch_add(&g_churn_kinds, 1);
    }
    region_free(&r);
    return NULL;
}

/* In a child of fork(): the shared kinds work, and the parent's lock holders are
 * gone. Only the child's own blocks are touched. */
static int child(void *arg)
{
    (void)arg;
    uint64_t s = g_seed ^ (uint64_t)getpid();
    struct block b[64] = {{0}};
    int bad = 0;
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 64; i++)
            if (!alloc_block(&s, &b[i]))
                b[i].p = NULL;
        for (int i = 0; i < 64; i++)
            if (b[i].p != NULL) {
                bad += !pattern_ok(b[i].p, 0, b[i].size, b[i].tag);
                memkind_free(i % 2 ? NULL : g_kinds[b[i].kind].k, b[i].p);
            }
    }
    return bad || atomic_load(&g_errors) ? 1 : 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: stress [--seconds S] [--threads N] [--ops N] [--fork] [--seed N]"
                    " [--flags F]\n"
                    "  F: region flags of the shared kinds (1 ZEROED, 2 PURGE, 3 both)\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *env = getenv("STRESS_SECONDS");
    if (env != NULL)
        g_seconds = atof(env);
    static const struct option opts[] = {
        {"seconds", required_argument, NULL, 's'}, {"threads", required_argument, NULL, 't'},
        {"ops", required_argument, NULL, 'o'},     {"fork", no_argument, NULL, 'f'},
        {"seed", required_argument, NULL, 'S'},    {"flags", required_argument, NULL, 'F'},
        {NULL, 0, NULL, 0},
    };
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 's': g_seconds = atof(optarg); break;
        case 't': g_threads = atoi(optarg); break;
        case 'o': g_max_ops = strtoull(optarg, NULL, 0); break;
        case 'f': g_fork = true; break;
        case 'S': g_seed = strtoull(optarg, NULL, 0); break;
        case 'F': g_flags = (unsigned)strtoul(optarg, NULL, 0); break;
        default: usage();
        }
    }
    if (optind != argc || (g_flags & ~(unsigned)(MEMKIND_REGION_ZEROED | MEMKIND_REGION_PURGE)))
        usage();
    if (g_threads < 2 || g_threads > MAX_THREADS || g_seconds <= 0)
        usage();
    pattern_init();

    /* A ZEROED region must be zero; the others start with bytes of their own, so
     * that calloc's zeroing is checked. */
    bool z = (g_flags & MEMKIND_REGION_ZEROED) != 0;
    g_kinds[0].r[0] = region_new(64 * MiB, z ? 0 : 0x11);
    g_kinds[0].nreg = 1;
    g_kinds[1].r[0] = region_new(16 * MiB, z ? 0 : 0x22);
    g_kinds[1].r[1] = region_new(16 * MiB, z ? 0 : 0x33);
    g_kinds[1].nreg = 2;
    REQUIRE(g_kinds[0].r[0].base && g_kinds[1].r[0].base && g_kinds[1].r[1].base);
    REQUIRE(memkind_create_fixed_flags(g_kinds[0].r[0].base, g_kinds[0].r[0].size, g_flags,
                                       &g_kinds[0].k) == 0);
    REQUIRE(memkind_create_fixed_flags(g_kinds[1].r[0].base, g_kinds[1].r[0].size, g_flags,
                                       &g_kinds[1].k) == 0);
    REQUIRE(memkind_fixed_add_region(g_kinds[1].k, g_kinds[1].r[1].base,
                                     g_kinds[1].r[1].size, g_flags) == 0);
    for (int i = 0; i < g_threads; i++)
        pthread_mutex_init(&g_inbox[i].lock, NULL);

    pthread_t t[MAX_THREADS], churner;
    for (int i = 0; i < g_threads; i++)
        REQUIRE(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i) == 0);
    REQUIRE(pthread_create(&churner, NULL, churn, NULL) == 0);

    double end = now_seconds() + g_seconds;
    while (now_seconds() < end) {
        if (g_fork) {
            int status = proc_run(child, NULL);
            CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
            atomic_fetch_add(&g_forks, 1);
        }
        struct timespec pause = {0, 20 * 1000 * 1000};
        nanosleep(&pause, NULL);
        if (g_max_ops != 0 && atomic_load(&g_ops) > 0)
            break; /* a worker finished its operations */
    }
    atomic_store(&g_stop, 1);
    for (int i = 0; i < g_threads; i++)
        pthread_join(t[i], NULL);
    pthread_join(churner, NULL);

    /* Blocks still in inboxes: checked and freed here. */
    for (int i = 0; i < g_threads; i++) {
        struct block b;
        uint64_t s = 3;
        while (receive_block(i, &b))
            free_block(&s, &b);
    }
    CHECK_EQ(atomic_load(&g_errors), 0);
    CHECK(atomic_load(&g_allocs) > 0);
    CHECK(atomic_load(&g_passed) > 0);
    CHECK(atomic_load(&g_churn_kinds) > 0);

    /* Nothing lost: the workers' caches went with them, ours goes with the purge. */
    for (int ki = 0; ki < 2; ki++) {
        struct memkind_fixed_stats st;
        CHECK_EQ(memkind_fixed_purge(g_kinds[ki].k), 0);
        CHECK_EQ(memkind_fixed_get_stats(g_kinds[ki].k, &st), 0);
        CHECK_EQ(st.used, 0);
        CHECK_EQ(st.allocated, 0);
        CHECK_EQ(st.free, st.capacity);
        CHECK_EQ(memkind_destroy_kind(g_kinds[ki].k), 0);
        for (int r = 0; r < g_kinds[ki].nreg; r++)
            region_free(&g_kinds[ki].r[r]);
    }
    printf("stress: %d threads, %.1f s: %llu operations, %llu allocations, %llu ENOMEM, "
           "%llu blocks passed between threads, %llu kinds churned, %llu forks\n",
           g_threads, g_seconds, atomic_load(&g_ops), atomic_load(&g_allocs),
           atomic_load(&g_enomem), atomic_load(&g_passed), atomic_load(&g_churn_kinds),
           atomic_load(&g_forks));
    return check_done("stress");
}
