/* A small one-shot HTTP/1.1 client on libevent, for tools that probe a proxy
 * path and must say where it broke (rotor diagnose).
 *
 * One io_hc sends one request, directly or through an HTTP forward proxy:
 * absolute-form for http:// targets, CONNECT then TLS (bufferevent_openssl)
 * for https:// targets. An https:// proxy is spoken to inside TLS of its
 * own, started right after the TCP connect (a target's TLS then runs inside
 * the proxy's). It times every phase (DNS, TCP connect, CONNECT
 * reply, TLS, first byte, done), records the errno or timeout of the phase
 * that failed in the terms the classifier takes (rt_phase, errno,
 * timed_out, peer_closed, bad_response), keeps the response head in an
 * owned buffer parsed with rt_http_parse_response, and keeps up to
 * IO_HC_BODY_MAX bytes of the (de-chunked) body.
 *
 * Name resolution uses evdns (hosts file, then the system's name servers).
 * Names under the special-use TLDs .invalid, .test and .example (RFC 6761
 * section 6) are answered locally with "no such name" and never sent to a
 * name server; "localhost" and names under .localhost resolve to 127.0.0.1
 * locally (RFC 6761 section 6.3). */
#ifndef ROTOR_IO_HCLIENT_H
#define ROTOR_IO_HCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "core/errors/classify.h"
#include "core/http/http1.h"

struct event_base;
struct evdns_base;

#define IO_HC_BODY_MAX 16384      /* body bytes kept; reading stops there */
#define IO_HC_HEAD_MAX RT_HTTP_DEFAULT_MAX_HEAD
#define IO_HC_MAX_HDRS 96         /* response header fields kept */
#define IO_HC_REQ_MAX 8192        /* request head we send */
#define IO_HC_URL_MAX 4096
#define IO_HC_DETAIL_MAX 192
#define IO_HC_DEFAULT_CONNECT_MS 5000
#define IO_HC_DEFAULT_READ_MS 10000

typedef struct io_hc_opts {
    const char *url;              /* absolute http:// or https:// URL; unused
                                   * with connect_only */
    const char *proxy_host;       /* NULL: connect to the target itself */
    uint16_t proxy_port;
    const char *proxy_auth;       /* Proxy-Authorization value, or NULL */
    const struct sockaddr *addr;  /* connect here and skip DNS: the proxy's
                                   * address, or the target's when direct */
    socklen_t addrlen;
    const char *connect_host;     /* direct only: dial this host:port instead */
    uint16_t connect_port;        /* of the URL's (curl's --connect-to) */
    const char *extra_headers;    /* complete "Name: value\r\n" lines, or NULL */
    const char *user_agent;       /* NULL: "rotor/VERSION" */
    SSL_CTX *ssl_ctx;             /* borrowed; needed for https:// URLs */
    SSL_CTX *proxy_ssl_ctx;       /* borrowed; non-NULL: the proxy is an https://
                                   * one, its certificate checked with this
                                   * context and against proxy_host */
    uint32_t connect_timeout_ms;  /* DNS and TCP connect; 0: default */
    uint32_t read_timeout_ms;     /* each wait for bytes after connecting; 0: default */
    bool connect_only;            /* stop once the TCP handshake (and with
                                   * proxy_ssl_ctx the proxy's TLS handshake)
                                   * completed */
} io_hc_opts;

#define IO_HC_MS_NONE (-1)        /* a phase that was not reached */

