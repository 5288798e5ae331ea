/* Admin internals shared by the files of src/admin. Everything here runs on
 * the admin thread: it reads the workers' counters and snapshots through
 * gateway/stats.h and never touches a worker's own state. */
#ifndef ROTOR_ADMIN_ADM_INT_H
#define ROTOR_ADMIN_ADM_INT_H

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "admin/dashboard.h"
#include "core/errors/vocab.h"
#include "gateway/stats.h"
#include "io/addr.h"

#define ADM_HISTORY 300           /* seconds of per-second history kept */
#define ADM_STATUS_EVERY_S 5      /* terminal status line period */
#define ADM_MAX_CONNS 64          /* open admin connections */
#define ADM_MAX_HEAD 8192         /* admin request head */
#define ADM_MAX_BODY 65536        /* admin request body (read and ignored) */
#define ADM_IDLE_S 30             /* idle admin connection */
#define ADM_CMD_TIMEOUT_MS 3000   /* waiting for every worker to apply an action */
#define ADM_METRICS_UP_MAX 200    /* pools up to this size get per-upstream series */
#define ADM_METRICS_DOMAINS 20    /* domains with their own breaker series */
#define ADM_TOP_FAILURES 10
#define ADM_API_UPSTREAMS_MAX 1000
#define ADM_ORIGINS 6             /* rt_origin values */

typedef struct adm_point {
    uint64_t t_ms;                /* wall clock at the end of the second */
    uint32_t requests, ok, retries, attempts;
    uint32_t origin[ADM_ORIGINS]; /* failed requests by origin */
    uint32_t code[RT_E__COUNT];   /* requests by final code */
} adm_point;

typedef struct adm_server {
    gw_server *s;
    pthread_t thread;
    bool thread_started;
    struct event_base *base;
    struct evconnlistener *listener;
    struct event *second;
    io_addr addr;
    char addr_str[64];
    char auth_expect[512];        /* "Basic <b64>" or "" */
    bool loopback;
    bool status_line;
    uint64_t start_wall_ms, start_mono_ms;
    adm_point hist[ADM_HISTORY];
    uint64_t nhist;               /* points written so far */
    gw_totals last;               /* totals at the last second */
    unsigned ticks;
    unsigned conns;
    struct adm_conn *conn_head;   /* open connections, freed at stop */
} adm_server;

/* history.c */
void adm_history_tick(adm_server *a);
/* Sum of the last `secs` points into *sum; returns how many points. */
unsigned adm_history_sum(const adm_server *a, unsigned secs, adm_point *sum);
void adm_status_line(adm_server *a);

/* snap.c: the gateway as one admin answer sees it. The views are valid
 * only when have_up / have_pol; adm_snap_free releases what was taken. */
typedef struct adm_snap {
    gw_totals t;
    bool have_up, have_pol;
    gw_up_view uv;
    gw_policy_view pv;
} adm_snap;

void adm_snap_take(adm_server *a, adm_snap *sn);
void adm_snap_free(adm_snap *sn);

/* prom.c: Prometheus text exposition format 0.0.4 */
void adm_render_metrics(adm_server *a, struct evbuffer *out);

/* api.c: JSON bodies. Each returns the HTTP status and fills out. */
int adm_api_stats(adm_server *a, struct evbuffer *out);
int adm_api_history(adm_server *a, const char *query, struct evbuffer *out);
int adm_api_upstreams(adm_server *a, const char *query, struct evbuffer *out);
int adm_api_domains(adm_server *a, const char *query, struct evbuffer *out);
int adm_api_errors(adm_server *a, const char *query, struct evbuffer *out);
int adm_api_reload(adm_server *a, struct evbuffer *out);
/* action: "quarantine" or "readmit"; label percent-decoded. */
int adm_api_upstream_action(adm_server *a, const char *label, const char *action, struct evbuffer *out);
int adm_api_domain_reset(adm_server *a, const char *domain, struct evbuffer *out);
/* A JSON error body {"error": msg}. */
void adm_json_error(struct evbuffer *out, const char *msg);
/* A JSON string (quoted, escaped). */
void adm_json_str(struct evbuffer *out, const char *s);
/* The value of key in an URL query ("a=1&b=2"), copied to buf; false if absent. */
bool adm_query_get(const char *query, const char *key, char *buf, size_t cap);

#endif
