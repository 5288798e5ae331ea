#include "core/base/rng.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void rt_rng_seed(rt_rng *r, uint64_t seed)
{
    r->s[0] = splitmix64(&seed);
    r->s[1] = splitmix64(&seed);
    if ((r->s[0] | r->s[1]) == 0)
        r->s[1] = 1;
}

uint64_t rt_rng_next(rt_rng *r)
{
    uint64_t s1 = r->s[0];
    const uint64_t s0 = r->s[1];
    r->s[0] = s0;
    s1 ^= s1 << 23;
    r->s[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return r->s[1] + s0;
}

uint64_t rt_rng_below(rt_rng *r, uint64_t bound)
{
    if (bound == 0)
        return 0;
    /* Rejection sampling: discard the short top range so every value is
     * equally likely. */
    uint64_t limit = UINT64_MAX - (UINT64_MAX % bound);
    uint64_t v;
    do {
        v = rt_rng_next(r);
    } while (v >= limit);
    return v % bound;
}

double rt_rng_unit(rt_rng *r)
{
    return (double)(rt_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}
