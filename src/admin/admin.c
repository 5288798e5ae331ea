/* The admin thread: its own event loop, a once-a-second tick (history and
 * the status line) and, with --admin, a small HTTP/1.1 server. Requests
 * are parsed with the project's parser (core/http/http1.h); answers always
 * carry Content-Length, so connections may be kept alive.
 *
 * Running apart from the workers keeps a slow scrape or a dashboard from
 * ever delaying proxied traffic; the price is that everything it shows is
 * read through gateway/stats.h (counters, snapshots, command queues). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin/adm_int.h"
#include "admin/admin.h"
#include "core/http/basic.h"
#include "core/http/http1.h"
#include "gateway/gw_int.h"
#include "io/clock.h"

#define ADM_MAX_HDRS 64

typedef struct adm_conn {
    adm_server *a;
    struct adm_conn *prev, *next; /* the server's list of open connections */
    struct bufferevent *bev;
    uint64_t body_left;   /* request body bytes still to discard */
    bool closing;         /* close once the output is flushed */
} adm_conn;

typedef struct adm_req {
    rt_http_req r;
    char path[512];       /* percent-encoded, without the query */
    char query[512];
    bool head;            /* HEAD: answer without a body */
    bool keep_alive;
} adm_req;

/* ==== Responses ==== */

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return status < 400 ? "OK" : "Error";
    }
}

static void conn_free(adm_conn *c)
{
    adm_server *a = c->a;
    if (c->prev)
        c->prev->next = c->next;
    else
        a->conn_head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    a->conns--;
    bufferevent_free(c->bev);
    free(c);
}

/* Write a complete response. extra: more header lines (each ending CRLF). */
static void respond(adm_conn *c, const adm_req *q, int status, const char *ctype, struct evbuffer *body,
                    const char *extra)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    size_t len = body ? evbuffer_get_length(body) : 0;
    bool keep = q && q->keep_alive && !c->closing;
    evbuffer_add_printf(out,
                        "HTTP/1.1 %d %s\r\nServer: rotor/%s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                        "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n%s%s\r\n",
                        status, reason(status), ROTOR_VERSION, ctype, len, extra ? extra : "",
                        keep ? "" : "Connection: close\r\n");
    if (body && !(q && q->head))
        evbuffer_add_buffer(out, body);
    if (!keep)
        c->closing = true;
}

static void respond_error(adm_conn *c, const adm_req *q, int status, const char *msg, const char *extra)
{
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        c->closing = true;
        return;
    }
    adm_json_error(b, msg);
    respond(c, q, status, "application/json", b, extra);
    evbuffer_free(b);
}

/* ==== Access checks ==== */

/* Is the Host header a loopback name? Without credentials the admin
 * server only answers requests addressed to loopback names, so a web page
 * that rebinds its own DNS name to 127.0.0.1 cannot read it. */
static bool host_is_loopback(rt_slice h)
{
    size_t n = h.n;
    if (n && h.p[0] == '[') {
        const char *end = memchr(h.p, ']', n);
        if (!end)
            return false;
        return (size_t)(end - h.p) == 4 && memcmp(h.p, "[::1", 4) == 0;
    }
    const char *colon = memchr(h.p, ':', n);
    if (colon)
        n = (size_t)(colon - h.p);
    if (n == 9 && strncasecmp(h.p, "localhost", 9) == 0)
        return true;
    if (n < 4 || memcmp(h.p, "127.", 4) != 0)
        return false;
    for (size_t i = 4; i < n; i++)
        if (!((h.p[i] >= '0' && h.p[i] <= '9') || h.p[i] == '.'))
            return false;
    return true;
}

/* A browser sends Origin with a cross-site POST; only the admin page's own
 * origin may trigger actions. */
static bool origin_ok(const adm_req *q)
{
    const rt_http_hdr *o = rt_http_find(&q->r.h, "origin");
    if (!o)
        return true;
    const rt_http_hdr *h = rt_http_find(&q->r.h, "host");
    if (!h)
        return false;
    size_t pre = 7; /* "http://" */
    return o->value.n == pre + h->value.n && memcmp(o->value.p, "http://", pre) == 0 &&
           strncasecmp(o->value.p + pre, h->value.p, h->value.n) == 0;
}

