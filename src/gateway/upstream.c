/* Attempts: choosing an upstream, dialing it (or reusing an idle
 * connection), mapping socket failures to the vocabulary, and deciding
 * whether a failed attempt is retried on another upstream. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gw_int.h"

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

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Connections are interchangeable when they go to the same hop with the
 * same credentials; the key hashes exactly that. */
static uint64_t hop_key(const gw_client *c, const char *host, unsigned port, const char *auth)
{
    uint64_t h = 0xcbf29ce484222325ull;
    h = fnv1a(h, host, strlen(host));
    h = fnv1a(h, &port, sizeof port);
    if (auth)
        h = fnv1a(h, auth, strlen(auth));
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
    if (c->att_active) {
        atomic_fetch_sub(&c->pool->in_flight[c->up_idx], 1);
        c->att_active = false;
    }
    if (c->up) {
        gw_upconn_free(c->up);
        c->up = NULL;
    }
    c->ustate = US_NONE;
}

gw_next gw_attempt_judge(gw_client *c, const gw_outcome *o, rt_code *code, uint32_t *retry_after_s)
{
    gw_attempt *a = &c->att[c->natt - 1];
    gw_next next = gw_policy_after_attempt(c, o, code, retry_after_s);
    a->code = *code == RT_E_retry_budget_exhausted || *code == RT_E_deadline_exceeded ? o->code : *code;
    a->status = o->status;
    a->ms = (uint32_t)(gw_now() - c->t_att_ms);
    snprintf(a->evidence, sizeof a->evidence, "%s", o->evidence ? o->evidence : "");
    if (next == GW_NEXT_RETRY && (c->natt >= c->w->srv->cfg.max_attempts || c->natt >= GW_MAX_ATTEMPTS)) {
        /* --max-attempts caps what the policy would still allow. */
        next = o->status && rt_code_get(*code)->origin == RT_ORIGIN_TARGET ? GW_NEXT_DELIVER : GW_NEXT_FAIL;
    }
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
    if (c->state == CS_TUNNEL) {
        snprintf(ev, sizeof ev, "tunnel idle for %u ms", cfg->tunnel_idle_ms);
        snprintf(c->evidence, sizeof c->evidence, "%s", ev);
        c->keep_alive = false;
        return gw_client_finish(c);
    }
    if (c->state == CS_RESPONSE) {
        /* Mid-body silence: the client already has the head, so the only
         * honest signal left is closing its connection. */
        snprintf(ev, sizeof ev, "no response bytes for %u ms mid-body", cfg->read_timeout_ms);
        c->code = RT_E_target_response_incomplete;
        snprintf(c->evidence, sizeof c->evidence, "%s", ev);
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
    char cev[GW_EVIDENCE], ev[GW_EVIDENCE];
    rt_code code = gw_classify(c, &seen, cev, sizeof cev);
    if (dns_err)
        snprintf(ev, sizeof ev, "%.120s (%s)", cev, evutil_gai_strerror(dns_err));
    else
        snprintf(ev, sizeof ev, "%s", cev);
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

static bool usable_entry(void *ctx, size_t idx)
{
    gw_client *c = ctx;
    /* Each attempt of a request goes to a different upstream while others
     * remain: the guide's "retry with a fresh proxy IP". */
    for (unsigned i = 0; i < c->natt; i++)
        if (c->att[i].idx == (long)idx)
            return false;
    return gw_policy_usable(c, idx);
}

static bool usable_policy_only(void *ctx, size_t idx) { return gw_policy_usable(ctx, idx); }

static long pick(gw_client *c)
{
    gw_worker *w = c->w;
    size_t n = c->pool->pool.n;
    if (c->redo_same) {
        /* A redo after a stale idle connection is the same attempt: it
         * stays on the entry rotation picked, and the rotation does not
         * move twice for one request. */
        c->redo_same = false;
        if (c->redo_idx >= 0 && (size_t)c->redo_idx < n && gw_policy_usable(c, (size_t)c->redo_idx))
            return c->redo_idx;
    }
    w->picker.in_flight = (const uint32_t *)c->pool->in_flight;
    long idx = rt_pick(&w->picker, n, &w->rng, rt_slice_cstr(c->session), usable_entry, c);
    if (idx < 0 && c->natt)
        /* Every entry was tried once already: a second try on the same
         * upstream beats giving up while attempts remain. */
        idx = rt_pick(&w->picker, n, &w->rng, rt_slice_cstr(c->session), usable_policy_only, c);
    return idx;
}

int gw_attempt_start(gw_client *c)
{
    gw_worker *w = c->w;
    long idx = pick(c);
    if (idx < 0) {
        if (c->natt)
            return gw_client_fail(c, c->att[c->natt - 1].code, c->att[c->natt - 1].evidence, NULL, 0);
        char ev[GW_EVIDENCE];
        rt_code code = gw_policy_explain_empty(c, ev, sizeof ev);
        return gw_client_fail(c, code, ev, NULL, code == RT_E_no_healthy_upstream ? 5 : 0);
    }
    gw_attempt *a = &c->att[c->natt++];
    memset(a, 0, sizeof *a);
    a->idx = idx;
    c->up_idx = idx;
    c->t_att_ms = gw_now();
    c->att_active = true;
    atomic_fetch_add(&c->pool->in_flight[idx], 1);

    const rt_upstream *u = &c->pool->pool.v[idx];
    char host[256];
    unsigned port;
    if (u->scheme == RT_UP_DIRECT) {
        size_t n = c->url.host.n < sizeof host - 1 ? c->url.host.n : sizeof host - 1;
        memcpy(host, c->url.host.p, n);
        host[n] = 0;
        port = c->url.port;
    } else {
        snprintf(host, sizeof host, "%s", u->host);
        port = u->port;
    }
    c->auth[0] = 0;
    c->exit_token[0] = 0;
    if (u->session_slot) {
        /* A backconnect session slot: the client's sticky id keeps the
         * exit; without one every attempt mints a fresh token, which the
         * provider maps to a fresh exit IP. */
        if (c->session[0])
            snprintf(c->exit_token, sizeof c->exit_token, "%s", c->session);
        else
            snprintf(c->exit_token, sizeof c->exit_token, "r%016llx", (unsigned long long)rt_rng_next(&w->rng));
        if (rt_upstream_auth(u, c->exit_token, c->auth, sizeof c->auth) < 0)
            c->auth[0] = 0;
    } else if (u->auth_basic) {
        snprintf(c->auth, sizeof c->auth, "%s", u->auth_basic);
    }
    uint64_t key = hop_key(c, host, port, c->auth);
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
    struct bufferevent *bev = up ? bufferevent_socket_new(w->base, -1, BEV_OPT_CLOSE_ON_FREE) : NULL;
    if (!bev) {
        free(up);
        return gw_client_fail(c, RT_E_gateway_internal_error, "out of memory for an upstream connection", NULL, 0);
    }
    up->w = w;
    up->bev = bev;
    up->key = key;
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
    int rc = bufferevent_socket_connect_hostname(bev, w->dns, AF_UNSPEC, host, (int)port);
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
