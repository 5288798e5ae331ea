/* See basic.h. */
#include "core/http/basic.h"

#include <limits.h>
#include <string.h>

#include "core/base/wbuf.h"

int rt_basic_value(const char *plain, size_t n, char *out, size_t cap)
{
    if (cap == 0)
        return -1;
    rt_wbuf w;
    rt_wbuf_init(&w, out, cap - 1);
    rt_wbuf_adds(&w, "Basic ");
    rt_wbuf_add_base64(&w, plain, n);
    if (w.overflow || w.len > (size_t)INT_MAX) {
        out[0] = '\0';
        return -1;
    }
    out[w.len] = '\0';
    return (int)w.len;
}

bool rt_basic_equal(rt_slice got, const char *want)
{
    size_t n = strlen(want);
    unsigned char diff = (unsigned char)(got.n != n);
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(want[i] ^ (i < got.n ? got.p[i] : 0));
    return diff == 0;
}
