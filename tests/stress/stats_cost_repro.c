/*
 * stats_cost_repro.c - reproducer: memkind_fixed_get_stats() and
 * memkind_get_capacity() take time in proportion to the size of the kind's
 * regions, and hold the registry lock all that time, so that creating or
 * destroying any other kind (and a thread's first allocation from any kind)
 * waits for them.
 *
 * Cause: do_stats() (core/src/fixed.c) computes `resident` with
 * mkf_region_resident(), one mincore(2) per 16 MiB over every region, inside
 * with_fixed(), which holds the registry lock; memkind_get_capacity()
 * (core/src/api.c) goes through memkind_fixed_get_stats() just to read the
 * capacity. On a 64 TiB region each call took about 45 s here.
 *
 *   bazel run //tests/stress:stats_cost_repro [-- GiB]     (default 4096 GiB)
 * Exits 1 while the problem is there: get_capacity slower than 10 ms, or a
 * kind creation on another thread blocked for more than 100 ms by get_stats.
 */
#include "tests/c/clock.h"

#include <memkind_fixed.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static memkind_t g_big;
static double g_stats_time;

static void *stats_thread(void *arg)
{
    (void)arg;
    struct memkind_fixed_stats st;
    double t0 = now_seconds();
    memkind_fixed_get_stats(g_big, &st);
    g_stats_time = now_seconds() - t0;
    return NULL;
}

int main(int argc, char **argv)
{
    size_t gib = argc > 1 ? (size_t)atol(argv[1]) : 4096;
    size_t size = gib << 30;
    void *map = mmap(NULL, size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (map == MAP_FAILED || memkind_create_fixed(map, size, &g_big) != 0) {
        fprintf(stderr, "no %zu GiB region here\n", gib);
        return 2;
    }
    double t0 = now_seconds();
    ssize_t cap = memkind_get_capacity(g_big);
    double cap_time = now_seconds() - t0;

    /* While another thread reads the statistics, make a small kind. */
    static char small[1 << 16] __attribute__((aligned(4096)));
    pthread_t t;
    pthread_create(&t, NULL, stats_thread, NULL);
    usleep(20000);
    t0 = now_seconds();
    memkind_t k;
    int err = memkind_create_fixed(small, sizeof(small), &k);
    double create_time = now_seconds() - t0;
    pthread_join(t, NULL);
    if (err == 0)
        memkind_destroy_kind(k);
    memkind_destroy_kind(g_big);
    munmap(map, size);

    printf("region %zu GiB: memkind_get_capacity %.3f s (%zd), memkind_fixed_get_stats "
           "%.3f s, memkind_create_fixed of 64 KiB meanwhile %.3f s\n",
           gib, cap_time, cap, g_stats_time, create_time);
    return cap_time > 0.01 || create_time > 0.1 ? 1 : 0;
}
