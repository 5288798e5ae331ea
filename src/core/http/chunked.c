/* Chunked transfer coding scanner (RFC 9112 section 7.1).
 *
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   last-chunk   = 1*("0") [ chunk-ext ] CRLF
 *
 * The scanner keeps its position in a few words so the body can arrive in
 * any split. Chunk data is skipped by arithmetic, never looked at; only the
 * size lines and trailer fields are walked byte by byte, and both are
 * bounded (RT_CHUNK_MAX_LINE per line, RT_CHUNK_MAX_TRAILER in all). */
#include "core/http/http1.h"

#include "core/http/chars.h"

enum {
    CK_SIZE0 = 0, /* first hex digit of a chunk-size (zeroed state starts here) */
    CK_SIZE,      /* more hex digits */
    CK_SIZE_WS,   /* BWS after the size: only ';' may follow */
    CK_EXT,       /* chunk-ext up to CR */
    CK_SIZE_LF,   /* LF ending the size line */
    CK_DATA,      /* chunk-data, `remaining` bytes left */
    CK_DATA_CR,   /* CRLF after the data */
    CK_DATA_LF,
    CK_TLINE,     /* start of a trailer line or of the final CRLF */
    CK_TNAME,     /* trailer field name */
    CK_TVALUE,    /* trailer field value up to CR */
    CK_TLF,       /* LF ending a trailer line */
    CK_FINAL_LF,  /* LF of the final CRLF */
    CK_DONE,
    CK_ERROR,
};

/* Sizes must stay below 2^62: a size with this many bits set already
 * cannot take one more hex digit. */
#define SIZE_SHIFT_LIMIT (UINT64_C(1) << 58)

void rt_chunked_init(rt_chunked *c)
{
    c->state = CK_SIZE0;
    c->remaining = 0;
    c->line_len = 0;
}

ssize_t rt_chunked_scan(rt_chunked *c, const char *buf, size_t len, bool *done)
{
    const unsigned char *b = (const unsigned char *)buf;
    size_t i = 0;
    *done = false;
    if (c->state == CK_DONE) {
        *done = true;
        return 0;
    }
    if (c->state == CK_ERROR)
        return -1;

    while (i < len) {
        unsigned char ch = b[i];
        switch (c->state) {
        case CK_DATA: {
            size_t avail = len - i;
            if (c->remaining > avail) {
                c->remaining -= avail;
                return (ssize_t)len;
            }
            i += (size_t)c->remaining;
            c->remaining = 0;
            c->state = CK_DATA_CR;
            continue;
        }
        case CK_SIZE0:
            if (rt_http_hexval[ch] == 0xFF)
                goto fail;
            c->remaining = rt_http_hexval[ch];
            c->line_len = 1;
            c->state = CK_SIZE;
            break;
        case CK_SIZE:
            if (rt_http_hexval[ch] != 0xFF) {
                if (c->remaining >= SIZE_SHIFT_LIMIT)
                    goto fail;
                c->remaining = (c->remaining << 4) | rt_http_hexval[ch];
            } else if (ch == '\r') {
                c->state = CK_SIZE_LF;
            } else if (ch == ';') {
                c->state = CK_EXT;
            } else if (ch == ' ' || ch == '\t') {
                c->state = CK_SIZE_WS; /* BWS before ';' (section 7.1.1) */
            } else {
                goto fail;
            }
            if (ch != '\r' && ++c->line_len > RT_CHUNK_MAX_LINE)
                goto fail;
            break;
        case CK_SIZE_WS:
            if (ch == ';')
                c->state = CK_EXT;
            else if (ch != ' ' && ch != '\t')
                goto fail; /* "5 \r\n": whitespace without an extension */
            if (++c->line_len > RT_CHUNK_MAX_LINE)
                goto fail;
            break;
        case CK_EXT:
            if (ch == '\r') {
                c->state = CK_SIZE_LF;
                break;
            }
            if (!(rt_http_cc[ch] & RT_CC_FVAL) || ++c->line_len > RT_CHUNK_MAX_LINE)
                goto fail;
            break;
        case CK_SIZE_LF:
            if (ch != '\n')
                goto fail;
            c->line_len = 0;
            /* For the last-chunk, `remaining` now counts trailer bytes. */
            c->state = c->remaining == 0 ? CK_TLINE : CK_DATA;
            break;
        case CK_DATA_CR:
            if (ch != '\r')
                goto fail;
            c->state = CK_DATA_LF;
            break;
        case CK_DATA_LF:
            if (ch != '\n')
                goto fail;
            c->state = CK_SIZE0;
            break;
        case CK_TLINE:
            if (ch == '\r') {
                c->state = CK_FINAL_LF;
                break;
            }
            /* A trailer field is a header field line (section 7.1.2). */
            if (!(rt_http_cc[ch] & RT_CC_TOKEN))
                goto fail;
            c->line_len = 1;
            c->state = CK_TNAME;
            goto count_trailer;
        case CK_TNAME:
            if (ch == ':')
                c->state = CK_TVALUE;
            else if (!(rt_http_cc[ch] & RT_CC_TOKEN))
                goto fail;
            goto count_line;
        case CK_TVALUE:
            if (ch == '\r') {
                c->state = CK_TLF;
                goto count_trailer;
            }
            if (!(rt_http_cc[ch] & RT_CC_FVAL))
                goto fail;
            goto count_line;
        case CK_TLF:
            if (ch != '\n')
                goto fail;
            c->state = CK_TLINE;
            goto count_trailer;
        case CK_FINAL_LF:
            if (ch != '\n')
                goto fail;
            c->state = CK_DONE;
            *done = true;
            return (ssize_t)(i + 1);
        default:
            goto fail;
        }
        i++;
        continue;
    count_line:
        if (++c->line_len > RT_CHUNK_MAX_LINE)
            goto fail;
    count_trailer:
        if (++c->remaining > RT_CHUNK_MAX_TRAILER)
            goto fail;
        i++;
    }
    return (ssize_t)len;

fail:
    c->state = CK_ERROR;
    return -1;
}
