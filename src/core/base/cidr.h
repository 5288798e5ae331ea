/* Client network allow-lists: "127.0.0.1/32,10.0.0.0/8,::1,fd00::/8".
 *
 * Pure: parses text and matches raw address bytes; the caller turns its
 * socket address into (family, bytes). An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d, what a dual-stack listener reports for IPv4 clients) is
 * matched as the IPv4 address it carries. */
#ifndef ROTOR_CORE_BASE_CIDR_H
#define ROTOR_CORE_BASE_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RT_CIDR_MAX 64 /* networks in one list */

typedef struct rt_cidr {
    uint8_t v6;        /* 0: IPv4 (addr[0..3]), 1: IPv6 (addr[0..15]) */
    uint8_t bits;      /* prefix length: 0..32 or 0..128 */
    uint8_t addr[16];  /* network bytes, host bits cleared */
} rt_cidr;

typedef struct rt_cidr_list {
    rt_cidr v[RT_CIDR_MAX];
    size_t n;
} rt_cidr_list;

/* Parse a comma-separated list of ADDR or ADDR/BITS (IPv6 without
 * brackets). Host bits set under the prefix are an error (10.0.0.1/8 is
 * most likely a typo for a narrower network). Returns 0, or -1 with the
 * offending item and why in err; `out` is then empty. */
int rt_cidr_list_parse(const char *spec, rt_cidr_list *out, char *err, size_t errlen);

/* Is the address in one of the networks? `v6` says whether addr holds 16
 * bytes (IPv6) or 4 (IPv4). */
bool rt_cidr_list_match(const rt_cidr_list *l, bool v6, const uint8_t *addr);

#endif
