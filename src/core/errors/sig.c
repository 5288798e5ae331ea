/* Signature sets: the stanza parser, pattern compilation and the matcher.
 * The format is described at the top of src/core/errors/signatures.txt. */
#include "core/errors/sig.h"

#include <ctype.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RE_FLAGS (REG_EXTENDED | REG_ICASE | REG_NOSUB)

enum { PH_ANY = 0, PH_CONNECT, PH_RESPONSE };

typedef struct sig_hdr {
    char name[64];   /* lowercased */
    uint32_t hash;   /* of the lowercased name */
    bool negate;     /* header-not */
    bool has_re;     /* false: presence is enough */
    regex_t re;
    char text[RT_SIG_TEXT_MAX + 1];
} sig_hdr;

typedef struct sig_body {
    int anchor;      /* index into the set's anchor table */
    bool is_re;
    regex_t re;
    char text[RT_SIG_TEXT_MAX + 1];
} sig_body;

typedef struct sig {
    char id[RT_SIG_ID_MAX];
    rt_sig_layer layer;
    rt_code code;         /* RT_E__COUNT: identity */
    rt_code code_proxy;
    int phase;
    bool match_any;
    int nst;
    uint16_t st_lo[RT_SIG_MAX_STATUS], st_hi[RT_SIG_MAX_STATUS];
    char host[128];       /* lowercased suffix, "" for any */
    bool has_reason;
    regex_t reason;
    char reason_text[RT_SIG_TEXT_MAX + 1];
    int nhdr;
    sig_hdr hdr[RT_SIG_MAX_HDR];
    int nbody;
    sig_body body[RT_SIG_MAX_BODY];
    /* parse bookkeeping */
    int line;
    bool seen_layer, seen_code, seen_code_proxy, seen_source, seen_status,
        seen_phase, seen_match, seen_vendor, seen_host;
} sig;

typedef struct anchor {
    char *text;  /* lowercased */
    size_t len;
} anchor;

struct rt_sigset {
    sig *v[RT_SIG_MAX]; /* match order */
    size_t n;
    anchor anchors[RT_SIG_ANCHOR_MAX];
    size_t nanchors;
};

/* ==== small helpers ==== */

static uint32_t name_hash(const char *p, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a over the lowercased name */
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)tolower((unsigned char)p[i]);
        h *= 16777619u;
    }
    return h;
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void sig_free(sig *g)
{
    if (!g)
        return;
    if (g->has_reason)
        regfree(&g->reason);
    for (int i = 0; i < g->nhdr; i++)
        if (g->hdr[i].has_re)
            regfree(&g->hdr[i].re);
    for (int i = 0; i < g->nbody; i++)
        if (g->body[i].is_re)
            regfree(&g->body[i].re);
    free(g);
}

rt_sigset *rt_sigset_new(void) { return calloc(1, sizeof(rt_sigset)); }

void rt_sigset_free(rt_sigset *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        sig_free(s->v[i]);
    for (size_t i = 0; i < s->nanchors; i++)
        free(s->anchors[i].text);
    free(s);
}

size_t rt_sigset_count(const rt_sigset *s) { return s ? s->n : 0; }

const char *rt_sigset_id(const rt_sigset *s, size_t i)
{
    return s && i < s->n ? s->v[i]->id : NULL;
}

/* ==== anchors ==== */

/* Index of the closing ']' of the bracket expression opening at re[i]. POSIX
 * puts a leading ']' (after an optional '^') inside the set and allows
 * [:class:], [=x=] and [.x.] items that contain ']'. */
static size_t skip_bracket(const char *re, size_t i)
{
    size_t j = i + 1;
    if (re[j] == '^')
        j++;
    if (re[j] == ']')
        j++;
    while (re[j] && re[j] != ']') {
        if (re[j] == '[' && (re[j + 1] == ':' || re[j + 1] == '=' || re[j + 1] == '.')) {
            char d = re[j + 1];
            j += 2;
            while (re[j] && !(re[j] == d && re[j + 1] == ']'))
                j++;
            if (re[j])
                j += 2;
            continue;
        }
        j++;
    }
    return re[j] ? j : j - 1;
}

/* The longest literal run every match of the ERE must contain, lowercased
 * into out (cap bytes). Text inside groups and bracket sets is not used;
 * an atom made optional by '?', '*' or '{' leaves the run. Returns the run
 * length, 0 when there is none or the pattern alternates at top level. */
