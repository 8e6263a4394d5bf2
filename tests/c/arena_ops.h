/*
 * arena_ops.h - the ops table of an arena kind on ordinary memory, made of the
 * library's memkind_arena_* operations, as a memkind user writes one.
 */
#ifndef MKF_TEST_ARENA_OPS_H
#define MKF_TEST_ARENA_OPS_H

#include <memkind_fixed.h>

static struct memkind_ops test_arena_ops = {
    .create = memkind_arena_create,
    .destroy = memkind_arena_destroy,
    .malloc = memkind_arena_malloc,
    .calloc = memkind_arena_calloc,
    .posix_memalign = memkind_arena_posix_memalign,
    .realloc = memkind_arena_realloc,
    .free = memkind_arena_free,
    .get_arena = memkind_thread_get_arena,
    .malloc_usable_size = memkind_default_malloc_usable_size,
    .get_stat = memkind_arena_get_kind_stat,
};

#endif
