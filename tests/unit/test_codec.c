/*
 * test_codec.c: unit tests of the tavla.v1 codec (protocol/).
 *
 * Covers the request decoder against every vector in
 * protocol/vectors/requests.jsonl, the UTF-8 validator, the exact bytes of
 * every encoder, the error and op tables, the canonical form, and that
 * PROTOCOL.md documents every op and error code (a new op or code without
 * its documentation fails here). Does not cover dispatch, auth or rooms.
 *
 * Invariants:
 *  1. Vectors are data: a case is added to requests.jsonl, not here, unless
 *     it cannot be written as a JSON string (invalid UTF-8).
 *  2. Encoder tests compare whole frames byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tv_protocol.h"

#define VECTORS TV_SOURCE_DIR "/protocol/vectors/requests.jsonl"
#define PROTOCOL_MD TV_SOURCE_DIR "/protocol/PROTOCOL.md"

/* Reads a whole file into a new NUL-terminated buffer (caller frees). */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

/* ---- vectors ------------------------------------------------------------- */

/* Runs one vector; returns 1 if it behaves as expected, else prints why. */
static int run_vector(const json_t *vec)
{
	const char *name = json_string_value(json_object_get(vec, "name"));
	const json_t *frame = json_object_get(vec, "frame");
	const char *expect = json_string_value(json_object_get(vec, "expect"));
	const char *want_id = json_string_value(json_object_get(vec, "id"));
	const char *want_msg = json_string_value(json_object_get(vec, "message"));
	struct tv_request req;
	char err[256];
	const char *got;
	int rc, ok = 1;

	if (name == NULL || !json_is_string(frame) || expect == NULL) {
		fprintf(stderr, "malformed vector\n");
		return 0;
	}
	rc = tv_request_decode(json_string_value(frame), json_string_length(frame),
	                       &req, err, sizeof(err));
	got = rc == 0 ? "ok" : tv_err_name(rc);
	if (strcmp(got, expect) != 0) {
		fprintf(stderr, "vector \"%s\": expected %s, got %s (%s)\n", name,
		        expect, got, err);
		ok = 0;
	}
	if (rc == 0 && req.root == NULL) {
		fprintf(stderr, "vector \"%s\": accepted without a root\n", name);
		ok = 0;
	}
	if (rc != 0 && req.root != NULL) {
		fprintf(stderr, "vector \"%s\": failed but kept its root\n", name);
		ok = 0;
	}
	if (rc != 0 && !tv_utf8_valid(err, strlen(err))) {
		fprintf(stderr, "vector \"%s\": message is not UTF-8\n", name);
		ok = 0;
	}
	if (want_id != NULL && strcmp(req.id, want_id) != 0) {
		fprintf(stderr, "vector \"%s\": id \"%s\", expected \"%s\"\n", name,
		        req.id, want_id);
		ok = 0;
	}
	if (want_msg != NULL && strcmp(err, want_msg) != 0) {
		fprintf(stderr, "vector \"%s\": message '%s', expected '%s'\n", name,
		        err, want_msg);
		ok = 0;
	}
	tv_request_free(&req);
	return ok;
}

static void test_vectors(void **state)
{
	char *text = slurp(VECTORS, NULL), *line, *next;
	int total = 0, failed = 0, per_code[TV_E__COUNT] = { 0 };
	json_error_t jerr;
	json_t *vec;
	int code;

	(void)state;
	for (line = text; *line != '\0'; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		else
			next = line + strlen(line);
		if (*line == '\0')
			continue;
		vec = json_loads(line, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &jerr);
		if (vec == NULL) {
			fprintf(stderr, "vectors line %d: %s\n", jerr.line, jerr.text);
			failed++;
			continue;
		}
		total++;
		if (!run_vector(vec))
			failed++;
		code = tv_err_from_name(json_string_value(json_object_get(vec, "expect")));
		if (code > 0)
			per_code[code]++;
		json_decref(vec);
	}
	free(text);
	print_message("%d request vectors, %d failed\n", total, failed);
	assert_true(total >= 60);
	assert_int_equal(failed, 0);
	/* Every error the decoder can produce from text has a vector. */
	assert_true(per_code[TV_E_BAD_JSON] > 0);
	assert_true(per_code[TV_E_UNKNOWN_OP] > 0);
	assert_true(per_code[TV_E_BAD_REQUEST] > 0);
	assert_true(per_code[TV_E_TOO_LONG] > 0);
	assert_true(per_code[TV_E_TOO_LARGE] > 0);
}

/* Every op must have at least one "ok" vector and every field of every op a
 * failing one that names it: the table and the vectors grow together. */
