#include "core/policy/budget.h"

#include <stddef.h>

void rt_budget_cfg_default(rt_budget_cfg *c)
{
    c->ratio = RT_BUDGET_RATIO;
    c->min_retries = RT_BUDGET_MIN_RETRIES;
    c->window_ms = RT_BUDGET_WINDOW_MS;
    c->buckets = RT_BUDGET_BUCKETS;
}

void rt_budget_init(rt_budget *b, const rt_budget_cfg *cfg)
{
    if (cfg)
        b->cfg = *cfg;
    else
        rt_budget_cfg_default(&b->cfg);
    if (!(b->cfg.ratio >= 0.0)) /* also catches NaN */
        b->cfg.ratio = 0.0;
    rt_window_init(&b->w, b->cfg.window_ms, b->cfg.buckets);
    b->denied = 0;
}

void rt_budget_on_request(rt_budget *b, uint64_t now_ms) { rt_window_add(&b->w, now_ms, 0, 1); }

void rt_budget_on_retry(rt_budget *b, uint64_t now_ms) { rt_window_add(&b->w, now_ms, 1, 1); }

void rt_budget_note_denied(rt_budget *b) { b->denied++; }

uint64_t rt_budget_allowed(const rt_budget *b, uint64_t now_ms)
{
    double share = b->cfg.ratio * (double)rt_window_sum(&b->w, now_ms, 0);
    /* Truncate: 0.2 of 4 requests is no retry beyond the floor yet. */
    uint64_t s = share >= 1e18 ? (uint64_t)1e18 : (uint64_t)share;
    return s + b->cfg.min_retries;
}

bool rt_budget_can_retry(const rt_budget *b, uint64_t now_ms)
{
    return rt_window_sum(&b->w, now_ms, 1) < rt_budget_allowed(b, now_ms);
}

double rt_budget_usage(const rt_budget *b, uint64_t now_ms)
{
    uint64_t allowed = rt_budget_allowed(b, now_ms);
    uint64_t used = rt_window_sum(&b->w, now_ms, 1);
    if (allowed == 0)
        return used ? 1.0 : 0.0;
    return (double)used / (double)allowed;
}
