/* HTTP/1.1 message heads: request and status lines, header fields and the
 * framing decision (RFC 9112 sections 2-6).
 *
 * Every call works in two steps. First a memchr walk over the line ends
 * finds the end of the head (CRLF CRLF) and enforces the size limits; when
 * the end is absent the call returns RT_HP_AGAIN having touched each line
 * end once, so re-parsing a growing buffer stays cheap. Only a complete head
 * is then parsed, in one pass, with table lookups per byte and an 8-byte
 * word test over field values. The head's final CRLF CRLF acts as a
 * sentinel: every byte loop below stops at a CR at the latest, so the loops
 * need no length check of their own. */
#include "core/http/http1.h"

#include <string.h>

#include "core/http/chars.h"

#define CL_LIMIT (UINT64_C(1) << 62) /* Content-Length must stay below this */

/* Framing facts gathered while the header fields are read. */
typedef struct field_facts {
    unsigned host_count;
    bool cl_seen;
    uint64_t cl;
    size_t cl_off;
    bool te_seen;
    size_t te_off;
    unsigned te_chunked;     /* how often "chunked" was listed */
    bool te_last_chunked;    /* the final coding listed so far is chunked */
    bool te_unknown;         /* a coding other than the known compressions */
    bool conn_close;
    bool conn_keep_alive;
    bool conn_upgrade;
    bool conn_other;         /* a token naming another field */
    bool upgrade_field;
    bool expect_continue;
} field_facts;

static ssize_t fail(rt_http_head *h, rt_http_err e, size_t off)
{
    h->err = e;
    h->err_off = off;
    return RT_HP_ERROR;
}

static void head_reset(rt_http_head *h)
{
    h->nhdrs = 0;
    h->minor = 0;
    h->body = RT_BODY_NONE;
    h->content_length = 0;
    h->keep_alive = false;
    h->has_upgrade = false;
    h->conn_names = false;
    h->err = RT_HPE_NONE;
    h->err_off = 0;
}

static void limits_of(const rt_http_limits *l, size_t *max_line, size_t *max_head)
{
    *max_line = (l && l->max_line) ? l->max_line : RT_HTTP_DEFAULT_MAX_LINE;
    *max_head = (l && l->max_head) ? l->max_head : RT_HTTP_DEFAULT_MAX_HEAD;
}

/* ASCII case-insensitive equality of n bytes against a lower-case literal. */
static bool ci_eq(const char *p, const char *lc, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (rt_http_lc[(unsigned char)p[i]] != (unsigned char)lc[i])
            return false;
    return true;
}

static bool slice_ci(rt_slice s, const char *lc, size_t n)
{
    return s.n == n && ci_eq(s.p, lc, n);
}

#define SLICE_CI(s, lit) slice_ci((s), (lit), sizeof(lit) - 1)

/* The error for a byte that ended a line element too early: a CR without LF
 * is reported as such, anything else as `other`. */
static rt_http_err stray(const unsigned char *b, size_t p, rt_http_err other)
{
    if (b[p] == '\r' && b[p + 1] != '\n')
        return RT_HPE_BARE_CR;
    if (b[p] == '\n')
        return RT_HPE_BARE_LF;
    return other;
}

/* ---- locating the head ---- */

/* Finds the end of the head starting at `start`. Returns the head length
 * (offset just past CRLF CRLF), RT_HP_AGAIN, or RT_HP_ERROR. Every LF seen
 * must follow a CR (RFC 9112 section 2.2), so a bare LF is reported at once
 * instead of waiting for a CRLF CRLF that may never come. */
static ssize_t find_head_end(const char *buf, size_t len, size_t start, size_t max_line,
                             size_t max_head, rt_http_head *h)
{
    size_t scan = len < max_head ? len : max_head;
    size_t pos = start;
    bool first = true;

    while (pos < scan) {
        const char *lf = memchr(buf + pos, '\n', scan - pos);
        if (!lf)
            break;
        size_t i = (size_t)(lf - buf);
        if (i == start || buf[i - 1] != '\r')
            return fail(h, RT_HPE_BARE_LF, i);
        if (first) {
            if (i - 1 - start > max_line)
                return fail(h, RT_HPE_LINE_TOO_LONG, start + max_line);
            first = false;
        }
        if (i + 1 >= scan)
            break;
        if (buf[i + 1] != '\r') {
            pos = i + 1;
            continue;
        }
        if (i + 2 >= scan)
            break;
        if (buf[i + 2] == '\n')
            return (ssize_t)(i + 3);
        return fail(h, RT_HPE_BARE_CR, i + 1);
    }
    if (first) {
        size_t n = scan - start;
        if (n > 0 && buf[scan - 1] == '\r')
            n--;
        if (n > max_line)
            return fail(h, RT_HPE_LINE_TOO_LONG, start + max_line);
    }
    /* No end within max_head bytes: the head needs more than the limit. */
    if (len >= max_head)
        return fail(h, RT_HPE_HEADERS_TOO_LARGE, max_head);
    return RT_HP_AGAIN;
}

