/* Failure signatures: data that says which layer generated a response and
 * what it means (src/core/errors/signatures.txt documents the format).
 *
 * A signature set is built once at start-up: the built-in entries (the data
 * file embedded at build time) plus optional `--signatures FILE` entries,
 * which are tried before the built-ins. After loading, a set is read-only and
 * may be shared by threads (regexec on a compiled regex_t is thread-safe).
 *
 * Matching cost is bounded: header checks come first; body patterns run only
 * when the caller allows body sniffing, each pattern is gated by a literal
 * anchor found with one memmem() per distinct anchor over the lowercased
 * body, and a body regex only runs in a window around its anchor. */
#ifndef ROTOR_CORE_ERRORS_SIG_H
#define ROTOR_CORE_ERRORS_SIG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/base/slice.h"
#include "core/errors/vocab.h"
#include "core/http/http1.h"

#define RT_SIG_MAX 512          /* entries in one set */
#define RT_SIG_ID_MAX 48        /* id length including the NUL */
#define RT_SIG_MAX_HDR 8        /* header / header-not lines per entry */
#define RT_SIG_MAX_BODY 12      /* body / body-re lines per entry */
#define RT_SIG_MAX_STATUS 8     /* status values or ranges per entry */
#define RT_SIG_ANCHOR_MAX 1024  /* distinct body anchors in one set */
#define RT_SIG_ANCHOR_MIN 3     /* shortest literal accepted as an anchor */
#define RT_SIG_TEXT_MAX 255     /* longest pattern, literal or regex */
#define RT_SIG_QUANT_MAX 16     /* quantifiers (* + ? {}) in one regex */
#define RT_SIG_LINE_MAX 1024    /* longest line in a signature file */
#define RT_SIG_FILE_MAX (1u << 20) /* largest signature file read */
#define RT_SIG_BODY_MAX 16384   /* body bytes a signature can look at */
#define RT_SIG_RE_BEFORE 512    /* body regex window before its anchor */
#define RT_SIG_RE_AFTER 1024    /* ... and after the anchor's start */
#define RT_SIG_WHAT_MAX 120     /* text describing what matched */
#define RT_SIG_VALUE_MAX 1024   /* header value / reason bytes a regex sees */

typedef struct rt_sigset rt_sigset;

typedef enum rt_sig_layer {
    RT_SIG_LAYER_PROXY = 1,
    RT_SIG_LAYER_TARGET,
    RT_SIG_LAYER_EITHER,
} rt_sig_layer;

/* An empty set. Returns NULL only when out of memory. */
rt_sigset *rt_sigset_new(void);
/* Frees the set and every compiled pattern; NULL is fine. */
void rt_sigset_free(rt_sigset *s);
size_t rt_sigset_count(const rt_sigset *s);
/* Id of the i-th entry in match order, NULL when i is out of range. */
const char *rt_sigset_id(const rt_sigset *s, size_t i);

/* Parse signatures from text (`name` is used in messages, e.g. a path) and
 * put them in front of the entries already in the set. All or nothing:
 * returns 0, or -1 with "name:line: why" in err and the set unchanged. */
int rt_sig_load_text(rt_sigset *s, const char *text, size_t len, const char *name,
                     char *err, size_t errlen);
/* (Reading a signatures file from disk is io_sig_load_file, in io/files.h.) */
/* Load the entries compiled into the binary. */
int rt_sigset_add_builtin(rt_sigset *s, char *err, size_t errlen);

/* The embedded data file (generated at build time by cmake/generated.cmake). */
extern const char rt_sig_builtin_text[];
extern const size_t rt_sig_builtin_len;

/* One response as the matcher sees it. Slices borrow the caller's buffers. */
typedef struct rt_sig_ctx {
    int status;
    bool connect_reply;  /* the proxy's answer to our CONNECT */
    bool via_proxy;      /* false: no proxy on the path, proxy entries skipped */
    bool sniff_body;     /* false: body patterns never match */
    rt_slice reason;
    const rt_http_hdr *hdrs;
    size_t nhdrs;
    rt_slice body;       /* only the first RT_SIG_BODY_MAX bytes are used */
    rt_slice host;       /* target host, for `host` conditions */
} rt_sig_ctx;

typedef struct rt_sig_hit {
    char id[RT_SIG_ID_MAX];
    rt_sig_layer layer;
    rt_code code;        /* RT_E__COUNT for an identity entry */
    rt_code code_proxy;  /* layer either: the code if the proxy generated it */
    char what[RT_SIG_WHAT_MAX]; /* e.g. "header X-Squid-Error: ERR_DNS_FAIL 0" */
} rt_sig_hit;

typedef struct rt_sig_result {
    bool proxy_generated; /* a proxy identity or decisive proxy entry matched */
    rt_sig_hit mark;      /* the first proxy identity entry that matched */
    bool have_decisive;
    rt_sig_hit decisive;  /* first proxy/target entry with a code that matched */
    bool have_either;
    rt_sig_hit either;    /* first stock page (layer either) that matched */
} rt_sig_result;

/* Run the set (may be NULL: nothing matches) over one response. Identity
 * entries run first; target entries are skipped for CONNECT replies and once
 * a proxy identity matched; the first decisive match ends the scan. */
void rt_sig_match(const rt_sigset *s, const rt_sig_ctx *ctx, rt_sig_result *out);

#endif
