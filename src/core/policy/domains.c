#include "core/policy/domains.h"

#include <stdlib.h>

#include "core/policy/bans.h"

#define NIL UINT32_MAX

/* Lowercase and drop one trailing dot into out; returns the length or 0
 * when the name is empty or too long. */
static size_t normalize(rt_slice name, char out[RT_DOMAIN_NAME_MAX + 1])
{
    size_t n = name.n;
    if (n > 0 && name.p[n - 1] == '.')
        n--;
    if (n == 0 || n > RT_DOMAIN_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name.p[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
    }
    out[n] = '\0';
    return n;
}

int rt_domains_init(rt_domains *t, size_t capacity, const rt_breaker_cfg *bc,
                    const rt_budget_cfg *gc)
{
    t->d = NULL;
    t->heads = NULL;
    if (capacity == 0)
        capacity = RT_DOMAINS_CAPACITY;
    if (capacity > RT_DOMAINS_MAX)
        return -1;
    size_t nh = 1;
    while (nh < capacity * 2)
        nh <<= 1;
    t->d = calloc(capacity, sizeof *t->d);
    t->heads = malloc(nh * sizeof *t->heads);
    if (!t->d || !t->heads) {
        rt_domains_free(t);
        return -1;
    }
    for (size_t i = 0; i < nh; i++)
        t->heads[i] = NIL;
    /* Every entry starts on the free list, chained through next_. */
    for (size_t i = 0; i < capacity; i++)
        t->d[i].next_ = i + 1 < capacity ? (uint32_t)(i + 1) : NIL;
    t->cap = capacity;
    t->nheads = nh;
    t->count = 0;
    t->lru_head = t->lru_tail = NIL;
    t->free_head = 0;
    if (bc)
        t->breaker_cfg = *bc;
    else
        rt_breaker_cfg_default(&t->breaker_cfg);
    if (gc)
        t->budget_cfg = *gc;
    else
        rt_budget_cfg_default(&t->budget_cfg);
    t->evictions = t->evictions_busy = 0;
    return 0;
}

void rt_domains_free(rt_domains *t)
{
    free(t->d);
    free(t->heads);
    t->d = NULL;
    t->heads = NULL;
    t->cap = t->count = 0;
}

static uint32_t lookup(const rt_domains *t, const char *name, size_t n, uint64_t h)
{
    for (uint32_t i = t->heads[h & (t->nheads - 1)]; i != NIL; i = t->d[i].chain_)
        if (t->d[i].hash == h && t->d[i].len == n && memcmp(t->d[i].name, name, n) == 0)
            return i;
    return NIL;
}

static void lru_unlink(rt_domains *t, uint32_t i)
{
    rt_domain *e = &t->d[i];
    if (e->prev_ != NIL)
        t->d[e->prev_].next_ = e->next_;
    else
        t->lru_head = e->next_;
    if (e->next_ != NIL)
        t->d[e->next_].prev_ = e->prev_;
    else
        t->lru_tail = e->prev_;
}

static void lru_push_front(rt_domains *t, uint32_t i)
{
    rt_domain *e = &t->d[i];
    e->prev_ = NIL;
    e->next_ = t->lru_head;
    if (t->lru_head != NIL)
        t->d[t->lru_head].prev_ = i;
    t->lru_head = i;
    if (t->lru_tail == NIL)
        t->lru_tail = i;
}

static void chain_remove(rt_domains *t, uint32_t i)
{
    uint32_t *link = &t->heads[t->d[i].hash & (t->nheads - 1)];
    while (*link != i)
        link = &t->d[*link].chain_;
    *link = t->d[i].chain_;
}

static bool idle(const rt_domain *e, uint64_t now_ms)
{
    return rt_breaker_state_at(&e->breaker, now_ms) == RT_BREAKER_CLOSED &&
           e->not_before_ms <= now_ms && e->in_flight == 0 && e->tier == 0;
}

/* Free one entry: the oldest idle one near the LRU tail, else the tail. */
static uint32_t evict(rt_domains *t, uint64_t now_ms)
{
    uint32_t victim = t->lru_tail;
    uint32_t i = t->lru_tail;
    for (unsigned k = 0; k < RT_DOMAINS_EVICT_SCAN && i != NIL; k++, i = t->d[i].prev_) {
        if (idle(&t->d[i], now_ms)) {
            victim = i;
            break;
        }
    }
    if (!idle(&t->d[victim], now_ms))
        t->evictions_busy++;
    t->evictions++;
    lru_unlink(t, victim);
    chain_remove(t, victim);
    t->count--;
    return victim;
}

rt_domain *rt_domains_get(rt_domains *t, rt_slice name, uint64_t now_ms)
{
    char key[RT_DOMAIN_NAME_MAX + 1];
    size_t n = normalize(name, key);
    if (n == 0)
        return NULL;
    uint64_t h = rt_domain_hash(key, n);
    uint32_t i = lookup(t, key, n, h);
    if (i == NIL) {
        if (t->free_head != NIL) {
            i = t->free_head;
            t->free_head = t->d[i].next_;
        } else {
            i = evict(t, now_ms);
        }
        rt_domain *e = &t->d[i];
        memcpy(e->name, key, n + 1);
        e->len = n;
        e->hash = h;
        rt_breaker_init(&e->breaker, &t->breaker_cfg);
        rt_budget_init(&e->budget, &t->budget_cfg);
        e->not_before_ms = 0;
        e->backoff_streak = 0;
        e->tier = 0;
        e->tier_until = 0;
        e->in_flight = 0;
        uint32_t *head = &t->heads[h & (t->nheads - 1)];
        e->chain_ = *head;
        *head = i;
        t->count++;
    } else {
        lru_unlink(t, i);
    }
    lru_push_front(t, i);
    t->d[i].last_used_ms = now_ms;
    return &t->d[i];
}

rt_domain *rt_domains_find(const rt_domains *t, rt_slice name)
{
    char key[RT_DOMAIN_NAME_MAX + 1];
    size_t n = normalize(name, key);
    if (n == 0)
        return NULL;
    uint32_t i = lookup(t, key, n, rt_domain_hash(key, n));
    return i == NIL ? NULL : &t->d[i];
}

rt_domain *rt_domains_next(const rt_domains *t, const rt_domain *prev)
{
    if (!t->d)
        return NULL;
    uint32_t i = prev ? prev->next_ : t->lru_head;
    return i == NIL ? NULL : &t->d[i];
}

void rt_domain_pace_note(rt_domain *d, rt_code c, uint64_t wait_ms, uint64_t now_ms)
{
    const rt_code_info *info = rt_code_get(c);
    if (info->origin == RT_ORIGIN_TARGET && info->cls == RT_CLASS_BACKOFF) {
        if (d->backoff_streak < UINT32_MAX)
            d->backoff_streak++;
        uint64_t until = wait_ms > UINT64_MAX - now_ms ? UINT64_MAX : now_ms + wait_ms;
        if (until > d->not_before_ms)
            d->not_before_ms = until;
        return;
    }
    if (c == RT_E_ok || info->origin == RT_ORIGIN_TARGET)
        d->backoff_streak = 0;
}

uint64_t rt_domain_pace_wait(const rt_domain *d, uint64_t now_ms)
{
    return d->not_before_ms > now_ms ? d->not_before_ms - now_ms : 0;
}
