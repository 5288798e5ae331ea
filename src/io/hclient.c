/* One-shot HTTP/1.1 client with per-phase timing (see hclient.h). */
#include "io/hclient.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "core/base/wbuf.h"
#include "core/http/forward.h"
#include "io/addr.h"
#include "io/clock.h"

#define HC_HOST_MAX 256 /* a DNS name is at most 253 bytes */

typedef enum hc_state {
    HC_START = 0,
    HC_DNS,
    HC_CONNECTING,
    HC_PROXY_TLS,     /* TLS handshake with an https:// proxy */
    HC_PROXY_CONNECT, /* CONNECT sent, waiting for the proxy's reply */
    HC_TLS,
    HC_HEAD,          /* request sent, waiting for the response head */
    HC_BODY,
    HC_DONE,
} hc_state;

enum { HB_NONE = 0, HB_LENGTH, HB_CHUNKED, HB_CLOSE };

struct io_hc {
    struct event_base *base;
    struct evdns_base *dns;
    io_hc_done_fn cb;
    void *arg;
    io_hc_result r;

    /* Options, copied. */
    char url[IO_HC_URL_MAX];
    char dial_host[HC_HOST_MAX];
    uint16_t dial_port;
    char *auth;
    char *extra;
    char *ua;
    SSL_CTX *ssl_ctx;
    SSL_CTX *proxy_ssl_ctx;   /* non-NULL: TLS to the proxy first */
    uint32_t connect_ms, read_ms;
    bool connect_only, https;
    bool have_addr;

    rt_url u;             /* slices into url */
    hc_state st;
    struct event *start_ev, *timer;
    struct evdns_getaddrinfo_request *dnsreq;
    struct bufferevent *bev;  /* the socket, or the TLS filter over it */
    SSL *ssl;                 /* owned by the filter once it exists */
    SSL *pssl;                /* the https:// proxy's session, likewise */
    bool in_connect;
    short connect_events;
    uint64_t t0, t_phase, t_sent;

    int body_kind;
    uint64_t body_left;
    rt_chunked chunk;
    char *raw;            /* chunked: the raw chunked bytes kept, decoded at the end */
    size_t raw_len, raw_cap;
};

static void hc_arm(io_hc *h, uint32_t ms)
{
    struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000) };
    evtimer_add(h->timer, &tv);
}

static int64_t since(uint64_t t) { return (int64_t)(io_now_ms() - t); }

/* End the request: stop I/O, fill the totals, call back. The callback may
 * free h, so nothing touches h after it. */
