#include "core/policy/retry.h"

#include <string.h>

void rt_retry_policy_default(rt_retry_policy *p)
{
    p->limit[RT_CLASS_NONE] = 0;
    p->limit[RT_CLASS_RETRY_NOW] = RT_RETRY_LIMIT_TRANSIENT;
    p->limit[RT_CLASS_BACKOFF] = RT_RETRY_LIMIT_TRANSIENT;
    p->limit[RT_CLASS_ROTATE] = RT_RETRY_LIMIT_TRANSIENT;
    p->limit[RT_CLASS_FIX] = RT_RETRY_LIMIT_FIX;
    p->limit[RT_CLASS_ABORT] = 0;
    p->max_total = RT_RETRY_MAX_TOTAL;
    p->retry_non_idempotent = false;
    p->max_replay_bytes = RT_RETRY_REPLAY_MAX;
    p->now_jitter_ms = RT_RETRY_NOW_JITTER_MS;
    rt_backoff_default(&p->backoff);
}

void rt_retry_state_init(rt_retry_state *s, uint64_t now_ms, uint64_t timeout_ms)
{
    for (int i = 0; i < RT_RETRY_CLASSES; i++)
        s->per_class[i] = 0;
    s->total = 0;
    s->started_ms = now_ms;
    s->deadline_ms = timeout_ms ? now_ms + timeout_ms : 0;
}

/* Is the failure about the pool entry itself (its credentials, its
 * address, its account), rather than about the target? Only those may
 * quarantine the entry: a target whose name does not resolve must not take
 * the proxies that reported it out of rotation for every other domain. */
static bool about_the_entry(rt_code c)
{
    const rt_code_info *i = rt_code_get(c);
    return i->origin == RT_ORIGIN_PROXY || (i->origin == RT_ORIGIN_NETWORK && strncmp(i->name, "proxy_", 6) == 0);
}

static unsigned flags_for(rt_class cls, rt_code code)
{
    switch (cls) {
    case RT_CLASS_RETRY_NOW:
    case RT_CLASS_BACKOFF:
        return RT_RETRY_F_SWITCH_UPSTREAM;
    case RT_CLASS_ROTATE:
        return RT_RETRY_F_SWITCH_UPSTREAM | RT_RETRY_F_ROTATE_SESSION | RT_RETRY_F_BAN_EXIT;
    case RT_CLASS_FIX:
        return RT_RETRY_F_SWITCH_UPSTREAM | (about_the_entry(code) ? RT_RETRY_F_QUARANTINE : 0);
    default:
        return 0;
    }
}

static rt_retry_verdict verdict(rt_retry_status st, uint64_t delay, unsigned flags, rt_code code)
{
    return (rt_retry_verdict){ .status = st, .delay_ms = delay, .flags = flags, .code = code };
}

rt_retry_verdict rt_retry_decide(const rt_retry_policy *p, rt_retry_state *s,
                                 const rt_retry_input *in, rt_rng *rng, uint64_t now_ms)
{
    const rt_code_info *info = rt_code_get(in->code);
    rt_class cls = info->cls;
    unsigned flags = 0;

    /* Client and gateway codes are rotor's final answers: a retry could
     * only repeat them. */
    if (cls == RT_CLASS_NONE || info->origin == RT_ORIGIN_CLIENT ||
        info->origin == RT_ORIGIN_GATEWAY)
        return verdict(RT_RETRY_NO, 0, 0, in->code);

    flags = flags_for(cls, in->code);
    /* Once the client holds part of a response, a second response cannot
     * be spliced in; the client must retry itself. */
    if (in->response_started || cls == RT_CLASS_ABORT || p->limit[cls] == 0)
        return verdict(RT_RETRY_NO, 0, flags, in->code);
    /* RFC 9110 section 9.2.2: only idempotent requests may be repeated
     * automatically once the target may have acted on them. A failure that
     * proves the target saw nothing (the proxy refused, the connect failed)
     * leaves any method safe to resend. */
    if (!in->idempotent && in->bytes_reached_target && !p->retry_non_idempotent)
        return verdict(RT_RETRY_NO, 0, flags, in->code);
    /* A body that was streamed without being kept cannot be sent again. */
    if (!in->body_replayable)
        return verdict(RT_RETRY_NO, 0, flags, in->code);
    if (s->per_class[cls] >= p->limit[cls] || s->total >= p->max_total)
        return verdict(RT_RETRY_LIMIT, 0, flags, RT_E_retries_exhausted);

    uint64_t wait = 0;
    switch (cls) {
    case RT_CLASS_BACKOFF:
        wait = in->has_retry_after ? in->retry_after_ms
                                   : rt_backoff_delay(&p->backoff, s->per_class[cls], rng);
        break;
    case RT_CLASS_RETRY_NOW:
        if (in->has_retry_after)
            wait = in->retry_after_ms;
        else if (info->origin == RT_ORIGIN_TARGET && p->now_jitter_ms > 0)
            wait = rt_rng_below(rng, (uint64_t)p->now_jitter_ms + 1);
        break;
    default:
        /* rotate and fix change the exit: a wait asked by the old one does
         * not apply to the new one. */
        break;
    }

    if (s->deadline_ms && (now_ms >= s->deadline_ms || wait >= s->deadline_ms - now_ms))
        return verdict(RT_RETRY_DEADLINE, wait, flags, RT_E_deadline_exceeded);

    /* Short-circuit: the budget is consulted last, so it only counts
     * retries that really go out. */
    if (in->budget) {
        if (!rt_budget_can_retry(in->budget, now_ms)) {
            rt_budget_note_denied(in->budget);
            return verdict(RT_RETRY_BUDGET, 0, flags, RT_E_retry_budget_exhausted);
        }
        rt_budget_on_retry(in->budget, now_ms);
    }
    s->per_class[cls]++;
    s->total++;
    return verdict(RT_RETRY_YES, wait, flags, in->code);
}

bool rt_method_idempotent(rt_slice m)
{
    static const char *const idem[] = { "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE" };
    for (size_t i = 0; i < sizeof idem / sizeof idem[0]; i++)
        if (m.n == strlen(idem[i]) && memcmp(m.p, idem[i], m.n) == 0)
            return true;
    return false;
}

const char *rt_retry_status_name(rt_retry_status s)
{
    switch (s) {
    case RT_RETRY_NO: return "no";
    case RT_RETRY_YES: return "yes";
    case RT_RETRY_LIMIT: return "limit";
    case RT_RETRY_BUDGET: return "budget";
    case RT_RETRY_DEADLINE: return "deadline";
    }
    return "";
}
