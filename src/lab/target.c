/* The lab's simulated target sites: one HTTP and one HTTPS listener serving
 * virtual hosts by Host header, with keep-alive, pipelining and streamed
 * large bodies. Who the client "is" (its exit IP as a target would see it)
 * comes from an X-Lab-Exit field, else from a PROXY protocol v1 line the lab
 * proxies send first on every connection (the only way to label a CONNECT
 * tunnel's traffic), else from the peer address. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>

#include "core/base/wbuf.h"
#include "core/http/http1.h"
#include "io/clock.h"
#include "lab/lab_int.h"
#include "lab/pages.h"

#define T_MAX_HDRS 128
#define T_MAX_BYTES (UINT64_C(1) << 40) /* /bytes/N and /chunked/N cap */
#define T_CHUNK 16384                   /* chunk size of /chunked/N */
#define T_FILL 65536                    /* static filler for generated bodies */
#define T_PROXY_LINE_MAX 107            /* PROXY v1 line incl. CRLF (spec limit) */
#define T_PEEK_TIMEOUT_S 10
#define T_ECHO_MAX (RT_HTTP_DEFAULT_MAX_HEAD * 7 + 4096) /* JSON escaping grows <= 6x */

enum { TB_NONE = 0, TB_LENGTH, TB_CHUNKED };

typedef struct tconn {
    lab_link link;             /* first: the list links are cast back */
    lab *L;
    struct bufferevent *bev;
    evutil_socket_t fd;        /* HTTPS before the TLS bufferevent exists */
    struct event *ev;          /* PROXY-line peek, then the delay timer */
    struct evbuffer *held;     /* a delayed response waits here */
    bool tls;
    bool proxy_checked;        /* the PROXY line window has passed */
    bool busy;                 /* a response is delayed or still streaming */
    bool close_after;          /* close once the output has drained */
    char exit[LAB_EXIT_MAX];   /* from the PROXY line or the peer */
    int body;                  /* request body to discard */
    uint64_t body_left;
    rt_chunked ch;
    uint64_t gen_left;         /* generated body bytes still to queue */
    bool gen_chunked;
} tconn;

static char filler[T_FILL];

static void tconn_free(tconn *c)
{
    lab_link_del(&c->link);
    if (c->ev)
        event_free(c->ev);
    if (c->held)
        evbuffer_free(c->held);
    if (c->bev)
        bufferevent_free(c->bev);
    else if (c->fd >= 0)
        evutil_closesocket(c->fd);
    free(c);
}

/* ---- response helpers ---- */

static void head(struct evbuffer *out, int status, const char *reason, const char *ctype,
                 uint64_t clen, bool chunked, const char *exit, bool keep_alive, int minor)
{
    evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nServer: lab-target\r\nDate: %s\r\n", status, reason,
                        lab_http_date());
    if (ctype)
        evbuffer_add_printf(out, "Content-Type: %s\r\n", ctype);
    if (chunked)
        evbuffer_add(out, "Transfer-Encoding: chunked\r\n", 28);
    else if (status != 204 && status != 304)
        evbuffer_add_printf(out, "Content-Length: %llu\r\n", (unsigned long long)clen);
    evbuffer_add_printf(out, "X-Lab-Exit: %s\r\n", exit);
    if (!keep_alive)
        evbuffer_add(out, "Connection: close\r\n", 19);
    else if (minor == 0)
        evbuffer_add(out, "Connection: keep-alive\r\n", 24);
    evbuffer_add(out, "\r\n", 2);
}

static const char *reason_of(int s)
{
    switch (s) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default:  return "Lab Status";
    }
}

static void simple(struct evbuffer *out, int status, const char *body, const char *exit,
                   bool keep_alive, int minor, bool head_only)
{
    size_t n = strlen(body);
    head(out, status, reason_of(status), "text/plain; charset=utf-8", n, false, exit, keep_alive, minor);
    if (!head_only)
        evbuffer_add(out, body, n);
}

/* Queue generated body bytes until the output holds LAB_IO_HIGH; the write
 * callback calls again as it drains. The filler is static, so bytes are
 * referenced, never copied. */
