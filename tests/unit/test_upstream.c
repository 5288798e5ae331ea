/* Unit tests for one upstream entry: every accepted form, every refusal
 * with its exact reason, and that no reason ever shows the password. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/pool/upstream.h"

/* A password that must never show up in any message. */
#define SECRET "S3cr3tPw"

static rt_upstream parse_ok(const char *s)
{
    rt_upstream u;
    char err[256] = "";
    int rc = rt_upstream_parse(s, strlen(s), &u, err, sizeof err);
    if (rc != 0)
        fail_msg("'%s' refused: %s", s, err);
    assert_non_null(u.label);
    return u;
}

/* Parse must fail with exactly `want`, leave *out cleared, and the message
 * must not contain the secret nor any password fragment given. */
static void expect_err_n(const char *s, size_t n, const char *want, const char *secret)
{
    rt_upstream u;
    memset(&u, 0xA5, sizeof u);
    char err[256] = "";
    int rc = rt_upstream_parse(s, n, &u, err, sizeof err);
    if (rc != -1)
        fail_msg("'%s' accepted, wanted: %s", s, want);
    if (strcmp(err, want) != 0)
        fail_msg("'%s': got '%s', wanted '%s'", s, err, want);
    assert_null(u.host);
    assert_null(u.user);
    assert_null(u.pass);
    assert_null(u.label);
    assert_null(u.auth_basic);
    assert_null(strstr(err, SECRET));
    if (secret && *secret)
        assert_null(strstr(err, secret));
}

static void expect_err(const char *s, const char *want, const char *secret)
{
    expect_err_n(s, strlen(s), want, secret);
}

static void test_url_form(void **state)
{
    (void)state;
    rt_upstream u = parse_ok("http://user:pass@proxy.example:8080");
    assert_int_equal(u.scheme, RT_UP_HTTP);
    assert_string_equal(u.host, "proxy.example");
    assert_int_equal(u.port, 8080);
    assert_string_equal(u.user, "user");
    assert_string_equal(u.pass, "pass");
    assert_string_equal(u.label, "proxy.example:8080");
    assert_false(u.session_slot);
    /* base64("user:pass") */
    assert_string_equal(u.auth_basic, "Basic dXNlcjpwYXNz");
    rt_upstream_clear(&u);
    assert_null(u.host);

    /* Scheme names are case-insensitive (RFC 3986 section 3.1). */
    u = parse_ok("HTTP://a:b@h:1");
    assert_string_equal(u.host, "h");
    assert_int_equal(u.port, 1);
    rt_upstream_clear(&u);

    /* No credentials, trailing slash. */
    u = parse_ok("http://10.1.2.3:65535/");
    assert_string_equal(u.host, "10.1.2.3");
    assert_int_equal(u.port, 65535);
    assert_null(u.user);
    assert_null(u.pass);
    assert_null(u.auth_basic);
    assert_string_equal(u.label, "10.1.2.3:65535");
    rt_upstream_clear(&u);
}

static void test_userinfo_form(void **state)
{
    (void)state;
    rt_upstream u = parse_ok("user:pass@10.0.0.1:3128");
    assert_int_equal(u.scheme, RT_UP_HTTP);
    assert_string_equal(u.host, "10.0.0.1");
    assert_int_equal(u.port, 3128);
    assert_string_equal(u.user, "user");
    assert_string_equal(u.pass, "pass");
    assert_string_equal(u.label, "10.0.0.1:3128");
    rt_upstream_clear(&u);

    /* Empty password kept as "", still sent. */
    u = parse_ok("user:@h.example:80");
    assert_string_equal(u.user, "user");
    assert_non_null(u.pass);
    assert_string_equal(u.pass, "");
    assert_string_equal(u.auth_basic, "Basic dXNlcjo="); /* "user:" */
    rt_upstream_clear(&u);

    u = parse_ok("user@h.example:80");
    assert_string_equal(u.user, "user");
    assert_string_equal(u.pass, "");
    rt_upstream_clear(&u);
}

