/* Passive outlier ejection and quarantine of pool entries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/policy/outlier.h"

static rt_outlier_event fail_n(rt_outlier *o, size_t idx, int n, uint64_t t)
{
    rt_outlier_event ev = RT_OUTLIER_NOTHING;
    for (int i = 0; i < n; i++)
        ev = rt_outlier_record(o, idx, RT_E_proxy_reset, t);
    return ev;
}

static void test_consecutive_and_reset(void **st)
{
    (void)st;
    rt_outlier o;
    assert_int_equal(rt_outlier_init(&o, 10, NULL), 0);
    uint64_t t = 1000;
    assert_int_equal(fail_n(&o, 2, 4, t), RT_OUTLIER_NOTHING);
    /* A target answer proves the proxy works: the streak starts over. */
    rt_outlier_record(&o, 2, RT_E_target_blocked, t);
    assert_int_equal(fail_n(&o, 2, 4, t), RT_OUTLIER_NOTHING);
    assert_true(rt_outlier_usable(&o, 2, t));
    /* Target-hop failures neither count nor reset. */
    rt_outlier_record(&o, 2, RT_E_target_refused, t);
    assert_int_equal(o.e[2].consecutive, 4);
    assert_int_equal(rt_outlier_record(&o, 2, RT_E_proxy_connect_timeout, t), RT_OUTLIER_EJECTED);
    assert_false(rt_outlier_usable(&o, 2, t));
    assert_true(rt_outlier_usable(&o, 3, t));
    rt_outlier_free(&o);
}

static void test_ejection_growth(void **st)
{
    (void)st;
    rt_outlier o;
    assert_int_equal(rt_outlier_init(&o, 10, NULL), 0);
    uint64_t t = 0;
    /* 30 s, 60 s, 90 s, ... capped at 300 s. */
    uint64_t expect[] = { 30000, 60000, 90000, 120000, 150000, 180000,
                          210000, 240000, 270000, 300000, 300000 };
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        assert_int_equal(fail_n(&o, 0, 5, t), RT_OUTLIER_EJECTED);
        assert_false(rt_outlier_usable(&o, 0, t + expect[i] - 1));
        assert_true(rt_outlier_usable(&o, 0, t + expect[i])); /* readmitted */
        /* Failures of requests still in flight while ejected do not
         * extend the ejection. */
        assert_int_equal(fail_n(&o, 0, 10, t + 1), RT_OUTLIER_NOTHING);
        t += expect[i];
    }
    rt_outlier_free(&o);
}

static void test_decay(void **st)
{
    (void)st;
    rt_outlier o;
    assert_int_equal(rt_outlier_init(&o, 4, NULL), 0);
    fail_n(&o, 1, 5, 0);                 /* 30 s */
    fail_n(&o, 1, 5, 30000);             /* 60 s, until 90 s */
    assert_int_equal(o.e[1].times_ejected, 2);
    /* Two quiet decay periods later, the multiplier is back to zero. */
    uint64_t t = 90000 + 2 * RT_OUTLIER_DECAY_MS;
    assert_int_equal(fail_n(&o, 1, 5, t), RT_OUTLIER_EJECTED);
    assert_false(rt_outlier_usable(&o, 1, t + 29999));
    assert_true(rt_outlier_usable(&o, 1, t + 30000));
    rt_outlier_free(&o);
}

static void test_max_ejected_share(void **st)
{
    (void)st;
    rt_outlier o;
    assert_int_equal(rt_outlier_init(&o, 10, NULL), 0);
    uint64_t t = 5000;
    /* Everything fails: only half the pool may leave. */
    int ejected = 0, refused = 0;
    for (size_t i = 0; i < 10; i++) {
        rt_outlier_event ev = fail_n(&o, i, 5, t);
        ejected += ev == RT_OUTLIER_EJECTED;
        refused += ev == RT_OUTLIER_REFUSED;
    }
    assert_int_equal(ejected, 5);
    assert_int_equal(refused, 5);
    assert_int_equal(rt_outlier_out_count(&o, t), 5);
    size_t usable = 0;
    for (size_t i = 0; i < 10; i++)
        usable += rt_outlier_usable(&o, i, t);
    assert_int_equal(usable, 5);
    /* When the first five come back, a refused one may go on its next failure. */
    t += 30000;
    assert_int_equal(rt_outlier_record(&o, 9, RT_E_proxy_reset, t), RT_OUTLIER_EJECTED);
    rt_outlier_free(&o);

    /* A pool of one never ejects its only entry (50% of 1 is 0). */
    assert_int_equal(rt_outlier_init(&o, 1, NULL), 0);
    assert_int_equal(fail_n(&o, 0, 50, 0), RT_OUTLIER_REFUSED);
    assert_true(rt_outlier_usable(&o, 0, 0));
    rt_outlier_free(&o);
}

