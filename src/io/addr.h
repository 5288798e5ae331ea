/* Socket addresses as users write them: "127.0.0.1:8899", "[::1]:8899",
 * "localhost:8899", ":8899" (loopback). */
#ifndef ROTOR_IO_ADDR_H
#define ROTOR_IO_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

typedef struct io_addr {
    struct sockaddr_storage ss;
    socklen_t len;
} io_addr;

/* Parse a numeric listen address ("localhost" is taken as 127.0.0.1).
 * Returns 0, or -1 with a reason in err. */
int io_addr_parse(const char *s, io_addr *out, char *err, size_t errlen);
/* A numeric IPv4/IPv6 host (no brackets) and a port; -1 if host is a name. */
int io_addr_numeric(const char *host, unsigned port, io_addr *out);
/* Is the address in 127.0.0.0/8 or ::1 (or v4-mapped loopback)? */
bool io_addr_is_loopback(const io_addr *a);
/* "127.0.0.1:8899" / "[::1]:8899" into buf. */
const char *io_addr_str(const struct sockaddr *sa, char *buf, size_t cap);
/* Port of a sockaddr (host order). */
unsigned io_addr_port(const struct sockaddr *sa);

#endif
