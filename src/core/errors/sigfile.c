/* Reading a `--signatures FILE`. Kept apart from the parser so that the rest
 * of the errors module stays free of file-system access. */
#include "core/errors/sig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rt_sig_load_file(const char *path, rt_sigset *s, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = malloc(RT_SIG_FILE_MAX + 1);
    if (!buf) {
        fclose(f);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    size_t n = fread(buf, 1, RT_SIG_FILE_MAX + 1, f);
    int rd_err = ferror(f);
    fclose(f);
    if (rd_err) {
        free(buf);
        snprintf(err, errlen, "%s: read error", path);
        return -1;
    }
    if (n > RT_SIG_FILE_MAX) {
        free(buf);
        snprintf(err, errlen, "%s: larger than %u bytes", path, RT_SIG_FILE_MAX);
        return -1;
    }
    int rc = rt_sig_load_text(s, buf, n, path, err, errlen);
    free(buf);
    return rc;
}
