/*
 * main.c - memkind-fixed's benchmark: the fixed kind against its baselines and its
 * competitors, in one process, in one run.
 *
 *     bazel run //bench:bench -- [--quick] [--reps N] [--json PATH] [--seed N]
 *                                [--only a,b,c,d,e,f,u] [--deps DIR]
 *     bazel run //bench:bench_static -- ... [--fixed-decay-ms MS]
 *
 * //bench:bench reaches the fixed kind through libmemkind_fixed.so, as programs
 * and the language bindings do; //bench:bench_static links the core statically.
 * The competitors (memkind 1.14, a tbbmalloc pool, mimalloc arenas) are loaded
 * from what bench/setup_competitors.sh installed; a missing one, or one that crashes,
 * shows so in its column and the run goes on.
 *
 * Prints a table of figures and ratios and writes them as JSON (default
 * bench/out/results.json in the workspace). It exits 0 whenever it could measure;
 * timing targets are reported, never enforced. See docs/performance.md.
 */
#include "bench.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEAP_REGION ((size_t)1 << 30)
/* (f), full counts: blocks grown to 16 MiB per run at least, and the time that
 * the run takes at least (in as many blocks again until it passed). Per growth the
 * allocators differ by up to 10^4x (jemalloc's default arenas give 8 MiB and more
 * back to the system at once, and copy into fresh pages): a count alone would be
 * too short to time for some or minutes long for others. */
#define REALLOC_CYCLES 20
#define REALLOC_MIN_MS 100

static void usage(FILE *f)
{
    fprintf(f, "usage: bench [--quick] [--reps N] [--json PATH] [--seed N] [--only LIST]\n"
               "  --quick      counts / 10: a smoke run\n"
               "  --reps N     runs per figure, median reported (default 5, max %d)\n"
               "  --json PATH  where the JSON goes (default bench/out/results.json)\n"
               "  --seed N     seed of random sizes and orders (default 42)\n"
               "  --only LIST  comma-separated parts: a,b,c,d,f (workloads), e (create +\n"
               "               destroy), u (utilisation); default all\n"
               "  --deps DIR   the competitors that bench/setup_competitors.sh built (default\n"
               "               .deps/bench of the workspace under `bazel run`)\n"
               "  --fixed-decay-ms MS  experiment (//bench:bench_static only): set the fixed\n"
               "               kind's arena decay times (arena.<i>.dirty/muzzy_decay_ms)\n",
            MAX_REPS);
}

/* workload_run() and utilisation_run() as guarded() calls. */
struct run {
    int w;
    const struct settings *s;
    const struct heap_type *t;
    struct heap *h;
    struct measure *m;
    bool ok;
};

static void run_one(void *arg)
{
    struct run *r = arg;
    r->ok = workload_run(r->w, r->s, r->t, r->h, r->m);
}

struct util_run {
    const struct settings *s;
    const struct heap_type *t;
    struct utilisation *u;
    bool ok;
};

static void util_one(void *arg)
{
    struct util_run *u = arg;
    u->ok = utilisation_run(u->s, u->t, u->u);
}

