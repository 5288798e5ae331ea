/* rotor diagnose: options, the report and the table (docs/diagnose.md). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/diagnose.h"
#include "core/base/wbuf.h"
#include "core/errors/vocab.h"
#include "core/http/http1.h"
#include "io/hclient.h"
#include "io/files.h"

static const char help[] =
"usage: rotor diagnose [OPTIONS] PROXY [TARGET_URL]\n"
"       rotor diagnose [OPTIONS] --pool FILE\n"
"\n"
"Walks the proxy error guide's diagnostic flowchart against one proxy, one\n"
"variable at a time, and stops at the first step that fails:\n"
"  1 reach the proxy     DNS of the proxy host, TCP connect (refused, timed out,\n"
"                        unreachable told apart)\n"
"  2 authentication      the reference without and with the entry's credentials\n"
"  3 proxy reaches the reference (an IP-echo page): shows the exit IP\n"
"  4 target through the proxy, classified (ok, blocked, challenge, rate limited, slow)\n"
"  5 intermittency       N samples: error rate and pattern (particular exits,\n"
"                        growing over time, random)\n"
"PROXY is a pool-file entry in any form (http://user:pass@host:port,\n"
"user:pass@host:port, host:port:user:pass, host:port). Passwords are shown as ****.\n"
"\n"
"Options\n"
"  --reference URL       step 3's target, an IP-echo page (default " DG_DEFAULT_REFERENCE ")\n"
"  --compare-direct      also fetch the reference and the target without the proxy:\n"
"                        this machine's own IP, and \"site down\" vs \"site blocks the proxy\"\n"
"  --connect-to H:P:H2:P2  direct fetches of H:P connect to H2:P2 instead (like curl)\n"
"  --samples N           step 5's samples (default 10; 0 skips step 5)\n"
"  --interval-ms MS      pause between samples (default 0)\n"
"  --slow-ms MS          step 4 warns above this (default 5000)\n"
"  --connect-timeout MS  DNS and TCP connect (default 5000)\n"
"  --timeout MS          each wait for an answer once connected (default 10000)\n"
"  --ca-file FILE        CA certificates (PEM) for https:// URLs (default: the system's)\n"
"  --signatures FILE     extra response signatures, tried before the built-in ones\n"
"  --pool FILE           steps 1-3 for every entry, concurrently, then a table\n"
"  --parallel N          entries checked at once with --pool (default 32)\n"
"  --json                machine-readable output\n"
"  --color / --no-color  colour (default: only when stdout is a terminal and NO_COLOR is unset)\n"
"\n"
"Exit status: 0 every step passed (warnings allowed), 11..15 step 1..5 failed\n"
"(with --pool: the earliest step at which any entry failed), 2 usage, 1 internal error.\n";

/* ==== options ==== */

