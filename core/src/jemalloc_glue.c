/*
 * jemalloc_glue.c - the one file that talks to the private jemalloc.
 *
 * jemalloc is built by tools/setup.sh with the symbol prefix mkf_je_, so its
 * functions are mkf_je_mallocx() and so on; none of them leave our shared library.
 * Its string-keyed je_mallctl() interface stays here, behind typed functions.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define JEMALLOC_NO_DEMANGLE
#include <jemalloc/jemalloc.h>

/*
 * Options of the private jemalloc, read once at its start.
 *
 * retain:false - jemalloc hands freed extents back through the dalloc hook instead
 *   of keeping them as "retained" address space inside the arena. Our region map
 *   takes them back and merges them, so freed memory serves any size and, since
 *   the region map is the only source of memory, honours in-place growth
 *   (jemalloc only passes new_addr to the alloc hook when retain is off).
 *   See docs/design.md.
 * lg_extent_max_active_fit:16 - a freed (dirty) extent may be split for a request
 *   up to 65536 times smaller, not only 64 times (jemalloc's default). With the
 *   default, a 32 KiB request skips a freed 8 MiB extent and takes fresh pages of
 *   the region: a vector that grows to 8 MiB, is freed and grows again moves on
 *   through the region, faulting in 2000 new pages each time, until the region is
 *   full and the heap purges. With 16 it starts in the freed extent and grows in
 *   place through the rest of it. The default guards against splitting large
 *   cached extents that, with delayed coalescing, do not merge back; for a fixed
 *   kind the purge before ENOMEM merges everything in the region map anyway.
 *
 * tcache_nslots_small_{min,max}: 1024 blocks in every small bin of a thread cache
 * (jemalloc: 20 to 200, by slab size). A workload that frees many blocks of a size
 * and allocates them again (workload (b) of bench/) then finds them in the cache
 * instead of emptying slabs into the arena's extent cache and carving them out again:
 * a third fewer instructions per pair there. Each explicit cache fills an empty bin
 * with as few blocks as with jemalloc's default (mkf_je_tc_setup), so that a fill
 * does not take pages of the region that other sizes need; a cache's bin arrays take
 * 295 KiB of address space instead of 58 KiB. The figures: docs/performance-history.md,
 * the run of 2026-12-03 07:16.
 */
#define MKF_JE_CONF                                                                    \
    "retain:false,lg_extent_max_active_fit:16,"                                        \
    "tcache_nslots_small_min:1024,tcache_nslots_small_max:1024"
const char *je_malloc_conf = MKF_JE_CONF;

_Static_assert(MALLOCX_ZERO == MKF_MALLOCX_ZERO, "mallocx flag mismatch");
_Static_assert(MALLOCX_TCACHE(5) == MKF_MALLOCX_TCACHE(5), "mallocx flag mismatch");
_Static_assert(MALLOCX_TCACHE_NONE == MKF_MALLOCX_TCACHE_NONE, "mallocx flag mismatch");
_Static_assert(MALLOCX_ARENA(7) == MKF_MALLOCX_ARENA(7), "mallocx flag mismatch");


/* jemalloc 5.3.0's arena_config_t, the argument of experimental.arenas_create_ext.
 * jemalloc checks the size we pass, so a layout change fails cleanly with EINVAL. */
struct mkf_arena_config {
    struct extent_hooks_s *extent_hooks;
    bool metadata_use_hooks;
};

int mkf_je_arena_create(struct extent_hooks_s *hooks, unsigned *out)
{
    size_t len = sizeof(*out);
    if (hooks == NULL)
        return je_mallctl("arenas.create", out, &len, NULL, 0);
    /* Metadata through jemalloc's default hooks: the region is all for the heap. */
    struct mkf_arena_config cfg = {hooks, false};
    return je_mallctl("experimental.arenas_create_ext", out, &len, &cfg, sizeof(cfg));
}

static int arena_ctl(const char *fmt, unsigned arena)
{
    char name[64];
    snprintf(name, sizeof(name), fmt, arena);
    return je_mallctl(name, NULL, NULL, NULL, 0);
}

int mkf_je_arena_destroy(unsigned arena)
{
    /* Parked slabs back first, and none parked while arena_reset empties the
     * bins (third_party/jemalloc/mkf_tcache_fast.c). */
    (void)mkf_je_slab_flush(arena, true);
    return arena_ctl("arena.%u.destroy", arena);
}

int mkf_je_arena_set_hooks(unsigned arena, struct extent_hooks_s *hooks)
{
    return mkf_je_arena_rebind(arena, hooks);
}

int mkf_je_arena_purge(unsigned arena)
{
    (void)mkf_je_slab_flush(arena, false); /* parked slabs are free memory too */
    return arena_ctl("arena.%u.purge", arena);
}

int mkf_je_arena_set_decay(unsigned arena, long ms)
{
    /* Without a mallctl name lookup (third_party/jemalloc). */
    return mkf_je_arena_decay(arena, ms);
}

