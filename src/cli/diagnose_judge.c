/* rotor diagnose: how each step's answer is judged. Every judge reads one
 * io_hc result, classifies it with the signatures and the vocabulary, and
 * writes the step's status, summary, evidence, notes and fix hints. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/diagnose_int.h"
#include "core/diag/diag.h"
#include "core/policy/retry_after.h"
#include "io/clock.h"

/* ==== judging one answer ==== */

rt_slice dg_url_host(const char *url, rt_url *u)
{
    if (rt_url_parse_target(rt_slice_cstr(url), RT_M_GET, u) != 0)
        return RT_SLICE_NULL;
    return u->host;
}

static void classify(dg_run *run, const io_hc_result *r, const char *url, bool creds, rt_classify_out *out)
{
    rt_url u;
    rt_classify_in in;
    io_hc_classify_input(r, &in);
    in.sent_credentials = creds;
    in.host = dg_url_host(url, &u);
    in.hop = rt_slice_cstr(r->peer);
    rt_classify(&in, run->sigs, out);
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


/* ---- step 1 ---- */

void dg_judge_connect(dg_entry *e, const io_hc_result *r)
{
    dg_step *s = dg_step_of(e, 1);
    e->ms_dns = r->ms_dns;
    e->ms_connect = r->ms_connect;
    s->ms = r->ms_connect >= 0 ? r->ms_connect : r->ms_total;
    if (r->ok) {
        memcpy(&e->addr, &r->peer_ss, r->peer_sslen);
        e->addrlen = r->peer_sslen;
        unsigned char a[16];
        bool named = inet_pton(AF_INET, e->up.host, a) != 1 && inet_pton(AF_INET6, e->up.host, a) != 1;
        if (e->up.scheme == RT_UP_HTTPS) {
            /* An https:// proxy is reached once its TLS handshake, with
             * the certificate verified for the entry's host, is done. */
            dg_set(s, DG_PASS, RT_E_ok, "%s:%u accepts TLS connections (%s%s%sconnect %lld ms, TLS handshake %lld ms)",
                   e->up.host, (unsigned)e->up.port, named ? "resolved to " : "", named ? r->peer : "",
                   named ? ", " : "", (long long)r->ms_connect, (long long)r->ms_proxy_tls);
            dg_note(s, "certificate verified for %s %s", named ? "host name" : "address", e->up.host);
        } else {
            dg_set(s, DG_PASS, RT_E_ok, "%s:%u accepts TCP connections (%s%s%sconnect %lld ms)", e->up.host,
                   (unsigned)e->up.port, named ? "resolved to " : "", named ? r->peer : "", named ? ", " : "",
                   (long long)r->ms_connect);
        }
        if (named)
            dg_note(s, "DNS %lld ms%s", (long long)r->ms_dns, r->dns_local ? " (answered locally)" : "");
        return;
    }
    rt_classify_out c;
    classify(e->run, r, NULL, false, &c);
    snprintf(s->evidence, sizeof s->evidence, "%s", c.evidence);
    if (c.code != RT_E_proxy_tls_failed) /* its summary quotes the detail already */
        dg_note(s, "%s", r->detail);
    switch (c.code) {
    case RT_E_proxy_dns_failed:
        dg_set(s, DG_FAIL, c.code, "the proxy's host '%s' does not resolve", e->up.host);
        if (r->dns_local)
            dg_hint(s, "'%s' is under a reserved top-level domain (RFC 6761: .invalid, .test, .example) that never "
                    "resolves: the entry holds a placeholder or a typo", e->up.host);
        break;
    case RT_E_proxy_refused:
        dg_set(s, DG_FAIL, c.code, "%s refused the connection (nothing listens on port %u)", r->peer,
            (unsigned)e->up.port);
        dg_hint(s, "Providers often use different ports per authentication method or proxy type: compare the port "
                "with the provider's documentation (test: curl -v -x http://%s:%u http://example.com/)",
             e->up.host, (unsigned)e->up.port);
        break;
    case RT_E_proxy_tls_failed:
        dg_set(s, DG_FAIL, c.code, "TLS handshake with %s failed: %s", r->peer[0] ? r->peer : e->up.host,
               r->detail[0] ? r->detail : "no reason given");
        if (r->ms_connect >= 0)
            dg_note(s, "TCP connect %lld ms", (long long)r->ms_connect);
        if (r->tls_verify_failed)
            dg_hint(s, "The proxy's certificate did not verify: if the provider uses a private CA, pass it with "
                    "--ca-file FILE here and --upstream-ca FILE to rotor serve; the certificate must name '%s'",
                    e->up.host);
        else
            dg_hint(s, "Port %u may not speak TLS: if it is a plain HTTP proxy port, write the entry as "
                    "http://%s:%u", (unsigned)e->up.port, e->up.host, (unsigned)e->up.port);
        break;
    case RT_E_proxy_connect_timeout:
        dg_set(s, DG_FAIL, c.code, "no answer to the TCP handshake with %s within %u ms", r->peer[0] ? r->peer : e->up.host,
            e->run->o->connect_ms);
        dg_hint(s, "A silent drop means a firewall, VPN or a dead host on the way; try from another network");
        break;
    default:
        dg_set(s, DG_FAIL, c.code, "cannot connect to %s: %s", r->peer[0] ? r->peer : e->up.host, r->detail);
        break;
    }
}

/* ---- step 2 ---- */

void dg_judge_auth_without(dg_entry *e, const io_hc_result *r)
{
    dg_step *s = dg_step_of(e, 2);
    char ans[128];
    answer_text(r, ans, sizeof ans);
    e->st_without = r->resp.status;
    if (r->resp.status == 407)
        challenge_of(r, "Proxy-Authenticate", e->realm_without, sizeof e->realm_without);
    dg_note(s, "without credentials: %s%s%s%s", ans, e->realm_without[0] ? " (" : "", e->realm_without,
         e->realm_without[0] ? ")" : "");
}

/* A failure below HTTP (or a reply that is not HTTP) during step 2. */
bool dg_auth_transport_failed(dg_entry *e, const io_hc_result *r, bool creds)
{
    if (r->resp.status > 0)
        return false;
    dg_step *s = dg_step_of(e, 2);
    rt_classify_out c;
    classify(e->run, r, e->run->o->reference, creds, &c);
    snprintf(s->evidence, sizeof s->evidence, "%s", c.evidence);
    if (creds)
        dg_note(s, "with the credentials of user '%s': no answer: %s", e->up.user, r->detail);
    if (c.code == RT_E_proxy_read_timeout)
        dg_set(s, DG_FAIL, c.code, "the proxy accepted the connection but sent no reply within %u ms",
            e->run->o->read_ms);
    else
        dg_set(s, DG_FAIL, c.code, "the proxy did not answer the request: %s", r->detail);
    if (c.code == RT_E_proxy_read_timeout)
        dg_hint(s, "A proxy that accepts TCP but never answers HTTP is overloaded, wedged, or not an HTTP proxy "
                "(SOCKS or TLS on that port?)");
    return true;
}

void dg_judge_auth(dg_entry *e, const io_hc_result *with)
{
    dg_step *s = dg_step_of(e, 2);
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
        dg_note(s, "with the credentials of user '%s': %s%s%s%s", e->up.user, ans, e->realm_with[0] ? " (" : "",
             e->realm_with, e->realm_with[0] ? ")" : "");
    }
    rt_diag_auth a = rt_diag_auth_judge(have, e->st_without, st_with, e->www_auth_with);
    const char *realm = e->realm_with[0] ? e->realm_with : e->realm_without;
    switch (a) {
    case RT_DIAG_AUTH_OK:
        dg_set(s, DG_PASS, RT_E_ok, "credentials accepted (407 without them%s%s)", realm[0] ? ", " : "", realm);
        break;
    case RT_DIAG_AUTH_OPEN:
        dg_set(s, DG_PASS, RT_E_ok, "no credentials configured and none asked (IP-whitelisted or open proxy)");
        break;
    case RT_DIAG_AUTH_NOT_NEEDED:
        dg_set(s, DG_PASS, RT_E_ok, "accepted, also without credentials");
        dg_note(s, "the proxy does not ask for credentials from this machine: its IP is probably whitelisted "
                "(or the proxy is open)");
        break;
    case RT_DIAG_AUTH_MISSING:
        dg_set(s, DG_FAIL, RT_E_proxy_auth_required, "the proxy wants credentials (407%s%s) and the entry has none",
            realm[0] ? ", " : "", realm);
        snprintf(s->evidence, sizeof s->evidence, "407 to a request without Proxy-Authorization%s%s",
                 realm[0] ? "; Proxy-Authenticate: " : "", realm);
        dg_hint(s, "Add user:pass to the entry (http://user:pass@%s:%u), or, for IP authentication, whitelist this "
                "machine's public IP at the provider%s", e->up.host, (unsigned)e->up.port,
             e->run->o->compare_direct ? "" : " (--compare-direct shows it)");
        break;
    case RT_DIAG_AUTH_REJECTED:
    case RT_DIAG_AUTH_REJECTED_OPEN:
        dg_set(s, DG_FAIL, RT_E_proxy_auth_failed, "the proxy rejected the credentials of user '%s' (%s%s%s)",
            e->up.user, e->www_auth_with ? "401 with WWW-Authenticate" : "407", realm[0] ? ", " : "", realm);
        snprintf(s->evidence, sizeof s->evidence, "%s to a request with Proxy-Authorization (user '%s')%s",
                 e->www_auth_with ? "401 + WWW-Authenticate" : "407", e->up.user,
                 e->st_without == 407 ? "; 407 without it too" : "");
        if (e->www_auth_with)
            dg_hint(s, "A 401 with WWW-Authenticate from a proxy is tinyproxy's answer to a wrong user or password");
        if (e->up.pass && !e->up.pass[0])
            dg_hint(s, "The password is empty ('%s:@host' or 'user@host'): add the password to the entry", e->up.user);
        if (a == RT_DIAG_AUTH_REJECTED_OPEN)
            dg_hint(s, "This proxy accepts this machine without credentials (IP whitelist) but rejects the ones sent: "
                    "fix them or remove them from the entry");
        if (e->up.session_slot)
            dg_hint(s, "The user has a {session} slot, filled with 'rotordiag...': check the provider's session "
                    "syntax in the username");
        dg_hint(s, "If the password holds @ : # / ? %% or spaces, the URL form needs them percent-encoded "
                "(%%40 %%3A %%23 %%2F %%3F %%25 %%20); the host:port:user:pass form takes it literally");
        break;
    }
}

