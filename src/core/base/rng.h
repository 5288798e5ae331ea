/* The injected random source and clock conventions of the core.
 *
 * Nothing in src/core reads a clock or an entropy source of its own. Time is
 * passed in as `uint64_t now_ms` (monotonic milliseconds, whatever epoch the
 * caller chose), and randomness comes from an rt_rng the caller seeds. Tests
 * seed it with a constant and get the same decisions every run. */
#ifndef ROTOR_CORE_BASE_RNG_H
#define ROTOR_CORE_BASE_RNG_H

#include <stdint.h>

typedef struct rt_rng {
    uint64_t s[2]; /* xorshift128+ state; never both zero */
} rt_rng;

/* Seed deterministically from one 64-bit value (splitmix64 expansion). */
void rt_rng_seed(rt_rng *r, uint64_t seed);
/* Next 64 uniformly distributed bits. */
uint64_t rt_rng_next(rt_rng *r);
/* Uniform integer in [0, bound); bound == 0 returns 0. Unbiased. */
uint64_t rt_rng_below(rt_rng *r, uint64_t bound);
/* Uniform double in [0, 1). */
double rt_rng_unit(rt_rng *r);

#endif
