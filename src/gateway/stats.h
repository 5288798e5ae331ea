/* Statistics of `rotor serve` for the admin plane (metrics, JSON API,
 * dashboard, the terminal status line).
 *
 * Every worker owns one gw_wstats. Three kinds of data live in it:
 *
 *   counters   written by the worker at the end of each request (one
 *              writer: a relaxed load and store, no lock, no atomic
 *              read-modify-write), read at any time by other threads with
 *              relaxed loads. Totals are merged at read time.
 *   snapshot   policy state (ejections, quarantines, bans, breakers, the
 *              retry budget) and the recent failures. The worker copies it
 *              from its private state under the worker's `mu` on a periodic
 *              tick (GW_STATS_TICK_MS) and right after applying commands;
 *              the admin thread reads it under the same mutex. The request
 *              path never takes `mu`.
 *   commands   operator actions (quarantine, readmit, domain reset,
 *              reload) queued by the admin thread under `mu`; the worker
 *              applies them on its own thread when the event fires, so a
 *              policy shard is only ever touched by its worker.
 *
 * Per-upstream counters are kept for the first GW_STATS_UP_MAX entries of
 * the pool generation the worker last saw; requests that began on an older
 * generation count in the totals only. A reload starts per-upstream
 * counters from zero (Prometheus treats that as a counter reset). */
#ifndef ROTOR_GATEWAY_STATS_H
#define ROTOR_GATEWAY_STATS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/errors/vocab.h"
#include "core/policy/domains.h"
#include "core/pool/upstream.h"

#define GW_HIST_BUCKETS 14        /* finite histogram bounds, +Inf is extra */
#define GW_STATS_UP_MAX 2048      /* pool entries with per-upstream counters */
#define GW_STATS_ERR_RING 256     /* recent failures kept per worker */
#define GW_STATS_DOMAINS 64       /* domains in each worker's snapshot */
#define GW_STATS_TICK_MS 250      /* snapshot refresh period */
#define GW_STATS_BAN_SCAN_TICKS 4 /* ban tables are scanned every 4th tick */
#define GW_CMD_QUEUE 16           /* queued operator commands per worker */
#define GW_CMD_ARG 256            /* label or domain name of a command */
#define GW_ERR_URL 256
#define GW_ERR_LABEL (RT_UP_LABEL_MAX + RT_UP_LABEL_SUFFIX_MAX + 1)
#define GW_ERR_EVIDENCE 192
#define GW_QCODE_OPERATOR 0xffffu /* quarantine reason: the operator's request */

typedef struct gw_server gw_server;
typedef struct gw_worker gw_worker;
typedef struct gw_client gw_client;
typedef struct gw_pool gw_pool;

/* Upper bounds of the duration histograms, milliseconds. */
extern const uint32_t gw_hist_bounds_ms[GW_HIST_BUCKETS];

typedef _Atomic uint64_t gw_ctr;