static void refill(tconn *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    while (c->gen_left && evbuffer_get_length(out) < LAB_IO_HIGH) {
        size_t n = c->gen_left < (c->gen_chunked ? T_CHUNK : T_FILL)
                       ? (size_t)c->gen_left : (c->gen_chunked ? T_CHUNK : T_FILL);
        if (c->gen_chunked)
            evbuffer_add_printf(out, "%zx\r\n", n);
        evbuffer_add_reference(out, filler, n, NULL, NULL);
        if (c->gen_chunked)
            evbuffer_add(out, "\r\n", 2);
        c->gen_left -= n;
        if (!c->gen_left && c->gen_chunked)
            evbuffer_add(out, "0\r\n\r\n", 5);
    }
    if (!c->gen_left)
        c->busy = false;
}

static bool parse_num(rt_slice s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (s.n == 0 || s.n > 20)
        return false;
    for (size_t i = 0; i < s.n; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s.p[i] - '0');
        if (v > max)
            return false;
    }
    *out = v;
    return true;
}

static bool path_is(rt_slice path, const char *lit)
{
    size_t n = strlen(lit);
    return path.n == n && !memcmp(path.p, lit, n);
}

/* "/bytes/123" with prefix "/bytes/" gives the slice "123". */
static bool path_arg(rt_slice path, const char *prefix, rt_slice *arg)
{
    size_t n = strlen(prefix);
    if (path.n <= n || memcmp(path.p, prefix, n) != 0)
        return false;
    *arg = rt_slice_from(path.p + n, path.n - n);
    return true;
}

static void echo(tconn *c, struct evbuffer *out, const rt_http_req *req, rt_slice host,
                 const char *exit, bool ka, bool head_only)
{
    char *store = malloc(T_ECHO_MAX);
    if (!store) {
        simple(out, 500, "out of memory\n", exit, false, req->h.minor, head_only);
        c->close_after = true;
        return;
    }
    rt_wbuf b;
    rt_wbuf_init(&b, store, T_ECHO_MAX);
    rt_wbuf_adds(&b, "{\"method\": \"");
    rt_wbuf_add_json(&b, req->method);
    rt_wbuf_adds(&b, "\", \"target\": \"");
    rt_wbuf_add_json(&b, req->target);
    rt_wbuf_adds(&b, "\", \"host\": \"");
    rt_wbuf_add_json(&b, host);
    rt_wbuf_adds(&b, "\", \"exit\": \"");
    rt_wbuf_add_json(&b, rt_slice_cstr(exit));
    rt_wbuf_addf(&b, "\", \"tls\": %s, \"version\": \"HTTP/1.%d\", \"headers\": [", c->tls ? "true" : "false",
                 req->h.minor);
    for (size_t i = 0; i < req->h.nhdrs; i++) {
        rt_wbuf_adds(&b, i ? ", [\"" : "[\"");
        rt_wbuf_add_json(&b, req->h.hdrs[i].name);
        rt_wbuf_adds(&b, "\", \"");
        rt_wbuf_add_json(&b, req->h.hdrs[i].value);
        rt_wbuf_adds(&b, "\"]");
    }
    rt_wbuf_adds(&b, "]}\n");
    head(out, 200, "OK", "application/json", b.len, false, exit, ka, req->h.minor);
    if (!head_only)
        evbuffer_add(out, b.p, b.len);
    free(store);
}

static void delay_cb(evutil_socket_t fd, short what, void *arg);
static void process(tconn *c);

/* Answer one parsed request. `out` is where the response goes (the
 * connection's output, or the held buffer when the answer is delayed). */
