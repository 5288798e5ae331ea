/* The error vocabulary: one enum, one table (vocab.def), one lookup.
 * Gateway, diagnose, logs, metrics and docs all speak these codes. */
#ifndef ROTOR_CORE_ERRORS_VOCAB_H
#define ROTOR_CORE_ERRORS_VOCAB_H

#include <stddef.h>

#include "core/errors/taxonomy.h"

typedef enum rt_code {
#define X(code, origin, cls, status, pstype, fix) RT_E_##code,
#include "core/errors/vocab.def"
#undef X
    RT_E__COUNT
} rt_code;

typedef struct rt_code_info {
    const char *name;         /* "proxy_auth_failed" */
    rt_origin origin;
    rt_class cls;
    int status;               /* status rotor answers with; 0 = pass through */
    const char *proxy_status; /* RFC 9209 error type, "" if none */
    const char *fix;          /* one-line fix */
} rt_code_info;

const rt_code_info *rt_code_get(rt_code c); /* never NULL; out of range -> gateway_internal_error */
const char *rt_code_name(rt_code c);
/* Look a code up by name; returns RT_E__COUNT when unknown. */
rt_code rt_code_by_name(const char *name, size_t n);

#endif
