/*
 * fuzz_report.c: libFuzzer target for the export renderers
 * (daemon/report.c), which put what participants wrote into Markdown, CSV
 * and HTML.
 *
 * The input is cut at newlines into texts that fill a model of the shape
 * export.c builds (notes, tables, questions, clusters with their notes,
 * action items), and is also tried as a whole model if it parses as JSON.
 *
 * Invariants checked (report.h):
 *  1. Every format renders any model without a crash, leak or overflow.
 *  2. CSV: starts with the byte-order mark and, read back by RFC 4180
 *     rules, has exactly one record per note plus the header, each with
 *     the header's number of fields.
 *  3. HTML: every '<' in the output opens one of the renderer's own tags,
 *     so no text can become markup (no <script>, no attributes of ours
 *     taken over).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                             \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,  \
			        __LINE__, #cond);                               \
			abort();                                                \
		}                                                               \
	} while (0)

#define CSV_FIELDS 11

/* Counts RFC 4180 records and checks each has CSV_FIELDS fields. */
static size_t csv_records(const char *s, size_t n)
{
	size_t records = 0, fields = 1, i = 0;
	int quoted = 0, any = 0;
	for (; i < n; i++) {
		char c = s[i];
		any = 1;
		if (quoted) {
			if (c == '"' && i + 1 < n && s[i + 1] == '"')
				i++;
			else if (c == '"')
				quoted = 0;
		} else if (c == '"') {
			quoted = 1;
		} else if (c == ',') {
			fields++;
		} else if (c == '\r' && i + 1 < n && s[i + 1] == '\n') {
			CHECK(fields == CSV_FIELDS);
			records++;
			fields = 1;
			any = 0;
			i++;
		}
	}
	CHECK(!quoted && !any); /* every record ends with CRLF */
	return records;
}

static void check_html(const char *s)
{
	static const char *const tags[] = {
		"!doctype", "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3",
		"p", "ol", "ul", "li", "span", "table", "tr", "th", "td", "br", "/",
	};
	for (const char *p = strchr(s, '<'); p; p = strchr(p + 1, '<')) {
		int ok = 0;
		for (size_t i = 0; i < sizeof tags / sizeof *tags && !ok; i++) {
			size_t k = strlen(tags[i]);
			ok = strncmp(p + 1, tags[i], k) == 0 &&
			     (tags[i][0] == '/' || p[1 + k] == '>' || p[1 + k] == ' ');
		}
		CHECK(ok);
	}
}

static json_t *text(const char *s, size_t n)
{
	json_t *t = json_stringn(s, n);
	return t ? t : json_string("?"); /* invalid UTF-8 never reaches a model */
}

static void render_all(json_t *m, size_t notes)
{
	for (int f = 0; f < REPORT__COUNT; f++) {
		size_t len = 0;
		char *out = report_render(m, f, &len);
		CHECK(out);
		CHECK(strlen(out) <= len);
		if (f == REPORT_CSV && notes != (size_t)-1) {
			CHECK(len >= 3 && memcmp(out, "\xEF\xBB\xBF", 3) == 0);
			CHECK(csv_records(out + 3, len - 3) == notes + 1);
		}
		if (f == REPORT_HTML)
			check_html(out);
		free(out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	json_t *pieces = json_array();
	for (size_t i = 0, start = 0; i <= size; i++)
		if (i == size || s[i] == '\n') {
			json_array_append_new(pieces, text(s + start, i - start));
			start = i + 1;
		}
	size_t np = json_array_size(pieces);
#define PIECE(k) json_string_value(json_array_get(pieces, (k) % np))
	json_t *notes = json_array(), *unclustered = json_array();
	json_t *cluster = json_pack("{s:s, s:s, s:i, s:i, s:b, s:i, s:i, s:[], s:[{s:s, s:s, "
				    "s:s, s:s}]}", "id", "c1", "name", PIECE(5), "rank", 1,
				    "dots", 3, "tie", 0, "raised_at", 2, "carried_total", 1,
				    "notes", "actions", "text", PIECE(6), "owner", PIECE(7),
				    "due", "2027-01-01", "status", "open");
	size_t nnotes = np < 40 ? np : 40;
	for (size_t i = 0; i < nnotes; i++) {
		json_t *n = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:{s:s}}", "id", "n1", "text",
				      PIECE(i), "board", "b1", "table", i % 2 ? "t1" : "t2",
				      "table_name", PIECE(i + 1), "question", PIECE(i + 2), "created_at",
				      (json_int_t)(i * 1000), "clusters", "s1", "c1");
		if (i % 4 == 0)
			json_object_set_new(n, "author_name", json_string(PIECE(i + 3)));
		json_t *copy = json_deep_copy(n);
		json_object_set_new(copy, "duplicates", json_array());
		json_array_append_new(i % 5 ? json_object_get(cluster, "notes") : unclustered, copy);
		json_array_append_new(notes, n);
	}
	CHECK(cluster);
	json_t *clusters = json_pack("[o]", cluster);
	json_t *result = json_pack("{s:s, s:s, s:i, s:{s:s, s:i, s:i, s:b}, s:b, s:o, s:o}", "scope",
				   "s1", "name", PIECE(8), "tables_total", 2, "vote", "id", "v1",
				   "budget", 3, "voters", 4, "closed", 1, "ranked", 1, "clusters",
				   clusters, "unclustered", unclustered);
	json_t *m = json_pack("{s:s, s:{s:s, s:s}, s:I, s:s, s:[{s:s, s:s}, {s:s, s:s}], "
			      "s:[{s:s, s:s}], s:o, s:[{s:s, s:s, s:o}], s:[]}",
			      "format", "tavla.export.v1", "room", "id", "r1", "title", PIECE(9),
			      "exported_at", (json_int_t)1795430400000, "phase", "vote", "tables",
			      "id", "t1", "name", PIECE(10), "id", "t2", "name", PIECE(11),
			      "boards", "id", "b1", "title", PIECE(12), "notes", notes,
			      "syntheses", "id", "s1", "name", PIECE(13), "result", result,
			      "table_results");
	CHECK(m);
	render_all(m, nnotes);
	json_decref(m);
	json_decref(pieces);

	/* The input as a model of any shape. */
	json_t *any = json_loadb(s, size, 0, NULL);
	if (json_is_object(any))
		render_all(any, (size_t)-1);
	json_decref(any);
	return 0;
}
