/*
 * fuzz_ops.c - libFuzzer harness: the input is decoded into a sequence of
 * operations on up to MAXK fixed kinds, and every result is checked against a
 * model of what memkind_fixed.h promises.
 *
 * What the model checks, after every operation that can break it:
 * - a live block keeps exactly the bytes written to it (pattern.h), also across
 *   realloc (up to the smaller size) and a failed realloc (untouched);
 * - it lies inside one of its kind's regions, with its whole usable size;
 * - its usable size is at least what was asked, its address as aligned as asked;
 * - no two live blocks (or bytes reserved with memkind_fixed_mmap) overlap;
 * - calloc memory is zero, and so is fresh memory of a MEMKIND_REGION_ZEROED region;
 * - the bytes of a caller's area outside the page-aligned region stay untouched;
 * - error results and errno are the header's, for every bad input listed there;
 * - statistics add up, failed_allocs counts exactly the ENOMEM answers of
 *   exhaustion, and nothing is lost: once a kind has no live block, a purge gives
 *   its whole capacity back (used == what memkind_fixed_mmap reserved);
 * - an allocation only fails with ENOMEM when no free extent could hold it.
 * Regions sit in mappings with a PROT_NONE guard page on each side, so any byte
 * written outside them faults at once.
 *
 * A violation prints what went wrong and aborts (libFuzzer then saves the input).
 * The number of operations run is printed at exit.
 *
 * Built by tests/fuzz/build.sh (clang, libFuzzer, ASan + UBSan) and by
 * tests/fuzz/BUILD as a plain corpus replayer (replay_main.c, gcc).
 */
#include <memkind_fixed.h>

#include "tests/stress/pattern.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

enum {
    NSLOTS = 4,      /* guarded mappings that regions are placed in */
    MAXK = 6,        /* kind entries (live or destroyed) */
    MAXB = 128,      /* block entries */
    MAXREG = 64,     /* regions per kind: the library's limit */
    MAX_OPS = 4000,  /* per input */
    MAX_CREATES = 512, /* per input; far below the 3999 kind slots, so that a
                          destroyed handle is never reused within one input */
};
#define SLOT_SPAN (4 * MiB)
#define CANARY 0xc5
#define ERRNO_MARK 9999 /* errno before a call whose errno must not change */

/* ---- failure reporting ---------------------------------------------------------- */

static unsigned long long g_ops, g_inputs;
static unsigned g_op_in_input;

__attribute__((noreturn, format(printf, 2, 3))) static void fail(int line, const char *fmt,
                                                                 ...)
{
    va_list ap;
    fprintf(stderr, "fuzz_ops.c:%d: model violated at operation %u of the input: ", line,
            g_op_in_input);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}
#define EXPECT(cond, ...)                                                                  \
    do {                                                                                   \
        if (!(cond))                                                                       \
            fail(__LINE__, __VA_ARGS__);                                                   \
    } while (0)

static void print_count(void)
{
    fprintf(stderr, "fuzz_ops: %llu operations in %llu inputs\n", g_ops, g_inputs);
}

/* ---- the model ---------------------------------------------------------------- */

struct mregion {
    uintptr_t start, end;   /* the page-aligned region */
    uintptr_t area_lo, area_hi; /* what the caller passed */
    bool slack_checked;     /* the area's bytes outside the region hold CANARY */
};

struct mkind {
    memkind_t k; /* NULL: entry unused */
    bool live;   /* false: k is a destroyed handle (its slot is not reused yet) */
    bool allow_zero;
    char name[32]; /* for kinds made with memkind_create() */
    unsigned nreg;
    struct mregion reg[MAXREG];
    uint64_t failed; /* ENOMEM answers of exhaustion */
    int oom_mode;    /* the out-of-memory callback set (OOM_*) */
    unsigned oom_calls; /* calls of it not yet matched with an ENOMEM or retry */
};

/* Out-of-memory callbacks (memkind_fixed_set_oom_callback). */
enum { OOM_NONE, OOM_GIVE_UP, OOM_RETRY, OOM_FREE_ONE, OOM_ADD_REGION, OOM_MODES };

struct mblock {
    unsigned char *p; /* NULL: entry unused */
    size_t size;      /* bytes that hold the pattern */
    size_t usable;    /* memkind_malloc_usable_size(), or the reserved size */
    unsigned tag;
    int kind;
    bool reserved; /* from memkind_fixed_mmap: never freed */
};

static struct mkind g_k[MAXK];
static struct mblock g_b[MAXB];
static unsigned char *g_slot[NSLOTS]; /* usable span of each guarded mapping */
static size_t g_page;
static unsigned g_creates;
static unsigned long long g_names;
static unsigned char g_zeros[64 * KiB];
static char g_bogus[256]; /* an address that is no kind handle */
static size_t g_oom_expect_size; /* the size the next callback must be told */
static int g_oom_protect = -1;   /* the block being reallocated: not to be freed */

/* ---- input decoding -------------------------------------------------------------- */

struct reader {
    const uint8_t *p;
    size_t len, pos;
};
static struct reader g_in;

static uint8_t u8(void) { return g_in.pos < g_in.len ? g_in.p[g_in.pos++] : 0; }
static uint16_t u16(void) { return (uint16_t)(u8() | u8() << 8); }
static uint32_t u32(void) { return (uint32_t)u16() | (uint32_t)u16() << 16; }

/* Sizes: mostly ordinary, some at size-class edges, some impossible. */
static size_t rd_size(void)
{
    uint8_t mode = u8();
    uint32_t v = u32();
    switch (mode & 7) {
    case 0: return v % 65;
    case 1:
    case 2: return v % (4 * KiB + 1);
    case 3: return v % (64 * KiB + 1);
    case 4: return v % (1 * MiB + 1);
    case 5: return v % (SLOT_SPAN + 64 * KiB);
    case 6: { /* a power of two or 1.25, 1.5, 1.75 times one, -1, +0, +1 */
        size_t base = (size_t)1 << (v % 24);
        size_t s = base + (base / 4) * ((v >> 8) % 4);
        return s + (size_t)((v >> 16) % 3) - 1;
    }
    default: {
        static const size_t special[] = {0,
                                         1,
                                         SIZE_MAX,
                                         SIZE_MAX - 4096,
                                         (size_t)LLONG_MAX,
                                         (size_t)LLONG_MAX - 1,
                                         (size_t)LLONG_MAX + 1,
                                         (size_t)1 << 40,
                                         SLOT_SPAN,
                                         SLOT_SPAN - 4096};
        return special[v % (sizeof(special) / sizeof(special[0]))];
    }
    }
}

