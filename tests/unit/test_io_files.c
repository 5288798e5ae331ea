/* Reading configuration files (io/files.c): a pool file and a signatures
 * file from disk, with their errors (missing, a directory, too large, a
 * bad line named file:line), and the bounded whole-file reader. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/files.h"

#define SECRET "S3cr3tPw"

/* Writes text to a fresh temporary file; returns its path (static storage). */
static const char *tmpfile_with(const char *text, size_t n)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/rotor-files-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    return path;
}

static void test_pool_file(void **state)
{
    (void)state;
    char path[] = "/tmp/rotor-pool-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *body = "# test pool\nhttp://u:p%40ss@one.example:8080 #one\ntwo.example:3128\n";
    assert_int_equal(write(fd, body, strlen(body)), (ssize_t)strlen(body));
    close(fd);

    rt_pool p;
    char err[512] = "";
    if (io_pool_load(path, &p, err, sizeof err))
        fail_msg("refused: %s", err);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.source, path);
    assert_string_equal(p.v[0].pass, "p@ss");
    assert_string_equal(p.v[1].label, "two.example:3128");
    rt_pool_clear(&p);

    /* Errors name the path as given, with the line. */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    const char *bad = "one.example:8080\nhttp://u:" SECRET "@x:99999\n";
    assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
    close(fd);
    assert_int_equal(io_pool_load(path, &p, err, sizeof err), -1);
    char want[256];
    snprintf(want, sizeof want, "%s:2: port out of range (1..65535)", path);
    assert_string_equal(err, want);
    assert_null(p.v);
    unlink(path);

    assert_int_equal(io_pool_load("/nonexistent/pool.txt", &p, err, sizeof err), -1);
    assert_string_equal(err, "cannot read pool file '/nonexistent/pool.txt': No such file or directory");
    assert_null(p.v);

    assert_int_equal(io_pool_load("/tmp", &p, err, sizeof err), -1);
    assert_string_equal(err, "cannot read pool file '/tmp': Is a directory");
    assert_null(p.v);
}

static void test_signatures_file(void **state)
{
    (void)state;
    char err[512];
    rt_sigset *s = rt_sigset_new();
    static const char good[] = "sig acme.quota\nlayer proxy\ncode proxy_quota_exceeded\nstatus 402\n"
                               "header X-Acme-Error ^quota\nsource ACME support\n";
    const char *path = tmpfile_with(good, sizeof good - 1);
    assert_int_equal(io_sig_load_file(path, s, err, sizeof err), 0);
    unlink(path);
    assert_int_equal(rt_sigset_count(s), 1);
    assert_string_equal(rt_sigset_id(s, 0), "acme.quota");

    assert_int_equal(io_sig_load_file("/nonexistent/rotor.sig", s, err, sizeof err), -1);
    assert_string_equal(err, "cannot read signatures file '/nonexistent/rotor.sig': No such file or directory");
    static const char bad[] = "sig a.b\nlayer proxy\ncode proxy_error\nsource s\nstatus 500\nbogus 1\n";
    path = tmpfile_with(bad, sizeof bad - 1);
    assert_int_equal(io_sig_load_file(path, s, err, sizeof err), -1);
    char want[128];
    snprintf(want, sizeof want, "%s:6: unknown key 'bogus'", path);
    assert_string_equal(err, want);
    unlink(path);
    assert_int_equal(rt_sigset_count(s), 1); /* all or nothing */
    rt_sigset_free(s);
}

static void test_read_text_bounds(void **state)
{
    (void)state;
    char err[256];
    size_t n = 99;
    /* Exactly at the limit is read whole (and NUL-terminated); one byte
     * more is refused, with the limit named. */
    const char *path = tmpfile_with("0123456789", 10);
    char *t = io_read_text(path, "test file", 10, &n, err, sizeof err);
    assert_non_null(t);
    assert_int_equal(n, 10);
    assert_string_equal(t, "0123456789");
    free(t);
    assert_null(io_read_text(path, "test file", 9, &n, err, sizeof err));
    char want[128];
    snprintf(want, sizeof want, "test file '%s' is larger than 9 bytes", path);
    assert_string_equal(err, want);
    unlink(path);
    /* An empty file is empty text, not an error. */
    path = tmpfile_with("", 0);
    t = io_read_text(path, "test file", 10, &n, err, sizeof err);
    assert_non_null(t);
    assert_int_equal(n, 0);
    free(t);
    unlink(path);
    /* A pipe has no size: the growing read still stops at the limit. */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    static char big[20000];
    memset(big, 'x', sizeof big);
    assert_int_equal(write(fds[1], big, sizeof big), (ssize_t)sizeof big);
    close(fds[1]);
    char dev[64];
    snprintf(dev, sizeof dev, "/dev/fd/%d", fds[0]);
    assert_null(io_read_text(dev, "test file", 10000, &n, err, sizeof err));
    assert_non_null(strstr(err, "is larger than 10000 bytes"));
    close(fds[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_file),
        cmocka_unit_test(test_signatures_file),
        cmocka_unit_test(test_read_text_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