/* ---- byte scans ---- */

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)
/* Per-byte flags (0x80 in the byte's place) for bytes of x below n (n <=
 * 128) or equal to c. A flag can be spurious only above a true one (a
 * borrow travels upwards), so the lowest flag is always exact. */
#define HAS_LESS(x, n) (((x) - ONES * (n)) & ~(x) & HIGHS)
#define HAS_ZERO(x) (((x) - ONES) & ~(x) & HIGHS)
#define HAS_BYTE(x, c) HAS_ZERO((x) ^ (ONES * (c)))

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* Offset of the lowest flagged byte in a nonzero flag word. */
#define FIRST_FLAG(m) ((size_t)__builtin_ctzll(m) >> 3)
#define HAVE_FIRST_FLAG 1
#endif

/* First offset at or after pos that is not a field-value byte (HTAB, SP,
 * VCHAR, obs-text). Eight bytes are tested at once: a word without CTL or
 * DEL is skipped whole, and the first flagged byte is found directly; HTAB
 * is the one flagged byte that is allowed. */
static size_t scan_fval(const unsigned char *b, size_t pos, size_t end)
{
    while (pos + 8 <= end) {
        uint64_t x;
        memcpy(&x, b + pos, 8);
        uint64_t m = HAS_LESS(x, 0x20) | HAS_BYTE(x, 0x7f);
        if (m) {
#ifdef HAVE_FIRST_FLAG
            size_t k = pos + FIRST_FLAG(m);
            if (b[k] != '\t')
                return k;
            pos = k + 1;
            continue;
#else
            break;
#endif
        }
        pos += 8;
    }
    while (rt_http_cc[b[pos]] & RT_CC_FVAL)
        pos++;
    return pos;
}

/* First offset at or after pos that is not a request-target byte (VCHAR
 * except '#'). Targets are long in scraping traffic, so words again. */
static size_t scan_target(const unsigned char *b, size_t pos, size_t end)
{
    while (pos + 8 <= end) {
        uint64_t x;
        memcpy(&x, b + pos, 8);
        uint64_t m = HAS_LESS(x, 0x21) | (x & HIGHS) | HAS_BYTE(x, 0x7f) | HAS_BYTE(x, '#');
        if (m) {
#ifdef HAVE_FIRST_FLAG
            return pos + FIRST_FLAG(m);
#else
            break;
#endif
        }
        pos += 8;
    }
    while (rt_http_cc[b[pos]] & RT_CC_TARGET)
        pos++;
    return pos;
}

/* First offset at or after pos that is not a tchar. Names are short, so a
 * table lookup per byte, unrolled; the head's final CR stops the loop. */
static size_t scan_token(const unsigned char *b, size_t pos)
{
    for (;;) {
        if (!(rt_http_cc[b[pos]] & RT_CC_TOKEN))
            return pos;
        if (!(rt_http_cc[b[pos + 1]] & RT_CC_TOKEN))
            return pos + 1;
        if (!(rt_http_cc[b[pos + 2]] & RT_CC_TOKEN))
            return pos + 2;
        if (!(rt_http_cc[b[pos + 3]] & RT_CC_TOKEN))
            return pos + 3;
        pos += 4;
    }
}

static size_t skip_ows(const unsigned char *v, size_t i, size_t n)
{
    while (i < n && (rt_http_cc[v[i]] & RT_CC_OWS))
        i++;
    return i;
}

/* ---- comma-separated lists (RFC 9110 section 5.6.1) ---- */

/* Next non-empty element of a list from *pos, with OWS trimmed. Empty
 * elements are skipped as the RFC requires of recipients. */