static void test_colon_form(void **state)
{
    (void)state;
    rt_upstream u = parse_ok("gate.example.com:7000:cust-1:pw");
    assert_string_equal(u.host, "gate.example.com");
    assert_int_equal(u.port, 7000);
    assert_string_equal(u.user, "cust-1");
    assert_string_equal(u.pass, "pw");
    assert_string_equal(u.label, "gate.example.com:7000");
    rt_upstream_clear(&u);

    /* The password is everything after the third colon, literally. */
    u = parse_ok("1.2.3.4:8080:user:p:a@s#s%40");
    assert_string_equal(u.host, "1.2.3.4");
    assert_string_equal(u.user, "user");
    assert_string_equal(u.pass, "p:a@s#s%40");
    rt_upstream_clear(&u);

    /* A '#' in the password is literal; whitespace then '#' is a label. */
    u = parse_ok("h:1:u:p#x  #lab");
    assert_string_equal(u.pass, "p#x");
    assert_string_equal(u.label, "lab");
    rt_upstream_clear(&u);

    /* Users may hold '@' in this form. */
    u = parse_ok("h:1:me@mail.example:pw");
    assert_string_equal(u.user, "me@mail.example");
    assert_string_equal(u.pass, "pw");
    rt_upstream_clear(&u);

    /* Empty password allowed. */
    u = parse_ok("h:1:u:");
    assert_string_equal(u.pass, "");
    rt_upstream_clear(&u);

    u = parse_ok("[2001:db8::7]:3128:u:p:w");
    assert_string_equal(u.host, "2001:db8::7");
    assert_int_equal(u.port, 3128);
    assert_string_equal(u.user, "u");
    assert_string_equal(u.pass, "p:w");
    assert_string_equal(u.label, "[2001:db8::7]:3128");
    rt_upstream_clear(&u);
}

static void test_hostport_and_direct(void **state)
{
    (void)state;
    rt_upstream u = parse_ok("proxy-2.example:3128");
    assert_int_equal(u.scheme, RT_UP_HTTP);
    assert_string_equal(u.host, "proxy-2.example");
    assert_int_equal(u.port, 3128);
    assert_null(u.user);
    assert_null(u.pass);
    assert_null(u.auth_basic);
    assert_false(u.session_slot);
    rt_upstream_clear(&u);

    u = parse_ok("  \thost:1 \r\n");
    assert_string_equal(u.host, "host");
    assert_string_equal(u.label, "host:1");
    rt_upstream_clear(&u);

    u = parse_ok("direct");
    assert_int_equal(u.scheme, RT_UP_DIRECT);
    assert_null(u.host);
    assert_null(u.user);
    assert_string_equal(u.label, "direct");
    rt_upstream_clear(&u);

    u = parse_ok("DIRECT #fallback");
    assert_int_equal(u.scheme, RT_UP_DIRECT);
    assert_string_equal(u.label, "fallback");
    rt_upstream_clear(&u);

    u = parse_ok("255.255.255.255:1");
    assert_string_equal(u.host, "255.255.255.255");
    rt_upstream_clear(&u);
}

static void test_labels(void **state)
{
    (void)state;
    rt_upstream u = parse_ok("host:80 #dc1");
    assert_string_equal(u.label, "dc1");
    rt_upstream_clear(&u);

    u = parse_ok("host:80\t#   my label  ");
    assert_string_equal(u.label, "my label");
    rt_upstream_clear(&u);

    u = parse_ok("http://u:" SECRET "@h:1 #x#y");
    assert_string_equal(u.label, "x#y");
    assert_string_equal(u.pass, SECRET);
    rt_upstream_clear(&u);

    /* The default label never carries credentials. */
    u = parse_ok("http://u:" SECRET "@h:1");
    assert_string_equal(u.label, "h:1");
    assert_null(strstr(u.label, SECRET));
    rt_upstream_clear(&u);

    char big[RT_UP_LABEL_MAX + 16];
    snprintf(big, sizeof big, "h:1 #%0*d", RT_UP_LABEL_MAX, 7);
    u = parse_ok(big);
    assert_int_equal(strlen(u.label), RT_UP_LABEL_MAX);
    rt_upstream_clear(&u);
    snprintf(big, sizeof big, "h:1 #%0*d", RT_UP_LABEL_MAX + 1, 7);
    expect_err(big, "label longer than 128 bytes", NULL);
}

