/* One HTTP request/response exchange over the attempt's connection:
 * the request head and body toward the hop, the response head (decide:
 * pass through, or fail/retry), then the response body toward the client,
 * with backpressure both ways. Bodies are relayed verbatim; framing is
 * only scanned to know where each message ends. */
#include <stdio.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <stdlib.h>
#include <string.h>

#include "core/http/forward.h"
#include "core/policy/retry_after.h"
#include "gateway/gw_int.h"
#include "io/clock.h"
#include "io/relay.h"

#define GW_HEAD_STACK 16384 /* heads up to this size are built on the stack */

/* ==== Request body: client -> hop ==== */

/* Move n bytes of request body from the client's input to the hop,
 * keeping a replay copy while it fits. */
static void move_req_bytes(gw_client *c, struct evbuffer *in, struct evbuffer *out, size_t n)
{
    size_t limit = c->w->srv->cfg.max_replay_bytes;
    if (c->replay_ok && evbuffer_get_length(c->replay) + n > limit) {
        c->replay_ok = false;
        evbuffer_free(c->replay);
        c->replay = NULL;
    }
    if (c->replay_ok) {
        const unsigned char *p = evbuffer_pullup(in, (ssize_t)n);
        evbuffer_add(c->replay, p, n);
        evbuffer_add(out, p, n);
        evbuffer_drain(in, n);
    } else {
        evbuffer_remove_buffer(in, out, n);
    }
    c->req_bytes += n;
    c->bytes_in += n;
}

/* Scan as much chunked framing as is buffered; returns bytes that belong to
 * the body (all of them are forwarded verbatim), or -1 on a framing error. */
static ssize_t scan_chunked(rt_chunked *ck, struct evbuffer *in, size_t avail, bool *done)
{
    struct evbuffer_iovec v[8];
    size_t total = 0;
    int nv = evbuffer_peek(in, (ssize_t)avail, NULL, v, 8);
    for (int i = 0; i < nv && i < 8 && !*done && total < avail; i++) {
        size_t len = v[i].iov_len;
        if (len > avail - total)
            len = avail - total;
        ssize_t r = rt_chunked_scan(ck, v[i].iov_base, len, done);
        if (r < 0)
            return -1;
        total += (size_t)r;
        if ((size_t)r < len && !*done)
            break;
    }
    return (ssize_t)total;
}

int gw_exchange_client_read(gw_client *c)
{
    if (c->req_done) {
        /* The next request may already be here (pipelining): leave it in
         * the buffer for when this exchange ends. Reading stays on (bounded
         * by the read high-water mark) so a client that goes away is seen
         * at once and its attempts stop, rather than running on for nobody. */
        return GW_OK;
    }
    if (!c->up || c->ustate < US_HEAD_WAIT)
        return GW_OK; /* not connected yet: the body waits in the client's input */
    struct evbuffer *in = bufferevent_get_input(c->bev);
    struct evbuffer *out = bufferevent_get_output(c->up->bev);
    while (!c->req_done) {
        size_t avail = evbuffer_get_length(in);
        size_t room = evbuffer_get_length(out) < GW_HIGH_WATER ? GW_HIGH_WATER - evbuffer_get_length(out) : 0;
        if (!avail || !room)
            break;
        if (avail > room)
            avail = room;
        if (c->req.h.body == RT_BODY_LENGTH) {
            size_t n = avail < c->req_left ? avail : (size_t)c->req_left;
            move_req_bytes(c, in, out, n);
            c->req_left -= n;
            c->req_done = c->req_left == 0;
        } else {
            bool done = false;
            ssize_t n = scan_chunked(&c->req_ck, in, avail, &done);
            if (n < 0) {
                c->keep_alive = false;
                if (c->resp_started)
                    return gw_client_finish(c);
                c->natt--; /* not the hop's fault: this attempt does not count */
                gw_attempt_end(c);
                return gw_client_fail(c, RT_E_client_bad_request, "invalid chunked framing in the request body", NULL, 0);
            }
            if (n == 0)
                break;
            move_req_bytes(c, in, out, (size_t)n);
            c->req_done = done;
        }
    }
    return GW_OK;
}

/* ==== Request head ==== */

