/* The JSON API under /api/v1/ (docs/api.md): read-only views merged over
 * the workers, and operator actions carried out by every worker on its own
 * thread through the command queues (gateway/stats.h). Each action is
 * logged with gw_log_event. Numbers that have no value yet (a rate over no
 * requests) are null, never NaN. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin/adm_int.h"
#include "core/base/wbuf.h"
#include "core/policy/breaker.h"
#include "gateway/gw_int.h"
#include "io/clock.h"
#include "io/logq.h"

/* ==== JSON helpers ==== */

void adm_json_str(struct evbuffer *out, const char *s)
{
    char buf[6 * 256 + 8];
    size_t n = strlen(s);
    evbuffer_add(out, "\"", 1);
    for (size_t off = 0; off < n; off += 256) {
        size_t k = n - off < 256 ? n - off : 256;
        rt_wbuf b;
        rt_wbuf_init(&b, buf, sizeof buf);
        rt_wbuf_add_json(&b, rt_slice_from(s + off, k));
        evbuffer_add(out, buf, b.len);
    }
    evbuffer_add(out, "\"", 1);
}

void adm_json_error(struct evbuffer *out, const char *msg)
{
    evbuffer_add_printf(out, "{\"error\":");
    adm_json_str(out, msg);
    evbuffer_add_printf(out, "}\n");
}

/* A ratio, or null when the denominator is 0. */
static void ratio(struct evbuffer *out, double num, double den)
{
    if (den > 0)
        evbuffer_add_printf(out, "%.4f", num / den);
    else
        evbuffer_add_printf(out, "null");
}

bool adm_query_get(const char *query, const char *k, char *buf, size_t cap)
{
    size_t kl = strlen(k);
    for (const char *p = query; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > kl && p[kl] == '=' && strncmp(p, k, kl) == 0) {
            size_t vl = len - kl - 1;
            if (vl >= cap)
                vl = cap - 1;
            memcpy(buf, p + kl + 1, vl);
            buf[vl] = 0;
            return true;
        }
        p = amp ? amp + 1 : NULL;
    }
    return false;
}

/* An unsigned number from the query, or dflt; -1 for a malformed value. */
static int query_u64(const char *query, const char *k, uint64_t dflt, uint64_t *out)
{
    char v[32];
    *out = dflt;
    if (!adm_query_get(query, k, v, sizeof v))
        return 0;
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    if (!v[0] || *end || v[0] == '-')
        return -1;
    *out = x;
    return 0;
}

static const char *origin_names[ADM_ORIGINS] = { "none", "client", "gateway", "proxy", "target", "network" };

static void code_fields(struct evbuffer *out, rt_code c)
{
    const rt_code_info *ci = rt_code_get(c);
    evbuffer_add_printf(out, "\"code\":\"%s\",\"origin\":\"%s\",\"class\":\"%s\",\"fix\":", ci->name,
                        origin_names[ci->origin], rt_class_name(ci->cls));
    adm_json_str(out, ci->fix);
}

static void iso_time(uint64_t ms, char *buf, size_t cap)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, cap, "%s.%03uZ", ts, (unsigned)(ms % 1000));
}

/* ==== GET /api/v1/stats ==== */

typedef struct top_code {
    unsigned code;
    uint64_t total, recent;
} top_code;

static int top_cmp(const void *a, const void *b)
{
    const top_code *x = a, *y = b;
    if (x->recent != y->recent)
        return x->recent < y->recent ? 1 : -1;
    return x->total < y->total ? 1 : x->total > y->total ? -1 : 0;
}

