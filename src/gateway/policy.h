/* The gateway's use of the healing policies (src/core/policy): one place
 * that asks the core before a request (breaker, pacing), before each pick
 * (ejection, quarantine, bans) and after each attempt (the one retry
 * decision; ejection, bans, pauses and breaker bookkeeping).
 *
 * State is per worker thread: each event loop keeps its own shard of
 * breakers, bans, ejections and budget, so the hot path takes no lock.
 * With several threads a domain's breaker sees that thread's share of the
 * traffic, which keeps the error rate the same; a ban learned by one
 * thread may cost one more attempt on another. */
#ifndef ROTOR_GATEWAY_POLICY_H
#define ROTOR_GATEWAY_POLICY_H

#include "core/policy/bans.h"
#include "core/policy/budget.h"
#include "core/policy/domains.h"
#include "core/policy/outlier.h"
#include "core/policy/retry.h"

typedef struct gw_client gw_client;
typedef struct gw_worker gw_worker;
typedef struct gw_pool gw_pool;

typedef struct gw_policy_cfg gw_policy_cfg;

typedef struct gw_policy {
    const gw_policy_cfg *cfg;
    rt_retry_policy retry;
    rt_budget budget;
    rt_domains domains;
    rt_bans bans;          /* exits blocked by a domain (rotate class) */
    rt_bans pauses;        /* exits a domain asked to wait (Retry-After) */
    rt_outlier outlier;    /* sized to the pool generation below */
    rt_code *quarantine_code; /* why each quarantined entry is out */
    uint64_t outlier_gen;
    uint64_t *ident;       /* identities of that generation's entries */
    size_t nident;
} gw_policy;

/* The outcome of one attempt, as the gateway saw it. */
typedef struct gw_outcome {
    rt_code code;
    int status;                 /* 0 when no HTTP answer */
    const char *evidence;
    bool has_retry_after;
    uint64_t retry_after_ms;
    bool reached_target;        /* request bytes may have reached the target */
} gw_outcome;

int gw_policy_init(gw_policy *p, const gw_policy_cfg *cfg, char *err, size_t errlen);
void gw_policy_free(gw_policy *p);
/* The worker's outlier table, resized (state reset) when pool is a newer
 * generation than the table; NULL for an older pool or out of memory.
 * Worker thread only. */
rt_outlier *gw_policy_outlier(gw_policy *p, const gw_pool *pool);

/* Before the first attempt: the domain's breaker and pacing. Returns
 * GW_OK to go on, or answers the client itself (GW_GONE possible) and sets
 * *answered. */
int gw_policy_admit(gw_client *c, bool *answered);
/* Politeness limits (--domain-concurrency, --domain-rate, and the cap when
 * a domain's usable exits shrink): 0 when the request may go now (it is
 * then counted in), else how long to wait before asking again. */
uint64_t gw_policy_polite(gw_client *c);
/* The request is over: release its place in the domain's concurrency. */
void gw_policy_request_done(gw_client *c);
/* May entry idx carry this request's next attempt? */
bool gw_policy_usable(gw_client *c, size_t idx);
/* Count one more attempt in flight on entry idx; false (nothing counted)
 * when --max-inflight is reached, including by another thread just now. */
bool gw_policy_claim(gw_client *c, size_t idx);
/* The request's tier is exhausted for its domain: move the domain to the
 * next fallback pool (logged) and the request with it. False when there is
 * no further pool. */
bool gw_policy_escalate(gw_client *c);
/* Explain an empty pick: the code to answer and the evidence; for
 * domain_paused, *wait_ms is when the first paused exit is free again. */
rt_code gw_policy_explain_empty(gw_client *c, char *ev, size_t evlen, uint64_t *wait_ms);

typedef enum gw_next {
    GW_NEXT_RETRY = 0,     /* start another attempt (after c->retry_delay_ms) */
    GW_NEXT_DELIVER,       /* pass the target's answer through */
    GW_NEXT_FAIL,          /* answer with *code (generated reply) */
} gw_next;

/* After every attempt, success included: bookkeeping, then the retry
 * decision. For a failure returns what to do next; *code is the code to
 * report and *retry_after_s the Retry-After to announce (0: none). */
gw_next gw_policy_after_attempt(gw_client *c, const gw_outcome *o, rt_code *code, uint32_t *retry_after_s);

#endif
