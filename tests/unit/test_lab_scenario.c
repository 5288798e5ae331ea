/* Unit tests for the lab scenario model: the file format, the presets and
 * the pure fault decisions (per-exit rate limits and bans, fault draws).
 *
 * Unit tests link rotor_core only; the scenario module is pure C over the
 * core, so its source is compiled into this test directly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lab/scenario.c"

static lab_scenario sc; /* large: keep it off the stack */

static int parse(const char *text, size_t n, char *err, size_t errlen)
{
    return lab_scenario_parse(&sc, "t", text, strlen(text), n, err, errlen);
}

static void test_defaults_and_base_hosts(void **state)
{
    (void)state;
    char err[256] = "";
    assert_int_equal(parse("", 0, err, sizeof err), 0);
    assert_int_equal(sc.nproxies, LAB_DEFAULT_PROXIES);
    assert_string_equal(sc.proxy[0].label, "lab-p1");
    assert_string_equal(sc.proxy[0].exit, "10.77.0.1");
    assert_string_equal(sc.proxy[9].exit, "10.77.0.10");
    assert_int_equal(sc.proxy[0].style, LAB_STYLE_SQUID);
    const lab_host_conf *h = lab_scenario_host(&sc, "RateLimit.lab", 13);
    assert_non_null(h);
    assert_int_equal(h->rate, 10);
    assert_int_equal(h->window_ms, 1000);
    h = lab_scenario_host(&sc, "down.lab", 8);
    assert_non_null(h);
    assert_true(h->down);
    assert_null(lab_scenario_host(&sc, "down.la", 7));
    assert_null(lab_scenario_host(&sc, "example.com", 11));
}

static void test_exit_labels_past_254(void **state)
{
    (void)state;
    char err[256] = "";
    assert_int_equal(parse("", 256, err, sizeof err), 0);
    assert_string_equal(sc.proxy[253].exit, "10.77.0.254");
    assert_string_equal(sc.proxy[254].exit, "10.77.1.1");
    assert_int_equal(parse("", 257, err, sizeof err), -1);
}

static void test_proxy_lines(void **state)
{
    (void)state;
    char err[256] = "";
    const char *text =
        "proxies 4   # four of them\n"
        "proxy * style=brd\n"
        "proxy 2 refused\n"
        "proxy 3-4 err502=0.25 reset=.5 slow slow_ms=2s\n"
        "proxy 4 bad_auth label=dc-4 exit=203.0.113.9\n"
        "proxy 9 blackhole\n"; /* past the count: ignored */
    assert_int_equal(parse(text, 0, err, sizeof err), 0);
    assert_int_equal(sc.nproxies, 4);
    assert_int_equal(sc.proxy[0].style, LAB_STYLE_BRD);
    assert_false(sc.proxy[0].refused);
    assert_true(sc.proxy[1].refused);
    assert_true(sc.proxy[2].p[LAB_PF_ERR502] == 0.25);
    assert_true(sc.proxy[3].p[LAB_PF_RESET] == 0.5);
    assert_true(sc.proxy[3].p[LAB_PF_SLOW] == 1.0);
    assert_int_equal(sc.proxy[3].slow_ms, 2000);
    assert_true(sc.proxy[3].bad_auth);
    assert_false(sc.proxy[2].bad_auth);
    assert_string_equal(sc.proxy[3].label, "dc-4");
    assert_string_equal(sc.proxy[3].exit, "203.0.113.9");
    char d[128];
    lab_proxy_describe(&sc.proxy[3], d, sizeof d);
    assert_string_equal(d, "bad_auth err502=0.25 reset=0.50 slow slow_ms=2000 style=brd");
    lab_proxy_describe(&sc.proxy[0], d, sizeof d);
    assert_string_equal(d, "ok style=brd");
    assert_false(sc.proxy[0].tls);
    /* The command line's count wins over the text's. */
    assert_int_equal(parse(text, 2, err, sizeof err), 0);
    assert_int_equal(sc.nproxies, 2);
    assert_true(sc.proxy[1].refused);
}

/* tls: how a proxy is reached, kept through `ok`, undone by `plain`, shown
 * after the style; a value is refused. */
