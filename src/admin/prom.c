/* GET /metrics: the Prometheus text exposition format, version 0.0.4.
 * Counters end in _total, durations are seconds, every family has HELP
 * and TYPE lines. Label cardinality is bounded: per-upstream series only
 * for pools of up to ADM_METRICS_UP_MAX entries, per-domain breaker series
 * for the ADM_METRICS_DOMAINS most relevant domains plus "other". Labels
 * name upstreams by their pool label, never with credentials. */
#include <stdio.h>
#include <string.h>

#include "admin/adm_int.h"
#include "core/policy/breaker.h"
#include "gateway/gw_int.h"
#include "io/logq.h"

/* A label value: backslash, double quote and newline escaped. */
static void label_value(struct evbuffer *b, const char *s)
{
    const char *run = s;
    for (; *s; s++) {
        const char *esc = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
        if (esc) {
            evbuffer_add(b, run, (size_t)(s - run));
            evbuffer_add(b, esc, 2);
            run = s + 1;
        }
    }
    evbuffer_add(b, run, (size_t)(s - run));
}

static void family(struct evbuffer *b, const char *name, const char *type, const char *help)
{
    evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void histogram(struct evbuffer *b, const char *name, const uint64_t *h, uint64_t sum_ms)
{
    uint64_t cum = 0;
    for (unsigned i = 0; i < GW_HIST_BUCKETS; i++) {
        cum += h[i];
        evbuffer_add_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, gw_hist_bounds_ms[i] / 1000.0,
                            (unsigned long long)cum);
    }
    cum += h[GW_HIST_BUCKETS];
    evbuffer_add_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.3f\n%s_count %llu\n", name,
                        (unsigned long long)cum, name, (double)sum_ms / 1000.0, name, (unsigned long long)cum);
}

static void up_gauge(struct evbuffer *b, const char *name, const gw_up_view *uv, int which)
{
    for (size_t i = 0; i < uv->n; i++) {
        const gw_up_view_entry *e = &uv->e[i];
        unsigned long long v = which == 0 ? e->in_flight : which == 1 ? e->ejected > 0 : which == 2 ? e->quarantined > 0 : e->bans;
        evbuffer_add_printf(b, "%s{upstream=\"", name);
        label_value(b, uv->pool->pool.v[i].label);
        evbuffer_add_printf(b, "\"} %llu\n", v);
    }
}

static int state_value(uint8_t s)
{
    /* 0 closed, 1 open, 2 half-open, as documented. */
    return s == RT_BREAKER_OPEN ? 1 : s == RT_BREAKER_HALF_OPEN ? 2 : 0;
}

static int state_rank(uint8_t s) { return s == RT_BREAKER_OPEN ? 2 : s == RT_BREAKER_HALF_OPEN ? 1 : 0; }

