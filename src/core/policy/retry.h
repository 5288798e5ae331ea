/* The one retry decision (after Envoy's RetryStateImpl, as a pure function).
 *
 * After each failed attempt the gateway asks rt_retry_decide() what to do.
 * The answer depends on the failure's retry class in the error vocabulary
 * (the guide's five categories), the per-class limits ("three retries for
 * transient errors, one retry for auth errors, zero for abort"), whether
 * resending is safe (idempotency, replayable body, nothing sent to the
 * client yet), the retry budget and the request's deadline. Time and
 * randomness come from the caller; the function does no I/O.
 *
 * What each class does when it retries:
 *   retry_now  another upstream at once. A target's own overload answer
 *              (503/5xx) waits a small random jitter (now_jitter_ms) so
 *              threads that failed together do not return together; a
 *              Retry-After on the answer is honoured.
 *   backoff    waits Retry-After when the answer had one, else the
 *              exponential backoff for this request's k-th backoff retry;
 *              then another upstream.
 *   rotate     at once, on another upstream with a fresh session, and the
 *              exit is banned for the domain.
 *   fix        at once on another upstream; the entry is quarantined.
 *   abort      never.
 * Codes of origin client or gateway are final answers and never retried. */
#ifndef ROTOR_CORE_POLICY_RETRY_H
#define ROTOR_CORE_POLICY_RETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/rng.h"
#include "core/base/slice.h"
#include "core/errors/vocab.h"
#include "core/policy/backoff.h"
#include "core/policy/budget.h"

#define RT_RETRY_CLASSES (RT_CLASS_ABORT + 1)
#define RT_RETRY_LIMIT_TRANSIENT 3u /* retry_now, backoff, rotate */
#define RT_RETRY_LIMIT_FIX 1u
#define RT_RETRY_MAX_TOTAL 4u       /* retries per request, all classes together */
#define RT_RETRY_REPLAY_MAX (1024u * 1024u) /* request body kept for resending */
#define RT_RETRY_NOW_JITTER_MS 250u

typedef enum rt_retry_status {
    RT_RETRY_NO = 0,   /* success, or this failure must not be retried */
    RT_RETRY_YES,      /* retry after delay_ms with the flags' actions */
    RT_RETRY_LIMIT,    /* the class's or the request's retry limit is reached */
    RT_RETRY_BUDGET,   /* the retry budget is exhausted */
    RT_RETRY_DEADLINE, /* the wait would pass the deadline: answer now with
                        * Retry-After: delay_ms */
} rt_retry_status;

/* Actions the gateway takes for the failed attempt. They are set on every
 * verdict, retry or not, because they are about the entry that failed:
 * a proxy with bad credentials is quarantined even when the request has
 * no retry left. */
enum {
    RT_RETRY_F_SWITCH_UPSTREAM = 1u << 0, /* next attempt on another entry */
    RT_RETRY_F_ROTATE_SESSION = 1u << 1,  /* fresh backconnect session token */
    RT_RETRY_F_BAN_EXIT = 1u << 2,        /* ban this exit for the domain */
    RT_RETRY_F_QUARANTINE = 1u << 3,      /* quarantine this pool entry */
};

typedef struct rt_retry_policy {
    uint8_t limit[RT_RETRY_CLASSES]; /* retries allowed per class; NONE unused */
    uint8_t max_total;               /* retries per request across classes */
    bool retry_non_idempotent;       /* resend POST etc. even if the target may have seen it */
    size_t max_replay_bytes;         /* body size the gateway keeps for resending */
    uint32_t now_jitter_ms;          /* jitter of retry_now after a target's 5xx */
    rt_backoff backoff;
} rt_retry_policy;

/* Per request; zero it with rt_retry_state_init. */
typedef struct rt_retry_state {
    uint8_t per_class[RT_RETRY_CLASSES]; /* retries granted so far per class */
    uint8_t total;                       /* retries granted so far */
    uint64_t started_ms;
    uint64_t deadline_ms;                /* 0: none */
} rt_retry_state;

typedef struct rt_retry_input {
    rt_code code;                /* the attempt's classified outcome */
    bool has_retry_after;        /* the answer carried Retry-After (or a reset hint) */
    uint64_t retry_after_ms;     /* parsed and clamped by rt_retry_after_parse */
    bool idempotent;             /* rt_method_idempotent() of the request method */
    bool bytes_reached_target;   /* the target may have seen request bytes; false only
                                  * when the failure proves it did not (connect failed,
                                  * proxy refused with 407/403/503 about itself) */
    bool body_replayable;        /* the whole request can be sent again: no body, or
                                  * the body is kept in full (<= max_replay_bytes) */
    bool response_started;       /* response bytes already went to the client */
    rt_budget *budget;           /* consumed on YES; NULL: no budget */
} rt_retry_input;

typedef struct rt_retry_verdict {
    rt_retry_status status;
    uint64_t delay_ms; /* YES: wait before the retry; DEADLINE: the wait refused */
    unsigned flags;    /* RT_RETRY_F_* */
    rt_code code;      /* what to report when not retrying: the attempt's code for
                        * NO, retries_exhausted / retry_budget_exhausted /
                        * deadline_exceeded otherwise; the gateway still passes a
                        * target's own answer through */
} rt_retry_verdict;

/* Limits 3/3/3/1/0, four retries in total, non-idempotent requests only
 * while the target cannot have seen them, 1 MiB replay, 250 ms jitter,
 * default backoff. */
void rt_retry_policy_default(rt_retry_policy *p);
/* Start a request at now_ms; timeout_ms 0 means no deadline. */
void rt_retry_state_init(rt_retry_state *s, uint64_t now_ms, uint64_t timeout_ms);
/* Decide about the attempt that just ended. On RT_RETRY_YES the retry is
 * counted in *s and in in->budget; nothing else changes state. */
rt_retry_verdict rt_retry_decide(const rt_retry_policy *p, rt_retry_state *s,
                                 const rt_retry_input *in, rt_rng *rng, uint64_t now_ms);
/* RFC 9110 section 9.2.2: GET, HEAD, OPTIONS, TRACE, PUT, DELETE. Method
 * names are case-sensitive (section 9.1). */
bool rt_method_idempotent(rt_slice method);
const char *rt_retry_status_name(rt_retry_status s); /* "no", "yes", "limit", "budget", "deadline" */

#endif
