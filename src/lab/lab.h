/* rotor lab: a simulated proxy provider pool and simulated target sites on
 * loopback that fail on demand (docs/lab.md), and a small load driver.
 *
 * Both entry points run their own libevent loop on the calling thread and
 * return a process exit code. */
#ifndef ROTOR_LAB_LAB_H
#define ROTOR_LAB_LAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lab_opts {
    const char *scenario;  /* preset name or scenario file; NULL = "healthy" */
    size_t nproxies;       /* 0 = the scenario's count */
    size_t ntargets;       /* extra healthy hosts t1.lab .. tN.lab */
    uint64_t seed;         /* fault draws are reproducible from it */
    int port_base;         /* proxies at base+0.., targets after; 0 = free ports */
    const char *pool_out;  /* pool file to write; NULL = "lab-pool.txt" */
    const char *state_out; /* JSON state file to write once listening; NULL = none */
    const char *user;      /* proxy credentials; NULL = "lab" */
    const char *pass;      /* NULL = "lab" */
    bool no_auth;          /* proxies accept requests without credentials */
    bool proxy_tls;        /* every proxy speaks TLS (as the scenario option `tls`) */
    uint32_t duration_s;   /* stop after this long; 0 = until SIGINT/SIGTERM */
    bool quiet;            /* print nothing but errors */
} lab_opts;

/* Start everything, print what started, write the pool, CA and state files,
 * serve until a signal or the duration ends, clean up. Returns 0 on a clean
 * stop, 1 on a start-up error (reported on stderr). */
int lab_run(const lab_opts *o);

typedef struct lab_drive_opts {
    const char *urls;         /* an http:// URL, or a file of URLs (one a line) */
    const char *proxy;        /* http://[user:pass@]127.0.0.1:PORT */
    uint32_t requests;        /* total requests; default 100 */
    uint32_t concurrency;     /* connections in flight; default 8 */
    uint32_t timeout_ms;      /* per request; default 15000 */
    const char *summary_json; /* write the final figures here; NULL = none */
    const char *title;        /* shown on the live line and summary */
    int progress;             /* 1 live line, 0 none, -1 when stderr is a tty */
} lab_drive_opts;

/* Send the requests through the proxy, show a live line, print a summary.
 * Returns 0 when the run completed (whatever the success rate), 130 when
 * SIGINT/SIGTERM ended it early (the figures so far are still shown), 1 on a
 * usage or start-up error. */
int lab_drive(const lab_drive_opts *o);

#endif
