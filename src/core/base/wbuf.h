/* A bounded write buffer for building protocol text in the core.
 *
 * The caller supplies the storage (often on the stack); appends that would
 * pass the capacity set the overflow flag and write nothing more, so a
 * builder can append freely and check once at the end. The core never
 * allocates here. */
#ifndef ROTOR_CORE_BASE_WBUF_H
#define ROTOR_CORE_BASE_WBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/base/slice.h"

typedef struct rt_wbuf {
    char *p;       /* caller-owned storage */
    size_t len;    /* bytes written */
    size_t cap;    /* capacity of p */
    bool overflow; /* an append did not fit; contents are then incomplete */
} rt_wbuf;

static inline void rt_wbuf_init(rt_wbuf *b, char *storage, size_t cap)
{
    b->p = storage;
    b->len = 0;
    b->cap = cap;
    b->overflow = false;
}

/* Inline: builders append dozens of short pieces per request, and a
 * literal's strlen folds away here. */
static inline void rt_wbuf_add(rt_wbuf *b, const void *data, size_t n)
{
    if (b->overflow)
        return;
    if (n > b->cap - b->len) {
        b->overflow = true;
        return;
    }
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
}

static inline void rt_wbuf_adds(rt_wbuf *b, const char *s) { rt_wbuf_add(b, s, strlen(s)); }
static inline void rt_wbuf_addsl(rt_wbuf *b, rt_slice s) { rt_wbuf_add(b, s.p, s.n); }
void rt_wbuf_addu(rt_wbuf *b, uint64_t v);
void rt_wbuf_addf(rt_wbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s as the body of a JSON string (no quotes), escaping as RFC 8259
 * requires; bytes >= 0x80 are copied as-is (callers pass UTF-8 or escape). */
void rt_wbuf_add_json(rt_wbuf *b, rt_slice s);
/* Append base64 (RFC 4648, with padding) of data. */
void rt_wbuf_add_base64(rt_wbuf *b, const void *data, size_t n);

#endif
