/* Classifier tests built from realistic responses: real header and page
 * shapes of Squid, tinyproxy, Privoxy, proxy-chain, Zyte, Bright Data,
 * Oxylabs, Cloudflare, AWS WAF, Imperva, F5, Akamai, DataDome, PerimeterX,
 * Kasada, nginx and HAProxy, plus socket outcomes by phase and tunnel
 * inferences. The last test checks that every code the classifier can
 * produce was produced by at least one case. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/errors/classify.h"
#include "core/policy/retry_after.h"
#include "core/errors/proxystatus.h"

static rt_sigset *g_set;
static bool g_seen[RT_E__COUNT];

/* ---- a tiny raw-response reader for test inputs ("\n" line ends) ---- */

typedef struct resp {
    rt_http_hdr h[32];
    size_t nh;
    int status;
    rt_slice reason;
    rt_slice body;
} resp;

static void parse_raw(const char *raw, resp *r)
{
    memset(r, 0, sizeof *r);
    const char *p = raw;
    assert_true(strncmp(p, "HTTP/1.", 7) == 0);
    p += 9;
    r->status = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
    p += 3;
    if (*p == ' ')
        p++;
    const char *e = strchr(p, '\n');
    assert_non_null(e);
    r->reason = rt_slice_from(p, (size_t)(e - p));
    p = e + 1;
    while (*p && *p != '\n') {
        e = strchr(p, '\n');
        assert_non_null(e);
        const char *colon = memchr(p, ':', (size_t)(e - p));
        assert_non_null(colon);
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        assert_true(r->nh < 32);
        r->h[r->nh].name = rt_slice_from(p, (size_t)(colon - p));
        r->h[r->nh].value = rt_slice_from(v, (size_t)(e - v));
        r->nh++;
        p = e + 1;
    }
    if (*p == '\n')
        p++;
    r->body = rt_slice_cstr(p);
}

static rt_classify_out run_in(const rt_classify_in *in)
{
    rt_classify_out o;
    rt_classify(in, g_set, &o);
    g_seen[o.code] = true;
    /* Invariants of every verdict. */
    const rt_code_info *ci = rt_code_get(o.code);
    if (!(o.code == RT_E_target_unavailable || o.code == RT_E_proxy_overloaded))
        assert_int_equal(o.cls, ci->cls);
    assert_int_equal(o.origin, ci->origin);
    assert_true(strlen(o.evidence) < RT_EVIDENCE_MAX);
    if (o.code != RT_E_ok)
        assert_true(o.evidence[0] != '\0');
    for (const char *q = o.evidence; *q; q++)
        assert_true(*q >= 0x20 && *q < 0x7f);
    return o;
}

/* Classify a raw response seen in `phase` through a proxy (or direct). */
static rt_classify_out raw_in(const char *raw, rt_phase phase, bool via, bool creds, rt_http_method m,
                              const char *host)
{
    static resp r; /* the output's retry_after_date points into it */
    parse_raw(raw, &r);
    rt_classify_in in = {
        .phase = phase, .via_proxy = via, .sent_credentials = creds, .method = m,
        .host = rt_slice_cstr(host), .status = r.status, .reason = r.reason,
        .hdrs = r.h, .nhdrs = r.nh, .body = r.body, .body_total = r.body.n,
    };
    return run_in(&in);
}

#define GET(raw) raw_in((raw), RT_PH_RESPONSE, true, true, RT_M_GET, "www.example.com")
#define CONNECT_REPLY(raw) raw_in((raw), RT_PH_PROXY_CONNECT, true, true, RT_M_CONNECT, "www.example.com")
#define DIRECT(raw) raw_in((raw), RT_PH_RESPONSE, false, false, RT_M_GET, "www.example.com")

#define assert_code(o, c) assert_string_equal(rt_code_name((o).code), rt_code_name(c))
#define assert_ev(o, s)                                                         \
    do {                                                                        \
        if (!strstr((o).evidence, (s)))                                         \
            fail_msg("evidence \"%s\" lacks \"%s\"", (o).evidence, (s));        \
    } while (0)

/* ---- pages ---- */

#define SQUID_HEAD(status, err)                                                  \
    "HTTP/1.1 " status "\nServer: squid/6.10\nMime-Version: 1.0\n"               \
    "Date: Tue, 10 Jun 2025 10:00:00 GMT\nContent-Type: text/html;charset=utf-8\n" \
    "X-Squid-Error: " err "\nVary: Accept-Language\nContent-Language: en\n"        \
    "Via: 1.1 proxy1 (squid/6.10)\nConnection: close\n\n"
#define SQUID_PAGE(msg)                                                          \
    "<!DOCTYPE html PUBLIC \"-//W3C//DTD HTML 4.01//EN\">\n<html><head>"          \
    "<title>ERROR: The requested URL could not be retrieved</title></head><body id=ERR>\n" \
    "<div id=\"titles\"><h1>ERROR</h1><h2>The requested URL could not be retrieved</h2></div>\n" \
    "<p>The following error was encountered while trying to retrieve the URL: "  \
    "<a href=\"http://nx.example/\">http://nx.example/</a></p>\n"                \
    "<blockquote id=\"error\"><p><b>" msg "</b></p></blockquote>\n"               \
    "<div id=\"footer\"><p>Generated Tue, 10 Jun 2025 10:00:00 GMT by proxy1 (squid/6.10)</p></div>\n" \
    "</body></html>\n"

static const char cf_challenge_body[] =
    "<!DOCTYPE html><html lang=\"en-US\"><head><title>Just a moment...</title>"
    "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\">"
    "<meta name=\"robots\" content=\"noindex,nofollow\"></head><body>"
    "<div class=\"main-wrapper\" role=\"main\"><noscript><span id=\"challenge-error-text\">"
    "Enable JavaScript and cookies to continue</span></noscript></div>"
    "<script>(function(){window._cf_chl_opt={cvId: '3',cZone: \"www.example.com\",cType: 'managed'};"
    "var cpo = document.createElement('script');"
    "cpo.src = '/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1?ray=8f1c2d3e4a5b6c7d';"
    "document.getElementsByTagName('head')[0].appendChild(cpo);}());</script></body></html>\n";

/* ---- Squid ---- */

static void test_squid_dns_fail(void **st)
{
    (void)st;
    rt_classify_out o = GET(SQUID_HEAD("503 Service Unavailable", "ERR_DNS_FAIL 0")
                                SQUID_PAGE("Unable to determine IP address from host name <q>nx.example</q>"));
    assert_code(o, RT_E_target_dns_failed);
    assert_int_equal(o.origin, RT_ORIGIN_NETWORK);
    assert_string_equal(o.sig_id, "squid.err_dns_fail");
    assert_ev(o, "header X-Squid-Error: ERR_DNS_FAIL 0");
    /* The same answer to a CONNECT reports the same hop. */
    o = CONNECT_REPLY(SQUID_HEAD("503 Service Unavailable", "ERR_DNS_FAIL 0") "");
    assert_code(o, RT_E_target_dns_failed);
}

