/* The failure classifier: for one attempt (one try through one upstream, or
 * direct), decide the CODE, who caused it (ORIGIN), how to heal it (CLASS)
 * and say why (evidence). Pure: no I/O, no clock, no allocation.
 *
 * Decision order (the first step that decides wins):
 *   1. RT_PH_TUNNEL: inferences from tunnel byte counts and first bytes
 *      (target_tunnel_failed / target_timeout, inferred = true).
 *   2. No response head (status 0): the client left (client_closed), an
 *      unparsable reply (proxy_/target_bad_response), else the socket
 *      outcome mapped by phase; hop = proxy when via_proxy, else target.
 *   3. A response head: signatures (sig.h) - run-time entries first, then
 *      built-ins; then an upstream's Proxy-Status error=; then stock pages
 *      both sides emit; then status rules. A CONNECT reply, or a page a
 *      proxy identity signature recognised, is judged as the proxy's own
 *      answer; anything else through the proxy is the target's.
 *   4. A head followed by a cut body (RT_PH_BODY with an error) is
 *      target_response_incomplete when the head itself was not a failure.
 *
 * ORIGIN and CLASS come from the vocabulary row of the chosen code, with one
 * documented override: a 503-type answer that carries a delta-seconds
 * Retry-After (target_unavailable, proxy_overloaded) is classed `backoff`,
 * because the server named the wait (RFC 9110 section 10.2.3). */
#ifndef ROTOR_CORE_ERRORS_CLASSIFY_H
#define ROTOR_CORE_ERRORS_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/slice.h"
#include "core/errors/sig.h"
#include "core/errors/taxonomy.h"
#include "core/errors/vocab.h"
#include "core/http/http1.h"

#define RT_EVIDENCE_MAX 192          /* evidence text including the NUL */
#define RT_CLASSIFY_BODY_MAX RT_SIG_BODY_MAX /* body prefix looked at */
#define RT_CLASSIFY_SMALL_2XX 8192   /* a 2xx body is sniffed only up to this size */
#define RT_TUNNEL_SNIFF_MAX 16       /* first tunnel bytes the I/O layer keeps */
#define RT_TUNNEL_TINY 64            /* server bytes below which a closed tunnel is suspect */

/* Where the attempt stopped (or, with a status, where the head arrived). */
typedef enum rt_phase {
    RT_PH_NONE = 0,
    RT_PH_DNS,           /* resolving the proxy's host (or the target's, direct) */
    RT_PH_CONNECT,       /* TCP to the upstream proxy, or to the target for direct */
    RT_PH_TLS,           /* TLS to an https upstream (or target) */
    RT_PH_PROXY_CONNECT, /* waiting for the proxy's reply to our CONNECT */
    RT_PH_REQUEST_SENT,  /* request sent, waiting for the response head */
    RT_PH_RESPONSE,      /* response head received */
    RT_PH_BODY,          /* response body streaming */
    RT_PH_TUNNEL,        /* after a 2xx to CONNECT: relaying opaque bytes */
} rt_phase;

typedef struct rt_classify_in {
    rt_phase phase;
    bool via_proxy;        /* false for the `direct` pool entry */
    bool sent_credentials; /* Proxy-Authorization was sent to the upstream */
    rt_http_method method; /* the request's method; CONNECT + status = CONNECT reply */
    rt_slice host;         /* target host (for evidence and host-specific signatures) */

    /* How the transport ended (all zero: it did not fail). */
    int sys_errno;         /* errno of the failing call, 0 if none */
    bool timed_out;        /* rotor's own timer for this phase fired */
    bool peer_closed;      /* the remote side closed (EOF) before the phase ended */
    bool client_closed;    /* the client went away first */
    bool bad_response;     /* bytes arrived that are not a valid response head */

    /* RT_PH_TLS: the TLS library itself failed the handshake (an alert, a
     * protocol error such as plain HTTP on a TLS port, or a certificate
     * that did not verify), as opposed to the socket failing under it.
     * tls_error holds its words ("certificate verify failed
     * (self-signed certificate)"), hop names the peer (the proxy's
     * "host:port"; empty: the target's host is named). Both borrowed. */
    bool tls_failed;
    rt_slice tls_error;
    rt_slice hop;
    /* ... and the peer's certificate did not verify: for the target that
     * is target_certificate_invalid (something on the path presents
     * another certificate, or the site's own is bad). */
    bool tls_verify_failed;

    /* The response head, when status > 0. Slices borrow the caller's buffers. */
    int status;
    rt_slice reason;
    const rt_http_hdr *hdrs;
    size_t nhdrs;
    rt_slice body;         /* body prefix; only RT_CLASSIFY_BODY_MAX bytes are used */
    uint64_t body_total;   /* whole body length when known (Content-Length), else 0 */

    /* RT_PH_TUNNEL: bytes relayed each way and the first bytes of each side. */
    uint64_t tunnel_c2s, tunnel_s2c;
    rt_slice tunnel_first_c2s, tunnel_first_s2c; /* up to RT_TUNNEL_SNIFF_MAX */
} rt_classify_in;

typedef struct rt_classify_out {
    rt_code code;
    rt_origin origin;
    rt_class cls;
    bool inferred;           /* concluded from indirect signs, not reported */
    int32_t retry_after_s;   /* delta-seconds Retry-After, -1 when absent */
    /* Retry-After in HTTP-date form (left for the policy module to parse
     * against its clock); empty when absent or delta-seconds. Points into
     * the input's header storage. */
    rt_slice retry_after_date;
    char sig_id[RT_SIG_ID_MAX];      /* signature that decided, "" if none */
    char evidence[RT_EVIDENCE_MAX];  /* printable ASCII, never empty on failure */
} rt_classify_out;

/* Classify one attempt. sigs may be NULL (status and transport rules only).
 * out is fully overwritten; nothing in it owns memory. */
void rt_classify(const rt_classify_in *in, const rt_sigset *sigs, rt_classify_out *out);

/* The phase's name as used in evidence and logs ("dns", "connect", ...). */
const char *rt_phase_name(rt_phase ph);


#endif
