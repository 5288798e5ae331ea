/* Gateway internals shared by the files of src/gateway. Not for other layers.
 *
 * Threads: each worker runs one event loop with its own listener
 * (SO_REUSEPORT), DNS resolver, idle upstream connections and RNG. Workers
 * share only the gw_server: configuration, the current pool (swapped on
 * reload under a mutex, reference-counted so in-flight requests keep theirs),
 * the log queue and atomic counters.
 *
 * Lifetime: a gw_client owns its current request state and at most one
 * upstream connection. Callbacks that may free the client return GW_GONE;
 * their callers must then return without touching it. */
#ifndef ROTOR_GATEWAY_GW_INT_H
#define ROTOR_GATEWAY_GW_INT_H

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <pthread.h>
#include <stdatomic.h>

#include "core/base/rng.h"
#include "core/errors/classify.h"
#include "core/errors/hint.h"
#include "core/policy/banfeed.h"
#include "core/policy/polite.h"
#include "core/errors/vocab.h"
#include "core/http/http1.h"
#include "core/pool/upstream.h"
#include "gateway/gw.h"
#include "gateway/policy.h"
#include "io/addr.h"
#include "io/logq.h"

#define GW_MAX_HEADERS 128       /* header fields per message (431 beyond) */
#define GW_MAX_ATTEMPTS 8        /* hard cap on attempts per request */
#define GW_HIGH_WATER (256u << 10) /* output bytes before the other side stops reading */
#define GW_IDLE_PER_WORKER 512   /* idle upstream connections kept per worker */
#define GW_EVIDENCE 192
#define GW_SPLICE_MIN (256u << 10) /* response bodies at least this long are spliced */

enum { GW_OK = 0, GW_GONE = 1 };

typedef struct gw_pool {
    atomic_int refs;
    rt_pool pool;
    _Atomic uint32_t *in_flight; /* per entry */
    uint64_t *ident;             /* per entry: rt_upstream_identity, to follow entries across reloads */
    uint64_t generation;
    rt_sigset *sigs;             /* built-in signatures plus --signatures, loaded with the pool */
    unsigned ntiers;             /* 1 + fallback pools */
    atomic_size_t rr_ticket;     /* round-robin position shared by all workers */
    size_t tier_start[GW_MAX_FALLBACKS + 2]; /* entries of tier t: [tier_start[t], tier_start[t+1]) */
} gw_pool;

typedef struct gw_server gw_server;
typedef struct gw_access gw_access;
typedef struct gw_worker gw_worker;
typedef struct gw_client gw_client;

typedef struct gw_upconn {
    gw_worker *w;
    struct bufferevent *bev;
    uint64_t key;             /* idle-pool key: which hop, scheme and credentials */
    uint64_t idle_since_ms;
    struct gw_upconn *next;   /* idle list link */
    bool reused;              /* came from the idle pool */
    bool tls;                 /* an https:// hop: bev is a TLS bufferevent, so its
                               * socket must never be written, read or spliced
                               * directly (that would bypass the encryption) */
} gw_upconn;

struct gw_worker {
    gw_server *srv;
    unsigned id;
    pthread_t thread;
    struct event_base *base;
    struct evdns_base *dns;
    struct evconnlistener *listener;
    struct event *sig_hup, *sig_term, *sig_int, *idle_sweep, *wake;
    struct io_mailbox *mail;  /* the only way other threads reach this loop */
    rt_banfeed_cursor bancur; /* how far this worker has read the ban feed */
    bool drain_armed;         /* the drain deadline is set on this loop */
    rt_rng rng;
    rt_picker picker;
    gw_policy pol;
    int64_t ts_secs;          /* second of ts_text (access-log timestamps) */
    char ts_text[24];         /* "2026-11-26T16:13:59" */
    gw_upconn *idle_head;     /* most recently parked first */
    unsigned idle_count;
    unsigned clients;
    atomic_bool draining;     /* set by the signal thread, read by this worker */
    struct gw_wstats *st;     /* statistics, snapshots, commands (stats.h) */
    gw_client *client_list;   /* every open client connection of this worker */
};

