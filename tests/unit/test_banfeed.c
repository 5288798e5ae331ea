/* The ban feed between worker threads: records arrive whole and in order,
 * a new cursor sees only what comes after it, a reader lapped by writers
 * skips and counts, and two writers racing a reader never yield a torn
 * record. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/policy/banfeed.h"

static rt_banfeed_rec rec(uint32_t exit, uint8_t from)
{
    /* Every field derived from exit: a torn record shows as a mismatch. */
    rt_banfeed_rec r = { .domain = 0x9E3779B97F4A7C15ull * (exit + 1), .until_ms = 1000u + exit,
                         .generation = 7, .exit = exit, .kind = (uint8_t)(exit & 1), .from = from };
    return r;
}

static void check(const rt_banfeed_rec *r)
{
    rt_banfeed_rec want = rec(r->exit, r->from);
    assert_true(r->domain == want.domain && r->until_ms == want.until_ms && r->generation == 7 &&
                r->kind == want.kind);
}

static void test_in_order_and_from_now_on(void **st)
{
    (void)st;
    rt_banfeed f;
    assert_int_equal(rt_banfeed_init(&f), 0);
    rt_banfeed_rec r0 = rec(99, 0);
    rt_banfeed_publish(&f, &r0); /* before the cursor: not seen */
    rt_banfeed_cursor c;
    rt_banfeed_cursor_init(&f, &c);
    assert_false(rt_banfeed_pending(&f, &c));
    for (uint32_t i = 0; i < 10; i++) {
        rt_banfeed_rec r = rec(i, 1);
        rt_banfeed_publish(&f, &r);
    }
    assert_true(rt_banfeed_pending(&f, &c));
    rt_banfeed_rec out[4];
    uint32_t seen = 0;
    size_t n;
    while ((n = rt_banfeed_read(&f, &c, out, 4)) > 0) {
        for (size_t i = 0; i < n; i++) {
            check(&out[i]);
            assert_int_equal(out[i].exit, seen++);
            assert_int_equal(out[i].from, 1);
        }
    }
    assert_int_equal(seen, 10);
    assert_false(rt_banfeed_pending(&f, &c));
    assert_int_equal(c.lost, 0);
    rt_banfeed_free(&f);
}

static void test_lapped_reader_skips_and_counts(void **st)
{
    (void)st;
    rt_banfeed f;
    assert_int_equal(rt_banfeed_init(&f), 0);
    rt_banfeed_cursor c;
    rt_banfeed_cursor_init(&f, &c);
    uint32_t total = RT_BANFEED_SLOTS + 100;
    for (uint32_t i = 0; i < total; i++) {
        rt_banfeed_rec r = rec(i, 2);
        rt_banfeed_publish(&f, &r);
    }
    rt_banfeed_rec out[64];
    size_t n = rt_banfeed_read(&f, &c, out, 64);
    assert_int_equal(n, 64);
    assert_int_equal(c.lost, 100);
    assert_int_equal(out[0].exit, 100); /* the oldest still in the ring */
    rt_banfeed_free(&f);
}

typedef struct writer {
    rt_banfeed *f;
    uint8_t id;
} writer;

#define PER_WRITER 200000u

static void *writer_main(void *arg)
{
    writer *w = arg;
    for (uint32_t i = 0; i < PER_WRITER; i++) {
        rt_banfeed_rec r = rec(i, w->id);
        rt_banfeed_publish(w->f, &r);
    }
    return NULL;
}

static void test_two_writers_and_a_reader(void **st)
{
    (void)st;
    rt_banfeed f;
    assert_int_equal(rt_banfeed_init(&f), 0);
    rt_banfeed_cursor c;
    rt_banfeed_cursor_init(&f, &c);
    writer w[2] = { { &f, 1 }, { &f, 2 } };
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
    uint64_t got = 0;
    uint32_t last[3] = { 0, 0, 0 };
    rt_banfeed_rec out[256];
    while (got + c.lost < 2ull * PER_WRITER) {
        size_t n = rt_banfeed_read(&f, &c, out, 256);
        for (size_t i = 0; i < n; i++) {
            check(&out[i]); /* never torn */
            assert_true(out[i].from == 1 || out[i].from == 2);
            /* Each writer's records come in its own order. */
            assert_true(out[i].exit >= last[out[i].from]);
            last[out[i].from] = out[i].exit;
        }
        got += n;
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(got + c.lost, 2ull * PER_WRITER);
    assert_true(got > 0);
    rt_banfeed_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order_and_from_now_on),
        cmocka_unit_test(test_lapped_reader_skips_and_counts),
        cmocka_unit_test(test_two_writers_and_a_reader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
