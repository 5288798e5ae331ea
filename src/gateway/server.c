/* Startup, worker threads, signals, pool reload and shutdown of `rotor serve`. */
#include <errno.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/base/wbuf.h"
#include "core/errors/sig.h"
#include "core/http/basic.h"
#include "core/policy/bans.h"
#include "core/pool/remap.h"
#include "admin/admin.h"
#include "gateway/gw_int.h"
#include "gateway/health.h"
#include "gateway/stats.h"
#include "io/clock.h"
#include "io/mailbox.h"
#include "io/files.h"

void gw_config_defaults(gw_config *c)
{
    memset(c, 0, sizeof *c);
    c->listen = "127.0.0.1:8899";
    c->rotation = RT_PICK_ROUND_ROBIN;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    c->threads = cores > 0 ? (unsigned)(cores < 64 ? cores : 64) : 1;
    c->connect_timeout_ms = 10000;
    c->read_timeout_ms = 30000;
    c->request_timeout_ms = 120000;
    c->header_timeout_ms = 15000;
    c->idle_timeout_ms = 60000;
    c->tunnel_idle_ms = 300000;
    c->drain_timeout_ms = 10000;
    c->max_attempts = 4;
    c->max_replay_bytes = 1u << 20;
    c->fallback_cooldown_ms = 300000;
    c->health_interval_ms = 30000;
    c->hold_bytes = 64u << 10;
    c->max_head_bytes = RT_HTTP_DEFAULT_MAX_HEAD;
    c->max_line_bytes = RT_HTTP_DEFAULT_MAX_LINE;
    c->max_clients = 10000;
    rt_retry_policy_default(&c->policy.retry);
    /* The guide's "one retry for auth errors" is about the same
     * credentials: a fix-class failure quarantines its entry, and the
     * retry always goes to a different entry with its own configuration.
     * So across entries the fix class may use the transient limit; a pool
     * with one broken entry then costs the client nothing. */
    c->policy.retry.limit[RT_CLASS_FIX] = RT_RETRY_LIMIT_TRANSIENT;
    rt_budget_cfg_default(&c->policy.budget);
    rt_breaker_cfg_default(&c->policy.breaker);
    rt_outlier_cfg_default(&c->policy.outlier);
    c->policy.ban_ttl_ms = RT_BANS_TTL_MS;
}

uint64_t gw_now(void) { return io_now_ms(); }

