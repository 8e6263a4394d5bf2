/*
 * api_test.c - memkind's API on fixed kinds: results, edge cases, bad input.
 * Every bad input must give its defined result and leave the heap usable.
 */
#include "arena_ops.h"
#include "check.h"
#include "fill.h"
#include "region.h"
#include "stamp.h"

#include <memkind_fixed.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>

#define MiB ((size_t)1 << 20)

static size_t page;

static void test_create_bad_input(void)
{
    struct test_region r = region_require(4 * MiB, 0x5a);
    memkind_t kind = (memkind_t)0x1;

    CHECK_EQ(memkind_create_fixed(NULL, 4 * MiB, &kind), MEMKIND_ERROR_INVALID);
    CHECK_EQ(memkind_create_fixed(r.base, 0, &kind), MEMKIND_ERROR_INVALID);
    CHECK_EQ(memkind_create_fixed(r.base, 4 * MiB, NULL), MEMKIND_ERROR_INVALID);
    CHECK_EQ(memkind_create_fixed((void *)(UINTPTR_MAX - 100), 4096, &kind),
             MEMKIND_ERROR_INVALID);
    /* Less than a whole page once aligned inward. */
    CHECK_EQ(memkind_create_fixed((char *)r.base + 1, page, &kind),
             MEMKIND_ERROR_REGION_TOO_SMALL);
    CHECK_EQ(memkind_create_fixed(r.base, page - 1, &kind), MEMKIND_ERROR_REGION_TOO_SMALL);
    CHECK_EQ(memkind_create_fixed_flags(r.base, 4 * MiB, 1u << 30, &kind),
             MEMKIND_ERROR_INVALID);
    CHECK(kind == (memkind_t)0x1); /* untouched on failure */

    /* An unaligned start is rounded inward; the bytes outside are never touched. */
    memkind_t k1;
    CHECK_EQ(memkind_create_fixed((char *)r.base + 100, 2 * MiB, &k1), MEMKIND_SUCCESS);
    CHECK_EQ(memkind_get_capacity(k1), (ssize_t)(2 * MiB - page));
    /* Overlap with a live kind's region is refused, also partly. */
    memkind_t k2;
    CHECK_EQ(memkind_create_fixed((char *)r.base + MiB, 2 * MiB, &k2),
             MEMKIND_ERROR_REGION_OVERLAP);
    CHECK_EQ(memkind_create_fixed(r.base, 4 * MiB, &k2), MEMKIND_ERROR_REGION_OVERLAP);
    /* Next to it is fine. */
    CHECK_EQ(memkind_create_fixed((char *)r.base + 2 * MiB, 2 * MiB, &k2), MEMKIND_SUCCESS);

    void *p = memkind_malloc(k1, 1000);
    CHECK(in_range(p, 1000, (char *)r.base + page, 2 * MiB - page));
    memset(p, 1, 1000);
    CHECK(((unsigned char *)r.base)[0] == 0x5a && ((unsigned char *)r.base)[99] == 0x5a);
    memkind_free(k1, p);

    CHECK_EQ(memkind_destroy_kind(k1), MEMKIND_SUCCESS);
    CHECK_EQ(memkind_destroy_kind(k2), MEMKIND_SUCCESS);
    /* The region can be reused after destroy. */
    CHECK_EQ(memkind_create_fixed(r.base, 4 * MiB, &k1), MEMKIND_SUCCESS);
    CHECK_EQ(memkind_destroy_kind(k1), MEMKIND_SUCCESS);
    region_free(&r);
}

static void test_destroy_and_use_after_destroy(void)
{
    struct test_region r = region_require(2 * MiB, 0);
    memkind_t kind = region_kind(&r);
    CHECK_EQ(memkind_check_available(kind), MEMKIND_SUCCESS);
    void *live = memkind_malloc(kind, 100); /* destroyed with the kind, as memkind allows */
    CHECK(live != NULL);
    CHECK_EQ(memkind_destroy_kind(kind), MEMKIND_SUCCESS);
    CHECK_EQ(memkind_destroy_kind(kind), MEMKIND_ERROR_DESTROYED);
    CHECK_EQ(memkind_check_available(kind), MEMKIND_ERROR_DESTROYED);
    errno = 0;
    CHECK(memkind_malloc(kind, 10) == NULL);
    CHECK_EQ(errno, EINVAL);
    void *p = (void *)0x1;
    CHECK_EQ(memkind_posix_memalign(kind, &p, 64, 64), EINVAL);
    CHECK(p == NULL);
    CHECK_EQ(memkind_get_capacity(kind), -1);
    size_t v;
    CHECK_EQ(memkind_get_stat(kind, MEMKIND_STAT_TYPE_ALLOCATED, &v), MEMKIND_ERROR_DESTROYED);
    struct memkind_fixed_stats st;
    CHECK_EQ(memkind_fixed_get_stats(kind, &st), MEMKIND_ERROR_DESTROYED);

    CHECK_EQ(memkind_destroy_kind(NULL), MEMKIND_ERROR_INVALID);
    CHECK_EQ(memkind_destroy_kind(MEMKIND_DEFAULT), MEMKIND_ERROR_INVALID);
    CHECK_EQ(memkind_check_available(NULL), MEMKIND_ERROR_INVALID);
    CHECK_EQ(memkind_check_available(MEMKIND_DEFAULT), MEMKIND_SUCCESS);
    errno = 0;
    CHECK(memkind_malloc(NULL, 10) == NULL);
    CHECK_EQ(errno, EINVAL);
    CHECK(memkind_calloc(NULL, 1, 10) == NULL);
    region_free(&r);
}

