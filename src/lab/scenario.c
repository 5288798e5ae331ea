/* Scenario text parser, presets and the pure fault decisions of the lab. */
#include "lab/scenario.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LAB_SCENARIO_MAX_FILE (1u << 20) /* a scenario file is small text */
#define LAB_LINE_MAX 1024
#define LAB_MAX_WORDS 32

static const lab_preset presets[] = {
    { "healthy", "every proxy works; each target host behaves as its name says",
      "# Only the base hosts' own behaviour: ratelimit.lab limits, bans.lab bans...\n" },
    { "bad-credentials", "every proxy rejects the pool's credentials with 407 (guide: 407)",
      "proxy * bad_auth\n" },
    { "rate-limited", "every target host allows 5 requests per second per exit IP, then 429 + Retry-After",
      "target * rate=5/1s\n" },
    { "ip-bans", "every target host bans an exit IP after 10 requests with an anti-bot 403 page",
      "target * ban_after=10\n" },
    { "flaky-provider", "every proxy fails now and then: 502/503/504, resets, truncation, slow first byte",
      "proxy * err502=0.08 err503=0.05 err504=0.04 reset=0.04 truncate=0.03 slow=0.05 slow_ms=1500\n"
      "proxy 2-3 style=brd\n"
      "proxy 4-5 style=rfc9209\n" },
    { "target-down", "every target host except ok.lab is down: proxies answer 502 connect failure",
      "target * down\n"
      "target ok.lab up\n" },
    { "mixed", "the demo: dead, bad-credential, quota and flaky proxies; rate limits and bans on targets",
      "proxies 10\n"
      "proxy 2 style=brd\n"
      "proxy 3 refused\n"
      "proxy 5 bad_auth\n"
      "proxy 6 err502=0.2 reset=0.1 style=brd\n"
      "proxy 7 blackhole\n"
      "proxy 8 err503=0.15 err504=0.05 truncate=0.05 style=rfc9209\n"
      "proxy 9 slow=0.3 slow_ms=1500\n"
      "proxy 10 quota style=brd\n"
      "target ratelimit.lab rate=5/1s\n"
      "target bans.lab ban_after=15\n" },
};

/* Hosts every scenario starts from; the text then adjusts them. */
static const char base_hosts[] =
    "target ok.lab\n"
    "target ratelimit.lab rate=10/1s\n"
    "target bans.lab ban_after=20 page=cloudflare\n"
    "target challenge.lab ban_after=20 page=challenge\n"
    "target flaky.lab err503=0.2\n"
    "target slow.lab delay_ms=500\n"
    "target down.lab down\n";

static const char *const pfault_names[LAB_PF_COUNT] = {
    [LAB_PF_NONE] = "none",       [LAB_PF_QUOTA] = "quota",
    [LAB_PF_ERR502] = "err502",   [LAB_PF_ERR503] = "err503",
    [LAB_PF_ERR504] = "err504",   [LAB_PF_BLACKHOLE] = "blackhole",
    [LAB_PF_RESET] = "reset",     [LAB_PF_TRUNCATE] = "truncate",
    [LAB_PF_SLOW] = "slow",
};

static const char *const style_names[] = { "squid", "brd", "rfc9209" };
static const char *const page_names[] = { "cloudflare", "challenge", "datadome", "plain" };

const lab_preset *lab_presets(size_t *n)
{
    *n = sizeof presets / sizeof presets[0];
    return presets;
}

const char *lab_pfault_name(lab_pfault f)
{
    return (unsigned)f < LAB_PF_COUNT ? pfault_names[f] : "?";
}

/* ---- parsing ---- */

typedef struct pctx {
    const char *src;
    unsigned line;
    char *err;
    size_t errlen;
} pctx;

static int perr(pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(pctx *c, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->err && c->errlen)
        snprintf(c->err, c->errlen, "%s:%u: %s", c->src, c->line, msg);
    return -1;
}

