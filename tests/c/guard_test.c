/*
 * guard_test.c - a randomised malloc / calloc / realloc / posix_memalign / free
 * stress on a region with PROT_NONE guard pages on both sides, checking the
 * contents of every live block. Any byte written outside the region faults.
 */
#include "check.h"
#include "region.h"
#include "rng.h"
#include "stamp.h"

#include <memkind_fixed.h>

#include <errno.h>
#include <string.h>

#define MiB ((size_t)1 << 20)
enum { SLOTS = 4096, OPS = 300000 };

struct block {
    unsigned char *p;
    size_t size;
    unsigned char tag;
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) { return rng_xorshift(&rng); }

/* Sizes mostly small, some large, a few huge relative to the region. */
static size_t pick_size(size_t region)
{
    uint64_t r = next() % 1000;
    if (r < 700)
        return 1 + next() % 512;
    if (r < 950)
        return 1 + next() % 65536;
    if (r < 995)
        return 1 + next() % (2 * MiB);
    return 1 + next() % (region / 2);
}

/* Byte i of a block holds tag + i; checked sampled, both ends included. */
static int intact(const struct block *b) { return seq_intact_sampled(b->p, b->size, b->tag, 64); }

static void stamp(struct block *b) { stamp_seq(b->p, b->size, b->tag); }

int main(void)
{
    struct test_region r = region_require(48 * MiB, 0xcd);
    memkind_t kind = region_kind(&r);
    static struct block blocks[SLOTS];
    size_t allocs = 0, ooms = 0, bad_place = 0, bad_content = 0, bad_zero = 0;

    for (int op = 0; op < OPS; op++) {
        struct block *b = &blocks[next() % SLOTS];
        uint64_t what = next() % 10;
        if (b->p != NULL && what < 4) {
            bad_content += !intact(b);
            memkind_free(what == 0 ? NULL : kind, b->p);
            b->p = NULL;
        } else if (b->p != NULL && what < 7) {
            bad_content += !intact(b);
            size_t size = pick_size(r.size);
            unsigned char *q = memkind_realloc(kind, b->p, size);
            if (q == NULL) {
                ooms++;
                bad_content += !intact(b); /* untouched on failure */
                continue;
            }
            size_t kept = size < b->size ? size : b->size;
            struct block old = {q, kept, b->tag};
            bad_content += !intact(&old);
            b->p = q;
            b->size = size;
            stamp(b);
        } else if (b->p == NULL) {
            size_t size = pick_size(r.size);
            unsigned char *q = NULL;
            if (what == 7) {
                q = memkind_calloc(kind, 1, size);
                if (q != NULL)
                    for (size_t i = 0; i < size; i += 1 + i / 32)
                        bad_zero += q[i] != 0;
            } else if (what == 8) {
                size_t align = (size_t)8 << (next() % 14);
                if (memkind_posix_memalign(kind, (void **)&q, align, size) == 0)
                    bad_place += (uintptr_t)q % align != 0;
            } else {
                q = memkind_malloc(kind, size);
            }
            if (q == NULL) {
                ooms++;
                continue;
            }
            allocs++;
            bad_place += !in_range(q, size, r.base, r.size);
            b->p = q;
            b->size = size;
            b->tag = (unsigned char)next();
            stamp(b);
        }
    }
    for (int i = 0; i < SLOTS; i++) {
        if (blocks[i].p != NULL) {
            bad_content += !intact(&blocks[i]);
            memkind_free(kind, blocks[i].p);
        }
    }
    CHECK(allocs > OPS / 10);
    CHECK_EQ(bad_place, 0);
    CHECK_EQ(bad_content, 0);
    CHECK_EQ(bad_zero, 0);
    printf("guard_test: %zu allocations, %zu out-of-memory answers\n", allocs, ooms);
    /* Everything freed: the whole region is one free extent again. */
    memkind_fixed_purge(kind);
    struct memkind_fixed_stats st;
    CHECK_EQ(memkind_fixed_get_stats(kind, &st), 0);
    CHECK(st.largest_free >= r.size - 4 * MiB);
    CHECK_EQ(memkind_destroy_kind(kind), 0);
    region_free(&r);
    return check_done("guard_test");
}