/* Blocks left allocated at destroy are released and counted; blocks freed into a
 * thread cache are not. */
static void test_destroy_counts_live_blocks(void)
{
    struct test_region r = region_require(4 * MiB, 0);
    struct memkind_destroy_stats s0, s1, s2;
    CHECK_EQ(memkind_get_destroy_stats(NULL), MEMKIND_ERROR_INVALID);
    REQUIRE(memkind_get_destroy_stats(&s0) == MEMKIND_SUCCESS);

    memkind_t kind = region_kind(&r);
    /* Sizes that are size classes: 64 B and 4 KiB (small), 64 KiB (large). */
    void *kept[3] = {memkind_malloc(kind, 64), memkind_malloc(kind, 4096),
                     memkind_malloc(kind, 65536)};
    for (int i = 0; i < 3; i++)
        CHECK(in_range(kept[i], 1, r.base, r.size));
    for (int i = 0; i < 100; i++) /* freed: into this thread's cache, or further */
        memkind_free(kind, memkind_malloc(kind, (size_t)(i + 1) * 40));
    CHECK_EQ(memkind_destroy_kind(kind), MEMKIND_SUCCESS);
    REQUIRE(memkind_get_destroy_stats(&s1) == MEMKIND_SUCCESS);
    CHECK_EQ(s1.kinds - s0.kinds, 1);
    CHECK_EQ(s1.blocks - s0.blocks, 3);
    CHECK_EQ(s1.bytes - s0.bytes, 64 + 4096 + 65536);

    /* Everything freed: nothing counted. The region serves a new kind. */
    kind = region_kind(&r);
    void *p = memkind_malloc(kind, 3 * MiB);
    CHECK(in_range(p, 3 * MiB, r.base, r.size));
    memkind_free(kind, p);
    CHECK_EQ(memkind_destroy_kind(kind), MEMKIND_SUCCESS);
    REQUIRE(memkind_get_destroy_stats(&s2) == MEMKIND_SUCCESS);
    CHECK_EQ(s2.kinds, s1.kinds);
    CHECK_EQ(s2.blocks, s1.blocks);
    CHECK_EQ(s2.bytes, s1.bytes);
    region_free(&r);
}

static void test_malloc_sizes(memkind_t kind, struct test_region *r)
{
    /* Size 0: NULL with errno untouched, as memkind does ... */
    errno = 1234;
    CHECK(memkind_malloc(kind, 0) == NULL);
    CHECK_EQ(errno, 1234);
    CHECK(memkind_calloc(kind, 0, 8) == NULL);
    CHECK(memkind_calloc(kind, 8, 0) == NULL);
    void *p = (void *)0x1;
    CHECK_EQ(memkind_posix_memalign(kind, &p, 64, 0), 0);
    CHECK(p == NULL);
    /* ... unless zero allocations are allowed: then a unique freeable block. */
    memkind_set_allow_zero_allocs(kind, true);
    void *z1 = memkind_malloc(kind, 0), *z2 = memkind_malloc(kind, 0);
    CHECK(z1 != NULL && z2 != NULL && z1 != z2);
    CHECK(in_range(z1, 1, r->base, r->size));
    void *z3 = memkind_realloc(kind, z1, 0);
    CHECK(z3 != NULL);
    memkind_free(kind, z3);
    memkind_free(kind, z2);
    memkind_set_allow_zero_allocs(kind, false);
    memkind_set_allow_zero_allocs(NULL, true); /* ignored */

    errno = 0;
    CHECK(memkind_malloc(kind, SIZE_MAX) == NULL);
    CHECK_EQ(errno, ENOMEM);
    errno = 0;
    CHECK(memkind_malloc(kind, (size_t)1 << 62) == NULL);
    CHECK_EQ(errno, ENOMEM);
    errno = 0;
    CHECK(memkind_malloc(kind, r->size + 1) == NULL);
    CHECK_EQ(errno, ENOMEM);
    errno = 0;
    CHECK(memkind_calloc(kind, SIZE_MAX / 2, 3) == NULL); /* overflow */
    CHECK_EQ(errno, ENOMEM);
    errno = 0;
    CHECK(memkind_calloc(kind, (size_t)1 << 33, (size_t)1 << 33) == NULL);
    CHECK_EQ(errno, ENOMEM);

    /* Every size class up to 64 KiB: inside the region, usable size >= asked. */
    int ok = 1;
    for (size_t s = 1; s <= 65536; s += s / 8 + 1) {
        unsigned char *q = memkind_malloc(kind, s);
        if (q == NULL || !in_range(q, s, r->base, r->size) ||
            memkind_malloc_usable_size(kind, q) < s ||
            memkind_malloc_usable_size(NULL, q) < s || ((uintptr_t)q % 16 != 0 && s >= 16)) {
            ok = 0;
            break;
        }
        memset(q, 0xee, s);
        memkind_free(kind, q);
    }
    CHECK(ok);
    CHECK_EQ(memkind_malloc_usable_size(kind, NULL), 0);
    memkind_free(kind, NULL);
    memkind_free(NULL, NULL);
}

