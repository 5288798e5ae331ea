/* Upstream proxy entries: parsing one entry in any accepted form, and the
 * pool file (one entry a line).
 *
 * Accepted forms (DESIGN.md "Pool file"):
 *   http://user:pass@host:port     user:pass@host:port
 *   host:port:user:pass            host:port            direct
 *   https://user:pass@host[:port]  (TLS to the proxy; port 443 by default)
 * each optionally followed by " #label". Every form but https:// needs an
 * explicit port: a plain proxy has no standard one. Credentials in URL forms are
 * percent-decoded ("p%40ss" is "p@ss"); in host:port:user:pass the password
 * is everything after the third colon, taken literally. IPv6 hosts are
 * written in brackets. "{session}" in the username marks a backconnect
 * session slot. Passwords are never put in error messages. */
#ifndef ROTOR_CORE_POOL_UPSTREAM_H
#define ROTOR_CORE_POOL_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Named limits. An entry is one line of a pool file; hosts follow DNS (at
 * most 253 bytes, one spare); credentials are bounded so the Basic value
 * always fits a header line; labels stay short because they appear in
 * every log line and metric. Generated duplicate suffixes ("#2") may add
 * up to RT_UP_LABEL_SUFFIX_MAX bytes to a label. */
#define RT_UP_ENTRY_MAX 4096
#define RT_UP_HOST_MAX 255
#define RT_UP_USER_MAX 1024
#define RT_UP_PASS_MAX 1024
#define RT_UP_LABEL_MAX 128
#define RT_UP_LABEL_SUFFIX_MAX 21
#define RT_UP_SESSION_MAX 256
/* Pool files: bytes read at most, and entries at most. */
#define RT_POOL_FILE_MAX (64u * 1024u * 1024u)
#define RT_POOL_ENTRIES_MAX 2000000u

typedef enum rt_up_scheme {
    RT_UP_DIRECT = 0, /* no proxy: connect to the target itself */
    RT_UP_HTTP,       /* HTTP forward proxy with CONNECT */
    RT_UP_HTTPS,      /* the same, reached over TLS: the proxy's certificate is
                       * verified against `host` before anything is sent */
    /* later: RT_UP_SOCKS5 */
} rt_up_scheme;

typedef struct rt_upstream {
    rt_up_scheme scheme;
    char *host;          /* owned; NULL for direct; IPv6 without brackets */
    uint16_t port;       /* never 0 for a proxy (https:// without a port: 443) */
    char *user;          /* owned, decoded; NULL when none */
    char *pass;          /* owned, decoded; NULL when none; never NULL when
                          * user is set ("" for "user:@host:port") */
    char *label;         /* owned; the " #label" or "host:port" ("[v6]:port",
                          * "direct"); never credentials */
    bool session_slot;   /* user contains "{session}" */
    char *auth_basic;    /* owned: "Basic <b64(user:pass)>" when credentials and no
                          * session slot (precomputed once), else NULL */
} rt_upstream;

/* Parse one entry (no leading/trailing whitespace expected, but tolerated).
 * Returns 0, or -1 with a human reason in err (e.g. "'@' in password must be
 * written %40"). */
int rt_upstream_parse(const char *s, size_t n, rt_upstream *out, char *err, size_t errlen);
void rt_upstream_clear(rt_upstream *u);

/* Build the Proxy-Authorization value for `u`, filling a session slot with
 * `session` (ignored without a slot; NULL counts as ""). Writes at most cap
 * bytes including NUL; returns the length, 0 if the entry has no
 * credentials, or -1 if it does not fit or the session holds a byte that
 * cannot be part of a Basic user-id (':' or a control character, RFC 7617
 * section 2) or is longer than RT_UP_SESSION_MAX. */
int rt_upstream_auth(const rt_upstream *u, const char *session, char *out, size_t cap);

typedef struct rt_pool {
    rt_upstream *v;      /* owned array */
    size_t n;
    char *source;        /* owned: file name it came from, for messages */
} rt_pool;

/* Parse a whole pool text. `name` is used in messages ("pool.txt:7: ...").
 * On any bad line nothing is loaded: returns -1 with err set to
 * "NAME:LINE: reason". An empty pool (no entries) is an error too. */
int rt_pool_parse(const char *name, const char *text, size_t len, rt_pool *out,
                  char *err, size_t errlen);
/* (Reading a pool file from disk is io_pool_load, in io/files.h.) */
void rt_pool_clear(rt_pool *p);

#endif
