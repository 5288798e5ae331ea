/* Client connections: reading request heads, refusing what rotor must
 * refuse (client-origin errors), starting attempts, generated replies, and
 * the end of each request (log, keep-alive or close). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/bufferevent_ssl.h>

#include "core/errors/reply.h"
#include "core/http/basic.h"
#include "gateway/gw_int.h"
#include "io/clock.h"
#include "io/relay.h"

static void client_read_cb(struct bufferevent *bev, void *arg);
static void client_write_cb(struct bufferevent *bev, void *arg);
static void client_event_cb(struct bufferevent *bev, short what, void *arg);
static void client_timer_cb(evutil_socket_t fd, short what, void *arg);

void gw_send(struct bufferevent *bev, const void *p, size_t n)
{
    struct evbuffer *out = bufferevent_get_output(bev);
    /* A TLS bufferevent's socket carries records: bytes sent to it
     * directly would skip the encryption, so those always queue. */
    if (!evbuffer_get_length(out) && !bufferevent_openssl_get_ssl(bev)) {
        ssize_t w = send(bufferevent_getfd(bev), p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0) {
            p = (const char *)p + w;
            n -= (size_t)w;
        }
    }
    if (n) {
        evbuffer_add(out, p, n);
        bufferevent_enable(bev, EV_WRITE); /* the rest goes when the socket has room */
    }
}

void gw_client_arm_timer(gw_client *c, unsigned ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    evtimer_add(c->timer, &tv);
}

static void client_free(gw_client *c)
{
    gw_worker *w = c->w;
    if (c->relay) {
        io_relay_free(c->relay); /* before the sockets it uses are closed */
        c->relay = NULL;
    }
    if (c->up)
        gw_upconn_free(c->up);
    /* Shared counts outlive the connection: a request cut short must
     * still give back its upstream slot and its domain's politeness slot. */
    if (c->att_active) {
        atomic_fetch_sub(&c->pool->in_flight[c->up_idx], 1);
        c->att_active = false;
    }
    gw_policy_request_done(c);
    if (c->pool)
        gw_pool_release(c->pool);
    if (c->replay)
        evbuffer_free(c->replay);
    free(c->head);
    if (c->timer)
        event_free(c->timer);
    if (c->bev)
        bufferevent_free(c->bev);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->client_list = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->clients--;
    atomic_fetch_sub(&w->srv->clients, 1);
    free(c);
    if (w->draining && w->clients == 0)
        event_base_loopexit(w->base, NULL);
}

int gw_client_close(gw_client *c)
{
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
        client_free(c);
        return GW_GONE;
    }
    /* Let the final bytes go out first; the write callback frees. */
    c->state = CS_CLOSING;
    bufferevent_disable(c->bev, EV_READ);
    bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
    gw_client_arm_timer(c, 5000);
    return GW_OK;
}

void gw_client_accept(gw_worker *w, evutil_socket_t fd, const struct sockaddr *sa)
{
    gw_server *s = w->srv;
    gw_client *c = malloc(sizeof *c);
    if (c)
        memset(c, 0, offsetof(gw_client, att));
    struct bufferevent *bev = c ? bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
    if (!bev) {
        free(c);
        evutil_closesocket(fd);
        return;
    }
    c->w = w;
    c->bev = bev;
    c->timer = evtimer_new(w->base, client_timer_cb, c);
    io_addr_str(sa, c->peer, sizeof c->peer);
    c->next = w->client_list;
    if (c->next)
        c->next->prev = c;
    w->client_list = c;
    w->clients++;
    unsigned open = atomic_fetch_add(&s->clients, 1) + 1;
    gw_set_nodelay(bev);
    bufferevent_setcb(bev, client_read_cb, client_write_cb, client_event_cb, c);
    /* Stop reading a client whose unread input passes the high-water mark:
     * the kernel's window then pushes back on it. */
    bufferevent_setwatermark(bev, EV_READ, 0, GW_HIGH_WATER);
    c->keep_alive = true;
    c->redo_idx = -1;
    c->t_start_ms = gw_now();
    c->t_wall_ms = io_wall_ms();
    if (open > s->cfg.max_clients) {
        /* Over the limit we accept and answer 503 with the reason rather
         * than leave clients hanging in the backlog without a word. */
        c->keep_alive = false;
        gw_client_fail(c, RT_E_gateway_overloaded, "open client connections over --max-clients", NULL, 1);
        return;
    }
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    c->head_begun = true;
    gw_client_arm_timer(c, s->cfg.header_timeout_ms);
}

