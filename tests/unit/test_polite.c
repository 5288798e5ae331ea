/* Domain politeness shared by all threads: the concurrency cap, the rate
 * gap, slot reuse between domains, the overflow path, and the cap holding
 * under two threads hammering one domain. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/policy/polite.h"

/* Hashes that share a probe window: same low bits, different high bits. */
static uint64_t colliding(unsigned i) { return ((uint64_t)(i + 1) << 40) | 0x123u; }

static void test_cap_counts_in_and_out(void **st)
{
    (void)st;
    rt_polite t;
    assert_int_equal(rt_polite_init(&t), 0);
    uint32_t a, b, c;
    assert_int_equal(rt_polite_enter(&t, 42, 2, 0, 0, &a), 0);
    assert_int_equal(rt_polite_enter(&t, 42, 2, 0, 0, &b), 0);
    assert_true(a != 0 && a == b); /* one slot per domain */
    assert_int_equal(rt_polite_in_flight(&t, 42), 2);
    assert_int_equal(rt_polite_enter(&t, 42, 2, 0, 0, &c), RT_POLITE_BUSY_RETRY_MS);
    assert_int_equal(c, 0);
    /* Another domain is not held back by this one's cap. */
    assert_int_equal(rt_polite_enter(&t, 43, 2, 0, 0, &c), 0);
    rt_polite_leave(&t, c);
    rt_polite_leave(&t, a);
    assert_int_equal(rt_polite_in_flight(&t, 42), 1);
    assert_int_equal(rt_polite_enter(&t, 42, 2, 0, 0, &c), 0);
    rt_polite_leave(&t, b);
    rt_polite_leave(&t, c);
    assert_int_equal(rt_polite_in_flight(&t, 42), 0);
    rt_polite_leave(&t, 0); /* a ticket of 0 is a no-op */
    /* No limits at all: nothing is counted and no ticket is issued. */
    assert_int_equal(rt_polite_enter(&t, 42, 0, 0, 0, &a), 0);
    assert_int_equal(a, 0);
    rt_polite_free(&t);
}

static void test_rate_gap_and_no_leak_when_refused(void **st)
{
    (void)st;
    rt_polite t;
    assert_int_equal(rt_polite_init(&t), 0);
    uint32_t a;
    assert_int_equal(rt_polite_enter(&t, 7, 1, 200, 1000, &a), 0);
    rt_polite_leave(&t, a);
    /* The next start is 200 ms after the first. */
    assert_int_equal(rt_polite_enter(&t, 7, 1, 200, 1050, &a), 150);
    assert_int_equal(a, 0);
    /* The refused attempt left nothing counted: the cap of 1 is free. */
    assert_int_equal(rt_polite_in_flight(&t, 7), 0);
    assert_int_equal(rt_polite_enter(&t, 7, 1, 200, 1200, &a), 0);
    assert_int_equal(rt_polite_enter(&t, 7, 0, 200, 1300, &a), 100); /* rate alone */
    rt_polite_free(&t);
}

static void test_window_full_goes_unlimited_then_slots_are_reused(void **st)
{
    (void)st;
    rt_polite t;
    assert_int_equal(rt_polite_init(&t), 0);
    uint32_t tk[RT_POLITE_PROBE];
    for (unsigned i = 0; i < RT_POLITE_PROBE; i++) {
        assert_int_equal(rt_polite_enter(&t, colliding(i), 1, 1000, 0, &tk[i]), 0);
        assert_true(tk[i] != 0);
    }
    /* A ninth domain on the same window, every slot busy: unlimited. */
    uint32_t x;
    uint64_t d9 = colliding(RT_POLITE_PROBE);
    assert_int_equal(rt_polite_enter(&t, d9, 1, 1000, 0, &x), 0);
    assert_int_equal(x, 0);
    assert_int_equal(atomic_load(&t.overflow), 1);
    /* One domain finishes: the ninth takes its slot, without its rate
     * history (the old tenant started at 0 with a 1000 ms gap). */
    rt_polite_leave(&t, tk[3]);
    assert_int_equal(rt_polite_enter(&t, d9, 1, 1000, 10, &x), 0);
    assert_int_equal(x, tk[3]);
    assert_int_equal(rt_polite_in_flight(&t, d9), 1);
    assert_int_equal(rt_polite_in_flight(&t, colliding(3)), 0);
    rt_polite_free(&t);
}

static void test_idle_domain_keeps_its_history_while_room_remains(void **st)
{
    (void)st;
    rt_polite t;
    assert_int_equal(rt_polite_init(&t), 0);
    uint32_t a, b;
    assert_int_equal(rt_polite_enter(&t, colliding(0), 0, 500, 0, &a), 0);
    rt_polite_leave(&t, a);
    /* A colliding domain takes a never-used slot, not the idle one... */
    assert_int_equal(rt_polite_enter(&t, colliding(1), 0, 500, 0, &b), 0);
    assert_true(b != a);
    rt_polite_leave(&t, b);
    /* ...so the first domain still has to wait out its gap. */
    assert_int_equal(rt_polite_enter(&t, colliding(0), 0, 500, 100, &a), 400);
    rt_polite_free(&t);
}

/* Two threads, one domain, cap 1: never two inside at once. */
typedef struct hammer {
    rt_polite *t;
    _Atomic int *inside;
    _Atomic int *worst;
    _Atomic unsigned done;
    _Atomic unsigned *other_done;
} hammer;

/* Enters and leaves until it has done its share and the other thread has
 * got in at least once (a thread may start late, under a sanitizer), with
 * a bound so a broken table cannot hang the test. */
static void *hammer_main(void *arg)
{
    hammer *h = arg;
    for (unsigned long n = 0; n < 50000000ul; n++) {
        if (atomic_load(&h->done) >= 100000 && atomic_load(h->other_done) > 0)
            break;
        uint32_t tk;
        if (rt_polite_enter(h->t, 99, 1, 0, 0, &tk) != 0)
            continue;
        int now = atomic_fetch_add(h->inside, 1) + 1;
        int w = atomic_load(h->worst);
        while (now > w && !atomic_compare_exchange_weak(h->worst, &w, now)) {
        }
        atomic_fetch_sub(h->inside, 1);
        rt_polite_leave(h->t, tk);
        atomic_fetch_add(&h->done, 1);
    }
    return NULL;
}

static void test_cap_holds_across_threads(void **st)
{
    (void)st;
    rt_polite t;
    assert_int_equal(rt_polite_init(&t), 0);
    _Atomic int inside = 0, worst = 0;
    hammer h[2] = { { &t, &inside, &worst, 0, NULL }, { &t, &inside, &worst, 0, NULL } };
    h[0].other_done = &h[1].done;
    h[1].other_done = &h[0].done;
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer_main, &h[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&worst), 1);
    assert_true(atomic_load(&h[0].done) > 0 && atomic_load(&h[1].done) > 0);
    assert_int_equal(rt_polite_in_flight(&t, 99), 0);
    rt_polite_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cap_counts_in_and_out),
        cmocka_unit_test(test_rate_gap_and_no_leak_when_refused),
        cmocka_unit_test(test_window_full_goes_unlimited_then_slots_are_reused),
        cmocka_unit_test(test_idle_domain_keeps_its_history_while_room_remains),
        cmocka_unit_test(test_cap_holds_across_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