static bool list_next(rt_slice l, size_t *pos, rt_slice *elem)
{
    const unsigned char *v = (const unsigned char *)l.p;
    size_t i = *pos;
    while (i < l.n && (v[i] == ',' || (rt_http_cc[v[i]] & RT_CC_OWS)))
        i++;
    if (i >= l.n) {
        *pos = i;
        return false;
    }
    size_t s = i;
    while (i < l.n && v[i] != ',')
        i++;
    size_t e = i;
    while (e > s && (rt_http_cc[v[e - 1]] & RT_CC_OWS))
        e--;
    *elem = rt_slice_from(l.p + s, e - s);
    *pos = i;
    return true;
}

static bool list_has_slice(rt_slice list, rt_slice tok)
{
    size_t pos = 0;
    rt_slice e;
    while (list_next(list, &pos, &e))
        if (e.n == tok.n && e.n > 0 && strncasecmp(e.p, tok.p, e.n) == 0)
            return true;
    return false;
}

bool rt_http_list_has(rt_slice list, const char *tok)
{
    return list_has_slice(list, rt_slice_cstr(tok));
}

/* ---- framing fields ---- */

/* Content-Length (RFC 9110 section 8.6, RFC 9112 section 6.3): 1*DIGIT,
 * below 2^62. A list of identical values (a field an upstream joined) is
 * accepted; any difference, also against an earlier field, is a conflict. */
static rt_http_err note_cl(field_facts *ff, const unsigned char *v, size_t n, size_t *bad)
{
    size_t i = 0;
    for (;;) {
        size_t d0 = i;
        uint64_t x = 0;
        while (i < n && (rt_http_cc[v[i]] & RT_CC_DIGIT)) {
            unsigned d = v[i] - '0';
            if (x > (CL_LIMIT - 1 - d) / 10) {
                *bad = i;
                return RT_HPE_CL_INVALID;
            }
            x = x * 10 + d;
            i++;
        }
        if (i == d0) {
            *bad = i;
            return RT_HPE_CL_INVALID;
        }
        if (ff->cl_seen && x != ff->cl) {
            *bad = d0;
            return RT_HPE_CL_CONFLICT;
        }
        ff->cl_seen = true;
        ff->cl = x;
        i = skip_ows(v, i, n);
        if (i == n)
            return RT_HPE_NONE;
        if (v[i] != ',') {
            *bad = i;
            return RT_HPE_CL_INVALID;
        }
        i = skip_ows(v, i + 1, n);
    }
}

static size_t skip_token(const unsigned char *v, size_t i, size_t n)
{
    while (i < n && (rt_http_cc[v[i]] & RT_CC_TOKEN))
        i++;
    return i;
}

/* quoted-string (RFC 9110 section 5.6.4) starting at the opening quote;
 * returns the offset after the closing quote or 0 when unterminated. The
 * bytes were already checked to be field-value bytes. */
static size_t skip_quoted(const unsigned char *v, size_t i, size_t n)
{
    for (i++; i < n; i++) {
        if (v[i] == '"')
            return i + 1;
        if (v[i] == '\\' && ++i == n)
            return 0;
    }
    return 0;
}

static bool known_coding(const char *p, size_t n)
{
    switch (n) {
    case 4: return ci_eq(p, "gzip", 4);
    case 6: return ci_eq(p, "x-gzip", 6);
    case 7: return ci_eq(p, "deflate", 7);
    case 8: return ci_eq(p, "compress", 8);
    case 10: return ci_eq(p, "x-compress", 10);
    default: return false;
    }
}

/* One transfer-parameter (token BWS "=" BWS ( token / quoted-string ))
 * starting after its ';' at j. Returns the offset after it, or SIZE_MAX with
 * *bad set to the offending byte. */
static size_t skip_param(const unsigned char *v, size_t j, size_t n, size_t *bad)
{
    j = skip_ows(v, j, n);
    size_t k = skip_token(v, j, n);
    if (k == j)
        goto bad;
    k = skip_ows(v, k, n);
    if (k == n || v[k] != '=')
        goto bad;
    j = skip_ows(v, k + 1, n);
    if (j < n && v[j] == '"') {
        k = skip_quoted(v, j, n);
        if (k == 0) {
            k = n;
            goto bad;
        }
        return k;
    }
    k = skip_token(v, j, n);
    if (k == j)
        goto bad;
    return k;
bad:
    *bad = k;
    return SIZE_MAX;
}

