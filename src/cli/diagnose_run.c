/* rotor diagnose: the walk, the probes behind each step, and the run that
 * drives every entry with bounded parallelism (judging is diagnose_judge.c).
 *
 * Every entry walks the same stages; each stage is one io_hc request whose
 * callback judges it and starts the next. A step that fails ends the walk
 * (later steps are shown as skipped): the flowchart changes one variable at
 * a time, so what comes after a failure would not be interpretable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "cli/diagnose_int.h"
#include "core/errors/sig.h"
#include "io/clock.h"
#include "io/files.h"

enum stage {
    SG_CONNECT = 1,   /* step 1: DNS + TCP connect to the proxy */
    SG_AUTH_WITHOUT,  /* step 2: the reference without credentials */
    SG_AUTH_WITH,     /* step 2: ... with them (step 3 judges this answer) */
    SG_REF_DIRECT,    /* step 3: the reference without the proxy (--compare-direct) */
    SG_TARGET,        /* step 4: the target through the proxy */
    SG_TARGET_DIRECT, /* step 4: ... without the proxy (--compare-direct) */
    SG_SAMPLE,        /* step 5: one of N samples */
    SG_DONE,
};

/* ==== the walk ==== */

static void next(dg_entry *e);
static void hc_done(io_hc *h, const io_hc_result *r, void *arg);

/* Start waiting entries while fewer than o->parallel are under way. */
static void start_waiting(dg_run *run)
{
    while (run->next < run->n && run->active < run->o->parallel) {
        dg_entry *e = &run->entries[run->next++];
        run->active++;
        e->stage = SG_CONNECT;
        next(e);
    }
}

static void entry_finish(dg_entry *e)
{
    dg_run *run = e->run;
    e->stage = SG_DONE;
    e->done = true;
    e->failed_step = 0;
    for (int i = 1; i <= DG_STEPS; i++) {
        if (dg_step_of(e, i)->st == DG_FAIL && !e->failed_step)
            e->failed_step = i;
        if (i > e->last_step)
            continue;
        if (dg_step_of(e, i)->st == DG_NOTRUN)
            dg_set(dg_step_of(e, i), DG_SKIP, RT_E_ok, "skipped: step %d failed", e->failed_step);
    }
    run->active--;
    run->finished++;
    if (run->progress) {
        size_t ok = 0;
        for (size_t i = 0; i < run->n; i++)
            ok += run->entries[i].done && !run->entries[i].failed_step;
        fprintf(stderr, "\r\033[K[diagnose] %zu/%zu checked, %zu work", run->finished, run->n, ok);
        fflush(stderr);
    }
    /* Start the next waiting entry, or end the loop after the last. */
    start_waiting(run);
    if (run->finished == run->n)
        event_base_loopexit(run->base, NULL);
}

static void launch(dg_entry *e, const char *url, bool via_proxy, const char *auth, bool connect_only)
{
    dg_run *run = e->run;
    const dg_opts *o = run->o;
    io_hc_opts ho = {
        .url = url,
        .proxy_auth = auth,
        .ssl_ctx = run->tls,
        .connect_timeout_ms = o->connect_ms,
        .read_timeout_ms = o->read_ms,
        .connect_only = connect_only,
    };
    if (via_proxy && !dg_is_direct(e)) {
        ho.proxy_host = e->up.host;
        ho.proxy_port = e->up.port;
        if (e->up.scheme == RT_UP_HTTPS)
            ho.proxy_ssl_ctx = run->proxy_tls;
        if (e->addrlen) {
            ho.addr = (struct sockaddr *)&e->addr;
            ho.addrlen = e->addrlen;
        }
    } else if (url) {
        rt_url u;
        rt_slice host = dg_url_host(url, &u);
        for (size_t i = 0; i < o->nconnect_to; i++) {
            const dg_connect_to *c = &o->connect_to[i];
            if (rt_slice_eq_ci(host, c->host) && u.port == c->port) {
                ho.connect_host = c->to_host;
                ho.connect_port = c->to_port;
                break;
            }
        }
    }
    char err[256];
    e->hc = io_hc_start(run->base, run->dns, &ho, hc_done, e, err, sizeof err);
    if (!e->hc) {
        dg_step *s = dg_step_of(e, e->stage <= SG_CONNECT ? 1 : e->stage <= SG_REF_DIRECT ? 3 : e->stage <= SG_TARGET_DIRECT ? 4 : 5);
        dg_set(s, DG_FAIL, RT_E_gateway_internal_error, "cannot send the request: %s", err);
        entry_finish(e);
    }
}

static void sample_wait_cb(evutil_socket_t fd, short what, void *arg)
{
    dg_entry *e = arg;
    const char *url = e->run->o->target ? e->run->o->target : e->run->o->reference;
    char ab[RT_UP_USER_MAX + RT_UP_PASS_MAX + 64];
    launch(e, url, true, dg_auth_value(e, (unsigned)(100 + e->nsamples), ab, sizeof ab), false);
}

