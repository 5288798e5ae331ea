/* CONNECT: asking the upstream proxy for a tunnel (or dialing the target
 * for `direct`), telling the client, then relaying bytes both ways with
 * backpressure. Tunnel establishment is retried across upstreams before
 * the client sees anything; once the client has its 200, nothing is. */
#include <stdio.h>
#include <string.h>

#include "core/http/forward.h"
#include "gateway/gw_int.h"
#include "io/relay.h"

static const char established[] = "HTTP/1.1 200 Connection established\r\n\r\n";

static void judge_tunnel(gw_client *c);

/* The splice relay ended (see io/relay.h). */
static void relay_done(void *arg, int err, bool client_side)
{
    gw_client *c = arg;
    io_relay_counts(c->relay, &c->tunnel_up, &c->tunnel_down);
    const char *p;
    size_t n = io_relay_first(c->relay, true, &p);
    memcpy(c->first_c2s, p, n);
    c->nfirst_c2s = (uint8_t)n;
    n = io_relay_first(c->relay, false, &p);
    memcpy(c->first_s2c, p, n);
    c->nfirst_s2c = (uint8_t)n;
    judge_tunnel(c);
    if (c->code == RT_E_ok) {
        if (err)
            snprintf(c->evidence, sizeof c->evidence, "%s side failed: %s", client_side ? "client" : "target",
                     strerror(err));
        else
            rt_strlcpy(c->evidence, sizeof c->evidence,
                       client_side ? "client closed the tunnel" : "target side closed the tunnel");
    }
    io_relay_free(c->relay);
    c->relay = NULL;
    c->keep_alive = false;
    gw_client_finish(c);
}

/* Hand both sockets to the zero-copy relay: whatever the bufferevents
 * still hold is delivered first, then they stay idle (they own the
 * sockets and close them when the client is freed). */
static bool start_relay(gw_client *c, bool established_line)
{
    /* Through an https:// proxy the tunnel's bytes are TLS records on the
     * upstream socket: only its bufferevent can relay them. */
    if (c->up->tls)
        return false;
    /* libevent keeps the front of a bufferevent's output for itself: only
     * switch when both outputs are empty (the usual case: the CONNECT went
     * out before its answer came back). */
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) ||
        evbuffer_get_length(bufferevent_get_output(c->up->bev)))
        return false;
    struct evbuffer *ab = evbuffer_new(), *ba = evbuffer_new();
    if (ab && ba && (!established_line || evbuffer_add(ba, established, sizeof established - 1) == 0) &&
        evbuffer_add_buffer(ab, bufferevent_get_input(c->bev)) == 0 &&
        evbuffer_add_buffer(ba, bufferevent_get_input(c->up->bev)) == 0) {
        bufferevent_disable(c->bev, EV_READ | EV_WRITE);
        bufferevent_disable(c->up->bev, EV_READ | EV_WRITE);
        c->relay = io_relay_start(c->w->base, bufferevent_getfd(c->bev), bufferevent_getfd(c->up->bev), ab, ba,
                                  relay_done, c);
    }
    bool ok = c->relay != NULL;
    if (!ok) {
        /* Out of memory: the bytes go back and bufferevents relay them. */
        if (ab)
            evbuffer_prepend_buffer(bufferevent_get_input(c->bev), ab);
        if (ba) {
            size_t n = evbuffer_get_length(ba);
            if (established_line && n >= sizeof established - 1)
                evbuffer_drain(ba, sizeof established - 1);
            evbuffer_prepend_buffer(bufferevent_get_input(c->up->bev), ba);
        }
    }
    if (ab)
        evbuffer_free(ab);
    if (ba)
        evbuffer_free(ba);
    return ok;
}

/* The connection is a tunnel from now on: splice it, or relay with the
 * bufferevents when the relay cannot start (or must not: a TLS hop). established_line: the client
 * still needs the "200 Connection established" (CONNECT), not after a 101. */