/* The guide's step 2 also covers the account: a provider that accepts the
 * credentials but says the quota is spent or the account suspended fails
 * here, before the proxy's reach is judged. */
void dg_judge_account(dg_entry *e, const io_hc_result *r)
{
    dg_step *s = dg_step_of(e, 2);
    rt_classify_out c;
    classify(e->run, r, e->run->o->reference, true, &c);
    if (c.code != RT_E_proxy_quota_exceeded && c.code != RT_E_proxy_account_suspended)
        return;
    char ans[128];
    answer_text(r, ans, sizeof ans);
    dg_set(s, DG_FAIL, c.code, "credentials accepted, but the provider refuses the account: %s", ans);
    snprintf(s->evidence, sizeof s->evidence, "%s", c.evidence);
    dg_hint(s, "Check the account's status, quota and billing in the provider's dashboard; nothing else matters "
            "until the account works");
}

void dg_judge_cred_error(dg_entry *e)
{
    dg_step *s = dg_step_of(e, 2);
    dg_set(s, DG_FAIL, RT_E_proxy_auth_failed, "the credentials in the entry are not valid URL syntax: %s",
        e->parse_err);
    snprintf(s->evidence, sizeof s->evidence, "pool parser: %s", e->parse_err);
    dg_hint(s, "Percent-encode the user and password: @ as %%40, : as %%3A, # as %%23, / as %%2F, ? as %%3F, %% as %%25 "
            "(python3 -c 'import urllib.parse,getpass; print(urllib.parse.quote(getpass.getpass(), safe=\"\"))')");
    dg_hint(s, "Or write the entry as host:port:user:pass, which takes the password literally");
}