static int parse_u32(const char *s, uint32_t max, uint32_t *out)
{
    if (!isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* A probability: empty (bare word) means 1; otherwise a decimal in [0,1]. */
static int parse_prob(const char *s, double *out)
{
    if (!s) {
        *out = 1.0;
        return 0;
    }
    if (!isdigit((unsigned char)*s) && *s != '.')
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !(v >= 0.0 && v <= 1.0))
        return -1;
    *out = v;
    return 0;
}

/* A duration: "500", "500ms" or "2s"; milliseconds out. */
static int parse_ms(const char *s, uint32_t *out)
{
    char num[32];
    size_t n = strlen(s);
    uint32_t mult = 1;
    if (n > 2 && !strcmp(s + n - 2, "ms"))
        n -= 2;
    else if (n > 1 && s[n - 1] == 's') {
        n -= 1;
        mult = 1000;
    }
    if (n == 0 || n >= sizeof num)
        return -1;
    memcpy(num, s, n);
    num[n] = 0;
    uint32_t v;
    if (parse_u32(num, LAB_MAX_DELAY_MS / mult, &v))
        return -1;
    *out = v * mult;
    return 0;
}

static int find_name(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], s))
            return (int)i;
    return -1;
}

static bool valid_label(const char *s, size_t cap)
{
    size_t n = strlen(s);
    if (n == 0 || n >= cap)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._-:", s[i]))
            return false;
    return true;
}

static bool valid_lab_host(const char *s)
{
    size_t n = strlen(s);
    if (n < 5 || n >= LAB_HOST_MAX || strcmp(s + n - 4, ".lab") != 0 || s[0] == '.' || s[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '.' && s[i] != '-')
            return false;
    return !strstr(s, "..");
}

static void proxy_defaults(lab_proxy_conf *pc, size_t idx)
{
    memset(pc, 0, sizeof *pc);
    snprintf(pc->label, sizeof pc->label, "lab-p%zu", idx + 1);
    /* 10.77.0.1 .. 10.77.0.254, then 10.77.1.1 ...: a label in private
     * space that looks like an exit IP; it never becomes an address. */
    snprintf(pc->exit, sizeof pc->exit, "10.77.%zu.%zu", idx / 254, idx % 254 + 1);
    pc->style = LAB_STYLE_SQUID;
    pc->slow_ms = 2000;
}

static int pfault_by_name(const char *k)
{
    for (int f = LAB_PF_QUOTA; f < LAB_PF_COUNT; f++)
        if (!strcmp(k, pfault_names[f]))
            return f;
    return -1;
}

static int apply_proxy_kv(pctx *c, lab_proxy_conf *pc, const char *k, const char *v)
{
    int f;
    if (!strcmp(k, "ok") && !v) {
        char label[LAB_LABEL_MAX], exit[LAB_EXIT_MAX];
        lab_style style = pc->style;
        bool tls = pc->tls; /* how the proxy is reached, not a fault */
        memcpy(label, pc->label, sizeof label);
        memcpy(exit, pc->exit, sizeof exit);
        memset(pc, 0, sizeof *pc);
        memcpy(pc->label, label, sizeof label);
        memcpy(pc->exit, exit, sizeof exit);
        pc->style = style;
        pc->tls = tls;
        pc->slow_ms = 2000;
    } else if (!strcmp(k, "refused") && !v) {
        pc->refused = true;
    } else if (!strcmp(k, "bad_auth") && !v) {
        pc->bad_auth = true;
    } else if (!strcmp(k, "tls") && !v) {
        pc->tls = true;
    } else if (!strcmp(k, "plain") && !v) {
        pc->tls = false;
    } else if ((f = pfault_by_name(k)) >= 0) {
        if (parse_prob(v, &pc->p[f]))
            return perr(c, "'%s' wants a probability between 0 and 1, got '%s'", k, v);
    } else if (!strcmp(k, "slow_ms") && v) {
        if (parse_ms(v, &pc->slow_ms))
            return perr(c, "slow_ms wants milliseconds up to %u, got '%s'", LAB_MAX_DELAY_MS, v);
    } else if (!strcmp(k, "style") && v) {
        int s = find_name(style_names, 3, v);
        if (s < 0)
            return perr(c, "style must be squid, brd or rfc9209, got '%s'", v);
        pc->style = (lab_style)s;
    } else if (!strcmp(k, "label") && v) {
        if (!valid_label(v, sizeof pc->label))
            return perr(c, "label must be 1-%zu characters of [A-Za-z0-9._:-]", sizeof pc->label - 1);
        strcpy(pc->label, v);
    } else if (!strcmp(k, "exit") && v) {
        if (!valid_label(v, sizeof pc->exit))
            return perr(c, "exit must be 1-%zu characters of [A-Za-z0-9._:-]", sizeof pc->exit - 1);
        strcpy(pc->exit, v);
    } else {
        return perr(c, "unknown proxy option '%s%s%s'", k, v ? "=" : "", v ? v : "");
    }
    return 0;
}

static int apply_host_kv(pctx *c, lab_host_conf *hc, const char *k, const char *v)
{
    if (!strcmp(k, "ok") && !v) {
        char name[LAB_HOST_MAX];
        memcpy(name, hc->name, sizeof name);
        memset(hc, 0, sizeof *hc);
        memcpy(hc->name, name, sizeof name);
    } else if (!strcmp(k, "down") && !v) {
        hc->down = true;
    } else if (!strcmp(k, "up") && !v) {
        hc->down = false;
    } else if (!strcmp(k, "rate") && v) {
        /* R/WINDOW, e.g. 10/1s or 3/500ms; a bare window number is ms. */
        char buf[64];
        const char *slash = strchr(v, '/');
        if (!slash || (size_t)(slash - v) >= sizeof buf)
            return perr(c, "rate wants REQUESTS/WINDOW such as 10/1s, got '%s'", v);
        memcpy(buf, v, (size_t)(slash - v));
        buf[slash - v] = 0;
        if (parse_u32(buf, 1000000, &hc->rate) || parse_ms(slash + 1, &hc->window_ms) || hc->window_ms == 0)
            return perr(c, "rate wants REQUESTS/WINDOW such as 10/1s, got '%s'", v);
    } else if (!strcmp(k, "ban_after") && v) {
        if (parse_u32(v, 100000000, &hc->ban_after))
            return perr(c, "ban_after wants a request count, got '%s'", v);
    } else if (!strcmp(k, "ban_ms") && v) {
        if (parse_ms(v, &hc->ban_ms))
            return perr(c, "ban_ms wants a duration up to %u ms, got '%s'", LAB_MAX_DELAY_MS, v);
    } else if (!strcmp(k, "page") && v) {
        int p = find_name(page_names, 4, v);
        if (p < 0)
            return perr(c, "page must be cloudflare, challenge, datadome or plain, got '%s'", v);
        hc->page = (lab_page)p;
    } else if (!strcmp(k, "err503")) {
        if (parse_prob(v, &hc->p503))
            return perr(c, "err503 wants a probability between 0 and 1, got '%s'", v);
    } else if (!strcmp(k, "delay_ms") && v) {
        if (parse_ms(v, &hc->delay_ms))
            return perr(c, "delay_ms wants a duration up to %u ms, got '%s'", LAB_MAX_DELAY_MS, v);
    } else {
        return perr(c, "unknown target option '%s%s%s'", k, v ? "=" : "", v ? v : "");
    }
    return 0;
}

/* Split a line into words in place; '#' starts a comment. */
static size_t split_words(char *line, char **w, size_t max)
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r')
            p++;
        if (!*p || *p == '#')
            break;
        if (n == max)
            return max + 1;
        w[n++] = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '#')
            p++;
        if (*p == '#') {
            *p = 0;
            break;
        }
        if (*p)
            *p++ = 0;
    }
    return n;
}

