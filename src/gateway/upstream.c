/* Attempts: choosing an upstream, dialing it (or reusing an idle
 * connection), mapping socket failures to the vocabulary, and deciding
 * whether a failed attempt is retried on another upstream. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/hash.h"
#include "gateway/gw_int.h"
#include "io/relay.h"

#define GW_IDLE_MAX_MS 20000 /* idle upstream connections older than this are closed */

const rt_upstream *gw_up_entry(const gw_client *c)
{
    return c->up_idx >= 0 ? &c->pool->pool.v[c->up_idx] : NULL;
}

bool gw_hop_is_direct(const gw_client *c)
{
    const rt_upstream *u = gw_up_entry(c);
    return u && u->scheme == RT_UP_DIRECT;
}

/* ==== Idle connections ==== */

/* Connections are interchangeable when they go to the same hop, over the
 * same scheme, with the same credentials; the key hashes exactly that. The
 * scheme keeps an http:// and an https:// entry on one host:port apart:
 * a plain connection must never carry a request meant for TLS. */
static uint64_t hop_key(const gw_client *c, rt_up_scheme scheme, const char *host, unsigned port, const char *auth)
{
    uint64_t h = RT_FNV_OFFSET;
    unsigned sch = (unsigned)scheme;
    h = rt_fnv1a(h, &sch, sizeof sch);
    h = rt_fnv1a(h, host, strlen(host));
    h = rt_fnv1a(h, &port, sizeof port);
    if (auth)
        h = rt_fnv1a(h, auth, strlen(auth));
    return h;
}

void gw_upconn_free(gw_upconn *u)
{
    if (!u)
        return;
    if (u->bev)
        bufferevent_free(u->bev);
    free(u);
}

static void idle_event_cb(struct bufferevent *bev, short what, void *arg);

static void idle_read_cb(struct bufferevent *bev, void *arg)
{
    /* An idle connection has nothing to say; bytes mean it is out of step. */
    idle_event_cb(bev, BEV_EVENT_EOF, arg);
}

static void idle_unlink(gw_worker *w, gw_upconn *u)
{
    for (gw_upconn **pp = &w->idle_head; *pp; pp = &(*pp)->next) {
        if (*pp == u) {
            *pp = u->next;
            w->idle_count--;
            return;
        }
    }
}

static void idle_event_cb(struct bufferevent *bev, short what, void *arg)
{
    gw_upconn *u = arg;
    idle_unlink(u->w, u);
    gw_upconn_free(u);
}

void gw_upconn_park(gw_client *c)
{
    gw_upconn *u = c->up;
    gw_worker *w = c->w;
    c->up = NULL;
    if (!u || w->draining || evbuffer_get_length(bufferevent_get_input(u->bev))) {
        gw_upconn_free(u);
        return;
    }
    bufferevent_setcb(u->bev, idle_read_cb, NULL, idle_event_cb, u);
    bufferevent_set_timeouts(u->bev, NULL, NULL);
    bufferevent_enable(u->bev, EV_READ);
    u->idle_since_ms = gw_now();
    u->next = w->idle_head;
    w->idle_head = u;
    if (++w->idle_count > GW_IDLE_PER_WORKER) {
        /* Drop the oldest: it is the least likely to be wanted again. */
        gw_upconn **pp = &w->idle_head;
        while ((*pp)->next)
            pp = &(*pp)->next;
        gw_upconn *old = *pp;
        *pp = NULL;
        w->idle_count--;
        gw_upconn_free(old);
    }
}

static gw_upconn *idle_take(gw_worker *w, uint64_t key)
{
    for (gw_upconn **pp = &w->idle_head; *pp; pp = &(*pp)->next) {
        gw_upconn *u = *pp;
        if (u->key == key) {
            *pp = u->next;
            w->idle_count--;
            return u;
        }
    }
    return NULL;
}

void gw_idle_sweep(gw_worker *w, uint64_t now_ms)
{
    gw_upconn **pp = &w->idle_head;
    while (*pp) {
        gw_upconn *u = *pp;
        if (now_ms - u->idle_since_ms > GW_IDLE_MAX_MS) {
            *pp = u->next;
            w->idle_count--;
            gw_upconn_free(u);
        } else {
            pp = &u->next;
        }
    }
}

