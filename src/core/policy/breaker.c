#include "core/policy/breaker.h"

#include <stddef.h>

void rt_breaker_cfg_default(rt_breaker_cfg *c)
{
    c->window_ms = RT_BREAKER_WINDOW_MS;
    c->buckets = RT_BREAKER_BUCKETS;
    c->min_requests = RT_BREAKER_MIN_REQUESTS;
    c->failure_pct = RT_BREAKER_FAILURE_PCT;
    c->cooldown_ms = RT_BREAKER_COOLDOWN_MS;
    c->cooldown_max_ms = RT_BREAKER_COOLDOWN_MAX_MS;
    c->probes = RT_BREAKER_PROBES;
    c->probe_timeout_ms = RT_BREAKER_PROBE_TIMEOUT_MS;
}

void rt_breaker_init(rt_breaker *b, const rt_breaker_cfg *cfg)
{
    if (cfg)
        b->cfg = *cfg;
    else
        rt_breaker_cfg_default(&b->cfg);
    if (b->cfg.probes == 0)
        b->cfg.probes = 1;
    if (b->cfg.probe_timeout_ms == 0)
        b->cfg.probe_timeout_ms = RT_BREAKER_PROBE_TIMEOUT_MS;
    if (b->cfg.cooldown_max_ms < b->cfg.cooldown_ms)
        b->cfg.cooldown_max_ms = b->cfg.cooldown_ms;
    rt_window_init(&b->w, b->cfg.window_ms, b->cfg.buckets);
    b->state = RT_BREAKER_CLOSED;
    b->open_until = b->probe_at = b->closed_at = 0;
    b->trips = b->probes_out = b->probes_ok = 0;
    b->total_trips = 0;
}

static void trip(rt_breaker *b, uint64_t now_ms)
{
    /* A trip right after a close (less than a full healthy window) is the
     * same trouble coming back: lengthen the pause. After a healthy window
     * the count starts over. */
    if (b->state == RT_BREAKER_CLOSED && now_ms - b->closed_at >= b->cfg.window_ms)
        b->trips = 0;
    b->trips++;
    uint64_t cool = b->cfg.cooldown_ms;
    for (uint32_t i = 1; i < b->trips && cool < b->cfg.cooldown_max_ms; i++)
        cool <<= 1;
    if (cool > b->cfg.cooldown_max_ms)
        cool = b->cfg.cooldown_max_ms;
    b->state = RT_BREAKER_OPEN;
    b->open_until = now_ms + cool;
    b->probes_out = b->probes_ok = 0;
    b->total_trips++;
}

static void close_(rt_breaker *b, uint64_t now_ms)
{
    b->state = RT_BREAKER_CLOSED;
    b->closed_at = now_ms;
    b->probes_out = b->probes_ok = 0;
    /* The failures that tripped the breaker are history now; keeping them
     * would reopen it on the first new failure. */
    rt_window_reset(&b->w);
}

rt_breaker_state rt_breaker_state_at(const rt_breaker *b, uint64_t now_ms)
{
    if (b->state == RT_BREAKER_OPEN && now_ms >= b->open_until)
        return RT_BREAKER_HALF_OPEN;
    return b->state;
}

rt_breaker_verdict rt_breaker_allow(rt_breaker *b, uint64_t now_ms, uint64_t *retry_after_ms)
{
    uint64_t wait = 0;
    switch (b->state) {
    case RT_BREAKER_CLOSED:
        return RT_BREAKER_ALLOW;
    case RT_BREAKER_OPEN:
        if (now_ms < b->open_until) {
            wait = b->open_until - now_ms;
            break;
        }
        b->state = RT_BREAKER_HALF_OPEN;
        b->probes_out = b->probes_ok = 0;
        /* fall through */
    case RT_BREAKER_HALF_OPEN:
        /* Probes that never reported are written off after a while. */
        if (b->probes_out > b->probes_ok && now_ms - b->probe_at >= b->cfg.probe_timeout_ms)
            b->probes_out = b->probes_ok;
        if (b->probes_out < b->cfg.probes) {
            b->probes_out++;
            b->probe_at = now_ms;
            return RT_BREAKER_ALLOW_PROBE;
        }
        wait = RT_BREAKER_PROBE_WAIT_MS;
        break;
    }
    if (retry_after_ms)
        *retry_after_ms = wait ? wait : 1;
    return RT_BREAKER_DENY;
}

void rt_breaker_record(rt_breaker *b, uint64_t now_ms, bool failure)
{
    switch (b->state) {
    case RT_BREAKER_CLOSED: {
        rt_window_add(&b->w, now_ms, 0, 1);
        if (!failure)
            return;
        rt_window_add(&b->w, now_ms, 1, 1);
        uint64_t n = rt_window_sum(&b->w, now_ms, 0);
        uint64_t f = rt_window_sum(&b->w, now_ms, 1);
        /* "more than 30%": f/n > pct/100, in integers. */
        if (n >= b->cfg.min_requests && f * 100 > (uint64_t)b->cfg.failure_pct * n)
            trip(b, now_ms);
        return;
    }
    case RT_BREAKER_OPEN:
        /* Stragglers admitted before the trip change nothing. */
        return;
    case RT_BREAKER_HALF_OPEN:
        if (failure) {
            trip(b, now_ms);
            return;
        }
        if (++b->probes_ok >= b->cfg.probes)
            close_(b, now_ms);
        else if (b->probes_ok > b->probes_out)
            b->probes_out = b->probes_ok;
        return;
    }
}

const char *rt_breaker_state_name(rt_breaker_state s)
{
    switch (s) {
    case RT_BREAKER_CLOSED: return "closed";
    case RT_BREAKER_OPEN: return "open";
    case RT_BREAKER_HALF_OPEN: return "half_open";
    }
    return "";
}

bool rt_code_counts_for_breaker(rt_code c)
{
    const rt_code_info *i = rt_code_get(c);
    switch (i->origin) {
    case RT_ORIGIN_TARGET:
        return true;
    case RT_ORIGIN_NETWORK:
        /* Only the proxy-to-target hop speaks about the domain. */
        switch (c) {
        case RT_E_target_dns_failed:
        case RT_E_target_refused:
        case RT_E_target_unreachable:
        case RT_E_target_connect_timeout:
        case RT_E_target_reset:
        case RT_E_target_tls_failed:
        case RT_E_target_certificate_invalid:
        case RT_E_target_timeout:
        case RT_E_target_response_incomplete:
            return true;
        default:
            return false;
        }
    default:
        return false;
    }
}