int gw_exchange_begin(gw_client *c)
{
    const rt_upstream *u = gw_up_entry(c);
    rt_fwd_req_opts o = {
        .absolute_form = u->scheme != RT_UP_DIRECT,
        .proxy_auth = rt_slice_cstr(c->auth),
        .close = false,
    };
    char stack[GW_HEAD_STACK];
    char *heap = NULL;
    rt_wbuf b;
    rt_wbuf_init(&b, stack, sizeof stack);
    rt_fwd_request_head(&b, &c->req, &c->url, &o);
    if (b.overflow) {
        size_t cap = c->head_len + 1024 + strlen(c->auth);
        heap = malloc(cap);
        if (!heap)
            return gw_client_fail(c, RT_E_gateway_internal_error, "out of memory building the request", NULL, 0);
        rt_wbuf_init(&b, heap, cap);
        rt_fwd_request_head(&b, &c->req, &c->url, &o);
    }
    struct evbuffer *out = bufferevent_get_output(c->up->bev);
    gw_send(c->up->bev, b.p, b.len);
    free(heap);
    c->ustate = US_HEAD_WAIT;
    c->resp_body = RT_BODY_NONE;
    /* A retry resends what the client already sent of the body. */
    if (c->replay && evbuffer_get_length(c->replay))
        evbuffer_add_buffer_reference(out, c->replay);
    /* Write interest only when bytes wait or a body is still to come: an
     * enabled write event on an empty buffer costs a wake-up and two
     * epoll_ctl calls per request for nothing. */
    bufferevent_enable(c->up->bev, EV_READ | (evbuffer_get_length(out) || !c->req_done ? EV_WRITE : 0));
    gw_client_arm_timer(c, c->w->srv->cfg.read_timeout_ms);
    if (!c->req_done)
        bufferevent_enable(c->bev, EV_READ);
    return gw_exchange_client_read(c);
}

/* ==== Response: hop -> client ==== */

static bool body_complete(gw_client *c)
{
    return (c->resp_body == RT_BODY_LENGTH && c->resp_left == 0) || c->resp_body == RT_BODY_NONE;
}

/* The exchange is over: keep the hop connection when both sides allow. */
static int exchange_done(gw_client *c)
{
    gw_attempt *a = &c->att[c->natt - 1];
    a->ms = (uint32_t)(gw_now() - c->t_att_ms);
    bool reusable = c->up && c->resp.h.keep_alive && c->req_done && c->resp_body != RT_BODY_CLOSE &&
                    c->ustate == US_BODY;
    if (c->att_active) {
        atomic_fetch_sub(&c->pool->in_flight[c->up_idx], 1);
        c->att_active = false;
    }
    if (reusable)
        gw_upconn_park(c);
    return gw_client_finish(c);
}

/* Body bytes toward the client: straight from the hop's input buffer to
 * the socket when nothing is queued ahead, else queued. */
static void move_to_client(gw_client *c, struct evbuffer *in, struct evbuffer *out, size_t n)
{
    c->resp_bytes += n;
    c->bytes_out += n;
    if (!evbuffer_get_length(out)) {
        int w = evbuffer_write_atmost(in, bufferevent_getfd(c->bev), (ssize_t)n);
        if (w > 0)
            n -= (size_t)w;
    }
    if (n)
        evbuffer_remove_buffer(in, out, n);
}

/* ==== Large bodies: spliced ====
 *
 * libevent 2.1 reads at most 4 KiB per call; a large body with a
 * Content-Length instead moves socket to socket with splice(2), exactly its
 * remaining bytes, then the connections go back to their bufferevents for
 * keep-alive. The switch waits until both bufferevents hold nothing. */

/* Never from a TLS hop: splice(2) would move its ciphertext. */
static bool splice_candidate(const gw_client *c)
{
    return c->resp_body == RT_BODY_LENGTH && c->resp_left >= GW_SPLICE_MIN && !c->relay && !c->up->tls;
}

