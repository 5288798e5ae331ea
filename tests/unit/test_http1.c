/* Tests for the HTTP/1.1 head parser (src/core/http/http1_parse.c).
 *
 * Every parse runs on an exact-size heap copy of the input, so a read past
 * the caller's bytes is caught by AddressSanitizer rather than hidden by a
 * string literal's NUL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/http/http1.h"

#define NHDRS 32

typedef struct req_ctx {
    rt_http_req req;
    rt_http_hdr hdrs[NHDRS];
    char *buf;
    size_t len;
} req_ctx;

typedef struct resp_ctx {
    rt_http_resp resp;
    rt_http_hdr hdrs[NHDRS];
    char *buf;
    size_t len;
} resp_ctx;

static char *dup_exact(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, s, n);
    return p;
}

static ssize_t parse_req_n(req_ctx *c, const char *s, size_t n, size_t max_hdrs,
                           const rt_http_limits *lim)
{
    free(c->buf);
    c->buf = dup_exact(s, n);
    c->len = n;
    memset(&c->req, 0xA5, sizeof c->req); /* stale garbage must not leak through */
    c->req.h.hdrs = c->hdrs;
    c->req.h.max_hdrs = max_hdrs;
    return rt_http_parse_request(c->buf, n, &c->req, lim);
}

static ssize_t parse_req(req_ctx *c, const char *s)
{
    return parse_req_n(c, s, strlen(s), NHDRS, NULL);
}

static ssize_t parse_resp_n(resp_ctx *c, const char *s, size_t n, rt_http_method m,
                            const rt_http_limits *lim)
{
    free(c->buf);
    c->buf = dup_exact(s, n);
    c->len = n;
    memset(&c->resp, 0xA5, sizeof c->resp);
    c->resp.h.hdrs = c->hdrs;
    c->resp.h.max_hdrs = NHDRS;
    return rt_http_parse_response(c->buf, n, &c->resp, m, lim);
}

static ssize_t parse_resp(resp_ctx *c, const char *s, rt_http_method m)
{
    return parse_resp_n(c, s, strlen(s), m, NULL);
}

static void assert_slice(rt_slice s, const char *want)
{
    size_t n = strlen(want);
    if (s.n != n || (n && memcmp(s.p, want, n) != 0)) {
        print_error("slice \"%.*s\" != \"%s\"\n", (int)s.n, s.p ? s.p : "", want);
        fail();
    }
}

static void assert_inside(rt_slice s, const char *buf, size_t len)
{
    if (s.n == 0)
        return;
    assert_true(s.p >= buf);
    assert_true(s.p + s.n <= buf + len);
}

/* ---- valid requests ---- */

static void test_simple_get(void **state)
{
    (void)state;
    req_ctx c = { 0 };
    const char *s = "GET /index.html?q=1 HTTP/1.1\r\n"
                    "Host: example.com\r\n"
                    "User-Agent:   curl/8.0  \r\n"
                    "X-Tab:\tv\t1\t\r\n"
                    "X-Empty:\r\n"
                    "X-Obs: caf\xc3\xa9\r\n"
                    "\r\n";
    ssize_t r = parse_req(&c, s);
    assert_int_equal(r, (ssize_t)strlen(s));
    assert_int_equal(c.req.h.err, RT_HPE_NONE);
    assert_slice(c.req.method, "GET");
    assert_int_equal(c.req.meth, RT_M_GET);
    assert_slice(c.req.target, "/index.html?q=1");
    assert_int_equal(c.req.h.minor, 1);
    assert_int_equal(c.req.h.nhdrs, 5);
    assert_slice(c.hdrs[0].name, "Host");
    assert_slice(c.hdrs[0].value, "example.com");
    assert_slice(c.hdrs[1].value, "curl/8.0");
    assert_slice(c.hdrs[2].value, "v\t1");
    assert_slice(c.hdrs[3].name, "X-Empty");
    assert_int_equal(c.hdrs[3].value.n, 0);
    assert_slice(c.hdrs[4].value, "caf\xc3\xa9");
    assert_int_equal(c.req.h.body, RT_BODY_NONE);
    assert_true(c.req.h.keep_alive);
    assert_false(c.req.h.has_upgrade);
    assert_false(c.req.expect_continue);
    for (size_t i = 0; i < c.req.h.nhdrs; i++) {
        assert_inside(c.hdrs[i].name, c.buf, c.len);
        assert_inside(c.hdrs[i].value, c.buf, c.len);
    }
    free(c.buf);
}

static void test_head_then_body(void **state)
{
    (void)state;
    req_ctx c = { 0 };
    const char *head = "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n";
    char s[256];
    snprintf(s, sizeof s, "%shello world", head);
    ssize_t r = parse_req(&c, s);
    assert_int_equal(r, (ssize_t)strlen(head)); /* body bytes are not consumed */
    assert_int_equal(c.req.meth, RT_M_POST);
    assert_int_equal(c.req.h.body, RT_BODY_LENGTH);
    assert_int_equal(c.req.h.content_length, 11);
    free(c.buf);
}

