/*
 * shared_peer - the other process of SharedKindTest: a C program on the same shared
 * heap as the Java process, through the C API only.
 *
 *   shared_peer create NAME SIZE    create the heap, then serve commands
 *   shared_peer attach NAME         attach to it, then serve commands
 *
 * Prints "ready", then answers one line per command read from stdin:
 *
 *   check OFFSET SIZE SEED   "ok" when the SIZE bytes at OFFSET hold pattern SEED,
 *                            else "bad <index of the first wrong byte>"
 *   fill OFFSET SIZE SEED    write pattern SEED there; "ok"
 *   alloc SIZE SEED          memkind_malloc + fill; "offset <its offset>"
 *   free OFFSET              memkind_free of the block at OFFSET; "ok"
 *   stats                    memkind_fixed_purge (which takes in the blocks other
 *                            processes freed), then
 *                            "processes <n> remote_frees <n> process_allocated <n>"
 *   quit                     detach (and unlink the name when it created it); "bye"
 *
 * A failed call prints "error <what>: <memkind's message>" and exits 1.
 * The pattern is SharedKindTest.pattern's: byte i of SEED is
 * (SEED * 131 + i * 7 + (i >> 8)) mod 256.
 */
#include <memkind_fixed.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static memkind_t kind;

static unsigned char pattern(uint64_t seed, uint64_t i)
{
    return (unsigned char)(seed * 131 + i * 7 + (i >> 8));
}

static void fail(const char *what, int err)
{
    char msg[MEMKIND_ERROR_MESSAGE_SIZE];
    memkind_error_message(err, msg, sizeof msg);
    printf("error %s: %s\n", what, msg);
    exit(1);
}

/* The SIZE bytes at OFFSET in this process's mapping. */
static unsigned char *at(uint64_t offset, uint64_t size)
{
    unsigned char *p = memkind_shared_ptr(kind, offset);
    if (!p || (size > 0 && memkind_shared_ptr(kind, offset + size - 1) != p + size - 1))
        fail("offset", MEMKIND_ERROR_INVALID);
    return p;
}

int main(int argc, char **argv)
{
    int created = argc == 4 && strcmp(argv[1], "create") == 0;
    int err;
    char line[256];

    if (created)
        err = memkind_shared_create(argv[2], strtoull(argv[3], NULL, 10), 0, &kind);
    else if (argc == 3 && strcmp(argv[1], "attach") == 0)
        err = memkind_shared_attach(argv[2], &kind);
    else {
        fprintf(stderr, "usage: shared_peer create NAME SIZE | attach NAME\n");
        return 2;
    }
    if (err)
        fail(argv[1], err);
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("ready\n");

    while (fgets(line, sizeof line, stdin)) {
        uint64_t offset, size, seed, i;
        if (sscanf(line, "check %" SCNu64 " %" SCNu64 " %" SCNu64, &offset, &size, &seed) == 3) {
            const unsigned char *p = at(offset, size);
            for (i = 0; i < size && p[i] == pattern(seed, i); i++)
                ;
            if (i == size)
                printf("ok\n");
            else
                printf("bad %" PRIu64 "\n", i);
        } else if (sscanf(line, "fill %" SCNu64 " %" SCNu64 " %" SCNu64, &offset, &size, &seed) == 3) {
            unsigned char *p = at(offset, size);
            for (i = 0; i < size; i++)
                p[i] = pattern(seed, i);
            printf("ok\n");
        } else if (sscanf(line, "alloc %" SCNu64 " %" SCNu64, &size, &seed) == 2) {
            unsigned char *p = memkind_malloc(kind, size);
            if (!p)
                fail("alloc", MEMKIND_ERROR_MALLOC);
            for (i = 0; i < size; i++)
                p[i] = pattern(seed, i);
            printf("offset %" PRIu64 "\n", memkind_shared_offset(kind, p));
        } else if (sscanf(line, "free %" SCNu64, &offset) == 1) {
            memkind_free(kind, at(offset, 1));
            printf("ok\n");
        } else if (strcmp(line, "stats\n") == 0) {
            struct memkind_shared_stats s;
            if ((err = memkind_fixed_purge(kind)) || (err = memkind_shared_get_stats(kind, &s)))
                fail("stats", err);
            printf("processes %u remote_frees %" PRIu64 " process_allocated %zu\n",
                   s.processes, s.remote_frees, s.process_allocated);
        } else if (strcmp(line, "quit\n") == 0) {
            if ((err = memkind_shared_detach(kind)))
                fail("detach", err);
            if (created && (err = memkind_shared_unlink(argv[2])))
                fail("unlink", err);
            printf("bye\n");
            return 0;
        } else {
            printf("error unknown command: %s", line);
            return 1;
        }
    }
    return 1; /* stdin closed without quit */
}
