/* Per-domain state: the circuit breaker, the retry budget and pacing of
 * every target domain rotor has talked to lately, in one bounded table.
 *
 * The table holds at most `capacity` domains (fixed at init). When a new
 * domain arrives and the table is full, the least recently used domain
 * that is idle (breaker closed, no pacing pause pending) among the
 * RT_DOMAINS_EVICT_SCAN oldest is forgotten; if all of those are busy, the
 * oldest is forgotten anyway (counted in evictions_busy), so a flood of
 * distinct host names costs memory that never grows, at worst some
 * breaker history. Names are compared ASCII case-insensitively, a trailing
 * dot ignored. */
#ifndef ROTOR_CORE_POLICY_DOMAINS_H
#define ROTOR_CORE_POLICY_DOMAINS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/slice.h"
#include "core/errors/vocab.h"
#include "core/policy/breaker.h"
#include "core/policy/budget.h"

#define RT_DOMAIN_NAME_MAX 253u   /* RFC 1035 section 2.3.4, without the final dot */
#define RT_DOMAINS_CAPACITY 4096u /* suggested default */
#define RT_DOMAINS_MAX 1000000u   /* the largest table accepted */
#define RT_DOMAINS_EVICT_SCAN 32u

typedef struct rt_domain {
    char name[RT_DOMAIN_NAME_MAX + 1]; /* lowercased, NUL-terminated */
    size_t len;
    uint64_t hash;            /* rt_domain_hash(name): the key for rt_bans */
    rt_breaker breaker;
    rt_budget budget;
    uint64_t not_before_ms;   /* pacing: send nothing to the domain before this */
    uint32_t backoff_streak;  /* consecutive overload answers from the domain */
    uint8_t tier;             /* fallback pool in use for the domain (0: the primary) */
    uint32_t in_flight;       /* requests to the domain under way (the caller counts) */
    uint64_t tier_until;      /* when to try the primary pool again */
    uint64_t last_used_ms;
    /* Table links; private to domains.c. */
    uint32_t chain_, prev_, next_;
} rt_domain;

typedef struct rt_domains {
    rt_domain *d;           /* owned, cap entries */
    uint32_t *heads;        /* owned, nheads hash chain heads */
    size_t cap, nheads, count;
    uint32_t lru_head, lru_tail, free_head; /* most recently used at head */
    rt_breaker_cfg breaker_cfg;
    rt_budget_cfg budget_cfg;
    uint64_t evictions, evictions_busy;
} rt_domains;

/* capacity 0: RT_DOMAINS_CAPACITY. Configurations NULL: defaults. Returns
 * 0, or -1 (capacity above RT_DOMAINS_MAX, out of memory). */
int rt_domains_init(rt_domains *t, size_t capacity, const rt_breaker_cfg *bc,
                    const rt_budget_cfg *gc);
void rt_domains_free(rt_domains *t);
/* Find the domain or create it (evicting as described above) and mark it
 * used at now_ms. Returns NULL only for an empty or over-long name. The
 * pointer stays valid until the next rt_domains_get of another name (which
 * may evict it) or rt_domains_free. */
rt_domain *rt_domains_get(rt_domains *t, rt_slice name, uint64_t now_ms);
/* Find without creating or touching the LRU order; NULL if absent. */
rt_domain *rt_domains_find(const rt_domains *t, rt_slice name);
/* Walk the domains held, most recently used first: prev NULL gives the
 * first, then pass the previous result; NULL after the last. Changes
 * nothing; for metrics and the admin page, not hot paths. */
rt_domain *rt_domains_next(const rt_domains *t, const rt_domain *prev);

/* Pacing, the guide's "wait 2 s, then 4, then 8 on consecutive 429s from
 * the same target" applied across requests: after an overload answer from
 * the domain itself (target origin, backoff class) the streak grows and no
 * request goes to the domain for wait_ms (the caller passes Retry-After,
 * or rt_backoff_delay of the streak before this answer). Any answer that is
 * not an overload resets the streak; failures of other hops leave it. */
void rt_domain_pace_note(rt_domain *d, rt_code c, uint64_t wait_ms, uint64_t now_ms);
/* How long a request to the domain must wait now (0: go). */
uint64_t rt_domain_pace_wait(const rt_domain *d, uint64_t now_ms);

#endif
