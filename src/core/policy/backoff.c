#include "core/policy/backoff.h"

void rt_backoff_default(rt_backoff *b)
{
    b->base_ms = RT_BACKOFF_BASE_MS;
    b->cap_ms = RT_BACKOFF_CAP_MS;
    b->jitter = RT_JITTER_EQUAL;
}

uint64_t rt_backoff_ceiling(const rt_backoff *b, unsigned attempt)
{
    uint64_t c = b->base_ms;
    /* Doubling stops once the cap is reached, so the shift never overflows
     * whatever the attempt number. */
    for (unsigned i = 0; i < attempt && c < b->cap_ms; i++)
        c <<= 1;
    return c < b->cap_ms ? c : b->cap_ms;
}

uint64_t rt_backoff_delay(const rt_backoff *b, unsigned attempt, rt_rng *rng)
{
    uint64_t ceil = rt_backoff_ceiling(b, attempt);
    switch (b->jitter) {
    case RT_JITTER_FULL:
        return rt_rng_below(rng, ceil + 1);
    case RT_JITTER_NONE:
        return ceil;
    case RT_JITTER_EQUAL:
    default: {
        uint64_t half = ceil / 2;
        return ceil - half + rt_rng_below(rng, half + 1);
    }
    }
}