static void test_squid_connect_fail_by_errno(void **st)
{
    (void)st;
    rt_classify_out o = GET(SQUID_HEAD("503 Service Unavailable", "ERR_CONNECT_FAIL 111")
                                SQUID_PAGE("Connection to 192.0.2.7 failed."));
    assert_code(o, RT_E_target_refused);
    o = GET(SQUID_HEAD("503 Service Unavailable", "ERR_CONNECT_FAIL 110") "");
    assert_code(o, RT_E_target_connect_timeout);
    o = GET(SQUID_HEAD("503 Service Unavailable", "ERR_CONNECT_FAIL 113") "");
    assert_code(o, RT_E_target_unreachable);
    /* 1100 is not errno 110: the anchored regex must not take it. */
    o = GET(SQUID_HEAD("503 Service Unavailable", "ERR_CONNECT_FAIL 1100") "");
    assert_code(o, RT_E_target_refused);
}

static void test_squid_auth(void **st)
{
    (void)st;
    const char *raw = "HTTP/1.1 407 Proxy Authentication Required\nServer: squid/6.10\n"
                      "X-Squid-Error: ERR_CACHE_ACCESS_DENIED 0\n"
                      "Proxy-Authenticate: Basic realm=\"Squid proxy-caching web server\"\n\n"
                      SQUID_PAGE("Sorry, you are not currently allowed to request this until you have authenticated yourself.");
    rt_classify_out o = raw_in(raw, RT_PH_RESPONSE, true, true, RT_M_GET, "a.example");
    assert_code(o, RT_E_proxy_auth_failed);
    assert_int_equal(o.origin, RT_ORIGIN_PROXY);
    assert_int_equal(o.cls, RT_CLASS_FIX);
    o = raw_in(raw, RT_PH_PROXY_CONNECT, true, false, RT_M_CONNECT, "a.example");
    assert_code(o, RT_E_proxy_auth_required);
}

static void test_squid_access_denied_by_phase(void **st)
{
    (void)st;
    const char *raw = SQUID_HEAD("403 Forbidden", "ERR_ACCESS_DENIED 0")
        SQUID_PAGE("Access Denied.");
    assert_code(CONNECT_REPLY(raw), RT_E_proxy_connect_refused);
    assert_code(GET(raw), RT_E_proxy_target_restricted);
}

static void test_squid_other_pages(void **st)
{
    (void)st;
    assert_code(GET(SQUID_HEAD("504 Gateway Timeout", "ERR_READ_TIMEOUT 0") ""), RT_E_target_timeout);
    assert_code(GET(SQUID_HEAD("502 Bad Gateway", "ERR_ZERO_SIZE_OBJECT 0") ""), RT_E_target_reset);
    assert_code(GET(SQUID_HEAD("502 Bad Gateway", "ERR_READ_ERROR 104") ""), RT_E_target_reset);
    assert_code(GET(SQUID_HEAD("502 Bad Gateway", "ERR_INVALID_RESP 0") ""), RT_E_target_bad_response);
    assert_code(GET(SQUID_HEAD("503 Service Unavailable", "ERR_SECURE_CONNECT_FAIL 71") ""),
                RT_E_target_tls_failed);
    assert_code(GET(SQUID_HEAD("503 Service Unavailable", "ERR_SHUTTING_DOWN 0") ""), RT_E_proxy_overloaded);
    assert_code(GET(SQUID_HEAD("403 Forbidden", "ERR_ACL_TIME_QUOTA_EXCEEDED 0") ""),
                RT_E_proxy_quota_exceeded);
    rt_classify_out o = GET(SQUID_HEAD("500 Internal Server Error", "ERR_GATEWAY_FAILURE 0") "");
    assert_code(o, RT_E_proxy_error);
    assert_string_equal(o.sig_id, "squid.err_other");
}

static void test_squid_page_without_error_header(void **st)
{
    (void)st;
    /* A Squid page (Server: squid) without X-Squid-Error: the proxy spoke,
     * so a 503 is the proxy being unavailable, not the target. */
    rt_classify_out o = GET("HTTP/1.1 503 Service Unavailable\nServer: squid/5.7\n"
                            "Content-Type: text/html\n\n" SQUID_PAGE("Service unavailable"));
    assert_code(o, RT_E_proxy_overloaded);
    assert_ev(o, "proxy-generated page (squid.generated");
    /* A target page relayed by Squid only carries Via: it stays the target's. */
    o = GET("HTTP/1.1 503 Service Unavailable\nServer: Apache\nVia: 1.1 proxy1 (squid/6.10)\n\n"
            "<html><body>Maintenance</body></html>");
    assert_code(o, RT_E_target_unavailable);
    assert_int_equal(o.origin, RT_ORIGIN_TARGET);
}

static void test_direct_ignores_proxy_signatures(void **st)
{
    (void)st;
    /* Without a proxy on the path, a Squid page is the target's own front end. */
    rt_classify_out o = DIRECT(SQUID_HEAD("503 Service Unavailable", "ERR_DNS_FAIL 0") "");
    assert_code(o, RT_E_target_unavailable);
    assert_string_equal(o.sig_id, "");
}

/* ---- tinyproxy, Privoxy, 3proxy, Apache ---- */

static void test_tinyproxy(void **st)
{
    (void)st;
    rt_classify_out o = GET(
        "HTTP/1.0 500 Unable to connect\nServer: tinyproxy/1.11.1\nContent-Type: text/html\n"
        "Connection: close\n\n"
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<html xmlns=\"http://www.w3.org/1999/xhtml\">\n"
        "<head><title>500 Unable to connect</title></head>\n<body>\n<h1>Unable to connect</h1>\n"
        "<p>Tinyproxy was unable to connect to the remote web server.</p>\n<hr />\n"
        "<p><em>Generated by <a href=\"https://tinyproxy.github.io/\">tinyproxy</a> version 1.11.1.</em></p>\n"
        "</body>\n</html>\n");
    assert_code(o, RT_E_target_unreachable);
    assert_string_equal(o.sig_id, "tinyproxy.unable_to_connect");
    o = CONNECT_REPLY("HTTP/1.0 403 Access violation\nServer: tinyproxy/1.11.1\n\n"
                      "<h1>Access violation</h1>\n<p>The CONNECT method not allowed with the port you tried to use.</p>\n"
                      "<p><em>Generated by tinyproxy version 1.11.1.</em></p>");
    assert_code(o, RT_E_proxy_connect_refused);
}

static void test_privoxy(void **st)
{
    (void)st;
    rt_classify_out o = GET("HTTP/1.1 404 No such domain\nContent-Type: text/html\nCache-Control: no-cache\n\n"
                            "<!DOCTYPE html><html><head><title>404 - No such Domain (Privoxy@localhost)</title>"
                            "</head><body><h2>No such domain</h2><p>Your request for <b>http://nx.example/</b> could "
                            "not be fulfilled, because the domain name <b>nx.example</b> could not be resolved.</p>"
                            "</body></html>");
    assert_code(o, RT_E_target_dns_failed);
    assert_ev(o, "reason \"No such domain\"");
    /* A target's ordinary 404 is an answer, not a failure. */
    o = GET("HTTP/1.1 404 Not Found\nServer: nginx\nContent-Type: text/html\n\n<h1>Not Found</h1>");
    assert_code(o, RT_E_ok);
    assert_code(GET("HTTP/1.1 503 Connect failed\nContent-Type: text/html\n\n"
                    "<title>503 - Connect failed (Privoxy@localhost)</title>"),
                RT_E_target_refused);
    assert_code(GET("HTTP/1.1 504 Connection timeout\n\n<title>504 - Connection timeout (Privoxy@localhost)</title>"),
                RT_E_target_connect_timeout);
    assert_code(GET("HTTP/1.1 503 Too many open connections\n\n"), RT_E_proxy_rate_limited);
    assert_code(GET("HTTP/1.1 403 Request blocked by Privoxy\n\n<title>Request blocked (Privoxy@localhost)</title>"),
                RT_E_proxy_target_restricted);
}

