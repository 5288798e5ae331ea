#include "core/policy/banfeed.h"

#include <stdlib.h>

int rt_banfeed_init(rt_banfeed *f)
{
    f->slot = calloc(RT_BANFEED_SLOTS, sizeof *f->slot);
    atomic_init(&f->head, 0);
    return f->slot ? 0 : -1;
}

void rt_banfeed_free(rt_banfeed *f)
{
    free(f->slot);
    f->slot = NULL;
}

void rt_banfeed_publish(rt_banfeed *f, const rt_banfeed_rec *r)
{
    uint64_t pos = atomic_fetch_add_explicit(&f->head, 1, memory_order_acq_rel);
    rt_banfeed_slot *s = &f->slot[pos & (RT_BANFEED_SLOTS - 1)];
    atomic_store_explicit(&s->seq, 2 * pos + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&s->w[0], r->domain, memory_order_relaxed);
    atomic_store_explicit(&s->w[1], r->until_ms, memory_order_relaxed);
    atomic_store_explicit(&s->w[2], r->generation, memory_order_relaxed);
    atomic_store_explicit(&s->w[3], (uint64_t)r->exit << 16 | (uint64_t)r->kind << 8 | r->from, memory_order_relaxed);
    atomic_store_explicit(&s->seq, 2 * pos + 2, memory_order_release);
}

void rt_banfeed_cursor_init(const rt_banfeed *f, rt_banfeed_cursor *c)
{
    c->next = atomic_load_explicit((_Atomic uint64_t *)&f->head, memory_order_acquire);
    c->lost = 0;
}

size_t rt_banfeed_read(rt_banfeed *f, rt_banfeed_cursor *c, rt_banfeed_rec *out, size_t max)
{
    uint64_t head = atomic_load_explicit(&f->head, memory_order_acquire);
    if (head - c->next > RT_BANFEED_SLOTS) { /* lapped: the oldest are gone */
        c->lost += head - c->next - RT_BANFEED_SLOTS;
        c->next = head - RT_BANFEED_SLOTS;
    }
    size_t n = 0;
    while (c->next < head && n < max) {
        uint64_t pos = c->next;
        rt_banfeed_slot *s = &f->slot[pos & (RT_BANFEED_SLOTS - 1)];
        uint64_t s1 = atomic_load_explicit(&s->seq, memory_order_acquire);
        if (s1 < 2 * pos + 2)
            break; /* still being written: take it next time */
        uint64_t w[4];
        for (int i = 0; i < 4; i++)
            w[i] = atomic_load_explicit(&s->w[i], memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        uint64_t s2 = atomic_load_explicit(&s->seq, memory_order_relaxed);
        c->next++;
        if (s1 != 2 * pos + 2 || s2 != s1) {
            c->lost++; /* overwritten by a writer a ring ahead */
            continue;
        }
        out[n].domain = w[0];
        out[n].until_ms = w[1];
        out[n].generation = w[2];
        out[n].exit = (uint32_t)(w[3] >> 16);
        out[n].kind = (uint8_t)(w[3] >> 8);
        out[n].from = (uint8_t)w[3];
        n++;
    }
    return n;
}
