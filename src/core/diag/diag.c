#include "core/diag/diag.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/wbuf.h"

/* ==== showing entries without secrets ==== */

void rt_diag_show_entry(const rt_upstream *u, char *out, size_t cap)
{
    if (!cap)
        return;
    rt_wbuf b;
    rt_wbuf_init(&b, out, cap);
    if (u->scheme == RT_UP_DIRECT || !u->host) {
        rt_wbuf_adds(&b, "direct");
    } else {
        rt_wbuf_adds(&b, u->scheme == RT_UP_HTTPS ? "https://" : "http://");
        if (u->user) {
            rt_wbuf_adds(&b, u->user);
            rt_wbuf_adds(&b, ":" RT_DIAG_MASK "@");
        }
        bool v6 = strchr(u->host, ':') != NULL;
        rt_wbuf_addf(&b, v6 ? "[%s]:%u" : "%s:%u", u->host, (unsigned)u->port);
    }
    size_t n = b.overflow ? cap - 1 : b.len;
    if (n >= cap)
        n = cap - 1;
    out[n] = 0;
}

static size_t label_start(const char *s, size_t n)
{
    /* A label is whitespace then '#': the entry proper ends there. */
    for (size_t i = 1; i < n; i++)
        if (s[i] == '#' && (s[i - 1] == ' ' || s[i - 1] == '\t'))
            return i - 1;
    return n;
}

void rt_diag_mask_text(const char *s, size_t n, char *out, size_t cap)
{
    if (!cap)
        return;
    rt_wbuf b;
    rt_wbuf_init(&b, out, cap);
    size_t end = label_start(s, n);
    while (end > 0 && (s[end - 1] == ' ' || s[end - 1] == '\t'))
        end--;
    const char *at = NULL;
    for (size_t i = end; i > 0; i--)
        if (s[i - 1] == '@') {
            at = s + i - 1;
            break;
        }
    size_t start = 0;
    const char *sep = memmem(s, end, "://", 3);
    if (sep)
        start = (size_t)(sep - s) + 3;
    /* host:port:user:pass is recognised the way the parser does (no
     * scheme, no '@' before the first ':', digits up to the second ':', a
     * third ':'), whatever the password holds. */
    const char *c1 = sep ? NULL : memchr(s, ':', end);
    const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(s + end - c1 - 1)) : NULL;
    const char *c3 = c2 ? memchr(c2 + 1, ':', (size_t)(s + end - c2 - 1)) : NULL;
    bool digits = c2 && c2 > c1 + 1;
    for (const char *p = c1 ? c1 + 1 : NULL; digits && p < c2; p++)
        digits = *p >= '0' && *p <= '9';
    if (c3 && digits && !memchr(s, '@', (size_t)(c1 - s))) {
        rt_wbuf_add(&b, s, (size_t)(c3 - s) + 1);
        rt_wbuf_adds(&b, RT_DIAG_MASK);
    } else if (at && (size_t)(at - s) > start) {
        const char *colon = memchr(s + start, ':', (size_t)(at - s) - start);
        if (colon) {
            rt_wbuf_add(&b, s, (size_t)(colon - s) + 1);
            rt_wbuf_adds(&b, RT_DIAG_MASK);
            rt_wbuf_add(&b, at, (size_t)(s + end - at));
        } else {
            rt_wbuf_add(&b, s, end); /* user only, no password */
        }
    } else {
        /* Any other text with three ':' may still hold a password after
         * the third: mask it rather than risk showing it. */
        unsigned colons = 0;
        size_t i = start;
        for (; i < end; i++)
            if (s[i] == ':' && ++colons == 3)
                break;
        if (colons == 3) {
            rt_wbuf_add(&b, s, i + 1);
            rt_wbuf_adds(&b, RT_DIAG_MASK);
        } else {
            rt_wbuf_add(&b, s, end);
        }
    }
    size_t len = b.overflow ? cap - 1 : b.len;
    if (len >= cap)
        len = cap - 1;
    out[len] = 0;
}

bool rt_diag_err_is_credentials(const char *e)
{
    return e && (strstr(e, "in password") || strstr(e, "in username") || strstr(e, "ambiguous entry") ||
                 strstr(e, "%-escape"));
}

