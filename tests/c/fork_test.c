/*
 * fork_test.c - fork() while another thread is allocating in the same kind: the
 * child, which inherits the kind, allocates and frees in it, and so does the
 * parent afterwards (the library's locks are taken around fork, see core/src/fork.c).
 */
#include "check.h"
#include "proc.h"
#include "region.h"

#include <memkind_fixed.h>

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/wait.h>

#define MiB ((size_t)1 << 20)

static memkind_t kind;
static atomic_int stop;

static void *churn(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        void *p[32];
        for (int i = 0; i < 32; i++)
            p[i] = memkind_malloc(kind, 64 + (size_t)i * 1000);
        for (int i = 0; i < 32; i++)
            memkind_free(i % 2 ? kind : NULL, p[i]); /* NULL: the region table's lock */
    }
    return NULL;
}

static int child_work(void *arg)
{
    struct test_region *r = arg;
    int ok = 1;
    for (int round = 0; round < 100; round++) {
        void *p[64];
        for (int i = 0; i < 64; i++) {
            p[i] = memkind_malloc(kind, 100 + (size_t)i * 4096);
            ok &= in_range(p[i], 100, r->base, r->size);
            if (p[i])
                memset(p[i], 0x3c, 100);
        }
        for (int i = 0; i < 64; i++)
            memkind_free(kind, p[i]);
    }
    void *big = memkind_malloc(kind, 8 * MiB);
    ok &= big != NULL;
    memkind_free(kind, big);
    memkind_t other;
    ok &= memkind_create_fixed((char *)r->base + r->size - MiB, MiB, &other) ==
          MEMKIND_ERROR_REGION_OVERLAP;
    return ok ? 0 : 1;
}

int main(void)
{
    struct test_region r = region_require(32 * MiB, 0);
    kind = region_kind(&r);
    pthread_t t;
    pthread_create(&t, NULL, churn, NULL);
    for (int i = 0; i < 20; i++) {
        int status = proc_run(child_work, &r);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        void *p = memkind_malloc(kind, 1000);
        CHECK(in_range(p, 1000, r.base, r.size));
        memkind_free(kind, p);
    }
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    CHECK_EQ(memkind_destroy_kind(kind), 0);
    region_free(&r);
    return check_done("fork_test");
}
