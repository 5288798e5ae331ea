/* The access-log record: one JSON object per client request (DESIGN.md
 * "Access log"). Upstream passwords never reach it: attempts name the
 * upstream by its label.
 *
 * This runs for every request, so it is written without printf: fields
 * are appended directly and the timestamp's date part is formatted once a
 * second per worker. */
#include <stdio.h>
#include <time.h>

#include "core/base/wbuf.h"
#include "gateway/gw_int.h"
#include "gateway/stats.h"

/* ,"key":"value" with JSON escaping of the value. */
static void add_str(rt_wbuf *b, const char *key, size_t keylen, rt_slice v)
{
    rt_wbuf_add(b, ",\"", 2);
    rt_wbuf_add(b, key, keylen);
    rt_wbuf_add(b, "\":\"", 3);
    rt_wbuf_add_json(b, v);
    rt_wbuf_add(b, "\"", 1);
}
#define ADD_STR(b, key, v) add_str((b), key, sizeof key - 1, (v))

/* ,"key":123 */
static void add_num(rt_wbuf *b, const char *key, size_t keylen, uint64_t v)
{
    rt_wbuf_add(b, ",\"", 2);
    rt_wbuf_add(b, key, keylen);
    rt_wbuf_add(b, "\":", 2);
    rt_wbuf_addu(b, v);
}
#define ADD_NUM(b, key, v) add_num((b), key, sizeof key - 1, (uint64_t)(v))

static void add_url(rt_wbuf *b, const gw_client *c)
{
    rt_wbuf_adds(b, ",\"url\":\"");
    if (c->url.form == RT_TF_AUTHORITY) {
        rt_wbuf_add_json(b, c->url.host);
        rt_wbuf_add(b, ":", 1);
        rt_wbuf_addu(b, c->url.port);
    } else if (c->url.form == RT_TF_ABSOLUTE) {
        rt_wbuf_add_json(b, c->url.scheme);
        rt_wbuf_add(b, "://", 3);
        rt_wbuf_add_json(b, c->url.host);
        rt_wbuf_add(b, ":", 1);
        rt_wbuf_addu(b, c->url.port);
        rt_wbuf_add_json(b, c->url.path);
    } else if (c->head) {
        rt_wbuf_add_json(b, c->req.target);
    }
    rt_wbuf_add(b, "\"", 1);
}

/* "2026-11-26T16:13:59.039Z": the part up to the seconds is formatted
 * once per second and kept by the worker. */
static void add_time(rt_wbuf *b, gw_worker *w, uint64_t wall_ms)
{
    time_t secs = (time_t)(wall_ms / 1000);
    if (secs != w->ts_secs) {
        struct tm tm;
        gmtime_r(&secs, &tm);
        strftime(w->ts_text, sizeof w->ts_text, "%Y-%m-%dT%H:%M:%S", &tm);
        w->ts_secs = secs;
    }
    unsigned ms = (unsigned)(wall_ms % 1000);
    char frac[5] = { '.', (char)('0' + ms / 100), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10), 'Z' };
    rt_wbuf_adds(b, "{\"time\":\"");
    rt_wbuf_adds(b, w->ts_text);
    rt_wbuf_add(b, frac, sizeof frac);
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
    const rt_code_info *ci = rt_code_get(c->code);
    rt_origin origin = c->code == RT_E_ok ? (c->natt ? RT_ORIGIN_TARGET : RT_ORIGIN_NONE) : ci->origin;
    add_time(&b, c->w, c->t_wall_ms);
    ADD_STR(&b, "client", rt_slice_cstr(c->peer));
    ADD_STR(&b, "method", c->head ? c->req.method : RT_SLICE_NULL);
    add_url(&b, c);
    ADD_NUM(&b, "status", c->status > 0 ? c->status : 0);
    rt_wbuf_adds(&b, ",\"code\":\"");
    rt_wbuf_adds(&b, ci->name);
    rt_wbuf_adds(&b, "\",\"origin\":\"");
    rt_wbuf_adds(&b, rt_origin_name(origin));
    rt_wbuf_adds(&b, "\",\"class\":\"");
    rt_wbuf_adds(&b, rt_class_name(ci->cls));
    rt_wbuf_adds(&b, "\",\"attempts\":[");
    for (unsigned i = 0; i < c->natt; i++) {
        const gw_attempt *a = &c->att[i];
        const char *label = a->idx >= 0 && c->pool ? c->pool->pool.v[a->idx].label : "";
        rt_wbuf_adds(&b, i ? ",{\"upstream\":\"" : "{\"upstream\":\"");
        rt_wbuf_add_json(&b, rt_slice_cstr(label));
        rt_wbuf_add(&b, "\"", 1);
        ADD_STR(&b, "exit", rt_slice_cstr(i + 1 == c->natt ? c->exit_token : ""));
        rt_wbuf_adds(&b, ",\"code\":\"");
        rt_wbuf_adds(&b, rt_code_name(a->code));
        rt_wbuf_add(&b, "\"", 1);
        ADD_NUM(&b, "status", a->status > 0 ? a->status : 0);
        ADD_NUM(&b, "ms", a->ms);
        if (a->evidence[0])
            ADD_STR(&b, "evidence", rt_slice_cstr(a->evidence));
        rt_wbuf_add(&b, "}", 1);
    }
    rt_wbuf_add(&b, "]", 1);
    ADD_NUM(&b, "bytes_in", c->bytes_in + c->tunnel_up);
    ADD_NUM(&b, "bytes_out", c->bytes_out + c->tunnel_down);
    ADD_NUM(&b, "ms", gw_now() - c->t_start_ms);
    ADD_STR(&b, "evidence", rt_slice_cstr(c->evidence));
    if (c->hint[0])
        ADD_STR(&b, "hint", rt_slice_cstr(c->hint));
    if (c->session[0])
        ADD_STR(&b, "session", rt_slice_cstr(c->session));
    rt_wbuf_add(&b, "}", 1);
    if (b.overflow) {
        /* Only long evidence strings can get here; keep the record valid. */
        rt_wbuf_init(&b, line, sizeof line);
        add_time(&b, c->w, c->t_wall_ms);
        ADD_STR(&b, "client", rt_slice_cstr(c->peer));
        ADD_NUM(&b, "status", c->status > 0 ? c->status : 0);
        ADD_STR(&b, "code", rt_slice_cstr(ci->name));
        rt_wbuf_adds(&b, ",\"note\":\"record truncated\"}");
    }
    io_logq_put(q, line, b.len);
}
