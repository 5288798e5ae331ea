/* Parsing a whole pool text (one upstream entry a line) into an rt_pool.
 *
 * All or nothing: the first bad line fails the whole parse with
 * "NAME:LINE: reason" and every entry parsed before it is released, so a
 * caller reloading a pool keeps its old one intact on error. One pass over
 * the text, one array grown geometrically, and a hash table for duplicate
 * labels keep a 100,000-line pool well under a second. */
#include "core/pool/upstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/fail.h"
#include "core/base/hash.h"
#include "core/base/slice.h"

/* First array allocation; doubled as needed up to RT_POOL_ENTRIES_MAX. */
#define POOL_INITIAL_CAP 64
/* Room for one reason from rt_upstream_parse before "NAME:LINE: " is put
 * in front of it. */
#define REASON_MAX 256

static void free_entries(rt_upstream *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        rt_upstream_clear(&v[i]);
    free(v);
}

/* The keys are labels from the pool file, whose author is the operator. */
static uint64_t fnv1a(const char *p, size_t n) { return rt_fnv1a(RT_FNV_OFFSET, p, n); }

/* Open-addressing set of the labels taken so far. Each slot also keeps the
 * next suffix to try for that label, so n copies of one label cost O(n)
 * in total rather than O(n^2). */
typedef struct label_slot {
    const char *label; /* borrowed from an entry; NULL when the slot is empty */
    size_t len;
    size_t next_suffix;
} label_slot;

typedef struct label_set {
    label_slot *slot;
    size_t mask;
} label_set;

static label_slot *label_find(label_set *s, const char *label, size_t len)
{
    size_t i = (size_t)fnv1a(label, len) & s->mask;
    for (;;) {
        label_slot *sl = &s->slot[i];
        if (!sl->label || (sl->len == len && memcmp(sl->label, label, len) == 0))
            return sl;
        i = (i + 1) & s->mask;
    }
}

/* Make every label unique by appending "#2", "#3", ... to later copies, in
 * file order: labels identify entries in logs and metrics, so two entries
 * must never share one. A generated name that an explicit label already
 * uses is skipped. The table holds at most n labels and has at least 2n
 * slots, so probing always ends. */
static int unique_labels(rt_upstream *v, size_t n, char *err, size_t errlen)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    label_set set = { calloc(cap, sizeof(label_slot)), cap - 1 };
    if (!set.slot)
        return rt_fail(err, errlen, "out of memory");

    char cand[RT_UP_LABEL_MAX + RT_UP_LABEL_SUFFIX_MAX + 1];
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(v[i].label);
        label_slot *base = label_find(&set, v[i].label, len);
        if (!base->label) {
            *base = (label_slot){ v[i].label, len, 2 };
            continue;
        }
        /* Labels written in the file are at most RT_UP_LABEL_MAX bytes,
         * but a generated one ("x#2") may collide again; cut the base so
         * the candidate always fits. */
        size_t blen = len > RT_UP_LABEL_MAX ? RT_UP_LABEL_MAX : len;
        label_slot *free_slot;
        size_t k = base->next_suffix, clen;
        for (;;) {
            clen = (size_t)snprintf(cand, sizeof cand, "%.*s#%zu", (int)blen, v[i].label, k);
            free_slot = label_find(&set, cand, clen);
            if (!free_slot->label)
                break;
            k++;
        }
        base->next_suffix = k + 1;
        char *nl = malloc(clen + 1);
        if (!nl) {
            free(set.slot);
            return rt_fail(err, errlen, "out of memory");
        }
        memcpy(nl, cand, clen + 1);
        free(v[i].label);
        v[i].label = nl;
        *free_slot = (label_slot){ nl, clen, 2 };
    }
    free(set.slot);
    return 0;
}

int rt_pool_parse(const char *name, const char *text, size_t len, rt_pool *out,
                  char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (err && errlen)
        err[0] = '\0';
    if (!name)
        name = "pool";
    if (!text)
        len = 0;

    /* A UTF-8 byte order mark, as some Windows editors write, is not part
     * of the first entry. */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        text += 3;
        len -= 3;
    }

    rt_upstream *v = NULL;
    size_t n = 0, cap = 0, lineno = 0;
    const char *p = text, *end = text + len;
    char reason[REASON_MAX];
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        rt_slice line = rt_slice_from(p, (size_t)(eol - p));
        p = nl ? nl + 1 : end;
        lineno++;

        /* CRLF files are common when pools are exported from spreadsheets
         * or provider dashboards; the CR is line ending, not content. */
        if (line.n && line.p[line.n - 1] == '\r')
            line.n--;
        while (line.n && (line.p[0] == ' ' || line.p[0] == '\t')) {
            line.p++;
            line.n--;
        }
        if (line.n == 0 || line.p[0] == '#')
            continue;

        if (n == cap) {
            if (cap >= RT_POOL_ENTRIES_MAX) {
                free_entries(v, n);
                return rt_fail(err, errlen, "%s:%zu: more than %u entries", name, lineno,
                            RT_POOL_ENTRIES_MAX);
            }
            size_t ncap = cap ? cap * 2 : POOL_INITIAL_CAP;
            if (ncap > RT_POOL_ENTRIES_MAX)
                ncap = RT_POOL_ENTRIES_MAX;
            rt_upstream *nv = realloc(v, ncap * sizeof *v);
            if (!nv) {
                free_entries(v, n);
                return rt_fail(err, errlen, "%s: out of memory", name);
            }
            v = nv;
            cap = ncap;
        }
        if (rt_upstream_parse(line.p, line.n, &v[n], reason, sizeof reason)) {
            free_entries(v, n);
            return rt_fail(err, errlen, "%s:%zu: %s", name, lineno, reason);
        }
        n++;
    }

    if (n == 0) {
        free(v);
        return rt_fail(err, errlen,
                    "%s: no upstream entries (add lines like host:port or http://user:pass@host:port)",
                    name);
    }
    char *source = strdup(name);
    if (!source || unique_labels(v, n, reason, sizeof reason)) {
        free(source);
        free_entries(v, n);
        return rt_fail(err, errlen, "%s: out of memory", name);
    }
    out->v = v;
    out->n = n;
    out->source = source;
    return 0;
}

void rt_pool_clear(rt_pool *p)
{
    if (!p)
        return;
    free_entries(p->v, p->n);
    free(p->source);
    memset(p, 0, sizeof *p);
}