static void body_spliced(void *arg, int err, bool src_side)
{
    gw_client *c = arg;
    uint64_t moved, unused;
    io_relay_counts(c->relay, &moved, &unused);
    io_relay_free(c->relay);
    c->relay = NULL;
    c->resp_left -= moved < c->resp_left ? moved : c->resp_left;
    c->resp_bytes += moved;
    c->bytes_out += moved;
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    if (!c->resp_left && !err) {
        bufferevent_enable(c->up->bev, EV_READ | EV_WRITE);
        exchange_done(c);
        return;
    }
    /* Cut short (the hop closed or failed, or the client did): the client
     * holds part of a body, so its connection must end too. */
    c->code = src_side ? RT_E_target_response_incomplete : RT_E_client_closed;
    snprintf(c->evidence, sizeof c->evidence, "%s after %llu body bytes, before the end of the body",
             err ? strerror(err) : "connection closed", (unsigned long long)c->resp_bytes);
    c->att[c->natt - 1].code = c->code;
    c->keep_alive = false;
    gw_client_finish(c);
}

static int start_body_splice(gw_client *c)
{
    bufferevent_disable(c->up->bev, EV_READ | EV_WRITE);
    bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    c->relay = io_relay_transfer(c->w->base, bufferevent_getfd(c->up->bev), bufferevent_getfd(c->bev), c->resp_left,
                                 body_spliced, c);
    if (!c->relay) {
        /* Out of memory: stay on the bufferevents. */
        bufferevent_enable(c->bev, EV_READ | EV_WRITE);
        bufferevent_enable(c->up->bev, EV_READ | EV_WRITE);
    }
    return GW_OK;
}

static int pump_response(gw_client *c)
{
    struct evbuffer *in = bufferevent_get_input(c->up->bev);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (splice_candidate(c)) {
        if (!evbuffer_get_length(in) && !evbuffer_get_length(out))
            return start_body_splice(c);
        /* Hand over what is buffered, read nothing more, and switch once
         * the client has taken it (gw_exchange_client_drained). */
        bufferevent_disable(c->up->bev, EV_READ);
    }
    for (;;) {
        size_t avail = evbuffer_get_length(in);
        size_t queued = evbuffer_get_length(out);
        if (queued >= GW_HIGH_WATER) {
            /* The client reads slower than the hop sends: stop reading the
             * hop until the client drains (client write callback). */
            bufferevent_disable(c->up->bev, EV_READ);
            return GW_OK;
        }
        if (body_complete(c))
            return exchange_done(c);
        if (!avail)
            break;
        size_t room = GW_HIGH_WATER - queued;
        if (avail > room)
            avail = room;
        size_t n = 0;
        if (c->resp_body == RT_BODY_LENGTH) {
            n = avail < c->resp_left ? avail : (size_t)c->resp_left;
            c->resp_left -= n;
        } else if (c->resp_body == RT_BODY_CHUNKED) {
            bool done = false;
            ssize_t r = scan_chunked(&c->resp_ck, in, avail, &done);
            if (r < 0) {
                c->code = RT_E_target_response_incomplete;
                snprintf(c->evidence, sizeof c->evidence, "invalid chunked framing in the response body");
                c->att[c->natt - 1].code = c->code;
                c->keep_alive = false;
                return gw_client_finish(c);
            }
            n = (size_t)r;
            if (done) {
                move_to_client(c, in, out, n);
                c->resp_body = RT_BODY_NONE; /* complete */
                continue;
            }
            if (!n)
                break;
        } else { /* RT_BODY_CLOSE: everything until EOF */
            n = avail;
        }
        move_to_client(c, in, out, n);
    }
    /* The buffered bytes may all have gone straight to the socket: then no
     * drain callback will come, and the switch to splicing happens here. */
    if (splice_candidate(c) && !evbuffer_get_length(in) && !evbuffer_get_length(out))
        return start_body_splice(c);
    gw_client_arm_timer(c, c->w->srv->cfg.read_timeout_ms);
    return GW_OK;
}

void gw_exchange_client_drained(gw_client *c)
{
    if (c->up && c->ustate == US_BODY && !c->relay) {
        if (!splice_candidate(c))
            bufferevent_enable(c->up->bev, EV_READ);
        pump_response(c);
    }
}

/* How many body bytes to look at before judging this response: none for
 * success and redirects (a small 2xx is the exception: block pages served
 * with 200/202), up to RT_CLASSIFY_BODY_MAX for errors. */