/* ==== Routing ==== */

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decode one path segment into out; false on bad escapes, NUL or '/'. */
static bool decode_segment(const char *s, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int ch = (unsigned char)s[i];
        if (ch == '%') {
            if (i + 2 >= n)
                return false;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            ch = hi * 16 + lo;
            i += 2;
        }
        if (ch == 0 || k + 1 >= cap)
            return false;
        out[k++] = (char)ch;
    }
    out[k] = 0;
    return k > 0;
}

/* "/api/v1/upstreams/{label}/quarantine": the decoded middle segment and the
 * last one. */
static bool split_action(const char *path, const char *prefix, char *name, size_t cap, const char **action)
{
    size_t pl = strlen(prefix);
    if (strncmp(path, prefix, pl) != 0)
        return false;
    const char *seg = path + pl;
    const char *slash = strrchr(seg, '/');
    if (!slash || slash == seg)
        return false;
    *action = slash + 1;
    return decode_segment(seg, (size_t)(slash - seg), name, cap);
}

static bool is_get(const adm_req *q) { return q->r.meth == RT_M_GET || q->r.meth == RT_M_HEAD; }

static void route(adm_conn *c, adm_req *q)
{
    adm_server *a = c->a;
    if (a->auth_expect[0]) {
        const rt_http_hdr *h = rt_http_find(&q->r.h, "authorization");
        if (!h || !rt_basic_equal(h->value, a->auth_expect)) {
            respond_error(c, q, 401, h ? "wrong credentials for --admin-auth" : "this admin server requires credentials (--admin-auth)",
                          "WWW-Authenticate: Basic realm=\"rotor admin\", charset=\"UTF-8\"\r\n");
            return;
        }
    } else {
        const rt_http_hdr *h = rt_http_find(&q->r.h, "host");
        if (h && !host_is_loopback(h->value)) {
            respond_error(c, q, 403, "the admin server answers loopback names only (Host: 127.0.0.1, localhost or [::1]); "
                                     "use --admin-auth to reach it under another name", NULL);
            return;
        }
    }
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        c->closing = true;
        return;
    }
    const char *path = q->path;
    int st = 0;
    const char *ctype = "application/json";
    const char *extra = NULL;
    char name[GW_CMD_ARG];
    const char *action = NULL;
    bool post = q->r.meth == RT_M_POST;
    if (post && !origin_ok(q)) {
        st = 403;
        adm_json_error(b, "cross-origin action refused");
    } else if (!strcmp(path, "/") || !strcmp(path, "/index.html")) {
        if (is_get(q)) {
            evbuffer_add_reference(b, adm_dashboard_html_text, adm_dashboard_html_len, NULL, NULL);
            st = 200;
            ctype = "text/html; charset=utf-8";
            extra = "Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                    "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'\r\n"
                    "X-Frame-Options: DENY\r\n";
        }
    } else if (!strcmp(path, "/metrics")) {
        if (is_get(q)) {
            adm_render_metrics(a, b);
            st = 200;
            ctype = "text/plain; version=0.0.4; charset=utf-8";
        }
    } else if (!strcmp(path, "/healthz")) {
        if (is_get(q)) {
            evbuffer_add(b, "ok\n", 3);
            st = 200;
            ctype = "text/plain; charset=utf-8";
        }
    } else if (!strcmp(path, "/api/v1/stats")) {
        if (is_get(q))
            st = adm_api_stats(a, b);
    } else if (!strcmp(path, "/api/v1/history")) {
        if (is_get(q))
            st = adm_api_history(a, q->query, b);
    } else if (!strcmp(path, "/api/v1/upstreams")) {
        if (is_get(q))
            st = adm_api_upstreams(a, q->query, b);
    } else if (!strcmp(path, "/api/v1/domains")) {
        if (is_get(q))
            st = adm_api_domains(a, q->query, b);
    } else if (!strcmp(path, "/api/v1/errors")) {
        if (is_get(q))
            st = adm_api_errors(a, q->query, b);
    } else if (!strcmp(path, "/api/v1/reload")) {
        if (post)
            st = adm_api_reload(a, b);
        else
            extra = "Allow: POST\r\n";
    } else if (split_action(path, "/api/v1/upstreams/", name, sizeof name, &action) &&
               (!strcmp(action, "quarantine") || !strcmp(action, "readmit"))) {
        if (post)
            st = adm_api_upstream_action(a, name, action, b);
        else
            extra = "Allow: POST\r\n";
    } else if (split_action(path, "/api/v1/domains/", name, sizeof name, &action) && !strcmp(action, "reset")) {
        if (post)
            st = adm_api_domain_reset(a, name, b);
        else
            extra = "Allow: POST\r\n";
    } else {
        st = 404;
        adm_json_error(b, "no such page; see docs/api.md (/, /metrics, /api/v1/stats, /api/v1/upstreams, "
                          "/api/v1/domains, /api/v1/errors, /api/v1/history)");
    }
    if (!st) {
        st = 405;
        if (!extra)
            extra = "Allow: GET, HEAD\r\n";
        evbuffer_drain(b, evbuffer_get_length(b));
        adm_json_error(b, "method not allowed here");
    }
    respond(c, q, st, ctype, b, extra);
    evbuffer_free(b);
}

