/* A per-domain circuit breaker: the guide's rule "if a domain returns
 * errors on more than 30% of requests within a 5-minute window, pause
 * requests to that domain and recheck after a cooldown period".
 *
 *   CLOSED     requests flow; outcomes fill a sliding window (default 5 min
 *              in 10 buckets of 30 s). After a failure, if the window holds
 *              at least min_requests outcomes and failures exceed
 *              failure_pct of them, the breaker trips.
 *   OPEN       every request is denied with a Retry-After of the remaining
 *              cooldown. The cooldown starts at cooldown_ms and doubles on
 *              each trip that follows another without a full healthy window
 *              in between, up to cooldown_max_ms.
 *   HALF_OPEN  after the cooldown, `probes` requests are let through. If
 *              all succeed the breaker closes with an empty window; the
 *              first failure reopens it. Probes that never report (a
 *              cancelled request) are forgotten after probe_timeout_ms so
 *              the breaker cannot stick half open.
 * In HALF_OPEN every recorded outcome is taken as a probe's outcome. */
#ifndef ROTOR_CORE_POLICY_BREAKER_H
#define ROTOR_CORE_POLICY_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/errors/vocab.h"
#include "core/policy/window.h"

#define RT_BREAKER_WINDOW_MS 300000u    /* the guide's 5 minutes */
#define RT_BREAKER_BUCKETS 10u
#define RT_BREAKER_MIN_REQUESTS 20u
#define RT_BREAKER_FAILURE_PCT 30u      /* trips above, not at */
#define RT_BREAKER_COOLDOWN_MS 30000u
#define RT_BREAKER_COOLDOWN_MAX_MS 600000u
#define RT_BREAKER_PROBES 3u
#define RT_BREAKER_PROBE_TIMEOUT_MS 30000u
/* Retry-After given while all probes are out: they answer within seconds. */
#define RT_BREAKER_PROBE_WAIT_MS 1000u

typedef enum rt_breaker_state {
    RT_BREAKER_CLOSED = 0,
    RT_BREAKER_OPEN,
    RT_BREAKER_HALF_OPEN,
} rt_breaker_state;

typedef enum rt_breaker_verdict {
    RT_BREAKER_ALLOW = 0,  /* normal request */
    RT_BREAKER_ALLOW_PROBE, /* a trial request; its outcome decides the state */
    RT_BREAKER_DENY,       /* answer circuit_open with the given Retry-After */
} rt_breaker_verdict;

typedef struct rt_breaker_cfg {
    uint32_t window_ms;
    uint32_t buckets;
    uint32_t min_requests;
    uint32_t failure_pct;
    uint32_t cooldown_ms;
    uint32_t cooldown_max_ms;
    uint32_t probes;
    uint32_t probe_timeout_ms;
} rt_breaker_cfg;

typedef struct rt_breaker {
    rt_breaker_cfg cfg;
    rt_breaker_state state;
    rt_window w;            /* counter 0: outcomes, counter 1: failures */
    uint64_t open_until;    /* OPEN: end of the cooldown */
    uint64_t probe_at;      /* HALF_OPEN: when the last probe was let out */
    uint64_t closed_at;     /* last transition to CLOSED */
    uint32_t trips;         /* consecutive trips (sets the cooldown) */
    uint32_t probes_out;    /* HALF_OPEN: probes let through */
    uint32_t probes_ok;     /* HALF_OPEN: probes that succeeded */
    uint64_t total_trips;   /* since init (a metric) */
} rt_breaker;

void rt_breaker_cfg_default(rt_breaker_cfg *c);
/* cfg NULL: defaults. Starts CLOSED. */
void rt_breaker_init(rt_breaker *b, const rt_breaker_cfg *cfg);
/* May a request go to the domain now? On DENY *retry_after_ms (if not
 * NULL) is the wait to announce, at least 1. Moves OPEN to HALF_OPEN when
 * the cooldown has passed and counts the probes it lets out. */
rt_breaker_verdict rt_breaker_allow(rt_breaker *b, uint64_t now_ms, uint64_t *retry_after_ms);
/* Report one finished request. failure: rt_code_counts_for_breaker(). */
void rt_breaker_record(rt_breaker *b, uint64_t now_ms, bool failure);
/* The state as of now (an OPEN breaker whose cooldown ended reads
 * HALF_OPEN), without changing anything. */
rt_breaker_state rt_breaker_state_at(const rt_breaker *b, uint64_t now_ms);
const char *rt_breaker_state_name(rt_breaker_state s); /* "closed", "open", "half_open" */

/* Whether an attempt's outcome counts against the target domain's breaker.
 * Counted: everything the target answered with except success (blocks,
 * challenges, rate limits, 5xx, cut responses) and failures on the hop
 * between the proxy and the target (DNS, refused, reset, timeouts, TLS).
 * Not counted: success (any status the target meant, 404 included), the
 * client's errors, rotor's own decisions (counting circuit_open would keep
 * the breaker open forever), and failures of the proxy itself, which say
 * nothing about the domain and are outlier ejection's business. */
bool rt_code_counts_for_breaker(rt_code c);

#endif
