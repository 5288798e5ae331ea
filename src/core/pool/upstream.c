/* Parsing one upstream entry (one line of a pool file) into an rt_upstream.
 *
 * The accepted forms and why each rule exists are documented beside the
 * rule below and in docs/pool-file.md. Two promises shape everything here:
 *
 *  - No silent wrong parse. A proxy URL with an unencoded '@', ':' or '#' in
 *    its credentials is the most common cause of "407 although the password
 *    is right" (proxy-error-guide.txt, "Why do I get 407 errors even though
 *    my credentials are correct?"). Rather than guess which '@' the user
 *    meant, such entries are refused with the exact fix.
 *  - No secret in a message. Error texts are fixed sentences; the only part
 *    of the entry ever echoed is a URL scheme name, which holds no secret. */
#include "core/pool/upstream.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/fail.h"
#include "core/base/slice.h"
#include "core/base/wbuf.h"
#include "core/http/basic.h"

/* A scheme name is echoed in the "unsupported scheme" message; this bounds
 * how much of it. */
#define SCHEME_ECHO_MAX 16
/* Longest IPv6 text form inet_pton accepts (INET6_ADDRSTRLEN - 1) without a
 * zone; zones ("%eth0") are not supported. */
#define V6_TEXT_MAX 45
/* The user ":" pass text a session-filled Basic value is built from. */
#define AUTH_PLAIN_MAX 4096
/* An https:// entry without a port: the registered HTTPS port (RFC 9110
 * section 4.2.2), which is what proxy providers' TLS endpoints use unless
 * they say otherwise. */
#define HTTPS_DEFAULT_PORT 443

/* What the syntax pass found: slices into the caller's text. Nothing here
 * is owned; build_entry() makes the owned copies. */
typedef struct entry_parts {
    bool direct;
    rt_up_scheme scheme; /* RT_UP_HTTP unless the entry said https:// */
    uint16_t default_port; /* used when the port is left out; 0: required */
    rt_slice host;  /* without brackets */
    bool v6;        /* host was a bracketed IPv6 literal */
    uint16_t port;
    bool have_cred;
    rt_slice user;
    rt_slice pass;
    bool decode;    /* credentials came from a URL form: percent-decode them */
} entry_parts;

/* Passwords and ready-made Basic values are wiped before their memory goes
 * back to the allocator, so a later heap dump or reuse does not leak them. */
static void free_secret(char *p)
{
    if (p) {
        explicit_bzero(p, strlen(p));
        free(p);
    }
}

static bool is_blank(char c) { return c == ' ' || c == '\t'; }
static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static rt_slice trim(rt_slice s)
{
    while (s.n && is_space(s.p[0])) {
        s.p++;
        s.n--;
    }
    while (s.n && is_space(s.p[s.n - 1]))
        s.n--;
    return s;
}

/* RFC 3986 section 3.2.2: reg-name = *( unreserved / pct-encoded /
 * sub-delims ). Percent-encoded hosts are refused (see parse_hostport), so
 * only unreserved and sub-delims are accepted here. */
static bool is_regname_char(char c)
{
    if (is_alpha(c) || is_digit(c))
        return true;
    switch (c) {
    case '-': case '.': case '_': case '~':
    case '!': case '$': case '&': case '\'': case '(': case ')':
    case '*': case '+': case ',': case ';': case '=':
        return true;
    default:
        return false;
    }
}

/* RFC 3986 section 3.2.2: IPv4address = dec-octet "." dec-octet "." ...
 * A host made only of digits and dots must be a valid dotted quad: treating
 * "999.1.1.1" or "10.1" as a DNS name would only fail later and obscurely.
 * Leading zeros are refused because some resolvers read them as octal. */
static bool is_ipv4(rt_slice h)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= h.n || h.p[i] != '.')
                return false;
            i++;
        }
        size_t start = i;
        unsigned v = 0;
        while (i < h.n && is_digit(h.p[i]) && i - start < 3)
            v = v * 10 + (unsigned)(h.p[i++] - '0');
        if (i == start || v > 255 || (i - start > 1 && h.p[start] == '0'))
            return false;
    }
    return i == h.n;
}

static bool is_ipv6(const char *p, size_t n)
{
    char buf[V6_TEXT_MAX + 1];
    unsigned char bin[16];
    if (n == 0 || n > V6_TEXT_MAX)
        return false;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return inet_pton(AF_INET6, buf, bin) == 1;
}

