/*
 * ownership_test.c - a block always goes back to the heap that handed it out,
 * whatever kind the caller names: the wrong fixed kind, the default kind, an arena
 * kind, a destroyed kind or none. Also: generated kind names never collide with a
 * user's, and memkind_set_allow_zero_allocs() does not race with allocations
 * (checked by ThreadSanitizer in CI).
 */
#include "arena_ops.h"
#include "check.h"
#include "region.h"

#include <memkind_fixed.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define MiB ((size_t)1 << 20)

/* Blocks that destroying `kind` finds still allocated. */
static long long live_at_destroy(memkind_t kind)
{
    struct memkind_destroy_stats before, after;
    REQUIRE(memkind_get_destroy_stats(&before) == MEMKIND_SUCCESS);
    CHECK_EQ(memkind_destroy_kind(kind), MEMKIND_SUCCESS);
    REQUIRE(memkind_get_destroy_stats(&after) == MEMKIND_SUCCESS);
    return (long long)(after.blocks - before.blocks);
}

/* A program that already uses names of the form memkind_fixed_<n> can still
 * create fixed kinds (runs first, while the library's name counter is at 0). */
static void test_generated_names_never_collide(void)
{
    enum { N = 100 };
    static struct memkind_ops default_ops;
    default_ops = MEMKIND_DEFAULT_OPS;
    memkind_t user[N];
    char name[MEMKIND_NAME_LENGTH];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "memkind_fixed_%d", i);
        REQUIRE(memkind_create(&default_ops, name, &user[i]) == MEMKIND_SUCCESS);
    }
    struct test_region r = region_require(4 * MiB, 0);
    memkind_t fixed[3];
    for (int i = 0; i < 3; i++) {
        int err = memkind_create_fixed((char *)r.base + (size_t)i * MiB, MiB, &fixed[i]);
        CHECK_EQ(err, MEMKIND_SUCCESS);
        if (err != MEMKIND_SUCCESS)
            return;
        void *p = memkind_malloc(fixed[i], 100);
        CHECK(in_range(p, 100, (char *)r.base + (size_t)i * MiB, MiB));
        memkind_free(fixed[i], p);
    }
    /* A user's kind may not take a name a live generated kind has, as for any name. */
    for (int i = 0; i < 3; i++)
        CHECK_EQ(memkind_destroy_kind(fixed[i]), MEMKIND_SUCCESS);
    for (int i = 0; i < N; i++)
        CHECK_EQ(memkind_destroy_kind(user[i]), MEMKIND_SUCCESS);
    region_free(&r);
}

/* Fixed blocks freed through MEMKIND_DEFAULT go back to their kind; the default
 * heap never hands out an address of the region. */
/* m blocks of 64 B from `kind`, kept in blocks[]: how many lie in the region r. */
static int taken_inside(memkind_t kind, void **blocks, int m, const struct test_region *r)
{
    int inside = 0;
    for (int i = 0; i < m; i++) {
        blocks[i] = memkind_malloc(kind, 64);
        REQUIRE(blocks[i] != NULL);
        inside += in_range(blocks[i], 1, r->base, r->size);
    }
    return inside;
}

static void test_free_through_default(void)
{
    enum { N = 64, M = 2000 };
    struct test_region r = region_require(4 * MiB, 0);
    memkind_t k = region_kind(&r);
    void *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = memkind_malloc(k, 64);
        REQUIRE(in_range(p[i], 64, r.base, r.size));
    }
    for (int i = 0; i < N; i++)
        memkind_free(MEMKIND_DEFAULT, p[i]);
    static void *d[M];
    CHECK_EQ(taken_inside(MEMKIND_DEFAULT, d, M, &r), 0);

    /* realloc and usable_size through the wrong kind act on the owner. */
    char *q = memkind_malloc(k, 3000);
    REQUIRE(q != NULL);
    memset(q, 0x6b, 3000);
    CHECK(memkind_malloc_usable_size(MEMKIND_DEFAULT, q) >= 3000);
    q = memkind_realloc(MEMKIND_DEFAULT, q, 100000);
    CHECK(in_range(q, 100000, r.base, r.size));
    CHECK(q != NULL && q[0] == 0x6b && q[2999] == 0x6b);
    memkind_free(MEMKIND_DEFAULT, q);

    CHECK_EQ(live_at_destroy(k), 0);
    region_free(&r); /* the region is gone: default blocks must not lie in it */
    for (int i = 0; i < M; i++) {
        memset(d[i], 0x11, 64);
        memkind_free(MEMKIND_DEFAULT, d[i]);
    }
}

