/*
 * limits_test.c - fixed kinds at their limits:
 * - every kind slot in use at once (MEMKIND_MAX_KIND - 1 besides MEMKIND_DEFAULT),
 *   each one allocating inside its own 64 KiB region, and one more refused with
 *   MEMKIND_ERROR_TOOMANY;
 * - regions from 64 KiB to the largest this machine maps (a MAP_NORESERVE mapping
 *   tried from 64 TiB down), with blocks spread over all of it;
 * - every jemalloc size-class boundary up to 4 MiB, asked for -1, +0 and +1 byte
 *   through malloc, calloc, posix_memalign and realloc: usable size at least as
 *   asked, block inside the region, contents kept.
 */
#include "tests/c/check.h"
#include "tests/c/clock.h"
#include "tests/c/region.h"
#include "tests/c/stamp.h"
#include "tests/stress/pattern.h"

#include <memkind_fixed.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define GiB ((size_t)1 << 30)
#define TiB ((size_t)1 << 40)

/* ---- all kind slots at once ---------------------------------------------------- */

static void test_max_kinds(void)
{
    enum { N = MEMKIND_MAX_KIND - 1 }; /* slot 0 is MEMKIND_DEFAULT */
    static memkind_t kinds[N];
    const size_t each = 64 * KiB;
    double t0 = now_seconds();
    struct test_region r = region_require((N + 1) * each, -1);
    int created = 0, good = 0;
    for (int i = 0; i < N; i++) {
        unsigned char *base = (unsigned char *)r.base + (size_t)i * each;
        int err = memkind_create_fixed(base, each, &kinds[i]);
        if (err != 0) {
            fprintf(stderr, "kind %d: error %d\n", i, err);
            break;
        }
        created++;
        unsigned char *p = memkind_malloc(kinds[i], 100 + (size_t)i % 1000);
        if (in_range(p, 100, base, each)) {
            memset(p, i & 0xff, 100);
            good++;
        }
    }
    CHECK_EQ(created, N);
    CHECK_EQ(good, N);
    memkind_t extra = NULL;
    CHECK_EQ(memkind_create_fixed((unsigned char *)r.base + (size_t)N * each, each, &extra),
             MEMKIND_ERROR_TOOMANY);
    CHECK(extra == NULL);
    /* All still distinct: each first block is where it was put, intact. */
    int intact = 0;
    for (int i = 0; i < created; i++) {
        unsigned char *base = (unsigned char *)r.base + (size_t)i * each;
        void *q = memkind_malloc(kinds[i], 64);
        intact += in_range(q, 64, base, each) && memkind_detect_kind(q) == kinds[i];
        memkind_free(NULL, q);
    }
    CHECK_EQ(intact, created);
    int destroyed = 0;
    for (int i = 0; i < created; i++)
        destroyed += memkind_destroy_kind(kinds[i]) == 0;
    CHECK_EQ(destroyed, created);
    /* And a kind can be made again. */
    CHECK_EQ(memkind_create_fixed(r.base, each, &extra), 0);
    CHECK_EQ(memkind_destroy_kind(extra), 0);
    region_free(&r);
    printf("limits: %d kinds alive at once, the next one refused (%.1f s)\n", created,
           now_seconds() - t0);
}

/* ---- region sizes ---------------------------------------------------------------- */

/* The smallest useful region: filled with small blocks, then, emptied, one block of
 * half its size. */
static void test_small_region(void)
{
    struct test_region r = region_require(64 * KiB, 0x77);
    memkind_t k = region_kind(&r);
    CHECK_EQ(memkind_get_capacity(k), (ssize_t)r.size);
    static void *blocks[2048];
    int n = 0, bad = 0;
    while (n < 2048) {
        errno = 0;
        unsigned char *p = memkind_malloc(k, 64);
        if (p == NULL) {
            CHECK_EQ(errno, ENOMEM);
            break;
        }
        bad += !in_range(p, 64, r.base, r.size);
        memset(p, 0xab, 64);
        blocks[n++] = p;
    }
    CHECK(n >= 512); /* at least half the region in 64 B blocks */
    CHECK(n < 2048);
    CHECK_EQ(bad, 0);
    for (int i = 0; i < n; i++)
        memkind_free(k, blocks[i]);
    unsigned char *half = memkind_malloc(k, 32 * KiB);
    CHECK(in_range(half, 32 * KiB, r.base, r.size));
    memkind_free(k, half);
    CHECK_EQ(memkind_destroy_kind(k), 0);
    region_free(&r);
}

