/* The retry decision for every class, its limits (3/1/0), the
 * non-idempotent and replay rules, the deadline and the budget. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/policy/retry.h"

typedef struct fx {
    rt_retry_policy p;
    rt_retry_state s;
    rt_retry_input in;
    rt_rng rng;
} fx;

static void setup(fx *f, rt_code code)
{
    rt_retry_policy_default(&f->p);
    rt_retry_state_init(&f->s, 1000, 0);
    f->in = (rt_retry_input){ .code = code, .idempotent = true, .bytes_reached_target = true,
                              .body_replayable = true };
    rt_rng_seed(&f->rng, 42);
}

static rt_retry_verdict decide(fx *f, uint64_t now)
{
    return rt_retry_decide(&f->p, &f->s, &f->in, &f->rng, now);
}

/* Retries granted in a row until the decision is no longer YES. */
static int run_until_stop(fx *f, rt_retry_status *last)
{
    int n = 0;
    for (;;) {
        rt_retry_verdict v = decide(f, 1000);
        if (v.status != RT_RETRY_YES) {
            *last = v.status;
            return n;
        }
        n++;
        assert_true(n < 100);
    }
}

static void test_success_and_final_codes(void **st)
{
    (void)st;
    fx f;
    rt_code final[] = { RT_E_ok, RT_E_client_bad_request, RT_E_client_auth_required,
                        RT_E_circuit_open, RT_E_no_healthy_upstream, RT_E_retry_budget_exhausted,
                        RT_E_gateway_internal_error };
    for (size_t i = 0; i < sizeof final / sizeof final[0]; i++) {
        setup(&f, final[i]);
        rt_retry_verdict v = decide(&f, 1000);
        assert_int_equal(v.status, RT_RETRY_NO);
        assert_int_equal(v.flags, 0);
        assert_int_equal(v.code, final[i]);
        assert_int_equal(f.s.total, 0);
    }
}

static void test_limits_per_class(void **st)
{
    (void)st;
    fx f;
    rt_retry_status last;
    /* Transient classes: three retries, then LIMIT. */
    rt_code three[] = { RT_E_proxy_reset, RT_E_target_rate_limited, RT_E_target_blocked };
    for (size_t i = 0; i < 3; i++) {
        setup(&f, three[i]);
        assert_int_equal(run_until_stop(&f, &last), 3);
        assert_int_equal(last, RT_RETRY_LIMIT);
        assert_int_equal(decide(&f, 1000).code, RT_E_retries_exhausted);
    }
    /* Auth errors: one retry ("if it fails twice, your credentials are wrong"). */
    setup(&f, RT_E_proxy_auth_failed);
    assert_int_equal(run_until_stop(&f, &last), 1);
    assert_int_equal(last, RT_RETRY_LIMIT);
    /* Abort: none. */
    rt_code abort_codes[] = { RT_E_target_blocked_everywhere, RT_E_target_tls_failed,
                              RT_E_target_certificate_invalid };
    for (size_t i = 0; i < sizeof abort_codes / sizeof abort_codes[0]; i++) {
        setup(&f, abort_codes[i]);
        assert_int_equal(run_until_stop(&f, &last), 0);
        assert_int_equal(last, RT_RETRY_NO);
    }
    /* Classes count separately, under a total of four. */
    setup(&f, RT_E_proxy_reset);
    assert_int_equal(run_until_stop(&f, &last), 3);
    f.in.code = RT_E_proxy_auth_failed;
    assert_int_equal(run_until_stop(&f, &last), 1);
    assert_int_equal(f.s.total, 4);
    f.in.code = RT_E_target_blocked;
    assert_int_equal(run_until_stop(&f, &last), 0);
    assert_int_equal(last, RT_RETRY_LIMIT);
    /* A policy can change a limit: abort stays 0, fix can be 2. */
    setup(&f, RT_E_proxy_auth_failed);
    f.p.limit[RT_CLASS_FIX] = 2;
    assert_int_equal(run_until_stop(&f, &last), 2);
}