static int num(const char *opt, const char *s, unsigned long max, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || errno || v > max || *s == '-') {
        fprintf(stderr, "rotor diagnose: %s wants a number from 0 to %lu, got '%s'\n", opt, max, s);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int url_ok(const char *opt, const char *url)
{
    rt_url u;
    if (rt_url_parse_target(rt_slice_cstr(url), RT_M_GET, &u) == 0 && u.form == RT_TF_ABSOLUTE && !u.has_userinfo)
        return 0;
    fprintf(stderr, "rotor diagnose: %s '%s' is not an absolute http:// or https:// URL\n", opt, url);
    return -1;
}

/* HOST:PORT:HOST2:PORT2 (IPv6 hosts in brackets). */
static int parse_connect_to(const char *s, dg_connect_to *c)
{
    char buf[2 * RT_UP_HOST_MAX + 32];
    if (strlen(s) >= sizeof buf)
        return -1;
    snprintf(buf, sizeof buf, "%s", s);
    char *parts[4];
    char *p = buf;
    for (int i = 0; i < 4; i++) {
        parts[i] = p;
        if (*p == '[') {
            char *rb = strchr(p, ']');
            if (!rb)
                return -1;
            parts[i] = p + 1;
            *rb = 0;
            p = rb + 1;
        }
        char *colon = i < 3 ? strchr(p, ':') : NULL;
        if (i < 3) {
            if (!colon)
                return -1;
            *colon = 0;
            p = colon + 1;
        }
    }
    uint32_t a, b;
    if (!*parts[0] || !*parts[2] || strlen(parts[0]) > RT_UP_HOST_MAX || strlen(parts[2]) > RT_UP_HOST_MAX ||
        num("--connect-to", parts[1], 65535, &a) || num("--connect-to", parts[3], 65535, &b) || !a || !b)
        return -1;
    snprintf(c->host, sizeof c->host, "%s", parts[0]);
    snprintf(c->to_host, sizeof c->to_host, "%s", parts[2]);
    c->port = (uint16_t)a;
    c->to_port = (uint16_t)b;
    return 0;
}

/* ==== text output ==== */

typedef struct out_style {
    bool color;
} out_style;

static const char *col(const out_style *st, const char *code) { return st->color ? code : ""; }
#define C_RESET "\033[0m"
#define C_GREEN "\033[32m"
#define C_RED "\033[31;1m"
#define C_YELLOW "\033[33m"
#define C_DIM "\033[2m"
#define C_BOLD "\033[1m"

static void mark(const out_style *st, dg_status s)
{
    switch (s) {
    case DG_PASS: printf("[%s ok %s]", col(st, C_GREEN), col(st, C_RESET)); break;
    case DG_WARN: printf("[%swarn%s]", col(st, C_YELLOW), col(st, C_RESET)); break;
    case DG_FAIL: printf("[%sFAIL%s]", col(st, C_RED), col(st, C_RESET)); break;
    default: printf("[%sskip%s]", col(st, C_DIM), col(st, C_RESET)); break;
    }
}

static int entry_exit(const dg_entry *e) { return e->failed_step ? DG_EXIT_STEP(e->failed_step) : DG_EXIT_OK; }

static void print_single(const dg_entry *e, const dg_opts *o, const out_style *st)
{
    printf("%srotor diagnose %s%s\n", col(st, C_BOLD), e->shown, col(st, C_RESET));
    printf("  reference %s%s%s\n", o->reference, o->target ? "   target " : "", o->target ? o->target : "");
    printf("\n");
    for (int i = 1; i <= e->last_step; i++) {
        const dg_step *s = &e->steps[i - 1];
        printf("  ");
        mark(st, s->st);
        printf(" %d %-24s %s", i, dg_step_name(i), s->summary);
        if (s->st == DG_FAIL)
            printf(" %s[%s]%s", col(st, C_RED), rt_code_name(s->code), col(st, C_RESET));
        printf("\n");
        if (s->st == DG_SKIP || s->st == DG_NOTRUN)
            continue;
        for (size_t k = 0; k < s->nnotes; k++)
            printf("         %s%s%s\n", col(st, C_DIM), s->notes[k], col(st, C_RESET));
    }
    if (e->nsamples) {
        printf("\n  samples:");
        for (size_t i = 0; i < e->nsamples; i++) {
            const rt_diag_sample *x = &e->samples[i].s;
            const char *ex = x->ip[0] ? x->ip : x->node;
            printf("%s%zu:%d/%ums%s%s%s", i % 5 ? "  " : "\n    ", i + 1, x->status, x->ms, ex[0] ? "@" : "", ex,
                   x->code == RT_E_ok ? "" : "!");
        }
        printf("\n");
    }
    printf("\n");
    const dg_step *f = e->failed_step ? &e->steps[e->failed_step - 1] : NULL;
    if (f) {
        const rt_code_info *ci = rt_code_get(f->code);
        printf("%sverdict:%s step %d (%s) failed: %s%s%s (origin %s, class %s)\n", col(st, C_BOLD), col(st, C_RESET),
               e->failed_step, dg_step_name(e->failed_step), col(st, C_RED), ci->name, col(st, C_RESET),
               rt_origin_name(ci->origin)[0] ? rt_origin_name(ci->origin) : "-", rt_class_name(ci->cls));
        printf("  %s\n", f->summary);
        if (f->evidence[0])
            printf("evidence: %s\n", f->evidence);
        printf("fixes:\n  1. %s\n", ci->fix);
        for (size_t k = 0; k < f->nhints; k++)
            printf("  %zu. %s\n", k + 2, f->hints[k]);
    } else {
        bool warned = false;
        for (int i = 1; i <= e->last_step; i++)
            warned |= e->steps[i - 1].st == DG_WARN;
        printf("%sverdict:%s %s%s%s", col(st, C_BOLD), col(st, C_RESET), col(st, warned ? C_YELLOW : C_GREEN),
               warned ? "works, with warnings" : "the proxy works", col(st, C_RESET));
        if (e->exit_ip[0])
            printf(" (exit IP %s)", e->exit_ip);
        printf("\n");
        unsigned k = 1;
        for (int i = 1; i <= e->last_step; i++) {
            const dg_step *s = &e->steps[i - 1];
            if (s->st != DG_WARN)
                continue;
            if (k == 1)
                printf("fixes:\n");
            for (size_t h = 0; h < s->nhints; h++)
                printf("  %u. %s\n", k++, s->hints[h]);
        }
    }
    printf("exit code %d\n", entry_exit(e));
}

static void ms_cell(char *buf, size_t cap, int64_t ms)
{
    if (ms < 0)
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%lld", (long long)ms);
}

typedef struct code_count {
    rt_code code;
    int step;
    unsigned n;
} code_count;

static int cmp_cc(const void *a, const void *b)
{
    const code_count *x = a, *y = b;
    return x->n < y->n ? 1 : x->n > y->n ? -1 : x->step - y->step;
}

static size_t tally_codes(const dg_run *run, code_count *cc, size_t cap)
{
    size_t ncc = 0;
    for (size_t i = 0; i < run->n; i++) {
        const dg_entry *e = &run->entries[i];
        if (!e->failed_step)
            continue;
        rt_code c = e->steps[e->failed_step - 1].code;
        size_t k = 0;
        while (k < ncc && (cc[k].code != c || cc[k].step != e->failed_step))
            k++;
        if (k == ncc) {
            if (ncc == cap)
                continue;
            cc[ncc++] = (code_count){ c, e->failed_step, 0 };
        }
        cc[k].n++;
    }
    qsort(cc, ncc, sizeof cc[0], cmp_cc);
    return ncc;
}

static int pool_exit(const dg_run *run)
{
    int worst = 0;
    for (size_t i = 0; i < run->n; i++) {
        int f = run->entries[i].failed_step;
        if (f && (!worst || f < worst))
            worst = f;
    }
    return worst ? DG_EXIT_STEP(worst) : DG_EXIT_OK;
}

static void print_pool(const dg_run *run, const char *file, const out_style *st)
{
    size_t lw = 5;
    for (size_t i = 0; i < run->n; i++) {
        size_t l = strlen(run->entries[i].label);
        if (l > lw)
            lw = l;
    }
    if (lw > 40)
        lw = 40;
    printf("%s%4s  %-*s  %-8s %-26s %8s %8s  %s%s\n", col(st, C_BOLD), "#", (int)lw, "label", "verdict", "code",
           "conn_ms", "ref_ms", "exit_ip", col(st, C_RESET));
    size_t ok = 0;
    for (size_t i = 0; i < run->n; i++) {
        const dg_entry *e = &run->entries[i];
        char c1[24], c3[24], verdict[16];
        ms_cell(c1, sizeof c1, e->ms_connect);
        ms_cell(c3, sizeof c3, e->ms_reference);
        const char *code = "ok";
        if (e->failed_step) {
            snprintf(verdict, sizeof verdict, "FAIL %d", e->failed_step);
            code = rt_code_name(e->steps[e->failed_step - 1].code);
        } else {
            snprintf(verdict, sizeof verdict, "ok");
            ok++;
        }
        printf("%4zu  %-*.*s  %s%-8s%s %-26s %8s %8s  %s\n", e->index, (int)lw, (int)lw, e->label,
               col(st, e->failed_step ? C_RED : C_GREEN), verdict, col(st, C_RESET), code, c1, c3,
               e->exit_ip[0] ? e->exit_ip : "-");
    }
    printf("\n%s: %zu entries checked in %.1f s (steps 1-3, %u at a time): %zu work, %zu fail\n", file, run->n,
           (double)run->elapsed_ms / 1000.0, run->o->parallel, ok, run->n - ok);
    code_count cc[64];
    size_t ncc = tally_codes(run, cc, 64);
    for (size_t k = 0; k < ncc; k++)
        printf("  %5u  step %d %-26s %s\n", cc[k].n, cc[k].step, dg_step_name(cc[k].step), rt_code_name(cc[k].code));
    if (ncc) {
        printf("fixes:\n");
        for (size_t k = 0; k < ncc && k < 5; k++)
            printf("  %s: %s\n", rt_code_name(cc[k].code), rt_code_get(cc[k].code)->fix);
        printf("('rotor diagnose ENTRY' walks all five steps for one entry)\n");
    }
    printf("exit code %d\n", pool_exit(run));
}

/* ==== JSON output ==== */

static void jstr(const char *s)
{
    char buf[4096];
    rt_wbuf b;
    rt_wbuf_init(&b, buf, sizeof buf);
    rt_wbuf_add(&b, "\"", 1);
    rt_wbuf_add_json(&b, rt_slice_cstr(s ? s : ""));
    rt_wbuf_add(&b, "\"", 1);
    if (b.overflow)
        fputs("\"\"", stdout);
    else
        fwrite(b.p, 1, b.len, stdout);
}

static void jms(const char *name, int64_t ms, bool comma)
{
    if (ms < 0)
        printf("\"%s\": null%s", name, comma ? ", " : "");
    else
        printf("\"%s\": %lld%s", name, (long long)ms, comma ? ", " : "");
}

static void jstep(const dg_entry *e, int i)
{
    const dg_step *s = &e->steps[i - 1];
    const rt_code_info *ci = rt_code_get(s->code);
    printf("{\"step\": %d, \"name\": ", i);
    jstr(dg_step_name(i));
    printf(", \"status\": \"%s\", \"code\": \"%s\", \"origin\": \"%s\", \"class\": \"%s\", ", dg_status_name(s->st),
           ci->name, rt_origin_name(ci->origin), rt_class_name(ci->cls));
    jms("ms", s->ms, true);
    printf("\"summary\": ");
    jstr(s->summary);
    printf(", \"evidence\": ");
    jstr(s->evidence);
    printf(", \"notes\": [");
    for (size_t k = 0; k < s->nnotes; k++) {
        printf(k ? ", " : "");
        jstr(s->notes[k]);
    }
    printf("], \"hints\": [");
    for (size_t k = 0; k < s->nhints; k++) {
        printf(k ? ", " : "");
        jstr(s->hints[k]);
    }
    printf("]}");
}

static void json_entry_head(const dg_entry *e)
{
    printf("\"proxy\": ");
    jstr(e->shown);
    printf(", \"label\": ");
    jstr(e->label);
    printf(", \"ok\": %s, \"failed_step\": ", e->failed_step ? "false" : "true");
    if (e->failed_step)
        printf("%d, \"code\": \"%s\"", e->failed_step, rt_code_name(e->steps[e->failed_step - 1].code));
    else
        printf("null, \"code\": \"ok\"");
    printf(", \"exit_ip\": ");
    if (e->exit_ip[0])
        jstr(e->exit_ip);
    else
        printf("null");
    printf(", ");
    jms("dns_ms", e->ms_dns, true);
    jms("connect_ms", e->ms_connect, true);
    jms("reference_ms", e->ms_reference, false);
}

static void print_single_json(const dg_entry *e, const dg_opts *o)
{
    printf("{");
    json_entry_head(e);
    printf(", \"reference\": ");
    jstr(o->reference);
    printf(", \"target\": ");
    if (o->target)
        jstr(o->target);
    else
        printf("null");
    printf(", \"local_ip\": ");
    if (e->local_ip[0])
        jstr(e->local_ip);
    else
        printf("null");
    printf(", ");
    jms("target_ms", e->ms_target, true);
    printf("\"retry_after_s\": ");
    if (e->retry_after_s >= 0)
        printf("%d", e->retry_after_s);
    else
        printf("null");
    printf(", \"steps\": [");
    for (int i = 1; i <= e->last_step; i++) {
        printf(i > 1 ? ", " : "");
        jstep(e, i);
    }
    printf("], \"samples\": [");
    for (size_t i = 0; i < e->nsamples; i++) {
        const rt_diag_sample *x = &e->samples[i].s;
        printf("%s{\"status\": %d, \"code\": \"%s\", \"ms\": %u, \"exit_ip\": ", i ? ", " : "", x->status,
               rt_code_name(x->code), x->ms);
        jstr(x->ip);
        printf(", \"via\": ");
        jstr(x->node);
        printf("}");
    }
    printf("]");
    if (e->nsamples) {
        const rt_diag_pattern *p = &e->pattern;
        printf(", \"pattern\": {\"kind\": \"%s\", \"samples\": %u, \"failed\": %u, \"error_rate\": %.4f, "
               "\"top_code\": \"%s\", \"ms_min\": %u, \"ms_median\": %u, \"ms_max\": %u, \"exits\": [",
               rt_diag_pattern_name(p->kind), p->n, p->failed, p->n ? (double)p->failed / p->n : 0.0,
               rt_code_name(p->top_code), p->ms_min, p->ms_median, p->ms_max);
        for (size_t k = 0; k < p->nexits; k++) {
            printf("%s{\"exit\": ", k ? ", " : "");
            jstr(p->exits[k].exit);
            printf(", \"samples\": %u, \"failed\": %u, \"bad\": %s}", p->exits[k].n, p->exits[k].failed,
                   p->exits[k].bad ? "true" : "false");
        }
        printf("]}");
    }
    printf(", \"fixes\": [");
    if (e->failed_step) {
        const dg_step *f = &e->steps[e->failed_step - 1];
        jstr(rt_code_get(f->code)->fix);
        for (size_t k = 0; k < f->nhints; k++) {
            printf(", ");
            jstr(f->hints[k]);
        }
    }
    printf("], \"exit_code\": %d}\n", entry_exit(e));
}

static void print_pool_json(const dg_run *run, const char *file)
{
    printf("{\"pool\": ");
    jstr(file);
    printf(", \"elapsed_ms\": %llu, \"parallel\": %u, \"entries\": [", (unsigned long long)run->elapsed_ms,
           run->o->parallel);
    size_t ok = 0;
    for (size_t i = 0; i < run->n; i++) {
        const dg_entry *e = &run->entries[i];
        ok += !e->failed_step;
        printf("%s{\"index\": %zu, ", i ? ", " : "", e->index);
        json_entry_head(e);
        printf(", \"steps\": [");
        for (int k = 1; k <= e->last_step; k++) {
            printf(k > 1 ? ", " : "");
            jstep(e, k);
        }
        printf("]}");
    }
    printf("], \"summary\": {\"entries\": %zu, \"ok\": %zu, \"failed\": %zu, \"by_code\": {", run->n, ok, run->n - ok);
    code_count cc[64];
    size_t ncc = tally_codes(run, cc, 64);
    for (size_t k = 0; k < ncc; k++)
        printf("%s\"%s\": %u", k ? ", " : "", rt_code_name(cc[k].code), cc[k].n);
    printf("}}, \"exit_code\": %d}\n", pool_exit(run));
}

/* ==== main ==== */

int cli_diagnose(int argc, char **argv)
{
    enum {
        O_REFERENCE = 1000, O_COMPARE, O_CONNECT_TO, O_SAMPLES, O_INTERVAL, O_SLOW, O_CTIMEOUT, O_TIMEOUT,
        O_CA, O_SIGS, O_POOL, O_PARALLEL, O_JSON, O_COLOR, O_NO_COLOR, O_HELP,
    };
    static const struct option longopts[] = {
        { "reference", required_argument, NULL, O_REFERENCE },
        { "compare-direct", no_argument, NULL, O_COMPARE },
        { "connect-to", required_argument, NULL, O_CONNECT_TO },
        { "samples", required_argument, NULL, O_SAMPLES },
        { "interval-ms", required_argument, NULL, O_INTERVAL },
        { "slow-ms", required_argument, NULL, O_SLOW },
        { "connect-timeout", required_argument, NULL, O_CTIMEOUT },
        { "timeout", required_argument, NULL, O_TIMEOUT },
        { "ca-file", required_argument, NULL, O_CA },
        { "signatures", required_argument, NULL, O_SIGS },
        { "pool", required_argument, NULL, O_POOL },
        { "parallel", required_argument, NULL, O_PARALLEL },
        { "json", no_argument, NULL, O_JSON },
        { "color", no_argument, NULL, O_COLOR },
        { "no-color", no_argument, NULL, O_NO_COLOR },
        { "help", no_argument, NULL, O_HELP },
        { NULL, 0, NULL, 0 },
    };
    dg_opts o = {
        .reference = DG_DEFAULT_REFERENCE,
        .connect_ms = IO_HC_DEFAULT_CONNECT_MS,
        .read_ms = IO_HC_DEFAULT_READ_MS,
        .slow_ms = DG_DEFAULT_SLOW_MS,
        .samples = DG_DEFAULT_SAMPLES,
        .parallel = DG_DEFAULT_PARALLEL,
    };
    const char *pool = NULL;
    bool json = false;
    int color = -1;
    uint32_t v;
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case O_REFERENCE:
            if (url_ok("--reference", optarg))
                return DG_EXIT_USAGE;
            o.reference = optarg;
            break;
        case O_COMPARE: o.compare_direct = true; break;
        case O_CONNECT_TO:
            if (o.nconnect_to == DG_CONNECT_TO_MAX || parse_connect_to(optarg, &o.connect_to[o.nconnect_to]) != 0) {
                fprintf(stderr, "rotor diagnose: --connect-to wants HOST:PORT:HOST2:PORT2 (at most %d), got '%s'\n",
                        DG_CONNECT_TO_MAX, optarg);
                return DG_EXIT_USAGE;
            }
            o.nconnect_to++;
            break;
        case O_SAMPLES:
            if (num("--samples", optarg, RT_DIAG_SAMPLES_MAX, &v))
                return DG_EXIT_USAGE;
            o.samples = v;
            break;
        case O_INTERVAL:
            if (num("--interval-ms", optarg, 600000, &o.interval_ms))
                return DG_EXIT_USAGE;
            break;
        case O_SLOW:
            if (num("--slow-ms", optarg, 3600000, &o.slow_ms))
                return DG_EXIT_USAGE;
            break;
        case O_CTIMEOUT:
            if (num("--connect-timeout", optarg, 600000, &o.connect_ms) || !o.connect_ms)
                return DG_EXIT_USAGE;
            break;
        case O_TIMEOUT:
            if (num("--timeout", optarg, 600000, &o.read_ms) || !o.read_ms)
                return DG_EXIT_USAGE;
            break;
        case O_CA: o.ca_file = optarg; break;
        case O_SIGS: o.signatures = optarg; break;
        case O_POOL: pool = optarg; break;
        case O_PARALLEL:
            if (num("--parallel", optarg, DG_PARALLEL_MAX, &v) || !v)
                return DG_EXIT_USAGE;
            o.parallel = v;
            break;
        case O_JSON: json = true; break;
        case O_COLOR: color = 1; break;
        case O_NO_COLOR: color = 0; break;
        case 'h':
        case O_HELP:
            fputs(help, stdout);
            return DG_EXIT_OK;
        default:
            fprintf(stderr, "rotor diagnose: unknown option '%s' (see rotor diagnose --help)\n", argv[optind - 1]);
            return DG_EXIT_USAGE;
        }
    }
    int rest = argc - optind;
    if (pool ? rest != 0 : (rest < 1 || rest > 2)) {
        fprintf(stderr, pool ? "rotor diagnose: --pool takes no PROXY or TARGET_URL (it runs steps 1-3)\n"
                             : "usage: rotor diagnose [OPTIONS] PROXY [TARGET_URL] (see --help)\n");
        return DG_EXIT_USAGE;
    }
    if (!pool && rest == 2) {
        if (url_ok("TARGET_URL", argv[optind + 1]))
            return DG_EXIT_USAGE;
        o.target = argv[optind + 1];
    }
    out_style st = { .color = color >= 0 ? color == 1 : (isatty(STDOUT_FILENO) && !getenv("NO_COLOR")) };
    if (json)
        st.color = false;

    dg_run run = { .o = &o };
    char err[512];
    if (pool) {
        rt_pool p;
        if (io_pool_load(pool, &p, err, sizeof err) != 0) {
            fprintf(stderr, "rotor diagnose: %s\n", err);
            return DG_EXIT_USAGE;
        }
        run.entries = calloc(p.n, sizeof *run.entries);
        if (!run.entries) {
            rt_pool_clear(&p);
            fprintf(stderr, "rotor diagnose: out of memory\n");
            return DG_EXIT_INTERNAL;
        }
        run.n = p.n;
        for (size_t i = 0; i < p.n; i++) {
            dg_entry_from_pool(&run.entries[i], &p.v[i], i + 1);
            run.entries[i].last_step = 3;
        }
        rt_pool_clear(&p);
        run.progress = !json && isatty(STDERR_FILENO);
    } else {
        run.entries = calloc(1, sizeof *run.entries);
        if (!run.entries)
            return DG_EXIT_INTERNAL;
        run.n = 1;
        if (dg_entry_from_text(&run.entries[0], argv[optind], err, sizeof err) != 0) {
            fprintf(stderr, "rotor diagnose: %s\n", err);
            free(run.entries);
            return DG_EXIT_USAGE;
        }
    }
    int rc;
    if (dg_run_all(&run) != 0) {
        fprintf(stderr, "rotor diagnose: %s\n", run.err);
        rc = DG_EXIT_INTERNAL;
    } else if (pool) {
        if (json)
            print_pool_json(&run, pool);
        else
            print_pool(&run, pool, &st);
        rc = pool_exit(&run);
    } else {
        if (json)
            print_single_json(&run.entries[0], &o);
        else
            print_single(&run.entries[0], &o, &st);
        rc = entry_exit(&run.entries[0]);
    }
    fflush(stdout);
    dg_run_clear(&run);
    free(run.entries);
    return rc;
}
