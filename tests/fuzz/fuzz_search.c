/*
 * fuzz_search.c: libFuzzer target for the search query builder
 * (daemon/search_text.c), which turns what anyone types into an FTS5
 * MATCH expression.
 *
 * Invariants checked (search.h):
 *  1. Any bytes give a query or NULL with *empty set, never a crash.
 *  2. The query is never FTS5 syntax the person did not mean: run against
 *     a real FTS5 table with the store's tokenizer, inside the expression
 *     store_search() builds around it, it never fails to parse (every word
 *     is a quoted prefix term, joined by AND). Requests reach the builder
 *     as valid UTF-8 (the codec refuses anything else), so other inputs
 *     are only checked for 1.
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "search.h"
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

static sqlite3 *db;
static sqlite3_stmt *match;

static void open_db(void)
{
	CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db,
			   "CREATE VIRTUAL TABLE t USING fts5(room, body,"
			   " tokenize = 'unicode61 remove_diacritics 0', prefix = '2 3');"
			   "INSERT INTO t VALUES ('r1', 'Hållbarhet och hav i regionen');",
			   NULL, NULL, NULL) == SQLITE_OK);
	CHECK(sqlite3_prepare_v2(db, "SELECT rowid FROM t WHERE t MATCH ?", -1, &match, NULL) ==
	      SQLITE_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!db)
		open_db();
	int empty = 0;
	char *q = search_query((const char *)data, size, &empty);
	if (!q) {
		CHECK(empty);
		return 0;
	}
	if (!tv_utf8_valid((const char *)data, size)) {
		free(q);
		return 0;
	}
	/* As store_search() wraps it. */
	size_t n = strlen(q) + 64;
	char *expr = malloc(n);
	CHECK(expr);
	snprintf(expr, n, "room : \"r1\" AND body : (%s)", q);
	sqlite3_bind_text(match, 1, expr, -1, SQLITE_TRANSIENT);
	int rc;
	while ((rc = sqlite3_step(match)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE)
		fprintf(stderr, "query %s: %s\n", expr, sqlite3_errmsg(db));
	CHECK(rc == SQLITE_DONE);
	sqlite3_reset(match);
	free(expr);
	free(q);
	return 0;
}
