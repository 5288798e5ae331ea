/* Politeness toward a target domain, shared by every worker thread:
 * at most `cap` requests in flight to the domain and at most one start per
 * `gap_ms` (--domain-concurrency, --domain-rate). A user who asks for two
 * requests at a time to a site means two in all, not two per thread, so
 * this one table is shared; it is lock-free (one 64-bit compare-and-swap
 * per step) and bounded.
 *
 * The table has a fixed number of slots; a domain takes a slot in a short
 * probe window from its hash and keeps it while it has requests in flight.
 * A slot whose domain has nothing in flight may be taken over by another
 * domain, which then starts with no rate history. When every slot in the
 * window is busy with other domains, the request goes unlimited (counted
 * in `overflow`): that needs more than RT_POLITE_PROBE domains with
 * requests in flight on one probe window at once.
 *
 * Time is passed in (now_ms); the module reads no clock. */
#ifndef ROTOR_CORE_POLICY_POLITE_H
#define ROTOR_CORE_POLICY_POLITE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RT_POLITE_SLOTS 16384u /* a power of two */
#define RT_POLITE_PROBE 8u
#define RT_POLITE_BUSY_RETRY_MS 20u /* how soon a request held by the cap looks again */

typedef struct rt_polite_slot {
    /* key (high 40 bits, never 0 when used) | requests in flight (low 24) */
    _Atomic uint64_t word;
    _Atomic uint64_t next_ms; /* the next start allowed by the rate limit */
} rt_polite_slot;

typedef struct rt_polite {
    rt_polite_slot *slot;     /* owned, RT_POLITE_SLOTS */
    _Atomic uint64_t overflow;
} rt_polite;

/* 0, or -1 when out of memory. */
int rt_polite_init(rt_polite *t);
void rt_polite_free(rt_polite *t);

/* May a request to the domain (hash: rt_domain_hash of its name) start
 * now? cap 0: no concurrency limit; gap_ms 0: no rate limit. On yes,
 * returns 0 and sets *ticket, which the caller hands to rt_polite_leave
 * when the request ends (a ticket of 0 needs no leave). On no, returns
 * how many ms to wait before asking again. */
uint64_t rt_polite_enter(rt_polite *t, uint64_t hash, uint32_t cap, uint64_t gap_ms, uint64_t now_ms,
                         uint32_t *ticket);
void rt_polite_leave(rt_polite *t, uint32_t ticket);

/* Requests in flight for the domain (for reports and tests). */
uint32_t rt_polite_in_flight(const rt_polite *t, uint64_t hash);

#endif