static void respond(tconn *c, const rt_http_req *req)
{
    lab *L = c->L;
    L->target_requests++;
    bool ka = req->h.keep_alive;
    bool head_only = req->meth == RT_M_HEAD;
    int minor = req->h.minor;

    const char *exit = c->exit;
    char exit_hdr[LAB_EXIT_MAX];
    const rt_http_hdr *xe = rt_http_find(&req->h, "X-Lab-Exit");
    if (xe && xe->value.n) {
        size_t n = xe->value.n < sizeof exit_hdr - 1 ? xe->value.n : sizeof exit_hdr - 1;
        memcpy(exit_hdr, xe->value.p, n);
        exit_hdr[n] = 0;
        exit = exit_hdr;
    }

    rt_url url;
    rt_slice host = RT_SLICE_NULL, path = RT_SLICE_NULL;
    if (rt_url_parse_target(req->target, req->meth, &url) == 0 &&
        (url.form == RT_TF_ORIGIN || url.form == RT_TF_ABSOLUTE)) {
        path = url.path;
        if (url.form == RT_TF_ABSOLUTE)
            host = url.host; /* RFC 9112 section 3.2.2: the target's authority wins */
    }
    if (!host.n) {
        const rt_http_hdr *h = rt_http_find(&req->h, "Host");
        if (h) {
            host = h->value;
            /* Strip a port; IPv6 literals keep their brackets and are no vhost. */
            for (size_t i = host.n; i > 0; i--) {
                if (host.p[i - 1] == ':') {
                    host.n = i - 1;
                    break;
                }
                if (host.p[i - 1] == ']')
                    break;
            }
        }
    }
    /* Drop the query for routing. */
    for (size_t i = 0; i < path.n; i++)
        if (path.p[i] == '?') {
            path.n = i;
            break;
        }

    const lab_host_conf *hc = lab_scenario_host(L->sc, host.p ? host.p : "", host.n);
    uint32_t delay = 0;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (hc) {
        if (hc->down) {
            /* Reached directly (a proxy never forwards here): a dead site's
             * port would refuse, the closest a live listener gets is a close
             * without an answer. */
            c->close_after = true;
            return;
        }
        delay = hc->delay_ms;
        if (delay) {
            if (!c->held)
                c->held = evbuffer_new();
            out = c->held;
        }
        size_t hi = (size_t)(hc - L->sc->host);
        uint32_t retry_after = 0;
        lab_verdict v = L->hstate[hi]
                            ? lab_host_admit(hc, L->hstate[hi], exit, strlen(exit), io_now_ms(), &retry_after)
                            : LAB_V_OK;
        if (v == LAB_V_BANNED) {
            lab_page_target_block(out, hc, exit, rt_rng_next(&L->host_rng), ka);
            goto done;
        }
        if (v == LAB_V_RATE_LIMITED) {
            lab_page_target_rate_limit(out, hc, exit, hc->rate, retry_after, ka);
            goto done;
        }
        if (hc->p503 > 0 && rt_rng_unit(&L->host_rng) < hc->p503) {
            lab_page_target_503(out, hc, exit, ka);
            goto done;
        }
    }

    rt_slice arg;
    uint64_t n;
    if (path_is(path, "/")) {
        char body[512];
        int len = snprintf(body, sizeof body,
                           "<!DOCTYPE html>\n<html><head><title>%.*s</title></head>\n<body><h1>%.*s</h1>"
                           "<p>rotor lab target; you came from %s.</p></body></html>\n",
                           (int)(host.n > 64 ? 64 : host.n), host.p ? host.p : "",
                           (int)(host.n > 64 ? 64 : host.n), host.p ? host.p : "", exit);
        head(out, 200, "OK", "text/html; charset=utf-8", (uint64_t)len, false, exit, ka, minor);
        if (!head_only)
            evbuffer_add(out, body, (size_t)len);
    } else if (path_is(path, "/ip")) {
        char body[LAB_EXIT_MAX * 7 + 32];
        rt_wbuf b;
        rt_wbuf_init(&b, body, sizeof body);
        rt_wbuf_adds(&b, "{\"ip\": \"");
        rt_wbuf_add_json(&b, rt_slice_cstr(exit));
        rt_wbuf_adds(&b, "\"}\n");
        head(out, 200, "OK", "application/json", b.len, false, exit, ka, minor);
        if (!head_only)
            evbuffer_add(out, b.p, b.len);
    } else if (path_is(path, "/1k")) {
        head(out, 200, "OK", "text/plain", 1024, false, exit, ka, minor);
        if (!head_only)
            evbuffer_add_reference(out, filler, 1024, NULL, NULL);
    } else if (path_arg(path, "/bytes/", &arg) && parse_num(arg, T_MAX_BYTES, &n)) {
        head(out, 200, "OK", "application/octet-stream", n, false, exit, ka, minor);
        if (!head_only)
            c->gen_left = n;
        c->gen_chunked = false;
    } else if (path_arg(path, "/chunked/", &arg) && parse_num(arg, T_MAX_BYTES, &n)) {
        head(out, 200, "OK", "application/octet-stream", 0, !head_only, exit, ka, minor);
        if (!head_only) {
            c->gen_left = n;
            c->gen_chunked = true;
            if (n == 0)
                evbuffer_add(out, "0\r\n\r\n", 5);
        }
    } else if (path_arg(path, "/status/", &arg) && parse_num(arg, 599, &n) && n >= 200) {
        char body[16];
        snprintf(body, sizeof body, "%u\n", (unsigned)n);
        if (n == 204 || n == 304) {
            head(out, (int)n, reason_of((int)n), NULL, 0, false, exit, ka, minor);
        } else {
            simple(out, (int)n, body, exit, ka, minor, head_only);
        }
    } else if (path_arg(path, "/slow/", &arg) && parse_num(arg, LAB_MAX_DELAY_MS, &n)) {
        if (!c->held)
            c->held = evbuffer_new();
        if (out != c->held) {
            out = c->held;
        }
        delay += (uint32_t)n;
        simple(out, 200, "slow\n", exit, ka, minor, head_only);
    } else if (path_is(path, "/echo")) {
        echo(c, out, req, host, exit, ka, head_only);
    } else {
        simple(out, 404, "not found\n", exit, ka, minor, head_only);
    }

done:
    if (!ka)
        c->close_after = true;
    if (out == c->held) {
        if (!delay) {
            evbuffer_add_buffer(bufferevent_get_output(c->bev), c->held);
        } else {
            c->busy = true;
            if (c->ev)
                event_free(c->ev);
            c->ev = evtimer_new(L->base, delay_cb, c);
            struct timeval tv = { delay / 1000, (delay % 1000) * 1000 };
            evtimer_add(c->ev, &tv);
            return;
        }
    }
    if (c->gen_left) {
        c->busy = true;
        refill(c);
    }
}