static void test_class_actions_and_waits(void **st)
{
    (void)st;
    fx f;
    /* retry_now from the proxy side: at once, elsewhere. */
    setup(&f, RT_E_proxy_reset);
    rt_retry_verdict v = decide(&f, 1000);
    assert_int_equal(v.status, RT_RETRY_YES);
    assert_int_equal(v.delay_ms, 0);
    assert_int_equal(v.flags, RT_RETRY_F_SWITCH_UPSTREAM);
    /* retry_now after the target's 503: a small jitter, never above it,
     * and not always the same. */
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < 200; i++) {
        setup(&f, RT_E_target_unavailable);
        rt_rng_seed(&f.rng, (uint64_t)i);
        v = decide(&f, 1000);
        assert_int_equal(v.status, RT_RETRY_YES);
        lo = v.delay_ms < lo ? v.delay_ms : lo;
        hi = v.delay_ms > hi ? v.delay_ms : hi;
    }
    assert_true(hi <= RT_RETRY_NOW_JITTER_MS);
    assert_true(hi > lo);
    /* rotate: at once, with session rotation and a ban; Retry-After from
     * the old exit is ignored. */
    setup(&f, RT_E_target_challenge);
    f.in.has_retry_after = true;
    f.in.retry_after_ms = 60000;
    v = decide(&f, 1000);
    assert_int_equal(v.status, RT_RETRY_YES);
    assert_int_equal(v.delay_ms, 0);
    assert_int_equal(v.flags, RT_RETRY_F_SWITCH_UPSTREAM | RT_RETRY_F_ROTATE_SESSION |
                                  RT_RETRY_F_BAN_EXIT);
    /* fix: quarantine, elsewhere, at once. */
    setup(&f, RT_E_proxy_refused);
    v = decide(&f, 1000);
    assert_int_equal(v.status, RT_RETRY_YES);
    assert_int_equal(v.delay_ms, 0);
    assert_int_equal(v.flags, RT_RETRY_F_SWITCH_UPSTREAM | RT_RETRY_F_QUARANTINE);
    /* The quarantine is asked for even when no retry is left. */
    v = decide(&f, 1000);
    assert_int_equal(v.status, RT_RETRY_LIMIT);
    assert_true(v.flags & RT_RETRY_F_QUARANTINE);
}

static void test_backoff_waits(void **st)
{
    (void)st;
    fx f;
    /* Without Retry-After: the guide's 2, 4, 8 s ceilings, equal jitter. */
    setup(&f, RT_E_target_rate_limited);
    uint64_t ceil[] = { 2000, 4000, 8000 };
    for (int k = 0; k < 3; k++) {
        rt_retry_verdict v = decide(&f, 1000);
        assert_int_equal(v.status, RT_RETRY_YES);
        assert_true(v.delay_ms >= ceil[k] / 2 && v.delay_ms <= ceil[k]);
    }
    /* With Retry-After: exactly that. */
    setup(&f, RT_E_target_rate_limited);
    f.in.has_retry_after = true;
    f.in.retry_after_ms = 12345;
    rt_retry_verdict v = decide(&f, 1000);
    assert_int_equal(v.status, RT_RETRY_YES);
    assert_int_equal(v.delay_ms, 12345);
    /* Retry-After 0 means now. */
    f.in.retry_after_ms = 0;
    assert_int_equal(decide(&f, 1000).delay_ms, 0);
    /* A retry_now answer that carries Retry-After honours it too. */
    setup(&f, RT_E_target_unavailable);
    f.in.has_retry_after = true;
    f.in.retry_after_ms = 5000;
    assert_int_equal(decide(&f, 1000).delay_ms, 5000);
}

static void test_deadline(void **st)
{
    (void)st;
    fx f;
    setup(&f, RT_E_target_rate_limited);
    rt_retry_state_init(&f.s, 1000, 30000); /* deadline at 31000 */
    f.in.has_retry_after = true;
    f.in.retry_after_ms = 60000;
    rt_retry_verdict v = decide(&f, 2000);
    assert_int_equal(v.status, RT_RETRY_DEADLINE);
    assert_int_equal(v.delay_ms, 60000); /* the gateway answers Retry-After: 60 */
    assert_int_equal(v.code, RT_E_deadline_exceeded);
    assert_int_equal(f.s.total, 0); /* nothing consumed */
    /* A wait that ends exactly at the deadline leaves no time to try. */
    f.in.retry_after_ms = 29000;
    assert_int_equal(decide(&f, 2000).status, RT_RETRY_DEADLINE);
    f.in.retry_after_ms = 28999;
    assert_int_equal(decide(&f, 2000).status, RT_RETRY_YES);
    /* Past the deadline even an immediate retry is refused. */
    setup(&f, RT_E_proxy_reset);
    rt_retry_state_init(&f.s, 1000, 5000);
    assert_int_equal(decide(&f, 5999).status, RT_RETRY_YES);
    assert_int_equal(decide(&f, 6000).status, RT_RETRY_DEADLINE);
    assert_int_equal(decide(&f, UINT64_MAX).status, RT_RETRY_DEADLINE);
    /* Huge waits do not overflow the comparison. */
    setup(&f, RT_E_target_rate_limited);
    rt_retry_state_init(&f.s, 1000, 5000);
    f.in.has_retry_after = true;
    f.in.retry_after_ms = UINT64_MAX;
    assert_int_equal(decide(&f, 1000).status, RT_RETRY_DEADLINE);
}

