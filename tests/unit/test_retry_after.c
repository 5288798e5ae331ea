/* Retry-After and X-RateLimit-Reset parsing: every HTTP-date form of
 * RFC 9110 section 5.6.7, delay-seconds, garbage, past and huge values.
 * Expected epochs were computed independently (Python calendar.timegm). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/policy/retry_after.h"

#define T1994 784111777ull /* Sun, 06 Nov 1994 08:49:37 GMT */
#define NOW_1994 ((T1994 - 90) * 1000ull) /* 90 s before that date */
#define NOW_2024 (1709251199ull * 1000ull) /* 2024-02-29 23:59:59 */

static int ra(const char *s, uint64_t now, uint64_t *out)
{
    return rt_retry_after_parse(rt_slice_cstr(s), now, out);
}

static void test_delay_seconds(void **st)
{
    (void)st;
    uint64_t d = 7;
    assert_int_equal(ra("120", 0, &d), RT_RETRY_AFTER_OK);
    assert_int_equal(d, 120000);
    assert_int_equal(ra("0", 5, &d), RT_RETRY_AFTER_OK);
    assert_int_equal(d, 0);
    assert_int_equal(ra(" \t3 ", 0, &d), RT_RETRY_AFTER_OK);
    assert_int_equal(d, 3000);
    assert_int_equal(ra("0005", 0, &d), RT_RETRY_AFTER_OK);
    assert_int_equal(d, 5000);
    /* Exactly the clamp is fine, one second more is clamped. */
    assert_int_equal(ra("86400", 0, &d), RT_RETRY_AFTER_OK);
    assert_int_equal(d, RT_RETRY_AFTER_MAX_MS);
    assert_int_equal(ra("86401", 0, &d), RT_RETRY_AFTER_CLAMPED);
    assert_int_equal(d, RT_RETRY_AFTER_MAX_MS);
}

static void test_huge(void **st)
{
    (void)st;
    uint64_t d = 0;
    assert_int_equal(ra("99999999999999999999999999999999999999999", 0, &d),
                     RT_RETRY_AFTER_CLAMPED);
    assert_int_equal(d, RT_RETRY_AFTER_MAX_MS);
    assert_int_equal(ra("18446744073709551616", 0, &d), RT_RETRY_AFTER_CLAMPED);
    assert_int_equal(d, RT_RETRY_AFTER_MAX_MS);
    /* A date far in the future is clamped the same way. */
    d = 0;
    assert_int_equal(ra("Fri, 31 Dec 9999 23:59:59 GMT", NOW_2024, &d), RT_RETRY_AFTER_CLAMPED);
    assert_int_equal(d, RT_RETRY_AFTER_MAX_MS);
}

static void test_garbage(void **st)
{
    (void)st;
    const char *bad[] = {
        "", "   ", "-5", "+5", "1.5", "12abc", "abc", "5 s", "0x10",
        "Sun, 06 Nov 1994 08:49:37",          /* no GMT */
        "Sun, 06 Nov 1994 08:49:37 UTC",      /* not GMT */
        "Sun, 06 Nov 1994 08:49:37 GMT x",    /* trailing junk */
        "Sun, 6 Nov 1994 08:49:37 GMT",       /* one-digit day in IMF */
        "Sun, 06 Nov 94 08:49:37 GMT",        /* two-digit year in IMF */
        "Sun, 06 Foo 1994 08:49:37 GMT",      /* no such month */
        "Sun, 31 Nov 1994 08:49:37 GMT",      /* no 31 November */
        "Sun, 29 Feb 1900 08:49:37 GMT",      /* 1900 is not a leap year */
        "Sun, 06 Nov 1994 24:00:00 GMT",      /* hour */
        "Sun, 06 Nov 1994 08:60:00 GMT",      /* minute */
        "Sun, 06 Nov 1994 08:49:61 GMT",      /* second */
        "Sun, 06 Nov 1994 8:49:37 GMT",
        "Sunday, 06 Nov 1994 08:49:37 GMT",   /* long name with IMF body */
        "Sun, 06-Nov-94 08:49:37 GMT",        /* short name with RFC 850 body */
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sun Nov 6 08:49:37 1994",            /* asctime needs two spaces */
        "Sun Nov  6 08:49:37 94",
        "Sun Nov 06 08:49:37 1994 GMT",
        "Funday, 06-Nov-94 08:49:37 GMT",
        "Sun,06 Nov 1994 08:49:37 GMT",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t d = 4242;
        if (ra(bad[i], NOW_1994, &d) != RT_RETRY_AFTER_INVALID)
            fail_msg("accepted garbage '%s'", bad[i]);
        assert_int_equal(d, 4242); /* untouched on error */
    }
    /* Bytes after a NUL are part of the slice, not a terminator. */
    uint64_t d = 1;
    assert_int_equal(rt_retry_after_parse(rt_slice_from("12\0" "3", 4), 0, &d),
                     RT_RETRY_AFTER_INVALID);
    assert_int_equal(rt_retry_after_parse(RT_SLICE_NULL, 0, &d), RT_RETRY_AFTER_INVALID);
}

