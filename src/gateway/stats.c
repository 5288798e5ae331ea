/* See stats.h. The request path (gw_stats_request) only adds to counters
 * the worker owns and writes into a private ring; everything shared with
 * the admin thread moves under the worker's mutex on its periodic tick. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/gw_int.h"
#include "gateway/stats.h"
#include "io/mailbox.h"
#include "io/clock.h"

const uint32_t gw_hist_bounds_ms[GW_HIST_BUCKETS] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000,
};

static unsigned hist_bucket(uint64_t ms)
{
    unsigned i = 0;
    while (i < GW_HIST_BUCKETS && ms > gw_hist_bounds_ms[i])
        i++;
    return i;
}

static void hist_add(gw_hist *h, uint64_t ms)
{
    gw_ctr_add(&h->b[hist_bucket(ms)], 1);
    gw_ctr_add(&h->sum_ms, ms);
}

/* ==== Per-upstream tables ==== */

static void up_table_free(gw_up_table *t)
{
    if (!t)
        return;
    free(t->ctr);
    free(t->snap);
    free(t);
}

static gw_up_table *up_table_new(const gw_pool *p)
{
    gw_up_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->gen = p->generation;
    t->n = p->pool.n < GW_STATS_UP_MAX ? p->pool.n : GW_STATS_UP_MAX;
    t->ctr = calloc(t->n ? t->n : 1, sizeof *t->ctr);
    t->snap = calloc(t->n ? t->n : 1, sizeof *t->snap);
    if (!t->ctr || !t->snap) {
        up_table_free(t);
        return NULL;
    }
    return t;
}

/* ==== The end of a request ==== */

/* The URL for the failure list: parsed pieces when the target parsed (no
 * userinfo can appear), else the raw target with any userinfo cut out. */
static void err_url(const gw_client *c, char *out, size_t cap)
{
    if (c->url.form == RT_TF_AUTHORITY) {
        snprintf(out, cap, "%.*s:%u", (int)c->url.host.n, c->url.host.p, c->url.port);
    } else if (c->url.form == RT_TF_ABSOLUTE) {
        snprintf(out, cap, "%.*s://%.*s:%u%.*s", (int)c->url.scheme.n, c->url.scheme.p, (int)c->url.host.n,
                 c->url.host.p, c->url.port, (int)c->url.path.n, c->url.path.p);
    } else if (c->head) {
        rt_slice t = c->req.target;
        const char *scheme = t.n > 3 ? memmem(t.p, t.n, "://", 3) : NULL;
        size_t keep = t.n;
        if (scheme) {
            size_t from = (size_t)(scheme - t.p) + 3, end = from;
            while (end < t.n && t.p[end] != '/' && t.p[end] != '?' && t.p[end] != '#')
                end++;
            const char *at = memchr(t.p + from, '@', end - from);
            if (at) { /* drop "user:pass@" */
                snprintf(out, cap, "%.*s%.*s", (int)from, t.p, (int)(t.n - (size_t)(at + 1 - t.p)), at + 1);
                return;
            }
        }
        snprintf(out, cap, "%.*s", (int)keep, t.p);
    } else {
        out[0] = 0;
    }
}

static void note_failure(gw_wstats *st, const gw_client *c, rt_code code, uint64_t dur)
{
    gw_err_rec *r = &st->priv[st->priv_n % GW_STATS_ERR_RING];
    r->time_ms = c->t_wall_ms + dur;
    r->code = (uint16_t)code;
    r->attempts = (uint16_t)c->natt;
    r->status = c->status;
    r->ms = dur > UINT32_MAX ? UINT32_MAX : (uint32_t)dur;
    snprintf(r->method, sizeof r->method, "%.*s", c->head ? (int)c->req.method.n : 0, c->head ? c->req.method.p : "");
    err_url(c, r->url, sizeof r->url);
    long idx = c->natt ? c->att[c->natt - 1].idx : -1;
    snprintf(r->upstream, sizeof r->upstream, "%s", idx >= 0 && c->pool ? c->pool->pool.v[idx].label : "");
    snprintf(r->evidence, sizeof r->evidence, "%s", c->evidence);
    st->priv_n++;
}