/* ==== Connections ==== */

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
    adm_conn *c = arg;
    if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        conn_free(c);
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    conn_free(arg);
}

/* Handle every complete request in the input. */
static void conn_read_cb(struct bufferevent *bev, void *arg)
{
    adm_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    while (!c->closing) {
        size_t len = evbuffer_get_length(in);
        if (c->body_left) {
            size_t n = len < c->body_left ? len : (size_t)c->body_left;
            evbuffer_drain(in, n);
            c->body_left -= n;
            if (c->body_left)
                return;
            continue;
        }
        if (!len)
            return;
        size_t n = len < ADM_MAX_HEAD + 1 ? len : ADM_MAX_HEAD + 1;
        const char *data = (const char *)evbuffer_pullup(in, (ssize_t)n);
        adm_req q;
        rt_http_hdr hdrs[ADM_MAX_HDRS];
        memset(&q, 0, sizeof q);
        q.r.h.hdrs = hdrs;
        q.r.h.max_hdrs = ADM_MAX_HDRS;
        rt_http_limits lim = { 2048, ADM_MAX_HEAD };
        ssize_t r = rt_http_parse_request(data, n, &q.r, &lim);
        if (r == RT_HP_AGAIN)
            return;
        if (r < 0) {
            int status = rt_http_err_status(q.r.h.err);
            c->closing = true;
            respond_error(c, NULL, status == 501 ? 400 : status, rt_http_err_str(q.r.h.err), NULL);
            break;
        }
        q.keep_alive = q.r.h.keep_alive;
        q.head = q.r.meth == RT_M_HEAD;
        if (q.r.h.body == RT_BODY_CHUNKED) {
            c->closing = true;
            respond_error(c, &q, 400, "send a Content-Length body (chunked admin requests are not accepted)", NULL);
            break;
        }
        if (q.r.h.body == RT_BODY_LENGTH && q.r.h.content_length > ADM_MAX_BODY) {
            c->closing = true;
            respond_error(c, &q, 413, "request body too large", NULL);
            break;
        }
        rt_slice t = q.r.target;
        const char *qm = memchr(t.p, '?', t.n);
        size_t pl = qm ? (size_t)(qm - t.p) : t.n;
        if (t.n == 0 || t.p[0] != '/' || pl >= sizeof q.path || (qm && t.n - pl - 1 >= sizeof q.query)) {
            respond_error(c, &q, t.n && t.p[0] != '/' ? 400 : 404, "request-target not served here", NULL);
        } else {
            memcpy(q.path, t.p, pl);
            q.path[pl] = 0;
            if (qm) {
                memcpy(q.query, qm + 1, t.n - pl - 1);
                q.query[t.n - pl - 1] = 0;
            }
            route(c, &q);
        }
        evbuffer_drain(in, (size_t)r);
        c->body_left = q.r.h.body == RT_BODY_LENGTH ? q.r.h.content_length : 0;
    }
    if (c->closing) {
        bufferevent_disable(bev, EV_READ);
        if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
            conn_free(c);
    }
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    adm_server *a = arg;
    if (a->conns >= ADM_MAX_CONNS) {
        evutil_closesocket(fd);
        return;
    }
    adm_conn *c = calloc(1, sizeof *c);
    struct bufferevent *bev = c ? bufferevent_socket_new(a->base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
    if (!bev) {
        free(c);
        evutil_closesocket(fd);
        return;
    }
    c->a = a;
    c->bev = bev;
    c->next = a->conn_head;
    if (c->next)
        c->next->prev = c;
    a->conn_head = c;
    a->conns++;
    struct timeval idle = { ADM_IDLE_S, 0 };
    bufferevent_set_timeouts(bev, &idle, &idle);
    bufferevent_setcb(bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* ==== The thread ==== */

static void on_second(evutil_socket_t fd, short what, void *arg)
{
    adm_server *a = arg;
    adm_history_tick(a);
    if (a->status_line && a->ticks % ADM_STATUS_EVERY_S == 0)
        adm_status_line(a);
}

static void *adm_main(void *arg)
{
    adm_server *a = arg;
    event_base_dispatch(a->base);
    return NULL;
}

static void adm_free(adm_server *a)
{
    if (a->listener)
        evconnlistener_free(a->listener);
    if (a->second)
        event_free(a->second);
    if (a->base)
        event_base_free(a->base);
    free(a);
}

static int setup_listener(adm_server *a, const gw_config *cfg, char *err, size_t errlen)
{
    if (io_addr_parse(cfg->admin, &a->addr, err, errlen) != 0) {
        char why[256];
        snprintf(why, sizeof why, "%s", err);
        snprintf(err, errlen, "--admin %s: %s", cfg->admin, why);
        return -1;
    }
    io_addr_str((struct sockaddr *)&a->addr.ss, a->addr_str, sizeof a->addr_str);
    a->loopback = io_addr_is_loopback(&a->addr);
    if (!a->loopback && !cfg->admin_auth) {
        snprintf(err, errlen,
                 "refusing to serve the admin API on %s without credentials: anyone who can reach it could read "
                 "your traffic figures and quarantine upstreams or reload the pool. Add --admin-auth USER:PASS, "
                 "or use --admin 127.0.0.1:PORT (and an SSH tunnel to reach it from elsewhere).", a->addr_str);
        return -1;
    }
    if (cfg->admin_auth) {
        if (!strchr(cfg->admin_auth, ':')) {
            snprintf(err, errlen, "--admin-auth expects USER:PASS");
            return -1;
        }
        if (rt_basic_value(cfg->admin_auth, strlen(cfg->admin_auth), a->auth_expect, sizeof a->auth_expect) < 0) {
            snprintf(err, errlen, "--admin-auth credentials are too long");
            return -1;
        }
    }
    a->listener = evconnlistener_new_bind(a->base, on_accept, a,
                                          LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 64,
                                          (struct sockaddr *)&a->addr.ss, (int)a->addr.len);
    if (!a->listener) {
        int e = errno;
        snprintf(err, errlen, "cannot serve the admin API on %s: %s%s", a->addr_str, strerror(e),
                 e == EADDRINUSE ? " (another process uses this port: pick another with --admin)" : "");
        return -1;
    }
    return 0;
}

int adm_start(gw_server *s, char *err, size_t errlen)
{
    const gw_config *cfg = &s->cfg;
    bool status = !cfg->quiet && isatty(STDERR_FILENO);
    if (!cfg->admin && !status)
        return 0;
    adm_server *a = calloc(1, sizeof *a);
    if (!a || !(a->base = event_base_new())) {
        free(a);
        snprintf(err, errlen, "cannot create the admin event loop");
        return -1;
    }
    a->s = s;
    a->status_line = status;
    a->start_wall_ms = io_wall_ms();
    a->start_mono_ms = io_now_ms();
    gw_stats_totals(s, &a->last);
    if (cfg->admin && setup_listener(a, cfg, err, errlen) != 0) {
        adm_free(a);
        return -1;
    }
    a->second = event_new(a->base, -1, EV_PERSIST, on_second, a);
    struct timeval tv = { 1, 0 };
    if (!a->second || event_add(a->second, &tv) != 0 || pthread_create(&a->thread, NULL, adm_main, a) != 0) {
        adm_free(a);
        snprintf(err, errlen, "cannot start the admin thread");
        return -1;
    }
    a->thread_started = true;
    s->admin = a;
    if (cfg->admin)
        fprintf(stderr, "rotor: admin on http://%s/ (metrics at /metrics, API at /api/v1/)%s\n", a->addr_str,
                a->auth_expect[0] ? ", credentials required" : "");
    return 0;
}

void adm_stop(gw_server *s)
{
    adm_server *a = s->admin;
    if (!a)
        return;
    event_base_loopexit(a->base, NULL);
    if (a->thread_started)
        pthread_join(a->thread, NULL);
    while (a->conn_head)
        conn_free(a->conn_head);
    s->admin = NULL;
    adm_free(a);
}
