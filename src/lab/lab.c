/* rotor lab orchestration: build the scenario, open every listener, write
 * the pool, CA and state files, print what runs, serve until told to stop. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "core/base/wbuf.h"
#include "lab/lab_int.h"

#define LAB_PATH_MAX 4096
#define LAB_STATE_MAX (LAB_MAX_PROXIES * 512 + LAB_MAX_HOSTS * 256 + 8192)

evutil_socket_t lab_bind_loopback(uint16_t port, bool listen_too, uint16_t *bound,
                                  char *err, size_t errlen)
{
    evutil_socket_t fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sin;
    lab_loopback_addr(&sin, port);
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
        snprintf(err, errlen, "bind 127.0.0.1:%u: %s", (unsigned)port, strerror(errno));
        close(fd);
        return -1;
    }
    if (listen_too && listen(fd, LAB_BACKLOG) != 0) {
        snprintf(err, errlen, "listen 127.0.0.1:%u: %s", (unsigned)port, strerror(errno));
        close(fd);
        return -1;
    }
    socklen_t sl = sizeof sin;
    getsockname(fd, (struct sockaddr *)&sin, &sl);
    *bound = ntohs(sin.sin_port);
    return fd;
}

void lab_loopback_addr(struct sockaddr_in *sin, uint16_t port)
{
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

void lab_bev_start(struct bufferevent *bev, bufferevent_data_cb rd, bufferevent_data_cb wr,
                   bufferevent_event_cb ev, void *arg, bool idle_timeout)
{
    bufferevent_setcb(bev, rd, wr, ev, arg);
    bufferevent_setwatermark(bev, EV_READ, 0, LAB_IO_HIGH);
    bufferevent_setwatermark(bev, EV_WRITE, LAB_IO_HIGH / 2, 0);
    if (idle_timeout) {
        struct timeval idle = { LAB_IDLE_S, 0 };
        bufferevent_set_timeouts(bev, &idle, NULL);
    }
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* Percent-encode a credential for a URL's userinfo (RFC 3986 section 3.2.1). */
static void pct(rt_wbuf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            strchr("-._~", ch))
            rt_wbuf_add(b, s, 1);
        else
            rt_wbuf_addf(b, "%%%02X", ch);
    }
}

static void proxy_url(const lab *L, size_t i, rt_wbuf *b)
{
    rt_wbuf_adds(b, L->px[i].pc->tls ? "https://" : "http://");
    if (L->auth[0]) {
        pct(b, L->opts->user ? L->opts->user : "lab");
        rt_wbuf_adds(b, ":");
        pct(b, L->opts->pass ? L->opts->pass : "lab");
        rt_wbuf_adds(b, "@");
    }
    rt_wbuf_addf(b, "127.0.0.1:%u", (unsigned)L->px[i].port);
}

