/* libFuzzer target: any bytes as a pool text. rt_pool_parse must either
 * refuse with a message or return a pool whose entries keep the module's
 * promises; either way nothing may leak (ASan's leak check runs at exit
 * of each input in libFuzzer's default mode). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool/upstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_entry(const rt_upstream *u)
{
    if (!u->label || !*u->label)
        abort();
    if ((u->scheme == RT_UP_HTTP || u->scheme == RT_UP_HTTPS) && (!u->host || u->port == 0))
        abort();
    if (u->scheme != RT_UP_DIRECT && u->scheme != RT_UP_HTTP && u->scheme != RT_UP_HTTPS)
        abort();
    if (u->scheme == RT_UP_DIRECT && (u->host || u->user))
        abort();
    /* A user always comes with a password, possibly empty. */
    if (!u->user != !u->pass)
        abort();
    if (u->user && !u->session_slot && !u->auth_basic)
        abort();
    if (u->user && strchr(u->user, ':'))
        abort();
    char auth[8192];
    int n = rt_upstream_auth(u, "fz-1", auth, sizeof auth);
    if (n < 0 || (u->user && n == 0) || (size_t)n != strlen(auth))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    rt_pool p;
    if (rt_pool_parse("fuzz.txt", (const char *)data, size, &p, err, sizeof err) == 0) {
        if (p.n == 0 || !p.v)
            abort();
        for (size_t i = 0; i < p.n; i++)
            check_entry(&p.v[i]);
        /* Labels are unique (checked on small pools to keep runs fast). */
        if (p.n <= 64)
            for (size_t i = 0; i < p.n; i++)
                for (size_t j = i + 1; j < p.n; j++)
                    if (strcmp(p.v[i].label, p.v[j].label) == 0)
                        abort();
        rt_pool_clear(&p);
    } else {
        if (p.v || p.n || p.source || !err[0])
            abort();
    }

    /* The whole input as one entry, too. */
    rt_upstream u;
    if (rt_upstream_parse((const char *)data, size, &u, err, sizeof err) == 0) {
        check_entry(&u);
        rt_upstream_clear(&u);
    } else if (u.host || u.user || u.pass || u.label || u.auth_basic || !err[0]) {
        abort();
    }
    return 0;
}
