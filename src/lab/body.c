/* Message bodies in the lab: passing a length-delimited or chunked body from
 * the front of an input buffer on to an output buffer, or dropping it. The
 * target and the driver drop bodies they do not look at; the proxy forwards
 * request bodies. */
#include <event2/buffer.h>

#include "lab/lab_int.h"

bool lab_body_pass_length(struct evbuffer *in, struct evbuffer *out, uint64_t *left)
{
    size_t avail = evbuffer_get_length(in);
    size_t n = (uint64_t)avail < *left ? avail : (size_t)*left;
    if (out)
        evbuffer_remove_buffer(in, out, n);
    else
        evbuffer_drain(in, n);
    *left -= n;
    return *left == 0;
}

int lab_body_pass_chunked(struct evbuffer *in, struct evbuffer *out, rt_chunked *ch)
{
    bool done = false;
    while (!done && evbuffer_get_length(in)) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            break;
        ssize_t k = rt_chunked_scan(ch, v.iov_base, v.iov_len, &done);
        if (k < 0)
            return -1;
        if (out)
            evbuffer_remove_buffer(in, out, (size_t)k);
        else
            evbuffer_drain(in, (size_t)k);
    }
    return done ? 1 : 0;
}
