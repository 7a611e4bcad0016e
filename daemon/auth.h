/*
 * auth.h: moderator passwords with argon2id (libargon2).
 *
 * Responsible for: hashing new passwords and verifying logins off the loop
 * thread (libuv's thread pool), with a cap on how many hashes run at once
 * so a login flood cannot exhaust memory (each hash takes argon2_memory
 * KiB). Not responsible for: accounts (store) or tokens (crypto, session).
 *
 * Invariants:
 *  1. Unknown users cost the same work as known ones (a hash of the
 *     attempt with a random salt), so timing does not reveal who exists.
 *  2. The password text is wiped from memory when a verification ends.
 */
#ifndef TV_AUTH_H
#define TV_AUTH_H

#include <stddef.h>

struct tv_server;

/* Encodes pw with argon2id, m_kib KiB, t passes, p 1, random 16-byte salt.
 * Returns 0 or negative. out gets the "$argon2id$v=19$..." string. */
int auth_hash_password(const char *pw, unsigned m_kib, unsigned t, char *out, size_t outlen);

/* Verifies pw against encoded on the thread pool and calls done(arg, ok)
 * on the loop thread. Takes ownership of encoded (NULL: unknown user;
 * always fails after equal work). Returns 0, or -TV_E_OVERLOADED when the
 * cap on concurrent hashes is reached (done is then not called). */
int auth_verify_async(struct tv_server *srv, char *encoded, const char *pw, size_t pwlen,
                      void (*done)(void *arg, int ok), void *arg);

#endif