/* ---- model helpers ------------------------------------------------------------------ */

static uintptr_t align_up(uintptr_t x, size_t a) { return (x + a - 1) & ~(uintptr_t)(a - 1); }

static bool in_kind(const struct mkind *m, const void *p, size_t len)
{
    uintptr_t a = (uintptr_t)p;
    for (unsigned i = 0; i < m->nreg; i++)
        if (a >= m->reg[i].start && a + len >= a && a + len <= m->reg[i].end)
            return true;
    return false;
}

static bool overlaps_live_region(uintptr_t start, uintptr_t end)
{
    for (int i = 0; i < MAXK; i++) {
        if (!g_k[i].live)
            continue;
        for (unsigned r = 0; r < g_k[i].nreg; r++)
            if (start < g_k[i].reg[r].end && g_k[i].reg[r].start < end)
                return true;
    }
    return false;
}

static void check_block(const struct mblock *b, const char *when)
{
    EXPECT(pattern_ok(b->p, 0, b->size, b->tag),
           "%s: block %p of %zu bytes (kind %d) lost its contents", when, (void *)b->p,
           b->size, b->kind);
}

static void check_all_blocks(void)
{
    for (int i = 0; i < MAXB; i++)
        if (g_b[i].p != NULL)
            check_block(&g_b[i], "check");
}

/* A new block (or reservation) [p, p + len) must not overlap a live one. */
static void check_no_overlap(const unsigned char *p, size_t len, int except)
{
    uintptr_t a = (uintptr_t)p, e = a + (len ? len : 1);
    for (int i = 0; i < MAXB; i++) {
        if (i == except || g_b[i].p == NULL)
            continue;
        uintptr_t b = (uintptr_t)g_b[i].p, be = b + (g_b[i].usable ? g_b[i].usable : 1);
        EXPECT(e <= b || be <= a, "block %p+%zu overlaps live block %p+%zu", (void *)p, len,
               (void *)g_b[i].p, g_b[i].usable);
    }
}

static int free_block_slot(int from)
{
    for (int n = 0; n < MAXB; n++) {
        int i = (from + n) % MAXB;
        if (g_b[i].p == NULL)
            return i;
    }
    return -1;
}

/* A block that the library just handed out for `size` bytes at `align`. */
static void adopt(int slot, int ki, unsigned char *p, size_t size, size_t align, bool zero)
{
    struct mkind *m = &g_k[ki];
    size_t usable = memkind_malloc_usable_size(m->k, p);
    EXPECT(usable >= size, "usable size %zu < %zu asked", usable, size);
    EXPECT(usable == memkind_malloc_usable_size(NULL, p),
           "usable size differs with a NULL kind");
    EXPECT(in_kind(m, p, usable ? usable : 1), "block %p+%zu outside kind %d's regions",
           (void *)p, usable, ki);
    EXPECT((uintptr_t)p % align == 0, "block %p not aligned to %zu", (void *)p, align);
    EXPECT(memkind_detect_kind(p) == m->k, "memkind_detect_kind(%p) is not its kind",
           (void *)p);
    check_no_overlap(p, usable, -1);
    if (zero) {
        for (size_t off = 0; off < size; off += sizeof(g_zeros)) {
            size_t n = size - off < sizeof(g_zeros) ? size - off : sizeof(g_zeros);
            EXPECT(memcmp(p + off, g_zeros, n) == 0, "calloc block %p+%zu not zero",
                   (void *)p, size);
        }
    }
    struct mblock *b = &g_b[slot];
    b->p = p;
    b->size = size;
    b->usable = usable;
    b->tag = (unsigned)(g_ops * 7 + (unsigned)slot);
    b->kind = ki;
    b->reserved = false;
    pattern_fill(p, 0, size, b->tag);
}

/* Sum of the usable sizes of the live blocks of kind ki (reserved or not). */
static size_t live_bytes(int ki, bool reserved)
{
    size_t sum = 0;
    for (int i = 0; i < MAXB; i++)
        if (g_b[i].p != NULL && g_b[i].kind == ki && g_b[i].reserved == reserved)
            sum += g_b[i].usable;
    return sum;
}

static size_t capacity_of(const struct mkind *m)
{
    size_t c = 0;
    for (unsigned i = 0; i < m->nreg; i++)
        c += m->reg[i].end - m->reg[i].start;
    return c;
}

static struct memkind_fixed_stats stats_of(int ki)
{
    struct memkind_fixed_stats st;
    memset(&st, 0xff, sizeof(st));
    int err = memkind_fixed_get_stats(g_k[ki].k, &st);
    EXPECT(err == MEMKIND_SUCCESS, "memkind_fixed_get_stats: %d", err);
    return st;
}

/* The statistics of a live kind add up with the model. */
static void check_stats(int ki)
{
    struct mkind *m = &g_k[ki];
    struct memkind_fixed_stats st = stats_of(ki);
    size_t cap = capacity_of(m);
    EXPECT(st.capacity == cap, "capacity %zu, model %zu", st.capacity, cap);
    EXPECT(st.regions == m->nreg, "regions %u, model %u", st.regions, m->nreg);
    EXPECT(st.used <= st.capacity && st.free == st.capacity - st.used,
           "used %zu free %zu capacity %zu", st.used, st.free, st.capacity);
    EXPECT(st.largest_free <= st.free, "largest_free %zu > free %zu", st.largest_free,
           st.free);
    EXPECT(st.peak_used >= st.used, "peak_used %zu < used %zu", st.peak_used, st.used);
    size_t heap = live_bytes(ki, false), reserved = live_bytes(ki, true);
    EXPECT(st.used >= heap + reserved, "used %zu < live %zu + reserved %zu", st.used, heap,
           reserved);
    EXPECT(st.allocated >= heap, "allocated %zu < live %zu", st.allocated, heap);
    EXPECT(st.failed_allocs == m->failed, "failed_allocs %llu, model %llu",
           (unsigned long long)st.failed_allocs, (unsigned long long)m->failed);
    EXPECT(memkind_get_capacity(m->k) == (ssize_t)cap, "memkind_get_capacity");
    EXPECT(memkind_check_available(m->k) == MEMKIND_SUCCESS, "memkind_check_available");
    size_t v = 0;
    EXPECT(memkind_update_cached_stats() == MEMKIND_SUCCESS, "memkind_update_cached_stats");
    EXPECT(memkind_get_stat(m->k, MEMKIND_STAT_TYPE_ALLOCATED, &v) == MEMKIND_SUCCESS &&
               v >= heap,
           "memkind_get_stat(ALLOCATED) %zu < live %zu", v, heap);
}