int adm_api_stats(adm_server *a, struct evbuffer *out)
{
    gw_server *s = a->s;
    adm_snap sn;
    adm_snap_take(a, &sn);
    uint64_t requests = 0, attempts = 0, by_origin[ADM_ORIGINS] = { 0 };
    for (unsigned c = 0; c < RT_E__COUNT; c++) {
        requests += sn.t.req[c];
        attempts += sn.t.att[c];
        if (c != RT_E_ok)
            by_origin[rt_code_get((rt_code)c)->origin] += sn.t.req[c];
    }
    uint64_t now_wall = io_wall_ms();
    evbuffer_add_printf(out, "{\"version\":\"%s\",\"time_ms\":%" PRIu64 ",\"uptime_s\":%" PRIu64 ",\"threads\":%u,",
                        ROTOR_VERSION, now_wall, (io_now_ms() - a->start_mono_ms) / 1000, s->nworkers);
    evbuffer_add_printf(out, "\"pool\":{\"source\":");
    adm_json_str(out, s->cfg.pool_path ? s->cfg.pool_path : "(built-in direct)");
    evbuffer_add_printf(out, ",\"upstreams\":%zu,\"generation\":%" PRIu64 "},", sn.have_up ? sn.uv.n : 0,
                        sn.have_up ? sn.uv.pool->generation : 0);
    evbuffer_add_printf(out, "\"totals\":{\"requests\":%" PRIu64 ",\"ok\":%" PRIu64 ",\"failed\":%" PRIu64
                             ",\"success_rate\":",
                        requests, sn.t.req[RT_E_ok], requests - sn.t.req[RT_E_ok]);
    ratio(out, (double)sn.t.req[RT_E_ok], (double)requests);
    evbuffer_add_printf(out, ",\"attempts\":%" PRIu64 ",\"retries\":%" PRIu64 ",\"bytes_in\":%" PRIu64
                             ",\"bytes_out\":%" PRIu64 "},",
                        attempts, sn.t.retries, sn.t.bytes_in, sn.t.bytes_out);
    evbuffer_add_printf(out, "\"failures_by_origin\":{");
    for (unsigned o = 1; o < ADM_ORIGINS; o++)
        evbuffer_add_printf(out, "%s\"%s\":%" PRIu64, o > 1 ? "," : "", origin_names[o], by_origin[o]);
    adm_point s10, s60;
    unsigned n10 = adm_history_sum(a, 10, &s10), n60 = adm_history_sum(a, 60, &s60);
    evbuffer_add_printf(out, "},\"rates\":{\"requests_per_s_10s\":");
    ratio(out, s10.requests, n10);
    evbuffer_add_printf(out, ",\"requests_per_s_60s\":");
    ratio(out, s60.requests, n60);
    evbuffer_add_printf(out, ",\"success_rate_10s\":");
    ratio(out, s10.ok, s10.requests);
    evbuffer_add_printf(out, ",\"success_rate_60s\":");
    ratio(out, s60.ok, s60.requests);
    evbuffer_add_printf(out, ",\"retries_per_s_60s\":");
    ratio(out, s60.retries, n60);
    evbuffer_add_printf(out, ",\"failures_per_s_60s\":");
    ratio(out, s60.requests - s60.ok, n60);
    evbuffer_add_printf(out, "},\"open_connections\":%u,\"retry_budget_usage\":", atomic_load(&s->clients));
    if (sn.have_pol && sn.pv.budget_allowed)
        evbuffer_add_printf(out, "%.4f", (double)sn.pv.budget_retries / (double)sn.pv.budget_allowed);
    else
        evbuffer_add_printf(out, "0");
    evbuffer_add_printf(out, ",\"log_lines_dropped\":%" PRIu64 ",",
                        s->log ? io_logq_dropped(s->log) : (uint64_t)0);
    unsigned ej = 0, qu = 0, inflight = 0;
    for (size_t i = 0; sn.have_up && i < sn.uv.n; i++) {
        qu += sn.uv.e[i].quarantined > 0;
        ej += !sn.uv.e[i].quarantined && sn.uv.e[i].ejected;
        inflight += sn.uv.e[i].in_flight;
    }
    evbuffer_add_printf(out, "\"upstreams\":{\"total\":%zu,\"ejected\":%u,\"quarantined\":%u,\"in_flight\":%u},",
                        sn.have_up ? sn.uv.n : 0, ej, qu, inflight);
    unsigned open = 0, half = 0;
    for (size_t i = 0; sn.have_pol && i < sn.pv.ndom; i++) {
        open += sn.pv.dom[i].state == RT_BREAKER_OPEN;
        half += sn.pv.dom[i].state == RT_BREAKER_HALF_OPEN;
    }
    evbuffer_add_printf(out, "\"domains\":{\"tracked\":%u,\"open\":%u,\"half_open\":%u},",
                        sn.have_pol ? sn.pv.domains_tracked : 0, open, half);
    /* Top failure codes: the last minute first, then all time. */
    top_code top[RT_E__COUNT];
    unsigned nt = 0;
    for (unsigned c = 1; c < RT_E__COUNT; c++)
        if (sn.t.req[c])
            top[nt++] = (top_code){ c, sn.t.req[c], s60.code[c] };
    qsort(top, nt, sizeof top[0], top_cmp);
    evbuffer_add_printf(out, "\"top_failures\":[");
    for (unsigned i = 0; i < nt && i < ADM_TOP_FAILURES; i++) {
        evbuffer_add_printf(out, "%s{", i ? "," : "");
        code_fields(out, (rt_code)top[i].code);
        evbuffer_add_printf(out, ",\"count\":%" PRIu64 ",\"last_60s\":%" PRIu64 ",\"share\":", top[i].total,
                            top[i].recent);
        ratio(out, (double)top[i].total, (double)requests);
        evbuffer_add_printf(out, "}");
    }
    evbuffer_add_printf(out, "]}\n");
    adm_snap_free(&sn);
    return 200;
}

