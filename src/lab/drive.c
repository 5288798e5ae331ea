/* rotor lab --drive: a small keep-alive load driver that sends a bounded
 * stream of requests through one HTTP proxy (rotor, or a lab proxy) and
 * tallies what the client sees: success rate, retries (X-Rotor-Attempts),
 * failures by X-Rotor-Error / X-Rotor-Origin, statuses, transport errors,
 * and the lab's ground truth (X-Lab-Fault). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "core/base/wbuf.h"
#include "core/http/http1.h"
#include "io/clock.h"
#include "lab/lab.h"
#include "lab/lab_int.h"

#define D_MAX_URLS 4096
#define D_URL_MAX 2048
#define D_MAX_KEYS 64     /* distinct keys per tally; the rest count as "other" */
#define D_KEY_MAX 64
#define D_MAX_HDRS 128
#define D_TICK_MS 200
#define D_LINE_MAX 160    /* the live line is cut to this width */

typedef struct tent {
    char key[D_KEY_MAX];
    char origin[D_KEY_MAX]; /* the origin first seen with this key */
    uint64_t count;
} tent;

typedef struct tally {
    size_t n;
    tent e[D_MAX_KEYS + 1]; /* the extra slot is "other" */
} tally;

typedef struct drv {
    const lab_drive_opts *o;
    struct event_base *base;
    struct sockaddr_storage ss;
    int sslen;
    char proxy_shown[320];     /* the proxy URL without credentials */
    char **reqs;               /* prebuilt request per URL */
    size_t nurls;
    uint32_t total, sent, done, active;
    uint64_t ok, retries, with_attempts;
    uint64_t t0;
    tally by_error, by_origin, by_status, lab_truth;
    struct event *tick;
    struct event *sigint, *sigterm;
    bool progress;
    bool interrupted;
} drv;

enum { DB_NONE = 0, DB_LENGTH, DB_CHUNKED, DB_CLOSE };

typedef struct dconn {
    drv *d;
    struct bufferevent *bev;
    bool in_flight;
    bool head_done;
    bool keep;
    int body;
    uint64_t left;
    rt_chunked ch;
    int status;
    char err[D_KEY_MAX], origin[D_KEY_MAX], truth[D_KEY_MAX];
    uint32_t attempts;
} dconn;

static void tally_add(tally *t, const char *key, const char *origin)
{
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->e[i].key, key)) {
            t->e[i].count++;
            return;
        }
    tent *e;
    if (t->n < D_MAX_KEYS) {
        e = &t->e[t->n++];
        snprintf(e->key, sizeof e->key, "%s", key);
        snprintf(e->origin, sizeof e->origin, "%s", origin ? origin : "");
    } else {
        /* Past the bound every new key is counted together. */
        e = &t->e[D_MAX_KEYS];
        if (!e->count) {
            snprintf(e->key, sizeof e->key, "other");
            e->origin[0] = 0;
            t->n = D_MAX_KEYS + 1;
        }
    }
    e->count++;
}

static int cmp_count(const void *a, const void *b)
{
    const tent *x = a, *y = b;
    return x->count < y->count ? 1 : x->count > y->count ? -1 : strcmp(x->key, y->key);
}

static void tally_sort(tally *t)
{
    qsort(t->e, t->n, sizeof t->e[0], cmp_count);
}

static void copy_hdr(const rt_http_resp *r, const char *name, char *out, size_t cap)
{
    const rt_http_hdr *h = rt_http_find(&r->h, name);
    out[0] = 0;
    if (h) {
        size_t n = h->value.n < cap - 1 ? h->value.n : cap - 1;
        memcpy(out, h->value.p, n);
        out[n] = 0;
    }
}

static void next_request(dconn *c);

