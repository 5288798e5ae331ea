/* libFuzzer target: rt_chunked_scan fed in pieces whose sizes derive from
 * the first input byte. Whatever the split, the answer (end offset, or
 * error) must equal a one-shot scan, and no call may consume more than it
 * was given or anything past the end of the message. */
#include "fuzz_unity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint32_t seed = data[0] * 2654435761u + 1;
    size--;
    char *buf = fuzz_copy(data + 1, size);

    rt_chunked once;
    bool done_once = false;
    rt_chunked_init(&once);
    ssize_t r_once = rt_chunked_scan(&once, buf, size, &done_once);
    FUZZ_CHECK(r_once >= -1 && r_once <= (ssize_t)size);
    FUZZ_CHECK(!done_once || r_once >= 0);
    FUZZ_CHECK(r_once < 0 || done_once || r_once == (ssize_t)size);

    rt_chunked c;
    rt_chunked_init(&c);
    size_t off = 0;
    bool done = false, err = false;
    while (off < size && !done) {
        seed = seed * 1103515245u + 12345u;
        size_t piece = 1 + (seed >> 16) % 17;
        if (seed & 0x8000)
            piece = 1 + (seed >> 8) % 4096; /* sometimes big pieces */
        if (piece > size - off)
            piece = size - off;
        /* Each piece is its own allocation: no peeking past it. */
        char *p = fuzz_copy((const uint8_t *)buf + off, piece);
        ssize_t r = rt_chunked_scan(&c, p, piece, &done);
        free(p);
        if (r < 0) {
            err = true;
            break;
        }
        FUZZ_CHECK((size_t)r <= piece);
        FUZZ_CHECK(done || (size_t)r == piece);
        off += (size_t)r;
    }
    FUZZ_CHECK(err == (r_once < 0));
    if (!err) {
        FUZZ_CHECK(done == done_once);
        FUZZ_CHECK(off == (size_t)r_once);
        /* Done is sticky and consumes nothing more. */
        bool again = false;
        if (done)
            FUZZ_CHECK(rt_chunked_scan(&c, buf, size, &again) == 0 && again);
    }
    free(buf);
    return 0;
}