static void test_three_date_forms(void **st)
{
    (void)st;
    const char *forms[] = {
        "Sun, 06 Nov 1994 08:49:37 GMT",  /* IMF-fixdate */
        "Sunday, 06-Nov-94 08:49:37 GMT", /* obsolete RFC 850 */
        "Sun Nov  6 08:49:37 1994",       /* obsolete asctime */
        "  Sun, 06 Nov 1994 08:49:37 GMT\t",
        "sun, 06 nov 1994 08:49:37 gmt",  /* names case-insensitive (documented leniency) */
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        int64_t t = 0;
        if (rt_http_date_parse(rt_slice_cstr(forms[i]), NOW_1994, &t) != 0)
            fail_msg("rejected '%s'", forms[i]);
        uint64_t d = 0;
        assert_int_equal(ra(forms[i], NOW_1994, &d), RT_RETRY_AFTER_OK);
        assert_int_equal(d, 90000);
    }
    int64_t t = 0;
    assert_int_equal(rt_http_date_parse(rt_slice_cstr("Thu Feb 29 23:59:59 2024"), 0, &t), 0);
    assert_int_equal(t, 1709251199);
    assert_int_equal(rt_http_date_parse(rt_slice_cstr("Wed, 01 Mar 2000 00:00:00 GMT"), 0, &t), 0);
    assert_int_equal(t, 951868800);
    /* Leap second accepted (RFC 9110 allows second = 60). */
    assert_int_equal(rt_http_date_parse(rt_slice_cstr("Wed, 31 Dec 2098 23:59:60 GMT"), 0, &t), 0);
}

static void test_rfc850_year(void **st)
{
    (void)st;
    int64_t t = 0;
    /* Seen in 2024: "70" is 2070 (46 years ahead, allowed), "80" would be
     * 56 years ahead, so it is 1980. */
    assert_int_equal(rt_http_date_parse(rt_slice_cstr("Thursday, 01-Jan-70 00:00:00 GMT"),
                                        NOW_2024, &t), 0);
    assert_int_equal(t, 3155760000);
    assert_int_equal(rt_http_date_parse(rt_slice_cstr("Tuesday, 01-Jan-80 00:00:00 GMT"),
                                        NOW_2024, &t), 0);
    assert_int_equal(t, 315532800);
}

static void test_past_dates(void **st)
{
    (void)st;
    uint64_t d = 99;
    assert_int_equal(ra("Sun, 06 Nov 1994 08:49:37 GMT", NOW_2024, &d), RT_RETRY_AFTER_OK);
    assert_int_equal(d, 0);
    /* Exactly now is no wait either. */
    d = 99;
    assert_int_equal(ra("Sun, 06 Nov 1994 08:49:37 GMT", T1994 * 1000, &d), RT_RETRY_AFTER_OK);
    assert_int_equal(d, 0);
    /* Sub-second: the date's second has not ended yet, 500 ms to go. */
    assert_int_equal(ra("Sun, 06 Nov 1994 08:49:37 GMT", T1994 * 1000 - 500, &d), RT_RETRY_AFTER_OK);
    assert_int_equal(d, 500);
    /* Before 1970. */
    d = 99;
    assert_int_equal(ra("Wed, 31 Dec 1969 23:59:59 GMT", NOW_2024, &d), RT_RETRY_AFTER_OK);
    assert_int_equal(d, 0);
}

static int rl(const char *s, uint64_t now, uint64_t *out)
{
    return rt_ratelimit_reset_parse(rt_slice_cstr(s), now, out);
}

static void test_ratelimit_reset(void **st)
{
    (void)st;
    uint64_t d = 0;
    /* Small: a delta. */
    assert_int_equal(rl("30", NOW_2024, &d), RT_RETRY_AFTER_OK);
    assert_int_equal(d, 30000);
    assert_int_equal(rl("1.5", NOW_2024, &d), RT_RETRY_AFTER_OK);
    assert_int_equal(d, 1500);
    assert_int_equal(rl("999999999", 0, &d), RT_RETRY_AFTER_CLAMPED); /* just below 10^9 */
    assert_int_equal(d, RT_RETRY_AFTER_MAX_MS);
    /* Epoch seconds, 45 s ahead and in the past. */
    assert_int_equal(rl("1709251244", NOW_2024, &d), RT_RETRY_AFTER_OK);
    assert_int_equal(d, 45000);
    assert_int_equal(rl("1709251244.250", NOW_2024, &d), RT_RETRY_AFTER_OK);
    assert_int_equal(d, 45250);
    assert_int_equal(rl("1709250000", NOW_2024, &d), RT_RETRY_AFTER_OK);
    assert_int_equal(d, 0);
    assert_int_equal(rl("1000000000", NOW_2024, &d), RT_RETRY_AFTER_OK); /* 2001: past */
    assert_int_equal(d, 0);
    /* Epoch milliseconds. */
    assert_int_equal(rl("1709251200000", NOW_2024, &d), RT_RETRY_AFTER_OK);
    assert_int_equal(d, 1000);
    /* Far future epoch: clamped. */
    assert_int_equal(rl("4102444799", NOW_2024, &d), RT_RETRY_AFTER_CLAMPED);
    assert_int_equal(d, RT_RETRY_AFTER_MAX_MS);
    const char *bad[] = { "", "x", "-1", "1.", ".5", "1.2.3", "1e9", "10 s", "1.a" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        d = 77;
        if (rl(bad[i], NOW_2024, &d) != RT_RETRY_AFTER_INVALID)
            fail_msg("accepted '%s'", bad[i]);
        assert_int_equal(d, 77);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delay_seconds),  cmocka_unit_test(test_huge),
        cmocka_unit_test(test_garbage),        cmocka_unit_test(test_three_date_forms),
        cmocka_unit_test(test_rfc850_year),    cmocka_unit_test(test_past_dates),
        cmocka_unit_test(test_ratelimit_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
