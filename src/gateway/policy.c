/* See policy.h. Everything here runs on the worker's own thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/policy/window.h"
#include "core/pool/remap.h"
#include "gateway/gw_int.h"

#define GW_PAUSE_DOMAIN_EXITS 3u      /* exits told to wait before the whole domain is paced */
#define GW_PAUSE_WINDOW_MS 60000u

int gw_policy_init(gw_policy *p, const gw_policy_cfg *cfg, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    p->cfg = cfg;
    p->retry = cfg->retry;
    rt_budget_init(&p->budget, &cfg->budget);
    if (rt_domains_init(&p->domains, 0, &cfg->breaker, &cfg->budget) != 0 || rt_bans_init(&p->bans, 0) != 0 ||
        rt_bans_init(&p->pauses, 0) != 0) {
        snprintf(err, errlen, "out of memory for the policy tables");
        return -1;
    }
    return 0;
}

void gw_policy_free(gw_policy *p)
{
    rt_domains_free(&p->domains);
    rt_bans_free(&p->bans);
    rt_bans_free(&p->pauses);
    rt_outlier_free(&p->outlier);
    free(p->quarantine_code);
    free(p->ident);
}

/* The outlier table follows the newest pool generation this worker has
 * seen; requests still on an older pool skip ejection bookkeeping. */
rt_outlier *gw_policy_outlier(gw_policy *p, const gw_pool *pool)
{
    if (pool->generation == p->outlier_gen && p->outlier.e)
        return &p->outlier;
    if (pool->generation < p->outlier_gen)
        return NULL;
    size_t n = pool->pool.n;
    rt_outlier fresh;
    rt_code *qcode = calloc(n ? n : 1, sizeof *qcode);
    uint64_t *ident = malloc((n ? n : 1) * sizeof *ident);
    uint32_t *old_of_new = malloc((n ? n : 1) * sizeof *old_of_new);
    uint32_t *new_of_old = malloc((p->nident ? p->nident : 1) * sizeof *new_of_old);
    if (!qcode || !ident || !old_of_new || !new_of_old || rt_outlier_init(&fresh, n, &p->cfg->outlier) != 0) {
        free(qcode);
        free(ident);
        free(old_of_new);
        free(new_of_old);
        return NULL; /* the next request tries again */
    }
    memcpy(ident, pool->ident, n * sizeof *ident);
    /* A reload keeps what was learned about the entries that stayed (an
     * ejected blackhole is not tried again at once), and moves the bans to
     * the entries' new places; entries that left take theirs along. */
    long matched = p->outlier.e ? rt_pool_remap(p->ident, p->nident, ident, n, new_of_old, old_of_new) : -1;
    if (matched > 0) {
        rt_outlier_carry(&fresh, &p->outlier, old_of_new);
        for (size_t j = 0; j < n; j++)
            if (old_of_new[j] != RT_REMAP_GONE && p->quarantine_code)
                qcode[j] = p->quarantine_code[old_of_new[j]];
    }
    if (p->nident) {
        if (matched < 0) /* out of memory, or no earlier table: nothing maps */
            for (size_t i = 0; i < p->nident; i++)
                new_of_old[i] = RT_REMAP_GONE;
        uint64_t now = gw_now();
        rt_bans_remap(&p->bans, new_of_old, p->nident, now);
        rt_bans_remap(&p->pauses, new_of_old, p->nident, now);
    }
    free(old_of_new);
    free(new_of_old);
    rt_outlier_free(&p->outlier);
    free(p->quarantine_code);
    free(p->ident);
    p->outlier = fresh;
    p->quarantine_code = qcode;
    p->ident = ident;
    p->nident = n;
    p->outlier_gen = pool->generation;
    return &p->outlier;
}

static rt_outlier *outlier_for(gw_client *c) { return gw_policy_outlier(&c->w->pol, c->pool); }

/* Is the request on the pool generation the worker's tables follow? */
static bool on_newest_pool(gw_client *c) { return c->pool->generation == c->w->pol.outlier_gen; }

static uint32_t ceil_s(uint64_t ms) { return (uint32_t)((ms + 999) / 1000); }

/* Concurrency the domain may have now: the configured limit, lowered to
 * the exits still usable for it once bans and pauses take half of the
 * pool, so the remaining exits are not burned by the same load. */
