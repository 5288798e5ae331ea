/* Unit tests for whole pool texts and pool files: comments, CRLF, line
 * numbers in errors, all-or-nothing loading, unique labels, size. Leaks on
 * error paths are caught by running this under ASan (the default test
 * build). */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/pool/upstream.h"

#define SECRET "S3cr3tPw"

static void parse_ok(const char *text, rt_pool *p)
{
    char err[512] = "";
    if (rt_pool_parse("pool.txt", text, strlen(text), p, err, sizeof err) != 0)
        fail_msg("refused: %s", err);
}

static void expect_err(const char *text, size_t len, const char *want)
{
    rt_pool p;
    memset(&p, 0xA5, sizeof p);
    char err[512] = "";
    assert_int_equal(rt_pool_parse("pool.txt", text, len, &p, err, sizeof err), -1);
    if (strcmp(err, want) != 0)
        fail_msg("got '%s', wanted '%s'", err, want);
    assert_null(p.v);
    assert_int_equal(p.n, 0);
    assert_null(p.source);
    assert_null(strstr(err, SECRET));
}

static void test_comments_blank_crlf(void **state)
{
    (void)state;
    rt_pool p;
    parse_ok("# my pool\r\n"
             "\r\n"
             "   \t \r\n"
             "   # indented comment\r\n"
             "host1.example:80\r\n"
             "\thttp://u:" SECRET "@host2.example:81 #two\r\n"
             "host3.example:82:cust:p#w\r\n"
             "direct",
             &p);
    assert_int_equal(p.n, 4);
    assert_string_equal(p.source, "pool.txt");
    assert_string_equal(p.v[0].host, "host1.example");
    assert_int_equal(p.v[0].port, 80);
    assert_string_equal(p.v[0].label, "host1.example:80");
    assert_string_equal(p.v[1].host, "host2.example");
    assert_string_equal(p.v[1].pass, SECRET);
    assert_string_equal(p.v[1].label, "two");
    assert_string_equal(p.v[2].user, "cust");
    assert_string_equal(p.v[2].pass, "p#w"); /* the CR is not part of it */
    assert_int_equal(p.v[3].scheme, RT_UP_DIRECT);
    rt_pool_clear(&p);
    assert_null(p.v);
    assert_int_equal(p.n, 0);

    /* A byte order mark before the first entry is dropped. */
    parse_ok("\xEF\xBB\xBFh:1\n", &p);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.v[0].host, "h");
    rt_pool_clear(&p);
}

static void test_line_numbers(void **state)
{
    (void)state;
    const char *t = "good.example:80\n# comment\nbad.example\ngood2.example:81\n";
    expect_err(t, strlen(t), "pool.txt:3: missing port (write host:port)");

    t = "a:1\r\n\r\nb:2\r\nhttp://user:S3cr3t@Pw@c:3\r\n";
    expect_err(t, strlen(t), "pool.txt:4: '@' in password must be written %40");

    t = "a:1\nhttp://u:" SECRET "@c:3/x\n";
    expect_err(t, strlen(t), "pool.txt:2: a proxy address has no path or query (remove what follows host:port)");

    /* The first bad line is the one reported. */
    t = "a:0\nb\n";
    expect_err(t, strlen(t), "pool.txt:1: port out of range (1..65535)");

    /* A NUL byte inside a line. */
    const char nul[] = "a:1\nb:2\nh:1:u:S3cr3t\0Pw\n";
    expect_err(nul, sizeof nul - 1, "pool.txt:3: control character in entry");

    /* A lone CR inside a line (not a line ending). */
    t = "a:1\rb:2\n";
    expect_err(t, strlen(t), "pool.txt:1: control character in entry");

    /* Many good entries before a bad one: all released (ASan checks). */
    static char many[64 * 1024];
    size_t k = 0;
    for (int i = 0; i < 1000; i++)
        k += (size_t)snprintf(many + k, sizeof many - k, "http://u%d:pw@h%d.example:%d\n", i, i, 1000 + i);
    k += (size_t)snprintf(many + k, sizeof many - k, "socks5://h:1\n");
    expect_err(many, k,
               "pool.txt:1001: unsupported scheme 'socks5://': socks5:// upstreams are not supported yet (use http:// or https://)");
}

/* http:// and https:// entries side by side: each keeps its scheme and
 * port, an https:// entry without a port gets 443, two entries on one
 * host:port get distinct labels, and no label carries a password. */
static void test_https_entries(void **state)
{
    (void)state;
    rt_pool p;
    parse_ok("https://u:" SECRET "@tls.example\n"
             "http://u:" SECRET "@tls.example:443\n"
             "https://u:" SECRET "@tls.example:8443 #tls-alt\n"
             "tls.example:443:u:" SECRET "\n",
             &p);
    assert_int_equal(p.n, 4);
    assert_int_equal(p.v[0].scheme, RT_UP_HTTPS);
    assert_int_equal(p.v[0].port, 443);
    assert_int_equal(p.v[1].scheme, RT_UP_HTTP);
    assert_int_equal(p.v[1].port, 443);
    assert_int_equal(p.v[2].scheme, RT_UP_HTTPS);
    assert_int_equal(p.v[2].port, 8443);
    assert_int_equal(p.v[3].scheme, RT_UP_HTTP);
    assert_string_equal(p.v[0].label, "tls.example:443");
    assert_string_equal(p.v[1].label, "tls.example:443#2");
    assert_string_equal(p.v[2].label, "tls-alt");
    assert_string_equal(p.v[3].label, "tls.example:443#3");
    for (size_t i = 0; i < p.n; i++) {
        assert_null(strstr(p.v[i].label, SECRET));
        assert_string_equal(p.v[i].pass, SECRET);
    }
    rt_pool_clear(&p);

    const char *t = "https://u:" SECRET "@a.example\nhttps://u:" SECRET "@b.example:70000\n";
    expect_err(t, strlen(t), "pool.txt:2: port out of range (1..65535)");
}

