/*
 * search.h: full-text search over a room's history (PROTOCOL.md §9.3).
 *
 * Responsible for: turning what a person typed into an FTS5 query that
 * cannot be mistaken for FTS5 syntax (search_query, pure), and the
 * `search` op: one page of hits, each the event whose text matched,
 * rendered for the reader (event.c) and left out when its thread or post
 * was deleted. Not responsible for: the SQL (store_search.c) or keeping
 * the index (the store's writer, from store_write.search_text).
 *
 * Swedish: the index uses unicode61 without diacritic folding, so å, ä and
 * ö are letters of their own ("hav" never finds "häv"), while case is
 * folded ("hållbarhet" finds "Hållbarhet").
 */
#ifndef TV_SEARCH_H
#define TV_SEARCH_H

#include <stddef.h>

#define SEARCH_MAX_TERMS 16

/*
 * The FTS5 MATCH expression for a query: every word (a run of letters and
 * digits; any non-ASCII character counts as a letter) becomes a quoted
 * prefix term, and all terms must match ("hållbar region" ->
 * "\"hållbar\"* AND \"region\"*"). At most SEARCH_MAX_TERMS words are
 * used. Returns a new string (free()), or NULL when the query holds no
 * word or memory runs out (*empty tells which).
 */
char *search_query(const char *q, size_t len, int *empty);

/* Text of an event to index, from its kind and data object: a chat
 * message's, round answer's or post's text, a thread's title and text.
 * New string (free()) or NULL when the kind is not indexed. */
struct json_t;
char *search_text_of(const char *kind, const struct json_t *data);

#endif
