#include "core/policy/retry_after.h"

#include <stdbool.h>
#include <strings.h>

/* A cursor over the field value; every reader advances it on success only. */
typedef struct cur {
    const char *p, *end;
} cur;

static const char *const months[12] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
static const char *const days_short[7] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
static const char *const days_long[7] = { "Monday", "Tuesday", "Wednesday", "Thursday",
                                          "Friday", "Saturday", "Sunday" };

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static bool take(cur *c, char ch)
{
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

/* Exactly n digits. */
static bool digits(cur *c, int n, int *out)
{
    if (c->end - c->p < n)
        return false;
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(c->p[i]))
            return false;
        v = v * 10 + (c->p[i] - '0');
    }
    c->p += n;
    *out = v;
    return true;
}

/* A run of letters that must equal one of the names; returns its index. */
static int name(cur *c, const char *const *names, int count)
{
    const char *s = c->p;
    while (c->p < c->end && is_alpha(*c->p))
        c->p++;
    size_t n = (size_t)(c->p - s);
    for (int i = 0; i < count; i++)
        if (strlen(names[i]) == n && strncasecmp(names[i], s, n) == 0)
            return i;
    c->p = s;
    return -1;
}

static bool time_of_day(cur *c, int *h, int *m, int *s)
{
    /* time-of-day = hour ":" minute ":" second (RFC 9110 section 5.6.7);
     * 60 is allowed for a leap second. */
    return digits(c, 2, h) && take(c, ':') && digits(c, 2, m) && take(c, ':') &&
           digits(c, 2, s) && *h <= 23 && *m <= 59 && *s <= 60;
}

static bool gmt(cur *c)
{
    return c->end - c->p >= 3 && strncasecmp(c->p, "GMT", 3) == 0 && (c->p += 3, true);
}

static bool leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int month_days(int64_t y, int m)
{
    static const int d[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 1 && leap(y) ? 29 : d[m];
}

/* Days from 1970-01-01 to y-m-d (m 1..12) in the proleptic Gregorian
 * calendar, counting eras of 400 years (146097 days) from 0000-03-01 so
 * leap days fall at the end of each counted year. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t mp = (m + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The civil year holding a Unix time, for the RFC 850 two-digit year. */
static int64_t year_of(uint64_t unix_ms)
{
    int64_t y = 1970 + (int64_t)(unix_ms / 1000 / 86400 / 366);
    while (days_from_civil(y + 1, 1, 1) * 86400 <= (int64_t)(unix_ms / 1000))
        y++;
    return y;
}

static bool finish(int64_t y, int mon, int d, int h, int mi, int s, int64_t *out)
{
    if (d < 1 || d > month_days(y, mon))
        return false;
    *out = days_from_civil(y, mon + 1, d) * 86400 + h * 3600 + mi * 60 + s;
    return true;
}

static rt_slice trim(rt_slice v)
{
    while (v.n > 0 && (v.p[0] == ' ' || v.p[0] == '\t')) {
        v.p++;
        v.n--;
    }
    while (v.n > 0 && (v.p[v.n - 1] == ' ' || v.p[v.n - 1] == '\t'))
        v.n--;
    return v;
}

int rt_http_date_parse(rt_slice v, uint64_t now_unix_ms, int64_t *unix_s)
{
    v = trim(v);
    cur c = { v.p, v.p + v.n };
    int d, mon, y, h, mi, s;
    if (v.n == 0)
        return -1;

    if (name(&c, days_short, 7) >= 0) {
        if (take(&c, ',')) {
            /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
            if (take(&c, ' ') && digits(&c, 2, &d) && take(&c, ' ') &&
                (mon = name(&c, months, 12)) >= 0 && take(&c, ' ') && digits(&c, 4, &y) &&
                take(&c, ' ') && time_of_day(&c, &h, &mi, &s) && take(&c, ' ') && gmt(&c) &&
                c.p == c.end && finish(y, mon, d, h, mi, s, unix_s))
                return 0;
            return -1;
        }
        /* asctime-date: Sun Nov  6 08:49:37 1994, the day padded with a
         * space when it has one digit. */
        if (take(&c, ' ') && (mon = name(&c, months, 12)) >= 0 && take(&c, ' ')) {
            if (take(&c, ' ')) {
                if (!digits(&c, 1, &d))
                    return -1;
            } else if (!digits(&c, 2, &d)) {
                return -1;
            }
            if (take(&c, ' ') && time_of_day(&c, &h, &mi, &s) && take(&c, ' ') &&
                digits(&c, 4, &y) && c.p == c.end && finish(y, mon, d, h, mi, s, unix_s))
                return 0;
        }
        return -1;
    }

    /* rfc850-date: Sunday, 06-Nov-94 08:49:37 GMT */
    if (name(&c, days_long, 7) >= 0 && take(&c, ',') && take(&c, ' ') && digits(&c, 2, &d) &&
        take(&c, '-') && (mon = name(&c, months, 12)) >= 0 && take(&c, '-') &&
        digits(&c, 2, &y) && take(&c, ' ') && time_of_day(&c, &h, &mi, &s) && take(&c, ' ') &&
        gmt(&c) && c.p == c.end) {
        /* RFC 9110 section 5.6.7: more than 50 years ahead means the most
         * recent past year with the same last two digits. */
        int64_t now_y = year_of(now_unix_ms);
        int64_t full = now_y - now_y % 100 + y;
        if (full > now_y + 50)
            full -= 100;
        else if (full <= now_y - 50)
            full += 100;
        /* Near the end of year 9999 the window would leave four-digit
         * years: stay on the representable side (found by fuzzing). */
        if (full > 9999)
            full -= 100;
        return finish(full, mon, d, h, mi, s, unix_s) ? 0 : -1;
    }
    return -1;
}

/* Store a delay, clamped to RT_RETRY_AFTER_MAX_MS. */
static int give(uint64_t ms, uint64_t *delay_ms)
{
    if (ms > RT_RETRY_AFTER_MAX_MS) {
        *delay_ms = RT_RETRY_AFTER_MAX_MS;
        return RT_RETRY_AFTER_CLAMPED;
    }
    *delay_ms = ms;
    return RT_RETRY_AFTER_OK;
}

/* Delay until an absolute Unix time in ms; the past gives 0. */
static int until(uint64_t when_ms, uint64_t now_unix_ms, uint64_t *delay_ms)
{
    return give(when_ms > now_unix_ms ? when_ms - now_unix_ms : 0, delay_ms);
}

/* Parse 1*DIGIT, saturating at `limit` (so a 400-digit value cannot
 * overflow; anything at the limit is clamped by the caller anyway). */
static bool uint_sat(rt_slice v, uint64_t limit, uint64_t *out)
{
    if (v.n == 0)
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < v.n; i++) {
        if (!is_digit(v.p[i]))
            return false;
        x = x > (limit - (unsigned)(v.p[i] - '0')) / 10 ? limit : x * 10 + (unsigned)(v.p[i] - '0');
    }
    *out = x;
    return true;
}

