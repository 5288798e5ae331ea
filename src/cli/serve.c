/* rotor serve: flags -> gw_config -> gw_run. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "gateway/gw.h"

static const char help[] =
"usage: rotor serve [OPTIONS]\n"
"\n"
"Run the gateway: an HTTP forward proxy (absolute-form requests and CONNECT\n"
"tunnels) that sends every request through an upstream proxy from the pool,\n"
"attributes every failure to a layer and retries what can be retried.\n"
"\n"
"Listening\n"
"  --listen ADDR:PORT      where clients connect (default 127.0.0.1:8899). Any\n"
"                          address other than loopback needs --auth or --allow-open.\n"
"  --auth USER:PASS        require these credentials from clients (Proxy-Authorization,\n"
"                          Basic); others get 407.\n"
"  --allow-open            allow a non-loopback listener without --auth (only behind\n"
"                          a firewall: anyone who reaches it can spend your pool).\n"
"  --connect-ports LIST    ports CONNECT may reach, e.g. 443,8443,9000-9100 (default:\n"
"                          any port except mail and news ports 25,465,587,...).\n"
"  --allow-clients LIST    client networks that may connect, e.g. 10.0.0.0/8,::1;\n"
"                          others are closed at accept (default: any client).\n"
"  --max-clients N         open client connections before new ones get 503 (10000).\n"
"  --threads N             event-loop threads sharing the port (default: one per core).\n"
"\n"
"Pool\n"
"  --pool FILE             upstream proxies, one a line (default: one `direct` entry):\n"
"                            http://user:pass@host:port   user:pass@host:port\n"
"                            host:port:user:pass          host:port        direct\n"
"                            https://user:pass@host[:port] (TLS to the proxy, port 443)\n"
"                          each optionally followed by ' #label'. Percent-encode\n"
"                          @ : # in URL credentials (%40 %3A %23). SIGHUP reloads it;\n"
"                          a bad file is reported and the old pool kept.\n"
"  --fallback-pool FILE    a pool to use for a domain when the ones before it are\n"
"                          exhausted for that domain (bans, ejections, quarantines);\n"
"                          repeat for more (at most 4), e.g. datacenter first with\n"
"                          --pool, residential next with --fallback-pool.\n"
"  --fallback-cooldown MS  a domain on a fallback pool retries the primary after this\n"
"                          (300000).\n"
"  --max-inflight N        requests in flight per upstream entry; more wait for a free\n"
"                          entry within the request's deadline (0: no limit).\n"
"  --domain-concurrency N  requests in flight per target domain, all threads (0: none);\n"
"                          rotor also lowers it by itself when bans and pauses take\n"
"                          half of the pool for a domain.\n"
"  --domain-rate R         requests per second started per domain, all threads (0: none).\n"
"  --health-check URL      fetch URL through every entry each --health-interval; an\n"
"                          entry whose own hop fails twice is quarantined until it\n"
"                          passes again (a failing target changes nothing).\n"
"  --health-interval MS    time between health-check rounds (30000).\n"
"  --signatures FILE       extra response signatures (docs/errors.md), tried before the\n"
"                          built-in ones; reloaded with the pool on SIGHUP.\n"
"  --upstream-ca FILE      also trust the CA certificates in FILE (PEM) for https://\n"
"                          proxies, besides the system store.\n"
"  --upstream-insecure     do not verify https:// proxies' certificates (tests only:\n"
"                          anyone on the path could read the proxy credentials).\n"
"  --dns-server ADDR[:PORT] resolve host names with this server instead of those in\n"
"                          /etc/resolv.conf (/etc/hosts still applies).\n"
"  --rotation MODE         round-robin (default), random, least-inflight.\n"
"                          A request with header 'X-Rotor-Session: ID' sticks to one\n"
"                          upstream (and fills {session} in backconnect usernames).\n"
"\n"
"Attempts and time limits (milliseconds)\n"
"  --max-attempts N        attempts per request, the first included (default 4).\n"
"  --connect-timeout MS    DNS, TCP connect and (https:// proxies) TLS handshake to\n"
"                          the next hop (10000).\n"
"  --read-timeout MS       waiting for a response head, and any silence in a body (30000).\n"
"  --request-timeout MS    the whole request, all attempts together (120000).\n"
"  --header-timeout MS     a client must send its request head within this (15000).\n"
"  --idle-timeout MS       keep-alive client connection with no request (60000).\n"
"  --tunnel-idle MS        CONNECT tunnel with no bytes either way (300000).\n"
"  --drain-timeout MS      after SIGTERM, how long in-flight requests may finish (10000).\n"
"  --max-replay BYTES      request body kept to resend on a retry (1048576).\n"
"  --hold-bytes BYTES      responses up to this size are held until complete, so a\n"
"                          body cut mid-way is retried unseen (65536; 0: never hold).\n"
"  --max-header-bytes N    request or response head (65536; over it: 431).\n"
"  --max-line-bytes N      request line (8192; over it: 414).\n"
"\n"
"Healing policies (docs/resilience.md)\n"
"  --retries N             retries per request for each transient class (3).\n"
"  --retry-non-idempotent  also resend POST/PATCH after the target may have seen them.\n"
"  --backoff-base MS       first backoff wait ceiling; doubles per retry (2000).\n"
"  --backoff-cap MS        longest backoff wait (30000).\n"
"  --budget-ratio R        retries may add at most this share of requests (0.2).\n"
"  --budget-min N          retries always allowed per 10 s window (10).\n"
"  --breaker-threshold P   a domain's breaker opens above P%% failed attempts (30;\n"
"                          100 disables breakers).\n"
"  --breaker-window MS     the sliding window it judges (300000).\n"
"  --breaker-min N         attempts in the window before it may open (20).\n"
"  --breaker-cooldown MS   first open period; doubles on repeated trips (30000).\n"
"  --eject-after N         consecutive failures of a proxy before ejection (5).\n"
"  --eject-time MS         first ejection length; grows with repeats (30000).\n"
"  --max-ejected P         at most P%% of the pool ejected at once (50).\n"
"  --quarantine-time MS    how long a misconfigured entry stays out (1800000).\n"
"  --ban-ttl MS            how long an exit stays banned for a domain (600000).\n"
"\n"
"Output\n"
"  --log FILE|-            JSON-lines access log, one record per request ('-': stdout).\n"
"  --quiet                 no status line on a terminal (by default, when stderr is a\n"
"                          terminal, a line with req/s, success rate, retries and the\n"
"                          top failure every 5 s while requests flow).\n"
"\n"
"Admin (off unless --admin is given)\n"
"  --admin ADDR:PORT       serve the dashboard (/), Prometheus metrics (/metrics) and\n"
"                          the JSON API (/api/v1/, docs/api.md), e.g. 127.0.0.1:8898.\n"
"                          Any address other than loopback needs --admin-auth.\n"
"  --admin-auth USER:PASS  require these credentials (HTTP Basic) on the admin server.\n"
"\n"
"Configuration file\n"
"  --config FILE           read settings from FILE first: one per line, the flag's name\n"
"                          without dashes and its value ('pool /etc/rotor/pool.txt',\n"
"                          'retry-non-idempotent'); '#' starts a comment. Flags on the\n"
"                          command line win over the file.\n"
"\n"
"Signals: SIGHUP reloads the pool and signatures and reopens the log;\n"
"SIGTERM/SIGINT stop accepting, close idle connections, let in-flight requests\n"
"finish (--drain-timeout at most) and exit 0.\n"
"\n"
"Responses rotor generates carry X-Rotor-Error, X-Rotor-Origin, X-Rotor-Attempts,\n"
"Via and Proxy-Status (RFC 9209); passed-through responses carry X-Rotor-Origin:\n"
"target and X-Rotor-Attempts. docs/errors.md lists every error code and its fix.\n"
"\n"
"example:\n"
"  rotor serve --pool pool.txt --log access.log &\n"
"  curl -x http://127.0.0.1:8899 https://example.com/\n";

enum {
    O_LISTEN = 256, O_POOL, O_LOG, O_AUTH, O_ALLOW_OPEN, O_ROTATION, O_THREADS, O_CONNECT_TIMEOUT, O_READ_TIMEOUT,
    O_REQUEST_TIMEOUT, O_HEADER_TIMEOUT, O_IDLE_TIMEOUT, O_TUNNEL_IDLE, O_MAX_ATTEMPTS, O_MAX_REPLAY,
    O_MAX_HEADER, O_MAX_LINE, O_MAX_CLIENTS, O_CONNECT_PORTS, O_QUIET, O_HELP, O_SIGNATURES, O_HOLD_BYTES, O_RETRIES, O_RETRY_NON_IDEMPOTENT, O_BACKOFF_BASE,
    O_BACKOFF_CAP, O_BUDGET_RATIO, O_BUDGET_MIN, O_BREAKER_THRESHOLD, O_BREAKER_WINDOW, O_BREAKER_MIN,
    O_BREAKER_COOLDOWN, O_EJECT_AFTER, O_EJECT_TIME, O_MAX_EJECTED, O_QUARANTINE_TIME, O_BAN_TTL, O_CONFIG, O_FALLBACK_POOL, O_FALLBACK_COOLDOWN, O_MAX_INFLIGHT, O_DOMAIN_CONCURRENCY, O_DOMAIN_RATE, O_ADMIN, O_ADMIN_AUTH,
    O_DRAIN_TIMEOUT, O_ALLOW_CLIENTS, O_DNS_SERVER, O_HEALTH_CHECK, O_HEALTH_INTERVAL, O_UPSTREAM_CA,
    O_UPSTREAM_INSECURE,
};

static const struct option opts[] = {
    { "listen", required_argument, 0, O_LISTEN },
    { "pool", required_argument, 0, O_POOL },
    { "log", required_argument, 0, O_LOG },
    { "auth", required_argument, 0, O_AUTH },
    { "allow-open", no_argument, 0, O_ALLOW_OPEN },
    { "rotation", required_argument, 0, O_ROTATION },
    { "threads", required_argument, 0, O_THREADS },
    { "connect-timeout", required_argument, 0, O_CONNECT_TIMEOUT },
    { "read-timeout", required_argument, 0, O_READ_TIMEOUT },
    { "request-timeout", required_argument, 0, O_REQUEST_TIMEOUT },
    { "header-timeout", required_argument, 0, O_HEADER_TIMEOUT },
    { "idle-timeout", required_argument, 0, O_IDLE_TIMEOUT },
    { "tunnel-idle", required_argument, 0, O_TUNNEL_IDLE },
    { "drain-timeout", required_argument, 0, O_DRAIN_TIMEOUT },
    { "max-attempts", required_argument, 0, O_MAX_ATTEMPTS },
    { "max-replay", required_argument, 0, O_MAX_REPLAY },
    { "max-header-bytes", required_argument, 0, O_MAX_HEADER },
    { "max-line-bytes", required_argument, 0, O_MAX_LINE },
    { "max-clients", required_argument, 0, O_MAX_CLIENTS },
    { "connect-ports", required_argument, 0, O_CONNECT_PORTS },
    { "allow-clients", required_argument, 0, O_ALLOW_CLIENTS },
    { "dns-server", required_argument, 0, O_DNS_SERVER },
    { "upstream-ca", required_argument, 0, O_UPSTREAM_CA },
    { "upstream-insecure", no_argument, 0, O_UPSTREAM_INSECURE },
    { "quiet", no_argument, 0, O_QUIET },
    { "signatures", required_argument, 0, O_SIGNATURES },
    { "hold-bytes", required_argument, 0, O_HOLD_BYTES },
    { "retries", required_argument, 0, O_RETRIES },
    { "retry-non-idempotent", no_argument, 0, O_RETRY_NON_IDEMPOTENT },
    { "backoff-base", required_argument, 0, O_BACKOFF_BASE },
    { "backoff-cap", required_argument, 0, O_BACKOFF_CAP },
    { "budget-ratio", required_argument, 0, O_BUDGET_RATIO },
    { "budget-min", required_argument, 0, O_BUDGET_MIN },
    { "breaker-threshold", required_argument, 0, O_BREAKER_THRESHOLD },
    { "breaker-window", required_argument, 0, O_BREAKER_WINDOW },
    { "breaker-min", required_argument, 0, O_BREAKER_MIN },
    { "breaker-cooldown", required_argument, 0, O_BREAKER_COOLDOWN },
    { "eject-after", required_argument, 0, O_EJECT_AFTER },
    { "eject-time", required_argument, 0, O_EJECT_TIME },
    { "max-ejected", required_argument, 0, O_MAX_EJECTED },
    { "quarantine-time", required_argument, 0, O_QUARANTINE_TIME },
    { "ban-ttl", required_argument, 0, O_BAN_TTL },
    { "config", required_argument, 0, O_CONFIG },
    { "health-check", required_argument, 0, O_HEALTH_CHECK },
    { "health-interval", required_argument, 0, O_HEALTH_INTERVAL },
    { "fallback-pool", required_argument, 0, O_FALLBACK_POOL },
    { "fallback-cooldown", required_argument, 0, O_FALLBACK_COOLDOWN },
    { "max-inflight", required_argument, 0, O_MAX_INFLIGHT },
    { "domain-concurrency", required_argument, 0, O_DOMAIN_CONCURRENCY },
    { "domain-rate", required_argument, 0, O_DOMAIN_RATE },
    { "admin", required_argument, 0, O_ADMIN },
    { "admin-auth", required_argument, 0, O_ADMIN_AUTH },
    { "help", no_argument, 0, O_HELP },
    { 0, 0, 0, 0 },
};

#define MS_MAX 86400000ul /* a day: the ceiling of every time setting */