static void test_3proxy_and_apache(void **st)
{
    (void)st;
    assert_code(GET("HTTP/1.0 503 Service Unavailable\nProxy-Connection: close\nContent-type: text/html; charset=utf-8\n\n"
                    "<html><head><title>503 Service Unavailable</title></head>\n<body><h2>503 Service Unavailable</h2>"
                    "<h3>You have exceeded your limits</h3></body></html>"),
                RT_E_proxy_quota_exceeded);
    assert_code(GET("HTTP/1.1 502 Proxy Error\nServer: Apache/2.4.62\n\n<title>502 Proxy Error</title>"
                    "<p>The proxy server could not handle the request<p>Reason: <strong>DNS lookup failure for: nx.example</strong></p>"),
                RT_E_target_dns_failed);
}

/* ---- providers ---- */

static void test_proxy_chain_59x(void **st)
{
    (void)st;
    rt_classify_out o = GET("HTTP/1.1 594 Connection Refused\nServer: Apify Proxy\nContent-Type: text/plain\n\n"
                            "Target website refused the connection");
    assert_code(o, RT_E_target_refused);
    assert_int_equal(o.origin, RT_ORIGIN_NETWORK);
    assert_string_equal(o.sig_id, "proxychain.594");
    assert_code(GET("HTTP/1.1 593 Not Found\n\n"), RT_E_target_dns_failed);
    assert_code(GET("HTTP/1.1 595 Connection Reset\n\n"), RT_E_target_reset);
    assert_code(GET("HTTP/1.1 597 Auth Failed\n\n"), RT_E_proxy_auth_failed);
    assert_code(GET("HTTP/1.1 590 UPSTREAM403\n\n"), RT_E_proxy_error);
    assert_code(GET("HTTP/1.1 592 Status Code Out Of Range\n\n"), RT_E_proxy_bad_response);
}

static void test_zyte(void **st)
{
    (void)st;
    rt_classify_out o = GET("HTTP/1.1 503 Service Unavailable\nX-Crawlera-Error: banned\n"
                            "X-Crawlera-Version: 1.59.0\nRetry-After: 30\n\nAll download attempts failed. Please retry.");
    assert_code(o, RT_E_target_blocked);
    assert_int_equal(o.origin, RT_ORIGIN_TARGET);
    assert_int_equal(o.cls, RT_CLASS_ROTATE);
    assert_int_equal(o.retry_after_s, 30);
    assert_code(GET("HTTP/1.1 429 Too Many Requests\nX-Crawlera-Error: too_many_conns\n\n"), RT_E_proxy_rate_limited);
    assert_code(GET("HTTP/1.1 407 Proxy Authentication Required\nX-Crawlera-Error: bad_proxy_auth\n\n"),
                RT_E_proxy_auth_failed);
    assert_code(GET("HTTP/1.1 403 Forbidden\nX-Crawlera-Error: user_suspended\n\n"), RT_E_proxy_account_suspended);
    assert_code(GET("HTTP/1.1 502 Bad Gateway\nX-Crawlera-Error: nxdomain\n\n"), RT_E_target_dns_failed);
    assert_code(GET("HTTP/1.1 503 Service Unavailable\nX-Crawlera-Error: noslaves\n\n"), RT_E_proxy_overloaded);
    assert_code(GET("HTTP/1.1 520 Website Ban\nZyte-Error-Type: /download/temporary-error\n\n"), RT_E_target_blocked);
}

static void test_bright_data(void **st)
{
    (void)st;
    rt_classify_out o = GET("HTTP/1.1 502 Bad Gateway\nx-brd-error: Proxy Error: No peers available\n"
                            "x-brd-ip: 203.0.113.9\nContent-Length: 0\n\n");
    assert_code(o, RT_E_proxy_overloaded);
    assert_ev(o, "x-brd-error: Proxy Error: No peers available");
    assert_code(GET("HTTP/1.1 407 Proxy Authentication Required\nx-brd-err-code: client_10100\n"
                    "x-brd-err-msg: Usage limit reached\n\n"),
                RT_E_proxy_quota_exceeded);
    assert_code(GET("HTTP/1.1 407 Auth failed (code: ip_forbidden)\nx-brd-error: Auth failed (code: ip_forbidden)\n\n"),
                RT_E_proxy_auth_failed);
    assert_code(GET("HTTP/1.1 403 Forbidden\nx-brd-err-code: policy_20020\nx-brd-err-msg: Bad Port used\n\n"),
                RT_E_proxy_target_restricted);
    assert_code(GET("HTTP/1.1 502 Bad Gateway\nx-brd-error-code: reject_block\n\n"), RT_E_target_blocked);
    assert_code(GET("HTTP/1.1 502 Bad Gateway\nx-brd-error-code: resolve_failed_dns\n\n"), RT_E_target_dns_failed);
    /* Without x-brd-*, a 403 through Bright Data is the target's. */
    o = GET("HTTP/1.1 403 Forbidden\nServer: Apache\nx-brd-ip: 203.0.113.9\n\n<h1>Forbidden</h1>");
    assert_code(o, RT_E_target_blocked);
    assert_int_equal(o.origin, RT_ORIGIN_TARGET);
}

static void test_quota_407s(void **st)
{
    (void)st;
    assert_code(GET("HTTP/1.1 407 Proxy Authentication Required\nX-Error-Description: Traffic limit reached\n\n"),
                RT_E_proxy_quota_exceeded);
    assert_code(GET("HTTP/1.1 407 Proxy Authentication Required\nX-Error-Description: Access denied: user authentication failed\n\n"),
                RT_E_proxy_auth_failed);
    assert_code(GET("HTTP/1.1 407 TRAFFIC_EXHAUSTED\n\n"), RT_E_proxy_quota_exceeded);
    assert_code(GET("HTTP/1.1 407 USER_BLOCKED\n\n"), RT_E_proxy_account_suspended);
    assert_code(GET("HTTP/1.1 407 Proxy Authentication Required\nContent-Type: text/plain\n\n"
                    "Your traffic limit has been reached, please top up."),
                RT_E_proxy_quota_exceeded);
    /* A plain 407: credentials decide between required and failed. */
    rt_classify_out o = raw_in("HTTP/1.1 407 Proxy Authentication Required\nProxy-Authenticate: Basic realm=\"x\"\n\n",
                               RT_PH_RESPONSE, true, false, RT_M_GET, "a.example");
    assert_code(o, RT_E_proxy_auth_required);
    assert_ev(o, "not sent");
}

static void test_apify_and_generic_markers(void **st)
{
    (void)st;
    assert_code(GET("HTTP/1.1 502 Bad Gateway\nx-apify-proxy-error: true\n\n"
                    "Could not verify the TLS certificate of shop.example.com"),
                RT_E_target_certificate_invalid);
    assert_code(GET("HTTP/1.1 403 Forbidden\nServer: Apify Proxy\nx-apify-proxy-error: true\n\n"
                    "Monthly usage hard limit exceeded"),
                RT_E_proxy_quota_exceeded);
    rt_classify_out o = GET("HTTP/1.1 502 Bad Gateway\nX-Proxy-Error: upstream connect failed\n\n");
    assert_code(o, RT_E_proxy_error);
    assert_ev(o, "X-Proxy-Error");
}

