/* rotor serve: flags -> gw_config -> gw_run. */
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
"  --threads N             event-loop threads (default 1).\n"
"\n"
"Pool\n"
"  --pool FILE             upstream proxies, one a line (default: one `direct` entry):\n"
"                            http://user:pass@host:port   user:pass@host:port\n"
"                            host:port:user:pass          host:port        direct\n"
"                          each optionally followed by ' #label'. Percent-encode\n"
"                          @ : # in URL credentials (%40 %3A %23). SIGHUP reloads it;\n"
"                          a bad file is reported and the old pool kept.\n"
"  --signatures FILE       extra response signatures (docs/errors.md), tried before the\n"
"                          built-in ones; reloaded with the pool on SIGHUP.\n"
"  --dns-server ADDR[:PORT] resolve host names with this server instead of those in\n"
"                          /etc/resolv.conf (/etc/hosts still applies).\n"
"  --rotation MODE         round-robin (default), random, least-inflight.\n"
"                          A request with header 'X-Rotor-Session: ID' sticks to one\n"
"                          upstream (and fills {session} in backconnect usernames).\n"
"\n"
"Attempts and time limits (milliseconds)\n"
"  --max-attempts N        attempts per request, the first included (default 4).\n"
"  --connect-timeout MS    TCP connect and DNS to the next hop (10000).\n"
"  --read-timeout MS       waiting for a response head, and any silence in a body (30000).\n"
"  --request-timeout MS    the whole request, all attempts together (120000).\n"
"  --header-timeout MS     a client must send its request head within this (15000).\n"
"  --idle-timeout MS       keep-alive client connection with no request (60000).\n"
"  --tunnel-idle MS        CONNECT tunnel with no bytes either way (300000).\n"
"  --drain-timeout MS      after SIGTERM, how long in-flight requests may finish (10000).\n"
"  --max-replay BYTES      request body kept to resend on a retry (1048576).\n"
"  --max-header-bytes N    request or response head (65536; over it: 431).\n"
"  --max-line-bytes N      request line (8192; over it: 414).\n"
"\n"
"Output\n"
"  --log FILE|-            JSON-lines access log, one record per request ('-': stdout).\n"
"  --quiet                 no status line on a terminal.\n"
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
    O_MAX_HEADER, O_MAX_LINE, O_MAX_CLIENTS, O_CONNECT_PORTS, O_QUIET, O_HELP, O_SIGNATURES,
    O_DRAIN_TIMEOUT, O_ALLOW_CLIENTS, O_DNS_SERVER,
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
    { "quiet", no_argument, 0, O_QUIET },
    { "signatures", required_argument, 0, O_SIGNATURES },
    { "help", no_argument, 0, O_HELP },
    { 0, 0, 0, 0 },
};

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

int cli_serve(int argc, char **argv)
{
    gw_config c;
    gw_config_defaults(&c);
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case O_LISTEN: c.listen = optarg; break;
        case O_POOL: c.pool_path = optarg; break;
        case O_LOG: c.log_path = optarg; break;
        case O_AUTH: c.auth = optarg; break;
        case O_ALLOW_OPEN: c.allow_open = true; break;
        case O_ROTATION:
            if (rt_pick_mode_parse(optarg, &c.rotation) != 0) {
                fprintf(stderr, "rotor serve: --rotation '%s': use round-robin, random or least-inflight\n", optarg);
                return 2;
            }
            break;
        case O_THREADS: c.threads = (unsigned)num("threads", optarg, 1, 256); break;
        case O_CONNECT_TIMEOUT: c.connect_timeout_ms = (unsigned)num("connect-timeout", optarg, 1, 3600000); break;
        case O_READ_TIMEOUT: c.read_timeout_ms = (unsigned)num("read-timeout", optarg, 1, 3600000); break;
        case O_REQUEST_TIMEOUT: c.request_timeout_ms = (unsigned)num("request-timeout", optarg, 1, 86400000); break;
        case O_HEADER_TIMEOUT: c.header_timeout_ms = (unsigned)num("header-timeout", optarg, 1, 3600000); break;
        case O_IDLE_TIMEOUT: c.idle_timeout_ms = (unsigned)num("idle-timeout", optarg, 1, 86400000); break;
        case O_TUNNEL_IDLE: c.tunnel_idle_ms = (unsigned)num("tunnel-idle", optarg, 1, 86400000); break;
        case O_DRAIN_TIMEOUT: c.drain_timeout_ms = (unsigned)num("drain-timeout", optarg, 0, 3600000); break;
        case O_MAX_ATTEMPTS: c.max_attempts = (unsigned)num("max-attempts", optarg, 1, 8); break;
        case O_MAX_REPLAY: c.max_replay_bytes = num("max-replay", optarg, 0, 1ul << 30); break;
        case O_MAX_HEADER: c.max_head_bytes = num("max-header-bytes", optarg, 1024, 1ul << 20); break;
        case O_MAX_LINE: c.max_line_bytes = num("max-line-bytes", optarg, 256, 1ul << 20); break;
        case O_MAX_CLIENTS: c.max_clients = (unsigned)num("max-clients", optarg, 1, 1000000); break;
        case O_CONNECT_PORTS: c.connect_ports = optarg; break;
        case O_ALLOW_CLIENTS: c.allow_clients = optarg; break;
        case O_DNS_SERVER: c.dns_server = optarg; break;
        case O_QUIET: c.quiet = true; break;
        case O_SIGNATURES: c.signatures_path = optarg; break;
        case 'h':
        case O_HELP: fputs(help, stdout); return 0;
        default: fprintf(stderr, "rotor serve: see 'rotor serve --help'\n"); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "rotor serve: unexpected argument '%s' (see 'rotor serve --help')\n", argv[optind]);
        return 2;
    }
    if (c.max_line_bytes > c.max_head_bytes)
        c.max_line_bytes = c.max_head_bytes;
    return gw_run(&c);
}
