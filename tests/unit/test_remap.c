/* Following pool entries across a reload: identities, the index maps, and
 * what the learned state (bans, pauses, ejections, quarantines) does when
 * entries move, stay or leave. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/policy/bans.h"
#include "core/policy/outlier.h"
#include "core/pool/remap.h"

static uint64_t ident_of(const char *line)
{
    rt_upstream u;
    char err[256];
    if (rt_upstream_parse(line, strlen(line), &u, err, sizeof err) != 0)
        fail_msg("%s: %s", line, err);
    uint64_t h = rt_upstream_identity(&u);
    rt_upstream_clear(&u);
    return h;
}

static void test_identity(void **st)
{
    (void)st;
    uint64_t a = ident_of("http://u:p@10.0.0.1:8080 #a");
    assert_true(a != 0);
    assert_true(a == ident_of("http://u:p@10.0.0.1:8080 #a"));
    /* Any part that makes it another proxy, or another account on it. */
    assert_true(a != ident_of("http://u:p@10.0.0.2:8080 #a"));
    assert_true(a != ident_of("http://u:p@10.0.0.1:8081 #a"));
    assert_true(a != ident_of("http://v:p@10.0.0.1:8080 #a"));
    assert_true(a != ident_of("http://u:q@10.0.0.1:8080 #a")); /* fixed password: a new entry */
    assert_true(a != ident_of("http://u:p@10.0.0.1:8080 #b"));
    assert_true(ident_of("http://ab:c@h:1") != ident_of("http://a:bc@h:1"));
    assert_true(ident_of("http://u:@h:1") != ident_of("http://h:1"));
}

static void test_remap_moves_keeps_and_drops(void **st)
{
    (void)st;
    const uint64_t old_ids[] = { 11, 22, 33, 44 };
    const uint64_t new_ids[] = { 44, 55, 22, 22 }; /* 11 and 33 leave, 55 arrives, 22 twice */
    uint32_t n_of_o[4], o_of_n[4];
    assert_int_equal(rt_pool_remap(old_ids, 4, new_ids, 4, n_of_o, o_of_n), 2);
    assert_int_equal(n_of_o[0], RT_REMAP_GONE);
    assert_int_equal(n_of_o[1], 2); /* the first copy takes the state */
    assert_int_equal(n_of_o[2], RT_REMAP_GONE);
    assert_int_equal(n_of_o[3], 0);
    assert_int_equal(o_of_n[0], 3);
    assert_int_equal(o_of_n[1], RT_REMAP_GONE);
    assert_int_equal(o_of_n[2], 1);
    assert_int_equal(o_of_n[3], RT_REMAP_GONE);
    assert_int_equal(rt_pool_remap(old_ids, 4, NULL, 0, n_of_o, o_of_n), 0);
    assert_int_equal(n_of_o[3], RT_REMAP_GONE);
}

static void test_remap_large_pool(void **st)
{
    (void)st;
    enum { N = 100000 };
    static uint64_t a[N], b[N];
    static uint32_t n_of_o[N], o_of_n[N];
    for (uint32_t i = 0; i < N; i++) {
        a[i] = 0x9E3779B97F4A7C15ull * (i + 1);
        b[N - 1 - i] = a[i]; /* the same entries, order reversed */
    }
    assert_int_equal(rt_pool_remap(a, N, b, N, n_of_o, o_of_n), N);
    for (uint32_t i = 0; i < N; i += 997)
        assert_int_equal(n_of_o[i], N - 1 - i);
}

static void test_bans_follow_their_exits(void **st)
{
    (void)st;
    rt_bans t;
    assert_int_equal(rt_bans_init(&t, 0), 0);
    uint64_t d = rt_domain_hash("shop.example", 12);
    rt_bans_add(&t, 0, d, 1000, 60000);
    rt_bans_add(&t, 1, d, 1000, 60000);
    rt_bans_add(&t, 2, d, 1000, 100); /* expires before the reload */
    rt_bans_add(&t, 3, d, 1000, 60000);
    /* Reload: exit 0 leaves, 1 becomes 5, 3 becomes 0. */
    const uint32_t map[] = { RT_BANS_GONE, 5, 2, 0 };
    assert_int_equal(rt_bans_remap(&t, map, 4, 2000), 2);
    assert_true(rt_bans_is_banned(&t, 5, d, 2000));
    assert_true(rt_bans_is_banned(&t, 0, d, 2000)); /* the old exit 3 */
    assert_false(rt_bans_is_banned(&t, 1, d, 2000));
    assert_false(rt_bans_is_banned(&t, 2, d, 2000));
    assert_false(rt_bans_is_banned(&t, 3, d, 2000));
    assert_int_equal(rt_bans_remaining(&t, 5, d, 2000), 59000); /* the time left is kept */
    /* The recent-exits record follows too: the gone exit no longer counts. */
    assert_int_equal(rt_bans_distinct_recent(&t, d, 2000, 600000), 3);
    rt_bans_free(&t);
}

static void test_outlier_state_carries_over(void **st)
{
    (void)st;
    rt_outlier a, b;
    assert_int_equal(rt_outlier_init(&a, 3, NULL), 0);
    assert_int_equal(rt_outlier_init(&b, 4, NULL), 0);
    for (unsigned i = 0; i < RT_OUTLIER_CONSECUTIVE; i++)
        rt_outlier_record(&a, 1, RT_E_proxy_refused, 100);
    rt_outlier_quarantine(&a, 2, 100);
    assert_false(rt_outlier_usable(&a, 1, 200));
    assert_false(rt_outlier_usable(&a, 2, 200));
    /* New pool: old 1 is now 3, old 2 is now 0, entries 1 and 2 are new. */
    const uint32_t old_of_new[] = { 2, RT_OUTLIER_NEW, RT_OUTLIER_NEW, 1 };
    rt_outlier_carry(&b, &a, old_of_new);
    assert_false(rt_outlier_usable(&b, 3, 200)); /* still ejected */
    assert_true(rt_outlier_quarantined(&b, 0, 200));
    assert_true(rt_outlier_usable(&b, 1, 200));
    assert_true(rt_outlier_usable(&b, 2, 200));
    assert_int_equal(b.ejections, a.ejections);
    rt_outlier_free(&a);
    rt_outlier_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity),
        cmocka_unit_test(test_remap_moves_keeps_and_drops),
        cmocka_unit_test(test_remap_large_pool),
        cmocka_unit_test(test_bans_follow_their_exits),
        cmocka_unit_test(test_outlier_state_carries_over),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