/* Write via a temporary file and rename, so readers never see half a file. */
static int write_atomic(const char *path, const char *data, size_t n, char *err, size_t errlen)
{
    char tmp[LAB_PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(err, errlen, "%.300s: %s", tmp, strerror(errno));
        return -1;
    }
    size_t w = fwrite(data, 1, n, f);
    if (fclose(f) != 0 || w != n || rename(tmp, path) != 0) {
        snprintf(err, errlen, "%.300s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int write_pool(const lab *L, const char *path, char *err, size_t errlen)
{
    size_t cap = LAB_MAX_PROXIES * 160 + 512;
    char *buf = malloc(cap);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    rt_wbuf b;
    rt_wbuf_init(&b, buf, cap);
    rt_wbuf_addf(&b, "# rotor lab pool: scenario %s, seed %llu, %zu proxies\n", L->sc->name,
                 (unsigned long long)L->opts->seed, L->sc->nproxies);
    for (size_t i = 0; i < L->sc->nproxies; i++) {
        proxy_url(L, i, &b);
        rt_wbuf_addf(&b, " #%s\n", L->px[i].pc->label);
    }
    int rc = b.overflow ? -1 : write_atomic(path, b.p, b.len, err, errlen);
    if (b.overflow)
        snprintf(err, errlen, "pool file too large");
    free(buf);
    return rc;
}

static void json_str(rt_wbuf *b, const char *s)
{
    rt_wbuf_adds(b, "\"");
    rt_wbuf_add_json(b, rt_slice_cstr(s));
    rt_wbuf_adds(b, "\"");
}

static int write_state(const lab *L, const char *path, const char *pool, const char *ca,
                       char *err, size_t errlen)
{
    char *buf = malloc(LAB_STATE_MAX);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    rt_wbuf b;
    rt_wbuf_init(&b, buf, LAB_STATE_MAX);
    char desc[256];
    rt_wbuf_addf(&b, "{\"pid\": %ld, \"scenario\": ", (long)getpid());
    json_str(&b, L->sc->name);
    rt_wbuf_addf(&b, ", \"seed\": %llu, \"pool_file\": ", (unsigned long long)L->opts->seed);
    json_str(&b, pool);
    rt_wbuf_adds(&b, ", \"ca_file\": ");
    json_str(&b, ca);
    rt_wbuf_adds(&b, ", \"user\": ");
    json_str(&b, L->auth[0] ? (L->opts->user ? L->opts->user : "lab") : "");
    rt_wbuf_adds(&b, ", \"pass\": ");
    json_str(&b, L->auth[0] ? (L->opts->pass ? L->opts->pass : "lab") : "");
    rt_wbuf_adds(&b, ",\n \"proxies\": [");
    for (size_t i = 0; i < L->sc->nproxies; i++) {
        const lab_proxy *px = &L->px[i];
        rt_wbuf_addf(&b, "%s\n  {\"index\": %zu, \"port\": %u, \"label\": ", i ? "," : "", i + 1,
                     (unsigned)px->port);
        json_str(&b, px->pc->label);
        rt_wbuf_adds(&b, ", \"exit\": ");
        json_str(&b, px->pc->exit);
        rt_wbuf_addf(&b, ", \"tls\": %s", px->pc->tls ? "true" : "false");
        rt_wbuf_adds(&b, ", \"url\": \"");
        proxy_url(L, i, &b);
        lab_proxy_describe(px->pc, desc, sizeof desc);
        rt_wbuf_adds(&b, "\", \"faults\": ");
        json_str(&b, desc);
        rt_wbuf_adds(&b, "}");
    }
    rt_wbuf_addf(&b, "],\n \"targets\": {\"http_port\": %u, \"https_port\": %u, \"hosts\": [",
                 (unsigned)L->http_port, (unsigned)L->https_port);
    for (size_t i = 0; i < L->sc->nhosts; i++) {
        const lab_host_conf *hc = &L->sc->host[i];
        lab_host_describe(hc, desc, sizeof desc);
        rt_wbuf_addf(&b, "%s\n  {\"name\": ", i ? "," : "");
        json_str(&b, hc->name);
        rt_wbuf_addf(&b, ", \"down\": %s, \"rate\": %u, \"window_ms\": %u, \"ban_after\": %u, "
                         "\"ban_ms\": %u, \"err503\": %.4f, \"delay_ms\": %u, \"faults\": ",
                     hc->down ? "true" : "false", hc->rate, hc->window_ms, hc->ban_after, hc->ban_ms,
                     hc->p503, hc->delay_ms);
        json_str(&b, desc);
        rt_wbuf_adds(&b, "}");
    }
    rt_wbuf_adds(&b, "]}}\n");
    int rc = -1;
    if (b.overflow)
        snprintf(err, errlen, "state file too large");
    else
        rc = write_atomic(path, b.p, b.len, err, errlen);
    free(buf);
    return rc;
}

static void print_started(const lab *L, const char *pool, const char *ca, const char *state)
{
    char desc[256], url[256];
    printf("rotor lab: scenario '%s', seed %llu, %zu proxies, %zu target hosts\n", L->sc->name,
           (unsigned long long)L->opts->seed, L->sc->nproxies, L->sc->nhosts);
    printf("\n  #    port   label         exit          faults\n");
    for (size_t i = 0; i < L->sc->nproxies; i++) {
        lab_proxy_describe(L->px[i].pc, desc, sizeof desc);
        printf("  %-4zu %-6u %-13s %-13s %s\n", i + 1, (unsigned)L->px[i].port, L->px[i].pc->label,
               L->px[i].pc->exit, desc);
    }
    printf("\n  targets: http://127.0.0.1:%u  https://127.0.0.1:%u  (through a lab proxy: http(s)://HOST/)\n",
           (unsigned)L->http_port, (unsigned)L->https_port);
    for (size_t i = 0; i < L->sc->nhosts; i++) {
        lab_host_describe(&L->sc->host[i], desc, sizeof desc);
        printf("  %-16s %s\n", L->sc->host[i].name, desc);
    }
    printf("  paths: / /1k /bytes/N /chunked/N /ip /status/NNN /slow/MS /echo\n");
    printf("\n  pool file: %s\n  CA file:   %s\n", pool, ca);
    if (state)
        printf("  state:     %s\n", state);
    size_t first = 0;
    for (size_t i = 0; i < L->sc->nproxies; i++)
        if (!L->px[i].pc->refused && !L->px[i].pc->bad_auth) {
            first = i;
            break;
        }
    rt_wbuf b;
    rt_wbuf_init(&b, url, sizeof url);
    proxy_url(L, first, &b);
    rt_wbuf_add(&b, "", 1);
    if (L->px[first].pc->tls) {
        printf("\n  try: curl --proxy-cacert %s -x %s http://ok.lab/ip\n", ca, url);
        printf("       curl --proxy-cacert %s --cacert %s -x %s https://ok.lab/ip\n", ca, ca, url);
        printf("       rotor serve --upstream-ca %s --pool %s\n\n", ca, pool);
        fflush(stdout);
        return;
    }
    printf("\n  try: curl -x %s http://ok.lab/ip\n", url);
    printf("       curl --cacert %s -x %s https://ok.lab/ip\n", ca, url);
    printf("       rotor serve --pool %s\n\n", pool);
    fflush(stdout);
}

static void print_stats(const lab *L)
{
    printf("\nrotor lab: %llu target requests\n", (unsigned long long)L->target_requests);
    printf("  #    label         conns     requests  auth-407  faults\n");
    for (size_t i = 0; i < L->sc->nproxies; i++) {
        const lab_proxy *px = &L->px[i];
        if (px->pc->refused) {
            printf("  %-4zu %-13s %-9s %-9s %-9s (port refused)\n", i + 1, px->pc->label, "-", "-", "-");
            continue;
        }
        char f[256] = "";
        size_t len = 0;
        for (int k = LAB_PF_QUOTA; k < LAB_PF_COUNT; k++)
            if (px->faults[k] && len < sizeof f)
                len += (size_t)snprintf(f + len, sizeof f - len, "%s=%llu ", lab_pfault_name((lab_pfault)k),
                                        (unsigned long long)px->faults[k]);
        printf("  %-4zu %-13s %-9llu %-9llu %-9llu %s\n", i + 1, px->pc->label, (unsigned long long)px->conns,
               (unsigned long long)px->requests, (unsigned long long)px->auth_rejects, f);
    }
    fflush(stdout);
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopexit(arg, NULL);
}

/* Directory part of path ("." when none), into out. */
static void dir_of(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, cap, ".");
    else if (slash == path)
        snprintf(out, cap, "/");
    else
        snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

int lab_run(const lab_opts *o)
{
    char err[512];
    int rc = 1;
    lab *L = calloc(1, sizeof *L);
    lab_scenario *sc = calloc(1, sizeof *sc);
    struct event *sigint = NULL, *sigterm = NULL, *timer = NULL;
    char ca[LAB_PATH_MAX], dir[LAB_PATH_MAX];
    const char *pool = o->pool_out ? o->pool_out : "lab-pool.txt";
    bool wrote_state = false;
    if (!L || !sc) {
        fprintf(stderr, "rotor lab: out of memory\n");
        goto out;
    }
    lab_link_init(&L->tconns);
    lab_link_init(&L->pconns);
    L->opts = o;
    L->sc = sc;
    if (lab_scenario_load(sc, o->scenario ? o->scenario : "healthy", o->nproxies, err, sizeof err) != 0) {
        fprintf(stderr, "rotor lab: %s\n", err);
        goto out;
    }
    if (o->proxy_tls)
        for (size_t i = 0; i < sc->nproxies; i++)
            sc->proxy[i].tls = true;
    for (size_t i = 0; i < o->ntargets; i++) {
        char name[LAB_HOST_MAX];
        snprintf(name, sizeof name, "t%zu.lab", i + 1);
        if (lab_scenario_add_host(sc, name) != 0) {
            fprintf(stderr, "rotor lab: --targets %zu: at most %d target hosts in all\n", o->ntargets,
                    LAB_MAX_HOSTS);
            goto out;
        }
    }
    if (o->port_base && (o->port_base < 1024 || o->port_base + (int)sc->nproxies + 2 > 65535)) {
        fprintf(stderr, "rotor lab: --port-base %d leaves no room for %zu proxies and 2 target ports\n",
                o->port_base, sc->nproxies);
        goto out;
    }
    rt_rng_seed(&L->host_rng, o->seed ^ 0x5bd1e995u);
    if (!o->no_auth) {
        char up[256];
        const char *user = o->user ? o->user : "lab", *pass = o->pass ? o->pass : "lab";
        int n = snprintf(up, sizeof up, "%s:%s", user, pass);
        if (n < 0 || (size_t)n >= sizeof up) {
            fprintf(stderr, "rotor lab: --user/--pass too long\n");
            goto out;
        }
        rt_wbuf b;
        rt_wbuf_init(&b, L->auth, sizeof L->auth);
        rt_wbuf_adds(&b, "Basic ");
        rt_wbuf_add_base64(&b, up, (size_t)n);
        rt_wbuf_add(&b, "", 1);
        if (b.overflow) {
            fprintf(stderr, "rotor lab: --user/--pass too long\n");
            goto out;
        }
    }

    signal(SIGPIPE, SIG_IGN);
    L->base = event_base_new();
    if (!L->base) {
        fprintf(stderr, "rotor lab: cannot create the event loop\n");
        goto out;
    }
    const char *names[LAB_MAX_HOSTS];
    for (size_t i = 0; i < sc->nhosts; i++)
        names[i] = sc->host[i].name;
    L->tls = lab_tls_new(names, sc->nhosts, err, sizeof err);
    if (!L->tls) {
        fprintf(stderr, "rotor lab: %s\n", err);
        goto out;
    }
    if (o->port_base) {
        L->http_port = (uint16_t)(o->port_base + (int)sc->nproxies);
        L->https_port = (uint16_t)(o->port_base + (int)sc->nproxies + 1);
    }
    if (lab_target_start(L, err, sizeof err) != 0 || lab_proxies_start(L, err, sizeof err) != 0) {
        fprintf(stderr, "rotor lab: %s\n", err);
        goto out;
    }
    dir_of(pool, dir, sizeof dir);
    if (snprintf(ca, sizeof ca, "%s/lab-ca.pem", dir) >= (int)sizeof ca) {
        fprintf(stderr, "rotor lab: --pool-out path too long\n");
        goto out;
    }
    if (write_pool(L, pool, err, sizeof err) != 0 || lab_tls_write_ca(L->tls, ca, err, sizeof err) != 0) {
        fprintf(stderr, "rotor lab: %s\n", err);
        goto out;
    }
    sigint = evsignal_new(L->base, SIGINT, stop_cb, L->base);
    sigterm = evsignal_new(L->base, SIGTERM, stop_cb, L->base);
    if (!sigint || !sigterm || evsignal_add(sigint, NULL) || evsignal_add(sigterm, NULL)) {
        fprintf(stderr, "rotor lab: cannot install signal handlers\n");
        goto out;
    }
    if (o->duration_s) {
        timer = evtimer_new(L->base, stop_cb, L->base);
        struct timeval tv = { (time_t)o->duration_s, 0 };
        if (!timer || evtimer_add(timer, &tv)) {
            fprintf(stderr, "rotor lab: cannot arm the duration timer\n");
            goto out;
        }
    }
    /* The state file is written last: its presence means "ready". */
    if (o->state_out) {
        if (write_state(L, o->state_out, pool, ca, err, sizeof err) != 0) {
            fprintf(stderr, "rotor lab: %s\n", err);
            goto out;
        }
        wrote_state = true;
    }
    if (!o->quiet)
        print_started(L, pool, ca, o->state_out);
    event_base_dispatch(L->base);
    if (!o->quiet)
        print_stats(L);
    rc = 0;
out:
    if (wrote_state)
        unlink(o->state_out);
    if (timer)
        event_free(timer);
    if (sigint)
        event_free(sigint);
    if (sigterm)
        event_free(sigterm);
    if (L && sc) {
        lab_proxies_stop(L);
        lab_target_stop(L);
    }
    if (L) {
        lab_tls_free(L->tls);
        if (L->base)
            event_base_free(L->base);
    }
    free(sc);
    free(L);
    return rc;
}
