/* A sliding window of event counts over time buckets.
 *
 * The window is a ring of `nbuckets` buckets, each covering `bucket_ms`
 * milliseconds of the caller's clock. Every bucket holds two counters (the
 * caller decides their meaning: requests and failures for a breaker,
 * requests and retries for a budget). A bucket is recycled lazily the next
 * time its slot is written, so the window costs no work while idle and its
 * memory is fixed at RT_WINDOW_MAX_BUCKETS.
 *
 * A sum covers the current bucket and the nbuckets-1 before it: between
 * (nbuckets-1)*bucket_ms and nbuckets*bucket_ms of history, depending on
 * where `now` falls inside the current bucket. */
#ifndef ROTOR_CORE_POLICY_WINDOW_H
#define ROTOR_CORE_POLICY_WINDOW_H

#include <stdint.h>

#define RT_WINDOW_MAX_BUCKETS 16

typedef struct rt_window_bucket {
    uint64_t epoch; /* now_ms / bucket_ms of the counts held */
    uint32_t n[2];  /* the two counters, saturating */
} rt_window_bucket;

typedef struct rt_window {
    uint64_t bucket_ms;
    uint32_t nbuckets;
    rt_window_bucket b[RT_WINDOW_MAX_BUCKETS];
} rt_window;

/* Set up a window spanning span_ms split into nbuckets buckets. nbuckets is
 * clamped to [1, RT_WINDOW_MAX_BUCKETS]; the bucket width is span/nbuckets,
 * at least 1 ms. */
void rt_window_init(rt_window *w, uint64_t span_ms, uint32_t nbuckets);
/* Forget every count. */
void rt_window_reset(rt_window *w);
/* Add k to counter c (0 or 1) in the bucket holding now_ms. */
void rt_window_add(rt_window *w, uint64_t now_ms, unsigned c, uint32_t k);
/* Sum of counter c over the window ending at now_ms. Buckets newer than
 * now_ms (the clock stepped back) are left out. */
uint64_t rt_window_sum(const rt_window *w, uint64_t now_ms, unsigned c);

#endif