void gw_idle_flush(gw_worker *w)
{
    while (w->idle_head) {
        gw_upconn *u = w->idle_head;
        w->idle_head = u->next;
        gw_upconn_free(u);
    }
    w->idle_count = 0;
}

/* ==== Failure mapping and the retry decision ==== */

void gw_attempt_end(gw_client *c)
{
    if (c->relay) {
        io_relay_free(c->relay); /* it uses the upstream socket */
        c->relay = NULL;
    }
    if (c->att_active) {
        atomic_fetch_sub(&c->pool->in_flight[c->up_idx], 1);
        c->att_active = false;
    }
    if (c->up) {
        gw_upconn_free(c->up);
        c->up = NULL;
    }
    c->ustate = US_NONE;
    c->hold_total = 0;
    c->hold_chunked = false;
    c->up_eof = false;
}

gw_next gw_attempt_judge(gw_client *c, const gw_outcome *o, rt_code *code, uint32_t *retry_after_s)
{
    gw_attempt *a = &c->att[c->natt - 1];
    gw_next next = gw_policy_after_attempt(c, o, code, retry_after_s);
    a->code = *code == RT_E_retry_budget_exhausted || *code == RT_E_deadline_exceeded ? o->code : *code;
    a->status = o->status;
    a->ms = (uint32_t)(gw_now() - c->t_att_ms);
    rt_strlcpy(a->evidence, sizeof a->evidence, o->evidence ? o->evidence : "");
    return next;
}

int gw_attempt_retry(gw_client *c)
{
    gw_attempt_end(c);
    if (c->retry_delay_ms) {
        c->retry_wait = true;
        gw_client_arm_timer(c, (unsigned)c->retry_delay_ms);
        c->retry_delay_ms = 0;
        return GW_OK;
    }
    return gw_attempt_start(c);
}

int gw_attempt_failed(gw_client *c, rt_code code, int status, const char *evidence)
{
    /* Did request bytes possibly reach the target? Not for a tunnel that
     * never opened, not before the request was sent, and not when the
     * proxy answered about itself. */
    bool reached = c->req.meth != RT_M_CONNECT && c->ustate >= US_HEAD_WAIT &&
                   rt_code_get(code)->origin != RT_ORIGIN_PROXY;
    gw_outcome o = { .code = code, .status = status, .evidence = evidence, .reached_target = reached };
    rt_code final;
    uint32_t ra;
    gw_next next = gw_attempt_judge(c, &o, &final, &ra);
    if (next == GW_NEXT_RETRY)
        return gw_attempt_retry(c);
    gw_attempt_end(c);
    c->keep_alive = c->keep_alive && c->req_done;
    return gw_client_fail(c, final, evidence, NULL, ra);
}

int gw_attempt_timeout(gw_client *c)
{
    const gw_config *cfg = &c->w->srv->cfg;
    char ev[GW_EVIDENCE];
    if (c->retry_wait) {
        c->retry_wait = false;
        return gw_attempt_start(c);
    }
    if (c->polite_wait) {
        c->polite_wait = false;
        return gw_client_start_when_polite(c);
    }
    if (c->state == CS_TUNNEL) {
        uint64_t idle = c->relay ? io_relay_idle_ms(c->relay) : cfg->tunnel_idle_ms;
        if (idle < cfg->tunnel_idle_ms) {
            /* Bytes moved since the timer was set: wait out the rest. */
            gw_client_arm_timer(c, (unsigned)(cfg->tunnel_idle_ms - idle));
            return GW_OK;
        }
        if (c->relay) {
            io_relay_counts(c->relay, &c->tunnel_up, &c->tunnel_down);
            io_relay_free(c->relay);
            c->relay = NULL;
        }
        snprintf(ev, sizeof ev, "tunnel idle for %u ms", cfg->tunnel_idle_ms);
        rt_strlcpy(c->evidence, sizeof c->evidence, ev);
        c->keep_alive = false;
        return gw_client_finish(c);
    }
    if (c->state == CS_RESPONSE && c->relay && io_relay_idle_ms(c->relay) < cfg->read_timeout_ms) {
        /* A spliced body moved bytes since the timer was set. */
        gw_client_arm_timer(c, (unsigned)(cfg->read_timeout_ms - io_relay_idle_ms(c->relay)));
        return GW_OK;
    }
    if (c->state == CS_RESPONSE) {
        /* Mid-body silence: the client already has the head, so the only
         * honest signal left is closing its connection. */
        snprintf(ev, sizeof ev, "no response bytes for %u ms mid-body", cfg->read_timeout_ms);
        c->code = RT_E_target_response_incomplete;
        rt_strlcpy(c->evidence, sizeof c->evidence, ev);
        c->natt ? (void)(c->att[c->natt - 1].code = c->code) : (void)0;
        c->keep_alive = false;
        return gw_client_finish(c);
    }
    bool connected = c->ustate != US_DIALING;
    /* A dialing connection without a socket yet is still resolving the
     * hop's name: the timeout is the DNS lookup's, not the handshake's. */
    bool resolving = !connected && c->up && bufferevent_getfd(c->up->bev) < 0;
    gw_seen seen = { .phase = gw_phase_now(c, resolving), .timed_out = true };
    char cev[GW_EVIDENCE];
    rt_code code = gw_classify(c, &seen, cev, sizeof cev);
    snprintf(ev, sizeof ev, "%.150s after %u ms", cev, connected ? cfg->read_timeout_ms : cfg->connect_timeout_ms);
    return gw_attempt_failed(c, code, 0, ev);
}