static void test_ipv6(void **state)
{
    (void)state;
    rt_upstream u = parse_ok("[::1]:3128");
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 3128);
    assert_string_equal(u.label, "[::1]:3128");
    rt_upstream_clear(&u);

    u = parse_ok("http://u:p@[2001:db8::1]:8080/ #v6");
    assert_string_equal(u.host, "2001:db8::1");
    assert_int_equal(u.port, 8080);
    assert_string_equal(u.user, "u");
    assert_string_equal(u.label, "v6");
    rt_upstream_clear(&u);

    expect_err("::1:3128", "IPv6 addresses must be written in brackets, e.g. [2001:db8::1]:3128", NULL);
    expect_err("2001:db8::1", "IPv6 addresses must be written in brackets, e.g. [2001:db8::1]:3128", NULL);
    expect_err("[::1]", "missing port (write [address]:port)", NULL);
    expect_err("[::1]3128", "unexpected text after ']' (write [address]:port)", NULL);
    expect_err("[::1:3128", "missing ']' after the IPv6 address (write [address]:port)", NULL);
    expect_err("[::g]:1", "invalid IPv6 address in brackets", NULL);
    expect_err("[]:1", "invalid IPv6 address in brackets", NULL);
    expect_err("[fe80::1%25eth0]:1", "invalid IPv6 address in brackets", NULL);
}

static void test_percent_decoding(void **state)
{
    (void)state;
    rt_upstream u = parse_ok("http://user:p%40ss@h:1");
    assert_string_equal(u.pass, "p@ss");
    /* base64("user:p@ss") */
    assert_string_equal(u.auth_basic, "Basic dXNlcjpwQHNz");
    rt_upstream_clear(&u);

    u = parse_ok("http://us%40er:a%3Ab%23c%25d%2F@h:1");
    assert_string_equal(u.user, "us@er");
    assert_string_equal(u.pass, "a:b#c%d/");
    rt_upstream_clear(&u);

    /* Lower-case hex digits are as good as upper-case ones. */
    u = parse_ok("a%7bsession%7D:x%3a@h:1");
    assert_string_equal(u.user, "a{session}");
    assert_true(u.session_slot);
    assert_string_equal(u.pass, "x:");
    rt_upstream_clear(&u);

    /* Raw UTF-8 passes through. */
    u = parse_ok("http://u:p\xc3\xa4ss@h:1");
    assert_string_equal(u.pass, "p\xc3\xa4ss");
    rt_upstream_clear(&u);
}

static void test_unencoded_specials(void **state)
{
    (void)state;
    expect_err("http://user:S3cr3t@Pw@h:1", "'@' in password must be written %40", "S3cr3t");
    expect_err("user:S3cr3t@Pw@h:1", "'@' in password must be written %40", "S3cr3t");
    expect_err("http://me@mail.example:" SECRET "@h:1", "'@' in username must be written %40", NULL);
    expect_err("http://user:S3cr3t:Pw@h:1", "':' in password must be written %3A", "S3cr3t");
    expect_err("http://user:S3cr3t#Pw@h:1", "'#' in password must be written %23", "S3cr3t");
    expect_err("user:S3cr3t#Pw@h:1", "'#' in password must be written %23", "S3cr3t");
    expect_err("http://us#er:" SECRET "@h:1", "'#' in username must be written %23", NULL);
    expect_err("http://user:S3cr3t/Pw@h:1", "'/' in password must be written %2F", "S3cr3t");
    expect_err("http://user:S3cr3t?Pw@h:1", "'?' in password must be written %3F", "S3cr3t");
    expect_err("http://u%3Ax:" SECRET "@h:1",
               "':' cannot be part of a username (Basic authentication splits at the first ':')", NULL);
    /* Both readings plausible: refused with the unambiguous spelling. */
    expect_err("alice:12:" SECRET "@b.example:80",
               "ambiguous entry: it reads as host:port:user:pass and as user:pass@host:port; "
               "write it as http://user:pass@host:port with '@' as %40 and ':' as %3A in the credentials",
               NULL);
}

static void test_bad_escapes(void **state)
{
    (void)state;
    const char *want = "invalid %-escape in password (write a literal '%' as %25)";
    expect_err("http://u:S3cr3tPw%4@h:1", want, NULL);
    expect_err("http://u:S3cr3tPw%zz@h:1", want, NULL);
    expect_err("http://u:S3cr3tPw%@h:1", want, NULL);
    expect_err("http://u:%G0S3cr3tPw@h:1", want, NULL);
    expect_err("http://u%:" SECRET "@h:1", "invalid %-escape in username (write a literal '%' as %25)", NULL);
    expect_err("http://u:S3cr3t%00Pw@h:1", "%00 (NUL) is not allowed in password", "S3cr3t");
    /* The decoded secret must not leak either. */
    expect_err("http://u:p%40ss%zz@h:1", want, "p@ss");
}

