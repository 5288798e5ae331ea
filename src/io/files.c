#include "io/files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* First read buffer when the size is unknown (a pipe, /dev/stdin). */
#define READ_INITIAL_CAP 4096

static void too_large(const char *path, const char *what, size_t max, char *err, size_t errlen)
{
    if (max >= (1u << 20) && max % (1u << 20) == 0)
        snprintf(err, errlen, "%s '%s' is larger than %zu MiB", what, path, max >> 20);
    else
        snprintf(err, errlen, "%s '%s' is larger than %zu bytes", what, path, max);
}

char *io_read_text(const char *path, const char *what, size_t max, size_t *len, char *err, size_t errlen)
{
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot read %s '%s': %s", what, path, strerror(errno));
        return NULL;
    }
    /* The size from fstat is only a hint for the first allocation: files
     * can change while being read and pipes have none. max is enforced on
     * the bytes actually read. */
    struct stat st;
    size_t cap = READ_INITIAL_CAP;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        if ((unsigned long long)st.st_size > max) {
            close(fd);
            too_large(path, what, max, err, errlen);
            return NULL;
        }
        cap = (size_t)st.st_size + 1;
    }
    char *buf = malloc(cap);
    size_t n = 0;
    int e = 0;
    bool big = false;
    while (buf) {
        if (n + 1 >= cap) { /* room for the NUL */
            if (cap > max + 1) {
                big = true;
                break;
            }
            size_t ncap = cap * 2 > max + 2 ? max + 2 : cap * 2;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            e = errno;
            break;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (!buf) {
        snprintf(err, errlen, "cannot read %s '%s': out of memory", what, path);
        return NULL;
    }
    if (big || n > max) {
        free(buf);
        too_large(path, what, max, err, errlen);
        return NULL;
    }
    if (e) {
        free(buf);
        snprintf(err, errlen, "cannot read %s '%s': %s", what, path, strerror(e));
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

int io_pool_load(const char *path, rt_pool *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    size_t n;
    char *text = io_read_text(path, "pool file", RT_POOL_FILE_MAX, &n, err, errlen);
    if (!text)
        return -1;
    int rc = rt_pool_parse(path, text, n, out, err, errlen);
    free(text);
    return rc;
}

int io_sig_load_file(const char *path, rt_sigset *s, char *err, size_t errlen)
{
    size_t n;
    char *text = io_read_text(path, "signatures file", RT_SIG_FILE_MAX, &n, err, errlen);
    if (!text)
        return -1;
    int rc = rt_sig_load_text(s, text, n, path, err, errlen);
    free(text);
    return rc;
}
