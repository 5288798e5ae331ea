/* The lab's simulated upstream proxies: HTTP forward proxies (absolute-form
 * requests and CONNECT) with Basic auth, each with an exit identity and the
 * faults its scenario gives it. A proxy marked `tls` is an HTTPS proxy: the
 * client connection is TLS (the lab CA's server certificate), everything
 * inside it is the same.
 *
 * Host names resolve inside the lab only: a configured "*.lab" host maps to
 * the lab target listener, 127.0.0.1/localhost with a target port maps to
 * that port, every other name gets a DNS error page and every other address
 * an access-denied page. The lab never opens a connection off the machine.
 *
 * Toward the target, every connection starts with a PROXY protocol v1 line
 * carrying the exit identity (the target's only way to know who a CONNECT
 * tunnel comes from), and forwarded requests carry X-Lab-Exit as well. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>

#include "core/http/http1.h"
#include "lab/lab_int.h"
#include "lab/pages.h"

#define P_MAX_HDRS 128
#define P_TUNNEL_CUT 600  /* tunnel bytes toward the client before a reset/truncate */
#define P_STREAM_CUT 256  /* body bytes before a cut when the length is unknown */
#define P_VIA "1.1 %s (squid/6.13)"

enum pstate {
    PS_HEAD = 0,   /* waiting for a request head */
    PS_SLOW,       /* the slow-first-byte timer runs; the head stays buffered */
    PS_WAIT_UP,    /* request forwarded, waiting for the response head */
    PS_RESP_BODY,  /* relaying the response body */
    PS_TUNNEL_CONNECTING,
    PS_TUNNEL,
    PS_BLACKHOLE,  /* read and discard forever */
    PS_CUT,        /* flushing, then reset or close */
    PS_CLOSING,    /* flushing, then close */
};

enum { BODY_NONE = 0, BODY_LENGTH, BODY_CHUNKED, BODY_CLOSE };

typedef struct pconn {
    lab_link link; /* first: the list links are cast back */
    lab_proxy *px;
    struct bufferevent *cl, *up;
    uint16_t up_port;     /* target port `up` is connected to */
    bool up_reusable;
    enum pstate state;
    struct event *timer;  /* slow first byte */
    struct event *reaper; /* frees the connection outside its callbacks */
    bool doomed;          /* the reaper is scheduled */
    bool slow_done;       /* the delay for the buffered head has been served */
    rt_http_method meth;
    int minor;
    bool cl_keep;
    int req_body;         /* request body still to forward */
    uint64_t req_left;
    rt_chunked req_ch;
    int resp_body;
    uint64_t resp_left;
    rt_chunked resp_ch;
    lab_pfault fault;     /* reset/truncate pending for this response */
    uint64_t cut_left;    /* bytes toward the client before the cut */
    bool resp_close;      /* close the client after this response */
} pconn;

static void p_process(pconn *c);
static void up_read_cb(struct bufferevent *bev, void *arg);
static void up_write_cb(struct bufferevent *bev, void *arg);
static void up_event_cb(struct bufferevent *bev, short what, void *arg);

static void pconn_free(pconn *c)
{
    lab_link_del(&c->link);
    if (c->timer)
        event_free(c->timer);
    if (c->reaper)
        event_free(c->reaper);
    if (c->up)
        bufferevent_free(c->up);
    if (c->cl)
        bufferevent_free(c->cl);
    free(c);
}

static void up_drop(pconn *c)
{
    if (c->up) {
        bufferevent_free(c->up);
        c->up = NULL;
    }
    c->up_reusable = false;
}

static struct evbuffer *cl_out(pconn *c) { return bufferevent_get_output(c->cl); }

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pconn_free(arg);
}

/* Free the connection once the current callback chain has unwound: code
 * deep in a relay may decide to close while its callers still hold c. */
static void pconn_kill(pconn *c)
{
    if (c->doomed)
        return;
    c->doomed = true;
    up_drop(c);
    bufferevent_disable(c->cl, EV_READ | EV_WRITE);
    if (c->timer)
        evtimer_del(c->timer);
    event_active(c->reaper, EV_TIMEOUT, 1);
}

/* Close once everything queued toward the client is written. */
static void close_after_flush(pconn *c)
{
    up_drop(c);
    c->state = PS_CLOSING;
    bufferevent_disable(c->cl, EV_READ);
    if (evbuffer_get_length(cl_out(c)) == 0)
        pconn_kill(c);
}

