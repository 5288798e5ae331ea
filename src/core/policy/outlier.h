/* Passive outlier ejection of upstream proxies (after Envoy's outlier
 * detection), and quarantine of misconfigured entries.
 *
 * Ejection: an entry that fails `consecutive` times in a row on its own
 * hop (connect refused/timeout/reset, malformed replies, the proxy's own
 * errors) is taken out of rotation for base_ms * times_ejected, capped at
 * max_ms. Target answers never count: a site blocking an exit says nothing
 * about the proxy. Any attempt where the proxy carried the request (the
 * target answered, whatever it said) resets the streak. Each full decay_ms
 * without an ejection lowers times_ejected by one, so an entry that
 * recovered is not punished forever for old trouble.
 *
 * Share limit: ejection never takes out more than max_ejected_pct of the
 * pool (floor of n * pct / 100, counting quarantined entries too): when
 * everything fails at once the cause is rarely every proxy, and an empty
 * pool would turn a partial outage into a total one.
 *
 * Quarantine (the fix class: bad credentials, nothing listening, a proxy
 * without CONNECT) is separate and not share-limited: the entry cannot work
 * until someone changes the configuration, so it stays out until
 * rt_outlier_readmit() or quarantine_ms passes.
 *
 * Readmission after an ejection is automatic when its time is over. */
#ifndef ROTOR_CORE_POLICY_OUTLIER_H
#define ROTOR_CORE_POLICY_OUTLIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/errors/vocab.h"

#define RT_OUTLIER_CONSECUTIVE 5u
#define RT_OUTLIER_BASE_MS 30000u
#define RT_OUTLIER_MAX_MS 300000u
#define RT_OUTLIER_MAX_EJECTED_PCT 50u
#define RT_OUTLIER_QUARANTINE_MS 1800000u /* 30 minutes */
#define RT_OUTLIER_DECAY_MS 300000u
#define RT_OUTLIER_MAX_ENTRIES 1000000u   /* the largest pool tracked */

typedef struct rt_outlier_cfg {
    uint32_t consecutive;
    uint32_t base_ms;
    uint32_t max_ms;
    uint32_t max_ejected_pct;
    uint32_t quarantine_ms;
    uint32_t decay_ms;
} rt_outlier_cfg;

typedef struct rt_outlier_entry {
    uint64_t ejected_until;     /* usable again at this time (0: never ejected) */
    uint64_t quarantined_until; /* 0: not quarantined */
    uint64_t last_ejected;      /* when the last ejection started */
    uint32_t consecutive;       /* current failure streak */
    uint32_t times_ejected;     /* multiplier for the next ejection */
} rt_outlier_entry;

typedef struct rt_outlier {
    rt_outlier_cfg cfg;
    rt_outlier_entry *e;     /* owned, n entries */
    size_t n;
    uint64_t ejections;      /* since init (metrics) */
    uint64_t ejections_refused; /* streaks that hit the share limit */
    uint64_t quarantines;
} rt_outlier;

/* What a recorded outcome did to the entry. */
typedef enum rt_outlier_event {
    RT_OUTLIER_NOTHING = 0,
    RT_OUTLIER_EJECTED,      /* taken out of rotation just now */
    RT_OUTLIER_REFUSED,      /* would be ejected, but the share limit forbids */
} rt_outlier_event;

void rt_outlier_cfg_default(rt_outlier_cfg *c);
/* One entry per pool member (n at most RT_OUTLIER_MAX_ENTRIES); cfg NULL:
 * defaults. Returns 0 or -1 (n too large or out of memory). */
int rt_outlier_init(rt_outlier *o, size_t n, const rt_outlier_cfg *cfg);
void rt_outlier_free(rt_outlier *o);
/* Report an attempt through entry idx that ended with code c. Out of range
 * indices are ignored. */
rt_outlier_event rt_outlier_record(rt_outlier *o, size_t idx, rt_code c, uint64_t now_ms);
/* Take entry idx out until readmitted or quarantine_ms passes. */
void rt_outlier_quarantine(rt_outlier *o, size_t idx, uint64_t now_ms);
/* End a quarantine and an ejection at once (configuration fixed, pool
 * reloaded, operator's request). */
void rt_outlier_readmit(rt_outlier *o, size_t idx);
/* After a pool reload: entry j of dst takes over the state of entry
 * old_of_new[j] of src (ejection, quarantine, streak), or starts afresh for
 * RT_OUTLIER_NEW; the counters since init carry over. */
#define RT_OUTLIER_NEW UINT32_MAX
void rt_outlier_carry(rt_outlier *dst, const rt_outlier *src, const uint32_t *old_of_new);
/* Whether entry idx may carry a request now. False for out of range. */
bool rt_outlier_usable(const rt_outlier *o, size_t idx, uint64_t now_ms);
bool rt_outlier_quarantined(const rt_outlier *o, size_t idx, uint64_t now_ms);
/* Entries out of rotation now (ejected or quarantined), by a scan. */
size_t rt_outlier_out_count(const rt_outlier *o, uint64_t now_ms);

/* An attempt's code counts toward the entry's failure streak: the proxy
 * itself failed (origin proxy, or the network between rotor and it). */
bool rt_code_counts_for_outlier(rt_code c);
/* The proxy carried the attempt to the target and back: success, or any
 * answer of the target. Resets the streak. */
bool rt_code_proves_upstream(rt_code c);

#endif
