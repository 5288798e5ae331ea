/*
 * bench_select: nanoseconds per rt_pick over pools of 10 to 100,000 entries,
 * for each rotation mode, with a sticky session key, and with part of the
 * pool unusable (the predicate the gateway passes for bans and entries a
 * request already tried, down to a single usable entry: the worst case). Built and run by bench/micro.sh against
 * build/librotor_core.a.
 *
 * The claim under test (src/core/pool/select.h): every mode costs O(1)
 * expected per pick whatever the pool size while most entries are usable.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base/rng.h"
#include "core/base/slice.h"
#include "core/pool/select.h"

#define MAX_POOL 100000u    /* largest pool measured */
#define PICKS_FAST 2000000u /* picks per cell when a pick is O(1) */
#define PICKS_SLOW 2000u    /* picks per cell when most of the pool is unusable */

typedef struct usable_ctx {
    size_t n;
    unsigned every;         /* entry i usable when i % every == 0; 0: only the last one */
} usable_ctx;

static bool usable_every(void *ctx, size_t idx)
{
    const usable_ctx *u = ctx;
    return u->every ? idx % u->every == 0 : idx + 1 == u->n;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static volatile long sink;

/* Nanoseconds per pick for one cell of the table. */
static double time_picks(rt_pick_mode mode, size_t n, const uint32_t *in_flight, bool sticky,
                         unsigned every, unsigned picks)
{
    rt_picker pk = { .mode = mode, .cursor = 0, .in_flight = in_flight };
    rt_rng rng;
    rt_rng_seed(&rng, 42);
    usable_ctx u = { n, every };
    char key[32];
    long acc = 0;
    uint64_t t0 = now_ns();
    for (unsigned i = 0; i < picks; i++) {
        rt_slice s = RT_SLICE_NULL;
        if (sticky) {
            /* 64 sessions in turn: a realistic mix of repeated keys. */
            int len = snprintf(key, sizeof key, "session-%u", i & 63u);
            s = (rt_slice){ key, (size_t)len };
        }
        acc += rt_pick(&pk, n, &rng, s, every != 1 ? usable_every : NULL, &u);
    }
    uint64_t dt = now_ns() - t0;
    sink = acc;
    return (double)dt / picks;
}

int main(void)
{
    static uint32_t in_flight[MAX_POOL];
    rt_rng fill;
    rt_rng_seed(&fill, 7);
    for (size_t i = 0; i < MAX_POOL; i++)
        in_flight[i] = (uint32_t)rt_rng_below(&fill, 8);

    static const size_t sizes[] = { 10, 100, 1000, 10000, 100000 };
    static const struct {
        const char *name;
        rt_pick_mode mode;
        bool sticky;
        unsigned every;
        unsigned picks;
    } cols[] = {
        { "round-robin", RT_PICK_ROUND_ROBIN, false, 1, PICKS_FAST },
        { "random", RT_PICK_RANDOM, false, 1, PICKS_FAST },
        { "least-inflight", RT_PICK_LEAST_INFLIGHT, false, 1, PICKS_FAST },
        { "sticky key", RT_PICK_RANDOM, true, 1, PICKS_FAST },
        { "random, 1/2 usable", RT_PICK_RANDOM, false, 2, PICKS_FAST },
        { "random, 1/1000 usable", RT_PICK_RANDOM, false, 1000, PICKS_SLOW },
        { "random, only the last usable", RT_PICK_RANDOM, false, 0, PICKS_SLOW },
    };
    const size_t ncols = sizeof cols / sizeof cols[0];

    printf("rt_pick: nanoseconds per pick (sticky key costs include formatting the key)\n\n");
    printf("| pool size |");
    for (size_t c = 0; c < ncols; c++)
        printf(" %s |", cols[c].name);
    printf("\n|---|");
    for (size_t c = 0; c < ncols; c++)
        printf("---|");
    printf("\n");
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        printf("| %zu |", n);
        for (size_t c = 0; c < ncols; c++) {
            if (cols[c].every > n) {
                printf(" n/a |");
                continue;
            }
            double ns = time_picks(cols[c].mode, n, in_flight, cols[c].sticky, cols[c].every, cols[c].picks);
            printf(" %.1f |", ns);
        }
        printf("\n");
        fflush(stdout);
    }
    return 0;
}
