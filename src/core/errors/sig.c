/* Signature sets: the set's lifetime and the compiled-pattern helpers that
 * the parser (sig_parse.c) and the matcher (sig_match.c) share: header name
 * hashing, freeing an entry, and the body anchor table. The format is
 * described at the top of src/core/errors/signatures.txt. */
#include "core/errors/sig_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* ==== small helpers ==== */

uint32_t rt_sig_name_hash(const char *p, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a over the lowercased name */
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)tolower((unsigned char)p[i]);
        h *= 16777619u;
    }
    return h;
}

void rt_sig_entry_free(sig *g)
{
    if (!g)
        return;
    if (g->has_reason)
        regfree(&g->reason);
    for (int i = 0; i < g->nhdr; i++)
        if (g->hdr[i].has_re)
            regfree(&g->hdr[i].re);
    for (int i = 0; i < g->nbody; i++)
        if (g->body[i].is_re)
            regfree(&g->body[i].re);
    free(g);
}

rt_sigset *rt_sigset_new(void) { return calloc(1, sizeof(rt_sigset)); }

void rt_sigset_free(rt_sigset *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        rt_sig_entry_free(s->v[i]);
    for (size_t i = 0; i < s->nanchors; i++)
        free(s->anchors[i].text);
    free(s);
}

size_t rt_sigset_count(const rt_sigset *s) { return s ? s->n : 0; }

const char *rt_sigset_id(const rt_sigset *s, size_t i)
{
    return s && i < s->n ? s->v[i]->id : NULL;
}

/* ==== anchors ==== */

/* Index of the closing ']' of the bracket expression opening at re[i]. POSIX
 * puts a leading ']' (after an optional '^') inside the set and allows
 * [:class:], [=x=] and [.x.] items that contain ']'. */
static size_t skip_bracket(const char *re, size_t i)
{
    size_t j = i + 1;
    if (re[j] == '^')
        j++;
    if (re[j] == ']')
        j++;
    while (re[j] && re[j] != ']') {
        if (re[j] == '[' && (re[j + 1] == ':' || re[j + 1] == '=' || re[j + 1] == '.')) {
            char d = re[j + 1];
            j += 2;
            while (re[j] && !(re[j] == d && re[j + 1] == ']'))
                j++;
            if (re[j])
                j += 2;
            continue;
        }
        j++;
    }
    return re[j] ? j : j - 1;
}

/* The longest literal run every match of the ERE must contain, lowercased
 * into out (cap bytes). Text inside groups and bracket sets is not used;
 * an atom made optional by '?', '*' or '{' leaves the run. Returns the run
 * length, 0 when there is none or the pattern alternates at top level. */
size_t rt_sig_re_anchor(const char *re, char *out, size_t cap)
{
    char cur[RT_SIG_TEXT_MAX + 1];
    size_t curn = 0, best = 0;
    int depth = 0;
#define FLUSH()                                                      \
    do {                                                             \
        if (curn > best && curn < cap) {                             \
            memcpy(out, cur, curn);                                  \
            out[curn] = '\0';                                        \
            best = curn;                                             \
        }                                                            \
        curn = 0;                                                    \
    } while (0)
    for (size_t i = 0; re[i]; i++) {
        char c = re[i];
        if (depth > 0) {
            if (c == '\\' && re[i + 1])
                i++;
            else if (c == '[')
                i = skip_bracket(re, i);
            else if (c == '(')
                depth++;
            else if (c == ')')
                depth--;
            continue;
        }
        switch (c) {
        case '|':
            return 0;
        case '(':
            FLUSH();
            depth++;
            break;
        case '[':
            FLUSH();
            i = skip_bracket(re, i);
            break;
        case '.': case '^': case '$': case ')':
            FLUSH();
            break;
        case '*': case '?': case '{':
            if (curn > 0)
                curn--;
            FLUSH();
            if (c == '{')
                while (re[i + 1] && re[i] != '}')
                    i++;
            break;
        case '+':
            FLUSH();
            break;
        case '\\':
            if (!re[i + 1])
                break;
            i++;
            if (isalnum((unsigned char)re[i]))
                FLUSH(); /* \s, \w, \b ...: a class or assertion, not a byte */
            else if (curn < sizeof cur - 1)
                cur[curn++] = (char)tolower((unsigned char)re[i]);
            break;
        default:
            if (curn < sizeof cur - 1)
                cur[curn++] = (char)tolower((unsigned char)c);
            break;
        }
    }
    FLUSH();
#undef FLUSH
    return best;
}

/* Index of an anchor equal to text (already lowercased), adding it to the
 * set; -1 when the table is full or memory runs out. */
int rt_sig_anchor_intern(rt_sigset *s, const char *text, size_t len)
{
    for (size_t i = 0; i < s->nanchors; i++)
        if (s->anchors[i].len == len && memcmp(s->anchors[i].text, text, len) == 0)
            return (int)i;
    if (s->nanchors >= RT_SIG_ANCHOR_MAX)
        return -1;
    if (len == 0 || len > RT_SIG_TEXT_MAX)
        return -1;
    char *p = malloc(len + 1 + 256);
    if (!p)
        return -1;
    memcpy(p, text, len);
    p[len] = '\0';
    uint8_t *skip = (uint8_t *)p + len + 1;
    memset(skip, (int)len, 256);
    for (size_t i = 0; i + 1 < len; i++) { /* later positions overwrite */
        unsigned char c = (unsigned char)p[i];
        skip[c] = (uint8_t)(len - 1 - i);
        if (c >= 'a' && c <= 'z')
            skip[c & ~0x20] = (uint8_t)(len - 1 - i);
    }
    s->anchors[s->nanchors].text = p;
    s->anchors[s->nanchors].len = len;
    s->anchors[s->nanchors].skip = skip;
    return (int)s->nanchors++;
}


void rt_sig_index_2xx(rt_sigset *s)
{
    memset(s->ncand2xx, 0, sizeof s->ncand2xx);
    memset(s->cand_over, 0, sizeof s->cand_over);
    for (size_t i = 0; i < s->n; i++) {
        const sig *g = s->v[i];
        for (int st = 200; st <= 299; st++) {
            bool named = false;
            for (int k = 0; k < g->nst && !named; k++)
                named = st >= g->st_lo[k] && st <= g->st_hi[k];
            if (!named)
                continue;
            int j = st - 200;
            if (s->ncand2xx[j] < RT_SIG_2XX_CAND)
                s->cand2xx[j][s->ncand2xx[j]++] = (uint16_t)i;
            else
                s->cand_over[j] = true;
        }
    }
}
