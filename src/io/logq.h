/* The non-blocking log writer: the event loops hand finished lines to a
 * bounded queue; one writer thread appends them to the file (or stdout).
 * A loop never waits on disk. When the queue is full a line is dropped and
 * counted, and the count is reported in the log itself once there is room:
 * a slow disk costs log lines, never request latency. Lines are written in
 * batches: a line reaches the file within IO_LOGQ_BATCH_MS. */
#ifndef ROTOR_IO_LOGQ_H
#define ROTOR_IO_LOGQ_H

#include <stddef.h>
#include <stdint.h>

typedef struct io_logq io_logq;

#define IO_LOGQ_DEFAULT_BYTES (8u << 20) /* queued bytes before lines are dropped */
#define IO_LOGQ_BATCH_MS 20L             /* longest a line waits in the queue (but see put) */

/* path "-" is stdout. Returns NULL with err set when the file cannot be
 * opened for appending. */
io_logq *io_logq_open(const char *path, size_t max_bytes, char *err, size_t errlen);
/* Queue one line (the newline is added). Thread-safe, never blocks on I/O. */
void io_logq_put(io_logq *q, const char *line, size_t n);
/* The same, written at once rather than with the next batch: for the rare
 * event lines (reloads, operator actions) someone may be watching for. */
void io_logq_put_now(io_logq *q, const char *line, size_t n);
/* Reopen the file (after rotation by logrotate); takes effect on the writer. */
void io_logq_reopen(io_logq *q);
uint64_t io_logq_dropped(const io_logq *q);
/* Flush what is queued, stop the writer and free. */
void io_logq_close(io_logq *q);

#endif