static void perr(pconn *c, lab_perr e, const char *host, bool keep)
{
    lab_page_proxy_error(cl_out(c), c->px->pc, e, host, keep);
}

/* Answer with a proxy error, then go on with the next request or close. */
static void answer_error(pconn *c, lab_perr e, const char *host, bool keep)
{
    perr(c, e, host, keep);
    if (!keep) {
        close_after_flush(c);
        return;
    }
    c->state = PS_HEAD;
}

/* The cut of a reset/truncate fault: stop relaying, let what is queued reach
 * the client, then close (truncate) or send a TCP reset (reset). */
static void start_cut(pconn *c)
{
    up_drop(c);
    c->state = PS_CUT;
    bufferevent_disable(c->cl, EV_READ);
    if (evbuffer_get_length(cl_out(c)) == 0) {
        if (c->fault == LAB_PF_RESET) {
            struct linger lg = { 1, 0 };
            setsockopt(bufferevent_getfd(c->cl), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        pconn_kill(c);
    }
}

/* Move up to n bytes toward the client, honouring a pending cut.
 * Returns false if the connection was cut (c may be freed). */
static bool relay(pconn *c, struct evbuffer *from, size_t n, bool *cut)
{
    *cut = false;
    if (c->fault == LAB_PF_RESET || c->fault == LAB_PF_TRUNCATE) {
        if ((uint64_t)n >= c->cut_left) {
            n = (size_t)c->cut_left;
            *cut = true;
        }
        c->cut_left -= n;
    }
    evbuffer_remove_buffer(from, cl_out(c), n);
    return !*cut;
}

static void finish_response(pconn *c)
{
    if (!c->up_reusable)
        up_drop(c);
    if (c->resp_close) {
        close_after_flush(c);
        return;
    }
    c->state = PS_HEAD;
    p_process(c);
}

/* Relay response body bytes from the upstream input. */
static void relay_body(pconn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->up);
    bool cut = false;
    while (c->state == PS_RESP_BODY) {
        size_t avail = evbuffer_get_length(in);
        if (c->resp_body == BODY_NONE) {
            finish_response(c);
            return;
        }
        if (!avail)
            return;
        if (c->resp_body == BODY_LENGTH) {
            size_t n = (uint64_t)avail < c->resp_left ? avail : (size_t)c->resp_left;
            uint64_t before = c->resp_left;
            if (!relay(c, in, n, &cut)) {
                start_cut(c);
                return;
            }
            c->resp_left = before - n;
            if (!c->resp_left)
                c->resp_body = BODY_NONE;
        } else if (c->resp_body == BODY_CHUNKED) {
            struct evbuffer_iovec v;
            bool done = false;
            if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
                return;
            ssize_t k = rt_chunked_scan(&c->resp_ch, v.iov_base, v.iov_len, &done);
            if (k < 0) {
                /* The target broke chunked framing: nothing sane to relay. */
                close_after_flush(c);
                return;
            }
            if (!relay(c, in, (size_t)k, &cut)) {
                start_cut(c);
                return;
            }
            if (done)
                c->resp_body = BODY_NONE;
        } else { /* BODY_CLOSE */
            if (!relay(c, in, avail, &cut)) {
                start_cut(c);
                return;
            }
        }
        if (evbuffer_get_length(cl_out(c)) >= LAB_IO_HIGH) {
            bufferevent_disable(c->up, EV_READ);
            return;
        }
    }
}

/* Copy the response head toward the client without hop-by-hop fields, with
 * our own Connection decision (and Via for the Squid style). */
static void write_resp_head(pconn *c, const char *p, const rt_http_resp *resp)
{
    struct evbuffer *out = cl_out(c);
    const char *eol = memchr(p, '\r', 1024);
    evbuffer_add(out, p, eol ? (size_t)(eol - p) : 0);
    evbuffer_add(out, "\r\n", 2);
    for (size_t i = 0; i < resp->h.nhdrs; i++) {
        const rt_http_hdr *h = &resp->h.hdrs[i];
        if (rt_http_is_hop_by_hop(&resp->h, h->name))
            continue;
        evbuffer_add(out, h->name.p, h->name.n);
        evbuffer_add(out, ": ", 2);
        evbuffer_add(out, h->value.p, h->value.n);
        evbuffer_add(out, "\r\n", 2);
    }
    if (c->px->pc->style == LAB_STYLE_SQUID)
        evbuffer_add_printf(out, "Via: " P_VIA "\r\n", c->px->pc->label);
    if (c->resp_close)
        evbuffer_add(out, "Connection: close\r\n", 19);
    else if (c->minor == 0)
        evbuffer_add(out, "Connection: keep-alive\r\n", 24);
    evbuffer_add(out, "\r\n", 2);
}

static void on_resp_head(pconn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->up);
    size_t len = evbuffer_get_length(in);
    size_t want = len < RT_HTTP_DEFAULT_MAX_HEAD ? len : RT_HTTP_DEFAULT_MAX_HEAD;
    const char *p = (const char *)evbuffer_pullup(in, (ssize_t)want);
    rt_http_hdr hdrs[P_MAX_HDRS];
    rt_http_resp resp;
    memset(&resp, 0, sizeof resp);
    resp.h.hdrs = hdrs;
    resp.h.max_hdrs = P_MAX_HDRS;
    ssize_t r = rt_http_parse_response(p, want, &resp, c->meth, NULL);
    if (r == RT_HP_AGAIN && want < RT_HTTP_DEFAULT_MAX_HEAD)
        return;
    if (r < 0) {
        perr(c, LAB_PE_502, "", false);
        close_after_flush(c);
        return;
    }
    if (resp.status < 200) {
        /* 1xx interim answers are relayed and the final one awaited. */
        evbuffer_remove_buffer(in, cl_out(c), (size_t)r);
        return;
    }
    c->resp_body = resp.h.body == RT_BODY_LENGTH ? BODY_LENGTH
                 : resp.h.body == RT_BODY_CHUNKED ? BODY_CHUNKED
                 : resp.h.body == RT_BODY_CLOSE ? BODY_CLOSE : BODY_NONE;
    c->resp_left = resp.h.content_length;
    rt_chunked_init(&c->resp_ch);
    c->up_reusable = resp.h.keep_alive && c->resp_body != BODY_CLOSE;
    c->resp_close = !c->cl_keep || c->resp_body == BODY_CLOSE;
    if (c->fault == LAB_PF_RESET || c->fault == LAB_PF_TRUNCATE) {
        if (c->resp_body == BODY_LENGTH)
            c->cut_left = resp.h.content_length / 2;
        else {
            uint64_t after = (uint64_t)(len - (size_t)r) / 2;
            c->cut_left = after < P_STREAM_CUT ? after : P_STREAM_CUT;
        }
        /* A cut response is the last on this connection either way. */
        c->resp_close = true;
        c->up_reusable = false;
    }
    write_resp_head(c, p, &resp);
    evbuffer_drain(in, (size_t)r);
    c->state = PS_RESP_BODY;
    if ((c->fault == LAB_PF_RESET || c->fault == LAB_PF_TRUNCATE) && c->cut_left == 0) {
        start_cut(c);
        return;
    }
    relay_body(c);
}

