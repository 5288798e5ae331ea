/* rotor diagnose: step names, step records and the entries under test
 * (from a PROXY argument or a pool file). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli/diagnose_int.h"
#include "core/diag/diag.h"

const char *dg_step_name(int step)
{
    static const char *const names[] = { "reach the proxy", "authentication", "proxy reaches reference",
                                         "target through proxy", "intermittency" };
    return step >= 1 && step <= DG_STEPS ? names[step - 1] : "?";
}

const char *dg_status_name(dg_status s)
{
    switch (s) {
    case DG_PASS: return "pass";
    case DG_WARN: return "warn";
    case DG_FAIL: return "fail";
    case DG_SKIP: return "skipped";
    default: return "not_run";
    }
}

/* ==== step records ==== */

void dg_note(dg_step *s, const char *fmt, ...)
{
    if (s->nnotes == DG_NOTES_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->notes[s->nnotes++], DG_LINE_MAX, fmt, ap);
    va_end(ap);
}

void dg_hint(dg_step *s, const char *fmt, ...)
{
    if (s->nhints == DG_HINTS_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->hints[s->nhints++], DG_LINE_MAX, fmt, ap);
    va_end(ap);
}

void dg_set(dg_step *s, dg_status st, rt_code code, const char *fmt, ...)
{
    s->st = st;
    s->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->summary, sizeof s->summary, fmt, ap);
    va_end(ap);
}

/* ==== entries ==== */

static void entry_init(dg_entry *e)
{
    memset(e, 0, sizeof *e);
    for (int i = 1; i <= DG_STEPS; i++)
        dg_step_of(e, i)->ms = -1;
    e->ms_dns = e->ms_connect = e->ms_reference = e->ms_target = -1;
    e->retry_after_s = -1;
    e->last_step = DG_STEPS;
}

int dg_entry_from_text(dg_entry *e, const char *text, char *err, size_t errlen)
{
    entry_init(e);
    e->index = 1;
    size_t n = strlen(text);
    char perr[256];
    if (rt_upstream_parse(text, n, &e->up, perr, sizeof perr) == 0) {
        rt_diag_show_entry(&e->up, e->shown, sizeof e->shown);
        snprintf(e->label, sizeof e->label, "%s", e->up.label);
        return 0;
    }
    rt_diag_mask_text(text, n, e->shown, sizeof e->shown);
    if (rt_diag_err_is_credentials(perr) && rt_diag_recover_address(text, n, &e->up) == 0) {
        /* Keep going with the address alone: step 1 can still be checked,
         * and step 2 reports the parser's precise message. */
        e->cred_error = true;
        snprintf(e->parse_err, sizeof e->parse_err, "%s", perr);
        snprintf(e->label, sizeof e->label, "%s", e->up.label);
        return 0;
    }
    snprintf(err, errlen, "'%s': %s", e->shown, perr);
    return -1;
}

void dg_entry_from_pool(dg_entry *e, rt_upstream *u, size_t index)
{
    entry_init(e);
    e->index = index;
    e->up = *u;
    memset(u, 0, sizeof *u);
    rt_diag_show_entry(&e->up, e->shown, sizeof e->shown);
    snprintf(e->label, sizeof e->label, "%s", e->up.label ? e->up.label : "?");
}

void dg_entry_clear(dg_entry *e)
{
    if (e->hc)
        io_hc_free(e->hc);
    if (e->wait_ev)
        event_free(e->wait_ev);
    free(e->samples);
    rt_upstream_clear(&e->up);
    e->hc = NULL;
    e->wait_ev = NULL;
    e->samples = NULL;
}

/* The Proxy-Authorization value for request n of this entry; NULL when the
 * entry has no credentials. A session slot gets a token per request so a
 * backconnect gateway hands out its usual rotating exits. */
const char *dg_auth_value(const dg_entry *e, unsigned n, char *buf, size_t cap)
{
    if (!e->up.user || e->cred_error)
        return NULL;
    char sess[48];
    snprintf(sess, sizeof sess, "rotordiag%ld%u", (long)getpid(), n);
    return rt_upstream_auth(&e->up, sess, buf, cap) > 0 ? buf : NULL;
}
