/*
 * kinds_test.c - many kinds: 2000 alive at once, and 10,000 create + destroy
 * cycles that leave no mapping and no resident memory behind (memkind's fixed
 * kind stops at 479 kinds and leaks 16 MiB of address space per cycle); a
 * destroyed kind's recycled arena shows nothing of its old heap.
 */
#include "check.h"
#include "region.h"
#include "stamp.h"

#include <memkind_fixed.h>
#include <valgrind/valgrind.h> /* RUNNING_ON_VALGRIND: a no-op instruction sequence */

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define KiB ((size_t)1 << 10)

/* Number of mappings and their total size in KiB, from /proc/self/maps. */
static long count_maps(long *kib)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return -1;
    long n = 0;
    unsigned long lo, hi, bytes = 0;
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2) {
            n++;
            bytes += hi - lo;
        }
    }
    fclose(f);
    *kib = (long)(bytes >> 10);
    return n;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

static void test_many_alive(void)
{
    enum { N = 2000 };
    static memkind_t kinds[N];
    struct test_region r = region_require(N * 64 * KiB, -1);
    int created = 0, used = 0;
    for (int i = 0; i < N; i++) {
        char *base = (char *)r.base + (size_t)i * 64 * KiB;
        if (memkind_create_fixed(base, 64 * KiB, &kinds[i]) != 0)
            break;
        created++;
        int *p = memkind_malloc(kinds[i], sizeof(int));
        if (in_range(p, sizeof(int), base, 64 * KiB)) {
            *p = i;
            used++;
        }
        memkind_free(kinds[i], p);
    }
    CHECK_EQ(created, N);
    CHECK_EQ(used, N);
    for (int i = 0; i < created; i++)
        CHECK_EQ(memkind_destroy_kind(kinds[i]), 0);
    region_free(&r);
}

static void cycle(struct test_region *r)
{
    memkind_t kind;
    if (memkind_create_fixed(r->base, r->size, &kind) != 0) {
        CHECK(0);
        return;
    }
    void *a = memkind_malloc(kind, 100), *b = memkind_malloc(kind, 100000);
    CHECK(a != NULL && b != NULL);
    memkind_free(kind, a); /* b goes with the kind */
    if (memkind_destroy_kind(kind) != 0)
        CHECK(0);
}

static void test_create_destroy_cycles(void)
{
    struct test_region r = region_require(1 << 20, 0);
    int failed_before = check_failed;
    for (int i = 0; i < 200; i++) /* warm-up: jemalloc's own first allocations */
        cycle(&r);
    long as0, as1;
    long maps0 = count_maps(&as0), rss0 = rss_kib();
    for (int i = 0; i < 10000; i++)
        cycle(&r);
    long maps1 = count_maps(&as1), rss1 = rss_kib();
    printf("10000 create+destroy cycles: mappings %ld -> %ld, address space %ld -> %ld KiB, "
           "RSS %ld -> %ld KiB\n",
           maps0, maps1, as0, as1, rss0, rss1);
    CHECK_EQ(check_failed, failed_before);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    /* (The sanitizers map shadow memory and keep freed metadata in quarantine
     * on purpose, so these hold only in a plain build.) */
    CHECK(as1 - as0 <= 1024); /* memkind's fixed kind: 16 MiB per cycle */
    CHECK(rss1 - rss0 <= 2048);
    /* Under valgrind the number of mappings moves with where valgrind places
     * its own and the program's mappings (merged with a neighbour or not), while
     * the address space stays: only the two checks above hold there. */
    if (!RUNNING_ON_VALGRIND)
        CHECK(maps1 - maps0 <= 2);
#else
    (void)maps0, (void)maps1, (void)as0, (void)as1, (void)rss0, (void)rss1;
#endif
    region_free(&r);
}

/* More (thread, kind) pairs than jemalloc has explicit thread caches (about
 * 4094): the pairs past the limit run without a cache, and every allocation
 * still succeeds inside its own region. */
enum { CACHE_KINDS = 2100 };
static memkind_t cache_kinds[CACHE_KINDS];
static struct test_region cache_region;

static void *use_all_kinds(void *arg)
{
    int *bad = arg;
    for (int i = 0; i < CACHE_KINDS; i++) {
        char *base = (char *)cache_region.base + (size_t)i * 64 * KiB;
        void *p = memkind_malloc(cache_kinds[i], 48);
        *bad += !in_range(p, 48, base, 64 * KiB);
        memkind_free(cache_kinds[i], p);
    }
    return NULL;
}

