/* Fuzz the Retry-After, X-RateLimit-Reset and HTTP-date parsers: no input
 * may crash them, read outside the slice, or yield a delay above the clamp.
 * The first 8 bytes choose the wall clock, the rest is the field value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/policy/retry_after.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t now = 1709251199000ull;
    if (size >= 8) {
        memcpy(&now, data, 8);
        now %= 253402300800000ull; /* keep the clock before year 10000 */
        data += 8;
        size -= 8;
    }
    /* A private copy so reads past the end are caught by ASan. */
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    rt_slice v = rt_slice_from(buf, size);

    uint64_t d = 0;
    int r = rt_retry_after_parse(v, now, &d);
    if (r != RT_RETRY_AFTER_INVALID && d > RT_RETRY_AFTER_MAX_MS)
        abort();
    if (r == RT_RETRY_AFTER_CLAMPED && d != RT_RETRY_AFTER_MAX_MS)
        abort();
    r = rt_ratelimit_reset_parse(v, now, &d);
    if (r != RT_RETRY_AFTER_INVALID && d > RT_RETRY_AFTER_MAX_MS)
        abort();
    int64_t t;
    if (rt_http_date_parse(v, now, &t) == 0 && (t < -62167219200ll || t > 253402300800ll))
        abort(); /* outside years 0000..9999 */
    free(buf);
    return 0;
}
