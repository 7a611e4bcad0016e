/*
 * fuzz_export_link.c: libFuzzer target for the export link token checker
 * (daemon/export_link.c), which reads whatever a browser puts after
 * GET /export?t=.
 *
 * Invariants checked (export_link.h):
 *  1. Any bytes (cut at the first NUL, at most EXPORT_TOKEN_MAX, as lws
 *     hands them over) are OK, BAD or FORGED, never a crash or overflow.
 *  2. Nothing but a token made with this key checks OK; a token made from
 *     fields cut from the input checks OK and gives the same fields back.
 *  3. Changing any one character of a good token makes it not OK.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export_link.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                             \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,  \
			        __LINE__, #cond);                               \
			abort();                                                \
		}                                                               \
	} while (0)

static const unsigned char key[32] = "fuzzing key, 32 bytes long.....";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char tok[EXPORT_TOKEN_MAX + 1];
	size_t n = size < EXPORT_TOKEN_MAX ? size : EXPORT_TOKEN_MAX;
	memcpy(tok, data, n);
	tok[n] = 0;
	struct export_token out;
	int st = export_token_check(key, sizeof key, tok, &out);
	CHECK(st == EXPORT_TOKEN_OK || st == EXPORT_TOKEN_BAD || st == EXPORT_TOKEN_FORGED);

	/* A token made from the input's first bytes round-trips. */
	struct export_token t = { .format = size ? data[0] % 4 : 0,
				  .expires_ms = (int64_t)size * 1000, .moderator = size & 1 };
	size_t half = n / 2 < 63 ? n / 2 : 63;
	memcpy(t.room, data, half);
	t.room[half] = 0;
	snprintf(t.identity, sizeof t.identity, "i_%zu", size);
	char made[EXPORT_TOKEN_MAX + 1];
	/* (Rooms are never empty: an empty field is not a token.) */
	if (half && strlen(t.room) == half && !strchr(t.room, '|') &&
	    export_token_make(key, sizeof key, &t, made, sizeof made) == 0) {
		struct export_token back;
		CHECK(export_token_check(key, sizeof key, made, &back) == EXPORT_TOKEN_OK);
		CHECK(strcmp(back.room, t.room) == 0 || t.room[0] == 0);
		CHECK(back.format == t.format && back.expires_ms == t.expires_ms &&
		      back.moderator == t.moderator);
		size_t at = size ? data[size - 1] % strlen(made) : 0;
		made[at] = made[at] == 'A' ? 'B' : 'A';
		CHECK(export_token_check(key, sizeof key, made, &back) != EXPORT_TOKEN_OK);
	}
	return 0;
}