typedef struct io_hc_result {
    bool ok;                 /* a complete response arrived (or connect_only:
                              * the TCP handshake completed) */
    rt_phase phase;          /* where it stopped: the failing phase, or
                              * RT_PH_RESPONSE after a complete answer */
    int sys_errno;           /* errno of the failing call, 0 if none */
    bool timed_out;          /* our timer for `phase` fired */
    bool peer_closed;        /* EOF before the phase ended */
    bool bad_response;       /* bytes that are not an HTTP/1.x response head */
    int dns_error;           /* EVUTIL_EAI_* when resolving failed, else 0 */
    bool dns_local;          /* the name was answered locally (reserved TLD) */
    bool tls_verify_failed;  /* the peer's certificate did not verify */
    bool tls_to_proxy;       /* phase RT_PH_TLS is the https:// proxy's handshake
                              * (else the target's) */
    bool tls_failed;         /* OpenSSL itself failed the handshake; detail
                              * holds its reason */
    bool via_proxy;
    bool connect_reply;      /* resp is the proxy's non-2xx answer to CONNECT */
    char detail[IO_HC_DETAIL_MAX]; /* human text of the failure, "" if none */
    char peer[64];           /* address dialled, "127.0.0.1:3128" */
    struct sockaddr_storage peer_ss; /* ... as a sockaddr (after DNS) */
    socklen_t peer_sslen;

    /* Phase durations in ms, IO_HC_MS_NONE when not reached. first_byte
     * counts from the request written to the first response byte; total
     * from the start to the end (success or failure). */
    int64_t ms_dns, ms_connect, ms_proxy_tls, ms_proxy_connect, ms_tls, ms_first_byte, ms_total;

    /* The response head (status > 0 when one arrived). Slices point into
     * `head`, owned by the io_hc: valid until io_hc_free; never copy this
     * struct. */
    rt_http_resp resp;
    rt_http_hdr hdrs[IO_HC_MAX_HDRS];
    char *head;
    size_t head_len;
    char *body;              /* owned, NUL-terminated, de-chunked, at most IO_HC_BODY_MAX */
    size_t body_len;
    bool body_truncated;     /* more body followed what is kept (reading stopped) */
} io_hc_result;

typedef struct io_hc io_hc;

/* Called once per io_hc, always from the event loop (never from inside
 * io_hc_start). The callee may io_hc_free(h) in the callback. */
typedef void (*io_hc_done_fn)(io_hc *h, const io_hc_result *r, void *arg);

/* Start a request on `base`; `dns` is needed unless the host is numeric or
 * opts->addr is set. The options' strings are copied. Returns NULL (with
 * a reason in err) when the options are invalid or memory is short; then
 * the callback is never called. */
io_hc *io_hc_start(struct event_base *base, struct evdns_base *dns, const io_hc_opts *o,
                   io_hc_done_fn cb, void *arg, char *err, size_t errlen);
/* The result so far (complete once the callback ran). */
const io_hc_result *io_hc_result_of(const io_hc *h);
/* Cancel if still running (no callback follows) and free everything. */
void io_hc_free(io_hc *h);

/* A client TLS context that verifies peers against ca_file (PEM), or the
 * system store when ca_file is NULL. Returns NULL with a reason in err. */
SSL_CTX *io_hc_tls_ctx(const char *ca_file, char *err, size_t errlen);
/* A client TLS context for https:// proxies: the system store plus
 * extra_ca (PEM, may be NULL), verifying peers unless `verify` is false.
 * TLS 1.2 at least. Returns NULL with a reason in err (naming extra_ca). */
SSL_CTX *io_tls_proxy_ctx(const char *extra_ca, bool verify, char *err, size_t errlen);
/* OpenSSL's reason for a failed handshake on a TLS bufferevent into why:
 * the first real error of its queue (emptied), with the certificate's
 * verification result in parentheses when verification failed. Returns
 * true when OpenSSL failed the handshake, false when only the socket did
 * (system errors are the socket's). *verify_failed (may be NULL) tells
 * whether the certificate did not verify. */
struct bufferevent;
bool io_tls_error(struct bufferevent *bev, SSL *ssl, char *why, size_t cap, bool *verify_failed);
/* What the result says, as the classifier's input: the phase and how the
 * transport ended, TLS failures (a handshake inside a tunnel or direct is
 * the target's, not the proxy's), and the response when one arrived. The
 * caller adds what only it knows: credentials sent, method, target host,
 * and the hop's name. The slices borrow r. */
void io_hc_classify_input(const io_hc_result *r, rt_classify_in *in);

/* True for names RFC 6761 reserves as never resolving (.invalid, .test,
 * .example, and those names alone); case-insensitive, a trailing dot
 * allowed. */
bool io_hc_name_reserved(const char *host);

#endif
