/* The access-log record: one JSON object per client request (DESIGN.md
 * "Access log"). Upstream passwords never reach it: attempts name the
 * upstream by its label. */
#include <stdio.h>
#include <time.h>

#include "core/base/wbuf.h"
#include "gateway/gw_int.h"
#include "gateway/stats.h"

static void add_str(rt_wbuf *b, const char *key, rt_slice v)
{
    rt_wbuf_addf(b, ",\"%s\":\"", key);
    rt_wbuf_add_json(b, v);
    rt_wbuf_add(b, "\"", 1);
}

static void add_url(rt_wbuf *b, const gw_client *c)
{
    rt_wbuf_adds(b, ",\"url\":\"");
    if (c->url.form == RT_TF_AUTHORITY) {
        rt_wbuf_add_json(b, c->url.host);
        rt_wbuf_addf(b, ":%u", c->url.port);
    } else if (c->url.form == RT_TF_ABSOLUTE) {
        rt_wbuf_add_json(b, c->url.scheme);
        rt_wbuf_adds(b, "://");
        rt_wbuf_add_json(b, c->url.host);
        rt_wbuf_addf(b, ":%u", c->url.port);
        rt_wbuf_add_json(b, c->url.path);
    } else if (c->head) {
        rt_wbuf_add_json(b, c->req.target);
    }
    rt_wbuf_add(b, "\"", 1);
}

void gw_record_log(gw_client *c)
{
    gw_stats_request(c);
    io_logq *q = c->w->srv->log;
    if (!q)
        return;
    char line[8192];
    rt_wbuf b;
    rt_wbuf_init(&b, line, sizeof line);
    time_t secs = (time_t)(c->t_wall_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    const rt_code_info *ci = rt_code_get(c->code);
    rt_origin origin = c->code == RT_E_ok ? (c->natt ? RT_ORIGIN_TARGET : RT_ORIGIN_NONE) : ci->origin;
    rt_wbuf_addf(&b, "{\"time\":\"%s.%03uZ\"", ts, (unsigned)(c->t_wall_ms % 1000));
    add_str(&b, "client", rt_slice_cstr(c->peer));
    add_str(&b, "method", c->head ? c->req.method : RT_SLICE_NULL);
    add_url(&b, c);
    rt_wbuf_addf(&b, ",\"status\":%d,\"code\":\"%s\",\"origin\":\"%s\",\"class\":\"%s\",\"attempts\":[", c->status,
                 ci->name, rt_origin_name(origin), rt_class_name(ci->cls));
    for (unsigned i = 0; i < c->natt; i++) {
        const gw_attempt *a = &c->att[i];
        const char *label = a->idx >= 0 && c->pool ? c->pool->pool.v[a->idx].label : "";
        rt_wbuf_adds(&b, i ? ",{" : "{");
        rt_wbuf_adds(&b, "\"upstream\":\"");
        rt_wbuf_add_json(&b, rt_slice_cstr(label));
        rt_wbuf_adds(&b, "\"");
        add_str(&b, "exit", rt_slice_cstr(i + 1 == c->natt ? c->exit_token : ""));
        rt_wbuf_addf(&b, ",\"code\":\"%s\",\"status\":%d,\"ms\":%u", rt_code_name(a->code), a->status, a->ms);
        if (a->evidence[0])
            add_str(&b, "evidence", rt_slice_cstr(a->evidence));
        rt_wbuf_adds(&b, "}");
    }
    uint64_t in = c->bytes_in + c->tunnel_up, out = c->bytes_out + c->tunnel_down;
    rt_wbuf_addf(&b, "],\"bytes_in\":%llu,\"bytes_out\":%llu,\"ms\":%llu", (unsigned long long)in,
                 (unsigned long long)out, (unsigned long long)(gw_now() - c->t_start_ms));
    add_str(&b, "evidence", rt_slice_cstr(c->evidence));
    if (c->hint[0])
        add_str(&b, "hint", rt_slice_cstr(c->hint));
    if (c->session[0])
        add_str(&b, "session", rt_slice_cstr(c->session));
    rt_wbuf_adds(&b, "}");
    if (b.overflow) {
        /* Only long evidence strings can get here; keep the record valid. */
        rt_wbuf_init(&b, line, sizeof line);
        rt_wbuf_addf(&b, "{\"time\":\"%s.%03uZ\",\"client\":\"%s\",\"status\":%d,\"code\":\"%s\",\"note\":\"record truncated\"}",
                     ts, (unsigned)(c->t_wall_ms % 1000), c->peer, c->status, ci->name);
    }
    io_logq_put(q, line, b.len);
}