/* The same through an arena kind, in both directions. */
static void test_free_through_arena_kind(void)
{
    enum { N = 64, M = 2000 };
    struct test_region r = region_require(4 * MiB, 0);
    memkind_t k, a;
    k = region_kind(&r);
    REQUIRE(memkind_create(&test_arena_ops, "ownership_arena", &a) == MEMKIND_SUCCESS);

    void *p[N];
    for (int i = 0; i < N; i++)
        p[i] = memkind_malloc(k, 64);
    for (int i = 0; i < N; i++)
        memkind_free(a, p[i]);
    static void *x[M];
    CHECK_EQ(taken_inside(a, x, M, &r), 0);
    /* Arena blocks freed through the default kind and through the fixed kind go
     * back to the arena kind: new default blocks never come from its arena. */
    for (int i = 0; i < M; i++)
        memkind_free(i % 2 ? MEMKIND_DEFAULT : k, x[i]);
    static void *d[M];
    int from_arena = 0;
    for (int i = 0; i < M; i++) {
        d[i] = memkind_malloc(MEMKIND_DEFAULT, 64);
        REQUIRE(d[i] != NULL);
        from_arena += memkind_detect_kind(d[i]) == a;
    }
    CHECK_EQ(from_arena, 0);
    for (int i = 0; i < M; i++)
        memkind_free(a, d[i]); /* wrong kind again: back to the default heap */
    CHECK_EQ(live_at_destroy(a), 0);
    CHECK_EQ(live_at_destroy(k), 0);
    region_free(&r);
}

/* Blocks freed through a destroyed kind's handle go back to their own heap. */
static void test_free_through_destroyed_kind(void)
{
    enum { M = 20000 };
    struct test_region r = region_require(2 * MiB, 0);
    memkind_t dead, a;
    dead = region_kind(&r);
    REQUIRE(memkind_destroy_kind(dead) == MEMKIND_SUCCESS);
    REQUIRE(memkind_create(&test_arena_ops, "ownership_arena2", &a) == MEMKIND_SUCCESS);

    static void *d[M];
    size_t before = 0, full = 0, after = 0;
    REQUIRE(memkind_update_cached_stats() == MEMKIND_SUCCESS);
    REQUIRE(memkind_get_stat(MEMKIND_DEFAULT, MEMKIND_STAT_TYPE_ALLOCATED, &before) == 0);
    for (int i = 0; i < M; i++) {
        d[i] = memkind_malloc(MEMKIND_DEFAULT, 1000);
        REQUIRE(d[i] != NULL);
    }
    REQUIRE(memkind_update_cached_stats() == MEMKIND_SUCCESS);
    REQUIRE(memkind_get_stat(MEMKIND_DEFAULT, MEMKIND_STAT_TYPE_ALLOCATED, &full) == 0);
    for (int i = 0; i < M; i++)
        memkind_free(dead, d[i]);
    REQUIRE(memkind_update_cached_stats() == MEMKIND_SUCCESS);
    REQUIRE(memkind_get_stat(MEMKIND_DEFAULT, MEMKIND_STAT_TYPE_ALLOCATED, &after) == 0);
    CHECK(full >= before + (size_t)M * 1000);
    /* Thread caches may keep a few blocks counted as allocated. */
    CHECK(after < before + (size_t)M * 1000 / 10);

    for (int i = 0; i < 1000; i++)
        d[i] = memkind_malloc(a, 1000);
    for (int i = 0; i < 1000; i++)
        memkind_free(dead, d[i]);
    CHECK_EQ(live_at_destroy(a), 0);
    region_free(&r);
}

/* memkind_free(NULL, p) / the default kind with an address no heap holds:
 * ignored (the debug mode reports it, tests/c/debug_test.c). */