/* The largest region this machine maps: blocks of 1/16 of it until it is full,
 * each touched at both ends, then one aligned block far into it. Tried from 64 TiB
 * down (1 TiB under the sanitizers, whose shadow memory takes much of the address
 * space), or from $LIMITS_REGION_GIB. */
static void test_huge_region(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    size_t size = 1 * TiB;
#else
    size_t size = 64 * TiB;
#endif
    const char *env = getenv("LIMITS_REGION_GIB");
    if (env != NULL && atol(env) > 0)
        size = (size_t)atol(env) * GiB;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *map = MAP_FAILED;
    for (; size >= GiB; size /= 2) {
        map = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (map != MAP_FAILED)
            break;
    }
    REQUIRE(map != MAP_FAILED);
    memkind_t k;
    REQUIRE(memkind_create_fixed(map, size, &k) == 0);
    enum { MAXB = 32 };
    unsigned char *b[MAXB];
    size_t each = size / 16;
    int n = 0, bad = 0;
    while (n < MAXB) {
        b[n] = memkind_malloc(k, each);
        if (b[n] == NULL)
            break;
        bad += !in_range(b[n], each, map, size) || memkind_malloc_usable_size(k, b[n]) < each;
        pattern_fill(b[n], 0, page, (unsigned)n);            /* first page */
        pattern_fill(b[n] + each - page, 0, page, (unsigned)n); /* last page */
        n++;
    }
    CHECK_EQ(n, 16); /* large blocks take exactly their pages (core/src/large.c) */
    CHECK_EQ(bad, 0);
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    int intact = 0;
    for (int i = 0; i < n; i++) {
        intact += pattern_ok(b[i], 0, page, (unsigned)i) &&
                  pattern_ok(b[i] + each - page, 0, page, (unsigned)i);
        lo = (uintptr_t)b[i] < lo ? (uintptr_t)b[i] : lo;
        hi = (uintptr_t)b[i] + each > hi ? (uintptr_t)b[i] + each : hi;
    }
    CHECK_EQ(intact, n);
    CHECK(hi - lo >= size / 16 * 14); /* spread over the region */
    for (int i = 0; i < n; i++)
        memkind_free(i % 2 ? NULL : k, b[i]);

    /* Emptied: an aligned block half-way in, and a block of half the region. */
    void *p = NULL;
    CHECK_EQ(memkind_posix_memalign(k, &p, size / 2, 4096), 0);
    CHECK(in_range(p, 4096, map, size) && (uintptr_t)p % (size / 2) == 0);
    if (p != NULL)
        memset(p, 1, 4096);
    memkind_free(k, p);
    unsigned char *big = memkind_malloc(k, size / 2);
    CHECK(in_range(big, size / 2, map, size));
    if (big != NULL)
        big[size / 2 - 1] = 1;
    memkind_free(k, big);
    /* Nothing lost. (One statistics call only: it reads the resident size with
     * mincore(2) over the whole region, which takes time in proportion to it.) */
    memkind_fixed_purge(k);
    struct memkind_fixed_stats st;
    double t0 = now_seconds();
    CHECK_EQ(memkind_fixed_get_stats(k, &st), 0);
    double stats_time = now_seconds() - t0;
    CHECK_EQ(st.capacity, size);
    CHECK_EQ(st.used, 0);
    CHECK_EQ(st.largest_free, size);
    CHECK_EQ(memkind_destroy_kind(k), 0);
    munmap(map, size);
    printf("limits: a region of %zu GiB (the largest mapping tried that worked), %d "
           "blocks of %zu GiB in it; memkind_fixed_get_stats took %.1f s\n",
           size / GiB, n, each / GiB, stats_time);
}