/* After an ENOMEM of exhaustion for `size` bytes at `align` (which purged the
 * heap's caches), no free extent may be large enough for the request. */
static void check_enomem(int ki, size_t size, size_t align)
{
    struct mkind *m = &g_k[ki];
    m->failed++;
    /* The callback ran once for this request, before the ENOMEM. */
    EXPECT(m->oom_calls == (m->oom_mode != OOM_NONE ? 1u : 0u),
           "out-of-memory callback ran %u times (mode %d)", m->oom_calls, m->oom_mode);
    m->oom_calls = 0;
    struct memkind_fixed_stats st = stats_of(ki);
    if (size > SIZE_MAX / 4 || align > SIZE_MAX / 4)
        return;
    size_t need; /* an upper bound of the extent jemalloc asks the region for */
    if (size <= 14 * KiB && align <= g_page)
        need = 64 * KiB; /* a slab */
    else
        need = (size + size / 4 > align ? size + size / 4 : align) + 2 * g_page +
               (align > g_page ? align : 0);
    EXPECT(st.largest_free < need,
           "ENOMEM for %zu bytes (alignment %zu) while a free extent of %zu bytes exists",
           size, align, st.largest_free);
}

static bool is_sizes_error(size_t size) { return size >= (size_t)LLONG_MAX; }

/* Before an allocation of `size` bytes: what the callback will be told. */
static void oom_arm(size_t size) { g_oom_expect_size = size ? size : 1; }

/* After an answer that is not an ENOMEM of exhaustion: a success may follow a
 * callback that made room; a refused argument never calls it. */
static void oom_settle(int ki, bool success)
{
    struct mkind *m = &g_k[ki];
    EXPECT(success || m->oom_calls == 0, "callback ran for a refused argument");
    m->oom_calls = 0;
}

/* "Aligned for any type" that fits in the block: 16 bytes, 8 for blocks of up
 * to 8 bytes (no type of alignment 16 fits in them). */
static size_t malloc_align(size_t size) { return size <= 8 ? 8 : 16; }

/* Fill the caller's bytes around the region with CANARY, unless another live
 * region holds them. */
static void stamp_slack(struct mregion *r)
{
    r->slack_checked = !overlaps_live_region(r->area_lo, r->start) &&
                       !overlaps_live_region(r->end, r->area_hi);
    if (r->slack_checked) {
        memset((void *)r->area_lo, CANARY, r->start - r->area_lo);
        memset((void *)r->end, CANARY, r->area_hi - r->end);
    }
}

static void check_slack(const struct mregion *r)
{
    if (!r->slack_checked)
        return;
    for (uintptr_t a = r->area_lo; a < r->start; a++)
        EXPECT(*(unsigned char *)a == CANARY, "byte %p before the region was written",
               (void *)a);
    for (uintptr_t a = r->end; a < r->area_hi; a++)
        EXPECT(*(unsigned char *)a == CANARY, "byte %p after the region was written",
               (void *)a);
}

/* A new region [start, end) is in use now: slack of other kinds inside it is no
 * longer the caller's to check. */
static void unclaim_slack(uintptr_t start, uintptr_t end)
{
    for (int i = 0; i < MAXK; i++) {
        if (!g_k[i].live)
            continue;
        for (unsigned r = 0; r < g_k[i].nreg; r++) {
            struct mregion *g = &g_k[i].reg[r];
            if ((g->area_lo < end && start < g->start) || (g->end < end && start < g->area_hi))
                g->slack_checked = false;
        }
    }
}

/* ---- areas and their expected results ----------------------------------------------- */

struct area {
    void *addr;
    size_t size;
    unsigned flags;
    bool real; /* inside a slot: may be written */
};

static struct area rd_area(bool with_flags)
{
    struct area a = {0};
    uint8_t sel = u8();
    unsigned slot = u8() % NSLOTS;
    size_t off = u32() % SLOT_SPAN, room = SLOT_SPAN - off;
    uint32_t v = u32();
    switch (sel & 7) {
    case 0: a.size = v % (2 * g_page + 1); break;                /* tiny */
    case 1: a.size = v % (room + 1); break;                      /* anything */
    case 2: a.size = room - v % (room < g_page ? room : g_page); break; /* the rest */
    case 3: a.size = 64 * KiB + v % (64 * KiB); break;
    case 4: a.size = v % (16 * g_page); break;
    case 5: off &= ~(g_page - 1); a.size = (1 + v % 64) * g_page; break; /* aligned */
    case 6: a.size = v % (room + 1); break;
    default: /* bad arguments that must be refused before any byte is touched */
        a.flags = with_flags ? (u8() & 3) : 0;
        switch (v % 3) {
        case 0: a.addr = NULL; a.size = g_page * 4; break;
        case 1: a.addr = g_slot[slot] + off; a.size = 0; break;
        default: a.addr = (void *)(UINTPTR_MAX - 2 * g_page + 1); a.size = 4 * g_page; break;
        }
        return a;
    }
    if (a.size > room)
        a.size = room;
    a.addr = g_slot[slot] + off;
    a.real = true;
    uint8_t f = with_flags ? u8() : 0;
    a.flags = f & 3;
    if (f & 0x80)
        a.flags |= 1u << (2 + (f >> 4 & 7)); /* an unknown flag */
    return a;
}

