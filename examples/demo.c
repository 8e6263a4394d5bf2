/*
 * demo.c - the main job: a heap inside a memory area the program set up itself.
 *
 *     bazel run //examples:demo
 *
 * It maps 64 MiB, makes a fixed kind on it, allocates, frees, shows that freed
 * memory serves other sizes at once, and prints the kind's statistics.
 */
#include <memkind_fixed.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define MiB ((size_t)1 << 20)

static void print_stats(const char *when, memkind_t kind)
{
    struct memkind_fixed_stats st;
    if (memkind_fixed_get_stats(kind, &st) != MEMKIND_SUCCESS)
        return;
    printf("  %-28s used %6.2f MiB, free %6.2f MiB (largest %6.2f MiB), "
           "allocated %6.2f MiB, peak %6.2f MiB, failed %llu\n",
           when, st.used / (double)MiB, st.free / (double)MiB,
           st.largest_free / (double)MiB, st.allocated / (double)MiB,
           st.peak_used / (double)MiB, (unsigned long long)st.failed_allocs);
}

static void die(const char *what, int err)
{
    char msg[MEMKIND_ERROR_MESSAGE_SIZE];
    memkind_error_message(err, msg, sizeof(msg));
    fprintf(stderr, "%s: %s\n", what, msg);
}

int main(void)
{
    const size_t size = 64 * MiB;
    char *area = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    memkind_t kind;
    /* Fresh anonymous memory is zero: say so, and calloc skips clearing it. */
    int err = memkind_create_fixed_flags(area, size, MEMKIND_REGION_ZEROED, &kind);
    if (err != MEMKIND_SUCCESS) {
        die("memkind_create_fixed", err);
        return 1;
    }
    printf("fixed kind on [%p, %p): %zd bytes\n", (void *)area, (void *)(area + size),
           memkind_get_capacity(kind));
    print_stats("new:", kind);

    /* A few blocks of different sizes: all inside the area. */
    size_t sizes[] = {24, 512, 4096, 100000, 3 * MiB};
    void *blocks[5];
    for (int i = 0; i < 5; i++) {
        blocks[i] = memkind_malloc(kind, sizes[i]);
        memset(blocks[i], 'a' + i, sizes[i]);
        printf("  malloc(%8zu) -> %p  offset %9td  usable %zu\n", sizes[i], blocks[i],
               (char *)blocks[i] - area, memkind_malloc_usable_size(kind, blocks[i]));
    }
    char *grown = memkind_realloc(kind, blocks[4], 6 * MiB);
    printf("  realloc(3 MiB -> 6 MiB) %s\n", grown == blocks[4] ? "grew in place" : "moved");
    blocks[4] = grown;
    print_stats("after 5 blocks:", kind);
    for (int i = 0; i < 5; i++)
        memkind_free(kind, blocks[i]);

    /* Fill the whole area with 64-byte blocks, free them, then ask for 8 MiB
     * blocks: the freed memory serves them at once. */
    static void *small[(64 << 20) / 64];
    size_t n = 0;
    while ((small[n] = memkind_malloc(kind, 64)) != NULL)
        n++;
    printf("  %zu blocks of 64 B fit (%.1f%% of the area), then ENOMEM (errno %d)\n", n,
           100.0 * (double)n * 64 / (double)size, errno);
    print_stats("full of 64 B blocks:", kind);
    for (size_t i = 0; i < n; i++)
        memkind_free(kind, small[i]);
    void *large[8];
    int m = 0;
    while (m < 8 && (large[m] = memkind_malloc(kind, 8 * MiB)) != NULL)
        m++;
    printf("  after freeing them: %d blocks of 8 MiB fit\n", m);
    print_stats("with the 8 MiB blocks:", kind);
    while (m > 0)
        memkind_free(kind, large[--m]);

    int *zeros = memkind_calloc(kind, 1000, sizeof(int));
    int sum = 0;
    for (int i = 0; i < 1000; i++)
        sum += zeros[i];
    printf("  calloc on reused memory: sum of 1000 ints = %d\n", sum);
    memkind_free(kind, zeros);

    memkind_update_cached_stats();
    size_t allocated = 0, resident = 0;
    memkind_get_stat(kind, MEMKIND_STAT_TYPE_ALLOCATED, &allocated);
    memkind_get_stat(kind, MEMKIND_STAT_TYPE_RESIDENT, &resident);
    printf("  memkind_get_stat: allocated %zu B, resident %.2f MiB\n", allocated,
           resident / (double)MiB);
    err = memkind_destroy_kind(kind);
    printf("destroyed: %s\n", err == MEMKIND_SUCCESS ? "ok" : "failed");
    munmap(area, size);
    return err == MEMKIND_SUCCESS ? 0 : 1;
}
