/*
 * region_use_test.c - how much of its region a fixed kind hands out (issue 11,
 * the single-threaded items):
 *   3. after a region was filled with blocks of one size and freed, it takes at
 *      least 97% of the blocks of any other size that a fresh region takes;
 *   4. exact fits: 8 x 8 MiB in 64 MiB, one block of 99% of a region, and
 *      malloc(largest_free) whenever largest_free is at least a page;
 *   5. a mixed fill (log-uniform sizes, 64 B..1 MiB) uses >= 97% of the region;
 * and what reuse must keep: calloc is zero, realloc keeps contents,
 * posix_memalign aligns, and the usable size of a block lies inside the region.
 *
 * Every figure that a check compares is printed when the check fails, so that a
 * shortfall shows its size. Every block is checked to lie inside its region, and
 * tags written into blocks are checked before they are freed. Regions have
 * PROT_NONE guard pages (region.h) and start non-zero.
 */
#include "check.h"
#include "fill.h"
#include "region.h"
#include "rng.h"
#include "stamp.h"

#include <memkind_fixed.h>

#include <errno.h>
#include <math.h>
#include <string.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

static size_t page;

/* Log-uniform in [lo, hi]. */
static size_t log_uniform(uint64_t *s, size_t lo, size_t hi)
{
    double u = (double)(rng_splitmix(s) >> 11) / (double)(1ull << 53);
    size_t v = (size_t)((double)lo * exp2(u * log2((double)hi / (double)lo)));
    return v < lo ? lo : v > hi ? hi : v;
}

/* A fill that ended as a full region must: ENOMEM, nothing outside. */
static void check_fill(const char *what, size_t size, struct fill f)
{
    if (f.err != ENOMEM || f.outside != 0)
        fprintf(stderr, "%s, %zu B: stopped with errno %d, %zu blocks outside\n", what,
                size, f.err, f.outside);
    CHECK_EQ(f.err, ENOMEM);
    CHECK_EQ(f.outside, 0);
}

/* ------------------------------------------------------------------ item 3 */

/* Fill a 64 MiB region with A, free everything, fill with B: at least 97% of the
 * B blocks a fresh region takes. */
static void test_size_pairs(void)
{
    static const size_t sizes[] = {64, 3000, 8 * KiB, 100000, MiB, 8 * MiB};
    enum { NS = sizeof sizes / sizeof sizes[0] };
    const size_t region = 64 * MiB;
    const size_t max = region / 64 + 1024;
    void **blocks = malloc(max * sizeof *blocks);
    REQUIRE(blocks != NULL);
    struct test_region r = region_require(region, 0x5a);

    size_t fresh[NS];
    for (int b = 0; b < NS; b++) {
        memkind_t kind = region_kind(&r);
        struct fill f = fill_kind(kind, &r, sizes[b], blocks, max, end_tag_write);
        check_fill("fresh fill", sizes[b], f);
        CHECK_EQ(free_blocks(kind, blocks, f.n, sizes[b], end_tag_intact), 0);
        fresh[b] = f.n;
        CHECK_EQ(memkind_destroy_kind(kind), 0);
    }

    double pct[NS][NS];
    int short_pairs = 0;
    for (int a = 0; a < NS; a++) {
        for (int b = 0; b < NS; b++) {
            memkind_t kind = region_kind(&r);
            struct fill fa = fill_kind(kind, &r, sizes[a], blocks, max, end_tag_write);
            check_fill("first fill", sizes[a], fa);
            CHECK_EQ(free_blocks(kind, blocks, fa.n, sizes[a], end_tag_intact), 0);
            struct fill fb = fill_kind(kind, &r, sizes[b], blocks, max, end_tag_write);
            check_fill("second fill", sizes[b], fb);
            CHECK_EQ(free_blocks(kind, blocks, fb.n, sizes[b], end_tag_intact), 0);
            CHECK_EQ(memkind_destroy_kind(kind), 0);
            pct[a][b] = fresh[b] ? 100.0 * (double)fb.n / (double)fresh[b] : 0.0;
            if (fb.n * 100 < fresh[b] * 97) {
                fprintf(stderr,
                        "size pair: %zu B then %zu B: %zu blocks of %zu B, a fresh region "
                        "takes %zu (%.1f%%, want >= 97%%)\n",
                        sizes[a], sizes[b], fb.n, sizes[b], fresh[b], pct[a][b]);
                short_pairs++;
            }
            CHECK(fb.n * 100 >= fresh[b] * 97);
        }
    }

    printf("64 MiB region, fresh fills:");
    for (int b = 0; b < NS; b++)
        printf(" %zu x %zu B (%.1f%%)", fresh[b], sizes[b],
               100.0 * (double)(fresh[b] * sizes[b]) / (double)region);
    printf("\nfill A, free all, fill B: %% of the B blocks of a fresh region "
           "(rows A, columns B; %d pairs under 97%%)\n%9s", short_pairs, "A \\ B");
    for (int b = 0; b < NS; b++)
        printf(" %8zu", sizes[b]);
    printf("\n");
    for (int a = 0; a < NS; a++) {
        printf("%9zu", sizes[a]);
        for (int b = 0; b < NS; b++)
            printf(" %7.1f%%", pct[a][b]);
        printf("\n");
    }
    region_free(&r);
    free(blocks);
}

