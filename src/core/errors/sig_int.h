/* Signature sets, internal: the compiled form of an entry and of a set,
 * shared by the set's own helpers (sig.c), the text format parser
 * (sig_parse.c) and the matcher (sig_match.c). Nothing outside the errors
 * module includes this header; callers use sig.h. */
#ifndef ROTOR_CORE_ERRORS_SIG_INT_H
#define ROTOR_CORE_ERRORS_SIG_INT_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/errors/sig.h"

#define RE_FLAGS (REG_EXTENDED | REG_ICASE | REG_NOSUB)

enum { PH_ANY = 0, PH_CONNECT, PH_RESPONSE };

typedef struct sig_hdr {
    char name[64];   /* lowercased */
    uint32_t hash;   /* of the lowercased name */
    bool negate;     /* header-not */
    bool has_re;     /* false: presence is enough */
    regex_t re;
    char text[RT_SIG_TEXT_MAX + 1];
} sig_hdr;

typedef struct sig_body {
    int anchor;      /* index into the set's anchor table */
    bool is_re;
    regex_t re;
    char text[RT_SIG_TEXT_MAX + 1];
} sig_body;

typedef struct sig {
    char id[RT_SIG_ID_MAX];
    rt_sig_layer layer;
    rt_code code;         /* RT_E__COUNT: identity */
    rt_code code_proxy;
    int phase;
    bool match_any;
    int nst;
    uint16_t st_lo[RT_SIG_MAX_STATUS], st_hi[RT_SIG_MAX_STATUS];
    char host[128];       /* lowercased suffix, "" for any */
    bool has_reason;
    regex_t reason;
    char reason_text[RT_SIG_TEXT_MAX + 1];
    int nhdr;
    sig_hdr hdr[RT_SIG_MAX_HDR];
    int nbody;
    sig_body body[RT_SIG_MAX_BODY];
    /* parse bookkeeping */
    int line;
    bool seen_layer, seen_code, seen_code_proxy, seen_source, seen_status,
        seen_phase, seen_match, seen_vendor, seen_host;
} sig;

typedef struct anchor {
    char *text;  /* lowercased; the block also holds skip[] */
    size_t len;  /* 1..RT_SIG_TEXT_MAX */
    /* Case-blind Horspool skip per raw body byte: how far the window may
     * move when that byte ends it. Searching the raw body this way costs
     * about n/len steps, far less than lowercasing it first. */
    const uint8_t *skip;
} anchor;

#define RT_SIG_2XX_CAND 16 /* entries kept per 2xx status */

struct rt_sigset {
    sig *v[RT_SIG_MAX]; /* match order */
    size_t n;
    anchor anchors[RT_SIG_ANCHOR_MAX];
    size_t nanchors;
    /* For each 2xx status, the entries that name it, in match order. An
     * entry without a status never matches a 2xx, so a success (the common
     * case) is judged against these few instead of the whole set.
     * cand_over[k]: more than RT_SIG_2XX_CAND entries: use the whole set. */
    uint16_t cand2xx[100][RT_SIG_2XX_CAND];
    uint8_t ncand2xx[100];
    bool cand_over[100];
};

/* Rebuild the 2xx candidate lists after entries were added. */
void rt_sig_index_2xx(rt_sigset *s);

/* FNV-1a over the lowercased bytes p[0..n): header names are compared by
 * this hash first, both when parsing and when matching. */
uint32_t rt_sig_name_hash(const char *p, size_t n);
/* Frees one entry and its compiled patterns; NULL is fine. */
void rt_sig_entry_free(sig *g);
/* The longest literal run every match of the ERE re must contain, lowercased
 * into out (cap bytes). Returns its length, 0 when there is none or the
 * pattern alternates at top level. */
size_t rt_sig_re_anchor(const char *re, char *out, size_t cap);
/* Index of an anchor equal to text (already lowercased, len bytes) in the
 * set's table, adding it when new; -1 when the table is full or memory
 * runs out. The set owns the copy. */
int rt_sig_anchor_intern(rt_sigset *s, const char *text, size_t len);

#endif
