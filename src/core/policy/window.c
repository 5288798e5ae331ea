#include "core/policy/window.h"

#include <string.h>

void rt_window_init(rt_window *w, uint64_t span_ms, uint32_t nbuckets)
{
    if (nbuckets < 1)
        nbuckets = 1;
    if (nbuckets > RT_WINDOW_MAX_BUCKETS)
        nbuckets = RT_WINDOW_MAX_BUCKETS;
    w->nbuckets = nbuckets;
    w->bucket_ms = span_ms / nbuckets;
    if (w->bucket_ms == 0)
        w->bucket_ms = 1;
    rt_window_reset(w);
}

void rt_window_reset(rt_window *w)
{
    memset(w->b, 0, sizeof w->b);
}

void rt_window_add(rt_window *w, uint64_t now_ms, unsigned c, uint32_t k)
{
    if (c > 1)
        return;
    uint64_t epoch = now_ms / w->bucket_ms;
    rt_window_bucket *b = &w->b[epoch % w->nbuckets];
    /* The slot still holds an older (or, after a clock step back, newer)
     * bucket: its counts belong to another period, start afresh. */
    if (b->epoch != epoch) {
        b->epoch = epoch;
        b->n[0] = b->n[1] = 0;
    }
    b->n[c] = (b->n[c] > UINT32_MAX - k) ? UINT32_MAX : b->n[c] + k;
}

uint64_t rt_window_sum(const rt_window *w, uint64_t now_ms, unsigned c)
{
    if (c > 1)
        return 0;
    uint64_t cur = now_ms / w->bucket_ms;
    uint64_t oldest = cur >= w->nbuckets - 1 ? cur - (w->nbuckets - 1) : 0;
    uint64_t sum = 0;
    for (uint32_t i = 0; i < w->nbuckets; i++) {
        const rt_window_bucket *b = &w->b[i];
        if (b->epoch >= oldest && b->epoch <= cur)
            sum += b->n[c];
    }
    return sum;
}