static void test_methods(void **state)
{
    (void)state;
    static const struct {
        const char *m;
        rt_http_method want;
        bool idem;
    } t[] = {
        { "GET", RT_M_GET, true },         { "HEAD", RT_M_HEAD, true },
        { "POST", RT_M_POST, false },      { "PUT", RT_M_PUT, true },
        { "DELETE", RT_M_DELETE, true },   { "OPTIONS", RT_M_OPTIONS, true },
        { "PATCH", RT_M_PATCH, false },    { "TRACE", RT_M_TRACE, true },
        { "PURGE", RT_M_OTHER, false },    { "get", RT_M_OTHER, false },
        { "GETS", RT_M_OTHER, false },
    };
    req_ctx c = { 0 };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char s[128];
        snprintf(s, sizeof s, "%s /x HTTP/1.1\r\nHost: h\r\n\r\n", t[i].m);
        assert_int_equal(parse_req(&c, s), (ssize_t)strlen(s));
        assert_int_equal(c.req.meth, t[i].want);
        assert_slice(c.req.method, t[i].m);
        assert_int_equal(rt_http_method_idempotent(c.req.meth), t[i].idem);
    }
    assert_false(rt_http_method_idempotent(RT_M_CONNECT));
    free(c.buf);
}

static void test_target_forms(void **state)
{
    (void)state;
    req_ctx c = { 0 };
    const char *s1 = "GET http://example.com:8080/a?b HTTP/1.1\r\nHost: example.com:8080\r\n\r\n";
    assert_int_equal(parse_req(&c, s1), (ssize_t)strlen(s1));
    assert_slice(c.req.target, "http://example.com:8080/a?b");
    const char *s2 = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
    assert_int_equal(parse_req(&c, s2), (ssize_t)strlen(s2));
    assert_int_equal(c.req.meth, RT_M_CONNECT);
    assert_slice(c.req.target, "example.com:443");
    assert_int_equal(c.req.h.body, RT_BODY_NONE);
    const char *s3 = "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_int_equal(parse_req(&c, s3), (ssize_t)strlen(s3));
    assert_slice(c.req.target, "*");
    const char *s4 = "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n";
    assert_int_equal(parse_req(&c, s4), (ssize_t)strlen(s4));
    free(c.buf);
}

static void test_http10_and_connection(void **state)
{
    (void)state;
    req_ctx c = { 0 };
    /* HTTP/1.0 needs no Host and is not persistent by default. */
    assert_true(parse_req(&c, "GET / HTTP/1.0\r\n\r\n") > 0);
    assert_int_equal(c.req.h.minor, 0);
    assert_false(c.req.h.keep_alive);
    assert_true(parse_req(&c, "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n") > 0);
    assert_true(c.req.h.keep_alive);
    assert_true(parse_req(&c, "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n") > 0);
    assert_false(c.req.h.keep_alive);
    assert_true(parse_req(&c, "GET / HTTP/1.1\r\nHost: a\r\nConnection: CLOSE\r\n\r\n") > 0);
    assert_false(c.req.h.keep_alive);
    assert_true(parse_req(&c, "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo\r\nConnection: , close ,\r\n\r\n") > 0);
    assert_false(c.req.h.keep_alive);
    assert_true(parse_req(&c, "GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n") > 0);
    assert_true(c.req.h.keep_alive);
    /* Upgrade needs both the Connection token and the field. */
    assert_true(parse_req(&c, "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n") > 0);
    assert_true(c.req.h.has_upgrade);
    assert_true(parse_req(&c, "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n") > 0);
    assert_false(c.req.h.has_upgrade);
    assert_true(parse_req(&c, "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n") > 0);
    assert_false(c.req.h.has_upgrade);
    free(c.buf);
}

static void test_expect(void **state)
{
    (void)state;
    req_ctx c = { 0 };
    assert_true(parse_req(&c, "PUT /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-Continue\r\n\r\n") > 0);
    assert_true(c.req.expect_continue);
    assert_true(parse_req(&c, "PUT /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 200-ok\r\n\r\n") > 0);
    assert_false(c.req.expect_continue);
    /* RFC 9110 section 10.1.1: ignored in HTTP/1.0. */
    assert_true(parse_req(&c, "PUT /f HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n") > 0);
    assert_false(c.req.expect_continue);
    free(c.buf);
}

