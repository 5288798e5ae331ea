/* A retry budget (after Envoy's retry_budget): retries may be at most a
 * share of recent client requests plus a small floor, so a pool or target
 * that fails everything cannot multiply the traffic it receives.
 *
 * Accounting is over a sliding window (default 10 s in 10 buckets):
 *   requests  client requests, counted once each (first attempts);
 *   retries   extra attempts granted by rt_retry_decide.
 * A retry is allowed while retries < ratio * requests + min_retries, both
 * counted in the window. The floor keeps a quiet gateway able to retry at
 * all (one failing request in an idle minute still gets its retries). */
#ifndef ROTOR_CORE_POLICY_BUDGET_H
#define ROTOR_CORE_POLICY_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

#include "core/policy/window.h"

#define RT_BUDGET_RATIO 0.2
#define RT_BUDGET_MIN_RETRIES 10u  /* per window: one retry a second on average */
#define RT_BUDGET_WINDOW_MS 10000u
#define RT_BUDGET_BUCKETS 10u

typedef struct rt_budget_cfg {
    double ratio;         /* retries per request allowed; 0..1 is sane, <0 counts as 0 */
    uint32_t min_retries; /* retries always allowed per window */
    uint32_t window_ms;
    uint32_t buckets;     /* at most RT_WINDOW_MAX_BUCKETS */
} rt_budget_cfg;

typedef struct rt_budget {
    rt_budget_cfg cfg;
    rt_window w;     /* counter 0: requests, counter 1: retries */
    uint64_t denied; /* retries refused since init (a metric) */
} rt_budget;

void rt_budget_cfg_default(rt_budget_cfg *c);
/* cfg NULL: defaults. */
void rt_budget_init(rt_budget *b, const rt_budget_cfg *cfg);
/* A client request arrived (count it once, not per attempt). */
void rt_budget_on_request(rt_budget *b, uint64_t now_ms);
/* Whether one more retry fits now. Pure: refusals are counted by
 * rt_budget_note_denied so that asking twice does not count twice. */
bool rt_budget_can_retry(const rt_budget *b, uint64_t now_ms);
/* A retry was granted and will be sent. */
void rt_budget_on_retry(rt_budget *b, uint64_t now_ms);
void rt_budget_note_denied(rt_budget *b);
/* Retries in the window divided by the retries allowed: 0 idle, 1 full
 * (a gauge for metrics; may exceed 1 briefly if the window shrank). */
double rt_budget_usage(const rt_budget *b, uint64_t now_ms);
/* How many retries the window allows right now. */
uint64_t rt_budget_allowed(const rt_budget *b, uint64_t now_ms);

#endif
