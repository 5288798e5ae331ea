#include "core/base/wbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>


void rt_wbuf_addu(rt_wbuf *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    rt_wbuf_add(b, tmp + i, sizeof tmp - i);
}

void rt_wbuf_addf(rt_wbuf *b, const char *fmt, ...)
{
    if (b->overflow)
        return;
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->cap - b->len;
    int n = vsnprintf(b->p + b->len, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room) {
        b->overflow = true;
        return;
    }
    b->len += (size_t)n;
}

void rt_wbuf_add_json(rt_wbuf *b, rt_slice s)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;
    for (size_t i = 0; i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
            continue;
        rt_wbuf_add(b, s.p + run, i - run);
        run = i + 1;
        char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
        switch (c) {
        case '"': rt_wbuf_add(b, "\\\"", 2); break;
        case '\\': rt_wbuf_add(b, "\\\\", 2); break;
        case '\n': rt_wbuf_add(b, "\\n", 2); break;
        case '\r': rt_wbuf_add(b, "\\r", 2); break;
        case '\t': rt_wbuf_add(b, "\\t", 2); break;
        default: rt_wbuf_add(b, esc, 6); break;
        }
    }
    rt_wbuf_add(b, s.p + run, s.n - run);
}

void rt_wbuf_add_base64(rt_wbuf *b, const void *data, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *in = data;
    char out[4];
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[0] = tbl[v >> 18];
        out[1] = tbl[(v >> 12) & 63];
        out[2] = tbl[(v >> 6) & 63];
        out[3] = tbl[v & 63];
        rt_wbuf_add(b, out, 4);
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        out[0] = tbl[v >> 18];
        out[1] = tbl[(v >> 12) & 63];
        out[2] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        out[3] = '=';
        rt_wbuf_add(b, out, 4);
    }
}