/* Single-writer counter: only the owning worker adds. */
static inline void gw_ctr_add(gw_ctr *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

static inline uint64_t gw_ctr_get(const gw_ctr *c)
{
    return atomic_load_explicit((gw_ctr *)c, memory_order_relaxed);
}

/* b[i] counts observations <= gw_hist_bounds_ms[i] and > the bound before
 * (not cumulative); b[GW_HIST_BUCKETS] is everything above. */
typedef struct gw_hist {
    gw_ctr b[GW_HIST_BUCKETS + 1];
    gw_ctr sum_ms;
} gw_hist;

typedef struct gw_up_ctr {
    gw_ctr attempts, failures;
    gw_ctr code[RT_E__COUNT];
    gw_ctr lat[GW_HIST_BUCKETS + 1];
} gw_up_ctr;

/* Policy state of one pool entry in one worker's shard, as of a tick. */
typedef struct gw_up_snap {
    bool ejected, quarantined;
    uint16_t qcode;          /* rt_code, or GW_QCODE_OPERATOR */
    uint32_t bans;           /* live (exit, domain) bans of this entry */
} gw_up_snap;

typedef struct gw_up_table {
    uint64_t gen;            /* pool generation it is sized for */
    size_t n;                /* entries tracked: min(pool size, GW_STATS_UP_MAX) */
    gw_up_ctr *ctr;          /* owned, n entries */
    gw_up_snap *snap;        /* owned, n entries; under mu */
    bool snap_valid;         /* the outlier shard matched gen at the last tick */
} gw_up_table;

/* One failed request, for /api/v1/errors. */
typedef struct gw_err_rec {
    uint64_t time_ms;        /* wall clock, Unix ms, when the request ended */
    uint16_t code;
    uint16_t attempts;
    int status;
    uint32_t ms;             /* request duration */
    char method[16];
    char url[GW_ERR_URL];
    char upstream[GW_ERR_LABEL]; /* last attempt's upstream label, or "" */
    char evidence[GW_ERR_EVIDENCE];
} gw_err_rec;

/* One domain of one worker's breaker shard, as of a tick. */
typedef struct gw_dom_snap {
    char name[RT_DOMAIN_NAME_MAX + 1];
    uint64_t hash;
    uint32_t outcomes, failures; /* in the breaker's window */
    uint8_t state;               /* rt_breaker_state at the tick */
    uint32_t wait_ms;            /* open: cooldown left; paused: pacing left */
    bool paused;
    uint32_t bans;               /* live bans of exits for this domain */
} gw_dom_snap;

typedef enum gw_cmd_kind {
    GW_CMD_QUARANTINE = 1,
    GW_CMD_READMIT,
    GW_CMD_DOMAIN_RESET,
    GW_CMD_RELOAD,           /* worker 0 only */
} gw_cmd_kind;

typedef struct gw_cmd {
    gw_cmd_kind kind;
    uint64_t seq;
    char arg[GW_CMD_ARG];
} gw_cmd;

/* What one worker did with commands up to seq_done. */
typedef struct gw_cmd_result {
    uint64_t seq;
    int found;               /* the label/domain existed in this shard */
    int rc;                  /* reload: 0 or -1 */
    char detail[640];        /* reload: what happened */
} gw_cmd_result;

typedef struct gw_wstats {
    /* Counters: single writer (the worker), relaxed readers. */
    gw_ctr req[RT_E__COUNT];     /* requests by final code */
    gw_ctr req_ok_local;         /* ok requests without any attempt */
    gw_ctr att[RT_E__COUNT];     /* attempts by code */
    gw_ctr retries;
    gw_ctr bytes_in, bytes_out;
    gw_hist req_hist, att_hist;

    /* Private to the worker. */
    gw_up_table *up;             /* read by the worker freely; swapped under mu */
    gw_err_rec *priv;            /* GW_STATS_ERR_RING recent failures */
    uint64_t priv_n, priv_copied;
    unsigned ticks;
    struct event *tick_ev;

    /* Shared under mu. */
    pthread_mutex_t mu;
    pthread_cond_t cmd_done;
    gw_err_rec *ring;            /* GW_STATS_ERR_RING, filled from priv at ticks */
    uint64_t ring_n;
    gw_dom_snap dom[GW_STATS_DOMAINS];
    unsigned ndom;
    uint32_t domains_tracked, domains_open, domains_half_open;
    uint64_t bans_live, pauses_live;
    uint64_t budget_retries, budget_allowed;
    uint64_t snap_ms;            /* monotonic time of the last refresh, 0: none yet */
    gw_cmd q[GW_CMD_QUEUE];
    unsigned nq;
    uint64_t seq_queued;
    gw_cmd_result res;           /* the last command applied */
} gw_wstats;

/* Allocate the worker's statistics. ticks: refresh snapshots periodically
 * (only needed when the admin server runs). Returns 0 or -1 with err. */
int gw_stats_worker_init(gw_worker *w, bool ticks, char *err, size_t errlen);
void gw_stats_worker_free(gw_worker *w);
/* In the worker's loop, when its mailbox wakes it: run queued commands. */
void gw_stats_take_commands(gw_worker *w);
/* The end of a request (called from the access-log record): count it. */
void gw_stats_request(const gw_client *c);

/* ==== Reading, from any thread ==== */

typedef struct gw_totals {
    uint64_t req[RT_E__COUNT];
    uint64_t req_ok_local;
    uint64_t att[RT_E__COUNT];
    uint64_t retries, bytes_in, bytes_out;
    uint64_t req_hist[GW_HIST_BUCKETS + 1], req_sum_ms;
    uint64_t att_hist[GW_HIST_BUCKETS + 1], att_sum_ms;
} gw_totals;

/* Sum of every worker's counters (lock-free). */
void gw_stats_totals(gw_server *s, gw_totals *t);

typedef struct gw_up_view_entry {
    uint32_t in_flight;
    uint64_t attempts, failures;
    uint64_t code[RT_E__COUNT];
    uint64_t lat[GW_HIST_BUCKETS + 1];
    unsigned ejected, quarantined; /* in how many worker shards */
    uint16_t qcode;
    uint32_t bans;
    bool tracked;                  /* within GW_STATS_UP_MAX */
} gw_up_view_entry;

typedef struct gw_up_view {
    gw_pool *pool;                 /* acquired; released by gw_up_view_free */
    size_t n;
    gw_up_view_entry *e;           /* owned, n entries */
} gw_up_view;

/* Per-upstream view of the current pool, merged over workers. Returns 0 or
 * -1 (out of memory). */
int gw_stats_upstreams(gw_server *s, gw_up_view *v);
void gw_up_view_free(gw_up_view *v);

typedef struct gw_policy_view {
    uint64_t budget_retries, budget_allowed;
    uint64_t bans_live, pauses_live;
    uint32_t domains_tracked;      /* summed over shards */
    gw_dom_snap *dom;              /* owned: merged by name, busiest first */
    size_t ndom;
} gw_policy_view;

/* Domains (merged by name: counts summed, the worst breaker state, bans
 * summed) and shard-wide policy figures. Returns 0 or -1. */
int gw_stats_policy(gw_server *s, gw_policy_view *v);
void gw_policy_view_free(gw_policy_view *v);

/* Up to max recent failures that ended after since_ms (wall clock), newest
 * first, into out. Returns how many. */
size_t gw_stats_errors(gw_server *s, uint64_t since_ms, gw_err_rec *out, size_t max);

/* Median estimate from a histogram (linear inside the bucket); 0 when empty. */
double gw_hist_quantile(const uint64_t *b, double q);

/* ==== Commands, from the admin thread ==== */

/* Queue a command on every worker (worker 0 only for GW_CMD_RELOAD) and
 * wait up to timeout_ms for all to apply it. Returns the number of workers
 * that applied it in time; *found counts shards that knew the label or
 * domain; for a reload, detail receives the outcome and *rc its code. */
unsigned gw_stats_command(gw_server *s, gw_cmd_kind kind, const char *arg, unsigned timeout_ms,
                          unsigned *found, int *rc, char *detail, size_t detail_len);

#endif