/* ---- 52x: Cloudflare's origin errors vs a provider's ---- */

static void test_522_cloudflare_vs_provider(void **st)
{
    (void)st;
    rt_classify_out o = GET("HTTP/1.1 522 \nServer: cloudflare\nCF-RAY: 8f1c2d3e4a5b6c7d-AMS\n"
                            "Content-Type: text/html; charset=UTF-8\n\n"
                            "<title>example.com | 522: Connection timed out</title>");
    assert_code(o, RT_E_target_gateway_timeout);
    assert_int_equal(o.origin, RT_ORIGIN_TARGET);
    o = GET("HTTP/1.1 522 Timeout\nContent-Length: 0\n\n");
    assert_code(o, RT_E_target_connect_timeout);
    assert_int_equal(o.origin, RT_ORIGIN_NETWORK);
    assert_code(GET("HTTP/1.1 521 \nServer: cloudflare\nCF-RAY: 8f1c2d3e4a5b6c7d-AMS\n\n"), RT_E_target_unavailable);
    assert_code(GET("HTTP/1.1 525 No Exit Found\n\n"), RT_E_proxy_overloaded);
    assert_code(GET("HTTP/1.1 490 Bad Request\n\n"), RT_E_proxy_overloaded);
}

/* ---- target anti-bot ---- */

static void test_cloudflare(void **st)
{
    (void)st;
    char raw[4096];
    snprintf(raw, sizeof raw, "HTTP/1.1 403 Forbidden\nServer: cloudflare\nCF-RAY: 8f1c2d3e4a5b6c7d-FRA\n"
                              "Content-Type: text/html; charset=UTF-8\n\n%s", cf_challenge_body);
    rt_classify_out o = GET(raw);
    assert_code(o, RT_E_target_challenge);
    assert_string_equal(o.sig_id, "cloudflare.challenge");
    assert_ev(o, "body");
    o = GET("HTTP/1.1 403 Forbidden\nServer: cloudflare\ncf-mitigated: challenge\n\n");
    assert_code(o, RT_E_target_challenge);
    o = GET("HTTP/1.1 403 Forbidden\nServer: cloudflare\n\n<title>Attention Required! | Cloudflare</title>"
            "<div class=\"cf-error-title\"><h1><span class=\"cf-error-type\">Error</span>"
            "<span class=\"cf-error-code\">1020</span></h1></div>");
    assert_code(o, RT_E_target_blocked);
    o = GET("HTTP/1.1 403 Forbidden\nServer: cloudflare\n\n<span class=\"cf-error-code\">1009</span> "
            "The owner of this website has banned the country or region your IP address is in");
    assert_code(o, RT_E_target_blocked);
    assert_ev(o, "body ~");
    o = GET("HTTP/1.1 429 Too Many Requests\nServer: cloudflare\n\n<span class=\"cf-error-code\">1015</span>"
            "<h2>You are being rate limited</h2>");
    assert_code(o, RT_E_target_rate_limited);
    /* Turnstile on an error page is a challenge; in a 200 login form it is not. */
    assert_code(GET("HTTP/1.1 403 Forbidden\n\n<div class=\"cf-turnstile\" data-sitekey=\"x\"></div>"),
                RT_E_target_challenge);
    assert_code(GET("HTTP/1.1 200 OK\n\n<form><div class=\"cf-turnstile\" data-sitekey=\"x\"></div></form>"),
                RT_E_ok);
}

static void test_aws_waf(void **st)
{
    (void)st;
    rt_classify_out o = GET("HTTP/1.1 202 Accepted\nx-amzn-waf-action: challenge\nContent-Length: 0\n"
                            "Cache-Control: no-store, max-age=0\n\n");
    assert_code(o, RT_E_target_challenge);
    assert_ev(o, "x-amzn-waf-action: challenge");
    assert_code(GET("HTTP/1.1 405 Method Not Allowed\nx-amzn-waf-action: captcha\n\n"), RT_E_target_challenge);
    /* A 202 without the WAF header is a success. */
    assert_code(GET("HTTP/1.1 202 Accepted\nContent-Length: 0\n\n"), RT_E_ok);
    assert_code(GET("HTTP/1.1 403 Forbidden\nServer: CloudFront\nX-Cache: Error from cloudfront\n\n"
                    "<H1>403 ERROR</H1><H2>The request could not be satisfied.</H2>Request blocked.\n"
                    "<HR noshade size=\"1px\">Generated by cloudfront (CloudFront)"),
                RT_E_target_blocked);
    assert_code(GET("HTTP/1.1 504 Gateway Timeout\nX-Cache: Error from cloudfront\n\n"), RT_E_target_unavailable);
}

static void test_block_pages_with_200(void **st)
{
    (void)st;
    rt_classify_out o = GET("HTTP/1.1 200 OK\nContent-Type: text/html\nX-Iinfo: 5-1234-0 0NNN RT(1700000000 1) q(0 -1 -1 -1) r(0 -1)\n"
                            "Set-Cookie: visid_incap_123=abc; path=/\n\n"
                            "<html><head><META NAME=\"robots\" CONTENT=\"noindex,nofollow\"></head><body>"
                            "<iframe id=\"main-iframe\" src=\"/_Incapsula_Resource?CWUDNSAI=9&xinfo=1&incident_id=123-456&edet=15\">"
                            "Request unsuccessful. Incapsula incident ID: 123-456</iframe></body></html>");
    assert_code(o, RT_E_target_blocked);
    assert_string_equal(o.sig_id, "imperva.block");
    o = GET("HTTP/1.1 200 OK\nContent-Type: text/html\n\n<html><head><title>Request Rejected</title></head>"
            "<body>The requested URL was rejected. Please consult with your administrator.<br><br>"
            "Your support ID is: 1234567890123456789</body></html>");
    assert_code(o, RT_E_target_blocked);
    /* A large 2xx page is never sniffed, even if it quotes a marker. */
    static char big[12000];
    memset(big, 'x', sizeof big - 1);
    const char *hdr = "HTTP/1.1 200 OK\nContent-Type: text/html\n\n";
    memcpy(big, hdr, strlen(hdr));
    memcpy(big + 200, "Incapsula incident ID", 21);
    assert_code(GET(big), RT_E_ok);
}