static void hc_finish(io_hc *h)
{
    if (h->st == HC_DONE)
        return;
    h->st = HC_DONE;
    evtimer_del(h->timer);
    if (h->bev)
        bufferevent_disable(h->bev, EV_READ | EV_WRITE);
    if (h->dnsreq) {
        evdns_getaddrinfo_cancel(h->dnsreq);
        h->dnsreq = NULL;
    }
    h->r.ms_total = since(h->t0);
    for (char *p = h->r.detail; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
    h->cb(h, &h->r, h->arg);
}

static void hc_fail(io_hc *h, rt_phase ph, int e, bool timed_out, const char *detail)
{
    h->r.ok = false;
    h->r.phase = ph;
    h->r.sys_errno = e;
    h->r.timed_out = timed_out;
    if (detail && !h->r.detail[0])
        snprintf(h->r.detail, sizeof h->r.detail, "%s", detail);
    if (!h->r.detail[0]) {
        if (timed_out)
            snprintf(h->r.detail, sizeof h->r.detail, "timed out after %u ms",
                     ph == RT_PH_CONNECT || ph == RT_PH_DNS || h->st == HC_PROXY_TLS ? h->connect_ms : h->read_ms);
        else if (e)
            snprintf(h->r.detail, sizeof h->r.detail, "%s (%s)", strerror(e),
                     strerrorname_np(e) ? strerrorname_np(e) : "?");
        else if (h->r.peer_closed)
            snprintf(h->r.detail, sizeof h->r.detail, "connection closed by the peer");
    }
    hc_finish(h);
}

static rt_phase phase_of(const io_hc *h)
{
    switch (h->st) {
    case HC_START: case HC_DNS: return RT_PH_DNS;
    case HC_CONNECTING: return RT_PH_CONNECT;
    case HC_PROXY_TLS: return RT_PH_TLS;
    case HC_PROXY_CONNECT: return RT_PH_PROXY_CONNECT;
    case HC_TLS: return RT_PH_TLS;
    case HC_HEAD: return RT_PH_REQUEST_SENT;
    case HC_BODY: return RT_PH_BODY;
    default: return RT_PH_NONE;
    }
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    io_hc *h = arg;
    hc_fail(h, phase_of(h), 0, true, NULL);
}

/* ==== request bytes ==== */

/* The request head: a client-side head is built and parsed, then written
 * by the forwarder, so the bytes follow the same rules as the gateway's
 * (Host from the URI, no hop-by-hop fields, absolute-form to a proxy). */
static int write_request(io_hc *h, bool absolute)
{
    char cli[IO_HC_REQ_MAX], out[IO_HC_REQ_MAX];
    rt_wbuf b;
    rt_wbuf_init(&b, cli, sizeof cli);
    rt_wbuf_adds(&b, "GET ");
    rt_wbuf_adds(&b, h->url);
    rt_wbuf_adds(&b, " HTTP/1.1\r\nHost: x\r\nUser-Agent: ");
    rt_wbuf_adds(&b, h->ua);
    rt_wbuf_adds(&b, "\r\nAccept: */*\r\n");
    if (h->extra)
        rt_wbuf_adds(&b, h->extra);
    rt_wbuf_adds(&b, "\r\n");
    rt_http_hdr hdrs[64];
    rt_http_req req;
    memset(&req, 0, sizeof req);
    req.h.hdrs = hdrs;
    req.h.max_hdrs = 64;
    if (b.overflow || rt_http_parse_request(cli, b.len, &req, NULL) <= 0)
        return -1;
    rt_wbuf o;
    rt_wbuf_init(&o, out, sizeof out);
    rt_fwd_req_opts fo = { .absolute_form = absolute, .proxy_auth = rt_slice_cstr(h->auth), .close = true };
    rt_fwd_request_head(&o, &req, &h->u, &fo);
    if (o.overflow)
        return -1;
    h->t_sent = io_now_ms();
    return bufferevent_write(h->bev, o.p, o.len);
}

/* ==== response ==== */

static void keep_body(io_hc *h, const void *p, size_t n)
{
    size_t room = IO_HC_BODY_MAX - h->r.body_len;
    if (n > room) {
        n = room;
        h->r.body_truncated = true;
    }
    memcpy(h->r.body + h->r.body_len, p, n);
    h->r.body_len += n;
    h->r.body[h->r.body_len] = 0;
}

/* Decode the kept chunked bytes (already validated by rt_chunked_scan as
 * far as they go) into the body buffer. */
static void dechunk(io_hc *h)
{
    size_t i = 0;
    while (i < h->raw_len && !h->r.body_truncated) {
        uint64_t size = 0;
        size_t j = i;
        while (j < h->raw_len && isxdigit((unsigned char)h->raw[j])) {
            char c = h->raw[j++];
            size = size * 16 + (uint64_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
            if (size > IO_HC_BODY_MAX * 4)
                break;
        }
        char *nl = memchr(h->raw + j, '\n', h->raw_len - j);
        if (!nl || size == 0)
            return;
        i = (size_t)(nl - h->raw) + 1;
        size_t n = h->raw_len - i < size ? h->raw_len - i : (size_t)size;
        keep_body(h, h->raw + i, n);
        i += n + 2;
    }
}

static void body_done(io_hc *h)
{
    if (h->body_kind == HB_CHUNKED)
        dechunk(h);
    h->r.ok = true;
    h->r.phase = h->r.connect_reply ? RT_PH_PROXY_CONNECT : RT_PH_RESPONSE;
    hc_finish(h);
}

/* Consume body bytes from `in`; finishes the request at the body's end. */
static void read_body(io_hc *h, struct evbuffer *in)
{
    while (evbuffer_get_length(in)) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            return;
        size_t n = v.iov_len;
        if (h->body_kind == HB_LENGTH) {
            if ((uint64_t)n > h->body_left)
                n = (size_t)h->body_left;
            keep_body(h, v.iov_base, n);
            h->body_left -= n;
        } else if (h->body_kind == HB_CHUNKED) {
            bool done = false;
            ssize_t k = rt_chunked_scan(&h->chunk, v.iov_base, n, &done);
            if (k < 0) {
                h->r.bad_response = true;
                hc_fail(h, RT_PH_BODY, 0, false, "invalid chunked framing in the response body");
                return;
            }
            n = (size_t)k;
            size_t room = h->raw_cap - h->raw_len;
            size_t keep = n < room ? n : room;
            memcpy(h->raw + h->raw_len, v.iov_base, keep);
            h->raw_len += keep;
            if (keep < n)
                h->r.body_truncated = true;
            evbuffer_drain(in, n);
            if (done || h->r.body_truncated) {
                body_done(h);
                return;
            }
            continue;
        } else {
            keep_body(h, v.iov_base, n);
        }
        evbuffer_drain(in, n);
        if ((h->body_kind == HB_LENGTH && h->body_left == 0) || h->r.body_truncated) {
            body_done(h);
            return;
        }
    }
    hc_arm(h, h->read_ms);
}

static void start_tls(io_hc *h);

/* Parse the head at the front of `in`. Returns false when the request
 * ended or more bytes are needed. */
static bool read_head(io_hc *h, struct evbuffer *in, bool connect_reply)
{
    for (;;) {
        size_t len = evbuffer_get_length(in);
        if (!len)
            return false;
        if (h->r.ms_first_byte == IO_HC_MS_NONE)
            h->r.ms_first_byte = since(h->t_sent);
        size_t want = len < IO_HC_HEAD_MAX ? len : IO_HC_HEAD_MAX;
        const char *p = (const char *)evbuffer_pullup(in, (ssize_t)want);
        rt_http_resp tmp;
        rt_http_hdr th[IO_HC_MAX_HDRS];
        memset(&tmp, 0, sizeof tmp);
        tmp.h.hdrs = th;
        tmp.h.max_hdrs = IO_HC_MAX_HDRS;
        rt_http_method m = connect_reply ? RT_M_CONNECT : RT_M_GET;
        ssize_t k = rt_http_parse_response(p, want, &tmp, m, NULL);
        if (k == RT_HP_AGAIN && want < IO_HC_HEAD_MAX) {
            hc_arm(h, h->read_ms);
            return false;
        }
        if (k < 0) {
            h->r.bad_response = true;
            snprintf(h->r.detail, sizeof h->r.detail, "not an HTTP/1.x response head: %s (\"%.24s\")",
                     k == RT_HP_AGAIN ? "head too large" : rt_http_err_str(tmp.h.err), p);
            hc_fail(h, connect_reply ? RT_PH_PROXY_CONNECT : RT_PH_REQUEST_SENT, 0, false, NULL);
            return false;
        }
        if (tmp.status < 200) {
            evbuffer_drain(in, (size_t)k); /* 1xx interim answers are skipped */
            continue;
        }
        if (connect_reply && tmp.status <= 299) {
            evbuffer_drain(in, (size_t)k);
            h->r.ms_proxy_connect = since(h->t_phase);
            start_tls(h);
            return false;
        }
        /* Keep the head in owned memory and parse it there, so the slices
         * outlive the input buffer. */
        free(h->r.head);
        h->r.head = malloc((size_t)k + 1);
        if (!h->r.head) {
            hc_fail(h, phase_of(h), ENOMEM, false, "out of memory");
            return false;
        }
        memcpy(h->r.head, p, (size_t)k);
        h->r.head[k] = 0;
        h->r.head_len = (size_t)k;
        evbuffer_drain(in, (size_t)k);
        memset(&h->r.resp, 0, sizeof h->r.resp);
        h->r.resp.h.hdrs = h->r.hdrs;
        h->r.resp.h.max_hdrs = IO_HC_MAX_HDRS;
        rt_http_parse_response(h->r.head, h->r.head_len, &h->r.resp, m, NULL);
        h->r.connect_reply = connect_reply;
        if (connect_reply)
            h->r.ms_proxy_connect = since(h->t_phase);
        const rt_http_head *hd = &h->r.resp.h;
        h->body_kind = hd->body == RT_BODY_LENGTH ? HB_LENGTH
                     : hd->body == RT_BODY_CHUNKED ? HB_CHUNKED
                     : hd->body == RT_BODY_CLOSE ? HB_CLOSE : HB_NONE;
        h->body_left = hd->content_length;
        if (h->body_kind == HB_NONE || (h->body_kind == HB_LENGTH && !h->body_left)) {
            body_done(h);
            return false;
        }
        if (h->body_kind == HB_CHUNKED) {
            rt_chunked_init(&h->chunk);
            h->raw_cap = IO_HC_BODY_MAX * 2;
            h->raw = malloc(h->raw_cap);
            if (!h->raw) {
                hc_fail(h, RT_PH_BODY, ENOMEM, false, "out of memory");
                return false;
            }
        }
        h->st = HC_BODY;
        return true;
    }
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    io_hc *h = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (h->st == HC_PROXY_CONNECT || h->st == HC_HEAD) {
        if (!read_head(h, in, h->st == HC_PROXY_CONNECT))
            return;
    }
    if (h->st == HC_BODY)
        read_body(h, in);
}

static void tls_detail(io_hc *h)
{
    unsigned long e;
    char buf[128];
    if (h->ssl && SSL_get_verify_result(h->ssl) != X509_V_OK) {
        long v = SSL_get_verify_result(h->ssl);
        h->r.tls_verify_failed = true;
        snprintf(h->r.detail, sizeof h->r.detail, "certificate verify failed: %s",
                 X509_verify_cert_error_string(v));
        return;
    }
    while ((e = bufferevent_get_openssl_error(h->bev)) != 0) {
        ERR_error_string_n(e, buf, sizeof buf);
        snprintf(h->r.detail, sizeof h->r.detail, "%s", buf);
    }
}

static void start_proxy_tls(io_hc *h);

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    io_hc *h = arg;
    int e = EVUTIL_SOCKET_ERROR();
    if (h->in_connect) {
        h->connect_events |= what;
        return;
    }
    if (what & BEV_EVENT_CONNECTED) {
        if (h->st == HC_TLS) {
            h->r.ms_tls = since(h->t_phase);
            h->st = HC_HEAD;
            hc_arm(h, h->read_ms);
            if (write_request(h, false) != 0)
                hc_fail(h, RT_PH_TLS, 0, false, "request too large");
            return;
        }
        if (h->st == HC_PROXY_TLS) {
            h->r.ms_proxy_tls = since(h->t_phase);
        } else {
            h->r.ms_connect = since(h->t_phase);
            if (h->proxy_ssl_ctx && h->r.via_proxy) {
                /* An https:// proxy: its TLS comes before any HTTP. */
                start_proxy_tls(h);
                return;
            }
        }
        h->t_phase = io_now_ms();
        if (h->connect_only) {
            h->r.ok = true;
            h->r.phase = RT_PH_CONNECT;
            hc_finish(h);
            return;
        }
        bool proxied = h->r.via_proxy;
        if (proxied && h->https) {
            char buf[1024];
            rt_wbuf b;
            rt_wbuf_init(&b, buf, sizeof buf);
            rt_fwd_connect_head(&b, &h->u, rt_slice_cstr(h->auth));
            if (b.overflow) {
                hc_fail(h, RT_PH_PROXY_CONNECT, 0, false, "CONNECT request too large");
                return;
            }
            h->st = HC_PROXY_CONNECT;
            h->t_sent = io_now_ms();
            bufferevent_write(h->bev, b.p, b.len);
            hc_arm(h, h->read_ms);
            return;
        }
        if (h->https) {
            start_tls(h);
            return;
        }
        h->st = HC_HEAD;
        hc_arm(h, h->read_ms);
        if (write_request(h, proxied) != 0)
            hc_fail(h, RT_PH_REQUEST_SENT, 0, false, "request too large");
        return;
    }
    if (h->st == HC_DONE)
        return;
    if (h->st == HC_PROXY_TLS && (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF))) {
        bool vf = false;
        h->r.tls_failed = io_tls_error(h->bev, h->pssl, h->r.detail, sizeof h->r.detail, &vf);
        h->r.tls_verify_failed = vf;
        h->r.peer_closed = (what & BEV_EVENT_EOF) != 0;
        hc_fail(h, RT_PH_TLS, h->r.tls_failed || h->r.peer_closed ? 0 : (e ? e : EIO), false, NULL);
        return;
    }
    if (h->st == HC_TLS && (what & BEV_EVENT_ERROR)) {
        tls_detail(h);
        hc_fail(h, RT_PH_TLS, e, false, NULL);
        return;
    }
    if ((what & BEV_EVENT_EOF) && h->st == HC_BODY && h->body_kind == HB_CLOSE) {
        body_done(h);
        return;
    }
    if (what & BEV_EVENT_EOF) {
        h->r.peer_closed = true;
        hc_fail(h, phase_of(h), 0, false, NULL);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        hc_fail(h, phase_of(h), 0, true, NULL);
        return;
    }
    hc_fail(h, phase_of(h), e ? e : EIO, false, NULL);
}

