/* HTTP Basic credentials (RFC 7617): building a "Basic <base64>" value and
 * checking a received one. Shared by the pool (credentials sent upstream)
 * and the two servers that ask for credentials (the gateway and admin). */
#ifndef ROTOR_CORE_HTTP_BASIC_H
#define ROTOR_CORE_HTTP_BASIC_H

#include <stdbool.h>
#include <stddef.h>

#include "core/base/slice.h"

/* Writes "Basic " base64(plain[0..n)) (RFC 7617 section 2: plain is
 * user-id ":" password) and a NUL into out (cap bytes). Returns the value's
 * length, or -1 with out set to "" when it does not fit. */
int rt_basic_value(const char *plain, size_t n, char *out, size_t cap);

/* Is got equal to want (NUL-terminated)? The time taken depends on want's
 * length only, so a response time says nothing about how much of a guessed
 * credential was right. */
bool rt_basic_equal(rt_slice got, const char *want);

#endif
