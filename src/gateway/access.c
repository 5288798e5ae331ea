/* Which clients may connect at all: the --allow-clients networks. A
 * connection from elsewhere is closed at accept, before rotor reads a byte,
 * and counted; the count goes to the log at most once a second so a scan
 * cannot flood it. */
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