static void test_proxy_tls(void **state)
{
    (void)state;
    char err[256] = "";
    assert_int_equal(parse("proxies 3\nproxy * tls\nproxy 2 ok err502\nproxy 3 plain\n", 0, err, sizeof err), 0);
    assert_true(sc.proxy[0].tls);
    assert_true(sc.proxy[1].tls);
    assert_false(sc.proxy[2].tls);
    assert_true(sc.proxy[1].p[LAB_PF_ERR502] == 1.0);
    char d[128];
    lab_proxy_describe(&sc.proxy[0], d, sizeof d);
    assert_string_equal(d, "ok style=squid tls");
    lab_proxy_describe(&sc.proxy[1], d, sizeof d);
    assert_string_equal(d, "err502 style=squid tls");
    lab_proxy_describe(&sc.proxy[2], d, sizeof d);
    assert_string_equal(d, "ok style=squid");
    assert_int_equal(parse("proxy 1 tls=1\n", 0, err, sizeof err), -1);
    assert_string_equal(err, "t:1: unknown proxy option 'tls=1'");
}

static void test_target_lines(void **state)
{
    (void)state;
    char err[256] = "";
    const char *text =
        "target shop.lab rate=3/500ms ban_after=7 ban_ms=10s page=datadome\n"
        "target * err503=0.5\n"
        "target ok.lab ok\n"
        "target Flaky.LAB delay_ms=250\n";
    assert_int_equal(parse(text, 0, err, sizeof err), 0);
    const lab_host_conf *h = lab_scenario_host(&sc, "shop.lab", 8);
    assert_non_null(h);
    assert_int_equal(h->rate, 3);
    assert_int_equal(h->window_ms, 500);
    assert_int_equal(h->ban_after, 7);
    assert_int_equal(h->ban_ms, 10000);
    assert_int_equal(h->page, LAB_PAGE_DATADOME);
    assert_true(h->p503 == 0.5);
    h = lab_scenario_host(&sc, "ok.lab", 6);
    assert_true(h->p503 == 0.0);
    h = lab_scenario_host(&sc, "flaky.lab", 9);
    assert_int_equal(h->delay_ms, 250);
    assert_true(h->p503 == 0.5);
    char d[128];
    lab_host_describe(lab_scenario_host(&sc, "shop.lab", 8), d, sizeof d);
    assert_string_equal(d, "rate=3/500ms ban_after=7 page=datadome ban_ms=10000 err503=0.50");
}