static int hexval(char ch)
{
    return ch >= '0' && ch <= '9' ? ch - '0'
         : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
         : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

static void finish_drive(drv *d)
{
    event_base_loopexit(d->base, NULL);
}

/* Account one finished request; `transport` names a failure below HTTP. */
static void record(dconn *c, const char *transport)
{
    drv *d = c->d;
    char key[D_KEY_MAX + 16];
    d->done++;
    if (transport) {
        tally_add(&d->by_error, transport, "client-side");
        tally_add(&d->by_origin, "(no HTTP answer)", NULL);
        tally_add(&d->by_status, "none", NULL);
    } else {
        bool good = c->status >= 200 && c->status < 400;
        snprintf(key, sizeof key, "%d", c->status);
        tally_add(&d->by_status, key, NULL);
        if (good)
            d->ok++;
        if (c->attempts) {
            d->with_attempts++;
            d->retries += c->attempts - 1;
        }
        if (c->truth[0])
            tally_add(&d->lab_truth, c->truth, NULL);
        if (!good || c->err[0]) {
            if (c->err[0])
                snprintf(key, sizeof key, "%s", c->err);
            else
                snprintf(key, sizeof key, "http_%d", c->status);
            tally_add(&d->by_error, key, c->origin[0] ? c->origin : NULL);
            tally_add(&d->by_origin, c->origin[0] ? c->origin : "(no X-Rotor-Origin)", NULL);
        }
    }
    c->in_flight = false;
}

static void drop(dconn *c)
{
    if (c->bev)
        bufferevent_free(c->bev);
    c->bev = NULL;
}

static void on_read(struct bufferevent *bev, void *arg)
{
    dconn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    while (c->in_flight) {
        if (!c->head_done) {
            size_t len = evbuffer_get_length(in);
            size_t want = len < RT_HTTP_DEFAULT_MAX_HEAD ? len : RT_HTTP_DEFAULT_MAX_HEAD;
            if (!want)
                return;
            const char *p = (const char *)evbuffer_pullup(in, (ssize_t)want);
            rt_http_hdr hdrs[D_MAX_HDRS];
            rt_http_resp r;
            memset(&r, 0, sizeof r);
            r.h.hdrs = hdrs;
            r.h.max_hdrs = D_MAX_HDRS;
            ssize_t k = rt_http_parse_response(p, want, &r, RT_M_GET, NULL);
            if (k == RT_HP_AGAIN && want < RT_HTTP_DEFAULT_MAX_HEAD)
                return;
            if (k < 0) {
                record(c, "bad_response");
                drop(c);
                next_request(c);
                return;
            }
            if (r.status < 200) {
                evbuffer_drain(in, (size_t)k);
                continue;
            }
            c->status = r.status;
            copy_hdr(&r, "X-Rotor-Error", c->err, sizeof c->err);
            copy_hdr(&r, "X-Rotor-Origin", c->origin, sizeof c->origin);
            copy_hdr(&r, "X-Lab-Fault", c->truth, sizeof c->truth);
            char att[16];
            copy_hdr(&r, "X-Rotor-Attempts", att, sizeof att);
            c->attempts = (uint32_t)strtoul(att, NULL, 10);
            c->keep = r.h.keep_alive;
            c->body = r.h.body == RT_BODY_LENGTH ? DB_LENGTH
                    : r.h.body == RT_BODY_CHUNKED ? DB_CHUNKED
                    : r.h.body == RT_BODY_CLOSE ? DB_CLOSE : DB_NONE;
            c->left = r.h.content_length;
            rt_chunked_init(&c->ch);
            c->head_done = true;
            evbuffer_drain(in, (size_t)k);
        }
        if (c->body == DB_LENGTH) {
            if (!lab_body_pass_length(in, NULL, &c->left))
                return;
        } else if (c->body == DB_CHUNKED) {
            int rc = lab_body_pass_chunked(in, NULL, &c->ch);
            if (rc < 0) {
                record(c, "bad_chunking");
                drop(c);
                next_request(c);
                return;
            }
            if (rc == 0)
                return;
        } else if (c->body == DB_CLOSE) {
            evbuffer_drain(in, evbuffer_get_length(in));
            return; /* complete at EOF */
        }
        record(c, NULL);
        if (!c->keep)
            drop(c);
        next_request(c);
        return;
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    dconn *c = arg;
    if (what & BEV_EVENT_CONNECTED)
        return;
    int e = EVUTIL_SOCKET_ERROR();
    if (c->in_flight) {
        if (c->head_done && c->body == DB_CLOSE && (what & BEV_EVENT_EOF))
            record(c, NULL);
        else if (what & BEV_EVENT_TIMEOUT)
            record(c, "timeout");
        else if ((what & BEV_EVENT_ERROR) && e == ECONNREFUSED)
            record(c, "connection_refused");
        else if ((what & BEV_EVENT_ERROR) && e == ECONNRESET)
            record(c, "connection_reset");
        else if (c->head_done)
            record(c, "truncated_body");
        else
            record(c, "closed_without_response");
    }
    drop(c);
    next_request(c);
}

static void next_request(dconn *c)
{
    drv *d = c->d;
    if (d->sent >= d->total) {
        drop(c);
        if (d->active) {
            d->active--;
            if (!d->active)
                finish_drive(d);
        }
        return;
    }
    if (!c->bev) {
        c->bev = bufferevent_socket_new(d->base, -1, BEV_OPT_CLOSE_ON_FREE);
        if (!c->bev || bufferevent_socket_connect(c->bev, (struct sockaddr *)&d->ss, d->sslen) != 0) {
            /* Out of sockets or memory: this connection stops; refused
             * connections are reported later through on_event. */
            drop(c);
            fprintf(stderr, "rotor lab: --drive: cannot open a connection: %s\n", strerror(errno));
            if (--d->active == 0)
                finish_drive(d);
            return;
        }
        bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
        uint32_t ms = d->o->timeout_ms ? d->o->timeout_ms : 15000;
        struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
        bufferevent_set_timeouts(c->bev, &tv, &tv);
        bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    }
    const char *req = d->reqs[d->sent % d->nurls];
    d->sent++;
    c->in_flight = true;
    c->head_done = false;
    c->status = 0;
    c->attempts = 0;
    c->err[0] = c->origin[0] = c->truth[0] = 0;
    evbuffer_add(bufferevent_get_output(c->bev), req, strlen(req));
}

static void live_line(drv *d, bool final)
{
    char line[512];
    rt_wbuf b;
    rt_wbuf_init(&b, line, sizeof line);
    double rate = d->done ? 100.0 * (double)d->ok / (double)d->done : 0.0;
    rt_wbuf_addf(&b, "[%s] %u/%u  ok %.1f%%  retries %llu", d->o->title ? d->o->title : "drive",
                 d->done, d->total, rate, (unsigned long long)d->retries);
    tally t = d->by_error;
    tally_sort(&t);
    if (t.n)
        rt_wbuf_adds(&b, "  fails:");
    for (size_t i = 0; i < t.n && i < 4; i++)
        rt_wbuf_addf(&b, " %s %llu", t.e[i].key, (unsigned long long)t.e[i].count);
    size_t n = b.overflow ? sizeof line - 1 : b.len;
    if (n > D_LINE_MAX)
        n = D_LINE_MAX;
    fprintf(stderr, "\r\033[K%.*s%s", (int)n, line, final ? "\n" : "");
    fflush(stderr);
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    drv *d = arg;
    d->interrupted = true;
    event_base_loopexit(d->base, NULL);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    live_line(arg, false);
}

static void print_tally(const char *title, tally *t, bool with_origin)
{
    if (!t->n)
        return;
    tally_sort(t);
    printf("%s\n", title);
    for (size_t i = 0; i < t->n; i++) {
        if (with_origin && t->e[i].origin[0])
            printf("  %6llu  %-28s origin=%s\n", (unsigned long long)t->e[i].count, t->e[i].key, t->e[i].origin);
        else
            printf("  %6llu  %s\n", (unsigned long long)t->e[i].count, t->e[i].key);
    }
}

static void json_tally(rt_wbuf *b, const char *name, const tally *t)
{
    rt_wbuf_addf(b, ", \"%s\": {", name);
    for (size_t i = 0; i < t->n; i++) {
        rt_wbuf_adds(b, i ? ", \"" : "\"");
        rt_wbuf_add_json(b, rt_slice_cstr(t->e[i].key));
        rt_wbuf_addf(b, "\": %llu", (unsigned long long)t->e[i].count);
    }
    rt_wbuf_adds(b, "}");
}

static int write_summary(drv *d, double secs)
{
    char *buf = malloc(65536);
    if (!buf)
        return -1;
    rt_wbuf b;
    rt_wbuf_init(&b, buf, 65536);
    rt_wbuf_adds(&b, "{\"title\": \"");
    rt_wbuf_add_json(&b, rt_slice_cstr(d->o->title ? d->o->title : "drive"));
    rt_wbuf_adds(&b, "\", \"proxy\": \"");
    rt_wbuf_add_json(&b, rt_slice_cstr(d->proxy_shown));
    rt_wbuf_addf(&b, "\", \"requests\": %u, \"ok\": %llu, \"success_rate\": %.4f, \"retries\": %llu, "
                     "\"duration_s\": %.3f, \"rps\": %.1f",
                 d->done, (unsigned long long)d->ok, d->done ? (double)d->ok / d->done : 0.0,
                 (unsigned long long)d->retries, secs, secs > 0 ? d->done / secs : 0.0);
    json_tally(&b, "by_status", &d->by_status);
    json_tally(&b, "by_error", &d->by_error);
    json_tally(&b, "by_origin", &d->by_origin);
    json_tally(&b, "lab_faults", &d->lab_truth);
    rt_wbuf_adds(&b, "}\n");
    int rc = -1;
    FILE *f = b.overflow ? NULL : fopen(d->o->summary_json, "w");
    if (f) {
        rc = fwrite(b.p, 1, b.len, f) == b.len ? 0 : -1;
        if (fclose(f) != 0)
            rc = -1;
    }
    free(buf);
    return rc;
}

/* Parse http://[user:pass@]host:port[/] into an address and a Basic value.
 * Only loopback literals and "localhost" are accepted: the driver, like the
 * lab, never sends traffic off the machine. */
static int parse_proxy(drv *d, const char *url, char *auth, size_t authcap)
{
    const char *p = url;
    if (!strncmp(p, "http://", 7))
        p += 7;
    char hostport[300] = "", userinfo[300] = "";
    const char *at = strrchr(p, '@');
    const char *end = p + strcspn(p, "/");
    if (at && at < end) {
        snprintf(userinfo, sizeof userinfo, "%.*s", (int)(at - p), p);
        p = at + 1;
    }
    snprintf(hostport, sizeof hostport, "%.*s", (int)(end - p), p);
    if (!strncmp(hostport, "localhost:", 10)) {
        char tmp[300];
        snprintf(tmp, sizeof tmp, "127.0.0.1:%s", hostport + 10);
        memcpy(hostport, tmp, sizeof hostport);
    }
    d->sslen = (int)sizeof d->ss;
    if (evutil_parse_sockaddr_port(hostport, (struct sockaddr *)&d->ss, &d->sslen) != 0 ||
        !strchr(hostport, ':'))
        return -1;
    bool loop = false;
    if (d->ss.ss_family == AF_INET)
        loop = (ntohl(((struct sockaddr_in *)&d->ss)->sin_addr.s_addr) >> 24) == 127;
    else if (d->ss.ss_family == AF_INET6)
        loop = IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&d->ss)->sin6_addr);
    if (!loop)
        return -2;
    snprintf(d->proxy_shown, sizeof d->proxy_shown, "http://%s", hostport);
    auth[0] = 0;
    if (userinfo[0]) {
        /* Percent-decode user:pass (RFC 3986 section 2.1). */
        char dec[300];
        size_t n = 0;
        for (const char *s = userinfo; *s && n < sizeof dec - 1; s++) {
            int hi, lo;
            if (*s == '%' && s[1] && s[2] && (hi = hexval(s[1])) >= 0 &&
                (lo = hexval(s[2])) >= 0) {
                dec[n++] = (char)(hi * 16 + lo);
                s += 2;
            } else {
                dec[n++] = *s;
            }
        }
        rt_wbuf b;
        rt_wbuf_init(&b, auth, authcap);
        rt_wbuf_adds(&b, "Proxy-Authorization: Basic ");
        rt_wbuf_add_base64(&b, dec, n);
        rt_wbuf_adds(&b, "\r\n");
        rt_wbuf_add(&b, "", 1);
        if (b.overflow)
            return -1;
    }
    return 0;
}

