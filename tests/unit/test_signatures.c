/* Signature loader and matcher semantics: good files, every kind of bad
 * line (with its line number), all-or-nothing loading, precedence of
 * run-time entries over built-ins, and match all/any, vetoes, phases, hosts
 * and the 2xx rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/errors/classify.h"
#include "core/errors/sig.h"

static char g_err[512];

static int load(rt_sigset *s, const char *text)
{
    g_err[0] = '\0';
    return rt_sig_load_text(s, text, strlen(text), "t.sig", g_err, sizeof g_err);
}

static const char good[] =
    "# a provider of our own\n"
    "sig acme.quota\n"
    "vendor ACME proxies\n"
    "layer proxy\n"
    "code proxy_quota_exceeded\n"
    "status 402 407\n"
    "header X-Acme-Error ^quota\n"
    "source ACME support article 42\n"
    "\n"
    "sig acme.blocked\r\n"
    "  layer target\n"
    "  code target_blocked\n"
    "  status 403\n"
    "  body-re acme shield id [0-9]+\n"
    "  source captured page\n";

static void test_builtin_loads(void **st)
{
    (void)st;
    rt_sigset *s = rt_sigset_new();
    assert_int_equal(rt_sigset_add_builtin(s, g_err, sizeof g_err), 0);
    assert_true(rt_sigset_count(s) >= 100);
    assert_string_equal(rt_sigset_id(s, 0), "squid.generated");
    assert_null(rt_sigset_id(s, rt_sigset_count(s)));
    /* Loading them twice collides on ids and leaves the set as it was. */
    size_t n = rt_sigset_count(s);
    assert_int_equal(rt_sigset_add_builtin(s, g_err, sizeof g_err), -1);
    assert_non_null(strstr(g_err, "duplicate sig id 'squid.generated'"));
    assert_int_equal(rt_sigset_count(s), n);
    rt_sigset_free(s);
}

static void test_good_text_goes_first(void **st)
{
    (void)st;
    rt_sigset *s = rt_sigset_new();
    assert_int_equal(rt_sigset_add_builtin(s, g_err, sizeof g_err), 0);
    size_t n = rt_sigset_count(s);
    assert_int_equal(load(s, good), 0);
    assert_int_equal(rt_sigset_count(s), n + 2);
    assert_string_equal(rt_sigset_id(s, 0), "acme.quota");
    assert_string_equal(rt_sigset_id(s, 1), "acme.blocked");
    assert_string_equal(rt_sigset_id(s, 2), "squid.generated");

    rt_http_hdr h[] = { { RT_SLICE_LIT("x-acme-error"), RT_SLICE_LIT("Quota exhausted") } };
    rt_classify_in in = { .phase = RT_PH_RESPONSE, .via_proxy = true, .sent_credentials = true,
                          .status = 407, .hdrs = h, .nhdrs = 1 };
    rt_classify_out o;
    rt_classify(&in, s, &o);
    assert_int_equal(o.code, RT_E_proxy_quota_exceeded);
    assert_string_equal(o.sig_id, "acme.quota");
    assert_string_equal(o.evidence, "acme.quota: header x-acme-error: Quota exhausted");

    /* The user's target entry wins over the built-in generic 403 rule. */
    const char body[] = "<p>Blocked by ACME Shield id 4711</p>";
    rt_classify_in t = { .phase = RT_PH_RESPONSE, .via_proxy = true, .status = 403,
                         .body = RT_SLICE_LIT(body) };
    rt_classify(&t, s, &o);
    assert_int_equal(o.code, RT_E_target_blocked);
    assert_string_equal(o.sig_id, "acme.blocked");
    rt_sigset_free(s);
}

static void expect_bad(const char *text, const char *want)
{
    rt_sigset *s = rt_sigset_new();
    assert_int_equal(load(s, good), 0);
    size_t n = rt_sigset_count(s);
    assert_int_equal(load(s, text), -1);
    if (!strstr(g_err, want))
        fail_msg("error \"%s\" lacks \"%s\"", g_err, want);
    /* All or nothing: the set is unchanged and still works. */
    assert_int_equal(rt_sigset_count(s), n);
    assert_string_equal(rt_sigset_id(s, 0), "acme.quota");
    rt_sigset_free(s);
}

#define HEAD "sig x.y\nlayer proxy\ncode proxy_error\nsource here\n"

