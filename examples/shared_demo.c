/*
 * shared_demo.c - one heap, two processes: docs/shared.md's C example as a whole
 * program (run by //examples:shared_demo_test).
 *
 * The parent makes a shared kind on a POSIX shm name, fills a block and sends its
 * offset through a pipe; a second process (not a fork of the heap's bookkeeping:
 * it attaches by name, as an unrelated program would) maps the same heap at its
 * own address, checks the data, frees the block and detaches. The parent then
 * sees the block gone from the heap's statistics and removes the name.
 */
#include <memkind_fixed.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 1000

static int fail(const char *what, int err)
{
    char msg[MEMKIND_ERROR_MESSAGE_SIZE];
    memkind_error_message(err, msg, sizeof(msg));
    fprintf(stderr, "shared_demo: %s: %s\n", what, msg);
    return 1;
}

/* The other process: attach by name, read the block at `off`, free it. */
static int other(const char *name, int rd)
{
    uint64_t off;
    if (read(rd, &off, sizeof(off)) != (ssize_t)sizeof(off))
        return 1;
    memkind_t k2;
    int err = memkind_shared_attach(name, &k2);
    if (err)
        return fail("attach", err);
    double *same = memkind_shared_ptr(k2, off); /* same bytes, another mapping */
    double sum = 0;
    for (int i = 0; i < N; i++)
        sum += same[i];
    printf("  other process: block at offset %llu is %p here, sum %.0f\n",
           (unsigned long long)off, (void *)same, sum);
    memkind_free(k2, same); /* any process may free any block */
    memkind_shared_detach(k2);
    return sum == (double)N * (N - 1) / 2 ? 0 : 1;
}

int main(void)
{
    char name[64];
    snprintf(name, sizeof(name), "/mkf-demo-%ld", (long)getpid());
    memkind_t k;
    int err = memkind_shared_create(name, 64 << 20, 0, &k);
    if (err)
        return fail("create", err);
    double *v = memkind_malloc(k, N * sizeof(double));
    if (v == NULL) {
        memkind_shared_detach(k);
        memkind_shared_unlink(name);
        return 1;
    }
    for (int i = 0; i < N; i++)
        v[i] = i;
    uint64_t off = memkind_shared_offset(k, v);
    printf("shared heap %s: block of %d doubles at %p, offset %llu\n", name, N, (void *)v,
           (unsigned long long)off);

    int fds[2];
    if (pipe(fds) != 0)
        return 1;
    fflush(stdout); /* the child must not print the parent's buffered lines again */
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[1]);
        /* Drop the inherited attachment: this process stands for another program. */
        memkind_shared_detach(k);
        int rc = other(name, fds[0]);
        fflush(stdout);
        _exit(rc);
    }
    close(fds[0]);
    if (write(fds[1], &off, sizeof(off)) != (ssize_t)sizeof(off))
        return 1;
    close(fds[1]);
    int status = 0;
    waitpid(pid, &status, 0);
    int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;

    memkind_fixed_purge(k);
    struct memkind_shared_stats st;
    err = memkind_shared_get_stats(k, &st);
    printf("after the other process freed it: this process holds %zu bytes allocated, "
           "%llu remote free(s) taken in\n",
           st.process_allocated, (unsigned long long)st.remote_frees);
    ok = ok && err == 0 && st.process_allocated == 0 && st.remote_frees == 1;
    memkind_shared_detach(k);
    memkind_shared_unlink(name);
    printf("%s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