/* TLS with an https:// proxy over the connected socket: its certificate
 * must name the proxy's host (an IP literal: be issued for the address;
 * SNI only for names, RFC 6066 section 3). Whether it is verified at all
 * is the context's choice. */
static void start_proxy_tls(io_hc *h)
{
    h->st = HC_PROXY_TLS;
    h->r.tls_to_proxy = true;
    h->t_phase = io_now_ms();
    h->pssl = SSL_new(h->proxy_ssl_ctx);
    if (!h->pssl) {
        hc_fail(h, RT_PH_TLS, 0, false, "cannot start TLS with the proxy");
        return;
    }
    unsigned char bin[sizeof(struct in6_addr)];
    bool literal = inet_pton(AF_INET, h->dial_host, bin) == 1 || inet_pton(AF_INET6, h->dial_host, bin) == 1;
    int ok = literal ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(h->pssl), h->dial_host)
                     : SSL_set_tlsext_host_name(h->pssl, h->dial_host) == 1 && SSL_set1_host(h->pssl, h->dial_host) == 1;
    struct bufferevent *f = ok ? bufferevent_openssl_filter_new(h->base, h->bev, h->pssl, BUFFEREVENT_SSL_CONNECTING,
                                                                BEV_OPT_CLOSE_ON_FREE)
                               : NULL;
    if (!f) {
        SSL_free(h->pssl);
        h->pssl = NULL;
        hc_fail(h, RT_PH_TLS, 0, false, "cannot start TLS with the proxy");
        return;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(f, 1);
    h->bev = f;
    bufferevent_setcb(f, read_cb, NULL, event_cb, h);
    bufferevent_enable(f, EV_READ | EV_WRITE);
    hc_arm(h, h->connect_ms);
}