static int expected_add(const struct area *a, unsigned nreg)
{
    uintptr_t lo = (uintptr_t)a->addr;
    if (a->addr == NULL || a->size == 0 || lo + a->size < lo)
        return MEMKIND_ERROR_INVALID;
    if (a->flags & ~(unsigned)(MEMKIND_REGION_ZEROED | MEMKIND_REGION_PURGE))
        return MEMKIND_ERROR_INVALID;
    uintptr_t start = align_up(lo, g_page), end = (lo + a->size) & ~(uintptr_t)(g_page - 1);
    if (start >= end)
        return MEMKIND_ERROR_REGION_TOO_SMALL;
    if (nreg >= MAXREG)
        return MEMKIND_ERROR_TOOMANY;
    if (overlaps_live_region(start, end))
        return MEMKIND_ERROR_REGION_OVERLAP;
    return MEMKIND_SUCCESS;
}

/* Before a call expected to succeed: slack of other kinds that the region covers
 * is no longer checked, and a ZEROED region must really be zero. */
static void prepare_area(const struct area *a)
{
    uintptr_t lo = (uintptr_t)a->addr;
    uintptr_t start = align_up(lo, g_page), end = (lo + a->size) & ~(uintptr_t)(g_page - 1);
    unclaim_slack(start, end);
    if (!(a->flags & MEMKIND_REGION_ZEROED))
        return;
    /* Private anonymous memory reads as zero after MADV_DONTNEED. */
    EXPECT(madvise((void *)start, end - start, MADV_DONTNEED) == 0, "madvise");
}

static void record_region(int ki, const struct area *a)
{
    struct mkind *m = &g_k[ki];
    uintptr_t lo = (uintptr_t)a->addr;
    struct mregion *r = &m->reg[m->nreg];
    r->area_lo = lo;
    r->area_hi = lo + a->size;
    r->start = align_up(lo, g_page);
    r->end = r->area_hi & ~(uintptr_t)(g_page - 1);
    stamp_slack(r);
    m->nreg++;
}

/* ---- operations ------------------------------------------------------------------------ */

static int rd_kind(void) { return u8() % MAXK; }

static void op_create(void)
{
    int ki = rd_kind();
    for (int n = 0; n < MAXK && g_k[ki].live; n++)
        ki = (ki + 1) % MAXK;
    if (g_k[ki].live || g_creates >= MAX_CREATES)
        return;
    g_creates++;
    uint8_t method = u8() % 4;
    struct area a = rd_area(method != 0);
    memkind_t out = (memkind_t)g_bogus;
    int expect, err;
    if (method == 3) { /* memkind_create(&MEMKIND_FIXED_OPS) and then a region */
        char name[32];
        snprintf(name, sizeof(name), "fuzz_%llu", g_names++);
        err = memkind_create(&MEMKIND_FIXED_OPS, name, &out);
        EXPECT(err == MEMKIND_SUCCESS, "memkind_create(&MEMKIND_FIXED_OPS): %d", err);
        memset(&g_k[ki], 0, sizeof(g_k[ki]));
        g_k[ki].k = out;
        g_k[ki].live = true;
        strcpy(g_k[ki].name, name);
        expect = expected_add(&a, 0);
        if (expect == MEMKIND_SUCCESS)
            prepare_area(&a);
        err = memkind_fixed_add_region(out, a.addr, a.size, a.flags);
        EXPECT(err == expect, "memkind_fixed_add_region: %d, expected %d", err, expect);
        if (err == MEMKIND_SUCCESS)
            record_region(ki, &a);
        return;
    }
    bool null_out = method == 0 && a.real && (u8() & 15) == 0;
    expect = null_out ? MEMKIND_ERROR_INVALID : expected_add(&a, 0);
    if (expect == MEMKIND_SUCCESS)
        prepare_area(&a);
    if (method == 0)
        err = memkind_create_fixed(a.addr, a.size, null_out ? NULL : &out);
    else
        err = memkind_create_fixed_flags(a.addr, a.size, a.flags, &out);
    EXPECT(err == expect, "memkind_create_fixed%s(%p, %zu, %#x): %d, expected %d",
           method ? "_flags" : "", a.addr, a.size, a.flags, err, expect);
    if (err != MEMKIND_SUCCESS) {
        EXPECT(out == (memkind_t)g_bogus, "*kind changed on failure");
        return;
    }
    memset(&g_k[ki], 0, sizeof(g_k[ki]));
    g_k[ki].k = out;
    g_k[ki].live = true;
    record_region(ki, &a);
}

static void op_add_region(void)
{
    int ki = rd_kind();
    struct area a = rd_area(true);
    struct mkind *m = &g_k[ki];
    memkind_t k = m->k;
    int expect;
    if (k == NULL)
        expect = MEMKIND_ERROR_INVALID;
    else if (!m->live)
        expect = MEMKIND_ERROR_DESTROYED;
    else
        expect = expected_add(&a, m->nreg);
    if (expect == MEMKIND_SUCCESS)
        prepare_area(&a);
    int err = memkind_fixed_add_region(k, a.addr, a.size, a.flags);
    EXPECT(err == expect, "memkind_fixed_add_region(%p, %zu, %#x): %d, expected %d", a.addr,
           a.size, a.flags, err, expect);
    if (err == MEMKIND_SUCCESS)
        record_region(ki, &a);
}

/* The answer of a malloc-like call on a live kind: NULL is checked against the
 * rules, a block is adopted. */
static void after_alloc(int ki, int slot, void *p, size_t size, size_t align, bool zero,
                        bool overflow, int err_after)
{
    struct mkind *m = &g_k[ki];
    if (overflow) {
        EXPECT(p == NULL && err_after == ENOMEM, "calloc overflow: %p errno %d", p,
               err_after);
        oom_settle(ki, false);
        return;
    }
    if (size == 0 && !m->allow_zero) {
        EXPECT(p == NULL && err_after == ERRNO_MARK, "size 0: %p errno %d", p, err_after);
        oom_settle(ki, false);
        return;
    }
    if (is_sizes_error(size)) {
        EXPECT(p == NULL && err_after == ENOMEM, "size %zu: %p errno %d", size, p, err_after);
        oom_settle(ki, false);
        return;
    }
    if (p == NULL) {
        EXPECT(err_after == ENOMEM, "NULL with errno %d for %zu bytes", err_after, size);
        check_enomem(ki, size, align);
        return;
    }
    oom_settle(ki, true);
    adopt(slot, ki, p, size, align, zero);
}

