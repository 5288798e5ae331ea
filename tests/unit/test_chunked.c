/* Tests for the chunked body scanner (src/core/http/chunked.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/http/http1.h"

/* Feeds buf[0..n) in pieces of the given sizes (cycled), each from an
 * exact-size heap copy. Returns the total consumed when done, -1 on error,
 * -2 when all bytes were consumed without reaching the end. */
static ssize_t feed(const char *buf, size_t n, const size_t *pieces, size_t npieces)
{
    rt_chunked c;
    rt_chunked_init(&c);
    size_t off = 0, k = 0;
    while (off < n) {
        size_t want = pieces[k++ % npieces];
        if (want > n - off)
            want = n - off;
        char *p = malloc(want ? want : 1);
        assert_non_null(p);
        memcpy(p, buf + off, want);
        bool done = true;
        ssize_t r = rt_chunked_scan(&c, p, want, &done);
        free(p);
        if (r < 0)
            return -1;
        assert_true((size_t)r <= want);
        off += (size_t)r;
        if (done)
            return (ssize_t)off;
        assert_int_equal((size_t)r, want); /* not done: everything given is taken */
    }
    return -2;
}

static ssize_t feed_all(const char *buf, size_t n)
{
    size_t whole = n ? n : 1;
    return feed(buf, n, &whole, 1);
}

static ssize_t feed_str(const char *s)
{
    return feed_all(s, strlen(s));
}

static void test_valid(void **state)
{
    (void)state;
    static const char *ok[] = {
        "0\r\n\r\n",
        "5\r\nhello\r\n0\r\n\r\n",
        "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        "A\r\n0123456789\r\n0\r\n\r\n",
        "a\r\n0123456789\r\n000\r\n\r\n",
        "00005\r\nhello\r\n0\r\n\r\n",
        "5;name=value\r\nhello\r\n0;last\r\n\r\n",
        "5 ;name=\"quoted value\"\r\nhello\r\n0\r\n\r\n",
        "5\t; a ; b=c\r\nhello\r\n0\r\n\r\n",
        "5\r\nhello\r\n0\r\nExpires: never\r\nX-Checksum: abc\t123\r\n\r\n",
        "3\r\n\r\n\r\r\n0\r\n\r\n", /* data may hold CR and LF */
        "0\r\nX:\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ssize_t r = feed_str(ok[i]);
        if (r != (ssize_t)strlen(ok[i])) {
            print_error("case %zu: got %zd\n", i, r);
            fail();
        }
    }
}

static void test_stops_at_message_end(void **state)
{
    (void)state;
    const char *s = "4\r\nwiki\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
    size_t body = strlen("4\r\nwiki\r\n0\r\n\r\n");
    assert_int_equal(feed_str(s), (ssize_t)body);
    /* Once done, further calls consume nothing and stay done. */
    rt_chunked c;
    rt_chunked_init(&c);
    bool done = false;
    assert_int_equal(rt_chunked_scan(&c, s, strlen(s), &done), (ssize_t)body);
    assert_true(done);
    done = false;
    assert_int_equal(rt_chunked_scan(&c, s + body, strlen(s) - body, &done), 0);
    assert_true(done);
}

static void test_large_chunk_o1(void **state)
{
    (void)state;
    /* A 1 GiB chunk announced, fed as a short slice: the scanner only
     * counts, so remaining drops by exactly what was given. */
    rt_chunked c;
    rt_chunked_init(&c);
    bool done;
    const char *hdr = "40000000\r\n";
    assert_int_equal(rt_chunked_scan(&c, hdr, strlen(hdr), &done), (ssize_t)strlen(hdr));
    assert_false(done);
    assert_int_equal(c.remaining, UINT64_C(0x40000000));
    static char data[65536];
    memset(data, 'z', sizeof data);
    assert_int_equal(rt_chunked_scan(&c, data, sizeof data, &done), (ssize_t)sizeof data);
    assert_int_equal(c.remaining, UINT64_C(0x40000000) - sizeof data);
    assert_false(done);
    /* The largest size accepted is 2^62 - 1. */
    rt_chunked_init(&c);
    const char *max = "3fffffffffffffff\r\n";
    assert_int_equal(rt_chunked_scan(&c, max, strlen(max), &done), (ssize_t)strlen(max));
    assert_int_equal(c.remaining, (UINT64_C(1) << 62) - 1);
}

static void test_every_split(void **state)
{
    (void)state;
    static const char *bodies[] = {
        "5\r\nhello\r\n0\r\n\r\n",
        "1a;ext=\"x\"\r\nabcdefghijklmnopqrstuvwxyz\r\n3\r\nabc\r\n0\r\nT: v\r\nU: w\r\n\r\n",
        "0 ; e\r\n\r\n",
    };
    for (size_t b = 0; b < sizeof bodies / sizeof bodies[0]; b++) {
        size_t n = strlen(bodies[b]);
        /* One split point anywhere. */
        for (size_t k = 1; k < n; k++) {
            char *p1 = malloc(k), *p2 = malloc(n - k);
            memcpy(p1, bodies[b], k);
            memcpy(p2, bodies[b] + k, n - k);
            rt_chunked c;
            rt_chunked_init(&c);
            bool done;
            assert_int_equal(rt_chunked_scan(&c, p1, k, &done), (ssize_t)k);
            assert_false(done);
            assert_int_equal(rt_chunked_scan(&c, p2, n - k, &done), (ssize_t)(n - k));
            assert_true(done);
            free(p1);
            free(p2);
        }
        /* Uniform piece sizes, down to one byte at a time. */
        for (size_t piece = 1; piece <= n; piece++)
            assert_int_equal(feed(bodies[b], n, &piece, 1), (ssize_t)n);
        /* An empty call anywhere changes nothing. */
        rt_chunked c;
        rt_chunked_init(&c);
        bool done;
        assert_int_equal(rt_chunked_scan(&c, bodies[b], 0, &done), 0);
        assert_false(done);
    }
}

