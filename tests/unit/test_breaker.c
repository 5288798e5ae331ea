/* The per-domain circuit breaker under a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/policy/breaker.h"

#define MIN 60000ull

static void record_n(rt_breaker *b, uint64_t t, int ok, int fail)
{
    for (int i = 0; i < ok; i++)
        rt_breaker_record(b, t, false);
    for (int i = 0; i < fail; i++)
        rt_breaker_record(b, t, true);
}

static void test_min_requests_gate(void **st)
{
    (void)st;
    rt_breaker b;
    rt_breaker_init(&b, NULL);
    /* 19 failures out of 19: 100%, but fewer than 20 requests. */
    record_n(&b, 1000, 0, 19);
    assert_int_equal(b.state, RT_BREAKER_CLOSED);
    assert_int_equal(rt_breaker_allow(&b, 1000, NULL), RT_BREAKER_ALLOW);
    /* The 20th trips it. */
    record_n(&b, 1000, 0, 1);
    assert_int_equal(b.state, RT_BREAKER_OPEN);
}

static void test_threshold_is_strictly_above(void **st)
{
    (void)st;
    rt_breaker b;
    rt_breaker_init(&b, NULL);
    /* Exactly 30%: 14 ok + 6 failures out of 20 stays closed. */
    record_n(&b, 1000, 14, 6);
    assert_int_equal(b.state, RT_BREAKER_CLOSED);
    /* 7 of 21 is 33%: open. */
    record_n(&b, 1000, 0, 1);
    assert_int_equal(b.state, RT_BREAKER_OPEN);
    /* Successes never trip. */
    rt_breaker_init(&b, NULL);
    record_n(&b, 1000, 1000, 0);
    assert_int_equal(b.state, RT_BREAKER_CLOSED);
}

static void test_full_cycle(void **st)
{
    (void)st;
    rt_breaker b;
    rt_breaker_init(&b, NULL);
    uint64_t t = 10 * MIN, ra = 0;
    record_n(&b, t, 10, 10);
    assert_int_equal(b.state, RT_BREAKER_OPEN);
    /* OPEN: denied with the remaining cooldown. */
    assert_int_equal(rt_breaker_allow(&b, t, &ra), RT_BREAKER_DENY);
    assert_int_equal(ra, 30000);
    assert_int_equal(rt_breaker_allow(&b, t + 29000, &ra), RT_BREAKER_DENY);
    assert_int_equal(ra, 1000);
    assert_int_equal(rt_breaker_state_at(&b, t + 29999), RT_BREAKER_OPEN);
    assert_int_equal(rt_breaker_state_at(&b, t + 30000), RT_BREAKER_HALF_OPEN);
    /* HALF_OPEN: three probes, then deny. */
    t += 30000;
    for (int i = 0; i < 3; i++)
        assert_int_equal(rt_breaker_allow(&b, t, &ra), RT_BREAKER_ALLOW_PROBE);
    assert_int_equal(b.state, RT_BREAKER_HALF_OPEN);
    assert_int_equal(rt_breaker_allow(&b, t, &ra), RT_BREAKER_DENY);
    assert_int_equal(ra, RT_BREAKER_PROBE_WAIT_MS);
    /* Two successes: still half open. The third closes. */
    rt_breaker_record(&b, t + 100, false);
    rt_breaker_record(&b, t + 100, false);
    assert_int_equal(b.state, RT_BREAKER_HALF_OPEN);
    rt_breaker_record(&b, t + 100, false);
    assert_int_equal(b.state, RT_BREAKER_CLOSED);
    assert_int_equal(rt_breaker_allow(&b, t + 100, NULL), RT_BREAKER_ALLOW);
    /* The window was cleared: one failure does not reopen it. */
    rt_breaker_record(&b, t + 200, true);
    assert_int_equal(b.state, RT_BREAKER_CLOSED);
}

static void test_probe_failure_reopens_longer(void **st)
{
    (void)st;
    rt_breaker b;
    rt_breaker_init(&b, NULL);
    uint64_t t = 0, ra = 0;
    record_n(&b, t, 0, 20);
    assert_int_equal(b.state, RT_BREAKER_OPEN);
    t += 30000;
    assert_int_equal(rt_breaker_allow(&b, t, &ra), RT_BREAKER_ALLOW_PROBE);
    rt_breaker_record(&b, t, true);
    assert_int_equal(b.state, RT_BREAKER_OPEN);
    /* Second trip in a row: the cooldown doubled. */
    assert_int_equal(rt_breaker_allow(&b, t, &ra), RT_BREAKER_DENY);
    assert_int_equal(ra, 60000);
    /* Keep failing probes: 120 s, 240 s, 480 s, then the 600 s cap. */
    uint64_t expect[] = { 120000, 240000, 480000, 600000, 600000 };
    uint64_t cool = 60000;
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        t += cool;
        assert_int_equal(rt_breaker_allow(&b, t, &ra), RT_BREAKER_ALLOW_PROBE);
        rt_breaker_record(&b, t, true);
        assert_int_equal(rt_breaker_allow(&b, t, &ra), RT_BREAKER_DENY);
        assert_int_equal(ra, expect[i]);
        cool = expect[i];
    }
    assert_int_equal(b.total_trips, 7);
}