static void up_read_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    pconn *c = arg;
    if (c->state == PS_WAIT_UP)
        on_resp_head(c);
    else if (c->state == PS_RESP_BODY)
        relay_body(c);
    else if (c->state == PS_TUNNEL) {
        struct evbuffer *in = bufferevent_get_input(c->up);
        bool cut;
        if (!relay(c, in, evbuffer_get_length(in), &cut)) {
            start_cut(c);
            return;
        }
        if (evbuffer_get_length(cl_out(c)) >= LAB_IO_HIGH)
            bufferevent_disable(c->up, EV_READ);
    } else if (c->state == PS_HEAD) {
        /* Bytes from the target between responses: the connection is no
         * longer in a known state, so it is not reused. */
        up_drop(c);
    }
}

/* Forward request body bytes (or tunnel bytes) from the client. */
static void forward_client(pconn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->cl);
    if (!c->up)
        return;
    struct evbuffer *out = bufferevent_get_output(c->up);
    if (c->state == PS_TUNNEL) {
        evbuffer_add_buffer(out, in);
    } else {
        while (c->req_body != BODY_NONE && evbuffer_get_length(in)) {
            if (c->req_body == BODY_LENGTH) {
                if (lab_body_pass_length(in, out, &c->req_left))
                    c->req_body = BODY_NONE;
            } else {
                int rc = lab_body_pass_chunked(in, out, &c->req_ch);
                if (rc < 0) {
                    close_after_flush(c);
                    return;
                }
                if (rc == 0)
                    break;
                c->req_body = BODY_NONE;
            }
        }
    }
    if (evbuffer_get_length(out) >= LAB_IO_HIGH)
        bufferevent_disable(c->cl, EV_READ);
}

