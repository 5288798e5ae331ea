/* Per-second history (the dashboard's charts and the API's rates) and the
 * terminal status line. Once a second the admin thread reads the workers'
 * totals and keeps the difference to the second before. */
#include <stdio.h>
#include <string.h>

#include "admin/adm_int.h"
#include "gateway/gw_int.h"
#include "io/clock.h"

static uint32_t delta(uint64_t now, uint64_t before)
{
    uint64_t d = now >= before ? now - before : 0;
    return d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

void adm_history_tick(adm_server *a)
{
    gw_totals t;
    gw_stats_totals(a->s, &t);
    adm_point *p = &a->hist[a->nhist % ADM_HISTORY];
    memset(p, 0, sizeof *p);
    p->t_ms = io_wall_ms();
    uint64_t att = 0, att_before = 0;
    for (unsigned c = 0; c < RT_E__COUNT; c++) {
        uint32_t d = delta(t.req[c], a->last.req[c]);
        p->code[c] = d;
        p->requests += d;
        if (c == RT_E_ok)
            p->ok += d;
        else
            p->origin[rt_code_get((rt_code)c)->origin] += d;
        att += t.att[c];
        att_before += a->last.att[c];
    }
    p->attempts = delta(att, att_before);
    p->retries = delta(t.retries, a->last.retries);
    a->last = t;
    a->nhist++;
    a->ticks++;
}

unsigned adm_history_sum(const adm_server *a, unsigned secs, adm_point *sum)
{
    memset(sum, 0, sizeof *sum);
    unsigned n = 0;
    for (uint64_t k = a->nhist; k > 0 && n < secs && n < ADM_HISTORY; k--, n++) {
        const adm_point *p = &a->hist[(k - 1) % ADM_HISTORY];
        sum->requests += p->requests;
        sum->ok += p->ok;
        sum->retries += p->retries;
        sum->attempts += p->attempts;
        for (unsigned o = 0; o < ADM_ORIGINS; o++)
            sum->origin[o] += p->origin[o];
        for (unsigned c = 0; c < RT_E__COUNT; c++)
            sum->code[c] += p->code[c];
        if (n == 0)
            sum->t_ms = p->t_ms;
    }
    return n;
}

/* "rotor: 48.2 req/s  97.9% ok  1.4 retries/s  top failure: proxy_refused x12  8 open"
 * on stderr every ADM_STATUS_EVERY_S seconds while requests flow. */
void adm_status_line(adm_server *a)
{
    adm_point sum;
    unsigned n = adm_history_sum(a, ADM_STATUS_EVERY_S, &sum);
    if (!n || !sum.requests)
        return;
    unsigned top = RT_E__COUNT;
    for (unsigned c = 1; c < RT_E__COUNT; c++)
        if (sum.code[c] && (top == RT_E__COUNT || sum.code[c] > sum.code[top]))
            top = c;
    char failure[128] = "";
    if (top < RT_E__COUNT)
        snprintf(failure, sizeof failure, "  top failure: %s x%u (%s)", rt_code_name((rt_code)top), sum.code[top],
                 rt_origin_name(rt_code_get((rt_code)top)->origin));
    fprintf(stderr, "rotor: %.1f req/s  %.1f%% ok  %.1f retries/s%s  %u open\n", (double)sum.requests / n,
            100.0 * sum.ok / sum.requests, (double)sum.retries / n, failure,
            atomic_load(&a->s->clients));
}
