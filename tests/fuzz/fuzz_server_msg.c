/*
 * fuzz_server_msg.c: libFuzzer target for the client's reader of server
 * frames (tv_server_msg_decode) and the hand-written event encoder.
 *
 * Responsible for feeding arbitrary bytes to tv_server_msg_decode() as one
 * server frame, walking a batch's items the way a client must (PROTOCOL.md
 * 2.5: each item as if it had come in its own frame), and, for every
 * event-shaped message, comparing tv_encode_event() byte for byte with
 * jansson's compact output of the same object (encode.c promises the same
 * bytes). Not responsible for what a client does with a message.
 *
 * Invariants checked:
 *  1. The return is 0 with an object and a type that matches its "type"
 *     string, or -TV_E_BAD_UTF8 / -TV_E_BAD_JSON with *root NULL.
 *  2. Re-encoding an accepted message compactly and decoding it again gives
 *     an equal object of the same type (batch items likewise).
 *  3. tv_encode_event() of an event's fields equals jansson's compact dump
 *     of {"type","room","seq","ts","author","kind","data"} in that order.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tv_protocol.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                             \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,  \
			        __LINE__, #cond);                               \
			abort();                                                \
		}                                                               \
	} while (0)

/* Items nested deeper than this (batches in batches) are not walked: the
 * protocol never nests them and jansson already bounds parse depth. */
#define MAX_WALK 8

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	json_object_seed(1);
	return 0;
}

static enum tv_msg_type expected_type(const json_t *obj)
{
	static const char *const names[] = { "hello", "reply", "event", "presence", "batch" };
	static const enum tv_msg_type types[] = { TV_MSG_HELLO, TV_MSG_REPLY, TV_MSG_EVENT,
		                                  TV_MSG_PRESENCE, TV_MSG_BATCH };
	const json_t *t = json_object_get(obj, "type");

	if (!json_is_string(t))
		return TV_MSG_UNKNOWN;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (json_string_length(t) == strlen(names[i]) &&
		    memcmp(json_string_value(t), names[i], strlen(names[i])) == 0)
			return types[i];
	return TV_MSG_UNKNOWN;
}

/* A C string view of a JSON string without embedded NUL, else NULL. */
static const char *cstr(const json_t *v)
{
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return NULL;
	return json_string_value(v);
}

/* Invariant 3 for one event-shaped object (anything else is skipped). */
static void check_event_encoder(const json_t *obj)
{
	const json_t *seq = json_object_get(obj, "seq"), *ts = json_object_get(obj, "ts");
	const json_t *author = json_object_get(obj, "author"), *data = json_object_get(obj, "data");
	struct tv_event_view ev = { 0 };
	json_t *want, *a;
	char *mine, *theirs;
	size_t mlen = 0;

	ev.room = cstr(json_object_get(obj, "room"));
	ev.kind = cstr(json_object_get(obj, "kind"));
	if (!ev.room || !ev.kind || !json_is_integer(seq) || json_integer_value(seq) < 0 ||
	    !json_is_integer(ts) || !json_is_object(data) || json_object_size(data) == 0)
		return;
	if (json_is_object(author)) {
		ev.author_id = cstr(json_object_get(author, "id"));
		ev.author_name = cstr(json_object_get(author, "name"));
		if (!ev.author_id || !ev.author_name)
			return;
	} else if (!json_is_null(author)) {
		return;
	}
	ev.seq = (uint64_t)json_integer_value(seq);
	ev.ts_ms = (int64_t)json_integer_value(ts);
	char *d = json_dumps(data, JSON_COMPACT);
	CHECK(d != NULL);
	ev.data_json = d;
	ev.data_len = strlen(d);

	want = json_object();
	json_object_set_new(want, "type", json_string("event"));
	json_object_set_new(want, "room", json_string(ev.room));
	json_object_set_new(want, "seq", json_integer(json_integer_value(seq)));
	json_object_set_new(want, "ts", json_integer(json_integer_value(ts)));
	if (ev.author_id) {
		a = json_object();
		json_object_set_new(a, "id", json_string(ev.author_id));
		json_object_set_new(a, "name", json_string(ev.author_name));
		json_object_set_new(want, "author", a);
	} else {
		json_object_set_new(want, "author", json_null());
	}
	json_object_set_new(want, "kind", json_string(ev.kind));
	json_object_set(want, "data", (json_t *)data);
	theirs = json_dumps(want, JSON_COMPACT);
	mine = tv_encode_event(&ev, &mlen);
	CHECK(theirs != NULL && mine != NULL);
	if (mlen != strlen(theirs) || memcmp(mine, theirs, mlen) != 0) {
		fprintf(stderr, "tv_encode_event: %s\njansson:         %s\n", mine, theirs);
		abort();
	}
	free(mine);
	free(theirs);
	free(d);
	json_decref(want);
}

/* Invariants 1-2 for one decoded object, then its batch items. */
static void walk(const json_t *obj, enum tv_msg_type type, int depth)
{
	json_t *root2 = NULL;
	enum tv_msg_type type2;
	char *again;

	CHECK(json_is_object(obj));
	CHECK(type == expected_type(obj));
	again = json_dumps(obj, JSON_COMPACT);
	CHECK(again != NULL);
	CHECK(tv_server_msg_decode(again, strlen(again), &root2, &type2) == 0);
	CHECK(type2 == type && json_equal(obj, root2));
	json_decref(root2);
	free(again);
	check_event_encoder(obj);
	if (type != TV_MSG_BATCH || depth >= MAX_WALK)
		return;
	const json_t *items = json_object_get(obj, "items");
	size_t i;
	json_t *item;
	json_array_foreach(items, i, item) {
		char *s = json_dumps(item, JSON_COMPACT | JSON_ENCODE_ANY);
		json_t *r = NULL;
		enum tv_msg_type t;
		int rc;

		CHECK(s != NULL);
		rc = tv_server_msg_decode(s, strlen(s), &r, &t);
		if (json_is_object(item)) {
			CHECK(rc == 0);
			walk(r, t, depth + 1);
		} else {
			CHECK(rc == -TV_E_BAD_JSON && r == NULL);
		}
		json_decref(r);
		free(s);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *root = (json_t *)1;
	enum tv_msg_type type = (enum tv_msg_type)99;
	int rc = tv_server_msg_decode((const char *)data, size, &root, &type);

	if (rc != 0) {
		CHECK(rc == -TV_E_BAD_UTF8 || rc == -TV_E_BAD_JSON);
		CHECK(root == NULL);
		CHECK((rc == -TV_E_BAD_UTF8) == !tv_utf8_valid((const char *)data, size));
		return 0;
	}
	walk(root, type, 0);
	json_decref(root);
	return 0;
}
