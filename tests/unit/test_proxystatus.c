/* RFC 9209 Proxy-Status reading: member choice, parameters, quoting, and
 * values that are not well-formed Structured Fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/errors/proxystatus.h"

static rt_proxy_status ps1(const char *v, int *rc)
{
    rt_http_hdr h = { RT_SLICE_LIT("Proxy-Status"), rt_slice_cstr(v) };
    rt_proxy_status ps;
    *rc = rt_proxy_status_find(&h, 1, &ps);
    return ps;
}

#define assert_slice(s, lit) \
    do { assert_int_equal((s).n, strlen(lit)); assert_memory_equal((s).p, lit, (s).n); } while (0)

static void test_members_and_params(void **st)
{
    (void)st;
    int rc;
    rt_proxy_status p = ps1("ExampleCDN; error=connection_refused; details=\"port 443, \\\"closed\\\"\"", &rc);
    assert_int_equal(rc, 0);
    assert_slice(p.name, "ExampleCDN");
    assert_slice(p.error, "connection_refused");
    assert_slice(p.details, "port 443, \\\"closed\\\"");
    /* The first member is nearest the origin: it names the failing hop. */
    p = ps1("origin-lb; error=dns_error, \"edge proxy\"; received-status=502", &rc);
    assert_slice(p.name, "origin-lb");
    assert_slice(p.error, "dns_error");
    /* Without error=, the first member and its received-status. */
    p = ps1("\"ISP proxy\"; received-status=503;fwd=miss, cdn", &rc);
    assert_int_equal(rc, 0);
    assert_slice(p.name, "ISP proxy");
    assert_int_equal(p.error.n, 0);
    assert_int_equal(p.received_status, 503);
    /* Members spread over several field lines form one list. */
    rt_http_hdr h[] = { { RT_SLICE_LIT("proxy-status"), RT_SLICE_LIT("a; received-status=200") },
                        { RT_SLICE_LIT("Server"), RT_SLICE_LIT("x") },
                        { RT_SLICE_LIT("PROXY-STATUS"), RT_SLICE_LIT("b; error=tls_alert_received") } };
    rt_proxy_status q;
    assert_int_equal(rt_proxy_status_find(h, 3, &q), 0);
    assert_slice(q.name, "b");
    assert_slice(q.error, "tls_alert_received");
}

static void test_malformed(void **st)
{
    (void)st;
    int rc;
    ps1("", &rc);
    assert_int_equal(rc, -1);
    ps1(" , ,, ", &rc);
    assert_int_equal(rc, -1);
    rt_proxy_status p = ps1("x; ;;=;error", &rc); /* error without value */
    assert_int_equal(rc, 0);
    assert_int_equal(p.error.n, 0);
    p = ps1("\"unterminated; error=dns_error", &rc); /* the string swallows the rest */
    assert_int_equal(p.error.n, 0);
    p = ps1("x; received-status=99999", &rc);
    assert_int_equal(p.received_status, 0);
    rt_proxy_status none;
    assert_int_equal(rt_proxy_status_find(NULL, 0, &none), -1);
}

static void test_error_types(void **st)
{
    (void)st;
    assert_int_equal(rt_proxy_status_code(RT_SLICE_LIT("dns_error")), RT_E_target_dns_failed);
    assert_int_equal(rt_proxy_status_code(RT_SLICE_LIT("DNS_TIMEOUT")), RT_E_target_dns_failed);
    assert_int_equal(rt_proxy_status_code(RT_SLICE_LIT("connection_refused")), RT_E_target_refused);
    assert_int_equal(rt_proxy_status_code(RT_SLICE_LIT("connection_timeout")), RT_E_target_connect_timeout);
    assert_int_equal(rt_proxy_status_code(RT_SLICE_LIT("connection_terminated")), RT_E_target_reset);
    assert_int_equal(rt_proxy_status_code(RT_SLICE_LIT("tls_protocol_error")), RT_E_target_tls_failed);
    assert_int_equal(rt_proxy_status_code(RT_SLICE_LIT("http_request_denied")), RT_E_proxy_target_restricted);
    assert_int_equal(rt_proxy_status_code(RT_SLICE_LIT("destination_ip_prohibited")), RT_E_proxy_target_restricted);
    assert_int_equal(rt_proxy_status_code(RT_SLICE_LIT("made_up_type")), RT_E_proxy_error);
    assert_int_equal(rt_proxy_status_code(RT_SLICE_NULL), RT_E_proxy_error);
    /* Every type rotor itself sends maps back to a code of the same family. */
    for (int c = 0; c < RT_E__COUNT; c++) {
        const char *t = rt_code_get((rt_code)c)->proxy_status;
        if (t[0])
            assert_true(rt_proxy_status_code(rt_slice_cstr(t)) < RT_E__COUNT);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_members_and_params),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_error_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