/* The port: digits only, 1..65535 (RFC 3986 section 3.2.3 allows any
 * digits; 0 cannot be connected to, and TCP ports stop at 65535). A '#'
 * or '/' here is almost always a label or path written the wrong way, so
 * those get their own hint. */
static int parse_port(rt_slice s, uint16_t *port, char *err, size_t errlen)
{
    if (s.n == 0)
        return rt_fail(err, errlen, "missing port (write host:port)");
    unsigned long v = 0;
    for (size_t i = 0; i < s.n; i++) {
        char c = s.p[i];
        if (c == '#')
            return rt_fail(err, errlen, "'#' after the port: a label needs whitespace before it (host:port #label)");
        if (c == '/' || c == '?')
            return rt_fail(err, errlen, "a proxy address has no path or query (remove what follows host:port)");
        if (!is_digit(c))
            return rt_fail(err, errlen, "port must be a number from 1 to 65535");
        if (i >= 5)
            return rt_fail(err, errlen, "port out of range (1..65535)");
        v = v * 10 + (unsigned long)(c - '0');
    }
    if (v == 0 || v > 65535)
        return rt_fail(err, errlen, "port out of range (1..65535)");
    *port = (uint16_t)v;
    return 0;
}

/* host:port or [IPv6]:port, exactly, nothing before or after. */
static int parse_hostport(rt_slice s, entry_parts *p, char *err, size_t errlen)
{
    if (s.n == 0)
        return rt_fail(err, errlen, "missing host (write host:port)");

    if (s.p[0] == '[') {
        /* RFC 3986 section 3.2.2: an IPv6 literal is enclosed in brackets
         * because its own colons would otherwise run into the port's. */
        const char *close = memchr(s.p, ']', s.n);
        if (!close)
            return rt_fail(err, errlen, "missing ']' after the IPv6 address (write [address]:port)");
        size_t inner = (size_t)(close - s.p) - 1;
        if (!is_ipv6(s.p + 1, inner))
            return rt_fail(err, errlen, "invalid IPv6 address in brackets");
        size_t rest = s.n - (inner + 2);
        if (rest == 0 && p->default_port) {
            p->host = rt_slice_from(s.p + 1, inner);
            p->v6 = true;
            p->port = p->default_port;
            return 0;
        }
        if (rest == 0)
            return rt_fail(err, errlen, "missing port (write [address]:port)");
        if (close[1] != ':')
            return rt_fail(err, errlen, "unexpected text after ']' (write [address]:port)");
        p->host = rt_slice_from(s.p + 1, inner);
        p->v6 = true;
        return parse_port(rt_slice_from(close + 2, rest - 1), &p->port, err, errlen);
    }

    const char *colon = memchr(s.p, ':', s.n);
    if (!colon && !p->default_port) {
        if (memchr(s.p, '#', s.n))
            return rt_fail(err, errlen, "'#' in host: a label needs whitespace before it (host:port #label)");
        return rt_fail(err, errlen, "missing port (write host:port)");
    }
    rt_slice host = colon ? rt_slice_from(s.p, (size_t)(colon - s.p)) : s;
    rt_slice port = colon ? rt_slice_from(colon + 1, s.n - host.n - 1) : RT_SLICE_NULL;
    if (colon && memchr(port.p, ':', port.n)) {
        /* An unbracketed IPv6 literal: with or without a port it cannot be
         * split unambiguously, so ask for the bracketed form. */
        const char *last = memrchr(s.p, ':', s.n);
        if (is_ipv6(s.p, s.n) || is_ipv6(s.p, (size_t)(last - s.p)))
            return rt_fail(err, errlen, "IPv6 addresses must be written in brackets, e.g. [2001:db8::1]:3128");
        return rt_fail(err, errlen, "too many ':' in host:port");
    }
    if (host.n == 0)
        return rt_fail(err, errlen, "missing host before ':port'");
    if (host.n > RT_UP_HOST_MAX)
        return rt_fail(err, errlen, "host name longer than %d bytes", RT_UP_HOST_MAX);
    bool numeric = true;
    for (size_t i = 0; i < host.n; i++) {
        char c = host.p[i];
        if (c == '#')
            return rt_fail(err, errlen, "'#' in host: a label needs whitespace before it (host:port #label)");
        if (c == '/' || c == '?')
            return rt_fail(err, errlen, "a proxy address has no path or query (remove what follows host:port)");
        if (c == '%')
            return rt_fail(err, errlen, "percent-encoding is not allowed in a host");
        if (!is_regname_char(c))
            return rt_fail(err, errlen, "invalid character in host (letters, digits, '-', '.', '_' expected)");
        if (!is_digit(c) && c != '.')
            numeric = false;
    }
    if (numeric && !is_ipv4(host))
        return rt_fail(err, errlen, "invalid IPv4 address");
    p->host = host;
    p->v6 = false;
    if (!colon) {
        p->port = p->default_port;
        return 0;
    }
    return parse_port(port, &p->port, err, errlen);
}