static uint32_t domain_cap(gw_client *c, rt_domain *d, uint64_t now)
{
    gw_policy *p = &c->w->pol;
    uint32_t cap = c->w->srv->cfg.domain_concurrency;
    unsigned t = c->pool->ntiers > d->tier ? d->tier : 0;
    size_t tier_n = c->pool->tier_start[t + 1] - c->pool->tier_start[t];
    size_t out = rt_bans_distinct_recent(&p->bans, d->hash, now, RT_BANS_EVERYWHERE_WINDOW_MS) +
                 rt_bans_distinct_recent(&p->pauses, d->hash, now, GW_PAUSE_WINDOW_MS);
    if (tier_n >= 2 && out * 2 >= tier_n) {
        uint32_t left = out < tier_n ? (uint32_t)(tier_n - out) : 1;
        if (!cap || left < cap)
            cap = left;
    }
    return cap;
}

/* How long this request must wait for the domain's politeness limits
 * (concurrency, rate); 0 to go now. The limits hold across all threads
 * (core/policy/polite.h); the request is counted in when it goes. */
uint64_t gw_policy_polite(gw_client *c)
{
    if (!c->domain_hash || c->polite_checked)
        return 0;
    uint64_t now = gw_now();
    rt_domain *d = rt_domains_get(&c->w->pol.domains, c->url.host, now);
    if (!d)
        return 0;
    const gw_config *cfg = &c->w->srv->cfg;
    uint32_t cap = domain_cap(c, d, now);
    uint64_t gap = cfg->domain_rate > 0 ? (uint64_t)(1000.0 / cfg->domain_rate) : 0;
    uint64_t wait = rt_polite_enter(&c->w->srv->polite, d->hash, cap, gap, now, &c->polite_ticket);
    if (wait)
        return wait;
    /* This thread's count keeps the domain's entry (breaker, pacing)
     * from being evicted while the request is under way. */
    d->in_flight++;
    c->polite_checked = true;
    return 0;
}

void gw_policy_request_done(gw_client *c)
{
    if (!c->polite_checked)
        return;
    rt_polite_leave(&c->w->srv->polite, c->polite_ticket);
    c->polite_ticket = 0;
    c->polite_checked = false;
    rt_domain *d = rt_domains_find(&c->w->pol.domains, c->url.host);
    if (d && d->in_flight)
        d->in_flight--;
}

/* Another thread banned or paused an exit: take it into this thread's
 * tables, for the same pool generation (exit numbers are per generation). */
static void import_bans(gw_worker *w, uint64_t now)
{
    rt_banfeed_rec rec[64];
    size_t n;
    while ((n = rt_banfeed_read(&w->srv->banfeed, &w->bancur, rec, 64)) > 0) {
        for (size_t i = 0; i < n; i++) {
            const rt_banfeed_rec *r = &rec[i];
            if (r->from == (uint8_t)w->id || r->generation != w->pol.outlier_gen || r->until_ms <= now)
                continue;
            rt_bans_add(r->kind == RT_BANFEED_PAUSE ? &w->pol.pauses : &w->pol.bans, r->exit, r->domain, now,
                        r->until_ms - now);
        }
    }
}

/* A ban this thread learned, recorded here and told to the others. */
static void ban_exit(gw_client *c, rt_bans *t, rt_banfeed_kind kind, size_t idx, uint64_t domain, uint64_t now,
                     uint64_t ttl)
{
    rt_bans_add(t, (uint32_t)idx, domain, now, ttl);
    if (c->w->srv->nworkers < 2)
        return;
    rt_banfeed_rec r = { .domain = domain, .until_ms = now + ttl, .generation = c->pool->generation,
                         .exit = (uint32_t)idx, .kind = (uint8_t)kind, .from = (uint8_t)c->w->id };
    rt_banfeed_publish(&c->w->srv->banfeed, &r);
}