static void up_write_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    pconn *c = arg;
    if (c->state == PS_TUNNEL || c->state == PS_WAIT_UP || c->state == PS_RESP_BODY) {
        bufferevent_enable(c->cl, EV_READ);
        forward_client(c);
    }
}

static void up_event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    pconn *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        if (c->state == PS_TUNNEL_CONNECTING) {
            evbuffer_add(cl_out(c), "HTTP/1.1 200 Connection established\r\n\r\n", 39);
            c->state = PS_TUNNEL;
            forward_client(c);
            if (c->fault == LAB_PF_RESET || c->fault == LAB_PF_TRUNCATE)
                c->cut_left = P_TUNNEL_CUT;
        }
        return;
    }
    /* EOF, error or timeout from the target side. */
    switch (c->state) {
    case PS_TUNNEL_CONNECTING:
        up_drop(c);
        answer_error(c, LAB_PE_CONNECT, "", false);
        return;
    case PS_WAIT_UP:
        up_drop(c);
        answer_error(c, LAB_PE_502, "", false);
        return;
    case PS_RESP_BODY:
        if (c->resp_body == BODY_CLOSE) {
            relay_body(c);
            if (!c->doomed && c->state == PS_RESP_BODY) {
                c->up_reusable = false;
                finish_response(c);
            }
            return;
        }
        close_after_flush(c); /* mid-body: the client sees the short body */
        return;
    case PS_TUNNEL: {
        struct evbuffer *in = bufferevent_get_input(c->up);
        bool cut;
        if (!relay(c, in, evbuffer_get_length(in), &cut)) {
            start_cut(c);
            return;
        }
        close_after_flush(c);
        return;
    }
    default:
        up_drop(c);
        return;
    }
}

/* Open (or reuse) the connection to a lab target port and greet it with
 * the PROXY line that names this proxy's exit. */
static int up_open(pconn *c, uint16_t port, bool fresh)
{
    if (c->up && (fresh || !c->up_reusable || c->up_port != port))
        up_drop(c);
    if (c->up)
        return 0;
    lab *L = c->px->lab;
    c->up = bufferevent_socket_new(L->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!c->up)
        return -1;
    lab_bev_start(c->up, up_read_cb, up_write_cb, up_event_cb, c, false);
    struct sockaddr_in sin;
    lab_loopback_addr(&sin, port);
    c->up_port = port;
    c->up_reusable = true;
    evbuffer_add_printf(bufferevent_get_output(c->up), "PROXY TCP4 %s 127.0.0.1 %u %u\r\n",
                        c->px->pc->exit, 10000u + (unsigned)c->px->idx, (unsigned)port);
    if (bufferevent_socket_connect(c->up, (struct sockaddr *)&sin, sizeof sin) != 0) {
        up_drop(c);
        return -1;
    }
    return 0;
}

static void write_req_head(pconn *c, const rt_http_req *req, const rt_url *url)
{
    struct evbuffer *out = bufferevent_get_output(c->up);
    evbuffer_add(out, req->method.p, req->method.n);
    evbuffer_add(out, " ", 1);
    evbuffer_add(out, url->path.p, url->path.n);
    evbuffer_add(out, " HTTP/1.1\r\n", 11);
    if (!rt_http_find(&req->h, "Host")) {
        evbuffer_add(out, "Host: ", 6);
        evbuffer_add(out, url->host.p, url->host.n);
        if (url->port != 80)
            evbuffer_add_printf(out, ":%u", (unsigned)url->port);
        evbuffer_add(out, "\r\n", 2);
    }
    for (size_t i = 0; i < req->h.nhdrs; i++) {
        const rt_http_hdr *h = &req->h.hdrs[i];
        if (rt_http_is_hop_by_hop(&req->h, h->name) || rt_slice_eq_ci(h->name, "X-Lab-Exit"))
            continue;
        evbuffer_add(out, h->name.p, h->name.n);
        evbuffer_add(out, ": ", 2);
        evbuffer_add(out, h->value.p, h->value.n);
        evbuffer_add(out, "\r\n", 2);
    }
    evbuffer_add_printf(out, "X-Lab-Exit: %s\r\n\r\n", c->px->pc->exit);
}