void gw_stats_request(const gw_client *c)
{
    gw_wstats *st = c->w->st;
    if (!st)
        return;
    rt_code code = c->code < RT_E__COUNT ? c->code : RT_E_gateway_internal_error;
    uint64_t dur = gw_now() - c->t_start_ms;
    gw_ctr_add(&st->req[code], 1);
    if (code == RT_E_ok && c->natt == 0)
        gw_ctr_add(&st->req_ok_local, 1);
    hist_add(&st->req_hist, dur);
    /* Retries sent: every attempt after the first. */
    gw_ctr_add(&st->retries, c->natt > 1 ? c->natt - 1 : 0);
    gw_ctr_add(&st->bytes_in, c->bytes_in + c->tunnel_up);
    gw_ctr_add(&st->bytes_out, c->bytes_out + c->tunnel_down);
    gw_up_table *t = st->up;
    bool per_up = t && c->pool && c->pool->generation == t->gen;
    for (unsigned i = 0; i < c->natt; i++) {
        const gw_attempt *a = &c->att[i];
        rt_code ac = a->code < RT_E__COUNT ? a->code : RT_E_gateway_internal_error;
        gw_ctr_add(&st->att[ac], 1);
        hist_add(&st->att_hist, a->ms);
        if (per_up && a->idx >= 0 && (size_t)a->idx < t->n) {
            gw_up_ctr *u = &t->ctr[a->idx];
            gw_ctr_add(&u->attempts, 1);
            if (ac != RT_E_ok)
                gw_ctr_add(&u->failures, 1);
            gw_ctr_add(&u->code[ac], 1);
            gw_ctr_add(&u->lat[hist_bucket(a->ms)], 1);
        }
    }
    if (code != RT_E_ok)
        note_failure(st, c, code, dur);
}

/* ==== Snapshots (worker thread) ==== */

/* Priority of a domain in the snapshot: any breaker not closed (or a
 * paused domain) first, then the busiest. */
static uint64_t dom_key(const gw_dom_snap *d)
{
    return ((uint64_t)(d->state != RT_BREAKER_CLOSED || d->paused) << 40) + d->outcomes;
}

static void snap_domains(gw_worker *w, uint64_t now)
{
    gw_wstats *st = w->st;
    rt_domains *t = &w->pol.domains;
    st->ndom = 0;
    st->domains_tracked = (uint32_t)t->count;
    st->domains_open = st->domains_half_open = 0;
    for (rt_domain *d = rt_domains_next(t, NULL); d; d = rt_domains_next(t, d)) {
        gw_dom_snap x;
        x.state = (uint8_t)rt_breaker_state_at(&d->breaker, now);
        x.outcomes = (uint32_t)rt_window_sum(&d->breaker.w, now, 0);
        x.failures = (uint32_t)rt_window_sum(&d->breaker.w, now, 1);
        uint64_t pace = rt_domain_pace_wait(d, now);
        x.paused = pace > 0;
        uint64_t wait = x.state == RT_BREAKER_OPEN ? d->breaker.open_until - now : pace;
        x.wait_ms = wait > UINT32_MAX ? UINT32_MAX : (uint32_t)wait;
        if (x.state == RT_BREAKER_OPEN)
            st->domains_open++;
        else if (x.state == RT_BREAKER_HALF_OPEN)
            st->domains_half_open++;
        uint64_t key = dom_key(&x);
        if (st->ndom == GW_STATS_DOMAINS && key <= dom_key(&st->dom[st->ndom - 1]))
            continue;
        /* Insert into the array kept sorted by key, largest first. */
        unsigned pos = st->ndom < GW_STATS_DOMAINS ? st->ndom++ : GW_STATS_DOMAINS - 1;
        while (pos > 0 && dom_key(&st->dom[pos - 1]) < key) {
            st->dom[pos] = st->dom[pos - 1];
            pos--;
        }
        memcpy(x.name, d->name, d->len + 1);
        x.hash = d->hash;
        x.bans = 0;
        st->dom[pos] = x;
    }
}

#define DOM_INDEX 128 /* open-addressing index of the snapshot's domains: 2x GW_STATS_DOMAINS */

