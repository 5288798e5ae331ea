/* A byte relay between two connected sockets for CONNECT tunnels, moving
 * data with splice(2) through a pipe so it never enters user space, and
 * falling back to read/write with a buffer where splice cannot be used.
 *
 * Costs: nothing beyond the two events per socket while a tunnel is idle;
 * a direction that carries data takes a pipe (or buffer) and gives it back
 * when a read finds its socket empty with nothing held, or when the relay
 * has been quiet for a second. Each direction holds at most IO_RELAY_CHUNK
 * bytes in flight, so a slow reader stops the fast side (backpressure). The relay ends when
 * either side closes or fails, after what was already read has been
 * delivered to the other side. */
#ifndef ROTOR_IO_RELAY_H
#define ROTOR_IO_RELAY_H

#include <event2/buffer.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#define IO_RELAY_CHUNK (64u << 10) /* bytes in flight per direction (a pipe's default size) */
#define IO_RELAY_FIRST 16          /* first bytes kept per direction, for classification */

typedef struct io_relay io_relay;

/* The relay ended: err is 0 for an orderly close, else the errno;
 * a_side says which socket ended it. The callback may free the relay. */
typedef void (*io_relay_done_fn)(void *arg, int err, bool a_side);

/* Start relaying between the non-blocking sockets a and b (not owned: the
 * caller closes them after io_relay_free). pending_ab / pending_ba hold
 * bytes already read that must be delivered first (their contents are
 * taken; the buffers stay the caller's; NULL for none). Returns NULL when
 * out of memory. */
io_relay *io_relay_start(struct event_base *base, evutil_socket_t a, evutil_socket_t b,
                         struct evbuffer *pending_ab, struct evbuffer *pending_ba,
                         io_relay_done_fn done, void *arg);
/* One way and bounded: move exactly n bytes from src to dst, then call
 * done with err 0. An earlier close of src also ends it with err 0:
 * io_relay_counts then tells how many bytes arrived. Only src's
 * readability and dst's writability are watched; whatever else happens on
 * the sockets is the caller's. */
io_relay *io_relay_transfer(struct event_base *base, evutil_socket_t src, evutil_socket_t dst, uint64_t n,
                            io_relay_done_fn done, void *arg);
void io_relay_free(io_relay *r);

/* Bytes delivered a->b and b->a, and the first bytes read each way. */
void io_relay_counts(const io_relay *r, uint64_t *ab, uint64_t *ba);
size_t io_relay_first(const io_relay *r, bool ab, const char **bytes);
/* Milliseconds since bytes last moved (either way). */
uint64_t io_relay_idle_ms(const io_relay *r);

#endif