static void start_tls(io_hc *h)
{
    h->st = HC_TLS;
    h->r.tls_to_proxy = false;
    h->t_phase = io_now_ms();
    h->ssl = h->ssl_ctx ? SSL_new(h->ssl_ctx) : NULL;
    if (!h->ssl) {
        hc_fail(h, RT_PH_TLS, 0, false, "no TLS context");
        return;
    }
    char host[HC_HOST_MAX];
    snprintf(host, sizeof host, "%.*s", (int)h->u.host.n, h->u.host.p);
    struct in6_addr a6;
    struct in_addr a4;
    bool literal = inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1;
    SSL_set_verify(h->ssl, SSL_VERIFY_PEER, NULL);
    if (literal) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(h->ssl), host);
    } else {
        SSL_set_tlsext_host_name(h->ssl, host);
        SSL_set1_host(h->ssl, host);
    }
    struct bufferevent *f = bufferevent_openssl_filter_new(h->base, h->bev, h->ssl, BUFFEREVENT_SSL_CONNECTING,
                                                           BEV_OPT_CLOSE_ON_FREE);
    if (!f) {
        SSL_free(h->ssl);
        h->ssl = NULL;
        hc_fail(h, RT_PH_TLS, 0, false, "cannot start TLS");
        return;
    }
    h->bev = f;
    bufferevent_setcb(f, read_cb, NULL, event_cb, h);
    bufferevent_enable(f, EV_READ | EV_WRITE);
    hc_arm(h, h->read_ms);
}