static void test_bad(void **state)
{
    (void)state;
    static const char *bad[] = {
        "0x5\r\nhello\r\n0\r\n\r\n",               /* no 0x prefix */
        "fffffffffffffffffff\r\n",                 /* overflow */
        "4000000000000000\r\n",                    /* exactly 2^62 */
        "10000000000000000\r\n",                   /* 2^64 would wrap */
        "5 \r\nhello\r\n0\r\n\r\n",                /* whitespace without extension */
        " 5\r\nhello\r\n0\r\n\r\n",
        "-5\r\n",
        "+5\r\n",
        "\r\n",                                    /* empty size */
        "g\r\n",
        "5\nhello\r\n0\r\n\r\n",                   /* bare LF after size */
        "5\r\rhello\r\n0\r\n\r\n",
        "5\r\nhelloX\r\n0\r\n\r\n",                /* missing CRLF after data */
        "5\r\nhello\n0\r\n\r\n",
        "5\r\nhello\rX0\r\n\r\n",
        "5\r\nhello\r\n0\r\n\n",                  /* bare LF at the end */
        "5\r\nhello\r\n0\r\n\rX",
        "5;a\x01\r\nhello\r\n0\r\n\r\n",           /* CTL in extension */
        "5;a\nb\r\nhello\r\n0\r\n\r\n",
        "0\r\nX : v\r\n\r\n",                      /* trailer like a header line */
        "0\r\n: v\r\n\r\n",
        "0\r\n v\r\n\r\n",
        "0\r\nX v\r\n\r\n",
        "0\r\nX: a\x7f\r\n\r\n",
        "0\r\nX: a\r\r\n\r\n",
        "0\r\nX: a\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ssize_t r = feed_str(bad[i]);
        if (r != -1) {
            print_error("case %zu \"%s\": got %zd\n", i, bad[i], r);
            fail();
        }
        size_t one = 1;
        assert_int_equal(feed(bad[i], strlen(bad[i]), &one, 1), -1);
    }
    /* Errors are sticky. */
    rt_chunked c;
    rt_chunked_init(&c);
    bool done;
    assert_int_equal(rt_chunked_scan(&c, "z", 1, &done), -1);
    assert_int_equal(rt_chunked_scan(&c, "0\r\n\r\n", 5, &done), -1);
    assert_int_equal(rt_chunked_scan(&c, "", 0, &done), -1);
    assert_false(done);
}

static void test_line_limits(void **state)
{
    (void)state;
    /* Size line of exactly RT_CHUNK_MAX_LINE bytes passes, one more fails. */
    size_t cap = RT_CHUNK_MAX_LINE + 64;
    char *s = malloc(cap);
    assert_non_null(s);
    memset(s, '0', RT_CHUNK_MAX_LINE);
    memcpy(s + RT_CHUNK_MAX_LINE, "\r\n\r\n", 4);
    assert_int_equal(feed_all(s, RT_CHUNK_MAX_LINE + 4), RT_CHUNK_MAX_LINE + 4);
    memset(s, '0', RT_CHUNK_MAX_LINE + 1);
    memcpy(s + RT_CHUNK_MAX_LINE + 1, "\r\n\r\n", 4);
    assert_int_equal(feed_all(s, RT_CHUNK_MAX_LINE + 5), -1);
    /* Same for an extension. */
    memcpy(s, "1;", 2);
    memset(s + 2, 'e', RT_CHUNK_MAX_LINE - 1);
    memcpy(s + RT_CHUNK_MAX_LINE + 1, "\r\n", 2);
    assert_int_equal(feed_all(s, RT_CHUNK_MAX_LINE + 3), -1);
    memcpy(s + RT_CHUNK_MAX_LINE, "\r\nx\r\n0\r\n\r\n", 10);
    assert_int_equal(feed_all(s, RT_CHUNK_MAX_LINE + 10), RT_CHUNK_MAX_LINE + 10);
    /* And for a trailer line. */
    memcpy(s, "0\r\nX:", 5);
    memset(s + 5, 'v', RT_CHUNK_MAX_LINE - 2);
    memcpy(s + 3 + RT_CHUNK_MAX_LINE, "\r\n\r\n", 4);
    assert_int_equal(feed_all(s, RT_CHUNK_MAX_LINE + 7), RT_CHUNK_MAX_LINE + 7);
    memset(s + 5, 'v', RT_CHUNK_MAX_LINE - 1);
    memcpy(s + 4 + RT_CHUNK_MAX_LINE, "\r\n\r\n", 4);
    assert_int_equal(feed_all(s, RT_CHUNK_MAX_LINE + 8), -1);
    free(s);

    /* The whole trailer section is bounded even with short lines. */
    size_t n = 0, big = RT_CHUNK_MAX_TRAILER + 4096;
    char *t = malloc(big + 16);
    assert_non_null(t);
    n += (size_t)sprintf(t, "0\r\n");
    while (n < big)
        n += (size_t)sprintf(t + n, "X-T: 12345\r\n");
    memcpy(t + n, "\r\n", 2);
    assert_int_equal(feed_all(t, n + 2), -1);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_stops_at_message_end),
        cmocka_unit_test(test_large_chunk_o1),
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_line_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
