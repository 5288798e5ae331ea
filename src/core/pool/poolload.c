/* Reading a pool file from disk, then handing its text to rt_pool_parse.
 *
 * This is the one function of the pool module that touches the operating
 * system. It stays beside the parser because the configuration loader,
 * `rotor diagnose` and the tests all want "path in, pool or message out";
 * everything it does after read() is the pure rt_pool_parse. */
#include "core/pool/upstream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* First read buffer when the size is unknown (a pipe, /dev/stdin). */
#define LOAD_INITIAL_CAP 4096

int rt_pool_load(const char *path, rt_pool *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot read pool file '%s': %s", path, strerror(e));
        return -1;
    }

    /* The size from fstat is only a hint for the first allocation: files
     * can change while being read and pipes have none. RT_POOL_FILE_MAX is
     * enforced on the bytes actually read. */
    struct stat st;
    size_t cap = LOAD_INITIAL_CAP;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        if ((unsigned long long)st.st_size > RT_POOL_FILE_MAX) {
            close(fd);
            snprintf(err, errlen, "pool file '%s' is larger than %u MiB", path,
                     RT_POOL_FILE_MAX / (1024u * 1024u));
            return -1;
        }
        cap = (size_t)st.st_size + 1;
    }

    char *buf = malloc(cap);
    size_t len = 0;
    const char *why = NULL;
    int e = 0;
    while (buf) {
        if (len == cap) {
            if (cap > RT_POOL_FILE_MAX) {
                why = "too large";
                break;
            }
            size_t ncap = cap * 2 > (size_t)RT_POOL_FILE_MAX + 1 ? (size_t)RT_POOL_FILE_MAX + 1 : cap * 2;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            e = errno;
            break;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);

    if (!buf) {
        snprintf(err, errlen, "cannot read pool file '%s': out of memory", path);
        return -1;
    }
    if (why || len > RT_POOL_FILE_MAX) {
        free(buf);
        snprintf(err, errlen, "pool file '%s' is larger than %u MiB", path,
                 RT_POOL_FILE_MAX / (1024u * 1024u));
        return -1;
    }
    if (e) {
        free(buf);
        snprintf(err, errlen, "cannot read pool file '%s': %s", path, strerror(e));
        return -1;
    }
    int rc = rt_pool_parse(path, buf, len, out, err, errlen);
    free(buf);
    return rc;
}