struct gw_server {
    gw_config cfg;
    rt_polite polite;         /* --domain-concurrency / --domain-rate, all threads */
    rt_banfeed banfeed;       /* bans and pauses one thread learned, for the others */
    io_addr listen_addr;
    char listen_str[64];
    char auth_expect[512];    /* "Basic <b64>" the clients must send, or "" */
    pthread_mutex_t pool_mu;
    gw_pool *pool;            /* current; guarded by pool_mu */
    uint64_t pool_generation;
    io_logq *log;
    gw_worker *workers;
    unsigned nworkers;
    atomic_uint clients;      /* open client connections, all workers */
    atomic_bool stopping;
    uint16_t connect_ports[64][2]; /* allow-list ranges; n == 0: deny list only */
    unsigned n_connect_ports;
    struct adm_server *admin; /* admin thread (src/admin), or NULL */
    struct gw_health *health; /* active health checker (health.c), or NULL */
    gw_access *access;        /* --allow-clients networks, or NULL: any client */
    struct ssl_ctx_st *up_tls; /* client TLS context for https:// upstreams, or NULL
                               * until a pool needs one (uptls.c); set before the
                               * pool that needs it is published, never changed after */
};

typedef struct gw_attempt {
    long idx;                 /* pool entry, -1 for none */
    rt_code code;
    int status;
    uint32_t ms;
    char evidence[GW_EVIDENCE];
} gw_attempt;

typedef enum gw_cstate {
    CS_HEAD = 0,   /* reading a request head */
    CS_UPSTREAM,   /* an attempt is under way (dialing, sending, awaiting the head) */
    CS_RESPONSE,   /* the response head went to the client; body streaming */
    CS_TUNNEL,     /* CONNECT established: relaying bytes */
    CS_CLOSING,    /* flushing a final reply, then close */
} gw_cstate;

typedef enum gw_ustate {
    US_NONE = 0, US_DIALING, US_CONNECT_SENT, US_HEAD_WAIT, US_BODY,
} gw_ustate;

struct gw_client {
    gw_worker *w;
    gw_client *next, *prev;   /* the worker's client_list */
    struct bufferevent *bev;
    char peer[64];
    gw_cstate state;
    struct event *timer;      /* phase deadlines */
    bool head_begun;          /* the header timeout runs for the current head */

    /* the request being handled */
    char *head;               /* owned copy of the request head */
    size_t head_len;
    rt_http_req req;
    rt_url url;
    uint64_t t_start_ms, t_wall_ms, deadline_ms;
    bool keep_alive;          /* the client connection may serve another request */
    bool json_errors;
    char session[96];

    /* request body client -> upstream */
    uint64_t req_left;        /* RT_BODY_LENGTH: bytes still to come */
    rt_chunked req_ck;
    bool req_done;            /* the whole request body was read from the client */
    uint64_t req_bytes;
    struct evbuffer *replay;  /* copy of the body for retries, while it fits */
    bool replay_ok;

    /* attempts */
    gw_pool *pool;
    unsigned natt;
    uint64_t t_att_ms;
    gw_upconn *up;
    gw_ustate ustate;
    long up_idx;
    bool att_active;          /* an attempt holds an in-flight slot */
    bool in_dial;             /* inside the connect call: events are queued */
    short dial_events;        /* events reported during the connect call */
    bool stale_retry_used;    /* one free redo after a reused idle connection died */
    long redo_idx;            /* >= 0: the next attempt redoes this entry (no pick) */
    char auth[600];           /* Proxy-Authorization for this attempt, or "" */
    char exit_token[96];      /* session token filled into a {session} slot */
    rt_retry_state rs;        /* the retry decision's per-request state */
    uint64_t domain_hash;     /* target domain (0: none) */
    unsigned tier;            /* the pool tier this request picks from */
    uint32_t polite_ticket;   /* counted in the domain's politeness slot (rt_polite) */
    bool polite_checked;      /* politeness let this request go; counted in its domain */
    bool polite_wait;         /* the timer re-checks admission (pacing, politeness) */
    bool probe;               /* the domain's breaker let this request through as a probe */
    uint64_t retry_delay_ms;  /* wait before the next attempt */
    bool retry_wait;          /* the timer will start the next attempt */