static int become_tunnel(gw_client *c, bool established_line)
{
    c->state = CS_TUNNEL;
    c->ustate = US_BODY;
    c->keep_alive = false;
    gw_client_arm_timer(c, c->w->srv->cfg.tunnel_idle_ms);
    if (start_relay(c, established_line))
        return GW_OK;
    if (established_line)
        bufferevent_write(c->bev, established, sizeof established - 1);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    bufferevent_enable(c->up->bev, EV_READ | EV_WRITE);
    /* Bytes that arrived behind the request or the hop's answer. */
    gw_tunnel_relay(c, true);
    if (c->state == CS_TUNNEL && c->up)
        gw_tunnel_relay(c, false);
    return GW_OK;
}

static int tunnel_open(gw_client *c)
{
    c->bytes_out += sizeof established - 1;
    c->status = 200;
    c->code = RT_E_ok;
    c->resp_started = true;
    return become_tunnel(c, true);
}

int gw_tunnel_upgrade(gw_client *c) { return become_tunnel(c, false); }

int gw_tunnel_begin(gw_client *c)
{
    if (gw_hop_is_direct(c)) {
        c->ustate = US_BODY;
        gw_outcome o = { .code = RT_E_ok, .status = 200, .evidence = "" };
        rt_code code;
        uint32_t ra;
        gw_attempt_judge(c, &o, &code, &ra);
        return tunnel_open(c);
    }
    char buf[1024];
    rt_wbuf b;
    rt_wbuf_init(&b, buf, sizeof buf);
    rt_fwd_connect_head(&b, &c->url, rt_slice_cstr(c->auth));
    gw_send(c->up->bev, b.p, b.len);
    c->ustate = US_CONNECT_SENT;
    bufferevent_enable(c->up->bev, EV_READ | EV_WRITE);
    gw_client_arm_timer(c, c->w->srv->cfg.read_timeout_ms);
    return GW_OK;
}

int gw_tunnel_up_read(gw_client *c)
{
    if (c->state == CS_TUNNEL)
        return gw_tunnel_relay(c, false);
    struct evbuffer *in = bufferevent_get_input(c->up->bev);
    size_t len = evbuffer_get_length(in);
    gw_server *s = c->w->srv;
    size_t n = len < s->cfg.max_head_bytes + 1 ? len : s->cfg.max_head_bytes + 1;
    const char *data = (const char *)evbuffer_pullup(in, (ssize_t)n);
    rt_http_limits lim = { s->cfg.max_line_bytes, s->cfg.max_head_bytes };
    memset(&c->resp, 0, sizeof c->resp);
    c->resp.h.hdrs = c->rhdrs;
    c->resp.h.max_hdrs = GW_MAX_HEADERS;
    ssize_t r = rt_http_parse_response(data, n, &c->resp, RT_M_CONNECT, &lim);
    if (r == RT_HP_AGAIN)
        return GW_OK;
    char ev[GW_EVIDENCE];
    if (r < 0) {
        char cev[GW_EVIDENCE];
        gw_seen seen = { .phase = RT_PH_PROXY_CONNECT, .bad_response = true };
        rt_code code = gw_classify(c, &seen, cev, sizeof cev);
        snprintf(ev, sizeof ev, "%.120s: %s", cev, rt_http_err_str(c->resp.h.err));
        return gw_attempt_failed(c, code, 0, ev);
    }
    int st = c->resp.status;
    if (st >= 200 && st < 300) {
        evbuffer_drain(in, (size_t)r);
        c->ustate = US_BODY;
        gw_outcome o = { .code = RT_E_ok, .status = st, .evidence = "" };
        rt_code code;
        uint32_t ra;
        gw_attempt_judge(c, &o, &code, &ra);
        return tunnel_open(c);
    }
    /* The proxy's refusal page (it is the whole answer: no tunnel) is
     * judged with its body when it is already here. */
    size_t have = n - (size_t)r;
    if (have > RT_CLASSIFY_BODY_MAX)
        have = RT_CLASSIFY_BODY_MAX;
    gw_seen seen = { .phase = RT_PH_PROXY_CONNECT, .resp = &c->resp, .body = rt_slice_from(data + r, have) };
    rt_code code = gw_classify(c, &seen, ev, sizeof ev);
    return gw_attempt_failed(c, code, st, ev);
}

/* Keep the first bytes of each direction: a TLS alert or a plain-text
 * answer right after the client's hello is how a failing tunnel shows. */