static size_t sniff_want(const rt_http_resp *r)
{
    if (r->h.body == RT_BODY_NONE || r->h.body == RT_BODY_TUNNEL)
        return 0;
    bool small = r->h.body == RT_BODY_LENGTH && r->h.content_length <= RT_CLASSIFY_SMALL_2XX;
    if (r->status < 400 && !(r->status >= 200 && r->status < 300 && small))
        return 0;
    if (r->h.body == RT_BODY_LENGTH)
        return r->h.content_length < RT_CLASSIFY_BODY_MAX ? (size_t)r->h.content_length : RT_CLASSIFY_BODY_MAX;
    return RT_CLASSIFY_BODY_MAX;
}

/* A chunked body that ends within what is buffered needs no more waiting. */
static bool sniff_complete(const rt_http_resp *r, const char *body, size_t have)
{
    if (r->h.body != RT_BODY_CHUNKED)
        return false;
    rt_chunked ck;
    bool done = false;
    rt_chunked_init(&ck);
    return rt_chunked_scan(&ck, body, have, &done) >= 0 && done;
}

/* Hold a small, good response back until its body is whole: if the hop
 * dies mid-body the attempt is retried and the client never sees a cut
 * response. Bounded by --hold-bytes; only for requests a retry may
 * resend, and only while nothing went to the client. */
enum { HOLD_NO = 0, HOLD_LENGTH, HOLD_CHUNKED };

static int should_hold(const gw_client *c, const gw_outcome *o, const char *body, size_t have)
{
    const rt_http_resp *r = &c->resp;
    size_t limit = c->w->srv->cfg.hold_bytes;
    if (c->hold_total || c->up_eof || o->code != RT_E_ok || !limit)
        return HOLD_NO;
    if (!rt_http_method_idempotent(c->req.meth) || !c->req_done)
        return HOLD_NO;
    if (r->h.body == RT_BODY_LENGTH)
        return r->h.content_length <= limit && have < r->h.content_length ? HOLD_LENGTH : HOLD_NO;
    if (r->h.body == RT_BODY_CHUNKED)
        /* Held until the last chunk is here, or until it outgrows the
         * limit (then it streams like any other). */
        return have <= limit && !sniff_complete(r, body, have) ? HOLD_CHUNKED : HOLD_NO;
    return HOLD_NO;
}

/* Is the body, by its own framing, incomplete in what is buffered?
 * `seen` bytes are contiguous at body; `total` are buffered in all. */
static bool body_cut(const rt_http_resp *r, const char *body, size_t seen, size_t total)
{
    if (r->h.body == RT_BODY_LENGTH)
        return total < r->h.content_length;
    if (r->h.body == RT_BODY_CHUNKED)
        return seen == total && !sniff_complete(r, body, seen);
    return false;
}

/* Retry-After (both forms, RFC 9110 section 10.2.3) or, failing that,
 * X-RateLimit-Reset, as a wait in milliseconds. */
static bool response_retry_after(const rt_http_resp *r, uint64_t *ms)
{
    const rt_http_hdr *h = rt_http_find(&r->h, "retry-after");
    if (h && rt_retry_after_parse(h->value, io_wall_ms(), ms) >= 0)
        return true;
    h = rt_http_find(&r->h, "x-ratelimit-reset");
    return h && rt_ratelimit_reset_parse(h->value, io_wall_ms(), ms) >= 0;
}

/* The new head goes out together with the body when the whole body is
 * already here (the usual small response): one writev instead of a send
 * for the head and a second call for the body. What the socket does not
 * take is queued in order, head first. Otherwise the head goes alone. */
#define GW_COALESCE_MAX (64u << 10)
#define GW_COALESCE_IOV 16