/* ---- step 3 ---- */

static bool outbound_code(rt_code c)
{
    const rt_code_info *ci = rt_code_get(c);
    return ci->origin == RT_ORIGIN_NETWORK || c == RT_E_proxy_error || c == RT_E_proxy_overloaded ||
           c == RT_E_proxy_bad_response || c == RT_E_target_gateway_timeout || c == RT_E_target_server_error;
}

void dg_judge_reference(dg_entry *e, const io_hc_result *r, bool creds)
{
    dg_step *s = dg_step_of(e, 3);
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
            dg_set(s, DG_PASS, RT_E_ok, "%s answered %d in %lld ms; exit IP %s", ref, r->resp.status,
                (long long)r->ms_total, e->exit_ip);
        else
            dg_set(s, DG_PASS, RT_E_ok, "%s answered %d in %lld ms (no exit IP in the answer)", ref, r->resp.status,
                (long long)r->ms_total);
        if (r->ms_first_byte >= 0)
            dg_note(s, "first byte %lld ms, total %lld ms", (long long)r->ms_first_byte, (long long)r->ms_total);
        return;
    }
    dg_set(s, DG_FAIL, c.code, "%s through the proxy: %s", ref, ans);
    if (c.code == RT_E_proxy_quota_exceeded || c.code == RT_E_proxy_account_suspended ||
        c.code == RT_E_proxy_target_restricted) {
        dg_hint(s, "The provider refuses this account or this request itself: check the account in the provider's "
                "dashboard before anything else");
        return;
    }
    if (outbound_code(c.code)) {
        dg_hint(s, "Even a simple reference target fails through this proxy (%s): its outbound side cannot reach the "
                "internet; this is the provider's problem: contact them or try another exit, region or port",
             rt_code_name(c.code));
        if (!e->run->o->compare_direct)
            dg_hint(s, "Check the reference directly to be sure it is up (--compare-direct)");
    }
}

