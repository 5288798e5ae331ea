/* The lab's scenario model: which simulated proxies and target hosts exist
 * and how each one fails.
 *
 * A scenario is text in a small line format (docs/lab.md), and the named
 * presets are themselves written in that format, so the file parser is the
 * only way a scenario is built. This module is pure: no sockets, no clock
 * reads (time is passed as now_ms), randomness only through rt_rng, so the
 * fault decisions are reproducible from a seed and unit-testable. */
#ifndef ROTOR_LAB_SCENARIO_H
#define ROTOR_LAB_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/rng.h"

#define LAB_MAX_PROXIES 256   /* simulated proxies in one lab */
#define LAB_MAX_HOSTS 32      /* virtual hosts on the target listeners */
#define LAB_HOST_MAX 64       /* bytes of a host name, including NUL */
#define LAB_LABEL_MAX 32      /* bytes of a proxy label, including NUL */
#define LAB_EXIT_MAX 40       /* bytes of an exit identity, including NUL */
#define LAB_NAME_MAX 64       /* bytes of a scenario name, including NUL */
#define LAB_MAX_EXITS 1024    /* per-host table of exits seen (rate limits, bans) */
#define LAB_DEFAULT_PROXIES 10
#define LAB_MAX_DELAY_MS 600000u

/* How a simulated proxy words its own errors. */
typedef enum lab_style {
    LAB_STYLE_SQUID = 0, /* X-Squid-Error, Server: squid, Squid error pages */
    LAB_STYLE_BRD,       /* Bright Data-like x-brd-error / x-brd-err-code */
    LAB_STYLE_RFC9209,   /* only the standard Proxy-Status header */
} lab_style;

/* Per-request proxy faults. Each has a probability; one uniform draw per
 * request picks at most one, in this order. */
typedef enum lab_pfault {
    LAB_PF_NONE = 0,
    LAB_PF_QUOTA,     /* 403 with the provider's quota message */
    LAB_PF_ERR502,    /* provider-generated 502 */
    LAB_PF_ERR503,    /* provider-generated 503 */
    LAB_PF_ERR504,    /* provider-generated 504 */
    LAB_PF_BLACKHOLE, /* the request is read and never answered */
    LAB_PF_RESET,     /* the response is cut by a TCP reset */
    LAB_PF_TRUNCATE,  /* the response is cut by a clean close */
    LAB_PF_SLOW,      /* the first byte waits slow_ms */
    LAB_PF_COUNT
} lab_pfault;

typedef struct lab_proxy_conf {
    char label[LAB_LABEL_MAX]; /* "lab-p3"; appears in the pool file */
    char exit[LAB_EXIT_MAX];   /* "10.77.0.3": a label, never used as an address */
    lab_style style;
    bool refused;              /* the port is reserved but nothing listens */
    bool bad_auth;             /* every credential is rejected with 407 */
    bool tls;                  /* clients speak TLS to it (an https:// proxy), with
                                * the lab CA's certificate for 127.0.0.1/localhost */
    double p[LAB_PF_COUNT];    /* probability of each per-request fault */
    uint32_t slow_ms;          /* first-byte delay of LAB_PF_SLOW */
} lab_proxy_conf;

/* The anti-bot page a banning host serves. */
typedef enum lab_page {
    LAB_PAGE_CLOUDFLARE = 0, /* 403 "Attention Required! | Cloudflare", error 1020 */
    LAB_PAGE_CHALLENGE,      /* 403 "Just a moment...", cf-mitigated: challenge */
    LAB_PAGE_DATADOME,       /* 403 captcha-delivery page with datadome cookie */
    LAB_PAGE_PLAIN,          /* 403 plain nginx "Forbidden" */
} lab_page;