static void test_window_slides(void **st)
{
    (void)st;
    rt_breaker b;
    rt_breaker_init(&b, NULL);
    uint64_t t = 100 * MIN;
    /* Six failures now, then a long quiet time. */
    record_n(&b, t, 0, 6);
    /* Six minutes later the old failures have left the 5-minute window:
     * 14 ok + 6 new failures is exactly 30%, closed. Were the old six still
     * counted it would be 12/26 and open. */
    t += 6 * MIN;
    record_n(&b, t, 14, 5);
    record_n(&b, t, 0, 1);
    assert_int_equal(b.state, RT_BREAKER_CLOSED);

    /* Within the window failures add up: 2 minutes later 7 more of 7. */
    t += 2 * MIN;
    record_n(&b, t, 0, 7);
    assert_int_equal(b.state, RT_BREAKER_OPEN);
}

static void test_trip_count_resets_after_healthy_window(void **st)
{
    (void)st;
    rt_breaker b;
    rt_breaker_init(&b, NULL);
    uint64_t t = 0, ra = 0;
    record_n(&b, t, 0, 20);
    t += 30000;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(rt_breaker_allow(&b, t, &ra), RT_BREAKER_ALLOW_PROBE);
        rt_breaker_record(&b, t, false);
    }
    assert_int_equal(b.state, RT_BREAKER_CLOSED);
    /* Trouble again right away: a repeated trip, longer pause. */
    record_n(&b, t + 1000, 0, 20);
    assert_int_equal(rt_breaker_allow(&b, t + 1000, &ra), RT_BREAKER_DENY);
    assert_int_equal(ra, 60000);
    t += 1000 + 60000;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(rt_breaker_allow(&b, t, &ra), RT_BREAKER_ALLOW_PROBE);
        rt_breaker_record(&b, t, false);
    }
    /* After more than a healthy window, the next trip is a first one. */
    t += 6 * MIN;
    record_n(&b, t, 0, 20);
    assert_int_equal(rt_breaker_allow(&b, t, &ra), RT_BREAKER_DENY);
    assert_int_equal(ra, 30000);
}

static void test_lost_probes_expire(void **st)
{
    (void)st;
    rt_breaker b;
    rt_breaker_init(&b, NULL);
    uint64_t t = 0;
    record_n(&b, t, 0, 20);
    t += 30000;
    for (int i = 0; i < 3; i++)
        assert_int_equal(rt_breaker_allow(&b, t, NULL), RT_BREAKER_ALLOW_PROBE);
    /* The probes never report. */
    assert_int_equal(rt_breaker_allow(&b, t + 29999, NULL), RT_BREAKER_DENY);
    assert_int_equal(rt_breaker_allow(&b, t + 30000, NULL), RT_BREAKER_ALLOW_PROBE);
}

static void test_stragglers_while_open(void **st)
{
    (void)st;
    rt_breaker b;
    rt_breaker_init(&b, NULL);
    record_n(&b, 0, 0, 20);
    uint64_t until = b.open_until;
    /* Late outcomes of requests admitted before the trip change nothing. */
    record_n(&b, 10, 5, 5);
    assert_int_equal(b.state, RT_BREAKER_OPEN);
    assert_int_equal(b.open_until, until);
}

static void test_counts_for_breaker(void **st)
{
    (void)st;
    assert_false(rt_code_counts_for_breaker(RT_E_ok));
    assert_true(rt_code_counts_for_breaker(RT_E_target_blocked));
    assert_true(rt_code_counts_for_breaker(RT_E_target_challenge));
    assert_true(rt_code_counts_for_breaker(RT_E_target_rate_limited));
    assert_true(rt_code_counts_for_breaker(RT_E_target_server_error));
    assert_true(rt_code_counts_for_breaker(RT_E_target_unavailable));
    assert_true(rt_code_counts_for_breaker(RT_E_target_reset));
    assert_true(rt_code_counts_for_breaker(RT_E_target_timeout));
    assert_true(rt_code_counts_for_breaker(RT_E_target_dns_failed));
    assert_true(rt_code_counts_for_breaker(RT_E_target_response_incomplete));
    assert_false(rt_code_counts_for_breaker(RT_E_client_bad_request));
    assert_false(rt_code_counts_for_breaker(RT_E_circuit_open));
    assert_false(rt_code_counts_for_breaker(RT_E_retry_budget_exhausted));
    assert_false(rt_code_counts_for_breaker(RT_E_proxy_auth_failed));
    assert_false(rt_code_counts_for_breaker(RT_E_proxy_refused));
    assert_false(rt_code_counts_for_breaker(RT_E_proxy_read_timeout));
    /* The whole vocabulary: exactly target answers and target-hop
     * network failures count. */
    for (int c = 0; c < RT_E__COUNT; c++) {
        const rt_code_info *i = rt_code_get((rt_code)c);
        bool target_hop = i->origin == RT_ORIGIN_TARGET ||
                          (i->origin == RT_ORIGIN_NETWORK && strncmp(i->name, "target_", 7) == 0);
        if (rt_code_counts_for_breaker((rt_code)c) != target_hop)
            fail_msg("code %s miscounted", i->name);
    }
    assert_false(rt_code_counts_for_breaker(RT_E__COUNT + 5)); /* out of range: internal error */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_min_requests_gate),
        cmocka_unit_test(test_threshold_is_strictly_above),
        cmocka_unit_test(test_full_cycle),
        cmocka_unit_test(test_probe_failure_reopens_longer),
        cmocka_unit_test(test_window_slides),
        cmocka_unit_test(test_trip_count_resets_after_healthy_window),
        cmocka_unit_test(test_lost_probes_expire),
        cmocka_unit_test(test_stragglers_while_open),
        cmocka_unit_test(test_counts_for_breaker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