static void test_vectors_cover_table(void **state)
{
	char *text = slurp(VECTORS, NULL);
	char needle[128];
	const struct tv_field_info *f;
	size_t n, i;
	int op;

	(void)state;
	for (op = TV_OP_NONE + 1; op < TV_OP__COUNT; op++) {
		snprintf(needle, sizeof(needle), "\\\"op\\\":\\\"%s\\\"",
		         tv_op_info((enum tv_op)op)->wire);
		if (strstr(text, needle) == NULL)
			fail_msg("no vector sends op %s", tv_op_info((enum tv_op)op)->wire);
		f = tv_op_fields((enum tv_op)op, &n);
		for (i = 0; i < n; i++) {
			snprintf(needle, sizeof(needle), "\"name\":\"%s %s ",
			         tv_op_info((enum tv_op)op)->wire, f[i].name);
			if (strstr(text, needle) == NULL)
				fail_msg("no vector for field %s of %s", f[i].name,
				         tv_op_info((enum tv_op)op)->wire);
		}
	}
	free(text);
}

/* Frames that cannot be written as vectors: invalid UTF-8. */
static void test_decode_bad_utf8(void **state)
{
	static const struct {
		const char *frame;
		size_t len;
	} bad[] = {
#define F(s) { s, sizeof(s) - 1 }
		F("{\"op\":\"ping\",\"id\":\"\xC3\x28\"}"),          /* bad continuation */
		F("{\"op\":\"ping\",\"id\":\"\xFF\"}"),              /* never valid */
		F("{\"op\":\"ping\",\"id\":\"\xC0\xAF\"}"),          /* overlong '/' */
		F("{\"op\":\"ping\",\"id\":\"\xE0\x80\xAF\"}"),      /* overlong '/' */
		F("{\"op\":\"ping\",\"id\":\"\xED\xA0\x80\"}"),      /* surrogate */
		F("{\"op\":\"ping\",\"id\":\"\xF4\x90\x80\x80\"}"),  /* > U+10FFFF */
		F("{\"op\":\"ping\",\"id\":\"t1\"}\xE2\x82"),        /* truncated */
		F("\x80{\"op\":\"ping\",\"id\":\"t1\"}"),            /* stray */
#undef F
	};
	struct tv_request req;
	char err[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(tv_request_decode(bad[i].frame, bad[i].len, &req,
		                                   err, sizeof(err)),
		                 -TV_E_BAD_UTF8);
		assert_null(req.root);
		assert_string_equal(req.id, "");
		tv_request_free(&req);
	}
	/* A frame is not NUL-terminated: only len bytes count. */
	assert_int_equal(tv_request_decode("{\"op\":\"ping\",\"id\":\"t1\"}XX", 23,
	                                   &req, err, sizeof(err)), 0);
	tv_request_free(&req);
	assert_int_equal(tv_request_decode(NULL, 0, &req, NULL, 0), -TV_E_BAD_JSON);
}

/* A message cut by a small buffer stays valid UTF-8. */
static void test_decode_error_truncation(void **state)
{
	static const char frame[] = "{\"op\":\"\xC3\xA5\xC3\xA5\xC3\xA5"
	                            "\xC3\xA5\xC3\xA5\xC3\xA5\",\"id\":\"t\"}";
	struct tv_request req;
	char err[16];
	size_t errlen;

	(void)state;
	for (errlen = 1; errlen <= sizeof(err); errlen++) {
		memset(err, 'Z', sizeof(err));
		assert_int_equal(tv_request_decode(frame, sizeof(frame) - 1, &req,
		                                   err, errlen),
		                 -TV_E_UNKNOWN_OP);
		assert_true(strlen(err) < errlen);
		assert_true(tv_utf8_valid(err, strlen(err)));
	}
	assert_string_equal(err, "unknown op \"\xC3\xA5");
	assert_int_equal(tv_request_decode("[]", 2, &req, NULL, 0), -TV_E_BAD_JSON);
}

static void test_request_accessors(void **state)
{
	static const char frame[] =
		"{\"op\":\"join\",\"id\":\"j1\",\"room\":\"r\\u0000x\","
		"\"since\":9,\"observer\":true,\"n\":\"7\"}";
	struct tv_request req;
	const char *s;
	size_t len = 0;
	long long i = -1;
	int b = -1;

	(void)state;
	assert_int_equal(tv_request_decode(frame, sizeof(frame) - 1, &req, NULL, 0), 0);
	assert_int_equal(req.op, TV_OP_JOIN);
	assert_string_equal(req.id, "j1");
	s = tv_req_str(&req, "room", &len);
	assert_non_null(s);
	assert_int_equal(len, 3);
	assert_memory_equal(s, "r\0x", 3);
	assert_null(tv_req_str(&req, "since", &len));
	assert_null(tv_req_str(&req, "code", &len));
	assert_int_equal(tv_req_int(&req, "since", &i), 1);
	assert_int_equal(i, 9);
	assert_int_equal(tv_req_int(&req, "n", &i), 0);
	assert_int_equal(tv_req_int(&req, "absent", &i), 0);
	assert_int_equal(tv_req_bool(&req, "observer", &b), 1);
	assert_int_equal(b, 1);
	assert_int_equal(tv_req_bool(&req, "since", &b), 0);
	tv_request_free(&req);
	tv_request_free(&req); /* idempotent */
	assert_null(tv_req_str(&req, "room", &len));
}

