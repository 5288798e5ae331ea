/* The pure half of `rotor diagnose`: reading what the probes saw.
 *
 * The I/O side (src/cli/diagnose*.c) sends requests and hands the answers
 * here: showing a pool entry without its password, recovering host:port
 * from an entry the pool parser refused for its credentials, the exit IP an
 * IP-echo page shows, the realm of an authentication challenge, the
 * intermediary a Via field names, the verdict of the with/without
 * credentials comparison, and the pattern of a run of samples (the
 * guide's step 5: failures that follow particular exits, grow over time,
 * or look random). No I/O, no clock, no allocation. */
#ifndef ROTOR_CORE_DIAG_DIAG_H
#define ROTOR_CORE_DIAG_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/slice.h"
#include "core/errors/vocab.h"
#include "core/pool/upstream.h"

#define RT_DIAG_EXIT_MAX 64     /* an exit identity: IP text or a Via node name */
#define RT_DIAG_EXITS_MAX 32    /* distinct exits tracked in one run of samples */
#define RT_DIAG_SAMPLES_MAX 1000
#define RT_DIAG_SHOW_MAX (RT_UP_HOST_MAX + RT_UP_USER_MAX + 32)
#define RT_DIAG_MASK "****"

/* "http://user:****@host:port", "http://host:port", "[v6]" in brackets, or
 * "direct". The password never appears. Cut to cap (NUL included). */
void rt_diag_show_entry(const rt_upstream *u, char *out, size_t cap);

/* Mask the password in raw entry text that may not parse: for text with
 * '@', everything between the first ':' after the user (past any
 * "scheme://") and the last '@' becomes "****"; for host:port:user:pass,
 * everything after the third ':' (up to a " #label"). Text with no password
 * is copied. Cut to cap (NUL included). */
void rt_diag_mask_text(const char *s, size_t n, char *out, size_t cap);

/* Did the pool parser refuse the entry for its user or password (a raw '@',
 * ':' or '#', a bad %-escape)? Those are the credential-encoding mistakes
 * step 2 reports; other parse errors are usage errors. */
bool rt_diag_err_is_credentials(const char *parse_err);

/* For an entry refused for its credentials: the proxy address as a client
 * that splits at the last '@' would read it, so step 1 can still run.
 * Fills out (no credentials) and returns 0, or -1. */
int rt_diag_recover_address(const char *s, size_t n, rt_upstream *out);

/* The exit IP an echo page shows: JSON {"ip": "..."} or {"origin": "a, b"}
 * (the first address), or a body that is one IPv4/IPv6 address (spaces
 * and newlines around it allowed). Returns 0 with out set, or -1. */
int rt_diag_exit_ip(rt_slice body, char *out, size_t cap);

/* From a Proxy-Authenticate / WWW-Authenticate value (RFC 9110 section
 * 11.6.1), the first challenge's scheme ("Basic") and realm parameter
 * (quoted-string unescaped, or a token). Missing parts are "". Returns 0 if
 * a scheme was found, else -1. */
int rt_diag_challenge(rt_slice v, char *scheme, size_t scap, char *realm, size_t rcap);

/* The received-by of the last Via element (RFC 9110 section 7.6.3), i.e.
 * the intermediary nearest to us: "1.1 lab-p2 (squid/6.13)" gives "lab-p2".
 * Returns 0 with out set, or -1 when the value holds no element. */
int rt_diag_via_node(rt_slice via, char *out, size_t cap);

/* Step 2: a request without credentials and one with them (when the entry
 * has any), to the same URL. st_without / st_with are the statuses (0 when
 * that request was not sent). www_auth_with: the answer with credentials
 * was 401 with WWW-Authenticate (tinyproxy's way to say "wrong password"). */
typedef enum rt_diag_auth {
    RT_DIAG_AUTH_OK = 0,         /* 407 without, accepted with credentials */
    RT_DIAG_AUTH_OPEN,           /* no credentials configured, none asked */
    RT_DIAG_AUTH_NOT_NEEDED,     /* accepted with and without: IP whitelist likely */
    RT_DIAG_AUTH_MISSING,        /* 407 and the entry has no credentials */
    RT_DIAG_AUTH_REJECTED,       /* 407 (or tinyproxy's 401) with the credentials sent */
    RT_DIAG_AUTH_REJECTED_OPEN,  /* accepted without credentials, rejected with them */
} rt_diag_auth;

rt_diag_auth rt_diag_auth_judge(bool have_creds, int st_without, int st_with, bool www_auth_with);
const char *rt_diag_auth_name(rt_diag_auth a);
static inline bool rt_diag_auth_failed(rt_diag_auth a)
{
    return a == RT_DIAG_AUTH_MISSING || a == RT_DIAG_AUTH_REJECTED || a == RT_DIAG_AUTH_REJECTED_OPEN;
}

/* Step 5: one sample. ip is the exit an echo page showed ("" if none),
 * node the Via node that answered ("" if none). */
typedef struct rt_diag_sample {
    rt_code code;
    int status;
    uint32_t ms;
    char ip[RT_DIAG_EXIT_MAX];
    char node[RT_DIAG_EXIT_MAX];
} rt_diag_sample;

typedef enum rt_diag_pattern_kind {
    RT_DIAG_PAT_NONE = 0,      /* every sample succeeded */
    RT_DIAG_PAT_PERSISTENT,    /* every sample failed: not intermittent */
    RT_DIAG_PAT_EXITS,         /* failures follow particular exits */
    RT_DIAG_PAT_GROWING,       /* failures grow over time */
    RT_DIAG_PAT_RANDOM,        /* failures spread over several exits */
    RT_DIAG_PAT_INTERMITTENT,  /* failures with fewer than two exits known */
} rt_diag_pattern_kind;

typedef struct rt_diag_exit_stat {
    char exit[RT_DIAG_EXIT_MAX]; /* the IP, or "via NODE" when only a Via named it */
    unsigned n, failed;
    bool bad;                    /* RT_DIAG_PAT_EXITS: one of the failing exits */
} rt_diag_exit_stat;

typedef struct rt_diag_pattern {
    rt_diag_pattern_kind kind;
    unsigned n, failed;
    unsigned first_fail;         /* index of the first failure (n when none) */
    unsigned failed_first_half, failed_second_half;
    rt_code top_code;            /* the most frequent failure (ok when none) */
    unsigned top_count;
    size_t nexits;
    rt_diag_exit_stat exits[RT_DIAG_EXITS_MAX];
    unsigned unattributed;       /* samples whose exit is not known */
    uint32_t ms_min, ms_median, ms_max;
} rt_diag_pattern;

/* Judge n samples (at most RT_DIAG_SAMPLES_MAX are read), in time order.
 * An exit is the echoed IP; a sample with only a Via node takes the IP
 * that node showed on other samples when it always showed the same one,
 * else "via NODE". Decision order: none / persistent; failures that make
 * up the whole tail from their first occurrence (at least two, after at
 * least one success) are growing; with two or more known exits, failures
 * of which at least 80% fall on exits failing at least two times in three,
 * while another exit never failed, follow particular exits; with six or
 * more samples, a failure rate per third that never falls, is at most 0.25
 * in the first third, at least 0.75 in the last and 0.5 above the first is
 * growing; else
 * random (two or more exits) or intermittent. */
void rt_diag_pattern_of(const rt_diag_sample *s, size_t n, rt_diag_pattern *out);
const char *rt_diag_pattern_name(rt_diag_pattern_kind k);

#endif
