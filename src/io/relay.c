#include "io/relay.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/clock.h"

typedef struct dir {
    io_relay *r;
    evutil_socket_t src, dst;
    struct event *rev, *wev;   /* src readable, dst writable */
    struct evbuffer *pending;  /* bytes to deliver before anything read here */
    int pipe[2];               /* -1 until first data (splice mode) */
    bool copy_mode;            /* splice unsupported: read/write through buf */
    char *buf;                 /* copy mode buffer, IO_RELAY_CHUNK bytes */
    size_t held, off;          /* bytes in the pipe/buffer, and (copy) the offset of the next write */
    bool src_eof;
    uint64_t limit;            /* bytes to read from src at most (UINT64_MAX: no limit) */
    uint64_t read_total;
    uint64_t bytes;
    char first[IO_RELAY_FIRST];
    uint8_t nfirst;
} dir;

struct io_relay {
    dir d[2];                  /* d[0]: a -> b, d[1]: b -> a */
    io_relay_done_fn done;
    void *arg;
    uint64_t last_ms;
    bool ended;
    struct event *idle_ev;     /* gives pipes back once the relay is quiet */
};

/* A direction keeps its pipe (two descriptors) while data flows, so bulk
 * transfers splice without a pipe2() per chunk; once the relay has been
 * quiet this long, empty pipes go back. Thousands of idle tunnels then
 * cost two descriptors each (their sockets), not six. */
#define IO_RELAY_IDLE_RELEASE_MS 1000u
#define IO_RELAY_SMALL_READ (16u << 10)

static void arm_idle(io_relay *r, uint64_t ms)
{
    struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
    event_add(r->idle_ev, &tv);
}

static void finish(io_relay *r, int err, bool a_side)
{
    if (r->ended)
        return;
    r->ended = true;
    event_del(r->idle_ev);
    for (int i = 0; i < 2; i++) {
        if (r->d[i].rev)
            event_del(r->d[i].rev);
        if (r->d[i].wev)
            event_del(r->d[i].wev);
    }
    r->done(r->arg, err, a_side);
}

/* Try to move what is held toward dst. Returns 0, or an errno that ends
 * the relay. */
static int flush(dir *d)
{
    if (d->pending && evbuffer_get_length(d->pending)) {
        int n = evbuffer_write(d->pending, d->dst);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return errno;
        if (n > 0)
            d->bytes += (uint64_t)n;
        if (evbuffer_get_length(d->pending))
            return 0;
    }
    while (d->held) {
        ssize_t n = d->copy_mode ? send(d->dst, d->buf + d->off, d->held, MSG_NOSIGNAL | MSG_DONTWAIT)
                                 : splice(d->pipe[0], NULL, d->dst, NULL, d->held, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return 0;
            return errno;
        }
        d->held -= (size_t)n;
        d->off = d->held ? d->off + (size_t)n : 0;
        d->bytes += (uint64_t)n;
        d->r->last_ms = io_now_ms();
    }
    return 0;
}

/* Arm the events that fit the direction's state: read while there is room
 * and nothing waits to be written, else wait for dst to be writable. */
static void rearm(dir *d)
{
    bool blocked = d->held || (d->pending && evbuffer_get_length(d->pending));
    if (blocked) {
        event_del(d->rev);
        event_add(d->wev, NULL);
    } else {
        event_del(d->wev);
        if (!d->src_eof && d->read_total < d->limit)
            event_add(d->rev, NULL);
    }
}

static void release_sink(dir *d)
{
    if (d->pipe[0] >= 0) {
        close(d->pipe[0]);
        close(d->pipe[1]);
        d->pipe[0] = d->pipe[1] = -1;
    }
    free(d->buf);
    d->buf = NULL;
}

static bool ensure_sink(dir *d)
{
    if (d->copy_mode && d->buf)
        return true;
    if (!d->copy_mode && d->pipe[0] >= 0)
        return true;
    if (!event_pending(d->r->idle_ev, EV_TIMEOUT, NULL))
        arm_idle(d->r, IO_RELAY_IDLE_RELEASE_MS);
    if (d->copy_mode)
        return (d->buf = malloc(IO_RELAY_CHUNK)) != NULL;
    if (pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) == 0)
        return true;
    /* Out of descriptors for a pipe: this tunnel copies instead. */
    d->pipe[0] = d->pipe[1] = -1;
    d->copy_mode = true;
    return (d->buf = malloc(IO_RELAY_CHUNK)) != NULL;
}

