/* diagnose's pure half: entry masking, credential-error recovery, exit-IP
 * echo pages, auth challenges, Via nodes, the with/without credentials
 * verdict, and the step-5 patterns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "core/diag/diag.h"

static rt_slice S(const char *s) { return rt_slice_cstr(s); }

static void test_show_entry_never_has_password(void **st)
{
    (void)st;
    const char *lines[] = { "http://alice:s%40cret@p.example:8080 #dc1", "bob:hunter2@10.0.0.1:3128",
                            "gate.example:7000:cust-{session}:Pa55:w@rd", "[2001:db8::1]:3128", "direct",
                            "https://alice:s%40cret@tls.example", "https://bob:hunter2@[::1]:4443" };
    const char *want[] = { "http://alice:****@p.example:8080", "http://bob:****@10.0.0.1:3128",
                           "http://cust-{session}:****@gate.example:7000", "http://[2001:db8::1]:3128", "direct",
                           "https://alice:****@tls.example:443", "https://bob:****@[::1]:4443" };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        rt_upstream u;
        char err[128], out[RT_DIAG_SHOW_MAX];
        assert_int_equal(rt_upstream_parse(lines[i], strlen(lines[i]), &u, err, sizeof err), 0);
        rt_diag_show_entry(&u, out, sizeof out);
        assert_string_equal(out, want[i]);
        assert_null(strstr(out, "cret"));
        assert_null(strstr(out, "hunter2"));
        assert_null(strstr(out, "Pa55"));
        rt_upstream_clear(&u);
    }
    /* A short buffer cuts, never overflows. */
    rt_upstream u;
    char err[128], small[10];
    assert_int_equal(rt_upstream_parse("http://a:b@host.example:1", 25, &u, err, sizeof err), 0);
    memset(small, 'X', sizeof small);
    rt_diag_show_entry(&u, small, sizeof small);
    assert_int_equal(strlen(small), sizeof small - 1);
    rt_upstream_clear(&u);
}

static void test_mask_raw_text(void **st)
{
    (void)st;
    char out[256];
    struct { const char *in, *want; } c[] = {
        { "http://weird:p@ss:w#rd@127.0.0.1:3128", "http://weird:****@127.0.0.1:3128" },
        { "weird:p@ss@127.0.0.1:3128 #lbl", "weird:****@127.0.0.1:3128" },
        { "h.example:80:user:se:cr@t", "h.example:80:user:****" },
        { "h.example:80:user:pw #label", "h.example:80:user:****" },
        { "host.example:3128", "host.example:3128" },
        { "user@host.example:3128", "user@host.example:3128" },
        { "http://u:%zz@h:1", "http://u:****@h:1" },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        rt_diag_mask_text(c[i].in, strlen(c[i].in), out, sizeof out);
        assert_string_equal(out, c[i].want);
    }
}

static void test_credential_errors_are_recovered(void **st)
{
    (void)st;
    const char *bad[] = { "http://weird:p@ss:w#rd@127.0.0.1:3128", "http://u:p@ss@127.0.0.1:3128",
                          "http://u:pa%zz@127.0.0.1:3128" };
    for (size_t i = 0; i < 3; i++) {
        rt_upstream u;
        char err[256];
        assert_int_equal(rt_upstream_parse(bad[i], strlen(bad[i]), &u, err, sizeof err), -1);
        assert_true(rt_diag_err_is_credentials(err));
        assert_int_equal(rt_diag_recover_address(bad[i], strlen(bad[i]), &u), 0);
        assert_string_equal(u.host, "127.0.0.1");
        assert_int_equal(u.port, 3128);
        assert_null(u.user);
        assert_null(u.pass);
        rt_upstream_clear(&u);
    }
    /* An https:// entry keeps its scheme, and its default port. */
    const char *tls[] = { "https://u:p@ss@127.0.0.1:4443", "HTTPS://u:p@ss@tls.example #x" };
    const unsigned tls_port[] = { 4443, 443 };
    for (size_t i = 0; i < 2; i++) {
        rt_upstream u;
        char err[256];
        assert_int_equal(rt_upstream_parse(tls[i], strlen(tls[i]), &u, err, sizeof err), -1);
        assert_true(rt_diag_err_is_credentials(err));
        assert_int_equal(rt_diag_recover_address(tls[i], strlen(tls[i]), &u), 0);
        assert_int_equal(u.scheme, RT_UP_HTTPS);
        assert_int_equal(u.port, tls_port[i]);
        assert_null(u.pass);
        rt_upstream_clear(&u);
    }
    /* Not about credentials: a usage error, and nothing to recover. */
    assert_false(rt_diag_err_is_credentials("missing port (write host:port)"));
    assert_false(rt_diag_err_is_credentials("port out of range (1..65535)"));
    rt_upstream u;
    assert_int_equal(rt_diag_recover_address("host.example:3128", 17, &u), -1);
    assert_int_equal(rt_diag_recover_address("u:p@nohostport", 14, &u), -1);
}