void gw_set_nodelay(struct bufferevent *bev)
{
    /* Whole heads are written in one call, so Nagle only adds delay: a peer
     * measured without TCP_NODELAY stalled 40 ms per request behind delayed
     * ACKs. */
    int one = 1;
    evutil_socket_t fd = bufferevent_getfd(bev);
    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* ==== Pool references ==== */

static gw_pool *pool_wrap(rt_pool *p, rt_sigset *sigs, uint64_t gen)
{
    gw_pool *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->sigs = sigs;
    g->in_flight = calloc(p->n ? p->n : 1, sizeof *g->in_flight);
    g->ident = malloc((p->n ? p->n : 1) * sizeof *g->ident);
    if (!g->in_flight || !g->ident) {
        free((void *)g->in_flight);
        free(g->ident);
        free(g);
        return NULL;
    }
    for (size_t i = 0; i < p->n; i++)
        g->ident[i] = rt_upstream_identity(&p->v[i]);
    g->pool = *p;
    g->generation = gen;
    atomic_init(&g->refs, 1);
    return g;
}

gw_pool *gw_pool_acquire(gw_server *s)
{
    pthread_mutex_lock(&s->pool_mu);
    gw_pool *p = s->pool;
    atomic_fetch_add(&p->refs, 1);
    pthread_mutex_unlock(&s->pool_mu);
    return p;
}

void gw_pool_release(gw_pool *p)
{
    if (p && atomic_fetch_sub(&p->refs, 1) == 1) {
        rt_pool_clear(&p->pool);
        rt_sigset_free(p->sigs);
        free((void *)p->in_flight);
        free(p->ident);
        free(p);
    }
}

static int load_pool(const gw_config *cfg, rt_pool *out, char *err, size_t errlen)
{
    if (!cfg->pool_path) {
        static const char direct[] = "direct\n";
        return rt_pool_parse("(built-in)", direct, sizeof direct - 1, out, err, errlen);
    }
    return io_pool_load(cfg->pool_path, out, err, errlen);
}

/* Built-in signatures plus the --signatures file (tried first). */
static rt_sigset *load_sigs(const gw_config *cfg, char *err, size_t errlen)
{
    rt_sigset *s = rt_sigset_new();
    if (!s) {
        snprintf(err, errlen, "out of memory for signatures");
        return NULL;
    }
    if (rt_sigset_add_builtin(s, err, errlen) != 0 ||
        (cfg->signatures_path && io_sig_load_file(cfg->signatures_path, s, err, errlen) != 0)) {
        rt_sigset_free(s);
        return NULL;
    }
    return s;
}

static bool label_taken(const rt_pool *p, size_t upto, const char *label)
{
    for (size_t i = 0; i < upto; i++)
        if (!strcmp(p->v[i].label, label))
            return true;
    return false;
}

/* Append the fallback pools behind the primary one, recording where each
 * tier starts. A label already used by an earlier tier gets "@fbN" so every
 * entry stays identifiable in logs and metrics. */
static int load_fallbacks(const gw_config *cfg, rt_pool *p, size_t *starts, char *err, size_t errlen)
{
    starts[0] = 0;
    starts[1] = p->n;
    for (unsigned t = 0; t < cfg->nfallbacks; t++) {
        rt_pool f;
        if (io_pool_load(cfg->fallback_paths[t], &f, err, errlen) != 0)
            return -1;
        rt_upstream *v = realloc(p->v, (p->n + f.n) * sizeof *v);
        if (!v) {
            rt_pool_clear(&f);
            snprintf(err, errlen, "out of memory loading fallback pool '%s'", cfg->fallback_paths[t]);
            return -1;
        }
        p->v = v;
        for (size_t i = 0; i < f.n; i++) {
            rt_upstream *u = &f.v[i];
            if (label_taken(p, p->n, u->label)) {
                char buf[256];
                snprintf(buf, sizeof buf, "%.200s@fb%u", u->label, t + 1);
                char *l = strdup(buf);
                if (l) {
                    free(u->label);
                    u->label = l;
                }
            }
            p->v[p->n++] = *u;
        }
        free(f.v); /* the entries moved; their strings now belong to p */
        f.v = NULL;
        f.n = 0;
        rt_pool_clear(&f);
        starts[t + 2] = p->n;
    }
    return 0;
}

/* Pool and signatures load together: both or neither. */
static gw_pool *load_all(gw_server *s, char *err, size_t errlen)
{
    rt_pool p;
    size_t starts[GW_MAX_FALLBACKS + 2];
    if (load_pool(&s->cfg, &p, err, errlen) != 0)
        return NULL;
    /* The TLS context exists before a pool with https:// entries is
     * published, so no worker ever dials one without it. */
    if (load_fallbacks(&s->cfg, &p, starts, err, errlen) != 0 || gw_pool_check_loop(s, &p, err, errlen) != 0 ||
        gw_uptls_prepare(s, &p, err, errlen) != 0) {
        rt_pool_clear(&p);
        return NULL;
    }
    rt_sigset *sigs = load_sigs(&s->cfg, err, errlen);
    if (!sigs) {
        rt_pool_clear(&p);
        return NULL;
    }
    gw_pool *g = pool_wrap(&p, sigs, s->pool_generation + 1);
    if (!g) {
        rt_pool_clear(&p);
        rt_sigset_free(sigs);
        snprintf(err, errlen, "out of memory loading the pool");
        return NULL;
    }
    s->pool_generation++;
    g->ntiers = 1 + s->cfg.nfallbacks;
    memcpy(g->tier_start, starts, (g->ntiers + 1) * sizeof starts[0]);
    return g;
}

void gw_log_event(gw_server *s, const char *event, const char *detail)
{
    char line[1024];
    rt_wbuf b;
    rt_wbuf_init(&b, line, sizeof line);
    rt_wbuf_addf(&b, "{\"time_ms\":%llu,\"event\":\"%s\",\"detail\":\"",
                 (unsigned long long)io_wall_ms(), event);
    rt_wbuf_add_json(&b, rt_slice_cstr(detail));
    rt_wbuf_adds(&b, "\"}");
    if (s->log && !b.overflow)
        io_logq_put_now(s->log, line, b.len);
    fprintf(stderr, "rotor: %s: %s\n", event, detail);
}

static int reload_pool(gw_server *s, char *msg, size_t msglen)
{
    char err[512];
    gw_pool *g = load_all(s, err, sizeof err);
    if (!g) {
        snprintf(msg, msglen, "%s; keeping the previous pool (%zu upstreams) and signatures. Fix the file and send SIGHUP again.",
                 err, s->pool->pool.n);
        gw_log_event(s, "reload_failed", msg);
        return -1;
    }
    pthread_mutex_lock(&s->pool_mu);
    gw_pool *old = s->pool;
    s->pool = g;
    pthread_mutex_unlock(&s->pool_mu);
    gw_pool_release(old);
    snprintf(msg, msglen, "%s: %zu upstreams, %zu signatures (generation %llu)",
             s->cfg.pool_path ? s->cfg.pool_path : "(built-in)", g->pool.n, rt_sigset_count(g->sigs),
             (unsigned long long)g->generation);
    gw_log_event(s, "pool_reloaded", msg);
    if (s->log)
        io_logq_reopen(s->log);
    return 0;
}

int gw_reload(gw_server *s, char *msg, size_t msglen) { return reload_pool(s, msg, msglen); }

/* ==== Workers ==== */

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    gw_worker *w = arg;
    gw_server *s = w->srv;
    if (atomic_load(&s->stopping) || !gw_access_check(s, sa)) {
        evutil_closesocket(fd);
        return;
    }
    gw_client_accept(w, fd, sa);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
    gw_worker *w = arg;
    int e = EVUTIL_SOCKET_ERROR();
    /* EMFILE/ENFILE: out of descriptors. Pause accepting briefly rather than
     * spin; clients queue in the backlog meanwhile. */
    fprintf(stderr, "rotor: accept failed on %s: %s (raise 'ulimit -n' or lower --max-clients)\n",
            w->srv->listen_str, evutil_socket_error_to_string(e));
    evconnlistener_disable(l);
    struct timeval tv = { 0, 100000 };
    event_add(w->wake, &tv);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    gw_worker *w = arg;
    if (!w->draining && w->listener)
        evconnlistener_enable(w->listener);
}

