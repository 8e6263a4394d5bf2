/* header_test.c - the public headers compile cleanly under -Wall -Wextra -pedantic
 * -Werror (see BUILD) and declare what they promise. */
#include <memkind_fixed.h>
#include <memkind.h>
#include <memkind/internal/memkind_arena.h>
#include <memkind/internal/memkind_default.h>
#include <memkind/internal/memkind_fixed.h>
#include <memkind/internal/memkind_private.h>

#include <stdio.h>

int main(void)
{
    struct memkind_ops ops = MEMKIND_FIXED_OPS;
    memkind_t (*detect)(void *) = memkind_detect_kind;
    int ok = ops.create == memkind_fixed_create && detect != NULL &&
             MEMKIND_ERROR_MESSAGE_SIZE >= 64;
    printf("header_test: %d passed, %d failed\n", ok, !ok);
    return ok ? 0 : 1;
}
