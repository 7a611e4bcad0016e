/*
 * buf.h: a reference-counted byte buffer for bytes that go on the wire.
 *
 * One serialised message is shared by every connection that sends it (an
 * event rendered once per audience reaches thousands of subscribers without
 * a copy). The payload is preceded by TV_WIRE_PRE bytes of headroom so the
 * WebSocket layer can put its frame header in front without copying
 * (ws_server.c checks at compile time that LWS_PRE fits).
 *
 * Invariants:
 *  1. refs > 0 while the buffer is reachable; the last tv_buf_unref frees.
 *  2. Only the loop thread touches refs (no atomics needed).
 *  3. The payload is NUL-terminated (not counted in len), so it can be
 *     handed to parsers and loggers as a C string.
 */
#ifndef TV_BUF_H
#define TV_BUF_H

#include <stddef.h>

#define TV_WIRE_PRE 32

struct tv_buf {
	unsigned refs;
	size_t len;
	unsigned char mem[]; /* TV_WIRE_PRE headroom, len payload bytes, NUL */
};

/* New buffer of len payload bytes (uninitialised but NUL-terminated), one
 * reference owned by the caller; NULL on OOM. */
struct tv_buf *tv_buf_new(size_t len);
/* New buffer holding a copy of s[0..len). */
struct tv_buf *tv_buf_copy(const void *s, size_t len);
/* Takes ownership of a malloc'd string s of len bytes (frees it). */
struct tv_buf *tv_buf_take(char *s, size_t len);

static inline char *tv_buf_data(struct tv_buf *b)
{
	return (char *)b->mem + TV_WIRE_PRE;
}
static inline struct tv_buf *tv_buf_ref(struct tv_buf *b)
{
	b->refs++;
	return b;
}
void tv_buf_unref(struct tv_buf *b);

#endif
