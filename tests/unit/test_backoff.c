/* Exponential backoff: ceilings, bounds of every jitter mode, and the
 * spread of the draws (statistics over many draws with a seeded rng). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/policy/backoff.h"

static void test_ceiling(void **st)
{
    (void)st;
    rt_backoff b;
    rt_backoff_default(&b);
    /* The guide: 2 s, then 4, then 8. */
    assert_int_equal(rt_backoff_ceiling(&b, 0), 2000);
    assert_int_equal(rt_backoff_ceiling(&b, 1), 4000);
    assert_int_equal(rt_backoff_ceiling(&b, 2), 8000);
    assert_int_equal(rt_backoff_ceiling(&b, 3), 16000);
    assert_int_equal(rt_backoff_ceiling(&b, 4), 30000);
    /* No overflow for absurd attempt numbers. */
    assert_int_equal(rt_backoff_ceiling(&b, 63), 30000);
    assert_int_equal(rt_backoff_ceiling(&b, 64), 30000);
    assert_int_equal(rt_backoff_ceiling(&b, UINT32_MAX), 30000);
    b.base_ms = UINT32_MAX;
    b.cap_ms = UINT32_MAX;
    assert_int_equal(rt_backoff_ceiling(&b, 5), UINT32_MAX);
    b.base_ms = 50000; /* base above cap: the cap wins */
    b.cap_ms = 8000;
    assert_int_equal(rt_backoff_ceiling(&b, 0), 8000);
}

static void stats(rt_backoff *b, unsigned attempt, uint64_t *lo, uint64_t *hi, double *mean)
{
    rt_rng r;
    rt_rng_seed(&r, 12345);
    const int n = 20000;
    *lo = UINT64_MAX;
    *hi = 0;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        uint64_t d = rt_backoff_delay(b, attempt, &r);
        if (d < *lo)
            *lo = d;
        if (d > *hi)
            *hi = d;
        sum += (double)d;
    }
    *mean = sum / n;
}

static void test_equal_jitter(void **st)
{
    (void)st;
    rt_backoff b;
    rt_backoff_default(&b);
    for (unsigned k = 0; k < 6; k++) {
        uint64_t c = rt_backoff_ceiling(&b, k), lo, hi;
        double mean;
        stats(&b, k, &lo, &hi, &mean);
        /* Bounds: never below half the ceiling, never above it. */
        assert_true(lo >= c / 2);
        assert_true(hi <= c);
        /* Spread: the draws cover the interval, not one point. */
        assert_true(lo < c / 2 + c / 50);
        assert_true(hi > c - c / 50);
        /* Mean of uniform [c/2, c] is 3c/4; 20000 draws land within 2%. */
        assert_true(mean > 0.73 * (double)c && mean < 0.77 * (double)c);
    }
}

static void test_full_jitter(void **st)
{
    (void)st;
    rt_backoff b;
    rt_backoff_default(&b);
    b.jitter = RT_JITTER_FULL;
    uint64_t lo, hi;
    double mean;
    stats(&b, 2, &lo, &hi, &mean);
    assert_true(hi <= 8000);
    assert_true(lo < 100); /* full jitter can go (nearly) to zero */
    assert_true(mean > 0.48 * 8000 && mean < 0.52 * 8000);

    /* Decile histogram is flat: each tenth of [0, 8000] gets ~10%. */
    rt_rng r;
    rt_rng_seed(&r, 99);
    int hist[10] = { 0 };
    for (int i = 0; i < 50000; i++) {
        uint64_t d = rt_backoff_delay(&b, 2, &r);
        hist[d >= 8000 ? 9 : d / 800]++;
    }
    for (int i = 0; i < 10; i++)
        assert_true(hist[i] > 4500 && hist[i] < 5500);
}

static void test_no_jitter_and_determinism(void **st)
{
    (void)st;
    rt_backoff b;
    rt_backoff_default(&b);
    b.jitter = RT_JITTER_NONE;
    rt_rng r;
    rt_rng_seed(&r, 1);
    assert_int_equal(rt_backoff_delay(&b, 0, &r), 2000);
    assert_int_equal(rt_backoff_delay(&b, 2, &r), 8000);

    /* Same seed, same waits: decisions replay exactly in tests. */
    b.jitter = RT_JITTER_EQUAL;
    rt_rng a, c;
    rt_rng_seed(&a, 7);
    rt_rng_seed(&c, 7);
    for (int i = 0; i < 100; i++)
        assert_int_equal(rt_backoff_delay(&b, 1, &a), rt_backoff_delay(&b, 1, &c));
    /* A zero cap gives zero without dividing by anything. */
    b.cap_ms = 0;
    assert_int_equal(rt_backoff_delay(&b, 3, &a), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ceiling),
        cmocka_unit_test(test_equal_jitter),
        cmocka_unit_test(test_full_jitter),
        cmocka_unit_test(test_no_jitter_and_determinism),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
