/* Choosing an upstream for one attempt (see select.h for the contract).
 *
 * Every mode first makes at most PICK_PROBES cheap tries, which succeed
 * almost at once while most entries are usable, so a pick costs O(1)
 * expected whatever the pool size. Only when the probes all hit unusable
 * entries does it fall back to one linear scan, so that a pool with a
 * single healthy entry left still finds it (and an all-unusable pool
 * answers -1 after n checks instead of looping). */
#include "core/pool/select.h"

#include "core/base/hash.h"

#include <string.h>

/* Random probes before the linear scan. With a fraction u of entries
 * usable, all 64 probes miss with probability (1-u)^64: under 1e-6 at
 * u = 0.2, so the scan only runs for pools that are mostly out. */
#define PICK_PROBES 64

int rt_pick_mode_parse(const char *s, rt_pick_mode *out)
{
    static const struct {
        const char *name;
        rt_pick_mode mode;
    } modes[] = {
        { "round-robin", RT_PICK_ROUND_ROBIN },
        { "random", RT_PICK_RANDOM },
        { "least-inflight", RT_PICK_LEAST_INFLIGHT },
    };
    if (!s)
        return -1;
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        if (strcmp(s, modes[i].name) == 0) {
            *out = modes[i].mode;
            return 0;
        }
    }
    return -1;
}

const char *rt_pick_mode_name(rt_pick_mode m)
{
    switch (m) {
    case RT_PICK_ROUND_ROBIN: return "round-robin";
    case RT_PICK_RANDOM: return "random";
    case RT_PICK_LEAST_INFLIGHT: return "least-inflight";
    }
    return "?";
}

static bool ok(rt_usable_fn usable, void *ctx, size_t i)
{
    return !usable || usable(ctx, i);
}

/* The first usable entry at or after `start`, wrapping once; -1 if none. */
static long scan_from(size_t start, size_t n, rt_usable_fn usable, void *ctx)
{
    for (size_t k = 0; k < n; k++) {
        size_t i = start + k < n ? start + k : start + k - n;
        if (ok(usable, ctx, i))
            return (long)i;
    }
    return -1;
}

/* A stable hash of the sticky key: FNV-1a 64 followed by the splitmix64
 * finalizer. FNV alone leaves the low bits weakly mixed for short keys
 * that differ only in their last byte ("s1", "s2"), and the index is taken
 * modulo n, so the finalizer spreads every input bit over all output bits.
 * The value must never change between releases or restarts: clients rely
 * on one session key staying on one exit. */
static uint64_t sticky_hash(rt_slice key)
{
    uint64_t h = rt_fnv1a(RT_FNV_OFFSET, key.p, key.n);
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

/* Up to PICK_PROBES uniform draws; returns the first usable index, or -1.
 * `avoid` (when < n) is never returned, for the second choice of
 * least-inflight. */
static long random_probe(size_t n, rt_rng *rng, size_t avoid, rt_usable_fn usable, void *ctx)
{
    for (int t = 0; t < PICK_PROBES; t++) {
        size_t i;
        if (avoid < n) {
            if (n < 2)
                return -1;
            /* Uniform over the other n-1 entries. */
            i = (size_t)rt_rng_below(rng, n - 1);
            if (i >= avoid)
                i++;
        } else {
            i = (size_t)rt_rng_below(rng, n);
        }
        if (ok(usable, ctx, i))
            return (long)i;
    }
    return -1;
}

long rt_pick(rt_picker *pk, size_t n, rt_rng *rng, rt_slice sticky,
             rt_usable_fn usable, void *ctx)
{
    if (n == 0)
        return -1;

    /* Sticky: the same key maps to the same entry for as long as it is
     * usable; when it is not, the next usable entry forward takes over, so
     * a key moves only when its own entry fails, not when others do. */
    if (sticky.n > 0)
        return scan_from((size_t)(sticky_hash(sticky) % n), n, usable, ctx);

    switch (pk->mode) {
    case RT_PICK_ROUND_ROBIN: {
        /* Probing forward from the cursor and the fallback scan are one
         * loop here: both walk forward, and with most entries usable the
         * walk stops after a step or two. The cursor moves just past the
         * entry chosen, so the next pick starts at the one after it. */
        long i = scan_from(pk->cursor % n, n, usable, ctx);
        if (i >= 0)
            pk->cursor = (size_t)i + 1 < n ? (size_t)i + 1 : 0;
        return i;
    }
    case RT_PICK_LEAST_INFLIGHT: {
        /* Small pools: the exact minimum costs a few comparisons, so take
         * it; ties are broken uniformly (reservoir sampling) so equally idle
         * entries share the load. */
        if (pk->in_flight && n <= RT_PICK_EXACT_MAX) {
            long best = -1;
            uint64_t ties = 0;
            for (size_t i = 0; i < n; i++) {
                if (!ok(usable, ctx, i))
                    continue;
                if (best < 0 || pk->in_flight[i] < pk->in_flight[best]) {
                    best = (long)i;
                    ties = 1;
                } else if (pk->in_flight[i] == pk->in_flight[best] && rt_rng_below(rng, ++ties) == 0) {
                    best = (long)i;
                }
            }
            return best;
        }
        /* Power of two choices (Mitzenmacher): two random usable entries,
         * the one with fewer requests in flight wins. Nearly as good as
         * the global minimum, at O(1), and without the herd effect of
         * everybody sending to the single least-loaded entry. */
        long a = random_probe(n, rng, (size_t)-1, usable, ctx);
        if (a < 0)
            break;
        if (!pk->in_flight)
            return a;
        long b = random_probe(n, rng, (size_t)a, usable, ctx);
        if (b < 0)
            return a;
        return pk->in_flight[b] < pk->in_flight[a] ? b : a;
    }
    case RT_PICK_RANDOM:
    default: {
        long i = random_probe(n, rng, (size_t)-1, usable, ctx);
        if (i >= 0)
            return i;
        break;
    }
    }
    /* Few usable entries left: one scan from a random start, so the
     * survivors still share the load rather than the first one in file
     * order taking it all. */
    return scan_from((size_t)rt_rng_below(rng, n), n, usable, ctx);
}
