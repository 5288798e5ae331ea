#include "core/policy/bans.h"

#include <stdlib.h>
#include <string.h>

uint64_t rt_domain_hash(const char *name, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + ('a' - 'A'));
        h = (h ^ c) * 0x100000001b3ull;
    }
    /* 0 marks an empty recent-ban record; no real domain gets it. */
    return h ? h : 1;
}

/* Mix exit and domain so neighbouring exits do not share a probe run. */
static size_t home(const rt_bans *t, uint32_t exit, uint64_t domain)
{
    uint64_t h = domain ^ ((uint64_t)exit * 0x9E3779B97F4A7C15ull);
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 32;
    return (size_t)h & (t->cap - 1);
}

int rt_bans_init(rt_bans *t, size_t capacity)
{
    if (capacity == 0)
        capacity = RT_BANS_CAPACITY;
    if (capacity > ((size_t)1 << 30))
        capacity = (size_t)1 << 30;
    size_t cap = RT_BANS_PROBE;
    while (cap < capacity)
        cap <<= 1;
    t->slot = calloc(cap, sizeof *t->slot);
    t->recent = calloc(RT_BANS_RECENT_DOMAINS, sizeof *t->recent);
    if (!t->slot || !t->recent) {
        free(t->slot);
        free(t->recent);
        t->slot = NULL;
        t->recent = NULL;
        return -1;
    }
    t->cap = cap;
    t->evicted = 0;
    return 0;
}

void rt_bans_free(rt_bans *t)
{
    free(t->slot);
    free(t->recent);
    t->slot = NULL;
    t->recent = NULL;
    t->cap = 0;
}

static rt_ban_slot *find(const rt_bans *t, uint32_t exit, uint64_t domain)
{
    size_t h = home(t, exit, domain);
    for (size_t i = 0; i < RT_BANS_PROBE; i++) {
        rt_ban_slot *s = &t->slot[(h + i) & (t->cap - 1)];
        if (!s->used)
            return NULL; /* inserts never skip an unused slot */
        if (s->exit == exit && s->domain == domain)
            return s;
    }
    return NULL;
}

static void note_recent(rt_bans *t, uint32_t exit, uint64_t domain, uint64_t now_ms)
{
    rt_ban_recent *r = &t->recent[domain % RT_BANS_RECENT_DOMAINS];
    if (r->domain != domain) {
        /* Another domain held the record: it loses its history. Counts can
         * only come out low, so a collision delays an abort, never causes
         * one. */
        r->domain = domain;
        r->n = 0;
    }
    for (uint32_t i = 0; i < r->n; i++) {
        if (r->exit[i] == exit) {
            r->at[i] = now_ms;
            return;
        }
    }
    uint32_t k = r->n;
    if (k == RT_BANS_RECENT_EXITS) {
        /* Full: replace the exit banned longest ago. */
        k = 0;
        for (uint32_t i = 1; i < r->n; i++)
            if (r->at[i] < r->at[k])
                k = i;
    } else {
        r->n++;
    }
    r->exit[k] = exit;
    r->at[k] = now_ms;
}

static void place(rt_bans *t, uint32_t exit, uint64_t domain_hash, uint64_t until, uint64_t now_ms)
{
    rt_ban_slot *s = find(t, exit, domain_hash);
    if (s) {
        if (until > s->expires)
            s->expires = until;
        return;
    }
    /* Choose the first unused or expired slot in the run; failing that the
     * live ban that would end soonest. */
    size_t h = home(t, exit, domain_hash);
    rt_ban_slot *victim = NULL;
    for (size_t i = 0; i < RT_BANS_PROBE; i++) {
        rt_ban_slot *c = &t->slot[(h + i) & (t->cap - 1)];
        if (!c->used || c->expires <= now_ms) {
            victim = c;
            break;
        }
        if (!victim || c->expires < victim->expires)
            victim = c;
    }
    if (victim->used && victim->expires > now_ms)
        t->evicted++;
    victim->used = true;
    victim->exit = exit;
    victim->domain = domain_hash;
    victim->expires = until;
}

