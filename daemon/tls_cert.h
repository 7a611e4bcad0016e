/*
 * tls_cert.h: the self-signed development certificate tavlad makes on first
 * start, with the OpenSSL 3 API (no shell-out).
 *
 * Responsible for: generating an EC P-256 key and a certificate for
 * CN=localhost with subjectAltName DNS:localhost, IP:127.0.0.1, IP:::1,
 * valid 825 days, and writing them atomically (temp file + rename; the key
 * mode 0600). Not responsible for: loading certificates into the server
 * (ws_server does that through lws) or real certificates (certs/README.md).
 */
#ifndef TV_TLS_CERT_H
#define TV_TLS_CERT_H

#include <stddef.h>

/* If cert_path or key_path is missing, makes a new pair and writes both.
 * Existing files are left untouched. Returns 0, 1 when a new pair was made,
 * or a negative errno-style code with a message in err. */
int tls_cert_ensure_selfsigned(const char *cert_path, const char *key_path,
                               char *err, size_t errlen);

/* Checks that cert_path and key_path can be read, parse as PEM and belong
 * together (the SIGHUP reload refuses a mismatched pair and keeps the old
 * one). Returns 0 or negative with a message in err. */
int tls_cert_check_pair(const char *cert_path, const char *key_path,
                        char *err, size_t errlen);

#endif
