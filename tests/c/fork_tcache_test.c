/*
 * fork_tcache_test.c - thread caches made before fork() stay on jemalloc's lists
 * in the child.
 *
 * jemalloc's arenas list the thread caches tied to them; "epoch" (every
 * statistics refresh) walks those lists. Its fork child handler makes them anew
 * with the forking thread's implicit cache alone, so the explicit caches of the
 * parent (memkind-fixed's per-(thread, kind) caches, and the pool of emptied
 * ones that destroyed kinds leave) dropped out of them while still linked to
 * their old neighbours. A child that then used such a cache and destroyed it
 * rewrote the new lists through those stale links, and a later statistics
 * refresh read freed caches: shared_stress_test's survivors crashed that way
 * about once in 10 to 20 loaded runs. The library puts the caches back on the
 * lists in its own child handler (mkf_je_tc_postfork_child).
 *
 * Checked here, deterministically: in the child, the blocks held by caches made
 * in the parent are counted in jemalloc's "tcache_bytes" (a cache on no list is
 * not), the count follows a cache taken from the pool by a thread and destroyed
 * when the thread ends, and refreshing the statistics afterwards works.
 *
 * The count is read through the library's private jemalloc (mkf_je_mallctl, a
 * hidden symbol that this statically linked test can still reach): the public
 * statistics count cached blocks as allocated, not apart.
 */
#include "check.h"
#include "proc.h"
#include "region.h"

#include <memkind_fixed.h>

#include <pthread.h>
#include <sys/wait.h>

#define MiB ((size_t)1 << 20)
#define NBLOCKS 200
#define BLOCK 64

int mkf_je_mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);

/* Bytes in every thread cache of every arena, as of now. */
static size_t cached_bytes(void)
{
    uint64_t epoch = 1;
    size_t len = sizeof(epoch);
    REQUIRE(mkf_je_mallctl("epoch", &epoch, &len, &epoch, sizeof(epoch)) == 0);
    size_t v = 0;
    len = sizeof(v);
    REQUIRE(mkf_je_mallctl("stats.arenas.4096.tcache_bytes", &v, &len, NULL, 0) == 0);
    return v;
}

/* NBLOCKS small blocks allocated, then freed: the frees stay in the calling
 * thread's cache for `kind` (its bins hold up to 1024 blocks). */
static int churn(memkind_t kind)
{
    void *p[NBLOCKS];
    int ok = 1;
    for (int i = 0; i < NBLOCKS; i++)
        ok &= (p[i] = memkind_malloc(kind, BLOCK)) != NULL;
    for (int i = 0; i < NBLOCKS; i++)
        memkind_free(kind, p[i]);
    return ok;
}

struct thread_arg {
    memkind_t kind;
    size_t seen; /* cached_bytes() while the thread's cache holds its blocks */
    int ok;
};

static void *thread_churn(void *arg)
{
    struct thread_arg *a = arg;
    a->ok = churn(a->kind);
    a->seen = cached_bytes();
    return NULL;
}

static int child(void *arg)
{
    (void)arg;
    struct test_region r = region_new(16 * MiB, 0);
    memkind_t kind;
    if (r.base == NULL || memkind_create_fixed(r.base, r.size, &kind) != 0)
        return 2;
    size_t before = cached_bytes();
    /* This thread's cache for the new kind is the last one pooled in the parent. */
    CHECK(churn(kind));
    size_t mine = cached_bytes();
    CHECK(mine >= before + NBLOCKS * BLOCK);
    /* Another thread takes the other pooled cache; its end destroys that cache
     * (tcache.destroy), which unlinks it from its arena's lists. */
    struct thread_arg a = {kind, 0, 0};
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, thread_churn, &a) == 0);
    pthread_join(t, NULL);
    CHECK(a.ok);
    CHECK(a.seen >= mine + NBLOCKS * BLOCK);
    CHECK_EQ(cached_bytes(), mine);
    /* A thread that makes a cache in the child, after the destroy: it is listed
     * (the lists were not cut short), and so is ours still. */
    a = (struct thread_arg){kind, 0, 0};
    REQUIRE(pthread_create(&t, NULL, thread_churn, &a) == 0);
    pthread_join(t, NULL);
    CHECK(a.seen >= mine + NBLOCKS * BLOCK);
    CHECK_EQ(cached_bytes(), mine);
    CHECK_EQ(memkind_destroy_kind(kind), 0);
    CHECK_EQ(memkind_update_cached_stats(), 0);
    region_free(&r);
    return check_failed == 0 ? 0 : 1;
}

int main(void)
{
    /* Two kinds used by this thread and destroyed: their caches, emptied, wait
     * in the library's pool, tied to this thread's arena and on its lists. */
    struct test_region r1 = region_new(8 * MiB, 0), r2 = region_new(8 * MiB, 0);
    REQUIRE(r1.base != NULL && r2.base != NULL);
    memkind_t k1, k2;
    k1 = region_kind(&r1);
    k2 = region_kind(&r2);
    CHECK(churn(k1));
    CHECK(churn(k2));
    CHECK(cached_bytes() >= 2 * NBLOCKS * BLOCK);
    CHECK_EQ(memkind_destroy_kind(k1), 0);
    CHECK_EQ(memkind_destroy_kind(k2), 0);
    region_free(&r1);
    region_free(&r2);
    for (int round = 0; round < 3; round++) {
        int status = proc_run(child, NULL);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fprintf(stderr, "child %d: status %#x\n", round, status);
    }
    CHECK_EQ(memkind_update_cached_stats(), 0);
    return check_done("fork_tcache_test");
}