void adm_render_metrics(adm_server *a, struct evbuffer *b)
{
    gw_server *s = a->s;
    adm_snap sn;
    adm_snap_take(a, &sn);

    family(b, "rotor_build_info", "gauge", "Always 1; the version of rotor serving these metrics.");
    evbuffer_add_printf(b, "rotor_build_info{version=\"%s\"} 1\n", ROTOR_VERSION);
    family(b, "rotor_start_time_seconds", "gauge", "When this rotor process started, Unix seconds.");
    evbuffer_add_printf(b, "rotor_start_time_seconds %.3f\n", a->start_wall_ms / 1000.0);

    family(b, "rotor_requests_total", "counter",
           "Client requests finished, by final outcome: error CODE (ok for success), its ORIGIN and retry CLASS.");
    for (unsigned c = 0; c < RT_E__COUNT; c++) {
        const rt_code_info *ci = rt_code_get((rt_code)c);
        uint64_t v = sn.t.req[c];
        if (c == RT_E_ok) {
            v -= sn.t.req_ok_local <= v ? sn.t.req_ok_local : v;
            if (sn.t.req_ok_local)
                evbuffer_add_printf(b, "rotor_requests_total{code=\"ok\",origin=\"none\",class=\"none\"} %llu\n",
                                    (unsigned long long)sn.t.req_ok_local);
        }
        evbuffer_add_printf(b, "rotor_requests_total{code=\"%s\",origin=\"%s\",class=\"%s\"} %llu\n", ci->name,
                            c == RT_E_ok ? "target" : rt_origin_name(ci->origin), rt_class_name(ci->cls),
                            (unsigned long long)v);
    }

    bool per_up = sn.have_up && sn.uv.n <= ADM_METRICS_UP_MAX;
    family(b, "rotor_attempts_total", "counter",
           per_up ? "Attempts (one per upstream tried) by outcome CODE and upstream label."
                  : "Attempts (one per upstream tried) by outcome CODE (pool too large for per-upstream series).");
    if (per_up) {
        for (size_t i = 0; i < sn.uv.n; i++) {
            for (unsigned c = 0; c < RT_E__COUNT; c++) {
                if (!sn.uv.e[i].code[c])
                    continue;
                evbuffer_add_printf(b, "rotor_attempts_total{code=\"%s\",upstream=\"", rt_code_name((rt_code)c));
                label_value(b, sn.uv.pool->pool.v[i].label);
                evbuffer_add_printf(b, "\"} %llu\n", (unsigned long long)sn.uv.e[i].code[c]);
            }
        }
    } else {
        for (unsigned c = 0; c < RT_E__COUNT; c++)
            if (sn.t.att[c])
                evbuffer_add_printf(b, "rotor_attempts_total{code=\"%s\"} %llu\n", rt_code_name((rt_code)c),
                                    (unsigned long long)sn.t.att[c]);
    }

    family(b, "rotor_retries_total", "counter", "Attempts after the first one of a request (retries sent).");
    evbuffer_add_printf(b, "rotor_retries_total %llu\n", (unsigned long long)sn.t.retries);
    family(b, "rotor_retry_budget_usage", "gauge",
           "Retries in the budget window divided by the retries allowed (1 means retries are being refused).");
    evbuffer_add_printf(b, "rotor_retry_budget_usage %.4f\n",
                        sn.have_pol && sn.pv.budget_allowed
                            ? (double)sn.pv.budget_retries / (double)sn.pv.budget_allowed
                            : 0.0);

    family(b, "rotor_request_duration_seconds", "histogram",
           "Client-visible request duration: from the complete request head to the end of the answer.");
    histogram(b, "rotor_request_duration_seconds", sn.t.req_hist, sn.t.req_sum_ms);
    family(b, "rotor_attempt_duration_seconds", "histogram", "Duration of each attempt through one upstream.");
    histogram(b, "rotor_attempt_duration_seconds", sn.t.att_hist, sn.t.att_sum_ms);

    if (sn.have_up) {
        unsigned healthy = 0, ejected = 0, quarantined = 0;
        for (size_t i = 0; i < sn.uv.n; i++) {
            if (sn.uv.e[i].quarantined)
                quarantined++;
            else if (sn.uv.e[i].ejected)
                ejected++;
            else
                healthy++;
        }
        family(b, "rotor_upstreams", "gauge", "Pool entries by state (ejected or quarantined in any worker's shard).");
        evbuffer_add_printf(b, "rotor_upstreams{state=\"healthy\"} %u\nrotor_upstreams{state=\"ejected\"} %u\n"
                               "rotor_upstreams{state=\"quarantined\"} %u\n", healthy, ejected, quarantined);
        family(b, "rotor_pool_generation", "gauge", "Pool generation: 1 at start, +1 on every successful reload.");
        evbuffer_add_printf(b, "rotor_pool_generation %llu\n", (unsigned long long)sn.uv.pool->generation);
    }
    if (per_up) {
        family(b, "rotor_upstream_in_flight", "gauge", "Attempts currently using the upstream.");
        up_gauge(b, "rotor_upstream_in_flight", &sn.uv, 0);
        family(b, "rotor_upstream_ejected", "gauge", "1 while outlier detection keeps the upstream out of rotation.");
        up_gauge(b, "rotor_upstream_ejected", &sn.uv, 1);
        family(b, "rotor_upstream_quarantined", "gauge",
               "1 while the upstream is quarantined (misconfiguration or an operator's request).");
        up_gauge(b, "rotor_upstream_quarantined", &sn.uv, 2);
        family(b, "rotor_upstream_bans", "gauge", "Live bans of the upstream's exit for target domains.");
        up_gauge(b, "rotor_upstream_bans", &sn.uv, 3);
    }

    if (sn.have_pol) {
        family(b, "rotor_domain_breaker_state", "gauge",
               "Circuit breaker per target domain: 0 closed, 1 open, 2 half-open. Domains beyond the busiest "
               "are summed up in domain=\"other\" with their worst state.");
        size_t shown = sn.pv.ndom < ADM_METRICS_DOMAINS ? sn.pv.ndom : ADM_METRICS_DOMAINS;
        unsigned open = 0, half = 0;
        for (size_t i = 0; i < sn.pv.ndom; i++) {
            open += sn.pv.dom[i].state == RT_BREAKER_OPEN;
            half += sn.pv.dom[i].state == RT_BREAKER_HALF_OPEN;
        }
        for (size_t i = 0; i < shown; i++) {
            evbuffer_add_printf(b, "rotor_domain_breaker_state{domain=\"");
            label_value(b, sn.pv.dom[i].name);
            evbuffer_add_printf(b, "\"} %d\n", state_value(sn.pv.dom[i].state));
        }
        if (sn.pv.ndom > shown) {
            uint8_t worst = RT_BREAKER_CLOSED;
            for (size_t i = shown; i < sn.pv.ndom; i++)
                if (state_rank(sn.pv.dom[i].state) > state_rank(worst))
                    worst = sn.pv.dom[i].state;
            evbuffer_add_printf(b, "rotor_domain_breaker_state{domain=\"other\"} %d\n", state_value(worst));
        }
        family(b, "rotor_domain_breakers", "gauge", "Target domains whose breaker is open or half-open.");
        evbuffer_add_printf(b, "rotor_domain_breakers{state=\"open\"} %u\nrotor_domain_breakers{state=\"half_open\"} %u\n",
                            open, half);
        family(b, "rotor_domains_tracked", "gauge", "Target domains with breaker state, summed over worker shards.");
        evbuffer_add_printf(b, "rotor_domains_tracked %u\n", sn.pv.domains_tracked);
        family(b, "rotor_exit_bans", "gauge", "Live (exit, domain) bans after blocks, summed over worker shards.");
        evbuffer_add_printf(b, "rotor_exit_bans %llu\n", (unsigned long long)sn.pv.bans_live);
        family(b, "rotor_exit_pauses", "gauge", "Live (exit, domain) pauses after rate limits, summed over worker shards.");
        evbuffer_add_printf(b, "rotor_exit_pauses %llu\n", (unsigned long long)sn.pv.pauses_live);
    }

    family(b, "rotor_bytes_total", "counter",
           "Bytes exchanged with clients: in from clients (requests, tunnel uploads), out to clients.");
    evbuffer_add_printf(b, "rotor_bytes_total{direction=\"in\"} %llu\nrotor_bytes_total{direction=\"out\"} %llu\n",
                        (unsigned long long)sn.t.bytes_in, (unsigned long long)sn.t.bytes_out);
    family(b, "rotor_open_connections", "gauge", "Open client connections.");
    evbuffer_add_printf(b, "rotor_open_connections %u\n", atomic_load(&s->clients));
    family(b, "rotor_log_lines_dropped_total", "counter",
           "Access-log lines dropped because the log writer fell behind.");
    evbuffer_add_printf(b, "rotor_log_lines_dropped_total %llu\n",
                        (unsigned long long)(s->log ? io_logq_dropped(s->log) : 0));
    family(b, "rotor_politeness_unlimited_total", "counter",
           "Requests let through without --domain-concurrency/--domain-rate because the shared politeness table "
           "had no free slot for their domain.");
    evbuffer_add_printf(b, "rotor_politeness_unlimited_total %llu\n",
                        (unsigned long long)atomic_load(&s->polite.overflow));

    adm_snap_free(&sn);
}