void gw_client_close_idle(gw_worker *w)
{
    gw_client *c = w->client_list;
    while (c) {
        gw_client *next = c->next;
        if (c->state == CS_HEAD && evbuffer_get_length(bufferevent_get_input(c->bev)) == 0)
            client_free(c);
        c = next;
    }
}

void gw_client_free_all(gw_worker *w)
{
    while (w->client_list)
        client_free(w->client_list);
}

/* ==== Replies and the end of a request ==== */

void gw_client_hint(gw_client *c, rt_code code, const char *evidence)
{
    const gw_config *cfg = &c->w->srv->cfg;
    long idx = c->natt ? c->att[c->natt - 1].idx : -1;
    rt_hint_in in = {
        .code = code,
        .client = c->head ? &c->req.h : NULL,
        .entry = idx >= 0 && c->pool ? &c->pool->pool.v[idx] : NULL,
        .read_timeout_ms = cfg->read_timeout_ms,
        .request_timeout_ms = cfg->request_timeout_ms,
        .elapsed_ms = (uint32_t)(gw_now() - c->t_start_ms),
        .evidence = rt_slice_cstr(evidence),
    };
    rt_hint(&in, c->hint, sizeof c->hint);
}

int gw_client_fail(gw_client *c, rt_code code, const char *evidence, const char *hint, uint32_t retry_after_s)
{
    const rt_code_info *ci = rt_code_get(code);
    if (hint)
        rt_strlcpy(c->hint, sizeof c->hint, hint);
    else
        gw_client_hint(c, code, evidence);
    char where[160] = "";
    long idx = c->natt ? c->att[c->natt - 1].idx : -1;
    if (idx >= 0 && c->pool && ci->origin != RT_ORIGIN_CLIENT && ci->origin != RT_ORIGIN_GATEWAY) {
        const rt_upstream *u = &c->pool->pool.v[idx];
        if (u->scheme == RT_UP_DIRECT)
            snprintf(where, sizeof where, "direct to %.*s:%u", (int)c->url.host.n, c->url.host.p, c->url.port);
        else
            snprintf(where, sizeof where, "upstream %s (%s:%u)", u->label, u->host, u->port);
    }
    /* A request whose body was not read to its end leaves the connection
     * out of step: answer, then close. */
    if (!c->req_done || c->req.h.body == RT_BODY_CLOSE)
        c->keep_alive = false;
    rt_reply r = {
        .code = code,
        .attempts = c->natt,
        .evidence = rt_slice_cstr(evidence),
        .hint = rt_slice_cstr(c->hint),
        .where = rt_slice_cstr(where),
        .retry_after_s = retry_after_s,
        .json = c->json_errors,
        .close = !c->keep_alive,
        .head_only = c->req.meth == RT_M_HEAD,
    };
    char buf[4096];
    rt_wbuf b;
    rt_wbuf_init(&b, buf, sizeof buf);
    rt_reply_write(&b, &r);
    gw_send(c->bev, buf, b.len);
    c->bytes_out += b.len;
    c->status = r.status ? r.status : (ci->status ? ci->status : 502);
    c->code = code;
    rt_strlcpy(c->evidence, sizeof c->evidence, evidence ? evidence : "");
    c->resp_started = true;
    return gw_client_finish(c);
}

static void reset_request(gw_client *c)
{
    free(c->head);
    c->head = NULL;
    c->head_len = 0;
    if (c->replay) {
        evbuffer_free(c->replay);
        c->replay = NULL;
    }
    if (c->pool) {
        gw_pool_release(c->pool);
        c->pool = NULL;
    }
    memset(&c->req, 0, sizeof c->req);
    memset(&c->url, 0, sizeof c->url);
    c->natt = 0;
    c->ustate = US_NONE;
    c->up_idx = -1;
    c->req_left = c->resp_left = 0;
    c->req_done = c->replay_ok = c->resp_started = false;
    c->req_bytes = c->resp_bytes = c->tunnel_up = c->tunnel_down = 0;
    c->nfirst_c2s = c->nfirst_s2c = 0;
    c->up_eof = false;
    c->hold_total = 0;
    c->hold_chunked = false;
    c->bytes_in = c->bytes_out = 0;
    c->status = 0;
    c->code = RT_E_ok;
    c->evidence[0] = 0;
    c->hint[0] = 0;
    c->session[0] = 0;
    c->json_errors = false;
    c->resp_body = RT_BODY_NONE;
    c->domain_hash = 0;
    c->tier = 0;
    c->polite_wait = false;
    c->probe = c->retry_wait = false;
    c->retry_delay_ms = 0;
    c->stale_retry_used = false;
    c->redo_idx = -1;
}