int rt_diag_recover_address(const char *s, size_t n, rt_upstream *out)
{
    memset(out, 0, sizeof *out);
    size_t end = label_start(s, n);
    while (end > 0 && (s[end - 1] == ' ' || s[end - 1] == '\t'))
        end--;
    const char *at = NULL;
    for (size_t i = end; i > 0; i--)
        if (s[i - 1] == '@') {
            at = s + i - 1;
            break;
        }
    if (!at)
        return -1;
    const char *hp = at + 1;
    size_t hn = (size_t)(s + end - hp);
    char err[128];
    /* An https:// entry keeps its scheme (and with it TLS and the default
     * port): the address is re-read behind that scheme. */
    size_t lead = 0;
    while (lead < n && (s[lead] == ' ' || s[lead] == '\t'))
        lead++;
    if (n - lead >= 8 && strncasecmp(s + lead, "https://", 8) == 0) {
        char buf[RT_UP_ENTRY_MAX + 9];
        if (hn > RT_UP_ENTRY_MAX)
            return -1;
        memcpy(buf, "https://", 8);
        memcpy(buf + 8, hp, hn);
        return rt_upstream_parse(buf, 8 + hn, out, err, sizeof err) == 0 && out->scheme == RT_UP_HTTPS ? 0 : -1;
    }
    return rt_upstream_parse(hp, hn, out, err, sizeof err) == 0 && out->scheme == RT_UP_HTTP ? 0 : -1;
}

/* ==== reading answers ==== */

static bool ip_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.' || c == ':';
}

/* Is p[0..n) an IPv4 or IPv6 address? Copies it to out when it is. */
static int take_ip(const char *p, size_t n, char *out, size_t cap)
{
    char tmp[64];
    if (n == 0 || n >= sizeof tmp || n >= cap)
        return -1;
    memcpy(tmp, p, n);
    tmp[n] = 0;
    unsigned char buf[16];
    if (inet_pton(AF_INET, tmp, buf) != 1 && inet_pton(AF_INET6, tmp, buf) != 1)
        return -1;
    memcpy(out, tmp, n + 1);
    return 0;
}

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* The string value of "key": "value" in a flat JSON object, found by a
 * scan for the quoted key followed by ':' (enough for echo pages). */
static int json_string(rt_slice body, const char *key, rt_slice *val)
{
    size_t kn = strlen(key);
    for (size_t i = 0; i + kn + 2 <= body.n; i++) {
        if (body.p[i] != '"' || memcmp(body.p + i + 1, key, kn) != 0 || body.p[i + 1 + kn] != '"')
            continue;
        size_t j = i + kn + 2;
        while (j < body.n && is_ws(body.p[j]))
            j++;
        if (j >= body.n || body.p[j] != ':')
            continue;
        j++;
        while (j < body.n && is_ws(body.p[j]))
            j++;
        if (j >= body.n || body.p[j] != '"')
            continue;
        size_t k = ++j;
        while (k < body.n && body.p[k] != '"' && body.p[k] != '\\')
            k++;
        if (k >= body.n || body.p[k] != '"')
            continue;
        *val = rt_slice_from(body.p + j, k - j);
        return 0;
    }
    return -1;
}

int rt_diag_exit_ip(rt_slice body, char *out, size_t cap)
{
    if (!body.p || !cap)
        return -1;
    rt_slice v;
    if (json_string(body, "ip", &v) == 0 || json_string(body, "origin", &v) == 0) {
        /* httpbin's origin lists every address the request passed ("a, b"):
         * the first is the client as the echo page saw it. */
        size_t i = 0;
        while (i < v.n && is_ws(v.p[i]))
            i++;
        size_t j = i;
        while (j < v.n && v.p[j] != ',' && !is_ws(v.p[j]))
            j++;
        return take_ip(v.p + i, j - i, out, cap);
    }
    size_t i = 0, j = body.n;
    while (i < j && is_ws(body.p[i]))
        i++;
    while (j > i && is_ws(body.p[j - 1]))
        j--;
    for (size_t k = i; k < j; k++)
        if (!ip_char(body.p[k]))
            return -1;
    return take_ip(body.p + i, j - i, out, cap);
}

static bool tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void put(char *out, size_t cap, const char *p, size_t n)
{
    if (!cap)
        return;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, p, n);
    out[n] = 0;
}

