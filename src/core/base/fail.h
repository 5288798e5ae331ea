/* The error-message convention of the core's parsers: a function that fails
 * writes one line saying why into the caller's err buffer and returns -1. */
#ifndef ROTOR_CORE_BASE_FAIL_H
#define ROTOR_CORE_BASE_FAIL_H

#include <stddef.h>

/* Formats the message into err (errlen bytes, cut to fit; nothing is written
 * when err is NULL or errlen is 0). Always returns -1, so a parser can
 * `return rt_fail(err, errlen, "...", ...)`. */
int rt_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
