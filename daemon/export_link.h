/*
 * export_link.h: the signed tokens of export links (GET /export?t=...).
 *
 * Responsible for: making and checking a token, pure (key in, text out),
 * so tests/fuzz/fuzz_export_link.c can run the checker on any bytes. Not
 * responsible for: the key (export.c makes it per daemon start), expiry
 * (the caller compares expires_ms with its clock) or serving the report.
 *
 * A token is base64url("v1|room|identity|format|expires_ms|moderator") "."
 * base64url(HMAC-SHA256(key, that)), padding dropped.
 */
#ifndef TV_EXPORT_LINK_H
#define TV_EXPORT_LINK_H

#include <stddef.h>
#include <stdint.h>

/* The most bytes a token may have (lws hands the query argument over in a
 * buffer of this size). */
#define EXPORT_TOKEN_MAX 1023

struct export_token {
	char room[64], identity[64];
	int format;         /* report.h */
	int64_t expires_ms;
	int moderator;      /* the permission the maker had */
};

enum export_token_status { EXPORT_TOKEN_OK = 0, EXPORT_TOKEN_BAD = -1, EXPORT_TOKEN_FORGED = -2 };

/* Writes t's token to out (n bytes). Returns 0, or -1 when it does not
 * fit or a field holds '|'. */
int export_token_make(const unsigned char *key, size_t keylen, const struct export_token *t,
                      char *out, size_t n);
/* Checks token and fills *out. Returns EXPORT_TOKEN_OK, EXPORT_TOKEN_BAD
 * (not a token: wrong shape, encoding, fields) or EXPORT_TOKEN_FORGED (a
 * token whose signature this key did not make). */
int export_token_check(const unsigned char *key, size_t keylen, const char *token,
                       struct export_token *out);

#endif