/* ==== connecting ==== */

static void dial(io_hc *h, const struct sockaddr *sa, socklen_t len)
{
    if (sa != (const struct sockaddr *)&h->r.peer_ss)
        memcpy(&h->r.peer_ss, sa, len);
    h->r.peer_sslen = len;
    io_addr_str(sa, h->r.peer, sizeof h->r.peer);
    h->st = HC_CONNECTING;
    h->t_phase = io_now_ms();
    h->bev = bufferevent_socket_new(h->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!h->bev) {
        hc_fail(h, RT_PH_CONNECT, ENOMEM, false, "out of memory");
        return;
    }
    bufferevent_setcb(h->bev, read_cb, NULL, event_cb, h);
    bufferevent_enable(h->bev, EV_READ | EV_WRITE);
    hc_arm(h, h->connect_ms);
    /* A failure may be reported from inside the connect call: queue the
     * events and handle them once it returned. */
    h->in_connect = true;
    h->connect_events = 0;
    errno = 0;
    int rc = bufferevent_socket_connect(h->bev, (struct sockaddr *)sa, (int)len);
    int e = errno;
    h->in_connect = false;
    if (rc != 0 && !h->connect_events) {
        hc_fail(h, RT_PH_CONNECT, e ? e : EIO, false, NULL);
        return;
    }
    if (h->connect_events)
        event_cb(h->bev, h->connect_events, h);
}