/* ---- UTF-8 ------------------------------------------------------------------ */

static void test_utf8(void **state)
{
	static const struct {
		const char *s;
		size_t len;
		long count;
	} cases[] = {
#define U(s, c) { s, sizeof(s) - 1, c }
		U("", 0),
		U("abc", 3),
		U("\0", 1),                       /* NUL is a code point */
		U("a\0b", 3),
		U("\xC3\xA5\xC3\xA4\xC3\xB6", 3), /* åäö */
		U("\xC2\x80", 1),                 /* U+0080, smallest 2-byte */
		U("\xDF\xBF", 1),                 /* U+07FF */
		U("\xE0\xA0\x80", 1),             /* U+0800, smallest 3-byte */
		U("\xED\x9F\xBF", 1),             /* U+D7FF, just below surrogates */
		U("\xEE\x80\x80", 1),             /* U+E000, just above */
		U("\xEF\xBF\xBF", 1),             /* U+FFFF */
		U("\xF0\x90\x80\x80", 1),         /* U+10000, smallest 4-byte */
		U("\xF0\x9F\x98\x80", 1),         /* U+1F600 emoji */
		U("\xF4\x8F\xBF\xBF", 1),         /* U+10FFFF */
		U("\xC0\x80", -1),                /* overlong NUL */
		U("\xC1\xBF", -1),                /* overlong */
		U("\xE0\x80\x80", -1),            /* overlong NUL */
		U("\xE0\x9F\xBF", -1),            /* overlong U+07FF */
		U("\xF0\x80\x80\x80", -1),        /* overlong NUL */
		U("\xF0\x8F\xBF\xBF", -1),        /* overlong U+FFFF */
		U("\xED\xA0\x80", -1),            /* U+D800 */
		U("\xED\xBF\xBF", -1),            /* U+DFFF */
		U("\xED\xA0\xBD\xED\xB8\x80", -1),/* CESU-8 emoji */
		U("\xF4\x90\x80\x80", -1),        /* U+110000 */
		U("\xF5\x80\x80\x80", -1),
		U("\xFE", -1),
		U("\xFF", -1),
		U("\x80", -1),                    /* stray continuation */
		U("a\xBF", -1),
		U("\xC3", -1),                    /* truncated */
		U("\xE2\x82", -1),
		U("\xF0\x9F\x98", -1),
		U("\xC3\x28", -1),                /* continuation missing */
		U("\xE2\x28\xA1", -1),
		U("\xF0\x9F\x28\x80", -1),
#undef U
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (tv_utf8_count(cases[i].s, cases[i].len) != cases[i].count)
			fail_msg("case %zu: count %ld, expected %ld", i,
			         tv_utf8_count(cases[i].s, cases[i].len), cases[i].count);
		assert_int_equal(tv_utf8_valid(cases[i].s, cases[i].len),
		                 cases[i].count >= 0);
	}
	/* Only len bytes are read: a valid prefix of an invalid string. */
	assert_int_equal(tv_utf8_count("\xC3\xA5\xFF", 2), 1);
	assert_int_equal(tv_utf8_count(NULL, 0), 0);
}

/* ---- encoders ----------------------------------------------------------------- */

static void test_encode_reply_ok(void **state)
{
	json_t *result = json_pack("{s:i}", "seq", 12);
	char *out;
	size_t len = 0;

	(void)state;
	out = tv_encode_reply_ok("c7", result, &len);
	assert_string_equal(out, "{\"type\":\"reply\",\"id\":\"c7\",\"ok\":true,\"result\":{\"seq\":12}}");
	assert_int_equal(len, strlen(out));
	assert_int_equal(result->refcount, 1); /* borrowed, not stolen */
	free(out);
	json_decref(result);

	out = tv_encode_reply_ok("p1", NULL, &len);
	assert_string_equal(out, "{\"type\":\"reply\",\"id\":\"p1\",\"ok\":true,\"result\":{}}");
	free(out);

	/* Non-ASCII stays UTF-8; quotes, backslash, control chars and NUL are
	 * escaped. */
	result = json_object();
	json_object_set_new(result, "name", json_string("\xC3\x85sa \"q\" \\ \n\x01"));
	json_object_set_new(result, "nul", json_stringn("a\0b", 3));
	out = tv_encode_reply_ok("\xF0\x9F\x98\x80", result, &len);
	assert_string_equal(out, "{\"type\":\"reply\",\"id\":\"\xF0\x9F\x98\x80\",\"ok\":true,"
	                         "\"result\":{\"name\":\"\xC3\x85sa \\\"q\\\" \\\\ \\n\\u0001\","
	                         "\"nul\":\"a\\u0000b\"}}");
	assert_int_equal(len, strlen(out));
	free(out);
	json_decref(result);

	result = json_pack("{s:i}", "seq", 12);
	out = tv_encode_reply_replayed("c7", result, &len);
	assert_string_equal(out, "{\"type\":\"reply\",\"id\":\"c7\",\"ok\":true,"
	                         "\"replayed\":true,\"result\":{\"seq\":12}}");
	assert_int_equal(len, strlen(out));
	free(out);
	json_decref(result);

	assert_null(tv_encode_reply_ok("\xFF", NULL, &len));
	out = tv_encode_reply_ok(NULL, NULL, NULL);
	assert_string_equal(out, "{\"type\":\"reply\",\"id\":null,\"ok\":true,\"result\":{}}");
	free(out);
}

