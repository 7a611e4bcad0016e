/*
 * crypto.h: randomness and hashing for tavlad (the one daemon module besides
 * tls_cert and ws_server that uses OpenSSL).
 *
 * Responsible for: random identifiers, resume tokens and their hashes,
 * request fingerprints. Not responsible for: TLS, passwords (auth.c, argon2).
 *
 * Invariants:
 *  1. Tokens are 32 random bytes from RAND_bytes, base64url without padding:
 *     exactly TV_TOKEN_LEN characters.
 *  2. Only SHA-256 hashes of tokens ever leave this module for storage.
 */
#ifndef TV_CRYPTO_H
#define TV_CRYPTO_H

#include <stddef.h>

#define TV_TOKEN_LEN 43
#define TV_HASH_LEN 32
#define TV_ID_LEN 14 /* "r_" or "i_" + 12 base32 characters */

/* Fills buf with n random bytes. Returns 0 or -TV_E_INTERNAL. */
int crypto_random(void *buf, size_t n);
/* Writes prefix ("r_", "i_") + 12 random base32 characters and a NUL into
 * out (at least TV_ID_LEN + 1 bytes). Returns 0 or negative. */
int crypto_random_id(char *out, const char *prefix);
/* A 6-character join code from ABCDEFGHJKLMNPQRSTUVWXYZ23456789 + NUL. */
int crypto_random_code(char out[7]);
/* A new token (TV_TOKEN_LEN chars + NUL) and its SHA-256 hash. */
int crypto_token_new(char token[TV_TOKEN_LEN + 1], unsigned char hash[TV_HASH_LEN]);
/* SHA-256 of len bytes. */
void crypto_sha256(const void *data, size_t len, unsigned char out[TV_HASH_LEN]);

#endif