static void dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
    io_hc *h = arg;
    h->dnsreq = NULL;
    if (result == EVUTIL_EAI_CANCEL)
        return;
    h->r.ms_dns = since(h->t_phase);
    if (result != 0 || !res) {
        if (res)
            evutil_freeaddrinfo(res);
        h->r.dns_error = result ? result : EVUTIL_EAI_NONAME;
        snprintf(h->r.detail, sizeof h->r.detail, "cannot resolve '%.80s': %s", h->dial_host,
                 evutil_gai_strerror(h->r.dns_error));
        hc_fail(h, RT_PH_DNS, 0, false, NULL);
        return;
    }
    struct sockaddr_storage ss;
    socklen_t len = (socklen_t)res->ai_addrlen;
    memcpy(&ss, res->ai_addr, len);
    evutil_freeaddrinfo(res);
    dial(h, (struct sockaddr *)&ss, len);
}

bool io_hc_name_reserved(const char *host)
{
    static const char *const tlds[] = { "invalid", "test", "example" };
    size_t n = strlen(host);
    if (n && host[n - 1] == '.')
        n--;
    for (size_t i = 0; i < sizeof tlds / sizeof tlds[0]; i++) {
        size_t t = strlen(tlds[i]);
        if (n == t && !strncasecmp(host, tlds[i], t))
            return true;
        if (n > t && host[n - t - 1] == '.' && !strncasecmp(host + n - t, tlds[i], t))
            return true;
    }
    return false;
}

static bool name_is_localhost(const char *host)
{
    size_t n = strlen(host);
    if (n && host[n - 1] == '.')
        n--;
    return (n == 9 && !strncasecmp(host, "localhost", 9)) ||
           (n > 10 && !strncasecmp(host + n - 10, ".localhost", 10));
}

static void start_cb(evutil_socket_t fd, short what, void *arg)
{
    io_hc *h = arg;
    h->t0 = h->t_phase = io_now_ms();
    if (h->have_addr) {
        h->r.ms_dns = 0;
        dial(h, (struct sockaddr *)&h->r.peer_ss, h->r.peer_sslen);
        return;
    }
    h->st = HC_DNS;
    struct sockaddr_storage ss;
    int len = (int)sizeof ss;
    char num[HC_HOST_MAX + 16];
    bool v6 = strchr(h->dial_host, ':') != NULL;
    snprintf(num, sizeof num, v6 ? "[%s]:%u" : "%s:%u", h->dial_host, (unsigned)h->dial_port);
    if (evutil_parse_sockaddr_port(num, (struct sockaddr *)&ss, &len) == 0) {
        h->r.ms_dns = 0;
        dial(h, (struct sockaddr *)&ss, (socklen_t)len);
        return;
    }
    if (io_hc_name_reserved(h->dial_host)) {
        h->r.ms_dns = 0;
        h->r.dns_local = true;
        h->r.dns_error = EVUTIL_EAI_NONAME;
        snprintf(h->r.detail, sizeof h->r.detail,
                 "cannot resolve '%.80s': reserved name that never resolves (RFC 6761), not looked up",
                 h->dial_host);
        hc_fail(h, RT_PH_DNS, 0, false, NULL);
        return;
    }
    if (name_is_localhost(h->dial_host)) {
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(h->dial_port) };
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        h->r.ms_dns = 0;
        h->r.dns_local = true;
        dial(h, (struct sockaddr *)&sin, sizeof sin);
        return;
    }
    if (!h->dns) {
        h->r.dns_error = EVUTIL_EAI_FAIL;
        hc_fail(h, RT_PH_DNS, 0, false, "no resolver available");
        return;
    }
    struct evutil_addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)h->dial_port);
    hc_arm(h, h->connect_ms);
    h->dnsreq = evdns_getaddrinfo(h->dns, h->dial_host, port, &hints, dns_cb, h);
}

/* ==== public ==== */

static char *dupz(const char *s)
{
    return s ? strdup(s) : NULL;
}