static void op_malloc(void)
{
    int ki = rd_kind(), slot = free_block_slot(u8());
    size_t size = rd_size();
    struct mkind *m = &g_k[ki];
    if (slot < 0)
        return;
    oom_arm(size);
    errno = ERRNO_MARK;
    void *p = memkind_malloc(m->k, size);
    int e = errno;
    if (!m->live) { /* NULL or destroyed kind */
        EXPECT(p == NULL && e == EINVAL, "malloc on a %s kind: %p errno %d",
               m->k ? "destroyed" : "NULL", p, e);
        return;
    }
    after_alloc(ki, slot, p, size, malloc_align(size), false, false, e);
}

static void op_calloc(void)
{
    int ki = rd_kind(), slot = free_block_slot(u8());
    uint8_t sel = u8();
    size_t num = sel & 0x80 ? (size_t)1 << (32 + (sel & 31)) : sel % 9;
    size_t size = rd_size();
    struct mkind *m = &g_k[ki];
    if (slot < 0)
        return;
    size_t total;
    bool overflow = __builtin_mul_overflow(num, size, &total);
    oom_arm(overflow ? 0 : total);
    errno = ERRNO_MARK;
    void *p = memkind_calloc(m->k, num, size);
    int e = errno;
    if (!m->live) {
        EXPECT(p == NULL && e == EINVAL, "calloc on a dead kind: %p errno %d", p, e);
        return;
    }
    after_alloc(ki, slot, p, overflow ? 0 : total, malloc_align(total), true, overflow, e);
}

static size_t rd_alignment(void)
{
    uint8_t v = u8();
    switch (v >> 6) {
    case 0:
    case 1: return (size_t)8 << (v % 20); /* 8 B .. 4 MiB */
    case 2: return (size_t)1 << (v % 64);  /* incl. 1, 2, 4 (bad) and 2^63 */
    default: {
        static const size_t bad[] = {0, 3, 12, 24, 4097, 65535, SIZE_MAX, (size_t)3 << 40};
        return bad[v % 8];
    }
    }
}

static void op_memalign(void)
{
    int ki = rd_kind(), slot = free_block_slot(u8());
    size_t align = rd_alignment(), size = rd_size();
    struct mkind *m = &g_k[ki];
    if (slot < 0)
        return;
    bool null_ptr = (u8() & 31) == 0;
    void *p = (void *)g_bogus;
    oom_arm(size);
    errno = ERRNO_MARK;
    int err = memkind_posix_memalign(m->k, null_ptr ? NULL : &p, align, size);
    EXPECT(errno == ERRNO_MARK, "posix_memalign changed errno to %d", errno);
    if (null_ptr) {
        EXPECT(err == EINVAL, "posix_memalign(NULL memptr): %d", err);
        return;
    }
    EXPECT(err == 0 || p == NULL, "posix_memalign failed with %d but set *memptr", err);
    bool good_align = align != 0 && (align & (align - 1)) == 0 && align % sizeof(void *) == 0;
    if (!m->live || !good_align) {
        EXPECT(err == EINVAL, "posix_memalign(%s, %zu): %d", m->live ? "live" : "dead", align,
               err);
        return;
    }
    if (size == 0 && !m->allow_zero) {
        EXPECT(err == 0 && p == NULL, "posix_memalign size 0: %d %p", err, p);
        oom_settle(ki, false);
        return;
    }
    if (is_sizes_error(size)) {
        EXPECT(err == ENOMEM, "posix_memalign(%zu): %d", size, err);
        oom_settle(ki, false);
        return;
    }
    if (err != 0) {
        EXPECT(err == ENOMEM, "posix_memalign: %d", err);
        check_enomem(ki, size, align);
        return;
    }
    oom_settle(ki, true);
    adopt(slot, ki, p, size, align, false);
}

/* The kind a caller names for an existing block: its own, or NULL. */
static memkind_t rd_kind_for(const struct mblock *b)
{
    return (u8() & 1) ? NULL : g_k[b->kind].k;
}

static void op_realloc(void)
{
    int slot = u8() % MAXB;
    size_t size = rd_size();
    struct mblock *b = &g_b[slot];
    if (b->p == NULL) { /* realloc(kind, NULL, size) is malloc */
        int ki = rd_kind();
        if (!g_k[ki].live)
            return; /* a NULL kind would allocate from MEMKIND_DEFAULT */
        oom_arm(size);
        errno = ERRNO_MARK;
        void *p = memkind_realloc(g_k[ki].k, NULL, size);
        after_alloc(ki, slot, p, size, malloc_align(size), false, false, errno);
        return;
    }
    if (b->reserved)
        return;
    check_block(b, "before realloc");
    int ki = b->kind;
    struct mkind *m = &g_k[ki];
    memkind_t k = rd_kind_for(b);
    oom_arm(size);
    g_oom_protect = slot;
    errno = ERRNO_MARK;
    unsigned char *q = memkind_realloc(k, b->p, size);
    int e = errno;
    g_oom_protect = -1;
    if (size == 0 && !m->allow_zero) {
        EXPECT(q == NULL, "realloc to 0 returned %p", (void *)q);
        oom_settle(ki, false);
        b->p = NULL; /* freed */
        return;
    }
    if (q == NULL) {
        EXPECT(e == ENOMEM, "realloc NULL with errno %d", e);
        check_block(b, "after a failed realloc");
        if (!is_sizes_error(size))
            check_enomem(ki, size, 16);
        else
            oom_settle(ki, false);
        return;
    }
    EXPECT(!is_sizes_error(size), "realloc to %zu bytes succeeded", size);
    oom_settle(ki, true);
    size_t kept = size < b->size ? size : b->size;
    EXPECT(pattern_ok(q, 0, kept, b->tag), "realloc %p -> %p lost the first %zu bytes",
           (void *)b->p, (void *)q, kept);
    struct mblock old = *b;
    b->p = NULL; /* not in the overlap check */
    size_t usable = memkind_malloc_usable_size(k, q);
    EXPECT(usable >= size, "realloc: usable %zu < %zu", usable, size);
    EXPECT(in_kind(m, q, usable ? usable : 1), "realloc: block outside the kind's regions");
    EXPECT((uintptr_t)q % malloc_align(size) == 0, "realloc: block %p misaligned", (void *)q);
    check_no_overlap(q, usable, slot);
    *b = old;
    b->p = q;
    b->size = size;
    b->usable = usable;
    pattern_fill(q, kept, size, b->tag);
}