int gw_policy_admit(gw_client *c, bool *answered)
{
    gw_policy *p = &c->w->pol;
    uint64_t now = gw_now();
    *answered = false;
    if (rt_banfeed_pending(&c->w->srv->banfeed, &c->w->bancur)) {
        gw_policy_outlier(p, c->pool); /* the tables follow this pool's numbering first */
        import_bans(c->w, now);
    }
    rt_budget_on_request(&p->budget, now);
    rt_retry_state_init(&c->rs, now, c->w->srv->cfg.request_timeout_ms);
    rt_domain *d = rt_domains_get(&p->domains, c->url.host, now);
    if (!d)
        return GW_OK;
    c->domain_hash = d->hash;
    if (d->tier && now >= d->tier_until) {
        char msg[320];
        snprintf(msg, sizeof msg, "%.200s: back to the primary pool after the fallback cooldown", d->name);
        gw_log_event(c->w->srv, "pool_restored", msg);
        d->tier = 0;
    }
    c->tier = d->tier < c->pool->ntiers ? d->tier : 0;
    uint64_t wait = 0;
    rt_breaker_verdict v = rt_breaker_allow(&d->breaker, now, &wait);
    if (v == RT_BREAKER_DENY) {
        char ev[GW_EVIDENCE];
        snprintf(ev, sizeof ev, "breaker for %.100s is open: %llu of %llu attempts failed in the window",
                 d->name, (unsigned long long)rt_window_sum(&d->breaker.w, now, 1),
                 (unsigned long long)rt_window_sum(&d->breaker.w, now, 0));
        *answered = true;
        return gw_client_fail(c, RT_E_circuit_open, ev, NULL, ceil_s(wait));
    }
    c->probe = v == RT_BREAKER_ALLOW_PROBE;
    wait = rt_domain_pace_wait(d, now);
    if (wait) {
        if (now + wait >= c->deadline_ms) {
            char ev[GW_EVIDENCE];
            snprintf(ev, sizeof ev, "%.100s asked several exits to wait; %llu ms left", d->name, (unsigned long long)wait);
            *answered = true;
            return gw_client_fail(c, RT_E_domain_paused, ev, NULL, ceil_s(wait));
        }
        c->retry_delay_ms = wait;
    }
    return GW_OK;
}

bool gw_policy_escalate(gw_client *c)
{
    gw_policy *p = &c->w->pol;
    if (c->tier + 1 >= c->pool->ntiers)
        return false;
    char ev[GW_EVIDENCE];
    uint64_t wait;
    gw_policy_explain_empty(c, ev, sizeof ev, &wait);
    c->tier++;
    rt_domain *d = c->domain_hash ? rt_domains_find(&p->domains, c->url.host) : NULL;
    if (d && d->tier < c->tier) {
        d->tier = (uint8_t)c->tier;
        d->tier_until = gw_now() + c->w->srv->cfg.fallback_cooldown_ms;
        char msg[400];
        snprintf(msg, sizeof msg, "%.120s: fallback pool %u takes over (%s)", d->name, c->tier, ev);
        gw_log_event(c->w->srv, "pool_escalated", msg);
    }
    return true;
}

bool gw_policy_usable(gw_client *c, size_t idx)
{
    gw_policy *p = &c->w->pol;
    uint64_t now = gw_now();
    unsigned cap = c->w->srv->cfg.max_inflight;
    if (cap && atomic_load_explicit(&c->pool->in_flight[idx], memory_order_relaxed) >= cap)
        return false;
    rt_outlier *o = outlier_for(c);
    if (o && !rt_outlier_usable(o, idx, now))
        return false;
    if (c->domain_hash && (rt_bans_is_banned(&p->bans, (uint32_t)idx, c->domain_hash, now) ||
                           rt_bans_is_banned(&p->pauses, (uint32_t)idx, c->domain_hash, now)))
        return false;
    return true;
}

bool gw_policy_claim(gw_client *c, size_t idx)
{
    _Atomic uint32_t *n = &c->pool->in_flight[idx];
    unsigned cap = c->w->srv->cfg.max_inflight;
    if (!cap) {
        atomic_fetch_add(n, 1);
        return true;
    }
    uint32_t cur = atomic_load_explicit(n, memory_order_relaxed);
    while (cur < cap)
        if (atomic_compare_exchange_weak(n, &cur, cur + 1))
            return true;
    return false;
}