int64_t rt_retry_after_seconds(rt_slice value)
{
    uint64_t secs;
    if (!uint_sat(trim(value), RT_RETRY_AFTER_MAX_MS, &secs))
        return -1;
    return (int64_t)(secs > RT_RETRY_AFTER_MAX_MS / 1000 ? RT_RETRY_AFTER_MAX_MS / 1000 : secs);
}

int rt_retry_after_parse(rt_slice value, uint64_t now_unix_ms, uint64_t *delay_ms)
{
    rt_slice v = trim(value);
    uint64_t secs;
    /* delay-seconds = 1*DIGIT (RFC 9110 section 10.2.3). The saturation
     * limit is above the clamp so "clamped" is reported for it. */
    if (uint_sat(v, RT_RETRY_AFTER_MAX_MS, &secs))
        return give(secs > RT_RETRY_AFTER_MAX_MS / 1000 ? RT_RETRY_AFTER_MAX_MS + 1 : secs * 1000,
                    delay_ms);
    int64_t t;
    if (rt_http_date_parse(v, now_unix_ms, &t) < 0)
        return RT_RETRY_AFTER_INVALID;
    if (t <= 0)
        return give(0, delay_ms);
    /* Past year 9999 cannot be written in an HTTP-date, so t * 1000 fits. */
    return until((uint64_t)t * 1000, now_unix_ms, delay_ms);
}

#define RESET_EPOCH_S 1000000000ull     /* 10^9: below it, a delta in seconds */
#define RESET_EPOCH_MS 1000000000000ull /* 10^12: from it, epoch milliseconds */

int rt_ratelimit_reset_parse(rt_slice value, uint64_t now_unix_ms, uint64_t *delay_ms)
{
    rt_slice v = trim(value);
    rt_slice ip = v, fp = RT_SLICE_NULL;
    for (size_t i = 0; i < v.n; i++) {
        if (v.p[i] == '.') {
            ip = rt_slice_from(v.p, i);
            fp = rt_slice_from(v.p + i + 1, v.n - i - 1);
            if (fp.n == 0)
                return RT_RETRY_AFTER_INVALID;
            break;
        }
    }
    /* Saturate far above every threshold: 10^15 ms is year 33658. */
    const uint64_t lim = 1000000000000000ull;
    uint64_t whole, frac = 0;
    if (!uint_sat(ip, lim, &whole))
        return RT_RETRY_AFTER_INVALID;
    if (fp.n > 0) {
        uint64_t ignored;
        if (!uint_sat(fp, lim, &ignored))
            return RT_RETRY_AFTER_INVALID;
        /* Milliseconds from the first three fraction digits. */
        for (size_t i = 0; i < 3; i++)
            frac = frac * 10 + (i < fp.n ? (uint64_t)(fp.p[i] - '0') : 0);
    }
    if (whole < RESET_EPOCH_S)
        return give(whole * 1000 + frac, delay_ms);
    if (whole < RESET_EPOCH_MS)
        return until(whole * 1000 + frac, now_unix_ms, delay_ms);
    return until(whole, now_unix_ms, delay_ms);
}