typedef struct lab_host_conf {
    char name[LAB_HOST_MAX]; /* lower case, ends in ".lab" */
    bool down;               /* proxies report a connect failure for it */
    uint32_t rate;           /* requests per window per exit; 0 = unlimited */
    uint32_t window_ms;      /* rate window (fixed window) */
    uint32_t ban_after;      /* requests per exit before a ban; 0 = never */
    uint32_t ban_ms;         /* ban length; 0 = for the lab's lifetime */
    lab_page page;           /* page for banned exits */
    double p503;             /* share of requests answered with 503 */
    uint32_t delay_ms;       /* every response waits this long */
} lab_host_conf;

typedef struct lab_scenario {
    char name[LAB_NAME_MAX];
    size_t nproxies;
    lab_proxy_conf proxy[LAB_MAX_PROXIES];
    size_t nhosts;
    lab_host_conf host[LAB_MAX_HOSTS];
} lab_scenario;

typedef struct lab_preset {
    const char *name;
    const char *summary; /* one line for `rotor lab --list` */
    const char *text;    /* the scenario in the file format */
} lab_preset;

/* The built-in presets; *n receives their count. Static storage. */
const lab_preset *lab_presets(size_t *n);

/* Build a scenario from text in the file format. `nproxies` > 0 fixes the
 * proxy count (it wins over a "proxies N" line); 0 takes the text's count or
 * LAB_DEFAULT_PROXIES. The base hosts (ok.lab, ratelimit.lab, bans.lab,
 * challenge.lab, flaky.lab, slow.lab, down.lab) exist before the text is
 * applied. `srcname` prefixes messages. Returns 0, or -1 with
 * "SRCNAME:LINE: reason" in err. */
int lab_scenario_parse(lab_scenario *sc, const char *srcname, const char *text,
                       size_t len, size_t nproxies, char *err, size_t errlen);

/* Resolve NAME as a preset, else as a file path, and build it. */
int lab_scenario_load(lab_scenario *sc, const char *name_or_file, size_t nproxies,
                      char *err, size_t errlen);

/* Add a healthy host (no faults) named `name` unless it exists. Returns 0,
 * or -1 when the name is not a valid *.lab name or the table is full. */
int lab_scenario_add_host(lab_scenario *sc, const char *name);

/* The host entry for `name` (case-insensitive, port already removed), or NULL. */
const lab_host_conf *lab_scenario_host(const lab_scenario *sc, const char *name, size_t n);

/* A short human description of a proxy's faults ("ok", "refused",
 * "err502=0.10 reset=0.05", ...) into out. */
void lab_proxy_describe(const lab_proxy_conf *pc, char *out, size_t cap);
void lab_host_describe(const lab_host_conf *hc, char *out, size_t cap);

const char *lab_pfault_name(lab_pfault f);

/* Draw this request's fault for a proxy. */
lab_pfault lab_proxy_draw(const lab_proxy_conf *pc, rt_rng *rng);

/* ---- per-exit admission on a target host (rate limits and bans) ---- */

typedef struct lab_exit_state {
    char exit[LAB_EXIT_MAX];
    uint64_t win_start;  /* start of the current rate window */
    uint32_t win_count;  /* requests in the current window */
    uint32_t total;      /* requests ever (towards ban_after) */
    uint64_t banned_at;  /* when the ban started (valid if banned) */
    bool banned;
    uint64_t last_ms;    /* for evicting the least recently seen exit */
} lab_exit_state;

typedef struct lab_host_state {
    size_t n;
    lab_exit_state e[LAB_MAX_EXITS];
} lab_host_state;

typedef enum lab_verdict {
    LAB_V_OK = 0,
    LAB_V_RATE_LIMITED, /* answer 429; *retry_after_s set */
    LAB_V_BANNED,       /* answer 403 with the host's block page */
} lab_verdict;

/* Count one request from `exit` on a host and decide. When the table is
 * full the least recently seen exit is forgotten. */
lab_verdict lab_host_admit(const lab_host_conf *hc, lab_host_state *hs, const char *exit,
                           size_t exitlen, uint64_t now_ms, uint32_t *retry_after_s);

#endif
