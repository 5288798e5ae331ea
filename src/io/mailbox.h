/* A wake-up another thread can send to an event loop: the only way a
 * worker's loop is touched from outside it, so worker loops run without
 * libevent's internal locks (EVENT_BASE_FLAG_NOLOCK). The sender puts its
 * message somewhere the receiver reads under its own lock or an atomic,
 * then posts; the callback runs in the loop's thread, once per burst. */
#ifndef ROTOR_IO_MAILBOX_H
#define ROTOR_IO_MAILBOX_H

#include <event2/event.h>

typedef struct io_mailbox io_mailbox;

/* NULL when out of descriptors or memory. */
io_mailbox *io_mailbox_new(struct event_base *base, void (*cb)(void *arg), void *arg);
/* From any thread, and from a signal handler. */
void io_mailbox_post(io_mailbox *m);
void io_mailbox_free(io_mailbox *m);

#endif