/* ==== Dialing ==== */

static void up_ready(gw_client *c)
{
    if (c->req.meth == RT_M_CONNECT)
        gw_tunnel_begin(c);
    else
        gw_exchange_begin(c);
}

static void up_read_cb(struct bufferevent *bev, void *arg)
{
    gw_client *c = arg;
    if (c->state == CS_TUNNEL || c->ustate == US_CONNECT_SENT)
        gw_tunnel_up_read(c);
    else
        gw_exchange_up_read(c);
}

static void up_write_cb(struct bufferevent *bev, void *arg)
{
    gw_client *c = arg;
    if (c->state == CS_TUNNEL)
        gw_tunnel_relay(c, true);
    else if (c->state == CS_UPSTREAM)
        gw_exchange_client_read(c); /* room again for request body bytes */
}

static void dial_failed(gw_client *c, short what)
{
    int e = EVUTIL_SOCKET_ERROR();
    int dns_err = bufferevent_socket_get_dns_error(c->up->bev);
    gw_seen seen = { .phase = gw_phase_now(c, dns_err != 0), .err = e,
                     .timed_out = (what & BEV_EVENT_TIMEOUT) != 0 };
    char why[GW_TLS_WHY_MAX];
    if (c->up->tls && !dns_err) {
        /* A TLS bufferevent reports the TCP connect and the handshake as
         * one step. OpenSSL's own failure, a socket that has a peer, or a
         * reset (only an open connection is reset) mean the handshake
         * failed. Anything else is the TCP connect's errno, even when it
         * comes as an EOF (a failed connect surfaces as a dirty TLS
         * shutdown, which the bufferevent reports as EOF). */
        bool lib = gw_uptls_error(c->up->bev, why, sizeof why);
        bool reset = e == ECONNRESET || e == EPIPE;
        if (lib || reset || gw_uptls_tcp_up(c->up->bev)) {
            seen.phase = RT_PH_TLS;
            seen.tls_failed = lib;
            seen.tls_error = rt_slice_cstr(why);
            seen.peer_closed = !lib && !reset && (what & BEV_EVENT_EOF) != 0;
            if (lib || seen.peer_closed)
                seen.err = 0;
        } else {
            seen.phase = RT_PH_CONNECT;
        }
    }
    char cev[GW_EVIDENCE], ev[GW_EVIDENCE];
    rt_code code = gw_classify(c, &seen, cev, sizeof cev);
    if (dns_err)
        snprintf(ev, sizeof ev, "%.120s (%s)", cev, evutil_gai_strerror(dns_err));
    else
        rt_strlcpy(ev, sizeof ev, cev);
    gw_attempt_failed(c, code, 0, ev);
}

static void up_event_cb(struct bufferevent *bev, short what, void *arg)
{
    gw_client *c = arg;
    if (c->in_dial) {
        c->dial_events |= what;
        return;
    }
    if (what & BEV_EVENT_CONNECTED) {
        gw_set_nodelay(bev);
        up_ready(c);
        return;
    }
    if (c->ustate == US_DIALING) {
        dial_failed(c, what);
        return;
    }
    if (c->state == CS_TUNNEL || c->ustate == US_CONNECT_SENT)
        gw_tunnel_eof(c, false, what);
    else
        gw_exchange_up_eof(c, what);
}