/* Parse a whole decimal number in [lo, hi]; on error print which flag and exit 2. */
static unsigned long num(const char *flag, const char *s, unsigned long lo, unsigned long hi)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) {
        fprintf(stderr, "rotor serve: --%s '%s': expected a whole number from %lu to %lu\n", flag, s, lo, hi);
        exit(2);
    }
    return v;
}

static double ratio(const char *flag, const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !(v >= 0.0 && v <= 10.0)) {
        fprintf(stderr, "rotor serve: --%s '%s': expected a number from 0 to 10, e.g. 0.2\n", flag, s);
        exit(2);
    }
    return v;
}

/* Apply one option to the configuration. Returns 0, 1 for --help, 2 on a
 * usage error (already reported). */
static int apply(gw_config *c, int o, const char *arg, const char **config_path)
{
    gw_policy_cfg *pc = &c->policy;
    switch (o) {
    case O_LISTEN: c->listen = arg; break;
    case O_POOL: c->pool_path = arg; break;
    case O_LOG: c->log_path = arg; break;
    case O_AUTH: c->auth = arg; break;
    case O_ALLOW_OPEN: c->allow_open = true; break;
    case O_ROTATION:
        if (rt_pick_mode_parse(arg, &c->rotation) != 0) {
            fprintf(stderr, "rotor serve: --rotation '%s': use round-robin, random or least-inflight\n", arg);
            return 2;
        }
        break;
    case O_THREADS: c->threads = (unsigned)num("threads", arg, 1, 256); break;
    case O_CONNECT_TIMEOUT: c->connect_timeout_ms = (unsigned)num("connect-timeout", arg, 1, MS_MAX); break;
    case O_READ_TIMEOUT: c->read_timeout_ms = (unsigned)num("read-timeout", arg, 1, MS_MAX); break;
    case O_REQUEST_TIMEOUT: c->request_timeout_ms = (unsigned)num("request-timeout", arg, 1, MS_MAX); break;
    case O_HEADER_TIMEOUT: c->header_timeout_ms = (unsigned)num("header-timeout", arg, 1, MS_MAX); break;
    case O_IDLE_TIMEOUT: c->idle_timeout_ms = (unsigned)num("idle-timeout", arg, 1, MS_MAX); break;
    case O_TUNNEL_IDLE: c->tunnel_idle_ms = (unsigned)num("tunnel-idle", arg, 1, MS_MAX); break;
    case O_MAX_ATTEMPTS: c->max_attempts = (unsigned)num("max-attempts", arg, 1, 8); break;
    case O_MAX_REPLAY: c->max_replay_bytes = num("max-replay", arg, 0, 1ul << 30); break;
    case O_MAX_HEADER: c->max_head_bytes = num("max-header-bytes", arg, 1024, 1ul << 20); break;
    case O_MAX_LINE: c->max_line_bytes = num("max-line-bytes", arg, 256, 1ul << 20); break;
    case O_MAX_CLIENTS: c->max_clients = (unsigned)num("max-clients", arg, 1, 1000000); break;
    case O_CONNECT_PORTS: c->connect_ports = arg; break;
    case O_QUIET: c->quiet = true; break;
    case O_SIGNATURES: c->signatures_path = arg; break;
    case O_DRAIN_TIMEOUT: c->drain_timeout_ms = (unsigned)num("drain-timeout", arg, 0, MS_MAX); break;
    case O_ALLOW_CLIENTS: c->allow_clients = arg; break;
    case O_DNS_SERVER: c->dns_server = arg; break;
    case O_UPSTREAM_CA: c->upstream_ca = arg; break;
    case O_UPSTREAM_INSECURE: c->upstream_insecure = true; break;
    case O_HEALTH_CHECK: c->health_url = arg; break;
    case O_HEALTH_INTERVAL: c->health_interval_ms = (unsigned)num("health-interval", arg, 100, MS_MAX); break;
    case O_ADMIN: c->admin = arg; break;
    case O_ADMIN_AUTH: c->admin_auth = arg; break;
    case O_HOLD_BYTES: c->hold_bytes = num("hold-bytes", arg, 0, 16ul << 20); break;
    case O_RETRIES: {
        uint8_t n = (uint8_t)num("retries", arg, 0, 8);
        pc->retry.limit[RT_CLASS_RETRY_NOW] = pc->retry.limit[RT_CLASS_BACKOFF] = n;
        pc->retry.limit[RT_CLASS_ROTATE] = pc->retry.limit[RT_CLASS_FIX] = n;
        break;
    }
    case O_RETRY_NON_IDEMPOTENT: pc->retry.retry_non_idempotent = true; break;
    case O_BACKOFF_BASE: pc->retry.backoff.base_ms = (uint32_t)num("backoff-base", arg, 1, MS_MAX); break;
    case O_BACKOFF_CAP: pc->retry.backoff.cap_ms = (uint32_t)num("backoff-cap", arg, 1, MS_MAX); break;
    case O_BUDGET_RATIO: pc->budget.ratio = ratio("budget-ratio", arg); break;
    case O_BUDGET_MIN: pc->budget.min_retries = (uint32_t)num("budget-min", arg, 0, 1000000); break;
    case O_BREAKER_THRESHOLD: pc->breaker.failure_pct = (uint32_t)num("breaker-threshold", arg, 1, 100); break;
    case O_BREAKER_WINDOW: pc->breaker.window_ms = (uint32_t)num("breaker-window", arg, 1000, MS_MAX); break;
    case O_BREAKER_MIN: pc->breaker.min_requests = (uint32_t)num("breaker-min", arg, 1, 1000000); break;
    case O_BREAKER_COOLDOWN: pc->breaker.cooldown_ms = (uint32_t)num("breaker-cooldown", arg, 1, MS_MAX); break;
    case O_EJECT_AFTER: pc->outlier.consecutive = (uint32_t)num("eject-after", arg, 1, 1000000); break;
    case O_EJECT_TIME: pc->outlier.base_ms = (uint32_t)num("eject-time", arg, 1, MS_MAX); break;
    case O_MAX_EJECTED: pc->outlier.max_ejected_pct = (uint32_t)num("max-ejected", arg, 0, 100); break;
    case O_QUARANTINE_TIME: pc->outlier.quarantine_ms = (uint32_t)num("quarantine-time", arg, 1, MS_MAX); break;
    case O_FALLBACK_POOL:
        if (c->nfallbacks >= GW_MAX_FALLBACKS) {
            fprintf(stderr, "rotor serve: at most %d --fallback-pool files\n", GW_MAX_FALLBACKS);
            return 2;
        }
        c->fallback_paths[c->nfallbacks++] = arg;
        break;
    case O_FALLBACK_COOLDOWN: c->fallback_cooldown_ms = (unsigned)num("fallback-cooldown", arg, 1, MS_MAX); break;
    case O_MAX_INFLIGHT: c->max_inflight = (unsigned)num("max-inflight", arg, 0, 1000000); break;
    case O_DOMAIN_CONCURRENCY: c->domain_concurrency = (unsigned)num("domain-concurrency", arg, 0, 1000000); break;
    case O_DOMAIN_RATE: {
        char *end;
        c->domain_rate = strtod(arg, &end);
        if (!*arg || *end || !(c->domain_rate >= 0 && c->domain_rate <= 100000)) {
            fprintf(stderr, "rotor serve: --domain-rate '%s': expected requests per second from 0 to 100000\n", arg);
            return 2;
        }
        break;
    }
    case O_BAN_TTL: pc->ban_ttl_ms = (uint32_t)num("ban-ttl", arg, 1, MS_MAX); break;
    case O_CONFIG:
        if (!config_path) {
            fprintf(stderr, "rotor serve: a configuration file cannot name another one (--config)\n");
            return 2;
        }
        *config_path = arg;
        break;
    case 'h':
    case O_HELP: return 1;
    default: fprintf(stderr, "rotor serve: see 'rotor serve --help'\n"); return 2;
    }
    return 0;
}

