/* Per-(exit, domain) bans: TTL, isolation, the fixed bound, and the
 * recent-ban count behind target_blocked_everywhere. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/policy/bans.h"

static uint64_t H(const char *s) { return rt_domain_hash(s, strlen(s)); }

static void test_ttl_and_isolation(void **st)
{
    (void)st;
    rt_bans t;
    assert_int_equal(rt_bans_init(&t, 0), 0);
    assert_int_equal(t.cap, RT_BANS_CAPACITY);
    uint64_t a = H("shop.example"), b = H("news.example");
    rt_bans_add(&t, 3, a, 1000, 60000);
    assert_true(rt_bans_is_banned(&t, 3, a, 1000));
    assert_true(rt_bans_is_banned(&t, 3, a, 60999));
    assert_false(rt_bans_is_banned(&t, 3, a, 61000)); /* expired */
    /* Only that exit, only that domain. */
    assert_false(rt_bans_is_banned(&t, 4, a, 2000));
    assert_false(rt_bans_is_banned(&t, 3, b, 2000));
    /* Re-banning extends, never shortens. */
    rt_bans_add(&t, 3, a, 2000, 100000);
    rt_bans_add(&t, 3, a, 3000, 10);
    assert_true(rt_bans_is_banned(&t, 3, a, 101999));
    assert_false(rt_bans_is_banned(&t, 3, a, 102000));
    /* Lifting ends it now; a later ban works again. */
    rt_bans_lift(&t, 3, a);
    assert_false(rt_bans_is_banned(&t, 3, a, 5000));
    rt_bans_add(&t, 3, a, 5000, 1000);
    assert_true(rt_bans_is_banned(&t, 3, a, 5500));
    /* A TTL that would overflow the clock saturates. */
    rt_bans_add(&t, 9, b, 10, UINT64_MAX);
    assert_true(rt_bans_is_banned(&t, 9, b, UINT64_MAX - 1));
    assert_true(rt_bans_count(&t, 5500) == 2);
    rt_bans_free(&t);
}

static void test_case_insensitive_hash(void **st)
{
    (void)st;
    assert_true(H("Shop.Example") == H("shop.example"));
    assert_true(H("shop.example") != H("shop.example2"));
    assert_true(rt_domain_hash("", 0) != 0);
}

static void test_bound(void **st)
{
    (void)st;
    rt_bans t;
    assert_int_equal(rt_bans_init(&t, 1000), 0);
    assert_int_equal(t.cap, 1024); /* rounded to a power of two */
    uint64_t d = H("big.example");
    /* Ten times the capacity in live bans: no growth, no crash, every
     * operation still answers, and the newest bans are kept. */
    for (uint32_t i = 0; i < 10240; i++)
        rt_bans_add(&t, i, d, 1000 + i, 3600000);
    assert_int_equal(t.cap, 1024);
    size_t live = rt_bans_count(&t, 20000);
    assert_true(live <= 1024);
    assert_true(live > 900); /* the table is used, not emptied */
    assert_true(t.evicted >= 10240 - 1024);
    for (uint32_t i = 10230; i < 10240; i++)
        assert_true(rt_bans_is_banned(&t, i, d, 20000));
    /* Lookups of absent keys terminate. */
    for (uint32_t i = 0; i < 1000; i++)
        (void)rt_bans_is_banned(&t, i + 50000, d, 20000);

    /* Once those bans expire their slots are reused before anything live
     * is evicted. */
    uint64_t later = 1000 + 10240 + 3600000;
    uint64_t before = t.evicted;
    for (uint32_t i = 0; i < 500; i++)
        rt_bans_add(&t, 100000 + i, H("other.example"), later, 1000);
    assert_int_equal(t.evicted, before);
    for (uint32_t i = 0; i < 500; i++)
        assert_true(rt_bans_is_banned(&t, 100000 + i, H("other.example"), later));
    rt_bans_free(&t);
}

