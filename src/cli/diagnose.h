/* rotor diagnose: the guide's five-step flowchart against one proxy, or
 * steps 1-3 against every entry of a pool (docs/diagnose.md).
 *
 * diagnose_entry.c sets up the entries under test; diagnose_run.c probes
 * (event loop, io_hc) and diagnose_judge.c judges each step with the
 * classifier and the vocabulary (both through diagnose_int.h); diagnose.c
 * parses options and prints. */
#ifndef ROTOR_CLI_DIAGNOSE_H
#define ROTOR_CLI_DIAGNOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/diag/diag.h"
#include "core/errors/classify.h"
#include "core/pool/upstream.h"

#define DG_STEPS 5
#define DG_NOTES_MAX 8       /* detail lines per step */
#define DG_HINTS_MAX 6       /* case-specific fix lines per step */
#define DG_LINE_MAX 320
#define DG_CONNECT_TO_MAX 16
#define DG_PARALLEL_MAX 256
#define DG_DEFAULT_PARALLEL 32
#define DG_DEFAULT_SAMPLES 10
#define DG_DEFAULT_SLOW_MS 5000
#define DG_DEFAULT_REFERENCE "http://httpbin.org/ip"

/* Exit codes (documented in docs/diagnose.md). */
#define DG_EXIT_OK 0
#define DG_EXIT_INTERNAL 1
#define DG_EXIT_USAGE 2
#define DG_EXIT_STEP(n) (10 + (n)) /* 11..15: step n failed */

typedef enum dg_status { DG_NOTRUN = 0, DG_PASS, DG_WARN, DG_FAIL, DG_SKIP } dg_status;

typedef struct dg_step {
    dg_status st;
    rt_code code;                 /* the failure's code; ok when it passed */
    int64_t ms;                   /* the step's main timing, -1 if none */
    char summary[DG_LINE_MAX];    /* one line for the report */
    char evidence[DG_LINE_MAX];   /* what was seen (classifier evidence) */
    size_t nnotes, nhints;
    char notes[DG_NOTES_MAX][DG_LINE_MAX];
    char hints[DG_HINTS_MAX][DG_LINE_MAX];
} dg_step;

typedef struct dg_connect_to {
    char host[RT_UP_HOST_MAX + 1];
    uint16_t port;
    char to_host[RT_UP_HOST_MAX + 1];
    uint16_t to_port;
} dg_connect_to;

typedef struct dg_opts {
    const char *reference;        /* step 3's URL (an IP-echo page) */
    const char *target;           /* step 4's URL, NULL when none */
    const char *ca_file;
    const char *signatures;       /* extra signature file, or NULL */
    uint32_t connect_ms, read_ms, slow_ms, interval_ms;
    unsigned samples;
    unsigned parallel;
    bool compare_direct;
    size_t nconnect_to;
    dg_connect_to connect_to[DG_CONNECT_TO_MAX];
} dg_opts;

typedef struct dg_sample_out {
    rt_diag_sample s;
    char evidence[96];
} dg_sample_out;

/* One proxy under test and everything found about it. */
typedef struct dg_entry {
    size_t index;                 /* 1-based position in the pool */
    char label[RT_UP_LABEL_MAX + RT_UP_LABEL_SUFFIX_MAX + 1];
    char shown[RT_DIAG_SHOW_MAX]; /* the entry, password masked */
    rt_upstream up;               /* owned */
    bool cred_error;              /* the parser refused the credentials */
    char parse_err[256];
    int last_step;                /* 3 for --pool, 5 otherwise */
    dg_step steps[DG_STEPS];
    int failed_step;              /* 0 when none failed */

    char exit_ip[64];             /* what the reference echoed through the proxy */
    char local_ip[64];            /* what it echoed directly (--compare-direct) */
    int64_t ms_dns, ms_connect, ms_reference, ms_target;
    int ref_status, target_status;
    int32_t retry_after_s;        /* step 4 rate limit: the wait, -1 if none */

    size_t nsamples;
    dg_sample_out *samples;       /* owned, opts.samples entries */
    rt_diag_pattern pattern;

    /* Runner state (diagnose_run.c). */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int stage;
    int st_without;
    bool www_auth_with;
    char realm_without[128], realm_with[128];
    struct dg_run *run;
    struct io_hc *hc;
    struct event *wait_ev;
    bool done;
} dg_entry;

typedef struct dg_run {
    const dg_opts *o;
    dg_entry *entries;
    size_t n;
    size_t next, active, finished;
    struct event_base *base;
    struct evdns_base *dns;
    struct ssl_ctx_st *tls;       /* SSL_CTX for https:// URLs, or NULL */
    struct ssl_ctx_st *proxy_tls; /* SSL_CTX for https:// proxies (system store plus
                                   * --ca-file), or NULL when no entry is one */
    struct rt_sigset *sigs;
    bool progress;                /* a progress line on stderr */
    uint64_t t0_ms, elapsed_ms;
    char err[256];
} dg_run;

/* Set an entry up from raw entry text (a PROXY argument). Returns 0, or -1
 * with a usage message in err (parse errors that are not about the
 * credentials). Credential errors are kept for step 2 to report. */
int dg_entry_from_text(dg_entry *e, const char *text, char *err, size_t errlen);
/* Take ownership of a pool entry (the rt_upstream is moved out of p). */
void dg_entry_from_pool(dg_entry *e, rt_upstream *u, size_t index);
void dg_entry_clear(dg_entry *e);

/* Run every entry to its last step (bounded parallelism, o->parallel).
 * Returns 0, or -1 with run->err set when the loop could not start. */
int dg_run_all(dg_run *run);
void dg_run_clear(dg_run *run);

const char *dg_step_name(int step); /* 1-based */
const char *dg_status_name(dg_status s);

#endif