static void test_errors_name_the_line(void **state)
{
    (void)state;
    static const struct { const char *text, *want; } cases[] = {
        { "proxy 1 ok\nproxy 0 refused\n", "t:2: bad proxy number '0'" },
        { "proxy 3-2 refused\n", "t:1: bad proxy range" },
        { "proxy 1 err502=1.5\n", "t:1: 'err502' wants a probability" },
        { "proxy 1 err502=\n", "t:1: option 'err502=' has no value" },
        { "proxy 1 style=haproxy\n", "t:1: style must be" },
        { "proxy 1 frobnicate\n", "t:1: unknown proxy option 'frobnicate'" },
        { "proxy 200 frobnicate\n", "t:1: unknown proxy option" }, /* unselected, still checked */
        { "proxy 1 label=a/b\n", "t:1: label must be" },
        { "target example.com down\n", "t:1: target host 'example.com' must be" },
        { "target a..lab down\n", "t:1: target host" },
        { "target ok.lab rate=10\n", "t:1: rate wants" },
        { "target ok.lab rate=10/0\n", "t:1: rate wants" },
        { "target ok.lab rate=x/1s\n", "t:1: rate wants" },
        { "target ok.lab delay_ms=-5\n", "t:1: delay_ms wants" },
        { "target ok.lab delay_ms=9999999\n", "t:1: delay_ms wants" },
        { "target ok.lab page=akamai\n", "t:1: page must be" },
        { "\n\nfrobnicate\n", "t:3: unknown directive 'frobnicate'" },
        { "proxies 0\n", "t:1: 'proxies' wants a count" },
        { "proxies 300\n", "t:1: 'proxies' wants a count" },
        { "proxy\n", "t:1: 'proxy' wants a selector" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        assert_int_equal(parse(cases[i].text, 0, err, sizeof err), -1);
        if (strncmp(err, cases[i].want, strlen(cases[i].want)) != 0)
            fail_msg("case %zu: got '%s', want prefix '%s'", i, err, cases[i].want);
    }
    /* A NUL byte inside a line is refused, not silently truncated. */
    char err[256] = "";
    static const char nul[] = "proxy 1 refused\0 junk\n";
    assert_int_equal(lab_scenario_parse(&sc, "t", nul, sizeof nul - 1, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "NUL"));
    /* Too many hosts. */
    char big[LAB_MAX_HOSTS * 32];
    size_t off = 0;
    for (int i = 0; i < LAB_MAX_HOSTS; i++)
        off += (size_t)snprintf(big + off, sizeof big - off, "target h%d.lab\n", i);
    assert_int_equal(parse(big, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "more than"));
}

static void test_presets_all_parse(void **state)
{
    (void)state;
    size_t n;
    const lab_preset *p = lab_presets(&n);
    assert_true(n >= 7);
    const char *want[] = { "healthy", "bad-credentials", "rate-limited", "ip-bans",
                           "flaky-provider", "target-down", "mixed" };
    for (size_t w = 0; w < 7; w++) {
        bool found = false;
        for (size_t i = 0; i < n; i++)
            found |= !strcmp(p[i].name, want[w]);
        assert_true(found);
    }
    for (size_t i = 0; i < n; i++) {
        char err[256] = "";
        if (lab_scenario_load(&sc, p[i].name, 0, err, sizeof err) != 0)
            fail_msg("preset %s: %s", p[i].name, err);
        assert_string_equal(sc.name, p[i].name);
    }
    char err[256];
    assert_int_equal(lab_scenario_load(&sc, "mixed", 0, err, sizeof err), 0);
    assert_int_equal(sc.nproxies, 10);
    assert_true(sc.proxy[2].refused);
    assert_true(sc.proxy[4].bad_auth);
    assert_true(sc.proxy[6].p[LAB_PF_BLACKHOLE] == 1.0);
    assert_int_equal(lab_scenario_host(&sc, "bans.lab", 8)->ban_after, 15);
    assert_int_equal(lab_scenario_load(&sc, "target-down", 0, err, sizeof err), 0);
    assert_false(lab_scenario_host(&sc, "ok.lab", 6)->down);
    assert_true(lab_scenario_host(&sc, "flaky.lab", 9)->down);
    assert_int_equal(lab_scenario_load(&sc, "/nonexistent/scenario", 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a preset"));
}

static void test_rate_limit_per_exit(void **state)
{
    (void)state;
    static lab_host_state hs;
    memset(&hs, 0, sizeof hs);
    lab_host_conf hc = { .name = "r.lab", .rate = 3, .window_ms = 1000 };
    uint32_t ra = 0;
    for (int i = 0; i < 3; i++)
        assert_int_equal(lab_host_admit(&hc, &hs, "A", 1, 100, &ra), LAB_V_OK);
    assert_int_equal(lab_host_admit(&hc, &hs, "A", 1, 100, &ra), LAB_V_RATE_LIMITED);
    assert_int_equal(ra, 1); /* 900 ms left rounds up to 1 s */
    /* Another exit has its own budget. */
    assert_int_equal(lab_host_admit(&hc, &hs, "B", 1, 150, &ra), LAB_V_OK);
    /* The window boundary: at exactly start + window the budget is fresh. */
    assert_int_equal(lab_host_admit(&hc, &hs, "A", 1, 1099, &ra), LAB_V_RATE_LIMITED);
    assert_int_equal(lab_host_admit(&hc, &hs, "A", 1, 1100, &ra), LAB_V_OK);
    hc.window_ms = 5000;
    hc.rate = 1;
    memset(&hs, 0, sizeof hs);
    assert_int_equal(lab_host_admit(&hc, &hs, "A", 1, 0, &ra), LAB_V_OK);
    assert_int_equal(lab_host_admit(&hc, &hs, "A", 1, 1, &ra), LAB_V_RATE_LIMITED);
    assert_int_equal(ra, 5);
}

static void test_ban_after_and_expiry(void **state)
{
    (void)state;
    static lab_host_state hs;
    memset(&hs, 0, sizeof hs);
    lab_host_conf hc = { .name = "b.lab", .ban_after = 2, .ban_ms = 1000 };
    assert_int_equal(lab_host_admit(&hc, &hs, "X", 1, 0, NULL), LAB_V_OK);
    assert_int_equal(lab_host_admit(&hc, &hs, "X", 1, 0, NULL), LAB_V_OK);
    assert_int_equal(lab_host_admit(&hc, &hs, "X", 1, 0, NULL), LAB_V_BANNED);
    assert_int_equal(lab_host_admit(&hc, &hs, "X", 1, 999, NULL), LAB_V_BANNED);
    assert_int_equal(lab_host_admit(&hc, &hs, "Y", 1, 999, NULL), LAB_V_OK);
    /* The ban lapses after ban_ms and the count starts over. */
    assert_int_equal(lab_host_admit(&hc, &hs, "X", 1, 1000, NULL), LAB_V_OK);
    assert_int_equal(lab_host_admit(&hc, &hs, "X", 1, 1001, NULL), LAB_V_OK);
    assert_int_equal(lab_host_admit(&hc, &hs, "X", 1, 1002, NULL), LAB_V_BANNED);
    /* ban_ms 0 is forever. */
    hc.ban_ms = 0;
    assert_int_equal(lab_host_admit(&hc, &hs, "X", 1, UINT64_C(1) << 40, NULL), LAB_V_BANNED);
    /* Exit ids are compared by length, not as prefixes. */
    assert_int_equal(lab_host_admit(&hc, &hs, "XX", 2, 0, NULL), LAB_V_OK);
    /* A host without limits never tracks anything. */
    lab_host_conf none = { .name = "ok.lab" };
    memset(&hs, 0, sizeof hs);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(lab_host_admit(&none, &hs, "X", 1, 0, NULL), LAB_V_OK);
    assert_int_equal(hs.n, 0);
}

static void test_exit_table_evicts_oldest(void **state)
{
    (void)state;
    static lab_host_state hs;
    memset(&hs, 0, sizeof hs);
    lab_host_conf hc = { .name = "b.lab", .ban_after = 1 };
    /* Ban exit "victim" first (oldest), then fill the table. */
    assert_int_equal(lab_host_admit(&hc, &hs, "victim", 6, 0, NULL), LAB_V_OK);
    assert_int_equal(lab_host_admit(&hc, &hs, "victim", 6, 0, NULL), LAB_V_BANNED);
    char id[32];
    for (int i = 0; i < LAB_MAX_EXITS; i++) {
        int n = snprintf(id, sizeof id, "e%d", i);
        assert_int_equal(lab_host_admit(&hc, &hs, id, (size_t)n, 10 + (uint64_t)i, NULL), LAB_V_OK);
    }
    assert_int_equal(hs.n, LAB_MAX_EXITS);
    /* "victim" was evicted, so it is admitted again as a fresh exit. */
    assert_int_equal(lab_host_admit(&hc, &hs, "victim", 6, 5000, NULL), LAB_V_OK);
    /* An over-long exit id is cut to the table's width, not overflowed. */
    char longid[200];
    memset(longid, 'z', sizeof longid);
    assert_int_equal(lab_host_admit(&hc, &hs, longid, sizeof longid, 6000, NULL), LAB_V_OK);
}

static void test_fault_draws(void **state)
{
    (void)state;
    lab_proxy_conf pc;
    memset(&pc, 0, sizeof pc);
    rt_rng r;
    rt_rng_seed(&r, 42);
    for (int i = 0; i < 100; i++)
        assert_int_equal(lab_proxy_draw(&pc, &r), LAB_PF_NONE);
    pc.p[LAB_PF_RESET] = 1.0;
    pc.p[LAB_PF_ERR502] = 0.3; /* earlier kind: still drawn at its rate */
    int hist[LAB_PF_COUNT] = { 0 };
    for (int i = 0; i < 10000; i++)
        hist[lab_proxy_draw(&pc, &r)]++;
    assert_int_equal(hist[LAB_PF_NONE], 0);
    assert_true(hist[LAB_PF_ERR502] > 2700 && hist[LAB_PF_ERR502] < 3300);
    assert_int_equal(hist[LAB_PF_ERR502] + hist[LAB_PF_RESET], 10000);
    /* Same seed, same sequence. */
    memset(&pc, 0, sizeof pc);
    pc.p[LAB_PF_ERR503] = 0.2;
    pc.p[LAB_PF_TRUNCATE] = 0.2;
    rt_rng a, b;
    rt_rng_seed(&a, 7);
    rt_rng_seed(&b, 7);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(lab_proxy_draw(&pc, &a), lab_proxy_draw(&pc, &b));
    assert_string_equal(lab_pfault_name(LAB_PF_TRUNCATE), "truncate");
    assert_string_equal(lab_pfault_name((lab_pfault)99), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_base_hosts),
        cmocka_unit_test(test_exit_labels_past_254),
        cmocka_unit_test(test_proxy_lines),
        cmocka_unit_test(test_proxy_tls),
        cmocka_unit_test(test_target_lines),
        cmocka_unit_test(test_errors_name_the_line),
        cmocka_unit_test(test_presets_all_parse),
        cmocka_unit_test(test_rate_limit_per_exit),
        cmocka_unit_test(test_ban_after_and_expiry),
        cmocka_unit_test(test_exit_table_evicts_oldest),
        cmocka_unit_test(test_fault_draws),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
