/* FNV-1a, 64 bits: short and well known, for tables whose keys an attacker
 * does not choose (pool entries, labels, session keys). Chain calls to
 * hash several fields: h = rt_fnv1a(rt_fnv1a(RT_FNV_OFFSET, a, na), b, nb). */
#ifndef ROTOR_CORE_BASE_HASH_H
#define ROTOR_CORE_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define RT_FNV_OFFSET 0xcbf29ce484222325ull

static inline uint64_t rt_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

#endif