static void scan_bans(gw_worker *w, gw_up_table *t, uint64_t now)
{
    gw_wstats *st = w->st;
    uint8_t index[DOM_INDEX];
    memset(index, 0xff, sizeof index);
    for (unsigned i = 0; i < st->ndom; i++) {
        unsigned h = (unsigned)(st->dom[i].hash % DOM_INDEX);
        while (index[h] != 0xff)
            h = (h + 1) % DOM_INDEX;
        index[h] = (uint8_t)i;
    }
    if (t)
        for (size_t i = 0; i < t->n; i++)
            t->snap[i].bans = 0;
    st->bans_live = 0;
    const rt_bans *b = &w->pol.bans;
    for (size_t i = 0; i < b->cap; i++) {
        const rt_ban_slot *s = &b->slot[i];
        if (!s->used || s->expires <= now)
            continue;
        st->bans_live++;
        if (t && s->exit < t->n)
            t->snap[s->exit].bans++;
        for (unsigned h = (unsigned)(s->domain % DOM_INDEX); index[h] != 0xff; h = (h + 1) % DOM_INDEX) {
            if (st->dom[index[h]].hash == s->domain) {
                st->dom[index[h]].bans++;
                break;
            }
        }
    }
    st->pauses_live = rt_bans_count(&w->pol.pauses, now);
}

static void snap_upstreams(gw_worker *w, gw_up_table *t, uint64_t now)
{
    gw_policy *p = &w->pol;
    t->snap_valid = p->outlier.e && p->outlier_gen == t->gen;
    if (!t->snap_valid)
        return;
    for (size_t i = 0; i < t->n && i < p->outlier.n; i++) {
        gw_up_snap *u = &t->snap[i];
        u->quarantined = rt_outlier_quarantined(&p->outlier, i, now);
        u->ejected = !u->quarantined && !rt_outlier_usable(&p->outlier, i, now);
        rt_code q = p->quarantine_code ? p->quarantine_code[i] : RT_E__COUNT;
        u->qcode = q < RT_E__COUNT ? (uint16_t)q : GW_QCODE_OPERATOR;
    }
}

static void copy_errors(gw_wstats *st)
{
    if (st->priv_n - st->priv_copied > GW_STATS_ERR_RING)
        st->priv_copied = st->priv_n - GW_STATS_ERR_RING;
    for (; st->priv_copied < st->priv_n; st->priv_copied++)
        st->ring[st->ring_n++ % GW_STATS_ERR_RING] = st->priv[st->priv_copied % GW_STATS_ERR_RING];
}

static void refresh(gw_worker *w)
{
    gw_wstats *st = w->st;
    uint64_t now = gw_now();
    gw_pool *p = gw_pool_acquire(w->srv);
    gw_up_table *fresh = NULL, *old = NULL;
    if (!st->up || st->up->gen < p->generation)
        fresh = up_table_new(p); /* allocated outside the lock; NULL keeps the old one */
    gw_policy_outlier(&w->pol, p);
    pthread_mutex_lock(&st->mu);
    if (fresh) {
        old = st->up;
        st->up = fresh;
    }
    gw_up_table *t = st->up;
    if (t)
        snap_upstreams(w, t, now);
    snap_domains(w, now);
    scan_bans(w, t, now);
    st->budget_retries = rt_window_sum(&w->pol.budget.w, now, 1);
    st->budget_allowed = rt_budget_allowed(&w->pol.budget, now);
    copy_errors(st);
    st->snap_ms = now;
    st->ticks++;
    pthread_mutex_unlock(&st->mu);
    up_table_free(old);
    gw_pool_release(p);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    refresh(arg);
}

/* ==== Commands (worker thread) ==== */

static long find_label(const gw_pool *p, const char *label)
{
    for (size_t i = 0; i < p->pool.n; i++)
        if (strcmp(p->pool.v[i].label, label) == 0)
            return (long)i;
    return -1;
}