static void test_other_antibot(void **st)
{
    (void)st;
    assert_code(GET("HTTP/1.1 403 Forbidden\nServer: AkamaiGHost\nMime-Version: 1.0\n\n"
                    "<HTML><HEAD>\n<TITLE>Access Denied</TITLE>\n</HEAD><BODY>\n<H1>Access Denied</H1>\n"
                    "You don't have permission to access \"http&#58;&#47;&#47;www&#46;example&#46;com&#47;\" on this server.<P>\n"
                    "Reference&#32;&#35;18&#46;6a2f1002&#46;1700000000&#46;1b2c3d4\n</BODY>\n</HTML>"),
                RT_E_target_blocked);
    assert_code(GET("HTTP/1.1 403 Forbidden\nx-datadome: protected\nSet-Cookie: datadome=AbC123; Max-Age=31536000\n\n"
                    "<html><script>var dd={'rt':'c','cid':'AHrlqAAA','hsh':'ABC','t':'fe','host':'geo.captcha-delivery.com'}</script>"
                    "<script src=\"https://ct.captcha-delivery.com/c.js\"></script></html>"),
                RT_E_target_challenge);
    assert_code(GET("HTTP/1.1 403 Forbidden\n\n<iframe src=\"https://geo.captcha-delivery.com/captcha/?initialCid=AHrl&hash=X&t=bv&s=1\"></iframe>"),
                RT_E_target_blocked);
    assert_code(GET("HTTP/1.1 403 Forbidden\n\n<html><head><title>Access to this page has been denied</title>"
                    "<script>window._pxAppId = 'PXabc123';</script></head><body><div id=\"px-captcha\"></div>"
                    "<p>Press &amp; Hold to confirm you are a human (and not a bot).</p></body></html>"),
                RT_E_target_challenge);
    assert_code(GET("HTTP/1.1 429 Too Many Requests\n\n<h1>Reached maximum requests limitation, try again soon.</h1>"),
                RT_E_target_rate_limited);
    /* Kasada answers with 429, but it is a challenge, not a rate limit. */
    assert_code(GET("HTTP/1.1 429 Too Many Requests\nx-kpsdk-ct: 0abc\n\n"
                    "<script src=\"/149e9513-01fa-4fb0-aad4-566afd725d1b/2d206a39-8ed7-437e-a3be-862e0f06eea3/ips.js\"></script>"),
                RT_E_target_challenge);
    assert_code(GET("HTTP/1.1 403 Forbidden\nServer: Sucuri/Cloudproxy\nX-Sucuri-ID: 11005\nX-Sucuri-Block: GEO02\n\n"
                    "<title>Sucuri WebSite Firewall - Access Denied</title>"),
                RT_E_target_blocked);
    assert_code(GET("HTTP/1.1 403 Forbidden\n\n<script src=\"https://www.google.com/recaptcha/api.js\"></script>"
                    "<div class=\"g-recaptcha\" data-sitekey=\"k\"></div>"),
                RT_E_target_challenge);
    assert_code(GET("HTTP/1.1 403 Forbidden\n\n<script src=\"https://js.hcaptcha.com/1/api.js\"></script>"), RT_E_target_challenge);
    rt_classify_out o = raw_in("HTTP/1.1 999 Request denied\n\n", RT_PH_RESPONSE, true, true, RT_M_GET, "www.linkedin.com");
    assert_code(o, RT_E_target_blocked);
    o = raw_in("HTTP/1.1 999 Request denied\n\n", RT_PH_RESPONSE, true, true, RT_M_GET, "notlinkedin.com");
    assert_code(o, RT_E_target_server_error);
}

/* ---- stock pages and status rules ---- */

static void test_nginx_503_rate_limit(void **st)
{
    (void)st;
    const char *raw = "HTTP/1.1 503 Service Temporarily Unavailable\nServer: nginx\nContent-Type: text/html\n\n"
                      "<html>\n<head><title>503 Service Temporarily Unavailable</title></head>\n<body>\n"
                      "<center><h1>503 Service Temporarily Unavailable</h1></center>\n<hr><center>nginx</center>\n"
                      "</body>\n</html>\n";
    rt_classify_out o = GET(raw);
    assert_code(o, RT_E_target_rate_limited);
    assert_ev(o, "nginx.503_limit (target side)");
    o = CONNECT_REPLY(raw);
    assert_code(o, RT_E_proxy_overloaded);
    assert_ev(o, "(proxy side)");
    assert_code(GET("HTTP/1.1 503 Service Unavailable\nCache-Control: no-cache\nContent-Type: text/html\n\n"
                    "<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n"),
                RT_E_target_unavailable);
    assert_code(GET("HTTP/1.1 429 Too Many Requests\nCache-Control: no-cache\n\n<html><body><h1>429 Too Many Requests</h1>\n"
                    "You have sent too many requests in a given amount of time.\n</body></html>\n"),
                RT_E_target_rate_limited);
}

static void test_target_statuses(void **st)
{
    (void)st;
    rt_classify_out o = GET("HTTP/1.1 429 Too Many Requests\nRetry-After: 120\n\n");
    assert_code(o, RT_E_target_rate_limited);
    assert_int_equal(o.retry_after_s, 120);
    assert_int_equal(o.retry_after_date.n, 0);
    o = GET("HTTP/1.1 429 Too Many Requests\nRetry-After: Wed, 21 Oct 2015 07:28:00 GMT\n\n");
    assert_int_equal(o.retry_after_s, -1);
    assert_int_equal(o.retry_after_date.n, strlen("Wed, 21 Oct 2015 07:28:00 GMT"));
    o = GET("HTTP/1.1 503 Service Unavailable\nServer: Apache\n\n");
    assert_code(o, RT_E_target_unavailable);
    assert_int_equal(o.cls, RT_CLASS_RETRY_NOW);
    o = GET("HTTP/1.1 503 Service Unavailable\nServer: Apache\nRetry-After: 60\n\n");
    assert_int_equal(o.cls, RT_CLASS_BACKOFF); /* the documented override */
    assert_code(GET("HTTP/1.1 500 Internal Server Error\n\n"), RT_E_target_server_error);
    assert_code(GET("HTTP/1.1 502 Bad Gateway\nServer: Apache\n\n"), RT_E_target_server_error);
    assert_code(GET("HTTP/1.1 504 Gateway Timeout\nServer: Apache\n\n"), RT_E_target_gateway_timeout);
    assert_code(GET("HTTP/1.1 403 Forbidden\nServer: Apache\n\n<h1>Forbidden</h1>"), RT_E_target_blocked);
    assert_code(GET("HTTP/1.1 451 Unavailable For Legal Reasons\n\n"), RT_E_target_blocked);
    assert_code(GET("HTTP/1.1 301 Moved Permanently\nLocation: https://www.example.com/\n\n"), RT_E_ok);
    assert_code(GET("HTTP/1.1 200 OK\nContent-Type: text/html\n\n<html>hello</html>"), RT_E_ok);
    assert_code(DIRECT("HTTP/1.1 407 Proxy Authentication Required\n\n"), RT_E_ok);
}

static void test_connect_reply_statuses(void **st)
{
    (void)st;
    assert_code(CONNECT_REPLY("HTTP/1.1 200 Connection established\n\n"), RT_E_ok);
    assert_code(CONNECT_REPLY("HTTP/1.1 403 Forbidden\n\n"), RT_E_proxy_connect_refused);
    assert_code(CONNECT_REPLY("HTTP/1.1 405 Method Not Allowed\n\n"), RT_E_proxy_connect_unsupported);
    assert_code(CONNECT_REPLY("HTTP/1.1 501 Not Implemented\n\n"), RT_E_proxy_connect_unsupported);
    assert_code(CONNECT_REPLY("HTTP/1.1 502 Bad Gateway\n\n"), RT_E_proxy_error);
    assert_code(CONNECT_REPLY("HTTP/1.1 503 Service Unavailable\n\n"), RT_E_proxy_overloaded);
    assert_code(CONNECT_REPLY("HTTP/1.1 504 Gateway Timeout\n\n"), RT_E_target_connect_timeout);
    assert_code(CONNECT_REPLY("HTTP/1.1 402 Payment Required\n\n"), RT_E_proxy_quota_exceeded);
    assert_code(CONNECT_REPLY("HTTP/1.1 429 Too Many Requests\n\n"), RT_E_proxy_rate_limited);
    assert_code(CONNECT_REPLY("HTTP/1.1 100 Continue\n\n"), RT_E_proxy_bad_response);
    /* Target signatures never apply to a CONNECT reply. */
    char raw[4096];
    snprintf(raw, sizeof raw, "HTTP/1.1 403 Forbidden\nServer: cloudflare\n\n%s", cf_challenge_body);
    rt_classify_out o = CONNECT_REPLY(raw);
    assert_code(o, RT_E_proxy_connect_refused);
    assert_ev(o, "CONNECT answered 403");
    /* The method alone also marks a CONNECT reply. */
    o = raw_in("HTTP/1.1 403 Forbidden\n\n", RT_PH_RESPONSE, true, true, RT_M_CONNECT, "a.example");
    assert_code(o, RT_E_proxy_connect_refused);
}