static void test_calloc_zero_on_dirty_memory(memkind_t kind, struct test_region *r)
{
    /* The region was filled with 0xa5 before the kind existed: fresh memory is
     * not zero, and calloc must clear it (memkind trusted "zero" here). */
    for (size_t s = 8; s <= 4 * MiB; s *= 4) {
        unsigned char *q = memkind_calloc(kind, 1, s);
        REQUIRE(q != NULL);
        CHECK(in_range(q, s, r->base, r->size));
        CHECK_EQ(bytes_not(q, s, 0), 0);
        memset(q, 0x77, s); /* dirty it for the next round */
        memkind_free(kind, q);
        memkind_fixed_purge(kind); /* the extent goes back to the region, dirty */
        unsigned char *again = memkind_calloc(kind, s, 1);
        REQUIRE(again != NULL);
        CHECK_EQ(bytes_not(again, s, 0), 0);
        memkind_free(kind, again);
    }
}

static void test_posix_memalign(memkind_t kind, struct test_region *r)
{
    void *p = (void *)0x1;
    CHECK_EQ(memkind_posix_memalign(kind, &p, 0, 64), EINVAL);
    CHECK(p == NULL);
    CHECK_EQ(memkind_posix_memalign(kind, &p, 3, 64), EINVAL);
    CHECK_EQ(memkind_posix_memalign(kind, &p, 4, 64), EINVAL);  /* < sizeof(void *) */
    CHECK_EQ(memkind_posix_memalign(kind, &p, 24, 64), EINVAL); /* not a power of two */
    CHECK_EQ(memkind_posix_memalign(kind, NULL, 64, 64), EINVAL);
    CHECK_EQ(memkind_posix_memalign(NULL, &p, 64, 64), EINVAL);
    errno = 4321;
    CHECK_EQ(memkind_posix_memalign(kind, &p, 64, SIZE_MAX), ENOMEM);
    CHECK_EQ(errno, 4321); /* posix_memalign leaves errno alone */
    CHECK(p == NULL);

    for (size_t a = sizeof(void *); a <= r->size / 4; a *= 2) {
        size_t s = a < 4096 ? 100 : a / 2;
        int err = memkind_posix_memalign(kind, &p, a, s);
        CHECK_EQ(err, 0);
        if (err != 0)
            continue;
        CHECK_EQ((uintptr_t)p % a, 0);
        CHECK(in_range(p, s, r->base, r->size));
        memset(p, 0x42, s);
        memkind_free(kind, p);
    }
}

