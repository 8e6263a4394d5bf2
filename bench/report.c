/*
 * report.c - the table on stdout and the JSON file.
 *
 * Ratios are always between figures of the same run: absolute times on these
 * shared machines drift between runs, ratios much less. A target that is missed is
 * reported, never turned into a failure: the benchmark measures, it does not judge.
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of(const double *v, int n)
{
    double tmp[MAX_REPS];
    memcpy(tmp, v, (size_t)n * sizeof(*v));
    qsort(tmp, (size_t)n, sizeof(*tmp), cmp_double);
    return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

struct summary cell_summary(const struct cell *c)
{
    struct summary s = {0};
    if (c->n == 0)
        return s;
    s.median = median_of(c->value, c->n);
    s.faults = median_of(c->faults, c->n);
    s.cpu = median_of(c->cpu, c->n);
    s.left = median_of(c->left, c->n);
    s.min = s.max = c->value[0];
    s.left_max = c->left[0];
    for (int i = 1; i < c->n; i++) {
        if (c->value[i] < s.min)
            s.min = c->value[i];
        if (c->value[i] > s.max)
            s.max = c->value[i];
        if (c->left[i] > s.left_max)
            s.left_max = c->left[i];
    }
    return s;
}

/* Width of an allocator's column. */
#define COLW 17

static bool has(const struct results *r, int w, int a)
{
    return !r->cells[w][a].na && !r->cells[w][a].failed && r->cells[w][a].n > 0;
}

static double med(const struct results *r, int w, int a)
{
    return cell_summary(&r->cells[w][a]).median;
}

/* The competitor with the lowest median on workload w, or -1. */
static int best_competitor(const struct results *r, int w)
{
    int best = -1;
    for (int a = HEAP_FIRST_COMPETITOR; a < HEAP_COUNT; a++)
        if (has(r, w, a) && (best < 0 || med(r, w, a) < med(r, w, best)))
            best = a;
    return best;
}

/* ---- targets --------------------------------------------------------------------- */

struct target {
    const char *id;
    const char *what;
    const char *limit; /* as written in the issue */
    bool known;        /* the figures it needs were measured */
    bool met;
    double value;
};

enum { T_SMALL, T_RANDOM, T_THREADS, T_THREADS_CPU, T_LARGE, T_LARGE_GLIBC, T_LARGE_NS,
       T_REALLOC, T_KIND_TIME, T_KIND_LEFT, T_U64, T_U1M, T_U8M, T_AFTER_SMALL, T_ROUNDS,
       T_FRAG_MALLOC, T_COUNT };