io_hc *io_hc_start(struct event_base *base, struct evdns_base *dns, const io_hc_opts *o,
                   io_hc_done_fn cb, void *arg, char *err, size_t errlen)
{
    io_hc *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->base = base;
    h->dns = dns;
    h->cb = cb;
    h->arg = arg;
    h->connect_ms = o->connect_timeout_ms ? o->connect_timeout_ms : IO_HC_DEFAULT_CONNECT_MS;
    h->read_ms = o->read_timeout_ms ? o->read_timeout_ms : IO_HC_DEFAULT_READ_MS;
    h->connect_only = o->connect_only;
    h->ssl_ctx = o->ssl_ctx;
    h->proxy_ssl_ctx = o->proxy_host ? o->proxy_ssl_ctx : NULL;
    h->r.via_proxy = o->proxy_host != NULL;
    h->r.ms_dns = h->r.ms_connect = h->r.ms_proxy_tls = h->r.ms_proxy_connect = IO_HC_MS_NONE;
    h->r.ms_tls = h->r.ms_first_byte = h->r.ms_total = IO_HC_MS_NONE;
    h->r.body = malloc(IO_HC_BODY_MAX + 1);
    h->auth = dupz(o->proxy_auth);
    h->extra = dupz(o->extra_headers);
    h->ua = dupz(o->user_agent ? o->user_agent : "rotor/" ROTOR_VERSION);
    h->timer = evtimer_new(base, timer_cb, h);
    h->start_ev = evtimer_new(base, start_cb, h);
    if (!h->r.body || !h->ua || !h->timer || !h->start_ev || (o->proxy_auth && !h->auth) ||
        (o->extra_headers && !h->extra)) {
        snprintf(err, errlen, "out of memory");
        io_hc_free(h);
        return NULL;
    }
    h->r.body[0] = 0;
    if (!o->connect_only || o->url) {
        if (!o->url || strlen(o->url) >= sizeof h->url) {
            snprintf(err, errlen, "URL missing or longer than %d bytes", IO_HC_URL_MAX - 1);
            io_hc_free(h);
            return NULL;
        }
        snprintf(h->url, sizeof h->url, "%s", o->url);
        if (rt_url_parse_target(rt_slice_cstr(h->url), RT_M_GET, &h->u) != 0 || h->u.form != RT_TF_ABSOLUTE ||
            h->u.has_userinfo) {
            snprintf(err, errlen, "'%s' is not an absolute http:// or https:// URL without user:pass@", o->url);
            io_hc_free(h);
            return NULL;
        }
        h->https = rt_slice_eq_ci(h->u.scheme, "https");
        if (h->https && !h->ssl_ctx) {
            snprintf(err, errlen, "https:// needs a TLS context");
            io_hc_free(h);
            return NULL;
        }
    }
    if (o->proxy_host) {
        snprintf(h->dial_host, sizeof h->dial_host, "%s", o->proxy_host);
        h->dial_port = o->proxy_port;
    } else if (o->connect_host) {
        snprintf(h->dial_host, sizeof h->dial_host, "%s", o->connect_host);
        h->dial_port = o->connect_port;
    } else if (h->u.host.n) {
        snprintf(h->dial_host, sizeof h->dial_host, "%.*s", (int)h->u.host.n, h->u.host.p);
        h->dial_port = h->u.port;
    }
    if (!h->dial_host[0] || !h->dial_port) {
        snprintf(err, errlen, "nothing to connect to");
        io_hc_free(h);
        return NULL;
    }
    if (o->addr && o->addrlen && o->addrlen <= sizeof h->r.peer_ss) {
        memcpy(&h->r.peer_ss, o->addr, o->addrlen);
        h->r.peer_sslen = o->addrlen;
        h->have_addr = true;
    }
    /* Start from the loop so that the callback never runs inside this call. */
    struct timeval zero = { 0, 0 };
    evtimer_add(h->start_ev, &zero);
    return h;
}

const io_hc_result *io_hc_result_of(const io_hc *h) { return &h->r; }

void io_hc_free(io_hc *h)
{
    if (!h)
        return;
    if (h->dnsreq)
        evdns_getaddrinfo_cancel(h->dnsreq);
    if (h->bev)
        bufferevent_free(h->bev);
    if (h->timer)
        event_free(h->timer);
    if (h->start_ev)
        event_free(h->start_ev);
    free(h->r.head);
    free(h->r.body);
    free(h->raw);
    free(h->auth);
    free(h->extra);
    free(h->ua);
    free(h);
}