/* Picks run over one tier of the pool: the callbacks see tier-relative
 * indexes and add the tier's start. */
typedef struct tier_ctx {
    gw_client *c;
    size_t off;
} tier_ctx;

static bool usable_entry(void *ctx, size_t rel)
{
    gw_client *c = ((tier_ctx *)ctx)->c;
    size_t idx = rel + ((tier_ctx *)ctx)->off;
    /* Each attempt of a request goes to a different upstream while others
     * remain: the guide's "retry with a fresh proxy IP". */
    for (unsigned i = 0; i < c->natt; i++)
        if (c->att[i].idx == (long)idx)
            return false;
    return gw_policy_usable(c, idx);
}

static bool usable_policy_only(void *ctx, size_t rel)
{
    return gw_policy_usable(((tier_ctx *)ctx)->c, rel + ((tier_ctx *)ctx)->off);
}

static long pick_in_tier(gw_client *c)
{
    gw_worker *w = c->w;
    unsigned t = c->tier < c->pool->ntiers ? c->tier : 0;
    size_t off = c->pool->tier_start[t], n = c->pool->tier_start[t + 1] - off;
    tier_ctx ctx = { c, off };
    w->picker.in_flight = (const uint32_t *)c->pool->in_flight + off;
    /* One rotation for the whole process: each pick takes the next ticket,
     * so threads interleave instead of each rotating on its own. */
    if (w->picker.mode == RT_PICK_ROUND_ROBIN)
        w->picker.cursor = atomic_fetch_add_explicit(&c->pool->rr_ticket, 1, memory_order_relaxed) % (n ? n : 1);
    long idx = rt_pick(&w->picker, n, &w->rng, rt_slice_cstr(c->session), usable_entry, &ctx);
    if (idx < 0 && c->natt)
        /* Every entry was tried once already: a second try on the same
         * upstream beats giving up while attempts remain. */
        idx = rt_pick(&w->picker, n, &w->rng, rt_slice_cstr(c->session), usable_policy_only, &ctx);
    return idx < 0 ? -1 : idx + (long)off;
}

static long pick(gw_client *c)
{
    long idx = pick_in_tier(c);
    /* The domain exhausted this pool (bans, ejections, quarantines): move
     * it to the next fallback pool, if there is one, and try there. */
    while (idx < 0 && c->tier + 1 < c->pool->ntiers && gw_policy_escalate(c)) {
        idx = pick_in_tier(c);
    }
    return idx;
}

