/*
 * reclaim_test.c - ENOMEM means no room (issue 11, the threaded items). When a
 * request fails, no thread's cache and no cache of the kind's arena may hold
 * memory that could have served it:
 *   1a. 8 threads, each holding one 3000 B block of a 64 KiB region, all get it;
 *   1b. a thread that allocated and freed, and stays alive, takes nothing from
 *       how many 1 MiB blocks fit in an 8 MiB region;
 *   1c. with 64 such threads, one thread still fills the region with as many
 *       blocks (4096 B, 1 MiB) as a fresh region gives;
 *   2.  once every block is freed and memkind_fixed_purge() returns, the region
 *       statistics say `used` 0 and `allocated` 0, whichever threads are alive.
 * Fresh figures are measured in this process, on a fresh kind, before the
 * figure they are compared with. Threads meet on barriers: nothing here depends
 * on timing. Runs under ThreadSanitizer.
 */
#include "check.h"
#include "fill.h"
#include "region.h"
#include "stamp.h"

#include <memkind_fixed.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

/* Blocks outside their region, damaged contents, failed allocations where the
 * region had room: counted by the threads, checked by main. */
static atomic_size_t outside_blocks, damaged_blocks, failed_warm_allocs;

static void stamp(unsigned char *p, size_t size, unsigned tag)
{
    stamp_bytes(p, size, (unsigned char)tag);
}

static int stamped(const unsigned char *p, size_t size, unsigned tag)
{
    return bytes_all_sampled(p, size, (unsigned char)tag, 32); /* both ends included */
}

/* Allocate `count` blocks of each size, write them, check them, free them: this
 * leaves the thread's cache (and the arena's) holding what it likes to hold. */
struct mix {
    size_t size;
    int count;
};

static void warm(memkind_t kind, const struct test_region *r, const struct mix *mix,
                 int nmix, unsigned tag)
{
    enum { MAXB = 64 };
    unsigned char *held[MAXB];
    size_t size[MAXB];
    int n = 0;
    for (int m = 0; m < nmix; m++) {
        for (int c = 0; c < mix[m].count && n < MAXB; c++) {
            unsigned char *p = memkind_malloc(kind, mix[m].size);
            if (p == NULL) {
                atomic_fetch_add(&failed_warm_allocs, 1);
                continue;
            }
            if (!in_range(p, mix[m].size, r->base, r->size)) {
                atomic_fetch_add(&outside_blocks, 1);
                continue;
            }
            stamp(p, mix[m].size, tag + (unsigned)n);
            held[n] = p;
            size[n++] = mix[m].size;
        }
    }
    for (int i = 0; i < n; i++) {
        if (!stamped(held[i], size[i], tag + (unsigned)i))
            atomic_fetch_add(&damaged_blocks, 1);
        memkind_free(kind, held[i]);
    }
}

static void check_thread_counters(const char *what)
{
    size_t out = atomic_exchange(&outside_blocks, 0);
    size_t bad = atomic_exchange(&damaged_blocks, 0);
    size_t failed = atomic_exchange(&failed_warm_allocs, 0);
    if (out || bad || failed)
        fprintf(stderr, "%s: %zu blocks outside the region, %zu damaged, %zu failed "
                        "allocations with room to spare\n", what, out, bad, failed);
    CHECK_EQ(out, 0);
    CHECK_EQ(bad, 0);
    CHECK_EQ(failed, 0);
}

/* Block i of a fill: its first 64 bytes (or fewer) and its last one hold i * 7 + 1. */
static void fill_stamp(void *p, size_t size, size_t i)
{
    stamp(p, size < 64 ? size : 64, (unsigned)i * 7 + 1);
    stamp((unsigned char *)p + size - 1, 1, (unsigned)i * 7 + 1);
}

static int fill_stamped(const void *p, size_t size, size_t i)
{
    unsigned tag = (unsigned)i * 7 + 1;
    return stamped(p, size < 64 ? size : 64, tag) &&
           ((const unsigned char *)p)[size - 1] == (unsigned char)tag;
}

/* malloc(size) until the first failure (ENOMEM) or `max`; each block checked to
 * lie in the region and stamped, then checked and freed by free_fill(). */
static size_t fill(memkind_t kind, const struct test_region *r, size_t size, void **blocks,
                   size_t max)
{
    struct fill f = fill_kind(kind, r, size, blocks, max, fill_stamp);
    CHECK_EQ(f.err, ENOMEM);
    CHECK_EQ(f.outside, 0);
    return f.n;
}