static void test_bad_lines_name_their_line(void **st)
{
    (void)st;
    expect_bad(HEAD "colour blue\n", "t.sig:5: unknown key 'colour'");
    expect_bad(HEAD "status 200\nheader X-A (unclosed\n", "t.sig:6: bad header regex");
    /* Patterns whose automaton would explode are refused before regcomp. */
    expect_bad(HEAD "body-re blockx**y\n", "t.sig:5: body regex 'blockx**y' is too complex");
    expect_bad(HEAD "body-re blocka*b*c*d*e*f*g*h*i*j*k*l*m*n*o*p*q*\n", "too many quantifiers");
    expect_bad(HEAD "header X-A v+*\n", "a quantifier follows another");
    expect_bad("vendor nobody\n", "t.sig:1: 'vendor' outside a sig stanza");
    expect_bad("sig Bad_Id\n", "t.sig:1: bad sig id");
    expect_bad(HEAD "status 600-500\n", "t.sig:5: bad status '600-500'");
    expect_bad(HEAD "status 42\n", "t.sig:5: bad status '42'");
    expect_bad("sig x.y\nlayer proxy\ncode proxy_oops\n", "t.sig:3: unknown code 'proxy_oops'");
    expect_bad("sig x.y\nlayer sideways\n", "t.sig:2: bad layer 'sideways'");
    expect_bad(HEAD "phase later\n", "t.sig:5: bad phase");
    expect_bad(HEAD "match some\n", "t.sig:5: bad match");
    expect_bad(HEAD "layer target\n", "t.sig:5: duplicate 'layer'");
    expect_bad(HEAD "body ab\n", "t.sig:5: body text shorter than 3");
    expect_bad(HEAD "body-re (abc|def)\n", "t.sig:5: body-re needs a literal run");
    expect_bad(HEAD "body-re abc|defgh\n", "t.sig:5: body-re needs a literal run");
    expect_bad(HEAD "body-re ab?.c*d\n", "t.sig:5: body-re needs a literal run");
    expect_bad(HEAD "header-not X-A\n", "t.sig:5: header-not needs a regex");
    expect_bad(HEAD "header Bad:Name x\n", "t.sig:5: bad header name");
    expect_bad(HEAD "reason\n", "t.sig:5: 'reason' needs a value");
    /* Stanza-level checks point at the stanza's `sig` line. */
    expect_bad("\n\nsig a.b\nlayer proxy\ncode proxy_error\nstatus 500\n", "t.sig:3: sig a.b: missing 'source'");
    expect_bad("sig a.b\nlayer proxy\nsource s\nstatus 500\n", "t.sig:1: sig a.b: missing 'code'");
    expect_bad("sig a.b\ncode proxy_error\nsource s\nstatus 500\n", "t.sig:1: sig a.b: missing 'layer'");
    expect_bad("sig a.b\nlayer proxy\ncode proxy_error\nsource s\n", "no condition");
    expect_bad("sig a.b\nlayer target\ncode -\nsource s\nstatus 500\n", "identity entries");
    expect_bad("sig a.b\nlayer proxy\ncode proxy_error\ncode-proxy proxy_error\nsource s\nstatus 500\n",
               "'code-proxy' only applies to layer either");
    expect_bad("sig a.b\nlayer proxy\ncode proxy_error\nsource s\nstatus 500\nmatch any\n",
               "'match any' needs");
    expect_bad(HEAD "status 500\nsig x.y\n", "t.sig:6: duplicate sig id 'x.y'");
    expect_bad("sig acme.quota\n", "t.sig:1: duplicate sig id 'acme.quota'");
    expect_bad("# only comments\n\n", "no signatures found");
    expect_bad(HEAD "status 500\nnote \x01 bell\n", "t.sig:6: control character");
    char longline[RT_SIG_LINE_MAX + 128];
    snprintf(longline, sizeof longline, HEAD "status 500\nnote %0*d\n", RT_SIG_LINE_MAX, 0);
    expect_bad(longline, "t.sig:6: line longer than");
    /* A good stanza before a bad one is not kept either. */
    expect_bad("sig ok.one\nlayer proxy\ncode proxy_error\nstatus 500\nsource s\n\nsig ok.two\nlayer\n",
               "t.sig:8: 'layer' needs a value");
}

static void test_nul_byte_and_bad_key(void **st)
{
    (void)st;
    rt_sigset *s = rt_sigset_new();
    const char text[] = "sig a.b\nlayer pro\0xy\n";
    assert_int_equal(rt_sig_load_text(s, text, sizeof text - 1, "n.sig", g_err, sizeof g_err), -1);
    assert_non_null(strstr(g_err, "n.sig:2: NUL byte"));
    assert_int_equal(load(s, "sig a.b\nlayer proxy\ncode proxy_error\nsource s\nstatus 500\nbogus 1\n"), -1);
    assert_string_equal(g_err, "t.sig:6: unknown key 'bogus'");
    assert_int_equal(rt_sigset_count(s), 0);
    rt_sigset_free(s);
}

