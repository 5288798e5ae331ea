#include "io/logq.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct io_logq {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    char *buf;          /* pending bytes, appended by producers */
    size_t len, cap;
    bool stop, reopen;
    bool urgent;        /* an event line waits: write without batching */
    int fd;
    bool is_stdout;
    char *path;
    _Atomic uint64_t dropped;
    uint64_t dropped_reported;
};

static int open_log(const char *path)
{
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return; /* disk full or closed pipe: nothing better to do here */
        }
        p += w;
        n -= (size_t)w;
    }
}

static void *writer_main(void *arg)
{
    io_logq *q = arg;
    size_t cap = q->cap;
    char *local = malloc(cap);
    if (!local)
        return NULL;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->len && !q->stop && !q->reopen)
            pthread_cond_wait(&q->cv, &q->mu);
        /* Let lines gather for a moment: one write(2) and one wake-up per
         * batch instead of per line (at tens of thousands of requests a
         * second, a wake-up per line cost more CPU than the requests). A
         * queue past the high-water mark, a stop or a reopen cuts it short. */
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += IO_LOGQ_BATCH_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (q->len < q->cap / 4 && !q->stop && !q->reopen && !q->urgent)
            if (pthread_cond_timedwait(&q->cv, &q->mu, &until) == ETIMEDOUT)
                break;
        /* Swap the pending bytes out so producers are never held up by a
         * write(2) on the file. */
        size_t n = q->len;
        memcpy(local, q->buf, n);
        q->len = 0;
        bool reopen = q->reopen, stop = q->stop;
        q->reopen = false;
        q->urgent = false;
        pthread_mutex_unlock(&q->mu);

        write_all(q->fd, local, n);
        uint64_t d = atomic_load(&q->dropped);
        if (d != q->dropped_reported) {
            char msg[160];
            int m = snprintf(msg, sizeof msg,
                             "{\"event\":\"log_lines_dropped\",\"total\":%llu,\"why\":\"log queue full: the log file is slower than traffic\"}\n",
                             (unsigned long long)d);
            write_all(q->fd, msg, (size_t)m);
            q->dropped_reported = d;
        }
        if (reopen && !q->is_stdout) {
            int fd = open_log(q->path);
            if (fd >= 0) {
                close(q->fd);
                q->fd = fd;
            }
        }
        pthread_mutex_lock(&q->mu);
        if (stop && !q->len)
            break;
    }
    pthread_mutex_unlock(&q->mu);
    free(local);
    return NULL;
}

io_logq *io_logq_open(const char *path, size_t max_bytes, char *err, size_t errlen)
{
    io_logq *q = calloc(1, sizeof *q);
    if (!q)
        goto oom;
    q->cap = max_bytes ? max_bytes : IO_LOGQ_DEFAULT_BYTES;
    q->buf = malloc(q->cap);
    q->path = strdup(path);
    if (!q->buf || !q->path)
        goto oom;
    if (!strcmp(path, "-")) {
        q->fd = STDOUT_FILENO;
        q->is_stdout = true;
    } else if ((q->fd = open_log(path)) < 0) {
        snprintf(err, errlen, "cannot open log file '%s': %s", path, strerror(errno));
        free(q->buf);
        free(q->path);
        free(q);
        return NULL;
    }
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&q->thread, NULL, writer_main, q) != 0) {
        snprintf(err, errlen, "cannot start the log writer thread");
        if (!q->is_stdout)
            close(q->fd);
        free(q->buf);
        free(q->path);
        free(q);
        return NULL;
    }
    return q;
oom:
    snprintf(err, errlen, "out of memory for the log queue");
    if (q) {
        free(q->buf);
        free(q->path);
        free(q);
    }
    return NULL;
}

static void put(io_logq *q, const char *line, size_t n, bool urgent)
{
    pthread_mutex_lock(&q->mu);
    if (q->cap - q->len < n + 1) {
        pthread_mutex_unlock(&q->mu);
        atomic_fetch_add(&q->dropped, 1);
        return;
    }
    memcpy(q->buf + q->len, line, n);
    q->buf[q->len + n] = '\n';
    /* Wake the writer when it waits for a first line, or when the queue
     * passes the high-water mark during its batching wait; else it comes
     * round by itself within IO_LOGQ_BATCH_MS. */
    bool wake = q->len == 0 || (q->len < q->cap / 4 && q->len + n + 1 >= q->cap / 4) || (urgent && !q->urgent);
    q->urgent = q->urgent || urgent;
    q->len += n + 1;
    pthread_mutex_unlock(&q->mu);
    if (wake)
        pthread_cond_signal(&q->cv);
}

void io_logq_put(io_logq *q, const char *line, size_t n) { put(q, line, n, false); }
void io_logq_put_now(io_logq *q, const char *line, size_t n) { put(q, line, n, true); }

void io_logq_reopen(io_logq *q)
{
    pthread_mutex_lock(&q->mu);
    q->reopen = true;
    pthread_mutex_unlock(&q->mu);
    pthread_cond_signal(&q->cv);
}

uint64_t io_logq_dropped(const io_logq *q) { return atomic_load(&((io_logq *)q)->dropped); }

void io_logq_close(io_logq *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->mu);
    q->stop = true;
    pthread_mutex_unlock(&q->mu);
    pthread_cond_signal(&q->cv);
    pthread_join(q->thread, NULL);
    if (!q->is_stdout)
        close(q->fd);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    free(q->buf);
    free(q->path);
    free(q);
}
