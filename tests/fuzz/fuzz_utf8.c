/*
 * fuzz_utf8.c: libFuzzer target for protocol/utf8.c against an independent
 * reference decoder.
 *
 * Responsible for checking that tv_utf8_valid() and tv_utf8_count() agree
 * with a deliberately plain decoder written from RFC 3629 / Unicode table
 * 3-7 (decode the scalar value, then refuse overlongs, surrogates and values
 * above U+10FFFF) on every input and on every prefix cut the fuzzer hands
 * over. Not responsible for anything above the byte level.
 *
 * Invariants checked:
 *  1. tv_utf8_valid(s) == reference_valid(s) for the input and for up to 64
 *     of its prefixes (every prefix of inputs up to 64 bytes), which is where
 *     sequences cut short by the end of the input come from.
 *  2. tv_utf8_count(s) == -1 exactly when invalid, else the reference's
 *     count of scalar values.
 *  3. Both read only s[0..len): the input is copied into a buffer of exactly
 *     len bytes, so ASan catches any read past it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tv_protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                             \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,  \
			        __LINE__, #cond);                               \
			abort();                                                \
		}                                                               \
	} while (0)

/* Returns the number of scalar values in s[0..len), or -1 when malformed. */
static long reference_count(const uint8_t *s, size_t len)
{
	size_t i = 0;
	long count = 0;

	while (i < len) {
		uint8_t b = s[i];
		size_t n;
		uint32_t cp, min;

		if (b <= 0x7F) {
			n = 1; cp = b; min = 0;
		} else if ((b & 0xE0) == 0xC0) {
			n = 2; cp = b & 0x1F; min = 0x80;
		} else if ((b & 0xF0) == 0xE0) {
			n = 3; cp = b & 0x0F; min = 0x800;
		} else if ((b & 0xF8) == 0xF0) {
			n = 4; cp = b & 0x07; min = 0x10000;
		} else {
			return -1; /* continuation byte or F8..FF */
		}
		if (len - i < n)
			return -1;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return -1;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return -1;
		i += n;
		count++;
	}
	return count;
}

static void check_one(const uint8_t *data, size_t len)
{
	char *copy = malloc(len ? len : 1);
	long want, got;

	CHECK(copy != NULL);
	memcpy(copy, data, len);
	want = reference_count((const uint8_t *)copy, len);
	got = tv_utf8_count(copy, len);
	if (got != want) {
		fprintf(stderr, "tv_utf8_count = %ld, reference = %ld, len %zu\n", got, want, len);
		abort();
	}
	CHECK(tv_utf8_valid(copy, len) == (want >= 0));
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Prefixes find "cut short by the end of the input" cases; bound the
	 * work so long inputs stay fast. */
	size_t step = size > 64 ? size / 64 : 1;

	check_one(data, size);
	for (size_t n = 0; n < size; n += step)
		check_one(data, n);
	if (size > 0)
		CHECK(tv_utf8_valid(NULL, 0) == 1 && tv_utf8_count(NULL, 0) == 0);
	return 0;
}
