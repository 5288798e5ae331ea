/* Reading an upstream's Proxy-Status header (RFC 9209).
 *
 * The field is a Structured Fields list (RFC 8941 section 3.1): one member
 * per intermediary that handled the response, each a token or string naming
 * it, with parameters such as error=<type>, details="...", received-status=N.
 * RFC 9209 section 2: the first member is the intermediary nearest the origin
 * server, the last the one nearest the client. */
#ifndef ROTOR_CORE_ERRORS_PROXYSTATUS_H
#define ROTOR_CORE_ERRORS_PROXYSTATUS_H

#include "core/base/slice.h"
#include "core/errors/vocab.h"
#include "core/http/http1.h"

typedef struct rt_proxy_status {
    rt_slice name;        /* the intermediary's name (quotes removed) */
    rt_slice error;       /* error type token, empty when none */
    rt_slice details;     /* details string without quotes, escapes kept */
    int received_status;  /* received-status parameter, 0 when absent */
} rt_proxy_status;

/* Parse the Proxy-Status field lines among hdrs (in order, as one list) and
 * pick the member nearest the origin that carries error=, or else the first
 * member. Slices point into the header values. Returns 0 when a member was
 * found, -1 when there is no Proxy-Status or nothing parsable in it. */
int rt_proxy_status_find(const rt_http_hdr *hdrs, size_t nhdrs, rt_proxy_status *out);

/* The vocabulary code for an RFC 9209 section 2.3 error type, seen from the
 * gateway's side of the proxy (dns_error -> target_dns_failed, ...).
 * Unknown types map to proxy_error. */
rt_code rt_proxy_status_code(rt_slice error_type);

#endif