int mkf_je_arena_lookup(const void *ptr, unsigned *out)
{
    /* Safe for addresses jemalloc never saw (third_party/jemalloc). */
    return mkf_je_arena_of(ptr, out);
}

int mkf_je_arena_live_blocks(unsigned arena, uint64_t *blocks, uint64_t *bytes)
{
    /* This arena's counters only (third_party/jemalloc). */
    return mkf_je_arena_live(arena, blocks, bytes);
}

int mkf_je_arena_set_eager_coalesce(unsigned arena)
{
    return mkf_je_arena_coalesce_eagerly(arena);
}

int mkf_je_check_block(const void *ptr, unsigned *arena)
{
    return mkf_je_block_check(ptr, arena);
}

unsigned mkf_je_narenas_auto(void)
{
    unsigned n = 0;
    size_t len = sizeof(n);
    if (je_mallctl("opt.narenas", &n, &len, NULL, 0) != 0)
        return 1;
    return n;
}

int mkf_je_tcache_create(unsigned *out)
{
    size_t len = sizeof(*out);
    return je_mallctl("tcache.create", out, &len, NULL, 0);
}

void mkf_je_tcache_destroy(unsigned tcache)
{
    je_mallctl("tcache.destroy", NULL, NULL, &tcache, sizeof(tcache));
}

int mkf_je_stats_refresh(void)
{
    uint64_t epoch = 1;
    size_t len = sizeof(epoch);
    return je_mallctl("epoch", &epoch, &len, &epoch, sizeof(epoch));
}

static int read_size(const char *name, size_t *out)
{
    size_t len = sizeof(*out);
    return je_mallctl(name, out, &len, NULL, 0);
}

int mkf_je_arena_stat(unsigned arena, memkind_stat_type stat, size_t *out)
{
    char name[96];
    char idx[16];
    if (arena == MKF_ALL_ARENAS)
        snprintf(idx, sizeof(idx), "%u", (unsigned)MALLCTL_ARENAS_ALL);
    else
        snprintf(idx, sizeof(idx), "%u", arena);
    switch (stat) {
    case MEMKIND_STAT_TYPE_RESIDENT:
        snprintf(name, sizeof(name), "stats.arenas.%s.resident", idx);
        return read_size(name, out);
    case MEMKIND_STAT_TYPE_ACTIVE: {
        size_t pactive = 0;
        snprintf(name, sizeof(name), "stats.arenas.%s.pactive", idx);
        int err = read_size(name, &pactive);
        /* Parked empty slabs are active to jemalloc, free to the program. */
        size_t parked = mkf_je_slab_parked(arena == MKF_ALL_ARENAS ? UINT_MAX : arena);
        *out = pactive * mkf_je_page_size();
        *out = *out > parked ? *out - parked : 0;
        return err;
    }
    case MEMKIND_STAT_TYPE_ALLOCATED: {
        size_t small = 0, large = 0;
        snprintf(name, sizeof(name), "stats.arenas.%s.small.allocated", idx);
        int err = read_size(name, &small);
        snprintf(name, sizeof(name), "stats.arenas.%s.large.allocated", idx);
        if (err == 0)
            err = read_size(name, &large);
        *out = small + large;
        return err;
    }
    default:
        return EINVAL;
    }
}

int mkf_je_global_stat(memkind_stat_type stat, size_t *out)
{
    switch (stat) {
    case MEMKIND_STAT_TYPE_RESIDENT: return read_size("stats.resident", out);
    case MEMKIND_STAT_TYPE_ACTIVE: return read_size("stats.active", out);
    case MEMKIND_STAT_TYPE_ALLOCATED: return read_size("stats.allocated", out);
    default: return EINVAL;
    }
}

static size_t g_page;

void mkf_je_init(bool no_tcache)
{
    /* jemalloc reads je_malloc_conf when it starts, which is the mallctl below:
     * nothing in the library calls jemalloc before mkf_init(). */
    if (no_tcache)
        je_malloc_conf = MKF_JE_CONF ",tcache:false";
    size_t p = 0;
    if (read_size("arenas.page", &p) != 0 || p == 0)
        p = (size_t)sysconf(_SC_PAGESIZE);
    g_page = p;
    mkf_page_mask = (uintptr_t)p - 1;
    /* The largest small size class: fixed kinds serve larger requests (large.c). */
    unsigned nbins = 0;
    size_t len = sizeof(nbins), small_max = 0;
    char name[64];
    if (je_mallctl("arenas.nbins", &nbins, &len, NULL, 0) == 0 && nbins > 0) {
        snprintf(name, sizeof(name), "arenas.bin.%u.size", nbins - 1);
        if (read_size(name, &small_max) == 0 && small_max > 0)
            mkf_small_max = small_max;
    }
}

size_t mkf_je_page_size(void) { return g_page; }
