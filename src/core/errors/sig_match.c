/* Signature sets: the matcher. Runs a loaded set over one response with
 * bounded cost (header checks first, body patterns gated by anchors); see
 * sig.h for the order in which entries are tried. */
#include "core/errors/sig_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

typedef struct scan {
    const rt_sigset *s;
    const rt_sig_ctx *ctx;
    uint32_t hh[64];        /* name hashes of the first 64 response headers */
    size_t nh;
    bool hh_ready;          /* hashed on the first header check */
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
static void hh_prepare(scan *sc)
{
    if (sc->hh_ready)
        return;
    const rt_sig_ctx *c = sc->ctx;
    sc->nh = c->nhdrs < 64 ? c->nhdrs : 64;
    for (size_t i = 0; i < sc->nh; i++)
        sc->hh[i] = rt_sig_name_hash(c->hdrs[i].name.p ? c->hdrs[i].name.p : "", c->hdrs[i].name.n);
    sc->hh_ready = true;
}

static bool hdr_match(scan *sc, const sig_hdr *h, char *what)
{
    const rt_sig_ctx *c = sc->ctx;
    hh_prepare(sc);
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

static inline unsigned char lower(unsigned char c)
{
    return (unsigned char)(c >= 'A' && c <= 'Z' ? c | 0x20 : c);
}

static void lc_prepare(scan *sc)
{
    if (sc->lc_ready)
        return;
    const char *b = sc->ctx->body.p;
    for (size_t i = 0; i < sc->n; i++)
        sc->lc[i] = (char)lower((unsigned char)b[i]);
    sc->lc_ready = true;
}

/* Does the anchor (m bytes, lowercased) start at h? */
static bool anchor_at(const unsigned char *h, const unsigned char *t, size_t m)
{
    for (size_t k = 0; k < m; k++)
        if (lower(h[k]) != t[k])
            return false;
    return true;
}

typedef uint8_t v16 __attribute__((vector_size(16)));

static v16 v16_splat(unsigned char c)
{
    v16 v;
    memset(&v, c, sizeof v);
    return v;
}

/* 16 candidate positions at a time: those whose first and last bytes
 * match the anchor's (letters of either case) are checked in full. The
 * compiler turns the vector operations into SSE2 or NEON. Returns the
 * first hit, or -1 with *next the first position not yet examined. */
static long anchor_find_wide(const unsigned char *h, size_t from, size_t n, const unsigned char *t, size_t m,
                             size_t *next)
{
    unsigned char f = t[0], l = t[m - 1];
    v16 F = v16_splat(f), L = v16_splat(l);
    v16 fold_f = v16_splat(f >= 'a' && f <= 'z' ? 0x20 : 0), fold_l = v16_splat(l >= 'a' && l <= 'z' ? 0x20 : 0);
    size_t i = from;
    for (; i + 16 + m - 1 <= n; i += 16) {
        v16 a, z;
        memcpy(&a, h + i, sizeof a);
        memcpy(&z, h + i + m - 1, sizeof z);
        v16 eq = (v16)((a | fold_f) == F) & (v16)((z | fold_l) == L);
#ifdef __SSE2__
        unsigned bits = (unsigned)_mm_movemask_epi8((__m128i)eq);
#else
        unsigned bits = 0;
        for (unsigned k = 0; k < 16; k++)
            bits |= (unsigned)(eq[k] & 1) << k;
#endif
        for (; bits; bits &= bits - 1) {
            size_t k = (size_t)__builtin_ctz(bits);
            if (anchor_at(h + i + k + 1, t + 1, m - 2))
                return (long)(i + k);
        }
    }
    *next = i;
    return -1;
}

/* First case-blind occurrence of the anchor in b[from..n), or -1. */
static long anchor_find(const anchor *an, const char *b, size_t from, size_t n)
{
    size_t m = an->len;
    const unsigned char *h = (const unsigned char *)b, *t = (const unsigned char *)an->text;
    if (n < m || from > n - m)
        return -1;
    if (m >= 2) {
        long at = anchor_find_wide(h, from, n, t, m, &from);
        if (at >= 0)
            return at;
    }
    /* The tail (and one-byte anchors): skip search. */
    unsigned char last = t[m - 1];
    for (size_t i = from; i <= n - m;) {
        unsigned char c = h[i + m - 1];
        if (lower(c) == last) {
            size_t k = 0;
            while (k + 1 < m && lower(h[i + k]) == t[k])
                k++;
            if (k + 1 == m)
                return (long)i;
        }
        i += an->skip[c];
    }
    return -1;
}

static bool anchor_present(scan *sc, int a)
{
    if (sc->state[a] == 0) {
        long at = anchor_find(&sc->s->anchors[a], sc->ctx->body.p, 0, sc->n);
        sc->state[a] = at >= 0 ? 2 : 1;
        sc->pos[a] = at >= 0 ? (uint32_t)at : 0;
    }
    return sc->state[a] == 2;
}

/* A regex body pattern: run it around each occurrence of its anchor (the
 * first few), since every match must contain the anchor. */
static bool body_re_match(scan *sc, const sig_body *b)
{
    const anchor *an = &sc->s->anchors[b->anchor];
    size_t at = sc->pos[b->anchor];
    lc_prepare(sc);
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
        long nx = anchor_find(an, sc->lc, at + 1, sc->n);
        if (nx < 0)
            break;
        at = (size_t)nx;
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
    /* The entries to try: for a 2xx only those naming that status. */
    const sig *few[RT_SIG_2XX_CAND];
    const sig *const *list = (const sig *const *)s->v;
    size_t nlist = s->n;
    if (ctx->status >= 200 && ctx->status <= 299 && !s->cand_over[ctx->status - 200]) {
        int j = ctx->status - 200;
        if (!s->ncand2xx[j])
            return;
        for (unsigned k = 0; k < s->ncand2xx[j]; k++)
            few[k] = s->v[s->cand2xx[j][k]];
        list = few;
        nlist = s->ncand2xx[j];
    }
    /* About 21 KiB of stack: the lowercased body copy and anchor states. */
    scan scan_storage;
    scan *sc = &scan_storage;
    sc->s = s;
    sc->ctx = ctx;
    sc->lc_ready = false;
    sc->n = ctx->body.p ? (ctx->body.n < RT_SIG_BODY_MAX ? ctx->body.n : RT_SIG_BODY_MAX) : 0;
    memset(sc->state, 0, s->nanchors);
    sc->hh_ready = false;
    char what[RT_SIG_WHAT_MAX];

    /* Pass 1: who generated the page (proxy identity entries). */
    if (ctx->via_proxy) {
        for (size_t i = 0; i < nlist && !out->proxy_generated; i++) {
            const sig *g = list[i];
            if (g->code != RT_E__COUNT || !sig_eval(sc, g, what))
                continue;
            out->proxy_generated = true;
            hit_fill(&out->mark, g, what);
        }
    }
    /* Pass 2: what it means; the first decisive entry wins. */
    for (size_t i = 0; i < nlist; i++) {
        const sig *g = list[i];
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