static size_t re_anchor(const char *re, char *out, size_t cap)
{
    char cur[RT_SIG_TEXT_MAX + 1];
    size_t curn = 0, best = 0;
    int depth = 0;
#define FLUSH()                                                      \
    do {                                                             \
        if (curn > best && curn < cap) {                             \
            memcpy(out, cur, curn);                                  \
            out[curn] = '\0';                                        \
            best = curn;                                             \
        }                                                            \
        curn = 0;                                                    \
    } while (0)
    for (size_t i = 0; re[i]; i++) {
        char c = re[i];
        if (depth > 0) {
            if (c == '\\' && re[i + 1])
                i++;
            else if (c == '[')
                i = skip_bracket(re, i);
            else if (c == '(')
                depth++;
            else if (c == ')')
                depth--;
            continue;
        }
        switch (c) {
        case '|':
            return 0;
        case '(':
            FLUSH();
            depth++;
            break;
        case '[':
            FLUSH();
            i = skip_bracket(re, i);
            break;
        case '.': case '^': case '$': case ')':
            FLUSH();
            break;
        case '*': case '?': case '{':
            if (curn > 0)
                curn--;
            FLUSH();
            if (c == '{')
                while (re[i + 1] && re[i] != '}')
                    i++;
            break;
        case '+':
            FLUSH();
            break;
        case '\\':
            if (!re[i + 1])
                break;
            i++;
            if (isalnum((unsigned char)re[i]))
                FLUSH(); /* \s, \w, \b ...: a class or assertion, not a byte */
            else if (curn < sizeof cur - 1)
                cur[curn++] = (char)tolower((unsigned char)re[i]);
            break;
        default:
            if (curn < sizeof cur - 1)
                cur[curn++] = (char)tolower((unsigned char)c);
            break;
        }
    }
    FLUSH();
#undef FLUSH
    return best;
}

/* Index of an anchor equal to text (already lowercased), adding it to the
 * set; -1 when the table is full or memory runs out. */
static int anchor_intern(rt_sigset *s, const char *text, size_t len)
{
    for (size_t i = 0; i < s->nanchors; i++)
        if (s->anchors[i].len == len && memcmp(s->anchors[i].text, text, len) == 0)
            return (int)i;
    if (s->nanchors >= RT_SIG_ANCHOR_MAX)
        return -1;
    char *p = malloc(len + 1);
    if (!p)
        return -1;
    memcpy(p, text, len);
    p[len] = '\0';
    s->anchors[s->nanchors].text = p;
    s->anchors[s->nanchors].len = len;
    return (int)s->nanchors++;
}

/* ==== parser ==== */

typedef struct parser {
    rt_sigset *s;
    const char *name;
    char *err;
    size_t errlen;
    int line;
    sig *fresh[RT_SIG_MAX]; /* entries of this load, file order */
    size_t nfresh;
    size_t anchors_before;  /* to roll the anchor table back on failure */
} parser;

