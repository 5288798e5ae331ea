/* libFuzzer target: rt_http_parse_request and what a gateway does next with
 * a parsed head (target parsing, hop-by-hop checks, chunked body scan). */
#include "fuzz_unity.h"

#define FUZZ_HDRS 16

static void check_request(const char *buf, size_t size, const rt_http_limits *lim)
{
    rt_http_hdr hdrs[FUZZ_HDRS];
    rt_http_req req;
    memset(&req, 0, sizeof req);
    req.h.hdrs = hdrs;
    req.h.max_hdrs = FUZZ_HDRS;
    size_t max_head = lim && lim->max_head ? lim->max_head : RT_HTTP_DEFAULT_MAX_HEAD;

    ssize_t r = rt_http_parse_request(buf, size, &req, lim);
    FUZZ_CHECK(r == RT_HP_AGAIN || r == RT_HP_ERROR || (r > 0 && (size_t)r <= size));
    if (r == RT_HP_ERROR) {
        int st = rt_http_err_status(req.h.err);
        FUZZ_CHECK(req.h.err != RT_HPE_NONE);
        FUZZ_CHECK(req.h.err_off <= size);
        FUZZ_CHECK(st == 400 || st == 414 || st == 431 || st == 501);
        FUZZ_CHECK(rt_http_err_str(req.h.err)[0] != '\0');
        return;
    }
    if (r == RT_HP_AGAIN) {
        FUZZ_CHECK(size < max_head);
        /* A prefix of an incomplete head is incomplete too. */
        FUZZ_CHECK(rt_http_parse_request(buf, size / 2, &req, lim) == RT_HP_AGAIN);
        return;
    }

    size_t n = (size_t)r;
    FUZZ_CHECK(n <= max_head);
    FUZZ_CHECK(n >= 4 && memcmp(buf + n - 4, "\r\n\r\n", 4) == 0);
    FUZZ_CHECK(req.h.err == RT_HPE_NONE);
    FUZZ_CHECK(req.h.nhdrs <= FUZZ_HDRS);
    FUZZ_CHECK(req.h.minor == 0 || req.h.minor == 1);
    FUZZ_CHECK(req.method.n > 0 && fuzz_inside(req.method, buf, n));
    FUZZ_CHECK(req.target.n > 0 && fuzz_inside(req.target, buf, n));
    FUZZ_CHECK(req.h.body == RT_BODY_NONE || req.h.body == RT_BODY_LENGTH ||
               req.h.body == RT_BODY_CHUNKED);
    FUZZ_CHECK(req.h.body == RT_BODY_LENGTH || req.h.content_length == 0);
    FUZZ_CHECK(req.h.content_length < (UINT64_C(1) << 62));
    for (size_t i = 0; i < req.h.nhdrs; i++) {
        FUZZ_CHECK(hdrs[i].name.n > 0 && fuzz_inside(hdrs[i].name, buf, n));
        FUZZ_CHECK(fuzz_inside(hdrs[i].value, buf, n));
        (void)rt_http_is_hop_by_hop(&req.h, hdrs[i].name);
        (void)rt_http_list_has(hdrs[i].value, "close");
    }
    FUZZ_CHECK(rt_http_find(&req.h, "Host") != NULL || req.h.minor == 0);
    fuzz_check_accepted_head(buf, n, &req.h);

    /* The same bytes without what follows give the same head. */
    size_t nh = req.h.nhdrs;
    rt_body_kind body = req.h.body;
    FUZZ_CHECK(rt_http_parse_request(buf, n, &req, lim) == r);
    FUZZ_CHECK(req.h.nhdrs == nh && req.h.body == body);
    FUZZ_CHECK(rt_http_parse_request(buf, n - 1, &req, lim) == RT_HP_AGAIN);
    FUZZ_CHECK(rt_http_parse_request(buf, n, &req, lim) == r);

    rt_url u;
    if (rt_url_parse_target(req.target, req.meth, &u) == 0) {
        FUZZ_CHECK(fuzz_inside(u.host, req.target.p, req.target.n));
        FUZZ_CHECK(fuzz_inside(u.scheme, req.target.p, req.target.n));
        FUZZ_CHECK(u.path.n == 0 || fuzz_inside(u.path, req.target.p, req.target.n) ||
                   (u.path.n == 1 && u.path.p[0] == '/'));
        FUZZ_CHECK(u.form != RT_TF_AUTHORITY || (u.port != 0 && u.host.n > 0));
        FUZZ_CHECK(u.form != RT_TF_ABSOLUTE || (u.port != 0 && u.host.n > 0 && u.path.n > 0));
    }
    if (req.h.body == RT_BODY_CHUNKED)
        fuzz_chunked_body(buf + n, size - n, (size - n) / 3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = fuzz_copy(data, size);
    check_request(buf, size, NULL);
    /* Tight limits reach the 414/431 paths with small inputs. */
    rt_http_limits tight = { .max_line = 48, .max_head = 160 };
    check_request(buf, size, &tight);
    free(buf);
    return 0;
}