/* ---- matcher semantics through rt_sig_match ---- */

static rt_sig_result match(const rt_sigset *s, int status, bool connect, rt_http_hdr *h, size_t nh,
                           const char *body, const char *host)
{
    rt_sig_ctx c = { .status = status, .connect_reply = connect, .via_proxy = true, .sniff_body = true,
                     .hdrs = h, .nhdrs = nh, .body = rt_slice_cstr(body), .host = rt_slice_cstr(host) };
    rt_sig_result r;
    rt_sig_match(s, &c, &r);
    return r;
}

static void test_match_semantics(void **st)
{
    (void)st;
    rt_sigset *s = rt_sigset_new();
    assert_int_equal(load(s,
        "sig m.all\nlayer target\ncode target_blocked\nstatus 403\nheader Server ^shield\n"
        "body access denied\nsource s\n"
        "sig m.any\nlayer target\ncode target_challenge\nstatus 429\nmatch any\nheader X-Chal\n"
        "body solve this\nsource s\n"
        "sig m.veto\nlayer proxy\ncode proxy_error\nstatus 502\nheader X-P\nheader-not X-P ^benign$\nsource s\n"
        "sig m.connect\nlayer proxy\ncode proxy_connect_refused\nphase connect\nstatus 403\nsource s\n"
        "sig m.host\nlayer target\ncode target_blocked\nstatus 999\nhost example.com\nsource s\n"
        "sig m.two\nlayer target\ncode target_blocked\nstatus 200\nbody blocked-by-m\nsource s\n"
        "sig m.anystatus\nlayer target\ncode target_challenge\nbody prove-you-are-human\nsource s\n"),
        0);
    rt_http_hdr sh[] = { { RT_SLICE_LIT("Server"), RT_SLICE_LIT("Shield/2") } };
    rt_sig_result r = match(s, 403, false, sh, 1, "<h1>ACCESS DENIED</h1>", "");
    assert_true(r.have_decisive);
    assert_string_equal(r.decisive.id, "m.all");
    assert_string_equal(r.decisive.what, "header Server: Shield/2"); /* the first element */
    assert_false(match(s, 403, false, sh, 1, "<h1>welcome</h1>", "").have_decisive); /* all: body needed */
    assert_false(match(s, 403, false, NULL, 0, "access denied", "").have_decisive);  /* all: header needed */
    r = match(s, 429, false, NULL, 0, "please SOLVE THIS puzzle", "");
    assert_string_equal(r.decisive.id, "m.any");
    assert_string_equal(r.decisive.what, "body \"solve this\"");
    rt_http_hdr px[] = { { RT_SLICE_LIT("X-P"), RT_SLICE_LIT("boom") }, { RT_SLICE_LIT("x-p"), RT_SLICE_LIT("benign") } };
    assert_false(match(s, 502, false, px, 2, "", "").have_decisive); /* vetoed by the second value */
    assert_true(match(s, 502, false, px, 1, "", "").have_decisive);
    assert_false(match(s, 403, false, NULL, 0, "", "").have_decisive);
    assert_string_equal(match(s, 403, true, NULL, 0, "", "").decisive.id, "m.connect");
    assert_true(match(s, 999, false, NULL, 0, "", "www.Example.COM").have_decisive);
    assert_true(match(s, 999, false, NULL, 0, "", "example.com").have_decisive);
    assert_false(match(s, 999, false, NULL, 0, "", "badexample.com").have_decisive);
    /* 2xx: only entries that name the status; the any-status entry stays quiet. */
    assert_string_equal(match(s, 200, false, NULL, 0, "blocked-by-m", "").decisive.id, "m.two");
    assert_false(match(s, 200, false, NULL, 0, "prove-you-are-human", "").have_decisive);
    assert_string_equal(match(s, 418, false, NULL, 0, "prove-you-are-human", "").decisive.id, "m.anystatus");
    /* Target entries never judge a CONNECT reply. */
    assert_false(match(s, 429, true, NULL, 0, "solve this", "").have_decisive);
    /* No body sniffing: body conditions cannot match. */
    rt_sig_ctx c = { .status = 429, .via_proxy = true, .sniff_body = false, .body = RT_SLICE_LIT("solve this") };
    rt_sig_match(s, &c, &r);
    assert_false(r.have_decisive);
    rt_sig_match(NULL, &c, &r);
    assert_false(r.have_decisive);
    rt_sigset_free(s);
}