static void slow_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pconn *c = arg;
    c->slow_done = true;
    c->state = PS_HEAD;
    p_process(c);
}

/* Where a request's host lives inside the lab. Returns the target port, or
 * 0 with *e set to the error the proxy answers with. */
static uint16_t resolve(pconn *c, const rt_url *url, bool connect, char *host, size_t cap, lab_perr *e)
{
    lab *L = c->px->lab;
    size_t n = url->host.n < cap - 1 ? url->host.n : cap - 1;
    for (size_t i = 0; i < n; i++) {
        char ch = url->host.p[i];
        host[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    host[n] = 0;
    if (url->host.n >= cap) {
        *e = LAB_PE_DNS;
        return 0;
    }
    if (n > 4 && !strcmp(host + n - 4, ".lab")) {
        const lab_host_conf *hc = lab_scenario_host(L->sc, host, n);
        if (!hc) {
            *e = LAB_PE_DNS;
            return 0;
        }
        if (hc->down) {
            *e = LAB_PE_CONNECT;
            return 0;
        }
        if (connect)
            return url->port == 80 || url->port == L->http_port ? L->http_port : L->https_port;
        return L->http_port;
    }
    struct in6_addr a6;
    struct in_addr a4;
    bool literal = inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1;
    bool loop = !strcmp(host, "127.0.0.1") || !strcmp(host, "localhost");
    if (loop && (url->port == L->http_port || url->port == L->https_port))
        return url->port;
    *e = literal || loop ? LAB_PE_DENIED : LAB_PE_DNS;
    return 0;
}

static bool auth_ok(pconn *c, const rt_http_req *req)
{
    lab *L = c->px->lab;
    if (c->px->pc->bad_auth)
        return false;
    if (!L->auth[0])
        return true;
    const rt_http_hdr *h = rt_http_find(&req->h, "Proxy-Authorization");
    if (!h || h->value.n < 6 || strncasecmp(h->value.p, "Basic ", 6) != 0)
        return false;
    rt_slice tok = rt_slice_from(h->value.p + 6, h->value.n - 6);
    while (tok.n && *tok.p == ' ') {
        tok.p++;
        tok.n--;
    }
    return rt_slice_eq(tok, rt_slice_cstr(L->auth + 6));
}

/* Handle the request head at the front of the client input. Returns false
 * when there is nothing more to do now (need bytes, waiting, or freed). */
static bool handle_request(pconn *c)
{
    lab_proxy *px = c->px;
    struct evbuffer *in = bufferevent_get_input(c->cl);
    size_t len = evbuffer_get_length(in);
    if (!len)
        return false;
    size_t want = len < RT_HTTP_DEFAULT_MAX_HEAD ? len : RT_HTTP_DEFAULT_MAX_HEAD;
    const char *p = (const char *)evbuffer_pullup(in, (ssize_t)want);
    rt_http_hdr hdrs[P_MAX_HDRS];
    rt_http_req req;
    memset(&req, 0, sizeof req);
    req.h.hdrs = hdrs;
    req.h.max_hdrs = P_MAX_HDRS;
    ssize_t r = rt_http_parse_request(p, want, &req, NULL);
    if (r == RT_HP_AGAIN && want < RT_HTTP_DEFAULT_MAX_HEAD)
        return false;
    if (r < 0) {
        px->requests++;
        answer_error(c, LAB_PE_BAD_REQUEST, rt_http_err_str(req.h.err), false);
        return false;
    }
    if (!c->slow_done)
        px->requests++;
    c->meth = req.meth;
    c->minor = req.h.minor;
    c->cl_keep = req.h.keep_alive;
    bool has_body = req.h.body == RT_BODY_LENGTH || req.h.body == RT_BODY_CHUNKED;
    /* After an error answer the connection stays open only when no request
     * body would have to be skipped. */
    bool keep = c->cl_keep && !has_body;

    if (!auth_ok(c, &req)) {
        px->auth_rejects++;
        evbuffer_drain(in, (size_t)r);
        answer_error(c, LAB_PE_AUTH, "", keep);
        return c->state == PS_HEAD;
    }
    rt_url url;
    if (rt_url_parse_target(req.target, req.meth, &url) != 0 ||
        (url.form != RT_TF_ABSOLUTE && url.form != RT_TF_AUTHORITY)) {
        evbuffer_drain(in, (size_t)r);
        answer_error(c, url.form == RT_TF_ASTERISK ? LAB_PE_UNSUPPORTED : LAB_PE_BAD_REQUEST,
                     "the lab proxy wants an absolute URL or CONNECT", keep);
        return c->state == PS_HEAD;
    }
    if (url.form == RT_TF_ABSOLUTE && !rt_slice_eq_ci(url.scheme, "http")) {
        evbuffer_drain(in, (size_t)r);
        answer_error(c, LAB_PE_UNSUPPORTED, "https:// in a plain request; use CONNECT", keep);
        return c->state == PS_HEAD;
    }
    bool connect = req.meth == RT_M_CONNECT;
    char host[LAB_HOST_MAX];
    lab_perr e = LAB_PE_DNS;
    uint16_t port = resolve(c, &url, connect, host, sizeof host, &e);

    /* The fault draw happens once per request, after auth like a provider's
     * gateway would: a slow request keeps its head buffered and comes back
     * here with slow_done set. */
    lab_pfault f = LAB_PF_NONE;
    if (c->slow_done)
        c->slow_done = false;
    else
        f = lab_proxy_draw(px->pc, &px->rng);
    px->faults[f]++;
    if (f == LAB_PF_SLOW) {
        c->state = PS_SLOW;
        if (!c->timer)
            c->timer = evtimer_new(px->lab->base, slow_cb, c);
        struct timeval tv = { px->pc->slow_ms / 1000, (px->pc->slow_ms % 1000) * 1000 };
        evtimer_add(c->timer, &tv);
        return false;
    }
    if (f == LAB_PF_BLACKHOLE) {
        c->state = PS_BLACKHOLE;
        evbuffer_drain(in, evbuffer_get_length(in));
        return false;
    }
    static const lab_perr fault_err[LAB_PF_COUNT] = {
        [LAB_PF_QUOTA] = LAB_PE_QUOTA, [LAB_PF_ERR502] = LAB_PE_502,
        [LAB_PF_ERR503] = LAB_PE_503,  [LAB_PF_ERR504] = LAB_PE_504,
    };
    if (f == LAB_PF_QUOTA || f == LAB_PF_ERR502 || f == LAB_PF_ERR503 || f == LAB_PF_ERR504) {
        evbuffer_drain(in, (size_t)r);
        answer_error(c, fault_err[f], host, keep);
        return c->state == PS_HEAD;
    }
    if (!port) {
        evbuffer_drain(in, (size_t)r);
        answer_error(c, e, host, keep);
        return c->state == PS_HEAD;
    }
    c->fault = f; /* LAB_PF_RESET, LAB_PF_TRUNCATE or none */
    if (up_open(c, port, connect) != 0) {
        evbuffer_drain(in, (size_t)r);
        answer_error(c, LAB_PE_CONNECT, host, false);
        return false;
    }
    if (connect) {
        evbuffer_drain(in, (size_t)r);
        c->state = PS_TUNNEL_CONNECTING;
        return false;
    }
    write_req_head(c, &req, &url);
    evbuffer_drain(in, (size_t)r);
    c->req_body = req.h.body == RT_BODY_LENGTH ? BODY_LENGTH
                : req.h.body == RT_BODY_CHUNKED ? BODY_CHUNKED : BODY_NONE;
    c->req_left = req.h.content_length;
    if (c->req_body == BODY_LENGTH && !c->req_left)
        c->req_body = BODY_NONE;
    rt_chunked_init(&c->req_ch);
    c->state = PS_WAIT_UP;
    forward_client(c);
    return false;
}

static void p_process(pconn *c)
{
    while (c->state == PS_HEAD && !c->doomed) {
        if (!handle_request(c))
            return;
    }
}

static void cl_read_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    pconn *c = arg;
    switch (c->state) {
    case PS_HEAD:
        p_process(c);
        break;
    case PS_WAIT_UP:
    case PS_RESP_BODY:
    case PS_TUNNEL:
        forward_client(c);
        break;
    case PS_BLACKHOLE:
        evbuffer_drain(bufferevent_get_input(c->cl), evbuffer_get_length(bufferevent_get_input(c->cl)));
        break;
    default:
        break; /* kept buffered until the state moves on */
    }
}

static void cl_write_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    pconn *c = arg;
    if (c->state == PS_CLOSING) {
        if (evbuffer_get_length(cl_out(c)) == 0)
            pconn_kill(c);
        return;
    }
    if (c->state == PS_CUT) {
        start_cut(c);
        return;
    }
    if (c->up && (c->state == PS_RESP_BODY || c->state == PS_TUNNEL)) {
        bufferevent_enable(c->up, EV_READ);
        if (c->state == PS_RESP_BODY)
            relay_body(c);
        else
            up_read_cb(c->up, c);
    }
}

