/* Error, block and rate-limit pages of the lab, modelled on what Squid,
 * Bright Data, RFC 9209 intermediaries, Cloudflare, DataDome and nginx send
 * (see the signature notes in docs/lab.md). */
#include "lab/pages.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define PAGE_BODY_MAX 4096 /* every generated body fits */
#define PAGE_HDRS_MAX 1024 /* extra header fields of one page */
#define SQUID_VERSION "squid/6.13"

const char *lab_http_date(void)
{
    static char buf[40];
    static time_t last = -1;
    time_t now = time(NULL);
    if (now != last) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        last = now;
    }
    return buf;
}

static void emit(struct evbuffer *out, int status, const char *reason, const char *hdrs,
                 const char *ctype, const char *body, size_t blen, bool keep_alive)
{
    evbuffer_add_printf(out,
                        "HTTP/1.1 %d %s\r\nDate: %s\r\n%sContent-Type: %s\r\n"
                        "Content-Length: %zu\r\nConnection: %s\r\n\r\n",
                        status, reason, lab_http_date(), hdrs, ctype, blen,
                        keep_alive ? "keep-alive" : "close");
    evbuffer_add(out, body, blen);
}

/* Appends printf output to buf (cap bytes, len used), cut to fit; returns
 * the new length, at most cap - 1. */
static size_t vaddf(char *buf, size_t cap, size_t len, const char *fmt, va_list ap)
{
    if (len + 1 >= cap)
        return len;
    int n = vsnprintf(buf + len, cap - len, fmt, ap);
    size_t room = cap - len;
    return len + (n < 0 ? 0 : (size_t)n >= room ? room - 1 : (size_t)n);
}

