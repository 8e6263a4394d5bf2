/*
 * consumer.c - a program that uses the installed (or depended-on) library the way
 * a user's program does: a kind on a memory area of its own, blocks that must lie
 * inside it, a clean destroy. Built by tests/packaging/c.sh three ways: with
 * pkg-config, with CMake (CMakeLists.txt here) and with Bazel (WORKSPACE, BUILD).
 * Prints one line and exits 0 when every check holds, 1 otherwise.
 */
#ifdef CONSUMER_MEMKIND_H
#include <memkind.h> /* a program written for memkind, through memkind-fixed-compat */
#else
#include <memkind_fixed.h>
#endif

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define AREA_SIZE ((size_t)32 << 20)
#define BLOCKS 1000

static int inside(const void *p, size_t n, const char *area)
{
    return p != NULL && (const char *)p >= area && (const char *)p + n <= area + AREA_SIZE;
}

int main(void)
{
    char *area = mmap(NULL, AREA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    memkind_t kind;
    int err = memkind_create_fixed(area, AREA_SIZE, &kind);
    if (err) {
        char msg[MEMKIND_ERROR_MESSAGE_SIZE];
        memkind_error_message(err, msg, sizeof(msg));
        fprintf(stderr, "consumer: memkind_create_fixed: %s\n", msg);
        return 1;
    }
    int failures = 0;
    static void *blocks[BLOCKS];
    for (size_t i = 0; i < BLOCKS; i++) {
        size_t n = 16 + 29 * i; /* 16 B to 29 KiB, 14.5 MiB in all */
        blocks[i] = memkind_malloc(kind, n);
        if (!inside(blocks[i], n, area)) {
            if (failures++ == 0)
                fprintf(stderr, "consumer: block %zu (%zu bytes) at %p is outside [%p, %p)\n", i, n,
                        blocks[i], (void *)area, (void *)(area + AREA_SIZE));
            continue;
        }
        memset(blocks[i], (int)(i & 0xff), n);
    }
    if (memkind_detect_kind(blocks[0]) != kind) {
        fprintf(stderr, "consumer: memkind_detect_kind does not name the kind\n");
        failures++;
    }
    for (size_t i = 0; i < BLOCKS; i++)
        memkind_free(NULL, blocks[i]);
    int *zeros = memkind_calloc(kind, 1000, sizeof(int));
    long sum = 0;
    for (int i = 0; zeros != NULL && i < 1000; i++)
        sum += zeros[i];
    if (!inside(zeros, 1000 * sizeof(int), area) || sum != 0) {
        fprintf(stderr, "consumer: calloc gave %p with sum %ld\n", (void *)zeros, sum);
        failures++;
    }
    memkind_free(kind, zeros);
    if (memkind_destroy_kind(kind) != 0) {
        fprintf(stderr, "consumer: memkind_destroy_kind failed\n");
        failures++;
    }
    munmap(area, AREA_SIZE);
    printf("consumer: %d blocks inside [%p, %p), version %d, %s\n", BLOCKS, (void *)area,
           (void *)(area + AREA_SIZE), memkind_get_version(), failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
