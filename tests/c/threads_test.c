/*
 * threads_test.c - several threads on one kind and across kinds, blocks freed by
 * other threads than the ones that allocated them, content checks throughout,
 * and kinds destroyed after threads that used them have ended. Run under
 * ThreadSanitizer in CI.
 */
#include "check.h"
#include "region.h"

#include <memkind_fixed.h>

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#define MiB ((size_t)1 << 20)
enum { THREADS = 4, ROUNDS = 20000, QUEUE = 1024 };

static memkind_t shared_kind;
static struct test_region shared_region;
static atomic_int errors;

/* A queue of blocks handed from producers to consumers (cross-thread frees). */
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char *queue[QUEUE];
static size_t qlen;

static uint64_t step(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void *worker(void *arg)
{
    uint64_t seed = 0x1234567ull + (uintptr_t)arg * 7919;
    unsigned char *mine[64] = {0};
    size_t sizes[64] = {0};
    for (int i = 0; i < ROUNDS; i++) {
        int slot = (int)(step(&seed) % 64);
        if (mine[slot] != NULL) {
            if (mine[slot][0] != (unsigned char)slot ||
                mine[slot][sizes[slot] - 1] != (unsigned char)slot)
                atomic_fetch_add(&errors, 1);
            /* Half the blocks go to another thread to be freed. */
            int handed = 0;
            if (step(&seed) & 1) {
                pthread_mutex_lock(&qlock);
                if (qlen < QUEUE) {
                    queue[qlen++] = mine[slot];
                    handed = 1;
                }
                pthread_mutex_unlock(&qlock);
            }
            if (!handed)
                memkind_free(shared_kind, mine[slot]);
            mine[slot] = NULL;
        }
        size_t size = 1 + step(&seed) % (step(&seed) % 8 == 0 ? 100000 : 300);
        unsigned char *p = memkind_malloc(shared_kind, size);
        if (p == NULL)
            continue; /* the region may be full for a moment */
        if (!in_range(p, size, shared_region.base, shared_region.size))
            atomic_fetch_add(&errors, 1);
        memset(p, slot, size);
        mine[slot] = p;
        sizes[slot] = size;
        /* Free something another thread allocated. */
        unsigned char *other = NULL;
        pthread_mutex_lock(&qlock);
        if (qlen > 0)
            other = queue[--qlen];
        pthread_mutex_unlock(&qlock);
        memkind_free(i % 3 == 0 ? NULL : shared_kind, other);
    }
    for (int s = 0; s < 64; s++)
        memkind_free(shared_kind, mine[s]);
    return NULL;
}

/* Each thread makes its own kind, uses it, and leaves it for main to destroy. */
struct own {
    struct test_region region;
    memkind_t kind;
    int ok;
};

static void *own_kind(void *arg)
{
    struct own *o = arg;
    if (memkind_create_fixed(o->region.base, o->region.size, &o->kind) != 0)
        return NULL;
    void *blocks[1000];
    int ok = 1;
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 1000; i++) {
            blocks[i] = memkind_malloc(o->kind, 16 + (size_t)i);
            ok &= in_range(blocks[i], 16 + (size_t)i, o->region.base, o->region.size);
            /* And something from the shared kind, to keep two caches busy. */
            void *s = memkind_malloc(shared_kind, 32);
            memkind_free(shared_kind, s);
        }
        for (int i = 0; i < 1000; i++)
            memkind_free(o->kind, blocks[i]);
    }
    o->ok = ok;
    return NULL;
}

int main(void)
{
    shared_region = region_new(64 * MiB, 0);
    REQUIRE(shared_region.base != NULL);
    REQUIRE(memkind_create_fixed(shared_region.base, shared_region.size, &shared_kind) == 0);

    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (size_t i = 0; i < qlen; i++)
        memkind_free(shared_kind, queue[i]);
    CHECK_EQ(atomic_load(&errors), 0);

    struct own own[THREADS];
    for (int i = 0; i < THREADS; i++) {
        own[i].region = region_new(4 * MiB, 0);
        own[i].ok = 0;
        REQUIRE(own[i].region.base != NULL);
        pthread_create(&t[i], NULL, own_kind, &own[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        CHECK(own[i].ok);
        CHECK_EQ(memkind_destroy_kind(own[i].kind), 0);
        region_free(&own[i].region);
    }

    /* After all that, the shared region serves one block of nearly its size. */
    memkind_fixed_purge(shared_kind);
    void *big = memkind_malloc(shared_kind, shared_region.size - 8 * MiB);
    CHECK(big != NULL);
    memkind_free(shared_kind, big);
    CHECK_EQ(memkind_destroy_kind(shared_kind), 0);
    region_free(&shared_region);
    return check_done("threads_test");
}
