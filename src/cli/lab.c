/* rotor lab: the simulated proxy pool and targets, and its load driver. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lab/lab.h"
#include "lab/scenario.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: rotor lab [--scenario NAME|FILE] [--proxies N] [--targets M] [--seed S]\n"
            "                 [--port-base P] [--pool-out FILE] [--state-out FILE]\n"
            "                 [--user U --pass P | --no-auth] [--proxy-tls] [--duration SEC] [--quiet]\n"
            "       rotor lab --list\n"
            "       rotor lab --drive URL|FILE --proxy URL [--requests N] [--concurrency C]\n"
            "                 [--timeout-ms MS] [--summary-json FILE] [--title TEXT] [--progress|--no-progress]\n"
            "\n"
            "Starts simulated upstream proxies and target sites on 127.0.0.1 that fail the\n"
            "way real ones do (docs/lab.md). --port-base 0 (the default) picks free ports;\n"
            "the pool file lists the proxies, the CA file (lab-ca.pem next to it) lets\n"
            "clients verify the HTTPS target, the state file (JSON) appears once all\n"
            "listeners are up and is removed on exit. --proxy-tls makes every proxy an\n"
            "HTTPS proxy (TLS with a lab-CA certificate; https:// in the pool file).\n"
            "\n"
            "--drive sends requests through a proxy and shows success rate, retries and\n"
            "failures by X-Rotor-Error / X-Rotor-Origin.\n");
}

static int num(const char *opt, const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || errno || v > max || *s == '-') {
        fprintf(stderr, "rotor lab: %s wants a number up to %llu, got '%s'\n", opt, max, s);
        return -1;
    }
    *out = v;
    return 0;
}

static void list_presets(void)
{
    size_t n;
    const lab_preset *p = lab_presets(&n);
    for (size_t i = 0; i < n; i++)
        printf("%-16s %s\n", p[i].name, p[i].summary);
}

int cli_lab(int argc, char **argv)
{
    enum {
        O_PROXIES = 1000, O_TARGETS, O_SCENARIO, O_SEED, O_PORT_BASE, O_POOL_OUT, O_STATE_OUT,
        O_USER, O_PASS, O_NO_AUTH, O_LIST, O_DURATION, O_QUIET, O_DRIVE, O_PROXY, O_REQUESTS,
        O_CONCURRENCY, O_TIMEOUT, O_SUMMARY, O_TITLE, O_PROGRESS, O_NO_PROGRESS, O_HELP, O_PROXY_TLS,
    };
    static const struct option longopts[] = {
        { "proxies", required_argument, NULL, O_PROXIES },
        { "targets", required_argument, NULL, O_TARGETS },
        { "scenario", required_argument, NULL, O_SCENARIO },
        { "seed", required_argument, NULL, O_SEED },
        { "port-base", required_argument, NULL, O_PORT_BASE },
        { "pool-out", required_argument, NULL, O_POOL_OUT },
        { "state-out", required_argument, NULL, O_STATE_OUT },
        { "user", required_argument, NULL, O_USER },
        { "pass", required_argument, NULL, O_PASS },
        { "no-auth", no_argument, NULL, O_NO_AUTH },
        { "proxy-tls", no_argument, NULL, O_PROXY_TLS },
        { "list", no_argument, NULL, O_LIST },
        { "duration", required_argument, NULL, O_DURATION },
        { "quiet", no_argument, NULL, O_QUIET },
        { "drive", required_argument, NULL, O_DRIVE },
        { "proxy", required_argument, NULL, O_PROXY },
        { "requests", required_argument, NULL, O_REQUESTS },
        { "concurrency", required_argument, NULL, O_CONCURRENCY },
        { "timeout-ms", required_argument, NULL, O_TIMEOUT },
        { "summary-json", required_argument, NULL, O_SUMMARY },
        { "title", required_argument, NULL, O_TITLE },
        { "progress", no_argument, NULL, O_PROGRESS },
        { "no-progress", no_argument, NULL, O_NO_PROGRESS },
        { "help", no_argument, NULL, O_HELP },
        { NULL, 0, NULL, 0 },
    };
    lab_opts o = { .seed = 1 };
    lab_drive_opts d = { .progress = -1 };
    bool list = false;
    unsigned long long v = 0;
    optind = 1;
    opterr = 1;
    for (;;) {
        int c = getopt_long(argc, argv, "h", longopts, NULL);
        if (c == -1)
            break;
        switch (c) {
        case O_PROXIES:
            if (num("--proxies", optarg, LAB_MAX_PROXIES, &v))
                return 2;
            if (v == 0) {
                fprintf(stderr, "rotor lab: --proxies wants at least 1\n");
                return 2;
            }
            o.nproxies = (size_t)v;
            break;
        case O_TARGETS:
            if (num("--targets", optarg, LAB_MAX_HOSTS, &v))
                return 2;
            o.ntargets = (size_t)v;
            break;
        case O_SCENARIO: o.scenario = optarg; break;
        case O_SEED:
            if (num("--seed", optarg, ULLONG_MAX, &v))
                return 2;
            o.seed = v;
            break;
        case O_PORT_BASE:
            if (num("--port-base", optarg, 65535, &v))
                return 2;
            o.port_base = (int)v;
            break;
        case O_POOL_OUT: o.pool_out = optarg; break;
        case O_STATE_OUT: o.state_out = optarg; break;
        case O_USER: o.user = optarg; break;
        case O_PASS: o.pass = optarg; break;
        case O_NO_AUTH: o.no_auth = true; break;
        case O_PROXY_TLS: o.proxy_tls = true; break;
        case O_LIST: list = true; break;
        case O_DURATION:
            if (num("--duration", optarg, 86400 * 365, &v))
                return 2;
            o.duration_s = (uint32_t)v;
            break;
        case O_QUIET: o.quiet = true; break;
        case O_DRIVE: d.urls = optarg; break;
        case O_PROXY: d.proxy = optarg; break;
        case O_REQUESTS:
            if (num("--requests", optarg, 100000000, &v))
                return 2;
            d.requests = (uint32_t)v;
            break;
        case O_CONCURRENCY:
            if (num("--concurrency", optarg, 10000, &v))
                return 2;
            d.concurrency = (uint32_t)v;
            break;
        case O_TIMEOUT:
            if (num("--timeout-ms", optarg, 3600000, &v))
                return 2;
            d.timeout_ms = (uint32_t)v;
            break;
        case O_SUMMARY: d.summary_json = optarg; break;
        case O_TITLE: d.title = optarg; break;
        case O_PROGRESS: d.progress = 1; break;
        case O_NO_PROGRESS: d.progress = 0; break;
        case 'h':
        case O_HELP:
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "rotor lab: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (list) {
        list_presets();
        return 0;
    }
    if (d.urls) {
        if (!d.proxy) {
            fprintf(stderr, "rotor lab: --drive needs --proxy URL\n");
            return 2;
        }
        return lab_drive(&d);
    }
    if ((o.user || o.pass) && o.no_auth) {
        fprintf(stderr, "rotor lab: --no-auth and --user/--pass exclude each other\n");
        return 2;
    }
    return lab_run(&o);
}
