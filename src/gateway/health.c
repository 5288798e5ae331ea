/* See health.h. Everything here runs on the checker's own thread and
 * reaches the workers only through their command queues (stats.h). */
#include "gateway/health.h"

#include <event2/dns.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errors/classify.h"
#include "gateway/gw_int.h"
#include "gateway/stats.h"
#include "io/addr.h"
#include "io/hclient.h"

typedef struct check {
    struct gw_health *h;
    size_t idx;
    io_hc *hc;
    struct check *next, **pprev; /* the checks under way */
} check;

struct gw_health {
    gw_server *s;
    pthread_t thread;
    struct event_base *base;
    struct evdns_base *dns;
    struct event *tick, *stop_ev;
    SSL_CTX *ssl;
    gw_pool *pool;        /* held during a round */
    uint64_t gen;         /* pool generation the arrays below follow */
    uint8_t *fails;       /* consecutive failed checks per entry */
    uint8_t *ours;        /* quarantined by the checker (so it may readmit) */
    size_t n, next, running;
    check *active;        /* checks under way, freed at stop if still running */
};

static void unlink_check(check *ck)
{
    *ck->pprev = ck->next;
    if (ck->next)
        ck->next->pprev = ck->pprev;
}

static void launch(gw_health *h);

static void command(gw_health *h, gw_cmd_kind kind, const char *label, const char *event, const char *why)
{
    unsigned found = 0;
    int rc = 0;
    char detail[8];
    gw_stats_command(h->s, kind, label, 1000, &found, &rc, detail, sizeof detail);
    char msg[400];
    snprintf(msg, sizeof msg, "%.100s: %.280s", label, why);
    gw_log_event(h->s, event, msg);
}

static void judge(gw_health *h, size_t idx, const io_hc_result *r)
{
    const rt_upstream *u = &h->pool->pool.v[idx];
    char hop[RT_UP_HOST_MAX + 16] = "";
    if (u->host)
        snprintf(hop, sizeof hop, strchr(u->host, ':') ? "[%s]:%u" : "%s:%u", u->host, (unsigned)u->port);
    /* A TLS failure with the health URL's target (inside the tunnel) comes
     * out as the target's; only the https:// proxy's own handshake is the
     * entry's. */
    rt_classify_in in;
    io_hc_classify_input(r, &in);
    in.sent_credentials = u->user != NULL;
    in.hop = rt_slice_cstr(hop);
    rt_classify_out out;
    rt_classify(&in, h->pool->sigs, &out);
    const rt_code_info *ci = rt_code_get(out.code);
    bool entry_failed = ci->origin == RT_ORIGIN_PROXY ||
                        (ci->origin == RT_ORIGIN_NETWORK && strncmp(ci->name, "proxy_", 6) == 0);
    if (entry_failed) {
        if (h->fails[idx] < 255)
            h->fails[idx]++;
        if (h->fails[idx] == GW_HEALTH_FAILS && !h->ours[idx]) {
            char why[300];
            snprintf(why, sizeof why, "health check failed %d times: %s (%.180s)", GW_HEALTH_FAILS, ci->name,
                     out.evidence);
            command(h, GW_CMD_QUARANTINE, u->label, "health_check_failed", why);
            h->ours[idx] = 1;
        }
    } else if (rt_code_proves_upstream(out.code)) {
        h->fails[idx] = 0;
        if (h->ours[idx]) {
            command(h, GW_CMD_READMIT, u->label, "health_check_recovered", "health check passed again");
            h->ours[idx] = 0;
        }
    }
}

static void on_done(io_hc *hc, const io_hc_result *r, void *arg)
{
    check *ck = arg;
    gw_health *h = ck->h;
    judge(h, ck->idx, r);
    unlink_check(ck);
    io_hc_free(hc);
    free(ck);
    h->running--;
    launch(h);
}

static void start_one(gw_health *h, size_t idx)
{
    const rt_upstream *u = &h->pool->pool.v[idx];
    const gw_config *cfg = &h->s->cfg;
    char auth[600] = "";
    io_addr a;
    io_hc_opts o = {
        .url = cfg->health_url,
        .ssl_ctx = h->ssl,
        .connect_timeout_ms = cfg->connect_timeout_ms,
        .read_timeout_ms = cfg->read_timeout_ms,
    };
    if (u->scheme != RT_UP_DIRECT) {
        o.proxy_host = u->host;
        o.proxy_port = u->port;
        /* The gateway's context: the same trust (and --upstream-insecure)
         * for checks as for traffic. It exists once such a pool loaded. */
        if (u->scheme == RT_UP_HTTPS && !(o.proxy_ssl_ctx = h->s->up_tls))
            return;
        if (rt_upstream_auth(u, "health", auth, sizeof auth) > 0)
            o.proxy_auth = auth;
        if (io_addr_numeric(u->host, u->port, &a) == 0) {
            o.addr = (const struct sockaddr *)&a.ss;
            o.addrlen = a.len;
        }
    }
    check *ck = calloc(1, sizeof *ck);
    if (!ck)
        return;
    ck->h = h;
    ck->idx = idx;
    char err[160];
    h->running++;
    ck->hc = io_hc_start(h->base, h->dns, &o, on_done, ck, err, sizeof err);
    if (!ck->hc) {
        h->running--;
        free(ck);
        return;
    }
    ck->next = h->active;
    ck->pprev = &h->active;
    if (h->active)
        h->active->pprev = &ck->next;
    h->active = ck;
}