    /* response upstream -> client */
    rt_http_resp resp;
    uint64_t resp_left;
    rt_chunked resp_ck;
    rt_body_kind resp_body;
    uint64_t resp_bytes;      /* body bytes sent to the client */
    uint64_t tunnel_up, tunnel_down;
    char first_c2s[RT_TUNNEL_SNIFF_MAX], first_s2c[RT_TUNNEL_SNIFF_MAX]; /* first tunnel bytes each way */
    uint8_t nfirst_c2s, nfirst_s2c;
    struct io_relay *relay;   /* the open tunnel's splice relay, or a large body's transfer, or NULL */
    bool up_eof;              /* the hop closed while a response head waited for body bytes */
    size_t hold_total;        /* head + body bytes to gather before committing (0: none) */
    bool hold_chunked;        /* holding a chunked response until its last chunk */
    bool resp_started;        /* some byte of a response went to the client */

    /* outcome */
    int status;
    rt_code code;
    char evidence[GW_EVIDENCE];
    char hint[RT_HINT_MAX];   /* case-specific advice for the outcome, or "" */
    uint64_t bytes_in, bytes_out;

    /* ---- scratch: written before it is read, so not zeroed at accept
     * (most of the struct's size; an idle tunnel never touches its pages) */
    gw_attempt att[GW_MAX_ATTEMPTS]; /* cleared one by one as attempts start */
    rt_http_hdr hdrs[GW_MAX_HEADERS];  /* filled by the request parser */
    rt_http_hdr rhdrs[GW_MAX_HEADERS]; /* filled by the response parser */
};

/* server.c */
gw_pool *gw_pool_acquire(gw_server *s);
void gw_pool_release(gw_pool *p);

/* client.c */
void gw_client_accept(gw_worker *w, evutil_socket_t fd, const struct sockaddr *sa);
/* Finish the current request: log it, then keep the connection for the next
 * request or close it. May free the client: returns GW_GONE then. */
int gw_client_finish(gw_client *c);
/* Answer with a rotor-generated error and finish. Returns GW_GONE if freed. */
int gw_client_fail(gw_client *c, rt_code code, const char *evidence, const char *hint, uint32_t retry_after_s);
int gw_client_close(gw_client *c);
void gw_client_arm_timer(gw_client *c, unsigned ms);
/* Draining: close every connection that waits between requests with
 * nothing received; requests under way keep going. */
void gw_client_close_idle(gw_worker *w);
/* After the worker's loop ended: free every client left (requests the
 * drain deadline cut), unlogged. */
void gw_client_free_all(gw_worker *w);

/* upstream.c */
/* Start an attempt on a newly picked upstream (or finish with an error when
 * none is left). */
int gw_attempt_start(gw_client *c);
/* The current attempt failed with code; decide on a retry or answer. */
int gw_attempt_failed(gw_client *c, rt_code code, int status, const char *evidence);
/* A phase deadline passed (connect, response head, body gap, tunnel idle). */
int gw_attempt_timeout(gw_client *c);
/* Record the attempt's outcome and ask the policy what comes next. */
gw_next gw_attempt_judge(gw_client *c, const gw_outcome *o, rt_code *code, uint32_t *retry_after_s);
/* End the attempt and start the next one (now or after c->retry_delay_ms). */
int gw_attempt_retry(gw_client *c);
/* Release the attempt's in-flight slot and its connection (freed, unless
 * the caller parked it first). */
void gw_attempt_end(gw_client *c);
/* Is the current hop the target itself (a `direct` entry)? */
bool gw_hop_is_direct(const gw_client *c);

/* classify.c: what an attempt saw, for the classifier */
typedef struct gw_seen {
    rt_phase phase;
    int err;                   /* errno of the failure, 0 if none */
    bool timed_out, peer_closed, bad_response;
    bool tls_failed;           /* the TLS library failed the handshake (RT_PH_TLS) */
    rt_slice tls_error;        /* its reason, e.g. "certificate verify failed (...)" */
    const rt_http_resp *resp;  /* response head, or NULL */
    rt_slice body;             /* body prefix (borrowed) */
} gw_seen;
rt_code gw_classify(gw_client *c, const gw_seen *s, char *ev, size_t evlen);
/* The classifier phase matching the attempt's state. */
rt_phase gw_phase_now(const gw_client *c, bool dns);
void gw_upconn_free(gw_upconn *u);
void gw_upconn_park(gw_client *c);       /* return the connection to the idle pool */
void gw_idle_sweep(gw_worker *w, uint64_t now_ms);
void gw_idle_flush(gw_worker *w);