/* Read `name value` lines into the configuration. The strings stay
 * allocated for the life of the process (the configuration points at them). */
static int read_config(gw_config *c, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "rotor serve: cannot read configuration file '%s': %s\n", path, strerror(errno));
        return 2;
    }
    char line[4096];
    unsigned lineno = 0;
    int rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *name = strtok(line, " \t\r\n");
        if (!name)
            continue;
        char *value = strtok(NULL, "\r\n");
        while (value && (*value == ' ' || *value == '\t'))
            value++;
        if (value) {
            size_t n = strlen(value);
            while (n && (value[n - 1] == ' ' || value[n - 1] == '\t'))
                value[--n] = 0;
            if (!n)
                value = NULL;
        }
        const struct option *opt = NULL;
        for (const struct option *o = opts; o->name; o++)
            if (!strcmp(o->name, name))
                opt = o;
        if (!opt || opt->val == O_HELP) {
            fprintf(stderr, "rotor serve: %s:%u: unknown setting '%s' (settings are the flags of 'rotor serve --help' without dashes)\n",
                    path, lineno, name);
            rc = 2;
        } else if ((opt->has_arg == required_argument) != (value != NULL)) {
            fprintf(stderr, "rotor serve: %s:%u: '%s' %s\n", path, lineno, name,
                    value ? "takes no value" : "needs a value");
            rc = 2;
        } else {
            char *kept = value ? strdup(value) : NULL;
            if (value && !kept) {
                fprintf(stderr, "rotor serve: out of memory reading '%s'\n", path);
                rc = 2;
            } else if ((rc = apply(c, opt->val, kept, NULL)) == 1) {
                rc = 2;
            } else if (rc) {
                fprintf(stderr, "rotor serve: (in %s:%u)\n", path, lineno);
            }
        }
    }
    fclose(f);
    return rc;
}

