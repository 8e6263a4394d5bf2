/*
 * util.c - clock, page-fault counter, address-space size and regions.
 */
#include "bench.h"

#define JEMALLOC_NO_DEMANGLE
#include <jemalloc/jemalloc.h>

#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

double thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

long minor_faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

long long mapped_bytes(void)
{
    /* Freed memory that jemalloc's arenas still cache is given back by their
     * decay within seconds: purge it first, so that what is counted is what no
     * cache will give back. (The explicit thread cache that a kind's first
     * allocation makes is a 32 KiB block of jemalloc's arena 0, freed to that
     * arena's cache when the kind is destroyed.) */
    unsigned all = MALLCTL_ARENAS_ALL;
    char name[32];
    snprintf(name, sizeof(name), "arena.%u.purge", all);
    je_mallctl(name, NULL, NULL, NULL, 0);
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return -1;
    long long total = 0;
    unsigned long lo, hi;
    char line[512];
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2)
            total += (long long)(hi - lo);
    }
    fclose(f);
    return total;
}

void *region_map(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void region_unmap(void *p, size_t size)
{
    if (p != NULL)
        munmap(p, size);
}
