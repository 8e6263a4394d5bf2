/*
 * pattern.h - the contents that the fuzzer and the stress tests write into blocks.
 *
 * Byte i of a block with tag t is pattern_buf[(t * 257 + i) % PATTERN_PERIOD], a
 * pseudo-random sequence, so a block that was moved by a few bytes, mixed with
 * another block, or partly overwritten no longer matches. Filling and checking
 * go by memcpy / memcmp in runs of up to one period, which keeps a check of a
 * multi-MiB block cheap even under the sanitizers.
 *
 * pattern_init() must run once before any other thread uses the pattern.
 */
#ifndef MKF_TEST_PATTERN_H
#define MKF_TEST_PATTERN_H

#include "tests/c/rng.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PATTERN_PERIOD ((size_t)65536)

/* Two periods back to back: any run of one period starts somewhere in the first. */
static unsigned char pattern_buf[2 * PATTERN_PERIOD];

static inline void pattern_init(void)
{
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (size_t i = 0; i < PATTERN_PERIOD; i++) {
        rng_xorshift(&x);
        pattern_buf[i] = pattern_buf[i + PATTERN_PERIOD] = (unsigned char)(x >> 32);
    }
}

static inline size_t pattern_start(unsigned tag, size_t i)
{
    return ((size_t)(tag & 0xff) * 257 + i) % PATTERN_PERIOD;
}

/* Write the pattern of `tag` into bytes [from, to) of the block at p. */
static inline void pattern_fill(unsigned char *p, size_t from, size_t to, unsigned tag)
{
    while (from < to) {
        size_t n = to - from < PATTERN_PERIOD ? to - from : PATTERN_PERIOD;
        memcpy(p + from, pattern_buf + pattern_start(tag, from), n);
        from += n;
    }
}

/* 1 when bytes [from, to) of the block at p hold the pattern of `tag`. */
static inline int pattern_ok(const unsigned char *p, size_t from, size_t to, unsigned tag)
{
    while (from < to) {
        size_t n = to - from < PATTERN_PERIOD ? to - from : PATTERN_PERIOD;
        if (memcmp(p + from, pattern_buf + pattern_start(tag, from), n) != 0)
            return 0;
        from += n;
    }
    return 1;
}

#endif