static void send_head(gw_client *c, const char *head, size_t hlen)
{
    struct evbuffer *in = bufferevent_get_input(c->up->bev);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    size_t body = c->resp_body == RT_BODY_LENGTH ? (size_t)c->resp_left : 0;
    struct evbuffer_iovec v[GW_COALESCE_IOV];
    int nv;
    if (!body || body > GW_COALESCE_MAX || evbuffer_get_length(in) < body || evbuffer_get_length(out) ||
        (nv = evbuffer_peek(in, (ssize_t)body, NULL, v, GW_COALESCE_IOV)) < 1 || nv >= GW_COALESCE_IOV) {
        gw_send(c->bev, head, hlen);
        return;
    }
    struct iovec iov[GW_COALESCE_IOV + 1];
    iov[0].iov_base = (void *)head;
    iov[0].iov_len = hlen;
    size_t left = body;
    for (int i = 0; i < nv; i++) { /* the last extent may hold bytes past the body */
        size_t n = v[i].iov_len < left ? v[i].iov_len : left;
        iov[i + 1].iov_base = v[i].iov_base;
        iov[i + 1].iov_len = n;
        left -= n;
    }
    struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)nv + 1 };
    ssize_t w = sendmsg(bufferevent_getfd(c->bev), &m, MSG_DONTWAIT | MSG_NOSIGNAL);
    size_t sent = w > 0 ? (size_t)w : 0;
    if (sent < hlen) {
        /* Not even the head went: queue its rest; the body follows from
         * pump_response through the same queue. */
        evbuffer_add(out, head + sent, hlen - sent);
        bufferevent_enable(c->bev, EV_WRITE);
        return;
    }
    size_t moved = sent - hlen;
    evbuffer_drain(in, moved);
    c->resp_left -= moved;
    c->resp_bytes += moved;
    c->bytes_out += moved;
}

static int commit_head(gw_client *c, ssize_t head_len, rt_code code)
{
    rt_http_resp *r = &c->resp;
    const rt_code_info *ci = rt_code_get(code);
    if (r->h.body == RT_BODY_CLOSE)
        c->keep_alive = false;
    bool flagged = code != RT_E_ok && ci->origin == RT_ORIGIN_TARGET;
    if (flagged)
        gw_client_hint(c, code, NULL);
    rt_fwd_resp_opts o = {
        .close = !c->keep_alive || !c->req_done,
        .attempts = c->natt,
        .error = flagged ? ci->name : NULL,
        .hint = flagged ? c->hint : NULL,
    };
    if (!c->req_done)
        c->keep_alive = false;
    char stack[GW_HEAD_STACK];
    char *heap = NULL;
    rt_wbuf b;
    rt_wbuf_init(&b, stack, sizeof stack);
    rt_fwd_response_head(&b, r, &o);
    if (b.overflow) {
        size_t cap = (size_t)head_len + 512;
        heap = malloc(cap);
        if (!heap)
            return gw_attempt_failed(c, RT_E_gateway_internal_error, 0, "out of memory");
        rt_wbuf_init(&b, heap, cap);
        rt_fwd_response_head(&b, r, &o);
    }
    c->bytes_out += b.len;
    c->status = r->status;
    c->code = code;
    c->resp_started = true;
    c->resp_body = r->h.body;
    c->resp_left = r->h.content_length;
    if (c->resp_body == RT_BODY_CHUNKED)
        rt_chunked_init(&c->resp_ck);
    evbuffer_drain(bufferevent_get_input(c->up->bev), (size_t)head_len);
    if (r->status == 101)
        gw_send(c->bev, b.p, b.len); /* the tunnel takes it from here */
    else
        send_head(c, b.p, b.len);
    free(heap);
    if (r->status == 101 && c->req.h.has_upgrade) {
        c->att[c->natt - 1].code = code;
        c->att[c->natt - 1].status = 101;
        if (c->att_active) {
            atomic_fetch_sub(&c->pool->in_flight[c->up_idx], 1);
            c->att_active = false;
        }
        return gw_tunnel_upgrade(c);
    }
    c->state = CS_RESPONSE;
    c->ustate = US_BODY;
    gw_attempt *a = &c->att[c->natt - 1];
    a->code = code;
    a->status = r->status;
    return pump_response(c);
}

