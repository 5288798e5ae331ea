/* The gateway: `rotor serve`. The CLI fills a gw_config and calls gw_run. */
#ifndef ROTOR_GATEWAY_GW_H
#define ROTOR_GATEWAY_GW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pool/select.h"

typedef struct gw_config {
    const char *listen;          /* "127.0.0.1:8899" */
    const char *pool_path;       /* pool file; NULL means one `direct` entry */
    const char *log_path;        /* access log, "-" for stdout, NULL for none */
    const char *auth;            /* "user:pass" required from clients, or NULL */
    bool allow_open;             /* allow a non-loopback listener without auth */
    rt_pick_mode rotation;
    unsigned threads;            /* event-loop threads */
    unsigned connect_timeout_ms; /* TCP connect (and DNS) to the next hop */
    unsigned read_timeout_ms;    /* waiting for a response head, and idle gaps in bodies */
    unsigned request_timeout_ms; /* the client's whole request, all attempts included */
    unsigned header_timeout_ms;  /* a client must send a complete head within this */
    unsigned idle_timeout_ms;    /* keep-alive idle client connections */
    unsigned tunnel_idle_ms;     /* a CONNECT tunnel with no bytes either way */
    unsigned drain_timeout_ms;   /* SIGTERM: how long in-flight requests may finish */
    unsigned max_attempts;       /* attempts per request, first one included */
    size_t max_replay_bytes;     /* request body kept for retries */
    size_t max_head_bytes;       /* request/response head limit (431) */
    size_t max_line_bytes;       /* request line limit (414) */
    unsigned max_clients;        /* open client connections per process */
    const char *connect_ports;   /* NULL: any port but the deny list; else "443,8443,1000-2000" */
    const char *allow_clients;   /* NULL: any client; else "127.0.0.1/32,10.0.0.0/8,::1" */
    const char *dns_server;      /* "ADDR[:PORT]" instead of /etc/resolv.conf, or NULL */
    const char *signatures_path; /* extra signatures tried before the built-in ones, or NULL */
    bool quiet;
} gw_config;

void gw_config_defaults(gw_config *c);
/* Run until SIGTERM/SIGINT. Returns the process exit code; prints startup
 * errors (what, where, what to do) to stderr. */
int gw_run(const gw_config *c);

#endif