/* ------------------------------------------------------------------ item 4 */

static void test_eight_of_eight(void)
{
    void *blocks[16];
    struct test_region r = region_require(64 * MiB, 0x5a);
    memkind_t kind = region_kind(&r);
    struct fill f = fill_kind(kind, &r, 8 * MiB, blocks, 16, end_tag_write);
    check_fill("8 MiB blocks", 8 * MiB, f);
    if (f.n != 8)
        fprintf(stderr, "8 MiB blocks in an empty 64 MiB region: %zu of 8\n", f.n);
    CHECK_EQ(f.n, 8);
    CHECK_EQ(free_blocks(kind, blocks, f.n, 8 * MiB, end_tag_intact), 0);
    printf("empty 64 MiB region: %zu of 8 blocks of 8 MiB\n", f.n);
    CHECK_EQ(memkind_destroy_kind(kind), 0);
    region_free(&r);
}

/* One block of `size`: in the region, writable over its whole size. */
static int take_whole(memkind_t kind, const struct test_region *r, size_t size,
                      const char *what)
{
    errno = 0;
    unsigned char *p = memkind_malloc(kind, size);
    if (p == NULL) {
        fprintf(stderr, "%s: malloc(%zu) (%.2f%% of %zu B) failed, errno %d\n", what, size,
                100.0 * (double)size / (double)r->size, r->size, errno);
        CHECK(p != NULL);
        return 0;
    }
    CHECK(p != NULL);
    CHECK(in_range(p, size, r->base, r->size));
    if (!in_range(p, size, r->base, r->size))
        return 0;
    CHECK(memkind_malloc_usable_size(kind, p) >= size);
    memset(p, 0xc3, size);
    CHECK(p[0] == 0xc3 && p[size / 2] == 0xc3 && p[size - 1] == 0xc3);
    memkind_free(kind, p);
    return 1;
}

/* A single block of 99% of an empty region, on a fresh kind and on one whose
 * region was filled with small blocks and freed. */
static void test_ninety_nine(void)
{
    static const size_t regions[] = {MiB, 64 * MiB};
    const size_t max = 64 * MiB / 64 + 1024;
    void **blocks = malloc(max * sizeof *blocks);
    REQUIRE(blocks != NULL);
    for (size_t i = 0; i < sizeof regions / sizeof regions[0]; i++) {
        struct test_region r = region_require(regions[i], 0x5a);
        size_t size = r.size / 100 * 99;
        memkind_t kind = region_kind(&r);
        int ok = take_whole(kind, &r, size, "99% of a fresh region");
        struct fill f = fill_kind(kind, &r, 64, blocks, max, end_tag_write);
        check_fill("64 B blocks", 64, f);
        CHECK_EQ(free_blocks(kind, blocks, f.n, 64, end_tag_intact), 0);
        int ok_after = take_whole(kind, &r, size, "99% of a region emptied of 64 B blocks");
        printf("one block of 99%% of %zu MiB: %s fresh, %s after 64 B blocks were freed\n",
               r.size / MiB, ok ? "fits" : "FAILS", ok_after ? "fits" : "FAILS");
        CHECK_EQ(memkind_destroy_kind(kind), 0);
        region_free(&r);
    }
    free(blocks);
}

