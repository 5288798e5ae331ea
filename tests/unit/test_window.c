/* The sliding window of time buckets under a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/policy/window.h"

static void test_slide(void **st)
{
    (void)st;
    rt_window w;
    rt_window_init(&w, 10000, 10); /* 10 buckets of 1 s */
    uint64_t t = 1000000;
    rt_window_add(&w, t, 0, 3);
    rt_window_add(&w, t + 500, 1, 2);
    assert_int_equal(rt_window_sum(&w, t + 500, 0), 3);
    assert_int_equal(rt_window_sum(&w, t + 500, 1), 2);
    /* Still inside nine buckets later. */
    assert_int_equal(rt_window_sum(&w, t + 9999, 0), 3);
    /* Ten buckets on, the first has left the window. */
    assert_int_equal(rt_window_sum(&w, t + 10000, 0), 0);
    assert_int_equal(rt_window_sum(&w, t + 10000, 1), 0);
    /* A write into the recycled slot starts from zero. */
    rt_window_add(&w, t + 10000, 0, 1);
    assert_int_equal(rt_window_sum(&w, t + 10000, 0), 1);
}

static void test_spread_and_expire(void **st)
{
    (void)st;
    rt_window w;
    rt_window_init(&w, 10000, 10);
    for (uint64_t s = 0; s < 30; s++)
        rt_window_add(&w, s * 1000, 0, 1);
    /* At t = 29 s the window holds seconds 20..29. */
    assert_int_equal(rt_window_sum(&w, 29000, 0), 10);
    assert_int_equal(rt_window_sum(&w, 34000, 0), 5);
    assert_int_equal(rt_window_sum(&w, 100000, 0), 0);
    /* Clock stepping back: newer buckets are left out, nothing breaks. */
    assert_int_equal(rt_window_sum(&w, 25000, 0), 6);
}

static void test_limits(void **st)
{
    (void)st;
    rt_window w;
    rt_window_init(&w, 0, 0); /* degenerate config is clamped */
    assert_int_equal(w.nbuckets, 1);
    assert_int_equal(w.bucket_ms, 1);
    rt_window_init(&w, 1000, 1000);
    assert_int_equal(w.nbuckets, RT_WINDOW_MAX_BUCKETS);
    rt_window_add(&w, 5, 0, UINT32_MAX);
    rt_window_add(&w, 5, 0, 10); /* saturates, does not wrap */
    assert_int_equal(rt_window_sum(&w, 5, 0), UINT32_MAX);
    rt_window_add(&w, 5, 7, 1); /* unknown counter ignored */
    assert_int_equal(rt_window_sum(&w, 5, 7), 0);
    rt_window_reset(&w);
    assert_int_equal(rt_window_sum(&w, 5, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slide),
        cmocka_unit_test(test_spread_and_expire),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
