/*
 * shared_fork_test.c - a fixed kind whose region is a shared mapping, inherited
 * through fork(). Parent and child would each run a copy of the heap's bookkeeping
 * over the same bytes, so the child gets a clear error (EPERM,
 * MEMKIND_ERROR_SHARED_FORKED) instead of blocks the parent also hands out, and
 * destroying the kind in the child leaves the parent's bytes alone. A kind on a
 * private mapping keeps working in the child.
 */
#define _GNU_SOURCE
#include "check.h"
#include "proc.h"
#include "stamp.h"

#include <memkind_fixed.h>

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB ((size_t)1 << 20)

static void *map(size_t size, int flags, int fd)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, fd, 0);
    REQUIRE(p != MAP_FAILED);
    return p;
}

struct kinds {
    memkind_t anon, file, priv;
    void *anon_base, *file_base, *priv_base;
    unsigned char *small, *big;
};

/* Runs in the child; returns its exit status. */
static int child(void *arg)
{
    struct kinds *k = arg;
    errno = 0;
    CHECK(memkind_malloc(k->anon, 64) == NULL);
    CHECK_EQ(errno, EPERM);
    errno = 0;
    CHECK(memkind_calloc(k->file, 1, 64) == NULL);
    CHECK_EQ(errno, EPERM);
    errno = 0;
    CHECK(memkind_realloc(k->anon, k->small, 4096) == NULL);
    CHECK_EQ(errno, EPERM);
    void *p = (void *)1;
    CHECK_EQ(memkind_posix_memalign(k->anon, &p, 64, 64), EPERM);
    CHECK(p == NULL);
    errno = 0;
    memkind_free(k->anon, k->small);
    CHECK_EQ(errno, EPERM);
    errno = 0;
    memkind_free(NULL, k->big); /* found from the pointer: the same refusal */
    CHECK_EQ(errno, EPERM);
    CHECK_EQ(memkind_check_available(k->anon), MEMKIND_ERROR_SHARED_FORKED);
    struct memkind_fixed_stats st;
    CHECK_EQ(memkind_fixed_get_stats(k->file, &st), MEMKIND_ERROR_SHARED_FORKED);
    CHECK_EQ(memkind_fixed_purge(k->file), MEMKIND_ERROR_SHARED_FORKED);
    char msg[MEMKIND_ERROR_MESSAGE_SIZE];
    memkind_error_message(MEMKIND_ERROR_SHARED_FORKED, msg, sizeof(msg));
    CHECK(strstr(msg, "fork") != NULL);

    /* The private mapping was copied: the child has a heap of its own there. */
    void *q = memkind_malloc(k->priv, 1000);
    CHECK(q != NULL && (char *)q >= (char *)k->priv_base &&
          (char *)q < (char *)k->priv_base + 4 * MiB);
    memkind_free(k->priv, q);

    /* Dropping the child's copy of the bookkeeping must not purge the pages
     * (the file kind gives pages back with MEMKIND_REGION_PURGE). */
    CHECK_EQ(memkind_destroy_kind(k->file), MEMKIND_SUCCESS);
    CHECK_EQ(memkind_destroy_kind(k->anon), MEMKIND_SUCCESS);
    CHECK_EQ(memkind_destroy_kind(k->priv), MEMKIND_SUCCESS);
    return check_failed == 0 ? 0 : 1;
}

int main(void)
{
    struct kinds k;
    k.anon_base = map(4 * MiB, MAP_SHARED | MAP_ANONYMOUS, -1);
    int fd = memfd_create("mkf_shared_fork_test", 0);
    REQUIRE(fd >= 0 && ftruncate(fd, 8 * MiB) == 0);
    k.file_base = map(8 * MiB, MAP_SHARED, fd);
    k.priv_base = map(4 * MiB, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    REQUIRE(memkind_create_fixed(k.anon_base, 4 * MiB, &k.anon) == MEMKIND_SUCCESS);
    REQUIRE(memkind_create_fixed_flags(k.file_base, 8 * MiB, MEMKIND_REGION_PURGE, &k.file) ==
            MEMKIND_SUCCESS);
    REQUIRE(memkind_create_fixed(k.priv_base, 4 * MiB, &k.priv) == MEMKIND_SUCCESS);

    k.small = memkind_malloc(k.anon, 64);
    k.big = memkind_malloc(k.file, 2 * MiB);
    REQUIRE(k.small != NULL && k.big != NULL);
    memset(k.small, 0xaa, 64);
    memset(k.big, 0xbb, 2 * MiB);
    /* Blocks in the parent's thread caches, as in any running program. */
    void *warm = memkind_malloc(k.anon, 64);
    memkind_free(k.anon, warm);

    int status = proc_run(child, &k);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* The parent's blocks are intact and its heap goes on. */
    CHECK(bytes_all(k.small, 64, 0xaa));
    CHECK(bytes_all(k.big, 2 * MiB, 0xbb));
    int same = 0;
    void *p[200];
    for (int i = 0; i < 200; i++) {
        p[i] = memkind_malloc(k.anon, 64);
        CHECK(p[i] != NULL);
        same += p[i] == (void *)k.small;
    }
    CHECK_EQ(same, 0);
    for (int i = 0; i < 200; i++)
        memkind_free(k.anon, p[i]);
    memkind_free(k.anon, k.small);
    memkind_free(NULL, k.big);
    CHECK_EQ(memkind_check_available(k.anon), MEMKIND_SUCCESS);
    struct memkind_fixed_stats st;
    CHECK_EQ(memkind_fixed_purge(k.file), MEMKIND_SUCCESS);
    CHECK_EQ(memkind_fixed_get_stats(k.file, &st), MEMKIND_SUCCESS);
    CHECK_EQ(st.used, 0);
    CHECK_EQ(memkind_destroy_kind(k.anon), MEMKIND_SUCCESS);
    CHECK_EQ(memkind_destroy_kind(k.file), MEMKIND_SUCCESS);
    CHECK_EQ(memkind_destroy_kind(k.priv), MEMKIND_SUCCESS);
    munmap(k.anon_base, 4 * MiB);
    munmap(k.file_base, 8 * MiB);
    munmap(k.priv_base, 4 * MiB);
    close(fd);
    return check_done("shared_fork_test");
}