static void cl_event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    /* A TLS client connection reports its finished handshake too. */
    if (what & BEV_EVENT_CONNECTED)
        return;
    pconn_kill(arg);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    (void)l;
    (void)sa;
    (void)salen;
    lab_proxy *px = arg;
    pconn *c = calloc(1, sizeof *c);
    struct bufferevent *bev = NULL;
    if (c && px->pc->tls) {
        /* An HTTPS proxy: the lab's certificate (it names 127.0.0.1 and
         * localhost), then the same proxy protocol inside TLS. */
        SSL *ssl = SSL_new(lab_tls_server_ctx(px->lab->tls));
        bev = ssl ? bufferevent_openssl_socket_new(px->lab->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                   BEV_OPT_CLOSE_ON_FREE)
                  : NULL;
        if (bev)
            bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
        else if (ssl)
            SSL_free(ssl);
    } else if (c) {
        bev = bufferevent_socket_new(px->lab->base, fd, BEV_OPT_CLOSE_ON_FREE);
    }
    if (!bev) {
        free(c);
        evutil_closesocket(fd);
        return;
    }
    px->conns++;
    c->px = px;
    c->cl = bev;
    c->reaper = event_new(px->lab->base, -1, 0, reap_cb, c);
    if (!c->reaper) {
        bufferevent_free(bev);
        free(c);
        return;
    }
    lab_link_add(&px->lab->pconns, &c->link);
    lab_bev_start(bev, cl_read_cb, cl_write_cb, cl_event_cb, c, true);
}