/* malloc(largest_free) as long as largest_free is at least a page: every call
 * must succeed. The blocks are kept (written over their whole size) and freed
 * at the end. Returns how many calls failed. */
static int take_largest(memkind_t kind, const struct test_region *r, const char *what)
{
    enum { STEPS = 64 };
    unsigned char *held[STEPS];
    size_t held_size[STEPS];
    int n = 0, failed = 0;
    while (n < STEPS) {
        struct memkind_fixed_stats st;
        CHECK_EQ(memkind_fixed_get_stats(kind, &st), 0);
        size_t want = st.largest_free;
        if (want < page)
            break;
        errno = 0;
        unsigned char *p = memkind_malloc(kind, want);
        if (p == NULL) {
            fprintf(stderr,
                    "%s: malloc(largest_free = %zu B = %zu pages + %zu B) failed, errno %d "
                    "(step %d; free %zu of %zu B)\n",
                    what, want, want / page, want % page, errno, n, st.free, st.capacity);
            CHECK(p != NULL);
            failed++;
            break;
        }
        CHECK(in_range(p, want, r->base, r->size));
        if (!in_range(p, want, r->base, r->size)) {
            failed++;
            break;
        }
        CHECK(memkind_malloc_usable_size(kind, p) >= want);
        memset(p, 0x40 + n, want);
        held[n] = p;
        held_size[n++] = want;
    }
    for (int i = 0; i < n; i++) {
        CHECK(held[i][0] == 0x40 + i && held[i][held_size[i] / 2] == 0x40 + i &&
              held[i][held_size[i] - 1] == 0x40 + i);
        memkind_free(kind, held[i]);
    }
    return failed;
}

/* Blocks of mixed sizes until the first failure, every other one freed, then
 * malloc(largest_free), first as the heap left it, then after a purge. */
static int fragment_and_take(memkind_t kind, const struct test_region *r, size_t max_size,
                             uint64_t seed, const char *what)
{
    enum { MAXB = 8192 };
    static void *blocks[MAXB];
    static size_t sizes[MAXB];
    size_t n = 0, outside = 0;
    while (n < MAXB) {
        size_t size = log_uniform(&seed, 64, max_size);
        void *p = memkind_malloc(kind, size);
        if (p == NULL)
            break;
        if (!in_range(p, size, r->base, r->size)) {
            outside++;
            continue;
        }
        end_tag_write(p, size, n);
        sizes[n] = size;
        blocks[n++] = p;
    }
    CHECK_EQ(outside, 0);
    size_t damaged = 0;
    for (size_t i = 1; i < n; i += 2) {
        damaged += !end_tag_intact(blocks[i], sizes[i], i);
        memkind_free(kind, blocks[i]);
    }
    char label[160];
    snprintf(label, sizeof label, "%s, %zu blocks, every other one freed", what, n);
    int failed = take_largest(kind, r, label);
    CHECK_EQ(memkind_fixed_purge(kind), 0);
    snprintf(label, sizeof label, "%s, %zu blocks, every other one freed, purged", what, n);
    failed += take_largest(kind, r, label);
    for (size_t i = 0; i < n; i += 2) {
        damaged += !end_tag_intact(blocks[i], sizes[i], i);
        memkind_free(kind, blocks[i]);
    }
    CHECK_EQ(damaged, 0);
    return failed;
}

static void test_largest_free(void)
{
    static const size_t pages[] = {37, 256 + 5, 2048 + 3};
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        struct test_region r = region_require(pages[i] * page, 0x5a);
        memkind_t kind = region_kind(&r);
        struct memkind_fixed_stats st;
        CHECK_EQ(memkind_fixed_get_stats(kind, &st), 0);
        CHECK_EQ(st.largest_free, r.size);
        char label[96];
        snprintf(label, sizeof label, "empty region of %zu pages", pages[i]);
        int empty_failed = take_largest(kind, &r, label);
        snprintf(label, sizeof label, "region of %zu pages", pages[i]);
        int frag_failed = fragment_and_take(kind, &r, r.size / 16, 7 + i, label);
        printf("malloc(largest_free), region of %zu pages: %s when empty, "
               "%d failures after fragmenting\n",
               pages[i], empty_failed ? "FAILS" : "fits", frag_failed);
        CHECK_EQ(memkind_destroy_kind(kind), 0);
        region_free(&r);
    }
}