/* ==== GET /api/v1/history?since=UNIX_MS ==== */

int adm_api_history(adm_server *a, const char *query, struct evbuffer *out)
{
    uint64_t since;
    if (query_u64(query, "since", 0, &since) != 0) {
        adm_json_error(out, "since must be Unix milliseconds");
        return 400;
    }
    evbuffer_add_printf(out, "{\"interval_s\":1,\"capacity\":%u,\"points\":[", ADM_HISTORY);
    uint64_t have = a->nhist < ADM_HISTORY ? a->nhist : ADM_HISTORY;
    bool first = true;
    for (uint64_t k = a->nhist - have; k < a->nhist; k++) {
        const adm_point *p = &a->hist[k % ADM_HISTORY];
        if (p->t_ms <= since)
            continue;
        evbuffer_add_printf(out, "%s{\"t_ms\":%" PRIu64 ",\"requests\":%u,\"ok\":%u,\"attempts\":%u,\"retries\":%u,"
                                 "\"failures\":{",
                            first ? "" : ",", p->t_ms, p->requests, p->ok, p->attempts, p->retries);
        for (unsigned o = 1; o < ADM_ORIGINS; o++)
            evbuffer_add_printf(out, "%s\"%s\":%u", o > 1 ? "," : "", origin_names[o], p->origin[o]);
        evbuffer_add_printf(out, "}}");
        first = false;
    }
    evbuffer_add_printf(out, "]}\n");
    return 200;
}

/* ==== GET /api/v1/upstreams ==== */

int adm_api_upstreams(adm_server *a, const char *query, struct evbuffer *out)
{
    uint64_t limit;
    if (query_u64(query, "limit", ADM_API_UPSTREAMS_MAX, &limit) != 0) {
        adm_json_error(out, "limit must be a whole number");
        return 400;
    }
    if (limit > ADM_API_UPSTREAMS_MAX)
        limit = ADM_API_UPSTREAMS_MAX;
    gw_up_view uv;
    if (gw_stats_upstreams(a->s, &uv) != 0) {
        adm_json_error(out, "out of memory");
        return 503;
    }
    size_t listed = uv.n < limit ? uv.n : (size_t)limit;
    evbuffer_add_printf(out, "{\"generation\":%" PRIu64 ",\"count\":%zu,\"listed\":%zu,\"workers\":%u,\"upstreams\":[",
                        uv.pool->generation, uv.n, listed, a->s->nworkers);
    for (size_t i = 0; i < listed; i++) {
        const rt_upstream *u = &uv.pool->pool.v[i];
        const gw_up_view_entry *e = &uv.e[i];
        bool direct = u->scheme == RT_UP_DIRECT;
        evbuffer_add_printf(out, "%s{\"label\":", i ? "," : "");
        adm_json_str(out, u->label);
        evbuffer_add_printf(out, ",\"address\":");
        if (direct) {
            evbuffer_add_printf(out, "null");
        } else {
            char hp[RT_UP_HOST_MAX + 16];
            snprintf(hp, sizeof hp, strchr(u->host, ':') ? "[%s]:%u" : "%s:%u", u->host, u->port);
            adm_json_str(out, hp);
        }
        const char *health = e->quarantined ? "quarantined" : e->ejected ? "ejected" : "healthy";
        evbuffer_add_printf(out, ",\"direct\":%s,\"tls\":%s,\"health\":\"%s\",\"in_flight\":%u,\"attempts\":%" PRIu64
                                 ",\"failures\":%" PRIu64 ",\"failure_rate\":",
                            direct ? "true" : "false", u->scheme == RT_UP_HTTPS ? "true" : "false", health,
                            e->in_flight, e->attempts, e->failures);
        ratio(out, (double)e->failures, (double)e->attempts);
        evbuffer_add_printf(out, ",\"failures_by_code\":{");
        bool first = true;
        for (unsigned c = 1; c < RT_E__COUNT; c++) {
            if (!e->code[c])
                continue;
            evbuffer_add_printf(out, "%s\"%s\":%" PRIu64, first ? "" : ",", rt_code_name((rt_code)c), e->code[c]);
            first = false;
        }
        evbuffer_add_printf(out, "},\"latency_p50_ms\":");
        if (e->attempts)
            evbuffer_add_printf(out, "%.1f", gw_hist_quantile(e->lat, 0.5));
        else
            evbuffer_add_printf(out, "null");
        evbuffer_add_printf(out, ",\"ejected\":%s,\"quarantined\":%s,\"quarantine\":", e->ejected ? "true" : "false",
                            e->quarantined ? "true" : "false");
        if (!e->quarantined) {
            evbuffer_add_printf(out, "null");
        } else if (e->qcode == GW_QCODE_OPERATOR) {
            evbuffer_add_printf(out, "{\"code\":null,\"why\":\"operator request\",\"fix\":"
                                     "\"POST /api/v1/upstreams/LABEL/readmit or reload the pool to bring it back\"}");
        } else {
            evbuffer_add_printf(out, "{");
            code_fields(out, (rt_code)e->qcode);
            evbuffer_add_printf(out, ",\"why\":");
            adm_json_str(out, rt_code_name((rt_code)e->qcode));
            evbuffer_add_printf(out, "}");
        }
        evbuffer_add_printf(out, ",\"bans\":%u,\"stats_tracked\":%s}", e->bans, e->tracked ? "true" : "false");
    }
    evbuffer_add_printf(out, "]}\n");
    gw_up_view_free(&uv);
    return 200;
}