static void op_free(void)
{
    int slot = u8() % MAXB;
    struct mblock *b = &g_b[slot];
    if (b->p == NULL) {
        memkind_free(g_k[slot % MAXK].k, NULL); /* ignored */
        return;
    }
    if (b->reserved)
        return;
    check_block(b, "before free");
    memkind_free(rd_kind_for(b), b->p);
    b->p = NULL;
}

static void op_usable(void)
{
    int slot = u8() % MAXB;
    struct mblock *b = &g_b[slot];
    if (b->p == NULL) {
        EXPECT(memkind_malloc_usable_size(g_k[slot % MAXK].k, NULL) == 0,
               "usable size of NULL");
        return;
    }
    if (b->reserved)
        return;
    size_t u = memkind_malloc_usable_size(rd_kind_for(b), b->p);
    EXPECT(u == b->usable, "usable size changed from %zu to %zu", b->usable, u);
    /* The whole usable size is the caller's to write. */
    pattern_fill(b->p, b->size, u, b->tag);
    b->size = u;
}

static void op_stats(void)
{
    int ki = rd_kind();
    struct mkind *m = &g_k[ki];
    if (m->live) {
        check_stats(ki);
        return;
    }
    struct memkind_fixed_stats st;
    int want = m->k ? MEMKIND_ERROR_DESTROYED : MEMKIND_ERROR_INVALID;
    EXPECT(memkind_fixed_get_stats(m->k, &st) == want, "get_stats of a dead kind");
    EXPECT(memkind_check_available(m->k) == want, "check_available of a dead kind");
    EXPECT(memkind_get_capacity(m->k) == -1, "get_capacity of a dead kind");
    size_t v;
    if (m->k)
        EXPECT(memkind_get_stat(m->k, MEMKIND_STAT_TYPE_ALLOCATED, &v) ==
                   MEMKIND_ERROR_DESTROYED,
               "get_stat of a destroyed kind");
}

/* Purge, and when the kind holds no block: nothing may be lost. */
static void purge_and_check(int ki)
{
    struct mkind *m = &g_k[ki];
    int err = memkind_fixed_purge(m->k);
    EXPECT(err == MEMKIND_SUCCESS, "memkind_fixed_purge: %d", err);
    if (live_bytes(ki, false) != 0)
        return;
    bool any = false;
    for (int i = 0; i < MAXB; i++)
        any |= g_b[i].p != NULL && g_b[i].kind == ki && !g_b[i].reserved;
    if (any)
        return; /* live blocks of usable size 0 */
    struct memkind_fixed_stats st = stats_of(ki);
    size_t reserved = live_bytes(ki, true);
    EXPECT(st.used == reserved, "no block left, purged, yet used %zu (reserved %zu)",
           st.used, reserved);
    EXPECT(st.allocated == 0, "no block left, yet allocated %zu", st.allocated);
    if (reserved == 0 && m->nreg > 0) {
        size_t largest = 0;
        for (unsigned i = 0; i < m->nreg; i++)
            if (m->reg[i].end - m->reg[i].start > largest)
                largest = m->reg[i].end - m->reg[i].start;
        EXPECT(st.largest_free == largest, "largest_free %zu, largest region %zu",
               st.largest_free, largest);
    }
}

static void op_purge(void)
{
    int ki = rd_kind();
    struct mkind *m = &g_k[ki];
    if (m->live) {
        purge_and_check(ki);
        return;
    }
    int want = m->k ? MEMKIND_ERROR_DESTROYED : MEMKIND_ERROR_INVALID;
    EXPECT(memkind_fixed_purge(m->k) == want, "purge of a dead kind");
}

static void destroy_kind(int ki)
{
    struct mkind *m = &g_k[ki];
    for (int i = 0; i < MAXB; i++) {
        if (g_b[i].p != NULL && g_b[i].kind == ki) {
            check_block(&g_b[i], "before destroy");
            g_b[i].p = NULL; /* released with the kind */
        }
    }
    for (unsigned r = 0; r < m->nreg; r++)
        check_slack(&m->reg[r]);
    int err = memkind_destroy_kind(m->k);
    EXPECT(err == MEMKIND_SUCCESS, "memkind_destroy_kind: %d", err);
    m->live = false;
    m->nreg = 0;
}

static void op_destroy(void)
{
    int ki = rd_kind();
    struct mkind *m = &g_k[ki];
    if (m->live) {
        destroy_kind(ki);
        return;
    }
    int want = m->k ? MEMKIND_ERROR_DESTROYED : MEMKIND_ERROR_INVALID;
    EXPECT(memkind_destroy_kind(m->k) == want, "destroy of a dead kind");
}

static void op_allow_zero(void)
{
    int ki = rd_kind();
    bool allow = u8() & 1;
    memkind_set_allow_zero_allocs(g_k[ki].k, allow); /* NULL is ignored */
    if (g_k[ki].live)
        g_k[ki].allow_zero = allow;
}

static void op_reserve(void)
{
    int ki = rd_kind(), slot = free_block_slot(u8());
    size_t size = rd_size();
    struct mkind *m = &g_k[ki];
    if (slot < 0)
        return;
    unsigned char *p = memkind_fixed_mmap(m->k, NULL, size);
    if (!m->live || size == 0 || size > SIZE_MAX - g_page) {
        EXPECT(p == MAP_FAILED, "memkind_fixed_mmap(%zu) on a %s kind: %p", size,
               m->live ? "live" : "dead", (void *)p);
        return;
    }
    if (p == MAP_FAILED)
        return;
    size_t len = align_up(size, g_page);
    EXPECT((uintptr_t)p % g_page == 0 && in_kind(m, p, len),
           "memkind_fixed_mmap: %p+%zu not a page run of the regions", (void *)p, len);
    check_no_overlap(p, len, -1);
    struct mblock *b = &g_b[slot];
    *b = (struct mblock){p, len, len, (unsigned)g_ops, ki, true};
    pattern_fill(p, 0, len, b->tag);
}

