/* The bounded per-domain table: lookup, normalisation, LRU eviction of
 * idle domains, and pacing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "core/policy/bans.h"
#include "core/policy/domains.h"

static rt_slice S(const char *s) { return rt_slice_cstr(s); }

static void test_get_find_normalise(void **st)
{
    (void)st;
    rt_domains t;
    assert_int_equal(rt_domains_init(&t, 8, NULL, NULL), 0);
    rt_domain *a = rt_domains_get(&t, S("Shop.Example."), 10);
    assert_non_null(a);
    assert_string_equal(a->name, "shop.example");
    assert_true(a->hash == rt_domain_hash("shop.example", 12));
    assert_ptr_equal(rt_domains_get(&t, S("shop.example"), 20), a);
    assert_ptr_equal(rt_domains_find(&t, S("SHOP.EXAMPLE")), a);
    assert_null(rt_domains_find(&t, S("other.example")));
    assert_int_equal(t.count, 1);
    assert_int_equal(a->last_used_ms, 20);
    /* Empty and over-long names are refused. */
    assert_null(rt_domains_get(&t, S(""), 0));
    assert_null(rt_domains_get(&t, S("."), 0));
    char longname[300];
    memset(longname, 'a', sizeof longname);
    assert_null(rt_domains_get(&t, rt_slice_from(longname, 254), 0));
    assert_non_null(rt_domains_get(&t, rt_slice_from(longname, 253), 0));
    /* Each domain gets its own, fresh breaker. */
    assert_int_equal(a->breaker.state, RT_BREAKER_CLOSED);
    rt_domains_free(&t);
    assert_int_equal(rt_domains_init(&t, RT_DOMAINS_MAX + 1, NULL, NULL), -1);
}

static void test_bounded_lru(void **st)
{
    (void)st;
    rt_domains t;
    assert_int_equal(rt_domains_init(&t, 64, NULL, NULL), 0);
    char name[64];
    /* Ten thousand distinct names through a table of 64. */
    for (int i = 0; i < 10000; i++) {
        snprintf(name, sizeof name, "host%d.example", i);
        rt_domain *d = rt_domains_get(&t, S(name), (uint64_t)i);
        assert_non_null(d);
        assert_string_equal(d->name, name);
        assert_true(t.count <= 64);
    }
    assert_int_equal(t.count, 64);
    assert_int_equal(t.evictions, 10000 - 64);
    assert_int_equal(t.evictions_busy, 0);
    /* The 64 most recent are the ones kept. */
    assert_non_null(rt_domains_find(&t, S("host9999.example")));
    assert_non_null(rt_domains_find(&t, S("host9936.example")));
    assert_null(rt_domains_find(&t, S("host9935.example")));
    rt_domains_free(&t);
}

static void test_evicts_idle_not_open(void **st)
{
    (void)st;
    rt_domains t;
    assert_int_equal(rt_domains_init(&t, 4, NULL, NULL), 0);
    uint64_t now = 1000;
    rt_domain *blocked = rt_domains_get(&t, S("blocked.example"), now);
    for (int i = 0; i < 20; i++)
        rt_breaker_record(&blocked->breaker, now, true);
    assert_int_equal(blocked->breaker.state, RT_BREAKER_OPEN);
    rt_domain *paced = rt_domains_get(&t, S("paced.example"), now + 1);
    rt_domain_pace_note(paced, RT_E_target_rate_limited, 60000, now + 1);
    rt_domains_get(&t, S("a.example"), now + 2);
    rt_domains_get(&t, S("b.example"), now + 3);
    /* Full. The two oldest are busy, so a.example goes. */
    rt_domains_get(&t, S("c.example"), now + 4);
    assert_null(rt_domains_find(&t, S("a.example")));
    assert_non_null(rt_domains_find(&t, S("blocked.example")));
    assert_non_null(rt_domains_find(&t, S("paced.example")));
    assert_int_equal(t.evictions_busy, 0);
    /* The open breaker survived with its state. */
    assert_int_equal(rt_domains_find(&t, S("blocked.example"))->breaker.state, RT_BREAKER_OPEN);
    rt_domains_free(&t);

    /* All busy: the oldest goes anyway and is counted. */
    assert_int_equal(rt_domains_init(&t, 2, NULL, NULL), 0);
    rt_domain *x = rt_domains_get(&t, S("x.example"), 0);
    rt_domain_pace_note(x, RT_E_target_rate_limited, 60000, 0);
    rt_domain *y = rt_domains_get(&t, S("y.example"), 1);
    rt_domain_pace_note(y, RT_E_target_rate_limited, 60000, 1);
    assert_non_null(rt_domains_get(&t, S("z.example"), 2));
    assert_null(rt_domains_find(&t, S("x.example")));
    assert_int_equal(t.evictions_busy, 1);
    rt_domains_free(&t);
}