static void apply(gw_worker *w, const gw_cmd *cmd, gw_cmd_result *res)
{
    gw_policy *pol = &w->pol;
    uint64_t now = gw_now();
    res->seq = cmd->seq;
    res->found = 0;
    res->rc = 0;
    res->detail[0] = 0;
    switch (cmd->kind) {
    case GW_CMD_QUARANTINE:
    case GW_CMD_READMIT: {
        gw_pool *p = gw_pool_acquire(w->srv);
        rt_outlier *o = gw_policy_outlier(pol, p);
        long idx = find_label(p, cmd->arg);
        if (idx >= 0 && o) {
            res->found = 1;
            if (cmd->kind == GW_CMD_QUARANTINE) {
                rt_outlier_quarantine(o, (size_t)idx, now);
                if (pol->quarantine_code)
                    pol->quarantine_code[idx] = RT_E__COUNT; /* the operator's decision */
            } else {
                rt_outlier_readmit(o, (size_t)idx);
            }
        }
        gw_pool_release(p);
        break;
    }
    case GW_CMD_DOMAIN_RESET: {
        rt_domain *d = rt_domains_find(&pol->domains, rt_slice_cstr(cmd->arg));
        if (d) {
            res->found = 1;
            rt_breaker_init(&d->breaker, &pol->domains.breaker_cfg);
            d->not_before_ms = 0;
            d->backoff_streak = 0;
            rt_bans_lift_domain(&pol->bans, d->hash, now);
            rt_bans_lift_domain(&pol->pauses, d->hash, now);
        }
        break;
    }
    case GW_CMD_RELOAD:
        res->found = 1;
        res->rc = gw_reload(w->srv, res->detail, sizeof res->detail);
        break;
    }
}

void gw_stats_take_commands(gw_worker *w)
{
    gw_wstats *st = w->st;
    gw_cmd q[GW_CMD_QUEUE];
    pthread_mutex_lock(&st->mu);
    unsigned n = st->nq;
    memcpy(q, st->q, n * sizeof q[0]);
    st->nq = 0;
    pthread_mutex_unlock(&st->mu);
    if (!n)
        return; /* woken for something else (a drain) */
    gw_cmd_result res = { 0 };
    for (unsigned i = 0; i < n; i++)
        apply(w, &q[i], &res);
    /* Refresh at once so a read right after the command sees its effect. */
    refresh(w);
    pthread_mutex_lock(&st->mu);
    if (n)
        st->res = res;
    pthread_cond_broadcast(&st->cmd_done);
    pthread_mutex_unlock(&st->mu);
}

static bool cmd_for_worker(gw_cmd_kind kind, unsigned id) { return kind != GW_CMD_RELOAD || id == 0; }

unsigned gw_stats_command(gw_server *s, gw_cmd_kind kind, const char *arg, unsigned timeout_ms,
                          unsigned *found, int *rc, char *detail, size_t detail_len)
{
    uint64_t seq[256] = { 0 };
    unsigned nw = s->nworkers < 256 ? s->nworkers : 256;
    *found = 0;
    *rc = 0;
    if (detail_len)
        detail[0] = 0;
    for (unsigned i = 0; i < nw; i++) {
        gw_wstats *st = s->workers[i].st;
        if (!cmd_for_worker(kind, i))
            continue;
        pthread_mutex_lock(&st->mu);
        if (st->nq < GW_CMD_QUEUE) {
            gw_cmd *c = &st->q[st->nq++];
            c->kind = kind;
            c->seq = seq[i] = ++st->seq_queued;
            snprintf(c->arg, sizeof c->arg, "%s", arg ? arg : "");
        }
        pthread_mutex_unlock(&st->mu);
        if (seq[i])
            io_mailbox_post(s->workers[i].mail);
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    unsigned applied = 0;
    for (unsigned i = 0; i < nw; i++) {
        if (!seq[i])
            continue;
        gw_wstats *st = s->workers[i].st;
        pthread_mutex_lock(&st->mu);
        int e = 0;
        while (st->res.seq < seq[i] && e != ETIMEDOUT)
            e = pthread_cond_timedwait(&st->cmd_done, &st->mu, &until);
        if (st->res.seq >= seq[i]) {
            applied++;
            if (st->res.seq == seq[i]) {
                *found += (unsigned)st->res.found;
                if (kind == GW_CMD_RELOAD) {
                    *rc = st->res.rc;
                    snprintf(detail, detail_len, "%s", st->res.detail);
                }
            }
        }
        pthread_mutex_unlock(&st->mu);
    }
    return applied;
}

/* ==== Life cycle ==== */

int gw_stats_worker_init(gw_worker *w, bool ticks, char *err, size_t errlen)
{
    gw_wstats *st = calloc(1, sizeof *st);
    if (!st || !(st->priv = calloc(GW_STATS_ERR_RING, sizeof *st->priv)) ||
        !(st->ring = calloc(GW_STATS_ERR_RING, sizeof *st->ring))) {
        if (st) {
            free(st->priv);
            free(st);
        }
        snprintf(err, errlen, "out of memory for statistics");
        return -1;
    }
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cmd_done, NULL);
    w->st = st;
    if (ticks) {
        /* Per-upstream tables exist before the first request arrives. */
        refresh(w);
        st->tick_ev = event_new(w->base, -1, EV_PERSIST, on_tick, w);
        struct timeval tv = { 0, GW_STATS_TICK_MS * 1000 };
        event_add(st->tick_ev, &tv);
    }
    if (ticks && !st->tick_ev) {
        snprintf(err, errlen, "cannot create the statistics events");
        return -1;
    }
    return 0;
}

