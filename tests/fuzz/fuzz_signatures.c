/* Fuzz target for the signature parser and the classifier.
 *
 * Input byte 0 picks the mode:
 *   'S'      the rest is a signature file: load it into a fresh set (it
 *            must either load or fail cleanly), then classify a fixed
 *            response against it;
 *   other    byte 0 and 1 are flags (phase, via_proxy, credentials, method),
 *            the rest a raw response "STATUS REASON\nName: value\n...\n\nbody"
 *            classified against the built-in signatures; in tunnel phase the
 *            body is used as the server's first bytes. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errors/classify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_HDRS 64

static rt_sigset *builtin(void)
{
    static rt_sigset *set;
    if (!set) {
        char err[256];
        set = rt_sigset_new();
        if (!set || rt_sigset_add_builtin(set, err, sizeof err) != 0)
            abort();
    }
    return set;
}

static void check(const rt_classify_out *o)
{
    if (o->code >= RT_E__COUNT)
        abort();
    if (memchr(o->evidence, '\0', sizeof o->evidence) == NULL)
        abort();
    for (const char *p = o->evidence; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            abort();
    if (o->code != RT_E_ok && o->evidence[0] == '\0')
        abort();
}

static void fuzz_sigfile(const uint8_t *data, size_t size)
{
    char err[256];
    rt_sigset *s = rt_sigset_new();
    if (!s)
        return;
    size_t before = rt_sigset_count(s);
    if (rt_sig_load_text(s, (const char *)data, size, "fuzz", err, sizeof err) != 0) {
        if (rt_sigset_count(s) != before || strncmp(err, "fuzz:", 5) != 0)
            abort();
    }
    static const char body[] = "<title>Just a moment...</title> access denied incident id 12345";
    rt_http_hdr h[] = { { RT_SLICE_LIT("Server"), RT_SLICE_LIT("cloudflare") },
                        { RT_SLICE_LIT("X-Test"), RT_SLICE_LIT("quota exceeded") } };
    rt_classify_in in = { .phase = RT_PH_RESPONSE, .via_proxy = true, .status = 403,
                          .reason = RT_SLICE_LIT("Forbidden"), .hdrs = h, .nhdrs = 2,
                          .body = RT_SLICE_LIT(body), .host = RT_SLICE_LIT("www.example.com") };
    rt_classify_out o;
    rt_classify(&in, s, &o);
    check(&o);
    rt_sigset_free(s);
}

static void fuzz_response(const uint8_t *data, size_t size)
{
    if (size < 2)
        return;
    uint8_t f0 = data[0], f1 = data[1];
    const char *p = (const char *)data + 2, *end = (const char *)data + size;
    rt_http_hdr hdrs[FUZZ_MAX_HDRS];
    size_t nh = 0;
    rt_classify_in in = { 0 };
    in.phase = (rt_phase)(f0 % (RT_PH_TUNNEL + 1));
    in.via_proxy = f0 & 0x10;
    in.sent_credentials = f0 & 0x20;
    in.method = (f0 & 0x40) ? RT_M_CONNECT : RT_M_GET;
    in.timed_out = f1 & 1;
    in.peer_closed = f1 & 2;
    in.client_closed = (f1 & 0x0c) == 0x0c;
    in.bad_response = (f1 & 0x30) == 0x30;
    in.sys_errno = (f1 & 0x40) ? 104 : 0;
    in.host = RT_SLICE_LIT("shop.example.com");

    /* Status line: three digits then the reason up to the newline. */
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *line_end = nl ? nl : end;
    int st = 0;
    const char *q = p;
    for (; q < line_end && q - p < 3 && *q >= '0' && *q <= '9'; q++)
        st = st * 10 + (*q - '0');
    in.status = (f1 & 0x80) ? 0 : st;
    if (q < line_end && *q == ' ')
        q++;
    in.reason = rt_slice_from(q, (size_t)(line_end - q));
    p = nl ? nl + 1 : end;
    while (p < end && *p != '\n' && nh < FUZZ_MAX_HDRS) {
        nl = memchr(p, '\n', (size_t)(end - p));
        line_end = nl ? nl : end;
        const char *colon = memchr(p, ':', (size_t)(line_end - p));
        if (colon) {
            const char *v = colon + 1;
            while (v < line_end && *v == ' ')
                v++;
            hdrs[nh].name = rt_slice_from(p, (size_t)(colon - p));
            hdrs[nh].value = rt_slice_from(v, (size_t)(line_end - v));
            nh++;
        }
        p = nl ? nl + 1 : end;
    }
    if (p < end && *p == '\n')
        p++;
    in.hdrs = hdrs;
    in.nhdrs = nh;
    in.body = rt_slice_from(p, (size_t)(end - p));
    in.body_total = (f1 & 0x08) ? 0 : in.body.n;
    in.tunnel_c2s = f1;
    in.tunnel_s2c = in.body.n;
    in.tunnel_first_s2c = rt_slice_from(p, in.body.n < RT_TUNNEL_SNIFF_MAX ? in.body.n : RT_TUNNEL_SNIFF_MAX);
    in.tunnel_first_c2s = rt_slice_from(in.reason.p, in.reason.n < RT_TUNNEL_SNIFF_MAX ? in.reason.n : RT_TUNNEL_SNIFF_MAX);
    rt_classify_out o;
    rt_classify(&in, builtin(), &o);
    check(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] == 'S')
        fuzz_sigfile(data + 1, size - 1);
    else
        fuzz_response(data, size);
    return 0;
}