static void test_framing_valid(void **state)
{
    (void)state;
    req_ctx c = { 0 };
    assert_true(parse_req(&c, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n") > 0);
    assert_int_equal(c.req.h.body, RT_BODY_CHUNKED);
    assert_true(parse_req(&c, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, CHUNKED\r\n\r\n") > 0);
    assert_int_equal(c.req.h.body, RT_BODY_CHUNKED);
    assert_true(parse_req(&c, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n") > 0);
    assert_int_equal(c.req.h.body, RT_BODY_CHUNKED);
    assert_true(parse_req(&c, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip;level=\"9,x\" , chunked\r\n\r\n") > 0);
    assert_int_equal(c.req.h.body, RT_BODY_CHUNKED);
    assert_true(parse_req(&c, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 42, 42\r\n\r\n") > 0);
    assert_int_equal(c.req.h.body, RT_BODY_LENGTH);
    assert_int_equal(c.req.h.content_length, 42);
    assert_true(parse_req(&c, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\ncontent-length: 007\r\n\r\n") > 0);
    assert_int_equal(c.req.h.content_length, 7);
    assert_true(parse_req(&c, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n") > 0);
    assert_int_equal(c.req.h.body, RT_BODY_LENGTH);
    assert_int_equal(c.req.h.content_length, 0);
    /* The largest accepted length is 2^62 - 1. */
    assert_true(parse_req(&c, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4611686018427387903\r\n\r\n") > 0);
    assert_int_equal(c.req.h.content_length, (UINT64_C(1) << 62) - 1);
    free(c.buf);
}

static void test_leading_crlf(void **state)
{
    (void)state;
    req_ctx c = { 0 };
    const char *s = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_int_equal(parse_req(&c, s), (ssize_t)strlen(s));
    assert_slice(c.req.method, "GET");
    assert_int_equal(parse_req(&c, "\r\n"), RT_HP_AGAIN);
    assert_int_equal(parse_req(&c, "\r\n\r\n\r\n\r\n"), RT_HP_AGAIN);
    /* Empty lines count towards the head limit. */
    rt_http_limits lim = { .max_line = 0, .max_head = 8 };
    assert_int_equal(parse_req_n(&c, "\r\n\r\n\r\n\r\n", 8, NHDRS, &lim), RT_HP_ERROR);
    assert_int_equal(c.req.h.err, RT_HPE_HEADERS_TOO_LARGE);
    assert_int_equal(parse_req(&c, "\r"), RT_HP_AGAIN);
    assert_int_equal(parse_req_n(&c, "", 0, NHDRS, NULL), RT_HP_AGAIN);
    free(c.buf);
}

/* ---- incremental: every split ---- */

static void check_every_prefix_req(const char *s, size_t n)
{
    req_ctx full = { 0 }, part = { 0 };
    ssize_t want = parse_req_n(&full, s, n, NHDRS, NULL);
    assert_true(want > 0);
    for (size_t k = 0; k < (size_t)want; k++) {
        ssize_t r = parse_req_n(&part, s, k, NHDRS, NULL);
        if (r != RT_HP_AGAIN) {
            print_error("prefix %zu of %zd returned %zd (err %d)\n", k, want, r, part.req.h.err);
            fail();
        }
    }
    for (size_t k = (size_t)want; k <= n; k++) {
        assert_int_equal(parse_req_n(&part, s, k, NHDRS, NULL), want);
        assert_int_equal(part.req.h.nhdrs, full.req.h.nhdrs);
        assert_int_equal(part.req.h.body, full.req.h.body);
        assert_int_equal(part.req.h.content_length, full.req.h.content_length);
        assert_int_equal(part.req.h.keep_alive, full.req.h.keep_alive);
        assert_int_equal(part.req.meth, full.req.meth);
        assert_int_equal(part.req.target.n, full.req.target.n);
        for (size_t i = 0; i < full.req.h.nhdrs; i++) {
            assert_int_equal(part.hdrs[i].name.p - part.buf, full.hdrs[i].name.p - full.buf);
            assert_int_equal(part.hdrs[i].value.n, full.hdrs[i].value.n);
        }
    }
    free(full.buf);
    free(part.buf);
}

static void test_split_every_byte(void **state)
{
    (void)state;
    static const char *reqs[] = {
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        ("GET http://example.com/a/b?c=d HTTP/1.1\r\nHost: example.com\r\nUser-Agent: x\r\n"
         "Accept: */*\r\nProxy-Connection: keep-alive\r\n\r\n"),
        "POST /submit HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
        "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nProxy-Authorization: Basic dTpw\r\n\r\n",
        "GET / HTTP/1.0\r\n\r\n",
        "\r\nGET / HTTP/1.1\r\nHost: a\r\nX: \t\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: a\r\nX-Long: 0123456789abcdef0123456789abcdef0123456789\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++)
        check_every_prefix_req(reqs[i], strlen(reqs[i]));
}

static void test_split_every_byte_response(void **state)
{
    (void)state;
    static const char *resps[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nServer: x\r\n\r\nhi",
        "HTTP/1.1 204 No Content\r\n\r\n",
        "HTTP/1.0 200\r\n\r\n",
        ("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"p\"\r\n"
         "Content-Length: 0\r\n\r\n"),
    };
    resp_ctx full = { 0 }, part = { 0 };
    for (size_t i = 0; i < sizeof resps / sizeof resps[0]; i++) {
        size_t n = strlen(resps[i]);
        ssize_t want = parse_resp_n(&full, resps[i], n, RT_M_GET, NULL);
        assert_true(want > 0);
        for (size_t k = 0; k < (size_t)want; k++)
            assert_int_equal(parse_resp_n(&part, resps[i], k, RT_M_GET, NULL), RT_HP_AGAIN);
        for (size_t k = (size_t)want; k <= n; k++) {
            assert_int_equal(parse_resp_n(&part, resps[i], k, RT_M_GET, NULL), want);
            assert_int_equal(part.resp.status, full.resp.status);
            assert_int_equal(part.resp.h.body, full.resp.h.body);
            assert_int_equal(part.resp.h.nhdrs, full.resp.h.nhdrs);
        }
    }
    free(full.buf);
    free(part.buf);
}

/* ---- hostile requests: every error value ---- */

typedef struct bad_case {
    const char *in;
    rt_http_err err;
    int status;
} bad_case;

static const bad_case bad_reqs[] = {
    /* request line */
    { "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", RT_HPE_REQUEST_LINE, 400 },
    { "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", RT_HPE_REQUEST_LINE, 400 },
    { "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", RT_HPE_REQUEST_LINE, 400 },
    { "GET /\r\n\r\n", RT_HPE_REQUEST_LINE, 400 },
    { "GET / http/1.1\r\nHost: a\r\n\r\n", RT_HPE_REQUEST_LINE, 400 },
    { "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", RT_HPE_REQUEST_LINE, 400 },
    { " GET / HTTP/1.1\r\nHost: a\r\n\r\n", RT_HPE_REQUEST_LINE, 400 },
    { "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", RT_HPE_REQUEST_LINE, 400 },
    { "GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", RT_HPE_REQUEST_LINE, 400 },
    { "GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", RT_HPE_REQUEST_LINE, 400 },
    { "\r\n / HTTP/1.1\r\nHost: a\r\n\r\n", RT_HPE_REQUEST_LINE, 400 },
    /* version */
    { "GET / HTTP/1.2\r\nHost: a\r\n\r\n", RT_HPE_VERSION, 400 },
    { "GET / HTTP/2.0\r\nHost: a\r\n\r\n", RT_HPE_VERSION, 400 },
    { "GET / HTTP/0.9\r\n\r\n", RT_HPE_VERSION, 400 },
    { "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", RT_HPE_VERSION, 400 },
    /* target form */
    { "GET * HTTP/1.1\r\nHost: a\r\n\r\n", RT_HPE_TARGET, 400 },
    { "OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n", RT_HPE_TARGET, 400 },
    { "CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", RT_HPE_TARGET, 400 },
    { "CONNECT http://a:443/ HTTP/1.1\r\nHost: a\r\n\r\n", RT_HPE_TARGET, 400 },
    { "GET example.com HTTP/1.1\r\nHost: a\r\n\r\n", RT_HPE_TARGET, 400 },
    { "GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", RT_HPE_TARGET, 400 },
    { "GET 1http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", RT_HPE_TARGET, 400 },
    /* field names */
    { "GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", RT_HPE_HEADER_NAME, 400 },
    { "GET / HTTP/1.1\r\nHost: a\r\nFo(o: x\r\n\r\n", RT_HPE_HEADER_NAME, 400 },
    { "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", RT_HPE_HEADER_NAME, 400 },
    { "GET / HTTP/1.1\r\nHost: a\r\nX\"y: 1\r\n\r\n", RT_HPE_HEADER_NAME, 400 },
    { "GET / HTTP/1.1\r\nHost: a\r\nX\x01: 1\r\n\r\n", RT_HPE_HEADER_NAME, 400 },
    { "GET / HTTP/1.1\r\nHost : x\r\n\r\n", RT_HPE_HEADER_SPACE, 400 },
    { "GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", RT_HPE_HEADER_SPACE, 400 },
    /* field values */
    { "GET / HTTP/1.1\r\nHost: a\r\nX: a\x1b[0m\r\n\r\n", RT_HPE_HEADER_VALUE, 400 },
    { "GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789\x7f" "0123456789\r\n\r\n", RT_HPE_HEADER_VALUE, 400 },
    { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;x=1\r\n\r\n", RT_HPE_HEADER_VALUE, 400 },
    { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip chunked\r\n\r\n", RT_HPE_HEADER_VALUE, 400 },
    { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip;q=\"1\r\n\r\n", RT_HPE_HEADER_VALUE, 400 },
    { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", RT_HPE_HEADER_VALUE, 400 },
    /* line structure */
    { "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", RT_HPE_OBS_FOLD, 400 },
    { "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", RT_HPE_OBS_FOLD, 400 },
    { "GET / HTTP/1.1\r\n Host: a\r\n\r\n", RT_HPE_OBS_FOLD, 400 },
    { "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", RT_HPE_BARE_CR, 400 },
    { "GET / HTTP/1.1\rHost: a\r\n\r\n", RT_HPE_BARE_CR, 400 },
    { "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", RT_HPE_BARE_CR, 400 },
    { "GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", RT_HPE_BARE_CR, 400 },
    { "GET / HTTP/1.1\r\nHost\r: a\r\n\r\n", RT_HPE_BARE_CR, 400 },
    { "GET / HTTP/1.1\nHost: a\n\n", RT_HPE_BARE_LF, 400 },
    { "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", RT_HPE_BARE_LF, 400 },
    { "GET / HTTP/1.1\r\nHost: a\r\n\n", RT_HPE_BARE_LF, 400 },
    { "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", RT_HPE_BARE_LF, 400 },
    /* framing */
    { "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", RT_HPE_CL_TE, 400 },
    { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", RT_HPE_CL_TE, 400 },
    { "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", RT_HPE_CL_INVALID, 400 },
    { "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", RT_HPE_CL_INVALID, 400 },
    { "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", RT_HPE_CL_INVALID, 400 },
    { "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5a\r\n\r\n", RT_HPE_CL_INVALID, 400 },
    { "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", RT_HPE_CL_INVALID, 400 },
    { "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n", RT_HPE_CL_INVALID, 400 },
    { "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\n", RT_HPE_CL_INVALID, 400 },
    { "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4611686018427387904\r\n\r\n", RT_HPE_CL_INVALID, 400 },
    { "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", RT_HPE_CL_INVALID, 400 },
    { "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1,2\r\n\r\n", RT_HPE_CL_CONFLICT, 400 },
    { "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", RT_HPE_CL_CONFLICT, 400 },
    { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: foo\r\n\r\n", RT_HPE_TE_UNSUPPORTED, 501 },
    { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: foo, chunked\r\n\r\n", RT_HPE_TE_UNSUPPORTED, 501 },
    { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", RT_HPE_TE_UNSUPPORTED, 501 },
    { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", RT_HPE_TE_NOT_CHUNKED_LAST, 400 },
    { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", RT_HPE_TE_NOT_CHUNKED_LAST, 400 },
    { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", RT_HPE_TE_NOT_CHUNKED_LAST, 400 },
    { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", RT_HPE_TE_NOT_CHUNKED_LAST, 400 },
    { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", RT_HPE_TE_NOT_CHUNKED_LAST, 400 },
    { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", RT_HPE_TE_NOT_CHUNKED_LAST, 400 },
    { "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", RT_HPE_TE_HTTP10, 400 },
    /* Host */
    { "GET / HTTP/1.1\r\n\r\n", RT_HPE_HOST, 400 },
    { "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", RT_HPE_HOST, 400 },
    { "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", RT_HPE_HOST, 400 },
};

static void test_bad_requests(void **state)
{
    (void)state;
    req_ctx c = { 0 };
    for (size_t i = 0; i < sizeof bad_reqs / sizeof bad_reqs[0]; i++) {
        const bad_case *b = &bad_reqs[i];
        size_t n = strlen(b->in);
        ssize_t r = parse_req_n(&c, b->in, n, NHDRS, NULL);
        if (r != RT_HP_ERROR || c.req.h.err != b->err) {
            print_error("case %zu \"%s\": got %zd err %d (%s), want err %d\n", i, b->in, r,
                        c.req.h.err, rt_http_err_str(c.req.h.err), b->err);
            fail();
        }
        assert_int_equal(rt_http_err_status(c.req.h.err), b->status);
        assert_true(c.req.h.err_off < n);
    }
    free(c.buf);
}

static void test_error_offsets(void **state)
{
    (void)state;
    req_ctx c = { 0 };
    const char *s = "GET / HTTP/1.1\r\nHost : x\r\n\r\n";
    assert_int_equal(parse_req(&c, s), RT_HP_ERROR);
    assert_int_equal(c.req.h.err_off, 20); /* the SP after "Host" */
    assert_int_equal(s[c.req.h.err_off], ' ');
    s = "GET / HTTP/1.1\r\nHost: a\r\nX: ab\x01\r\n\r\n";
    assert_int_equal(parse_req(&c, s), RT_HP_ERROR);
    assert_int_equal(s[c.req.h.err_off], '\x01');
    s = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12x\r\n\r\n";
    assert_int_equal(parse_req(&c, s), RT_HP_ERROR);
    assert_int_equal(s[c.req.h.err_off], 'x');
    s = "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n";
    assert_int_equal(parse_req(&c, s), RT_HP_ERROR);
    assert_int_equal(s[c.req.h.err_off], '\n');
    assert_int_equal(c.req.h.err_off, 23);
    free(c.buf);
}

static void test_nul_in_value(void **state)
{
    (void)state;
    req_ctx c = { 0 };
    static const char s[] = "GET / HTTP/1.1\r\nHost: a\r\nX-Y: ab\0cd\r\n\r\n";
    assert_int_equal(parse_req_n(&c, s, sizeof s - 1, NHDRS, NULL), RT_HP_ERROR);
    assert_int_equal(c.req.h.err, RT_HPE_HEADER_VALUE);
    assert_int_equal(c.req.h.err_off, 32);
    assert_int_equal(rt_http_err_status(c.req.h.err), 400);
    /* Also in the name and in the request line. */
    static const char s2[] = "GET / HTTP/1.1\r\nHo\0st: a\r\n\r\n";
    assert_int_equal(parse_req_n(&c, s2, sizeof s2 - 1, NHDRS, NULL), RT_HP_ERROR);
    assert_int_equal(c.req.h.err, RT_HPE_HEADER_NAME);
    static const char s3[] = "GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_int_equal(parse_req_n(&c, s3, sizeof s3 - 1, NHDRS, NULL), RT_HP_ERROR);
    assert_int_equal(c.req.h.err, RT_HPE_REQUEST_LINE);
    free(c.buf);
}

static void test_too_many_headers(void **state)
{
    (void)state;
    req_ctx c = { 0 };
    const char *s = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n";
    assert_int_equal(parse_req_n(&c, s, strlen(s), 3, NULL), (ssize_t)strlen(s));
    assert_int_equal(c.req.h.nhdrs, 3);
    assert_int_equal(parse_req_n(&c, s, strlen(s), 2, NULL), RT_HP_ERROR);
    assert_int_equal(c.req.h.err, RT_HPE_TOO_MANY_HEADERS);
    assert_int_equal(rt_http_err_status(c.req.h.err), 431);
    assert_int_equal(s[c.req.h.err_off], 'B');
    assert_int_equal(parse_req_n(&c, s, strlen(s), 0, NULL), RT_HP_ERROR);
    assert_int_equal(c.req.h.err, RT_HPE_TOO_MANY_HEADERS);
    free(c.buf);
}

static void test_line_limit(void **state)
{
    (void)state;
    req_ctx c = { 0 };
    rt_http_limits lim = { .max_line = 32, .max_head = 1024 };
    /* "GET /" + 13 x + " HTTP/1.1" = 5 + 13 + 9 = 27; pad the target to hit 32 exactly. */
    char line[64], s[256];
    memset(line, 0, sizeof line);
    memcpy(line, "GET /", 5);
    memset(line + 5, 'x', 32 - 5 - 9);
    memcpy(line + 32 - 9, " HTTP/1.1", 9);
    assert_int_equal(strlen(line), 32);
    snprintf(s, sizeof s, "%s\r\nHost: a\r\n\r\n", line);
    assert_int_equal(parse_req_n(&c, s, strlen(s), NHDRS, &lim), (ssize_t)strlen(s));
    /* One more byte: 414, whether the line is complete or not. */
    lim.max_line = 31;
    assert_int_equal(parse_req_n(&c, s, strlen(s), NHDRS, &lim), RT_HP_ERROR);
    assert_int_equal(c.req.h.err, RT_HPE_LINE_TOO_LONG);
    assert_int_equal(rt_http_err_status(c.req.h.err), 414);
    assert_int_equal(parse_req_n(&c, s, 31, NHDRS, &lim), RT_HP_AGAIN);
    assert_int_equal(parse_req_n(&c, s, 32, NHDRS, &lim), RT_HP_ERROR);
    assert_int_equal(c.req.h.err, RT_HPE_LINE_TOO_LONG);
    /* 31 line bytes and a CR may still be a complete 31-byte line... */
    char t[64];
    memcpy(t, s + 1, 31);
    t[31] = '\r';
    assert_int_equal(parse_req_n(&c, t, 32, NHDRS, &lim), RT_HP_AGAIN);
    /* ...and the default limit allows 8 KiB. */
    char *big = malloc(20000);
    assert_non_null(big);
    size_t n = (size_t)sprintf(big, "GET /");
    memset(big + n, 'a', 9000);
    n += 9000;
    assert_int_equal(parse_req_n(&c, big, n, NHDRS, NULL), RT_HP_ERROR);
    assert_int_equal(c.req.h.err, RT_HPE_LINE_TOO_LONG);
    assert_int_equal(parse_req_n(&c, big, 8000, NHDRS, NULL), RT_HP_AGAIN);
    free(big);
    free(c.buf);
}

static void test_head_limit(void **state)
{
    (void)state;
    req_ctx c = { 0 };
    const char *s = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: 0123456789\r\n\r\n";
    size_t n = strlen(s);
    rt_http_limits lim = { .max_line = 0, .max_head = n };
    assert_int_equal(parse_req_n(&c, s, n, NHDRS, &lim), (ssize_t)n);
    lim.max_head = n - 1;
    assert_int_equal(parse_req_n(&c, s, n, NHDRS, &lim), RT_HP_ERROR);
    assert_int_equal(c.req.h.err, RT_HPE_HEADERS_TOO_LARGE);
    assert_int_equal(rt_http_err_status(c.req.h.err), 431);
    /* Incomplete heads stop at the limit too, even if no CRLF CRLF ever comes. */
    assert_int_equal(parse_req_n(&c, s, n - 2, NHDRS, &lim), RT_HP_AGAIN);
    assert_int_equal(parse_req_n(&c, s, n - 1, NHDRS, &lim), RT_HP_ERROR);
    assert_int_equal(c.req.h.err, RT_HPE_HEADERS_TOO_LARGE);
    /* A slowloris head of many small fields against the default limit. */
    char *big = malloc(70000);
    assert_non_null(big);
    size_t m = (size_t)sprintf(big, "GET / HTTP/1.1\r\nHost: a\r\n");
    while (m < 66000)
        m += (size_t)sprintf(big + m, "X-A: b\r\n");
    assert_int_equal(parse_req_n(&c, big, m, NHDRS, NULL), RT_HP_ERROR);
    assert_int_equal(c.req.h.err, RT_HPE_HEADERS_TOO_LARGE);
    assert_int_equal(parse_req_n(&c, big, 60000, NHDRS, NULL), RT_HP_AGAIN);
    free(big);
    free(c.buf);
}

/* ---- responses ---- */

static void test_responses(void **state)
{
    (void)state;
    resp_ctx c = { 0 };
    assert_true(parse_resp(&c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", RT_M_GET) > 0);
    assert_int_equal(c.resp.status, 200);
    assert_slice(c.resp.reason, "OK");
    assert_int_equal(c.resp.h.body, RT_BODY_LENGTH);
    assert_int_equal(c.resp.h.content_length, 10);
    assert_true(c.resp.h.keep_alive);

    assert_true(parse_resp(&c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", RT_M_GET) > 0);
    assert_int_equal(c.resp.h.body, RT_BODY_CHUNKED);
    assert_true(c.resp.h.keep_alive);

    assert_true(parse_resp(&c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", RT_M_GET) > 0);
    assert_int_equal(c.resp.h.body, RT_BODY_CLOSE);
    assert_false(c.resp.h.keep_alive);

    assert_true(parse_resp(&c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: foo\r\n\r\n", RT_M_GET) > 0);
    assert_int_equal(c.resp.h.body, RT_BODY_CLOSE);

    assert_true(parse_resp(&c, "HTTP/1.1 200 OK\r\nServer: x\r\n\r\n", RT_M_GET) > 0);
    assert_int_equal(c.resp.h.body, RT_BODY_CLOSE);
    assert_false(c.resp.h.keep_alive);

    assert_true(parse_resp(&c, "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", RT_M_GET) > 0);
    assert_int_equal(c.resp.h.body, RT_BODY_NONE);
    assert_true(c.resp.h.keep_alive);

    assert_true(parse_resp(&c, "HTTP/1.1 304 Not Modified\r\nContent-Length: 500\r\n\r\n", RT_M_GET) > 0);
    assert_int_equal(c.resp.h.body, RT_BODY_NONE);

    assert_true(parse_resp(&c, "HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", RT_M_HEAD) > 0);
    assert_int_equal(c.resp.h.body, RT_BODY_NONE);
    assert_true(c.resp.h.keep_alive);

    assert_true(parse_resp(&c, "HTTP/1.1 100 Continue\r\n\r\n", RT_M_PUT) > 0);
    assert_int_equal(c.resp.status, 100);
    assert_int_equal(c.resp.h.body, RT_BODY_NONE);

    assert_true(parse_resp(&c, "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", RT_M_GET) > 0);
    assert_int_equal(c.resp.h.body, RT_BODY_NONE);
    assert_true(c.resp.h.has_upgrade);
    assert_false(c.resp.h.keep_alive);

    assert_true(parse_resp(&c, "HTTP/1.1 200 Connection established\r\n\r\n", RT_M_CONNECT) > 0);
    assert_int_equal(c.resp.h.body, RT_BODY_TUNNEL);
    assert_false(c.resp.h.keep_alive);

    assert_true(parse_resp(&c, "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 3\r\n\r\n", RT_M_CONNECT) > 0);
    assert_int_equal(c.resp.h.body, RT_BODY_LENGTH);
    assert_int_equal(c.resp.h.content_length, 3);

    assert_true(parse_resp(&c, "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n", RT_M_GET) > 0);
    assert_int_equal(c.resp.h.minor, 0);
    assert_false(c.resp.h.keep_alive);
    assert_true(parse_resp(&c, "HTTP/1.0 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\n", RT_M_GET) > 0);
    assert_true(c.resp.h.keep_alive);
    /* HTTP/1.0 with TE: faulty framing, read to close. */
    assert_true(parse_resp(&c, "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n", RT_M_GET) > 0);
    assert_int_equal(c.resp.h.body, RT_BODY_CLOSE);
    assert_false(c.resp.h.keep_alive);

    /* Status line without reason (with and without the SP). */
    assert_true(parse_resp(&c, "HTTP/1.1 503\r\nContent-Length: 0\r\n\r\n", RT_M_GET) > 0);
    assert_int_equal(c.resp.status, 503);
    assert_int_equal(c.resp.reason.n, 0);
    assert_true(parse_resp(&c, "HTTP/1.1 503 \r\nContent-Length: 0\r\n\r\n", RT_M_GET) > 0);
    assert_int_equal(c.resp.reason.n, 0);
    assert_true(parse_resp(&c, "HTTP/1.1 999 Odd\tbut ok \xe2\x9c\x93\r\n\r\n", RT_M_GET) > 0);
    assert_int_equal(c.resp.status, 999);
    assert_slice(c.resp.reason, "Odd\tbut ok \xe2\x9c\x93");
    free(c.buf);
}

static const struct {
    const char *in;
    rt_http_err err;
} bad_resps[] = {
    { "HTTP/1.1 20 OK\r\n\r\n", RT_HPE_STATUS_LINE },
    { "HTTP/1.1 099 Low\r\n\r\n", RT_HPE_STATUS_LINE },
    { "HTTP/1.1 2000 OK\r\n\r\n", RT_HPE_STATUS_LINE },
    { "HTTP/1.1 200OK\r\n\r\n", RT_HPE_STATUS_LINE },
    { "HTTP/1.1  200 OK\r\n\r\n", RT_HPE_STATUS_LINE },
    { "HTTP/1.1 200 O\x01K\r\n\r\n", RT_HPE_STATUS_LINE },
    { "ICY 200 OK\r\n\r\n", RT_HPE_STATUS_LINE },
    { "HTTP/1.1\r\n\r\n", RT_HPE_STATUS_LINE },
    { "\r\nHTTP/1.1 200 OK\r\n\r\n", RT_HPE_STATUS_LINE },
    { "HTTP/2.0 200 OK\r\n\r\n", RT_HPE_VERSION },
    { "HTTP/1.1 200 OK\rX\r\n\r\n", RT_HPE_BARE_CR },
    { "HTTP/1.1 200 OK\n\n", RT_HPE_BARE_LF },
    { "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", RT_HPE_CL_TE },
    { "HTTP/1.1 304 Not Modified\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", RT_HPE_CL_TE },
    { "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", RT_HPE_CL_CONFLICT },
    { "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", RT_HPE_CL_INVALID },
    { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", RT_HPE_TE_NOT_CHUNKED_LAST },
    { "HTTP/1.1 200 OK\r\nX: y\r\n z\r\n\r\n", RT_HPE_OBS_FOLD },
    { "HTTP/1.1 200 OK\r\nX : y\r\n\r\n", RT_HPE_HEADER_SPACE },
};

static void test_bad_responses(void **state)
{
    (void)state;
    resp_ctx c = { 0 };
    for (size_t i = 0; i < sizeof bad_resps / sizeof bad_resps[0]; i++) {
        ssize_t r = parse_resp(&c, bad_resps[i].in, RT_M_GET);
        if (r != RT_HP_ERROR || c.resp.h.err != bad_resps[i].err) {
            print_error("case %zu: got %zd err %d, want %d\n", i, r, c.resp.h.err, bad_resps[i].err);
            fail();
        }
    }
    /* An over-long status line without CRLF is refused before it ends. */
    rt_http_limits lim = { .max_line = 16, .max_head = 0 };
    assert_int_equal(parse_resp_n(&c, "HTTP/1.1 200 A very long reason", 31, RT_M_GET, &lim), RT_HP_ERROR);
    assert_int_equal(c.resp.h.err, RT_HPE_LINE_TOO_LONG);
    free(c.buf);
}

/* ---- helpers ---- */

static void test_list_has(void **state)
{
    (void)state;
    assert_true(rt_http_list_has(RT_SLICE_LIT("close"), "close"));
    assert_true(rt_http_list_has(RT_SLICE_LIT("Keep-Alive, Upgrade"), "upgrade"));
    assert_true(rt_http_list_has(RT_SLICE_LIT("  a ,\tB\t, c"), "b"));
    assert_true(rt_http_list_has(RT_SLICE_LIT(",,x,,"), "x"));
    assert_false(rt_http_list_has(RT_SLICE_LIT("closed"), "close"));
    assert_false(rt_http_list_has(RT_SLICE_LIT("clos"), "close"));
    assert_false(rt_http_list_has(RT_SLICE_LIT("a b"), "a"));
    assert_false(rt_http_list_has(RT_SLICE_LIT(""), "a"));
    assert_false(rt_http_list_has(RT_SLICE_NULL, "a"));
    assert_false(rt_http_list_has(RT_SLICE_LIT(", ,"), ""));
}

static void test_find_and_hop_by_hop(void **state)
{
    (void)state;
    req_ctx c = { 0 };
    const char *s = "GET http://a/ HTTP/1.1\r\n"
                    "Host: a\r\n"
                    "Connection: keep-alive, X-Secret, Content-Length, Host\r\n"
                    "connection: x-other\r\n"
                    "X-Secret: 1\r\n"
                    "X-Kept: 2\r\n"
                    "Proxy-Connection: keep-alive\r\n"
                    "Content-Length: 0\r\n"
                    "\r\n";
    assert_true(parse_req(&c, s) > 0);
    const rt_http_hdr *f = rt_http_find(&c.req.h, "x-kept");
    assert_non_null(f);
    assert_slice(f->value, "2");
    f = rt_http_find(&c.req.h, "CONNECTION");
    assert_non_null(f);
    assert_slice(f->value, "keep-alive, X-Secret, Content-Length, Host"); /* the first one */
    assert_null(rt_http_find(&c.req.h, "X-Kep"));
    assert_null(rt_http_find(&c.req.h, "X-Kept2"));

    static const char *hop[] = { "Connection", "proxy-connection", "Keep-Alive", "TE", "Trailer",
                                 "UPGRADE", "Proxy-Authorization", "Proxy-Authenticate",
                                 "x-secret", "X-Other" };
    for (size_t i = 0; i < sizeof hop / sizeof hop[0]; i++)
        assert_true(rt_http_is_hop_by_hop(&c.req.h, rt_slice_cstr(hop[i])));
    static const char *e2e[] = { "Host", "X-Kept", "Content-Length", "Transfer-Encoding",
                                 "Trailers", "T", "X-Secre", "Authorization", "" };
    for (size_t i = 0; i < sizeof e2e / sizeof e2e[0]; i++)
        assert_false(rt_http_is_hop_by_hop(&c.req.h, rt_slice_cstr(e2e[i])));
    free(c.buf);
}

static void test_err_strings(void **state)
{
    (void)state;
    const char *unknown = rt_http_err_str((rt_http_err)999);
    for (int e = RT_HPE_NONE; e <= RT_HPE_TE_HTTP10; e++) {
        const char *s = rt_http_err_str((rt_http_err)e);
        assert_non_null(s);
        assert_true(strlen(s) > 5);
        assert_string_not_equal(s, unknown);
        for (int f = RT_HPE_NONE; f < e; f++)
            assert_string_not_equal(s, rt_http_err_str((rt_http_err)f));
    }
    assert_int_equal(rt_http_err_status(RT_HPE_LINE_TOO_LONG), 414);
    assert_int_equal(rt_http_err_status(RT_HPE_HEADERS_TOO_LARGE), 431);
    assert_int_equal(rt_http_err_status(RT_HPE_TOO_MANY_HEADERS), 431);
    assert_int_equal(rt_http_err_status(RT_HPE_TE_UNSUPPORTED), 501);
    assert_int_equal(rt_http_err_status(RT_HPE_CL_TE), 400);
    assert_int_equal(rt_http_err_status(RT_HPE_BARE_LF), 400);
    assert_int_equal(rt_http_err_status(RT_HPE_HOST), 400);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get),
        cmocka_unit_test(test_head_then_body),
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_target_forms),
        cmocka_unit_test(test_http10_and_connection),
        cmocka_unit_test(test_expect),
        cmocka_unit_test(test_framing_valid),
        cmocka_unit_test(test_leading_crlf),
        cmocka_unit_test(test_split_every_byte),
        cmocka_unit_test(test_split_every_byte_response),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_error_offsets),
        cmocka_unit_test(test_nul_in_value),
        cmocka_unit_test(test_too_many_headers),
        cmocka_unit_test(test_line_limit),
        cmocka_unit_test(test_head_limit),
        cmocka_unit_test(test_responses),
        cmocka_unit_test(test_bad_responses),
        cmocka_unit_test(test_list_has),
        cmocka_unit_test(test_find_and_hop_by_hop),
        cmocka_unit_test(test_err_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