int cli_serve(int argc, char **argv)
{
    gw_config c;
    gw_config_defaults(&c);
    const char *config_path = NULL;
    int o;
    /* The command line is read twice: first only for --config (and
     * --help), so the file's settings come first and the flags override. */
    opterr = 0;
    optind = 0;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (o == O_CONFIG)
            config_path = optarg;
        else if (o == 'h' || o == O_HELP) {
            fputs(help, stdout);
            return 0;
        }
    }
    if (config_path && read_config(&c, config_path) != 0)
        return 2;
    opterr = 1;
    optind = 0;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        const char *ignored;
        int rc = apply(&c, o, optarg, &ignored);
        if (rc == 1) {
            fputs(help, stdout);
            return 0;
        }
        if (rc)
            return rc;
    }
    if (optind < argc) {
        fprintf(stderr, "rotor serve: unexpected argument '%s' (see 'rotor serve --help')\n", argv[optind]);
        return 2;
    }
    if (c.admin_auth && !c.admin) {
        fprintf(stderr, "rotor serve: --admin-auth needs --admin ADDR:PORT\n");
        return 2;
    }
    if (c.max_line_bytes > c.max_head_bytes)
        c.max_line_bytes = c.max_head_bytes;
    if (c.policy.retry.backoff.cap_ms < c.policy.retry.backoff.base_ms)
        c.policy.retry.backoff.cap_ms = c.policy.retry.backoff.base_ms;
    return gw_run(&c);
}