void rt_bans_add(rt_bans *t, uint32_t exit, uint64_t domain_hash, uint64_t now_ms,
                 uint64_t ttl_ms)
{
    uint64_t until = ttl_ms > UINT64_MAX - now_ms ? UINT64_MAX : now_ms + ttl_ms;
    note_recent(t, exit, domain_hash, now_ms);
    place(t, exit, domain_hash, until, now_ms);
}

size_t rt_bans_remap(rt_bans *t, const uint32_t *map, size_t nmap, uint64_t now_ms)
{
    size_t live = 0;
    for (size_t i = 0; i < t->cap; i++)
        live += t->slot[i].used && t->slot[i].expires > now_ms;
    rt_ban_slot *keep = live ? malloc(live * sizeof *keep) : NULL;
    size_t n = 0;
    if (keep)
        for (size_t i = 0; i < t->cap; i++)
            if (t->slot[i].used && t->slot[i].expires > now_ms)
                keep[n++] = t->slot[i];
    /* Out of memory: forgetting every ban is safe, keeping them under the
     * wrong exits is not. */
    memset(t->slot, 0, t->cap * sizeof *t->slot);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t e = keep[i].exit;
        if (e >= nmap || map[e] == RT_BANS_GONE)
            continue;
        place(t, map[e], keep[i].domain, keep[i].expires, now_ms);
        kept++;
    }
    free(keep);
    for (size_t d = 0; d < RT_BANS_RECENT_DOMAINS; d++) {
        rt_ban_recent *r = &t->recent[d];
        uint32_t w = 0;
        for (uint32_t i = 0; i < r->n; i++) {
            uint32_t e = r->exit[i];
            if (e >= nmap || map[e] == RT_BANS_GONE)
                continue;
            r->exit[w] = map[e];
            r->at[w] = r->at[i];
            w++;
        }
        r->n = w;
    }
    return kept;
}

bool rt_bans_is_banned(const rt_bans *t, uint32_t exit, uint64_t domain_hash, uint64_t now_ms)
{
    const rt_ban_slot *s = find(t, exit, domain_hash);
    return s && s->expires > now_ms;
}

uint64_t rt_bans_remaining(const rt_bans *t, uint32_t exit, uint64_t domain_hash, uint64_t now_ms)
{
    const rt_ban_slot *s = find(t, exit, domain_hash);
    return s && s->expires > now_ms ? s->expires - now_ms : 0;
}

void rt_bans_lift(rt_bans *t, uint32_t exit, uint64_t domain_hash)
{
    rt_ban_slot *s = find(t, exit, domain_hash);
    /* Expire in place: the slot stays used so probe runs stay intact. */
    if (s)
        s->expires = 0;
}

size_t rt_bans_lift_domain(rt_bans *t, uint64_t domain_hash, uint64_t now_ms)
{
    size_t n = 0;
    for (size_t i = 0; i < t->cap; i++) {
        rt_ban_slot *s = &t->slot[i];
        if (s->used && s->domain == domain_hash && s->expires > now_ms) {
            s->expires = 0;
            n++;
        }
    }
    rt_ban_recent *r = &t->recent[domain_hash % RT_BANS_RECENT_DOMAINS];
    if (r->domain == domain_hash) {
        r->domain = 0;
        r->n = 0;
    }
    return n;
}

unsigned rt_bans_distinct_recent(const rt_bans *t, uint64_t domain_hash, uint64_t now_ms,
                                 uint64_t window_ms)
{
    const rt_ban_recent *r = &t->recent[domain_hash % RT_BANS_RECENT_DOMAINS];
    if (r->domain != domain_hash)
        return 0;
    uint64_t since = now_ms > window_ms ? now_ms - window_ms : 0;
    unsigned n = 0;
    /* Exits in the record are distinct by construction. */
    for (uint32_t i = 0; i < r->n; i++)
        if (r->at[i] >= since && r->at[i] <= now_ms)
            n++;
    return n;
}

size_t rt_bans_count(const rt_bans *t, uint64_t now_ms)
{
    size_t n = 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slot[i].used && t->slot[i].expires > now_ms)
            n++;
    return n;
}
