/* The gateway's one door to the classifier: it describes what the current
 * attempt saw (phase, socket outcome, response head, body prefix, tunnel
 * bytes) and lets rt_classify decide CODE, ORIGIN, CLASS and evidence. No
 * other gateway file maps failures to codes. */
#include <stdio.h>
#include <string.h>

#include "gateway/gw_int.h"

rt_code gw_classify(gw_client *c, const gw_seen *s, char *ev, size_t evlen)
{
    rt_classify_in in = {
        .phase = s->phase,
        .via_proxy = !gw_hop_is_direct(c),
        .sent_credentials = c->auth[0] != 0,
        .method = c->req.meth,
        .host = c->url.host,
        .sys_errno = s->err,
        .timed_out = s->timed_out,
        .peer_closed = s->peer_closed,
        .bad_response = s->bad_response,
        .tls_failed = s->tls_failed,
        .tls_error = s->tls_error,
    };
    char hop[RT_UP_HOST_MAX + 16];
    const rt_upstream *u = gw_up_entry(c);
    if (s->phase == RT_PH_TLS && u && u->host) {
        snprintf(hop, sizeof hop, strchr(u->host, ':') ? "[%s]:%u" : "%s:%u", u->host, (unsigned)u->port);
        in.hop = rt_slice_cstr(hop);
    }
    if (s->resp) {
        in.status = s->resp->status;
        in.reason = s->resp->reason;
        in.hdrs = s->resp->h.hdrs;
        in.nhdrs = s->resp->h.nhdrs;
        in.body = s->body;
        in.body_total = s->resp->h.body == RT_BODY_LENGTH ? s->resp->h.content_length : 0;
    }
    if (s->phase == RT_PH_TUNNEL) {
        in.tunnel_c2s = c->tunnel_up;
        in.tunnel_s2c = c->tunnel_down;
        in.tunnel_first_c2s = rt_slice_from(c->first_c2s, c->nfirst_c2s);
        in.tunnel_first_s2c = rt_slice_from(c->first_s2c, c->nfirst_s2c);
    }
    rt_classify_out out;
    rt_classify(&in, c->pool->sigs, &out);
    snprintf(ev, evlen, "%s", out.evidence);
    return out.code;
}

rt_phase gw_phase_now(const gw_client *c, bool dns)
{
    if (dns)
        return RT_PH_DNS;
    switch (c->ustate) {
    case US_DIALING:
        /* Over TLS a connected socket means the handshake is what runs. */
        return c->up && c->up->tls && gw_uptls_tcp_up(c->up->bev) ? RT_PH_TLS : RT_PH_CONNECT;
    case US_CONNECT_SENT: return RT_PH_PROXY_CONNECT;
    case US_HEAD_WAIT: return RT_PH_REQUEST_SENT;
    case US_BODY: return c->state == CS_TUNNEL ? RT_PH_TUNNEL : RT_PH_BODY;
    default: return RT_PH_NONE;
    }
}