static void test_realloc(memkind_t kind, struct test_region *r)
{
    /* NULL pointer: malloc. */
    unsigned char *p = memkind_realloc(kind, NULL, 100);
    REQUIRE(p != NULL);
    CHECK(in_range(p, 100, r->base, r->size));
    for (int i = 0; i < 100; i++)
        p[i] = (unsigned char)i;
    /* Growth keeps the contents, through small and large size classes. */
    size_t sizes[] = {200, 5000, 70000, 3 * MiB, 1000, 50};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        unsigned char *q = memkind_realloc(kind, p, sizes[k]);
        REQUIRE(q != NULL);
        CHECK(in_range(q, sizes[k], r->base, r->size));
        int same = 1;
        for (int i = 0; i < 50; i++)
            same &= q[i] == (unsigned char)i;
        CHECK(same);
        p = q;
    }
    /* Failure leaves the block alone. */
    errno = 0;
    CHECK(memkind_realloc(kind, p, r->size * 2) == NULL);
    CHECK_EQ(errno, ENOMEM);
    CHECK(p[49] == 49);
    errno = 0;
    CHECK(memkind_realloc(kind, p, SIZE_MAX) == NULL);
    CHECK_EQ(errno, ENOMEM);
    /* kind NULL: found from the pointer. */
    p = memkind_realloc(NULL, p, 64);
    CHECK(in_range(p, 64, r->base, r->size));
    CHECK(p[10] == 10);
    /* Size 0 frees and returns NULL. */
    CHECK(memkind_realloc(kind, p, 0) == NULL);

    /* In-place growth: a large block followed by free memory grows where it is. */
    memkind_fixed_purge(kind);
    void *big = memkind_malloc(kind, 1 * MiB);
    REQUIRE(big != NULL);
    void *grown = memkind_realloc(kind, big, 2 * MiB);
    CHECK(grown == big);
    memkind_free(kind, grown);
}

static void test_exhaustion_and_recovery(memkind_t kind, struct test_region *r)
{
    enum { MAXB = 1 << 16 };
    static void *blocks[MAXB];
    size_t n = fill_kind(kind, NULL, 4096, blocks, MAXB, NULL).n;
    CHECK_EQ(errno, ENOMEM);
    CHECK(n * 4096 >= r->size * 9 / 10);
    struct memkind_fixed_stats st;
    CHECK_EQ(memkind_fixed_get_stats(kind, &st), MEMKIND_SUCCESS);
    CHECK(st.failed_allocs >= 1);
    CHECK(st.allocated >= n * 4096);
    CHECK(st.used <= st.capacity);
    free_blocks(kind, blocks, n, 4096, NULL);
    /* After the frees the heap serves the same again, and then a large block. */
    size_t m = fill_kind(kind, NULL, 4096, blocks, n, NULL).n;
    CHECK_EQ(m, n);
    free_blocks(kind, blocks, m, 4096, NULL);
    void *large = memkind_malloc(kind, r->size / 2);
    CHECK(large != NULL);
    memkind_free(kind, large);
}

