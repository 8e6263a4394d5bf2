/*
 * util.c - clock, page-fault counter, address-space size and regions; loading the
 * competitors' libraries, and running their code with crashes caught.
 */
#include "bench.h"

#define JEMALLOC_NO_DEMANGLE
#include <jemalloc/jemalloc.h>

#include <dlfcn.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
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

/* A region given to a heap that can never give it back (no_destroy: a mimalloc
 * arena, whose 3.x metadata even lives inside the region) must stay mapped for the
 * rest of the process: unmapping it is left out. Each test still gets a fresh
 * region, as the other heaps do. */
void *heap_region_map(const struct heap_type *t, size_t size, bool *zeroed)
{
    (void)t;
    *zeroed = true;
    return region_map(size);
}

void heap_region_unmap(const struct heap_type *t, void *p, size_t size)
{
    if (!t->no_destroy)
        region_unmap(p, size);
}

/* ---- competitors' libraries ------------------------------------------------------- */

const char *bench_deps_dir;

const char *bench_deps_default(void)
{
    static char path[4096];
    const char *ws = getenv("BUILD_WORKSPACE_DIRECTORY");
    struct stat st;
    snprintf(path, sizeof(path), "%s/.deps/bench", ws != NULL ? ws : ".");
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? path : NULL;
}

void *bench_dlopen(const char *name, bool in_deps, const char **why)
{
    static char reason[512];
    char path[4096];
    if (in_deps) {
        if (bench_deps_dir == NULL) {
            *why = "not found: no .deps/bench (run under `bazel run`, or pass --deps DIR)";
            return NULL;
        }
        snprintf(path, sizeof(path), "%s/%s", bench_deps_dir, name);
        name = path;
    }
    /* RTLD_LOCAL keeps each library's symbols out of the process's scope, and
     * RTLD_DEEPBIND makes its own references bind to itself first: memkind 1.14
     * exports the same memkind_* names as libmemkind_fixed.so, every mimalloc the
     * same mi_* names, and Debian's mimalloc a malloc() that must not replace
     * glibc's for the other columns. */
    void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (lib == NULL) {
        snprintf(reason, sizeof(reason), "not installed (tools/setup.sh --bench): %s", dlerror());
        /* Each competitor keeps its own reason until the report is written. */
        char *copy = strdup(reason);
        *why = copy != NULL ? copy : "not installed (tools/setup.sh --bench)";
    }
    return lib;
}

bool bench_dlsyms(void *lib, const char *const *names, void **out, size_t n, const char **why)
{
    static char reason[256];
    for (size_t i = 0; i < n; i++) {
        if ((out[i] = dlsym(lib, names[i])) == NULL) {
            snprintf(reason, sizeof(reason), "the library lacks %s", names[i]);
            char *copy = strdup(reason);
            *why = copy != NULL ? copy : "the library lacks a symbol";
            return false;
        }
    }
    return true;
}

/* ---- crashes ---------------------------------------------------------------------- */

/* The jump back of the guarded() call running on this thread, if any. */
static __thread sigjmp_buf *guard_jump;

static void guard_handler(int sig)
{
    if (guard_jump != NULL)
        siglongjmp(*guard_jump, sig);
    signal(sig, SIG_DFL); /* not in a guarded call: die as we would have */
    raise(sig);
}

int guarded(void (*fn)(void *), void *arg)
{
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    static bool installed;
    if (!installed) { /* first called from the main thread, before any worker */
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = guard_handler;
        sa.sa_flags = SA_NODEFER;
        for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
            sigaction(sigs[i], &sa, NULL);
        installed = true;
    }
    sigjmp_buf jump, *outer = guard_jump;
    int sig = sigsetjmp(jump, 1);
    if (sig == 0) {
        guard_jump = &jump;
        fn(arg);
    }
    guard_jump = outer;
    return sig;
}
