#include "core/errors/reply.h"

const char *rt_reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 508: return "Loop Detected";
    default: return "Error";
    }
}

/* A quoted-string for Proxy-Status details (RFC 9651 sf-string: printable
 * ASCII, with '"' and '\' escaped); other bytes become '?'. */
static void add_sf_string(rt_wbuf *out, rt_slice s)
{
    rt_wbuf_add(out, "\"", 1);
    for (size_t i = 0; i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c == '"' || c == '\\') {
            char esc[2] = { '\\', (char)c };
            rt_wbuf_add(out, esc, 2);
        } else if (c < 0x20 || c > 0x7e) {
            rt_wbuf_add(out, "?", 1);
        } else {
            rt_wbuf_add(out, &s.p[i], 1);
        }
    }
    rt_wbuf_add(out, "\"", 1);
}

static void write_body_text(rt_wbuf *b, const rt_reply *r, const rt_code_info *ci, int status)
{
    rt_wbuf_addf(b, "rotor: %d %s\n\nerror:  %s\norigin: %s\n", status, rt_reason_phrase(status),
                 ci->name, rt_origin_name(ci->origin));
    if (r->where.n)
        rt_wbuf_addf(b, "where:  " RT_SLICE_FMT "\n", RT_SLICE_ARG(r->where));
    if (r->evidence.n)
        rt_wbuf_addf(b, "seen:   " RT_SLICE_FMT "\n", RT_SLICE_ARG(r->evidence));
    rt_wbuf_addf(b, "fix:    %s\n", ci->fix);
    if (r->hint.n)
        rt_wbuf_addf(b, "hint:   " RT_SLICE_FMT "\n", RT_SLICE_ARG(r->hint));
    rt_wbuf_addf(b, "attempts: %u\n", r->attempts);
}

static void json_field(rt_wbuf *b, const char *name, rt_slice v, bool comma)
{
    rt_wbuf_addf(b, "%s\"%s\":\"", comma ? "," : "", name);
    rt_wbuf_add_json(b, v);
    rt_wbuf_add(b, "\"", 1);
}

static void write_body_json(rt_wbuf *b, const rt_reply *r, const rt_code_info *ci, int status)
{
    rt_wbuf_addf(b, "{\"status\":%d", status);
    json_field(b, "error", rt_slice_cstr(ci->name), true);
    json_field(b, "origin", rt_slice_cstr(rt_origin_name(ci->origin)), true);
    json_field(b, "class", rt_slice_cstr(rt_class_name(ci->cls)), true);
    json_field(b, "where", r->where, true);
    json_field(b, "evidence", r->evidence, true);
    json_field(b, "fix", rt_slice_cstr(ci->fix), true);
    json_field(b, "hint", r->hint, true);
    rt_wbuf_addf(b, ",\"attempts\":%u}\n", r->attempts);
}

void rt_reply_write(rt_wbuf *out, const rt_reply *r)
{
    const rt_code_info *ci = rt_code_get(r->code);
    int status = r->status ? r->status : (ci->status ? ci->status : 502);

    /* The body is built first, on the stack, so that Content-Length is
     * known when the head is written. */
    char body[2048];
    rt_wbuf b;
    rt_wbuf_init(&b, body, sizeof body);
    if (r->json)
        write_body_json(&b, r, ci, status);
    else
        write_body_text(&b, r, ci, status);
    if (b.overflow) {
        /* Evidence or hint too long: drop them rather than send a cut body. */
        rt_reply shorter = *r;
        shorter.evidence = RT_SLICE_NULL;
        shorter.hint = RT_SLICE_NULL;
        rt_wbuf_init(&b, body, sizeof body);
        if (r->json)
            write_body_json(&b, &shorter, ci, status);
        else
            write_body_text(&b, &shorter, ci, status);
    }

    rt_wbuf_addf(out, "HTTP/1.1 %d %s\r\n", status, rt_reason_phrase(status));
    rt_wbuf_adds(out, "Via: 1.1 rotor\r\n");
    rt_wbuf_addf(out, "X-Rotor-Error: %s\r\nX-Rotor-Origin: %s\r\nX-Rotor-Attempts: %u\r\n",
                 ci->name, rt_origin_name(ci->origin), r->attempts);
    if (ci->proxy_status[0]) {
        rt_wbuf_addf(out, "Proxy-Status: rotor; error=%s", ci->proxy_status);
        if (r->evidence.n) {
            rt_wbuf_adds(out, "; details=");
            add_sf_string(out, r->evidence);
        }
        rt_wbuf_adds(out, "\r\n");
    }
    if (status == 407)
        rt_wbuf_adds(out, "Proxy-Authenticate: Basic realm=\"rotor\"\r\n");
    if (r->retry_after_s)
        rt_wbuf_addf(out, "Retry-After: %u\r\n", r->retry_after_s);
    if (r->extra_headers)
        rt_wbuf_adds(out, r->extra_headers);
    rt_wbuf_addf(out, "Content-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n",
                 r->json ? "application/json" : "text/plain; charset=utf-8", b.len);
    if (r->close)
        rt_wbuf_adds(out, "Connection: close\r\n");
    rt_wbuf_add(out, "\r\n", 2);
    if (!r->head_only)
        rt_wbuf_add(out, body, b.len);
}
