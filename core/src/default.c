/*
 * default.c - the default kind (MEMKIND_DEFAULT) and the memkind_default_*
 * operations: ordinary memory from the private jemalloc's automatic arenas, with
 * jemalloc's own per-thread cache.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

MKF_EXPORT struct memkind_ops MEMKIND_DEFAULT_OPS = {
    .create = memkind_default_create,
    .destroy = memkind_default_destroy,
    .malloc = memkind_default_malloc,
    .calloc = memkind_default_calloc,
    .posix_memalign = memkind_default_posix_memalign,
    .realloc = memkind_default_realloc,
    .free = memkind_default_free,
    .mmap = memkind_default_mmap,
    .malloc_usable_size = memkind_default_malloc_usable_size,
    .get_stat = memkind_default_get_stat,
};

MKF_EXPORT int memkind_default_create(struct memkind *kind, struct memkind_ops *ops,
                                      const char *name)
{
    (void)ops;
    if (kind == NULL || name == NULL || strnlen(name, MEMKIND_NAME_LENGTH) >= MEMKIND_NAME_LENGTH)
        return MEMKIND_ERROR_INVALID;
    return MEMKIND_SUCCESS;
}

MKF_EXPORT int memkind_default_destroy(struct memkind *kind)
{
    (void)kind;
    return MEMKIND_SUCCESS;
}

MKF_EXPORT void *memkind_default_malloc(struct memkind *kind, size_t size)
{
    return mkf_size_ok(kind, &size) ? mkf_je_malloc(size) : NULL;
}

MKF_EXPORT void *memkind_default_calloc(struct memkind *kind, size_t num, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(num, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return mkf_size_ok(kind, &total) ? mkf_je_calloc(1, total) : NULL;
}

MKF_EXPORT int memkind_default_posix_memalign(struct memkind *kind, void **memptr,
                                              size_t alignment, size_t size)
{
    if (memptr == NULL)
        return EINVAL;
    *memptr = NULL;
    if (memkind_posix_check_alignment(kind, alignment) != 0)
        return EINVAL;
    int saved = errno;
    int err = 0;
    if (!mkf_size_ok(kind, &size))
        err = size == 0 ? 0 : ENOMEM;
    else
        err = mkf_je_posix_memalign(memptr, alignment, size);
    errno = saved;
    return err;
}

MKF_EXPORT void *memkind_default_realloc(struct memkind *kind, void *ptr, size_t size)
{
    if (ptr == NULL)
        return memkind_default_malloc(kind, size);
    if (size == 0 && !mkf_zero_allowed(kind)) {
        mkf_je_free(ptr);
        return NULL;
    }
    return mkf_size_ok(kind, &size) ? mkf_je_realloc(ptr, size) : NULL;
}

MKF_EXPORT void memkind_default_free(struct memkind *kind, void *ptr)
{
    (void)kind;
    mkf_je_free(ptr);
}

MKF_EXPORT void *memkind_default_mmap(struct memkind *kind, void *addr, size_t size)
{
    (void)kind;
    return mmap(addr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

MKF_EXPORT size_t memkind_default_malloc_usable_size(struct memkind *kind, void *ptr)
{
    if (ptr == NULL)
        return 0;
    /* Also the usable size of fixed kinds, whose large blocks jemalloc does not know. */
    size_t large = kind != NULL && kind->fixed ? mkf_large_usable(kind, ptr) : 0;
    return large != 0 ? large : mkf_je_sallocx(ptr, 0);
}

MKF_EXPORT int memkind_default_get_stat(memkind_t kind, memkind_stat_type stat, size_t *value)
{
    (void)kind;
    if (value == NULL || (unsigned)stat >= MEMKIND_STAT_TYPE_MAX_VALUE)
        return MEMKIND_ERROR_INVALID;
    mkf_init();
    /* The automatic arenas (and the one for huge requests just after them), minus
     * any that a kind owns. Arenas never used report an error and count 0. */
    size_t sum = 0;
    unsigned n = mkf_je_narenas_auto();
    for (unsigned i = 0; i <= n; i++) {
        size_t v = 0;
        if (mkf_kind_by_arena(i) == NULL && mkf_je_arena_stat(i, stat, &v) == 0)
            sum += v;
    }
    *value = sum;
    return MEMKIND_SUCCESS;
}

/* An arena kind: the default kind's set-up and an arena of its own (arena.c). */
MKF_EXPORT int memkind_arena_create(struct memkind *kind, struct memkind_ops *ops,
                                    const char *name)
{
    int err = memkind_default_create(kind, ops, name);
    if (err != MEMKIND_SUCCESS)
        return err;
    return memkind_arena_create_map(kind, NULL);
}
