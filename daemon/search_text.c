/*
 * search_text.c: the pure half of search (see search.h): what a person
 * typed turned into an FTS5 query that cannot be mistaken for FTS5 syntax,
 * and the text of an event that the index keeps. No state, no I/O, so
 * tests/fuzz/fuzz_search.c runs it against a real FTS5 table.
 */
#include "search.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int word_byte(unsigned char c)
{
	return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

char *search_query(const char *q, size_t len, int *empty)
{
	/* Each byte becomes at most itself plus quoting: "w"* AND = 8 bytes
	 * of overhead per word. */
	char *out = malloc(len + SEARCH_MAX_TERMS * 8 + 1);
	*empty = 0;
	if (!out)
		return NULL;
	size_t o = 0, i = 0;
	int terms = 0;
	while (i < len && terms < SEARCH_MAX_TERMS) {
		while (i < len && !word_byte((unsigned char)q[i]))
			i++;
		size_t start = i;
		while (i < len && word_byte((unsigned char)q[i]))
			i++;
		if (i == start)
			break;
		if (terms++)
			o += (size_t)sprintf(out + o, " AND ");
		out[o++] = '"';
		memcpy(out + o, q + start, i - start);
		o += i - start;
		out[o++] = '"';
		out[o++] = '*';
	}
	out[o] = 0;
	if (!terms) {
		free(out);
		*empty = 1;
		return NULL;
	}
	return out;
}

char *search_text_of(const char *kind, const struct json_t *data)
{
	json_t *d = (json_t *)data;
	const char *text = json_string_value(json_object_get(d, "text"));
	const char *title = json_string_value(json_object_get(d, "title"));
	if (strcmp(kind, "chat.message") && strcmp(kind, "thread.created") &&
	    strcmp(kind, "post.created") && strcmp(kind, "post.edited") &&
	    strcmp(kind, "round.answered"))
		return NULL;
	size_t n = (title ? strlen(title) + 1 : 0) + (text ? strlen(text) : 0) + 1;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s%s%s", title ? title : "", title && text ? " " : "",
			 text ? text : "");
	return s;
}

