/* rotor diagnose, runner-internal: step records and the judges of each
 * step's answers (diagnose_judge.c), shared with the walk that sends the
 * probes (diagnose_run.c) and the entry set-up (diagnose_entry.c). */
#ifndef ROTOR_CLI_DIAGNOSE_INT_H
#define ROTOR_CLI_DIAGNOSE_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "cli/diagnose.h"
#include "core/http/http1.h"
#include "io/hclient.h"

/* Step n (1-based) of an entry. */
static inline dg_step *dg_step_of(dg_entry *e, int n) { return &e->steps[n - 1]; }
static inline bool dg_is_direct(const dg_entry *e) { return e->up.scheme == RT_UP_DIRECT; }

/* Step records: a detail line, a fix line (both dropped once the step
 * holds its bound), and the step's status, code and summary line. */
void dg_note(dg_step *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void dg_hint(dg_step *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void dg_set(dg_step *s, dg_status st, rt_code code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The Proxy-Authorization value for request n of this entry, written to
 * buf (cap bytes); NULL when the entry has no usable credentials. */
const char *dg_auth_value(const dg_entry *e, unsigned n, char *buf, size_t cap);
/* The host of url (parsed into *u); a null slice when url does not parse. */
rt_slice dg_url_host(const char *url, rt_url *u);

/* Judges: each reads one probe's result and fills the entry's steps. */
void dg_judge_connect(dg_entry *e, const io_hc_result *r);                     /* step 1 */
void dg_judge_auth_without(dg_entry *e, const io_hc_result *r);                /* step 2 */
/* True (and step 2 failed) when r has no HTTP answer. */
bool dg_auth_transport_failed(dg_entry *e, const io_hc_result *r, bool creds);
void dg_judge_auth(dg_entry *e, const io_hc_result *with);                     /* with: NULL if none sent */
void dg_judge_account(dg_entry *e, const io_hc_result *r);
void dg_judge_cred_error(dg_entry *e);
void dg_judge_reference(dg_entry *e, const io_hc_result *r, bool creds);       /* step 3 */
void dg_judge_reference_direct(dg_entry *e, const io_hc_result *r);
void dg_judge_target(dg_entry *e, const io_hc_result *r);                      /* step 4 */
void dg_judge_target_direct(dg_entry *e, const io_hc_result *r);
void dg_record_sample(dg_entry *e, const io_hc_result *r, const char *url);    /* step 5 */
void dg_judge_samples(dg_entry *e);

#endif
