/* Shared state of one running lab, seen by its target, proxy and
 * orchestration files only. */
#ifndef ROTOR_LAB_LAB_INT_H
#define ROTOR_LAB_LAB_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <netinet/in.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "core/base/rng.h"
#include "core/http/http1.h"
#include "lab/lab.h"
#include "lab/scenario.h"
#include "lab/tls.h"

#define LAB_AUTH_MAX 512     /* "Basic " + base64 of user:pass */
#define LAB_BACKLOG 1024
#define LAB_IO_HIGH (256 * 1024) /* bytes queued toward a peer before reading pauses */
#define LAB_IDLE_S 300       /* idle keep-alive / held connections are closed after this */

/* Intrusive list of live connections, so shutdown frees every one. */
typedef struct lab_link {
    struct lab_link *prev, *next;
} lab_link;

static inline void lab_link_init(lab_link *head) { head->prev = head->next = head; }
static inline void lab_link_add(lab_link *head, lab_link *l)
{
    l->next = head->next;
    l->prev = head;
    head->next->prev = l;
    head->next = l;
}
static inline void lab_link_del(lab_link *l)
{
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->prev = l->next = l;
}

typedef struct lab_proxy {
    struct lab *lab;
    size_t idx;
    const lab_proxy_conf *pc;
    evutil_socket_t reserved_fd; /* refused: bound, never listening; else -1 */
    struct evconnlistener *lis;
    uint16_t port;
    rt_rng rng;
    uint64_t requests;           /* requests read (all outcomes) */
    uint64_t conns;              /* client connections accepted */
    uint64_t faults[LAB_PF_COUNT];
    uint64_t auth_rejects;
} lab_proxy;

typedef struct lab {
    struct event_base *base;
    const lab_opts *opts;
    lab_scenario *sc;
    lab_host_state *hstate[LAB_MAX_HOSTS]; /* per host with limits, else NULL */
    rt_rng host_rng;                       /* target 503 draws and ray ids */
    char auth[LAB_AUTH_MAX];               /* expected Proxy-Authorization; "" = none */
    lab_tls *tls;
    uint16_t http_port, https_port;
    struct evconnlistener *tl_http, *tl_https;
    lab_proxy px[LAB_MAX_PROXIES];
    lab_link tconns;                       /* target connections */
    lab_link pconns;                       /* proxy client connections */
    uint64_t target_requests;
} lab;

/* A loopback TCP socket bound to port (0 = any); listening unless `listen`
 * is false (a reserved port: connecting to it is refused). Non-blocking,
 * close-on-exec. Returns the fd and the bound port, or -1 with err set. */
evutil_socket_t lab_bind_loopback(uint16_t port, bool listen, uint16_t *bound,
                                  char *err, size_t errlen);

/* Starts a lab connection: callbacks, the LAB_IO_HIGH watermarks, the
 * LAB_IDLE_S read timeout when idle_timeout, reading and writing on. */
void lab_bev_start(struct bufferevent *bev, bufferevent_data_cb rd, bufferevent_data_cb wr,
                   bufferevent_event_cb ev, void *arg, bool idle_timeout);

/* 127.0.0.1:port. */
void lab_loopback_addr(struct sockaddr_in *sin, uint16_t port);

/* Target listeners (HTTP and HTTPS) on lab->http_port / https_port (0 =
 * free ports; the bound ports are written back). */
int lab_target_start(lab *L, char *err, size_t errlen);
void lab_target_stop(lab *L);

/* One listener (or reserved port) per scenario proxy; px[i].port is set. */
int lab_proxies_start(lab *L, char *err, size_t errlen);
void lab_proxies_stop(lab *L);

struct evbuffer;

/* Bodies at the front of in, moved to out (or dropped when out is NULL) as
 * far as they are buffered. Length-delimited: *left bytes are still due;
 * returns true once none is. Chunked (framing scanned with ch, RFC 9112
 * section 7.1): returns 1 once the last chunk and trailers ended, 0 when
 * more input is needed, -1 when the framing is broken. */
bool lab_body_pass_length(struct evbuffer *in, struct evbuffer *out, uint64_t *left);
int lab_body_pass_chunked(struct evbuffer *in, struct evbuffer *out, rt_chunked *ch);

#endif
