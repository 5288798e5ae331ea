#include "io/mailbox.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct io_mailbox {
    int fd;
    struct event *ev;
    void (*cb)(void *arg);
    void *arg;
};

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    io_mailbox *m = arg;
    uint64_t n;
    /* eventfd: one read empties the counter however many posts came. */
    while (read(fd, &n, sizeof n) < 0 && errno == EINTR) {
    }
    m->cb(m->arg);
}

io_mailbox *io_mailbox_new(struct event_base *base, void (*cb)(void *arg), void *arg)
{
    io_mailbox *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->cb = cb;
    m->arg = arg;
    m->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (m->fd < 0 || !(m->ev = event_new(base, m->fd, EV_READ | EV_PERSIST, on_readable, m)) ||
        event_add(m->ev, NULL) != 0) {
        io_mailbox_free(m);
        return NULL;
    }
    return m;
}

void io_mailbox_post(io_mailbox *m)
{
    uint64_t one = 1;
    int saved = errno; /* safe in a signal handler */
    while (write(m->fd, &one, sizeof one) < 0 && errno == EINTR) {
    }
    errno = saved;
}

void io_mailbox_free(io_mailbox *m)
{
    if (!m)
        return;
    if (m->ev)
        event_free(m->ev);
    if (m->fd >= 0)
        close(m->fd);
    free(m);
}
