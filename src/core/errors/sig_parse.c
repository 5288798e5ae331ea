/* Signature sets: the stanza parser of the text format (described at the
 * top of src/core/errors/signatures.txt). Loading is all or nothing: a
 * failed load leaves the set as it was. */
#include "core/errors/sig_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/fail.h"

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
    return rt_fail(p->err, p->errlen, "%s:%d: %s", p->name, line, msg);
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
    h->hash = rt_sig_name_hash(h->name, nl);
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
        alen = rt_sig_re_anchor(v, anc, sizeof anc);
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
    int a = rt_sig_anchor_intern(p->s, anc, alen);
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
    rt_sig_entry_free(cur);
    for (size_t i = 0; i < p->nfresh; i++)
        rt_sig_entry_free(p->fresh[i]);
    p->nfresh = 0;
    for (size_t i = p->anchors_before; i < p->s->nanchors; i++)
        free(p->s->anchors[i].text);
    p->s->nanchors = p->anchors_before;
}

int rt_sig_load_text(rt_sigset *s, const char *text, size_t len, const char *name,
                     char *err, size_t errlen)
{
    if (!s || (!text && len > 0)) {
        return rt_fail(err, errlen, "%s: no set or no text", name ? name : "?");
    }
    parser *p = calloc(1, sizeof *p);
    if (!p) {
        return rt_fail(err, errlen, "%s: out of memory", name ? name : "?");
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
    rt_sig_index_2xx(s);
    free(p);
    return 0;
}

int rt_sigset_add_builtin(rt_sigset *s, char *err, size_t errlen)
{
    return rt_sig_load_text(s, rt_sig_builtin_text, rt_sig_builtin_len, "builtin:signatures.txt",
                            err, errlen);
}