SSL_CTX *io_hc_tls_ctx(const char *ca_file, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        snprintf(err, errlen, "cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    int ok = ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL) : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        snprintf(err, errlen, "cannot load CA certificates%s%s", ca_file ? " from " : "", ca_file ? ca_file : "");
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return ctx;
}

SSL_CTX *io_tls_proxy_ctx(const char *extra_ca, bool verify, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        snprintf(err, errlen, "cannot create a TLS context for https:// proxies");
        return NULL;
    }
    /* TLS 1.0 and 1.1 are deprecated (RFC 8996). */
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Extra CAs are added to the system store, so one pool may mix a
     * provider with a private CA and providers with public certificates.
     * A machine without a store still works with extra_ca alone. */
    if (SSL_CTX_set_default_verify_paths(ctx) != 1)
        ERR_clear_error();
    if (extra_ca && SSL_CTX_load_verify_locations(ctx, extra_ca, NULL) != 1) {
        unsigned long e = ERR_peek_last_error();
        const char *why = e ? ERR_reason_error_string(e) : NULL;
        snprintf(err, errlen, "cannot load CA certificates from '%s' (%s): give a PEM file of CA certificates",
                 extra_ca, why ? why : "unreadable or not PEM");
        ERR_clear_error();
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    /* Offer HTTP/1.1 by ALPN (RFC 7301), as curl does to HTTPS proxies:
     * some TLS front ends route on it, and offering nothing else keeps a
     * proxy from choosing h2, which rotor does not speak to it. Note the
     * inverted result: 0 is success. */
    static const unsigned char alpn[] = "\x08http/1.1";
    if (SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1) != 0) {
        snprintf(err, errlen, "cannot set up ALPN for https:// proxies");
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

bool io_tls_error(struct bufferevent *bev, SSL *ssl, char *why, size_t cap, bool *verify_failed)
{
    if (cap)
        why[0] = 0;
    if (verify_failed)
        *verify_failed = false;
    /* libevent keeps up to three codes per failure and hands them back
     * last first; the earliest real one is the root cause. Bare
     * SSL_get_error() values (no library) and system errors (the socket,
     * judged by its errno instead) are not TLS failures. */
    unsigned long e, first = 0;
    while ((e = bufferevent_get_openssl_error(bev)) != 0)
        if (ERR_GET_LIB(e) != 0 && ERR_GET_LIB(e) != ERR_LIB_SYS)
            first = e;
    if (!first)
        return false;
    long verify = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    bool vf = ERR_GET_LIB(first) == ERR_LIB_SSL && ERR_GET_REASON(first) == SSL_R_CERTIFICATE_VERIFY_FAILED;
    if (verify_failed)
        *verify_failed = vf;
    const char *reason = ERR_reason_error_string(first);
    if (vf && verify != X509_V_OK)
        snprintf(why, cap, "%s (%s)", reason ? reason : "certificate verify failed",
                 X509_verify_cert_error_string(verify));
    else if (reason)
        snprintf(why, cap, "%s", reason);
    else
        snprintf(why, cap, "OpenSSL error %lx", first);
    return true;
}

void io_hc_classify_input(const io_hc_result *r, rt_classify_in *in)
{
    bool target_tls = r->phase == RT_PH_TLS && !r->tls_to_proxy;
    memset(in, 0, sizeof *in);
    in->phase = r->phase;
    in->via_proxy = r->via_proxy && !target_tls;
    in->method = r->connect_reply ? RT_M_CONNECT : RT_M_GET;
    in->sys_errno = r->sys_errno;
    in->timed_out = r->timed_out;
    in->peer_closed = r->peer_closed;
    in->bad_response = r->bad_response;
    in->tls_failed = r->tls_failed || r->tls_verify_failed;
    in->tls_verify_failed = r->tls_verify_failed;
    in->tls_error = rt_slice_cstr(in->tls_failed ? r->detail : "");
    if (r->resp.status > 0) {
        in->status = r->resp.status;
        in->reason = r->resp.reason;
        in->hdrs = r->resp.h.hdrs;
        in->nhdrs = r->resp.h.nhdrs;
        in->body = rt_slice_from(r->body, r->body_len);
        in->body_total = r->resp.h.body == RT_BODY_LENGTH ? r->resp.h.content_length : 0;
    }
}
