#include "core/pool/remap.h"

#include "core/base/hash.h"

#include <stdlib.h>
#include <string.h>

/* Each field with its length first, so that ("ab","c") and ("a","bc")
 * differ. */
static uint64_t mix_str(uint64_t h, const char *s)
{
    uint32_t n = s ? (uint32_t)strlen(s) + 1 : 0; /* NULL and "" differ too */
    h = rt_fnv1a(h, &n, sizeof n);
    return s ? rt_fnv1a(h, s, n - 1) : h;
}

uint64_t rt_upstream_identity(const rt_upstream *u)
{
    uint64_t h = RT_FNV_OFFSET;
    uint32_t scheme = (uint32_t)u->scheme, port = u->port;
    h = rt_fnv1a(h, &scheme, sizeof scheme);
    h = rt_fnv1a(h, &port, sizeof port);
    h = mix_str(h, u->host);
    h = mix_str(h, u->user);
    h = mix_str(h, u->pass);
    h = mix_str(h, u->label);
    return h ? h : 1;
}

long rt_pool_remap(const uint64_t *old_ids, size_t nold, const uint64_t *new_ids, size_t nnew, uint32_t *new_of_old,
                   uint32_t *old_of_new)
{
    for (size_t i = 0; i < nold; i++)
        new_of_old[i] = RT_REMAP_GONE;
    for (size_t j = 0; j < nnew; j++)
        old_of_new[j] = RT_REMAP_GONE;
    if (!nold || !nnew)
        return 0;
    /* Open addressing over the old identities, at most half full. */
    size_t cap = 16;
    while (cap < 2 * nold)
        cap <<= 1;
    uint32_t *slot = malloc(cap * sizeof *slot);
    if (!slot)
        return -1;
    memset(slot, 0xff, cap * sizeof *slot); /* RT_REMAP_GONE: empty */
    for (size_t i = 0; i < nold; i++) {
        size_t k = (size_t)(old_ids[i] * 0x9E3779B97F4A7C15ull >> 17) & (cap - 1);
        while (slot[k] != RT_REMAP_GONE && old_ids[slot[k]] != old_ids[i])
            k = (k + 1) & (cap - 1);
        if (slot[k] == RT_REMAP_GONE)
            slot[k] = (uint32_t)i; /* the first occurrence stays */
    }
    long matched = 0;
    for (size_t j = 0; j < nnew; j++) {
        size_t k = (size_t)(new_ids[j] * 0x9E3779B97F4A7C15ull >> 17) & (cap - 1);
        while (slot[k] != RT_REMAP_GONE && old_ids[slot[k]] != new_ids[j])
            k = (k + 1) & (cap - 1);
        uint32_t i = slot[k];
        if (i == RT_REMAP_GONE || new_of_old[i] != RT_REMAP_GONE)
            continue; /* new, or a second copy of an old entry */
        new_of_old[i] = (uint32_t)j;
        old_of_new[j] = i;
        matched++;
    }
    free(slot);
    return matched;
}
