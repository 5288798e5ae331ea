/* Following pool entries across a reload. Learned state (ejections,
 * quarantines, bans of an exit for a domain) is kept by entry index; when
 * the pool file is reloaded the same proxy may sit at another index, or be
 * gone. An entry's identity is what makes it the same proxy: scheme, host,
 * port, credentials and label. A changed password is a new entry, so a
 * quarantine for bad credentials ends when the credentials are fixed. */
#ifndef ROTOR_CORE_POOL_REMAP_H
#define ROTOR_CORE_POOL_REMAP_H

#include <stddef.h>
#include <stdint.h>

#include "core/pool/upstream.h"

#define RT_REMAP_GONE UINT32_MAX /* no counterpart in the other pool */

/* A 64-bit identity of the entry (never 0). */
uint64_t rt_upstream_identity(const rt_upstream *u);

/* Match entries by identity: new_of_old[i] is the index in the new pool of
 * old entry i, old_of_new[j] the index in the old pool of new entry j, or
 * RT_REMAP_GONE. An identity listed twice matches its first occurrence
 * only. Returns how many entries matched, or -1 when out of memory (the
 * arrays then say every entry is gone). */
long rt_pool_remap(const uint64_t *old_ids, size_t nold, const uint64_t *new_ids, size_t nnew, uint32_t *new_of_old,
                   uint32_t *old_of_new);

#endif
