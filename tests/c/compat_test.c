/*
 * compat_test.c - a program written for memkind's fixed kind, built unchanged
 * against memkind-fixed through the compat headers (<memkind.h>). It does what
 * memkind's documentation shows: a kind on a 32 MiB mmap'd area, 512 B, 8 MiB and
 * 16 MiB blocks, NULL for a further 16 MiB, free all, destroy.
 */
#include <memkind.h>
#include <memkind/internal/memkind_fixed.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

static int failures;
#define EXPECT(cond)                                                                   \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "line %d: expected %s\n", __LINE__, #cond);                \
            failures++;                                                                \
        }                                                                              \
    } while (0)

int main(void)
{
    const size_t size = 32 * 1024 * 1024;
    void *area = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED)
        return 2;

    memkind_t kind = NULL;
    int err = memkind_create_fixed(area, size, &kind);
    if (err) {
        char msg[MEMKIND_ERROR_MESSAGE_SIZE];
        memkind_error_message(err, msg, sizeof(msg));
        fprintf(stderr, "%s\n", msg);
        return 1;
    }
    char *small = memkind_malloc(kind, 512);
    char *medium = memkind_malloc(kind, 8 * 1024 * 1024);
    char *large = memkind_malloc(kind, 16 * 1024 * 1024);
    EXPECT(small != NULL && medium != NULL && large != NULL);
    char *end = (char *)area + size;
    EXPECT(small >= (char *)area && small + 512 <= end);
    EXPECT(medium >= (char *)area && medium + 8 * 1024 * 1024 <= end);
    EXPECT(large >= (char *)area && large + 16 * 1024 * 1024 <= end);
    strcpy(small, "written in a fixed kind");
    memset(medium, 1, 8 * 1024 * 1024);
    memset(large, 2, 16 * 1024 * 1024);

    errno = 0;
    char *more = memkind_malloc(kind, 16 * 1024 * 1024);
    EXPECT(more == NULL);
    EXPECT(errno == ENOMEM);

    EXPECT(strcmp(small, "written in a fixed kind") == 0);
    EXPECT(memkind_malloc_usable_size(kind, small) >= 512);
    EXPECT(memkind_detect_kind(large) == kind);
    EXPECT(memkind_check_available(kind) == MEMKIND_SUCCESS);
    EXPECT(memkind_get_capacity(kind) == (ssize_t)size);

    memkind_free(kind, small);
    memkind_free(kind, medium);
    memkind_free(NULL, large);
    /* With the blocks freed, the 16 MiB fits now. */
    more = memkind_malloc(kind, 16 * 1024 * 1024);
    EXPECT(more != NULL);
    memkind_free(kind, more);
    EXPECT(memkind_destroy_kind(kind) == MEMKIND_SUCCESS);

    /* memkind's other way in: memkind_create() with MEMKIND_FIXED_OPS. */
    struct memkind_ops ops = MEMKIND_FIXED_OPS;
    EXPECT(ops.create == memkind_fixed_create && ops.destroy == memkind_fixed_destroy);
    EXPECT(ops.mmap == memkind_fixed_mmap);
    munmap(area, size);
    printf("compat_test: %d passed, %d failed\n", failures ? 0 : 1, failures ? 1 : 0);
    return failures ? 1 : 0;
}