static void test_encode_reply_error(void **state)
{
	char *out;
	size_t len = 0;

	(void)state;
	out = tv_encode_reply_error("c7", -TV_E_NOT_IN_ROOM, NULL, &len);
	assert_string_equal(out, "{\"type\":\"reply\",\"id\":\"c7\",\"ok\":false,\"error\":"
	                         "{\"code\":\"not_in_room\",\"message\":\"join the room first\"}}");
	assert_int_equal(len, strlen(out));
	free(out);

	out = tv_encode_reply_error(NULL, TV_E_BAD_JSON, NULL, &len);
	assert_string_equal(out, "{\"type\":\"reply\",\"id\":null,\"ok\":false,\"error\":"
	                         "{\"code\":\"bad_json\",\"message\":\"the message is not a JSON object\"}}");
	free(out);

	out = tv_encode_reply_error("q1", -TV_E_UNKNOWN_OP, "unknown op \"note.paint\"", &len);
	assert_string_equal(out, "{\"type\":\"reply\",\"id\":\"q1\",\"ok\":false,\"error\":"
	                         "{\"code\":\"unknown_op\",\"message\":\"unknown op \\\"note.paint\\\"\"}}");
	free(out);

	/* Invalid UTF-8 cannot reach the wire: id becomes null, the message the
	 * default; an unknown code becomes internal. */
	out = tv_encode_reply_error("\xC3", -TV_E_FORBIDDEN, "\xFF", &len);
	assert_string_equal(out, "{\"type\":\"reply\",\"id\":null,\"ok\":false,\"error\":"
	                         "{\"code\":\"forbidden\",\"message\":\"your role may not do this\"}}");
	free(out);
	out = tv_encode_reply_error("x", 9999, NULL, NULL);
	assert_string_equal(out, "{\"type\":\"reply\",\"id\":\"x\",\"ok\":false,\"error\":"
	                         "{\"code\":\"internal\",\"message\":\"internal error\"}}");
	free(out);
}

static void test_encode_request(void **state)
{
	json_t *args = json_pack("{s:s,s:s,s:s}", "room", "r_k3v9q2m8x4bd", "id", "spoof",
	                         "text", "Hej allihop!");
	char *out;
	size_t len = 0;

	(void)state;
	out = tv_encode_request(TV_OP_CHAT_SEND, "c7", args, &len);
	assert_string_equal(out, "{\"op\":\"chat.send\",\"id\":\"c7\",\"room\":\"r_k3v9q2m8x4bd\","
	                         "\"text\":\"Hej allihop!\"}");
	assert_int_equal(len, strlen(out));
	free(out);
	json_decref(args);

	out = tv_encode_request(TV_OP_PING, "p1", NULL, &len);
	assert_string_equal(out, "{\"op\":\"ping\",\"id\":\"p1\"}");
	free(out);
	assert_null(tv_encode_request(TV_OP_NONE, "p1", NULL, &len));
	assert_null(tv_encode_request(TV_OP__COUNT, "p1", NULL, &len));
	assert_null(tv_encode_request(TV_OP_PING, NULL, NULL, &len));
}

/* What the client encodes, the server decodes to the same request. */
static void test_request_round_trip(void **state)
{
	json_t *args = json_pack("{s:s,s:s%}", "room", "r1", "text", "a\0\xC3\xA5", (size_t)4);
	struct tv_request req;
	char *out;
	const char *s;
	size_t len = 0, slen = 0;

	(void)state;
	out = tv_encode_request(TV_OP_CHAT_SEND, "c8", args, &len);
	assert_non_null(out);
	assert_int_equal(tv_request_decode(out, len, &req, NULL, 0), 0);
	assert_int_equal(req.op, TV_OP_CHAT_SEND);
	assert_string_equal(req.id, "c8");
	s = tv_req_str(&req, "text", &slen);
	assert_int_equal(slen, 4);
	assert_memory_equal(s, "a\0\xC3\xA5", 4);
	tv_request_free(&req);
	free(out);
	json_decref(args);
}

