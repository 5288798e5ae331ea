/* Reading the server's "wait this long" hints: Retry-After (RFC 9110
 * section 10.2.3) and the de-facto X-RateLimit-Reset.
 *
 * Both parsers take the caller's wall clock as Unix milliseconds, because an
 * HTTP-date is an absolute calendar time; the core never reads a clock. The
 * result is a delay from now in milliseconds, which the caller adds to its
 * own monotonic clock. */
#ifndef ROTOR_CORE_POLICY_RETRY_AFTER_H
#define ROTOR_CORE_POLICY_RETRY_AFTER_H

#include <stdint.h>

#include "core/base/slice.h"

/* The longest wait rotor takes from a server. A hint beyond this (a year of
 * delta-seconds, a date in 2090) is clamped to it and flagged: no request is
 * held for more than a day on one server's word. */
#define RT_RETRY_AFTER_MAX_MS (24ull * 60 * 60 * 1000)

/* Return values of the parsers below. */
#define RT_RETRY_AFTER_OK 0
#define RT_RETRY_AFTER_CLAMPED 1 /* valid, but the delay was cut to RT_RETRY_AFTER_MAX_MS */
#define RT_RETRY_AFTER_INVALID (-1)

/* Parse a Retry-After field value: delay-seconds (1*DIGIT) or an HTTP-date
 * in any of the three forms of RFC 9110 section 5.6.7 (IMF-fixdate, and the
 * obsolete RFC 850 and asctime forms recipients must accept). Surrounding
 * spaces and tabs are ignored.
 * Returns RT_RETRY_AFTER_OK or RT_RETRY_AFTER_CLAMPED with *delay_ms set
 * (a date in the past or now gives 0), or RT_RETRY_AFTER_INVALID with
 * *delay_ms untouched: the caller then falls back to its own backoff. */
int rt_retry_after_parse(rt_slice value, uint64_t now_unix_ms, uint64_t *delay_ms);

/* The delay-seconds form only (1*DIGIT, spaces and tabs around ignored):
 * seconds clamped to RT_RETRY_AFTER_MAX_MS / 1000, or -1 for anything else
 * (an HTTP-date included). For callers that only ask "did the server name a
 * wait", without a clock. */
int64_t rt_retry_after_seconds(rt_slice value);

/* Parse X-RateLimit-Reset. Providers disagree on its meaning, so the value
 * (digits, optionally with a fraction such as "1700000000.25") is read by
 * magnitude:
 *   below 10^9           seconds to wait (10^9 s is 31 years: no sane delta)
 *   10^9 up to 10^12     Unix epoch seconds (10^9 is September 2001)
 *   10^12 and above      Unix epoch milliseconds
 * A reset time in the past gives 0. Returns as rt_retry_after_parse. */
int rt_ratelimit_reset_parse(rt_slice value, uint64_t now_unix_ms, uint64_t *delay_ms);

/* Parse an HTTP-date (the three forms above) into Unix seconds. now_unix_ms
 * is needed only to place the two-digit year of the RFC 850 form (RFC 9110
 * section 5.6.7: a year that would be more than 50 years in the future is
 * taken as the most recent past year with those digits).
 * Leniencies: month and day names match ASCII case-insensitively, and the
 * day name is not checked against the date. Fields are range-checked
 * (day within its month, hour <= 23, minute <= 59, second <= 60).
 * Surrounding spaces and tabs are ignored. Returns 0 with *unix_s set,
 * or -1. */
int rt_http_date_parse(rt_slice value, uint64_t now_unix_ms, int64_t *unix_s);

#endif