/* Apply each "KEY" / "KEY=VALUE" word to every selected entry. */
static int apply_opts(pctx *c, lab_scenario *sc, bool is_proxy, size_t lo, size_t hi,
                      char **w, size_t nw)
{
    for (size_t i = 0; i < nw; i++) {
        char *eq = strchr(w[i], '=');
        const char *v = NULL;
        if (eq) {
            *eq = 0;
            v = eq + 1;
            if (!*v)
                return perr(c, "option '%s=' has no value", w[i]);
        }
        /* An empty selection still validates its options on a scratch entry,
         * so a typo is reported whatever the proxy count. */
        lab_proxy_conf pscratch;
        lab_host_conf hscratch;
        proxy_defaults(&pscratch, 0);
        memset(&hscratch, 0, sizeof hscratch);
        for (size_t j = lo; j < (hi > lo ? hi : lo + 1); j++) {
            int rc;
            if (is_proxy)
                rc = apply_proxy_kv(c, hi > lo ? &sc->proxy[j] : &pscratch, w[i], v);
            else
                rc = apply_host_kv(c, hi > lo ? &sc->host[j] : &hscratch, w[i], v);
            if (rc)
                return rc;
        }
        if (eq)
            *eq = '=';
    }
    return 0;
}

static int do_proxy_line(pctx *c, lab_scenario *sc, char **w, size_t nw)
{
    if (nw < 2)
        return perr(c, "'proxy' wants a selector (N, A-B or *) and options");
    size_t lo, hi; /* 0-based, half-open */
    if (!strcmp(w[1], "*")) {
        lo = 0;
        hi = sc->nproxies;
    } else {
        uint32_t a, b;
        char *dash = strchr(w[1], '-');
        if (dash) {
            *dash = 0;
            int bad = parse_u32(w[1], LAB_MAX_PROXIES, &a) || parse_u32(dash + 1, LAB_MAX_PROXIES, &b);
            *dash = '-';
            if (bad || a == 0 || b < a)
                return perr(c, "bad proxy range '%s' (proxies are numbered from 1)", w[1]);
        } else {
            if (parse_u32(w[1], LAB_MAX_PROXIES, &a) || a == 0)
                return perr(c, "bad proxy number '%s' (proxies are numbered from 1)", w[1]);
            b = a;
        }
        /* Selectors past the proxy count are ignored, so one scenario works
         * with any --proxies N. */
        lo = a - 1;
        hi = b < sc->nproxies ? b : sc->nproxies;
    }
    if (lo > hi)
        lo = hi;
    return apply_opts(c, sc, true, lo, hi, w + 2, nw - 2);
}