void gw_stats_worker_free(gw_worker *w)
{
    gw_wstats *st = w->st;
    if (!st)
        return;
    if (st->tick_ev)
        event_free(st->tick_ev);
    up_table_free(st->up);
    free(st->priv);
    free(st->ring);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cmd_done);
    free(st);
    w->st = NULL;
}

/* ==== Reading (any thread) ==== */

void gw_stats_totals(gw_server *s, gw_totals *t)
{
    memset(t, 0, sizeof *t);
    for (unsigned i = 0; i < s->nworkers; i++) {
        const gw_wstats *st = s->workers[i].st;
        if (!st)
            continue;
        for (unsigned c = 0; c < RT_E__COUNT; c++) {
            t->req[c] += gw_ctr_get(&st->req[c]);
            t->att[c] += gw_ctr_get(&st->att[c]);
        }
        t->req_ok_local += gw_ctr_get(&st->req_ok_local);
        t->retries += gw_ctr_get(&st->retries);
        t->bytes_in += gw_ctr_get(&st->bytes_in);
        t->bytes_out += gw_ctr_get(&st->bytes_out);
        for (unsigned b = 0; b <= GW_HIST_BUCKETS; b++) {
            t->req_hist[b] += gw_ctr_get(&st->req_hist.b[b]);
            t->att_hist[b] += gw_ctr_get(&st->att_hist.b[b]);
        }
        t->req_sum_ms += gw_ctr_get(&st->req_hist.sum_ms);
        t->att_sum_ms += gw_ctr_get(&st->att_hist.sum_ms);
    }
}

int gw_stats_upstreams(gw_server *s, gw_up_view *v)
{
    memset(v, 0, sizeof *v);
    v->pool = gw_pool_acquire(s);
    v->n = v->pool->pool.n;
    v->e = calloc(v->n ? v->n : 1, sizeof *v->e);
    if (!v->e) {
        gw_pool_release(v->pool);
        v->pool = NULL;
        return -1;
    }
    for (size_t i = 0; i < v->n; i++)
        v->e[i].in_flight = atomic_load_explicit(&v->pool->in_flight[i], memory_order_relaxed);
    for (unsigned w = 0; w < s->nworkers; w++) {
        gw_wstats *st = s->workers[w].st;
        if (!st)
            continue;
        pthread_mutex_lock(&st->mu);
        const gw_up_table *t = st->up;
        if (t && t->gen == v->pool->generation) {
            for (size_t i = 0; i < t->n && i < v->n; i++) {
                gw_up_view_entry *e = &v->e[i];
                const gw_up_ctr *u = &t->ctr[i];
                e->tracked = true;
                e->attempts += gw_ctr_get(&u->attempts);
                e->failures += gw_ctr_get(&u->failures);
                for (unsigned c = 0; c < RT_E__COUNT; c++)
                    e->code[c] += gw_ctr_get(&u->code[c]);
                for (unsigned b = 0; b <= GW_HIST_BUCKETS; b++)
                    e->lat[b] += gw_ctr_get(&u->lat[b]);
                if (t->snap_valid) {
                    const gw_up_snap *sn = &t->snap[i];
                    e->ejected += sn->ejected;
                    if (sn->quarantined) {
                        e->quarantined++;
                        e->qcode = sn->qcode;
                    }
                    e->bans += sn->bans;
                }
            }
        }
        pthread_mutex_unlock(&st->mu);
    }
    return 0;
}

void gw_up_view_free(gw_up_view *v)
{
    free(v->e);
    if (v->pool)
        gw_pool_release(v->pool);
    memset(v, 0, sizeof *v);
}

static int state_rank(uint8_t s)
{
    return s == RT_BREAKER_OPEN ? 2 : s == RT_BREAKER_HALF_OPEN ? 1 : 0;
}

