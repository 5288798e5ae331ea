/* Tests for rt_url_parse_target (src/core/http/url.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/http/http1.h"

static void assert_slice(rt_slice s, const char *want)
{
    size_t n = strlen(want);
    if (s.n != n || (n && memcmp(s.p, want, n) != 0)) {
        print_error("slice \"%.*s\" != \"%s\"\n", (int)s.n, s.p ? s.p : "", want);
        fail();
    }
}

/* Parses from an exact-size heap copy so over-reads are caught. */
static int parse(const char *t, rt_http_method m, rt_url *u, char **keep)
{
    size_t n = strlen(t);
    char *p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, t, n);
    memset(u, 0xA5, sizeof *u);
    int r = rt_url_parse_target(rt_slice_from(p, n), m, u);
    if (r == 0) {
        /* Slices point into the target (the empty-path "/" excepted). */
        if (u->host.n)
            assert_true(u->host.p >= p && u->host.p + u->host.n <= p + n);
        if (u->scheme.n)
            assert_true(u->scheme.p >= p && u->scheme.p + u->scheme.n <= p + n);
    }
    free(*keep);
    *keep = p;
    return r;
}

static void test_origin_form(void **state)
{
    (void)state;
    rt_url u;
    char *k = NULL;
    assert_int_equal(parse("/a/b?c=d&e", RT_M_GET, &u, &k), 0);
    assert_int_equal(u.form, RT_TF_ORIGIN);
    assert_slice(u.path, "/a/b?c=d&e");
    assert_int_equal(u.host.n, 0);
    assert_int_equal(u.port, 0);
    assert_false(u.has_userinfo);
    assert_int_equal(parse("/", RT_M_POST, &u, &k), 0);
    assert_slice(u.path, "/");
    assert_int_equal(parse("/a#frag", RT_M_GET, &u, &k), -1);
    assert_int_equal(parse("/a b", RT_M_GET, &u, &k), -1);
    assert_int_equal(parse("/a\x7f", RT_M_GET, &u, &k), -1);
    assert_int_equal(parse("", RT_M_GET, &u, &k), -1);
    assert_int_equal(rt_url_parse_target(RT_SLICE_NULL, RT_M_GET, &u), -1);
    free(k);
}

static void test_absolute_form(void **state)
{
    (void)state;
    rt_url u;
    char *k = NULL;
    assert_int_equal(parse("http://example.com/x?y=1", RT_M_GET, &u, &k), 0);
    assert_int_equal(u.form, RT_TF_ABSOLUTE);
    assert_slice(u.scheme, "http");
    assert_slice(u.host, "example.com");
    assert_int_equal(u.port, 80);
    assert_slice(u.path, "/x?y=1");
    assert_false(u.has_userinfo);

    assert_int_equal(parse("HTTPS://Example.COM", RT_M_GET, &u, &k), 0);
    assert_slice(u.scheme, "HTTPS");
    assert_slice(u.host, "Example.COM");
    assert_int_equal(u.port, 443);
    assert_slice(u.path, "/"); /* empty path becomes "/" */

    assert_int_equal(parse("http://a.b:8080", RT_M_GET, &u, &k), 0);
    assert_int_equal(u.port, 8080);
    assert_slice(u.path, "/");
    assert_int_equal(parse("https://a.b:80/", RT_M_GET, &u, &k), 0);
    assert_int_equal(u.port, 80);
    assert_int_equal(parse("http://a:65535/", RT_M_GET, &u, &k), 0);
    assert_int_equal(u.port, 65535);
    assert_int_equal(parse("http://a:00080/", RT_M_GET, &u, &k), 0);
    assert_int_equal(u.port, 80);
    assert_int_equal(parse("http://10.0.0.1:3128/", RT_M_GET, &u, &k), 0);
    assert_slice(u.host, "10.0.0.1");
    assert_int_equal(parse("http://xn--bcher-kva.example/%C3%A9", RT_M_GET, &u, &k), 0);
    assert_int_equal(parse("http://a%2Db.example/", RT_M_GET, &u, &k), 0);
    assert_slice(u.host, "a%2Db.example");

    /* IPv6 literal: brackets are stripped, the port still applies. */
    assert_int_equal(parse("http://[2001:db8::1]:8080/p", RT_M_GET, &u, &k), 0);
    assert_slice(u.host, "2001:db8::1");
    assert_int_equal(u.port, 8080);
    assert_slice(u.path, "/p");
    assert_int_equal(parse("http://[::ffff:192.0.2.1]/", RT_M_GET, &u, &k), 0);
    assert_slice(u.host, "::ffff:192.0.2.1");
    assert_int_equal(u.port, 80);

    /* userinfo is reported (the gateway refuses it), host still parsed */
    assert_int_equal(parse("http://user:p%40ss@example.com:81/", RT_M_GET, &u, &k), 0);
    assert_true(u.has_userinfo);
    assert_slice(u.host, "example.com");
    assert_int_equal(u.port, 81);
    assert_int_equal(parse("http://a@b@example.com/", RT_M_GET, &u, &k), -1);
    free(k);
}

