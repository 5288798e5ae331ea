/* Borrowed byte ranges ("slices") and small helpers over them.
 *
 * A slice never owns its bytes: it points into a buffer somebody else keeps
 * alive (the parser's input, a pool entry, a string literal). Functions that
 * return slices say whose buffer they point into. */
#ifndef ROTOR_CORE_BASE_SLICE_H
#define ROTOR_CORE_BASE_SLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

typedef struct rt_slice {
    const char *p; /* first byte; may be NULL when n == 0 */
    size_t n;      /* length in bytes */
} rt_slice;

#define RT_SLICE_LIT(s) ((rt_slice){ (s), sizeof(s) - 1 })
#define RT_SLICE_NULL ((rt_slice){ NULL, 0 })
#define RT_SLICE_FMT "%.*s"
#define RT_SLICE_ARG(s) (int)(s).n, (s).p

static inline rt_slice rt_slice_from(const char *p, size_t n) { return (rt_slice){ p, n }; }
static inline rt_slice rt_slice_cstr(const char *s) { return (rt_slice){ s, s ? strlen(s) : 0 }; }

static inline bool rt_slice_eq(rt_slice a, rt_slice b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

/* ASCII case-insensitive comparison with a NUL-terminated literal. */
static inline bool rt_slice_eq_ci(rt_slice a, const char *lit)
{
    size_t n = strlen(lit);
    return a.n == n && (n == 0 || strncasecmp(a.p, lit, n) == 0);
}

/* Copy the NUL-terminated src into dst of cap bytes, cutting it if needed;
 * dst is always terminated (cap > 0). A cheap stand-in for snprintf("%s"). */
static inline void rt_strlcpy(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strnlen(src, cap - 1) : 0;
    if (n)
        memcpy(dst, src, n);
    dst[n] = 0;
}

#endif