/* ==== GET /api/v1/domains ==== */

int adm_api_domains(adm_server *a, const char *query, struct evbuffer *out)
{
    uint64_t limit;
    if (query_u64(query, "limit", 1000, &limit) != 0) {
        adm_json_error(out, "limit must be a whole number");
        return 400;
    }
    gw_policy_view pv;
    if (gw_stats_policy(a->s, &pv) != 0) {
        adm_json_error(out, "out of memory");
        return 503;
    }
    unsigned open = 0, half = 0;
    for (size_t i = 0; i < pv.ndom; i++) {
        open += pv.dom[i].state == RT_BREAKER_OPEN;
        half += pv.dom[i].state == RT_BREAKER_HALF_OPEN;
    }
    size_t listed = pv.ndom < limit ? pv.ndom : (size_t)limit;
    evbuffer_add_printf(out, "{\"tracked\":%u,\"open\":%u,\"half_open\":%u,\"window_s\":%u,\"listed\":%zu,\"domains\":[",
                        pv.domains_tracked, open, half, RT_BREAKER_WINDOW_MS / 1000, listed);
    for (size_t i = 0; i < listed; i++) {
        const gw_dom_snap *d = &pv.dom[i];
        evbuffer_add_printf(out, "%s{\"domain\":", i ? "," : "");
        adm_json_str(out, d->name);
        evbuffer_add_printf(out, ",\"attempts\":%u,\"failures\":%u,\"failure_rate\":", d->outcomes, d->failures);
        ratio(out, d->failures, d->outcomes);
        evbuffer_add_printf(out, ",\"breaker\":\"%s\",\"retry_in_s\":", rt_breaker_state_name((rt_breaker_state)d->state));
        if (d->state == RT_BREAKER_OPEN || d->paused)
            evbuffer_add_printf(out, "%.1f", d->wait_ms / 1000.0);
        else
            evbuffer_add_printf(out, "null");
        evbuffer_add_printf(out, ",\"paused\":%s,\"bans\":%u}", d->paused ? "true" : "false", d->bans);
    }
    evbuffer_add_printf(out, "]}\n");
    gw_policy_view_free(&pv);
    return 200;
}

/* ==== GET /api/v1/errors?since=UNIX_MS&limit=N ==== */