static int do_target_line(pctx *c, lab_scenario *sc, char **w, size_t nw)
{
    if (nw < 2)
        return perr(c, "'target' wants a host name ending in .lab (or *) and options");
    if (!strcmp(w[1], "*"))
        return apply_opts(c, sc, false, 0, sc->nhosts, w + 2, nw - 2);
    for (char *p = w[1]; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (!valid_lab_host(w[1]))
        return perr(c, "target host '%s' must be a host name ending in .lab", w[1]);
    size_t i;
    for (i = 0; i < sc->nhosts; i++)
        if (!strcmp(sc->host[i].name, w[1]))
            break;
    if (i == sc->nhosts) {
        if (sc->nhosts == LAB_MAX_HOSTS)
            return perr(c, "more than %d target hosts", LAB_MAX_HOSTS);
        memset(&sc->host[i], 0, sizeof sc->host[i]);
        strcpy(sc->host[i].name, w[1]);
        sc->nhosts++;
    }
    return apply_opts(c, sc, false, i, i + 1, w + 2, nw - 2);
}

/* Apply every line (or, when counting, only read a "proxies N" line);
 * stops at the first error. */
static int each_line(pctx *c, lab_scenario *sc, const char *text, size_t len, bool counting,
                     size_t *count)
{
    size_t off = 0;
    c->line = 0;
    while (off < len) {
        size_t e = off;
        while (e < len && text[e] != '\n')
            e++;
        c->line++;
        char line[LAB_LINE_MAX];
        if (e - off >= sizeof line)
            return perr(c, "line longer than %d bytes", LAB_LINE_MAX - 1);
        if (memchr(text + off, 0, e - off))
            return perr(c, "NUL byte in line");
        memcpy(line, text + off, e - off);
        line[e - off] = 0;
        off = e + 1;
        char *w[LAB_MAX_WORDS];
        size_t nw = split_words(line, w, LAB_MAX_WORDS);
        if (nw > LAB_MAX_WORDS)
            return perr(c, "more than %d words", LAB_MAX_WORDS);
        if (nw == 0)
            continue;
        if (!strcmp(w[0], "proxies")) {
            uint32_t n;
            if (nw != 2 || parse_u32(w[1], LAB_MAX_PROXIES, &n) || n == 0)
                return perr(c, "'proxies' wants a count from 1 to %d", LAB_MAX_PROXIES);
            if (counting && count)
                *count = n;
            continue;
        }
        if (counting)
            continue;
        int rc;
        if (!strcmp(w[0], "proxy"))
            rc = do_proxy_line(c, sc, w, nw);
        else if (!strcmp(w[0], "target"))
            rc = do_target_line(c, sc, w, nw);
        else
            rc = perr(c, "unknown directive '%s' (want proxies, proxy or target)", w[0]);
        if (rc)
            return rc;
    }
    return 0;
}

int lab_scenario_parse(lab_scenario *sc, const char *srcname, const char *text,
                       size_t len, size_t nproxies, char *err, size_t errlen)
{
    pctx c = { srcname ? srcname : "scenario", 0, err, errlen };
    size_t count = LAB_DEFAULT_PROXIES;
    memset(sc, 0, sizeof *sc);
    snprintf(sc->name, sizeof sc->name, "%s", c.src);
    if (each_line(&c, sc, text, len, true, &count))
        return -1;
    sc->nproxies = nproxies ? nproxies : count;
    if (sc->nproxies > LAB_MAX_PROXIES) {
        c.line = 0;
        return perr(&c, "at most %d proxies", LAB_MAX_PROXIES);
    }
    for (size_t i = 0; i < sc->nproxies; i++)
        proxy_defaults(&sc->proxy[i], i);
    pctx base = { "base-hosts", 0, err, errlen };
    if (each_line(&base, sc, base_hosts, sizeof base_hosts - 1, false, NULL))
        return -1;
    return each_line(&c, sc, text, len, false, NULL);
}

int lab_scenario_load(lab_scenario *sc, const char *name_or_file, size_t nproxies,
                      char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (!strcmp(presets[i].name, name_or_file))
            return lab_scenario_parse(sc, presets[i].name, presets[i].text,
                                      strlen(presets[i].text), nproxies, err, errlen);
    FILE *f = fopen(name_or_file, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: not a preset (see --list) and cannot open it as a file: %s",
                 name_or_file, strerror(errno));
        return -1;
    }
    char *buf = malloc(LAB_SCENARIO_MAX_FILE);
    if (!buf) {
        fclose(f);
        snprintf(err, errlen, "%s: out of memory", name_or_file);
        return -1;
    }
    size_t n = fread(buf, 1, LAB_SCENARIO_MAX_FILE, f);
    int rd_err = ferror(f);
    bool more = !rd_err && n == LAB_SCENARIO_MAX_FILE && fgetc(f) != EOF;
    fclose(f);
    int rc;
    if (rd_err) {
        snprintf(err, errlen, "%s: read error", name_or_file);
        rc = -1;
    } else if (more) {
        snprintf(err, errlen, "%s: larger than %u bytes", name_or_file, LAB_SCENARIO_MAX_FILE);
        rc = -1;
    } else {
        rc = lab_scenario_parse(sc, name_or_file, buf, n, nproxies, err, errlen);
    }
    free(buf);
    return rc;
}