static void test_exit_ip(void **st)
{
    (void)st;
    char ip[64];
    assert_int_equal(rt_diag_exit_ip(S("{\"ip\": \"10.77.0.3\"}"), ip, sizeof ip), 0);
    assert_string_equal(ip, "10.77.0.3");
    assert_int_equal(rt_diag_exit_ip(S("{\n  \"origin\": \"203.0.113.9, 198.51.100.1\"\n}\n"), ip, sizeof ip), 0);
    assert_string_equal(ip, "203.0.113.9");
    assert_int_equal(rt_diag_exit_ip(S("2001:db8::7\n"), ip, sizeof ip), 0);
    assert_string_equal(ip, "2001:db8::7");
    assert_int_equal(rt_diag_exit_ip(S("  198.51.100.20  "), ip, sizeof ip), 0);
    assert_string_equal(ip, "198.51.100.20");
    /* Not an address: hostile or unrelated bodies. */
    assert_int_equal(rt_diag_exit_ip(S("{\"ip\": \"not-an-ip\"}"), ip, sizeof ip), -1);
    assert_int_equal(rt_diag_exit_ip(S("<html>1.2.3.4</html>"), ip, sizeof ip), -1);
    assert_int_equal(rt_diag_exit_ip(S("999.1.1.1"), ip, sizeof ip), -1);
    assert_int_equal(rt_diag_exit_ip(S("{\"ip\": \"1.2.3.4"), ip, sizeof ip), -1);
    assert_int_equal(rt_diag_exit_ip(S("{\"ipx\": \"1.2.3.4\"}"), ip, sizeof ip), -1);
    assert_int_equal(rt_diag_exit_ip(S(""), ip, sizeof ip), -1);
    assert_int_equal(rt_diag_exit_ip(RT_SLICE_NULL, ip, sizeof ip), -1);
    /* A buffer too small for the address refuses rather than cuts. */
    char tiny[4];
    assert_int_equal(rt_diag_exit_ip(S("{\"ip\":\"10.0.0.1\"}"), tiny, sizeof tiny), -1);
}

static void test_challenge_and_via(void **st)
{
    (void)st;
    char scheme[32], realm[64], node[64];
    assert_int_equal(rt_diag_challenge(S("Basic realm=\"lab\""), scheme, sizeof scheme, realm, sizeof realm), 0);
    assert_string_equal(scheme, "Basic");
    assert_string_equal(realm, "lab");
    assert_int_equal(rt_diag_challenge(S("Basic charset=\"UTF-8\", realm=\"a \\\"q\\\" b\""), scheme, sizeof scheme,
                                       realm, sizeof realm), 0);
    assert_string_equal(realm, "a \"q\" b");
    assert_int_equal(rt_diag_challenge(S("Digest realm=tok, nonce=\"x\""), scheme, sizeof scheme, realm,
                                       sizeof realm), 0);
    assert_string_equal(scheme, "Digest");
    assert_string_equal(realm, "tok");
    assert_int_equal(rt_diag_challenge(S("Negotiate"), scheme, sizeof scheme, realm, sizeof realm), 0);
    assert_string_equal(realm, "");
    assert_int_equal(rt_diag_challenge(S("  "), scheme, sizeof scheme, realm, sizeof realm), -1);
    /* A realm longer than the buffer is cut, NUL-terminated. */
    char r4[4];
    assert_int_equal(rt_diag_challenge(S("Basic realm=\"abcdefgh\""), scheme, sizeof scheme, r4, sizeof r4), 0);
    assert_string_equal(r4, "abc");

    assert_int_equal(rt_diag_via_node(S("1.1 lab-p2 (squid/6.13)"), node, sizeof node), 0);
    assert_string_equal(node, "lab-p2");
    assert_int_equal(rt_diag_via_node(S("1.0 fred, 1.1 p.example (Apache/1.1, mod_x), 1.1 edge:8080"), node,
                                      sizeof node), 0);
    assert_string_equal(node, "edge:8080");
    assert_int_equal(rt_diag_via_node(S("1.1 a (x, y)"), node, sizeof node), 0);
    assert_string_equal(node, "a");
    assert_int_equal(rt_diag_via_node(S("1.1"), node, sizeof node), -1);
    assert_int_equal(rt_diag_via_node(S(""), node, sizeof node), -1);
}