/* The authority of a URL form ("user:pass@host:port", with or without the
 * http:// before it). */
static int parse_authority(rt_slice a, entry_parts *p, char *err, size_t errlen)
{
    /* "http://host:port/" is how many people write a proxy URL; a lone
     * trailing slash (an empty path) means nothing else, so accept it. */
    if (a.n && a.p[a.n - 1] == '/')
        a.n--;
    const char *at = memrchr(a.p, '@', a.n);
    if (!at)
        return parse_hostport(a, p, err, errlen);

    rt_slice ui = rt_slice_from(a.p, (size_t)(at - a.p));
    if (ui.n == 0)
        return rt_fail(err, errlen, "empty credentials before '@' (write user:pass@host:port or drop the '@')");
    const char *colon = memchr(ui.p, ':', ui.n);
    for (size_t i = 0; i < ui.n; i++) {
        char c = ui.p[i];
        const char *field = colon && ui.p + i > colon ? "password" : "username";
        /* RFC 3986 section 3.2.1: userinfo may not hold '@', '/', '?' or
         * '#' unencoded; other URL parsers (curl, browsers, requests) split
         * such URLs elsewhere. The split at the last '@' used here would
         * often guess right, but refusing keeps the pool file portable and
         * makes the user fix the URL rather than get a silent wrong parse. */
        switch (c) {
        case '@':
            return rt_fail(err, errlen, "'@' in %s must be written %%40", field);
        case '#':
            return rt_fail(err, errlen, "'#' in %s must be written %%23", field);
        case '/':
            return rt_fail(err, errlen, "'/' in %s must be written %%2F", field);
        case '?':
            return rt_fail(err, errlen, "'?' in %s must be written %%3F", field);
        case ':':
            /* The first ':' separates user from password. Clients differ
             * on whether a second one belongs to the password, so it must
             * be encoded to mean one thing everywhere. */
            if (ui.p + i != colon)
                return rt_fail(err, errlen, "':' in password must be written %%3A");
            break;
        default:
            break;
        }
    }
    if (colon) {
        p->user = rt_slice_from(ui.p, (size_t)(colon - ui.p));
        p->pass = rt_slice_from(colon + 1, ui.n - p->user.n - 1);
    } else {
        /* "user@host:port": a user with an empty password, as in curl. */
        p->user = ui;
        p->pass = rt_slice_from(ui.p + ui.n, 0);
    }
    if (p->user.n == 0)
        return rt_fail(err, errlen, "empty username before ':' (write user:pass@host:port)");
    p->have_cred = true;
    p->decode = true;
    return parse_hostport(rt_slice_from(at + 1, a.n - ui.n - 1), p, err, errlen);
}

/* Recognise host:port:user:pass. The form has no '@' before the port and a
 * port made of digits between the first two colons, then a third colon;
 * the password is everything after the third colon, literally, so it may
 * hold ':', '@' and '#'. Returns 1 when the entry has that shape (slices
 * set), 2 for "host:port:user" (the password part is missing), else 0. */
static int split_colon_form(rt_slice b, rt_slice *hostport, rt_slice *user, rt_slice *pass)
{
    size_t i;
    if (b.n && b.p[0] == '[') {
        const char *close = memchr(b.p, ']', b.n);
        if (!close)
            return 0;
        i = (size_t)(close - b.p) + 1;
        if (i >= b.n || b.p[i] != ':')
            return 0;
    } else {
        const char *c1 = memchr(b.p, ':', b.n);
        if (!c1 || c1 == b.p)
            return 0;
        i = (size_t)(c1 - b.p);
        if (memchr(b.p, '@', i))
            return 0;
    }
    size_t j = i + 1;
    while (j < b.n && is_digit(b.p[j]))
        j++;
    if (j == i + 1 || j >= b.n || b.p[j] != ':')
        return 0;
    const char *c3 = memchr(b.p + j + 1, ':', b.n - j - 1);
    if (!c3)
        return memchr(b.p + j + 1, '@', b.n - j - 1) ? 0 : 2;
    *hostport = rt_slice_from(b.p, j);
    *user = rt_slice_from(b.p + j + 1, (size_t)(c3 - b.p) - j - 1);
    *pass = rt_slice_from(c3 + 1, b.n - (size_t)(c3 - b.p) - 1);
    return 1;
}

