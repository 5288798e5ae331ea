/* Byte classes shared by the HTTP/1.1 head parser, the request-target parser
 * and the chunked scanner (RFC 9110 section 5.6.2, RFC 9112, RFC 3986).
 *
 * One 256-entry table answers "is this byte a tchar / field-value byte /
 * ..." with a single load, so the hot loops never call a function per byte.
 * Internal to src/core/http; not a public contract. */
#ifndef ROTOR_CORE_HTTP_CHARS_H
#define ROTOR_CORE_HTTP_CHARS_H

#include <stdint.h>

enum {
    RT_CC_TOKEN = 0x01,   /* tchar (RFC 9110 section 5.6.2) */
    RT_CC_FVAL = 0x02,    /* field-vchar, SP or HTAB: HTAB, 0x20-0x7E, 0x80-0xFF */
    RT_CC_TARGET = 0x04,  /* request-target byte: VCHAR except '#' */
    RT_CC_HEX = 0x08,     /* HEXDIG */
    RT_CC_REGNAME = 0x10, /* unreserved / sub-delims (RFC 3986 reg-name, no '%') */
    RT_CC_OWS = 0x20,     /* SP / HTAB */
    RT_CC_DIGIT = 0x40,   /* DIGIT */
    RT_CC_SCHEME = 0x80,  /* ALPHA / DIGIT / "+" / "-" / "." */
};

/* Class bits for every byte value. */
extern const uint8_t rt_http_cc[256];
/* ASCII lower-case mapping (other bytes map to themselves). */
extern const uint8_t rt_http_lc[256];
/* Value of a hex digit, or 0xFF for any other byte. */
extern const uint8_t rt_http_hexval[256];

#endif