void dg_judge_reference_direct(dg_entry *e, const io_hc_result *r)
{
    int n = e->failed_step == 2 || dg_step_of(e, 2)->st == DG_FAIL ? 2 : 3;
    dg_step *s = dg_step_of(e, n);
    rt_classify_out c;
    classify(e->run, r, e->run->o->reference, false, &c);
    if (c.code == RT_E_ok) {
        exit_ip_of(r, e->local_ip, sizeof e->local_ip);
        dg_note(s, "without the proxy the reference answers %d; this machine's outbound IP: %s", r->resp.status,
             e->local_ip[0] ? e->local_ip : "(not shown)");
        if (n == 2 && e->local_ip[0])
            dg_hint(s, "For IP authentication, the address to whitelist is %s", e->local_ip);
        if (n == 3 && e->exit_ip[0] && e->local_ip[0] && !strcmp(e->exit_ip, e->local_ip))
            dg_note(s, "the exit IP is this machine's own: the proxy does not hide your address");
        if (n == 3 && s->st == DG_FAIL)
            dg_hint(s, "The reference works without the proxy, so the failure is on the proxy's side");
    } else {
        char ans[128];
        answer_text(r, ans, sizeof ans);
        dg_note(s, "without the proxy the reference fails too: %s (%s)", ans, rt_code_name(c.code));
        if (n == 3 && s->st == DG_FAIL)
            dg_hint(s, "The reference also fails from here: pick another --reference before blaming the proxy");
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
        dg_note(s, "Retry-After: %.*s (not a valid value)", (int)(ra->value.n > 60 ? 60 : ra->value.n), ra->value.p);
        return;
    }
    e->retry_after_s = (int32_t)((delay + 999) / 1000);
    dg_note(s, "Retry-After: %.*s (wait %d s%s)", (int)(ra->value.n > 60 ? 60 : ra->value.n), ra->value.p,
         e->retry_after_s, rc == RT_RETRY_AFTER_CLAMPED ? ", clamped to a day" : "");
}

void dg_judge_target(dg_entry *e, const io_hc_result *r)
{
    dg_step *s = dg_step_of(e, 4);
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
            dg_set(s, DG_WARN, RT_E_ok, "%s answered %d but slowly: %lld ms (over --slow-ms %u)", t, r->resp.status,
                (long long)r->ms_total, e->run->o->slow_ms);
            dg_note(s, "first byte after %lld ms", (long long)r->ms_first_byte);
            dg_hint(s, "A slow page through the proxy: use exits near the target, lower concurrency, and raise client "
                    "and provider timeouts above the page's time");
        } else {
            dg_set(s, DG_PASS, RT_E_ok, "%s answered %d in %lld ms", t, r->resp.status, (long long)r->ms_total);
        }
        return;
    }
    dg_set(s, DG_FAIL, c.code, "%s through the proxy: %s", t, ans);
    if (c.sig_id[0])
        dg_note(s, "recognised by signature %s", c.sig_id);
    switch (c.code) {
    case RT_E_target_rate_limited:
        retry_after(e, r, s);
        dg_hint(s, "The site rate-limits this exit%s: wait as told, then spread requests over more IPs "
                "(exponential backoff 2, 4, 8 s on repeated 429s)", e->retry_after_s >= 0 ? " (Retry-After given)" : "");
        break;
    case RT_E_target_blocked:
    case RT_E_target_challenge:
        dg_hint(s, "The reference works through this proxy, so the block is specific to this site: rotate to a fresh "
                "IP, send browser-like headers, slow down");
        break;
    default:
        if (rt_code_get(c.code)->origin == RT_ORIGIN_NETWORK)
            dg_hint(s, "The proxy reaches the reference but not this site: the site or its network rejects the exit");
        break;
    }
}