/* exchange.c: HTTP requests over the attempt's connection */
int gw_exchange_begin(gw_client *c);     /* connection ready: send head (+ body) */
int gw_exchange_client_read(gw_client *c);
int gw_exchange_up_read(gw_client *c);
int gw_exchange_up_eof(gw_client *c, short what);
void gw_exchange_client_drained(gw_client *c);

/* tunnel.c: CONNECT */
int gw_tunnel_begin(gw_client *c);       /* connection ready: send CONNECT or reply 200 */
/* A 101 Switching Protocols went to the client: relay both ways from now. */
int gw_tunnel_upgrade(gw_client *c);
int gw_tunnel_up_read(gw_client *c);
int gw_tunnel_relay(gw_client *c, bool from_client);
int gw_tunnel_eof(gw_client *c, bool client_side, short what);

/* access.c: --allow-clients */
gw_access *gw_access_new(const char *spec, char *err, size_t errlen);
void gw_access_free(gw_access *a);
/* May this peer connect? false: the caller closes it (counted and, at most
 * once a second, logged as a client_refused event). */
bool gw_access_check(gw_server *s, const struct sockaddr *sa);
unsigned long gw_access_refused(const gw_access *a);
/* 0, or -1 with why in err when a pool entry names rotor's own listener
 * (requests through it would loop back into rotor). */
int gw_pool_check_loop(const gw_server *s, const rt_pool *p, char *err, size_t errlen);

/* uptls.c: TLS to https:// upstream proxies */
#define GW_TLS_WHY_MAX 128      /* OpenSSL's reason for a failed handshake */
/* Create the client TLS context when `p` has an https:// entry or the
 * flags name one (--upstream-ca, --upstream-insecure: so a bad CA file is
 * reported at start). Called wherever a pool is loaded (start-up, then
 * worker 0 on reload: never two at once), before the pool is published.
 * Returns 0, or -1 with why in err. */
int gw_uptls_prepare(gw_server *s, const rt_pool *p, char *err, size_t errlen);
void gw_uptls_free(gw_server *s);
/* A TLS bufferevent (no socket yet) that will verify the proxy `host`
 * (name or IP literal; SNI for names only, RFC 6066 section 3); connect
 * it with bufferevent_socket_connect(_hostname). NULL when out of memory
 * or no context exists. */
struct bufferevent *gw_uptls_bev(gw_worker *w, const char *host);
/* After a failed handshake on bev: OpenSSL's reason into why (the
 * verification result in parentheses when the certificate failed), and
 * true when the TLS library itself failed the handshake rather than the
 * socket under it. Empties the bufferevent's error queue. */
bool gw_uptls_error(struct bufferevent *bev, char *why, size_t cap);
/* Did the TCP handshake under bev complete (it has a peer)? */
bool gw_uptls_tcp_up(struct bufferevent *bev);

/* record.c */
void gw_record_log(gw_client *c);

/* client.c: fill c->hint for `code` from the request and the last attempt's entry. */
void gw_client_hint(gw_client *c, rt_code code, const char *evidence);
/* Start the first attempt once the domain's politeness limits allow. */
int gw_client_start_when_polite(gw_client *c);

/* server.c: a JSON event line in the access log and on stderr */
void gw_log_event(gw_server *s, const char *event, const char *detail);
/* server.c: reload the pool as SIGHUP does; worker 0's thread only.
 * Returns 0 or -1; msg receives what happened. */
int gw_reload(gw_server *s, char *msg, size_t msglen);

/* client.c: write to the socket at once when nothing is queued ahead (one
 * send, no write-event registration); what does not fit is queued on the
 * bufferevent, which reports any error. */
void gw_send(struct bufferevent *bev, const void *p, size_t n);

/* shared helpers */
uint64_t gw_now(void);
const rt_upstream *gw_up_entry(const gw_client *c);
void gw_set_nodelay(struct bufferevent *bev);

#endif
