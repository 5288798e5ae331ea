/* Request-target forms (RFC 9112 section 3.2) and their authority part
 * (RFC 3986 section 3.2). Only what a forward proxy needs: http and https
 * absolute-form, CONNECT's authority-form, origin-form and OPTIONS "*".
 * The result's slices point into the caller's target, except path "/"
 * for an empty absolute-form path, which points to a static literal. */
#include "core/http/http1.h"

#include <arpa/inet.h>
#include <string.h>

#include "core/http/chars.h"

#define IPV6_TEXT_MAX 45 /* "ffff:...:ffff:255.255.255.255" */
#define PORT_DIGITS_MAX 5

static const char root_path[] = "/";

/* reg-name = *( unreserved / pct-encoded / sub-delims ), here non-empty.
 * Returns the offset of the first byte after it. */
static size_t skip_reg_name(const unsigned char *s, size_t i, size_t n, bool *ok)
{
    *ok = true;
    while (i < n) {
        if (rt_http_cc[s[i]] & RT_CC_REGNAME) {
            i++;
        } else if (s[i] == '%') {
            if (i + 2 >= n || !(rt_http_cc[s[i + 1]] & RT_CC_HEX) ||
                !(rt_http_cc[s[i + 2]] & RT_CC_HEX)) {
                *ok = false;
                return i;
            }
            i += 3;
        } else {
            break;
        }
    }
    return i;
}

/* IP-literal without IPvFuture or zone identifiers: a plain IPv6 address.
 * inet_pton is a pure conversion and needs a NUL-terminated copy. */
static bool valid_ipv6(const char *p, size_t n)
{
    char tmp[IPV6_TEXT_MAX + 1];
    unsigned char addr[16];
    if (n == 0 || n > IPV6_TEXT_MAX)
        return false;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    return inet_pton(AF_INET6, tmp, addr) == 1;
}

/* host [ ":" port ] filling out->host and out->port. With need_port the
 * port must be present. A present port is 1..65535 in at most five digits;
 * an empty port ("host:") is refused rather than defaulted. */
static int parse_host_port(const char *p, size_t n, bool need_port, rt_url *out)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i;
    if (n == 0)
        return -1;
    if (s[0] == '[') {
        const char *close = memchr(p, ']', n);
        if (!close)
            return -1;
        size_t hn = (size_t)(close - p) - 1;
        if (!valid_ipv6(p + 1, hn))
            return -1;
        out->host = rt_slice_from(p + 1, hn);
        i = hn + 2;
    } else {
        bool ok;
        i = skip_reg_name(s, 0, n, &ok);
        if (!ok || i == 0)
            return -1;
        out->host = rt_slice_from(p, i);
    }
    if (i == n)
        return need_port ? -1 : 0;
    if (s[i] != ':')
        return -1;
    i++;
    if (i == n || n - i > PORT_DIGITS_MAX)
        return -1;
    unsigned port = 0;
    for (; i < n; i++) {
        if (!(rt_http_cc[s[i]] & RT_CC_DIGIT))
            return -1;
        port = port * 10 + (unsigned)(s[i] - '0');
    }
    if (port == 0 || port > 65535)
        return -1;
    out->port = (uint16_t)port;
    return 0;
}

/* Every byte a request-target byte (VCHAR, no '#': RFC 9112 section 3.2
 * has no fragment). */
static bool target_bytes_ok(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(rt_http_cc[(unsigned char)p[i]] & RT_CC_TARGET))
            return false;
    return true;
}

/* userinfo = *( unreserved / pct-encoded / sub-delims / ":" ) */
static bool userinfo_ok(const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0;
    while (i < n) {
        bool ok;
        i = skip_reg_name(s, i, n, &ok);
        if (!ok)
            return false;
        if (i < n && s[i] != ':')
            return false;
        if (i < n)
            i++;
    }
    return true;
}

/* absolute-form = scheme "://" authority path-abempty [ "?" query ] */
static int parse_absolute(rt_slice t, rt_url *out)
{
    const char *p = t.p;
    size_t n = t.n, i = 0;
    while (i < n && (rt_http_cc[(unsigned char)p[i]] & RT_CC_SCHEME))
        i++;
    if (i + 3 > n || p[i] != ':' || p[i + 1] != '/' || p[i + 2] != '/')
        return -1;
    rt_slice scheme = rt_slice_from(p, i);
    if (rt_slice_eq_ci(scheme, "http"))
        out->port = 80;
    else if (rt_slice_eq_ci(scheme, "https"))
        out->port = 443;
    else
        return -1;
    out->scheme = scheme;

    size_t a0 = i + 3, a1 = a0;
    while (a1 < n && p[a1] != '/' && p[a1] != '?' && p[a1] != '#')
        a1++;
    if (a1 < n && p[a1] != '/')
        return -1; /* "#" is a fragment; "?" right after the authority
                    * would need a "/" inserted, which a slice cannot do. */
    /* The last '@' ends the userinfo (RFC 3986 section 3.2.1). */
    size_t h0 = a0;
    for (size_t k = a1; k > a0; k--) {
        if (p[k - 1] == '@') {
            if (!userinfo_ok(p + a0, k - 1 - a0))
                return -1;
            out->has_userinfo = true;
            h0 = k;
            break;
        }
    }
    if (parse_host_port(p + h0, a1 - h0, false, out) < 0)
        return -1;
    if (a1 == n) {
        out->path = rt_slice_from(root_path, 1);
    } else {
        if (!target_bytes_ok(p + a1, n - a1))
            return -1;
        out->path = rt_slice_from(p + a1, n - a1);
    }
    out->form = RT_TF_ABSOLUTE;
    return 0;
}

static int parse_target(rt_slice target, rt_http_method meth, rt_url *out)
{
    if (target.n == 0 || target.p == NULL)
        return -1;
    /* CONNECT takes authority-form only (RFC 9112 section 3.2.3): host
     * and a required port, nothing else. */
    if (meth == RT_M_CONNECT) {
        if (parse_host_port(target.p, target.n, true, out) < 0)
            return -1;
        out->form = RT_TF_AUTHORITY;
        return 0;
    }
    /* asterisk-form is for a server-wide OPTIONS only (section 3.2.4). */
    if (target.p[0] == '*') {
        if (target.n != 1 || meth != RT_M_OPTIONS)
            return -1;
        out->form = RT_TF_ASTERISK;
        return 0;
    }
    if (target.p[0] == '/') {
        if (!target_bytes_ok(target.p, target.n))
            return -1;
        out->form = RT_TF_ORIGIN;
        out->path = target;
        return 0;
    }
    return parse_absolute(target, out);
}

int rt_url_parse_target(rt_slice target, rt_http_method meth, rt_url *out)
{
    memset(out, 0, sizeof *out);
    if (parse_target(target, meth, out) < 0) {
        memset(out, 0, sizeof *out); /* no half-filled result on failure */
        return -1;
    }
    return 0;
}