rt_code gw_policy_explain_empty(gw_client *c, char *ev, size_t evlen, uint64_t *wait_ms)
{
    *wait_ms = 0;
    gw_policy *p = &c->w->pol;
    uint64_t now = gw_now();
    rt_outlier *o = outlier_for(c);
    unsigned t = c->tier < c->pool->ntiers ? c->tier : 0;
    size_t first = c->pool->tier_start[t], end = c->pool->tier_start[t + 1];
    size_t n = end - first, quarantined = 0, ejected = 0, banned = 0, paused = 0, busy = 0;
    unsigned cap = c->w->srv->cfg.max_inflight;
    rt_code qcode = RT_E__COUNT;
    bool same_q = true;
    for (size_t i = first; i < end; i++) {
        if (cap && atomic_load_explicit(&c->pool->in_flight[i], memory_order_relaxed) >= cap) {
            busy++;
        } else if (o && rt_outlier_quarantined(o, i, now)) {
            quarantined++;
            rt_code q = p->quarantine_code ? p->quarantine_code[i] : RT_E__COUNT;
            if (qcode == RT_E__COUNT)
                qcode = q;
            else if (q != qcode)
                same_q = false;
        } else if (o && !rt_outlier_usable(o, i, now)) {
            ejected++;
        } else if (c->domain_hash && rt_bans_is_banned(&p->bans, (uint32_t)i, c->domain_hash, now)) {
            banned++;
        } else if (c->domain_hash && rt_bans_is_banned(&p->pauses, (uint32_t)i, c->domain_hash, now)) {
            paused++;
            uint64_t left = rt_bans_remaining(&p->pauses, (uint32_t)i, c->domain_hash, now);
            if (!*wait_ms || left < *wait_ms)
                *wait_ms = left;
        }
    }
    snprintf(ev, evlen, "%zu entries%s: %zu quarantined, %zu ejected, %zu banned and %zu paused for this domain, %zu at --max-inflight",
             n, c->pool->ntiers > 1 ? (t ? " (fallback pool)" : " (primary pool)") : "", quarantined, ejected, banned,
             paused, busy);
    /* Every entry out for the same misconfiguration (say, all rejecting the
     * credentials): that misconfiguration is the answer, not "no upstream". */
    if (quarantined == n && same_q && qcode < RT_E__COUNT)
        return qcode;
    if (banned + quarantined + ejected == n && banned)
        return RT_E_target_blocked_everywhere;
    /* Exits the domain told to wait come back by themselves: the caller
     * waits for the first one when the deadline allows. */
    if (paused)
        return RT_E_domain_paused;
    /* Entries at their in-flight limit free up within moments: a short
     * wait, repeated while the deadline allows, acts as the queue. */
    *wait_ms = busy ? 20 : 0;
    return RT_E_no_healthy_upstream;
}

static unsigned everywhere_threshold(size_t pool_n)
{
    unsigned t = RT_BANS_EVERYWHERE_EXITS;
    if (pool_n < t)
        t = (unsigned)pool_n;
    return t < 2 ? 0 : t; /* one exit cannot show "everywhere" */
}

/* Bookkeeping every attempt feeds, before the retry decision. */
static rt_code note_outcome(gw_client *c, const gw_outcome *o)
{
    gw_policy *p = &c->w->pol;
    uint64_t now = gw_now();
    size_t idx = (size_t)c->up_idx;
    const rt_upstream *u = &c->pool->pool.v[idx];
    rt_code code = o->code;
    rt_outlier *ol = outlier_for(c);
    if (ol && rt_outlier_record(ol, idx, code, now) == RT_OUTLIER_EJECTED) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s ejected after consecutive failures (last: %s)", u->label, rt_code_name(code));
        gw_log_event(c->w->srv, "upstream_ejected", msg);
    }
    rt_domain *d = c->domain_hash ? rt_domains_find(&p->domains, c->url.host) : NULL;
    if (d && (rt_code_counts_for_breaker(code) || rt_code_proves_upstream(code))) {
        rt_breaker_state before = d->breaker.state;
        rt_breaker_record(&d->breaker, now, rt_code_counts_for_breaker(code));
        if (before != d->breaker.state) {
            char msg[320];
            snprintf(msg, sizeof msg, "%.200s: %s -> %s", d->name, rt_breaker_state_name(before),
                     rt_breaker_state_name(d->breaker.state));
            gw_log_event(c->w->srv, "breaker", msg);
        }
    }
    /* A rate limit on one exit pauses that exit for the domain; when
     * several exits are told to wait, the limit is per account or per
     * fingerprint, and the whole domain is paced instead. Bans and pauses
     * are kept by the newest pool's entry numbers: a request still on an
     * older pool (after a reload) adds none. */
    bool current = on_newest_pool(c);
    if (d && code == RT_E_target_rate_limited && !u->session_slot) {
        uint64_t wait = o->has_retry_after ? o->retry_after_ms : rt_backoff_delay(&p->retry.backoff, d->backoff_streak, &c->w->rng);
        if (current)
            ban_exit(c, &p->pauses, RT_BANFEED_PAUSE, idx, d->hash, now, wait);
        if (rt_bans_distinct_recent(&p->pauses, d->hash, now, GW_PAUSE_WINDOW_MS) >= GW_PAUSE_DOMAIN_EXITS &&
            c->pool->pool.n >= GW_PAUSE_DOMAIN_EXITS)
            rt_domain_pace_note(d, code, wait, now);
    } else if (d) {
        rt_domain_pace_note(d, code, 0, now);
    }
    /* Blocks across many distinct exits are detection by fingerprint, not
     * by IP: rotating further only burns the pool. */
    unsigned thr = everywhere_threshold(c->pool->pool.n);
    if (d && thr && (code == RT_E_target_blocked || code == RT_E_target_challenge) &&
        rt_bans_distinct_recent(&p->bans, d->hash, now, RT_BANS_EVERYWHERE_WINDOW_MS) + 1 >= thr)
        code = RT_E_target_blocked_everywhere;
    return code;
}

