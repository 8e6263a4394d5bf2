/*
 * proc.h - child processes and descriptors for the tests that fork: running a
 * function in a child, waiting for it, passing numbers back through a pipe, and
 * a process with no free descriptor.
 */
#ifndef MKF_TEST_PROC_H
#define MKF_TEST_PROC_H

#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* The wait status of child `pid` once it has ended (waitpid, again on EINTR). */
static inline int proc_wait(pid_t pid)
{
    int st;
    pid_t got;
    while ((got = waitpid(pid, &st, 0)) < 0)
        REQUIRE(errno == EINTR);
    REQUIRE(got == pid);
    return st;
}

/* A wait status as a shell shows it: the exit code, or 128 + the signal. */
static inline int proc_exit_code(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Wait for child `pid`; its exit code as proc_exit_code() gives it. */
static inline int proc_wait_exit(pid_t pid) { return proc_exit_code(proc_wait(pid)); }

/* fork(), with stdout flushed first (so the child does not print the parent's
 * buffered lines again); a test that cannot fork cannot go on. */
static inline pid_t proc_fork(void)
{
    fflush(stdout);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    return pid;
}

/* Run fn(arg) in a child process that exits with its result, and wait for it:
 * the child's wait status. */
static inline int proc_run(int (*fn)(void *), void *arg)
{
    pid_t pid = proc_fork();
    if (pid == 0)
        _exit(fn(arg));
    return proc_wait(pid);
}

/* 1 when a wait status says the child exited with 0. */
static inline int proc_ok(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

/* One number through a pipe, whole. */
static inline void pipe_put_u64(int fd, uint64_t v)
{
    REQUIRE(write(fd, &v, sizeof(v)) == sizeof(v));
}

static inline uint64_t pipe_get_u64(int fd)
{
    uint64_t v;
    REQUIRE(read(fd, &v, sizeof(v)) == sizeof(v));
    return v;
}

/* Open /dev/null until no descriptor is left, after lowering the soft limit to
 * at most 256 (so that the loop ends soon). 0 when every step worked and the
 * last open failed with EMFILE; -1 otherwise (the opens are tried regardless). */
static inline int exhaust_descriptors(void)
{
    int ok = 1;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_cur > 256 ? 256 : rl.rlim_cur;
        ok = setrlimit(RLIMIT_NOFILE, &rl) == 0;
    } else {
        ok = 0;
    }
    while (open("/dev/null", O_RDONLY | O_CLOEXEC) >= 0) {
    }
    return ok && errno == EMFILE ? 0 : -1;
}

#endif