static void test_ports_and_hosts(void **state)
{
    (void)state;
    expect_err("h:0", "port out of range (1..65535)", NULL);
    expect_err("h:65536", "port out of range (1..65535)", NULL);
    expect_err("h:999999999999999999999", "port out of range (1..65535)", NULL);
    expect_err("h:8o80", "port must be a number from 1 to 65535", NULL);
    expect_err("h:-1", "port must be a number from 1 to 65535", NULL);
    expect_err("h:+80", "port must be a number from 1 to 65535", NULL);
    expect_err("h:", "missing port (write host:port)", NULL);
    expect_err("h", "missing port (write host:port)", NULL);
    expect_err("http://u:" SECRET "@h", "missing port (write host:port)", NULL);
    expect_err(":80", "missing host before ':port'", NULL);
    expect_err("http://u:" SECRET "@:80", "missing host before ':port'", NULL);
    expect_err("h:80#lab", "'#' after the port: a label needs whitespace before it (host:port #label)", NULL);
    expect_err("h#lab", "'#' in host: a label needs whitespace before it (host:port #label)", NULL);
    expect_err("http://h:1/x", "a proxy address has no path or query (remove what follows host:port)", NULL);
    expect_err("http://h:1?x=1", "a proxy address has no path or query (remove what follows host:port)", NULL);
    expect_err("h%41:1", "percent-encoding is not allowed in a host", NULL);
    expect_err("h\xc3\xa4:1", "invalid character in host (letters, digits, '-', '.', '_' expected)", NULL);
    expect_err("999.1.1.1:80", "invalid IPv4 address", NULL);
    expect_err("01.2.3.4:80", "invalid IPv4 address", NULL);
    expect_err("10.1:80", "invalid IPv4 address", NULL);
    expect_err("h:x:2", "too many ':' in host:port", NULL);
    expect_err("h:1:2", "missing password (write host:port:user:pass)", NULL);
    char host[RT_UP_HOST_MAX + 8];
    memset(host, 'a', RT_UP_HOST_MAX + 1);
    memcpy(host + RT_UP_HOST_MAX + 1, ":1", 3);
    expect_err(host, "host name longer than 255 bytes", NULL);
    memset(host, 'a', RT_UP_HOST_MAX);
    memcpy(host + RT_UP_HOST_MAX, ":1", 3);
    rt_upstream u = parse_ok(host);
    assert_int_equal(strlen(u.host), RT_UP_HOST_MAX);
    rt_upstream_clear(&u);
}

static void test_other_errors(void **state)
{
    (void)state;
    expect_err("socks5://u:" SECRET "@h:1",
               "unsupported scheme 'socks5://': socks5:// upstreams are not supported yet (use http:// or https://)",
               NULL);
    expect_err("SOCKS5H://h:1080",
               "unsupported scheme 'SOCKS5H://': socks5:// upstreams are not supported yet (use http:// or https://)",
               NULL);
    expect_err("ftp://u:" SECRET "@h:1", "unsupported scheme 'ftp://' (use http:// or https://)", NULL);
    /* "httpss" and "http2" are not https. */
    expect_err("httpss://h:1", "unsupported scheme 'httpss://' (use http:// or https://)", NULL);
    expect_err("http2://h:1", "unsupported scheme 'http2://' (use http:// or https://)", NULL);
    expect_err("://h:1", "missing scheme before '://' (write http://host:port)", NULL);
    expect_err("h:1:user", "missing password (write host:port:user:pass)", NULL);
    expect_err("h:1::" SECRET, "empty username in host:port:user:pass", NULL);
    expect_err("@h:1", "empty credentials before '@' (write user:pass@host:port or drop the '@')", NULL);
    expect_err(":" SECRET "@h:1", "empty username before ':' (write user:pass@host:port)", NULL);
    expect_err("", "empty entry", NULL);
    expect_err("   ", "empty entry", NULL);
    expect_err("h:1 junk", "whitespace inside the entry (a label is written ENTRY #label)", NULL);
    expect_err("http://u:S3cr3t Pw@h:1", "whitespace inside the entry (a label is written ENTRY #label)", "S3cr3t");
    expect_err("h:1 #", "empty label after '#'", NULL);
    expect_err("h:1 #   ", "empty label after '#'", NULL);
    expect_err("#h:1", "entry starts with '#' (that is a comment, not an upstream)", NULL);
    expect_err("h:1\x1b[31m", "control character in entry", NULL);
    expect_err_n("h:1:u:S3cr3t\0Pw", 15, "control character in entry", "S3cr3t");

    char big[RT_UP_ENTRY_MAX + 8];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    expect_err(big, "entry longer than 4096 bytes", NULL);

    /* Passwords too long for a Basic value. */
    static char longpw[RT_UP_PASS_MAX + 64];
    int k = snprintf(longpw, sizeof longpw, "h:1:u:");
    memset(longpw + k, 'x', RT_UP_PASS_MAX + 1);
    longpw[k + RT_UP_PASS_MAX + 1] = '\0';
    expect_err(longpw, "password longer than 1024 bytes", NULL);
    longpw[k + RT_UP_PASS_MAX] = '\0';
    rt_upstream u = parse_ok(longpw);
    assert_int_equal(strlen(u.pass), RT_UP_PASS_MAX);
    rt_upstream_clear(&u);

    /* A NULL error buffer is allowed. */
    assert_int_equal(rt_upstream_parse("h", 1, &u, NULL, 0), -1);
    /* A small one truncates but stays terminated. */
    char small[8];
    assert_int_equal(rt_upstream_parse("h", 1, &u, small, sizeof small), -1);
    assert_string_equal(small, "missing");
}

