/*
 * threads_test.c - several threads on one kind and across kinds, blocks freed by
 * other threads than the ones that allocated them, content checks throughout,
 * and kinds destroyed after threads that used them have ended; and threads that
 * share a slot of the library's thread table, so that one of them takes the
 * fast path's second chance (the record read from TLS). Run under
 * ThreadSanitizer in CI.
 */
#include "check.h"
#include "region.h"
#include "rng.h"
#include "thread_pointer.h"

#include <memkind_fixed.h>

#include <pthread.h>
#include <sched.h>
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

static void *worker(void *arg)
{
    uint64_t seed = 0x1234567ull + (uintptr_t)arg * 7919;
    unsigned char *mine[64] = {0};
    size_t sizes[64] = {0};
    for (int i = 0; i < ROUNDS; i++) {
        int slot = (int)(rng_xorshift(&seed) % 64);
        if (mine[slot] != NULL) {
            if (mine[slot][0] != (unsigned char)slot ||
                mine[slot][sizes[slot] - 1] != (unsigned char)slot)
                atomic_fetch_add(&errors, 1);
            /* Half the blocks go to another thread to be freed. */
            int handed = 0;
            if (rng_xorshift(&seed) & 1) {
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
        size_t size =
            1 + rng_xorshift(&seed) % (rng_xorshift(&seed) % 8 == 0 ? 100000 : 300);
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

/*
 * Threads whose records hash to the same slot of the library's table of thread
 * records (core/src/internal.h, mkf_tp_slot; the formula is repeated here): the
 * one that went through a slow path last finds its record there, the other reads
 * it from TLS (mkf_arena_malloc_tls / mkf_arena_free_tls). Threads are started
 * and kept waiting until two live ones share a slot (at most 257: the table has
 * 256), then all allocate and free at once, checking every block.
 */
enum { SLOTS = 256, MAX_WAITING = SLOTS + 1, PAIRS = 3000 };
static atomic_int go;

struct waiter {
    pthread_t thread;
    atomic_int slot; /* -1 until the thread has published it */
    int ok;
};

static void *slot_worker(void *arg)
{
    struct waiter *w = arg;
    uintptr_t tp = test_thread_pointer();
    atomic_store(&w->slot, (int)(((tp * UINT64_C(0x9e3779b97f4a7c15)) >> 56) & (SLOTS - 1)));
    while (!atomic_load(&go))
        sched_yield();
    uint64_t seed = 0x9e37ull + (uintptr_t)tp;
    unsigned char *live[16] = {0};
    size_t sizes[16] = {0};
    int ok = 1;
    for (int i = 0; i < PAIRS; i++) {
        int k = (int)(rng_xorshift(&seed) % 16);
        if (live[k] != NULL) {
            ok &= live[k][0] == (unsigned char)k && live[k][sizes[k] - 1] == (unsigned char)k;
            memkind_free(shared_kind, live[k]);
        }
        sizes[k] = 16 + rng_xorshift(&seed) % 300;
        live[k] = memkind_malloc(shared_kind, sizes[k]);
        if (live[k] == NULL || !in_range(live[k], sizes[k], shared_region.base,
                                         shared_region.size)) {
            ok = 0;
            live[k] = NULL;
            continue;
        }
        memset(live[k], k, sizes[k]);
    }
    for (int k = 0; k < 16; k++)
        memkind_free(shared_kind, live[k]);
    w->ok = ok;
    return NULL;
}

static void test_threads_sharing_a_slot(void)
{
    static struct waiter w[MAX_WAITING];
    int owner[SLOTS];
    for (int s = 0; s < SLOTS; s++)
        owner[s] = -1;
    int n = 0, shared = 0;
    atomic_store(&go, 0);
    while (n < MAX_WAITING && !shared) {
        atomic_store(&w[n].slot, -1);
        w[n].ok = 0;
        REQUIRE(pthread_create(&w[n].thread, NULL, slot_worker, &w[n]) == 0);
        int slot;
        while ((slot = atomic_load(&w[n].slot)) < 0)
            sched_yield();
        shared = owner[slot] >= 0;
        owner[slot] = n++;
    }
#if defined(__x86_64__) || defined(__aarch64__)
    CHECK(shared); /* the pigeonhole guarantees it by 257 threads */
#endif
    atomic_store(&go, 1);
    for (int i = 0; i < n; i++) {
        pthread_join(w[i].thread, NULL);
        CHECK(w[i].ok);
    }
}

int main(void)
{
    shared_region = region_require(64 * MiB, 0);
    shared_kind = region_kind(&shared_region);

    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (size_t i = 0; i < qlen; i++)
        memkind_free(shared_kind, queue[i]);
    CHECK_EQ(atomic_load(&errors), 0);

    test_threads_sharing_a_slot();

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