static void test_encode_event(void **state)
{
	static const char data[] = "{\"text\":\"Hej allihop!\"}";
	struct tv_event_view ev = {
		.room = "r_k3v9q2m8x4bd", .seq = 12, .ts_ms = 1795430400123,
		.author_id = "i_a8f3k2p9q4xm", .author_name = "\xC3\x85sa",
		.kind = "chat.message", .data_json = data, .data_len = sizeof(data) - 1,
	};
	char *out;
	size_t len = 0;

	(void)state;
	/* The example of PROTOCOL.md section 2.3, byte for byte. */
	out = tv_encode_event(&ev, &len);
	assert_string_equal(out, "{\"type\":\"event\",\"room\":\"r_k3v9q2m8x4bd\",\"seq\":12,"
	                         "\"ts\":1795430400123,\"author\":{\"id\":\"i_a8f3k2p9q4xm\","
	                         "\"name\":\"\xC3\x85sa\"},\"kind\":\"chat.message\","
	                         "\"data\":{\"text\":\"Hej allihop!\"}}");
	assert_int_equal(len, strlen(out));
	free(out);

	/* Server events: author null. data is copied verbatim, \u0000 and all. */
	ev.author_id = NULL;
	ev.seq = UINT64_MAX;
	ev.ts_ms = -1;
	ev.kind = "member.joined";
	ev.data_json = "{\"t\":\"a\\u0000b\"}xyz";
	ev.data_len = 16;
	out = tv_encode_event(&ev, &len);
	assert_string_equal(out, "{\"type\":\"event\",\"room\":\"r_k3v9q2m8x4bd\","
	                         "\"seq\":18446744073709551615,\"ts\":-1,\"author\":null,"
	                         "\"kind\":\"member.joined\",\"data\":{\"t\":\"a\\u0000b\"}}");
	free(out);

	/* Escaping of every special character in room, author and kind. */
	ev.room = "q\"b\\s/n\nr\rt\tb\bf\f\x01\x1f\x7f\xC3\xA4";
	ev.author_id = "\"";
	ev.author_name = NULL;
	ev.kind = "k";
	ev.data_json = NULL;
	ev.data_len = 0;
	ev.seq = 1;
	ev.ts_ms = 0;
	out = tv_encode_event(&ev, &len);
	assert_string_equal(out, "{\"type\":\"event\",\"room\":\"q\\\"b\\\\s/n\\nr\\rt\\tb\\bf\\f"
	                         "\\u0001\\u001F\x7f\xC3\xA4\",\"seq\":1,\"ts\":0,"
	                         "\"author\":{\"id\":\"\\\"\",\"name\":null},\"kind\":\"k\","
	                         "\"data\":{}}");
	assert_int_equal(len, strlen(out));
	free(out);

	ev.kind = "\xC3";
	assert_null(tv_encode_event(&ev, &len));
	ev.kind = NULL;
	assert_null(tv_encode_event(&ev, &len));
}

/* The hand-built event escapes strings exactly as jansson does, so a reply
 * that embeds events re-serialised by jansson is byte-identical. */
static void test_event_matches_jansson(void **state)
{
	char room[160];
	struct tv_event_view ev = { .room = room, .seq = 3, .ts_ms = 5,
	                            .kind = "k", .data_json = "{}", .data_len = 2 };
	json_t *parsed;
	char *ours, *theirs;
	size_t len, i, n = 0;

	(void)state;
	for (i = 1; i < 0x80; i++)
		room[n++] = (char)i;
	memcpy(room + n, "\xC3\xA5\xF0\x9F\x98\x80", 7);
	ours = tv_encode_event(&ev, &len);
	assert_non_null(ours);
	parsed = json_loadb(ours, len, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(parsed);
	assert_string_equal(json_string_value(json_object_get(parsed, "room")), room);
	theirs = json_dumps(parsed, JSON_COMPACT);
	assert_string_equal(ours, theirs);
	free(theirs);
	json_decref(parsed);
	free(ours);
}

static void test_server_msg_decode(void **state)
{
	static const struct {
		const char *frame;
		int rc;
		enum tv_msg_type type;
	} cases[] = {
		{ "{\"type\":\"hello\",\"protocol\":\"tavla.v1\"}", 0, TV_MSG_HELLO },
		{ "{\"type\":\"reply\",\"id\":\"c7\",\"ok\":true,\"result\":{}}", 0, TV_MSG_REPLY },
		{ "{\"type\":\"event\",\"seq\":1}", 0, TV_MSG_EVENT },
		{ "{\"type\":\"presence\",\"joined\":[],\"left\":[]}", 0, TV_MSG_PRESENCE },
		{ "{\"type\":\"batch\",\"items\":[]}", 0, TV_MSG_BATCH },
		{ "{\"type\":\"poll\"}", 0, TV_MSG_UNKNOWN },
		{ "{\"type\":\"hello\\u0000\"}", 0, TV_MSG_UNKNOWN },
		{ "{\"type\":7}", 0, TV_MSG_UNKNOWN },
		{ "{}", 0, TV_MSG_UNKNOWN },
		{ "[]", -TV_E_BAD_JSON, TV_MSG_UNKNOWN },
		{ "{\"type\":\"a\",\"type\":\"b\"}", -TV_E_BAD_JSON, TV_MSG_UNKNOWN },
		{ "{\"type\":\"reply\"", -TV_E_BAD_JSON, TV_MSG_UNKNOWN },
		{ "{\"type\":\"\xC0\xAF\"}", -TV_E_BAD_UTF8, TV_MSG_UNKNOWN },
	};
	enum tv_msg_type type;
	json_t *root;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		root = (json_t *)1;
		type = TV_MSG_BATCH + 1;
		assert_int_equal(tv_server_msg_decode(cases[i].frame, strlen(cases[i].frame),
		                                      &root, &type), cases[i].rc);
		assert_int_equal(type, cases[i].type);
		if (cases[i].rc == 0) {
			assert_true(json_is_object(root));
			json_decref(root);
		} else {
			assert_null(root);
		}
	}
}

