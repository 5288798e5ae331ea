/* Client network allow-lists (see cidr.h). */
#include "core/base/cidr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static int fail(char *err, size_t errlen, const char *item, size_t n, const char *why)
{
    if (err && errlen)
        snprintf(err, errlen, "'%.*s': %s", (int)(n > 64 ? 64 : n), item, why);
    return -1;
}

/* One item "ADDR" or "ADDR/BITS" of length n. */
static int parse_one(const char *item, size_t n, rt_cidr *out, char *err, size_t errlen)
{
    char text[64];
    if (n == 0)
        return fail(err, errlen, item, n, "empty item (write networks like 127.0.0.1/32,10.0.0.0/8)");
    if (n >= sizeof text)
        return fail(err, errlen, item, n, "too long for an address");
    memcpy(text, item, n);
    text[n] = 0;
    char *slash = strchr(text, '/');
    long bits = -1;
    if (slash) {
        *slash = 0;
        const char *b = slash + 1;
        if (!*b || strlen(b) > 3 || strspn(b, "0123456789") != strlen(b))
            return fail(err, errlen, item, n, "prefix length must be a number after '/'");
        bits = strtol(b, NULL, 10);
    }
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, text, out->addr) == 1) {
        out->v6 = 0;
        if (bits > 32)
            return fail(err, errlen, item, n, "an IPv4 prefix is at most /32");
        out->bits = (uint8_t)(bits < 0 ? 32 : bits);
    } else if (inet_pton(AF_INET6, text, out->addr) == 1) {
        out->v6 = 1;
        if (bits > 128)
            return fail(err, errlen, item, n, "an IPv6 prefix is at most /128");
        out->bits = (uint8_t)(bits < 0 ? 128 : bits);
    } else {
        return fail(err, errlen, item, n, "not a numeric IPv4 or IPv6 address");
    }
    size_t len = out->v6 ? 16 : 4;
    for (size_t i = 0; i < len; i++) {
        unsigned keep = out->bits >= (i + 1) * 8 ? 8 : out->bits > i * 8 ? out->bits - i * 8 : 0;
        uint8_t mask = (uint8_t)(keep ? 0xffu << (8 - keep) : 0);
        if (out->addr[i] & (uint8_t)~mask)
            return fail(err, errlen, item, n, "host bits set below the prefix length (did you mean a narrower prefix?)");
    }
    return 0;
}

int rt_cidr_list_parse(const char *spec, rt_cidr_list *out, char *err, size_t errlen)
{
    out->n = 0;
    if (!spec || !*spec)
        return fail(err, errlen, "", 0, "empty list (write networks like 127.0.0.1/32,10.0.0.0/8)");
    const char *p = spec;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (out->n >= RT_CIDR_MAX) {
            out->n = 0;
            char why[64];
            snprintf(why, sizeof why, "more than %d networks", RT_CIDR_MAX);
            return fail(err, errlen, p, n, why);
        }
        if (parse_one(p, n, &out->v[out->n], err, errlen) != 0) {
            out->n = 0;
            return -1;
        }
        out->n++;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

static bool prefix_eq(const uint8_t *a, const uint8_t *net, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(a, net, whole) != 0)
        return false;
    if (!rest)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (a[whole] & mask) == net[whole];
}

bool rt_cidr_list_match(const rt_cidr_list *l, bool v6, const uint8_t *addr)
{
    const uint8_t *as_v4 = !v6 ? addr : memcmp(addr, v4_mapped, sizeof v4_mapped) == 0 ? addr + 12 : NULL;
    for (size_t i = 0; i < l->n; i++) {
        const rt_cidr *c = &l->v[i];
        if (c->v6 ? (v6 && prefix_eq(addr, c->addr, c->bits)) : (as_v4 && prefix_eq(as_v4, c->addr, c->bits)))
            return true;
    }
    return false;
}