static void delay_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    tconn *c = arg;
    evbuffer_add_buffer(bufferevent_get_output(c->bev), c->held);
    c->busy = false;
    if (c->gen_left) {
        c->busy = true;
        refill(c);
    }
    process(c);
}

/* "PROXY TCP4 10.77.0.3 127.0.0.1 5555 443\r\n": the source address is the
 * exit identity. Returns bytes to consume, 0 if incomplete, -1 if invalid. */
static int proxy_line(tconn *c, const char *p, size_t n)
{
    const char *eol = memchr(p, '\n', n);
    if (!eol)
        return n >= T_PROXY_LINE_MAX ? -1 : 0;
    size_t len = (size_t)(eol - p) + 1;
    if (len < 8 || len > T_PROXY_LINE_MAX || p[len - 2] != '\r')
        return -1;
    char line[T_PROXY_LINE_MAX + 1];
    memcpy(line, p, len - 2);
    line[len - 2] = 0;
    char *save = NULL;
    char *w0 = strtok_r(line, " ", &save), *w1 = strtok_r(NULL, " ", &save);
    char *w2 = strtok_r(NULL, " ", &save);
    if (!w0 || strcmp(w0, "PROXY") || !w1)
        return -1;
    if (w2 && (!strcmp(w1, "TCP4") || !strcmp(w1, "TCP6")))
        snprintf(c->exit, sizeof c->exit, "%s", w2);
    return (int)len;
}