int gw_client_finish(gw_client *c)
{
    gw_record_log(c);
    gw_attempt_end(c);
    gw_policy_request_done(c);
    reset_request(c);
    if (!c->keep_alive || c->w->draining)
        return gw_client_close(c);
    c->state = CS_HEAD;
    c->head_begun = false;
    c->t_start_ms = gw_now();
    c->t_wall_ms = io_wall_ms();
    bufferevent_enable(c->bev, EV_READ);
    gw_client_arm_timer(c, c->w->srv->cfg.idle_timeout_ms);
    /* A pipelined request may already wait in the input buffer: run the
     * read callback from the loop rather than recursing here. */
    if (evbuffer_get_length(bufferevent_get_input(c->bev)))
        bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
    return GW_OK;
}

/* ==== Request heads ==== */

static rt_code code_for_parse_error(rt_http_err e)
{
    switch (rt_http_err_status(e)) {
    case 414: return RT_E_client_uri_too_long;
    case 431: return RT_E_client_headers_too_large;
    case 501: return RT_E_client_unsupported;
    default: return RT_E_client_bad_request;
    }
}

static bool port_allowed(const gw_server *s, unsigned port)
{
    if (s->n_connect_ports) {
        for (unsigned i = 0; i < s->n_connect_ports; i++)
            if (port >= s->connect_ports[i][0] && port <= s->connect_ports[i][1])
                return true;
        return false;
    }
    /* Mail submission and relay ports are the classic abuse of open
     * tunnels; nothing a scraper needs lives there. */
    static const unsigned deny[] = { 25, 465, 587, 2525, 110, 143, 993, 995, 119, 563 };
    for (size_t i = 0; i < sizeof deny / sizeof deny[0]; i++)
        if (port == deny[i])
            return false;
    return true;
}

static bool targets_self(const gw_client *c)
{
    const gw_server *s = c->w->srv;
    unsigned lport = io_addr_port((const struct sockaddr *)&s->listen_addr.ss);
    if (c->url.port != lport)
        return false;
    char host[64];
    if (c->url.host.n >= sizeof host)
        return false;
    memcpy(host, c->url.host.p, c->url.host.n);
    host[c->url.host.n] = 0;
    if (!strcmp(host, "localhost"))
        return true;
    io_addr a;
    char err[8], spec[80];
    snprintf(spec, sizeof spec, strchr(host, ':') ? "[%s]:0" : "%s:0", host);
    if (io_addr_parse(spec, &a, err, sizeof err) != 0)
        return false;
    if (io_addr_is_loopback(&a) && io_addr_is_loopback(&s->listen_addr))
        return true;
    const struct sockaddr *l = (const struct sockaddr *)&s->listen_addr.ss;
    if (l->sa_family == AF_INET && a.ss.ss_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)l, *y = (const struct sockaddr_in *)&a.ss;
        return x->sin_addr.s_addr == y->sin_addr.s_addr || x->sin_addr.s_addr == 0;
    }
    return false;
}

static void take_session(gw_client *c)
{
    const rt_http_hdr *h = rt_http_find(&c->req.h, "x-rotor-session");
    if (!h)
        return;
    size_t n = 0;
    for (size_t i = 0; i < h->value.n && n < sizeof c->session - 1; i++) {
        char ch = h->value.p[i];
        /* Session ids end up inside upstream usernames: keep them to a safe alphabet. */
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_')
            c->session[n++] = ch;
    }
    c->session[n] = 0;
}

int gw_client_start_when_polite(gw_client *c)
{
    uint64_t wait = gw_policy_polite(c);
    if (!wait)
        return gw_attempt_start(c);
    if (gw_now() + wait >= c->deadline_ms) {
        char ev[GW_EVIDENCE];
        snprintf(ev, sizeof ev, "the domain's politeness limits (--domain-concurrency, --domain-rate) held the request "
                                "past its deadline");
        return gw_client_fail(c, RT_E_domain_paused, ev, NULL, 1);
    }
    c->polite_wait = true;
    gw_client_arm_timer(c, (unsigned)wait);
    return GW_OK;
}

