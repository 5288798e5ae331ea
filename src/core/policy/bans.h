/* Bans of one exit for one target domain, with a time to live.
 *
 * When a target blocks an exit (rotate class: 403 block page, challenge),
 * that exit is kept away from that domain for a while, and only from that
 * domain: the same IP still works elsewhere. Keys are (exit, domain hash);
 * the exit is the upstream index, or any stable exit id the caller derives
 * (e.g. for backconnect sessions).
 *
 * Memory is fixed at init. The table is open addressing with linear
 * probing limited to RT_BANS_PROBE slots, so every operation costs O(1).
 * A full neighbourhood reuses an expired slot first, else evicts the ban
 * that expires soonest: under pressure the table forgets the least
 * valuable bans, it never grows and never fails.
 *
 * Separately, a small per-domain record of recently banned exits answers
 * "is this domain blocking us across many exits?" (the guide's abort case
 * "persistent 403 across many IPs": target_blocked_everywhere). */
#ifndef ROTOR_CORE_POLICY_BANS_H
#define ROTOR_CORE_POLICY_BANS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RT_BANS_CAPACITY 65536u  /* default slots */
#define RT_BANS_PROBE 16u        /* slots searched per operation */
#define RT_BANS_RECENT_DOMAINS 1024u /* domains with a recent-ban record */
#define RT_BANS_RECENT_EXITS 16u /* exits remembered per domain; counts saturate here */
#define RT_BANS_TTL_MS 600000u   /* suggested ban length: 10 minutes */
/* Suggested rule for target_blocked_everywhere: this many distinct exits
 * banned for one domain within the window (callers with smaller pools use
 * min(this, pool size)). */
#define RT_BANS_EVERYWHERE_EXITS 5u
#define RT_BANS_EVERYWHERE_WINDOW_MS 600000u

typedef struct rt_ban_slot {
    uint64_t domain;  /* domain hash */
    uint64_t expires; /* now_ms at which the ban ends */
    uint32_t exit;
    bool used;        /* ever written; expired slots stay used (reusable) */
} rt_ban_slot;

typedef struct rt_ban_recent {
    uint64_t domain;                        /* 0: empty record */
    uint32_t exit[RT_BANS_RECENT_EXITS];
    uint64_t at[RT_BANS_RECENT_EXITS];      /* when each exit was last banned */
    uint32_t n;                             /* entries used */
} rt_ban_recent;

typedef struct rt_bans {
    rt_ban_slot *slot;     /* owned, cap entries */
    size_t cap;            /* power of two */
    rt_ban_recent *recent; /* owned, RT_BANS_RECENT_DOMAINS entries */
    uint64_t evicted;      /* live bans pushed out by a full table (a metric) */
} rt_bans;

/* Allocate a table of `capacity` slots (rounded up to a power of two, at
 * least RT_BANS_PROBE; 0 means RT_BANS_CAPACITY). Returns 0 or -1 (out of
 * memory, nothing allocated). */
int rt_bans_init(rt_bans *t, size_t capacity);
void rt_bans_free(rt_bans *t);
/* Ban `exit` for the domain until now_ms + ttl_ms. Banning again extends
 * the ban (never shortens it) and refreshes the recent-ban record. */
/* The exits were renumbered (a pool reload): map[old] is the new number,
 * or RT_BANS_GONE to drop the exit's bans and its place in the recent
 * records. Expired bans are dropped too. Returns the bans kept. */
#define RT_BANS_GONE UINT32_MAX
size_t rt_bans_remap(rt_bans *t, const uint32_t *map, size_t nmap, uint64_t now_ms);
void rt_bans_add(rt_bans *t, uint32_t exit, uint64_t domain_hash, uint64_t now_ms,
                 uint64_t ttl_ms);
bool rt_bans_is_banned(const rt_bans *t, uint32_t exit, uint64_t domain_hash, uint64_t now_ms);
/* Time left on the ban in ms; 0 when not banned. */
uint64_t rt_bans_remaining(const rt_bans *t, uint32_t exit, uint64_t domain_hash, uint64_t now_ms);
/* Lift a ban early (e.g. the exit just succeeded for the domain). */
void rt_bans_lift(rt_bans *t, uint32_t exit, uint64_t domain_hash);
/* Lift every ban of the domain and forget its recent-ban record (an
 * operator's reset), by a full scan. Returns how many live bans ended. */
size_t rt_bans_lift_domain(rt_bans *t, uint64_t domain_hash, uint64_t now_ms);
/* Distinct exits banned for the domain within the last window_ms,
 * saturating at RT_BANS_RECENT_EXITS. */
unsigned rt_bans_distinct_recent(const rt_bans *t, uint64_t domain_hash, uint64_t now_ms,
                                 uint64_t window_ms);
/* Live bans, by a full scan (for metrics and the admin page, not hot paths). */
size_t rt_bans_count(const rt_bans *t, uint64_t now_ms);

/* FNV-1a over the lowercased name: the domain hash the tables expect. */
uint64_t rt_domain_hash(const char *name, size_t n);

#endif