static void targets(const struct results *r, struct target t[T_COUNT])
{
    const int F = HEAP_FIXED;
    const struct utilisation *u = &r->util[F];
#define RATIO(id_, what_, lim_, w1, a1, w2, a2, max_)                                   \
    t[id_] = (struct target){#id_, what_, lim_, has(r, w1, a1) && has(r, w2, a2), false, 0}; \
    if (t[id_].known) {                                                                 \
        t[id_].value = med(r, w1, a1) / med(r, w2, a2);                                 \
        t[id_].met = t[id_].value <= (max_);                                            \
    }
    RATIO(T_SMALL, "(a) fixed / jemalloc default", "<= 1.25", W_SMALL, F, W_SMALL,
          HEAP_JE_DEFAULT, 1.25)
    RATIO(T_RANDOM, "(b) fixed / glibc", "<= 1.00", W_RANDOM, F, W_RANDOM, HEAP_GLIBC, 1.0)
    RATIO(T_THREADS, "(c) fixed per thread / fixed (b)", "<= 1.30", W_THREADS, F, W_RANDOM,
          F, 1.3)
    t[T_THREADS_CPU] = (struct target){"T_THREADS_CPU", "(c) the same from thread CPU time",
                                       "<= 1.30", t[T_THREADS].known, false, 0};
    if (t[T_THREADS_CPU].known) {
        t[T_THREADS_CPU].value = cell_summary(&r->cells[W_THREADS][F]).cpu /
                                 cell_summary(&r->cells[W_RANDOM][F]).cpu;
        t[T_THREADS_CPU].met = t[T_THREADS_CPU].value <= 1.3;
    }
    RATIO(T_LARGE, "(d) fixed / jemalloc default", "<= 1.00", W_LARGE, F, W_LARGE,
          HEAP_JE_DEFAULT, 1.0)
    RATIO(T_LARGE_GLIBC, "(d) fixed / glibc", "<= 1.00", W_LARGE, F, W_LARGE, HEAP_GLIBC, 1.0)
#undef RATIO
    bool d = has(r, W_LARGE, F), f = has(r, W_REALLOC, F);
    t[T_LARGE_NS] = (struct target){"T_LARGE_NS", "(d) fixed, ns per pair (stretch)", "< 10 ns", d,
                                    d && med(r, W_LARGE, F) < 10, d ? med(r, W_LARGE, F) : 0};
    t[T_REALLOC] = (struct target){"T_REALLOC", "(f) realloc doubling, us per growth", "<= 1 us",
                                   f, f && med(r, W_REALLOC, F) <= 1000,
                                   f ? med(r, W_REALLOC, F) / 1000 : 0};
    bool k = has(r, W_KIND, F);
    t[T_KIND_TIME] = (struct target){"T_KIND_TIME", "create+destroy, us per cycle",
                                     "<= 300 us", k, false, 0};
    t[T_KIND_LEFT] = (struct target){"T_KIND_LEFT", "create+destroy, address space left (B, median)",
                                     "0", k, false, 0};
    if (k) {
        struct summary s = cell_summary(&r->cells[W_KIND][F]);
        t[T_KIND_TIME].value = s.median;
        t[T_KIND_TIME].met = s.median <= 300;
        t[T_KIND_LEFT].value = s.left;
        t[T_KIND_LEFT].met = s.left <= 0;
    }
    t[T_U64] = (struct target){"T_U64", "64 B utilisation %", ">= 99", u->done,
                               u->pct_64 >= 99, u->pct_64};
    t[T_U1M] = (struct target){"T_U1M", "1 MiB utilisation %", ">= 97", u->done,
                               u->pct_1m >= 97, u->pct_1m};
    t[T_U8M] = (struct target){"T_U8M", "8 MiB blocks that fit", "8 of 8", u->done,
                               u->fit_8m >= 8, u->fit_8m};
    t[T_AFTER_SMALL] = (struct target){
        "T_AFTER_SMALL", "8 MiB blocks after 64 B fill + free", "= fresh region", u->done,
        u->fit_8m_after_small >= u->fit_8m && u->fit_8m_after_cross >= u->fit_8m,
        u->fit_8m_after_small};
    t[T_ROUNDS] = (struct target){"T_ROUNDS", "worst of fill/free rounds, blocks % of first",
                                  "100 (never early)", u->done,
                                  u->worst_blocks >= u->first_blocks,
                                  u->first_blocks > 0 ? 100.0 * (double)u->worst_blocks /
                                                            (double)u->first_blocks
                                                      : 0};
    t[T_FRAG_MALLOC] = (struct target){"T_FRAG_MALLOC",
                                       "malloc(largest_free) after fragmenting, 1 = ok",
                                       "1 (succeeds)", u->done && u->frag_malloc_ok >= 0,
                                       u->frag_malloc_ok == 1, u->frag_malloc_ok};
    /* Use the enum name without its T_ prefix as the JSON id. */
    for (int i = 0; i < T_COUNT; i++)
        if (strncmp(t[i].id, "T_", 2) == 0)
            t[i].id += 2;
}

/* ---- table -------------------------------------------------------------------------- */

static void fmt_value(char *buf, size_t n, double v)
{
    if (v >= 100)
        snprintf(buf, n, "%.0f", v);
    else if (v >= 10)
        snprintf(buf, n, "%.1f", v);
    else
        snprintf(buf, n, "%.2f", v);
}

/* Bytes as KiB, or "unknown" for -1 (the heap cannot tell). */
static const char *kib_or_unknown(long long bytes)
{
    static char buf[32];
    if (bytes < 0)
        snprintf(buf, sizeof(buf), "unknown");
    else
        snprintf(buf, sizeof(buf), "%lld", bytes / 1024);
    return buf;
}

/* A largest-block figure as % of its region, or n/a (no heap on such a region). */
static const char *pct_or_na(long long bytes, size_t region)
{
    static char buf[32];
    if (bytes < 0)
        snprintf(buf, sizeof(buf), "n/a");
    else
        snprintf(buf, sizeof(buf), "%.2f%%", 100.0 * (double)bytes / (double)region);
    return buf;
}

static const char *when(void)
{
    static char buf[64];
    time_t now = time(NULL);
    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S %Z", localtime(&now));
    return buf;
}

static void machine(char *buf, size_t n)
{
    struct utsname u;
    uname(&u);
    char model[128] = "unknown CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f != NULL) {
        char line[256];
        while (fgets(line, sizeof(line), f) != NULL) {
            if (strncmp(line, "model name", 10) == 0) {
                char *c = strchr(line, ':');
                if (c != NULL) {
                    snprintf(model, sizeof(model), "%s", c + 2);
                    model[strcspn(model, "\n")] = 0;
                }
                break;
            }
        }
        fclose(f);
    }
    snprintf(buf, n, "%s, %ld CPUs online, Linux %s %s", model, sysconf(_SC_NPROCESSORS_ONLN),
             u.release, u.machine);
}

