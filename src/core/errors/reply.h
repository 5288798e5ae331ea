/* Responses rotor generates itself: status line, the DESIGN.md headers
 * (Via, X-Rotor-Error, X-Rotor-Origin, X-Rotor-Attempts, RFC 9209
 * Proxy-Status) and a short body naming what happened, where, and the fix,
 * as text or as JSON when the client asked for application/json. */
#ifndef ROTOR_CORE_ERRORS_REPLY_H
#define ROTOR_CORE_ERRORS_REPLY_H

#include "core/base/wbuf.h"
#include "core/errors/vocab.h"

typedef struct rt_reply {
    rt_code code;
    int status;             /* 0: the vocabulary's status */
    unsigned attempts;      /* X-Rotor-Attempts */
    rt_slice evidence;      /* what was seen ("connect(): ECONNREFUSED"); may be empty */
    rt_slice hint;          /* case-specific advice to add to the fix; may be empty */
    rt_slice where;         /* the hop, e.g. "upstream lab-p1 (127.0.0.1:9001)"; may be empty */
    uint32_t retry_after_s; /* > 0: add Retry-After */
    bool json;              /* client sent Accept: application/json */
    bool close;             /* add Connection: close */
    bool head_only;         /* answer to HEAD: no body bytes, same headers */
    const char *extra_headers; /* preformatted "Name: value\r\n" lines, or NULL */
} rt_reply;

/* Write the whole response (head and body) to out. */
void rt_reply_write(rt_wbuf *out, const rt_reply *r);

/* Human reason phrase for a status rotor generates. */
const char *rt_reason_phrase(int status);

#endif
