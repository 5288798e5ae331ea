/* Who may use rotor and where it may send requests: the --allow-clients
 * networks (a connection from elsewhere is closed at accept, before rotor
 * reads a byte, and counted; the count goes to the log at most once a
 * second so a scan cannot flood it), and pool entries that would send
 * requests back to rotor's own listener. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/cidr.h"
#include "gateway/gw_int.h"
#include "io/addr.h"

#define GW_ACCESS_LOG_MS 1000 /* at most one client_refused event per this */

struct gw_access {
    rt_cidr_list nets;
    atomic_ulong refused;
    _Atomic uint64_t last_log_ms;
};

gw_access *gw_access_new(const char *spec, char *err, size_t errlen)
{
    gw_access *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory for --allow-clients");
        return NULL;
    }
    char why[160];
    if (rt_cidr_list_parse(spec, &a->nets, why, sizeof why) != 0) {
        snprintf(err, errlen, "--allow-clients %s; expected networks like 127.0.0.1/32,10.0.0.0/8,::1", why);
        free(a);
        return NULL;
    }
    return a;
}

void gw_access_free(gw_access *a) { free(a); }

unsigned long gw_access_refused(const gw_access *a) { return a ? atomic_load(&a->refused) : 0; }

bool gw_access_check(gw_server *s, const struct sockaddr *sa)
{
    gw_access *a = s->access;
    if (!a)
        return true;
    bool ok = false;
    if (sa->sa_family == AF_INET)
        ok = rt_cidr_list_match(&a->nets, false, (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr);
    else if (sa->sa_family == AF_INET6)
        ok = rt_cidr_list_match(&a->nets, true, ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
    if (ok)
        return true;
    unsigned long n = atomic_fetch_add(&a->refused, 1) + 1;
    uint64_t now = gw_now(), last = atomic_load(&a->last_log_ms);
    if ((n == 1 || now - last >= GW_ACCESS_LOG_MS) && atomic_compare_exchange_strong(&a->last_log_ms, &last, now)) {
        char peer[64], msg[200];
        io_addr_str(sa, peer, sizeof peer);
        snprintf(msg, sizeof msg, "connection from %s closed: not in --allow-clients (%lu refused so far)", peer, n);
        gw_log_event(s, "client_refused", msg);
    }
    return false;
}

/* Does host:port name this listener? Numeric addresses and "localhost";
 * a name that merely resolves here is not caught. */
static bool names_listener(const gw_server *s, const char *host, unsigned port)
{
    const struct sockaddr *l = (const struct sockaddr *)&s->listen_addr.ss;
    if (port != io_addr_port(l))
        return false;
    if (!strcmp(host, "localhost"))
        return true;
    io_addr a;
    char err[8], spec[300];
    snprintf(spec, sizeof spec, strchr(host, ':') ? "[%s]:0" : "%s:0", host);
    if (io_addr_parse(spec, &a, err, sizeof err) != 0)
        return false;
    bool any = false;
    if (l->sa_family == AF_INET)
        any = ((const struct sockaddr_in *)l)->sin_addr.s_addr == htonl(INADDR_ANY);
    else if (l->sa_family == AF_INET6)
        any = !memcmp(&((const struct sockaddr_in6 *)l)->sin6_addr, &in6addr_any, sizeof in6addr_any);
    if (io_addr_is_loopback(&a) && (any || io_addr_is_loopback(&s->listen_addr)))
        return true;
    if (l->sa_family == AF_INET && a.ss.ss_family == AF_INET)
        return ((const struct sockaddr_in *)l)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)&a.ss)->sin_addr.s_addr;
    if (l->sa_family == AF_INET6 && a.ss.ss_family == AF_INET6)
        return !memcmp(&((const struct sockaddr_in6 *)l)->sin6_addr,
                       &((const struct sockaddr_in6 *)&a.ss)->sin6_addr, sizeof(struct in6_addr));
    return false;
}

int gw_pool_check_loop(const gw_server *s, const rt_pool *p, char *err, size_t errlen)
{
    for (size_t i = 0; i < p->n; i++) {
        const rt_upstream *u = &p->v[i];
        if (u->scheme != RT_UP_DIRECT && u->host && names_listener(s, u->host, u->port)) {
            snprintf(err, errlen,
                     "%s: entry %zu (%s) is rotor's own listener %s: every request would come back here and loop "
                     "until connections run out; remove it or point it at the upstream proxy",
                     p->source ? p->source : "pool", i + 1, u->label, s->listen_str);
            return -1;
        }
    }
    return 0;
}
