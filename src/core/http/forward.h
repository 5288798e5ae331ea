/* Building the heads rotor sends on: the request toward the upstream (or
 * the target for `direct`), the CONNECT request to an upstream proxy, and
 * the response head toward the client. Pure: input is a parsed head, output
 * goes to a caller's rt_wbuf (one contiguous block, so the glue writes a
 * whole head with a single call). */
#ifndef ROTOR_CORE_HTTP_FORWARD_H
#define ROTOR_CORE_HTTP_FORWARD_H

#include "core/base/wbuf.h"
#include "core/http/http1.h"

typedef struct rt_fwd_req_opts {
    bool absolute_form;   /* true toward a proxy, false (origin-form) toward a target */
    rt_slice proxy_auth;  /* Proxy-Authorization value to add, or empty */
    bool close;           /* ask the next hop to close after this exchange */
} rt_fwd_req_opts;

/* Request head: request line for `url`, the client's end-to-end fields in
 * their order, minus hop-by-hop fields (rt_http_is_hop_by_hop), minus rotor's
 * own control fields (X-Rotor-*), with Host set from the target URI's
 * authority (RFC 9112 section 3.2.2: a proxy uses the target URI, not the
 * received Host). Nothing that reveals rotor is added (no Via,
 * no X-Forwarded-For). */
void rt_fwd_request_head(rt_wbuf *out, const rt_http_req *req, const rt_url *url,
                         const rt_fwd_req_opts *o);

/* "CONNECT host:port HTTP/1.1" with Host and optional Proxy-Authorization. */
void rt_fwd_connect_head(rt_wbuf *out, const rt_url *url, rt_slice proxy_auth);

typedef struct rt_fwd_resp_opts {
    bool close;           /* rotor closes the client connection after this response */
    unsigned attempts;    /* X-Rotor-Attempts */
    const char *error;    /* X-Rotor-Error value when a block/challenge/rate limit was recognised, or NULL */
    const char *hint;     /* X-Rotor-Hint: advice for that case (printable ASCII), or NULL */
} rt_fwd_resp_opts;

/* Response head toward the client: status line (version 1.1, the
 * upstream's status and reason), the upstream's end-to-end fields minus
 * hop-by-hop ones, then "Connection: close" when o->close, and
 * X-Rotor-Origin: target, X-Rotor-Attempts, X-Rotor-Error. */
void rt_fwd_response_head(rt_wbuf *out, const rt_http_resp *resp, const rt_fwd_resp_opts *o);

/* Is this a field rotor consumes from clients (X-Rotor-Session, ...)? */
bool rt_fwd_is_control_field(rt_slice name);

#endif