static void test_proxy_status_header(void **st)
{
    (void)st;
    rt_classify_out o = GET("HTTP/1.1 502 Bad Gateway\nProxy-Status: edge.example; error=dns_error; "
                            "details=\"NXDOMAIN for shop.example\"\n\n");
    assert_code(o, RT_E_target_dns_failed);
    assert_ev(o, "error=dns_error");
    assert_ev(o, "NXDOMAIN");
    assert_code(GET("HTTP/1.1 502 Bad Gateway\nProxy-Status: gw; error=connection_refused\n\n"), RT_E_target_refused);
    assert_code(GET("HTTP/1.1 504 Gateway Timeout\nProxy-Status: gw; error=connection_timeout\n\n"),
                RT_E_target_connect_timeout);
    assert_code(GET("HTTP/1.1 502 Bad Gateway\nProxy-Status: gw; error=connection_terminated\n\n"), RT_E_target_reset);
    assert_code(GET("HTTP/1.1 502 Bad Gateway\nProxy-Status: gw; error=tls_alert_received\n\n"), RT_E_target_tls_failed);
    assert_code(GET("HTTP/1.1 502 Bad Gateway\nProxy-Status: gw; error=tls_certificate_error\n\n"),
                RT_E_target_certificate_invalid);
    assert_code(GET("HTTP/1.1 403 Forbidden\nProxy-Status: gw; error=http_request_denied\n\n"),
                RT_E_proxy_target_restricted);
    assert_code(GET("HTTP/1.1 502 Bad Gateway\nProxy-Status: gw; error=http_response_incomplete\n\n"),
                RT_E_target_response_incomplete);
    assert_code(GET("HTTP/1.1 502 Bad Gateway\nProxy-Status: gw; error=http_protocol_error\n\n"),
                RT_E_target_bad_response);
    assert_code(GET("HTTP/1.1 504 Gateway Timeout\nProxy-Status: gw; error=http_response_timeout\n\n"),
                RT_E_target_timeout);
    assert_code(GET("HTTP/1.1 503 Service Unavailable\nProxy-Status: gw; error=connection_limit_reached\n\n"),
                RT_E_proxy_rate_limited);
    assert_code(GET("HTTP/1.1 500 Internal Server Error\nProxy-Status: gw; error=proxy_internal_error\n\n"),
                RT_E_proxy_error);
    /* received-status alone: the next hop answered, so it is the target's. */
    assert_code(GET("HTTP/1.1 503 Service Unavailable\nProxy-Status: gw; received-status=503\n\n"),
                RT_E_target_unavailable);
}

/* ---- socket outcomes by phase ---- */

static rt_classify_out sock(rt_phase ph, bool via, int err, bool timeout, bool eof)
{
    rt_classify_in in = { .phase = ph, .via_proxy = via, .sys_errno = err, .timed_out = timeout,
                          .peer_closed = eof, .method = RT_M_GET, .host = RT_SLICE_LIT("shop.example.com") };
    return run_in(&in);
}

static void test_socket_errors_to_proxy(void **st)
{
    (void)st;
    rt_classify_out o = sock(RT_PH_CONNECT, true, ECONNREFUSED, false, false);
    assert_code(o, RT_E_proxy_refused);
    assert_int_equal(o.origin, RT_ORIGIN_NETWORK);
    assert_int_equal(o.cls, RT_CLASS_FIX);
    assert_string_equal(o.evidence, "connect() to proxy: ECONNREFUSED");
    assert_code(sock(RT_PH_DNS, true, 0, false, false), RT_E_proxy_dns_failed);
    assert_code(sock(RT_PH_CONNECT, true, ETIMEDOUT, false, false), RT_E_proxy_connect_timeout);
    o = sock(RT_PH_CONNECT, true, 0, true, false);
    assert_code(o, RT_E_proxy_connect_timeout);
    assert_ev(o, "timed out");
    assert_code(sock(RT_PH_CONNECT, true, EHOSTUNREACH, false, false), RT_E_proxy_unreachable);
    assert_code(sock(RT_PH_CONNECT, true, ENETUNREACH, false, false), RT_E_proxy_unreachable);
    assert_code(sock(RT_PH_CONNECT, true, ECONNRESET, false, false), RT_E_proxy_reset);
    assert_code(sock(RT_PH_TLS, true, 0, false, true), RT_E_proxy_tls_failed);
    assert_code(sock(RT_PH_PROXY_CONNECT, true, 0, true, false), RT_E_proxy_read_timeout);
    o = sock(RT_PH_PROXY_CONNECT, true, 0, false, true);
    assert_code(o, RT_E_proxy_reset);
    assert_ev(o, "EOF");
    assert_code(sock(RT_PH_REQUEST_SENT, true, ECONNRESET, false, false), RT_E_proxy_reset);
    assert_code(sock(RT_PH_REQUEST_SENT, true, 0, true, false), RT_E_proxy_read_timeout);
}

static void test_socket_errors_direct(void **st)
{
    (void)st;
    rt_classify_out o = sock(RT_PH_DNS, false, 0, false, false);
    assert_code(o, RT_E_target_dns_failed);
    assert_ev(o, "shop.example.com");
    assert_code(sock(RT_PH_CONNECT, false, ECONNREFUSED, false, false), RT_E_target_refused);
    assert_code(sock(RT_PH_CONNECT, false, ETIMEDOUT, false, false), RT_E_target_connect_timeout);
    assert_code(sock(RT_PH_CONNECT, false, ENETUNREACH, false, false), RT_E_target_unreachable);
    assert_code(sock(RT_PH_CONNECT, false, ECONNRESET, false, false), RT_E_target_reset);
    assert_code(sock(RT_PH_TLS, false, ECONNRESET, false, false), RT_E_target_tls_failed);
    assert_code(sock(RT_PH_REQUEST_SENT, false, 0, true, false), RT_E_target_timeout);
    assert_code(sock(RT_PH_REQUEST_SENT, false, 0, false, true), RT_E_target_reset);
    assert_code(sock(RT_PH_BODY, false, ECONNRESET, false, false), RT_E_target_response_incomplete);
    assert_code(sock(RT_PH_NONE, false, 0, false, false), RT_E_gateway_internal_error);
}

/* TLS to an https:// proxy: what OpenSSL said is the evidence, with the
 * proxy named; a socket failure during the handshake is still a TLS
 * failure of that proxy, worded by the socket's outcome. */
