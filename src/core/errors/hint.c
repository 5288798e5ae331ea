#include "core/errors/hint.h"

#include <stdbool.h>
#include <string.h>

#include "core/base/wbuf.h"

static bool has_ci(rt_slice s, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= s.n; i++)
        if (strncasecmp(s.p + i, needle, n) == 0)
            return true;
    return false;
}

/* Libraries and tools whose default User-Agent anti-bot systems block on
 * sight; a browser's UA starts with "Mozilla/". */
static const char *tool_agent(rt_slice ua)
{
    static const char *const tools[] = {
        "python-requests", "python-urllib", "aiohttp", "httpx", "curl/", "wget/", "go-http-client",
        "java/", "okhttp", "scrapy", "libwww-perl", "node-fetch", "axios", "undici", "postmanruntime",
        "headlesschrome", "phantomjs",
    };
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++)
        if (has_ci(ua, tools[i]))
            return tools[i];
    return NULL;
}

static void sep(rt_wbuf *b)
{
    if (b->len)
        rt_wbuf_adds(b, "; ");
}

static void client_request_hints(rt_wbuf *b, const rt_http_head *h)
{
    const rt_http_hdr *ua = rt_http_find(h, "user-agent");
    if (!ua || !ua->value.n) {
        sep(b);
        rt_wbuf_adds(b, "the request has no User-Agent: send a current browser's");
    } else {
        const char *tool = tool_agent(ua->value);
        if (tool) {
            sep(b);
            rt_wbuf_addf(b, "User-Agent names a tool (%s), not a browser: send a current browser's", tool);
        } else if (!(ua->value.n >= 8 && strncmp(ua->value.p, "Mozilla/", 8) == 0)) {
            sep(b);
            rt_wbuf_adds(b, "User-Agent does not look like a browser's");
        } else if (has_ci(ua->value, "chrome/") && !has_ci(ua->value, "edg/") &&
                   !rt_http_find(h, "sec-ch-ua")) {
            /* Chromium 89+ sends client hints with every navigation: a
             * Chrome UA without them is a known bot tell. */
            sep(b);
            rt_wbuf_adds(b, "User-Agent claims Chrome but sec-ch-ua client hints are missing");
        }
    }
    if (!rt_http_find(h, "accept")) {
        sep(b);
        rt_wbuf_adds(b, "no Accept header (browsers always send one)");
    }
    if (!rt_http_find(h, "accept-language")) {
        sep(b);
        rt_wbuf_adds(b, "no Accept-Language header (browsers always send one)");
    }
}

static void entry_hints(rt_wbuf *b, const rt_upstream *u, rt_code code)
{
    if (!u->user) {
        sep(b);
        rt_wbuf_addf(b, "pool entry %s has no credentials: add user:pass, or whitelist this machine's public IP "
                        "with the provider", u->label);
        return;
    }
    if (u->pass && !u->pass[0]) {
        sep(b);
        rt_wbuf_addf(b, "pool entry %s has an empty password", u->label);
    }
    /* Characters that only reach the password through %-escapes (URL forms)
     * or the colon form: right if intended, the usual culprit if not. */
    static const char specials[] = "@:#%";
    for (const char *c = specials; *c; c++) {
        if (u->pass && strchr(u->pass, *c)) {
            sep(b);
            rt_wbuf_addf(b, "the password of %s contains '%c': check it is the real one (in a URL it must be "
                            "written %%%02X)", u->label, *c, (unsigned char)*c);
            break;
        }
    }
    if (code == RT_E_proxy_auth_failed && u->session_slot) {
        sep(b);
        rt_wbuf_adds(b, "the username has a {session} slot: check the provider's session syntax");
    }
}

/* An https:// entry whose handshake failed: the evidence (OpenSSL's
 * reason) tells a certificate problem from a port that is not TLS. */
static void tls_hints(rt_wbuf *b, const rt_upstream *u, rt_slice ev)
{
    if (u->scheme != RT_UP_HTTPS)
        return;
    bool cert = has_ci(ev, "certificate") || has_ci(ev, "mismatch") || has_ci(ev, "unknown ca");
    bool plain = has_ci(ev, "wrong version number") || has_ci(ev, "packet length too long") ||
                 has_ci(ev, "record layer failure") || has_ci(ev, "http request") || has_ci(ev, "timed out") ||
                 has_ci(ev, "EOF") || has_ci(ev, "unexpected eof");
    if (cert) {
        sep(b);
        rt_wbuf_addf(b, "the certificate of %s did not verify: if the provider uses its own CA, pass it with "
                        "--upstream-ca FILE; it must also name %s", u->label, u->host);
    }
    if (plain || !cert) {
        sep(b);
        rt_wbuf_addf(b, "if %s:%u speaks plain HTTP (most proxy ports do), write the entry as http:// instead of "
                        "https://", u->host, (unsigned)u->port);
    }
}

size_t rt_hint(const rt_hint_in *in, char *out, size_t cap)
{
    rt_wbuf b;
    if (!cap)
        return 0;
    rt_wbuf_init(&b, out, cap - 1);
    switch (in->code) {
    case RT_E_proxy_auth_required:
    case RT_E_proxy_auth_failed:
        if (in->entry)
            entry_hints(&b, in->entry, in->code);
        break;
    case RT_E_target_blocked:
    case RT_E_target_challenge:
    case RT_E_target_blocked_everywhere:
    case RT_E_target_rate_limited:
        if (in->client)
            client_request_hints(&b, in->client);
        break;
    case RT_E_proxy_tls_failed:
        if (in->entry)
            tls_hints(&b, in->entry, in->evidence);
        break;
    case RT_E_proxy_read_timeout:
    case RT_E_target_timeout:
    case RT_E_target_gateway_timeout:
    case RT_E_deadline_exceeded:
        rt_wbuf_addf(&b, "rotor waits %u ms for a response head (--read-timeout) and %u ms for the whole request "
                         "(--request-timeout); a client whose own timeout is shorter gives up first and sees no "
                         "answer from rotor",
                     in->read_timeout_ms, in->request_timeout_ms);
        break;
    default:
        break;
    }
    if (b.overflow) {
        /* Keep whole sentences: cut back to the last separator. */
        while (b.len && !(b.len >= 2 && out[b.len - 2] == ';'))
            b.len--;
        if (b.len >= 2)
            b.len -= 2;
    }
    out[b.len] = 0;
    return b.len;
}
