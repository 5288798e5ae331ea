/* Shared helpers of the HTTP fuzz targets. They link rotor_core, which the
 * fuzz build compiles with -fsanitize=fuzzer-no-link and ASan, so coverage
 * feedback and bounds checks reach into the parser itself. */
#ifndef ROTOR_FUZZ_UNITY_H
#define ROTOR_FUZZ_UNITY_H

#include <stdbool.h>
#include <stdint.h>

#include "core/http/chars.h"
#include "core/http/http1.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with a message: the fuzzer records the input as a crash. */
#define FUZZ_CHECK(c)                                                               \
    do {                                                                            \
        if (!(c)) {                                                                 \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #c); \
            abort();                                                                \
        }                                                                           \
    } while (0)

/* A slice is either empty or lies inside [base, base + n). */
static inline bool fuzz_inside(rt_slice s, const char *base, size_t n)
{
    if (s.n == 0)
        return true;
    return s.p >= base && s.p <= base + n && s.n <= (size_t)(base + n - s.p);
}

/* What a strict parser promises about an accepted head of n bytes: every
 * CR is followed by LF and every LF preceded by CR, field names are tokens
 * and values hold no CTL but HTAB and have no surrounding whitespace. */
static inline void fuzz_check_accepted_head(const char *buf, size_t n, const rt_http_head *h)
{
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\r')
            FUZZ_CHECK(i + 1 < n && buf[i + 1] == '\n');
        if (buf[i] == '\n')
            FUZZ_CHECK(i > 0 && buf[i - 1] == '\r');
    }
    for (size_t k = 0; k < h->nhdrs; k++) {
        rt_slice nm = h->hdrs[k].name, v = h->hdrs[k].value;
        for (size_t i = 0; i < nm.n; i++)
            FUZZ_CHECK(rt_http_cc[(unsigned char)nm.p[i]] & RT_CC_TOKEN);
        for (size_t i = 0; i < v.n; i++)
            FUZZ_CHECK(rt_http_cc[(unsigned char)v.p[i]] & RT_CC_FVAL);
        if (v.n) {
            FUZZ_CHECK(v.p[0] != ' ' && v.p[0] != '\t');
            FUZZ_CHECK(v.p[v.n - 1] != ' ' && v.p[v.n - 1] != '\t');
        }
    }
}

/* Exact-size heap copy so ASan sees any read past the input. */
static inline char *fuzz_copy(const uint8_t *data, size_t size)
{
    char *p = malloc(size ? size : 1);
    if (!p)
        abort();
    if (size)
        memcpy(p, data, size);
    return p;
}

/* Checks a chunked body that starts at buf: the scan never consumes more
 * than it was given, and feeding the same bytes in two parts gives the same
 * answer as feeding them at once. */
static inline void fuzz_chunked_body(const char *buf, size_t len, size_t split)
{
    rt_chunked a, b;
    bool da = false, db = false;
    rt_chunked_init(&a);
    rt_chunked_init(&b);
    ssize_t ra = rt_chunked_scan(&a, buf, len, &da);
    FUZZ_CHECK(ra >= -1 && ra <= (ssize_t)len);
    FUZZ_CHECK(!da || ra >= 0);
    if (split > len)
        split = len;
    ssize_t r1 = rt_chunked_scan(&b, buf, split, &db);
    ssize_t total = r1;
    if (r1 >= 0 && !db) {
        FUZZ_CHECK(r1 == (ssize_t)split);
        ssize_t r2 = rt_chunked_scan(&b, buf + split, len - split, &db);
        FUZZ_CHECK(r2 >= -1 && r2 <= (ssize_t)(len - split));
        total = r2 < 0 ? -1 : r1 + r2;
    }
    FUZZ_CHECK((ra < 0) == (total < 0));
    if (ra >= 0) {
        FUZZ_CHECK(da == db);
        FUZZ_CHECK(ra == total);
    }
}

#endif