static void test_tls_handshake(void **st)
{
    (void)st;
    rt_classify_in in = { .phase = RT_PH_TLS, .via_proxy = true, .method = RT_M_GET,
                          .host = RT_SLICE_LIT("shop.example.com"), .tls_failed = true,
                          .tls_error = RT_SLICE_LIT("certificate verify failed (self-signed certificate)"),
                          .hop = RT_SLICE_LIT("127.0.0.1:4443") };
    rt_classify_out o = run_in(&in);
    assert_code(o, RT_E_proxy_tls_failed);
    assert_int_equal(o.origin, RT_ORIGIN_NETWORK);
    assert_int_equal(o.cls, RT_CLASS_FIX);
    assert_false(o.inferred);
    assert_string_equal(o.evidence,
                        "TLS handshake with proxy 127.0.0.1:4443 failed: certificate verify failed (self-signed certificate)");

    /* Plain HTTP on the TLS port. */
    in.tls_error = RT_SLICE_LIT("wrong version number");
    assert_string_equal(run_in(&in).evidence, "TLS handshake with proxy 127.0.0.1:4443 failed: wrong version number");

    /* The socket under the handshake: closed, reset, silent. */
    rt_classify_in s2 = { .phase = RT_PH_TLS, .via_proxy = true, .peer_closed = true,
                          .hop = RT_SLICE_LIT("gate.example:443") };
    o = run_in(&s2);
    assert_code(o, RT_E_proxy_tls_failed);
    assert_string_equal(o.evidence, "TLS handshake with proxy gate.example:443 failed: connection closed (EOF)");
    s2.peer_closed = false;
    s2.sys_errno = ECONNRESET;
    assert_string_equal(run_in(&s2).evidence, "TLS handshake with proxy gate.example:443 failed: ECONNRESET");
    s2.sys_errno = 0;
    s2.timed_out = true;
    o = run_in(&s2);
    assert_code(o, RT_E_proxy_tls_failed);
    assert_string_equal(o.evidence, "TLS handshake with proxy gate.example:443 failed: timed out");
    /* tls_failed without words, and nothing else known. */
    s2.timed_out = false;
    s2.tls_failed = true;
    assert_string_equal(run_in(&s2).evidence, "TLS handshake with proxy gate.example:443 failed");
    /* No hop given: still a sentence. */
    s2.hop = RT_SLICE_NULL;
    s2.peer_closed = true;
    s2.tls_failed = false;
    assert_string_equal(run_in(&s2).evidence, "TLS handshake with proxy failed: connection closed (EOF)");

    /* Hostile words stay printable and bounded. */
    char big[400];
    memset(big, 'x', sizeof big);
    big[3] = '\n';
    big[4] = (char)0xff;
    in.tls_error = rt_slice_from(big, sizeof big);
    o = run_in(&in);
    assert_code(o, RT_E_proxy_tls_failed);
    assert_true(strlen(o.evidence) < RT_EVIDENCE_MAX);
    assert_non_null(strstr(o.evidence, "failed: xxx??x"));
    for (const char *p = o.evidence; *p; p++)
        assert_true(*p >= 0x20 && *p < 0x7f);

    /* Direct: the target's handshake, the target named. */
    rt_classify_in d = { .phase = RT_PH_TLS, .via_proxy = false, .host = RT_SLICE_LIT("shop.example.com"),
                         .tls_failed = true, .tls_error = RT_SLICE_LIT("tlsv1 alert protocol version") };
    o = run_in(&d);
    assert_code(o, RT_E_target_tls_failed);
    assert_string_equal(o.evidence, "TLS handshake with target shop.example.com failed: tlsv1 alert protocol version");
    /* A certificate that did not verify: the target's is abort class... */
    d.tls_verify_failed = true;
    d.tls_error = RT_SLICE_LIT("certificate verify failed (self-signed certificate)");
    assert_code(run_in(&d), RT_E_target_certificate_invalid);
    /* ...while a proxy's stays proxy_tls_failed (fix the trust, the entry). */
    s2.tls_failed = true;
    s2.tls_verify_failed = true;
    s2.hop = RT_SLICE_LIT("gate.example:443");
    assert_code(run_in(&s2), RT_E_proxy_tls_failed);

    /* The flag belongs to the TLS phase: a refused connect stays a refused connect. */
    rt_classify_in c = { .phase = RT_PH_CONNECT, .via_proxy = true, .sys_errno = ECONNREFUSED, .tls_failed = true,
                         .tls_error = RT_SLICE_LIT("x"), .hop = RT_SLICE_LIT("127.0.0.1:1") };
    assert_code(run_in(&c), RT_E_proxy_refused);
}

static void test_body_cut_and_bad_heads(void **st)
{
    (void)st;
    rt_http_hdr h[] = { { RT_SLICE_LIT("Content-Length"), RT_SLICE_LIT("50000") } };
    rt_classify_in in = { .phase = RT_PH_BODY, .via_proxy = true, .method = RT_M_GET, .status = 200,
                          .reason = RT_SLICE_LIT("OK"), .hdrs = h, .nhdrs = 1, .sys_errno = ECONNRESET };
    rt_classify_out o = run_in(&in);
    assert_code(o, RT_E_target_response_incomplete);
    assert_ev(o, "ECONNRESET");
    /* A failure head stays the verdict even if its body was cut. */
    in.status = 429;
    assert_code(run_in(&in), RT_E_target_rate_limited);
    /* A complete body is fine. */
    in.status = 200;
    in.sys_errno = 0;
    assert_code(run_in(&in), RT_E_ok);
    rt_classify_in bad = { .phase = RT_PH_REQUEST_SENT, .via_proxy = true, .bad_response = true };
    assert_code(run_in(&bad), RT_E_proxy_bad_response);
    bad.via_proxy = false;
    assert_code(run_in(&bad), RT_E_target_bad_response);
    rt_classify_in gone = { .phase = RT_PH_REQUEST_SENT, .via_proxy = true, .client_closed = true, .sys_errno = EPIPE };
    assert_code(run_in(&gone), RT_E_client_closed);
}

/* ---- tunnels ---- */

static rt_classify_out tun(uint64_t up, uint64_t down, const void *first_s2c, size_t fn, int err, bool eof,
                           bool timeout)
{
    static const unsigned char hello[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03 };
    rt_classify_in in = { .phase = RT_PH_TUNNEL, .via_proxy = true, .method = RT_M_CONNECT,
                          .tunnel_c2s = up, .tunnel_s2c = down, .sys_errno = err, .peer_closed = eof,
                          .timed_out = timeout,
                          .tunnel_first_c2s = up ? rt_slice_from((const char *)hello, sizeof hello) : RT_SLICE_NULL,
                          .tunnel_first_s2c = rt_slice_from(first_s2c, fn) };
    return run_in(&in);
}

