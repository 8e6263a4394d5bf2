/*
 * kinds_test.c - many kinds: 2000 alive at once, and 10,000 create + destroy
 * cycles that leave no mapping and no resident memory behind (memkind's fixed
 * kind stops at 479 kinds and leaks 16 MiB of address space per cycle).
 */
#include "check.h"
#include "region.h"

#include <memkind_fixed.h>
#include <valgrind/valgrind.h> /* RUNNING_ON_VALGRIND: a no-op instruction sequence */

#include <pthread.h>
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
    struct test_region r = region_new(N * 64 * KiB, -1);
    REQUIRE(r.base != NULL);
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
    struct test_region r = region_new(1 << 20, 0);
    REQUIRE(r.base != NULL);
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
    cache_region = region_new((size_t)CACHE_KINDS * 64 * KiB, -1);
    REQUIRE(cache_region.base != NULL);
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

int main(void)
{
    test_thread_cache_limit();
    test_many_alive();
    test_create_destroy_cycles();
    return check_done("kinds_test");
}