static void test_auth_judge(void **st)
{
    (void)st;
    assert_int_equal(rt_diag_auth_judge(false, 407, 0, false), RT_DIAG_AUTH_MISSING);
    assert_int_equal(rt_diag_auth_judge(false, 200, 0, false), RT_DIAG_AUTH_OPEN);
    assert_int_equal(rt_diag_auth_judge(false, 502, 0, false), RT_DIAG_AUTH_OPEN);
    assert_int_equal(rt_diag_auth_judge(true, 407, 200, false), RT_DIAG_AUTH_OK);
    assert_int_equal(rt_diag_auth_judge(true, 407, 502, false), RT_DIAG_AUTH_OK);
    assert_int_equal(rt_diag_auth_judge(true, 407, 407, false), RT_DIAG_AUTH_REJECTED);
    /* tinyproxy: 407 without, 401 + WWW-Authenticate with wrong ones. */
    assert_int_equal(rt_diag_auth_judge(true, 407, 401, true), RT_DIAG_AUTH_REJECTED);
    /* A target's own 401 (the proxy never asked) is not a rejection. */
    assert_int_equal(rt_diag_auth_judge(true, 200, 401, true), RT_DIAG_AUTH_NOT_NEEDED);
    assert_int_equal(rt_diag_auth_judge(true, 407, 401, false), RT_DIAG_AUTH_OK);
    assert_int_equal(rt_diag_auth_judge(true, 200, 200, false), RT_DIAG_AUTH_NOT_NEEDED);
    assert_int_equal(rt_diag_auth_judge(true, 200, 407, false), RT_DIAG_AUTH_REJECTED_OPEN);
    assert_true(rt_diag_auth_failed(RT_DIAG_AUTH_REJECTED_OPEN));
    assert_false(rt_diag_auth_failed(RT_DIAG_AUTH_NOT_NEEDED));
    assert_string_equal(rt_diag_auth_name(RT_DIAG_AUTH_MISSING), "missing");
}

/* Samples from a compact description: one char per sample, '.' ok, 'x' a
 * failure; exits cycle through `exits` (NULL: none known). */
static size_t mk(rt_diag_sample *s, const char *pat, const char *const *exits, size_t nexits, bool via_only)
{
    size_t n = strlen(pat);
    for (size_t i = 0; i < n; i++) {
        memset(&s[i], 0, sizeof s[i]);
        s[i].code = pat[i] == '.' ? RT_E_ok : RT_E_target_blocked;
        s[i].status = pat[i] == '.' ? 200 : 403;
        s[i].ms = (uint32_t)(10 + i);
        if (exits) {
            const char *e = exits[i % nexits];
            snprintf(s[i].node, sizeof s[i].node, "node-%s", e);
            /* Failures carry no echo page: only their Via names them. */
            if (pat[i] == '.' && !via_only)
                snprintf(s[i].ip, sizeof s[i].ip, "%s", e);
        }
    }
    return n;
}

