#include "core/errors/classify.h"
#include "core/policy/retry_after.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/errors/proxystatus.h"

const char *rt_phase_name(rt_phase ph)
{
    switch (ph) {
    case RT_PH_NONE: return "none";
    case RT_PH_DNS: return "dns";
    case RT_PH_CONNECT: return "connect";
    case RT_PH_TLS: return "tls";
    case RT_PH_PROXY_CONNECT: return "proxy_connect";
    case RT_PH_REQUEST_SENT: return "request_sent";
    case RT_PH_RESPONSE: return "response";
    case RT_PH_BODY: return "body";
    case RT_PH_TUNNEL: return "tunnel";
    }
    return "?";
}

/* ==== output helpers ==== */

static void evidence(rt_classify_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void evidence(rt_classify_out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->evidence, sizeof o->evidence, fmt, ap);
    va_end(ap);
    /* Evidence lands in logs and headers: keep it printable ASCII. */
    for (char *p = o->evidence; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
}

static void decide(rt_classify_out *o, rt_code c)
{
    const rt_code_info *ci = rt_code_get(c);
    o->code = c;
    o->origin = ci->origin;
    o->cls = ci->cls;
}

/* A 407-type conclusion depends on whether we sent credentials at all. */
static rt_code auth_fix(rt_code c, bool sent)
{
    if (c == RT_E_proxy_auth_required || c == RT_E_proxy_auth_failed)
        return sent ? RT_E_proxy_auth_failed : RT_E_proxy_auth_required;
    return c;
}

static int clip(size_t n, size_t max) { return (int)(n < max ? n : max); }

static const char *errname(int e)
{
    const char *n = e ? strerrorname_np(e) : NULL;
    return n ? n : "error";
}

static const rt_http_hdr *find_hdr(const rt_classify_in *in, const char *name)
{
    for (size_t i = 0; i < in->nhdrs; i++)
        if (rt_slice_eq_ci(in->hdrs[i].name, name))
            return &in->hdrs[i];
    return NULL;
}

/* ==== transport failures (no response head) ==== */

typedef enum tkind { TK_NONE, TK_TIMEOUT, TK_REFUSED, TK_RESET, TK_UNREACH, TK_EOF, TK_OTHER } tkind;

static tkind transport_kind(const rt_classify_in *in)
{
    if (in->timed_out || in->sys_errno == ETIMEDOUT)
        return TK_TIMEOUT;
    switch (in->sys_errno) {
    case 0:
        return in->peer_closed ? TK_EOF : TK_NONE;
    case ECONNREFUSED:
        return TK_REFUSED;
    case ECONNRESET: case EPIPE: case ECONNABORTED:
        return TK_RESET;
    case EHOSTUNREACH: case ENETUNREACH: case ENETDOWN: case EHOSTDOWN: case EADDRNOTAVAIL:
        return TK_UNREACH;
    default:
        return TK_OTHER;
    }
}

/* "ECONNREFUSED", "timed out", "ETIMEDOUT", "connection closed (EOF)". */
static const char *kind_text(const rt_classify_in *in, tkind k)
{
    if (k == TK_TIMEOUT)
        return in->sys_errno == ETIMEDOUT ? "ETIMEDOUT" : "timed out";
    if (k == TK_EOF)
        return "connection closed (EOF)";
    if (k == TK_NONE)
        return "failed";
    return errname(in->sys_errno);
}

static bool transport_failed(const rt_classify_in *in) { return transport_kind(in) != TK_NONE; }

static void transport(const rt_classify_in *in, rt_classify_out *o)
{
    tkind k = transport_kind(in);
    const char *what = kind_text(in, k);
    bool px = in->via_proxy;
    const char *hop = px ? "proxy" : "target";
    int hn = px ? 0 : clip(in->host.n, 64);
    const char *hp = in->host.p ? in->host.p : "";
    rt_code c;
    switch (in->phase) {
    case RT_PH_DNS:
        c = px ? RT_E_proxy_dns_failed : RT_E_target_dns_failed;
        evidence(o, "resolving the %s's host%s%.*s: %s", hop, hn ? " " : "", hn, hp,
                 k == TK_TIMEOUT ? "timed out" : "lookup failed");
        break;
    case RT_PH_CONNECT:
        switch (k) {
        case TK_REFUSED: c = px ? RT_E_proxy_refused : RT_E_target_refused; break;
        case TK_TIMEOUT: c = px ? RT_E_proxy_connect_timeout : RT_E_target_connect_timeout; break;
        case TK_RESET: case TK_EOF: c = px ? RT_E_proxy_reset : RT_E_target_reset; break;
        default: c = px ? RT_E_proxy_unreachable : RT_E_target_unreachable; break;
        }
        evidence(o, "connect() to %s%s%.*s: %s", hop, hn ? " " : "", hn, hp, what);
        break;
    case RT_PH_TLS: {
        /* The TLS peer is named: with several https:// entries the
         * evidence alone must say which one refused the handshake. */
        c = px ? RT_E_proxy_tls_failed
                : in->tls_failed && in->tls_verify_failed ? RT_E_target_certificate_invalid : RT_E_target_tls_failed;
        int pn = px ? clip(in->hop.n, 96) : hn;
        const char *pp = px ? (in->hop.p ? in->hop.p : "") : hp;
        if (in->tls_failed && in->tls_error.n)
            evidence(o, "TLS handshake with %s%s%.*s failed: %.*s", hop, pn ? " " : "", pn, pp,
                     clip(in->tls_error.n, 120), in->tls_error.p);
        else if (k == TK_NONE)
            evidence(o, "TLS handshake with %s%s%.*s failed", hop, pn ? " " : "", pn, pp);
        else
            evidence(o, "TLS handshake with %s%s%.*s failed: %s", hop, pn ? " " : "", pn, pp, what);
        break;
    }
    case RT_PH_PROXY_CONNECT:
    case RT_PH_REQUEST_SENT:
        if (px)
            c = k == TK_TIMEOUT ? RT_E_proxy_read_timeout : RT_E_proxy_reset;
        else
            c = k == TK_TIMEOUT ? RT_E_target_timeout : RT_E_target_reset;
        evidence(o, "%s from %s: %s before any response byte",
                 in->phase == RT_PH_PROXY_CONNECT ? "waiting for the CONNECT reply"
                                                  : "waiting for the response head",
                 hop, what);
        break;
    case RT_PH_RESPONSE:
    case RT_PH_BODY:
        c = RT_E_target_response_incomplete;
        evidence(o, "response cut before its head was complete: %s", what);
        break;
    default:
        c = RT_E_gateway_internal_error;
        evidence(o, "classifier called without a phase or a status");
        break;
    }
    decide(o, c);
}

/* ==== tunnel inferences ==== */

static const char *tls_alert_name(unsigned d)
{
    switch (d) {
    case 0: return "close_notify";
    case 10: return "unexpected_message";
    case 20: return "bad_record_mac";
    case 22: return "record_overflow";
    case 40: return "handshake_failure";
    case 42: return "bad_certificate";
    case 43: return "unsupported_certificate";
    case 44: return "certificate_revoked";
    case 45: return "certificate_expired";
    case 46: return "certificate_unknown";
    case 47: return "illegal_parameter";
    case 48: return "unknown_ca";
    case 49: return "access_denied";
    case 50: return "decode_error";
    case 51: return "decrypt_error";
    case 70: return "protocol_version";
    case 71: return "insufficient_security";
    case 80: return "internal_error";
    case 86: return "inappropriate_fallback";
    case 90: return "user_canceled";
    case 109: return "missing_extension";
    case 110: return "unsupported_extension";
    case 112: return "unrecognized_name";
    case 116: return "certificate_required";
    case 120: return "no_application_protocol";
    }
    return "unknown";
}

static void tunnel(const rt_classify_in *in, rt_classify_out *o)
{
    const unsigned char *f = (const unsigned char *)in->tunnel_first_s2c.p;
    size_t fn = f ? in->tunnel_first_s2c.n : 0;
    const unsigned char *c = (const unsigned char *)in->tunnel_first_c2s.p;
    size_t cn = c ? in->tunnel_first_c2s.n : 0;
    bool client_tls = cn >= 3 && c[0] == 0x16 && c[1] == 0x03;
    tkind k = transport_kind(in);
    bool server_closed = k == TK_EOF || k == TK_RESET;
    unsigned long long up = (unsigned long long)in->tunnel_c2s;
    unsigned long long down = (unsigned long long)in->tunnel_s2c;

    /* TLS record header (RFC 8446 section 5.1): type 21 = alert, version
     * 0x03 0x0N, length 2, then level and description. */
    if (fn >= 5 && f[0] == 0x15 && f[1] == 0x03 && f[2] <= 0x04) {
        o->inferred = true;
        decide(o, RT_E_target_tunnel_failed);
        if (fn >= 7 && f[3] == 0 && f[4] == 2)
            evidence(o, "server's first bytes are a TLS alert (%s %s(%u)) after %llu client bytes",
                     f[5] == 2 ? "fatal" : "warning", tls_alert_name(f[6]), f[6], up);
        else
            evidence(o, "server's first bytes are a TLS alert record after %llu client bytes", up);
        return;
    }
    if (client_tls && fn >= 5 && memcmp(f, "HTTP/", 5) == 0) {
        o->inferred = true;
        decide(o, RT_E_target_tunnel_failed);
        evidence(o, "server answered the client's TLS hello in plain HTTP (\"%.*s\")", (int)fn,
                 (const char *)f);
        return;
    }
    if (down == 0 && server_closed) {
        o->inferred = true;
        decide(o, RT_E_target_tunnel_failed);
        if (up == 0)
            evidence(o, "tunnel closed by the far side right after the CONNECT 2xx (%s), no byte either way",
                     kind_text(in, k));
        else
            evidence(o, "far side %s after %llu client bytes%s, before any server byte",
                     k == TK_RESET ? "reset the tunnel" : "closed the tunnel", up,
                     client_tls ? " (a TLS hello)" : "");
        return;
    }
    if (down == 0 && up > 0 && k == TK_TIMEOUT) {
        o->inferred = true;
        decide(o, RT_E_target_timeout);
        evidence(o, "no server byte in the tunnel within the timeout after %llu client bytes", up);
        return;
    }
    if (server_closed && down < RT_TUNNEL_TINY && up > 0) {
        o->inferred = true;
        decide(o, RT_E_target_tunnel_failed);
        evidence(o, "far side closed the tunnel after only %llu server bytes (%llu client bytes)",
                 down, up);
        return;
    }
    if (in->client_closed && down == 0 && up > 0) {
        decide(o, RT_E_client_closed);
        evidence(o, "client closed the tunnel after %llu bytes while the server had sent none", up);
        return;
    }
    decide(o, RT_E_ok);
    evidence(o, "tunnel relayed %llu bytes up, %llu down", up, down);
}

/* ==== responses ==== */

/* A CONNECT reply, or a page a proxy signature recognised: the proxy speaks
 * about its own hop, so its status is read with proxy semantics. */
static rt_code proxy_status_rule(int st, bool connect_reply, bool sent)
{
    if (st >= 200 && st <= 299)
        return RT_E_ok;
    switch (st) {
    case 401: case 407: return auth_fix(RT_E_proxy_auth_failed, sent);
    case 402: return RT_E_proxy_quota_exceeded;
    case 403: return connect_reply ? RT_E_proxy_connect_refused : RT_E_proxy_target_restricted;
    case 405: case 501: return connect_reply ? RT_E_proxy_connect_unsupported : RT_E_proxy_error;
    case 429: return RT_E_proxy_rate_limited;
    case 503: return RT_E_proxy_overloaded;
    case 504: return connect_reply ? RT_E_target_connect_timeout : RT_E_target_timeout;
    default: break;
    }
    if (st < 200)
        return RT_E_proxy_bad_response; /* a 1xx never answers CONNECT; a final status must follow */
    return RT_E_proxy_error;
}

/* The target's own answer, passed through. */
static rt_code target_status_rule(int st)
{
    if (st < 400)
        return RT_E_ok; /* 1xx, 2xx, 3xx: the page or a redirect */
    switch (st) {
    case 403: case 451: return RT_E_target_blocked;
    case 429: return RT_E_target_rate_limited;
    case 503: return RT_E_target_unavailable;
    case 504: return RT_E_target_gateway_timeout;
    default: break;
    }
    if (st >= 500)
        return RT_E_target_server_error;
    return RT_E_ok; /* 404, 410, 401...: an answer, not a failure of the path */
}

static void response(const rt_classify_in *in, const rt_sigset *sigs, rt_classify_out *o)
{
    int st = in->status;
    bool is2xx = st >= 200 && st <= 299;
    bool connect_reply = in->via_proxy && (in->phase == RT_PH_PROXY_CONNECT || in->method == RT_M_CONNECT);
    rt_slice rs = in->reason;
    int rn = clip(rs.n, 48);
    const char *rp = rs.p ? rs.p : "";

    if (connect_reply && is2xx) {
        decide(o, RT_E_ok);
        evidence(o, "CONNECT answered %d %.*s", st, rn, rp);
        return;
    }
    /* 2xx bodies are sniffed only when small: block pages served with 200
     * are short interstitials, and a large 2xx page must cost nothing. */
    size_t bn = in->body.p ? in->body.n : 0;
    bool small = bn <= RT_CLASSIFY_SMALL_2XX && in->body_total <= RT_CLASSIFY_SMALL_2XX;
    rt_sig_ctx ctx = {
        .status = st,
        .connect_reply = connect_reply,
        .via_proxy = in->via_proxy,
        .sniff_body = bn > 0 && (!is2xx || small),
        .reason = rs,
        .hdrs = in->hdrs,
        .nhdrs = in->hdrs ? in->nhdrs : 0,
        .body = in->body,
        .host = in->host,
    };
    rt_sig_result r;
    rt_sig_match(sigs, &ctx, &r);

    if (r.have_decisive) {
        decide(o, auth_fix(r.decisive.code, in->sent_credentials));
        memcpy(o->sig_id, r.decisive.id, sizeof o->sig_id);
        evidence(o, "%s: %s", r.decisive.id, r.decisive.what);
        return;
    }
    /* 407 is by definition a proxy's answer (RFC 9110 section 15.5.8). */
    if (in->via_proxy && st == 407) {
        decide(o, auth_fix(RT_E_proxy_auth_failed, in->sent_credentials));
        evidence(o, "%s407 %.*s, credentials %s", connect_reply ? "CONNECT answered " : "", rn, rp,
                 in->sent_credentials ? "were sent" : "not sent");
        return;
    }
    rt_proxy_status ps;
    if (!is2xx && ctx.nhdrs > 0 && rt_proxy_status_find(in->hdrs, ctx.nhdrs, &ps) == 0 && ps.error.n > 0) {
        decide(o, auth_fix(rt_proxy_status_code(ps.error), in->sent_credentials));
        if (ps.details.n > 0)
            evidence(o, "header Proxy-Status: %.*s; error=%.*s; details=\"%.*s\"", clip(ps.name.n, 40),
                     ps.name.p, clip(ps.error.n, 40), ps.error.p, clip(ps.details.n, 60), ps.details.p);
        else
            evidence(o, "header Proxy-Status: %.*s; error=%.*s", clip(ps.name.n, 40), ps.name.p,
                     clip(ps.error.n, 40), ps.error.p);
        return;
    }
    bool proxy_frame = connect_reply || r.proxy_generated;
    if (r.have_either) {
        decide(o, proxy_frame ? r.either.code_proxy : r.either.code);
        memcpy(o->sig_id, r.either.id, sizeof o->sig_id);
        evidence(o, "%s (%s side): %s", r.either.id, proxy_frame ? "proxy" : "target", r.either.what);
        return;
    }
    if (proxy_frame) {
        decide(o, proxy_status_rule(st, connect_reply, in->sent_credentials));
        if (connect_reply)
            evidence(o, "CONNECT answered %d %.*s", st, rn, rp);
        else
            evidence(o, "proxy-generated page (%s: %s), status %d", r.mark.id, r.mark.what, st);
        return;
    }
    decide(o, target_status_rule(st));
    /* A plain success needs no evidence: skipping the formatting keeps the
     * common path cheap. */
    if (o->code != RT_E_ok)
        evidence(o, "status %d %.*s%s", st, rn, rp,
                 in->via_proxy ? " with no proxy marker: the target's answer" : " from the target");
}

void rt_classify(const rt_classify_in *in, const rt_sigset *sigs, rt_classify_out *o)
{
    memset(o, 0, sizeof *o);
    o->retry_after_s = -1;
    decide(o, RT_E_ok);

    if (in->phase == RT_PH_TUNNEL) {
        tunnel(in, o);
        return;
    }
    if (in->status <= 0) {
        if (in->client_closed) {
            decide(o, RT_E_client_closed);
            evidence(o, "client closed its connection during %s", rt_phase_name(in->phase));
        } else if (in->bad_response) {
            decide(o, in->via_proxy ? RT_E_proxy_bad_response : RT_E_target_bad_response);
            evidence(o, "%s sent bytes that are not an HTTP/1.x response head",
                     in->via_proxy ? "proxy" : "target");
        } else {
            transport(in, o);
        }
        return;
    }

    const rt_http_hdr *ra = in->hdrs ? find_hdr(in, "retry-after") : NULL;
    if (ra) {
        o->retry_after_s = (int32_t)rt_retry_after_seconds(ra->value);
        if (o->retry_after_s < 0)
            o->retry_after_date = ra->value;
    }
    response(in, sigs, o);

    if (in->phase == RT_PH_BODY && o->code == RT_E_ok && transport_failed(in)) {
        tkind k = transport_kind(in);
        decide(o, RT_E_target_response_incomplete);
        o->sig_id[0] = '\0';
        evidence(o, "status %d head, then the body was cut: %s", in->status, kind_text(in, k));
    }
    /* The one class override (see classify.h): a named wait means back off. */
    if (ra && (o->code == RT_E_target_unavailable || o->code == RT_E_proxy_overloaded))
        o->cls = RT_CLASS_BACKOFF;
}