/* ==== dispatch ==== */

static void next(dg_entry *e)
{
    dg_run *run = e->run;
    const dg_opts *o = run->o;
    char ab[RT_UP_USER_MAX + RT_UP_PASS_MAX + 64];
    switch (e->stage) {
    case SG_CONNECT:
        if (dg_is_direct(e)) {
            dg_set(dg_step_of(e, 1), DG_SKIP, RT_E_ok, "direct entry: no proxy to reach");
            dg_set(dg_step_of(e, 2), DG_SKIP, RT_E_ok, "direct entry: no proxy authentication");
            e->stage = SG_AUTH_WITH;
            launch(e, o->reference, false, NULL, false);
            return;
        }
        launch(e, NULL, true, NULL, true);
        return;
    case SG_AUTH_WITHOUT:
        launch(e, o->reference, true, NULL, false);
        return;
    case SG_AUTH_WITH:
        launch(e, o->reference, true, dg_auth_value(e, 0, ab, sizeof ab), false);
        return;
    case SG_REF_DIRECT:
        launch(e, o->reference, false, NULL, false);
        return;
    case SG_TARGET:
        if (e->last_step < 4) {
            entry_finish(e);
            return;
        }
        if (!o->target) {
            dg_set(dg_step_of(e, 4), DG_SKIP, RT_E_ok, "no TARGET_URL given");
            e->stage = SG_SAMPLE;
            next(e);
            return;
        }
        launch(e, o->target, true, dg_auth_value(e, 1, ab, sizeof ab), false);
        return;
    case SG_TARGET_DIRECT:
        launch(e, o->target, false, NULL, false);
        return;
    case SG_SAMPLE:
        if (e->last_step < 5 || !o->samples) {
            if (e->last_step >= 5)
                dg_set(dg_step_of(e, 5), DG_SKIP, RT_E_ok, "--samples 0");
            entry_finish(e);
            return;
        }
        if (!e->samples) {
            e->samples = calloc(o->samples, sizeof *e->samples);
            if (!e->samples) {
                dg_set(dg_step_of(e, 5), DG_FAIL, RT_E_gateway_internal_error, "out of memory");
                entry_finish(e);
                return;
            }
        }
        if (e->nsamples && o->interval_ms) {
            if (!e->wait_ev)
                e->wait_ev = evtimer_new(run->base, sample_wait_cb, e);
            struct timeval tv = { (time_t)(o->interval_ms / 1000), (suseconds_t)((o->interval_ms % 1000) * 1000) };
            if (e->wait_ev && evtimer_add(e->wait_ev, &tv) == 0)
                return;
        }
        sample_wait_cb(-1, 0, e);
        return;
    default:
        entry_finish(e);
        return;
    }
}

/* After steps 2-3 (SG_AUTH_WITHOUT without credentials, SG_AUTH_WITH): the
 * stage to run next, SG_DONE when the walk ends. */
static int after_reference(dg_entry *e)
{
    const dg_opts *o = e->run->o;
    bool s2_failed = dg_step_of(e, 2)->st == DG_FAIL;
    bool want_direct = o->compare_direct && e->last_step >= 3 &&
                       (dg_step_of(e, 3)->st != DG_NOTRUN || (s2_failed && dg_step_of(e, 2)->code == RT_E_proxy_auth_required));
    if (want_direct && !dg_is_direct(e))
        return SG_REF_DIRECT;
    if (s2_failed || dg_step_of(e, 3)->st == DG_FAIL || dg_step_of(e, 3)->st == DG_NOTRUN)
        return SG_DONE;
    return SG_TARGET;
}

/* Judges the answer to the entry's current stage. Returns the stage to run
 * next, SG_DONE when the walk ends (a failed step ends it). */
