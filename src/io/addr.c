#include "io/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int io_addr_parse(const char *s, io_addr *out, char *err, size_t errlen)
{
    char host[256];
    const char *colon;
    memset(out, 0, sizeof *out);
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':') {
            snprintf(err, errlen, "'%s': write IPv6 addresses as [addr]:port", s);
            return -1;
        }
        size_t n = (size_t)(end - s - 1);
        if (n >= sizeof host)
            goto bad;
        memcpy(host, s + 1, n);
        host[n] = 0;
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon) {
            snprintf(err, errlen, "'%s': expected host:port, e.g. 127.0.0.1:8899", s);
            return -1;
        }
        size_t n = (size_t)(colon - s);
        if (n >= sizeof host)
            goto bad;
        memcpy(host, s, n);
        host[n] = 0;
    }
    char *endp;
    long port = strtol(colon + 1, &endp, 10);
    if (colon[1] == 0 || *endp || port < 0 || port > 65535) {
        snprintf(err, errlen, "'%s': port must be a number from 0 to 65535", s);
        return -1;
    }
    if (host[0] == 0 || !strcmp(host, "localhost"))
        strcpy(host, "127.0.0.1");
    if (io_addr_numeric(host, (unsigned)port, out) == 0)
        return 0;
bad:
    snprintf(err, errlen, "'%s': the host must be a numeric IPv4/IPv6 address or localhost", s);
    return -1;
}

int io_addr_numeric(const char *host, unsigned port, io_addr *out)
{
    memset(out, 0, sizeof *out);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&out->ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        out->len = sizeof *v4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        out->len = sizeof *v6;
        return 0;
    }
    return -1;
}

bool io_addr_is_loopback(const io_addr *a)
{
    if (a->ss.ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)&a->ss;
        return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
    }
    if (a->ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&a->ss;
        if (IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr))
            return true;
        return IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr) && v6->sin6_addr.s6_addr[12] == 127;
    }
    return false;
}

const char *io_addr_str(const struct sockaddr *sa, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof ip);
        snprintf(buf, cap, "%s:%u", ip, ntohs(v4->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &v6->sin6_addr, ip, sizeof ip);
        snprintf(buf, cap, "[%s]:%u", ip, ntohs(v6->sin6_port));
    } else {
        snprintf(buf, cap, "?");
    }
    return buf;
}

unsigned io_addr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return 0;
}