static void test_eviction_prefers_soonest_expiry(void **st)
{
    (void)st;
    rt_bans t;
    assert_int_equal(rt_bans_init(&t, 16), 0); /* one probe run is the table */
    uint64_t d = H("x.example");
    for (uint32_t i = 0; i < 16; i++)
        rt_bans_add(&t, i, d, 0, 1000000 + i); /* exit 0 ends first */
    rt_bans_add(&t, 99, d, 1, 5000000);
    assert_true(rt_bans_is_banned(&t, 99, d, 2));
    assert_false(rt_bans_is_banned(&t, 0, d, 2));
    for (uint32_t i = 1; i < 16; i++)
        assert_true(rt_bans_is_banned(&t, i, d, 2));
    rt_bans_free(&t);
}

static void test_distinct_recent(void **st)
{
    (void)st;
    rt_bans t;
    assert_int_equal(rt_bans_init(&t, 0), 0);
    uint64_t d = H("fortress.example"), e = H("calm.example");
    const uint64_t W = 600000;
    assert_int_equal(rt_bans_distinct_recent(&t, d, 0, W), 0);
    rt_bans_add(&t, 1, d, 1000, 60000);
    rt_bans_add(&t, 1, d, 2000, 60000); /* same exit twice counts once */
    rt_bans_add(&t, 2, d, 3000, 60000);
    rt_bans_add(&t, 3, d, 4000, 60000);
    rt_bans_add(&t, 7, e, 4000, 60000);
    assert_int_equal(rt_bans_distinct_recent(&t, d, 5000, W), 3);
    assert_int_equal(rt_bans_distinct_recent(&t, e, 5000, W), 1);
    /* The window: 2000 + W is still in, 3000 + W + 1 drops exits 1 and 2. */
    assert_int_equal(rt_bans_distinct_recent(&t, d, 2000 + W, W), 3);
    assert_int_equal(rt_bans_distinct_recent(&t, d, 3000 + W + 1, W), 1);
    /* Saturates at RT_BANS_RECENT_EXITS. */
    for (uint32_t i = 100; i < 140; i++)
        rt_bans_add(&t, i, d, 10000 + i, 60000);
    assert_int_equal(rt_bans_distinct_recent(&t, d, 10200, W), RT_BANS_RECENT_EXITS);
    rt_bans_free(&t);
}

static void test_lift_domain(void **st)
{
    (void)st;
    rt_bans t;
    assert_int_equal(rt_bans_init(&t, 0), 0);
    uint64_t d = H("fortress.example"), e = H("calm.example");
    for (uint32_t i = 0; i < 50; i++)
        rt_bans_add(&t, i, d, 1000, 60000);
    rt_bans_add(&t, 3, e, 1000, 60000);
    rt_bans_add(&t, 60, d, 1000, 10); /* already over at 2000: not counted */
    assert_int_equal(rt_bans_distinct_recent(&t, d, 2000, 600000), RT_BANS_RECENT_EXITS);
    assert_int_equal(rt_bans_lift_domain(&t, d, 2000), 50);
    for (uint32_t i = 0; i < 50; i++)
        assert_false(rt_bans_is_banned(&t, i, d, 2000));
    /* Other domains keep their bans; the recent record starts over. */
    assert_true(rt_bans_is_banned(&t, 3, e, 2000));
    assert_int_equal(rt_bans_distinct_recent(&t, d, 2000, 600000), 0);
    assert_int_equal(rt_bans_distinct_recent(&t, e, 2000, 600000), 1);
    assert_int_equal(rt_bans_count(&t, 2000), 1);
    assert_int_equal(rt_bans_lift_domain(&t, d, 2000), 0);
    /* Banning again after a lift works as before. */
    rt_bans_add(&t, 5, d, 3000, 60000);
    assert_true(rt_bans_is_banned(&t, 5, d, 3001));
    rt_bans_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ttl_and_isolation),
        cmocka_unit_test(test_case_insensitive_hash),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_eviction_prefers_soonest_expiry),
        cmocka_unit_test(test_distinct_recent),
        cmocka_unit_test(test_lift_domain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