static void process(tconn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    while (!c->busy && !c->close_after) {
        if (c->body == TB_LENGTH) {
            if (!lab_body_pass_length(in, NULL, &c->body_left))
                return;
            c->body = TB_NONE;
        }
        if (c->body == TB_CHUNKED) {
            int rc = lab_body_pass_chunked(in, NULL, &c->ch);
            if (rc < 0)
                c->close_after = true;
            if (rc <= 0)
                return;
            c->body = TB_NONE;
        }
        size_t len = evbuffer_get_length(in);
        if (!len)
            return;
        if (!c->proxy_checked) {
            size_t want = len < T_PROXY_LINE_MAX ? len : T_PROXY_LINE_MAX;
            const char *p = (const char *)evbuffer_pullup(in, (ssize_t)want);
            if (!memcmp(p, "PROXY ", want < 6 ? want : 6)) {
                if (want < 6)
                    return; /* a prefix of "PROXY ": wait for more */
                int k = proxy_line(c, p, want);
                if (k == 0)
                    return;
                if (k < 0) {
                    c->close_after = true;
                    return;
                }
                evbuffer_drain(in, (size_t)k);
            }
            c->proxy_checked = true;
            continue;
        }
        size_t want = len < RT_HTTP_DEFAULT_MAX_HEAD ? len : RT_HTTP_DEFAULT_MAX_HEAD;
        const char *p = (const char *)evbuffer_pullup(in, (ssize_t)want);
        rt_http_hdr hdrs[T_MAX_HDRS];
        rt_http_req req;
        memset(&req, 0, sizeof req);
        req.h.hdrs = hdrs;
        req.h.max_hdrs = T_MAX_HDRS;
        ssize_t r = rt_http_parse_request(p, want, &req, NULL);
        if (r == RT_HP_AGAIN) {
            if (want >= RT_HTTP_DEFAULT_MAX_HEAD) {
                simple(bufferevent_get_output(c->bev), 431, "request head too large\n", c->exit, false, 1, false);
                c->close_after = true;
            }
            return;
        }
        if (r < 0) {
            char msg[128];
            snprintf(msg, sizeof msg, "bad request: %s\n", rt_http_err_str(req.h.err));
            simple(bufferevent_get_output(c->bev), rt_http_err_status(req.h.err), msg, c->exit, false, 1, false);
            c->close_after = true;
            return;
        }
        respond(c, &req);
        evbuffer_drain(in, (size_t)r);
        if (req.h.body == RT_BODY_LENGTH) {
            c->body = TB_LENGTH;
            c->body_left = req.h.content_length;
        } else if (req.h.body == RT_BODY_CHUNKED) {
            c->body = TB_CHUNKED;
            rt_chunked_init(&c->ch);
        }
    }
}

static void t_read_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    tconn *c = arg;
    process(c);
    if (c->close_after && !c->busy && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        tconn_free(c);
}

static void t_write_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    tconn *c = arg;
    if (c->gen_left) {
        refill(c);
        if (c->gen_left)
            return;
        process(c);
    }
    if (c->close_after && !c->busy && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        tconn_free(c);
}

static void t_event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    tconn *c = arg;
    if ((what & BEV_EVENT_EOF) && (c->busy || evbuffer_get_length(bufferevent_get_output(c->bev)))) {
        /* The client half-closed after its request: still answer it. */
        c->close_after = true;
        bufferevent_disable(c->bev, EV_READ);
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        tconn_free(c);
}

static void start_bev(tconn *c, struct bufferevent *bev)
{
    c->bev = bev;
    c->fd = -1;
    lab_bev_start(bev, t_read_cb, t_write_cb, t_event_cb, c, true);
}

static tconn *tconn_new(lab *L, evutil_socket_t fd, struct sockaddr *sa, bool tls)
{
    tconn *c = calloc(1, sizeof *c);
    if (!c) {
        evutil_closesocket(fd);
        return NULL;
    }
    c->L = L;
    c->fd = fd;
    c->tls = tls;
    lab_link_add(&L->tconns, &c->link);
    if (sa && sa->sa_family == AF_INET)
        evutil_inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, c->exit, sizeof c->exit);
    else
        snprintf(c->exit, sizeof c->exit, "127.0.0.1");
    return c;
}

static void http_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    (void)l;
    (void)salen;
    lab *L = arg;
    tconn *c = tconn_new(L, fd, sa, false);
    if (!c)
        return;
    struct bufferevent *bev = bufferevent_socket_new(L->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        tconn_free(c);
        return;
    }
    start_bev(c, bev);
}

