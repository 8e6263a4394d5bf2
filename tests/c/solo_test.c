/*
 * solo_test.c - a kind's one thread (core/src/tcache.c, "solo").
 *
 * While one live thread uses a kind, the fast paths find that thread's cache
 * through the kind, by comparing the thread pointer. A thread pointer is unique
 * only among live threads: glibc gives a new thread the stack, and so the thread
 * pointer, of one that has ended, and a fork child's new threads those of the
 * parent's other threads. Each case is made to happen here (and checked that it
 * did), and every block must come from the kind's region, keep its contents and
 * be counted: a thread that took a dead thread's cache would hand out blocks of
 * a destroyed cache.
 */
#include "check.h"
#include "proc.h"
#include "region.h"
#include "thread_pointer.h"

#include <memkind_fixed.h>

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB ((size_t)1 << 20)
enum { BLOCKS = 300, THREADS = 32 };

static memkind_t kind;
static struct test_region region;

/* BLOCKS blocks of several small sizes, filled, checked, freed: 1 if all good. */
static int use_kind(int tag)
{
    unsigned char *p[BLOCKS];
    size_t size[BLOCKS];
    int ok = 1;
    for (int i = 0; i < BLOCKS; i++) {
        size[i] = 16 + (size_t)(i * 37 % 1000);
        p[i] = memkind_malloc(kind, size[i]);
        if (p[i] == NULL || !in_range(p[i], size[i], region.base, region.size)) {
            ok = 0;
            p[i] = NULL;
            continue;
        }
        memset(p[i], (tag + i) & 0xff, size[i]);
    }
    for (int i = 0; i < BLOCKS; i++) {
        if (p[i] == NULL)
            continue;
        ok &= p[i][0] == (unsigned char)((tag + i) & 0xff) &&
              p[i][size[i] - 1] == (unsigned char)((tag + i) & 0xff);
        memkind_free(kind, p[i]);
    }
    return ok;
}

struct run {
    int tag, ok;
    uintptr_t tp;
};

static void *run_main(void *arg)
{
    struct run *r = arg;
    r->tp = test_thread_pointer();
    r->ok = use_kind(r->tag);
    return NULL;
}

/* Bytes the kind counts as allocated, every thread's cache flushed first. */
static size_t allocated(void)
{
    struct memkind_fixed_stats st;
    REQUIRE(memkind_fixed_purge(kind) == MEMKIND_SUCCESS);
    REQUIRE(memkind_fixed_get_stats(kind, &st) == MEMKIND_SUCCESS);
    return st.allocated;
}

/* Threads one after another, each the kind's only user while it lives: later
 * ones get earlier ones' thread pointers. */
static void test_threads_one_after_another(void)
{
    struct run r[THREADS];
    int reused = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_t t;
        r[i] = (struct run){.tag = i};
        REQUIRE(pthread_create(&t, NULL, run_main, &r[i]) == 0);
        pthread_join(t, NULL);
        CHECK(r[i].ok);
        for (int j = 0; j < i; j++)
            reused |= r[j].tp == r[i].tp && r[i].tp != 0;
    }
#ifdef __GLIBC__
    CHECK(reused); /* glibc reuses a joined thread's stack */
#else
    (void)reused;
#endif
    CHECK_EQ(allocated(), 0);
}

/* One thread, then a second one (the main thread) on the same kind while the
 * first still runs: both keep getting good blocks. */
static pthread_barrier_t both;

static void *first_main(void *arg)
{
    int *ok = arg;
    *ok = use_kind(1);
    pthread_barrier_wait(&both); /* the main thread uses the kind now */
    pthread_barrier_wait(&both);
    *ok &= use_kind(2);
    return NULL;
}

static void test_second_thread(void)
{
    int ok = 0;
    pthread_t t;
    REQUIRE(pthread_barrier_init(&both, NULL, 2) == 0);
    REQUIRE(pthread_create(&t, NULL, first_main, &ok) == 0);
    pthread_barrier_wait(&both);
    CHECK(use_kind(3));
    pthread_barrier_wait(&both);
    pthread_join(t, NULL);
    CHECK(ok);
    CHECK(use_kind(4));
    pthread_barrier_destroy(&both);
    CHECK_EQ(allocated(), 0);
}

/* A thread of the parent uses a fresh kind alone and waits; the parent forks. In
 * the child that thread does not exist, and the child's new thread gets its
 * stack: it must not take the parent thread's cache. */
static pthread_barrier_t forked;

static void *parent_thread(void *arg)
{
    struct run *r = arg;
    r->tp = test_thread_pointer();
    r->ok = use_kind(5);
    pthread_barrier_wait(&forked); /* used the kind */
    pthread_barrier_wait(&forked); /* the parent has forked */
    return NULL;
}

static void test_fork_child_thread(void)
{
    REQUIRE(memkind_create_fixed((char *)region.base + region.size / 2, region.size / 2,
                                 &kind) == MEMKIND_SUCCESS);
    region.base = (char *)region.base + region.size / 2;
    region.size /= 2;
    struct run pr = {0};
    pthread_t t;
    REQUIRE(pthread_barrier_init(&forked, NULL, 2) == 0);
    REQUIRE(pthread_create(&t, NULL, parent_thread, &pr) == 0);
    pthread_barrier_wait(&forked);
    pid_t pid = proc_fork();
    if (pid == 0) {
        /* What the parent thread's cache held stays allocated here (the cache
         * of a thread that does not exist in the child is dropped, not used). */
        size_t before = allocated();
        struct run cr = {.tag = 6};
        pthread_t c;
        int code = 0;
        if (pthread_create(&c, NULL, run_main, &cr) != 0)
            _exit(10);
        pthread_join(c, NULL);
        if (!cr.ok)
            code |= 1;
        if (!use_kind(7)) /* the child's first thread, a second user */
            code |= 2;
#ifdef __GLIBC__
        if (cr.tp != pr.tp) /* glibc gave it the parent thread's stack */
            code |= 4;
#endif
        if (allocated() != before)
            code |= 8;
        _exit(code);
    }
    pthread_barrier_wait(&forked);
    pthread_join(t, NULL);
    CHECK(pr.ok);
    int status = proc_wait(pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
    pthread_barrier_destroy(&forked);
    CHECK_EQ(allocated(), 0);
    CHECK_EQ(memkind_destroy_kind(kind), MEMKIND_SUCCESS);
}

/* A kind destroyed and another made in its registry slot by the same thread: the
 * new kind starts with no thread. */
static void test_kind_made_again(void)
{
    for (int round = 0; round < 4; round++) {
        memkind_t k = region_kind(&region);
        memkind_t saved = kind;
        kind = k;
        CHECK(use_kind(8 + round));
        CHECK_EQ(allocated(), 0);
        kind = saved;
        CHECK_EQ(memkind_destroy_kind(k), MEMKIND_SUCCESS);
    }
}

int main(void)
{
    region = region_require(64 * MiB, 0);
    struct test_region whole = region;
    REQUIRE(memkind_create_fixed(region.base, region.size / 2, &kind) == MEMKIND_SUCCESS);
    region.size /= 2;
    test_threads_one_after_another();
    test_second_thread();
    CHECK_EQ(memkind_destroy_kind(kind), MEMKIND_SUCCESS);
    test_kind_made_again();
    region = whole;
#ifndef __SANITIZE_THREAD__ /* ThreadSanitizer does not follow fork() with threads */
    test_fork_child_thread();
#endif
    region_free(&whole);
    return check_done("solo_test");
}