/* Transfer-Encoding (RFC 9112 section 6.1): a list of transfer-coding =
 * token *( OWS ";" OWS transfer-parameter ). Several fields form one list
 * in order, so the facts accumulate across calls. */
static rt_http_err note_te(field_facts *ff, const unsigned char *v, size_t n, size_t *bad)
{
    size_t i = 0;
    for (;;) {
        while (i < n && (v[i] == ',' || (rt_http_cc[v[i]] & RT_CC_OWS)))
            i++;
        if (i == n)
            return RT_HPE_NONE;
        size_t t0 = i;
        i = skip_token(v, i, n);
        if (i == t0)
            goto bad;
        size_t t1 = i;
        bool params = false;
        for (;;) {
            size_t j = skip_ows(v, i, n);
            if (j == n || v[j] != ';') {
                i = j;
                break;
            }
            params = true;
            i = skip_param(v, j + 1, n, bad);
            if (i == SIZE_MAX)
                return RT_HPE_HEADER_VALUE;
        }
        if (i < n && v[i] != ',')
            goto bad;
        if (t1 - t0 == 7 && ci_eq((const char *)v + t0, "chunked", 7)) {
            /* chunked takes no parameters. */
            if (params) {
                i = t1;
                goto bad;
            }
            ff->te_chunked++;
            ff->te_last_chunked = true;
        } else {
            ff->te_last_chunked = false;
            if (!known_coding((const char *)v + t0, t1 - t0))
                ff->te_unknown = true;
        }
    }
bad:
    *bad = i;
    return RT_HPE_HEADER_VALUE;
}

/* Records what the framing decision needs from one field. Returns an error
 * with *off set to the offending byte, or RT_HPE_NONE. */
static rt_http_err note_field(field_facts *ff, const rt_http_hdr *f, const char *buf, size_t *off)
{
    const char *n = f->name.p;
    const unsigned char *v = (const unsigned char *)f->value.p;
    size_t voff = (size_t)(f->value.p - buf), bad = 0;
    rt_http_err e = RT_HPE_NONE;

    switch (f->name.n) {
    case 4:
        if (ci_eq(n, "host", 4) && ++ff->host_count > 1) {
            *off = (size_t)(n - buf);
            return RT_HPE_HOST;
        }
        break;
    case 6:
        if (ci_eq(n, "expect", 6) && SLICE_CI(f->value, "100-continue"))
            ff->expect_continue = true;
        break;
    case 7:
        if (ci_eq(n, "upgrade", 7))
            ff->upgrade_field = true;
        break;
    case 10:
        if (ci_eq(n, "connection", 10)) {
            size_t pos = 0;
            rt_slice el;
            while (list_next(f->value, &pos, &el)) {
                if (SLICE_CI(el, "close"))
                    ff->conn_close = true;
                else if (SLICE_CI(el, "keep-alive"))
                    ff->conn_keep_alive = true;
                else if (SLICE_CI(el, "upgrade"))
                    ff->conn_upgrade = true;
                else
                    ff->conn_other = true;
            }
        }
        break;
    case 14:
        if (ci_eq(n, "content-length", 14)) {
            if (!ff->cl_seen)
                ff->cl_off = voff;
            e = note_cl(ff, v, f->value.n, &bad);
        }
        break;
    case 17:
        if (ci_eq(n, "transfer-encoding", 17)) {
            if (!ff->te_seen)
                ff->te_off = voff;
            ff->te_seen = true;
            e = note_te(ff, v, f->value.n, &bad);
        }
        break;
    default:
        break;
    }
    *off = voff + bad;
    return e;
}

/* ---- header fields (RFC 9112 section 5) ---- */

/* Parses field lines from pos up to the empty line that ends the head at
 * end - 2. Returns 0 or RT_HP_ERROR. */
