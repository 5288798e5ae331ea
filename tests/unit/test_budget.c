/* Retry budget accounting under a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/policy/budget.h"

static void test_floor_when_idle(void **st)
{
    (void)st;
    rt_budget b;
    rt_budget_init(&b, NULL);
    uint64_t t = 50000;
    /* No traffic at all: only the floor. */
    assert_int_equal(rt_budget_allowed(&b, t), RT_BUDGET_MIN_RETRIES);
    for (unsigned i = 0; i < RT_BUDGET_MIN_RETRIES; i++) {
        assert_true(rt_budget_can_retry(&b, t));
        rt_budget_on_retry(&b, t);
    }
    assert_false(rt_budget_can_retry(&b, t));
    assert_true(rt_budget_usage(&b, t) >= 1.0);
    /* The window slides: ten seconds later the retries have aged out. */
    assert_true(rt_budget_can_retry(&b, t + RT_BUDGET_WINDOW_MS));
    assert_true(rt_budget_usage(&b, t + RT_BUDGET_WINDOW_MS) == 0.0);
}

static void test_ratio(void **st)
{
    (void)st;
    rt_budget_cfg c = { .ratio = 0.2, .min_retries = 0, .window_ms = 10000, .buckets = 10 };
    rt_budget b;
    rt_budget_init(&b, &c);
    for (int i = 0; i < 100; i++)
        rt_budget_on_request(&b, 1000);
    assert_int_equal(rt_budget_allowed(&b, 1000), 20);
    for (int i = 0; i < 20; i++) {
        assert_true(rt_budget_can_retry(&b, 1000));
        rt_budget_on_retry(&b, 1000);
    }
    assert_false(rt_budget_can_retry(&b, 1000));
    assert_true(rt_budget_usage(&b, 1000) > 0.999 && rt_budget_usage(&b, 1000) < 1.001);
    /* Four more requests: 0.2 * 104 = 20.8, still 20. One more: 21. */
    for (int i = 0; i < 4; i++)
        rt_budget_on_request(&b, 1000);
    assert_false(rt_budget_can_retry(&b, 1000));
    rt_budget_on_request(&b, 1000);
    assert_true(rt_budget_can_retry(&b, 1000));
}

/* A pool where everything fails: every request wants three retries, but
 * over a long run retries never exceed ratio * requests + floor in any
 * window. */
static void test_failing_pool_is_bounded(void **st)
{
    (void)st;
    rt_budget b;
    rt_budget_init(&b, NULL);
    uint64_t granted_total = 0, requests_total = 0;
    uint64_t granted_win[1000] = { 0 }, req_win[1000] = { 0 };
    for (uint64_t t = 0; t < 100000; t += 10) { /* 100 requests per second for 100 s */
        rt_budget_on_request(&b, t);
        requests_total++;
        req_win[t / 1000]++;
        for (int k = 0; k < 3; k++) {
            if (!rt_budget_can_retry(&b, t)) {
                rt_budget_note_denied(&b);
                break;
            }
            rt_budget_on_retry(&b, t);
            granted_total++;
            granted_win[t / 1000]++;
        }
        assert_true(rt_budget_usage(&b, t) <= 1.0);
    }
    /* Every 10 s span of whole seconds stays within the budget. */
    for (int s = 0; s + 10 <= 100; s++) {
        uint64_t g = 0, r = 0;
        for (int i = s; i < s + 10; i++) {
            g += granted_win[i];
            r += req_win[i];
        }
        assert_true(g <= (uint64_t)(0.2 * (double)r) + RT_BUDGET_MIN_RETRIES);
    }
    /* Overall close to 20%, far from the 300% the retries wanted. */
    assert_true(granted_total <= requests_total / 5 + 10 * RT_BUDGET_MIN_RETRIES);
    assert_true(granted_total >= requests_total / 5 - requests_total / 50);
    assert_true(b.denied > 0);
}

static void test_bad_config(void **st)
{
    (void)st;
    rt_budget_cfg c = { .ratio = -1.0, .min_retries = 0, .window_ms = 1000, .buckets = 4 };
    rt_budget b;
    rt_budget_init(&b, &c);
    rt_budget_on_request(&b, 0);
    assert_false(rt_budget_can_retry(&b, 0)); /* negative ratio is zero */
    assert_true(rt_budget_usage(&b, 0) == 0.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_floor_when_idle),
        cmocka_unit_test(test_ratio),
        cmocka_unit_test(test_failing_pool_is_bounded),
        cmocka_unit_test(test_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
