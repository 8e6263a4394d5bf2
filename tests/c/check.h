/*
 * check.h - the C tests' tiny check helper.
 *
 * CHECK(cond) records a failure with its location and goes on; CHECK_EQ shows
 * both values. check_done() prints "N passed, N failed" and gives the exit code.
 */
#ifndef MKF_TEST_CHECK_H
#define MKF_TEST_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int check_passed, check_failed;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (cond) {                                                                    \
            check_passed++;                                                            \
        } else {                                                                       \
            check_failed++;                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
        }                                                                              \
    } while (0)

#define CHECK_EQ(a, b)                                                                 \
    do {                                                                               \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                \
        if (check_a_ == check_b_) {                                                    \
            check_passed++;                                                            \
        } else {                                                                       \
            check_failed++;                                                            \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%lld vs %lld)\n",       \
                    __FILE__, __LINE__, #a, #b, check_a_, check_b_);                   \
        }                                                                              \
    } while (0)

/* A test that cannot go on (setup failed). */
#define REQUIRE(cond)                                                                  \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(2);                                                                   \
        }                                                                              \
    } while (0)

static inline int check_done(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
    return check_failed == 0 ? 0 : 1;
}

static inline int in_range(const void *p, size_t len, const void *lo, size_t size)
{
    uintptr_t a = (uintptr_t)p, l = (uintptr_t)lo;
    return a >= l && a + len <= l + size;
}

#endif
