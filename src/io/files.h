/* Reading the configuration files rotor loads at start and on SIGHUP (the
 * pool file, a signatures file), then handing their text to the pure
 * parsers in src/core. The core never touches the file system; this is
 * where the file system is touched. */
#ifndef ROTOR_IO_FILES_H
#define ROTOR_IO_FILES_H

#include <stddef.h>

#include "core/errors/sig.h"
#include "core/pool/upstream.h"

/* The whole file at path, at most max bytes, NUL-terminated (the NUL is
 * not counted in *len); the caller frees it. NULL with err set to
 * "cannot read WHAT 'PATH': reason" or "WHAT 'PATH' is larger than ..."
 * (what names the file's role, e.g. "pool file"). */
char *io_read_text(const char *path, const char *what, size_t max, size_t *len, char *err, size_t errlen);

/* Read and parse a pool file (rt_pool_parse): errors name file:line, or
 * the OS error for I/O. */
int io_pool_load(const char *path, rt_pool *out, char *err, size_t errlen);

/* Read a signatures file (at most RT_SIG_FILE_MAX bytes) and put its
 * entries in front of the set's (rt_sig_load_text): all or nothing. */
int io_sig_load_file(const char *path, rt_sigset *s, char *err, size_t errlen);

#endif