static void on_idle_sweep(evutil_socket_t fd, short what, void *arg)
{
    gw_worker *w = arg;
    gw_idle_sweep(w, gw_now());
    if (w->draining && w->clients == 0)
        event_base_loopexit(w->base, NULL);
}

static void begin_drain(gw_server *s)
{
    if (atomic_exchange(&s->stopping, true))
        return;
    fprintf(stderr, "rotor: stopping: no new connections; in-flight requests have %u ms to finish (--drain-timeout)\n",
            s->cfg.drain_timeout_ms);
    /* Each worker's loop is its own (and lock-free): the drain starts
     * there, when its mailbox wakes it (on_mail). */
    for (unsigned i = 0; i < s->nworkers; i++) {
        s->workers[i].draining = true;
        io_mailbox_post(s->workers[i].mail);
    }
}

static void on_drain_wake(gw_worker *w)
{
    if (w->listener) {
        evconnlistener_free(w->listener);
        w->listener = NULL;
    }
    gw_idle_flush(w);
    gw_client_close_idle(w);
    if (w->clients == 0)
        event_base_loopexit(w->base, NULL);
}

/* Another thread posted to this worker: a drain began, or commands wait. */
static void on_mail(void *arg)
{
    gw_worker *w = arg;
    if (w->draining && !w->drain_armed) {
        w->drain_armed = true;
        unsigned ms = w->srv->cfg.drain_timeout_ms;
        struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
        event_base_loopexit(w->base, &tv);
        on_drain_wake(w);
    }
    gw_stats_take_commands(w);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    gw_server *s = arg;
    char msg[640];
    if (sig == SIGHUP)
        reload_pool(s, msg, sizeof msg);
    else
        begin_drain(s);
}

