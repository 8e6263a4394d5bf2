/*
 * heap_process.c - the two process-wide heaps the fixed kind is measured against:
 * the private jemalloc's default arenas (the same jemalloc build the core uses,
 * so differences are the core's own) and glibc's malloc.
 */
#include "heaps.h"

#include <stdio.h>
#include <stdlib.h>

#define JEMALLOC_NO_DEMANGLE
#include <jemalloc/jemalloc.h>

/* These heaps need no state; open() returns a token that is never dereferenced. */
static char process_token;

static struct heap *process_open(void *region, size_t size, bool zeroed)
{
    (void)region, (void)size, (void)zeroed;
    return (struct heap *)&process_token;
}

static void process_close(struct heap *h) { (void)h; }

/* Default flags: an automatic arena chosen per thread and the implicit tcache,
 * jemalloc's fastest configuration. */
static void *jedefault_alloc(struct heap *h, size_t size)
{
    (void)h;
    return je_mallocx(size, 0);
}

static void jedefault_free(struct heap *h, void *ptr)
{
    (void)h;
    je_dallocx(ptr, 0);
}

static void *jedefault_realloc(struct heap *h, void *ptr, size_t size)
{
    (void)h;
    return je_rallocx(ptr, size, 0);
}

/* A new arena with jemalloc's default hooks, one block, and arena.<i>.destroy:
 * what creating a kind costs when no region map is involved. */
static bool je_arena_cycle(void)
{
    unsigned arena;
    size_t len = sizeof(arena);
    if (je_mallctl("arenas.create", &arena, &len, NULL, 0) != 0)
        return false;
    void *p = je_mallocx(64, MALLOCX_ARENA(arena) | MALLOCX_TCACHE_NONE);
    if (p != NULL)
        je_dallocx(p, MALLOCX_TCACHE_NONE);
    char name[64];
    snprintf(name, sizeof(name), "arena.%u.destroy", arena);
    return je_mallctl(name, NULL, NULL, NULL, 0) == 0 && p != NULL;
}

static void *glibc_alloc(struct heap *h, size_t size)
{
    (void)h;
    return malloc(size);
}

static void glibc_free(struct heap *h, void *ptr)
{
    (void)h;
    free(ptr);
}

static void *glibc_realloc(struct heap *h, void *ptr, size_t size)
{
    (void)h;
    return realloc(ptr, size);
}

const struct heap_type heap_je_default = {
    .id = "jemalloc_default",
    .label = "jemalloc default",
    .about = "the same private jemalloc 5.3.0, je_mallocx/rallocx(..., 0): automatic arenas, "
             "implicit tcache, ordinary mmap'd memory",
    .regional = false,
    .open = process_open,
    .close = process_close,
    .alloc = jedefault_alloc,
    .free = jedefault_free,
    .realloc = jedefault_realloc,
    .arena_cycle = je_arena_cycle,
};

const struct heap_type heap_glibc = {
    .id = "glibc",
    .label = "glibc malloc",
    .about = "glibc malloc/realloc/free (Debian 12, glibc 2.36)",
    .regional = false,
    .open = process_open,
    .close = process_close,
    .alloc = glibc_alloc,
    .free = glibc_free,
    .realloc = glibc_realloc,
};

const struct heap_type *const heap_types[HEAP_COUNT] = {
    [HEAP_FIXED] = &heap_fixed,
    [HEAP_FIXED_PURGE] = &heap_fixed_purge,
    [HEAP_JE_DEFAULT] = &heap_je_default,
    [HEAP_HOOKS_TCACHE] = &heap_hooks_tcache,
    [HEAP_HOOKS_NOTCACHE] = &heap_hooks_notcache,
    [HEAP_GLIBC] = &heap_glibc,
    [HEAP_MEMKIND] = &heap_memkind,
    [HEAP_TBBPOOL] = &heap_tbbpool,
    [HEAP_MI_DEBIAN] = &heap_mi_debian,
    [HEAP_MI_2] = &heap_mi_2,
    [HEAP_MI_3] = &heap_mi_3,
};
