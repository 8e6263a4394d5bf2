/*
 * fill.h - fill a kind with blocks of one size until its first failure, and free
 * them again: how the tests measure what a region holds.
 */
#ifndef MKF_TEST_FILL_H
#define MKF_TEST_FILL_H

#include "check.h"
#include "region.h"

#include <memkind_fixed.h>

#include <errno.h>

/* A fill's result: how many blocks, and what went wrong with them. */
struct fill {
    size_t n;       /* blocks kept before the first failure (or max) */
    int err;        /* errno of that failure (0 when max was reached) */
    size_t outside; /* blocks not inside the region */
};

/* memkind_malloc(kind, size) until the first failure or `max` blocks kept in
 * blocks[]. With a region r, a block not inside it is counted in `outside` and
 * neither written nor kept. Each kept block is passed to tag(p, size, its index
 * in blocks) when tag is not NULL. */
static inline struct fill fill_kind(memkind_t kind, const struct test_region *r, size_t size,
                                    void **blocks, size_t max,
                                    void (*tag)(void *p, size_t size, size_t i))
{
    struct fill f = {0, 0, 0};
    while (f.n < max) {
        errno = 0;
        void *p = memkind_malloc(kind, size);
        if (p == NULL) {
            f.err = errno;
            break;
        }
        if (r != NULL && !in_range(p, size, r->base, r->size)) {
            f.outside++;
            continue; /* never written */
        }
        if (tag != NULL)
            tag(p, size, f.n);
        blocks[f.n++] = p;
    }
    return f;
}

/* Free the n blocks of a fill; with `intact`, check each first (intact(p, size,
 * its index) == 0: damaged). Returns how many were damaged. */
static inline size_t free_blocks(memkind_t kind, void **blocks, size_t n, size_t size,
                                 int (*intact)(const void *p, size_t size, size_t i))
{
    size_t damaged = 0;
    for (size_t i = 0; i < n; i++) {
        if (intact != NULL && !intact(blocks[i], size, i))
            damaged++;
        memkind_free(kind, blocks[i]);
    }
    return damaged;
}

#endif