int gw_attempt_start(gw_client *c)
{
    gw_worker *w = c->w;
    long idx;
    if (c->redo_idx >= 0) {
        idx = c->redo_idx;
        atomic_fetch_add(&c->pool->in_flight[idx], 1);
    } else {
        /* The pick saw room under --max-inflight; another thread may take
         * that room first, so the slot is claimed atomically and a lost
         * race picks again (the full entry is then skipped). */
        for (unsigned tries = 0;; tries++) {
            idx = pick(c);
            if (idx < 0 || gw_policy_claim(c, (size_t)idx))
                break;
            if (tries == 8) {
                idx = -1; /* contended: the caller's wait acts as the queue */
                break;
            }
        }
    }
    c->redo_idx = -1;
    if (idx < 0) {
        char ev[GW_EVIDENCE];
        uint64_t wait = 0;
        rt_code code = gw_policy_explain_empty(c, ev, sizeof ev, &wait);
        if (wait && gw_now() + wait < c->deadline_ms) {
            /* Every usable exit was told to wait by this domain: wait for
             * the first to be free rather than fail a request that fits. */
            c->retry_wait = true;
            gw_client_arm_timer(c, (unsigned)wait + 1);
            return GW_OK;
        }
        if (c->natt && code != RT_E_domain_paused)
            return gw_client_fail(c, c->att[c->natt - 1].code, c->att[c->natt - 1].evidence, NULL, 0);
        uint32_t ra = code == RT_E_no_healthy_upstream ? 5 : (uint32_t)((wait + 999) / 1000);
        return gw_client_fail(c, code, ev, NULL, ra);
    }
    gw_attempt *a = &c->att[c->natt++];
    memset(a, 0, sizeof *a);
    a->idx = idx;
    c->up_idx = idx;
    c->t_att_ms = gw_now();
    c->att_active = true;

    const rt_upstream *u = &c->pool->pool.v[idx];
    if (u->scheme == RT_UP_DIRECT && c->req.meth != RT_M_CONNECT && rt_slice_eq_ci(c->url.scheme, "https")) {
        /* An upstream proxy makes the TLS connection for an absolute
         * https:// request; rotor itself does not (it would send plain
         * HTTP to port 443). The client should tunnel instead. */
        c->natt--;
        gw_attempt_end(c);
        return gw_client_fail(c, RT_E_client_unsupported, "an https:// URL sent as a plain proxy request to the direct entry",
                              "send HTTPS through a CONNECT tunnel: set HTTPS_PROXY (curl -x http://HOST:PORT https://...) "
                              "or give the pool an upstream proxy", 0);
    }
    char host[256];
    unsigned port;
    if (u->scheme == RT_UP_DIRECT) {
        size_t n = c->url.host.n < sizeof host - 1 ? c->url.host.n : sizeof host - 1;
        memcpy(host, c->url.host.p, n);
        host[n] = 0;
        port = c->url.port;
    } else {
        rt_strlcpy(host, sizeof host, u->host);
        port = u->port;
    }
    c->auth[0] = 0;
    c->exit_token[0] = 0;
    if (u->session_slot) {
        /* A backconnect session slot: the client's sticky id keeps the
         * exit; without one every attempt mints a fresh token, which the
         * provider maps to a fresh exit IP. */
        if (c->session[0])
            rt_strlcpy(c->exit_token, sizeof c->exit_token, c->session);
        else
            snprintf(c->exit_token, sizeof c->exit_token, "r%016llx", (unsigned long long)rt_rng_next(&w->rng));
        if (rt_upstream_auth(u, c->exit_token, c->auth, sizeof c->auth) < 0)
            c->auth[0] = 0;
    } else if (u->auth_basic) {
        rt_strlcpy(c->auth, sizeof c->auth, u->auth_basic);
    }
    uint64_t key = hop_key(c, u->scheme, host, port, c->auth);
    bool tunnel_direct = c->req.meth == RT_M_CONNECT && u->scheme == RT_UP_DIRECT;
    gw_upconn *up = tunnel_direct ? NULL : idle_take(w, key);
    if (up) {
        up->reused = true;
        c->up = up;
        bufferevent_setcb(up->bev, up_read_cb, up_write_cb, up_event_cb, c);
        up_ready(c);
        return GW_OK;
    }
    up = calloc(1, sizeof *up);
    /* An https:// proxy: the same dial, on a TLS bufferevent that reports
     * CONNECTED only once the handshake and verification are done, so
     * nothing (credentials least of all) is sent before. */
    bool tls = u->scheme == RT_UP_HTTPS;
    struct bufferevent *bev = !up ? NULL
                            : tls ? gw_uptls_bev(w, host)
                                  : bufferevent_socket_new(w->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        free(up);
        return gw_client_fail(c, RT_E_gateway_internal_error, "out of memory for an upstream connection", NULL, 0);
    }
    up->w = w;
    up->bev = bev;
    up->key = key;
    up->tls = tls;
    c->up = up;
    c->ustate = US_DIALING;
    bufferevent_setcb(bev, up_read_cb, up_write_cb, up_event_cb, c);
    bufferevent_setwatermark(bev, EV_READ, 0, GW_HIGH_WATER);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    gw_client_arm_timer(c, w->srv->cfg.connect_timeout_ms);
    /* The connect call may report a failure before it returns; queue such
     * events and handle them after, so no callback frees the client while
     * this function still uses it. */
    c->in_dial = true;
    c->dial_events = 0;
    /* Numeric hosts (most pools) connect directly; names go through the
     * worker's asynchronous resolver. */
    io_addr num;
    int rc = io_addr_numeric(host, port, &num) == 0
                 ? bufferevent_socket_connect(bev, (struct sockaddr *)&num.ss, (int)num.len)
                 : bufferevent_socket_connect_hostname(bev, w->dns, AF_UNSPEC, host, (int)port);
    c->in_dial = false;
    if (rc != 0 && !c->dial_events)
        c->dial_events = BEV_EVENT_ERROR;
    if (c->dial_events) {
        short what = c->dial_events;
        c->dial_events = 0;
        up_event_cb(bev, what, c);
    }
    return GW_OK;
}
