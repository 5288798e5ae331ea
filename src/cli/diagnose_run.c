/* rotor diagnose: the probes behind each step and how each is judged.
 *
 * Every entry walks the same stages; each stage is one io_hc request whose
 * callback judges it and starts the next. A step that fails ends the walk
 * (later steps are shown as skipped): the flowchart changes one variable at
 * a time, so what comes after a failure would not be interpretable. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "cli/diagnose.h"
#include "core/diag/diag.h"
#include "core/errors/sig.h"
#include "core/http/http1.h"
#include "core/policy/retry_after.h"
#include "io/clock.h"
#include "io/hclient.h"

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

const char *dg_step_name(int step)
{
    static const char *const names[] = { "reach the proxy", "authentication", "proxy reaches reference",
                                         "target through proxy", "intermittency" };
    return step >= 1 && step <= DG_STEPS ? names[step - 1] : "?";
}

const char *dg_status_name(dg_status s)
{
    switch (s) {
    case DG_PASS: return "pass";
    case DG_WARN: return "warn";
    case DG_FAIL: return "fail";
    case DG_SKIP: return "skipped";
    default: return "not_run";
    }
}

/* ==== step records ==== */

static dg_step *step(dg_entry *e, int n) { return &e->steps[n - 1]; }

static void note(dg_step *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(dg_step *s, const char *fmt, ...)
{
    if (s->nnotes == DG_NOTES_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->notes[s->nnotes++], DG_LINE_MAX, fmt, ap);
    va_end(ap);
}

static void hint(dg_step *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hint(dg_step *s, const char *fmt, ...)
{
    if (s->nhints == DG_HINTS_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->hints[s->nhints++], DG_LINE_MAX, fmt, ap);
    va_end(ap);
}

static void set(dg_step *s, dg_status st, rt_code code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void set(dg_step *s, dg_status st, rt_code code, const char *fmt, ...)
{
    s->st = st;
    s->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->summary, sizeof s->summary, fmt, ap);
    va_end(ap);
}

/* ==== entries ==== */

static void entry_init(dg_entry *e)
{
    memset(e, 0, sizeof *e);
    for (int i = 1; i <= DG_STEPS; i++)
        step(e, i)->ms = -1;
    e->ms_dns = e->ms_connect = e->ms_reference = e->ms_target = -1;
    e->retry_after_s = -1;
    e->last_step = DG_STEPS;
}

int dg_entry_from_text(dg_entry *e, const char *text, char *err, size_t errlen)
{
    entry_init(e);
    e->index = 1;
    size_t n = strlen(text);
    char perr[256];
    if (rt_upstream_parse(text, n, &e->up, perr, sizeof perr) == 0) {
        rt_diag_show_entry(&e->up, e->shown, sizeof e->shown);
        snprintf(e->label, sizeof e->label, "%s", e->up.label);
        return 0;
    }
    rt_diag_mask_text(text, n, e->shown, sizeof e->shown);
    if (rt_diag_err_is_credentials(perr) && rt_diag_recover_address(text, n, &e->up) == 0) {
        /* Keep going with the address alone: step 1 can still be checked,
         * and step 2 reports the parser's precise message. */
        e->cred_error = true;
        snprintf(e->parse_err, sizeof e->parse_err, "%s", perr);
        snprintf(e->label, sizeof e->label, "%s", e->up.label);
        return 0;
    }
    snprintf(err, errlen, "'%s': %s", e->shown, perr);
    return -1;
}

void dg_entry_from_pool(dg_entry *e, rt_upstream *u, size_t index)
{
    entry_init(e);
    e->index = index;
    e->up = *u;
    memset(u, 0, sizeof *u);
    rt_diag_show_entry(&e->up, e->shown, sizeof e->shown);
    snprintf(e->label, sizeof e->label, "%s", e->up.label ? e->up.label : "?");
}

void dg_entry_clear(dg_entry *e)
{
    if (e->hc)
        io_hc_free(e->hc);
    if (e->wait_ev)
        event_free(e->wait_ev);
    free(e->samples);
    rt_upstream_clear(&e->up);
    e->hc = NULL;
    e->wait_ev = NULL;
    e->samples = NULL;
}

static bool is_direct(const dg_entry *e) { return e->up.scheme == RT_UP_DIRECT; }

/* The Proxy-Authorization value for request n of this entry; NULL when the
 * entry has no credentials. A session slot gets a token per request so a
 * backconnect gateway hands out its usual rotating exits. */
static const char *auth_value(const dg_entry *e, unsigned n, char *buf, size_t cap)
{
    if (!e->up.user || e->cred_error)
        return NULL;
    char sess[48];
    snprintf(sess, sizeof sess, "rotordiag%ld%u", (long)getpid(), n);
    return rt_upstream_auth(&e->up, sess, buf, cap) > 0 ? buf : NULL;
}

/* ==== judging one answer ==== */

static rt_slice url_host(const char *url, rt_url *u)
{
    if (rt_url_parse_target(rt_slice_cstr(url), RT_M_GET, u) != 0)
        return RT_SLICE_NULL;
    return u->host;
}

static void classify(dg_run *run, const io_hc_result *r, const char *url, bool creds, rt_classify_out *out)
{
    rt_url u;
    rt_classify_in in = {
        .phase = r->phase,
        .via_proxy = r->via_proxy,
        .sent_credentials = creds,
        .method = r->connect_reply ? RT_M_CONNECT : RT_M_GET,
        .host = url_host(url, &u),
        .sys_errno = r->sys_errno,
        .timed_out = r->timed_out,
        .peer_closed = r->peer_closed,
        .bad_response = r->bad_response,
    };
    if (r->resp.status > 0) {
        in.status = r->resp.status;
        in.reason = r->resp.reason;
        in.hdrs = r->resp.h.hdrs;
        in.nhdrs = r->resp.h.nhdrs;
        in.body = rt_slice_from(r->body, r->body_len);
        in.body_total = r->resp.h.body == RT_BODY_LENGTH ? r->resp.h.content_length : 0;
    }
    rt_classify(&in, run->sigs, out);
    if (r->resp.status <= 0 && r->phase == RT_PH_TLS) {
        /* Through a CONNECT tunnel (or direct) the TLS session is with the
         * target, never with the (plain http://) proxy. */
        rt_code c = r->tls_verify_failed ? RT_E_target_certificate_invalid : RT_E_target_tls_failed;
        const rt_code_info *ci = rt_code_get(c);
        out->code = c;
        out->origin = ci->origin;
        out->cls = ci->cls;
        snprintf(out->evidence, sizeof out->evidence, "TLS handshake with the target: %.150s",
                 r->detail[0] ? r->detail : "failed");
    }
}

static const rt_http_hdr *hdr(const io_hc_result *r, const char *name)
{
    return r->resp.status > 0 ? rt_http_find(&r->resp.h, name) : NULL;
}

/* "407 Proxy Authentication Required" or the transport failure. */
static void answer_text(const io_hc_result *r, char *out, size_t cap)
{
    if (r->resp.status > 0)
        snprintf(out, cap, "%d %.*s", r->resp.status, (int)(r->resp.reason.n > 60 ? 60 : r->resp.reason.n),
                 r->resp.reason.p ? r->resp.reason.p : "");
    else
        snprintf(out, cap, "no answer: %.110s", r->detail[0] ? r->detail : rt_phase_name(r->phase));
}

static void challenge_of(const io_hc_result *r, const char *field, char *out, size_t cap)
{
    out[0] = 0;
    const rt_http_hdr *h = hdr(r, field);
    char scheme[32], realm[96];
    if (h && rt_diag_challenge(h->value, scheme, sizeof scheme, realm, sizeof realm) == 0)
        snprintf(out, cap, realm[0] ? "%s realm \"%s\"" : "%s", scheme, realm);
}

static void exit_ip_of(const io_hc_result *r, char *out, size_t cap)
{
    out[0] = 0;
    if (r->resp.status >= 200 && r->resp.status <= 299)
        rt_diag_exit_ip(rt_slice_from(r->body, r->body_len), out, cap);
}

/* ==== the walk ==== */

static void next(dg_entry *e);
static void hc_done(io_hc *h, const io_hc_result *r, void *arg);

static void entry_finish(dg_entry *e)
{
    dg_run *run = e->run;
    e->stage = SG_DONE;
    e->done = true;
    e->failed_step = 0;
    for (int i = 1; i <= DG_STEPS; i++) {
        if (step(e, i)->st == DG_FAIL && !e->failed_step)
            e->failed_step = i;
        if (i > e->last_step)
            continue;
        if (step(e, i)->st == DG_NOTRUN)
            set(step(e, i), DG_SKIP, RT_E_ok, "skipped: step %d failed", e->failed_step);
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
    while (run->next < run->n && run->active < run->o->parallel) {
        dg_entry *x = &run->entries[run->next++];
        run->active++;
        x->stage = SG_CONNECT;
        next(x);
    }
    if (run->finished == run->n)
        event_base_loopexit(run->base, NULL);
}

static void fail_step(dg_entry *e, int n)
{
    (void)n;
    entry_finish(e);
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
    if (via_proxy && !is_direct(e)) {
        ho.proxy_host = e->up.host;
        ho.proxy_port = e->up.port;
        if (e->addrlen) {
            ho.addr = (struct sockaddr *)&e->addr;
            ho.addrlen = e->addrlen;
        }
    } else if (url) {
        rt_url u;
        rt_slice host = url_host(url, &u);
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
        dg_step *s = step(e, e->stage <= SG_CONNECT ? 1 : e->stage <= SG_REF_DIRECT ? 3 : e->stage <= SG_TARGET_DIRECT ? 4 : 5);
        set(s, DG_FAIL, RT_E_gateway_internal_error, "cannot send the request: %s", err);
        entry_finish(e);
    }
}

/* ---- step 1 ---- */

static void judge_connect(dg_entry *e, const io_hc_result *r)
{
    dg_step *s = step(e, 1);
    e->ms_dns = r->ms_dns;
    e->ms_connect = r->ms_connect;
    s->ms = r->ms_connect >= 0 ? r->ms_connect : r->ms_total;
    if (r->ok) {
        memcpy(&e->addr, &r->peer_ss, r->peer_sslen);
        e->addrlen = r->peer_sslen;
        unsigned char a[16];
        bool named = inet_pton(AF_INET, e->up.host, a) != 1 && inet_pton(AF_INET6, e->up.host, a) != 1;
        set(s, DG_PASS, RT_E_ok, "%s:%u accepts TCP connections (%s%s%sconnect %lld ms)", e->up.host,
            (unsigned)e->up.port, named ? "resolved to " : "", named ? r->peer : "", named ? ", " : "",
            (long long)r->ms_connect);
        if (named)
            note(s, "DNS %lld ms%s", (long long)r->ms_dns, r->dns_local ? " (answered locally)" : "");
        return;
    }
    rt_classify_out c;
    classify(e->run, r, NULL, false, &c);
    snprintf(s->evidence, sizeof s->evidence, "%s", c.evidence);
    note(s, "%s", r->detail);
    switch (c.code) {
    case RT_E_proxy_dns_failed:
        set(s, DG_FAIL, c.code, "the proxy's host '%s' does not resolve", e->up.host);
        if (r->dns_local)
            hint(s, "'%s' is under a reserved top-level domain (RFC 6761: .invalid, .test, .example) that never "
                    "resolves: the entry holds a placeholder or a typo", e->up.host);
        break;
    case RT_E_proxy_refused:
        set(s, DG_FAIL, c.code, "%s refused the connection (nothing listens on port %u)", r->peer,
            (unsigned)e->up.port);
        hint(s, "Providers often use different ports per authentication method or proxy type: compare the port "
                "with the provider's documentation (test: curl -v -x http://%s:%u http://example.com/)",
             e->up.host, (unsigned)e->up.port);
        break;
    case RT_E_proxy_connect_timeout:
        set(s, DG_FAIL, c.code, "no answer to the TCP handshake with %s within %u ms", r->peer[0] ? r->peer : e->up.host,
            e->run->o->connect_ms);
        hint(s, "A silent drop means a firewall, VPN or a dead host on the way; try from another network");
        break;
    default:
        set(s, DG_FAIL, c.code, "cannot connect to %s: %s", r->peer[0] ? r->peer : e->up.host, r->detail);
        break;
    }
}

/* ---- step 2 ---- */

static void judge_auth_without(dg_entry *e, const io_hc_result *r)
{
    dg_step *s = step(e, 2);
    char ans[128];
    answer_text(r, ans, sizeof ans);
    e->st_without = r->resp.status;
    if (r->resp.status == 407)
        challenge_of(r, "Proxy-Authenticate", e->realm_without, sizeof e->realm_without);
    note(s, "without credentials: %s%s%s%s", ans, e->realm_without[0] ? " (" : "", e->realm_without,
         e->realm_without[0] ? ")" : "");
}

/* A failure below HTTP (or a reply that is not HTTP) during step 2. */
static bool auth_transport_failed(dg_entry *e, const io_hc_result *r, bool creds)
{
    if (r->resp.status > 0)
        return false;
    dg_step *s = step(e, 2);
    rt_classify_out c;
    classify(e->run, r, e->run->o->reference, creds, &c);
    snprintf(s->evidence, sizeof s->evidence, "%s", c.evidence);
    if (creds)
        note(s, "with the credentials of user '%s': no answer: %s", e->up.user, r->detail);
    if (c.code == RT_E_proxy_read_timeout)
        set(s, DG_FAIL, c.code, "the proxy accepted the connection but sent no reply within %u ms",
            e->run->o->read_ms);
    else
        set(s, DG_FAIL, c.code, "the proxy did not answer the request: %s", r->detail);
    if (c.code == RT_E_proxy_read_timeout)
        hint(s, "A proxy that accepts TCP but never answers HTTP is overloaded, wedged, or not an HTTP proxy "
                "(SOCKS or TLS on that port?)");
    return true;
}

static void judge_auth(dg_entry *e, const io_hc_result *with)
{
    dg_step *s = step(e, 2);
    bool have = e->up.user != NULL;
    int st_with = with ? with->resp.status : 0;
    e->www_auth_with = with && st_with == 401 && hdr(with, "WWW-Authenticate");
    if (with) {
        char ans[128];
        answer_text(with, ans, sizeof ans);
        if (st_with == 407)
            challenge_of(with, "Proxy-Authenticate", e->realm_with, sizeof e->realm_with);
        else if (e->www_auth_with)
            challenge_of(with, "WWW-Authenticate", e->realm_with, sizeof e->realm_with);
        note(s, "with the credentials of user '%s': %s%s%s%s", e->up.user, ans, e->realm_with[0] ? " (" : "",
             e->realm_with, e->realm_with[0] ? ")" : "");
    }
    rt_diag_auth a = rt_diag_auth_judge(have, e->st_without, st_with, e->www_auth_with);
    const char *realm = e->realm_with[0] ? e->realm_with : e->realm_without;
    switch (a) {
    case RT_DIAG_AUTH_OK:
        set(s, DG_PASS, RT_E_ok, "credentials accepted (407 without them%s%s)", realm[0] ? ", " : "", realm);
        break;
    case RT_DIAG_AUTH_OPEN:
        set(s, DG_PASS, RT_E_ok, "no credentials configured and none asked (IP-whitelisted or open proxy)");
        break;
    case RT_DIAG_AUTH_NOT_NEEDED:
        set(s, DG_PASS, RT_E_ok, "accepted, also without credentials");
        note(s, "the proxy does not ask for credentials from this machine: its IP is probably whitelisted "
                "(or the proxy is open)");
        break;
    case RT_DIAG_AUTH_MISSING:
        set(s, DG_FAIL, RT_E_proxy_auth_required, "the proxy wants credentials (407%s%s) and the entry has none",
            realm[0] ? ", " : "", realm);
        snprintf(s->evidence, sizeof s->evidence, "407 to a request without Proxy-Authorization%s%s",
                 realm[0] ? "; Proxy-Authenticate: " : "", realm);
        hint(s, "Add user:pass to the entry (http://user:pass@%s:%u), or, for IP authentication, whitelist this "
                "machine's public IP at the provider%s", e->up.host, (unsigned)e->up.port,
             e->run->o->compare_direct ? "" : " (--compare-direct shows it)");
        break;
    case RT_DIAG_AUTH_REJECTED:
    case RT_DIAG_AUTH_REJECTED_OPEN:
        set(s, DG_FAIL, RT_E_proxy_auth_failed, "the proxy rejected the credentials of user '%s' (%s%s%s)",
            e->up.user, e->www_auth_with ? "401 with WWW-Authenticate" : "407", realm[0] ? ", " : "", realm);
        snprintf(s->evidence, sizeof s->evidence, "%s to a request with Proxy-Authorization (user '%s')%s",
                 e->www_auth_with ? "401 + WWW-Authenticate" : "407", e->up.user,
                 e->st_without == 407 ? "; 407 without it too" : "");
        if (e->www_auth_with)
            hint(s, "A 401 with WWW-Authenticate from a proxy is tinyproxy's answer to a wrong user or password");
        if (e->up.pass && !e->up.pass[0])
            hint(s, "The password is empty ('%s:@host' or 'user@host'): add the password to the entry", e->up.user);
        if (a == RT_DIAG_AUTH_REJECTED_OPEN)
            hint(s, "This proxy accepts this machine without credentials (IP whitelist) but rejects the ones sent: "
                    "fix them or remove them from the entry");
        if (e->up.session_slot)
            hint(s, "The user has a {session} slot, filled with 'rotordiag...': check the provider's session "
                    "syntax in the username");
        hint(s, "If the password holds @ : # / ? %% or spaces, the URL form needs them percent-encoded "
                "(%%40 %%3A %%23 %%2F %%3F %%25 %%20); the host:port:user:pass form takes it literally");
        break;
    }
}

/* The guide's step 2 also covers the account: a provider that accepts the
 * credentials but says the quota is spent or the account suspended fails
 * here, before the proxy's reach is judged. */
static void judge_account(dg_entry *e, const io_hc_result *r)
{
    dg_step *s = step(e, 2);
    rt_classify_out c;
    classify(e->run, r, e->run->o->reference, true, &c);
    if (c.code != RT_E_proxy_quota_exceeded && c.code != RT_E_proxy_account_suspended)
        return;
    char ans[128];
    answer_text(r, ans, sizeof ans);
    set(s, DG_FAIL, c.code, "credentials accepted, but the provider refuses the account: %s", ans);
    snprintf(s->evidence, sizeof s->evidence, "%s", c.evidence);
    hint(s, "Check the account's status, quota and billing in the provider's dashboard; nothing else matters "
            "until the account works");
}

static void judge_cred_error(dg_entry *e)
{
    dg_step *s = step(e, 2);
    set(s, DG_FAIL, RT_E_proxy_auth_failed, "the credentials in the entry are not valid URL syntax: %s",
        e->parse_err);
    snprintf(s->evidence, sizeof s->evidence, "pool parser: %s", e->parse_err);
    hint(s, "Percent-encode the user and password: @ as %%40, : as %%3A, # as %%23, / as %%2F, ? as %%3F, %% as %%25 "
            "(python3 -c 'import urllib.parse,getpass; print(urllib.parse.quote(getpass.getpass(), safe=\"\"))')");
    hint(s, "Or write the entry as host:port:user:pass, which takes the password literally");
}

/* ---- step 3 ---- */

static bool outbound_code(rt_code c)
{
    const rt_code_info *ci = rt_code_get(c);
    return ci->origin == RT_ORIGIN_NETWORK || c == RT_E_proxy_error || c == RT_E_proxy_overloaded ||
           c == RT_E_proxy_bad_response || c == RT_E_target_gateway_timeout || c == RT_E_target_server_error;
}

static void judge_reference(dg_entry *e, const io_hc_result *r, bool creds)
{
    dg_step *s = step(e, 3);
    const char *ref = e->run->o->reference;
    rt_classify_out c;
    classify(e->run, r, ref, creds, &c);
    e->ref_status = r->resp.status;
    e->ms_reference = r->ms_total;
    s->ms = r->ms_total;
    snprintf(s->evidence, sizeof s->evidence, "%s", c.evidence);
    char ans[128];
    answer_text(r, ans, sizeof ans);
    if (c.code == RT_E_ok) {
        exit_ip_of(r, e->exit_ip, sizeof e->exit_ip);
        if (e->exit_ip[0])
            set(s, DG_PASS, RT_E_ok, "%s answered %d in %lld ms; exit IP %s", ref, r->resp.status,
                (long long)r->ms_total, e->exit_ip);
        else
            set(s, DG_PASS, RT_E_ok, "%s answered %d in %lld ms (no exit IP in the answer)", ref, r->resp.status,
                (long long)r->ms_total);
        if (r->ms_first_byte >= 0)
            note(s, "first byte %lld ms, total %lld ms", (long long)r->ms_first_byte, (long long)r->ms_total);
        return;
    }
    set(s, DG_FAIL, c.code, "%s through the proxy: %s", ref, ans);
    if (c.code == RT_E_proxy_quota_exceeded || c.code == RT_E_proxy_account_suspended ||
        c.code == RT_E_proxy_target_restricted) {
        hint(s, "The provider refuses this account or this request itself: check the account in the provider's "
                "dashboard before anything else");
        return;
    }
    if (outbound_code(c.code)) {
        hint(s, "Even a simple reference target fails through this proxy (%s): its outbound side cannot reach the "
                "internet; this is the provider's problem: contact them or try another exit, region or port",
             rt_code_name(c.code));
        if (!e->run->o->compare_direct)
            hint(s, "Check the reference directly to be sure it is up (--compare-direct)");
    }
}

static void judge_reference_direct(dg_entry *e, const io_hc_result *r)
{
    int n = e->failed_step == 2 || step(e, 2)->st == DG_FAIL ? 2 : 3;
    dg_step *s = step(e, n);
    rt_classify_out c;
    classify(e->run, r, e->run->o->reference, false, &c);
    if (c.code == RT_E_ok) {
        exit_ip_of(r, e->local_ip, sizeof e->local_ip);
        note(s, "without the proxy the reference answers %d; this machine's outbound IP: %s", r->resp.status,
             e->local_ip[0] ? e->local_ip : "(not shown)");
        if (n == 2 && e->local_ip[0])
            hint(s, "For IP authentication, the address to whitelist is %s", e->local_ip);
        if (n == 3 && e->exit_ip[0] && e->local_ip[0] && !strcmp(e->exit_ip, e->local_ip))
            note(s, "the exit IP is this machine's own: the proxy does not hide your address");
        if (n == 3 && s->st == DG_FAIL)
            hint(s, "The reference works without the proxy, so the failure is on the proxy's side");
    } else {
        char ans[128];
        answer_text(r, ans, sizeof ans);
        note(s, "without the proxy the reference fails too: %s (%s)", ans, rt_code_name(c.code));
        if (n == 3 && s->st == DG_FAIL)
            hint(s, "The reference also fails from here: pick another --reference before blaming the proxy");
    }
}

/* ---- step 4 ---- */

static void retry_after(dg_entry *e, const io_hc_result *r, dg_step *s)
{
    const rt_http_hdr *ra = hdr(r, "Retry-After");
    if (!ra)
        return;
    uint64_t delay = 0;
    int rc = rt_retry_after_parse(ra->value, io_wall_ms(), &delay);
    if (rc == RT_RETRY_AFTER_INVALID) {
        note(s, "Retry-After: %.*s (not a valid value)", (int)(ra->value.n > 60 ? 60 : ra->value.n), ra->value.p);
        return;
    }
    e->retry_after_s = (int32_t)((delay + 999) / 1000);
    note(s, "Retry-After: %.*s (wait %d s%s)", (int)(ra->value.n > 60 ? 60 : ra->value.n), ra->value.p,
         e->retry_after_s, rc == RT_RETRY_AFTER_CLAMPED ? ", clamped to a day" : "");
}

static void judge_target(dg_entry *e, const io_hc_result *r)
{
    dg_step *s = step(e, 4);
    const char *t = e->run->o->target;
    rt_classify_out c;
    classify(e->run, r, t, e->up.user != NULL, &c);
    e->target_status = r->resp.status;
    e->ms_target = s->ms = r->ms_total;
    snprintf(s->evidence, sizeof s->evidence, "%s", c.evidence);
    char ans[128];
    answer_text(r, ans, sizeof ans);
    if (c.code == RT_E_ok) {
        if (r->ms_total > (int64_t)e->run->o->slow_ms) {
            set(s, DG_WARN, RT_E_ok, "%s answered %d but slowly: %lld ms (over --slow-ms %u)", t, r->resp.status,
                (long long)r->ms_total, e->run->o->slow_ms);
            note(s, "first byte after %lld ms", (long long)r->ms_first_byte);
            hint(s, "A slow page through the proxy: use exits near the target, lower concurrency, and raise client "
                    "and provider timeouts above the page's time");
        } else {
            set(s, DG_PASS, RT_E_ok, "%s answered %d in %lld ms", t, r->resp.status, (long long)r->ms_total);
        }
        return;
    }
    set(s, DG_FAIL, c.code, "%s through the proxy: %s", t, ans);
    if (c.sig_id[0])
        note(s, "recognised by signature %s", c.sig_id);
    switch (c.code) {
    case RT_E_target_rate_limited:
        retry_after(e, r, s);
        hint(s, "The site rate-limits this exit%s: wait as told, then spread requests over more IPs "
                "(exponential backoff 2, 4, 8 s on repeated 429s)", e->retry_after_s >= 0 ? " (Retry-After given)" : "");
        break;
    case RT_E_target_blocked:
    case RT_E_target_challenge:
        hint(s, "The reference works through this proxy, so the block is specific to this site: rotate to a fresh "
                "IP, send browser-like headers, slow down");
        break;
    default:
        if (rt_code_get(c.code)->origin == RT_ORIGIN_NETWORK)
            hint(s, "The proxy reaches the reference but not this site: the site or its network rejects the exit");
        break;
    }
}

static void judge_target_direct(dg_entry *e, const io_hc_result *r)
{
    dg_step *s = step(e, 4);
    rt_classify_out c;
    classify(e->run, r, e->run->o->target, false, &c);
    char ans[128];
    answer_text(r, ans, sizeof ans);
    note(s, "without the proxy: %s (%s)", ans, rt_code_name(c.code));
    if (s->st != DG_FAIL)
        return;
    if (c.code == RT_E_ok)
        hint(s, "The site answers without the proxy but not through it: it blocks this proxy's exit, not you");
    else
        hint(s, "The site fails without the proxy too (%s): it is down or blocks everyone, the proxy is not the "
                "cause", rt_code_name(c.code));
}

/* ---- step 5 ---- */

static void record_sample(dg_entry *e, const io_hc_result *r, const char *url)
{
    dg_sample_out *so = &e->samples[e->nsamples++];
    rt_classify_out c;
    classify(e->run, r, url, e->up.user != NULL, &c);
    so->s.code = c.code;
    so->s.status = r->resp.status;
    so->s.ms = r->ms_total > 0 ? (uint32_t)r->ms_total : 0;
    exit_ip_of(r, so->s.ip, sizeof so->s.ip);
    const rt_http_hdr *via = hdr(r, "Via");
    if (!via || rt_diag_via_node(via->value, so->s.node, sizeof so->s.node) != 0)
        so->s.node[0] = 0;
    snprintf(so->evidence, sizeof so->evidence, "%.95s", c.code == RT_E_ok ? "" : c.evidence);
}

static void judge_samples(dg_entry *e)
{
    dg_step *s = step(e, 5);
    rt_diag_sample *v = calloc(e->nsamples ? e->nsamples : 1, sizeof *v);
    if (!v) {
        set(s, DG_FAIL, RT_E_gateway_internal_error, "out of memory");
        return;
    }
    for (size_t i = 0; i < e->nsamples; i++)
        v[i] = e->samples[i].s;
    rt_diag_pattern *p = &e->pattern;
    rt_diag_pattern_of(v, e->nsamples, p);
    free(v);
    double rate = p->n ? 100.0 * p->failed / p->n : 0.0;
    s->ms = p->ms_median;
    note(s, "%u samples: %u failed (%.0f%%); time min %u / median %u / max %u ms", p->n, p->failed, rate, p->ms_min,
         p->ms_median, p->ms_max);
    if (p->nexits) {
        char line[DG_LINE_MAX];
        size_t len = (size_t)snprintf(line, sizeof line, "exits:");
        for (size_t k = 0; k < p->nexits && len < sizeof line; k++)
            len += (size_t)snprintf(line + len, sizeof line - len, " %s %u/%u failed%s", p->exits[k].exit,
                                    p->exits[k].failed, p->exits[k].n, k + 1 < p->nexits ? "," : "");
        note(s, "%s", line);
    }
    if (p->unattributed && p->failed)
        note(s, "%u samples without a known exit", p->unattributed);
    switch (p->kind) {
    case RT_DIAG_PAT_NONE:
        set(s, DG_PASS, RT_E_ok, "%u/%u samples succeeded (median %u ms)", p->n, p->n, p->ms_median);
        return;
    case RT_DIAG_PAT_PERSISTENT:
        set(s, DG_FAIL, p->top_code, "every sample failed (%s): not intermittent, the failure is persistent",
            rt_code_name(p->top_code));
        break;
    case RT_DIAG_PAT_EXITS: {
        char bad[200];
        size_t len = 0;
        bad[0] = 0;
        for (size_t k = 0; k < p->nexits && len < sizeof bad; k++)
            if (p->exits[k].bad)
                len += (size_t)snprintf(bad + len, sizeof bad - len, "%s%s", len ? ", " : "", p->exits[k].exit);
        set(s, DG_FAIL, p->top_code, "%u/%u samples failed, and the failures follow particular exits: %s", p->failed,
            p->n, bad);
        hint(s, "Failures tied to specific IPs mean those IPs are banned or unhealthy: exclude or rotate away from "
                "them (rotor serve ejects such entries by itself)");
        break;
    }
    case RT_DIAG_PAT_GROWING:
        set(s, DG_FAIL, p->top_code, "%u/%u samples failed, more and more over time (first at sample %u)", p->failed,
            p->n, p->first_fail + 1);
        hint(s, "Failures that grow over time mean the target progressively blocks this traffic pattern: slow down, "
                "rotate IPs and sessions more often, vary the request pattern");
        break;
    case RT_DIAG_PAT_RANDOM:
        set(s, DG_FAIL, p->top_code, "%u/%u samples failed, at random across %zu exits", p->failed, p->n, p->nexits);
        hint(s, "Random failures across many IPs point at the provider's instability: retry with jitter, check the "
                "provider's status page, or try another endpoint or region");
        break;
    case RT_DIAG_PAT_INTERMITTENT:
        set(s, DG_FAIL, p->top_code, "%u/%u samples failed intermittently (exit per sample not known)", p->failed,
            p->n);
        hint(s, "Sporadic failures on one proxy: retry with jitter; compare with another entry to tell the provider "
                "from the target");
        break;
    }
    for (size_t i = 0; i < e->nsamples; i++)
        if (e->samples[i].s.code == p->top_code && e->samples[i].evidence[0]) {
            snprintf(s->evidence, sizeof s->evidence, "sample %zu: %s", i + 1, e->samples[i].evidence);
            break;
        }
}

static void sample_wait_cb(evutil_socket_t fd, short what, void *arg)
{
    dg_entry *e = arg;
    const char *url = e->run->o->target ? e->run->o->target : e->run->o->reference;
    char ab[RT_UP_USER_MAX + RT_UP_PASS_MAX + 64];
    launch(e, url, true, auth_value(e, (unsigned)(100 + e->nsamples), ab, sizeof ab), false);
}

/* ==== dispatch ==== */

static void next(dg_entry *e)
{
    dg_run *run = e->run;
    const dg_opts *o = run->o;
    char ab[RT_UP_USER_MAX + RT_UP_PASS_MAX + 64];
    switch (e->stage) {
    case SG_CONNECT:
        if (is_direct(e)) {
            set(step(e, 1), DG_SKIP, RT_E_ok, "direct entry: no proxy to reach");
            set(step(e, 2), DG_SKIP, RT_E_ok, "direct entry: no proxy authentication");
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
        launch(e, o->reference, true, auth_value(e, 0, ab, sizeof ab), false);
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
            set(step(e, 4), DG_SKIP, RT_E_ok, "no TARGET_URL given");
            e->stage = SG_SAMPLE;
            next(e);
            return;
        }
        launch(e, o->target, true, auth_value(e, 1, ab, sizeof ab), false);
        return;
    case SG_TARGET_DIRECT:
        launch(e, o->target, false, NULL, false);
        return;
    case SG_SAMPLE:
        if (e->last_step < 5 || !o->samples) {
            if (e->last_step >= 5)
                set(step(e, 5), DG_SKIP, RT_E_ok, "--samples 0");
            entry_finish(e);
            return;
        }
        if (!e->samples) {
            e->samples = calloc(o->samples, sizeof *e->samples);
            if (!e->samples) {
                set(step(e, 5), DG_FAIL, RT_E_gateway_internal_error, "out of memory");
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

static void hc_done(io_hc *h, const io_hc_result *r, void *arg)
{
    dg_entry *e = arg;
    const dg_opts *o = e->run->o;
    switch (e->stage) {
    case SG_CONNECT:
        judge_connect(e, r);
        io_hc_free(h);
        e->hc = NULL;
        if (step(e, 1)->st == DG_FAIL) {
            fail_step(e, 1);
            return;
        }
        e->stage = SG_AUTH_WITHOUT;
        next(e);
        return;
    case SG_AUTH_WITHOUT: {
        judge_auth_without(e, r);
        bool has = e->up.user != NULL && !e->cred_error;
        if (!auth_transport_failed(e, r, false) && !has) {
            if (e->cred_error) {
                judge_cred_error(e);
            } else {
                judge_auth(e, NULL);
                if (step(e, 2)->st != DG_FAIL)
                    judge_reference(e, r, false);
            }
        }
        io_hc_free(h);
        e->hc = NULL;
        if (has && step(e, 2)->st != DG_FAIL) {
            e->stage = SG_AUTH_WITH;
            next(e);
            return;
        }
        break;
    }
    case SG_AUTH_WITH:
        if (is_direct(e)) {
            judge_reference(e, r, false);
        } else if (!auth_transport_failed(e, r, true)) {
            judge_auth(e, r);
            if (step(e, 2)->st != DG_FAIL)
                judge_account(e, r);
            if (step(e, 2)->st != DG_FAIL)
                judge_reference(e, r, true);
        }
        io_hc_free(h);
        e->hc = NULL;
        break;
    case SG_REF_DIRECT:
        judge_reference_direct(e, r);
        io_hc_free(h);
        e->hc = NULL;
        if (step(e, 2)->st == DG_FAIL || step(e, 3)->st == DG_FAIL) {
            entry_finish(e);
            return;
        }
        e->stage = SG_TARGET;
        next(e);
        return;
    case SG_TARGET:
        judge_target(e, r);
        io_hc_free(h);
        e->hc = NULL;
        if (o->compare_direct) {
            e->stage = SG_TARGET_DIRECT;
            next(e);
            return;
        }
        if (step(e, 4)->st == DG_FAIL) {
            entry_finish(e);
            return;
        }
        e->stage = SG_SAMPLE;
        next(e);
        return;
    case SG_TARGET_DIRECT:
        judge_target_direct(e, r);
        io_hc_free(h);
        e->hc = NULL;
        if (step(e, 4)->st == DG_FAIL) {
            entry_finish(e);
            return;
        }
        e->stage = SG_SAMPLE;
        next(e);
        return;
    case SG_SAMPLE:
        record_sample(e, r, o->target ? o->target : o->reference);
        io_hc_free(h);
        e->hc = NULL;
        if (e->nsamples < o->samples) {
            next(e);
            return;
        }
        judge_samples(e);
        entry_finish(e);
        return;
    default:
        io_hc_free(h);
        e->hc = NULL;
        entry_finish(e);
        return;
    }
    /* After steps 2-3 (SG_AUTH_WITHOUT without credentials, SG_AUTH_WITH). */
    bool s2_failed = step(e, 2)->st == DG_FAIL;
    bool want_direct = o->compare_direct && e->last_step >= 3 &&
                       (step(e, 3)->st != DG_NOTRUN || (s2_failed && step(e, 2)->code == RT_E_proxy_auth_required));
    if (want_direct && !is_direct(e)) {
        e->stage = SG_REF_DIRECT;
        next(e);
        return;
    }
    if (s2_failed || step(e, 3)->st == DG_FAIL || step(e, 3)->st == DG_NOTRUN) {
        entry_finish(e);
        return;
    }
    e->stage = SG_TARGET;
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
    run->sigs = rt_sigset_new();
    if (!run->sigs || rt_sigset_add_builtin(run->sigs, err, sizeof err) != 0 ||
        (run->o->signatures && rt_sig_load_file(run->o->signatures, run->sigs, err, sizeof err) != 0)) {
        snprintf(run->err, sizeof run->err, "signatures: %.200s", run->sigs ? err : "out of memory");
        return -1;
    }
    run->t0_ms = io_now_ms();
    for (size_t i = 0; i < run->n; i++)
        run->entries[i].run = run;
    while (run->next < run->n && run->active < run->o->parallel) {
        dg_entry *e = &run->entries[run->next++];
        run->active++;
        e->stage = SG_CONNECT;
        next(e);
    }
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
    if (run->dns)
        evdns_base_free(run->dns, 0);
    if (run->base)
        event_base_free(run->base);
    run->sigs = NULL;
    run->tls = NULL;
    run->dns = NULL;
    run->base = NULL;
}