static ssize_t parse_fields(const char *buf, size_t pos, size_t end, rt_http_head *h,
                            field_facts *ff)
{
    const unsigned char *b = (const unsigned char *)buf;
    for (;;) {
        unsigned char c = b[pos];
        if (c == '\r') {
            if (b[pos + 1] == '\n')
                return 0; /* the empty line: pos + 2 == end */
            return fail(h, RT_HPE_BARE_CR, pos);
        }
        /* RFC 9112 section 5.2: obs-fold is rejected; whitespace before the
         * first field (section 2.2) looks the same and is rejected too. */
        if (c == ' ' || c == '\t')
            return fail(h, RT_HPE_OBS_FOLD, pos);
        size_t n0 = pos;
        pos = scan_token(b, pos);
        if (b[pos] != ':' || pos == n0) {
            rt_http_err e = RT_HPE_HEADER_NAME;
            if (pos > n0 && (rt_http_cc[b[pos]] & RT_CC_OWS))
                e = RT_HPE_HEADER_SPACE; /* RFC 9112 section 5.1 */
            else
                e = stray(b, pos, RT_HPE_HEADER_NAME);
            return fail(h, e, pos);
        }
        if (h->nhdrs >= h->max_hdrs)
            return fail(h, RT_HPE_TOO_MANY_HEADERS, n0);
        size_t name_n = pos - n0;
        pos = skip_ows(b, pos + 1, end);
        size_t v0 = pos;
        pos = scan_fval(b, pos, end);
        if (b[pos] != '\r')
            return fail(h, stray(b, pos, RT_HPE_HEADER_VALUE), pos);
        if (b[pos + 1] != '\n')
            return fail(h, RT_HPE_BARE_CR, pos);
        size_t v1 = pos;
        while (v1 > v0 && (rt_http_cc[b[v1 - 1]] & RT_CC_OWS))
            v1--;

        rt_http_hdr *f = &h->hdrs[h->nhdrs++];
        f->name = rt_slice_from(buf + n0, name_n);
        f->value = rt_slice_from(buf + v0, v1 - v0);
        size_t off;
        rt_http_err e = note_field(ff, f, buf, &off);
        if (e != RT_HPE_NONE)
            return fail(h, e, off);
        pos += 2;
    }
}

/* "HTTP/" DIGIT "." DIGIT (RFC 9112 section 2.3; the name is case-
 * sensitive). Returns the minor version for 1.0/1.1, -1 when the bytes are
 * not a version at all, -2 for a well-formed but unsupported version. */
static int parse_version(const unsigned char *v, size_t n)
{
    if (n != 8 || memcmp(v, "HTTP/", 5) != 0 || !(rt_http_cc[v[5]] & RT_CC_DIGIT) ||
        v[6] != '.' || !(rt_http_cc[v[7]] & RT_CC_DIGIT))
        return -1;
    if (v[5] != '1' || v[7] > '1')
        return -2;
    return v[7] - '0';
}

/* ---- requests ---- */

static rt_http_method method_of(const char *m, size_t n)
{
    switch (n) {
    case 3:
        if (memcmp(m, "GET", 3) == 0) return RT_M_GET;
        if (memcmp(m, "PUT", 3) == 0) return RT_M_PUT;
        break;
    case 4:
        if (memcmp(m, "POST", 4) == 0) return RT_M_POST;
        if (memcmp(m, "HEAD", 4) == 0) return RT_M_HEAD;
        break;
    case 5:
        if (memcmp(m, "PATCH", 5) == 0) return RT_M_PATCH;
        if (memcmp(m, "TRACE", 5) == 0) return RT_M_TRACE;
        break;
    case 6:
        if (memcmp(m, "DELETE", 6) == 0) return RT_M_DELETE;
        break;
    case 7:
        if (memcmp(m, "OPTIONS", 7) == 0) return RT_M_OPTIONS;
        if (memcmp(m, "CONNECT", 7) == 0) return RT_M_CONNECT;
        break;
    default:
        break;
    }
    return RT_M_OTHER;
}

bool rt_http_method_idempotent(rt_http_method m)
{
    switch (m) {
    case RT_M_GET: case RT_M_HEAD: case RT_M_PUT: case RT_M_DELETE:
    case RT_M_OPTIONS: case RT_M_TRACE:
        return true;
    default:
        return false;
    }
}

/* Coarse request-target form check (RFC 9112 section 3.2): which of the
 * four forms the target has, and whether the method allows it. The full
 * syntax check is rt_url_parse_target()'s job. */
static bool target_form_ok(const unsigned char *t, size_t n, rt_http_method m)
{
    if (t[0] == '*')
        return n == 1 && m == RT_M_OPTIONS;
    if (m == RT_M_CONNECT)
        return memchr(t, '/', n) == NULL; /* authority-form only */
    if (t[0] == '/')
        return true; /* origin-form */
    /* absolute-form: scheme ":" ... */
    unsigned char c0 = t[0] | 0x20;
    if (c0 < 'a' || c0 > 'z')
        return false;
    size_t i = 1;
    while (i < n && (rt_http_cc[t[i]] & RT_CC_SCHEME))
        i++;
    return i < n && t[i] == ':';
}