/* ---- tables ---------------------------------------------------------------- */

static void test_error_names(void **state)
{
	int code;

	(void)state;
	for (code = TV_E_OK + 1; code < TV_E__COUNT; code++) {
		assert_int_equal(tv_err_from_name(tv_err_name(code)), code);
		assert_string_equal(tv_err_name(-code), tv_err_name(code));
		assert_string_equal(tv_err_message(-code), tv_err_message(code));
		assert_true(strlen(tv_err_message(code)) > 0);
	}
	assert_string_equal(tv_err_name(-TV_E_ROOM_NOT_FOUND), "room_not_found");
	assert_string_equal(tv_err_name(TV_E_RATE_LIMITED), "rate_limited");
	assert_string_equal(tv_err_name(TV_E_OK), "internal");
	assert_string_equal(tv_err_name(TV_E__COUNT), "internal");
	assert_string_equal(tv_err_name(-2147483647 - 1), "internal");
	assert_string_equal(tv_err_message(12345), "internal error");
	assert_int_equal(tv_err_from_name("no_such_code"), -1);
	assert_int_equal(tv_err_from_name(""), -1);
	assert_int_equal(tv_err_from_name(NULL), -1);
}

static void test_ops(void **state)
{
	const struct tv_op_info *info;
	int op;

	(void)state;
	for (op = TV_OP_NONE + 1; op < TV_OP__COUNT; op++) {
		info = tv_op_info((enum tv_op)op);
		assert_non_null(info);
		assert_int_equal(tv_op_lookup(info->wire, strlen(info->wire)), op);
		assert_true(info->max_bytes > 0 && info->max_bytes <= 65536);
		assert_true(info->roles != 0 && (info->roles & ~(unsigned)TV_ROLE_ALL) == 0);
	}
	assert_null(tv_op_info(TV_OP_NONE));
	assert_null(tv_op_info(TV_OP__COUNT));
	assert_null(tv_op_info((enum tv_op)-1));
	assert_int_equal(tv_op_lookup("chat.send", 9), TV_OP_CHAT_SEND);
	assert_int_equal(tv_op_lookup("chat.sendX", 9), TV_OP_CHAT_SEND);
	assert_int_equal(tv_op_lookup("chat.send", 8), TV_OP_NONE);
	assert_int_equal(tv_op_lookup("", 0), TV_OP_NONE);
	assert_int_equal(tv_op_lookup(NULL, 4), TV_OP_NONE);
	assert_string_equal(tv_role_name(TV_ROLE_MODERATOR), "moderator");
	assert_string_equal(tv_role_name(TV_ROLE_PARTICIPANT), "participant");
	assert_string_equal(tv_role_name(TV_ROLE_OBSERVER), "observer");
	assert_string_equal(tv_role_name(0), "none");
	assert_string_equal(tv_role_name(TV_ROLE_ALL), "none");
}

/* tv_op_fields() returns a slice: each op's rows must be adjacent in
 * fields.def, and the slice must hold all of them. */
static void test_op_fields(void **state)
{
	static const struct tv_field_info all[] = {
#define TV_FIELD(op, name, type, req, min, max) { TV_OP_##op, name, type, req, min, max },
#include "fields.def"
#undef TV_FIELD
	};
	const struct tv_field_info *f;
	size_t n, i, j, want, total = 0;
	int op;

	(void)state;
	for (op = TV_OP_NONE + 1; op < TV_OP__COUNT; op++) {
		want = 0;
		for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
			want += (int)all[i].op == op;
		f = tv_op_fields((enum tv_op)op, &n);
		if (n != want)
			fail_msg("op %s: %zu adjacent fields of %zu in fields.def",
			         tv_op_info((enum tv_op)op)->wire, n, want);
		for (i = 0; i < n; i++) {
			assert_int_equal((int)f[i].op, op);
			assert_true(f[i].min <= f[i].max);
			for (j = 0; j < i; j++)
				assert_string_not_equal(f[i].name, f[j].name);
			assert_string_not_equal(f[i].name, "op");
			assert_string_not_equal(f[i].name, "id");
		}
		total += n;
	}
	assert_int_equal(total, sizeof(all) / sizeof(all[0]));
	assert_null(tv_op_fields(TV_OP_PING, &n));
	assert_int_equal(n, 0);
	assert_null(tv_op_fields(TV_OP_NONE, &n));
	assert_int_equal(n, 0);
}