static int dom_cmp(const void *a, const void *b)
{
    const gw_dom_snap *x = a, *y = b;
    if (state_rank(x->state) != state_rank(y->state))
        return state_rank(y->state) - state_rank(x->state);
    return x->outcomes < y->outcomes ? 1 : x->outcomes > y->outcomes ? -1 : strcmp(x->name, y->name);
}

int gw_stats_policy(gw_server *s, gw_policy_view *v)
{
    memset(v, 0, sizeof *v);
    size_t cap = (size_t)s->nworkers * GW_STATS_DOMAINS;
    v->dom = calloc(cap ? cap : 1, sizeof *v->dom);
    if (!v->dom)
        return -1;
    for (unsigned w = 0; w < s->nworkers; w++) {
        gw_wstats *st = s->workers[w].st;
        if (!st)
            continue;
        pthread_mutex_lock(&st->mu);
        v->budget_retries += st->budget_retries;
        v->budget_allowed += st->budget_allowed;
        v->bans_live += st->bans_live;
        v->pauses_live += st->pauses_live;
        v->domains_tracked += st->domains_tracked;
        for (unsigned i = 0; i < st->ndom; i++) {
            const gw_dom_snap *d = &st->dom[i];
            size_t j = 0;
            while (j < v->ndom && strcmp(v->dom[j].name, d->name) != 0)
                j++;
            if (j == v->ndom) {
                v->dom[v->ndom++] = *d;
                continue;
            }
            gw_dom_snap *m = &v->dom[j];
            m->outcomes += d->outcomes;
            m->failures += d->failures;
            m->bans += d->bans;
            m->paused = m->paused || d->paused;
            if (state_rank(d->state) > state_rank(m->state) || (d->state == m->state && d->wait_ms > m->wait_ms)) {
                m->state = d->state;
                m->wait_ms = d->wait_ms;
            }
        }
        pthread_mutex_unlock(&st->mu);
    }
    qsort(v->dom, v->ndom, sizeof *v->dom, dom_cmp);
    return 0;
}

void gw_policy_view_free(gw_policy_view *v)
{
    free(v->dom);
    memset(v, 0, sizeof *v);
}

static int err_cmp(const void *a, const void *b)
{
    const gw_err_rec *x = a, *y = b;
    return x->time_ms < y->time_ms ? 1 : x->time_ms > y->time_ms ? -1 : 0;
}

size_t gw_stats_errors(gw_server *s, uint64_t since_ms, gw_err_rec *out, size_t max)
{
    size_t cap = (size_t)s->nworkers * GW_STATS_ERR_RING;
    gw_err_rec *all = calloc(cap ? cap : 1, sizeof *all);
    if (!all)
        return 0;
    size_t n = 0;
    for (unsigned w = 0; w < s->nworkers; w++) {
        gw_wstats *st = s->workers[w].st;
        if (!st)
            continue;
        pthread_mutex_lock(&st->mu);
        uint64_t have = st->ring_n < GW_STATS_ERR_RING ? st->ring_n : GW_STATS_ERR_RING;
        for (uint64_t k = st->ring_n - have; k < st->ring_n; k++) {
            const gw_err_rec *r = &st->ring[k % GW_STATS_ERR_RING];
            if (r->time_ms > since_ms)
                all[n++] = *r;
        }
        pthread_mutex_unlock(&st->mu);
    }
    qsort(all, n, sizeof *all, err_cmp);
    if (n > max)
        n = max;
    memcpy(out, all, n * sizeof *out);
    free(all);
    return n;
}

double gw_hist_quantile(const uint64_t *b, double q)
{
    uint64_t total = 0;
    for (unsigned i = 0; i <= GW_HIST_BUCKETS; i++)
        total += b[i];
    if (!total)
        return 0;
    double want = q * (double)total, seen = 0;
    for (unsigned i = 0; i <= GW_HIST_BUCKETS; i++) {
        if (seen + (double)b[i] >= want && b[i]) {
            double lo = i ? gw_hist_bounds_ms[i - 1] : 0;
            double hi = i < GW_HIST_BUCKETS ? gw_hist_bounds_ms[i] : gw_hist_bounds_ms[GW_HIST_BUCKETS - 1];
            return lo + (hi - lo) * ((want - seen) / (double)b[i]);
        }
        seen += (double)b[i];
    }
    return gw_hist_bounds_ms[GW_HIST_BUCKETS - 1];
}
