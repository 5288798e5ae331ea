/* Tests for HTTP Basic credentials (src/core/http/basic.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/base/fail.h"
#include "core/http/basic.h"

static void test_value_rfc7617_example(void **state)
{
    (void)state;
    char out[64];
    /* RFC 7617 section 2: Aladdin / open sesame. */
    const char *plain = "Aladdin:open sesame";
    int n = rt_basic_value(plain, strlen(plain), out, sizeof out);
    assert_string_equal(out, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    assert_int_equal(n, (int)strlen("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="));
}

static void test_value_binary_and_empty(void **state)
{
    (void)state;
    char out[32];
    assert_int_equal(rt_basic_value("", 0, out, sizeof out), 6);
    assert_string_equal(out, "Basic ");
    /* Bytes are encoded as given, NUL and high bytes included. */
    assert_int_equal(rt_basic_value("a\0\xff", 3, out, sizeof out), 10);
    assert_string_equal(out, "Basic YQD/");
}

static void test_value_capacity(void **state)
{
    (void)state;
    /* "Basic dTpw" is 10 bytes: it needs 11 with the NUL. */
    char out[16];
    memset(out, 'x', sizeof out);
    assert_int_equal(rt_basic_value("u:p", 3, out, 11), 10);
    assert_string_equal(out, "Basic dTpw");
    memset(out, 'x', sizeof out);
    assert_int_equal(rt_basic_value("u:p", 3, out, 10), -1);
    assert_string_equal(out, "");
    assert_int_equal(out[10], 'x'); /* nothing written past cap */
    assert_int_equal(rt_basic_value("u:p", 3, out, 0), -1);
}

static void test_equal(void **state)
{
    (void)state;
    const char *want = "Basic dTpw";
    assert_true(rt_basic_equal(rt_slice_cstr("Basic dTpw"), want));
    assert_false(rt_basic_equal(rt_slice_cstr("Basic dTpX"), want));
    assert_false(rt_basic_equal(rt_slice_cstr("Basic dTp"), want));   /* a prefix */
    assert_false(rt_basic_equal(rt_slice_cstr("Basic dTpwx"), want)); /* longer */
    assert_false(rt_basic_equal(RT_SLICE_NULL, want));
    assert_true(rt_basic_equal(rt_slice_from("Basic dTpw;junk", 10), want));
    assert_true(rt_basic_equal(RT_SLICE_NULL, ""));
}

static void test_fail_convention(void **state)
{
    (void)state;
    char err[8];
    assert_int_equal(rt_fail(err, sizeof err, "bad %d here", 42), -1);
    assert_string_equal(err, "bad 42 "); /* cut to fit, terminated */
    assert_int_equal(rt_fail(NULL, 0, "ignored %s", "x"), -1);
    err[0] = 'z';
    assert_int_equal(rt_fail(err, 0, "nothing"), -1);
    assert_int_equal(err[0], 'z');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_value_rfc7617_example),
        cmocka_unit_test(test_value_binary_and_empty),
        cmocka_unit_test(test_value_capacity),
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_fail_convention),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