void report_table(const struct settings *s, const struct results *r)
{
    char mach[256];
    machine(mach, sizeof(mach));
    printf("\nmemkind-fixed benchmark, %s\n%s\n", when(), mach);
    printf("median of %d runs per figure [min-max], allocators interleaved%s\n", s->reps,
           s->quick ? "; --quick (counts / 10): a smoke run, not for comparison" : "");
    if (heap_fixed_decay_ms >= -1)
        printf("EXPERIMENT: the fixed kind's arena runs with dirty/muzzy_decay_ms = %ld "
               "(--fixed-decay-ms)\n", heap_fixed_decay_ms);
    printf("\nAllocators (competitors from %s):\n",
           bench_deps_dir ? bench_deps_dir : "the system only: no .deps/bench found");
    for (int a = 0; a < HEAP_COUNT; a++) {
        printf("  %-18s %s\n", heap_types[a]->label, heap_types[a]->about);
        if (r->absent[a] != NULL)
            printf("  %-18s LEFT OUT: %s\n", "", r->absent[a]);
        if (r->crashed[a] != 0)
            printf("  %-18s CRASHED (signal %d): its later runs were skipped\n", "",
                   r->crashed[a]);
    }

    printf("\n%-44s", "workload");
    for (int a = 0; a < HEAP_COUNT; a++)
        printf(" %*s", COLW, heap_types[a]->label);
    printf("\n");
    for (int w = 0; w < W_COUNT; w++) {
        char title[64];
        snprintf(title, sizeof(title), "%s, %s", workloads[w].title, workloads[w].unit);
        printf("%-44.44s", title);
        for (int a = 0; a < HEAP_COUNT; a++) {
            const struct cell *c = &r->cells[w][a];
            char cellbuf[64], m[16], lo[16], hi[16];
            if (c->absent != NULL) {
                snprintf(cellbuf, sizeof(cellbuf), "absent");
            } else if (c->na) {
                snprintf(cellbuf, sizeof(cellbuf), "n/a");
            } else if (c->crashed) {
                snprintf(cellbuf, sizeof(cellbuf), "CRASHED sig %d", c->crashed);
            } else if (c->skipped) {
                snprintf(cellbuf, sizeof(cellbuf), "skipped");
            } else if (c->failed || c->n == 0) {
                snprintf(cellbuf, sizeof(cellbuf), "FAILED");
            } else {
                struct summary x = cell_summary(c);
                fmt_value(m, sizeof(m), x.median);
                fmt_value(lo, sizeof(lo), x.min);
                fmt_value(hi, sizeof(hi), x.max);
                snprintf(cellbuf, sizeof(cellbuf), "%s [%s-%s]", m, lo, hi);
            }
            printf(" %*s", COLW, cellbuf);
        }
        printf("\n%-44s", "    from thread CPU time (median)");
        for (int a = 0; a < HEAP_COUNT; a++) {
            char buf[32] = "";
            if (has(r, w, a))
                fmt_value(buf, sizeof(buf), cell_summary(&r->cells[w][a]).cpu);
            printf(" %*s", COLW, buf);
        }
        printf("\n%-44s", "    minor page faults per op");
        for (int a = 0; a < HEAP_COUNT; a++) {
            char buf[32] = "";
            if (has(r, w, a))
                snprintf(buf, sizeof(buf), "%.4f", cell_summary(&r->cells[w][a]).faults);
            printf(" %*s", COLW, buf);
        }
        if (w == W_KIND) {
            printf("\n%-44s", "    address space left, B: median (max)");
            for (int a = 0; a < HEAP_COUNT; a++) {
                char buf[48] = "";
                struct summary x = cell_summary(&r->cells[w][a]);
                if (has(r, w, a))
                    snprintf(buf, sizeof(buf), "%.0f (%.0f)", x.left, x.left_max);
                printf(" %*s", COLW, buf);
            }
        }
        printf("\n");
    }

    printf("\nRatios: %s / that allocator (same run; < 1 means the fixed kind is faster)\n",
           heap_types[HEAP_FIXED]->label);
    printf("%-44s", "workload");
    for (int a = 1; a < HEAP_COUNT; a++)
        printf(" %*s", COLW, heap_types[a]->label);
    printf("\n");
    for (int w = 0; w < W_COUNT; w++) {
        printf("%-44.44s", workloads[w].title);
        for (int a = 1; a < HEAP_COUNT; a++) {
            char buf[32] = "-";
            if (has(r, w, HEAP_FIXED) && has(r, w, a)) {
                double x = med(r, w, HEAP_FIXED) / med(r, w, a);
                /* (f) spans 10^4x: two significant digits rather than 0.00x. */
                snprintf(buf, sizeof(buf), x < 0.01 ? "%.2gx" : "%.2fx", x);
            }
            printf(" %*s", COLW, buf);
        }
        printf("\n");
    }

    printf("\nBest competitor per workload (the fastest of the loaded competitors; the ratio is "
           "%s / it)\n", heap_types[HEAP_FIXED]->label);
    for (int w = 0; w < W_COUNT; w++) {
        int b = best_competitor(r, w);
        printf("%-44.44s", workloads[w].title);
        if (b < 0)
            printf(" %s\n", "-");
        else if (has(r, w, HEAP_FIXED)) {
            double x = med(r, w, HEAP_FIXED) / med(r, w, b);
            printf(x < 0.01 ? " %s: %.2gx\n" : " %s: %.2fx\n", heap_types[b]->label, x);
        }
        else
            printf(" %s\n", heap_types[b]->label);
    }

    printf("\nScaling: (c) per thread / (b), each allocator against itself (wall; CPU)\n");
    printf("%-44s", "");
    for (int a = 0; a < HEAP_COUNT; a++) {
        char buf[48] = "-";
        if (has(r, W_THREADS, a) && has(r, W_RANDOM, a)) {
            struct summary c = cell_summary(&r->cells[W_THREADS][a]),
                           b = cell_summary(&r->cells[W_RANDOM][a]);
            snprintf(buf, sizeof(buf), "%.2fx; %.2fx", c.median / b.median, c.cpu / b.cpu);
        }
        printf(" %*s", COLW, buf);
    }
    printf("\n");

    printf("\nRegion utilisation, 64 MiB region (bytes requested / region; n/a: the allocator "
           "cannot run on a caller's region):\n");
    printf("%-44s", "test");
    for (int a = 0; a < HEAP_COUNT; a++)
        printf(" %*s", COLW, heap_types[a]->label);
    printf("\n");
#define UROW(label, fmt, ...)                                                    \
    do {                                                                          \
        printf("%-44s", label);                                                   \
        for (int a = 0; a < HEAP_COUNT; a++) {                                    \
            const struct utilisation *u = &r->util[a];                            \
            char buf[48] = "FAILED";                                              \
            if (!heap_types[a]->regional)                                         \
                snprintf(buf, sizeof(buf), "n/a");                                \
            else if (r->absent[a] != NULL)                                        \
                snprintf(buf, sizeof(buf), "absent");                             \
            else if (u->crashed != 0)                                             \
                snprintf(buf, sizeof(buf), "CRASHED sig %d", u->crashed);         \
            else if (r->crashed[a] != 0 && !u->done)                              \
                snprintf(buf, sizeof(buf), "skipped");                            \
            else if (u->done)                                                     \
                snprintf(buf, sizeof(buf), fmt, __VA_ARGS__);                     \
            printf(" %*s", COLW, buf);                                                 \
        }                                                                         \
        printf("\n");                                                             \
    } while (0)
    for (int i = 0; i < UTIL_SIZES - 1; i++) {
        char label[48];
        snprintf(label, sizeof(label), "fill with %s", util_size_names[i]);
        UROW(label, "%.2f%%", u->fresh_pct[i]);
        if (util_sizes[i] < 4096 && util_sizes[i + 1] > 4096)
            UROW("fill with 4 KiB", "%.2f%%", u->pct_4k);
    }
    UROW("8 MiB blocks that fit", "%d of 8", u->fit_8m);
    UROW("largest block, empty 1 MiB region", "%s",
         pct_or_na(u->largest[0], util_largest_regions[0]));
    UROW("largest block, empty 64 MiB region", "%s",
         pct_or_na(u->largest[1], util_largest_regions[1]));
    UROW("reuse A -> B, worst cell (matrix below)", "%.2f%%",
         u->reuse[u->reuse_worst_a][u->reuse_worst_b]);
    UROW("  at A -> B", "%s->%s", util_size_names[u->reuse_worst_a],
         util_size_names[u->reuse_worst_b]);
    UROW("8 MiB after 64 B fill + free-all", "%d of 8", u->fit_8m_after_small);
    UROW("64 B refill after other thread freed", "%.2f%%", u->refill_cross_pct);
    UROW("8 MiB after other thread freed", "%d of 8", u->fit_8m_after_cross);
    UROW("mixed fill 64 B..1 MiB (log-uniform)", "%.2f%%", u->first_pct);
    UROW("  ends at request of", "%zu B", u->first_fail_size);
    UROW("    region free / largest run, KiB", "%lld / %lld",
         u->first_free < 0 ? -1 : u->first_free / 1024,
         u->first_largest < 0 ? -1 : u->first_largest / 1024);
    UROW("fill/free rounds of the mixed fill: worst", "%.1f%% (%ld/%ld)", u->worst_pct,
         u->worst_blocks, u->first_blocks);
    UROW("  worst round index", "%d of %d", u->worst_round, u->rounds);
    UROW("  worst round ends at request of", "%zu B", u->worst_fail_size);
    UROW("    region free / largest run, KiB", "%lld / %lld",
         u->worst_free < 0 ? -1 : u->worst_free / 1024,
         u->worst_largest < 0 ? -1 : u->worst_largest / 1024);
    UROW("mixed fill, every 2nd freed: free, KiB", "%s", kib_or_unknown(u->frag_free));
    UROW("  largest free run (heap's figure), KiB", "%s", kib_or_unknown(u->frag_largest_free));
    UROW("  malloc(largest free run)", "%s",
         u->frag_malloc_ok < 0 ? "not asked" : u->frag_malloc_ok ? "ok" : "FAILED");
    UROW("  largest block that fits, KiB", "%s", kib_or_unknown(u->frag_largest_fit));
    UROW("  wall time of the utilisation tests", "%.1f s", u->seconds);
#undef UROW

    printf("\nReuse across sizes: fill a new 64 MiB region with A, free all, fill with B; "
           "blocks of B\nas %% of what a new region takes (rows A, columns B; the fills "
           "above are the 100%%)%s\n", s->quick ? "; --quick leaves out 64 B" : "");
    for (int a = 0; a < HEAP_COUNT; a++) {
        const struct utilisation *u = &r->util[a];
        if (!heap_types[a]->regional || !u->done)
            continue;
        printf("%-20s", heap_types[a]->label);
        for (int j = 0; j < UTIL_SIZES; j++)
            printf(" %9s", util_size_names[j]);
        printf("\n");
        for (int i = 0; i < UTIL_SIZES; i++) {
            printf("  A = %-14s", util_size_names[i]);
            for (int j = 0; j < UTIL_SIZES; j++) {
                if (u->reuse[i][j] != u->reuse[i][j]) /* NaN: left out by --quick */
                    printf(" %9s", "-");
                else
                    printf(" %8.2f%%", u->reuse[i][j]);
            }
            printf("\n");
        }
    }

    struct target t[T_COUNT];
    targets(r, t);
    printf("\nTargets (memkind fixed; informational, the benchmark never fails on them):\n");
    for (int i = 0; i < T_COUNT; i++) {
        char v[32];
        if (t[i].known)
            snprintf(v, sizeof(v), "%.2f", t[i].value);
        else
            snprintf(v, sizeof(v), "n/a");
        printf("  %-50s %10s  target %-18s %s\n", t[i].what, v, t[i].limit,
               !t[i].known ? "NOT MEASURED" : t[i].met ? "met" : "MISSED");
    }
    printf("\ntotal wall time %.1f s\n", r->seconds);
}