/* ------------------------------------------------------------------ item 5 */

/* Sizes log-uniform in 64 B..1 MiB from a fixed seed, until the first failure:
 * the sum of the requested sizes is at least 97% of the region. */
static void test_mixed_fill(void)
{
    enum { MAXB = 1 << 16 };
    static void *blocks[MAXB];
    static size_t sizes[MAXB];
    struct test_region r = region_require(64 * MiB, 0x5a);
    for (uint64_t seed = 1; seed <= 3; seed++) {
        memkind_t kind = region_kind(&r);
        uint64_t s = seed;
        size_t n = 0, sum = 0, outside = 0, failed_size = 0;
        int err = 0;
        while (n < MAXB) {
            size_t size = log_uniform(&s, 64, MiB);
            errno = 0;
            void *p = memkind_malloc(kind, size);
            if (p == NULL) {
                err = errno;
                failed_size = size;
                break;
            }
            if (!in_range(p, size, r.base, r.size)) {
                outside++;
                continue;
            }
            end_tag_write(p, size, n);
            sizes[n] = size;
            blocks[n++] = p;
            sum += size;
        }
        CHECK_EQ(err, ENOMEM);
        CHECK_EQ(outside, 0);
        double pct = 100.0 * (double)sum / (double)r.size;
        printf("mixed fill (seed %llu): %zu blocks, %zu B requested = %.2f%% of 64 MiB, "
               "stopped at a request of %zu B\n",
               (unsigned long long)seed, n, sum, pct, failed_size);
        if (sum * 100 < r.size * 97)
            fprintf(stderr, "mixed fill (seed %llu): %.2f%% of the region, want >= 97%%\n",
                    (unsigned long long)seed, pct);
        CHECK(sum * 100 >= r.size * 97);
        size_t damaged = 0;
        for (size_t i = 0; i < n; i++) {
            damaged += !end_tag_intact(blocks[i], sizes[i], i);
            memkind_free(kind, blocks[i]);
        }
        CHECK_EQ(damaged, 0);
        CHECK_EQ(memkind_destroy_kind(kind), 0);
    }
    region_free(&r);
}

/* ------------------------------------------------ what reuse must keep */

/* calloc of memory that held the program's data is zero: the same size at once
 * (a cached block), and other sizes after the whole region was filled and freed. */
static void test_calloc_reuse(void)
{
    static const size_t sizes[] = {8, 64, 3000, 8 * KiB, 100000, MiB, 8 * MiB};
    enum { NS = sizeof sizes / sizeof sizes[0] };
    const size_t max = 16 * MiB / 64 + 64;
    void **blocks = malloc(max * sizeof *blocks);
    REQUIRE(blocks != NULL);
    struct test_region r = region_require(16 * MiB, 0xa5);
    memkind_t kind = region_kind(&r);

    for (int i = 0; i < NS; i++) {
        unsigned char *p = memkind_malloc(kind, sizes[i]);
        REQUIRE(p != NULL);
        CHECK(in_range(p, sizes[i], r.base, r.size));
        memset(p, 0xee, sizes[i]);
        memkind_free(kind, p);
        unsigned char *q = memkind_calloc(kind, 1, sizes[i]);
        CHECK(q != NULL);
        if (q == NULL)
            continue;
        CHECK(in_range(q, sizes[i], r.base, r.size));
        size_t bad = bytes_not(q, sizes[i], 0);
        if (bad != 0)
            fprintf(stderr, "calloc(%zu) right after a free: %zu non-zero bytes\n",
                    sizes[i], bad);
        CHECK_EQ(bad, 0);
        memkind_free(kind, q);
    }

    /* Dirty the whole region through blocks of one size, then calloc-fill it with
     * each other size: all zero. */
    for (int i = 0; i < NS; i++) {
        size_t dirty_size = sizes[(i + 3) % NS];
        size_t n = 0;
        unsigned char *p;
        while (n < max && (p = memkind_malloc(kind, dirty_size)) != NULL) {
            CHECK(in_range(p, dirty_size, r.base, r.size));
            memset(p, 0xee, dirty_size);
            blocks[n++] = p;
        }
        for (size_t j = 0; j < n; j++)
            memkind_free(kind, blocks[j]);
        size_t m = 0, bad = 0, outside = 0;
        while (m < max && (p = memkind_calloc(kind, 1, sizes[i])) != NULL) {
            if (!in_range(p, sizes[i], r.base, r.size)) {
                outside++;
                continue;
            }
            bad += bytes_not(p, sizes[i], 0);
            blocks[m++] = p;
        }
        if (bad != 0 || m == 0)
            fprintf(stderr, "calloc(%zu) x %zu after %zu blocks of %zu B: %zu non-zero bytes\n",
                    sizes[i], m, n, dirty_size, bad);
        CHECK(m > 0);
        CHECK_EQ(bad, 0);
        CHECK_EQ(outside, 0);
        for (size_t j = 0; j < m; j++)
            memkind_free(kind, blocks[j]);
    }
    CHECK_EQ(memkind_destroy_kind(kind), 0);
    region_free(&r);
    free(blocks);
}

