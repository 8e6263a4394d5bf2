/*
 * heap_mkf.c - memkind-fixed's shared kind (the subject), its private fixed kind
 * on an anonymous mapping (the reference of one process), and a bare segment: a
 * POSIX shared memory object sized, reserved with posix_fallocate() and mapped, as
 * the shared kind makes its own, with no heap in it. The bare segment shows what
 * creating and attaching cost before any heap does its part.
 *
 * The kinds are reached through libmemkind_fixed.so, as programs reach them.
 */
#include "shm_heaps.h"

#include <memkind_fixed.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void report(const char *what, const char *name, int err)
{
    char msg[MEMKIND_ERROR_MESSAGE_SIZE];
    memkind_error_message(err, msg, sizeof(msg));
    fprintf(stderr, "shm_worker: %s(%s): %s\n", what, name, msg);
}

/* ---- the shared kind: the handle is the kind ------------------------------------ */

static struct shm_heap *shared_create(const char *name, size_t size)
{
    memkind_t kind;
    int err = memkind_shared_create(name, size, 0, &kind);
    if (err != 0) {
        report("memkind_shared_create", name, err);
        return NULL;
    }
    return (struct shm_heap *)kind;
}

static struct shm_heap *shared_attach(const char *name)
{
    memkind_t kind;
    int err = memkind_shared_attach(name, &kind);
    if (err != 0) {
        report("memkind_shared_attach", name, err);
        return NULL;
    }
    return (struct shm_heap *)kind;
}

static void shared_detach(struct shm_heap *h)
{
    memkind_shared_detach((memkind_t)h);
}

static void shared_unlink(const char *name)
{
    memkind_shared_unlink(name);
}

static void *shared_alloc(struct shm_heap *h, size_t size)
{
    return memkind_malloc((memkind_t)h, size);
}

static void shared_free(struct shm_heap *h, void *p)
{
    memkind_free((memkind_t)h, p);
}

static uint64_t shared_offset(struct shm_heap *h, void *p)
{
    return memkind_shared_offset((memkind_t)h, p);
}

static void *shared_ptr(struct shm_heap *h, uint64_t offset)
{
    return memkind_shared_ptr((memkind_t)h, offset);
}

const struct shm_type shm_mkf_shared = {
    .id = "mkf_shared",
    .label = "mkf shared",
    .about = "memkind-fixed's shared kind (memkind_shared_create/attach), through "
             "libmemkind_fixed.so",
    .shared = true,
    .create = shared_create,
    .attach = shared_attach,
    .detach = shared_detach,
    .unlink = shared_unlink,
    .alloc = shared_alloc,
    .free = shared_free,
    .offset = shared_offset,
    .ptr = shared_ptr,
};

/* ---- the private fixed kind on an anonymous mapping ----------------------------- */

struct private_heap {
    memkind_t kind; /* first: the calls load it from the handle */
    void *region;
    size_t size;
};

static struct shm_heap *private_create(const char *name, size_t size)
{
    struct private_heap *p = malloc(sizeof(*p));
    if (p == NULL)
        return NULL;
    p->size = size;
    p->region = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p->region == MAP_FAILED) {
        free(p);
        return NULL;
    }
    int err = memkind_create_fixed(p->region, size, &p->kind);
    if (err != 0) {
        report("memkind_create_fixed", name, err);
        munmap(p->region, size);
        free(p);
        return NULL;
    }
    return (struct shm_heap *)p;
}

static void private_detach(struct shm_heap *h)
{
    struct private_heap *p = (struct private_heap *)h;
    memkind_destroy_kind(p->kind);
    munmap(p->region, p->size);
    free(p);
}

static void private_unlink(const char *name)
{
    (void)name;
}

static void *private_alloc(struct shm_heap *h, size_t size)
{
    return memkind_malloc(((struct private_heap *)h)->kind, size);
}

static void private_free(struct shm_heap *h, void *ptr)
{
    memkind_free(((struct private_heap *)h)->kind, ptr);
}

const struct shm_type shm_mkf_private = {
    .id = "mkf_private",
    .label = "mkf private",
    .about = "memkind-fixed's private fixed kind (memkind_create_fixed on an anonymous "
             "mapping): the reference of one process",
    .shared = false,
    .create = private_create,
    .detach = private_detach,
    .unlink = private_unlink,
    .alloc = private_alloc,
    .free = private_free,
};

/* ---- a bare segment: shm_open, ftruncate, posix_fallocate, mmap ----------------- */

struct bare_heap {
    void *base;
    size_t size;
    int fd;
};

static struct shm_heap *bare_map(int fd, size_t size)
{
    struct bare_heap *b = malloc(sizeof(*b));
    if (b == NULL)
        return NULL;
    b->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (b->base == MAP_FAILED) {
        free(b);
        return NULL;
    }
    b->size = size;
    b->fd = fd;
    return (struct shm_heap *)b;
}

static struct shm_heap *bare_create(const char *name, size_t size)
{
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return NULL;
    int err = ftruncate(fd, (off_t)size) != 0 ? errno : posix_fallocate(fd, 0, (off_t)size);
    struct shm_heap *h = err == 0 ? bare_map(fd, size) : NULL;
    if (h == NULL)
        close(fd);
    return h;
}

static struct shm_heap *bare_attach(const char *name)
{
    int fd = shm_open(name, O_RDWR, 0);
    if (fd < 0)
        return NULL;
    struct stat st;
    struct shm_heap *h = fstat(fd, &st) == 0 ? bare_map(fd, (size_t)st.st_size) : NULL;
    if (h == NULL)
        close(fd);
    return h;
}

static void bare_detach(struct shm_heap *h)
{
    struct bare_heap *b = (struct bare_heap *)h;
    munmap(b->base, b->size);
    close(b->fd);
    free(b);
}

static void bare_unlink(const char *name)
{
    shm_unlink(name);
}

const struct shm_type shm_bare = {
    .id = "bare_segment",
    .label = "bare segment",
    .about = "no heap: shm_open + ftruncate + posix_fallocate + mmap (what reserving "
             "and mapping a segment costs here)",
    .shared = true,
    .create = bare_create,
    .attach = bare_attach,
    .detach = bare_detach,
    .unlink = bare_unlink,
};