static int read_response_head(gw_client *c)
{
    struct evbuffer *in = bufferevent_get_input(c->up->bev);
    gw_server *s = c->w->srv;
    for (;;) {
        size_t len = evbuffer_get_length(in);
        if (!len)
            return GW_OK;
        if (c->hold_total && len < c->hold_total && !c->up_eof)
            return GW_OK; /* a held response is not complete yet */
        size_t n = len < s->cfg.max_head_bytes + 1 ? len : s->cfg.max_head_bytes + 1;
        /* Sniffing, or a held chunked body, needs the bytes behind the head. */
        size_t behind = s->cfg.hold_bytes > RT_CLASSIFY_BODY_MAX ? s->cfg.hold_bytes + 1 : RT_CLASSIFY_BODY_MAX;
        if (len > n)
            n = len < s->cfg.max_head_bytes + behind ? len : s->cfg.max_head_bytes + behind;
        const char *data = (const char *)evbuffer_pullup(in, (ssize_t)n);
        rt_http_limits lim = { s->cfg.max_line_bytes, s->cfg.max_head_bytes };
        memset(&c->resp, 0, sizeof c->resp);
        c->resp.h.hdrs = c->rhdrs;
        c->resp.h.max_hdrs = GW_MAX_HEADERS;
        ssize_t r = rt_http_parse_response(data, n, &c->resp, c->req.meth, &lim);
        if (r == RT_HP_AGAIN)
            return GW_OK;
        if (r < 0) {
            char cev[GW_EVIDENCE], ev[GW_EVIDENCE];
            gw_seen seen = { .phase = RT_PH_REQUEST_SENT, .bad_response = true };
            rt_code code = gw_classify(c, &seen, cev, sizeof cev);
            snprintf(ev, sizeof ev, "%.100s: %s at byte %zu", cev, rt_http_err_str(c->resp.h.err), c->resp.h.err_off);
            return gw_attempt_failed(c, code, 0, ev);
        }
        int st = c->resp.status;
        if (st >= 100 && st < 200 && st != 101) {
            /* Interim responses (100 Continue, 103 Early Hints) go to the
             * client as they are and the final head follows. */
            if (st == 100 || st == 103) {
                bufferevent_write(c->bev, data, (size_t)r);
                c->bytes_out += (uint64_t)r;
            }
            evbuffer_drain(in, (size_t)r);
            continue;
        }
        /* The hop closed while rotor was still gathering this response:
         * if its framing says the body is not all here, the attempt
         * failed (and may be retried) rather than deliver a cut body. */
        if (c->up_eof && body_cut(&c->resp, data + r, n - (size_t)r, len - (size_t)r)) {
            char cev[GW_EVIDENCE], ev[GW_EVIDENCE];
            gw_seen seen = { .phase = RT_PH_BODY, .peer_closed = true, .resp = &c->resp };
            rt_code code = gw_classify(c, &seen, cev, sizeof cev);
            if (code == RT_E_ok)
                code = RT_E_target_response_incomplete;
            snprintf(ev, sizeof ev, "%.120s; %zu body bytes arrived", cev, len - (size_t)r);
            return gw_attempt_failed(c, code, 0, ev);
        }
        /* Error pages are judged on their body too (block pages, provider
         * pages): wait for a bounded prefix of it before deciding. A 2xx
         * is only looked at when small, so ordinary pages go straight on. */
        size_t want = sniff_want(&c->resp);
        size_t have = len - (size_t)r;
        if (want > have && !c->up_eof && !sniff_complete(&c->resp, data + r, have)) {
            if (len < (size_t)r + want && len <= s->cfg.max_head_bytes + RT_CLASSIFY_BODY_MAX)
                return GW_OK;
        }
        if (want && have) {
            size_t take = have < RT_CLASSIFY_BODY_MAX ? have : RT_CLASSIFY_BODY_MAX;
            const char *moved = (const char *)evbuffer_pullup(in, (ssize_t)((size_t)r + take));
            if (moved != data) {
                /* pullup moved the bytes: parse again so slices point at them */
                data = moved;
                memset(&c->resp, 0, sizeof c->resp);
                c->resp.h.hdrs = c->rhdrs;
                c->resp.h.max_hdrs = GW_MAX_HEADERS;
                rt_http_parse_response(data, (size_t)r + take, &c->resp, c->req.meth, &lim);
            }
            have = take;
        }
        char ev[GW_EVIDENCE];
        gw_outcome o = { .status = st, .evidence = ev, .reached_target = true };
        gw_seen seen = { .phase = RT_PH_RESPONSE, .resp = &c->resp,
                         .body = rt_slice_from(data + r, want ? have : 0) };
        o.code = gw_classify(c, &seen, ev, sizeof ev);
        int hold = should_hold(c, &o, data + r, n - (size_t)r);
        if (hold == HOLD_LENGTH) {
            c->hold_total = (size_t)r + (size_t)c->resp.h.content_length;
            return GW_OK;
        }
        if (hold == HOLD_CHUNKED) {
            c->hold_chunked = true;
            return GW_OK;
        }
        c->hold_chunked = false;
        if (rt_code_get(o.code)->origin == RT_ORIGIN_PROXY)
            o.reached_target = false; /* the proxy answered about itself */
        o.has_retry_after = response_retry_after(&c->resp, &o.retry_after_ms);
        rt_code code;
        uint32_t ra;
        gw_next next = gw_attempt_judge(c, &o, &code, &ra);
        if (next == GW_NEXT_RETRY)
            return gw_attempt_retry(c);
        if (next == GW_NEXT_FAIL) {
            gw_attempt_end(c);
            c->keep_alive = c->keep_alive && c->req_done;
            return gw_client_fail(c, code, ev, NULL, ra);
        }
        rt_strlcpy(c->evidence, sizeof c->evidence, code == RT_E_ok ? "" : ev);
        return commit_head(c, r, code);
    }
}