int rt_diag_challenge(rt_slice v, char *scheme, size_t scap, char *realm, size_t rcap)
{
    put(scheme, scap, "", 0);
    put(realm, rcap, "", 0);
    size_t i = 0;
    while (i < v.n && (is_ws(v.p[i]) || v.p[i] == ','))
        i++;
    size_t s0 = i;
    while (i < v.n && tchar(v.p[i]))
        i++;
    if (i == s0)
        return -1;
    put(scheme, scap, v.p + s0, i - s0);
    /* auth-params: name = token / quoted-string, comma separated. The next
     * challenge starts at a token not followed by '='; stop there. */
    while (i < v.n) {
        while (i < v.n && (is_ws(v.p[i]) || v.p[i] == ','))
            i++;
        size_t n0 = i;
        while (i < v.n && tchar(v.p[i]))
            i++;
        size_t n1 = i;
        while (i < v.n && is_ws(v.p[i]))
            i++;
        if (n1 == n0 || i >= v.n || v.p[i] != '=')
            break;
        i++;
        while (i < v.n && is_ws(v.p[i]))
            i++;
        char val[256];
        size_t vn = 0;
        if (i < v.n && v.p[i] == '"') {
            i++;
            while (i < v.n && v.p[i] != '"') {
                if (v.p[i] == '\\' && i + 1 < v.n)
                    i++;
                if (vn < sizeof val - 1)
                    val[vn++] = v.p[i];
                i++;
            }
            i++;
        } else {
            while (i < v.n && tchar(v.p[i])) {
                if (vn < sizeof val - 1)
                    val[vn++] = v.p[i];
                i++;
            }
        }
        if (n1 - n0 == 5 && !strncasecmp(v.p + n0, "realm", 5)) {
            put(realm, rcap, val, vn);
            break;
        }
    }
    return 0;
}

int rt_diag_via_node(rt_slice via, char *out, size_t cap)
{
    /* Elements are comma separated; a comment in parentheses may hold
     * commas, so commas are only split outside them. */
    size_t last = 0, depth = 0;
    for (size_t i = 0; i < via.n; i++) {
        if (via.p[i] == '(')
            depth++;
        else if (via.p[i] == ')' && depth)
            depth--;
        else if (via.p[i] == ',' && !depth)
            last = i + 1;
    }
    size_t i = last;
    while (i < via.n && is_ws(via.p[i]))
        i++;
    while (i < via.n && !is_ws(via.p[i])) /* received-protocol */
        i++;
    while (i < via.n && is_ws(via.p[i]))
        i++;
    size_t b = i;
    while (i < via.n && !is_ws(via.p[i]) && via.p[i] != ',' && via.p[i] != '(')
        i++;
    if (i == b || !cap)
        return -1;
    put(out, cap, via.p + b, i - b);
    return 0;
}

/* ==== step 2 ==== */

rt_diag_auth rt_diag_auth_judge(bool have_creds, int st_without, int st_with, bool www_auth_with)
{
    bool asked = st_without == 407;
    if (!have_creds)
        return asked ? RT_DIAG_AUTH_MISSING : RT_DIAG_AUTH_OPEN;
    /* tinyproxy answers a wrong password with 401 + WWW-Authenticate; only
     * read a 401 that way when the same proxy asked for credentials (407)
     * without them, so a target's own 401 is not mistaken for it. */
    bool rejected = st_with == 407 || (st_with == 401 && www_auth_with && asked);
    if (rejected)
        return asked ? RT_DIAG_AUTH_REJECTED : RT_DIAG_AUTH_REJECTED_OPEN;
    return asked ? RT_DIAG_AUTH_OK : RT_DIAG_AUTH_NOT_NEEDED;
}

const char *rt_diag_auth_name(rt_diag_auth a)
{
    switch (a) {
    case RT_DIAG_AUTH_OK: return "accepted";
    case RT_DIAG_AUTH_OPEN: return "open";
    case RT_DIAG_AUTH_NOT_NEEDED: return "not_needed";
    case RT_DIAG_AUTH_MISSING: return "missing";
    case RT_DIAG_AUTH_REJECTED: return "rejected";
    case RT_DIAG_AUTH_REJECTED_OPEN: return "rejected_open";
    }
    return "?";
}

/* ==== step 5 ==== */