/* HTTPS: look for a PROXY line before TLS starts, without consuming the
 * ClientHello (MSG_PEEK), then hand the socket to OpenSSL. */
static void peek_cb(evutil_socket_t fd, short what, void *arg)
{
    tconn *c = arg;
    if (what & EV_TIMEOUT) {
        tconn_free(c);
        return;
    }
    char buf[T_PROXY_LINE_MAX];
    ssize_t n = recv(fd, buf, sizeof buf, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        tconn_free(c);
        return;
    }
    if ((size_t)n < 6 && !memcmp(buf, "PROXY ", (size_t)n))
        return; /* persistent event: wait for the rest */
    if ((size_t)n >= 6 && !memcmp(buf, "PROXY ", 6)) {
        int k = proxy_line(c, buf, (size_t)n);
        if (k == 0)
            return;
        if (k < 0 || recv(fd, buf, (size_t)k, 0) != k) {
            tconn_free(c);
            return;
        }
    }
    event_free(c->ev);
    c->ev = NULL;
    c->proxy_checked = true;
    SSL *ssl = SSL_new(lab_tls_server_ctx(c->L->tls));
    struct bufferevent *bev = ssl ? bufferevent_openssl_socket_new(c->L->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                                   BEV_OPT_CLOSE_ON_FREE)
                                  : NULL;
    if (!bev) {
        if (ssl)
            SSL_free(ssl);
        tconn_free(c);
        return;
    }
    start_bev(c, bev);
}

static void https_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    (void)l;
    (void)salen;
    lab *L = arg;
    tconn *c = tconn_new(L, fd, sa, true);
    if (!c)
        return;
    c->ev = event_new(L->base, fd, EV_READ | EV_PERSIST, peek_cb, c);
    struct timeval tv = { T_PEEK_TIMEOUT_S, 0 };
    if (!c->ev || event_add(c->ev, &tv) != 0)
        tconn_free(c);
}

int lab_target_start(lab *L, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof filler; i++)
        filler[i] = "abcdefghijklmnopqrstuvwxyz0123456789\n"[i % 37];
    lab_link_init(&L->tconns);
    for (size_t i = 0; i < L->sc->nhosts; i++) {
        const lab_host_conf *hc = &L->sc->host[i];
        if (hc->rate || hc->ban_after) {
            L->hstate[i] = calloc(1, sizeof *L->hstate[i]);
            if (!L->hstate[i]) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
        }
    }
    uint16_t bound;
    evutil_socket_t fd = lab_bind_loopback(L->http_port, true, &bound, err, errlen);
    if (fd < 0)
        return -1;
    L->http_port = bound;
    L->tl_http = evconnlistener_new(L->base, http_accept, L, LEV_OPT_CLOSE_ON_FREE, 0, fd);
    if (!L->tl_http) {
        evutil_closesocket(fd);
        snprintf(err, errlen, "target: cannot listen on 127.0.0.1:%u", (unsigned)bound);
        return -1;
    }
    fd = lab_bind_loopback(L->https_port, true, &bound, err, errlen);
    if (fd < 0)
        return -1;
    L->https_port = bound;
    L->tl_https = evconnlistener_new(L->base, https_accept, L, LEV_OPT_CLOSE_ON_FREE, 0, fd);
    if (!L->tl_https) {
        evutil_closesocket(fd);
        snprintf(err, errlen, "target: cannot listen on 127.0.0.1:%u", (unsigned)bound);
        return -1;
    }
    return 0;
}

void lab_target_stop(lab *L)
{
    if (L->tl_http)
        evconnlistener_free(L->tl_http);
    if (L->tl_https)
        evconnlistener_free(L->tl_https);
    L->tl_http = L->tl_https = NULL;
    if (L->tconns.next)
        while (L->tconns.next != &L->tconns)
            tconn_free((tconn *)L->tconns.next);
    for (size_t i = 0; i < LAB_MAX_HOSTS; i++) {
        free(L->hstate[i]);
        L->hstate[i] = NULL;
    }
}