/* https:// entries: TLS to the proxy, port 443 unless given, every other
 * rule of the URL form unchanged, and no secret in labels or messages. */
static void test_https_form(void **state)
{
    (void)state;
    rt_upstream u = parse_ok("https://user:" SECRET "@proxy.example:8443");
    assert_int_equal(u.scheme, RT_UP_HTTPS);
    assert_string_equal(u.host, "proxy.example");
    assert_int_equal(u.port, 8443);
    assert_string_equal(u.user, "user");
    assert_string_equal(u.pass, SECRET);
    assert_string_equal(u.label, "proxy.example:8443");
    assert_null(strstr(u.label, SECRET));
    assert_non_null(u.auth_basic);
    assert_null(strstr(u.auth_basic, SECRET)); /* base64, not the text */
    rt_upstream_clear(&u);

    /* No port: 443, in the entry and in its default label. */
    u = parse_ok("HTTPS://u:" SECRET "@gate.example");
    assert_int_equal(u.scheme, RT_UP_HTTPS);
    assert_string_equal(u.host, "gate.example");
    assert_int_equal(u.port, 443);
    assert_string_equal(u.label, "gate.example:443");
    assert_null(strstr(u.label, SECRET));
    rt_upstream_clear(&u);

    u = parse_ok("https://10.0.0.7/");
    assert_int_equal(u.port, 443);
    assert_null(u.user);
    assert_null(u.auth_basic);
    rt_upstream_clear(&u);

    u = parse_ok("https://[2001:db8::5] #tls6");
    assert_int_equal(u.scheme, RT_UP_HTTPS);
    assert_string_equal(u.host, "2001:db8::5");
    assert_int_equal(u.port, 443);
    assert_string_equal(u.label, "tls6");
    rt_upstream_clear(&u);

    u = parse_ok("https://u:p%40ss@[::1]:4443");
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 4443);
    assert_string_equal(u.pass, "p@ss");
    assert_string_equal(u.label, "[::1]:4443");
    rt_upstream_clear(&u);

    /* Session slots work the same over TLS. */
    u = parse_ok("https://cust-{session}:" SECRET "@gate.example:7443");
    assert_true(u.session_slot);
    assert_null(u.auth_basic);
    rt_upstream_clear(&u);

    /* The default port is for https:// alone: the other forms still need one. */
    expect_err("http://h.example", "missing port (write host:port)", NULL);
    expect_err("u:" SECRET "@h.example", "missing port (write host:port)", NULL);
    expect_err("h.example", "missing port (write host:port)", NULL);
    expect_err("http://[::1]", "missing port (write [address]:port)", NULL);

    /* The URL rules apply as for http://, and messages never show the password. */
    expect_err("https://h.example:", "missing port (write host:port)", NULL);
    expect_err("https://h.example:0", "port out of range (1..65535)", NULL);
    expect_err("https://h.example:99999", "port out of range (1..65535)", NULL);
    expect_err("https://u:" SECRET "@h.example/x", "a proxy address has no path or query (remove what follows host:port)", NULL);
    expect_err("https://u:" SECRET "@h.example#x", "'#' in host: a label needs whitespace before it (host:port #label)", NULL);
    expect_err("https://u:p@ss" SECRET "@h.example", "'@' in password must be written %40", "p@ss");
    expect_err("https://u:a:" SECRET "@h.example", "':' in password must be written %3A", NULL);
    expect_err("https://u:" SECRET "@999.1.1.1", "invalid IPv4 address", NULL);
    expect_err("https://u:" SECRET "@[::1]x", "unexpected text after ']' (write [address]:port)", NULL);
    expect_err("https://", "missing host (write host:port)", NULL);
    expect_err("https://u:" SECRET "@", "missing host (write host:port)", NULL);
}

