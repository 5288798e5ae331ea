/* The lab's throw-away PKI: a test CA and one server certificate for every
 * lab host name, made in memory at start. Only the CA certificate is written
 * to disk (PEM) so that clients can trust it (curl --cacert); no private key
 * ever touches the disk. */
#ifndef ROTOR_LAB_TLS_H
#define ROTOR_LAB_TLS_H

#include <stddef.h>
#include <openssl/ssl.h>

typedef struct lab_tls lab_tls;

/* Generate the CA and a server certificate whose subjectAltName lists
 * `names` (DNS names) plus localhost and IP 127.0.0.1. Returns NULL with a
 * reason in err on failure. The caller frees with lab_tls_free. */
lab_tls *lab_tls_new(const char *const *names, size_t nnames, char *err, size_t errlen);
/* Write the CA certificate as PEM to path (mode 0644). Returns 0 or -1. */
int lab_tls_write_ca(const lab_tls *t, const char *path, char *err, size_t errlen);
/* A server SSL_CTX holding the certificate and key; owned by t. */
SSL_CTX *lab_tls_server_ctx(const lab_tls *t);
void lab_tls_free(lab_tls *t);

#endif