static void test_thread_cache_limit(void)
{
    cache_region = region_require((size_t)CACHE_KINDS * 64 * KiB, -1);
    for (int i = 0; i < CACHE_KINDS; i++)
        REQUIRE(memkind_create_fixed((char *)cache_region.base + (size_t)i * 64 * KiB,
                                     64 * KiB, &cache_kinds[i]) == 0);
    pthread_t t[3];
    int bad[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) /* one after the other: 3 x 2100 pairs */
        pthread_create(&t[i], NULL, use_all_kinds, &bad[i]), pthread_join(t[i], NULL);
    pthread_create(&t[0], NULL, use_all_kinds, &bad[0]);
    pthread_create(&t[1], NULL, use_all_kinds, &bad[1]);
    pthread_join(t[0], NULL);
    pthread_join(t[1], NULL);
    use_all_kinds(&bad[2]);
    CHECK_EQ(bad[0] + bad[1] + bad[2], 0);
    for (int i = 0; i < CACHE_KINDS; i++)
        CHECK_EQ(memkind_destroy_kind(cache_kinds[i]), 0);
    region_free(&cache_region);
}

/* A destroyed fixed kind's arena and thread caches serve the next kind (the pools
 * of arena.c and tcache.c): nothing of the old heap may show through. Kind A is
 * destroyed while it holds small and large blocks, and blocks cached by this
 * thread and by another; kind B, made next on another region, gets A's arena
 * back, starts with empty statistics, hands out only addresses of its own region
 * from both threads, and fills it as a fresh kind does, while nothing is written
 * into A's old region. */
struct recycle_arg {
    memkind_t kind;
    struct test_region *region;
    int outside;   /* blocks outside the region */
    bool free_all; /* else half of the blocks stay allocated */
};

static void *alloc_in(void *p)
{
    struct recycle_arg *arg = p;
    void *held[64];
    for (int i = 0; i < 64; i++) {
        held[i] = memkind_malloc(arg->kind, 64 + (size_t)i * 48);
        arg->outside += !in_range(held[i], 64, arg->region->base, arg->region->size);
    }
    for (int i = 0; i < 64; i += arg->free_all ? 1 : 2) /* to this thread's cache */
        memkind_free(arg->kind, held[i]);
    return NULL;
}

static size_t fill_count(memkind_t kind, struct test_region *r, size_t size, int *outside)
{
    enum { MAX = 1 << 16 };
    static void *p[MAX];
    size_t n = 0;
    while (n < MAX && (p[n] = memkind_malloc(kind, size)) != NULL) {
        *outside += !in_range(p[n], size, r->base, r->size);
        memset(p[n], 0xab, size);
        n++;
    }
    for (size_t i = 0; i < n; i++)
        memkind_free(kind, p[i]);
    return n;
}

static void test_recycled_arena(void)
{
    struct test_region r1 = region_new(4 << 20, 0), r2 = region_new(4 << 20, 0);
    REQUIRE(r1.base != NULL && r2.base != NULL);
    memkind_t a, b, fresh;
    a = region_kind(&r1);
    unsigned arena_a = UINT32_MAX, arena_b = UINT32_MAX;
    CHECK_EQ(memkind_thread_get_arena(a, &arena_a, 0), 0);
    struct recycle_arg arg = {a, &r1, 0, false};
    pthread_t t;
    pthread_create(&t, NULL, alloc_in, &arg), pthread_join(t, NULL);
    alloc_in(&arg);
    CHECK(memkind_malloc(a, 1 << 20) != NULL); /* a large block, never freed */
    CHECK_EQ(arg.outside, 0);
    CHECK_EQ(memkind_destroy_kind(a), 0);
    memset(r1.base, 0x5a, r1.size);

    b = region_kind(&r2);
    CHECK_EQ(memkind_thread_get_arena(b, &arena_b, 0), 0);
    CHECK_EQ(arena_b, arena_a); /* the recycled arena */
    struct memkind_fixed_stats st;
    CHECK_EQ(memkind_fixed_get_stats(b, &st), 0);
    CHECK_EQ(st.used, 0);
    CHECK_EQ(st.allocated, 0);
    struct recycle_arg arg_b = {b, &r2, 0, true};
    pthread_create(&t, NULL, alloc_in, &arg_b), pthread_join(t, NULL);
    alloc_in(&arg_b);
    CHECK_EQ(arg_b.outside, 0);
    CHECK_EQ(memkind_fixed_purge(b), 0);
    int outside = 0;
    size_t n_b = fill_count(b, &r2, 3000, &outside);
    CHECK_EQ(outside, 0);

    /* A fresh kind on a fresh region of the same size, for comparison. */
    struct test_region r3 = region_require(4 << 20, 0);
    fresh = region_kind(&r3);
    size_t n_fresh = fill_count(fresh, &r3, 3000, &outside);
    printf("recycled arena %u: %zu blocks of 3000 B (a fresh kind: %zu)\n", arena_b, n_b,
           n_fresh);
    CHECK(n_b * 100 >= n_fresh * 99);
    CHECK(n_fresh > 1000);
    CHECK_EQ(bytes_not(r1.base, r1.size, 0x5a), 0);
    CHECK_EQ(memkind_destroy_kind(b), 0);
    CHECK_EQ(memkind_destroy_kind(fresh), 0);
    region_free(&r1);
    region_free(&r2);
    region_free(&r3);
}

int main(void)
{
    test_recycled_arena();
    test_thread_cache_limit();
    test_many_alive();
    test_create_destroy_cycles();
    return check_done("kinds_test");
}