static void on_event(dir *d, bool readable)
{
    io_relay *r = d->r;
    bool a_side = d == &r->d[0];
    int err = flush(d);
    if (err) {
        finish(r, err, !a_side);
        return;
    }
    if (readable && !d->held && !(d->pending && evbuffer_get_length(d->pending)) && !d->src_eof) {
        if (d->nfirst < IO_RELAY_FIRST) {
            ssize_t p = recv(d->src, d->first + d->nfirst, IO_RELAY_FIRST - d->nfirst, MSG_PEEK | MSG_DONTWAIT);
            if (p > 0)
                d->nfirst = (uint8_t)(d->nfirst + p);
        }
        if (!ensure_sink(d)) {
            finish(r, ENOMEM, a_side);
            return;
        }
        ssize_t n;
        /* A bounded transfer never reads past its end: the bytes after it
         * belong to the next message on the connection. */
        size_t want = IO_RELAY_CHUNK;
        if (d->limit - d->read_total < want)
            want = (size_t)(d->limit - d->read_total);
        for (;;) {
            n = d->copy_mode ? recv(d->src, d->buf, want, MSG_DONTWAIT)
                             : splice(d->src, NULL, d->pipe[1], NULL, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n < 0 && errno == EINVAL && !d->copy_mode) {
                /* splice does not support this socket: copy instead. */
                d->copy_mode = true;
                if (!ensure_sink(d)) {
                    finish(r, ENOMEM, a_side);
                    return;
                }
                continue;
            }
            break;
        }
        if (n == 0) {
            d->src_eof = true;
        } else if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                finish(r, errno, a_side);
                return;
            }
            /* Nothing more to read and nothing held: the direction is idle,
             * so its pipe (two descriptors) or buffer goes back. Thousands
             * of idle tunnels then cost no descriptors beyond their sockets. */
            if (!d->held)
                release_sink(d);
        } else {
            d->held = (size_t)n;
            d->off = 0;
            d->read_total += (uint64_t)n;
            r->last_ms = io_now_ms();
            if ((err = flush(d))) {
                finish(r, err, !a_side);
                return;
            }
            /* A small read, delivered at once: most likely one message of
             * an exchange (a request, a reply, a handshake record) and
             * then silence, so the pipe goes back now rather than after
             * the quiet second; a tunnel opened and left idle then never
             * holds one. Bulk reads are larger and keep theirs. */
            if ((size_t)n < IO_RELAY_SMALL_READ && !d->held)
                release_sink(d);
        }
    }
    /* A side that closed ends the tunnel once what it sent is delivered;
     * a bounded transfer ends when its last byte is delivered. */
    bool drained = !d->held && !(d->pending && evbuffer_get_length(d->pending));
    if (drained && (d->src_eof || d->read_total == d->limit)) {
        finish(r, 0, a_side);
        return;
    }
    rearm(d);
}

static void on_readable(evutil_socket_t fd, short what, void *arg) { on_event(arg, true); }

static void on_idle(evutil_socket_t fd, short what, void *arg)
{
    io_relay *r = arg;
    uint64_t quiet = io_now_ms() - r->last_ms;
    if (quiet < IO_RELAY_IDLE_RELEASE_MS) {
        arm_idle(r, IO_RELAY_IDLE_RELEASE_MS - quiet);
        return;
    }
    bool kept = false;
    for (int i = 0; i < 2; i++) {
        dir *d = &r->d[i];
        if (!d->held)
            release_sink(d);
        else
            kept = true; /* bytes still wait for the other side: keep them */
    }
    if (kept)
        arm_idle(r, IO_RELAY_IDLE_RELEASE_MS);
}
static void on_writable(evutil_socket_t fd, short what, void *arg) { on_event(arg, false); }

