/* buf.c: reference-counted wire buffers (see buf.h). */
#include "buf.h"

#include <stdlib.h>
#include <string.h>

struct tv_buf *tv_buf_new(size_t len)
{
	struct tv_buf *b = malloc(sizeof *b + TV_WIRE_PRE + len + 1);
	if (!b)
		return NULL;
	b->refs = 1;
	b->len = len;
	b->mem[TV_WIRE_PRE + len] = 0;
	return b;
}

struct tv_buf *tv_buf_copy(const void *s, size_t len)
{
	struct tv_buf *b = tv_buf_new(len);
	if (b)
		memcpy(tv_buf_data(b), s, len);
	return b;
}

struct tv_buf *tv_buf_take(char *s, size_t len)
{
	struct tv_buf *b = s ? tv_buf_copy(s, len) : NULL;
	free(s);
	return b;
}

void tv_buf_unref(struct tv_buf *b)
{
	if (b && --b->refs == 0)
		free(b);
}
