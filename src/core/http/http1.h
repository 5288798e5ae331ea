/* Strict, incremental, zero-copy HTTP/1.1 message-head parser (RFC 9112).
 *
 * Contract (same for requests and responses):
 *   - The caller passes the bytes received so far, always from the start of
 *     the message head. The parser keeps no pointer between calls; it is
 *     cheap to call again when more bytes arrive (it first looks for the end
 *     of the head and returns RT_HP_AGAIN without parsing if it is absent).
 *   - Return value > 0: the head is complete and that many bytes (including
 *     the final CRLF CRLF) were consumed. All slices in the result point into
 *     the caller's buffer and stay valid as long as it does.
 *   - RT_HP_AGAIN: need more bytes (and no limit has been passed yet).
 *   - RT_HP_ERROR: the message is invalid or over a limit. `err` says why,
 *     `err_off` is the byte offset where the parser stopped, and
 *     rt_http_err_status() gives the status to answer with.
 *   - No allocation, no I/O. Header storage is a caller-provided array.
 *
 * Strictness (each leniency would be a named option; there are none yet):
 * lines end in CRLF (bare LF or bare CR is an error), no obs-fold, no
 * whitespace between a field name and the colon, field names are tokens,
 * field values contain no CTLs except HTAB, one SP between request-line
 * parts, HTTP/1.0 or HTTP/1.1 only. Framing (RFC 9112 section 6): both
 * Transfer-Encoding and Content-Length is an error (smuggling vector);
 * several Content-Length values must all be equal, valid decimal and
 * < 2^62; Transfer-Encoding must end in "chunked" for a request (else 501
 * for an unknown coding, 400 if chunked is not last); a response may
 * end with a non-chunked coding (then the body is close-delimited).
 *
 * Decisions beyond the grammar:
 *   - Empty lines (CRLF) before a request-line are skipped (RFC 9112
 *     section 2.2 SHOULD); they count towards max_head and the consumed
 *     length.
 *   - A status line may end right after the code ("HTTP/1.1 200\r\n");
 *     the reason phrase carries no meaning and servers omit the SP.
 *   - A request with Transfer-Encoding in HTTP/1.0 is refused
 *     (RT_HPE_TE_HTTP10); a 1.0 response with it is read until close.
 *   - Transfer codings other than gzip, x-gzip, deflate, compress,
 *     x-compress and chunked in a request give 501, even before chunked.
 *   - Content-Length: 0 gives RT_BODY_LENGTH with content_length 0.
 *   - A tunnel (2xx to CONNECT) or 101 response has keep_alive false: the
 *     connection no longer carries HTTP/1.1 messages. */
#ifndef ROTOR_CORE_HTTP_HTTP1_H
#define ROTOR_CORE_HTTP_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/base/slice.h"

enum { RT_HP_ERROR = -1, RT_HP_AGAIN = -2 };

typedef enum rt_http_err {
    RT_HPE_NONE = 0,
    RT_HPE_REQUEST_LINE,      /* malformed request line */
    RT_HPE_STATUS_LINE,       /* malformed status line */
    RT_HPE_VERSION,           /* not HTTP/1.0 or HTTP/1.1 */
    RT_HPE_LINE_TOO_LONG,     /* request/status line over limits.max_line -> 414 */
    RT_HPE_HEADERS_TOO_LARGE, /* head over limits.max_head -> 431 */
    RT_HPE_TOO_MANY_HEADERS,  /* more fields than the array holds -> 431 */
    RT_HPE_HEADER_NAME,       /* empty name or non-token byte in name */
    RT_HPE_HEADER_SPACE,      /* whitespace before the colon */
    RT_HPE_HEADER_VALUE,      /* CTL (other than HTAB) in a value */
    RT_HPE_OBS_FOLD,          /* line folding */
    RT_HPE_BARE_CR,           /* CR not followed by LF */
    RT_HPE_BARE_LF,           /* LF not preceded by CR */
    RT_HPE_CL_TE,             /* both Content-Length and Transfer-Encoding */
    RT_HPE_CL_INVALID,        /* Content-Length not a valid number / too big */
    RT_HPE_CL_CONFLICT,       /* several different Content-Length values */
    RT_HPE_TE_UNSUPPORTED,    /* transfer coding other than chunked -> 501 */
    RT_HPE_TE_NOT_CHUNKED_LAST, /* chunked not the final coding (request) */
    RT_HPE_HOST,              /* missing (HTTP/1.1) or repeated Host */
    RT_HPE_TARGET,            /* request-target form invalid for the method */
    RT_HPE_TE_HTTP10,         /* Transfer-Encoding in an HTTP/1.0 request */
} rt_http_err;