/* ---- size classes ---------------------------------------------------------------- */

struct edge_stats {
    int tried, bad_usable, bad_place, bad_content, bad_zero, failed;
};

/* One block of `size` bytes from `how`, checked and freed. */
static void try_size(memkind_t k, const struct test_region *r, size_t size, int how,
                     struct edge_stats *es)
{
    unsigned char *p = NULL;
    size_t align = size <= 8 ? 8 : 16;
    switch (how) {
    case 0: p = memkind_malloc(k, size); break;
    case 1: p = memkind_calloc(k, 1, size); break;
    case 2:
    case 3:
        align = how == 2 ? 64 : 4096;
        if (memkind_posix_memalign(k, (void **)&p, align, size) != 0)
            p = NULL;
        break;
    }
    es->tried++;
    if (p == NULL) {
        es->failed++;
        return;
    }
    size_t usable = memkind_malloc_usable_size(k, p);
    es->bad_usable += usable < size;
    es->bad_place += !in_range(p, usable, r->base, r->size) || (uintptr_t)p % align != 0;
    if (how == 1)
        es->bad_zero += !bytes_all(p, size, 0);
    pattern_fill(p, 0, usable, (unsigned)size);
    es->bad_content += !pattern_ok(p, 0, usable, (unsigned)size);
    memkind_free(k, p);
}

/* realloc across the boundary both ways: the common bytes stay. */
static void try_realloc(memkind_t k, const struct test_region *r, size_t edge,
                        struct edge_stats *es)
{
    unsigned char *p = memkind_malloc(k, edge);
    es->tried++;
    if (p == NULL) {
        es->failed++;
        return;
    }
    pattern_fill(p, 0, edge, 7);
    static const long steps[] = {1, -2, 1, 0};
    size_t size = edge;
    for (int i = 0; i < 4; i++) {
        size_t to = (size_t)((long)edge + steps[i]);
        unsigned char *q = memkind_realloc(k, p, to);
        if (q == NULL) {
            es->failed++;
            break;
        }
        size_t kept = to < size ? to : size;
        es->bad_content += !pattern_ok(q, 0, kept, 7);
        es->bad_usable += memkind_malloc_usable_size(NULL, q) < to;
        es->bad_place += !in_range(q, to, r->base, r->size);
        pattern_fill(q, kept, to, 7);
        p = q;
        size = to;
    }
    memkind_free(NULL, p);
}

static void test_size_classes(void)
{
    struct test_region r = region_require(64 * MiB, 0x5a);
    memkind_t k = region_kind(&r);
    struct edge_stats es = {0};
    int classes = 0;
    for (size_t s = 1; s <= 4 * MiB;) {
        void *p = memkind_malloc(k, s);
        REQUIRE(p != NULL);
        size_t edge = memkind_malloc_usable_size(k, p); /* the class that holds s */
        memkind_free(k, p);
        CHECK(edge >= s);
        classes++;
        for (size_t size = edge - 1; size <= edge + 1; size++)
            for (int how = 0; how < 4; how++)
                if (size > 0)
                    try_size(k, &r, size, how, &es);
        try_realloc(k, &r, edge, &es);
        s = edge + 1;
    }
    CHECK(classes > 60); /* jemalloc 5.3 with 4 KiB pages has 69 */
    CHECK_EQ(es.failed, 0);
    CHECK_EQ(es.bad_usable, 0);
    CHECK_EQ(es.bad_place, 0);
    CHECK_EQ(es.bad_content, 0);
    CHECK_EQ(es.bad_zero, 0);
    CHECK_EQ(memkind_destroy_kind(k), 0);
    region_free(&r);
    printf("limits: %d size classes up to 4 MiB, %d requests at their edges\n", classes,
           es.tried);
}

int main(void)
{
    pattern_init();
    test_small_region();
    test_size_classes();
    test_huge_region();
    test_max_kinds();
    return check_done("limits_test");
}