/* Allocate blocks of one size until the kind is exhausted. */
static void op_fill(void)
{
    int ki = rd_kind();
    size_t size = rd_size();
    struct mkind *m = &g_k[ki];
    if (!m->live || is_sizes_error(size))
        return;
    size_t floor = capacity_of(m) / 64;
    if (size < floor)
        size = floor;
    if (size == 0)
        size = 1;
    /* Bounded: a callback that frees a block on each ENOMEM keeps this going. */
    for (int n = 0; n < 2 * MAXB; n++) {
        int slot = free_block_slot(0);
        if (slot < 0)
            return;
        oom_arm(size);
        errno = ERRNO_MARK;
        void *p = memkind_malloc(m->k, size);
        after_alloc(ki, slot, p, size, malloc_align(size), false, false, errno);
        if (p == NULL)
            return;
    }
}

/* The callback: what it does is the kind's oom_mode. It runs on this thread with
 * no lock of the library held, so it may free and add regions. */
static int oom_cb(memkind_t kind, size_t size, void *arg)
{
    int ki = (int)(intptr_t)arg;
    struct mkind *m = &g_k[ki];
    EXPECT(ki >= 0 && ki < MAXK && m->live && m->k == kind, "callback for the wrong kind");
    EXPECT(size == g_oom_expect_size, "callback told %zu bytes, asked %zu", size,
           g_oom_expect_size);
    m->oom_calls++;
    switch (m->oom_mode) {
    case OOM_RETRY: return 0;
    case OOM_FREE_ONE: /* the largest block of the kind goes */
    {
        int best = -1;
        for (int i = 0; i < MAXB; i++)
            if (g_b[i].p != NULL && g_b[i].kind == ki && !g_b[i].reserved && i != g_oom_protect &&
                (best < 0 || g_b[i].usable > g_b[best].usable))
                best = i;
        if (best < 0)
            return 1;
        check_block(&g_b[best], "freed by the callback");
        memkind_free(kind, g_b[best].p);
        g_b[best].p = NULL;
        return 0; /* a retry may succeed now */
    }
    case OOM_ADD_REGION: /* a whole free slot, if there is one */
        for (int s = 0; s < NSLOTS && m->nreg < MAXREG; s++) {
            struct area a = {g_slot[s], SLOT_SPAN, 0, true};
            if (expected_add(&a, m->nreg) != MEMKIND_SUCCESS)
                continue;
            prepare_area(&a);
            int err = memkind_fixed_add_region(kind, a.addr, a.size, 0);
            EXPECT(err == MEMKIND_SUCCESS, "add_region from the callback: %d", err);
            record_region(ki, &a);
            return 0;
        }
        return 1;
    default: return 1;
    }
}

static void op_oom(void)
{
    int ki = rd_kind();
    int mode = u8() % OOM_MODES;
    struct mkind *m = &g_k[ki];
    int want = m->live ? MEMKIND_SUCCESS
                       : m->k ? MEMKIND_ERROR_DESTROYED : MEMKIND_ERROR_INVALID;
    int err = memkind_fixed_set_oom_callback(m->k, mode == OOM_NONE ? NULL : oom_cb,
                                             (void *)(intptr_t)ki);
    EXPECT(err == want, "memkind_fixed_set_oom_callback: %d, expected %d", err, want);
    if (m->live)
        m->oom_mode = mode;
}