/* A short English description ("whitespace before colon in a header field"). */
const char *rt_http_err_str(rt_http_err e);
/* The status to answer a client with for this error (400, 414, 431, 501). */
int rt_http_err_status(rt_http_err e);

typedef enum rt_http_method {
    RT_M_OTHER = 0, RT_M_GET, RT_M_HEAD, RT_M_POST, RT_M_PUT, RT_M_DELETE,
    RT_M_OPTIONS, RT_M_PATCH, RT_M_CONNECT, RT_M_TRACE,
} rt_http_method;

/* Safe-to-replay methods (RFC 9110 section 9.2.2). */
bool rt_http_method_idempotent(rt_http_method m);

typedef enum rt_body_kind {
    RT_BODY_NONE = 0,  /* no body follows the head */
    RT_BODY_LENGTH,    /* exactly content_length bytes */
    RT_BODY_CHUNKED,   /* chunked; use rt_chunked to find its end */
    RT_BODY_CLOSE,     /* response only: until the connection closes */
    RT_BODY_TUNNEL,    /* response only: 2xx to CONNECT, bytes become a tunnel */
} rt_body_kind;

typedef struct rt_http_hdr {
    rt_slice name;  /* as received (case preserved) */
    rt_slice value; /* leading and trailing OWS removed */
} rt_http_hdr;

/* A zero field means the default below. */
typedef struct rt_http_limits {
    size_t max_line; /* request line / status line bytes, excluding CRLF */
    size_t max_head; /* whole head including CRLF CRLF */
} rt_http_limits;

#define RT_HTTP_DEFAULT_MAX_LINE 8192
#define RT_HTTP_DEFAULT_MAX_HEAD 65536

/* Fields common to requests and responses. */
typedef struct rt_http_head {
    rt_http_hdr *hdrs;  /* caller-provided array ... */
    size_t max_hdrs;    /* ... of this many entries (set before parsing) */
    size_t nhdrs;       /* filled: number of header fields */
    int minor;          /* 0 for HTTP/1.0, 1 for HTTP/1.1 */
    rt_body_kind body;
    uint64_t content_length; /* valid when body == RT_BODY_LENGTH */
    bool keep_alive;    /* persistent per version and Connection tokens */
    bool has_upgrade;   /* Connection: upgrade with an Upgrade field */
    bool conn_names;    /* Connection lists a field name beyond close, keep-alive, upgrade */
    rt_http_err err;    /* set on RT_HP_ERROR */
    size_t err_off;     /* byte offset of the error */
} rt_http_head;

typedef struct rt_http_req {
    rt_http_head h;
    rt_slice method;
    rt_http_method meth;
    rt_slice target;     /* request-target as sent */
    bool expect_continue;/* Expect: 100-continue */
} rt_http_req;

typedef struct rt_http_resp {
    rt_http_head h;
    int status;          /* 100..999 */
    rt_slice reason;
} rt_http_resp;

/* Parse a request head. `req->h.hdrs` and `req->h.max_hdrs` must be set.
 * limits may be NULL for the defaults. See the file comment for returns. */
ssize_t rt_http_parse_request(const char *buf, size_t len, rt_http_req *req,
                              const rt_http_limits *limits);