int lab_proxies_start(lab *L, char *err, size_t errlen)
{
    lab_link_init(&L->pconns);
    for (size_t i = 0; i < L->sc->nproxies; i++) {
        lab_proxy *px = &L->px[i];
        px->lab = L;
        px->idx = i;
        px->pc = &L->sc->proxy[i];
        px->reserved_fd = -1;
        /* Each proxy draws from its own stream, so one proxy's traffic does
         * not change another's fault sequence. */
        rt_rng_seed(&px->rng, L->opts->seed * 0x9E3779B97F4A7C15ull + i + 1);
        uint16_t want = L->opts->port_base ? (uint16_t)(L->opts->port_base + (int)i) : 0;
        uint16_t bound;
        evutil_socket_t fd = lab_bind_loopback(want, !px->pc->refused, &bound, err, errlen);
        if (fd < 0)
            return -1;
        px->port = bound;
        if (px->pc->refused) {
            px->reserved_fd = fd;
            continue;
        }
        px->lis = evconnlistener_new(L->base, accept_cb, px, LEV_OPT_CLOSE_ON_FREE, 0, fd);
        if (!px->lis) {
            evutil_closesocket(fd);
            snprintf(err, errlen, "proxy %zu: cannot listen on 127.0.0.1:%u", i + 1, (unsigned)bound);
            return -1;
        }
    }
    return 0;
}

void lab_proxies_stop(lab *L)
{
    if (L->pconns.next)
        while (L->pconns.next != &L->pconns)
            pconn_free((pconn *)L->pconns.next);
    for (size_t i = 0; i < L->sc->nproxies; i++) {
        lab_proxy *px = &L->px[i];
        if (!px->lab)
            continue; /* start-up stopped before this proxy */
        if (px->lis)
            evconnlistener_free(px->lis);
        px->lis = NULL;
        if (px->reserved_fd >= 0)
            evutil_closesocket(px->reserved_fd);
        px->reserved_fd = -1;
    }
}