void dg_judge_target_direct(dg_entry *e, const io_hc_result *r)
{
    dg_step *s = dg_step_of(e, 4);
    rt_classify_out c;
    classify(e->run, r, e->run->o->target, false, &c);
    char ans[128];
    answer_text(r, ans, sizeof ans);
    dg_note(s, "without the proxy: %s (%s)", ans, rt_code_name(c.code));
    if (s->st != DG_FAIL)
        return;
    if (c.code == RT_E_ok)
        dg_hint(s, "The site answers without the proxy but not through it: it blocks this proxy's exit, not you");
    else
        dg_hint(s, "The site fails without the proxy too (%s): it is down or blocks everyone, the proxy is not the "
                "cause", rt_code_name(c.code));
}

/* ---- step 5 ---- */

void dg_record_sample(dg_entry *e, const io_hc_result *r, const char *url)
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

void dg_judge_samples(dg_entry *e)
{
    dg_step *s = dg_step_of(e, 5);
    rt_diag_sample *v = calloc(e->nsamples ? e->nsamples : 1, sizeof *v);
    if (!v) {
        dg_set(s, DG_FAIL, RT_E_gateway_internal_error, "out of memory");
        return;
    }
    for (size_t i = 0; i < e->nsamples; i++)
        v[i] = e->samples[i].s;
    rt_diag_pattern *p = &e->pattern;
    rt_diag_pattern_of(v, e->nsamples, p);
    free(v);
    double rate = p->n ? 100.0 * p->failed / p->n : 0.0;
    s->ms = p->ms_median;
    dg_note(s, "%u samples: %u failed (%.0f%%); time min %u / median %u / max %u ms", p->n, p->failed, rate, p->ms_min,
         p->ms_median, p->ms_max);
    if (p->nexits) {
        char line[DG_LINE_MAX];
        size_t len = (size_t)snprintf(line, sizeof line, "exits:");
        for (size_t k = 0; k < p->nexits && len < sizeof line; k++)
            len += (size_t)snprintf(line + len, sizeof line - len, " %s %u/%u failed%s", p->exits[k].exit,
                                    p->exits[k].failed, p->exits[k].n, k + 1 < p->nexits ? "," : "");
        dg_note(s, "%s", line);
    }
    if (p->unattributed && p->failed)
        dg_note(s, "%u samples without a known exit", p->unattributed);
    switch (p->kind) {
    case RT_DIAG_PAT_NONE:
        dg_set(s, DG_PASS, RT_E_ok, "%u/%u samples succeeded (median %u ms)", p->n, p->n, p->ms_median);
        return;
    case RT_DIAG_PAT_PERSISTENT:
        dg_set(s, DG_FAIL, p->top_code, "every sample failed (%s): not intermittent, the failure is persistent",
            rt_code_name(p->top_code));
        break;
    case RT_DIAG_PAT_EXITS: {
        char bad[200];
        size_t len = 0;
        bad[0] = 0;
        for (size_t k = 0; k < p->nexits && len < sizeof bad; k++)
            if (p->exits[k].bad)
                len += (size_t)snprintf(bad + len, sizeof bad - len, "%s%s", len ? ", " : "", p->exits[k].exit);
        dg_set(s, DG_FAIL, p->top_code, "%u/%u samples failed, and the failures follow particular exits: %s", p->failed,
            p->n, bad);
        dg_hint(s, "Failures tied to specific IPs mean those IPs are banned or unhealthy: exclude or rotate away from "
                "them (rotor serve ejects such entries by itself)");
        break;
    }
    case RT_DIAG_PAT_GROWING:
        dg_set(s, DG_FAIL, p->top_code, "%u/%u samples failed, more and more over time (first at sample %u)", p->failed,
            p->n, p->first_fail + 1);
        dg_hint(s, "Failures that grow over time mean the target progressively blocks this traffic pattern: slow down, "
                "rotate IPs and sessions more often, vary the request pattern");
        break;
    case RT_DIAG_PAT_RANDOM:
        dg_set(s, DG_FAIL, p->top_code, "%u/%u samples failed, at random across %zu exits", p->failed, p->n, p->nexits);
        dg_hint(s, "Random failures across many IPs point at the provider's instability: retry with jitter, check the "
                "provider's status page, or try another endpoint or region");
        break;
    case RT_DIAG_PAT_INTERMITTENT:
        dg_set(s, DG_FAIL, p->top_code, "%u/%u samples failed intermittently (exit per sample not known)", p->failed,
            p->n);
        dg_hint(s, "Sporadic failures on one proxy: retry with jitter; compare with another entry to tell the provider "
                "from the target");
        break;
    }
    for (size_t i = 0; i < e->nsamples; i++)
        if (e->samples[i].s.code == p->top_code && e->samples[i].evidence[0]) {
            snprintf(s->evidence, sizeof s->evidence, "sample %zu: %s", i + 1, e->samples[i].evidence);
            break;
        }
}
