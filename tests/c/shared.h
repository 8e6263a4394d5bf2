/*
 * shared.h - for the tests of shared kinds: their statistics, and heap names of
 * their own.
 */
#ifndef MKF_TEST_SHARED_H
#define MKF_TEST_SHARED_H

#include "check.h"
#include "proc.h"

#include <memkind_fixed.h>

#include <stdint.h>
#include <stdio.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static inline struct memkind_shared_stats shared_stats(memkind_t k)
{
    struct memkind_shared_stats s;
    REQUIRE(memkind_shared_get_stats(k, &s) == 0);
    return s;
}

/* Fork a child attached to k's heap anew (a slot of its own): 0 in the child,
 * with *c its kind (a child that cannot attach exits with 10), and the child's
 * pid in the parent. */
static inline pid_t shared_fork_attached(memkind_t k, memkind_t *c)
{
    pid_t pid = proc_fork();
    if (pid == 0 && memkind_shared_attach_fd(memkind_shared_fd(k), c) != 0)
        _exit(10);
    return pid;
}

/* "/<prefix>_<pid>_<64 random bits in hex>" into buf: parallel runs (bazel
 * --runs_per_test) share /dev/shm and, sandboxed, see the same pid. */
static inline const char *shared_name(char *buf, size_t size, const char *prefix)
{
    uint64_t rnd = 0;
    if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        rnd = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        rnd ^= (uint64_t)getpid() << 32;
    }
    snprintf(buf, size, "/%s_%d_%016llx", prefix, (int)getpid(), (unsigned long long)rnd);
    return buf;
}

#endif
