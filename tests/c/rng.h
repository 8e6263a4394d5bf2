/*
 * rng.h - the tests' pseudo-random numbers: deterministic, seeded by the test,
 * so that a failing run can be run again with the same sequence.
 */
#ifndef MKF_TEST_RNG_H
#define MKF_TEST_RNG_H

#include <stdint.h>

/* One step of Marsaglia's xorshift64 (13, 7, 17) on *s, which must not be 0;
 * returns the new state. */
static inline uint64_t rng_xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* One output of splitmix64: any seed, 0 included, and well mixed from the first
 * output on (xorshift64 needs a few steps to leave a small seed behind). */
static inline uint64_t rng_splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#endif