static unsigned char pattern(size_t i) { return (unsigned char)(i * 7 + (i >> 9) + 3); }

/* Grow one block from 16 B to 16 MiB by doubling; the contents come along every
 * time. Then again with a block of the new size allocated after each step but
 * the last, so that the block cannot always grow where it is. */
static void test_realloc_growth(void)
{
    struct test_region r = region_require(64 * MiB, 0x5a);
    for (int blockers = 0; blockers <= 1; blockers++) {
        memkind_t kind = region_kind(&r);
        void *blocking[32];
        int nb = 0;
        unsigned char *p = memkind_malloc(kind, 16);
        REQUIRE(p != NULL);
        for (size_t i = 0; i < 16; i++)
            p[i] = pattern(i);
        size_t size = 16, damaged_at = 0;
        int moved = 0;
        while (size < 16 * MiB) {
            size_t next = size * 2;
            unsigned char *q = memkind_realloc(kind, p, next);
            if (q == NULL) {
                fprintf(stderr, "realloc %zu -> %zu B failed (errno %d)%s\n", size, next,
                        errno, blockers ? " with blockers" : "");
                CHECK(q != NULL);
                break;
            }
            moved += q != p;
            p = q;
            CHECK(in_range(p, next, r.base, r.size));
            CHECK(memkind_malloc_usable_size(kind, p) >= next);
            for (size_t i = 0; i < size && damaged_at == 0; i++)
                if (p[i] != pattern(i))
                    damaged_at = next;
            for (size_t i = size; i < next; i++)
                p[i] = pattern(i);
            size = next;
            if (blockers && size < 16 * MiB) {
                void *b = memkind_malloc(kind, size);
                CHECK(b != NULL && in_range(b, size, r.base, r.size));
                if (b != NULL)
                    memset(b, 0x11, size);
                blocking[nb++] = b;
            }
        }
        if (damaged_at != 0)
            fprintf(stderr, "realloc growth: contents damaged at %zu B\n", damaged_at);
        CHECK_EQ(damaged_at, 0);
        CHECK_EQ(size, 16 * MiB);
        for (size_t i = 0; i < size; i++)
            if (p[i] != pattern(i)) {
                CHECK_EQ(i, size); /* prints the first damaged byte */
                break;
            }
        printf("realloc 16 B -> %zu B by doubling%s: contents kept, moved %d times\n", size,
               blockers ? " with blockers" : "", moved);
        memkind_free(kind, p);
        for (int i = 0; i < nb; i++)
            memkind_free(kind, blocking[i]);
        CHECK_EQ(memkind_destroy_kind(kind), 0);
    }
    region_free(&r);
}

/* posix_memalign with alignments of 4 KiB..2 MiB for large sizes: aligned, in
 * the region, writable; a small block before each one moves the next free
 * address off every alignment. */
