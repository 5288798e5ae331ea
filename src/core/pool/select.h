/* Choosing an upstream for one attempt. Pure: the caller passes the random
 * source and a predicate saying which entries may be used right now
 * (health, bans, quarantine, already tried by this request).
 *
 * Every mode costs O(1) expected per pick whatever the pool size, as long
 * as most entries are usable; a bounded number of probes then falls back to
 * one linear scan so an almost-empty pool still finds its last entry. */
#ifndef ROTOR_CORE_POOL_SELECT_H
#define ROTOR_CORE_POOL_SELECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/rng.h"
#include "core/base/slice.h"

/* Pools up to this size take the exact least-inflight entry; larger ones
 * use power of two choices. */
#define RT_PICK_EXACT_MAX 32

typedef enum rt_pick_mode {
    RT_PICK_ROUND_ROBIN = 0,
    RT_PICK_RANDOM,
    RT_PICK_LEAST_INFLIGHT, /* exact minimum of in_flight up to RT_PICK_EXACT_MAX
                             * entries, power of two random choices beyond */
} rt_pick_mode;

/* Parse "round-robin" | "random" | "least-inflight"; -1 if unknown. */
int rt_pick_mode_parse(const char *s, rt_pick_mode *out);
const char *rt_pick_mode_name(rt_pick_mode m);

typedef bool (*rt_usable_fn)(void *ctx, size_t idx);

typedef struct rt_picker {
    rt_pick_mode mode;
    size_t cursor;            /* round-robin position */
    const uint32_t *in_flight;/* per-entry in-flight counts (least-inflight), may be NULL */
} rt_picker;

/* Pick an entry among n. With a non-empty `sticky` key the choice is a
 * stable function of the key (same key, same entry while it is usable;
 * the next usable one otherwise). Returns the index, or -1 when nothing is
 * usable. `usable` may be NULL (everything usable). */
long rt_pick(rt_picker *pk, size_t n, rt_rng *rng, rt_slice sticky,
             rt_usable_fn usable, void *ctx);

#endif