static void test_tunnel_inferences(void **st)
{
    (void)st;
    static const unsigned char alert[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28 };
    rt_classify_out o = tun(517, 7, alert, sizeof alert, 0, true, false);
    assert_code(o, RT_E_target_tunnel_failed);
    assert_true(o.inferred);
    assert_ev(o, "TLS alert (fatal handshake_failure(40)) after 517 client bytes");
    static const unsigned char sni[] = { 0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x70 };
    assert_ev(tun(517, 7, sni, sizeof sni, 0, true, false), "unrecognized_name(112)");
    o = tun(517, 0, NULL, 0, 0, true, false);
    assert_code(o, RT_E_target_tunnel_failed);
    assert_ev(o, "closed the tunnel after 517 client bytes (a TLS hello)");
    o = tun(517, 0, NULL, 0, ECONNRESET, false, false);
    assert_ev(o, "reset the tunnel");
    o = tun(0, 0, NULL, 0, 0, true, false);
    assert_code(o, RT_E_target_tunnel_failed);
    assert_ev(o, "no byte either way");
    o = tun(517, 0, NULL, 0, 0, false, true);
    assert_code(o, RT_E_target_timeout);
    assert_true(o.inferred);
    o = tun(517, 5, "\x00\x01\x02\x03\x04", 5, 0, true, false);
    assert_code(o, RT_E_target_tunnel_failed);
    assert_ev(o, "only 5 server bytes");
    o = tun(517, 120, "HTTP/1.1 502 Bad", 16, 0, true, false);
    assert_code(o, RT_E_target_tunnel_failed);
    assert_ev(o, "plain HTTP");
    /* A normal TLS exchange: ServerHello first, many bytes. */
    static const unsigned char shello[] = { 0x16, 0x03, 0x03, 0x00, 0x7a, 0x02 };
    o = tun(2048, 48213, shello, sizeof shello, 0, true, false);
    assert_code(o, RT_E_ok);
    assert_false(o.inferred);
    rt_classify_in in = { .phase = RT_PH_TUNNEL, .via_proxy = true, .tunnel_c2s = 517, .client_closed = true };
    assert_code(run_in(&in), RT_E_client_closed);
}

/* ---- hostile inputs ---- */

static void test_hostile_inputs(void **st)
{
    (void)st;
    /* No headers, NULL slices, a status out of the usual range. */
    rt_classify_in in = { .phase = RT_PH_RESPONSE, .via_proxy = true, .status = 700 };
    assert_code(run_in(&in), RT_E_target_server_error);
    /* Header values with control and high bytes never reach the evidence raw. */
    rt_http_hdr h[] = { { RT_SLICE_LIT("X-Squid-Error"), RT_SLICE_LIT("ERR_DNS_FAIL \x01\xff\x7f") } };
    in.status = 503;
    in.hdrs = h;
    in.nhdrs = 1;
    rt_classify_out o = run_in(&in);
    assert_code(o, RT_E_target_dns_failed);
    assert_ev(o, "ERR_DNS_FAIL ???");
    /* A marker past the first 16 KiB of a body is not seen. */
    static char body[RT_CLASSIFY_BODY_MAX + 64];
    memset(body, 'a', sizeof body);
    memcpy(body + RT_CLASSIFY_BODY_MAX + 10, "_cf_chl_opt", 11);
    rt_classify_in b = { .phase = RT_PH_RESPONSE, .via_proxy = false, .status = 403,
                         .body = rt_slice_from(body, sizeof body) };
    assert_code(run_in(&b), RT_E_target_blocked);
    memcpy(body + RT_CLASSIFY_BODY_MAX - 11, "_cf_chl_opt", 11); /* the last bytes still count */
    assert_code(run_in(&b), RT_E_target_challenge);
    /* Retry-After: overflow clamps, junk is a date candidate, blanks are ignored. */
    assert_int_equal(rt_retry_after_seconds(RT_SLICE_LIT("99999999999999999999")), RT_RETRY_AFTER_MAX_MS / 1000);
    assert_int_equal(rt_retry_after_seconds(RT_SLICE_LIT(" 7 ")), 7);
    assert_int_equal(rt_retry_after_seconds(RT_SLICE_LIT("1.5")), -1);
    assert_int_equal(rt_retry_after_seconds(RT_SLICE_LIT("")), -1);
    assert_int_equal(rt_retry_after_seconds(RT_SLICE_LIT("-3")), -1);
    /* Without any signature set only status rules apply. */
    rt_classify_out n;
    rt_classify_in s = { .phase = RT_PH_RESPONSE, .via_proxy = true, .status = 403,
                         .hdrs = h, .nhdrs = 1 };
    rt_classify(&s, NULL, &n);
    assert_int_equal(n.code, RT_E_target_blocked);
}

/* ---- coverage: every code the classifier can produce was produced ---- */

static void test_every_producible_code_covered(void **st)
{
    (void)st;
    /* Codes that only the gateway's own logic or the client side decide. */
    static const rt_code not_here[] = {
        RT_E_client_bad_request, RT_E_client_uri_too_long, RT_E_client_headers_too_large,
        RT_E_client_unsupported, RT_E_client_auth_required, RT_E_client_forbidden_port,
        RT_E_client_loop_detected, RT_E_client_timeout, RT_E_no_healthy_upstream, RT_E_circuit_open,
        RT_E_retry_budget_exhausted, RT_E_retries_exhausted, RT_E_deadline_exceeded,
        RT_E_gateway_overloaded, RT_E_target_blocked_everywhere, RT_E_domain_paused,
    };
    for (int c = 0; c < RT_E__COUNT; c++) {
        bool skip = false;
        for (size_t i = 0; i < sizeof not_here / sizeof not_here[0]; i++)
            skip |= not_here[i] == (rt_code)c;
        if (!skip && !g_seen[c])
            fail_msg("no test case produced %s", rt_code_name((rt_code)c));
    }
}

static int setup(void **st)
{
    (void)st;
    char err[256];
    g_set = rt_sigset_new();
    if (!g_set || rt_sigset_add_builtin(g_set, err, sizeof err) != 0) {
        fprintf(stderr, "builtin signatures: %s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    rt_sigset_free(g_set);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_squid_dns_fail),
        cmocka_unit_test(test_squid_connect_fail_by_errno),
        cmocka_unit_test(test_squid_auth),
        cmocka_unit_test(test_squid_access_denied_by_phase),
        cmocka_unit_test(test_squid_other_pages),
        cmocka_unit_test(test_squid_page_without_error_header),
        cmocka_unit_test(test_direct_ignores_proxy_signatures),
        cmocka_unit_test(test_tinyproxy),
        cmocka_unit_test(test_privoxy),
        cmocka_unit_test(test_3proxy_and_apache),
        cmocka_unit_test(test_proxy_chain_59x),
        cmocka_unit_test(test_zyte),
        cmocka_unit_test(test_bright_data),
        cmocka_unit_test(test_quota_407s),
        cmocka_unit_test(test_apify_and_generic_markers),
        cmocka_unit_test(test_522_cloudflare_vs_provider),
        cmocka_unit_test(test_cloudflare),
        cmocka_unit_test(test_aws_waf),
        cmocka_unit_test(test_block_pages_with_200),
        cmocka_unit_test(test_other_antibot),
        cmocka_unit_test(test_nginx_503_rate_limit),
        cmocka_unit_test(test_target_statuses),
        cmocka_unit_test(test_connect_reply_statuses),
        cmocka_unit_test(test_proxy_status_header),
        cmocka_unit_test(test_socket_errors_to_proxy),
        cmocka_unit_test(test_socket_errors_direct),
        cmocka_unit_test(test_tls_handshake),
        cmocka_unit_test(test_body_cut_and_bad_heads),
        cmocka_unit_test(test_tunnel_inferences),
        cmocka_unit_test(test_hostile_inputs),
        cmocka_unit_test(test_every_producible_code_covered),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