/* ---- JSON --------------------------------------------------------------------------- */

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

/* JSON has no NaN or infinity. */
static void json_num(FILE *f, double v)
{
    if (v != v || v > 1e300 || v < -1e300)
        fprintf(f, "null");
    else
        fprintf(f, "%.6g", v);
}

/* A byte count, or null for -1 (unknown). */
static void json_ll_or_null(FILE *f, long long v)
{
    if (v < 0)
        fprintf(f, "null");
    else
        fprintf(f, "%lld", v);
}

/* Create the folders of `path` (mkdir -p of its dirname). */
static void make_parents(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return;
            *p = '/';
        }
    }
}

int report_json(const struct settings *s, const struct results *r)
{
    make_parents(s->json);
    FILE *f = fopen(s->json, "w");
    if (f == NULL) {
        fprintf(stderr, "bench: cannot write %s: %s\n", s->json, strerror(errno));
        return -1;
    }
    char mach[256];
    machine(mach, sizeof(mach));
    fprintf(f, "{\n  \"schema\": \"memkind-fixed-bench/1\",\n  \"date\": ");
    json_str(f, when());
    fprintf(f, ",\n  \"machine\": ");
    json_str(f, mach);
    fprintf(f, ",\n  \"quick\": %s,\n  \"reps\": %d,\n  \"seed\": %llu,\n", s->quick ? "true" : "false",
            s->reps, (unsigned long long)s->seed);
    if (heap_fixed_decay_ms >= -1)
        fprintf(f, "  \"experiment_fixed_decay_ms\": %ld,\n", heap_fixed_decay_ms);
    fprintf(f, "  \"counts\": {\"a_pairs\": %llu, \"b_objects\": %zu, \"b_iters\": %d, "
               "\"d_pairs\": %llu, \"kind_cycles\": %d, \"f_steps_per_block\": %d, "
               "\"f_blocks_min\": %d, \"f_min_ms\": %.0f, \"fill_rounds\": %d},\n",
            (unsigned long long)s->small_pairs, s->random_objects, s->random_iters,
            (unsigned long long)s->large_pairs, s->kind_cycles, REALLOC_STEPS,
            s->realloc_cycles, s->realloc_min_ns / 1e6, s->fill_rounds);
    fprintf(f, "  \"total_seconds\": ");
    json_num(f, r->seconds);

    fprintf(f, ",\n  \"allocators\": [");
    for (int a = 0; a < HEAP_COUNT; a++) {
        fprintf(f, "%s\n    {\"id\": ", a ? "," : "");
        json_str(f, heap_types[a]->id);
        fprintf(f, ", \"label\": ");
        json_str(f, heap_types[a]->label);
        fprintf(f, ", \"about\": ");
        json_str(f, heap_types[a]->about);
        fprintf(f, ", \"regional\": %s, \"competitor\": %s, \"absent\": ",
                heap_types[a]->regional ? "true" : "false",
                a >= HEAP_FIRST_COMPETITOR ? "true" : "false");
        if (r->absent[a] != NULL)
            json_str(f, r->absent[a]);
        else
            fprintf(f, "null");
        fprintf(f, ", \"crashed_signal\": %d}", r->crashed[a]);
    }
    fprintf(f, "\n  ],\n  \"workloads\": [");
    for (int w = 0; w < W_COUNT; w++) {
        fprintf(f, "%s\n    {\"id\": ", w ? "," : "");
        json_str(f, workloads[w].id);
        fprintf(f, ", \"title\": ");
        json_str(f, workloads[w].title);
        fprintf(f, ", \"unit\": ");
        json_str(f, workloads[w].unit);
        fprintf(f, ", \"results\": {");
        for (int a = 0; a < HEAP_COUNT; a++) {
            const struct cell *c = &r->cells[w][a];
            fprintf(f, "%s\n      ", a ? "," : "");
            json_str(f, heap_types[a]->id);
            if (c->na && c->absent == NULL) {
                fprintf(f, ": null");
                continue;
            }
            if (c->absent != NULL || c->crashed != 0 || c->skipped) {
                fprintf(f, ": {\"ok\": false, \"why\": ");
                json_str(f, c->absent != NULL ? "absent" : c->crashed ? "crashed" : "skipped");
                fprintf(f, "}");
                continue;
            }
            struct summary x = cell_summary(c);
            fprintf(f, ": {\"ok\": %s, \"median\": ", c->failed || c->n == 0 ? "false" : "true");
            json_num(f, x.median);
            fprintf(f, ", \"min\": ");
            json_num(f, x.min);
            fprintf(f, ", \"max\": ");
            json_num(f, x.max);
            fprintf(f, ", \"cpu_median\": ");
            json_num(f, x.cpu);
            fprintf(f, ", \"faults_per_op\": ");
            json_num(f, x.faults);
            if (w == W_KIND) {
                fprintf(f, ", \"address_space_left_bytes\": ");
                json_num(f, x.left);
                fprintf(f, ", \"address_space_left_bytes_max\": ");
                json_num(f, x.left_max);
            }
            fprintf(f, ", \"samples\": [");
            for (int i = 0; i < c->n; i++) {
                fprintf(f, "%s", i ? ", " : "");
                json_num(f, c->value[i]);
            }
            fprintf(f, "]}");
        }
        fprintf(f, "\n    }}");
    }
    fprintf(f, "\n  ],\n  \"utilisation\": {");
    int first = 1;
    for (int a = 0; a < HEAP_COUNT; a++) {
        const struct utilisation *u = &r->util[a];
        fprintf(f, "%s\n    ", first ? "" : ",");
        first = 0;
        json_str(f, heap_types[a]->id);
        if (!heap_types[a]->regional || !u->done) {
            fprintf(f, ": null");
            continue;
        }
        fprintf(f, ": {\"region_bytes\": %u, \"pct_64B\": ", UTIL_REGION);
        json_num(f, u->pct_64);
        fprintf(f, ", \"pct_4KiB\": ");
        json_num(f, u->pct_4k);
        fprintf(f, ", \"pct_1MiB\": ");
        json_num(f, u->pct_1m);
        fprintf(f, ", \"fit_8MiB\": %d, \"fit_8MiB_after_small\": %d, \"refill_64B_cross_thread_pct\": ",
                u->fit_8m, u->fit_8m_after_small);
        json_num(f, u->refill_cross_pct);
        fprintf(f, ", \"fit_8MiB_after_cross_thread\": %d, \"rounds\": %d, "
                   "\"first_round_blocks\": %ld, \"worst_round_blocks\": %ld, "
                   "\"worst_round\": %d, \"first_round_pct\": ",
                u->fit_8m_after_cross, u->rounds, u->first_blocks, u->worst_blocks,
                u->worst_round);
        json_num(f, u->first_pct);
        fprintf(f, ", \"worst_round_pct\": ");
        json_num(f, u->worst_pct);
        fprintf(f, ", \"first_round_failed_request\": %zu, \"first_round_free_bytes\": %lld, "
                   "\"first_round_largest_free\": %lld, \"worst_round_failed_request\": %zu, "
                   "\"worst_round_free_bytes\": %lld, \"worst_round_largest_free\": %lld",
                u->first_fail_size, u->first_free, u->first_largest, u->worst_fail_size,
                u->worst_free, u->worst_largest);
        fprintf(f, ", \"mixed_fill_pct\": ");
        json_num(f, u->first_pct);
        fprintf(f, ",\n      \"sizes\": [");
        for (int i = 0; i < UTIL_SIZES; i++)
            fprintf(f, "%s%zu", i ? ", " : "", util_sizes[i]);
        fprintf(f, "], \"fresh_blocks\": [");
        for (int i = 0; i < UTIL_SIZES; i++)
            fprintf(f, "%s%ld", i ? ", " : "", u->fresh_blocks[i]);
        fprintf(f, "], \"fresh_pct\": [");
        for (int i = 0; i < UTIL_SIZES; i++) {
            fprintf(f, "%s", i ? ", " : "");
            json_num(f, u->fresh_pct[i]);
        }
        fprintf(f, "],\n      \"reuse_pct\": [");
        for (int i = 0; i < UTIL_SIZES; i++) {
            fprintf(f, "%s[", i ? ", " : "");
            for (int j = 0; j < UTIL_SIZES; j++) {
                fprintf(f, "%s", j ? ", " : "");
                json_num(f, u->reuse[i][j]);
            }
            fprintf(f, "]");
        }
        fprintf(f, "],\n      \"reuse_worst\": {\"a\": %zu, \"b\": %zu, \"pct\": ",
                util_sizes[u->reuse_worst_a], util_sizes[u->reuse_worst_b]);
        json_num(f, u->reuse[u->reuse_worst_a][u->reuse_worst_b]);
        fprintf(f, "},\n      \"largest_block\": [");
        for (int i = 0; i < UTIL_LARGEST; i++) {
            fprintf(f, "%s{\"region_bytes\": %zu, \"bytes\": ", i ? ", " : "",
                    util_largest_regions[i]);
            if (u->largest[i] < 0) {
                fprintf(f, "null, \"pct\": null}");
                continue;
            }
            fprintf(f, "%lld, \"pct\": ", u->largest[i]);
            json_num(f, 100.0 * (double)u->largest[i] / (double)util_largest_regions[i]);
            fprintf(f, "}");
        }
        fprintf(f, "],\n      \"fragmented\": {\"live_blocks\": %ld, \"free_bytes\": ",
                u->frag_live);
        json_ll_or_null(f, u->frag_free);
        fprintf(f, ", \"largest_free\": ");
        json_ll_or_null(f, u->frag_largest_free);
        fprintf(f, ", \"malloc_largest_free_ok\": %s, \"largest_fit\": ",
                u->frag_malloc_ok < 0 ? "null" : u->frag_malloc_ok ? "true" : "false");
        json_ll_or_null(f, u->frag_largest_fit);
        fprintf(f, "}, \"seconds\": ");
        json_num(f, u->seconds);
        fprintf(f, "}");
    }
    fprintf(f, "\n  },\n  \"ratios_fixed_over\": {");
    for (int a = 1; a < HEAP_COUNT; a++) {
        fprintf(f, "%s\n    ", a > 1 ? "," : "");
        json_str(f, heap_types[a]->id);
        fprintf(f, ": {");
        for (int w = 0; w < W_COUNT; w++) {
            fprintf(f, "%s", w ? ", " : "");
            json_str(f, workloads[w].id);
            fprintf(f, ": ");
            if (has(r, w, HEAP_FIXED) && has(r, w, a))
                json_num(f, med(r, w, HEAP_FIXED) / med(r, w, a));
            else
                fprintf(f, "null");
        }
        fprintf(f, "}");
    }
    fprintf(f, "\n  },\n  \"best_competitor\": {");
    for (int w = 0; w < W_COUNT; w++) {
        int b = best_competitor(r, w);
        fprintf(f, "%s\n    ", w ? "," : "");
        json_str(f, workloads[w].id);
        if (b < 0) {
            fprintf(f, ": null");
            continue;
        }
        fprintf(f, ": {\"id\": ");
        json_str(f, heap_types[b]->id);
        fprintf(f, ", \"median\": ");
        json_num(f, med(r, w, b));
        fprintf(f, ", \"fixed_over_it\": ");
        if (has(r, w, HEAP_FIXED))
            json_num(f, med(r, w, HEAP_FIXED) / med(r, w, b));
        else
            fprintf(f, "null");
        fprintf(f, "}");
    }
    struct target t[T_COUNT];
    targets(r, t);
    fprintf(f, "\n  },\n  \"targets\": [");
    for (int i = 0; i < T_COUNT; i++) {
        fprintf(f, "%s\n    {\"id\": ", i ? "," : "");
        json_str(f, t[i].id);
        fprintf(f, ", \"what\": ");
        json_str(f, t[i].what);
        fprintf(f, ", \"target\": ");
        json_str(f, t[i].limit);
        fprintf(f, ", \"value\": ");
        if (t[i].known)
            json_num(f, t[i].value);
        else
            fprintf(f, "null");
        fprintf(f, ", \"met\": %s}", !t[i].known ? "null" : t[i].met ? "true" : "false");
    }
    fprintf(f, "\n  ]\n}\n");
    if (fclose(f) != 0) {
        fprintf(stderr, "bench: writing %s failed\n", s->json);
        return -1;
    }
    printf("JSON written to %s\n", s->json);
    return 0;
}