static void test_non_idempotent(void **st)
{
    (void)st;
    fx f;
    /* POST that may have reached the target: not retried. */
    setup(&f, RT_E_target_reset);
    f.in.idempotent = false;
    assert_int_equal(decide(&f, 1000).status, RT_RETRY_NO);
    /* Same failure, but the target provably saw nothing (connect failed,
     * the proxy refused): safe to resend. */
    setup(&f, RT_E_proxy_refused);
    f.in.idempotent = false;
    f.in.bytes_reached_target = false;
    assert_int_equal(decide(&f, 1000).status, RT_RETRY_YES);
    /* The policy flag allows it anyway. */
    setup(&f, RT_E_target_reset);
    f.in.idempotent = false;
    f.p.retry_non_idempotent = true;
    assert_int_equal(decide(&f, 1000).status, RT_RETRY_YES);
    /* Flags still name the entry's trouble when no retry happens. */
    setup(&f, RT_E_target_blocked);
    f.in.idempotent = false;
    rt_retry_verdict v = decide(&f, 1000);
    assert_int_equal(v.status, RT_RETRY_NO);
    assert_true(v.flags & RT_RETRY_F_BAN_EXIT);
}

static void test_replay_and_response_started(void **st)
{
    (void)st;
    fx f;
    setup(&f, RT_E_proxy_reset);
    f.in.body_replayable = false;
    assert_int_equal(decide(&f, 1000).status, RT_RETRY_NO);
    setup(&f, RT_E_target_response_incomplete);
    f.in.response_started = true;
    f.p.retry_non_idempotent = true;
    assert_int_equal(decide(&f, 1000).status, RT_RETRY_NO);
    assert_int_equal(f.s.total, 0);
    assert_int_equal(f.p.max_replay_bytes, 1024 * 1024);
}

static void test_budget(void **st)
{
    (void)st;
    fx f;
    rt_budget_cfg c = { .ratio = 0.0, .min_retries = 2, .window_ms = 10000, .buckets = 10 };
    rt_budget b;
    rt_budget_init(&b, &c);
    setup(&f, RT_E_proxy_reset);
    f.in.budget = &b;
    assert_int_equal(decide(&f, 1000).status, RT_RETRY_YES);
    assert_int_equal(decide(&f, 1000).status, RT_RETRY_YES);
    rt_retry_verdict v = decide(&f, 1000);
    assert_int_equal(v.status, RT_RETRY_BUDGET);
    assert_int_equal(v.code, RT_E_retry_budget_exhausted);
    assert_int_equal(f.s.total, 2);
    assert_int_equal(b.denied, 1);
    /* Refusals for other reasons do not spend the budget. */
    rt_budget_init(&b, &c);
    setup(&f, RT_E_target_rate_limited);
    f.in.budget = &b;
    rt_retry_state_init(&f.s, 0, 10);
    assert_int_equal(decide(&f, 5).status, RT_RETRY_DEADLINE);
    assert_int_equal(rt_window_sum(&b.w, 5, 1), 0);
}

static void test_every_code_is_decided(void **st)
{
    (void)st;
    /* Whatever the code, the verdict is consistent with its class. */
    for (int c = 0; c < RT_E__COUNT; c++) {
        fx f;
        setup(&f, (rt_code)c);
        rt_retry_verdict v = decide(&f, 1000);
        const rt_code_info *i = rt_code_get((rt_code)c);
        bool final = i->cls == RT_CLASS_NONE || i->cls == RT_CLASS_ABORT ||
                     i->origin == RT_ORIGIN_CLIENT || i->origin == RT_ORIGIN_GATEWAY;
        if (final)
            assert_int_equal(v.status, RT_RETRY_NO);
        else
            assert_int_equal(v.status, RT_RETRY_YES);
    }
}

/* Fix-class failures of the target's hop (its name does not resolve) must
 * not quarantine the entry that reported them; the entry's own failures do. */
static void test_quarantine_only_for_the_entry(void **st)
{
    (void)st;
    fx f;
    setup(&f, RT_E_target_dns_failed);
    assert_int_equal(decide(&f, 1000).flags & RT_RETRY_F_QUARANTINE, 0);
    setup(&f, RT_E_proxy_auth_failed);
    assert_true(decide(&f, 1000).flags & RT_RETRY_F_QUARANTINE);
    setup(&f, RT_E_proxy_refused);
    assert_true(decide(&f, 1000).flags & RT_RETRY_F_QUARANTINE);
    setup(&f, RT_E_proxy_quota_exceeded);
    assert_true(decide(&f, 1000).flags & RT_RETRY_F_QUARANTINE);
}

static void test_method_idempotent(void **st)
{
    (void)st;
    const char *yes[] = { "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE" };
    const char *no[] = { "POST", "PATCH", "CONNECT", "get", "GETX", "", "DELET" };
    for (size_t i = 0; i < 6; i++)
        assert_true(rt_method_idempotent(rt_slice_cstr(yes[i])));
    for (size_t i = 0; i < 7; i++)
        assert_false(rt_method_idempotent(rt_slice_cstr(no[i])));
    assert_string_equal(rt_retry_status_name(RT_RETRY_DEADLINE), "deadline");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_success_and_final_codes),
        cmocka_unit_test(test_limits_per_class),
        cmocka_unit_test(test_class_actions_and_waits),
        cmocka_unit_test(test_backoff_waits),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_non_idempotent),
        cmocka_unit_test(test_replay_and_response_started),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_every_code_is_decided),
        cmocka_unit_test(test_method_idempotent),
        cmocka_unit_test(test_quarantine_only_for_the_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