const char *rt_diag_pattern_name(rt_diag_pattern_kind k)
{
    switch (k) {
    case RT_DIAG_PAT_NONE: return "none";
    case RT_DIAG_PAT_PERSISTENT: return "persistent";
    case RT_DIAG_PAT_EXITS: return "specific_exits";
    case RT_DIAG_PAT_GROWING: return "growing";
    case RT_DIAG_PAT_RANDOM: return "random";
    case RT_DIAG_PAT_INTERMITTENT: return "intermittent";
    }
    return "?";
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The exit of sample i: its IP, else the one IP its Via node showed on
 * other samples, else "via NODE", else "" (unknown). */
static void exit_of(const rt_diag_sample *s, size_t n, size_t i, char *out, size_t cap)
{
    if (s[i].ip[0]) {
        put(out, cap, s[i].ip, strlen(s[i].ip));
        return;
    }
    out[0] = 0;
    if (!s[i].node[0])
        return;
    const char *ip = NULL;
    bool unique = true;
    for (size_t k = 0; k < n; k++) {
        if (!s[k].ip[0] || strcmp(s[k].node, s[i].node) != 0)
            continue;
        if (ip && strcmp(ip, s[k].ip) != 0)
            unique = false;
        ip = s[k].ip;
    }
    if (ip && unique)
        put(out, cap, ip, strlen(ip));
    else
        snprintf(out, cap, "via %.*s", (int)(cap > 5 ? cap - 5 : 0), s[i].node);
}

void rt_diag_pattern_of(const rt_diag_sample *s, size_t n, rt_diag_pattern *o)
{
    memset(o, 0, sizeof *o);
    if (n > RT_DIAG_SAMPLES_MAX)
        n = RT_DIAG_SAMPLES_MAX;
    o->n = (unsigned)n;
    o->first_fail = (unsigned)n;
    o->top_code = RT_E_ok;
    if (!n)
        return;

    uint32_t ms[RT_DIAG_SAMPLES_MAX]; /* 4 KiB on the stack */
    unsigned counts[RT_E__COUNT] = { 0 };
    for (size_t i = 0; i < n; i++) {
        ms[i] = s[i].ms;
        bool bad = s[i].code != RT_E_ok;
        if (!bad)
            continue;
        o->failed++;
        if (o->first_fail == n)
            o->first_fail = (unsigned)i;
        if (i < n / 2)
            o->failed_first_half++;
        else
            o->failed_second_half++;
        if ((unsigned)s[i].code < RT_E__COUNT && ++counts[s[i].code] > o->top_count) {
            o->top_count = counts[s[i].code];
            o->top_code = s[i].code;
        }
    }
    qsort(ms, n, sizeof ms[0], cmp_u32);
    o->ms_min = ms[0];
    o->ms_max = ms[n - 1];
    o->ms_median = ms[n / 2];

    for (size_t i = 0; i < n; i++) {
        char e[RT_DIAG_EXIT_MAX];
        exit_of(s, n, i, e, sizeof e);
        if (!e[0]) {
            o->unattributed++;
            continue;
        }
        size_t k = 0;
        while (k < o->nexits && strcmp(o->exits[k].exit, e) != 0)
            k++;
        if (k == o->nexits) {
            if (o->nexits == RT_DIAG_EXITS_MAX) {
                o->unattributed++;
                continue;
            }
            put(o->exits[k].exit, sizeof o->exits[k].exit, e, strlen(e));
            o->nexits++;
        }
        o->exits[k].n++;
        if (s[i].code != RT_E_ok)
            o->exits[k].failed++;
    }

    if (o->failed == 0) {
        o->kind = RT_DIAG_PAT_NONE;
        return;
    }
    if (o->failed == n) {
        o->kind = RT_DIAG_PAT_PERSISTENT;
        return;
    }
    /* A tail: from the first failure on, every sample failed. */
    if (o->first_fail >= 1 && o->failed >= 2 && o->failed == n - o->first_fail) {
        o->kind = RT_DIAG_PAT_GROWING;
        return;
    }
    if (o->nexits >= 2) {
        unsigned on_bad = 0, attributed = 0;
        bool a_clean = false;
        for (size_t k = 0; k < o->nexits; k++) {
            rt_diag_exit_stat *x = &o->exits[k];
            attributed += x->failed;
            x->bad = x->failed && x->failed * 3 >= x->n * 2;
            if (x->bad)
                on_bad += x->failed;
            if (!x->failed)
                a_clean = true;
        }
        if (a_clean && on_bad * 5 >= attributed * 4 && attributed * 2 >= o->failed && on_bad) {
            o->kind = RT_DIAG_PAT_EXITS;
            return;
        }
        for (size_t k = 0; k < o->nexits; k++)
            o->exits[k].bad = false;
    }
    /* Thirds: a rate that never falls, starts low (at most 0.25) and ends
     * high (at least 0.75, and 0.5 above the start). Failures at a steady
     * random rate rarely pass all of these. */
    if (n >= 6) {
        size_t b1 = n / 3, b2 = 2 * n / 3;
        unsigned f[3] = { 0, 0, 0 };
        for (size_t i = 0; i < n; i++)
            if (s[i].code != RT_E_ok)
                f[i < b1 ? 0 : i < b2 ? 1 : 2]++;
        double r1 = (double)f[0] / (double)b1, r2 = (double)f[1] / (double)(b2 - b1),
               r3 = (double)f[2] / (double)(n - b2);
        if (r1 <= 0.25 && r1 <= r2 && r2 <= r3 && r3 >= 0.75 && r3 - r1 >= 0.5) {
            o->kind = RT_DIAG_PAT_GROWING;
            return;
        }
    }
    o->kind = o->nexits >= 2 ? RT_DIAG_PAT_RANDOM : RT_DIAG_PAT_INTERMITTENT;
}