static void test_patterns(void **st)
{
    (void)st;
    rt_diag_sample s[64];
    rt_diag_pattern p;
    const char *three[] = { "10.0.0.1", "10.0.0.2", "10.0.0.3" };

    rt_diag_pattern_of(s, mk(s, "..........", three, 3, false), &p);
    assert_int_equal(p.kind, RT_DIAG_PAT_NONE);
    assert_int_equal(p.failed, 0);
    assert_int_equal(p.top_code, RT_E_ok);
    assert_int_equal(p.ms_min, 10);
    assert_int_equal(p.ms_max, 19);
    assert_int_equal(p.ms_median, 15);

    rt_diag_pattern_of(s, mk(s, "xxxx", NULL, 0, false), &p);
    assert_int_equal(p.kind, RT_DIAG_PAT_PERSISTENT);
    assert_int_equal(p.top_code, RT_E_target_blocked);

    /* Exit 2 of three fails every time (round robin): failures follow it,
     * and its Via node maps to nothing else, so it is named by its node. */
    rt_diag_pattern_of(s, mk(s, ".x..x..x..x.", three, 3, false), &p);
    assert_int_equal(p.kind, RT_DIAG_PAT_EXITS);
    assert_int_equal(p.failed, 4);
    assert_int_equal(p.nexits, 3);
    size_t bad = 0;
    for (size_t k = 0; k < p.nexits; k++)
        if (p.exits[k].bad) {
            bad++;
            assert_string_equal(p.exits[k].exit, "via node-10.0.0.2");
            assert_int_equal(p.exits[k].failed, 4);
        }
    assert_int_equal(bad, 1);

    /* The same node succeeded earlier and showed its IP: the failures are
     * put on that IP. */
    mk(s, ".x..x..x..x.", three, 3, false);
    snprintf(s[1].ip, sizeof s[1].ip, "%s", ""); /* failure: no echo */
    s[1].code = RT_E_ok;                          /* ... but make sample 2 a success first */
    snprintf(s[1].ip, sizeof s[1].ip, "10.0.0.2");
    rt_diag_pattern_of(s, 12, &p);
    assert_int_equal(p.kind, RT_DIAG_PAT_EXITS);
    bool found = false;
    for (size_t k = 0; k < p.nexits; k++)
        if (!strcmp(p.exits[k].exit, "10.0.0.2")) {
            found = true;
            assert_int_equal(p.exits[k].n, 4);
            assert_int_equal(p.exits[k].failed, 3);
            assert_true(p.exits[k].bad);
        }
    assert_true(found);

    /* A tail of failures after successes: growing. */
    rt_diag_pattern_of(s, mk(s, ".....xxxxx", NULL, 0, false), &p);
    assert_int_equal(p.kind, RT_DIAG_PAT_GROWING);
    assert_int_equal(p.first_fail, 5);
    /* Rising by thirds with a late success. */
    rt_diag_pattern_of(s, mk(s, "......x.xxx.xxxxxx", NULL, 0, false), &p);
    assert_int_equal(p.kind, RT_DIAG_PAT_GROWING);
    /* A steady 30% on one exit that happens to rise a little: not growing
     * (last third 4/7 is below 0.75). */
    rt_diag_pattern_of(s, mk(s, "........x..x.x.xx..x", NULL, 0, false), &p);
    assert_int_equal(p.kind, RT_DIAG_PAT_INTERMITTENT);
    /* Spread failures over several exits: random. */
    const char *four[] = { "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4" };
    rt_diag_pattern_of(s, mk(s, "x...x..x...x.x.x", four, 4, false), &p);
    assert_int_equal(p.kind, RT_DIAG_PAT_RANDOM);
    /* Spread failures with no exit known: intermittent. */
    rt_diag_pattern_of(s, mk(s, "x..x..x..x..", NULL, 0, false), &p);
    assert_int_equal(p.kind, RT_DIAG_PAT_INTERMITTENT);
    assert_int_equal(p.unattributed, 12);
    /* A single failure at the very end is not a trend of two. */
    rt_diag_pattern_of(s, mk(s, ".........x", NULL, 0, false), &p);
    assert_int_equal(p.kind, RT_DIAG_PAT_INTERMITTENT);

    /* Empty run, and a run over the bound is read up to the bound. */
    rt_diag_pattern_of(s, 0, &p);
    assert_int_equal(p.kind, RT_DIAG_PAT_NONE);
    assert_int_equal(p.n, 0);
    static rt_diag_sample many[RT_DIAG_SAMPLES_MAX + 5];
    for (size_t i = 0; i < RT_DIAG_SAMPLES_MAX + 5; i++) {
        memset(&many[i], 0, sizeof many[i]);
        many[i].code = i >= RT_DIAG_SAMPLES_MAX ? RT_E_target_blocked : RT_E_ok;
    }
    rt_diag_pattern_of(many, RT_DIAG_SAMPLES_MAX + 5, &p);
    assert_int_equal(p.n, RT_DIAG_SAMPLES_MAX);
    assert_int_equal(p.kind, RT_DIAG_PAT_NONE);
    /* More distinct exits than tracked: the rest are unattributed. */
    for (size_t i = 0; i < 40; i++) {
        memset(&many[i], 0, sizeof many[i]);
        many[i].code = RT_E_ok;
        snprintf(many[i].ip, sizeof many[i].ip, "10.1.0.%zu", i);
    }
    rt_diag_pattern_of(many, 40, &p);
    assert_int_equal(p.nexits, RT_DIAG_EXITS_MAX);
    assert_int_equal(p.unattributed, 40 - RT_DIAG_EXITS_MAX);
    assert_string_equal(rt_diag_pattern_name(RT_DIAG_PAT_EXITS), "specific_exits");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_show_entry_never_has_password),
        cmocka_unit_test(test_mask_raw_text),
        cmocka_unit_test(test_credential_errors_are_recovered),
        cmocka_unit_test(test_exit_ip),
        cmocka_unit_test(test_challenge_and_via),
        cmocka_unit_test(test_auth_judge),
        cmocka_unit_test(test_patterns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