static void test_regex_anchor_window(void **st)
{
    (void)st;
    rt_sigset *s = rt_sigset_new();
    assert_int_equal(load(s, "sig w.re\nlayer target\ncode target_blocked\nstatus 403\n"
                             "body-re incident (id|number) [0-9]{4,}\nsource s\n"), 0);
    assert_true(match(s, 403, false, NULL, 0, "xx Incident ID 123456 xx", "").have_decisive);
    assert_false(match(s, 403, false, NULL, 0, "incident id 12", "").have_decisive);
    /* The second occurrence of the anchor is tried too. */
    assert_true(match(s, 403, false, NULL, 0, "incident report ... incident number 98765", "").have_decisive);
    /* An anchor deep in a large body is found... */
    static char big[4096];
    memset(big, '.', sizeof big - 1);
    memcpy(big + 3000, "incident id 4242", 16);
    assert_true(match(s, 403, false, NULL, 0, big, "").have_decisive);
    rt_sigset_free(s);
    /* ...but a regex only looks RT_SIG_RE_BEFORE bytes before its anchor. */
    s = rt_sigset_new();
    assert_int_equal(load(s, "sig w.far\nlayer target\ncode target_blocked\nstatus 403\n"
                             "body-re start-marker.*end-marker-long\nsource s\n"), 0);
    memset(big, '.', sizeof big - 1);
    memcpy(big + 10, "start-marker", 12);
    memcpy(big + 10 + RT_SIG_RE_BEFORE + 100, "end-marker-long", 15);
    assert_false(match(s, 403, false, NULL, 0, big, "").have_decisive);
    memset(big, '.', sizeof big - 1);
    memcpy(big + 400, "start-marker", 12);
    memcpy(big + 600, "end-marker-long", 15);
    assert_true(match(s, 403, false, NULL, 0, big, "").have_decisive);
    rt_sigset_free(s);
}

/* Naive case-blind search, the reference the skip-table search must agree with. */
static bool naive_has(const char *hay, const char *needle)
{
    size_t n = strlen(hay), m = strlen(needle);
    for (size_t i = 0; m <= n && i <= n - m; i++) {
        size_t k = 0;
        while (k < m && (hay[i + k] | 0x20) == (needle[k] | 0x20))
            k++;
        if (k == m)
            return true;
    }
    return false;
}

static void test_anchor_search_agrees_with_naive(void **st)
{
    (void)st;
    rt_sigset *s = rt_sigset_new();
    /* Repeated letters make partial matches and overlapping windows likely. */
    assert_int_equal(load(s, "sig a.lit\nlayer target\ncode target_blocked\nstatus 403\nbody abab-b\nsource s\n"), 0);
    assert_true(match(s, 403, false, NULL, 0, "ABAB-B", "").have_decisive);       /* whole body */
    assert_true(match(s, 403, false, NULL, 0, "abab-b tail", "").have_decisive);  /* at the start */
    assert_true(match(s, 403, false, NULL, 0, "head aBaB-B", "").have_decisive);  /* at the end */
    assert_true(match(s, 403, false, NULL, 0, "ababab-b", "").have_decisive);     /* after a near miss */
    assert_false(match(s, 403, false, NULL, 0, "abab-", "").have_decisive);       /* shorter than it */
    assert_false(match(s, 403, false, NULL, 0, "abab_b", "").have_decisive);
    static const char alpha[] = "abAB-_";
    unsigned long x = 12345; /* fixed seed: the same bodies every run */
    char body[100];
    int hits = 0;
    for (int round = 0; round < 20000; round++) {
        x = x * 6364136223846793005UL + 1442695040888963407UL;
        size_t n = (size_t)(x >> 57) % sizeof body;
        for (size_t i = 0; i < n; i++) {
            x = x * 6364136223846793005UL + 1442695040888963407UL;
            body[i] = alpha[(x >> 40) % (sizeof alpha - 1)];
        }
        body[n] = '\0';
        bool want = naive_has(body, "abab-b");
        hits += want;
        assert_int_equal(match(s, 403, false, NULL, 0, body, "").have_decisive, want);
    }
    assert_true(hits > 10); /* the generator does reach the matching case */
    rt_sigset_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_loads),
        cmocka_unit_test(test_good_text_goes_first),
        cmocka_unit_test(test_bad_lines_name_their_line),
        cmocka_unit_test(test_nul_byte_and_bad_key),
        cmocka_unit_test(test_match_semantics),
        cmocka_unit_test(test_regex_anchor_window),
        cmocka_unit_test(test_anchor_search_agrees_with_naive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
