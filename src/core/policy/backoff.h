/* Exponential backoff with jitter, for the guide's retry-with-backoff class
 * ("wait 2 seconds, then 4, then 8 on consecutive 429s").
 *
 * The ceiling for attempt k (0 for the first retry) is min(cap, base * 2^k).
 * The jitter mode decides where in [0, ceiling] the wait falls:
 *   RT_JITTER_EQUAL (default)  uniform in [ceiling/2, ceiling]: the wait
 *                              still grows 1-2 s, 2-4 s, 4-8 s and is never
 *                              near zero, yet clients that failed together
 *                              spread over half the interval;
 *   RT_JITTER_FULL             uniform in [0, ceiling]: the widest spread,
 *                              but a retry may go out at once, which is
 *                              wrong after an overload signal;
 *   RT_JITTER_NONE             exactly the ceiling (tests, single clients). */
#ifndef ROTOR_CORE_POLICY_BACKOFF_H
#define ROTOR_CORE_POLICY_BACKOFF_H

#include <stdint.h>

#include "core/base/rng.h"

#define RT_BACKOFF_BASE_MS 2000u
#define RT_BACKOFF_CAP_MS 30000u

typedef enum rt_jitter {
    RT_JITTER_EQUAL = 0,
    RT_JITTER_FULL,
    RT_JITTER_NONE,
} rt_jitter;

typedef struct rt_backoff {
    uint32_t base_ms; /* ceiling of the first retry's wait */
    uint32_t cap_ms;  /* no wait exceeds this */
    rt_jitter jitter;
} rt_backoff;

/* base 2000 ms, cap 30000 ms, equal jitter. */
void rt_backoff_default(rt_backoff *b);
/* min(cap, base * 2^attempt), without overflow for any attempt. */
uint64_t rt_backoff_ceiling(const rt_backoff *b, unsigned attempt);
/* The wait before retry number `attempt` (0-based), drawn from rng. */
uint64_t rt_backoff_delay(const rt_backoff *b, unsigned attempt, rt_rng *rng);

#endif