int lab_scenario_add_host(lab_scenario *sc, const char *name)
{
    if (!valid_lab_host(name))
        return -1;
    if (lab_scenario_host(sc, name, strlen(name)))
        return 0;
    if (sc->nhosts == LAB_MAX_HOSTS)
        return -1;
    memset(&sc->host[sc->nhosts], 0, sizeof sc->host[0]);
    strcpy(sc->host[sc->nhosts].name, name);
    sc->nhosts++;
    return 0;
}

const lab_host_conf *lab_scenario_host(const lab_scenario *sc, const char *name, size_t n)
{
    for (size_t i = 0; i < sc->nhosts; i++)
        if (strlen(sc->host[i].name) == n && !strncasecmp(sc->host[i].name, name, n))
            return &sc->host[i];
    return NULL;
}

/* ---- descriptions ---- */

static void addf(char *out, size_t cap, size_t *len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void addf(char *out, size_t cap, size_t *len, const char *fmt, ...)
{
    if (*len >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len += (size_t)n < cap - *len ? (size_t)n : cap - *len - 1;
}

void lab_proxy_describe(const lab_proxy_conf *pc, char *out, size_t cap)
{
    size_t len = 0;
    if (!cap)
        return;
    out[0] = 0;
    if (pc->refused)
        addf(out, cap, &len, "refused ");
    if (pc->bad_auth)
        addf(out, cap, &len, "bad_auth ");
    for (int f = LAB_PF_QUOTA; f < LAB_PF_COUNT; f++)
        if (pc->p[f] > 0)
            addf(out, cap, &len, pc->p[f] >= 1.0 ? "%s " : "%s=%.2f ", pfault_names[f], pc->p[f]);
    if (pc->p[LAB_PF_SLOW] > 0)
        addf(out, cap, &len, "slow_ms=%u ", pc->slow_ms);
    if (len == 0)
        addf(out, cap, &len, "ok ");
    addf(out, cap, &len, "style=%s", style_names[pc->style]);
    if (pc->tls)
        addf(out, cap, &len, " tls");
}

void lab_host_describe(const lab_host_conf *hc, char *out, size_t cap)
{
    size_t len = 0;
    if (!cap)
        return;
    out[0] = 0;
    if (hc->down)
        addf(out, cap, &len, "down ");
    if (hc->rate)
        addf(out, cap, &len, "rate=%u/%ums ", hc->rate, hc->window_ms);
    if (hc->ban_after)
        addf(out, cap, &len, "ban_after=%u page=%s ", hc->ban_after, page_names[hc->page]);
    if (hc->ban_after && hc->ban_ms)
        addf(out, cap, &len, "ban_ms=%u ", hc->ban_ms);
    if (hc->p503 > 0)
        addf(out, cap, &len, "err503=%.2f ", hc->p503);
    if (hc->delay_ms)
        addf(out, cap, &len, "delay_ms=%u ", hc->delay_ms);
    if (len == 0)
        addf(out, cap, &len, "ok");
    else
        out[len - 1] = 0;
}

/* ---- decisions ---- */

lab_pfault lab_proxy_draw(const lab_proxy_conf *pc, rt_rng *rng)
{
    double sum = 0;
    for (int f = LAB_PF_QUOTA; f < LAB_PF_COUNT; f++)
        sum += pc->p[f];
    if (sum <= 0)
        return LAB_PF_NONE;
    /* One draw per request keeps sequences reproducible however many fault
     * kinds are configured; probabilities summing past 1 favour the earlier
     * kinds. A probability of exactly 1 always fires. */
    double u = rt_rng_unit(rng);
    double acc = 0;
    for (int f = LAB_PF_QUOTA; f < LAB_PF_COUNT; f++) {
        if (pc->p[f] >= 1.0)
            return (lab_pfault)f;
        acc += pc->p[f];
        if (u < acc)
            return (lab_pfault)f;
    }
    return LAB_PF_NONE;
}

static lab_exit_state *exit_slot(lab_host_state *hs, const char *exit, size_t n, uint64_t now_ms)
{
    if (n >= LAB_EXIT_MAX)
        n = LAB_EXIT_MAX - 1;
    size_t oldest = 0;
    for (size_t i = 0; i < hs->n; i++) {
        if (strlen(hs->e[i].exit) == n && !memcmp(hs->e[i].exit, exit, n))
            return &hs->e[i];
        if (hs->e[i].last_ms < hs->e[oldest].last_ms)
            oldest = i;
    }
    lab_exit_state *e = hs->n < LAB_MAX_EXITS ? &hs->e[hs->n++] : &hs->e[oldest];
    memset(e, 0, sizeof *e);
    memcpy(e->exit, exit, n);
    e->exit[n] = 0;
    e->win_start = now_ms;
    return e;
}

lab_verdict lab_host_admit(const lab_host_conf *hc, lab_host_state *hs, const char *exit,
                           size_t exitlen, uint64_t now_ms, uint32_t *retry_after_s)
{
    if (!hc->rate && !hc->ban_after)
        return LAB_V_OK;
    lab_exit_state *e = exit_slot(hs, exit, exitlen, now_ms);
    e->last_ms = now_ms;
    if (e->banned) {
        if (hc->ban_ms && now_ms - e->banned_at >= hc->ban_ms) {
            e->banned = false;
            e->total = 0;
        } else {
            return LAB_V_BANNED;
        }
    }
    e->total++;
    if (hc->ban_after && e->total > hc->ban_after) {
        e->banned = true;
        e->banned_at = now_ms;
        return LAB_V_BANNED;
    }
    if (hc->rate) {
        if (now_ms - e->win_start >= hc->window_ms) {
            e->win_start = now_ms;
            e->win_count = 0;
        }
        if (e->win_count >= hc->rate) {
            uint64_t left = e->win_start + hc->window_ms - now_ms;
            uint32_t s = (uint32_t)((left + 999) / 1000);
            if (retry_after_s)
                *retry_after_s = s ? s : 1;
            return LAB_V_RATE_LIMITED;
        }
        e->win_count++;
    }
    return LAB_V_OK;
}