ssize_t rt_http_parse_request(const char *buf, size_t len, rt_http_req *req,
                              const rt_http_limits *limits)
{
    rt_http_head *h = &req->h;
    size_t max_line, max_head;
    head_reset(h);
    req->method = RT_SLICE_NULL;
    req->meth = RT_M_OTHER;
    req->target = RT_SLICE_NULL;
    req->expect_continue = false;
    limits_of(limits, &max_line, &max_head);
    if (len == 0)
        return RT_HP_AGAIN;

    /* RFC 9112 section 2.2: a server SHOULD ignore at least one empty line
     * before the request-line (some clients send CRLF after a body). They
     * count towards max_head. */
    size_t scan = len < max_head ? len : max_head, start = 0;
    while (start + 1 < scan && buf[start] == '\r' && buf[start + 1] == '\n')
        start += 2;

    ssize_t end = find_head_end(buf, len, start, max_line, max_head, h);
    if (end < 0)
        return end;

    const unsigned char *b = (const unsigned char *)buf;
    /* The first CR ends the request-line unless it is bare. */
    size_t le = (size_t)((const char *)memchr(buf + start, '\r', (size_t)end - start) - buf);
    if (b[le + 1] != '\n')
        return fail(h, RT_HPE_BARE_CR, le);

    /* request-line = method SP request-target SP HTTP-version (section 3) */
    size_t p = scan_token(b, start);
    if (p == start || b[p] != ' ')
        return fail(h, stray(b, p, RT_HPE_REQUEST_LINE), p);
    req->method = rt_slice_from(buf + start, p - start);
    req->meth = method_of(buf + start, p - start);

    size_t t0 = ++p;
    p = scan_target(b, p, le);
    if (b[p] == '#')
        return fail(h, RT_HPE_TARGET, p); /* no fragment in a request-target */
    if (p == t0 || b[p] != ' ')
        return fail(h, stray(b, p, RT_HPE_REQUEST_LINE), p);
    req->target = rt_slice_from(buf + t0, p - t0);

    size_t v0 = ++p;
    int minor = parse_version(b + v0, le - v0);
    if (minor == -2)
        return fail(h, RT_HPE_VERSION, v0);
    if (minor < 0)
        return fail(h, RT_HPE_REQUEST_LINE, v0);
    h->minor = minor;
    if (!target_form_ok(b + t0, req->target.n, req->meth))
        return fail(h, RT_HPE_TARGET, t0);

    field_facts ff;
    memset(&ff, 0, sizeof ff);
    if (parse_fields(buf, le + 2, (size_t)end, h, &ff) < 0)
        return RT_HP_ERROR;

    /* RFC 9112 section 3.2: a 1.1 request has exactly one Host field. */
    if (ff.host_count == 0 && minor == 1)
        return fail(h, RT_HPE_HOST, (size_t)end - 2);

    /* Request body length: RFC 9112 section 6.3 items 3, 4, 6, 7. */
    if (ff.te_seen) {
        if (ff.cl_seen)
            return fail(h, RT_HPE_CL_TE, ff.te_off);
        /* Section 6.1: TE in HTTP/1.0 means faulty framing; a server
         * cannot answer and keep the connection, so it refuses. */
        if (minor == 0)
            return fail(h, RT_HPE_TE_HTTP10, ff.te_off);
        if (ff.te_chunked > 1 || (ff.te_chunked == 1 && !ff.te_last_chunked))
            return fail(h, RT_HPE_TE_NOT_CHUNKED_LAST, ff.te_off);
        if (ff.te_chunked == 0)
            return fail(h, ff.te_unknown ? RT_HPE_TE_UNSUPPORTED : RT_HPE_TE_NOT_CHUNKED_LAST,
                        ff.te_off);
        /* Section 6.1: a coding the server does not understand -> 501. */
        if (ff.te_unknown)
            return fail(h, RT_HPE_TE_UNSUPPORTED, ff.te_off);
        h->body = RT_BODY_CHUNKED;
    } else if (ff.cl_seen) {
        h->body = RT_BODY_LENGTH;
        h->content_length = ff.cl;
    } else {
        h->body = RT_BODY_NONE;
    }

    h->keep_alive = minor == 1 ? !ff.conn_close : (ff.conn_keep_alive && !ff.conn_close);
    h->has_upgrade = ff.conn_upgrade && ff.upgrade_field;
    h->conn_names = ff.conn_other;
    /* RFC 9110 section 10.1.1: 100-continue in HTTP/1.0 is ignored. */
    req->expect_continue = ff.expect_continue && minor == 1;
    return end;
}