/* Could this also be read as user:pass@host:port? True when there is an
 * '@' followed by a valid host:port. */
static bool reads_as_userinfo(rt_slice b)
{
    const char *at = memrchr(b.p, '@', b.n);
    if (!at)
        return false;
    entry_parts scratch = { 0 };
    rt_slice hp = rt_slice_from(at + 1, b.n - (size_t)(at - b.p) - 1);
    if (hp.n && hp.p[hp.n - 1] == '/')
        hp.n--;
    return parse_hostport(hp, &scratch, NULL, 0) == 0;
}

static int hexval(char c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Copy a credential field, percent-decoding it when it came from a URL
 * (RFC 3986 section 2.1). A '%' not followed by two hex digits is refused
 * rather than kept: it means the user did not encode a literal '%', and
 * the proxy would reject the result with a puzzling 407. The field is
 * named, its value never shown. */
static int dup_credential(rt_slice s, bool decode, const char *field, size_t max,
                          char **out, char *err, size_t errlen)
{
    char *d = malloc(s.n + 1);
    if (!d)
        return rt_fail(err, errlen, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < s.n; i++) {
        char c = s.p[i];
        if (decode && c == '%') {
            int hi = i + 2 < s.n ? hexval(s.p[i + 1]) : -1;
            int lo = hi >= 0 ? hexval(s.p[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                explicit_bzero(d, k);
                free(d);
                return rt_fail(err, errlen, "invalid %%-escape in %s (write a literal '%%' as %%25)", field);
            }
            c = (char)(hi << 4 | lo);
            if (c == '\0') {
                explicit_bzero(d, k);
                free(d);
                return rt_fail(err, errlen, "%%00 (NUL) is not allowed in %s", field);
            }
            i += 2;
        }
        d[k++] = c;
    }
    d[k] = '\0';
    if (k > max) {
        free_secret(d);
        return rt_fail(err, errlen, "%s longer than %zu bytes", field, max);
    }
    *out = d;
    return 0;
}

static char *dup_slice(rt_slice s)
{
    char *d = malloc(s.n + 1);
    if (d) {
        if (s.n)
            memcpy(d, s.p, s.n);
        d[s.n] = '\0';
    }
    return d;
}

/* "Basic " base64(user ":" pass), RFC 7617 section 2. Returns a malloc'd
 * string or NULL when out of memory. */
static char *make_basic(const char *user, const char *pass)
{
    size_t ul = strlen(user), pl = strlen(pass);
    size_t plain_n = ul + 1 + pl;
    char *plain = malloc(plain_n);
    if (!plain)
        return NULL;
    memcpy(plain, user, ul);
    plain[ul] = ':';
    memcpy(plain + ul + 1, pass, pl);
    size_t cap = 6 + 4 * ((plain_n + 2) / 3) + 1;
    char *v = malloc(cap);
    if (v)
        rt_basic_value(plain, plain_n, v, cap);
    explicit_bzero(plain, plain_n);
    free(plain);
    return v;
}

/* Make the owned rt_upstream from the parts. On failure everything built
 * so far is released and *out is left cleared. */
static int build_entry(const entry_parts *p, rt_slice label, rt_upstream *out,
                       char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (p->direct) {
        out->scheme = RT_UP_DIRECT;
    } else {
        out->scheme = p->scheme;
        out->port = p->port;
        if (!(out->host = dup_slice(p->host)))
            goto oom;
    }
    if (p->have_cred) {
        if (dup_credential(p->user, p->decode, "username", RT_UP_USER_MAX, &out->user, err, errlen) ||
            dup_credential(p->pass, p->decode, "password", RT_UP_PASS_MAX, &out->pass, err, errlen)) {
            rt_upstream_clear(out);
            return -1;
        }
        /* RFC 7617 section 2: the user-id cannot contain ':', since the
         * proxy splits user from password at the first one. Only a decoded
         * "%3A" can bring one here. */
        if (strchr(out->user, ':')) {
            rt_upstream_clear(out);
            return rt_fail(err, errlen, "':' cannot be part of a username (Basic authentication splits at the first ':')");
        }
        /* A backconnect username with "{session}" is completed per request
         * (rt_upstream_auth), so its Basic value cannot be made once. */
        out->session_slot = strstr(out->user, "{session}") != NULL;
        if (!out->session_slot && !(out->auth_basic = make_basic(out->user, out->pass)))
            goto oom;
    }
    if (label.n) {
        out->label = dup_slice(label);
    } else if (p->direct) {
        out->label = dup_slice(RT_SLICE_LIT("direct"));
    } else {
        /* The default label names the address only: labels go to logs and
         * metrics, where credentials must never appear. */
        size_t cap = p->host.n + 2 + 1 + 5 + 1;
        out->label = malloc(cap);
        if (out->label)
            snprintf(out->label, cap, p->v6 ? "[%.*s]:%u" : "%.*s:%u",
                     (int)p->host.n, p->host.p, (unsigned)p->port);
    }
    if (!out->label)
        goto oom;
    return 0;
oom:
    rt_upstream_clear(out);
    return rt_fail(err, errlen, "out of memory");
}

static bool is_scheme_char(char c)
{
    return is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.';
}

int rt_upstream_parse(const char *s, size_t n, rt_upstream *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (err && errlen)
        err[0] = '\0';
    rt_slice e = trim(rt_slice_from(s, s ? n : 0));
    if (e.n == 0)
        return rt_fail(err, errlen, "empty entry");
    if (e.n > RT_UP_ENTRY_MAX)
        return rt_fail(err, errlen, "entry longer than %d bytes", RT_UP_ENTRY_MAX);
    /* Control bytes (NUL, CR inside a line, escape sequences) have no place
     * in any form and would corrupt logs if they reached a label. */
    for (size_t i = 0; i < e.n; i++) {
        unsigned char c = (unsigned char)e.p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return rt_fail(err, errlen, "control character in entry");
    }
    if (e.p[0] == '#')
        return rt_fail(err, errlen, "entry starts with '#' (that is a comment, not an upstream)");

    /* The label: whitespace, then '#', then the rest (trimmed). Requiring
     * the whitespace keeps a '#' inside a colon-form password literal. Any
     * other whitespace is refused rather than silently cutting the entry
     * (no form has whitespace in it). */
    rt_slice body = e, label = RT_SLICE_NULL;
    for (size_t i = 0; i < e.n; i++) {
        if (!is_blank(e.p[i]))
            continue;
        size_t j = i;
        while (j < e.n && is_blank(e.p[j]))
            j++;
        if (j >= e.n || e.p[j] != '#')
            return rt_fail(err, errlen, "whitespace inside the entry (a label is written ENTRY #label)");
        body.n = i;
        label = trim(rt_slice_from(e.p + j + 1, e.n - j - 1));
        if (label.n == 0)
            return rt_fail(err, errlen, "empty label after '#'");
        if (label.n > RT_UP_LABEL_MAX)
            return rt_fail(err, errlen, "label longer than %d bytes", RT_UP_LABEL_MAX);
        break;
    }

    entry_parts p = { .scheme = RT_UP_HTTP };
    /* "direct" means no proxy at all: the gateway connects to the target
     * itself (useful as a fallback entry or for A/B comparisons). */
    if (rt_slice_eq_ci(body, "direct")) {
        p.direct = true;
        return build_entry(&p, label, out, err, errlen);
    }

    /* A scheme is letters then "://" (RFC 3986 section 3.1). Text before a
     * "://" that is not a scheme name (it holds ':' or '@') belongs to a
     * colon-form password and is left alone. */
    const char *sep = memmem(body.p, body.n, "://", 3);
    if (sep) {
        size_t k = (size_t)(sep - body.p);
        bool scheme = k > 0 && is_alpha(body.p[0]);
        for (size_t i = 0; scheme && i < k; i++)
            scheme = is_scheme_char(body.p[i]);
        if (k == 0)
            return rt_fail(err, errlen, "missing scheme before '://' (write http://host:port)");
        if (scheme) {
            bool http = k == 4 && strncasecmp(body.p, "http", 4) == 0;
            bool https = k == 5 && strncasecmp(body.p, "https", 5) == 0;
            if (!http && !https) {
                int shown = k > SCHEME_ECHO_MAX ? SCHEME_ECHO_MAX : (int)k;
                if (k >= 5 && strncasecmp(body.p, "socks", 5) == 0)
                    return rt_fail(err, errlen,
                                "unsupported scheme '%.*s://': socks5:// upstreams are not supported yet (use http:// or https://)",
                                shown, body.p);
                return rt_fail(err, errlen, "unsupported scheme '%.*s://' (use http:// or https://)", shown, body.p);
            }
            if (https) {
                /* An HTTPS proxy speaks HTTP inside TLS; only its port has
                 * a standard default, so only this form may leave it out. */
                p.scheme = RT_UP_HTTPS;
                p.default_port = HTTPS_DEFAULT_PORT;
            }
            body = rt_slice_from(sep + 3, body.n - k - 3);
            if (parse_authority(body, &p, err, errlen))
                return -1;
            return build_entry(&p, label, out, err, errlen);
        }
    }

    rt_slice hp, user, pass;
    int colon_form = split_colon_form(body, &hp, &user, &pass);
    if (colon_form == 1) {
        /* Both host:port:user:pass and user:pass@host:port are plausible
         * readings (e.g. "a:12:34@b:80"). Refuse with the unambiguous way
         * to write it instead of picking one. */
        if (reads_as_userinfo(body))
            return rt_fail(err, errlen,
                        "ambiguous entry: it reads as host:port:user:pass and as user:pass@host:port; "
                        "write it as http://user:pass@host:port with '@' as %%40 and ':' as %%3A in the credentials");
        if (parse_hostport(hp, &p, err, errlen))
            return -1;
        if (user.n == 0)
            return rt_fail(err, errlen, "empty username in host:port:user:pass");
        p.have_cred = true;
        p.user = user;
        p.pass = pass;
        p.decode = false;
        return build_entry(&p, label, out, err, errlen);
    }
    if (memchr(body.p, '@', body.n)) {
        if (parse_authority(body, &p, err, errlen))
            return -1;
        return build_entry(&p, label, out, err, errlen);
    }
    if (colon_form == 2)
        return rt_fail(err, errlen, "missing password (write host:port:user:pass)");
    if (parse_hostport(body, &p, err, errlen))
        return -1;
    return build_entry(&p, label, out, err, errlen);
}

void rt_upstream_clear(rt_upstream *u)
{
    if (!u)
        return;
    free(u->host);
    free(u->user);
    free_secret(u->pass);
    free_secret(u->auth_basic);
    free(u->label);
    memset(u, 0, sizeof *u);
}

int rt_upstream_auth(const rt_upstream *u, const char *session, char *out, size_t cap)
{
    if (cap)
        out[0] = '\0';
    if (!u->user || !u->pass)
        return 0;
    if (cap == 0)
        return -1;
    if (!u->session_slot && u->auth_basic) {
        size_t n = strlen(u->auth_basic);
        if (n + 1 > cap)
            return -1;
        memcpy(out, u->auth_basic, n + 1);
        return (int)n;
    }

    rt_slice sess = rt_slice_cstr(session);
    if (u->session_slot) {
        /* The session token becomes part of the user-id: a ':' would move
         * the user/password split (RFC 7617 section 2) and control bytes
         * are not allowed there. Sessions come from clients (the
         * X-Rotor-Session header), so this is checked, not assumed. */
        if (sess.n > RT_UP_SESSION_MAX)
            return -1;
        for (size_t i = 0; i < sess.n; i++) {
            unsigned char c = (unsigned char)sess.p[i];
            if (c == ':' || c < 0x20 || c == 0x7f)
                return -1;
        }
    }

    char plain[AUTH_PLAIN_MAX];
    rt_wbuf w;
    rt_wbuf_init(&w, plain, sizeof plain);
    const char *user = u->user;
    const char *slot;
    while (u->session_slot && (slot = strstr(user, "{session}")) != NULL) {
        rt_wbuf_add(&w, user, (size_t)(slot - user));
        rt_wbuf_addsl(&w, sess);
        user = slot + strlen("{session}");
    }
    rt_wbuf_adds(&w, user);
    rt_wbuf_add(&w, ":", 1);
    rt_wbuf_adds(&w, u->pass);
    int rc = -1;
    if (!w.overflow)
        rc = rt_basic_value(plain, w.len, out, cap);
    explicit_bzero(plain, sizeof plain);
    return rc;
}
