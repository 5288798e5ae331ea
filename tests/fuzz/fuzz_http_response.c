/* libFuzzer target: rt_http_parse_response. The first input byte picks the
 * request method the response answers (it decides the body kind). */
#include "fuzz_unity.h"

#define FUZZ_HDRS 16

static const rt_http_method methods[] = { RT_M_GET, RT_M_HEAD, RT_M_POST, RT_M_CONNECT,
                                          RT_M_PUT, RT_M_OPTIONS, RT_M_OTHER };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    rt_http_method m = methods[data[0] % (sizeof methods / sizeof methods[0])];
    size--;
    char *buf = fuzz_copy(data + 1, size);
    rt_http_hdr hdrs[FUZZ_HDRS];
    rt_http_resp resp;
    memset(&resp, 0, sizeof resp);
    resp.h.hdrs = hdrs;
    resp.h.max_hdrs = FUZZ_HDRS;

    rt_http_limits lim = { .max_line = (data[0] & 0x80) ? 40 : 0, .max_head = (data[0] & 0x40) ? 200 : 0 };
    ssize_t r = rt_http_parse_response(buf, size, &resp, m, &lim);
    FUZZ_CHECK(r == RT_HP_AGAIN || r == RT_HP_ERROR || (r > 0 && (size_t)r <= size));
    if (r == RT_HP_ERROR) {
        FUZZ_CHECK(resp.h.err != RT_HPE_NONE && resp.h.err_off <= size);
    } else if (r > 0) {
        size_t n = (size_t)r;
        FUZZ_CHECK(memcmp(buf + n - 4, "\r\n\r\n", 4) == 0);
        FUZZ_CHECK(resp.status >= 100 && resp.status <= 999);
        FUZZ_CHECK(fuzz_inside(resp.reason, buf, n));
        FUZZ_CHECK(resp.h.nhdrs <= FUZZ_HDRS);
        for (size_t i = 0; i < resp.h.nhdrs; i++) {
            FUZZ_CHECK(hdrs[i].name.n > 0 && fuzz_inside(hdrs[i].name, buf, n));
            FUZZ_CHECK(fuzz_inside(hdrs[i].value, buf, n));
            (void)rt_http_is_hop_by_hop(&resp.h, hdrs[i].name);
        }
        fuzz_check_accepted_head(buf, n, &resp.h);
        /* Framing rules of RFC 9112 section 6.3. */
        if (m == RT_M_HEAD || resp.status < 200 || resp.status == 204 || resp.status == 304)
            FUZZ_CHECK(resp.h.body == RT_BODY_NONE);
        if (resp.h.body == RT_BODY_TUNNEL)
            FUZZ_CHECK(m == RT_M_CONNECT && resp.status / 100 == 2);
        if (resp.h.body == RT_BODY_CLOSE || resp.h.body == RT_BODY_TUNNEL)
            FUZZ_CHECK(!resp.h.keep_alive);
        FUZZ_CHECK(rt_http_parse_response(buf, n - 1, &resp, m, &lim) == RT_HP_AGAIN);
        FUZZ_CHECK(rt_http_parse_response(buf, n, &resp, m, &lim) == r);
        if (resp.h.body == RT_BODY_CHUNKED)
            fuzz_chunked_body(buf + n, size - n, (size - n) / 2);
    } else {
        FUZZ_CHECK(rt_http_parse_response(buf, size / 2, &resp, m, &lim) == RT_HP_AGAIN);
    }
    free(buf);
    return 0;
}
