/* Test CA and server certificate generation for the lab's HTTPS target. */
#include "lab/tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define LAB_TLS_SAN_MAX 4096      /* subjectAltName text: 32 hosts fit easily */
#define LAB_TLS_VALID_DAYS 30

struct lab_tls {
    EVP_PKEY *ca_key;
    X509 *ca;
    EVP_PKEY *key;
    X509 *cert;
    SSL_CTX *ctx;
};

static void ssl_err(char *err, size_t errlen, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "";
    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    snprintf(err, errlen, "tls: %s failed%s%s", what, e ? ": " : "", buf);
    ERR_clear_error();
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ex)
        return -1;
    int ok = X509_add_ext(cert, ex, -1);
    X509_EXTENSION_free(ex);
    return ok ? 0 : -1;
}

/* A v3 certificate skeleton: random serial, validity from an hour ago (clock
 * skew between the lab and a client is zero, but some verifiers dislike a
 * notBefore of "now"), subject CN. */
static X509 *new_cert(EVP_PKEY *key, const char *cn)
{
    X509 *x = X509_new();
    unsigned char serial[8];
    if (!x || RAND_bytes(serial, sizeof serial) != 1)
        goto bad;
    serial[0] &= 0x7f; /* positive */
    BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x))) {
        BN_free(bn);
        goto bad;
    }
    BN_free(bn);
    X509_NAME *name = X509_get_subject_name(x);
    if (!X509_set_version(x, 2) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 86400L * LAB_TLS_VALID_DAYS) ||
        !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"rotor lab", -1, -1, 0) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) ||
        !X509_set_pubkey(x, key))
        goto bad;
    return x;
bad:
    X509_free(x);
    return NULL;
}

lab_tls *lab_tls_new(const char *const *names, size_t nnames, char *err, size_t errlen)
{
    lab_tls *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "tls: out of memory");
        return NULL;
    }
    char san[LAB_TLS_SAN_MAX];
    size_t len = 0;
    for (size_t i = 0; i < nnames; i++) {
        int n = snprintf(san + len, sizeof san - len, "DNS:%s,", names[i]);
        if (n < 0 || (size_t)n >= sizeof san - len) {
            snprintf(err, errlen, "tls: too many host names for one certificate");
            goto bad;
        }
        len += (size_t)n;
    }
    if (snprintf(san + len, sizeof san - len, "DNS:localhost,IP:127.0.0.1") >= (int)(sizeof san - len)) {
        snprintf(err, errlen, "tls: too many host names for one certificate");
        goto bad;
    }

    /* P-256 keys: fast to generate at every start and fast handshakes. */
    t->ca_key = EVP_EC_gen("P-256");
    t->key = EVP_EC_gen("P-256");
    if (!t->ca_key || !t->key) {
        ssl_err(err, errlen, "key generation");
        goto bad;
    }
    t->ca = new_cert(t->ca_key, "rotor lab test CA");
    if (!t->ca || !X509_set_issuer_name(t->ca, X509_get_subject_name(t->ca)) ||
        add_ext(t->ca, t->ca, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
        add_ext(t->ca, t->ca, NID_key_usage, "critical,keyCertSign,cRLSign") ||
        add_ext(t->ca, t->ca, NID_subject_key_identifier, "hash") ||
        add_ext(t->ca, t->ca, NID_authority_key_identifier, "keyid:always") ||
        !X509_sign(t->ca, t->ca_key, EVP_sha256())) {
        ssl_err(err, errlen, "CA certificate");
        goto bad;
    }
    t->cert = new_cert(t->key, names && nnames ? names[0] : "localhost");
    if (!t->cert || !X509_set_issuer_name(t->cert, X509_get_subject_name(t->ca)) ||
        add_ext(t->cert, t->ca, NID_basic_constraints, "critical,CA:FALSE") ||
        add_ext(t->cert, t->ca, NID_key_usage, "critical,digitalSignature") ||
        add_ext(t->cert, t->ca, NID_ext_key_usage, "serverAuth") ||
        add_ext(t->cert, t->ca, NID_subject_key_identifier, "hash") ||
        add_ext(t->cert, t->ca, NID_authority_key_identifier, "keyid:always") ||
        add_ext(t->cert, t->ca, NID_subject_alt_name, san) ||
        !X509_sign(t->cert, t->ca_key, EVP_sha256())) {
        ssl_err(err, errlen, "server certificate");
        goto bad;
    }
    t->ctx = SSL_CTX_new(TLS_server_method());
    if (!t->ctx || !SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION) ||
        SSL_CTX_use_certificate(t->ctx, t->cert) != 1 ||
        SSL_CTX_add1_chain_cert(t->ctx, t->ca) != 1 ||
        SSL_CTX_use_PrivateKey(t->ctx, t->key) != 1 ||
        SSL_CTX_check_private_key(t->ctx) != 1) {
        ssl_err(err, errlen, "server context");
        goto bad;
    }
    return t;
bad:
    lab_tls_free(t);
    return NULL;
}

int lab_tls_write_ca(const lab_tls *t, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "%s: cannot write the CA certificate: %s", path, strerror(errno));
        return -1;
    }
    int ok = PEM_write_X509(f, t->ca);
    if (fclose(f) != 0 || !ok) {
        snprintf(err, errlen, "%s: cannot write the CA certificate", path);
        return -1;
    }
    return 0;
}

SSL_CTX *lab_tls_server_ctx(const lab_tls *t)
{
    return t->ctx;
}

void lab_tls_free(lab_tls *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    X509_free(t->cert);
    X509_free(t->ca);
    EVP_PKEY_free(t->key);
    EVP_PKEY_free(t->ca_key);
    free(t);
}