static void test_pacing(void **st)
{
    (void)st;
    rt_domains t;
    assert_int_equal(rt_domains_init(&t, 4, NULL, NULL), 0);
    rt_domain *d = rt_domains_get(&t, S("api.example"), 0);
    assert_int_equal(rt_domain_pace_wait(d, 0), 0);
    rt_domain_pace_note(d, RT_E_target_rate_limited, 2000, 1000);
    assert_int_equal(d->backoff_streak, 1);
    assert_int_equal(rt_domain_pace_wait(d, 1000), 2000);
    assert_int_equal(rt_domain_pace_wait(d, 2500), 500);
    assert_int_equal(rt_domain_pace_wait(d, 3000), 0);
    rt_domain_pace_note(d, RT_E_target_gateway_timeout, 4000, 3000);
    assert_int_equal(d->backoff_streak, 2);
    /* A shorter wait never cuts a longer pause short. */
    rt_domain_pace_note(d, RT_E_target_rate_limited, 10, 3000);
    assert_int_equal(rt_domain_pace_wait(d, 3000), 4000);
    /* A proxy failure says nothing about the domain. */
    rt_domain_pace_note(d, RT_E_proxy_reset, 0, 3000);
    assert_int_equal(d->backoff_streak, 3);
    /* Success ends the streak (the pause already set stands). */
    rt_domain_pace_note(d, RT_E_ok, 0, 3100);
    assert_int_equal(d->backoff_streak, 0);
    assert_int_equal(rt_domain_pace_wait(d, 3100), 3900);
    rt_domains_free(&t);
}

static void test_walk_most_recent_first(void **st)
{
    (void)st;
    rt_domains t;
    assert_int_equal(rt_domains_init(&t, 4, NULL, NULL), 0);
    assert_null(rt_domains_next(&t, NULL));
    rt_domains_get(&t, S("a.example"), 1);
    rt_domains_get(&t, S("b.example"), 2);
    rt_domains_get(&t, S("c.example"), 3);
    rt_domains_get(&t, S("a.example"), 4); /* a is the most recent again */
    const char *want[] = { "a.example", "c.example", "b.example" };
    size_t n = 0;
    for (rt_domain *d = rt_domains_next(&t, NULL); d; d = rt_domains_next(&t, d)) {
        assert_true(n < 3);
        assert_string_equal(d->name, want[n]);
        n++;
    }
    assert_int_equal(n, 3);
    /* After evictions the walk still visits exactly the domains held. */
    rt_domains_get(&t, S("d.example"), 5);
    rt_domains_get(&t, S("e.example"), 6);
    n = 0;
    for (rt_domain *d = rt_domains_next(&t, NULL); d; d = rt_domains_next(&t, d))
        n++;
    assert_int_equal(n, 4);
    assert_int_equal(t.count, 4);
    assert_null(rt_domains_find(&t, S("b.example")));
    rt_domains_free(&t);
    assert_null(rt_domains_next(&t, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_find_normalise),
        cmocka_unit_test(test_bounded_lru),
        cmocka_unit_test(test_evicts_idle_not_open),
        cmocka_unit_test(test_pacing),
        cmocka_unit_test(test_walk_most_recent_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