static void free_fill(memkind_t kind, void **blocks, size_t n, size_t size)
{
    CHECK_EQ(free_blocks(kind, blocks, n, size, fill_stamped), 0);
}

/* How many blocks of `size` a fresh kind on a fresh region of `region_size`
 * takes: the figure the other cases are compared with. */
static size_t fresh_count(size_t region_size, size_t size, void **blocks, size_t max)
{
    struct test_region r = region_require(region_size, 0x5a);
    memkind_t kind = region_kind(&r);
    size_t n = fill(kind, &r, size, blocks, max);
    free_fill(kind, blocks, n, size);
    CHECK_EQ(memkind_destroy_kind(kind), 0);
    region_free(&r);
    return n;
}

/* ------------------------------------------------------------------ 1a */

enum { HOLDERS = 8, HOLD_SIZE = 3000 };

struct holder {
    memkind_t kind;
    const struct test_region *r;
    pthread_barrier_t *bar;
    int id;
    int in_turn;  /* allocate one after another rather than all at once */
    unsigned char *p;
    int err;
};

static void holder_alloc(struct holder *h)
{
    errno = 0;
    h->p = memkind_malloc(h->kind, HOLD_SIZE);
    h->err = errno;
    if (h->p != NULL && !in_range(h->p, HOLD_SIZE, h->r->base, h->r->size)) {
        atomic_fetch_add(&outside_blocks, 1);
        h->p = NULL;
    }
    if (h->p != NULL)
        stamp(h->p, HOLD_SIZE, 0x30u + (unsigned)h->id);
}

static void *holder_main(void *arg)
{
    struct holder *h = arg;
    if (h->in_turn) {
        for (int turn = 0; turn < HOLDERS; turn++) {
            if (turn == h->id)
                holder_alloc(h);
            pthread_barrier_wait(h->bar);
        }
    } else {
        pthread_barrier_wait(h->bar);
        holder_alloc(h);
    }
    pthread_barrier_wait(h->bar); /* every thread holds its block (or failed) */
    if (h->p != NULL && !stamped(h->p, HOLD_SIZE, 0x30u + (unsigned)h->id))
        atomic_fetch_add(&damaged_blocks, 1);
    pthread_barrier_wait(h->bar); /* every block checked while all are live */
    memkind_free(h->kind, h->p);
    return NULL;
}

static int run_holders(int in_turn)
{
    struct test_region r = region_require(64 * KiB, 0x5a);
    memkind_t kind = region_kind(&r);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, HOLDERS);
    struct holder h[HOLDERS];
    pthread_t t[HOLDERS];
    for (int i = 0; i < HOLDERS; i++) {
        h[i] = (struct holder){kind, &r, &bar, i, in_turn, NULL, 0};
        REQUIRE(pthread_create(&t[i], NULL, holder_main, &h[i]) == 0);
    }
    int ok = 0;
    for (int i = 0; i < HOLDERS; i++) {
        pthread_join(t[i], NULL);
        ok += h[i].p != NULL;
        if (h[i].p == NULL && h[i].err != ENOMEM)
            fprintf(stderr, "holder %d: errno %d, not ENOMEM\n", i, h[i].err);
    }
    pthread_barrier_destroy(&bar);
    check_thread_counters("3000 B holders");
    CHECK_EQ(memkind_destroy_kind(kind), 0);
    region_free(&r);
    return ok;
}

static void test_holders(void)
{
    /* Several rounds: with all threads allocating at once, a race between one
     * thread's reclaim and another's refill shows only in some interleavings. */
    enum { ROUNDS = 8 };
    int at_once[ROUNDS], in_turn[ROUNDS];
    for (int i = 0; i < ROUNDS; i++) {
        at_once[i] = run_holders(0);
        in_turn[i] = run_holders(1);
        if (at_once[i] != HOLDERS || in_turn[i] != HOLDERS)
            fprintf(stderr, "8 threads x one 3000 B block in 64 KiB, round %d: %d of 8 "
                            "(at once), %d of 8 (in turn)\n", i, at_once[i], in_turn[i]);
        CHECK_EQ(at_once[i], HOLDERS);
        CHECK_EQ(in_turn[i], HOLDERS);
    }
    printf("8 threads x one 3000 B block in 64 KiB, of 8 per round: at once");
    for (int i = 0; i < ROUNDS; i++)
        printf(" %d", at_once[i]);
    printf("; in turn");
    for (int i = 0; i < ROUNDS; i++)
        printf(" %d", in_turn[i]);
    printf("\n");
}