static size_t addf(char *buf, size_t cap, size_t len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static size_t addf(char *buf, size_t cap, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    len = vaddf(buf, cap, len, fmt, ap);
    va_end(ap);
    return len;
}

/* emit() with a body formatted from fmt (cut to PAGE_BODY_MAX - 1 bytes). */
static void emitf(struct evbuffer *out, int status, const char *reason, const char *hdrs, const char *ctype,
                  bool keep_alive, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static void emitf(struct evbuffer *out, int status, const char *reason, const char *hdrs, const char *ctype,
                  bool keep_alive, const char *fmt, ...)
{
    char body[PAGE_BODY_MAX];
    va_list ap;
    va_start(ap, fmt);
    size_t bl = vaddf(body, sizeof body, 0, fmt, ap);
    va_end(ap);
    emit(out, status, reason, hdrs, ctype, body, bl, keep_alive);
}

/* ---- proxy errors ---- */

typedef struct perr_info {
    int status;
    const char *reason;
    const char *fault;      /* X-Lab-Fault */
    const char *squid_err;  /* X-Squid-Error value */
    const char *squid_title;
    const char *squid_text; /* %s = host */
    const char *brd_hdr;    /* x-brd-err-code / x-brd-error-code line or "" */
    const char *brd_msg;    /* x-brd-error value; %s = host */
    const char *ps_error;   /* RFC 9209 error type, "" for none */
    const char *ps_extra;   /* further Proxy-Status parameters */
} perr_info;

static const perr_info perrs[LAB_PE_COUNT] = {
    [LAB_PE_AUTH] = { 407, "Proxy Authentication Required", "bad_auth",
        "ERR_CACHE_ACCESS_DENIED 0", "Cache Access Denied",
        "Sorry, you are not currently allowed to request %s from this cache until you have authenticated yourself.",
        "x-brd-err-code: client_10000\r\n",
        "Invalid authentication: check credentials and retry", "", "" },
    [LAB_PE_QUOTA] = { 403, "Forbidden", "quota",
        "ERR_ACL_TIME_QUOTA_EXCEEDED 0", "Time Quota Exceeded",
        "This proxy limits your time online with a quota. Your time budget is now empty but will be refilled when the configured time period starts again. Traffic quota exceeded for this account while requesting %s.",
        "x-brd-err-code: client_10100\r\n",
        "Usage limit reached: the zone's traffic quota is used up", "http_request_denied",
        "; details=\"account traffic quota exceeded\"" },
    [LAB_PE_502] = { 502, "Bad Gateway", "err502",
        "ERR_READ_ERROR 104", "Read Error",
        "The system returned: (104) Connection reset by peer. An error condition occurred while reading data from the network while retrieving %s.",
        "", "Proxy Error: No peers available", "proxy_internal_error",
        "; details=\"exit node failed\"" },
    [LAB_PE_503] = { 503, "Service Unavailable", "err503",
        "ERR_CANNOT_FORWARD 0", "Unable to forward this request at this time",
        "This request could not be forwarded to the origin server or to any parent caches while retrieving %s.",
        "", "Proxy Error: server_error Service temporarily unavailable", "proxy_internal_error",
        "; details=\"no exit available\"" },
    [LAB_PE_504] = { 504, "Gateway Timeout", "err504",
        "ERR_READ_TIMEOUT 110", "Read Timeout",
        "The system returned: (110) Connection timed out. A Timeout occurred while waiting to read data from the network while retrieving %s.",
        "", "Proxy Error: Timeout waiting for the peer's response", "http_response_timeout", "" },
    [LAB_PE_DNS] = { 503, "Service Unavailable", "dns",
        "ERR_DNS_FAIL 0", "Unable to determine IP address from host name",
        "The DNS server returned: Name Error: The domain name does not exist. This means that the cache was not able to resolve the hostname presented in the URL: %s.",
        "x-brd-error-code: resolve_failed_nxdomain\r\n",
        "Could not resolve host %s", "dns_error", "; rcode=\"NXDOMAIN\"" },
    [LAB_PE_CONNECT] = { 502, "Bad Gateway", "target_down",
        "ERR_CONNECT_FAIL 111", "Connection failed",
        "Connection to %s failed. The system returned: (111) Connection refused. The remote host or network may be down. Please try the request again.",
        "x-brd-error-code: net_err_connection_refused\r\n",
        "Could not connect to %s: connection refused", "connection_refused", "" },
    [LAB_PE_DENIED] = { 403, "Forbidden", "denied",
        "ERR_ACCESS_DENIED 0", "Access Denied",
        "Access control configuration prevents your request for %s from being allowed at this time (the lab only reaches *.lab hosts).",
        "x-brd-err-code: policy_20000\r\n",
        "Forbidden: target %s is not allowed on this zone", "destination_ip_prohibited", "" },
    [LAB_PE_BAD_REQUEST] = { 400, "Bad Request", "bad_request",
        "ERR_INVALID_REQ 0", "Invalid Request",
        "Some aspect of the HTTP Request is invalid (%s).", "x-brd-err-code: client_10010\r\n",
        "Bad request", "http_request_error", "" },
    [LAB_PE_UNSUPPORTED] = { 501, "Not Implemented", "unsupported",
        "ERR_UNSUP_REQ 0", "Unsupported Request Method and Protocol",
        "Unsupported request method and protocol (%s): the lab proxy forwards http:// URLs and CONNECT.",
        "x-brd-err-code: client_10010\r\n", "Unsupported request", "http_request_error", "" },
};

int lab_perr_status(lab_perr e, lab_style style)
{
    if (e == LAB_PE_DNS && style != LAB_STYLE_SQUID)
        return 502;
    return (unsigned)e < LAB_PE_COUNT ? perrs[e].status : 500;
}

void lab_page_proxy_error(struct evbuffer *out, const lab_proxy_conf *pc, lab_perr e,
                          const char *host, bool keep_alive)
{
    if ((unsigned)e >= LAB_PE_COUNT)
        e = LAB_PE_502;
    const perr_info *pi = &perrs[e];
    int status = lab_perr_status(e, pc->style);
    char hdrs[PAGE_HDRS_MAX], body[PAGE_BODY_MAX], text[1024];
    size_t hl = 0, bl = 0;
    const char *ctype = "text/plain; charset=utf-8";
    const char *h = host && *host ? host : "the requested URL";

    hl = addf(hdrs, sizeof hdrs, hl, "X-Lab-Fault: %s\r\n", pi->fault);
    if (e == LAB_PE_AUTH)
        hl = addf(hdrs, sizeof hdrs, hl, "Proxy-Authenticate: Basic realm=\"lab\"\r\n");
    switch (pc->style) {
    case LAB_STYLE_SQUID:
        snprintf(text, sizeof text, pi->squid_text, h);
        hl = addf(hdrs, sizeof hdrs, hl,
                  "Server: " SQUID_VERSION "\r\nMime-Version: 1.0\r\n"
                  "X-Squid-Error: %s\r\nVary: Accept-Language\r\nContent-Language: en\r\n"
                  "Via: 1.1 %s (" SQUID_VERSION ")\r\n",
                  pi->squid_err, pc->label);
        bl = addf(body, sizeof body, 0,
                  "<!DOCTYPE html>\n<html><head>\n<meta type=\"copyright\" content=\"Copyright (C) 1996-2024 The Squid Software Foundation and contributors\">\n"
                  "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\n"
                  "<title>ERROR: The requested URL could not be retrieved</title>\n</head><body id=\"%.*s\">\n"
                  "<div id=\"titles\"><h1>ERROR</h1><h2>The requested URL could not be retrieved</h2></div>\n"
                  "<div id=\"content\"><p>The following error was encountered while trying to retrieve the URL: <a href=\"%s\">%s</a></p>\n"
                  "<blockquote id=\"error\"><p><b>%s</b></p></blockquote>\n<p>%s</p>\n"
                  "<p>Your cache administrator is <a href=\"mailto:webmaster\">webmaster</a>.</p>\n</div>\n"
                  "<div id=\"footer\"><p>Generated %s by %s (" SQUID_VERSION ")</p></div>\n</body></html>\n",
                  (int)strcspn(pi->squid_err, " "), pi->squid_err, h, h, pi->squid_title, text,
                  lab_http_date(), pc->label);
        ctype = "text/html;charset=utf-8";
        break;
    case LAB_STYLE_BRD:
        snprintf(text, sizeof text, pi->brd_msg, h);
        hl = addf(hdrs, sizeof hdrs, hl, "%sx-brd-error: %s\r\n", pi->brd_hdr, text);
        if (*pi->ps_error)
            hl = addf(hdrs, sizeof hdrs, hl, "Proxy-Status: brd.lab; error=%s%s\r\n",
                      pi->ps_error, pi->ps_extra);
        bl = addf(body, sizeof body, 0, "%s\n", text);
        break;
    case LAB_STYLE_RFC9209:
    default:
        snprintf(text, sizeof text, pi->squid_text, h);
        if (*pi->ps_error)
            hl = addf(hdrs, sizeof hdrs, hl, "Proxy-Status: %s; error=%s%s\r\n",
                      pc->label, pi->ps_error, pi->ps_extra);
        hl = addf(hdrs, sizeof hdrs, hl, "Via: 1.1 %s\r\n", pc->label);
        bl = addf(body, sizeof body, 0, "%d %s\n%s\n", status, pi->reason, text);
        break;
    }
    (void)hl;
    const char *reason = status == 502 && e == LAB_PE_DNS ? "Bad Gateway" : pi->reason;
    emit(out, status, reason, hdrs, ctype, body, bl, keep_alive);
}

/* ---- target pages ---- */

static void ray_id(char *out, size_t cap, uint64_t ray)
{
    /* Cloudflare's format: 16 hex digits, a dash, a three-letter colo. */
    snprintf(out, cap, "%016llx-LAB", (unsigned long long)ray);
}

void lab_page_target_block(struct evbuffer *out, const lab_host_conf *hc, const char *exit,
                           uint64_t ray, bool keep_alive)
{
    char hdrs[PAGE_HDRS_MAX], rid[32];
    ray_id(rid, sizeof rid, ray);
    switch (hc->page) {
    case LAB_PAGE_CLOUDFLARE:
        snprintf(hdrs, sizeof hdrs,
                 "Server: cloudflare\r\nCF-RAY: %s\r\nX-Frame-Options: SAMEORIGIN\r\n"
                 "Referrer-Policy: same-origin\r\nCache-Control: private, max-age=0, no-store, no-cache, must-revalidate\r\n"
                 "X-Lab-Fault: ban\r\nX-Lab-Exit: %s\r\n", rid, exit);
        emitf(out, 403, "Forbidden", hdrs, "text/html; charset=UTF-8", keep_alive,
              "<!DOCTYPE html>\n<html class=\"no-js\" lang=\"en-US\">\n<head>\n"
              "<title>Attention Required! | Cloudflare</title>\n<meta charset=\"UTF-8\" />\n"
              "<meta name=\"robots\" content=\"noindex, nofollow\" />\n</head>\n<body>\n"
              "<div id=\"cf-wrapper\">\n<div id=\"cf-error-details\" class=\"cf-error-details-wrapper\">\n"
              "<div class=\"cf-wrapper cf-header cf-error-overview\">\n"
              "<h1 data-translate=\"block_headline\">Sorry, you have been blocked</h1>\n"
              "<h2 class=\"cf-subheadline\"><span data-translate=\"unable_to_access\">You are unable to access</span> %s</h2>\n"
              "<span class=\"cf-error-code\">1020</span>\n</div>\n"
              "<div class=\"cf-section cf-wrapper\"><h2 data-translate=\"blocked_why_headline\">Why have I been blocked?</h2>\n"
              "<p>This website is using a security service to protect itself from online attacks. The action you just performed triggered the security solution.</p></div>\n"
              "<div class=\"cf-error-footer cf-wrapper\"><p><span class=\"cf-footer-item\">Cloudflare Ray ID: <strong class=\"font-semibold\">%s</strong></span>"
              " <span class=\"cf-footer-item\">Your IP: <span id=\"cf-footer-ip\">%s</span></span>"
              " <span class=\"cf-footer-item\">Performance &amp; security by Cloudflare</span></p></div>\n"
              "</div>\n</div>\n</body>\n</html>\n",
              hc->name, rid, exit);
        break;
    case LAB_PAGE_CHALLENGE:
        snprintf(hdrs, sizeof hdrs,
                 "Server: cloudflare\r\nCF-RAY: %s\r\ncf-mitigated: challenge\r\n"
                 "Cache-Control: private, max-age=0, no-store, no-cache, must-revalidate\r\n"
                 "Cross-Origin-Opener-Policy: same-origin\r\nX-Lab-Fault: challenge\r\nX-Lab-Exit: %s\r\n",
                 rid, exit);
        emitf(out, 403, "Forbidden", hdrs, "text/html; charset=UTF-8", keep_alive,
              "<!DOCTYPE html><html lang=\"en-US\"><head><title>Just a moment...</title>"
              "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\">"
              "<meta name=\"robots\" content=\"noindex,nofollow\"></head><body>"
              "<div class=\"main-wrapper\" role=\"main\"><div class=\"main-content\">"
              "<h1 class=\"zone-name-title h1\">%s</h1>"
              "<h2 class=\"h2\" id=\"challenge-running\">Checking if the site connection is secure</h2>"
              "<div id=\"challenge-spinner\"></div></div></div>"
              "<script>(function(){window._cf_chl_opt={cvId: '3',cZone: '%s',cType: 'managed',cRay: '%.16s'};"
              "var cpo=document.createElement('script');cpo.src='/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1?ray=%.16s';"
              "document.getElementsByTagName('head')[0].appendChild(cpo);}());</script>"
              "</body></html>\n",
              hc->name, hc->name, rid, rid);
        break;
    case LAB_PAGE_DATADOME:
        snprintf(hdrs, sizeof hdrs,
                 "Server: nginx\r\nx-datadome-cid: AHrlqAAAAAMA%.16s\r\nx-dd-b: 1\r\n"
                 "Set-Cookie: datadome=%.16s; Max-Age=31536000; Domain=.%s; Path=/; Secure; SameSite=Lax\r\n"
                 "Cache-Control: max-age=0, private, no-cache, no-store, must-revalidate\r\n"
                 "X-Lab-Fault: ban\r\nX-Lab-Exit: %s\r\n",
                 rid, rid, hc->name, exit);
        emitf(out, 403, "Forbidden", hdrs, "text/html;charset=utf-8", keep_alive,
              "<html lang=\"en\"><head><title>%s</title><style>#cmsg{animation: A 1.5s;}</style></head>"
              "<body style=\"margin:0\"><p id=\"cmsg\">Please enable JS and disable any ad blocker</p>"
              "<script data-cfasync=\"false\">var dd={'rt':'c','cid':'AHrlqAAAAAMA%.16s','hsh':'2211F522B61E269B869FA6EAFFB5E1','t':'bv','s':17434,'e':'%.16s','host':'geo.captcha-delivery.com'}</script>"
              "<script data-cfasync=\"false\" src=\"https://ct.captcha-delivery.com/c.js\"></script>"
              "<iframe src=\"https://geo.captcha-delivery.com/captcha/?initialCid=AHrlqAAAAAMA%.16s&amp;t=bv&amp;referer=http%%3A%%2F%%2F%s%%2F\" title=\"DataDome CAPTCHA\" width=\"100%%\" height=\"100%%\"></iframe>"
              "</body></html>\n",
              hc->name, rid, rid, rid, hc->name);
        break;
    case LAB_PAGE_PLAIN:
    default:
        snprintf(hdrs, sizeof hdrs, "Server: nginx\r\nX-Lab-Fault: ban\r\nX-Lab-Exit: %s\r\n", exit);
        emitf(out, 403, "Forbidden", hdrs, "text/html", keep_alive,
              "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n"
              "<center><h1>403 Forbidden</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n");
        break;
    }
}

void lab_page_target_rate_limit(struct evbuffer *out, const lab_host_conf *hc, const char *exit,
                                uint32_t limit, uint32_t retry_after_s, bool keep_alive)
{
    char hdrs[PAGE_HDRS_MAX];
    snprintf(hdrs, sizeof hdrs,
             "Server: nginx\r\nRetry-After: %u\r\nX-RateLimit-Limit: %u\r\nX-RateLimit-Remaining: 0\r\n"
             "X-RateLimit-Reset: %u\r\nX-Lab-Fault: rate_limit\r\nX-Lab-Exit: %s\r\n",
             retry_after_s, limit, retry_after_s, exit);
    emitf(out, 429, "Too Many Requests", hdrs, "text/html", keep_alive,
          "<html>\r\n<head><title>429 Too Many Requests</title></head>\r\n<body>\r\n"
          "<center><h1>429 Too Many Requests</h1></center>\r\n"
          "<p>Too many requests from %s to %s; retry after %u seconds.</p>\r\n"
          "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
          exit, hc->name, retry_after_s);
}

void lab_page_target_503(struct evbuffer *out, const lab_host_conf *hc, const char *exit,
                         bool keep_alive)
{
    char hdrs[PAGE_HDRS_MAX];
    static const char body[] =
        "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
        "<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n";
    (void)hc;
    snprintf(hdrs, sizeof hdrs, "Server: nginx\r\nX-Lab-Fault: target_503\r\nX-Lab-Exit: %s\r\n", exit);
    emit(out, 503, "Service Temporarily Unavailable", hdrs, "text/html", body, sizeof body - 1, keep_alive);
}
