/*
 * fuzz_segment.c - a shared heap's segment as hostile input (issue 25).
 *
 * Each input makes a small shared heap, gives it a life (small and large blocks,
 * some freed, one parked, one process's blocks left behind), lets go of it, then
 * damages the segment as any process that maps it could: words of the header,
 * of the page map and of the process slots, the lock word included. A new
 * attachment then allocates, frees, resizes, reads statistics, purges and
 * reclaims on it. The library must answer every call with a result or an error
 * code: no crash, no read or write outside the mapping (the core is built with
 * ASan; the library's own reservation leaves at least one PROT_NONE page after
 * the mapping), no wait beyond the lock's bound (set to 20 ms here).
 *
 * Input: records of 11 bytes [what][index: 2][value: 8] until a record whose
 * `what` is 0xff, then operations of 3 bytes [op][size: 2].
 *   what % 4 = 0: header word index % (header words)   = value
 *              1: page map word index % pages           = value (or, when
 *                 index is odd, a run length only: value's low 32 bits)
 *              2: slot word index % (slots x slot words) = value
 *              3: the lock word (4 bytes)                = value
 */
#include "shared/layout.h"

#include <memkind_fixed.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEAP ((size_t)1 << 20)

static unsigned long long g_inputs, g_attached, g_calls, g_refused;

static void report(void)
{
    printf("fuzz_segment: %llu inputs, %llu attached after damage, %llu calls, %llu "
           "refused attaches\n", g_inputs, g_attached, g_calls, g_refused);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    setenv("MKF_SHARED_TEST_LOCK_TIMEOUT_MS", "20", 1);
    atexit(report);
    return 0;
}

static bool known_error(int err)
{
    switch (err) {
    case MEMKIND_SUCCESS:
    case MEMKIND_ERROR_INVALID:
    case MEMKIND_ERROR_SHARED_BAD_MAGIC:
    case MEMKIND_ERROR_SHARED_VERSION:
    case MEMKIND_ERROR_SHARED_SIZE:
    case MEMKIND_ERROR_SHARED_FULL:
    case MEMKIND_ERROR_SHARED_CORRUPT:
    case MEMKIND_ERROR_MMAP:
    case MEMKIND_ERROR_MALLOC:
    case MEMKIND_ERROR_TOOMANY:
    case MEMKIND_ERROR_ARENAS_CREATE:
    case MEMKIND_ERROR_OPERATION_FAILED:
        return true;
    default:
        return false;
    }
}

/* A life before the damage: blocks of both kinds, some kept (they stay in the
 * detached slot), one large block parked. */
static void live_a_little(memkind_t k)
{
    void *keep[8];
    for (int i = 0; i < 8; i++)
        keep[i] = memkind_malloc(k, i % 2 ? 48 : 20000);
    for (int i = 0; i < 8; i += 3)
        memkind_free(k, keep[i]);
    void *big = memkind_malloc(k, 40000);
    memkind_free(k, big); /* parked */
}

static void check_ptr(memkind_t k, void *p, size_t size)
{
    if (p == NULL)
        return;
    if (memkind_shared_offset(k, p) == 0 ||
        memkind_shared_offset(k, (char *)p + (size ? size - 1 : 0)) == 0)
        abort(); /* a block outside the heap */
    memset(p, 0xa5, size);
}

static void use(memkind_t k, const uint8_t *ops, size_t n)
{
    void *held[16] = {0};
    size_t sizes[16] = {0};
    for (size_t i = 0; i + 3 <= n; i += 3) {
        unsigned op = ops[i], slot = op % 16;
        size_t size = (size_t)ops[i + 1] << 8 | ops[i + 2];
        if (op & 0x80)
            size *= 64; /* up to 4 MiB: large blocks, and more than the heap */
        g_calls++;
        switch (op >> 4 & 7) {
        case 0:
        case 1:
            if (held[slot] == NULL) {
                held[slot] = memkind_malloc(k, size);
                sizes[slot] = size;
                check_ptr(k, held[slot], size);
            } else {
                memkind_free(k, held[slot]);
                held[slot] = NULL;
            }
            break;
        case 2: {
            void *q = memkind_realloc(k, held[slot], size);
            if (q != NULL || size == 0) {
                held[slot] = q;
                sizes[slot] = size;
                check_ptr(k, q, size);
            }
            break;
        }
        case 3:
            if (held[slot] != NULL &&
                memkind_malloc_usable_size(k, held[slot]) < sizes[slot])
                abort();
            break;
        case 4: {
            struct memkind_shared_stats st;
            if (!known_error(memkind_shared_get_stats(k, &st)))
                abort();
            break;
        }
        case 5: {
            size_t bytes;
            if (!known_error(memkind_shared_reclaim(k, &bytes)))
                abort();
            break;
        }
        case 6:
            (void)memkind_fixed_purge(k);
            break;
        default: {
            void *p = NULL;
            if (memkind_posix_memalign(k, &p, (size_t)16 << (size % 12), size % 50000) == 0)
                check_ptr(k, p, size % 50000);
            memkind_free(k, p);
            break;
        }
        }
    }
    for (int i = 0; i < 16; i++)
        memkind_free(k, held[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_inputs++;
    memkind_t a;
    if (memkind_shared_create(NULL, HEAP, 0, &a) != 0)
        abort();
    live_a_little(a);
    int fd = dup(memkind_shared_fd(a));
    if (fd < 0)
        abort();
    /* The creator is gone, holding blocks: a dead slot, as after a crash. */
    if (memkind_shared_detach(a) != 0)
        abort();

    struct stat st;
    if (fstat(fd, &st) != 0)
        abort();
    size_t len = (size_t)st.st_size;
    uint8_t *seg = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (seg == MAP_FAILED)
        abort();
    struct mkf_shm_header *h = (struct mkf_shm_header *)seg;
    uint64_t npages = h->npages, map_off = h->map_off;
    size_t i = 0;
    for (; i + 11 <= size && data[i] != 0xff; i += 11) {
        unsigned index = (unsigned)data[i + 1] << 8 | data[i + 2];
        uint64_t value;
        memcpy(&value, data + i + 3, 8);
        switch (data[i] % 4) {
        case 0: {
            size_t words = sizeof(*h) / 8;
            memcpy(seg + (index % words) * 8, &value, 8);
            break;
        }
        case 1: {
            uint64_t *w = (uint64_t *)(seg + map_off) + index % npages;
            if (index & 1)
                *w = (*w & 0xffffffffull) | value << W_LEN_SHIFT;
            else
                *w = value;
            break;
        }
        case 2: {
            size_t words = sizeof(h->slots[0]) / 8;
            uint64_t *w = (uint64_t *)&h->slots[(index / words) % MKF_SHM_SLOTS];
            w[index % words] = value;
            break;
        }
        default:
            memcpy(&h->lock, &value, 4);
            break;
        }
    }
    if (i < size)
        i++; /* the 0xff */
    munmap(seg, len);

    memkind_t b;
    int err = memkind_shared_attach_fd(fd, &b);
    if (!known_error(err))
        abort();
    if (err == MEMKIND_SUCCESS) {
        g_attached++;
        use(b, data + i, size - i);
        int derr = memkind_shared_detach(b);
        if (derr != 0)
            abort();
    } else {
        g_refused++;
    }
    close(fd);
    return 0;
}