int adm_api_errors(adm_server *a, const char *query, struct evbuffer *out)
{
    uint64_t since, limit;
    if (query_u64(query, "since", 0, &since) != 0 || query_u64(query, "limit", 100, &limit) != 0) {
        adm_json_error(out, "since (Unix milliseconds) and limit must be whole numbers");
        return 400;
    }
    size_t cap = (size_t)a->s->nworkers * GW_STATS_ERR_RING;
    if (limit > cap)
        limit = cap;
    gw_err_rec *v = calloc(limit ? limit : 1, sizeof *v);
    if (!v) {
        adm_json_error(out, "out of memory");
        return 503;
    }
    size_t n = gw_stats_errors(a->s, since, v, (size_t)limit);
    evbuffer_add_printf(out, "{\"count\":%zu,\"kept_per_worker\":%u,\"errors\":[", n, GW_STATS_ERR_RING);
    for (size_t i = 0; i < n; i++) {
        const gw_err_rec *r = &v[i];
        char ts[40];
        iso_time(r->time_ms, ts, sizeof ts);
        evbuffer_add_printf(out, "%s{\"time_ms\":%" PRIu64 ",\"time\":\"%s\",", i ? "," : "", r->time_ms, ts);
        code_fields(out, (rt_code)r->code);
        evbuffer_add_printf(out, ",\"status\":%d,\"method\":", r->status);
        adm_json_str(out, r->method);
        evbuffer_add_printf(out, ",\"url\":");
        adm_json_str(out, r->url);
        evbuffer_add_printf(out, ",\"upstream\":");
        adm_json_str(out, r->upstream);
        evbuffer_add_printf(out, ",\"attempts\":%u,\"ms\":%u,\"evidence\":", r->attempts, r->ms);
        adm_json_str(out, r->evidence);
        evbuffer_add_printf(out, "}");
    }
    evbuffer_add_printf(out, "]}\n");
    free(v);
    return 200;
}

/* ==== Actions ==== */

int adm_api_reload(adm_server *a, struct evbuffer *out)
{
    unsigned found;
    int rc;
    char detail[640];
    gw_log_event(a->s, "admin_reload", "reload requested through the admin API");
    unsigned applied = gw_stats_command(a->s, GW_CMD_RELOAD, NULL, ADM_CMD_TIMEOUT_MS, &found, &rc, detail, sizeof detail);
    if (!applied) {
        adm_json_error(out, "the reload did not finish in time; watch the log for pool_reloaded or reload_failed");
        return 504;
    }
    evbuffer_add_printf(out, "{\"ok\":%s,\"detail\":", rc == 0 ? "true" : "false");
    adm_json_str(out, detail);
    evbuffer_add_printf(out, "}\n");
    return rc == 0 ? 200 : 409;
}

static bool label_exists(gw_server *s, const char *label)
{
    gw_pool *p = gw_pool_acquire(s);
    bool found = false;
    for (size_t i = 0; i < p->pool.n && !found; i++)
        found = strcmp(p->pool.v[i].label, label) == 0;
    gw_pool_release(p);
    return found;
}

static int command_result(adm_server *a, struct evbuffer *out, unsigned applied, const char *what, const char *name,
                          unsigned found)
{
    if (applied < a->s->nworkers) {
        evbuffer_add_printf(out, "{\"ok\":false,\"applied_workers\":%u,\"workers\":%u,\"error\":\"not every worker "
                                 "answered in time; the action stays queued\"}\n",
                            applied, a->s->nworkers);
        return 504;
    }
    evbuffer_add_printf(out, "{\"ok\":true,\"%s\":", what);
    adm_json_str(out, name);
    evbuffer_add_printf(out, ",\"workers\":%u,\"found_in_workers\":%u}\n", applied, found);
    return 200;
}

int adm_api_upstream_action(adm_server *a, const char *label, const char *action, struct evbuffer *out)
{
    if (!label_exists(a->s, label)) {
        adm_json_error(out, "no upstream with this label in the current pool (labels: GET /api/v1/upstreams)");
        return 404;
    }
    bool q = !strcmp(action, "quarantine");
    char msg[400];
    snprintf(msg, sizeof msg, "%s %s through the admin API", label, q ? "quarantined" : "readmitted");
    gw_log_event(a->s, q ? "admin_quarantine" : "admin_readmit", msg);
    unsigned found;
    int rc;
    unsigned applied = gw_stats_command(a->s, q ? GW_CMD_QUARANTINE : GW_CMD_READMIT, label, ADM_CMD_TIMEOUT_MS,
                                        &found, &rc, NULL, 0);
    return command_result(a, out, applied, "upstream", label, found);
}

int adm_api_domain_reset(adm_server *a, const char *domain, struct evbuffer *out)
{
    char msg[400];
    snprintf(msg, sizeof msg, "%.253s: breaker closed, pacing and exit bans cleared through the admin API", domain);
    gw_log_event(a->s, "admin_domain_reset", msg);
    unsigned found;
    int rc;
    unsigned applied = gw_stats_command(a->s, GW_CMD_DOMAIN_RESET, domain, ADM_CMD_TIMEOUT_MS, &found, &rc, NULL, 0);
    return command_result(a, out, applied, "domain", domain, found);
}