/* ------------------------------------------------------------------ 1b, 1c */

/* Threads that allocate and free a mix of sizes, then stay alive until main has
 * done its part. */
struct idler {
    memkind_t kind;
    const struct test_region *r;
    pthread_barrier_t *bar;
    const struct mix *mix;
    int nmix;
    unsigned tag;
};

static void *idler_main(void *arg)
{
    struct idler *w = arg;
    warm(w->kind, w->r, w->mix, w->nmix, w->tag);
    pthread_barrier_wait(w->bar); /* warmed up */
    pthread_barrier_wait(w->bar); /* main is done: exit */
    return NULL;
}

/* With `nthreads` idle threads that warmed the kind up, main fills the region
 * with blocks of `size`; returns how many it got. */
static size_t fill_beside_idlers(size_t region_size, int nthreads, const struct mix *mix,
                                 int nmix, size_t size, void **blocks, size_t max)
{
    struct test_region r = region_require(region_size, 0x5a);
    memkind_t kind = region_kind(&r);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)nthreads + 1);
    struct idler *w = calloc((size_t)nthreads, sizeof *w);
    pthread_t *t = calloc((size_t)nthreads, sizeof *t);
    REQUIRE(w != NULL && t != NULL);
    for (int i = 0; i < nthreads; i++) {
        w[i] = (struct idler){kind, &r, &bar, mix, nmix, 0x40u + (unsigned)i * 16};
        REQUIRE(pthread_create(&t[i], NULL, idler_main, &w[i]) == 0);
    }
    pthread_barrier_wait(&bar); /* all warmed up, all alive */
    size_t n = fill(kind, &r, size, blocks, max);
    free_fill(kind, blocks, n, size);
    pthread_barrier_wait(&bar);
    for (int i = 0; i < nthreads; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&bar);
    free(w);
    free(t);
    check_thread_counters("idle threads' warm-up");
    CHECK_EQ(memkind_destroy_kind(kind), 0);
    region_free(&r);
    return n;
}

static void test_idle_thread(void)
{
    /* Small and large blocks; the 24 and 32 KiB ones (20 of each, what a thread
     * cache keeps of a large size) make the cached bytes exceed the room that a
     * fill of 1 MiB blocks leaves over in 8 MiB. */
    static const struct mix mix[] = {{64, 8},        {3000, 8},      {100000, 2},
                                     {MiB, 1},       {24 * KiB, 20}, {32 * KiB, 20}};
    void *blocks[64];
    size_t fresh = fresh_count(8 * MiB, MiB, blocks, 64);
    size_t beside = fill_beside_idlers(8 * MiB, 1, mix, 6, MiB, blocks, 64);
    if (beside != fresh)
        fprintf(stderr, "1 MiB blocks in 8 MiB beside an idle thread: %zu, fresh %zu\n",
                beside, fresh);
    CHECK_EQ(beside, fresh);
    printf("1 MiB blocks in 8 MiB: %zu fresh, %zu beside an idle thread that allocated "
           "and freed\n", fresh, beside);
}

static void test_many_idle_threads(void)
{
    enum { THREADS = 64 };
    static const struct mix mix[] = {{64, 4},   {256, 4},     {3000, 2},     {8 * KiB, 2},
                                     {20000, 1}, {100000, 1}, {300000, 1}};
    static const size_t sizes[] = {4 * KiB, MiB};
    const size_t region = 64 * MiB, max = region / (4 * KiB) + 64;
    void **blocks = malloc(max * sizeof *blocks);
    REQUIRE(blocks != NULL);
    for (int i = 0; i < 2; i++) {
        size_t fresh = fresh_count(region, sizes[i], blocks, max);
        size_t beside = fill_beside_idlers(region, THREADS, mix, 7, sizes[i], blocks, max);
        if (beside != fresh)
            fprintf(stderr, "%zu B blocks in 64 MiB beside 64 idle threads: %zu, fresh %zu "
                            "(%.1f%%)\n", sizes[i], beside, fresh,
                    100.0 * (double)beside / (double)fresh);
        CHECK_EQ(beside, fresh);
        printf("%zu B blocks in 64 MiB: %zu fresh, %zu beside 64 idle threads with cached "
               "blocks\n", sizes[i], fresh, beside);
    }
    free(blocks);
}

/* ------------------------------------------------------------------ 2 */

enum { OWNERS = 4, PAIRS = 2, HANDED = 24 };

