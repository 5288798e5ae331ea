/* Compile-time byte-class tables (see chars.h). The tables are built by
 * macros from the RFC grammar so they can be read against it, and they are
 * const data: no initialisation at run time, safe from any thread. */
#include "core/http/chars.h"

#define C_ALPHA(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
#define C_DIGIT(c) ((c) >= '0' && (c) <= '9')
/* RFC 9110 section 5.6.2: tchar. */
#define C_TCHAR(c)                                                                      \
    (C_ALPHA(c) || C_DIGIT(c) || (c) == '!' || (c) == '#' || (c) == '$' || (c) == '%' ||  \
     (c) == '&' || (c) == '\'' || (c) == '*' || (c) == '+' || (c) == '-' || (c) == '.' || \
     (c) == '^' || (c) == '_' || (c) == '`' || (c) == '|' || (c) == '~')
/* RFC 9110 section 5.5: field-vchar / SP / HTAB (obs-text included). */
#define C_FVAL(c) ((c) == '\t' || ((c) >= 0x20 && (c) != 0x7f))
/* RFC 9112 section 3.2: the target is a URI reference without fragment. */
#define C_TARGET(c) ((c) > 0x20 && (c) < 0x7f && (c) != '#')
#define C_HEX(c) (C_DIGIT(c) || ((c) >= 'a' && (c) <= 'f') || ((c) >= 'A' && (c) <= 'F'))
/* RFC 3986 section 2.2 and 2.3. */
#define C_SUBDELIM(c)                                                                   \
    ((c) == '!' || (c) == '$' || (c) == '&' || (c) == '\'' || (c) == '(' || (c) == ')' || \
     (c) == '*' || (c) == '+' || (c) == ',' || (c) == ';' || (c) == '=')
#define C_UNRESERVED(c) (C_ALPHA(c) || C_DIGIT(c) || (c) == '-' || (c) == '.' || (c) == '_' || (c) == '~')
#define C_OWS(c) ((c) == ' ' || (c) == '\t')
#define C_SCHEME(c) (C_ALPHA(c) || C_DIGIT(c) || (c) == '+' || (c) == '-' || (c) == '.')

#define CC(c)                                                                    \
    ((C_TCHAR(c) ? RT_CC_TOKEN : 0) | (C_FVAL(c) ? RT_CC_FVAL : 0) |             \
     (C_TARGET(c) ? RT_CC_TARGET : 0) | (C_HEX(c) ? RT_CC_HEX : 0) |             \
     (C_UNRESERVED(c) || C_SUBDELIM(c) ? RT_CC_REGNAME : 0) |                    \
     (C_OWS(c) ? RT_CC_OWS : 0) | (C_DIGIT(c) ? RT_CC_DIGIT : 0) |               \
     (C_SCHEME(c) ? RT_CC_SCHEME : 0))
#define LC(c) (((c) >= 'A' && (c) <= 'Z') ? (c) + 32 : (c))
#define HV(c)                                                                    \
    (C_DIGIT(c) ? (c) - '0'                                                      \
                : ((c) >= 'a' && (c) <= 'f') ? (c) - 'a' + 10                    \
                : ((c) >= 'A' && (c) <= 'F') ? (c) - 'A' + 10 : 0xFF)

#define X4(F, n) F(n), F((n) + 1), F((n) + 2), F((n) + 3)
#define X16(F, n) X4(F, n), X4(F, (n) + 4), X4(F, (n) + 8), X4(F, (n) + 12)
#define X64(F, n) X16(F, n), X16(F, (n) + 16), X16(F, (n) + 32), X16(F, (n) + 48)
#define X256(F) X64(F, 0), X64(F, 64), X64(F, 128), X64(F, 192)

/* The casts keep compilers that check each ?: arm on its own quiet. */
#define U8_CC(c) ((uint8_t)CC(c))
#define U8_LC(c) ((uint8_t)LC(c))
#define U8_HV(c) ((uint8_t)HV(c))

const uint8_t rt_http_cc[256] = { X256(U8_CC) };
const uint8_t rt_http_lc[256] = { X256(U8_LC) };
const uint8_t rt_http_hexval[256] = { X256(U8_HV) };
