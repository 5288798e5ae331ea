/* Case-specific hints: each rule fires on its case and stays quiet otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/errors/hint.h"

static rt_http_hdr hdrs[16];

static rt_http_head head_of(const char *const *fields, size_t n)
{
    rt_http_head h = { .hdrs = hdrs, .max_hdrs = 16, .nhdrs = n };
    for (size_t i = 0; i < n; i++) {
        const char *colon = strchr(fields[i], ':');
        hdrs[i].name = rt_slice_from(fields[i], (size_t)(colon - fields[i]));
        hdrs[i].value = rt_slice_cstr(colon + 2);
    }
    return h;
}

static const char *hint(rt_hint_in *in)
{
    static char out[RT_HINT_MAX];
    rt_hint(in, out, sizeof out);
    return out;
}

static void test_tool_user_agent_and_missing_headers(void **st)
{
    (void)st;
    const char *f[] = { "User-Agent: python-requests/2.31.0", "Accept: */*" };
    rt_http_head h = head_of(f, 2);
    rt_hint_in in = { .code = RT_E_target_blocked, .client = &h };
    const char *s = hint(&in);
    assert_non_null(strstr(s, "tool (python-requests)"));
    assert_non_null(strstr(s, "no Accept-Language"));
    assert_null(strstr(s, "no Accept header"));
}

static void test_browser_request_gets_no_header_advice(void **st)
{
    (void)st;
    const char *f[] = { "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0",
                        "Accept: text/html", "Accept-Language: en-US" };
    rt_http_head h = head_of(f, 3);
    rt_hint_in in = { .code = RT_E_target_challenge, .client = &h };
    assert_string_equal(hint(&in), "");
}

static void test_chrome_without_client_hints(void **st)
{
    (void)st;
    const char *f[] = { "User-Agent: Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
                        "Accept: text/html", "Accept-Language: en" };
    rt_http_head h = head_of(f, 3);
    rt_hint_in in = { .code = RT_E_target_blocked, .client = &h };
    assert_non_null(strstr(hint(&in), "sec-ch-ua"));
}

static void test_missing_user_agent(void **st)
{
    (void)st;
    rt_http_head h = head_of(NULL, 0);
    rt_hint_in in = { .code = RT_E_target_blocked_everywhere, .client = &h };
    assert_non_null(strstr(hint(&in), "no User-Agent"));
}

static void test_auth_hints_check_the_entry(void **st)
{
    (void)st;
    rt_upstream u = { .label = "dc1", .user = "alice", .pass = "" };
    rt_hint_in in = { .code = RT_E_proxy_auth_failed, .entry = &u };
    assert_non_null(strstr(hint(&in), "dc1 has an empty password"));
    u.pass = "p@ss";
    const char *s = hint(&in);
    assert_non_null(strstr(s, "contains '@'"));
    assert_non_null(strstr(s, "%40"));
    assert_null(strstr(s, "p@ss")); /* never the password itself */
    rt_upstream none = { .label = "dc2" };
    in.entry = &none;
    in.code = RT_E_proxy_auth_required;
    assert_non_null(strstr(hint(&in), "no credentials"));
}

static void test_timeouts_compare_deadlines(void **st)
{
    (void)st;
    rt_hint_in in = { .code = RT_E_target_timeout, .read_timeout_ms = 30000, .request_timeout_ms = 120000 };
    const char *s = hint(&in);
    assert_non_null(strstr(s, "30000 ms"));
    assert_non_null(strstr(s, "120000 ms"));
}

static void test_other_codes_get_nothing(void **st)
{
    (void)st;
    rt_upstream u = { .label = "dc1", .user = "a", .pass = "" };
    rt_hint_in in = { .code = RT_E_proxy_refused, .entry = &u };
    assert_string_equal(hint(&in), "");
    char tiny[1];
    assert_int_equal(rt_hint(&in, tiny, 1), 0);
}

/* proxy_tls_failed on an https:// entry: a certificate failure points at
 * --upstream-ca, plain HTTP on the port at http://; never the password. */
static void test_tls_hints_tell_certificate_from_plain_port(void **st)
{
    (void)st;
    rt_upstream u;
    char err[128];
    const char *line = "https://u:S3cr3tPw@tls.example:4443 #tls1";
    assert_int_equal(rt_upstream_parse(line, strlen(line), &u, err, sizeof err), 0);
    rt_hint_in in = { .code = RT_E_proxy_tls_failed, .entry = &u,
                      .evidence = RT_SLICE_LIT("TLS handshake with proxy tls.example:4443 failed: certificate verify "
                                               "failed (self-signed certificate)") };
    const char *s = hint(&in);
    assert_non_null(strstr(s, "--upstream-ca FILE"));
    assert_non_null(strstr(s, "tls1"));
    assert_null(strstr(s, "http:// instead"));
    assert_null(strstr(s, "S3cr3tPw"));

    in.evidence = RT_SLICE_LIT("TLS handshake with proxy tls.example:4443 failed: wrong version number");
    s = hint(&in);
    assert_non_null(strstr(s, "tls.example:4443 speaks plain HTTP"));
    assert_non_null(strstr(s, "write the entry as http://"));
    assert_null(strstr(s, "--upstream-ca"));

    /* No evidence: the port advice, which is the common mistake. */
    in.evidence = RT_SLICE_NULL;
    assert_non_null(strstr(hint(&in), "write the entry as http://"));

    /* An http:// entry cannot fail TLS with its proxy: nothing to say. */
    rt_upstream_clear(&u);
    line = "http://u:p@plain.example:3128";
    assert_int_equal(rt_upstream_parse(line, strlen(line), &u, err, sizeof err), 0);
    assert_string_equal(hint(&in), "");
    rt_upstream_clear(&u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tool_user_agent_and_missing_headers),
        cmocka_unit_test(test_browser_request_gets_no_header_advice),
        cmocka_unit_test(test_chrome_without_client_hints),
        cmocka_unit_test(test_missing_user_agent),
        cmocka_unit_test(test_auth_hints_check_the_entry),
        cmocka_unit_test(test_timeouts_compare_deadlines),
        cmocka_unit_test(test_tls_hints_tell_certificate_from_plain_port),
        cmocka_unit_test(test_other_codes_get_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
