/* Complete HTTP/1.1 responses the lab's proxies and targets generate about
 * themselves: provider error pages in three vendor styles and anti-bot,
 * rate-limit and overload pages of target sites. Each page carries
 * `X-Lab-Fault: NAME`, the ground truth of what the lab simulated, which a
 * gateway must not use for its own classification. */
#ifndef ROTOR_LAB_PAGES_H
#define ROTOR_LAB_PAGES_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/buffer.h>

#include "lab/scenario.h"

/* What a simulated proxy reports about itself or its path to the target. */
typedef enum lab_perr {
    LAB_PE_AUTH = 0,    /* 407: missing or wrong credentials */
    LAB_PE_QUOTA,       /* 403: the account's quota is used up */
    LAB_PE_502,         /* provider-internal failures */
    LAB_PE_503,
    LAB_PE_504,
    LAB_PE_DNS,         /* the target host name does not resolve */
    LAB_PE_CONNECT,     /* the target refused the connection (host down) */
    LAB_PE_DENIED,      /* a destination the lab never connects to */
    LAB_PE_BAD_REQUEST, /* unparsable request */
    LAB_PE_UNSUPPORTED, /* a request form the lab proxy does not implement */
    LAB_PE_COUNT
} lab_perr;

/* The status a proxy error is answered with (depends on the style only for
 * the DNS failure: Squid says 503, the others 502). */
int lab_perr_status(lab_perr e, lab_style style);

/* Append a whole response (head and body). `host` is the target host the
 * request named (may be empty); keep_alive chooses the Connection field. */
void lab_page_proxy_error(struct evbuffer *out, const lab_proxy_conf *pc, lab_perr e,
                          const char *host, bool keep_alive);

/* Target pages. `exit` is the client's exit identity (echoed in X-Lab-Exit
 * and, like real block pages, in the body); `ray` seeds the request id. */
void lab_page_target_block(struct evbuffer *out, const lab_host_conf *hc, const char *exit,
                           uint64_t ray, bool keep_alive);
void lab_page_target_rate_limit(struct evbuffer *out, const lab_host_conf *hc, const char *exit,
                                uint32_t limit, uint32_t retry_after_s, bool keep_alive);
void lab_page_target_503(struct evbuffer *out, const lab_host_conf *hc, const char *exit,
                         bool keep_alive);

/* The current IMF-fixdate for Date fields, refreshed once a second. */
const char *lab_http_date(void);

#endif