/* ---- canonical form ---------------------------------------------------------- */

static char *canonical_of(const char *frame, size_t *len)
{
	struct tv_request req;
	char *c;

	assert_int_equal(tv_request_decode(frame, strlen(frame), &req, NULL, 0), 0);
	c = tv_request_canonical(&req, len);
	assert_non_null(c);
	tv_request_free(&req);
	return c;
}

static void test_canonical(void **state)
{
	char *a, *b;
	size_t alen = 0, blen = 0;

	(void)state;
	a = canonical_of("{\"op\":\"chat.send\",\"id\":\"c7\",\"room\":\"r1\",\"text\":\"Hej\","
	                 "\"x\":{\"b\":1,\"a\":[2,{\"d\":0,\"c\":1}]}}", &alen);
	b = canonical_of(" {\"x\":{\"a\":[2,{\"c\":1,\"d\":0}],\"b\":1},\"text\":\"H\\u0065j\","
	                 "\"room\":\"r1\",\"id\":\"other\",\"op\":\"chat.send\"}", &blen);
	assert_string_equal(a, "{\"op\":\"chat.send\",\"room\":\"r1\",\"text\":\"Hej\","
	                       "\"x\":{\"a\":[2,{\"c\":1,\"d\":0}],\"b\":1}}");
	assert_int_equal(alen, strlen(a));
	assert_int_equal(alen, blen);
	assert_string_equal(a, b);
	free(b);

	b = canonical_of("{\"op\":\"chat.send\",\"id\":\"c7\",\"room\":\"r1\",\"text\":\"Hej!\","
	                 "\"x\":{\"b\":1,\"a\":[2,{\"d\":0,\"c\":1}]}}", &blen);
	assert_string_not_equal(a, b);
	free(b);
	free(a);

	/* NUL inside a string survives, and the length says where it ends. */
	a = canonical_of("{\"op\":\"chat.send\",\"id\":\"c\",\"room\":\"r\",\"text\":\"a\\u0000\"}", &alen);
	assert_string_equal(a, "{\"op\":\"chat.send\",\"room\":\"r\",\"text\":\"a\\u0000\"}");
	assert_int_equal(alen, strlen(a));
	free(a);

	{
		struct tv_request none;

		memset(&none, 0, sizeof(none));
		assert_null(tv_request_canonical(&none, &alen));
	}
}

/* ---- documentation --------------------------------------------------------- */

/* PROTOCOL.md must give every op a "### N.x <op>" section and list every
 * error code in its table (section 7.1). */
static void test_protocol_md_documents_tables(void **state)
{
	char *doc = slurp(PROTOCOL_MD, NULL);
	char needle[128];
	const char *wire, *line;
	int op, code, found;

	(void)state;
	for (op = TV_OP_NONE + 1; op < TV_OP__COUNT; op++) {
		wire = tv_op_info((enum tv_op)op)->wire;
		snprintf(needle, sizeof(needle), "`%s`", wire);
		if (strstr(doc, needle) == NULL)
			fail_msg("PROTOCOL.md never mentions op %s", needle);
		found = 0;
		for (line = doc; line != NULL && !found; line = strchr(line + 1, '\n')) {
			const char *p = line + (*line == '\n'), *sp;

			/* "### 4.x op" (ops of §4) or "### 9.x op" (§9, meetings and
			 * forums): any numbered subsection names an op. */
			if (strncmp(p, "### ", 4) != 0 || p[4] < '1' || p[4] > '9' || p[5] != '.')
				continue;
			sp = strchr(p + 4, ' ');
			if (sp == NULL)
				continue;
			sp++;
			found = strncmp(sp, wire, strlen(wire)) == 0 &&
			        (sp[strlen(wire)] == '\n' || sp[strlen(wire)] == ' ');
		}
		if (!found)
			fail_msg("PROTOCOL.md has no \"### N.x %s\" section", wire);
	}
	for (code = TV_E_OK + 1; code < TV_E__COUNT; code++) {
		snprintf(needle, sizeof(needle), "| `%s` |", tv_err_name(code));
		if (strstr(doc, needle) == NULL)
			fail_msg("PROTOCOL.md section 7.1 does not list %s", tv_err_name(code));
	}
	free(doc);
}

/* Re-encodes one server message of the documentation with our encoders;
 * returns the new frame (free()) or NULL for types we do not encode. */
