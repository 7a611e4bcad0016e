/*
 * utf8.c: strict UTF-8 validation and code point counting.
 *
 * Responsible for deciding whether bytes are well-formed UTF-8 as RFC 3629
 * and Unicode table 3-7 define it, and for counting code points, which is how
 * every length limit of tavla.v1 is measured. Not responsible for
 * normalisation, grapheme clusters or display width: "å" typed as a + U+030A
 * is two characters here.
 *
 * Invariants:
 *  1. Accepted: exactly the shortest encoding of each scalar value U+0000 to
 *     U+10FFFF except the surrogates U+D800..U+DFFF. NUL is a valid code
 *     point; nothing here stops at a zero byte.
 *  2. Refused: overlong forms (C0, C1, E0 80..9F, F0 80..8F), surrogates
 *     (ED A0..BF), values above U+10FFFF (F4 90.., F5..FF), stray
 *     continuation bytes and sequences cut short by the end of the input.
 *  3. Both functions read s[0..len) only and never more.
 */
#include "tv_protocol.h"

/* Returns the byte length (1..4) of the well-formed sequence at s[0..avail),
 * or 0 when it is malformed or truncated. avail > 0. */
static size_t seq_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the 2nd byte */
	size_t n, i;

	if (c < 0x80)
		return 1;
	if (c < 0xC2) /* continuation byte, or C0/C1 overlong lead */
		return 0;
	if (c < 0xE0) {
		n = 2;
	} else if (c < 0xF0) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0; /* below: overlong */
		else if (c == 0xED)
			hi = 0x9F; /* above: surrogates */
	} else if (c < 0xF5) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90; /* below: overlong */
		else if (c == 0xF4)
			hi = 0x8F; /* above: beyond U+10FFFF */
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return n;
}

/* Returns 1 if s[0..len) is well-formed UTF-8, else 0. s may be NULL when
 * len is 0. No side effects. */
int tv_utf8_valid(const char *s, size_t len)
{
	return tv_utf8_count(s, len) >= 0;
}

/* Returns the number of code points in s[0..len), or -1 if it is not
 * well-formed UTF-8. ASCII runs are skipped a byte at a time without the
 * general decoder, which is the common case for tavla traffic. */
long tv_utf8_count(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;
	long count = 0;

	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			count++;
			continue;
		}
		n = seq_len(p + i, len - i);
		if (n == 0)
			return -1;
		i += n;
		count++;
	}
	return count;
}
