/* The gateway: `rotor serve`. The CLI fills a gw_config and calls gw_run. */
#ifndef ROTOR_GATEWAY_GW_H
#define ROTOR_GATEWAY_GW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/policy/breaker.h"
#include "core/policy/budget.h"
#include "core/policy/outlier.h"
#include "core/policy/retry.h"
#include "core/pool/select.h"

/* The healing policies' settings (docs/resilience.md). */
typedef struct gw_policy_cfg {
    rt_retry_policy retry;
    rt_budget_cfg budget;
    rt_breaker_cfg breaker;
    rt_outlier_cfg outlier;
    uint32_t ban_ttl_ms;          /* how long an exit stays banned for a domain that blocked it */
} gw_policy_cfg;

#define GW_MAX_FALLBACKS 4

typedef struct gw_config {
    const char *listen;          /* "127.0.0.1:8899" */
    const char *pool_path;       /* pool file; NULL means one `direct` entry */
    const char *fallback_paths[GW_MAX_FALLBACKS]; /* fallback pools, tried in order */
    unsigned nfallbacks;
    unsigned fallback_cooldown_ms; /* a domain moved to a fallback pool retries the primary after this */
    unsigned max_inflight;       /* requests in flight per upstream entry (0: no limit) */
    unsigned domain_concurrency; /* requests in flight per target domain, all threads (0: no limit) */
    double domain_rate;          /* requests per second started per target domain, all threads (0: no limit) */
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
    size_t hold_bytes;           /* responses up to this Content-Length are held until whole,
                                  * so a cut body is retried instead of reaching the client */
    size_t max_head_bytes;       /* request/response head limit (431) */
    size_t max_line_bytes;       /* request line limit (414) */
    unsigned max_clients;        /* open client connections per process */
    const char *connect_ports;   /* NULL: any port but the deny list; else "443,8443,1000-2000" */
    const char *allow_clients;   /* NULL: any client; else "127.0.0.1/32,10.0.0.0/8,::1" */
    const char *dns_server;      /* "ADDR[:PORT]" instead of /etc/resolv.conf, or NULL */
    const char *signatures_path; /* extra signatures tried before the built-in ones, or NULL */
    const char *upstream_ca;     /* PEM CAs trusted for https:// upstreams besides the system store, or NULL */
    bool upstream_insecure;      /* do not verify https:// upstreams' certificates (warned at start) */
    const char *health_url;      /* active health checks through every entry, or NULL */
    unsigned health_interval_ms;
    gw_policy_cfg policy;
    const char *admin;           /* admin HTTP server "127.0.0.1:8898", or NULL for none */
    const char *admin_auth;      /* "user:pass" the admin server requires (Basic), or NULL */
    bool quiet;
} gw_config;

void gw_config_defaults(gw_config *c);
/* Run until SIGTERM/SIGINT. Returns the process exit code; prints startup
 * errors (what, where, what to do) to stderr. */
int gw_run(const gw_config *c);

#endif
