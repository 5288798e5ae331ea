/* Who caused a failure (ORIGIN) and what healing it admits (retry CLASS).
 *
 * These two enums are the axes of rotor's error vocabulary (see vocab.h).
 * Their names are part of the user-visible contract: they appear in
 * X-Rotor-Origin, the access log, metrics labels and docs/errors.md. Never
 * renumber or rename a value; add new ones at the end. */
#ifndef ROTOR_CORE_ERRORS_TAXONOMY_H
#define ROTOR_CORE_ERRORS_TAXONOMY_H

typedef enum rt_origin {
    RT_ORIGIN_NONE = 0, /* no failure */
    RT_ORIGIN_CLIENT,   /* rotor refused the client's request */
    RT_ORIGIN_GATEWAY,  /* rotor's own decision (breaker, budget, no upstream) */
    RT_ORIGIN_PROXY,    /* the upstream proxy answered about itself */
    RT_ORIGIN_TARGET,   /* the target answered (incl. a provider relaying a ban) */
    RT_ORIGIN_NETWORK,  /* a hop never answered at the HTTP level */
} rt_origin;

/* The retry classes of the guide's "Building Resilient Error Handling". */
typedef enum rt_class {
    RT_CLASS_NONE = 0,  /* success: nothing to heal */
    RT_CLASS_RETRY_NOW, /* transient: retry at once on another upstream */
    RT_CLASS_BACKOFF,   /* overload: wait (Retry-After or exponential), retry */
    RT_CLASS_ROTATE,    /* detected: switch exit and session, then retry */
    RT_CLASS_FIX,       /* misconfiguration: quarantine the entry, retry once elsewhere */
    RT_CLASS_ABORT,     /* retrying cannot help */
} rt_class;

const char *rt_origin_name(rt_origin o); /* "client", "gateway", ... ; "" for NONE */
const char *rt_class_name(rt_class c);   /* "retry_now", ...; "none" for NONE */

#endif