static void test_absolute_form_bad(void **state)
{
    (void)state;
    static const char *bad[] = {
        "ftp://example.com/",        /* scheme rotor does not forward */
        "http:/example.com/",        /* not "//" */
        "http//example.com/",
        "http://",                   /* empty authority */
        "http:///path",
        "http://:80/",               /* empty host */
        "http://a:/",                /* empty port */
        "http://a:0/",
        "http://a:65536/",
        "http://a:99999/",
        "http://a:123456/",
        "http://a:8o/",
        "http://a:-1/",
        "http://a:+80/",
        "http://exa mple.com/",
        "http://exa\"mple/",
        "http://ex<a>mple/",
        "http://ex%zzample/",
        "http://ex%2/",
        "http://a/b#frag",           /* fragments never reach a server */
        "http://a#frag",
        "http://a?q=1",              /* query without a path */
        "http://[2001:db8::1/",      /* unclosed bracket */
        "http://[2001:db8::g]/",
        "http://[]/",
        "http://[1.2.3.4]/",
        "http://[fe80::1%25eth0]/",  /* zone identifiers are refused */
        "http://[::1]x/",
        "http://[::1]:/",
        "http://us er@a/",
        "example.com:80",
        "*",
    };
    rt_url u;
    char *k = NULL;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (parse(bad[i], RT_M_GET, &u, &k) != -1) {
            print_error("accepted \"%s\"\n", bad[i]);
            fail();
        }
        /* No half-filled result after a failure. */
        assert_int_equal(u.host.n, 0);
        assert_int_equal(u.port, 0);
    }
    free(k);
}

static void test_authority_form(void **state)
{
    (void)state;
    rt_url u;
    char *k = NULL;
    assert_int_equal(parse("example.com:443", RT_M_CONNECT, &u, &k), 0);
    assert_int_equal(u.form, RT_TF_AUTHORITY);
    assert_slice(u.host, "example.com");
    assert_int_equal(u.port, 443);
    assert_int_equal(u.scheme.n, 0);
    assert_int_equal(u.path.n, 0);
    assert_int_equal(parse("[::1]:8443", RT_M_CONNECT, &u, &k), 0);
    assert_slice(u.host, "::1");
    assert_int_equal(u.port, 8443);
    assert_int_equal(parse("192.0.2.7:1", RT_M_CONNECT, &u, &k), 0);
    assert_int_equal(u.port, 1);

    static const char *bad[] = {
        "example.com",       /* port required */
        "example.com:",
        "example.com:0",
        "example.com:70000",
        "example.com:44x",
        ":443",
        "user@example.com:443",
        "example.com:443/",
        "http://example.com:443",
        "/path",
        "*",
        "[::1]",
        "::1:443",           /* IPv6 needs brackets */
        "exa mple.com:443",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (parse(bad[i], RT_M_CONNECT, &u, &k) != -1) {
            print_error("CONNECT accepted \"%s\"\n", bad[i]);
            fail();
        }
    }
    /* Authority-form is CONNECT's alone. */
    assert_int_equal(parse("example.com:443", RT_M_GET, &u, &k), -1);
    free(k);
}

static void test_asterisk_form(void **state)
{
    (void)state;
    rt_url u;
    char *k = NULL;
    assert_int_equal(parse("*", RT_M_OPTIONS, &u, &k), 0);
    assert_int_equal(u.form, RT_TF_ASTERISK);
    assert_int_equal(parse("*", RT_M_GET, &u, &k), -1);
    assert_int_equal(parse("**", RT_M_OPTIONS, &u, &k), -1);
    /* OPTIONS may use the other forms too. */
    assert_int_equal(parse("/x", RT_M_OPTIONS, &u, &k), 0);
    assert_int_equal(u.form, RT_TF_ORIGIN);
    assert_int_equal(parse("http://a/", RT_M_OPTIONS, &u, &k), 0);
    assert_int_equal(u.form, RT_TF_ABSOLUTE);
    free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_origin_form),
        cmocka_unit_test(test_absolute_form),
        cmocka_unit_test(test_absolute_form_bad),
        cmocka_unit_test(test_authority_form),
        cmocka_unit_test(test_asterisk_form),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
