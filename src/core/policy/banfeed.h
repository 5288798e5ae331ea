/* Bans and pauses learned by one worker thread, made known to the others.
 * Each thread keeps its own ban tables (no lock on the request path); when
 * one bans an exit for a domain it also publishes the ban here, and the
 * others take it into their tables when they next look (at the start of a
 * request: one atomic load when nothing is new). So a site that blocked an
 * exit on one thread does not get that exit again from another.
 *
 * A fixed ring that every thread writes (a fetch-and-add claims a slot)
 * and every thread reads with its own cursor. Each slot carries a sequence
 * number, so a reader never takes a half-written or overwritten record; a
 * reader that falls more than a ring behind skips the oldest records and
 * counts them (lost bans cost at most one more attempt each). Lock-free,
 * bounded, no allocation after init. */
#ifndef ROTOR_CORE_POLICY_BANFEED_H
#define ROTOR_CORE_POLICY_BANFEED_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define RT_BANFEED_SLOTS 4096u /* a power of two */

typedef enum rt_banfeed_kind { RT_BANFEED_BAN = 0, RT_BANFEED_PAUSE = 1 } rt_banfeed_kind;

typedef struct rt_banfeed_rec {
    uint64_t domain;     /* rt_domain_hash */
    uint64_t until_ms;   /* when the ban ends */
    uint64_t generation; /* pool generation the exit number belongs to */
    uint32_t exit;       /* entry index in that generation */
    uint8_t kind;        /* rt_banfeed_kind */
    uint8_t from;        /* publishing thread, so it skips its own */
} rt_banfeed_rec;

typedef struct rt_banfeed_slot {
    _Atomic uint64_t seq;  /* 2*pos+1 while written, 2*pos+2 when complete */
    _Atomic uint64_t w[4]; /* the record, packed */
} rt_banfeed_slot;

typedef struct rt_banfeed {
    rt_banfeed_slot *slot; /* owned, RT_BANFEED_SLOTS */
    _Atomic uint64_t head; /* records ever published */
} rt_banfeed;

typedef struct rt_banfeed_cursor {
    uint64_t next;         /* the next record this reader takes */
    uint64_t lost;         /* records it skipped (overwritten before read) */
} rt_banfeed_cursor;

/* 0, or -1 when out of memory. */
int rt_banfeed_init(rt_banfeed *f);
void rt_banfeed_free(rt_banfeed *f);
void rt_banfeed_publish(rt_banfeed *f, const rt_banfeed_rec *r);
/* A cursor that starts at the records published from now on. */
void rt_banfeed_cursor_init(const rt_banfeed *f, rt_banfeed_cursor *c);
/* Is anything new for this cursor? (One atomic load.) */
static inline int rt_banfeed_pending(const rt_banfeed *f, const rt_banfeed_cursor *c)
{
    return atomic_load_explicit((_Atomic uint64_t *)&f->head, memory_order_acquire) != c->next;
}
/* Up to max new records into out; returns how many. A record still being
 * written stops the read there (it is taken next time). */
size_t rt_banfeed_read(rt_banfeed *f, rt_banfeed_cursor *c, rt_banfeed_rec *out, size_t max);

#endif