static void test_session_auth(void **state)
{
    (void)state;
    char out[512];
    rt_upstream u = parse_ok("http://cust-{session}-x:pw@gate.example:7000 #gate");
    assert_true(u.session_slot);
    assert_null(u.auth_basic);
    int n = rt_upstream_auth(&u, "abc", out, sizeof out);
    /* base64("cust-abc-x:pw") */
    assert_string_equal(out, "Basic Y3VzdC1hYmMteDpwdw==");
    assert_int_equal(n, (int)strlen(out));

    /* NULL session: the slot becomes empty. base64("cust--x:pw") */
    assert_true(rt_upstream_auth(&u, NULL, out, sizeof out) > 0);
    assert_string_equal(out, "Basic Y3VzdC0teDpwdw==");

    /* A ':' or control byte in the session would move the user/password
     * split; refused. */
    assert_int_equal(rt_upstream_auth(&u, "a:b", out, sizeof out), -1);
    assert_int_equal(rt_upstream_auth(&u, "a\r\nb", out, sizeof out), -1);
    char longsess[RT_UP_SESSION_MAX + 2];
    memset(longsess, 's', sizeof longsess - 1);
    longsess[sizeof longsess - 1] = '\0';
    assert_int_equal(rt_upstream_auth(&u, longsess, out, sizeof out), -1);
    longsess[RT_UP_SESSION_MAX] = '\0';
    assert_true(rt_upstream_auth(&u, longsess, out, sizeof out) > 0);

    /* Too small an output: -1, never a cut value. Exactly enough fits. */
    assert_int_equal(rt_upstream_auth(&u, "abc", out, 10), -1);
    assert_int_equal(rt_upstream_auth(&u, "abc", out, strlen("Basic Y3VzdC1hYmMteDpwdw==")), -1);
    assert_int_equal(rt_upstream_auth(&u, "abc", out, strlen("Basic Y3VzdC1hYmMteDpwdw==") + 1), 26);
    rt_upstream_clear(&u);

    /* Every occurrence is filled. base64("a1b1:p") */
    u = parse_ok("h:1:a{session}b{session}:p");
    assert_true(u.session_slot);
    assert_true(rt_upstream_auth(&u, "1", out, sizeof out) > 0);
    assert_string_equal(out, "Basic YTFiMTpw");
    rt_upstream_clear(&u);

    /* Without a slot the precomputed value is used, the session ignored. */
    u = parse_ok("http://user:pass@h:1");
    assert_int_equal(rt_upstream_auth(&u, "zzz", out, sizeof out), 18);
    assert_string_equal(out, "Basic dXNlcjpwYXNz");
    rt_upstream_clear(&u);

    /* No credentials: 0 and an empty string. */
    u = parse_ok("h:1");
    out[0] = 'x';
    assert_int_equal(rt_upstream_auth(&u, "s", out, sizeof out), 0);
    assert_string_equal(out, "");
    rt_upstream_clear(&u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_form),
        cmocka_unit_test(test_userinfo_form),
        cmocka_unit_test(test_colon_form),
        cmocka_unit_test(test_hostport_and_direct),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_percent_decoding),
        cmocka_unit_test(test_unencoded_specials),
        cmocka_unit_test(test_bad_escapes),
        cmocka_unit_test(test_ports_and_hosts),
        cmocka_unit_test(test_other_errors),
        cmocka_unit_test(test_https_form),
        cmocka_unit_test(test_session_auth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
