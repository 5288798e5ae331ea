#include "core/errors/proxystatus.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

typedef struct cursor {
    const char *p, *end;
} cursor;

static void skip_ows(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

/* An sf-string (quotes stripped, escapes left in place) or a bare item up to
 * the next delimiter (token, integer, decimal, byte sequence, boolean). */
static rt_slice bare_item(cursor *c)
{
    if (c->p < c->end && *c->p == '"') {
        const char *s = ++c->p;
        while (c->p < c->end && *c->p != '"') {
            if (*c->p == '\\' && c->p + 1 < c->end)
                c->p++;
            c->p++;
        }
        rt_slice r = { s, (size_t)(c->p - s) };
        if (c->p < c->end)
            c->p++; /* closing quote */
        return r;
    }
    const char *s = c->p;
    while (c->p < c->end && *c->p != ';' && *c->p != ',' && *c->p != ' ' && *c->p != '\t')
        c->p++;
    return (rt_slice){ s, (size_t)(c->p - s) };
}

static int to_int(rt_slice v)
{
    int n = 0;
    if (v.n == 0 || v.n > 3)
        return 0;
    for (size_t i = 0; i < v.n; i++) {
        if (!isdigit((unsigned char)v.p[i]))
            return 0;
        n = n * 10 + (v.p[i] - '0');
    }
    return n;
}

/* Parses one field value; stops at the first member with error= (stored in
 * out, returns 1). Otherwise stores the first member seen when *have is
 * false and returns 0. */
static int scan_value(rt_slice v, rt_proxy_status *out, bool *have)
{
    cursor c = { v.p, v.p + v.n };
    while (c.p < c.end) {
        skip_ows(&c);
        if (c.p >= c.end)
            break;
        rt_proxy_status m = { 0 };
        m.name = bare_item(&c);
        for (;;) {
            skip_ows(&c);
            if (c.p >= c.end || *c.p != ';')
                break;
            c.p++;
            skip_ows(&c);
            const char *k = c.p;
            while (c.p < c.end && (islower((unsigned char)*c.p) || isdigit((unsigned char)*c.p) ||
                                   *c.p == '_' || *c.p == '-' || *c.p == '.' || *c.p == '*' ||
                                   isupper((unsigned char)*c.p)))
                c.p++;
            rt_slice key = { k, (size_t)(c.p - k) };
            rt_slice val = RT_SLICE_NULL;
            if (c.p < c.end && *c.p == '=') {
                c.p++;
                val = bare_item(&c);
            }
            if (rt_slice_eq_ci(key, "error"))
                m.error = val;
            else if (rt_slice_eq_ci(key, "details"))
                m.details = val;
            else if (rt_slice_eq_ci(key, "received-status"))
                m.received_status = to_int(val);
            if (key.n == 0 && c.p < c.end && *c.p != ';' && *c.p != ',')
                c.p++; /* garbage: step over it rather than loop */
        }
        bool usable = m.name.n > 0 || m.error.n > 0;
        if (usable && m.error.n > 0) {
            *out = m;
            *have = true;
            return 1;
        }
        if (usable && !*have) {
            *out = m;
            *have = true;
        }
        /* Skip to the next member. */
        while (c.p < c.end && *c.p != ',')
            c.p++;
        if (c.p < c.end)
            c.p++;
    }
    return 0;
}

int rt_proxy_status_find(const rt_http_hdr *hdrs, size_t nhdrs, rt_proxy_status *out)
{
    bool have = false;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < nhdrs; i++) {
        if (!rt_slice_eq_ci(hdrs[i].name, "proxy-status") || !hdrs[i].value.p)
            continue;
        if (scan_value(hdrs[i].value, out, &have) == 1)
            return 0;
    }
    return have ? 0 : -1;
}

static const struct {
    const char *type;
    rt_code code;
} ps_map[] = {
    { "dns_timeout", RT_E_target_dns_failed },
    { "dns_error", RT_E_target_dns_failed },
    { "destination_not_found", RT_E_target_unreachable },
    { "destination_unavailable", RT_E_target_unreachable },
    { "destination_ip_prohibited", RT_E_proxy_target_restricted },
    { "destination_ip_unroutable", RT_E_target_unreachable },
    { "connection_refused", RT_E_target_refused },
    { "connection_terminated", RT_E_target_reset },
    { "connection_timeout", RT_E_target_connect_timeout },
    { "connection_read_timeout", RT_E_target_timeout },
    { "connection_write_timeout", RT_E_target_timeout },
    { "connection_limit_reached", RT_E_proxy_rate_limited },
    { "tls_protocol_error", RT_E_target_tls_failed },
    { "tls_certificate_error", RT_E_target_certificate_invalid },
    { "tls_alert_received", RT_E_target_tls_failed },
    { "http_request_error", RT_E_proxy_error },
    { "http_request_denied", RT_E_proxy_target_restricted },
    { "http_response_incomplete", RT_E_target_response_incomplete },
    { "http_response_header_section_size", RT_E_target_bad_response },
    { "http_response_header_size", RT_E_target_bad_response },
    { "http_response_body_size", RT_E_target_bad_response },
    { "http_response_trailer_section_size", RT_E_target_bad_response },
    { "http_response_trailer_size", RT_E_target_bad_response },
    { "http_response_transfer_coding", RT_E_target_bad_response },
    { "http_response_content_coding", RT_E_target_bad_response },
    { "http_response_timeout", RT_E_target_timeout },
    { "http_upgrade_failed", RT_E_target_bad_response },
    { "http_protocol_error", RT_E_target_bad_response },
    { "proxy_internal_response", RT_E_proxy_error },
    { "proxy_internal_error", RT_E_proxy_error },
    { "proxy_configuration_error", RT_E_proxy_error },
    { "proxy_loop_detected", RT_E_proxy_error },
};

rt_code rt_proxy_status_code(rt_slice t)
{
    for (size_t i = 0; i < sizeof ps_map / sizeof ps_map[0]; i++)
        if (rt_slice_eq_ci(t, ps_map[i].type))
            return ps_map[i].code;
    return RT_E_proxy_error;
}