static void note_first_bytes(gw_client *c, struct evbuffer *in, bool from_client)
{
    uint8_t *n = from_client ? &c->nfirst_c2s : &c->nfirst_s2c;
    char *dst = from_client ? c->first_c2s : c->first_s2c;
    if (*n < RT_TUNNEL_SNIFF_MAX)
        *n += (uint8_t)evbuffer_copyout(in, dst + *n, RT_TUNNEL_SNIFF_MAX - *n);
}

/* How did the tunnel go? Classified from what rotor could see of it; the
 * client already has its 200, so this only informs the log and policies. */
static void judge_tunnel(gw_client *c)
{
    char ev[GW_EVIDENCE];
    gw_seen seen = { .phase = RT_PH_TUNNEL };
    rt_code code = gw_classify(c, &seen, ev, sizeof ev);
    if (code != RT_E_ok) {
        c->code = code;
        rt_strlcpy(c->evidence, sizeof c->evidence, ev);
        if (c->natt)
            c->att[c->natt - 1].code = code;
    }
}

int gw_tunnel_relay(gw_client *c, bool from_client)
{
    if (c->state != CS_TUNNEL || !c->up)
        return GW_OK;
    struct bufferevent *src = from_client ? c->bev : c->up->bev;
    struct bufferevent *dst = from_client ? c->up->bev : c->bev;
    struct evbuffer *in = bufferevent_get_input(src);
    struct evbuffer *out = bufferevent_get_output(dst);
    size_t n = evbuffer_get_length(in);
    if (n) {
        note_first_bytes(c, in, from_client);
        evbuffer_add_buffer(out, in);
        if (from_client)
            c->tunnel_up += n;
        else
            c->tunnel_down += n;
        gw_client_arm_timer(c, c->w->srv->cfg.tunnel_idle_ms);
    }
    /* Backpressure: a side whose peer has a full output stops reading; the
     * peer's write callback (this function, called for the other
     * direction's drain) turns it back on. */
    if (evbuffer_get_length(out) >= GW_HIGH_WATER)
        bufferevent_disable(src, EV_READ);
    else
        bufferevent_enable(src, EV_READ);
    struct evbuffer *back = bufferevent_get_output(src);
    struct bufferevent *other = dst;
    if (evbuffer_get_length(back) < GW_HIGH_WATER)
        bufferevent_enable(other, EV_READ);
    return GW_OK;
}

int gw_tunnel_eof(gw_client *c, bool client_side, short what)
{
    if (c->state != CS_TUNNEL) {
        /* The proxy closed before answering CONNECT. */
        int e = EVUTIL_SOCKET_ERROR();
        char ev[GW_EVIDENCE];
        bool got = c->up && evbuffer_get_length(bufferevent_get_input(c->up->bev)) > 0;
        gw_seen seen = { .phase = RT_PH_PROXY_CONNECT, .err = (what & BEV_EVENT_EOF) ? 0 : e,
                         .peer_closed = (what & BEV_EVENT_EOF) != 0, .bad_response = got };
        rt_code code = gw_classify(c, &seen, ev, sizeof ev);
        return gw_attempt_failed(c, code, 0, ev);
    }
    /* One side ended: hand over what it sent, then end the tunnel. */
    struct bufferevent *src = client_side ? c->bev : c->up->bev;
    struct bufferevent *dst = client_side ? c->up->bev : c->bev;
    size_t n = evbuffer_get_length(bufferevent_get_input(src));
    if (n) {
        evbuffer_add_buffer(bufferevent_get_output(dst), bufferevent_get_input(src));
        if (client_side)
            c->tunnel_up += n;
        else
            c->tunnel_down += n;
    }
    judge_tunnel(c);
    if (!client_side) {
        if (c->code == RT_E_ok)
            snprintf(c->evidence, sizeof c->evidence, "target side closed the tunnel");
        /* The upstream's data is on its way to the client: let the client
         * connection flush it, then close. */
        gw_attempt_end(c);
        c->keep_alive = false;
        return gw_client_finish(c);
    }
    if (c->code == RT_E_ok)
        snprintf(c->evidence, sizeof c->evidence, "client closed the tunnel");
    c->keep_alive = false;
    /* Client gone: nothing can be delivered to it any more. */
    evbuffer_drain(bufferevent_get_output(c->bev), evbuffer_get_length(bufferevent_get_output(c->bev)));
    return gw_client_finish(c);
}
