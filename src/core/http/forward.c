#include "core/http/forward.h"

bool rt_fwd_is_control_field(rt_slice name)
{
    return name.n >= 8 && strncasecmp(name.p, "x-rotor-", 8) == 0;
}

static void add_authority(rt_wbuf *out, const rt_url *url)
{
    bool v6 = memchr(url->host.p, ':', url->host.n) != NULL;
    if (v6)
        rt_wbuf_add(out, "[", 1);
    rt_wbuf_addsl(out, url->host);
    if (v6)
        rt_wbuf_add(out, "]", 1);
}

/* The authority as it belongs in Host: the port is left out when it is the
 * scheme's default (RFC 9110 section 7.2). */
static void add_host_value(rt_wbuf *out, const rt_url *url)
{
    add_authority(out, url);
    bool https = rt_slice_eq_ci(url->scheme, "https");
    uint16_t def = https ? 443 : 80;
    if (url->form == RT_TF_AUTHORITY || url->port != def) {
        rt_wbuf_add(out, ":", 1);
        rt_wbuf_addu(out, url->port);
    }
}

static void add_field(rt_wbuf *out, rt_slice name, rt_slice value)
{
    rt_wbuf_addsl(out, name);
    rt_wbuf_add(out, ": ", 2);
    rt_wbuf_addsl(out, value);
    rt_wbuf_add(out, "\r\n", 2);
}

/* An Upgrade handshake (RFC 9110 section 7.8, e.g. WebSocket) is
 * hop-by-hop, yet it must reach the next hop for the protocol switch to
 * happen: carry the Upgrade field with Connection: upgrade. Returns
 * whether it was added. */
static bool add_upgrade(rt_wbuf *out, const rt_http_head *h)
{
    if (!h->has_upgrade)
        return false;
    const rt_http_hdr *up = rt_http_find(h, "upgrade");
    if (!up)
        return false;
    rt_wbuf_adds(out, "Connection: upgrade\r\n");
    add_field(out, RT_SLICE_LIT("Upgrade"), up->value);
    return true;
}

void rt_fwd_request_head(rt_wbuf *out, const rt_http_req *req, const rt_url *url,
                         const rt_fwd_req_opts *o)
{
    rt_wbuf_addsl(out, req->method);
    rt_wbuf_add(out, " ", 1);
    if (o->absolute_form) {
        rt_wbuf_adds(out, rt_slice_eq_ci(url->scheme, "https") ? "https://" : "http://");
        add_host_value(out, url);
    }
    rt_wbuf_addsl(out, url->path);
    rt_wbuf_add(out, " HTTP/1.1\r\nHost: ", 17);
    add_host_value(out, url);
    rt_wbuf_add(out, "\r\n", 2);

    const rt_http_head *h = &req->h;
    for (size_t i = 0; i < h->nhdrs; i++) {
        rt_slice name = h->hdrs[i].name;
        if (rt_slice_eq_ci(name, "host") || rt_fwd_is_control_field(name) ||
            rt_http_is_hop_by_hop(h, name))
            continue;
        add_field(out, name, h->hdrs[i].value);
    }
    if (o->proxy_auth.n)
        add_field(out, RT_SLICE_LIT("Proxy-Authorization"), o->proxy_auth);
    if (!add_upgrade(out, h) && o->close)
        rt_wbuf_adds(out, "Connection: close\r\n");
    rt_wbuf_add(out, "\r\n", 2);
}

void rt_fwd_connect_head(rt_wbuf *out, const rt_url *url, rt_slice proxy_auth)
{
    rt_wbuf_adds(out, "CONNECT ");
    add_authority(out, url);
    rt_wbuf_add(out, ":", 1);
    rt_wbuf_addu(out, url->port);
    rt_wbuf_adds(out, " HTTP/1.1\r\nHost: ");
    add_authority(out, url);
    rt_wbuf_add(out, ":", 1);
    rt_wbuf_addu(out, url->port);
    rt_wbuf_add(out, "\r\n", 2);
    if (proxy_auth.n)
        add_field(out, RT_SLICE_LIT("Proxy-Authorization"), proxy_auth);
    rt_wbuf_add(out, "\r\n", 2);
}

void rt_fwd_response_head(rt_wbuf *out, const rt_http_resp *resp, const rt_fwd_resp_opts *o)
{
    rt_wbuf_adds(out, "HTTP/1.1 ");
    rt_wbuf_addu(out, (uint64_t)resp->status);
    rt_wbuf_add(out, " ", 1);
    rt_wbuf_addsl(out, resp->reason);
    rt_wbuf_add(out, "\r\n", 2);
    const rt_http_head *h = &resp->h;
    for (size_t i = 0; i < h->nhdrs; i++) {
        rt_slice name = h->hdrs[i].name;
        if (rt_http_is_hop_by_hop(h, name))
            continue;
        add_field(out, name, h->hdrs[i].value);
    }
    bool upgraded = resp->status == 101 && add_upgrade(out, h);
    if (o->close && !upgraded)
        rt_wbuf_adds(out, "Connection: close\r\n");
    rt_wbuf_adds(out, "X-Rotor-Origin: target\r\nX-Rotor-Attempts: ");
    rt_wbuf_addu(out, o->attempts);
    rt_wbuf_add(out, "\r\n", 2);
    if (o->error) {
        rt_wbuf_adds(out, "X-Rotor-Error: ");
        rt_wbuf_adds(out, o->error);
        rt_wbuf_add(out, "\r\n", 2);
    }
    if (o->hint && o->hint[0]) {
        rt_wbuf_adds(out, "X-Rotor-Hint: ");
        rt_wbuf_adds(out, o->hint);
        rt_wbuf_add(out, "\r\n", 2);
    }
    rt_wbuf_add(out, "\r\n", 2);
}