/* Parse a response head to a request made with `req_method` (which decides
 * the body: HEAD, 1xx, 204, 304 have none; 2xx to CONNECT is a tunnel). */
ssize_t rt_http_parse_response(const char *buf, size_t len, rt_http_resp *resp,
                               rt_http_method req_method, const rt_http_limits *limits);

/* ---- header helpers (pure, over parsed heads) ---- */

/* First field with this name (ASCII case-insensitive), or NULL. */
const rt_http_hdr *rt_http_find(const rt_http_head *h, const char *name);
/* Does a comma-separated token list (e.g. a Connection value) contain tok?
 * Case-insensitive, OWS around elements ignored. */
bool rt_http_list_has(rt_slice list, const char *tok);
/* True for the hop-by-hop fields rotor never forwards (Connection,
 * Proxy-Connection, Keep-Alive, TE, Trailer, Upgrade, Proxy-Authorization,
 * Proxy-Authenticate) and for any field named in one of the message's
 * Connection values. Transfer-Encoding and Content-Length are framing and
 * are NOT reported here: the forwarder keeps them because it relays bodies
 * verbatim. They and Host stay unreported even when a Connection field
 * names them (a way to make proxies strip framing or routing fields). */
bool rt_http_is_hop_by_hop(const rt_http_head *h, rt_slice name);

/* ---- request-target (RFC 9112 section 3.2) ---- */

typedef enum rt_target_form {
    RT_TF_ORIGIN = 1,   /* /path?q          (addressed to rotor itself) */
    RT_TF_ABSOLUTE,     /* http://host:port/path?q */
    RT_TF_AUTHORITY,    /* host:port        (CONNECT only) */
    RT_TF_ASTERISK,     /* *                (OPTIONS only) */
} rt_target_form;

typedef struct rt_url {
    rt_target_form form;
    rt_slice scheme;    /* "http" / "https" as sent (absolute form only) */
    rt_slice host;      /* without brackets for IPv6 literals */
    uint16_t port;      /* explicit or the scheme's default (80/443) */
    bool has_userinfo;  /* absolute form carried user:pass@ (rejected by gateway) */
    rt_slice path;      /* origin-form part: "/path?q" ("/" when empty) */
} rt_url;

/* Parse and validate a request-target for `meth`. Returns 0 or -1 (then
 * *out is all zero). Slices point into target, except an empty
 * absolute-form path, which is a static "/". Authority and asterisk forms
 * have no scheme and no path; origin-form has no host and port 0. Refused:
 * schemes other than http/https, fragments, "http://host?q" (no path to
 * hold the query), empty or non-reg-name hosts, IPv6 zone identifiers,
 * empty ports, ports outside 1..65535 or with more than five digits. */
int rt_url_parse_target(rt_slice target, rt_http_method meth, rt_url *out);

/* ---- chunked transfer coding (RFC 9112 section 7.1) ---- */

/* Scans a chunked body that is forwarded verbatim: it validates framing and
 * finds where the message ends; it never copies or rewrites data. */
typedef struct rt_chunked {
    int state;          /* private */
    uint64_t remaining; /* private: data bytes left in the current chunk */
    size_t line_len;    /* private: bytes in the current size/trailer line */
} rt_chunked;

#define RT_CHUNK_MAX_LINE 4096 /* size line with extensions, or a trailer line */
#define RT_CHUNK_MAX_TRAILER 65536 /* whole trailer section after the last-chunk */

void rt_chunked_init(rt_chunked *c);
/* Consume up to len bytes. Returns bytes consumed (>= 0); sets *done when
 * the last-chunk, trailers and final CRLF have been consumed (bytes after
 * that are the next message and are not consumed). Returns -1 on a framing
 * error (bad hex, size overflow, missing CRLF, over-long line). */
ssize_t rt_chunked_scan(rt_chunked *c, const char *buf, size_t len, bool *done);

#endif