/* Build "GET url HTTP/1.1 ..." for one URL; NULL if it is not http://. */
static char *build_request(const char *url, const char *auth)
{
    rt_url u;
    if (rt_url_parse_target(rt_slice_cstr(url), RT_M_GET, &u) != 0 || u.form != RT_TF_ABSOLUTE ||
        !rt_slice_eq_ci(u.scheme, "http") || u.has_userinfo)
        return NULL;
    size_t cap = strlen(url) * 2 + strlen(auth) + 256;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    rt_wbuf b;
    rt_wbuf_init(&b, s, cap);
    rt_wbuf_addf(&b, "GET %s HTTP/1.1\r\nHost: ", url);
    rt_wbuf_addsl(&b, u.host);
    if (u.port != 80)
        rt_wbuf_addf(&b, ":%u", (unsigned)u.port);
    rt_wbuf_addf(&b, "\r\nUser-Agent: rotor-lab-drive/%s\r\nAccept: */*\r\n%s\r\n", ROTOR_VERSION, auth);
    rt_wbuf_add(&b, "", 1);
    return s;
}

static int load_urls(drv *d, const char *auth)
{
    d->reqs = calloc(D_MAX_URLS, sizeof *d->reqs);
    if (!d->reqs)
        return -1;
    const char *src = d->o->urls;
    if (!strncmp(src, "http://", 7) || !strncmp(src, "https://", 8)) {
        d->reqs[0] = build_request(src, auth);
        if (!d->reqs[0]) {
            fprintf(stderr, "rotor lab: --drive: '%s' is not an http:// URL (https is not driven)\n", src);
            return -1;
        }
        d->nurls = 1;
        return 0;
    }
    FILE *f = fopen(src, "r");
    if (!f) {
        fprintf(stderr, "rotor lab: --drive %s: %s\n", src, strerror(errno));
        return -1;
    }
    char line[D_URL_MAX];
    unsigned lineno = 0;
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        s[strcspn(s, " \t#")] = 0;
        if (!*s)
            continue;
        if (d->nurls == D_MAX_URLS) {
            fprintf(stderr, "rotor lab: %s: more than %d URLs\n", src, D_MAX_URLS);
            rc = -1;
            break;
        }
        d->reqs[d->nurls] = build_request(s, auth);
        if (!d->reqs[d->nurls]) {
            fprintf(stderr, "rotor lab: %s:%u: '%s' is not an http:// URL\n", src, lineno, s);
            rc = -1;
            break;
        }
        d->nurls++;
    }
    fclose(f);
    if (!rc && !d->nurls) {
        fprintf(stderr, "rotor lab: %s: no URLs\n", src);
        rc = -1;
    }
    return rc;
}