/* A direction from src to dst, its events not yet armed. Returns false
 * when out of memory. */
static bool dir_init(io_relay *r, dir *d, struct event_base *base, evutil_socket_t src, evutil_socket_t dst,
                     uint64_t limit)
{
    d->r = r;
    d->src = src;
    d->dst = dst;
    d->pipe[0] = d->pipe[1] = -1;
    d->limit = limit;
    d->rev = event_new(base, src, EV_READ | EV_PERSIST, on_readable, d);
    d->wev = event_new(base, dst, EV_WRITE | EV_PERSIST, on_writable, d);
    return d->rev && d->wev;
}

/* A relay with neither direction set up yet; NULL when out of memory. */
static io_relay *relay_new(struct event_base *base, io_relay_done_fn done, void *arg)
{
    io_relay *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->done = done;
    r->arg = arg;
    r->last_ms = io_now_ms();
    /* Both directions own no pipe yet, before anything can fail: 0 would be
     * a descriptor. */
    r->d[0].pipe[0] = r->d[0].pipe[1] = r->d[1].pipe[0] = r->d[1].pipe[1] = -1;
    r->idle_ev = evtimer_new(base, on_idle, r);
    if (!r->idle_ev) {
        io_relay_free(r);
        return NULL;
    }
    return r;
}

io_relay *io_relay_start(struct event_base *base, evutil_socket_t a, evutil_socket_t b,
                         struct evbuffer *pending_ab, struct evbuffer *pending_ba,
                         io_relay_done_fn done, void *arg)
{
    io_relay *r = relay_new(base, done, arg);
    if (!r)
        return NULL;
    struct evbuffer *pend[2] = { pending_ab, pending_ba };
    for (int i = 0; i < 2; i++) {
        dir *d = &r->d[i];
        bool ok = dir_init(r, d, base, i ? b : a, i ? a : b, UINT64_MAX);
        if (ok && pend[i] && evbuffer_get_length(pend[i])) {
            d->pending = evbuffer_new();
            if (d->pending) {
                size_t n = evbuffer_get_length(pend[i]);
                d->nfirst = (uint8_t)evbuffer_copyout(pend[i], d->first, n < IO_RELAY_FIRST ? n : IO_RELAY_FIRST);
                evbuffer_add_buffer(d->pending, pend[i]);
            }
        }
        if (!ok || (pend[i] && evbuffer_get_length(pend[i]))) {
            io_relay_free(r);
            return NULL;
        }
    }
    for (int i = 0; i < 2; i++)
        rearm(&r->d[i]);
    return r;
}

io_relay *io_relay_transfer(struct event_base *base, evutil_socket_t src, evutil_socket_t dst, uint64_t n,
                            io_relay_done_fn done, void *arg)
{
    io_relay *r = relay_new(base, done, arg);
    if (!r)
        return NULL;
    dir *d = &r->d[0];
    if (!dir_init(r, d, base, src, dst, n)) {
        io_relay_free(r);
        return NULL;
    }
    rearm(d);
    return r;
}

void io_relay_free(io_relay *r)
{
    if (!r)
        return;
    if (r->idle_ev)
        event_free(r->idle_ev);
    for (int i = 0; i < 2; i++) {
        dir *d = &r->d[i];
        if (d->rev)
            event_free(d->rev);
        if (d->wev)
            event_free(d->wev);
        if (d->pending)
            evbuffer_free(d->pending);
        if (d->pipe[0] >= 0)
            close(d->pipe[0]);
        if (d->pipe[1] >= 0)
            close(d->pipe[1]);
        free(d->buf);
    }
    free(r);
}

void io_relay_counts(const io_relay *r, uint64_t *ab, uint64_t *ba)
{
    *ab = r->d[0].bytes;
    *ba = r->d[1].bytes;
}

size_t io_relay_first(const io_relay *r, bool ab, const char **bytes)
{
    const dir *d = &r->d[ab ? 0 : 1];
    *bytes = d->first;
    return d->nfirst;
}

uint64_t io_relay_idle_ms(const io_relay *r)
{
    uint64_t now = io_now_ms();
    return now > r->last_ms ? now - r->last_ms : 0;
}