/* Bad inputs that need no particular kind. */
static void op_bad(void)
{
    uint8_t which = u8();
    int ki = which % MAXK;
    memkind_t bogus = (memkind_t)g_bogus;
    void *p = (void *)g_bogus;
    struct memkind_fixed_stats st;
    switch ((which >> 3) % 12) {
    case 0:
        errno = ERRNO_MARK;
        EXPECT(memkind_malloc(NULL, 64) == NULL && errno == EINVAL, "malloc(NULL kind)");
        errno = ERRNO_MARK;
        EXPECT(memkind_calloc(NULL, 1, 64) == NULL && errno == EINVAL, "calloc(NULL kind)");
        break;
    case 1:
        errno = ERRNO_MARK;
        EXPECT(memkind_posix_memalign(NULL, &p, 64, 64) == EINVAL && p == NULL &&
                   errno == ERRNO_MARK,
               "posix_memalign(NULL kind)");
        break;
    case 2:
        EXPECT(memkind_fixed_get_stats(NULL, &st) == MEMKIND_ERROR_INVALID, "get_stats(NULL)");
        EXPECT(memkind_fixed_get_stats(bogus, &st) == MEMKIND_ERROR_INVALID,
               "get_stats(not a kind)");
        EXPECT(memkind_fixed_get_stats(MEMKIND_DEFAULT, &st) == MEMKIND_ERROR_NOT_FIXED,
               "get_stats(MEMKIND_DEFAULT)");
        if (g_k[ki].live)
            EXPECT(memkind_fixed_get_stats(g_k[ki].k, NULL) == MEMKIND_ERROR_INVALID,
                   "get_stats(kind, NULL)");
        break;
    case 3:
        EXPECT(memkind_fixed_purge(NULL) == MEMKIND_ERROR_INVALID, "purge(NULL)");
        EXPECT(memkind_fixed_purge(bogus) == MEMKIND_ERROR_INVALID, "purge(not a kind)");
        EXPECT(memkind_fixed_purge(MEMKIND_DEFAULT) == MEMKIND_ERROR_NOT_FIXED,
               "purge(MEMKIND_DEFAULT)");
        break;
    case 4:
        EXPECT(memkind_destroy_kind(NULL) == MEMKIND_ERROR_INVALID, "destroy(NULL)");
        EXPECT(memkind_destroy_kind(MEMKIND_DEFAULT) == MEMKIND_ERROR_INVALID,
               "destroy(MEMKIND_DEFAULT)");
        EXPECT(memkind_destroy_kind(bogus) == MEMKIND_ERROR_INVALID, "destroy(not a kind)");
        break;
    case 5:
        memkind_free(NULL, NULL);
        EXPECT(memkind_malloc_usable_size(NULL, NULL) == 0, "usable_size(NULL, NULL)");
        EXPECT(memkind_detect_kind(NULL) == NULL, "detect_kind(NULL)");
        EXPECT(memkind_check_available(NULL) == MEMKIND_ERROR_INVALID, "check_available(NULL)");
        EXPECT(memkind_get_capacity(NULL) == -1, "get_capacity(NULL)");
        break;
    case 6:
        EXPECT(memkind_fixed_add_region(NULL, g_slot[0], SLOT_SPAN, 0) ==
                   MEMKIND_ERROR_INVALID,
               "add_region(NULL)");
        EXPECT(memkind_fixed_add_region(MEMKIND_DEFAULT, g_slot[0], SLOT_SPAN, 0) ==
                   MEMKIND_ERROR_NOT_FIXED,
               "add_region(MEMKIND_DEFAULT)");
        break;
    case 7: { /* memkind_create's own checks */
        memkind_t out = bogus;
        char longname[MEMKIND_NAME_LENGTH + 1];
        memset(longname, 'n', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = '\0';
        EXPECT(memkind_create(NULL, "x", &out) == MEMKIND_ERROR_INVALID, "create(NULL ops)");
        EXPECT(memkind_create(&MEMKIND_FIXED_OPS, NULL, &out) == MEMKIND_ERROR_INVALID,
               "create(NULL name)");
        EXPECT(memkind_create(&MEMKIND_FIXED_OPS, longname, &out) == MEMKIND_ERROR_INVALID,
               "create(long name)");
        struct memkind_ops ops = MEMKIND_FIXED_OPS;
        ops.free = NULL;
        EXPECT(memkind_create(&ops, "fuzz_badops", &out) == MEMKIND_ERROR_BADOPS,
               "create(ops without free)");
        if (g_k[ki].live && g_k[ki].name[0] && g_creates < MAX_CREATES) {
            g_creates++;
            EXPECT(memkind_create(&MEMKIND_FIXED_OPS, g_k[ki].name, &out) ==
                       MEMKIND_ERROR_INVALID,
                   "create(a live kind's name)");
        }
        EXPECT(out == bogus, "*kind changed on failure");
        break;
    }
    case 8: {
        volatile size_t half = SIZE_MAX / 2; /* (no compile-time overflow warning) */
        errno = ERRNO_MARK;
        EXPECT(memkind_calloc(g_k[ki].live ? g_k[ki].k : MEMKIND_DEFAULT, half, 3) == NULL &&
                   errno == ENOMEM,
               "calloc overflow");
        break;
    }
    case 9:
        EXPECT(memkind_fixed_mmap(NULL, NULL, 4096) == MAP_FAILED, "fixed_mmap(NULL)");
        EXPECT(memkind_fixed_mmap(MEMKIND_DEFAULT, NULL, 4096) == MAP_FAILED,
               "fixed_mmap(MEMKIND_DEFAULT)");
        break;
    case 10: { /* a destroyed kind's handle */
        if (g_k[ki].k == NULL || g_k[ki].live)
            break;
        memkind_t k = g_k[ki].k;
        errno = ERRNO_MARK;
        EXPECT(memkind_realloc(k, NULL, 64) == NULL && errno == EINVAL, "realloc(dead)");
        errno = ERRNO_MARK;
        EXPECT(memkind_posix_memalign(k, &p, 64, 64) == EINVAL && p == NULL &&
                   errno == ERRNO_MARK,
               "posix_memalign(dead)");
        EXPECT(memkind_fixed_add_region(k, g_slot[0], SLOT_SPAN, 0) ==
                   MEMKIND_ERROR_DESTROYED,
               "add_region(dead)");
        break;
    }
    default:
        check_all_blocks();
        break;
    }
}

typedef void (*op_fn)(void);
static const op_fn g_opfns[] = {
    op_create,  op_add_region, op_malloc, op_malloc,  op_calloc, op_memalign,
    op_realloc, op_realloc,    op_free,   op_free,    op_free,   op_usable,
    op_stats,   op_purge,      op_destroy, op_allow_zero, op_reserve, op_fill,
    op_bad,     op_oom,
};

/* ---- libFuzzer entry points ---------------------------------------------------------- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    g_page = (size_t)sysconf(_SC_PAGESIZE);
    pattern_init();
    for (int i = 0; i < NSLOTS; i++) {
        size_t len = SLOT_SPAN + 2 * g_page;
        unsigned char *map =
            mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (map == MAP_FAILED ||
            mprotect(map + g_page, SLOT_SPAN, PROT_READ | PROT_WRITE) != 0) {
            perror("fuzz_ops: mmap");
            abort();
        }
        g_slot[i] = map + g_page;
        memset(g_slot[i], 0xa5, SLOT_SPAN); /* fresh memory is not assumed zero */
    }
    atexit(print_count);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (g_page == 0)
        LLVMFuzzerInitialize(NULL, NULL);
    g_in = (struct reader){data, size, 0};
    g_creates = 0;
    g_inputs++;
    for (g_op_in_input = 0; g_in.pos < g_in.len && g_op_in_input < MAX_OPS; g_op_in_input++) {
        uint8_t op = u8();
        g_opfns[op % (sizeof(g_opfns) / sizeof(g_opfns[0]))]();
        g_ops++;
    }
    /* Leave nothing behind: every block freed and checked, every kind purged,
     * checked for lost memory, and destroyed. */
    for (int i = 0; i < MAXB; i++) {
        struct mblock *b = &g_b[i];
        if (b->p != NULL && !b->reserved) {
            check_block(b, "at the end");
            memkind_free(i % 2 ? NULL : g_k[b->kind].k, b->p);
            b->p = NULL;
        }
    }
    for (int ki = 0; ki < MAXK; ki++) {
        if (g_k[ki].live) {
            purge_and_check(ki);
            destroy_kind(ki);
        }
    }
    memset(g_k, 0, sizeof(g_k));
    memset(g_b, 0, sizeof(g_b));
    return 0;
}
