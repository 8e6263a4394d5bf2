/*
 * debug_test.c - the debug mode (MEMKIND_FIXED_DEBUG=1): double frees and frees
 * of pointers the library did not hand out are reported with their address, and
 * the process aborts; correct programs run unchanged.
 *
 * The parent runs this program again for each scenario, with the variable set
 * (the library reads it when it is loaded), and reads the child's output.
 */
#define _GNU_SOURCE
#include "check.h"
#include "proc.h"

#include <memkind_fixed.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB ((size_t)1 << 20)

static memkind_t fixed_kind(void)
{
    void *base = mmap(NULL, 16 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                      -1, 0);
    memkind_t kind;
    if (base == MAP_FAILED || memkind_create_fixed(base, 16 * MiB, &kind) != 0)
        exit(3);
    return kind;
}

/* The address about to be misused, on stdout, then the misuse. */
static void misuse(const char *what, memkind_t kind, void *p)
{
    printf("%p\n", p);
    fflush(stdout);
    if (strcmp(what, "usable") == 0)
        (void)memkind_malloc_usable_size(kind, p);
    else if (strcmp(what, "realloc") == 0)
        memkind_free(kind, memkind_realloc(kind, p, 100)); /* not reached */
    else
        memkind_free(kind, p);
}

static int scenario(const char *name)
{
    memkind_t k = fixed_kind();
    if (strcmp(name, "correct") == 0) {
        /* Ordinary use, wrong-kind frees included: no report. */
        static struct memkind_ops ops;
        ops = MEMKIND_DEFAULT_OPS;
        memkind_t d;
        if (memkind_create(&ops, "debug_default_like", &d) != 0)
            return 3;
        void *p[300];
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < 300; i++) {
                memkind_t from = i % 3 == 0 ? k : i % 3 == 1 ? MEMKIND_DEFAULT : d;
                p[i] = memkind_malloc(from, (size_t)(i * 97 % 70000) + 1);
                if (p[i] == NULL)
                    return 4;
            }
            for (int i = 0; i < 300; i += 2)
                p[i] = memkind_realloc(NULL, p[i], 5000);
            for (int i = 0; i < 300; i++)
                memkind_free(i % 2 ? NULL : MEMKIND_DEFAULT, p[i]);
        }
        memkind_destroy_kind(d);
        return memkind_destroy_kind(k) == 0 ? 0 : 5;
    }
    if (strcmp(name, "double_small") == 0) {
        void *p = memkind_malloc(k, 64);
        memkind_free(k, p);
        misuse("free", k, p);
    } else if (strcmp(name, "double_large") == 0) {
        void *p = memkind_malloc(k, 4 * MiB);
        memkind_free(k, p);
        misuse("free", NULL, p);
    } else if (strcmp(name, "double_default") == 0) {
        void *p = memkind_malloc(MEMKIND_DEFAULT, 100);
        memkind_free(MEMKIND_DEFAULT, p);
        misuse("free", MEMKIND_DEFAULT, p);
    } else if (strcmp(name, "realloc_freed") == 0) {
        void *p = memkind_malloc(k, 200);
        memkind_free(k, p);
        misuse("realloc", k, p);
    } else if (strcmp(name, "interior") == 0) {
        char *p = memkind_malloc(k, 256);
        misuse("free", k, p + 16);
    } else if (strcmp(name, "foreign") == 0) {
        static char not_ours[64];
        misuse("free", NULL, not_ours);
    } else if (strcmp(name, "usable_freed") == 0) {
        void *p = memkind_malloc(k, 64);
        memkind_free(NULL, p);
        misuse("usable", k, p);
    }
    return 0; /* the misuse went unnoticed */
}

struct run {
    int status;
    char out[4096], err[4096];
};

static void read_all(int fd, char *buf, size_t size)
{
    size_t len = 0;
    ssize_t n;
    while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
}

static struct run run_scenario(const char *self, const char *name, const char *debug)
{
    struct run r;
    int out[2], err[2];
    REQUIRE(pipe(out) == 0 && pipe(err) == 0);
    pid_t pid = proc_fork();
    if (pid == 0) {
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(out[0]), close(err[0]);
        if (debug)
            setenv("MEMKIND_FIXED_DEBUG", debug, 1);
        else
            unsetenv("MEMKIND_FIXED_DEBUG");
        execl(self, self, name, (char *)NULL);
        _exit(127);
    }
    close(out[1]), close(err[1]);
    read_all(out[0], r.out, sizeof(r.out));
    read_all(err[0], r.err, sizeof(r.err));
    close(out[0]), close(err[0]);
    r.status = proc_wait(pid);
    return r;
}

/* The scenario aborts with a report that names the address and the reason. */
static void expect_report(const char *self, const char *name, const char *reason)
{
    struct run r = run_scenario(self, name, "1");
    char addr[64] = "";
    sscanf(r.out, "%63s", addr);
    int aborted = WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT;
    int named = addr[0] != '\0' && strstr(r.err, addr) != NULL;
    int why = strstr(r.err, reason) != NULL;
    CHECK(aborted);
    CHECK(named);
    CHECK(why);
    if (!aborted || !named || !why)
        fprintf(stderr, "scenario %s: status %#x, stdout [%s], stderr [%s]\n", name, r.status,
                r.out, r.err);
}

int main(int argc, char **argv)
{
    if (argc == 2)
        return scenario(argv[1]);
    const char *self = "/proc/self/exe";
    char path[4096];
    ssize_t n = readlink(self, path, sizeof(path) - 1);
    REQUIRE(n > 0);
    path[n] = '\0';

    struct run ok = run_scenario(path, "correct", "1");
    CHECK(WIFEXITED(ok.status) && WEXITSTATUS(ok.status) == 0);
    CHECK(strstr(ok.err, "memkind-fixed") == NULL);
    ok = run_scenario(path, "correct", NULL);
    CHECK(WIFEXITED(ok.status) && WEXITSTATUS(ok.status) == 0);

    expect_report(path, "double_small", "memkind_free(");
    expect_report(path, "double_small", "already free");
    expect_report(path, "double_large", "memkind_free(");
    expect_report(path, "double_default", "already free");
    expect_report(path, "realloc_freed", "memkind_realloc(");
    expect_report(path, "interior", "inside a block");
    expect_report(path, "foreign", "no heap of the library");
    expect_report(path, "usable_freed", "memkind_malloc_usable_size(");

    /* Without the variable a foreign pointer is ignored (no heap holds it). */
    struct run quiet = run_scenario(path, "foreign", NULL);
    CHECK(WIFEXITED(quiet.status) && WEXITSTATUS(quiet.status) == 0);
    return check_done("debug_test");
}