static int judge_stage(dg_entry *e, const io_hc_result *r)
{
    const dg_opts *o = e->run->o;
    switch (e->stage) {
    case SG_CONNECT:
        dg_judge_connect(e, r);
        return dg_step_of(e, 1)->st == DG_FAIL ? SG_DONE : SG_AUTH_WITHOUT;
    case SG_AUTH_WITHOUT: {
        dg_judge_auth_without(e, r);
        bool has = e->up.user != NULL && !e->cred_error;
        if (!dg_auth_transport_failed(e, r, false) && !has) {
            if (e->cred_error) {
                dg_judge_cred_error(e);
            } else {
                dg_judge_auth(e, NULL);
                if (dg_step_of(e, 2)->st != DG_FAIL)
                    dg_judge_reference(e, r, false);
            }
        }
        if (has && dg_step_of(e, 2)->st != DG_FAIL)
            return SG_AUTH_WITH;
        return after_reference(e);
    }
    case SG_AUTH_WITH:
        if (dg_is_direct(e)) {
            dg_judge_reference(e, r, false);
        } else if (!dg_auth_transport_failed(e, r, true)) {
            dg_judge_auth(e, r);
            if (dg_step_of(e, 2)->st != DG_FAIL)
                dg_judge_account(e, r);
            if (dg_step_of(e, 2)->st != DG_FAIL)
                dg_judge_reference(e, r, true);
        }
        return after_reference(e);
    case SG_REF_DIRECT:
        dg_judge_reference_direct(e, r);
        return dg_step_of(e, 2)->st == DG_FAIL || dg_step_of(e, 3)->st == DG_FAIL ? SG_DONE : SG_TARGET;
    case SG_TARGET:
        dg_judge_target(e, r);
        if (o->compare_direct)
            return SG_TARGET_DIRECT;
        return dg_step_of(e, 4)->st == DG_FAIL ? SG_DONE : SG_SAMPLE;
    case SG_TARGET_DIRECT:
        dg_judge_target_direct(e, r);
        return dg_step_of(e, 4)->st == DG_FAIL ? SG_DONE : SG_SAMPLE;
    case SG_SAMPLE:
        dg_record_sample(e, r, o->target ? o->target : o->reference);
        if (e->nsamples < o->samples)
            return SG_SAMPLE;
        dg_judge_samples(e);
        return SG_DONE;
    default:
        return SG_DONE;
    }
}

/* One probe answered: judge it, release the request, then go on. */
static void hc_done(io_hc *h, const io_hc_result *r, void *arg)
{
    dg_entry *e = arg;
    int to = judge_stage(e, r);
    io_hc_free(h);
    e->hc = NULL;
    if (to == SG_DONE) {
        entry_finish(e);
        return;
    }
    e->stage = to;
    next(e);
}

/* ==== the run ==== */

int dg_run_all(dg_run *run)
{
    char err[256];
    run->base = event_base_new();
    if (!run->base) {
        snprintf(run->err, sizeof run->err, "cannot create an event loop");
        return -1;
    }
    run->dns = evdns_base_new(run->base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (!run->dns) {
        /* No resolv.conf: names still resolve from the hosts file. */
        run->dns = evdns_base_new(run->base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
        if (run->dns)
            evdns_base_load_hosts(run->dns, NULL);
    }
    if (run->dns) {
        char tmo[16];
        snprintf(tmo, sizeof tmo, "%u.%03u", run->o->connect_ms / 1000, run->o->connect_ms % 1000);
        evdns_base_set_option(run->dns, "timeout:", tmo);
        evdns_base_set_option(run->dns, "attempts:", "1");
    }
    bool https = !strncasecmp(run->o->reference, "https://", 8) ||
                 (run->o->target && !strncasecmp(run->o->target, "https://", 8));
    if (https) {
        run->tls = io_hc_tls_ctx(run->o->ca_file, err, sizeof err);
        if (!run->tls) {
            snprintf(run->err, sizeof run->err, "%s", err);
            return -1;
        }
    }
    for (size_t i = 0; i < run->n && !run->proxy_tls; i++) {
        if (run->entries[i].up.scheme != RT_UP_HTTPS)
            continue;
        run->proxy_tls = io_tls_proxy_ctx(run->o->ca_file, true, err, sizeof err);
        if (!run->proxy_tls) {
            snprintf(run->err, sizeof run->err, "--ca-file: %.200s", err);
            return -1;
        }
    }
    run->sigs = rt_sigset_new();
    if (!run->sigs || rt_sigset_add_builtin(run->sigs, err, sizeof err) != 0 ||
        (run->o->signatures && io_sig_load_file(run->o->signatures, run->sigs, err, sizeof err) != 0)) {
        snprintf(run->err, sizeof run->err, "signatures: %.200s", run->sigs ? err : "out of memory");
        return -1;
    }
    run->t0_ms = io_now_ms();
    for (size_t i = 0; i < run->n; i++)
        run->entries[i].run = run;
    start_waiting(run);
    if (run->finished < run->n)
        event_base_dispatch(run->base);
    run->elapsed_ms = io_now_ms() - run->t0_ms;
    if (run->progress) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
    return 0;
}

void dg_run_clear(dg_run *run)
{
    for (size_t i = 0; i < run->n; i++)
        dg_entry_clear(&run->entries[i]);
    if (run->sigs)
        rt_sigset_free(run->sigs);
    if (run->tls)
        SSL_CTX_free(run->tls);
    if (run->proxy_tls)
        SSL_CTX_free(run->proxy_tls);
    run->proxy_tls = NULL;
    if (run->dns)
        evdns_base_free(run->dns, 0);
    if (run->base)
        event_base_free(run->base);
    run->sigs = NULL;
    run->tls = NULL;
    run->dns = NULL;
    run->base = NULL;
}
