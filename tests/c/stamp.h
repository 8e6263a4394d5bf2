/*
 * stamp.h - what the tests write into blocks and how they read it back, so that
 * a block handed out twice, moved without its contents, or written by the
 * library shows.
 *
 * Three kinds of stamp: one byte value all over (stamp_bytes / bytes_all /
 * bytes_not), a byte sequence (byte i is first + i, so a block moved by a few
 * bytes no longer matches), and a 64-bit tag at both ends of a block (for fills
 * of many blocks, where writing every byte would cost more than the test).
 * The stress tests' long pseudo-random contents are tests/stress/pattern.h.
 */
#ifndef MKF_TEST_STAMP_H
#define MKF_TEST_STAMP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- one byte value ---- */

static inline void stamp_bytes(void *p, size_t n, unsigned char v) { memset(p, v, n); }

/* 1 when all n bytes at p are v (n = 0: 1). */
static inline int bytes_all(const void *p, size_t n, unsigned char v)
{
    const unsigned char *c = p;
    /* Every byte equals the next and the first is v: one memcmp, fast under ASan. */
    return n == 0 || (c[0] == v && memcmp(c, c + 1, n - 1) == 0);
}

/* How many of the n bytes at p are not v. */
static inline size_t bytes_not(const void *p, size_t n, unsigned char v)
{
    const unsigned char *c = p;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += c[i] != v;
    return bad;
}

/* 1 when the bytes at p read v at offsets 0, 1, 2, ... spaced out as they go
 * (offset i + 1 + i / spread next) and at the last byte: a check whose cost grows
 * with the logarithm of n for large blocks. n > 0. */
static inline int bytes_all_sampled(const void *p, size_t n, unsigned char v, size_t spread)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i += 1 + i / spread)
        if (c[i] != v)
            return 0;
    return c[n - 1] == v;
}

/* ---- a byte sequence ---- */

/* Byte i of the n bytes at p becomes (unsigned char)(first + i). */
static inline void stamp_seq(void *p, size_t n, unsigned char first)
{
    unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        c[i] = (unsigned char)(first + i);
}

/* 1 when every byte of the n at p holds the sequence of stamp_seq(p, n, first). */
static inline int seq_intact(const void *p, size_t n, unsigned char first)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i] != (unsigned char)(first + i))
            return 0;
    return 1;
}

/* The same, sampled as bytes_all_sampled(): offsets spaced out, the last byte
 * always. n > 0. */
static inline int seq_intact_sampled(const void *p, size_t n, unsigned char first,
                                     size_t spread)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i += 1 + i / spread)
        if (c[i] != (unsigned char)(first + i))
            return 0;
    return c[n - 1] == (unsigned char)(first + n - 1);
}

/* ---- a tag at both ends ---- */

/* The tag of block number i of a fill: distinct for every i, never 0. */
static inline uint64_t end_tag_of(size_t i)
{
    return 0x9e3779b97f4a7c15ull * (i + 1) ^ 0x5bd1e995ull;
}

/* Write the tag of block i into the first and the last 8 bytes of the size bytes
 * at p (size >= 8). */
static inline void end_tag_write(void *p, size_t size, size_t i)
{
    uint64_t t = end_tag_of(i);
    memcpy(p, &t, sizeof t);
    memcpy((char *)p + size - sizeof t, &t, sizeof t);
}

/* 1 when both ends of the block still hold the tag of block i. */
static inline int end_tag_intact(const void *p, size_t size, size_t i)
{
    uint64_t a, b, t = end_tag_of(i);
    memcpy(&a, p, sizeof a);
    memcpy(&b, (const char *)p + size - sizeof b, sizeof b);
    return a == t && b == t;
}

#endif
