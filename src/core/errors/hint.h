/* Case-specific advice added to a failure's fix line, as the guide's
 * fixes are specific: for a 407 the pool entry is checked, for a target's
 * block or challenge the client's own request is checked (the usual cause
 * behind "403 across many IPs"), for timeouts the deadlines are compared.
 * Pure: the caller passes what it knows. */
#ifndef ROTOR_CORE_ERRORS_HINT_H
#define ROTOR_CORE_ERRORS_HINT_H

#include <stddef.h>
#include <stdint.h>

#include "core/errors/vocab.h"
#include "core/http/http1.h"
#include "core/pool/upstream.h"

#define RT_HINT_MAX 320 /* hint text including the NUL */

typedef struct rt_hint_in {
    rt_code code;
    const rt_http_head *client;   /* the client's request head (User-Agent, Accept...), or NULL */
    const rt_upstream *entry;     /* the pool entry of the failed attempt, or NULL */
    uint32_t read_timeout_ms;     /* rotor's wait for a response head */
    uint32_t request_timeout_ms;  /* rotor's deadline for the whole request */
    uint32_t elapsed_ms;          /* how long the request took so far */
    rt_slice evidence;            /* the failure's evidence, for advice that depends
                                   * on what was seen (proxy_tls_failed); may be empty */
} rt_hint_in;

/* Write advice for this case into out (always NUL-terminated); returns its
 * length, 0 when there is nothing to add to the fix line. */
size_t rt_hint(const rt_hint_in *in, char *out, size_t cap);

#endif