static int perr(parser *p, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(parser *p, int line, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    seterr(p->err, p->errlen, "%s:%d: %s", p->name, line, msg);
    return -1;
}

/* glibc builds an automaton whose size grows with stacked and repeated
 * quantifiers ("a***+++..." took over 2 GB, found by fuzz_signatures).
 * A signature needs few: refuse a quantifier right after another and more
 * than RT_SIG_QUANT_MAX in one pattern. Escaped characters and bracket
 * expressions are literals. Returns NULL or the reason. */
static const char *pattern_too_complex(const char *t)
{
    unsigned quants = 0;
    bool prev_quant = false;
    for (size_t i = 0; t[i]; i++) {
        char ch = t[i];
        if (ch == '\\' && t[i + 1]) {
            i++;
            prev_quant = false;
            continue;
        }
        if (ch == '[') {
            size_t j = i + 1;
            if (t[j] == '^')
                j++;
            if (t[j] == ']')
                j++;
            while (t[j] && t[j] != ']')
                j++;
            i = t[j] ? j : i;
            prev_quant = false;
            continue;
        }
        bool q = ch == '*' || ch == '+' || ch == '?' || ch == '{';
        if (q && prev_quant)
            return "a quantifier follows another";
        if (q && ++quants > RT_SIG_QUANT_MAX)
            return "too many quantifiers";
        if (ch == '{')
            while (t[i + 1] && t[i] != '}')
                i++;
        prev_quant = q;
    }
    return NULL;
}

static int compile(parser *p, regex_t *re, const char *text, const char *what)
{
    const char *why = pattern_too_complex(text);
    if (why)
        return perr(p, p->line, "%s regex '%s' is too complex for a signature: %s (at most %d quantifiers, none "
                                "stacked)", what, text, why, RT_SIG_QUANT_MAX);
    int rc = regcomp(re, text, RE_FLAGS);
    if (rc != 0) {
        char buf[128];
        regerror(rc, re, buf, sizeof buf);
        regfree(re);
        return perr(p, p->line, "bad %s regex '%s': %s", what, text, buf);
    }
    return 0;
}

static bool id_ok(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n >= RT_SIG_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (!(islower(c) || isdigit(c) || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static bool id_taken(const parser *p, const char *id)
{
    for (size_t i = 0; i < p->s->n; i++)
        if (strcmp(p->s->v[i]->id, id) == 0)
            return true;
    for (size_t i = 0; i < p->nfresh; i++)
        if (strcmp(p->fresh[i]->id, id) == 0)
            return true;
    return false;
}

static int parse_code(parser *p, const char *v, rt_code *out, bool allow_identity)
{
    if (allow_identity && strcmp(v, "-") == 0) {
        *out = RT_E__COUNT;
        return 0;
    }
    rt_code c = rt_code_by_name(v, strlen(v));
    if (c == RT_E__COUNT)
        return perr(p, p->line, "unknown code '%s' (see docs/errors.md)", v);
    *out = c;
    return 0;
}

static int parse_status(parser *p, sig *g, char *v)
{
    for (char *save = NULL, *tok = strtok_r(v, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        if (strcmp(tok, "any") == 0)
            continue;
        char *end;
        long lo = strtol(tok, &end, 10), hi = lo;
        if (*end == '-')
            hi = strtol(end + 1, &end, 10);
        if (*end != '\0' || lo < 100 || hi > 999 || lo > hi)
            return perr(p, p->line, "bad status '%s' (want N or N-M, 100..999)", tok);
        if (g->nst >= RT_SIG_MAX_STATUS)
            return perr(p, p->line, "more than %d status values", RT_SIG_MAX_STATUS);
        g->st_lo[g->nst] = (uint16_t)lo;
        g->st_hi[g->nst] = (uint16_t)hi;
        g->nst++;
    }
    return 0;
}

static int add_header(parser *p, sig *g, char *v, bool negate)
{
    if (g->nhdr >= RT_SIG_MAX_HDR)
        return perr(p, p->line, "more than %d header lines", RT_SIG_MAX_HDR);
    size_t nl = strcspn(v, " \t");
    if (nl == 0 || nl >= sizeof g->hdr[0].name)
        return perr(p, p->line, "header needs a name (at most 63 bytes)");
    sig_hdr *h = &g->hdr[g->nhdr];
    for (size_t i = 0; i < nl; i++) {
        unsigned char c = (unsigned char)v[i];
        if (!(isalnum(c) || strchr("!#$%&'*+-.^_`|~", c)))
            return perr(p, p->line, "bad header name '%.*s'", (int)nl, v);
        h->name[i] = (char)tolower(c);
    }
    h->name[nl] = '\0';
    h->hash = name_hash(h->name, nl);
    h->negate = negate;
    const char *re = v + nl;
    while (*re == ' ' || *re == '\t')
        re++;
    if (strlen(re) > RT_SIG_TEXT_MAX)
        return perr(p, p->line, "pattern longer than %d bytes", RT_SIG_TEXT_MAX);
    strcpy(h->text, re);
    h->has_re = false;
    if (*re) {
        if (compile(p, &h->re, re, "header") != 0)
            return -1;
        h->has_re = true;
    } else if (negate) {
        return perr(p, p->line, "header-not needs a regex");
    }
    g->nhdr++;
    return 0;
}

static int add_body(parser *p, sig *g, const char *v, bool is_re)
{
    if (g->nbody >= RT_SIG_MAX_BODY)
        return perr(p, p->line, "more than %d body lines", RT_SIG_MAX_BODY);
    size_t n = strlen(v);
    if (n > RT_SIG_TEXT_MAX)
        return perr(p, p->line, "pattern longer than %d bytes", RT_SIG_TEXT_MAX);
    sig_body *b = &g->body[g->nbody];
    char anc[RT_SIG_TEXT_MAX + 1];
    size_t alen;
    if (is_re) {
        alen = re_anchor(v, anc, sizeof anc);
        if (alen < RT_SIG_ANCHOR_MIN)
            return perr(p, p->line,
                        "body-re needs a literal run of %d+ characters outside groups "
                        "and no top-level '|' (split alternatives into several lines)",
                        RT_SIG_ANCHOR_MIN);
    } else {
        if (n < RT_SIG_ANCHOR_MIN)
            return perr(p, p->line, "body text shorter than %d characters", RT_SIG_ANCHOR_MIN);
        for (size_t i = 0; i < n; i++)
            anc[i] = (char)tolower((unsigned char)v[i]);
        anc[n] = '\0';
        alen = n;
    }
    int a = anchor_intern(p->s, anc, alen);
    if (a < 0)
        return perr(p, p->line, "too many distinct body patterns (limit %d)", RT_SIG_ANCHOR_MAX);
    b->anchor = a;
    b->is_re = is_re;
    strcpy(b->text, v);
    if (is_re && compile(p, &b->re, v, "body") != 0)
        return -1;
    g->nbody++;
    return 0;
}

/* Checks a finished stanza and moves it to the fresh list. */
static int finish(parser *p, sig *g)
{
    if (!g->seen_layer)
        return perr(p, g->line, "sig %s: missing 'layer'", g->id);
    if (!g->seen_code)
        return perr(p, g->line, "sig %s: missing 'code' (use '-' for identity)", g->id);
    if (!g->seen_source)
        return perr(p, g->line, "sig %s: missing 'source'", g->id);
    if (g->code == RT_E__COUNT && g->layer != RT_SIG_LAYER_PROXY)
        return perr(p, g->line, "sig %s: identity entries ('code -') must be layer proxy", g->id);
    if (g->seen_code_proxy && g->layer != RT_SIG_LAYER_EITHER)
        return perr(p, g->line, "sig %s: 'code-proxy' only applies to layer either", g->id);
    if (g->layer == RT_SIG_LAYER_EITHER && !g->seen_code_proxy)
        g->code_proxy = RT_E_proxy_error;
    int nconds = g->nbody + (g->has_reason ? 1 : 0);
    for (int i = 0; i < g->nhdr; i++)
        nconds += g->hdr[i].negate ? 0 : 1;
    if (nconds == 0 && g->nst == 0)
        return perr(p, g->line, "sig %s: no condition (status, reason, header or body)", g->id);
    if (g->match_any && nconds == 0)
        return perr(p, g->line, "sig %s: 'match any' needs a reason, header or body line", g->id);
    if (p->nfresh + p->s->n >= RT_SIG_MAX)
        return perr(p, g->line, "more than %d signatures", RT_SIG_MAX);
    p->fresh[p->nfresh++] = g;
    return 0;
}

static int once(parser *p, bool *seen, const char *key)
{
    if (*seen)
        return perr(p, p->line, "duplicate '%s'", key);
    *seen = true;
    return 0;
}

static int handle(parser *p, sig **cur, char *key, char *val)
{
    if (strcmp(key, "sig") == 0) {
        if (*cur) {
            int rc = finish(p, *cur);
            if (rc != 0)
                return rc; /* *cur is freed by the caller */
            *cur = NULL;
        }
        if (!id_ok(val))
            return perr(p, p->line, "bad sig id '%s' (want [a-z0-9._-], < %d chars)", val, RT_SIG_ID_MAX);
        if (id_taken(p, val))
            return perr(p, p->line, "duplicate sig id '%s'", val);
        sig *g = calloc(1, sizeof *g);
        if (!g)
            return perr(p, p->line, "out of memory");
        strcpy(g->id, val);
        g->line = p->line;
        g->code = RT_E__COUNT;
        g->code_proxy = RT_E__COUNT;
        *cur = g;
        return 0;
    }
    sig *g = *cur;
    if (!g)
        return perr(p, p->line, "'%s' outside a sig stanza", key);
    if (*val == '\0')
        return perr(p, p->line, "'%s' needs a value", key);
    if (strcmp(key, "vendor") == 0)
        return once(p, &g->seen_vendor, key);
    if (strcmp(key, "meaning") == 0 || strcmp(key, "note") == 0)
        return 0;
    if (strcmp(key, "source") == 0) {
        g->seen_source = true; /* several source lines are fine */
        return 0;
    }
    if (strcmp(key, "layer") == 0) {
        if (once(p, &g->seen_layer, key))
            return -1;
        if (strcmp(val, "proxy") == 0)
            g->layer = RT_SIG_LAYER_PROXY;
        else if (strcmp(val, "target") == 0)
            g->layer = RT_SIG_LAYER_TARGET;
        else if (strcmp(val, "either") == 0)
            g->layer = RT_SIG_LAYER_EITHER;
        else
            return perr(p, p->line, "bad layer '%s' (proxy, target or either)", val);
        return 0;
    }
    if (strcmp(key, "code") == 0)
        return once(p, &g->seen_code, key) ? -1 : parse_code(p, val, &g->code, true);
    if (strcmp(key, "code-proxy") == 0)
        return once(p, &g->seen_code_proxy, key) ? -1 : parse_code(p, val, &g->code_proxy, false);
    if (strcmp(key, "status") == 0)
        return once(p, &g->seen_status, key) ? -1 : parse_status(p, g, val);
    if (strcmp(key, "phase") == 0) {
        if (once(p, &g->seen_phase, key))
            return -1;
        if (strcmp(val, "connect") == 0)
            g->phase = PH_CONNECT;
        else if (strcmp(val, "response") == 0)
            g->phase = PH_RESPONSE;
        else if (strcmp(val, "any") == 0)
            g->phase = PH_ANY;
        else
            return perr(p, p->line, "bad phase '%s' (connect, response or any)", val);
        return 0;
    }
    if (strcmp(key, "match") == 0) {
        if (once(p, &g->seen_match, key))
            return -1;
        if (strcmp(val, "any") == 0)
            g->match_any = true;
        else if (strcmp(val, "all") != 0)
            return perr(p, p->line, "bad match '%s' (all or any)", val);
        return 0;
    }
    if (strcmp(key, "host") == 0) {
        if (once(p, &g->seen_host, key))
            return -1;
        size_t n = strlen(val);
        if (n >= sizeof g->host)
            return perr(p, p->line, "host suffix too long");
        for (size_t i = 0; i <= n; i++)
            g->host[i] = (char)tolower((unsigned char)val[i]);
        return 0;
    }
    if (strcmp(key, "reason") == 0) {
        if (g->has_reason)
            return perr(p, p->line, "duplicate 'reason'");
        if (strlen(val) > RT_SIG_TEXT_MAX)
            return perr(p, p->line, "pattern longer than %d bytes", RT_SIG_TEXT_MAX);
        if (compile(p, &g->reason, val, "reason") != 0)
            return -1;
        strcpy(g->reason_text, val);
        g->has_reason = true;
        return 0;
    }
    if (strcmp(key, "header") == 0)
        return add_header(p, g, val, false);
    if (strcmp(key, "header-not") == 0)
        return add_header(p, g, val, true);
    if (strcmp(key, "body") == 0)
        return add_body(p, g, val, false);
    if (strcmp(key, "body-re") == 0)
        return add_body(p, g, val, true);
    return perr(p, p->line, "unknown key '%s'", key);
}

static void rollback(parser *p, sig *cur)
{
    sig_free(cur);
    for (size_t i = 0; i < p->nfresh; i++)
        sig_free(p->fresh[i]);
    p->nfresh = 0;
    for (size_t i = p->anchors_before; i < p->s->nanchors; i++)
        free(p->s->anchors[i].text);
    p->s->nanchors = p->anchors_before;
}

int rt_sig_load_text(rt_sigset *s, const char *text, size_t len, const char *name,
                     char *err, size_t errlen)
{
    if (!s || (!text && len > 0)) {
        seterr(err, errlen, "%s: no set or no text", name ? name : "?");
        return -1;
    }
    parser *p = calloc(1, sizeof *p);
    if (!p) {
        seterr(err, errlen, "%s: out of memory", name ? name : "?");
        return -1;
    }
    p->s = s;
    p->name = name ? name : "signatures";
    p->err = err;
    p->errlen = errlen;
    p->anchors_before = s->nanchors;
    sig *cur = NULL;
    size_t off = 0;
    int rc = 0;
    while (off < len && rc == 0) {
        p->line++;
        const char *nl = memchr(text + off, '\n', len - off);
        size_t ll = nl ? (size_t)(nl - (text + off)) : len - off;
        const char *lp = text + off;
        off += ll + (nl ? 1 : 0);
        if (ll > 0 && lp[ll - 1] == '\r')
            ll--;
        if (ll >= RT_SIG_LINE_MAX) {
            rc = perr(p, p->line, "line longer than %d bytes", RT_SIG_LINE_MAX - 1);
            break;
        }
        char buf[RT_SIG_LINE_MAX];
        memcpy(buf, lp, ll);
        buf[ll] = '\0';
        if (memchr(buf, '\0', ll)) {
            rc = perr(p, p->line, "NUL byte in line");
            break;
        }
        bool ctl = false;
        for (size_t i = 0; i < ll; i++)
            if ((unsigned char)buf[i] < 0x20 && buf[i] != '\t')
                ctl = true;
        if (ctl) {
            rc = perr(p, p->line, "control character in line");
            break;
        }
        char *k = buf;
        while (*k == ' ' || *k == '\t')
            k++;
        char *e = k + strlen(k);
        while (e > k && (e[-1] == ' ' || e[-1] == '\t'))
            *--e = '\0';
        if (*k == '\0' || *k == '#')
            continue;
        char *v = k + strcspn(k, " \t");
        if (*v) {
            *v++ = '\0';
            while (*v == ' ' || *v == '\t')
                v++;
        }
        rc = handle(p, &cur, k, v);
    }
    if (rc == 0 && cur) {
        rc = finish(p, cur);
        if (rc == 0)
            cur = NULL;
    }
    if (rc == 0 && p->nfresh == 0) {
        rc = perr(p, p->line, "no signatures found");
    }
    if (rc != 0) {
        rollback(p, cur);
        free(p);
        return -1;
    }
    /* Commit: the new entries go in front, keeping their file order. */
    memmove(&s->v[p->nfresh], &s->v[0], s->n * sizeof s->v[0]);
    memcpy(&s->v[0], p->fresh, p->nfresh * sizeof s->v[0]);
    s->n += p->nfresh;
    free(p);
    return 0;
}

int rt_sigset_add_builtin(rt_sigset *s, char *err, size_t errlen)
{
    return rt_sig_load_text(s, rt_sig_builtin_text, rt_sig_builtin_len, "builtin:signatures.txt",
                            err, errlen);
}

/* ==== matcher ==== */

typedef struct scan {
    const rt_sigset *s;
    const rt_sig_ctx *ctx;
    uint32_t hh[64];        /* name hashes of the first 64 response headers */
    size_t nh;
    bool lc_ready;
    size_t n;               /* body bytes used */
    uint8_t state[RT_SIG_ANCHOR_MAX]; /* 0 unknown, 1 absent, 2 present */
    uint32_t pos[RT_SIG_ANCHOR_MAX];  /* first occurrence when present */
    char lc[RT_SIG_BODY_MAX + 1]; /* + 1: room to terminate a regex window */
} scan;

static bool status_ok(const sig *g, int status)
{
    if (g->nst == 0)
        return status < 200 || status > 299; /* 2xx only when named */
    for (int i = 0; i < g->nst; i++)
        if (status >= g->st_lo[i] && status <= g->st_hi[i])
            return true;
    return false;
}

static bool host_ok(const sig *g, rt_slice host)
{
    if (!g->host[0])
        return true;
    size_t n = strlen(g->host);
    if (host.n < n || strncasecmp(host.p + host.n - n, g->host, n) != 0)
        return false;
    return host.n == n || host.p[host.n - n - 1] == '.';
}

/* Match a regex against a slice. regexec() wants a NUL-terminated string
 * (REG_STARTEND exists in glibc, but sanitizer interceptors still read up
 * to a NUL), so the value is copied; only its first RT_SIG_VALUE_MAX bytes
 * are matched. */
static bool re_slice(const regex_t *re, rt_slice v)
{
    char buf[RT_SIG_VALUE_MAX + 1];
    size_t n = v.n < RT_SIG_VALUE_MAX ? v.n : RT_SIG_VALUE_MAX;
    if (n)
        memcpy(buf, v.p, n);
    buf[n] = '\0';
    return regexec(re, buf, 0, NULL, 0) == 0;
}

static void put_what(char *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put_what(char *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w, RT_SIG_WHAT_MAX, fmt, ap);
    va_end(ap);
    for (char *q = w; *q; q++) /* keep evidence printable ASCII */
        if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f)
            *q = '?';
}

/* Does header condition h hold? For header-not: does any value match (a veto).
 * On a positive match the header is described in what (if non-NULL). */
static bool hdr_match(const scan *sc, const sig_hdr *h, char *what)
{
    const rt_sig_ctx *c = sc->ctx;
    size_t nl = strlen(h->name);
    for (size_t i = 0; i < c->nhdrs; i++) {
        const rt_http_hdr *x = &c->hdrs[i];
        if (i < sc->nh && sc->hh[i] != h->hash)
            continue;
        if (x->name.n != nl || strncasecmp(x->name.p, h->name, nl) != 0)
            continue;
        if (h->has_re && !re_slice(&h->re, x->value))
            continue;
        if (what)
            put_what(what, "header " RT_SLICE_FMT ": %.*s", RT_SLICE_ARG(x->name),
                     (int)(x->value.n > 64 ? 64 : x->value.n), x->value.p ? x->value.p : "");
        return true;
    }
    return false;
}

static void lc_prepare(scan *sc)
{
    if (sc->lc_ready)
        return;
    const char *b = sc->ctx->body.p;
    for (size_t i = 0; i < sc->n; i++) {
        unsigned char ch = (unsigned char)b[i];
        sc->lc[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch | 0x20 : ch);
    }
    sc->lc_ready = true;
}

static bool anchor_present(scan *sc, int a)
{
    if (sc->state[a] == 0) {
        lc_prepare(sc);
        const anchor *an = &sc->s->anchors[a];
        const char *hit = memmem(sc->lc, sc->n, an->text, an->len);
        sc->state[a] = hit ? 2 : 1;
        sc->pos[a] = hit ? (uint32_t)(hit - sc->lc) : 0;
    }
    return sc->state[a] == 2;
}

/* A regex body pattern: run it around each occurrence of its anchor (the
 * first few), since every match must contain the anchor. */
static bool body_re_match(scan *sc, const sig_body *b)
{
    const anchor *an = &sc->s->anchors[b->anchor];
    size_t at = sc->pos[b->anchor];
    for (int tries = 0; tries < 4; tries++) {
        size_t lo = at > RT_SIG_RE_BEFORE ? at - RT_SIG_RE_BEFORE : 0;
        size_t hi = at + RT_SIG_RE_AFTER < sc->n ? at + RT_SIG_RE_AFTER : sc->n;
        /* lc is our own copy with a spare byte: terminate the window in place. */
        char saved = sc->lc[hi];
        sc->lc[hi] = '\0';
        bool m = regexec(&b->re, sc->lc + lo, 0, NULL, 0) == 0;
        sc->lc[hi] = saved;
        if (m)
            return true;
        if (at + 1 >= sc->n)
            break;
        const char *nx = memmem(sc->lc + at + 1, sc->n - at - 1, an->text, an->len);
        if (!nx)
            break;
        at = (size_t)(nx - sc->lc);
    }
    return false;
}

static bool body_match(scan *sc, const sig *g, char *what)
{
    if (!sc->ctx->sniff_body || sc->n == 0)
        return false;
    for (int i = 0; i < g->nbody; i++) {
        const sig_body *b = &g->body[i];
        if (!anchor_present(sc, b->anchor))
            continue;
        if (b->is_re && !body_re_match(sc, b))
            continue;
        if (what)
            put_what(what, b->is_re ? "body ~\"%.90s\"" : "body \"%.90s\"", b->text);
        return true;
    }
    return false;
}

static bool reason_match(const sig *g, rt_slice reason, char *what)
{
    if (!re_slice(&g->reason, reason))
        return false;
    if (what)
        put_what(what, "reason \"%.*s\"", (int)(reason.n > 80 ? 80 : reason.n),
                 reason.p ? reason.p : "");
    return true;
}

/* Evaluates one entry; fills what with the first decisive element. */
static bool sig_eval(scan *sc, const sig *g, char *what)
{
    const rt_sig_ctx *c = sc->ctx;
    if (g->phase == PH_CONNECT && !c->connect_reply)
        return false;
    if (g->phase == PH_RESPONSE && c->connect_reply)
        return false;
    if (!status_ok(g, c->status) || !host_ok(g, c->host))
        return false;
    for (int i = 0; i < g->nhdr; i++)
        if (g->hdr[i].negate && hdr_match(sc, &g->hdr[i], NULL))
            return false;
    what[0] = '\0';
    if (g->match_any) {
        if (g->has_reason && reason_match(g, c->reason, what))
            return true;
        for (int i = 0; i < g->nhdr; i++)
            if (!g->hdr[i].negate && hdr_match(sc, &g->hdr[i], what))
                return true;
        return body_match(sc, g, what);
    }
    char first[RT_SIG_WHAT_MAX] = "";
    if (g->has_reason && !reason_match(g, c->reason, first))
        return false;
    for (int i = 0; i < g->nhdr; i++) {
        if (g->hdr[i].negate)
            continue;
        if (!hdr_match(sc, &g->hdr[i], first[0] ? NULL : first))
            return false;
    }
    if (g->nbody > 0 && !body_match(sc, g, first[0] ? NULL : first))
        return false;
    if (!first[0])
        put_what(first, "status %d", c->status);
    memcpy(what, first, RT_SIG_WHAT_MAX);
    return true;
}

static void hit_fill(rt_sig_hit *h, const sig *g, const char *what)
{
    memcpy(h->id, g->id, RT_SIG_ID_MAX);
    h->layer = g->layer;
    h->code = g->code;
    h->code_proxy = g->code_proxy;
    memcpy(h->what, what, RT_SIG_WHAT_MAX);
}

void rt_sig_match(const rt_sigset *s, const rt_sig_ctx *ctx, rt_sig_result *out)
{
    memset(out, 0, sizeof *out);
    if (!s || s->n == 0)
        return;
    /* About 21 KiB of stack: the lowercased body copy and anchor states. */
    scan scan_storage;
    scan *sc = &scan_storage;
    sc->s = s;
    sc->ctx = ctx;
    sc->lc_ready = false;
    sc->n = ctx->body.p ? (ctx->body.n < RT_SIG_BODY_MAX ? ctx->body.n : RT_SIG_BODY_MAX) : 0;
    memset(sc->state, 0, s->nanchors);
    sc->nh = ctx->nhdrs < 64 ? ctx->nhdrs : 64;
    for (size_t i = 0; i < sc->nh; i++)
        sc->hh[i] = name_hash(ctx->hdrs[i].name.p ? ctx->hdrs[i].name.p : "", ctx->hdrs[i].name.n);
    char what[RT_SIG_WHAT_MAX];

    /* Pass 1: who generated the page (proxy identity entries). */
    if (ctx->via_proxy) {
        for (size_t i = 0; i < s->n && !out->proxy_generated; i++) {
            const sig *g = s->v[i];
            if (g->code != RT_E__COUNT || !sig_eval(sc, g, what))
                continue;
            out->proxy_generated = true;
            hit_fill(&out->mark, g, what);
        }
    }
    /* Pass 2: what it means; the first decisive entry wins. */
    for (size_t i = 0; i < s->n; i++) {
        const sig *g = s->v[i];
        if (g->code == RT_E__COUNT)
            continue;
        if (g->layer == RT_SIG_LAYER_PROXY && !ctx->via_proxy)
            continue;
        if (g->layer == RT_SIG_LAYER_TARGET && (ctx->connect_reply || out->proxy_generated))
            continue;
        if (g->layer == RT_SIG_LAYER_EITHER && out->have_either)
            continue;
        if (!sig_eval(sc, g, what))
            continue;
        if (g->layer == RT_SIG_LAYER_EITHER) {
            out->have_either = true;
            hit_fill(&out->either, g, what);
            continue;
        }
        out->have_decisive = true;
        hit_fill(&out->decisive, g, what);
        if (g->layer == RT_SIG_LAYER_PROXY)
            out->proxy_generated = true;
        break;
    }
}