static void test_quarantine(void **st)
{
    (void)st;
    rt_outlier o;
    assert_int_equal(rt_outlier_init(&o, 4, NULL), 0);
    /* Quarantine is not share-limited: bad credentials never work. */
    for (size_t i = 0; i < 4; i++)
        rt_outlier_quarantine(&o, i, 0);
    assert_int_equal(rt_outlier_out_count(&o, 0), 4);
    assert_true(rt_outlier_quarantined(&o, 2, RT_OUTLIER_QUARANTINE_MS - 1));
    assert_false(rt_outlier_usable(&o, 2, RT_OUTLIER_QUARANTINE_MS - 1));
    assert_true(rt_outlier_usable(&o, 2, RT_OUTLIER_QUARANTINE_MS));
    /* Quarantined entries count against the ejection share. */
    assert_int_equal(fail_n(&o, 3, 5, 1), RT_OUTLIER_NOTHING); /* out already: ignored */
    rt_outlier_readmit(&o, 0);
    rt_outlier_readmit(&o, 1);
    assert_true(rt_outlier_usable(&o, 0, 1));
    assert_int_equal(fail_n(&o, 0, 5, 1), RT_OUTLIER_REFUSED); /* 2 of 4 out already */
    rt_outlier_free(&o);
}

static void test_bounds_and_codes(void **st)
{
    (void)st;
    rt_outlier o;
    assert_int_equal(rt_outlier_init(&o, RT_OUTLIER_MAX_ENTRIES + 1, NULL), -1);
    assert_int_equal(rt_outlier_init(&o, 3, NULL), 0);
    assert_false(rt_outlier_usable(&o, 3, 0));
    assert_int_equal(rt_outlier_record(&o, 3, RT_E_proxy_reset, 0), RT_OUTLIER_NOTHING);
    rt_outlier_quarantine(&o, 99, 0);
    rt_outlier_readmit(&o, 99);
    rt_outlier_free(&o);

    assert_true(rt_code_counts_for_outlier(RT_E_proxy_refused));
    assert_true(rt_code_counts_for_outlier(RT_E_proxy_bad_response));
    assert_true(rt_code_counts_for_outlier(RT_E_proxy_auth_failed));
    assert_false(rt_code_counts_for_outlier(RT_E_proxy_quota_exceeded));
    assert_false(rt_code_counts_for_outlier(RT_E_proxy_target_restricted));
    assert_false(rt_code_counts_for_outlier(RT_E_target_blocked));
    assert_false(rt_code_counts_for_outlier(RT_E_target_reset));
    assert_false(rt_code_counts_for_outlier(RT_E_ok));
    /* Every counted code is about the proxy hop. */
    for (int c = 0; c < RT_E__COUNT; c++) {
        const rt_code_info *i = rt_code_get((rt_code)c);
        if (rt_code_counts_for_outlier((rt_code)c)) {
            assert_true(strncmp(i->name, "proxy_", 6) == 0);
            assert_false(rt_code_proves_upstream((rt_code)c));
        }
    }
    assert_true(rt_code_proves_upstream(RT_E_ok));
    assert_true(rt_code_proves_upstream(RT_E_target_rate_limited));
    assert_false(rt_code_proves_upstream(RT_E_target_timeout));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_consecutive_and_reset),
        cmocka_unit_test(test_ejection_growth),
        cmocka_unit_test(test_decay),
        cmocka_unit_test(test_max_ejected_share),
        cmocka_unit_test(test_quarantine),
        cmocka_unit_test(test_bounds_and_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
