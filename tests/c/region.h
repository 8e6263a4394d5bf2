/*
 * region.h - test regions: anonymous mappings, optionally between PROT_NONE
 * guard pages so that any byte written outside the region faults at once; and a
 * fixed kind made on one.
 */
#ifndef MKF_TEST_REGION_H
#define MKF_TEST_REGION_H

#include "check.h"

#include <memkind_fixed.h>

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct test_region {
    void *base;   /* the usable region */
    size_t size;
    void *map;    /* the whole mapping, guards included */
    size_t map_size;
};

/* `size` bytes (a multiple of the page size) with a guard page on each side,
 * pre-filled with `fill` so that "fresh memory is zero" is never true by luck. */
static inline struct test_region region_new(size_t size, int fill)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    struct test_region r = {0};
    r.map_size = size + 2 * page;
    r.map = mmap(NULL, r.map_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
    if (r.map == MAP_FAILED)
        return (struct test_region){0};
    r.base = (char *)r.map + page;
    r.size = size;
    if (mprotect(r.base, size, PROT_READ | PROT_WRITE) != 0)
        return (struct test_region){0};
    if (fill >= 0)
        memset(r.base, fill, size);
    return r;
}

/* region_new(), for a test that cannot go on without the region. */
static inline struct test_region region_require(size_t size, int fill)
{
    struct test_region r = region_new(size, fill);
    REQUIRE(r.base != NULL);
    return r;
}

static inline void region_free(struct test_region *r)
{
    if (r->map != NULL)
        munmap(r->map, r->map_size);
    r->map = r->base = NULL;
}

/* A fixed kind on the whole region; a test that cannot make it cannot go on. */
static inline memkind_t region_kind(const struct test_region *r)
{
    memkind_t kind = NULL;
    REQUIRE(memkind_create_fixed(r->base, r->size, &kind) == 0);
    return kind;
}

#endif