/* ---- responses ---- */

ssize_t rt_http_parse_response(const char *buf, size_t len, rt_http_resp *resp,
                               rt_http_method req_method, const rt_http_limits *limits)
{
    rt_http_head *h = &resp->h;
    size_t max_line, max_head;
    head_reset(h);
    resp->status = 0;
    resp->reason = RT_SLICE_NULL;
    limits_of(limits, &max_line, &max_head);
    if (len == 0)
        return RT_HP_AGAIN;

    ssize_t end = find_head_end(buf, len, 0, max_line, max_head, h);
    if (end < 0)
        return end;

    const unsigned char *b = (const unsigned char *)buf;
    size_t le = (size_t)((const char *)memchr(buf, '\r', (size_t)end) - buf);
    if (b[le + 1] != '\n')
        return fail(h, RT_HPE_BARE_CR, le);

    /* status-line = HTTP-version SP status-code SP [ reason-phrase ]
     * (RFC 9112 section 4). */
    int minor = parse_version(b, le < 8 ? le : 8);
    if (minor == -2)
        return fail(h, RT_HPE_VERSION, 0);
    if (minor < 0)
        return fail(h, RT_HPE_STATUS_LINE, 0);
    if (le < 12 || b[8] != ' ')
        return fail(h, RT_HPE_STATUS_LINE, le < 9 ? le : 8);
    for (size_t i = 9; i < 12; i++)
        if (!(rt_http_cc[b[i]] & RT_CC_DIGIT) || (i == 9 && b[i] == '0'))
            return fail(h, stray(b, i, RT_HPE_STATUS_LINE), i);
    resp->status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
    /* A status line that ends right after the code is accepted: the reason
     * phrase carries no meaning (section 4) and servers omit the SP. */
    if (le > 12) {
        if (b[12] != ' ')
            return fail(h, stray(b, 12, RT_HPE_STATUS_LINE), 12);
        size_t r = scan_fval(b, 13, le);
        if (r != le)
            return fail(h, stray(b, r, RT_HPE_STATUS_LINE), r);
        resp->reason = rt_slice_from(buf + 13, le - 13);
    } else {
        resp->reason = rt_slice_from(buf + 12, 0);
    }
    h->minor = minor;

    field_facts ff;
    memset(&ff, 0, sizeof ff);
    if (parse_fields(buf, le + 2, (size_t)end, h, &ff) < 0)
        return RT_HP_ERROR;

    /* Both framing fields is a smuggling vector whatever the status. */
    if (ff.te_seen && ff.cl_seen)
        return fail(h, RT_HPE_CL_TE, ff.te_off);
    /* Section 6.1: chunked must not be applied twice. */
    if (ff.te_chunked > 1)
        return fail(h, RT_HPE_TE_NOT_CHUNKED_LAST, ff.te_off);

    int st = resp->status;
    bool faulty = false;
    /* Response body length: RFC 9112 section 6.3 items 1-8. */
    if (req_method == RT_M_HEAD || st < 200 || st == 204 || st == 304) {
        h->body = RT_BODY_NONE;
    } else if (req_method == RT_M_CONNECT && st < 300) {
        h->body = RT_BODY_TUNNEL;
    } else if (ff.te_seen) {
        /* A 1.0 message with TE has faulty framing (section 6.1): read
         * until close and do not reuse the connection. */
        faulty = minor == 0;
        h->body = (ff.te_last_chunked && !faulty) ? RT_BODY_CHUNKED : RT_BODY_CLOSE;
    } else if (ff.cl_seen) {
        h->body = RT_BODY_LENGTH;
        h->content_length = ff.cl;
    } else {
        h->body = RT_BODY_CLOSE;
    }

    h->keep_alive = minor == 1 ? !ff.conn_close : (ff.conn_keep_alive && !ff.conn_close);
    if (h->body == RT_BODY_CLOSE || h->body == RT_BODY_TUNNEL || st == 101 || faulty)
        h->keep_alive = false;
    h->has_upgrade = ff.conn_upgrade && ff.upgrade_field;
    h->conn_names = ff.conn_other;
    return end;
}