int gw_exchange_up_read(gw_client *c)
{
    if (c->ustate == US_HEAD_WAIT)
        return read_response_head(c);
    if (c->ustate == US_BODY)
        return pump_response(c);
    return GW_OK;
}

int gw_exchange_up_eof(gw_client *c, short what)
{
    int e = EVUTIL_SOCKET_ERROR();
    if (c->ustate == US_HEAD_WAIT && (c->hold_total || c->hold_chunked)) {
        /* A held response was cut: nothing reached the client, so this is
         * an ordinary failed attempt that the policy may retry. */
        size_t got = evbuffer_get_length(bufferevent_get_input(c->up->bev));
        char cev[GW_EVIDENCE], ev[GW_EVIDENCE];
        gw_seen seen = { .phase = RT_PH_BODY, .peer_closed = (what & BEV_EVENT_EOF) != 0,
                         .err = (what & BEV_EVENT_EOF) ? 0 : e };
        rt_code code = gw_classify(c, &seen, cev, sizeof cev);
        if (code == RT_E_ok)
            code = RT_E_target_response_incomplete;
        if (c->hold_total)
            snprintf(ev, sizeof ev, "%.120s; %zu of %zu response bytes arrived", cev, got, c->hold_total);
        else
            snprintf(ev, sizeof ev, "%.120s; chunked body cut after %zu bytes", cev, got);
        return gw_attempt_failed(c, code, 0, ev);
    }
    if (c->ustate == US_HEAD_WAIT && (what & BEV_EVENT_EOF) && !c->up_eof) {
        /* A complete head may be waiting for body bytes to sniff: judge
         * it with what arrived. */
        c->up_eof = true;
        size_t before = evbuffer_get_length(bufferevent_get_input(c->up->bev));
        if (before) {
            int rc = read_response_head(c);
            if (rc == GW_GONE || c->ustate != US_HEAD_WAIT || !c->up)
                return rc;
        }
    }
    if (c->ustate == US_BODY) {
        if (c->resp_body == RT_BODY_CLOSE && (what & BEV_EVENT_EOF)) {
            pump_response(c); /* whatever is still buffered */
            if (!c->up)
                return GW_GONE;
            c->resp_body = RT_BODY_NONE;
            c->keep_alive = false;
            return exchange_done(c);
        }
        c->code = RT_E_target_response_incomplete;
        snprintf(c->evidence, sizeof c->evidence, "connection closed after %llu body bytes, before the end of the body",
                 (unsigned long long)c->resp_bytes);
        c->att[c->natt - 1].code = c->code;
        c->keep_alive = false;
        return gw_client_finish(c);
    }
    bool got_bytes = c->up && evbuffer_get_length(bufferevent_get_input(c->up->bev)) > 0;
    if (c->up && c->up->reused && !got_bytes && !c->stale_retry_used && c->natt) {
        /* A parked connection the hop had already closed: not the hop's
         * failure. Redo the same attempt once on a fresh connection. */
        c->stale_retry_used = true;
        c->redo_idx = c->up_idx;
        c->natt--;
        gw_attempt_end(c);
        return gw_attempt_start(c);
    }
    char ev[GW_EVIDENCE];
    gw_seen seen = { .phase = RT_PH_REQUEST_SENT, .err = (what & BEV_EVENT_EOF) ? 0 : e,
                     .peer_closed = (what & BEV_EVENT_EOF) != 0, .bad_response = got_bytes };
    rt_code code = gw_classify(c, &seen, ev, sizeof ev);
    return gw_attempt_failed(c, code, 0, ev);
}