int lab_drive(const lab_drive_opts *o)
{
    drv *d = calloc(1, sizeof *d);
    dconn *conns = NULL;
    uint32_t nc = 0;
    int rc = 1;
    if (!d)
        return 1;
    d->o = o;
    char auth[LAB_AUTH_MAX + 64];
    int pr = parse_proxy(d, o->proxy, auth, sizeof auth);
    if (pr == -2) {
        fprintf(stderr, "rotor lab: --proxy must be a loopback address (127.0.0.0/8, ::1, localhost)\n");
        goto out;
    }
    if (pr != 0) {
        fprintf(stderr, "rotor lab: --proxy wants http://[user:pass@]127.0.0.1:PORT, got '%s'\n", o->proxy);
        goto out;
    }
    if (load_urls(d, auth) != 0)
        goto out;
    signal(SIGPIPE, SIG_IGN);
    d->total = o->requests ? o->requests : 100;
    nc = o->concurrency ? o->concurrency : 8;
    if (nc > d->total)
        nc = d->total;
    d->progress = o->progress < 0 ? isatty(STDERR_FILENO) : o->progress > 0;
    d->base = event_base_new();
    conns = calloc(nc, sizeof *conns);
    if (!d->base || !conns)
        goto out;
    d->t0 = io_now_ms();
    if (d->progress) {
        d->tick = event_new(d->base, -1, EV_PERSIST, tick_cb, d);
        struct timeval tv = { 0, D_TICK_MS * 1000 };
        event_add(d->tick, &tv);
    }
    /* Ctrl-C ends the run early with the figures so far. */
    d->sigint = evsignal_new(d->base, SIGINT, stop_cb, d);
    d->sigterm = evsignal_new(d->base, SIGTERM, stop_cb, d);
    if (d->sigint)
        evsignal_add(d->sigint, NULL);
    if (d->sigterm)
        evsignal_add(d->sigterm, NULL);
    d->active = nc;
    for (uint32_t i = 0; i < nc; i++) {
        conns[i].d = d;
        next_request(&conns[i]);
    }
    if (d->active)
        event_base_dispatch(d->base);
    double secs = (double)(io_now_ms() - d->t0) / 1000.0;
    if (d->progress)
        live_line(d, true);
    printf("\n== %s: %u requests through %s in %.1f s (%.0f req/s, concurrency %u)%s ==\n",
           o->title ? o->title : "rotor lab drive", d->done, d->proxy_shown, secs,
           secs > 0 ? d->done / secs : 0.0, nc, d->interrupted ? ", interrupted" : "");
    printf("success: %llu/%u (%.1f%%)   retries: %llu", (unsigned long long)d->ok, d->done,
           d->done ? 100.0 * (double)d->ok / d->done : 0.0, (unsigned long long)d->retries);
    if (d->with_attempts)
        printf(" (X-Rotor-Attempts on %llu responses)", (unsigned long long)d->with_attempts);
    printf("\n");
    print_tally("failures by error (X-Rotor-Error, else status or transport error):", &d->by_error, true);
    print_tally("failures by origin (X-Rotor-Origin):", &d->by_origin, false);
    print_tally("statuses:", &d->by_status, false);
    print_tally("lab ground truth (X-Lab-Fault on responses):", &d->lab_truth, false);
    fflush(stdout);
    if (o->summary_json && write_summary(d, secs) != 0)
        fprintf(stderr, "rotor lab: cannot write %s\n", o->summary_json);
    rc = d->interrupted ? 130 : 0;
out:
    if (conns)
        for (uint32_t i = 0; i < nc; i++)
            drop(&conns[i]);
    free(conns);
    if (d->tick)
        event_free(d->tick);
    if (d->sigint)
        event_free(d->sigint);
    if (d->sigterm)
        event_free(d->sigterm);
    if (d->base)
        event_base_free(d->base);
    if (d->reqs)
        for (size_t i = 0; i < d->nurls; i++)
            free(d->reqs[i]);
    free(d->reqs);
    free(d);
    return rc;
}