static void test_foreign_pointer_ignored(void)
{
    int on_stack = 0;
    memkind_free(NULL, &on_stack);
    memkind_free(MEMKIND_DEFAULT, &on_stack);
    CHECK_EQ(memkind_malloc_usable_size(NULL, &on_stack), 0);
    errno = 0;
    CHECK(memkind_realloc(NULL, &on_stack, 10) == NULL);
    CHECK_EQ(errno, EINVAL);
    CHECK_EQ(on_stack, 0);
    void *p = memkind_malloc(MEMKIND_DEFAULT, 10);
    CHECK(p != NULL);
    memkind_free(NULL, p);
}

/* Misuse of a fixed kind's large block (above 14 KiB, outside jemalloc): freed
 * twice, or by an address inside it. Undefined for free(3); here it is ignored
 * and the heap stays whole. */
static void test_large_block_misuse_ignored(void)
{
    struct test_region r = region_require(4 * MiB, 0);
    memkind_t k = region_kind(&r);
    char *p = memkind_malloc(k, 100000);
    REQUIRE(p != NULL);
    memkind_free(k, p);
    memkind_free(k, p);    /* twice, while parked */
    memkind_free(NULL, p); /* and through the lookup */
    char *q = memkind_malloc(k, 200000);
    char *s = memkind_malloc(k, 100000);
    REQUIRE(q != NULL && s != NULL && q != s);
    memkind_free(k, q + 4096); /* inside, page-aligned */
    memkind_free(k, q + 100);  /* inside */
    memset(q, 0x33, 200000);
    memset(s, 0x44, 100000);
    CHECK(q[199999] == 0x33 && s[0] == 0x44 && s[99999] == 0x44);
    CHECK(memkind_malloc_usable_size(k, q) >= 200000);
    memkind_free(k, q);
    memkind_free(k, s);
    memkind_free(k, s);
    struct memkind_fixed_stats st;
    CHECK_EQ(memkind_fixed_purge(k), MEMKIND_SUCCESS);
    CHECK_EQ(memkind_fixed_get_stats(k, &st), MEMKIND_SUCCESS);
    CHECK_EQ(st.used, 0);
    CHECK_EQ(st.largest_free, r.size);
    void *all = memkind_malloc(k, r.size);
    CHECK(in_range(all, r.size, r.base, r.size));
    memkind_free(k, all);
    CHECK_EQ(live_at_destroy(k), 0);
    region_free(&r);
}

static memkind_t race_kind;

static void *toggle_zero(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20000; i++)
        memkind_set_allow_zero_allocs(race_kind, i % 2 == 0);
    return NULL;
}

/* Under ThreadSanitizer this reports a data race unless the flag is atomic. */
static void test_allow_zero_allocs_no_race(void)
{
    struct test_region r = region_require(2 * MiB, 0);
    race_kind = region_kind(&r);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, toggle_zero, NULL) == 0);
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        void *p = memkind_malloc(race_kind, 0);
        bad += p != NULL && !in_range(p, 1, r.base, r.size);
        memkind_free(race_kind, p);
    }
    pthread_join(t, NULL);
    CHECK_EQ(bad, 0);
    memkind_set_allow_zero_allocs(race_kind, true);
    void *p = memkind_malloc(race_kind, 0);
    CHECK(in_range(p, 1, r.base, r.size));
    memkind_free(race_kind, p);
    CHECK_EQ(memkind_destroy_kind(race_kind), MEMKIND_SUCCESS);
    region_free(&r);
}

static const struct {
    const char *name;
    void (*fn)(void);
} tests[] = {
    /* The name test first, while the library's name counter is at 0. */
    {"names", test_generated_names_never_collide},
    {"default", test_free_through_default},
    {"arena", test_free_through_arena_kind},
    {"destroyed", test_free_through_destroyed_kind},
    {"foreign", test_foreign_pointer_ignored},
    {"large_misuse", test_large_block_misuse_ignored},
    {"zero_race", test_allow_zero_allocs_no_race},
};

/* ownership_test [NAME]: every test, or the one named. */
int main(int argc, char **argv)
{
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
        if (argc < 2 || strcmp(argv[1], tests[i].name) == 0)
            tests[i].fn();
    return check_done("ownership_test");
}