static void test_memalign(void)
{
    static const size_t sizes[] = {16 * KiB + 1, 100000, MiB, 3 * MiB + 4097};
    enum { NS = sizeof sizes / sizeof sizes[0] };
    struct test_region r = region_require(64 * MiB, 0x5a);
    memkind_t kind = region_kind(&r);
    int failures = 0;
    for (size_t align = 4 * KiB; align <= 2 * MiB; align *= 2) {
        unsigned char *held[NS];
        void *spacers[NS];
        for (int i = 0; i < NS; i++) {
            spacers[i] = memkind_malloc(kind, 5000);
            CHECK(spacers[i] != NULL && in_range(spacers[i], 5000, r.base, r.size));
            void *p = NULL;
            int err = memkind_posix_memalign(kind, &p, align, sizes[i]);
            if (err != 0 || p == NULL || (uintptr_t)p % align != 0 ||
                !in_range(p, sizes[i], r.base, r.size)) {
                fprintf(stderr, "posix_memalign(align %zu, size %zu): %d, %p\n", align,
                        sizes[i], err, p);
                failures++;
            }
            CHECK_EQ(err, 0);
            CHECK(p != NULL && (uintptr_t)p % align == 0);
            CHECK(p != NULL && in_range(p, sizes[i], r.base, r.size));
            held[i] = p != NULL && in_range(p, sizes[i], r.base, r.size) ? p : NULL;
            if (held[i] != NULL) {
                CHECK(memkind_malloc_usable_size(kind, p) >= sizes[i]);
                memset(held[i], i + 1, sizes[i]);
            }
        }
        for (int i = 0; i < NS; i++) {
            if (held[i] != NULL)
                CHECK(held[i][0] == i + 1 && held[i][sizes[i] - 1] == i + 1);
            memkind_free(kind, held[i]);
            memkind_free(kind, spacers[i]);
        }
    }
    printf("posix_memalign 4 KiB..2 MiB: %d failures\n", failures);
    CHECK_EQ(memkind_destroy_kind(kind), 0);
    region_free(&r);
}

/* memkind_malloc_usable_size(p) >= the size asked, and the whole usable size
 * lies in the region: every block is written over its usable size (a byte past
 * the region hits a guard page) and checked afterwards (usable areas that
 * overlap show). The region is filled to the end: random sizes until a failure,
 * then ever smaller ones. */
static void test_usable_size(void)
{
    enum { MAXB = 1 << 15 };
    static unsigned char *blocks[MAXB];
    static size_t usable[MAXB];
    struct test_region r = region_require(8 * MiB + 3 * page, 0x5a);
    memkind_t kind = region_kind(&r);
    uint64_t seed = 11;
    size_t n = 0, small = 0, outside = 0, cap = r.size / 4;
    while (n < MAXB) {
        size_t size = log_uniform(&seed, 1, cap);
        unsigned char *p = memkind_malloc(kind, size);
        if (p == NULL) {
            if (cap == 1)
                break;
            cap /= 2; /* squeeze what is left with smaller blocks */
            continue;
        }
        size_t u = memkind_malloc_usable_size(kind, p);
        if (u < size) {
            fprintf(stderr, "usable size %zu < %zu asked\n", u, size);
            small++;
        }
        if (!in_range(p, u, r.base, r.size)) {
            fprintf(stderr, "block %p + usable %zu (asked %zu) leaves the region [%p, +%zu)\n",
                    (void *)p, u, size, r.base, r.size);
            outside++;
            continue; /* not written, not freed */
        }
        memset(p, (int)(n % 251), u);
        blocks[n] = p;
        usable[n++] = u;
    }
    CHECK_EQ(small, 0);
    CHECK_EQ(outside, 0);
    size_t damaged = 0, total = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < usable[i]; j += 1 + j / 16)
            if (blocks[i][j] != (unsigned char)(i % 251)) {
                damaged++;
                break;
            }
        total += usable[i];
        memkind_free(kind, blocks[i]);
    }
    CHECK_EQ(damaged, 0);
    printf("usable sizes: %zu blocks, %zu usable bytes in a region of %zu B\n", n, total,
           r.size);
    CHECK(total <= r.size);
    CHECK_EQ(memkind_destroy_kind(kind), 0);
    region_free(&r);
}

int main(void)
{
    page = (size_t)sysconf(_SC_PAGESIZE);
    test_eight_of_eight();
    test_ninety_nine();
    test_largest_free();
    test_mixed_fill();
    test_size_pairs();
    test_calloc_reuse();
    test_realloc_growth();
    test_memalign();
    test_usable_size();
    return check_done("region_use_test");
}