gw_next gw_policy_after_attempt(gw_client *c, const gw_outcome *o, rt_code *code_out, uint32_t *retry_after_s)
{
    gw_policy *p = &c->w->pol;
    uint64_t now = gw_now();
    rt_code code = note_outcome(c, o);
    *code_out = code;
    *retry_after_s = 0;
    if (code == RT_E_ok)
        return GW_NEXT_DELIVER;
    const rt_code_info *ci = rt_code_get(code);
    bool from_target = o->status && (ci->origin == RT_ORIGIN_TARGET || ci->origin == RT_ORIGIN_NONE);
    bool has_body = c->req.h.body == RT_BODY_LENGTH || c->req.h.body == RT_BODY_CHUNKED;
    rt_retry_input in = {
        .code = code,
        .has_retry_after = o->has_retry_after,
        .retry_after_ms = o->retry_after_ms,
        .idempotent = rt_http_method_idempotent(c->req.meth) || c->req.meth == RT_M_CONNECT,
        .bytes_reached_target = o->reached_target,
        .body_replayable = !has_body || c->replay_ok,
        .response_started = c->resp_started,
        .budget = &p->budget,
    };
    rt_retry_verdict v = rt_retry_decide(&p->retry, &c->rs, &in, &c->w->rng, now);
    size_t idx = (size_t)c->up_idx;
    const rt_upstream *u = &c->pool->pool.v[idx];
    rt_outlier *ol = outlier_for(c);
    /* The retry decision sets QUARANTINE only for failures of the entry
     * itself (credentials, address, account), never for the target's hop. */
    if ((v.flags & RT_RETRY_F_QUARANTINE) && ol &&
        !rt_outlier_quarantined(ol, idx, now)) {
        rt_outlier_quarantine(ol, idx, now);
        if (p->quarantine_code)
            p->quarantine_code[idx] = code;
        char msg[256];
        snprintf(msg, sizeof msg, "%s quarantined: %s (%s)", u->label, rt_code_name(code), rt_code_get(code)->fix);
        gw_log_event(c->w->srv, "upstream_quarantined", msg);
    }
    if ((v.flags & RT_RETRY_F_BAN_EXIT) && c->domain_hash && !u->session_slot && on_newest_pool(c))
        ban_exit(c, &p->bans, RT_BANFEED_BAN, idx, c->domain_hash, now, p->cfg->ban_ttl_ms);
    /* A rate limit may be per session rather than per IP (the guide's
     * 429 advice): a sticky session moves on as a block would. */
    if (((v.flags & RT_RETRY_F_ROTATE_SESSION) || code == RT_E_target_rate_limited) && c->session[0]) {
        /* The client's sticky session got this exit blocked: derive a new
         * session id so the next attempt lands elsewhere. */
        size_t n = strlen(c->session);
        if (n + 3 < sizeof c->session)
            snprintf(c->session + n, sizeof c->session - n, "-r%u", (unsigned)(c->natt % 10));
    }
    switch (v.status) {
    case RT_RETRY_YES:
        c->retry_delay_ms = v.delay_ms;
        return GW_NEXT_RETRY;
    case RT_RETRY_BUDGET:
        if (from_target)
            return GW_NEXT_DELIVER;
        *code_out = RT_E_retry_budget_exhausted;
        *retry_after_s = 1;
        return GW_NEXT_FAIL;
    case RT_RETRY_DEADLINE:
        if (from_target)
            return GW_NEXT_DELIVER;
        *code_out = RT_E_deadline_exceeded;
        *retry_after_s = ceil_s(v.delay_ms);
        return GW_NEXT_FAIL;
    case RT_RETRY_LIMIT:
    case RT_RETRY_NO:
    default:
        /* The attempt's own code says more than "retries exhausted": the
         * access log lists every attempt. */
        if (from_target)
            return GW_NEXT_DELIVER;
        if (o->has_retry_after)
            *retry_after_s = ceil_s(o->retry_after_ms);
        return GW_NEXT_FAIL;
    }
}
