/* TLS to https:// upstream proxies: the one client context, the TLS
 * bufferevent each dial uses, and reading OpenSSL's reason when a
 * handshake fails (the classifier turns it into proxy_tls_failed).
 *
 * Verification is on unless --upstream-insecure: the chain against the
 * system store plus --upstream-ca (added to it, so one pool may mix a
 * provider with a private CA and providers with public certificates), and
 * the certificate must name the entry's host (RFC 6125; an IP literal must
 * be in an iPAddress subjectAltName). Without that check anyone on the
 * path could read the proxy credentials sent in every request. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "gateway/gw_int.h"
#include "io/hclient.h"

static bool pool_wants_tls(const rt_pool *p)
{
    for (size_t i = 0; p && i < p->n; i++)
        if (p->v[i].scheme == RT_UP_HTTPS)
            return true;
    return false;
}

int gw_uptls_prepare(gw_server *s, const rt_pool *p, char *err, size_t errlen)
{
    if (s->up_tls)
        return 0;
    if (!pool_wants_tls(p) && !s->cfg.upstream_ca && !s->cfg.upstream_insecure)
        return 0;
    char why[400];
    SSL_CTX *ctx = io_tls_proxy_ctx(s->cfg.upstream_ca, !s->cfg.upstream_insecure, why, sizeof why);
    if (!ctx) {
        snprintf(err, errlen, "--upstream-ca: %s", why);
        return -1;
    }
    s->up_tls = ctx;
    return 0;
}

void gw_uptls_free(gw_server *s)
{
    if (s->up_tls)
        SSL_CTX_free(s->up_tls);
    s->up_tls = NULL;
}

struct bufferevent *gw_uptls_bev(gw_worker *w, const char *host)
{
    SSL_CTX *ctx = w->srv->up_tls;
    SSL *ssl = ctx ? SSL_new(ctx) : NULL;
    if (!ssl)
        return NULL;
    unsigned char bin[sizeof(struct in6_addr)];
    bool literal = inet_pton(AF_INET, host, bin) == 1 || inet_pton(AF_INET6, host, bin) == 1;
    /* RFC 6066 section 3: SNI carries host names only, never addresses. */
    int ok = literal ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host)
                     : SSL_set_tlsext_host_name(ssl, host) == 1 && SSL_set1_host(ssl, host) == 1;
    if (!ok) {
        SSL_free(ssl);
        return NULL;
    }
    /* On failure libevent may or may not have taken the SSL (it differs
     * by version); leaking one on out-of-memory beats a double free. */
    struct bufferevent *bev = bufferevent_openssl_socket_new(w->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                                             BEV_OPT_CLOSE_ON_FREE);
    if (!bev)
        return NULL;
    /* Many proxies close without a TLS close_notify: that is the end of
     * the connection (EOF), not an error, as for a plain socket. */
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

bool gw_uptls_error(struct bufferevent *bev, char *why, size_t cap)
{
    return io_tls_error(bev, bufferevent_openssl_get_ssl(bev), why, cap, NULL);
}

bool gw_uptls_tcp_up(struct bufferevent *bev)
{
    evutil_socket_t fd = bufferevent_getfd(bev);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    return fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &len) == 0;
}
