#include "core/policy/outlier.h"

#include <stdlib.h>

void rt_outlier_cfg_default(rt_outlier_cfg *c)
{
    c->consecutive = RT_OUTLIER_CONSECUTIVE;
    c->base_ms = RT_OUTLIER_BASE_MS;
    c->max_ms = RT_OUTLIER_MAX_MS;
    c->max_ejected_pct = RT_OUTLIER_MAX_EJECTED_PCT;
    c->quarantine_ms = RT_OUTLIER_QUARANTINE_MS;
    c->decay_ms = RT_OUTLIER_DECAY_MS;
}

int rt_outlier_init(rt_outlier *o, size_t n, const rt_outlier_cfg *cfg)
{
    o->e = NULL;
    o->n = 0;
    if (n > RT_OUTLIER_MAX_ENTRIES)
        return -1;
    if (cfg)
        o->cfg = *cfg;
    else
        rt_outlier_cfg_default(&o->cfg);
    if (o->cfg.consecutive == 0)
        o->cfg.consecutive = 1;
    if (o->cfg.max_ejected_pct > 100)
        o->cfg.max_ejected_pct = 100;
    if (n > 0) {
        o->e = calloc(n, sizeof *o->e);
        if (!o->e)
            return -1;
    }
    o->n = n;
    o->ejections = o->ejections_refused = o->quarantines = 0;
    return 0;
}

void rt_outlier_free(rt_outlier *o)
{
    free(o->e);
    o->e = NULL;
    o->n = 0;
}

bool rt_code_counts_for_outlier(rt_code c)
{
    switch (c) {
    /* The proxy answered about itself. Account-wide answers (quota,
     * suspension) and the provider's refusal of one target are left out:
     * they hit every entry alike or only one domain, so ejecting the entry
     * that happened to carry them would punish it for nothing. */
    case RT_E_proxy_auth_required:
    case RT_E_proxy_auth_failed:
    case RT_E_proxy_overloaded:
    case RT_E_proxy_connect_refused:
    case RT_E_proxy_connect_unsupported:
    case RT_E_proxy_bad_response:
    case RT_E_proxy_error:
    /* The hop between rotor and the proxy. */
    case RT_E_proxy_dns_failed:
    case RT_E_proxy_refused:
    case RT_E_proxy_unreachable:
    case RT_E_proxy_connect_timeout:
    case RT_E_proxy_reset:
    case RT_E_proxy_tls_failed:
    case RT_E_proxy_read_timeout:
        return true;
    default:
        return false;
    }
}

bool rt_code_proves_upstream(rt_code c)
{
    return c == RT_E_ok || rt_code_get(c)->origin == RT_ORIGIN_TARGET;
}

static bool out_now(const rt_outlier_entry *e, uint64_t now_ms)
{
    return e->ejected_until > now_ms || e->quarantined_until > now_ms;
}

size_t rt_outlier_out_count(const rt_outlier *o, uint64_t now_ms)
{
    size_t k = 0;
    for (size_t i = 0; i < o->n; i++)
        k += out_now(&o->e[i], now_ms);
    return k;
}

static rt_outlier_event eject(rt_outlier *o, rt_outlier_entry *e, uint64_t now_ms)
{
    /* The share test scans the pool, but only when a streak completes,
     * which is rare next to requests. */
    size_t limit = o->n * o->cfg.max_ejected_pct / 100;
    if (rt_outlier_out_count(o, now_ms) + 1 > limit) {
        o->ejections_refused++;
        return RT_OUTLIER_REFUSED;
    }
    /* Forgive one ejection per quiet decay period since the last one. */
    if (e->times_ejected > 0 && o->cfg.decay_ms > 0) {
        uint64_t quiet = now_ms > e->ejected_until ? now_ms - e->ejected_until : 0;
        uint64_t steps = quiet / o->cfg.decay_ms;
        e->times_ejected = steps >= e->times_ejected ? 0 : e->times_ejected - (uint32_t)steps;
    }
    if (e->times_ejected < UINT32_MAX)
        e->times_ejected++;
    uint64_t span = (uint64_t)o->cfg.base_ms * e->times_ejected;
    if (span > o->cfg.max_ms)
        span = o->cfg.max_ms;
    e->ejected_until = now_ms + span;
    e->last_ejected = now_ms;
    e->consecutive = 0;
    o->ejections++;
    return RT_OUTLIER_EJECTED;
}

rt_outlier_event rt_outlier_record(rt_outlier *o, size_t idx, rt_code c, uint64_t now_ms)
{
    if (idx >= o->n)
        return RT_OUTLIER_NOTHING;
    rt_outlier_entry *e = &o->e[idx];
    if (rt_code_proves_upstream(c)) {
        e->consecutive = 0;
        return RT_OUTLIER_NOTHING;
    }
    if (!rt_code_counts_for_outlier(c))
        return RT_OUTLIER_NOTHING;
    /* Failures of requests that were already under way when the entry was
     * taken out must not extend its time out. */
    if (out_now(e, now_ms))
        return RT_OUTLIER_NOTHING;
    if (e->consecutive < UINT32_MAX)
        e->consecutive++;
    if (e->consecutive < o->cfg.consecutive)
        return RT_OUTLIER_NOTHING;
    return eject(o, e, now_ms);
}

void rt_outlier_quarantine(rt_outlier *o, size_t idx, uint64_t now_ms)
{
    if (idx >= o->n)
        return;
    uint64_t q = o->cfg.quarantine_ms ? o->cfg.quarantine_ms : 1;
    o->e[idx].quarantined_until = now_ms + q;
    o->e[idx].consecutive = 0;
    o->quarantines++;
}

void rt_outlier_readmit(rt_outlier *o, size_t idx)
{
    if (idx >= o->n)
        return;
    o->e[idx].quarantined_until = 0;
    o->e[idx].ejected_until = 0;
    o->e[idx].consecutive = 0;
}

bool rt_outlier_usable(const rt_outlier *o, size_t idx, uint64_t now_ms)
{
    return idx < o->n && !out_now(&o->e[idx], now_ms);
}

bool rt_outlier_quarantined(const rt_outlier *o, size_t idx, uint64_t now_ms)
{
    return idx < o->n && o->e[idx].quarantined_until > now_ms;
}

void rt_outlier_carry(rt_outlier *dst, const rt_outlier *src, const uint32_t *old_of_new)
{
    for (size_t j = 0; j < dst->n; j++) {
        uint32_t i = old_of_new[j];
        if (i != RT_OUTLIER_NEW && i < src->n)
            dst->e[j] = src->e[i];
    }
    dst->ejections = src->ejections;
    dst->ejections_refused = src->ejections_refused;
    dst->quarantines = src->quarantines;
}