static int worker_init(gw_server *s, gw_worker *w, unsigned id, char *err, size_t errlen)
{
    w->srv = s;
    w->id = id;
    rt_banfeed_cursor_init(&s->banfeed, &w->bancur);
    /* Nothing but this thread touches the loop (other threads post to its
     * mailbox), so libevent's per-call locking is switched off. */
    struct event_config *ec = event_config_new();
    if (ec) {
        event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK);
        w->base = event_base_new_with_config(ec);
        event_config_free(ec);
    }
    if (!w->base) {
        snprintf(err, errlen, "cannot create an event loop");
        return -1;
    }
    if (s->cfg.dns_server) {
        /* One resolver named on the command line; /etc/hosts still applies. */
        w->dns = evdns_base_new(w->base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
        if (!w->dns || evdns_base_nameserver_ip_add(w->dns, s->cfg.dns_server) != 0) {
            snprintf(err, errlen, "--dns-server '%s': expected a numeric address, e.g. 127.0.0.53 or [::1]:5353",
                     s->cfg.dns_server);
            return -1;
        }
        evdns_base_load_hosts(w->dns, NULL);
    } else {
        w->dns = evdns_base_new(w->base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
        if (!w->dns) /* no resolv.conf: numeric hosts still work */
            w->dns = evdns_base_new(w->base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    }
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;
    if (s->nworkers > 1)
        flags |= LEV_OPT_REUSEABLE_PORT;
    w->listener = evconnlistener_new_bind(w->base, on_accept, w, flags, 1024,
                                          (struct sockaddr *)&s->listen_addr.ss, (int)s->listen_addr.len);
    if (!w->listener) {
        int e = errno;
        snprintf(err, errlen, "cannot listen on %s: %s%s", s->listen_str, strerror(e),
                 e == EADDRINUSE ? " (another process uses this port: stop it or pick another with --listen)" :
                 e == EACCES ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE)" : "");
        return -1;
    }
    evconnlistener_set_error_cb(w->listener, on_accept_error);
    w->wake = event_new(w->base, -1, 0, on_wake, w);
    if (!(w->mail = io_mailbox_new(w->base, on_mail, w))) {
        snprintf(err, errlen, "cannot create a worker's wake-up descriptor: %s", strerror(errno));
        return -1;
    }
    w->idle_sweep = event_new(w->base, -1, EV_PERSIST, on_idle_sweep, w);
    struct timeval sweep = { 1, 0 };
    event_add(w->idle_sweep, &sweep);
    rt_rng_seed(&w->rng, (uint64_t)io_wall_ms() ^ ((uint64_t)getpid() << 20) ^ ((uint64_t)id << 40));
    w->picker.mode = s->cfg.rotation;
    if (gw_policy_init(&w->pol, &s->cfg.policy, err, errlen) != 0 ||
        gw_stats_worker_init(w, s->cfg.admin != NULL, err, errlen) != 0)
        return -1;
    if (id == 0) {
        w->sig_hup = evsignal_new(w->base, SIGHUP, on_signal, s);
        w->sig_term = evsignal_new(w->base, SIGTERM, on_signal, s);
        w->sig_int = evsignal_new(w->base, SIGINT, on_signal, s);
        event_add(w->sig_hup, NULL);
        event_add(w->sig_term, NULL);
        event_add(w->sig_int, NULL);
    }
    return 0;
}

static void worker_free(gw_worker *w)
{
    gw_client_free_all(w);
    gw_idle_flush(w);
    gw_stats_worker_free(w);
    gw_policy_free(&w->pol);
    if (w->listener)
        evconnlistener_free(w->listener);
    struct event *evs[] = { w->sig_hup, w->sig_term, w->sig_int, w->idle_sweep, w->wake };
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        if (evs[i])
            event_free(evs[i]);
    io_mailbox_free(w->mail);
    if (w->dns) {
        /* Fail lookups still pending (a connection freed while resolving
         * holds a reference until its lookup ends), then run the loop once
         * so their callbacks release what they hold. */
        evdns_base_free(w->dns, 1);
        if (w->base)
            event_base_loop(w->base, EVLOOP_NONBLOCK);
    }
    if (w->base)
        event_base_free(w->base);
}

static void *worker_main(void *arg)
{
    gw_worker *w = arg;
    event_base_dispatch(w->base);
    return NULL;
}

/* ==== Startup checks ==== */

static int parse_ports(gw_server *s, const char *spec, char *err, size_t errlen)
{
    const char *p = spec;
    while (*p) {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (end == p)
            goto bad;
        if (*end == '-') {
            p = end + 1;
            b = strtol(p, &end, 10);
            if (end == p)
                goto bad;
        }
        if (a < 1 || b > 65535 || a > b || s->n_connect_ports >= 64)
            goto bad;
        s->connect_ports[s->n_connect_ports][0] = (uint16_t)a;
        s->connect_ports[s->n_connect_ports][1] = (uint16_t)b;
        s->n_connect_ports++;
        if (*end == ',')
            end++;
        else if (*end)
            goto bad;
        p = end;
    }
    return 0;
bad:
    snprintf(err, errlen, "--connect-ports '%s': expected a list like 443,8443,9000-9100 (at most 64 items)", spec);
    return -1;
}

static int setup(gw_server *s, const gw_config *cfg, char *err, size_t errlen)
{
    s->cfg = *cfg;
    /* --max-attempts is the retry decision's own total limit, so a retry it
     * would refuse is never granted (nor charged to the budget). */
    unsigned retries_max = cfg->max_attempts > 1 ? cfg->max_attempts - 1 : 0;
    if (retries_max > GW_MAX_ATTEMPTS - 1)
        retries_max = GW_MAX_ATTEMPTS - 1;
    if (s->cfg.policy.retry.max_total > retries_max)
        s->cfg.policy.retry.max_total = (uint8_t)retries_max;
    if (io_addr_parse(cfg->listen, &s->listen_addr, err, errlen) != 0)
        return -1;
    io_addr_str((struct sockaddr *)&s->listen_addr.ss, s->listen_str, sizeof s->listen_str);
    if (!io_addr_is_loopback(&s->listen_addr) && !cfg->auth && !cfg->allow_open) {
        snprintf(err, errlen,
                 "refusing to listen on %s without client authentication: anyone who can reach it could use "
                 "your proxy pool. Add --auth USER:PASS, or --allow-open if a firewall already restricts access, "
                 "or listen on 127.0.0.1.", s->listen_str);
        return -1;
    }
    if (cfg->auth) {
        if (!strchr(cfg->auth, ':')) {
            snprintf(err, errlen, "--auth expects USER:PASS");
            return -1;
        }
        if (rt_basic_value(cfg->auth, strlen(cfg->auth), s->auth_expect, sizeof s->auth_expect) < 0) {
            snprintf(err, errlen, "--auth credentials are too long");
            return -1;
        }
    }
    if (cfg->connect_ports && parse_ports(s, cfg->connect_ports, err, errlen) != 0)
        return -1;
    if (cfg->allow_clients && !(s->access = gw_access_new(cfg->allow_clients, err, errlen)))
        return -1;
    if (!(s->pool = load_all(s, err, errlen)))
        return -1;
    pthread_mutex_init(&s->pool_mu, NULL);
    if (rt_polite_init(&s->polite) != 0 || rt_banfeed_init(&s->banfeed) != 0) {
        snprintf(err, errlen, "out of memory for the shared policy tables");
        return -1;
    }
    if (cfg->log_path && !(s->log = io_logq_open(cfg->log_path, 0, err, errlen)))
        return -1;
    return 0;
}

int gw_run(const gw_config *cfg)
{
    static gw_server srv; /* one per process: signal handlers find it */
    gw_server *s = &srv;
    char err[768];
    signal(SIGPIPE, SIG_IGN);
    evthread_use_pthreads();
    if (setup(s, cfg, err, sizeof err) != 0) {
        fprintf(stderr, "rotor serve: %s\n", err);
        return 1;
    }
    s->nworkers = cfg->threads ? cfg->threads : 1;
    s->workers = calloc(s->nworkers, sizeof *s->workers);
    if (!s->workers) {
        fprintf(stderr, "rotor serve: out of memory\n");
        return 1;
    }
    for (unsigned i = 0; i < s->nworkers; i++) {
        if (worker_init(s, &s->workers[i], i, err, sizeof err) != 0) {
            fprintf(stderr, "rotor serve: %s\n", err);
            for (unsigned j = 0; j <= i; j++)
                worker_free(&s->workers[j]);
            return 1;
        }
    }
    if (adm_start(s, err, sizeof err) != 0 || gw_health_start(s, err, sizeof err) != 0) {
        fprintf(stderr, "rotor serve: %s\n", err);
        adm_stop(s);
        for (unsigned i = 0; i < s->nworkers; i++)
            worker_free(&s->workers[i]);
        return 1;
    }
    if (cfg->upstream_insecure)
        fprintf(stderr, "rotor: warning: --upstream-insecure: the certificates of https:// upstream proxies are not "
                        "verified, so anyone on the path can pose as a proxy and read its credentials and traffic\n");
    fprintf(stderr, "rotor: listening on %s (pool %s: %zu upstreams, rotation %s, %u thread%s)\n", s->listen_str,
            cfg->pool_path ? cfg->pool_path : "built-in direct", s->pool->pool.n, rt_pick_mode_name(cfg->rotation),
            s->nworkers, s->nworkers == 1 ? "" : "s");
    for (unsigned i = 1; i < s->nworkers; i++)
        pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i]);
    worker_main(&s->workers[0]);
    gw_health_stop(s); /* it talks to the workers: stop it while they are there */
    begin_drain(s); /* loop 0 ended: make sure the others end too */
    for (unsigned i = 1; i < s->nworkers; i++)
        pthread_join(s->workers[i].thread, NULL);
    adm_stop(s); /* before the workers' state it reads goes away */
    for (unsigned i = 0; i < s->nworkers; i++)
        worker_free(&s->workers[i]);
    free(s->workers);
    rt_polite_free(&s->polite); /* after the clients that held slots */
    rt_banfeed_free(&s->banfeed);
    gw_pool_release(s->pool);
    gw_uptls_free(s);
    io_logq_close(s->log);
    if (s->access)
        fprintf(stderr, "rotor: %lu connections refused by --allow-clients\n", gw_access_refused(s->access));
    gw_access_free(s->access);
    fprintf(stderr, "rotor: stopped\n");
    return 0;
}