static int handle_request(gw_client *c)
{
    gw_server *s = c->w->srv;
    rt_http_req *req = &c->req;
    const rt_http_hdr *acc = rt_http_find(&req->h, "accept");
    c->json_errors = acc && memmem(acc->value.p, acc->value.n, "application/json", 16) != NULL;
    /* While draining, the answer says Connection: close, so the client
     * does not send another request on a connection about to close. */
    c->keep_alive = req->h.keep_alive && !c->w->draining;
    c->deadline_ms = c->t_start_ms + s->cfg.request_timeout_ms;
    switch (req->h.body) {
    case RT_BODY_LENGTH:
        c->req_left = req->h.content_length;
        c->req_done = c->req_left == 0;
        break;
    case RT_BODY_CHUNKED:
        rt_chunked_init(&c->req_ck);
        break;
    default:
        c->req_done = true;
        break;
    }

    if (s->auth_expect[0]) {
        const rt_http_hdr *pa = rt_http_find(&req->h, "proxy-authorization");
        if (!pa || !rt_basic_equal(pa->value, s->auth_expect))
            return gw_client_fail(c, RT_E_client_auth_required,
                                  pa ? "Proxy-Authorization does not match --auth" : "no Proxy-Authorization header",
                                  NULL, 0);
    }
    if (rt_url_parse_target(req->target, req->meth, &c->url) != 0)
        return gw_client_fail(c, RT_E_client_bad_request, "request-target is not a valid URL for this method",
                              req->meth == RT_M_CONNECT ? "CONNECT needs host:port, e.g. CONNECT example.com:443" : NULL, 0);
    if (c->url.form == RT_TF_ORIGIN || c->url.form == RT_TF_ASTERISK)
        return gw_client_fail(c, RT_E_client_bad_request, "origin-form request-target sent to a forward proxy",
                              "rotor is a forward proxy: configure it as the client's proxy (curl -x http://HOST:PORT URL, "
                              "HTTP_PROXY=http://HOST:PORT) so requests carry the absolute URL", 0);
    if (c->url.has_userinfo)
        return gw_client_fail(c, RT_E_client_bad_request, "user:pass@ inside the target URL",
                              "credentials for the target do not belong in the URL sent to a proxy", 0);
    if (targets_self(c))
        return gw_client_fail(c, RT_E_client_loop_detected, "the target is rotor's own listener", NULL, 0);
    if (req->meth == RT_M_CONNECT && !port_allowed(s, c->url.port)) {
        char ev[96];
        snprintf(ev, sizeof ev, "CONNECT to port %u is not allowed", c->url.port);
        return gw_client_fail(c, RT_E_client_forbidden_port, ev, NULL, 0);
    }
    take_session(c);
    if (!c->req_done) {
        c->replay_ok = !(req->h.body == RT_BODY_LENGTH && req->h.content_length > s->cfg.max_replay_bytes);
        if (c->replay_ok && !(c->replay = evbuffer_new()))
            c->replay_ok = false;
    }
    c->pool = gw_pool_acquire(s);
    c->state = CS_UPSTREAM;
    bool answered;
    int rc = gw_policy_admit(c, &answered);
    if (answered)
        return rc;
    if (c->retry_delay_ms) {
        /* The domain is paced: the first attempt waits its turn. */
        c->polite_wait = true;
        gw_client_arm_timer(c, (unsigned)c->retry_delay_ms);
        c->retry_delay_ms = 0;
        return GW_OK;
    }
    return gw_client_start_when_polite(c);
}

static void rebase(rt_slice *s, const char *from, const char *to)
{
    if (s->p)
        s->p = to + (s->p - from);
}