static char *reencode(const json_t *msg)
{
	const char *type = json_string_value(json_object_get(msg, "type"));
	const json_t *id = json_object_get(msg, "id"), *author, *error;
	struct tv_event_view ev;
	char *data, *out;
	size_t len;

	if (strcmp(type, "reply") == 0 && json_is_true(json_object_get(msg, "ok"))) {
		if (json_is_true(json_object_get(msg, "replayed")))
			return tv_encode_reply_replayed(json_string_value(id),
			                                json_object_get(msg, "result"), &len);
		return tv_encode_reply_ok(json_string_value(id),
		                          json_object_get(msg, "result"), &len);
	}
	if (strcmp(type, "reply") == 0) {
		error = json_object_get(msg, "error");
		return tv_encode_reply_error(
			json_string_value(id),
			tv_err_from_name(json_string_value(json_object_get(error, "code"))),
			json_string_value(json_object_get(error, "message")), &len);
	}
	if (strcmp(type, "event") != 0)
		return NULL;
	author = json_object_get(msg, "author");
	data = json_dumps(json_object_get(msg, "data"), JSON_COMPACT);
	assert_non_null(data);
	memset(&ev, 0, sizeof(ev));
	ev.room = json_string_value(json_object_get(msg, "room"));
	ev.seq = (uint64_t)json_integer_value(json_object_get(msg, "seq"));
	ev.ts_ms = (int64_t)json_integer_value(json_object_get(msg, "ts"));
	ev.author_id = json_string_value(json_object_get(author, "id"));
	ev.author_name = json_string_value(json_object_get(author, "name"));
	ev.kind = json_string_value(json_object_get(msg, "kind"));
	ev.data_json = data;
	ev.data_len = strlen(data);
	out = tv_encode_event(&ev, &len);
	free(data);
	return out;
}

/* Checks one documented server message (and a batch's items) against our
 * encoders; returns how many frames were compared. */
static int check_doc_message(const json_t *msg, const char *text, int lineno)
{
	const json_t *item;
	char *ours, *item_text;
	size_t i;
	int n = 0;

	if (strcmp(json_string_value(json_object_get(msg, "type")), "batch") == 0) {
		json_array_foreach(json_object_get(msg, "items"), i, item) {
			item_text = json_dumps(item, JSON_COMPACT);
			n += check_doc_message(item, item_text, lineno);
			free(item_text);
		}
		return n;
	}
	ours = reencode(msg);
	if (ours == NULL)
		return 0;
	if (strcmp(ours, text) != 0)
		fail_msg("PROTOCOL.md line %d:\n  doc:  %s\n  ours: %s", lineno, text, ours);
	free(ours);
	return 1;
}

/* Every example frame of PROTOCOL.md (lines starting with '{' and free of
 * "…" placeholders) is valid: requests decode, and replies and events are
 * exactly what our encoders produce for the same content. */
static void test_protocol_md_examples(void **state)
{
	char *doc = slurp(PROTOCOL_MD, NULL), *line, *next;
	int lineno = 0, requests = 0, replies = 0;
	enum tv_msg_type type;
	struct tv_request req;
	char err[256];
	json_t *root;

	(void)state;
	for (line = doc; *line != '\0'; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		else
			next = line + strlen(line);
		lineno++;
		if (line[0] != '{' || strstr(line, "\xE2\x80\xA6") != NULL)
			continue;
		if (strncmp(line, "{\"op\":", 6) == 0) {
			if (tv_request_decode(line, strlen(line), &req, err, sizeof(err)) != 0)
				fail_msg("PROTOCOL.md line %d: %s", lineno, err);
			tv_request_free(&req);
			requests++;
			continue;
		}
		if (tv_server_msg_decode(line, strlen(line), &root, &type) != 0 ||
		    type == TV_MSG_UNKNOWN)
			fail_msg("PROTOCOL.md line %d is no server message", lineno);
		replies += check_doc_message(root, line, lineno);
		json_decref(root);
	}
	free(doc);
	print_message("PROTOCOL.md: %d example requests, %d encoded frames\n",
	              requests, replies);
	assert_true(requests >= TV_OP__COUNT - 1);
	assert_true(replies > 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_vectors_cover_table),
		cmocka_unit_test(test_decode_bad_utf8),
		cmocka_unit_test(test_decode_error_truncation),
		cmocka_unit_test(test_request_accessors),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_encode_reply_ok),
		cmocka_unit_test(test_encode_reply_error),
		cmocka_unit_test(test_encode_request),
		cmocka_unit_test(test_request_round_trip),
		cmocka_unit_test(test_encode_event),
		cmocka_unit_test(test_event_matches_jansson),
		cmocka_unit_test(test_server_msg_decode),
		cmocka_unit_test(test_error_names),
		cmocka_unit_test(test_ops),
		cmocka_unit_test(test_op_fields),
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_protocol_md_documents_tables),
		cmocka_unit_test(test_protocol_md_examples),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
