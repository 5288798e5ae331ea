/* Tests for the client network allow-list (src/core/base/cidr.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/base/cidr.h"

static bool m4(const rt_cidr_list *l, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    uint8_t v[4] = { a, b, c, d };
    return rt_cidr_list_match(l, false, v);
}

static bool m6(const rt_cidr_list *l, const uint8_t v[16]) { return rt_cidr_list_match(l, true, v); }

static void test_ipv4_prefixes(void **state)
{
    rt_cidr_list l;
    char err[160];
    assert_int_equal(rt_cidr_list_parse("127.0.0.1/32,10.0.0.0/8,192.168.4.0/23", &l, err, sizeof err), 0);
    assert_int_equal(l.n, 3);
    assert_true(m4(&l, 127, 0, 0, 1));
    assert_false(m4(&l, 127, 0, 0, 2));
    assert_true(m4(&l, 10, 255, 3, 9));
    assert_false(m4(&l, 11, 0, 0, 0));
    assert_true(m4(&l, 192, 168, 4, 0));
    assert_true(m4(&l, 192, 168, 5, 255)); /* /23 covers .4 and .5 */
    assert_false(m4(&l, 192, 168, 6, 0));
    assert_false(m4(&l, 192, 168, 3, 255));
}

static void test_bare_address_and_zero_prefix(void **state)
{
    rt_cidr_list l;
    char err[160];
    assert_int_equal(rt_cidr_list_parse("127.0.0.2", &l, err, sizeof err), 0);
    assert_int_equal(l.v[0].bits, 32);
    assert_true(m4(&l, 127, 0, 0, 2));
    assert_false(m4(&l, 127, 0, 0, 3));
    assert_int_equal(rt_cidr_list_parse("0.0.0.0/0", &l, err, sizeof err), 0);
    assert_true(m4(&l, 203, 0, 113, 7));
    uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
    assert_false(m6(&l, v6)); /* an IPv4 network never matches a native IPv6 client */
}

static void test_ipv6_and_mapped(void **state)
{
    rt_cidr_list l;
    char err[160];
    assert_int_equal(rt_cidr_list_parse("::1,fd00::/8,127.0.0.0/8", &l, err, sizeof err), 0);
    uint8_t lo[16] = { 0 };
    lo[15] = 1;
    assert_true(m6(&l, lo));
    uint8_t ula[16] = { 0xfd, 0x12, 0x34 };
    assert_true(m6(&l, ula));
    uint8_t fe[16] = { 0xfe, 0x80 };
    assert_false(m6(&l, fe));
    /* ::ffff:127.0.0.9 is the IPv4 client 127.0.0.9 on a dual-stack listener. */
    uint8_t mapped[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 9 };
    assert_true(m6(&l, mapped));
    mapped[12] = 128;
    assert_false(m6(&l, mapped));
    /* ::2 is not ::1 */
    lo[15] = 2;
    assert_false(m6(&l, lo));
    /* A /0 IPv6 network matches every IPv6 client. */
    assert_int_equal(rt_cidr_list_parse("::/0", &l, err, sizeof err), 0);
    assert_true(m6(&l, fe));
}

static void test_odd_prefix_bits(void **state)
{
    rt_cidr_list l;
    char err[160];
    assert_int_equal(rt_cidr_list_parse("2001:db8:8000::/33", &l, err, sizeof err), 0);
    uint8_t in[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x80, 0x00 };
    uint8_t in2[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0xff };
    uint8_t out[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x7f, 0xff };
    assert_true(m6(&l, in));
    assert_true(m6(&l, in2));
    assert_false(m6(&l, out));
}

static void test_rejects(void **state)
{
    rt_cidr_list l;
    char err[160];
    const char *bad[] = {
        "", ",", "127.0.0.1,", ",127.0.0.1", "127.0.0.1/33", "::1/129", "10.0.0.1/8", "localhost",
        "127.0.0.1/", "127.0.0.1/-1", "127.0.0.1/ 8", "1.2.3", "[::1]", "::1/1x", "fd00::1/8",
        "127.0.0.1/0008", "300.0.0.1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        l.n = 99;
        err[0] = 0;
        if (rt_cidr_list_parse(bad[i], &l, err, sizeof err) != -1) {
            print_error("accepted '%s'\n", bad[i]);
            fail();
        }
        assert_int_equal(l.n, 0);
        assert_true(err[0] != 0);
    }
    assert_int_equal(rt_cidr_list_parse("10.0.0.1/8", &l, err, sizeof err), -1);
    assert_non_null(strstr(err, "10.0.0.1/8"));
    assert_non_null(strstr(err, "host bits"));
}

static void test_capacity(void **state)
{
    rt_cidr_list l;
    char err[160];
    char spec[RT_CIDR_MAX * 16 + 32] = "";
    size_t n = 0;
    for (int i = 0; i < RT_CIDR_MAX; i++)
        n += (size_t)snprintf(spec + n, sizeof spec - n, "%s10.0.%d.0/24", i ? "," : "", i);
    assert_int_equal(rt_cidr_list_parse(spec, &l, err, sizeof err), 0);
    assert_int_equal(l.n, RT_CIDR_MAX);
    assert_true(m4(&l, 10, 0, RT_CIDR_MAX - 1, 200));
    assert_false(m4(&l, 10, 0, RT_CIDR_MAX, 1));
    snprintf(spec + n, sizeof spec - n, ",10.1.0.0/16");
    assert_int_equal(rt_cidr_list_parse(spec, &l, err, sizeof err), -1);
    assert_int_equal(l.n, 0);
    assert_non_null(strstr(err, "more than"));
}

static void test_empty_list_matches_nothing(void **state)
{
    rt_cidr_list l = { .n = 0 };
    assert_false(m4(&l, 127, 0, 0, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4_prefixes),
        cmocka_unit_test(test_bare_address_and_zero_prefix),
        cmocka_unit_test(test_ipv6_and_mapped),
        cmocka_unit_test(test_odd_prefix_bits),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_capacity),
        cmocka_unit_test(test_empty_list_matches_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