/* ---- header helpers ---- */

const rt_http_hdr *rt_http_find(const rt_http_head *h, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < h->nhdrs; i++) {
        const rt_http_hdr *f = &h->hdrs[i];
        if (f->name.n == n && strncasecmp(f->name.p, name, n) == 0)
            return f;
    }
    return NULL;
}

/* The fixed hop-by-hop set (RFC 9110 section 7.6.1, plus the
 * Proxy-Connection and Proxy-Authorization/-Authenticate fields that only
 * make sense on one hop). */
static bool fixed_hop_by_hop(rt_slice n)
{
    switch (n.n) {
    case 2: return SLICE_CI(n, "te");
    case 7: return SLICE_CI(n, "trailer") || SLICE_CI(n, "upgrade");
    case 10: return SLICE_CI(n, "connection") || SLICE_CI(n, "keep-alive");
    case 16: return SLICE_CI(n, "proxy-connection");
    case 18: return SLICE_CI(n, "proxy-authenticate");
    case 19: return SLICE_CI(n, "proxy-authorization");
    default: return false;
    }
}

bool rt_http_is_hop_by_hop(const rt_http_head *h, rt_slice name)
{
    if (name.n == 0)
        return false;
    if (fixed_hop_by_hop(name))
        return true;
    /* "Connection: Content-Length" (or Transfer-Encoding, or Host) is a
     * known trick to make a proxy strip framing or routing fields and
     * desynchronise the next hop; those names are never dropped. */
    if (SLICE_CI(name, "content-length") || SLICE_CI(name, "transfer-encoding") ||
        SLICE_CI(name, "host"))
        return false;
    if (!h->conn_names)
        return false;
    for (size_t i = 0; i < h->nhdrs; i++) {
        const rt_http_hdr *f = &h->hdrs[i];
        if (SLICE_CI(f->name, "connection") && list_has_slice(f->value, name))
            return true;
    }
    return false;
}

/* ---- errors ---- */

const char *rt_http_err_str(rt_http_err e)
{
    switch (e) {
    case RT_HPE_NONE: return "no error";
    case RT_HPE_REQUEST_LINE: return "malformed request line";
    case RT_HPE_STATUS_LINE: return "malformed status line";
    case RT_HPE_VERSION: return "unsupported HTTP version (only HTTP/1.0 and HTTP/1.1)";
    case RT_HPE_LINE_TOO_LONG: return "request or status line too long";
    case RT_HPE_HEADERS_TOO_LARGE: return "header section too large";
    case RT_HPE_TOO_MANY_HEADERS: return "too many header fields";
    case RT_HPE_HEADER_NAME: return "invalid header field name";
    case RT_HPE_HEADER_SPACE: return "whitespace before colon in a header field";
    case RT_HPE_HEADER_VALUE: return "invalid byte or syntax in a header field value";
    case RT_HPE_OBS_FOLD: return "folded header line (obs-fold) or leading whitespace";
    case RT_HPE_BARE_CR: return "CR not followed by LF";
    case RT_HPE_BARE_LF: return "LF without CR (lines must end in CRLF)";
    case RT_HPE_CL_TE: return "both Content-Length and Transfer-Encoding";
    case RT_HPE_CL_INVALID: return "invalid Content-Length";
    case RT_HPE_CL_CONFLICT: return "conflicting Content-Length values";
    case RT_HPE_TE_UNSUPPORTED: return "unsupported transfer coding";
    case RT_HPE_TE_NOT_CHUNKED_LAST: return "chunked is not the final transfer coding exactly once";
    case RT_HPE_HOST: return "missing or repeated Host header field";
    case RT_HPE_TARGET: return "request-target invalid for the method";
    case RT_HPE_TE_HTTP10: return "Transfer-Encoding in an HTTP/1.0 request";
    }
    return "unknown parser error";
}

int rt_http_err_status(rt_http_err e)
{
    switch (e) {
    case RT_HPE_LINE_TOO_LONG: return 414;
    case RT_HPE_HEADERS_TOO_LARGE: case RT_HPE_TOO_MANY_HEADERS: return 431;
    case RT_HPE_TE_UNSUPPORTED: return 501;
    default: return 400;
    }
}