static int read_head(gw_client *c)
{
    gw_server *s = c->w->srv;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t len = evbuffer_get_length(in);
    if (!len)
        return GW_OK;
    if (!c->head_begun) {
        /* The first byte of a request on a kept-alive connection: from now
         * on the head must be complete within --header-timeout, not the
         * idle timeout (slowloris on the second request). */
        c->head_begun = true;
        gw_client_arm_timer(c, s->cfg.header_timeout_ms);
    }
    size_t limit = s->cfg.max_head_bytes + 1;
    size_t n = len < limit ? len : limit;
    const char *data = (const char *)evbuffer_pullup(in, (ssize_t)n);
    rt_http_limits lim = { s->cfg.max_line_bytes, s->cfg.max_head_bytes };
    c->req.h.hdrs = c->hdrs;
    c->req.h.max_hdrs = GW_MAX_HEADERS;
    ssize_t r = rt_http_parse_request(data, n, &c->req, &lim);
    if (r == RT_HP_AGAIN)
        return GW_OK;
    c->t_start_ms = gw_now();
    c->t_wall_ms = io_wall_ms();
    if (r < 0) {
        char ev[160];
        snprintf(ev, sizeof ev, "%s at byte %zu of the request", rt_http_err_str(c->req.h.err), c->req.h.err_off);
        c->keep_alive = false;
        c->req_done = false;
        c->state = CS_CLOSING;
        return gw_client_fail(c, code_for_parse_error(c->req.h.err), ev, NULL, 0);
    }
    /* Keep an owned copy of the head: attempts rebuild the upstream request
     * from it after the input buffer has moved on to the body. */
    c->head = malloc((size_t)r);
    if (!c->head) {
        c->keep_alive = false;
        return gw_client_fail(c, RT_E_gateway_internal_error, "out of memory", NULL, 0);
    }
    memcpy(c->head, data, (size_t)r);
    c->head_len = (size_t)r;
    /* The parse's slices point into the input buffer: move them onto the
     * copy (same offsets) instead of parsing a second time. */
    rebase(&c->req.method, data, c->head);
    rebase(&c->req.target, data, c->head);
    for (size_t i = 0; i < c->req.h.nhdrs; i++) {
        rebase(&c->hdrs[i].name, data, c->head);
        rebase(&c->hdrs[i].value, data, c->head);
    }
    evbuffer_drain(in, (size_t)r);
    c->bytes_in += (uint64_t)r;
    evtimer_del(c->timer);
    return handle_request(c);
}

/* ==== libevent callbacks ==== */

static void client_read_cb(struct bufferevent *bev, void *arg)
{
    gw_client *c = arg;
    switch (c->state) {
    case CS_HEAD:
        read_head(c);
        break;
    case CS_UPSTREAM:
    case CS_RESPONSE:
        gw_exchange_client_read(c);
        break;
    case CS_TUNNEL:
        gw_tunnel_relay(c, true);
        break;
    case CS_CLOSING:
        evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
        break;
    }
}

static void client_write_cb(struct bufferevent *bev, void *arg)
{
    gw_client *c = arg;
    switch (c->state) {
    case CS_CLOSING:
        if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
            client_free(c);
        break;
    case CS_RESPONSE:
        gw_exchange_client_drained(c);
        break;
    case CS_TUNNEL:
        gw_tunnel_relay(c, false);
        break;
    default:
        break;
    }
}

static void client_event_cb(struct bufferevent *bev, short what, void *arg)
{
    gw_client *c = arg;
    switch (c->state) {
    case CS_HEAD:
    case CS_CLOSING:
        /* Between requests a close is the normal end of a connection. */
        client_free(c);
        break;
    case CS_TUNNEL:
        gw_tunnel_eof(c, true, what);
        break;
    case CS_UPSTREAM:
    case CS_RESPONSE:
        if ((what & BEV_EVENT_EOF) && !c->req_done) {
            /* The client stopped sending mid-body. */
        }
        c->keep_alive = false;
        c->status = c->resp_started ? c->status : 499;
        c->code = RT_E_client_closed;
        snprintf(c->evidence, sizeof c->evidence, "client %s before the response was complete",
                 (what & BEV_EVENT_EOF) ? "closed the connection" : "connection failed");
        if (c->natt)
            c->att[c->natt - 1].code = RT_E_client_closed;
        bufferevent_disable(bev, EV_READ | EV_WRITE);
        evbuffer_drain(bufferevent_get_output(bev), evbuffer_get_length(bufferevent_get_output(bev)));
        gw_client_finish(c);
        break;
    }
}

static void client_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    gw_client *c = arg;
    switch (c->state) {
    case CS_HEAD:
        if (evbuffer_get_length(bufferevent_get_input(c->bev)) == 0) {
            client_free(c); /* idle keep-alive connection: close quietly */
            return;
        }
        c->keep_alive = false;
        gw_client_fail(c, RT_E_client_timeout, "the request head was not complete in time", NULL, 0);
        return;
    case CS_CLOSING:
        client_free(c);
        return;
    case CS_UPSTREAM:
    case CS_RESPONSE:
    case CS_TUNNEL:
        gw_attempt_timeout(c);
        return;
    }
}
