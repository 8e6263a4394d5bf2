/*
 * purge_test.c - MEMKIND_REGION_PURGE under threads: pages are discarded while
 * they still belong to the thread that frees them, never after another thread
 * could have taken them.
 *
 * Four threads on one kind made with ZEROED | PURGE allocate large blocks (16 KiB
 * to 528 KiB), stamp every byte with a value of their own, yield, shrink some of
 * them in place with realloc (the tail goes back to the region map), check every
 * byte that is still theirs and free them. A discard that lands after the pages
 * went back to the free map wipes another thread's freshly stamped block, which
 * the check reads back as zero. Small blocks churn too, so that jemalloc's slabs
 * come and go through the extent hooks. Run plain, under ASan and under TSan.
 */
#include "check.h"
#include "region.h"
#include "rng.h"

#include <memkind_fixed.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
enum { THREADS = 4, ROUNDS = 4000 };

static memkind_t g_kind;
static struct test_region g_region;
static atomic_ulong g_bad_bytes, g_bad_blocks, g_outside, g_blocks;

/* The stamp of word i of a block of thread t in round r: never zero. Sizes are
 * multiples of 8, so that the checks go a word at a time (fast enough under
 * the sanitizers). */
static uint64_t stamp(unsigned t, unsigned r, size_t i)
{
    return 0x0101010101010101ull * (1 + (t * 31 + r * 7 + i / 512) % 255) ^ i;
}

static void fill(void *p, size_t n, unsigned t, unsigned r)
{
    uint64_t *w = p;
    for (size_t i = 0; i < n / 8; i++)
        w[i] = stamp(t, r, i);
}

/* Counts the bytes of [p, p + n) that are not the stamp, a word at a time. */
static void verify(const void *p, size_t n, unsigned t, unsigned r)
{
    const uint64_t *w = p;
    unsigned long bad = 0;
    for (size_t i = 0; i < n / 8; i++)
        bad += (w[i] != stamp(t, r, i)) * 8;
    if (bad != 0) {
        atomic_fetch_add(&g_bad_bytes, bad);
        atomic_fetch_add(&g_bad_blocks, 1);
    }
}

static void *worker(void *arg)
{
    unsigned t = (unsigned)(uintptr_t)arg;
    uint64_t seed = 0x9e3779b97f4a7c15ull ^ ((uint64_t)t << 32 | 1);
    void *small[32] = {0};
    for (unsigned r = 0; r < ROUNDS; r++) {
        size_t size = (16 * KiB + rng_xorshift(&seed) % (512 * KiB)) & ~(size_t)7;
        void *p = memkind_malloc(g_kind, size);
        if (p == NULL) {
            sched_yield(); /* the others hold the region for now */
            continue;
        }
        atomic_fetch_add(&g_blocks, 1);
        if (!in_range(p, size, g_region.base, g_region.size))
            atomic_fetch_add(&g_outside, 1);
        fill(p, size, t, r);
        sched_yield();
        verify(p, size, t, r);
        if (rng_xorshift(&seed) % 2 == 0) {
            /* Shrink in place: large to large, or large to small. */
            size_t to = rng_xorshift(&seed) % 4 == 0
                            ? 64 + rng_xorshift(&seed) % (8 * KiB)
                            : 16 * KiB + rng_xorshift(&seed) % (size - 16 * KiB + 1);
            to &= ~(size_t)7;
            void *q = memkind_realloc(g_kind, p, to);
            if (q != NULL) {
                p = q;
                size = to;
                if (!in_range(p, size, g_region.base, g_region.size))
                    atomic_fetch_add(&g_outside, 1);
                sched_yield();
                verify(p, size, t, r);
            }
        }
        /* Small blocks: slabs made and given back through the extent hooks. */
        unsigned s = (unsigned)(rng_xorshift(&seed) % 32);
        if (small[s] != NULL) {
            verify(small[s], 256, t, 0);
            memkind_free(g_kind, small[s]);
            small[s] = NULL;
        } else if ((small[s] = memkind_malloc(g_kind, 256)) != NULL) {
            fill(small[s], 256, t, 0);
        }
        verify(p, size, t, r);
        memkind_free(g_kind, p);
    }
    for (unsigned s = 0; s < 32; s++) {
        if (small[s] != NULL) {
            verify(small[s], 256, t, 0);
            memkind_free(g_kind, small[s]);
        }
    }
    return NULL;
}

/* Runs the threads on a kind with `flags`; returns the bytes read back wrong. */
static unsigned long run(unsigned flags)
{
    atomic_store(&g_bad_bytes, 0);
    atomic_store(&g_bad_blocks, 0);
    atomic_store(&g_outside, 0);
    atomic_store(&g_blocks, 0);
    g_region = region_require(16 * MiB, (flags & MEMKIND_REGION_ZEROED) ? 0 : 0x5a);
    REQUIRE(memkind_create_fixed_flags(g_region.base, g_region.size, flags, &g_kind) == 0);
    pthread_t th[THREADS];
    for (unsigned i = 0; i < THREADS; i++)
        REQUIRE(pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)i) == 0);
    for (unsigned i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    printf("flags %u: %lu blocks, %lu bad blocks, %lu bad bytes\n", flags,
           atomic_load(&g_blocks), atomic_load(&g_bad_blocks), atomic_load(&g_bad_bytes));
    CHECK(atomic_load(&g_blocks) > THREADS * ROUNDS / 2);
    CHECK_EQ(atomic_load(&g_outside), 0);

    /* Everything came back: the region is whole again. */
    struct memkind_fixed_stats st;
    CHECK_EQ(memkind_fixed_purge(g_kind), 0);
    CHECK_EQ(memkind_fixed_get_stats(g_kind, &st), 0);
    CHECK_EQ(st.used, 0);
    CHECK_EQ(st.largest_free, st.capacity);
    CHECK_EQ(memkind_destroy_kind(g_kind), 0);
    region_free(&g_region);
    return atomic_load(&g_bad_bytes);
}

int main(void)
{
    const unsigned matrix[] = {0, MEMKIND_REGION_ZEROED, MEMKIND_REGION_PURGE,
                               MEMKIND_REGION_ZEROED | MEMKIND_REGION_PURGE};
    for (size_t i = 0; i < sizeof(matrix) / sizeof(matrix[0]); i++)
        CHECK_EQ(run(matrix[i]), 0);
    return check_done("purge_test");
}