static void test_detect_and_default(memkind_t kind, struct test_region *r)
{
    void *p = memkind_malloc(kind, 64);
    CHECK(memkind_detect_kind(p) == kind);
    CHECK(memkind_detect_kind(NULL) == NULL);
    /* Addresses the library never handed out: NULL, never a fault. */
    void *foreign = malloc(100);
    int on_stack;
    void *far = mmap(NULL, 1 << 20, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(memkind_detect_kind(foreign) == NULL);
    CHECK(memkind_detect_kind(&on_stack) == NULL);
    CHECK(memkind_detect_kind(far) == NULL);
    CHECK(memkind_detect_kind((void *)(uintptr_t)0x7ffffffff000ull) == NULL);
    free(foreign);
    munmap(far, 1 << 20);
    void *d = memkind_malloc(MEMKIND_DEFAULT, 64);
    CHECK(d != NULL && !in_range(d, 64, r->base, r->size));
    CHECK(memkind_detect_kind(d) == MEMKIND_DEFAULT);
    /* A wrong kind given to free: the pointer still goes home. */
    memkind_free(MEMKIND_DEFAULT, d);
    memkind_free(NULL, p);

    void *c = memkind_calloc(MEMKIND_DEFAULT, 10, 10);
    CHECK(c != NULL && ((char *)c)[99] == 0);
    c = memkind_realloc(MEMKIND_DEFAULT, c, 5000);
    CHECK(c != NULL && ((char *)c)[99] == 0);
    CHECK(memkind_malloc_usable_size(MEMKIND_DEFAULT, c) >= 5000);
    memkind_free(MEMKIND_DEFAULT, c);
    void *a;
    CHECK_EQ(memkind_posix_memalign(MEMKIND_DEFAULT, &a, 4096, 10), 0);
    CHECK_EQ((uintptr_t)a % 4096, 0);
    memkind_free(NULL, a);
    CHECK(memkind_get_capacity(MEMKIND_DEFAULT) > 0);
    CHECK_EQ(memkind_get_capacity(NULL), -1);
}

static void test_stats(memkind_t kind, struct test_region *r)
{
    struct memkind_fixed_stats before, after;
    CHECK_EQ(memkind_fixed_get_stats(kind, &before), MEMKIND_SUCCESS);
    CHECK_EQ(before.capacity, r->size);
    CHECK_EQ(before.regions, 1);
    CHECK_EQ(before.free + before.used, before.capacity);
    void *p = memkind_malloc(kind, 3 * MiB);
    REQUIRE(p != NULL);
    CHECK_EQ(memkind_fixed_get_stats(kind, &after), MEMKIND_SUCCESS);
    CHECK(after.allocated >= before.allocated + 3 * MiB);
    CHECK(after.used >= before.used + 3 * MiB || before.free - after.free >= 3 * MiB ||
          after.used >= 3 * MiB);
    CHECK(after.peak_used >= after.used);
    CHECK(after.largest_free <= after.free);

    CHECK_EQ(memkind_update_cached_stats(), MEMKIND_SUCCESS);
    size_t allocated = 0, active = 0, resident = 0, all = 0;
    CHECK_EQ(memkind_get_stat(kind, MEMKIND_STAT_TYPE_ALLOCATED, &allocated), 0);
    CHECK_EQ(memkind_get_stat(kind, MEMKIND_STAT_TYPE_ACTIVE, &active), 0);
    CHECK_EQ(memkind_get_stat(kind, MEMKIND_STAT_TYPE_RESIDENT, &resident), 0);
    CHECK_EQ(memkind_get_stat(NULL, MEMKIND_STAT_TYPE_ALLOCATED, &all), 0);
    CHECK(allocated >= 3 * MiB);
    CHECK(active >= allocated);
    CHECK(all >= allocated);
    CHECK_EQ(memkind_get_stat(kind, MEMKIND_STAT_TYPE_MAX_VALUE, &all), MEMKIND_ERROR_INVALID);
    CHECK_EQ(memkind_get_stat(kind, (memkind_stat_type)-1, &all), MEMKIND_ERROR_INVALID);
    CHECK_EQ(memkind_get_stat(kind, MEMKIND_STAT_TYPE_ACTIVE, NULL), MEMKIND_ERROR_INVALID);
    CHECK_EQ(memkind_get_stat(MEMKIND_DEFAULT, MEMKIND_STAT_TYPE_ALLOCATED, &all), 0);
    CHECK_EQ(memkind_fixed_get_stats(kind, NULL), MEMKIND_ERROR_INVALID);
    CHECK_EQ(memkind_fixed_get_stats(MEMKIND_DEFAULT, &after), MEMKIND_ERROR_NOT_FIXED);
    memkind_free(kind, p);
}

static void test_fixed_mmap_and_regions(void)
{
    struct test_region r = region_require(8 * MiB, 0x11);
    memkind_t kind;
    REQUIRE(memkind_create_fixed(r.base, 4 * MiB, &kind) == MEMKIND_SUCCESS);
    void *m = memkind_fixed_mmap(kind, NULL, 10000);
    CHECK(m != MAP_FAILED && in_range(m, 10000, r.base, 4 * MiB));
    CHECK(memkind_fixed_mmap(kind, NULL, 64 * MiB) == MAP_FAILED);
    CHECK(memkind_fixed_mmap(kind, NULL, 0) == MAP_FAILED);
    /* A second region, marked as zeroed (it is not filled with zero here, so only
     * use calloc-free checks on it). */
    memset((char *)r.base + 4 * MiB, 0, 4 * MiB);
    CHECK_EQ(memkind_fixed_add_region(kind, (char *)r.base + 4 * MiB, 4 * MiB,
                                      MEMKIND_REGION_ZEROED),
             MEMKIND_SUCCESS);
    CHECK_EQ(memkind_get_capacity(kind), (ssize_t)(8 * MiB));
    CHECK_EQ(memkind_fixed_add_region(kind, r.base, MiB, 0), MEMKIND_ERROR_REGION_OVERLAP);
    CHECK_EQ(memkind_fixed_add_region(MEMKIND_DEFAULT, r.base, MiB, 0), MEMKIND_ERROR_NOT_FIXED);
    CHECK_EQ(memkind_fixed_add_region(NULL, r.base, MiB, 0), MEMKIND_ERROR_INVALID);
    /* Blocks larger than what remains in the first region come from the second. */
    void *big = memkind_malloc(kind, 5 * MiB / 2);
    void *big2 = memkind_malloc(kind, 5 * MiB / 2);
    CHECK(big != NULL && big2 != NULL);
    CHECK(in_range(big, 5 * MiB / 2, r.base, 8 * MiB));
    CHECK(in_range(big2, 5 * MiB / 2, r.base, 8 * MiB));
    CHECK(memkind_detect_kind(big2) == kind);
    memkind_free(kind, big);
    memkind_free(NULL, big2);
    struct memkind_fixed_stats st;
    CHECK_EQ(memkind_fixed_get_stats(kind, &st), MEMKIND_SUCCESS);
    CHECK_EQ(st.regions, 2);
    CHECK_EQ(memkind_destroy_kind(kind), MEMKIND_SUCCESS);
    region_free(&r);
}

/* A kind built by the user from memkind's operations. */
static int created_with_wrapper;
static void *counting_malloc(struct memkind *kind, size_t size)
{
    created_with_wrapper++;
    return memkind_arena_malloc(kind, size);
}

static void test_memkind_create_ops(void)
{
    memkind_t kind;
    struct memkind_ops bad = {0};
    CHECK_EQ(memkind_create(&bad, "bad", &kind), MEMKIND_ERROR_BADOPS);
    CHECK_EQ(memkind_create(NULL, "x", &kind), MEMKIND_ERROR_INVALID);
    CHECK_EQ(memkind_create(&MEMKIND_FIXED_OPS, NULL, &kind), MEMKIND_ERROR_INVALID);
    char longname[100];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[99] = '\0';
    CHECK_EQ(memkind_create(&MEMKIND_FIXED_OPS, longname, &kind), MEMKIND_ERROR_INVALID);

    static struct memkind_ops ops;
    ops = MEMKIND_FIXED_OPS;
    ops.malloc = counting_malloc;
    CHECK_EQ(memkind_create(&ops, "user_fixed", &kind), MEMKIND_SUCCESS);
    memkind_t dup;
    CHECK_EQ(memkind_create(&ops, "user_fixed", &dup), MEMKIND_ERROR_INVALID);
    /* No region yet: ENOMEM, until one is added. */
    errno = 0;
    CHECK(memkind_malloc(kind, 64) == NULL);
    CHECK_EQ(errno, ENOMEM);
    struct test_region r = region_require(2 * MiB, 0);
    CHECK_EQ(memkind_fixed_add_region(kind, r.base, r.size, 0), MEMKIND_SUCCESS);
    void *p = memkind_malloc(kind, 64);
    CHECK(in_range(p, 64, r.base, r.size));
    CHECK_EQ(created_with_wrapper, 2);
    memkind_free(kind, p);
    CHECK_EQ(memkind_destroy_kind(kind), MEMKIND_SUCCESS);

    /* An arena kind on ordinary memory. */
    CHECK_EQ(memkind_create(&test_arena_ops, "user_arena", &kind), MEMKIND_SUCCESS);
    p = memkind_malloc(kind, 1000);
    CHECK(p != NULL);
    CHECK(memkind_detect_kind(p) == kind);
    memkind_free(NULL, p);
    unsigned arena = 0;
    CHECK_EQ(memkind_thread_get_arena(kind, &arena, 0), 0);
    CHECK(arena > 0);
    CHECK_EQ(memkind_destroy_kind(kind), MEMKIND_SUCCESS);
    region_free(&r);
}

static void test_error_messages(void)
{
    int codes[] = {MEMKIND_SUCCESS, MEMKIND_ERROR_UNAVAILABLE, MEMKIND_ERROR_MBIND,
                   MEMKIND_ERROR_MMAP, MEMKIND_ERROR_MALLOC, MEMKIND_ERROR_ENVIRON,
                   MEMKIND_ERROR_INVALID, MEMKIND_ERROR_TOOMANY, MEMKIND_ERROR_BADOPS,
                   MEMKIND_ERROR_HUGETLB, MEMKIND_ERROR_MEMTYPE_NOT_AVAILABLE,
                   MEMKIND_ERROR_OPERATION_FAILED, MEMKIND_ERROR_ARENAS_CREATE,
                   MEMKIND_ERROR_RUNTIME, MEMKIND_ERROR_REGION_OVERLAP,
                   MEMKIND_ERROR_REGION_TOO_SMALL, MEMKIND_ERROR_NOT_FIXED,
                   MEMKIND_ERROR_DESTROYED, ENOMEM, EINVAL, -9999};
    enum { N = sizeof(codes) / sizeof(codes[0]) };
    char msgs[N][MEMKIND_ERROR_MESSAGE_SIZE];
    for (int i = 0; i < N; i++) {
        memkind_error_message(codes[i], msgs[i], sizeof(msgs[i]));
        CHECK(strncmp(msgs[i], "<memkind> ", 10) == 0 && strlen(msgs[i]) > 12);
        for (int j = 0; j < i; j++)
            CHECK(strcmp(msgs[i], msgs[j]) != 0);
    }
    CHECK(strstr(msgs[N - 1], "-9999") != NULL);
    char tiny[5] = "xxxx";
    memkind_error_message(MEMKIND_ERROR_INVALID, tiny, sizeof(tiny));
    CHECK_EQ(strlen(tiny), 4);
    memkind_error_message(MEMKIND_ERROR_INVALID, NULL, 10); /* ignored */
    CHECK_EQ(memkind_get_version(), 1014000);
}

static void test_region_helpers(void)
{
    void *p = NULL;
    CHECK_EQ(memkind_region_map(NULL, MiB, 0, 0, 0), MEMKIND_ERROR_INVALID);
    CHECK_EQ(memkind_region_map(&p, 0, 0, 0, 0), MEMKIND_ERROR_INVALID);
    CHECK_EQ(memkind_region_map(&p, MiB, 7, 0, 0), MEMKIND_ERROR_INVALID);
    CHECK_EQ(memkind_region_map(&p, MiB, -1, 0, 0), MEMKIND_ERROR_INVALID);
    CHECK_EQ(memkind_region_map(&p, MiB, 0, 0, 1u << 5), MEMKIND_ERROR_INVALID);
    CHECK_EQ(memkind_region_map(&p, SIZE_MAX, 0, 0, 0), MEMKIND_ERROR_INVALID);
    int rc = memkind_region_map(&p, MiB, MEMKIND_REGION_POLICY_BIND, 100000, 0);
    CHECK(rc == MEMKIND_ERROR_INVALID || rc == MEMKIND_ERROR_UNAVAILABLE);
    CHECK(p == NULL);

    /* Node 0 exists wherever NUMA is supported; elsewhere the error says so. */
    int policies[] = {MEMKIND_REGION_POLICY_DEFAULT, MEMKIND_REGION_POLICY_BIND,
                      MEMKIND_REGION_POLICY_PREFERRED, MEMKIND_REGION_POLICY_INTERLEAVE};
    for (int i = 0; i < 4; i++) {
        p = NULL;
        rc = memkind_region_map(&p, 3 * MiB + 5, policies[i], 0, 0);
        CHECK(rc == MEMKIND_SUCCESS || (i > 0 && rc == MEMKIND_ERROR_UNAVAILABLE));
        if (rc != MEMKIND_SUCCESS)
            continue;
        memkind_t kind;
        CHECK_EQ(memkind_create_fixed_flags(p, 3 * MiB + 5, MEMKIND_REGION_ZEROED, &kind), 0);
        unsigned char *z = memkind_calloc(kind, 1, 2 * MiB);
        CHECK(in_range(z, 2 * MiB, p, 3 * MiB + 5) && z[0] == 0 && z[2 * MiB - 1] == 0);
        memkind_free(kind, z);
        CHECK_EQ(memkind_destroy_kind(kind), 0);
        CHECK_EQ(memkind_region_unmap(p, 3 * MiB + 5, 0), 0);
    }
    /* Huge pages: a region, or a clear error where none are reserved. */
    p = NULL;
    rc = memkind_region_map(&p, 4 * MiB, 0, 0, MEMKIND_REGION_MAP_HUGETLB);
    CHECK(rc == MEMKIND_SUCCESS || rc == MEMKIND_ERROR_HUGETLB);
    if (rc == MEMKIND_SUCCESS) {
        memset(p, 1, 4 * MiB); /* reserved at map time: touching cannot fault */
        CHECK_EQ(memkind_region_unmap(p, 4 * MiB, MEMKIND_REGION_MAP_HUGETLB), 0);
    }
    CHECK_EQ(memkind_region_unmap(NULL, MiB, 0), MEMKIND_ERROR_INVALID);
    CHECK_EQ(memkind_region_unmap(p, 0, 0), MEMKIND_ERROR_INVALID);
}

static void test_region_limit(void)
{
    struct test_region r = region_require(70 * 64 * 1024, 0);
    memkind_t kind;
    REQUIRE(memkind_create_fixed(r.base, 64 * 1024, &kind) == 0);
    int added = 1, rc = 0;
    for (int i = 1; i < 70 && rc == 0; i++) {
        rc = memkind_fixed_add_region(kind, (char *)r.base + (size_t)i * 64 * 1024, 64 * 1024, 0);
        added += rc == 0;
    }
    CHECK_EQ(added, 64);
    CHECK_EQ(rc, MEMKIND_ERROR_TOOMANY);
    /* Blocks from every region, then all freed. */
    void *blocks[64];
    int n = 0;
    while (n < 64 && (blocks[n] = memkind_malloc(kind, 40 * 1024)) != NULL)
        n++;
    CHECK_EQ(n, 64);
    while (n > 0)
        memkind_free(NULL, blocks[--n]);
    CHECK_EQ(memkind_destroy_kind(kind), 0);
    region_free(&r);
}

/* The out-of-memory callback adds a region from a spare area, once. */
struct spare {
    void *addr;
    size_t size;
    int calls;
};

static int add_spare(memkind_t kind, size_t size, void *arg)
{
    struct spare *s = arg;
    s->calls++;
    if (s->addr == NULL || size > s->size)
        return 1;
    int rc = memkind_fixed_add_region(kind, s->addr, s->size, 0);
    s->addr = NULL;
    return rc;
}

static void test_oom_callback(void)
{
    struct test_region r = region_require(8 * MiB, 0);
    memkind_t kind;
    REQUIRE(memkind_create_fixed(r.base, 2 * MiB, &kind) == 0);
    struct spare spare = {(char *)r.base + 2 * MiB, 6 * MiB, 0};
    CHECK_EQ(memkind_fixed_set_oom_callback(kind, add_spare, &spare), 0);
    CHECK_EQ(memkind_fixed_set_oom_callback(MEMKIND_DEFAULT, add_spare, &spare),
             MEMKIND_ERROR_NOT_FIXED);
    CHECK_EQ(memkind_fixed_set_oom_callback(NULL, add_spare, &spare), MEMKIND_ERROR_INVALID);
    void *small = memkind_malloc(kind, 100);
    CHECK_EQ(spare.calls, 0); /* not called while the region has room */
    void *big = memkind_malloc(kind, 4 * MiB);
    CHECK_EQ(spare.calls, 1);
    CHECK(in_range(big, 4 * MiB, (char *)r.base + 2 * MiB, 6 * MiB));
    errno = 0;
    CHECK(memkind_malloc(kind, 5 * MiB) == NULL); /* the callback has nothing left */
    CHECK_EQ(errno, ENOMEM);
    CHECK_EQ(spare.calls, 2);
    CHECK_EQ(memkind_fixed_set_oom_callback(kind, NULL, NULL), 0);
    CHECK(memkind_malloc(kind, 5 * MiB) == NULL);
    CHECK_EQ(spare.calls, 2);
    memkind_free(kind, big);
    memkind_free(kind, small);
    CHECK_EQ(memkind_destroy_kind(kind), 0);
    region_free(&r);
}

/* MEMKIND_REGION_PURGE gives freed pages back to the system; the default keeps
 * them resident for fast reuse. Both show in the `resident` statistic. */
static void test_purge_policy(void)
{
    unsigned flags[2] = {0, MEMKIND_REGION_PURGE};
    size_t resident_after[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        struct test_region r = region_require(16 * MiB, -1);
        memkind_t kind;
        REQUIRE(memkind_create_fixed_flags(r.base, r.size, flags[i], &kind) == 0);
        struct memkind_fixed_stats st;
        CHECK_EQ(memkind_fixed_get_stats(kind, &st), 0);
        CHECK(st.resident < MiB); /* nothing touched yet */
        char *p = memkind_malloc(kind, 8 * MiB);
        REQUIRE(p != NULL);
        memset(p, 0x5c, 8 * MiB);
        CHECK_EQ(memkind_fixed_get_stats(kind, &st), 0);
        CHECK(st.resident >= 8 * MiB);
        memkind_free(kind, p);
        CHECK_EQ(memkind_fixed_purge(kind), 0);
        CHECK_EQ(memkind_fixed_get_stats(kind, &st), 0);
        resident_after[i] = st.resident;
        /* Reused memory is intact either way: calloc still zeroes it. */
        unsigned char *z = memkind_calloc(kind, 1, 8 * MiB);
        CHECK(z != NULL && z[0] == 0 && z[8 * MiB - 1] == 0);
        memkind_free(kind, z);
        CHECK_EQ(memkind_destroy_kind(kind), 0);
        region_free(&r);
    }
    CHECK(resident_after[0] >= 8 * MiB);
    CHECK(resident_after[1] < MiB);
}

int main(void)
{
    page = (size_t)sysconf(_SC_PAGESIZE);
    test_create_bad_input();
    test_destroy_and_use_after_destroy();
    test_destroy_counts_live_blocks();

    struct test_region r = region_require(32 * MiB, 0xa5);
    memkind_t kind = region_kind(&r);
    test_malloc_sizes(kind, &r);
    test_calloc_zero_on_dirty_memory(kind, &r);
    test_posix_memalign(kind, &r);
    test_realloc(kind, &r);
    test_exhaustion_and_recovery(kind, &r);
    test_detect_and_default(kind, &r);
    test_stats(kind, &r);
    CHECK_EQ(memkind_destroy_kind(kind), MEMKIND_SUCCESS);
    region_free(&r);

    test_fixed_mmap_and_regions();
    test_memkind_create_ops();
    test_error_messages();
    test_region_helpers();
    test_region_limit();
    test_oom_callback();
    test_purge_policy();
    return check_done("api_test");
}
