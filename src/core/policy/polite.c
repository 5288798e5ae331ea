#include "core/policy/polite.h"

#include <stdlib.h>

#define COUNT_BITS 24u
#define COUNT_MASK ((UINT64_C(1) << COUNT_BITS) - 1)

static uint64_t key_of(uint64_t hash)
{
    uint64_t k = hash >> COUNT_BITS; /* the high 40 bits of the hash */
    return (k ? k : 1) << COUNT_BITS;
}

static uint64_t key_part(uint64_t w) { return w & ~COUNT_MASK; }
static uint64_t count_part(uint64_t w) { return w & COUNT_MASK; }

int rt_polite_init(rt_polite *t)
{
    t->slot = calloc(RT_POLITE_SLOTS, sizeof *t->slot);
    atomic_init(&t->overflow, 0);
    return t->slot ? 0 : -1;
}

void rt_polite_free(rt_polite *t)
{
    free(t->slot);
    t->slot = NULL;
}

/* One more in flight on slot s for key k, unless the cap is reached.
 * Returns 1 (counted), 0 (at the cap) or -1 (the slot holds another key). */
static int count_in(rt_polite_slot *s, uint64_t k, uint32_t cap)
{
    uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
    for (;;) {
        if (key_part(w) != k)
            return -1;
        if ((cap && count_part(w) >= cap) || count_part(w) == COUNT_MASK)
            return 0;
        if (atomic_compare_exchange_weak_explicit(&s->word, &w, w + 1, memory_order_acq_rel, memory_order_acquire))
            return 1;
    }
}

/* Find the domain's slot, or take the first free one in its window, and
 * count the request in. Returns the slot index + 1, 0 when the cap holds
 * it back (*busy) or no slot is to be had (!*busy). */
static uint32_t claim(rt_polite *t, uint64_t hash, uint32_t cap, bool *busy)
{
    uint64_t k = key_of(hash);
    uint32_t base = (uint32_t)hash & (RT_POLITE_SLOTS - 1);
    *busy = false;
    for (unsigned round = 0; round < 4; round++) {
        /* The domain's own slot, when it has one. */
        for (unsigned i = 0; i < RT_POLITE_PROBE; i++) {
            uint32_t at = (base + i) & (RT_POLITE_SLOTS - 1);
            int r = count_in(&t->slot[at], k, cap);
            if (r == 1)
                return at + 1;
            if (r == 0) {
                *busy = true;
                return 0;
            }
        }
        /* Else a slot nobody is using: a never used one first, so idle
         * domains keep their rate history while there is room. Every
         * thread picks by the same rule, so two threads that both missed
         * race for the same slot and the loser finds the winner's key. */
        uint32_t pick = UINT32_MAX, idle = UINT32_MAX;
        for (unsigned i = 0; i < RT_POLITE_PROBE && pick == UINT32_MAX; i++) {
            uint32_t at = (base + i) & (RT_POLITE_SLOTS - 1);
            uint64_t w = atomic_load_explicit(&t->slot[at].word, memory_order_acquire);
            if (w == 0)
                pick = at;
            else if (count_part(w) == 0 && idle == UINT32_MAX)
                idle = at;
        }
        if (pick == UINT32_MAX)
            pick = idle;
        if (pick == UINT32_MAX)
            return 0; /* every slot of the window busy with other domains */
        rt_polite_slot *s = &t->slot[pick];
        uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
        if (count_part(w) == 0 &&
            atomic_compare_exchange_strong_explicit(&s->word, &w, k | 1, memory_order_acq_rel, memory_order_acquire)) {
            if (key_part(w) != k) /* a new tenant starts without rate history */
                atomic_store_explicit(&s->next_ms, 0, memory_order_release);
            return pick + 1;
        }
        /* Lost a race for the slot: look again. */
    }
    return 0;
}

uint64_t rt_polite_enter(rt_polite *t, uint64_t hash, uint32_t cap, uint64_t gap_ms, uint64_t now_ms,
                         uint32_t *ticket)
{
    *ticket = 0;
    if (!cap && !gap_ms)
        return 0;
    bool busy;
    uint32_t at = claim(t, hash, cap, &busy);
    if (!at) {
        if (busy)
            return RT_POLITE_BUSY_RETRY_MS;
        atomic_fetch_add_explicit(&t->overflow, 1, memory_order_relaxed);
        return 0;
    }
    if (gap_ms) {
        rt_polite_slot *s = &t->slot[at - 1];
        uint64_t next = atomic_load_explicit(&s->next_ms, memory_order_acquire);
        for (;;) {
            if (next > now_ms) {
                rt_polite_leave(t, at);
                return next - now_ms;
            }
            if (atomic_compare_exchange_weak_explicit(&s->next_ms, &next, now_ms + gap_ms, memory_order_acq_rel,
                                                      memory_order_acquire))
                break;
        }
    }
    *ticket = at;
    return 0;
}

void rt_polite_leave(rt_polite *t, uint32_t ticket)
{
    if (!ticket || ticket > RT_POLITE_SLOTS)
        return;
    rt_polite_slot *s = &t->slot[ticket - 1];
    uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
    /* The slot keeps its key while the ticket's request is counted in it. */
    while (count_part(w) &&
           !atomic_compare_exchange_weak_explicit(&s->word, &w, w - 1, memory_order_acq_rel, memory_order_acquire)) {
    }
}

uint32_t rt_polite_in_flight(const rt_polite *t, uint64_t hash)
{
    uint64_t k = key_of(hash);
    uint32_t base = (uint32_t)hash & (RT_POLITE_SLOTS - 1);
    for (unsigned i = 0; i < RT_POLITE_PROBE; i++) {
        uint64_t w = atomic_load_explicit(&t->slot[(base + i) & (RT_POLITE_SLOTS - 1)].word, memory_order_acquire);
        if (key_part(w) == k)
            return (uint32_t)count_part(w);
    }
    return 0;
}