/* Keep up to GW_HEALTH_PARALLEL checks running until the round is done. */
static void launch(gw_health *h)
{
    size_t limit = h->n < GW_HEALTH_MAX_ENTRIES ? h->n : GW_HEALTH_MAX_ENTRIES;
    while (h->running < GW_HEALTH_PARALLEL && h->next < limit)
        start_one(h, h->next++);
    if (!h->running && h->pool) {
        gw_pool_release(h->pool);
        h->pool = NULL;
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    gw_health *h = arg;
    if (h->pool || atomic_load(&h->s->stopping))
        return; /* the previous round is still running */
    h->pool = gw_pool_acquire(h->s);
    if (h->pool->generation != h->gen) {
        /* A new pool: start afresh (a reload readmits everything anyway). */
        free(h->fails);
        free(h->ours);
        h->n = h->pool->pool.n;
        h->fails = calloc(h->n ? h->n : 1, 1);
        h->ours = calloc(h->n ? h->n : 1, 1);
        h->gen = h->pool->generation;
        if (!h->fails || !h->ours) {
            h->n = 0;
            h->gen = 0;
        }
    }
    h->next = 0;
    launch(h);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    event_base_loopbreak(((gw_health *)arg)->base);
}

static void *health_main(void *arg)
{
    gw_health *h = arg;
    on_tick(-1, 0, h); /* a first round at once */
    event_base_dispatch(h->base);
    return NULL;
}

int gw_health_start(gw_server *s, char *err, size_t errlen)
{
    const gw_config *cfg = &s->cfg;
    if (!cfg->health_url)
        return 0;
    if (strncmp(cfg->health_url, "http://", 7) && strncmp(cfg->health_url, "https://", 8)) {
        snprintf(err, errlen, "--health-check '%s': expected an http:// or https:// URL", cfg->health_url);
        return -1;
    }
    gw_health *h = calloc(1, sizeof *h);
    if (!h || !(h->base = event_base_new())) {
        free(h);
        snprintf(err, errlen, "cannot start the health checker");
        return -1;
    }
    h->s = s;
    h->dns = evdns_base_new(h->base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (!strncmp(cfg->health_url, "https://", 8) && !(h->ssl = io_hc_tls_ctx(NULL, err, errlen)))
        goto fail;
    h->tick = event_new(h->base, -1, EV_PERSIST, on_tick, h);
    h->stop_ev = event_new(h->base, -1, 0, on_stop, h);
    struct timeval tv = { cfg->health_interval_ms / 1000, (cfg->health_interval_ms % 1000) * 1000 };
    if (!h->tick || !h->stop_ev || event_add(h->tick, &tv) != 0 ||
        pthread_create(&h->thread, NULL, health_main, h) != 0) {
        snprintf(err, errlen, "cannot start the health checker");
        goto fail;
    }
    s->health = h;
    return 0;
fail:
    if (h->tick)
        event_free(h->tick);
    if (h->stop_ev)
        event_free(h->stop_ev);
    if (h->ssl)
        SSL_CTX_free(h->ssl);
    if (h->dns)
        evdns_base_free(h->dns, 0);
    event_base_free(h->base);
    free(h);
    return -1;
}

void gw_health_stop(gw_server *s)
{
    gw_health *h = s->health;
    if (!h)
        return;
    event_active(h->stop_ev, EV_READ, 0);
    pthread_join(h->thread, NULL);
    while (h->active) {
        check *ck = h->active;
        unlink_check(ck);
        io_hc_free(ck->hc);
        free(ck);
    }
    event_free(h->tick);
    event_free(h->stop_ev);
    if (h->dns)
        evdns_base_free(h->dns, 1);
    event_base_free(h->base);
    if (h->pool)
        gw_pool_release(h->pool);
    if (h->ssl)
        SSL_CTX_free(h->ssl);
    free(h->fails);
    free(h->ours);
    free(h);
    s->health = NULL;
}