static void test_empty_pool(void **state)
{
    (void)state;
    const char *want = "pool.txt: no upstream entries (add lines like host:port or http://user:pass@host:port)";
    expect_err("", 0, want);
    expect_err("# only a comment\n\n  \r\n", strlen("# only a comment\n\n  \r\n"), want);
    rt_pool p;
    char err[256];
    assert_int_equal(rt_pool_parse(NULL, NULL, 0, &p, err, sizeof err), -1);
    assert_string_equal(err, "pool: no upstream entries (add lines like host:port or http://user:pass@host:port)");
}

static void test_duplicate_labels(void **state)
{
    (void)state;
    rt_pool p;
    parse_ok("h:1\n"
             "h:1:user2:pw\n"
             "h:1\n"
             "x:1 #h:1#2\n"
             "h:1\n"
             "a:1 #dc\n"
             "b:1 #dc\n",
             &p);
    assert_int_equal(p.n, 7);
    assert_string_equal(p.v[0].label, "h:1");
    assert_string_equal(p.v[1].label, "h:1#2");
    assert_string_equal(p.v[2].label, "h:1#3");
    /* An explicit label already taken by a generated one moves aside. */
    assert_string_equal(p.v[3].label, "h:1#2#2");
    assert_string_equal(p.v[4].label, "h:1#4");
    assert_string_equal(p.v[5].label, "dc");
    assert_string_equal(p.v[6].label, "dc#2");
    for (size_t i = 0; i < p.n; i++)
        for (size_t j = i + 1; j < p.n; j++)
            assert_string_not_equal(p.v[i].label, p.v[j].label);
    rt_pool_clear(&p);

    /* A generated name that a later explicit label uses is skipped. */
    parse_ok("a:1 #x#2\nb:1 #x\nc:1 #x\n", &p);
    assert_string_equal(p.v[0].label, "x#2");
    assert_string_equal(p.v[1].label, "x");
    assert_string_equal(p.v[2].label, "x#3");
    rt_pool_clear(&p);
}

static void test_limits(void **state)
{
    (void)state;
    /* A line over the entry limit is refused with its number. */
    size_t n = RT_UP_ENTRY_MAX + 16;
    char *t = malloc(n + 8);
    assert_non_null(t);
    memcpy(t, "a:1\n", 4);
    memset(t + 4, 'x', n);
    expect_err(t, n + 4, "pool.txt:2: entry longer than 4096 bytes");
    free(t);

    /* A small error buffer truncates safely. */
    rt_pool p;
    char small[10];
    assert_int_equal(rt_pool_parse("pool.txt", "zz\n", 3, &p, small, sizeof small), -1);
    assert_string_equal(small, "pool.txt:");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_large_pool(void **state)
{
    (void)state;
    enum { N = 100000 };
    size_t cap = (size_t)N * 80;
    char *t = malloc(cap);
    assert_non_null(t);
    size_t k = 0;
    /* Every fourth entry is a backconnect line on one shared gateway, so
     * the duplicate-label path is loaded too (25,000 copies of a label). */
    for (int i = 0; i < N; i++) {
        switch (i % 4) {
        case 0:
            k += (size_t)snprintf(t + k, cap - k, "gate.example:7000:cust-%d:pw%d\n", i, i);
            break;
        case 1:
            k += (size_t)snprintf(t + k, cap - k, "http://u%d:p%%40%d@10.%d.%d.%d:%d\n", i, i,
                                  (i >> 16) & 255, (i >> 8) & 255, i & 255, 1024 + i % 50000);
            break;
        case 2:
            k += (size_t)snprintf(t + k, cap - k, "h%d.example:3128 #lab%d\n", i, i);
            break;
        default:
            k += (size_t)snprintf(t + k, cap - k, "[2001:db8::%x:%x]:8080\r\n", i >> 16, i & 0xffff);
            break;
        }
    }
    rt_pool p;
    char err[256] = "";
    double t0 = now_s();
    int rc = rt_pool_parse("big.txt", t, k, &p, err, sizeof err);
    double dt = now_s() - t0;
    free(t);
    if (rc)
        fail_msg("refused: %s", err);
    fprintf(stderr, "parsed %d entries in %.3f s\n", N, dt);
    assert_int_equal(p.n, N);
    assert_string_equal(p.v[0].label, "gate.example:7000");
    assert_string_equal(p.v[4].label, "gate.example:7000#2");
    assert_string_equal(p.v[N - 4].label, "gate.example:7000#25000");
    assert_string_equal(p.v[N - 4].user, "cust-99996");
    assert_string_equal(p.v[N - 3].pass, "p@99997");
    assert_string_equal(p.v[N - 3].user, "u99997");
    assert_string_equal(p.v[N - 2].label, "lab99998");
    assert_string_equal(p.v[N - 1].host, "2001:db8::1:869f");
    assert_string_equal(p.v[N - 1].label, "[2001:db8::1:869f]:8080");
    rt_pool_clear(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_comments_blank_crlf),
        cmocka_unit_test(test_line_numbers),
        cmocka_unit_test(test_https_entries),
        cmocka_unit_test(test_empty_pool),
        cmocka_unit_test(test_duplicate_labels),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_large_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