struct stats_thread {
    memkind_t kind;
    const struct test_region *r;
    pthread_barrier_t *bar;
    int role;              /* 0: allocates and frees its own; 1: producer; 2: consumer */
    unsigned tag;
    unsigned char **handed; /* producer -> consumer */
    size_t *handed_size;
};

static const struct mix stats_mix[] = {{16, 8}, {64, 8}, {3000, 4}, {8 * KiB, 2},
                                       {20000, 2}, {100000, 1}, {MiB, 1}};

static void *stats_main(void *arg)
{
    struct stats_thread *s = arg;
    if (s->role == 0)
        warm(s->kind, s->r, stats_mix, 7, s->tag);
    if (s->role == 1) {
        for (int i = 0; i < HANDED; i++) {
            size_t size = stats_mix[i % 7].size;
            unsigned char *p = memkind_malloc(s->kind, size);
            if (p == NULL) {
                atomic_fetch_add(&failed_warm_allocs, 1);
            } else if (!in_range(p, size, s->r->base, s->r->size)) {
                atomic_fetch_add(&outside_blocks, 1);
                p = NULL;
            } else {
                stamp(p, size, s->tag + (unsigned)i);
            }
            s->handed[i] = p;
            s->handed_size[i] = size;
        }
    }
    pthread_barrier_wait(s->bar); /* producers' blocks are ready */
    if (s->role == 2) {
        for (int i = 0; i < HANDED; i++) {
            if (s->handed[i] == NULL)
                continue;
            if (!stamped(s->handed[i], s->handed_size[i], s->tag + (unsigned)i))
                atomic_fetch_add(&damaged_blocks, 1);
            memkind_free(s->kind, s->handed[i]);
        }
        /* And a few of its own, so that its cache holds both. */
        warm(s->kind, s->r, stats_mix, 3, s->tag + 0x80);
    }
    pthread_barrier_wait(s->bar); /* every block is freed */
    pthread_barrier_wait(s->bar); /* main has read the statistics: exit */
    return NULL;
}

static void check_stats_zero(memkind_t kind, const char *when)
{
    CHECK_EQ(memkind_fixed_purge(kind), 0);
    struct memkind_fixed_stats st;
    CHECK_EQ(memkind_fixed_get_stats(kind, &st), 0);
    if (st.used != 0 || st.allocated != 0 || st.largest_free != st.capacity)
        fprintf(stderr, "stats %s: used %zu, allocated %zu, largest_free %zu of %zu\n", when,
                st.used, st.allocated, st.largest_free, st.capacity);
    CHECK_EQ(st.used, 0);
    CHECK_EQ(st.allocated, 0);
    CHECK_EQ(st.free, st.capacity);
    /* One region, nothing held: the free space is one extent again. */
    CHECK_EQ(st.largest_free, st.capacity);
    printf("stats %s: used %zu, allocated %zu, largest_free %zu of %zu\n", when, st.used,
           st.allocated, st.largest_free, st.capacity);
}

static void test_stats_zero(void)
{
    enum { N = OWNERS + 2 * PAIRS };
    static unsigned char *handed[PAIRS][HANDED];
    static size_t handed_size[PAIRS][HANDED];
    struct test_region r = region_require(32 * MiB, 0x5a);
    memkind_t kind = region_kind(&r);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, N + 1);
    struct stats_thread s[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        int role = i < OWNERS ? 0 : i < OWNERS + PAIRS ? 1 : 2;
        int pair = role == 0 ? 0 : (i - OWNERS) % PAIRS;
        s[i] = (struct stats_thread){kind, &r, &bar, role, 0x10u * (unsigned)(pair + 1),
                                     handed[pair], handed_size[pair]};
        if (role == 0)
            s[i].tag = 0x80u + (unsigned)i * 8;
        REQUIRE(pthread_create(&t[i], NULL, stats_main, &s[i]) == 0);
    }
    warm(kind, &r, stats_mix, 7, 0xe0); /* main's own cache too */
    pthread_barrier_wait(&bar);
    pthread_barrier_wait(&bar);
    check_thread_counters("statistics threads");
    check_stats_zero(kind, "with 8 threads alive that allocated and freed");
    pthread_barrier_wait(&bar);
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&bar);
    check_stats_zero(kind, "after they ended");
    CHECK_EQ(memkind_destroy_kind(kind), 0);
    region_free(&r);
}

int main(void)
{
    test_holders();
    test_idle_thread();
    test_many_idle_threads();
    test_stats_zero();
    return check_done("reclaim_test");
}