int main(int argc, char **argv)
{
    struct settings s = {.reps = 5, .seed = 42};
    const char *only = "a,b,c,d,e,f,u";
    static char json_default[4096];
    /* Under `bazel run` the working directory is the runfiles tree: write into the
     * workspace instead. */
    const char *ws = getenv("BUILD_WORKSPACE_DIRECTORY");
    snprintf(json_default, sizeof(json_default), "%s%sbench/out/results.json", ws ? ws : "",
             ws ? "/" : "");
    s.json = json_default;
    bench_deps_dir = bench_deps_default();
    enum { OPT_QUICK = 256, OPT_REPS, OPT_JSON, OPT_SEED, OPT_ONLY, OPT_DECAY, OPT_DEPS };
    static const struct option options[] = {
        {"quick", no_argument, NULL, OPT_QUICK},
        {"reps", required_argument, NULL, OPT_REPS},
        {"json", required_argument, NULL, OPT_JSON},
        {"seed", required_argument, NULL, OPT_SEED},
        {"only", required_argument, NULL, OPT_ONLY},
        {"fixed-decay-ms", required_argument, NULL, OPT_DECAY},
        {"deps", required_argument, NULL, OPT_DEPS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_QUICK:
            s.quick = true;
            break;
        case OPT_REPS:
            s.reps = atoi(optarg);
            break;
        case OPT_JSON:
            s.json = optarg;
            break;
        case OPT_SEED:
            s.seed = strtoull(optarg, NULL, 0);
            break;
        case OPT_ONLY:
            only = optarg;
            break;
        case OPT_DECAY:
            if (!heap_fixed_can_set_decay) {
                fprintf(stderr, "bench: --fixed-decay-ms needs //bench:bench_static (the "
                                "shared library hides the kind's jemalloc)\n");
                return 2;
            }
            heap_fixed_decay_ms = atol(optarg);
            break;
        case OPT_DEPS:
            bench_deps_dir = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    if (s.reps < 1 || s.reps > MAX_REPS) {
        usage(stderr);
        return 2;
    }
    int div = s.quick ? 10 : 1;
    s.small_pairs = 10000000 / div;
    s.random_objects = 100000 / div;
    s.random_iters = 20;
    s.large_pairs = 1000000 / div;
    s.kind_cycles = 2000 / div;
    s.realloc_cycles = REALLOC_CYCLES / div;
    s.realloc_min_ns = REALLOC_MIN_MS * 1e6 / div;
    s.fill_rounds = 1000 / div;

    static const char part[W_COUNT] = {[W_SMALL] = 'a', [W_RANDOM] = 'b', [W_THREADS] = 'c',
                                       [W_LARGE] = 'd', [W_KIND] = 'e', [W_REALLOC] = 'f'};
    bool run_w[W_COUNT];
    for (int w = 0; w < W_COUNT; w++)
        run_w[w] = strchr(only, part[w]) != NULL;

    static struct results r;
    double t0 = now_ns();
    workloads_prepare(&s);

    /* One heap per allocator for all timed workloads, each on its own 1 GiB
     * region: (c) keeps about 2 x 200 MiB alive at once. A competitor that cannot
     * be loaded or opened is left out, with the reason in its column. */
    void *regions[HEAP_COUNT] = {0};
    struct heap *heaps[HEAP_COUNT] = {0};
    for (int a = 0; a < HEAP_COUNT; a++) {
        const struct heap_type *t = heap_types[a];
        if (t->load != NULL && (r.absent[a] = t->load()) != NULL)
            fprintf(stderr, "bench: %s left out: %s\n", t->label, r.absent[a]);
        bool zeroed = true;
        if (r.absent[a] == NULL && t->regional &&
            (regions[a] = heap_region_map(t, HEAP_REGION, &zeroed)) == NULL) {
            fprintf(stderr, "bench: cannot map a region for %s\n", t->label);
            return 1;
        }
        if (r.absent[a] == NULL && (heaps[a] = t->open(regions[a], HEAP_REGION, zeroed)) == NULL) {
            if (a < HEAP_FIRST_COMPETITOR) {
                fprintf(stderr, "bench: cannot open %s\n", t->label);
                return 1;
            }
            r.absent[a] = "cannot open a heap on a 1 GiB region";
            fprintf(stderr, "bench: %s left out: %s\n", t->label, r.absent[a]);
        }
        for (int w = 0; w < W_COUNT; w++) {
            r.cells[w][a].na = !workload_applies(w, t) || !run_w[w];
            r.cells[w][a].absent = r.absent[a];
        }
    }

    /* Interleaved: every workload runs on every allocator before the next rep, and
     * the starting allocator rotates, so drift of the machine hits all alike. */
    for (int rep = 0; rep < s.reps; rep++) {
        for (int w = 0; w < W_COUNT; w++) {
            if (!run_w[w])
                continue;
            for (int k = 0; k < HEAP_COUNT; k++) {
                int a = (k + rep) % HEAP_COUNT;
                struct cell *c = &r.cells[w][a];
                if (c->na || c->failed || c->absent != NULL)
                    continue;
                if (r.crashed[a] != 0) {
                    c->skipped = true;
                    continue;
                }
                struct measure m;
                struct run run = {w, &s, heap_types[a], heaps[a], &m, false};
                int sig = guarded(run_one, &run);
                if (sig == 0)
                    sig = m.crash;
                if (sig != 0) {
                    fprintf(stderr, "bench: %s CRASHED on %s (signal %d); its later runs "
                                    "are skipped\n", workloads[w].title, heap_types[a]->label,
                            sig);
                    c->crashed = r.crashed[a] = sig;
                    continue;
                }
                if (!run.ok) {
                    fprintf(stderr, "bench: %s failed on %s\n", workloads[w].title,
                            heap_types[a]->label);
                    c->failed = true;
                    continue;
                }
                c->value[c->n] = m.value;
                c->cpu[c->n] = m.cpu;
                c->faults[c->n] = m.faults;
                c->left[c->n] = m.left;
                c->n++;
            }
            fprintf(stderr, "bench: rep %d/%d: %s done\n", rep + 1, s.reps,
                    workloads[w].title);
        }
    }
    for (int a = 0; a < HEAP_COUNT; a++) {
        /* A heap that crashed is left as it is: its state is unknown. */
        if (heaps[a] == NULL || r.crashed[a] != 0)
            continue;
        heap_types[a]->close(heaps[a]);
        if (regions[a] != NULL)
            heap_region_unmap(heap_types[a], regions[a], HEAP_REGION);
    }
    workloads_release();

    if (strchr(only, 'u') != NULL) {
        for (int a = 0; a < HEAP_COUNT; a++) {
            if (!heap_types[a]->regional || r.absent[a] != NULL || r.crashed[a] != 0)
                continue;
            struct util_run u = {&s, heap_types[a], &r.util[a], false};
            int sig = guarded(util_one, &u);
            if (sig != 0) {
                fprintf(stderr, "bench: utilisation tests CRASHED on %s (signal %d)\n",
                        heap_types[a]->label, sig);
                r.util[a].done = false;
                r.util[a].crashed = r.crashed[a] = sig;
            } else if (!u.ok) {
                fprintf(stderr, "bench: utilisation tests failed on %s\n",
                        heap_types[a]->label);
            }
            fprintf(stderr, "bench: utilisation done on %s\n", heap_types[a]->label);
        }
    }
    r.seconds = (now_ns() - t0) / 1e9;
    report_table(&s, &r);
    return report_json(&s, &r) == 0 ? 0 : 1;
}
