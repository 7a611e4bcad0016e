/*
 * test_record.c: unit tests of daemon/record.c, the format of the cluster
 * stream's records.
 *
 * Covers: every part of a store write survives encode, serialise, parse,
 * decode (strings byte for byte, including text with quotes, newlines and
 * non-ASCII letters, binary hashes, integers, flags, an import's seq); a
 * write with few parts decodes with the others absent; malformed records
 * are refused. Does not cover publishing or applying (integration tests:
 * test_110_cluster_basic).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

/* Encodes w, goes through JSON text (as the stream carries it) and decodes
 * into x. */
static void round_trip(const struct store_write *w, const char *origin, uint64_t n,
		       struct record *x)
{
	json_t *r = record_encode(w, origin, n);
	assert_non_null(r);
	char *text = json_dumps(r, JSON_COMPACT);
	json_decref(r);
	assert_non_null(text);
	json_t *back = json_loads(text, 0, NULL);
	free(text);
	assert_non_null(back);
	memset(x, 0, sizeof *x);
	assert_int_equal(record_decode(x, back), 0);
	json_decref(back); /* x holds its own reference */
}

static void test_every_part(void **state)
{
	(void)state;
	unsigned char hash[TV_HASH_LEN], fp[TV_HASH_LEN];
	for (int i = 0; i < TV_HASH_LEN; i++) {
		hash[i] = (unsigned char)(i * 7 + 1);
		fp[i] = (unsigned char)(255 - i);
	}
	const char data[] = "{\"id\":\"n1\",\"text\":\"Fler cykelv\xc3\xa4gar \\\"nu\\\"\\n\"}";
	struct tv_event_view ev = {
		.room = "r_abc", .seq = 0, .ts_ms = 1795457921345LL, .author_id = "i_x",
		.author_name = "\xc3\x85sa", .kind = "note.created", .data_json = data,
		.data_len = sizeof data - 1,
	};
	struct store_write w = { 0 };
	w.now_ms = 1795457921346LL;
	w.room.id = "r_abc";
	w.room.org_id = "o_1";
	w.room.kind = "workshop";
	w.room.title = "Framtid i byn";
	w.room.code = "K7QF4M";
	w.room.created_by = "i_m";
	w.identity.id = "i_x";
	w.identity.kind = "guest";
	w.identity.name = "\xc3\x85sa";
	w.token.hash = hash;
	w.token.identity_id = "i_x";
	w.member.room_id = "r_abc";
	w.member.identity_id = "i_x";
	w.member.role = 2;
	w.member.replace = 1;
	w.event = &ev;
	w.search_text = "Fler cykelv\xc3\xa4gar";
	w.seen.identity_id = "i_x";
	w.seen.room_id = "r_abc";
	w.seen.seq = 41;
	w.request.identity_id = "i_x";
	w.request.client_id = "c-17";
	w.request.room_id = "r_abc";
	w.request.result = "{\"note\":\"n1\"}";
	w.request.fingerprint = fp;
	w.request.add_seq = 1;
	w.org.id = "o_1";
	w.org.name = "Region Norrfj\xc3\xa4ll";
	w.account.username = "mod";
	w.account.identity_id = "i_m";
	w.account.pwhash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";

	struct record x;
	round_trip(&w, "node1/abc123", 17, &x);
	assert_string_equal(record_str(x.rec, "o"), "node1/abc123");
	assert_int_equal(json_integer_value(json_object_get(x.rec, "n")), 17);
	const struct store_write *d = &x.w;
	assert_int_equal(d->now_ms, w.now_ms);
	assert_int_equal(d->import, 0);
	assert_string_equal(d->room.id, "r_abc");
	assert_string_equal(d->room.org_id, "o_1");
	assert_string_equal(d->room.kind, "workshop");
	assert_string_equal(d->room.title, "Framtid i byn");
	assert_string_equal(d->room.code, "K7QF4M");
	assert_string_equal(d->room.created_by, "i_m");
	assert_string_equal(d->identity.id, "i_x");
	assert_string_equal(d->identity.kind, "guest");
	assert_null(d->identity.org_id);
	assert_string_equal(d->identity.name, "\xc3\x85sa");
	assert_memory_equal(d->token.hash, hash, TV_HASH_LEN);
	assert_string_equal(d->token.identity_id, "i_x");
	assert_string_equal(d->member.room_id, "r_abc");
	assert_int_equal(d->member.role, 2);
	assert_int_equal(d->member.replace, 1);
	assert_non_null(d->event);
	assert_string_equal(d->event->room, "r_abc");
	assert_int_equal(d->event->ts_ms, ev.ts_ms);
	assert_string_equal(d->event->author_id, "i_x");
	assert_string_equal(d->event->author_name, "\xc3\x85sa");
	assert_string_equal(d->event->kind, "note.created");
	assert_int_equal(d->event->data_len, ev.data_len);
	assert_memory_equal(d->event->data_json, data, ev.data_len);
	assert_int_equal(d->event->seq, 0); /* assigned by the writer */
	assert_string_equal(d->search_text, w.search_text);
	assert_string_equal(d->seen.identity_id, "i_x");
	assert_int_equal(d->seen.seq, 41);
	assert_string_equal(d->request.client_id, "c-17");
	assert_string_equal(d->request.result, "{\"note\":\"n1\"}");
	assert_memory_equal(d->request.fingerprint, fp, TV_HASH_LEN);
	assert_int_equal(d->request.add_seq, 1);
	assert_string_equal(d->org.name, "Region Norrfj\xc3\xa4ll");
	assert_string_equal(d->account.username, "mod");
	assert_string_equal(d->account.pwhash, w.account.pwhash);
	assert_null(d->replica.subject);
	record_clear(&x);
}

static void test_few_parts_and_import(void **state)
{
	(void)state;
	struct tv_event_view ev = {
		.room = "r_abc", .seq = 7, .ts_ms = 5, .author_id = NULL, .author_name = "",
		.kind = "timer.expired", .data_json = "{}", .data_len = 2,
	};
	struct store_write w = { 0 };
	w.event = &ev;
	w.import = 1;
	struct record x;
	round_trip(&w, NULL, 0, &x);
	assert_null(record_str(x.rec, "o"));
	assert_int_equal(x.w.import, 1);
	assert_int_equal(x.w.event->seq, 7); /* an import keeps its seq */
	assert_null(x.w.event->author_id);
	assert_null(x.w.room.id);
	assert_null(x.w.identity.id);
	assert_null(x.w.token.hash);
	assert_null(x.w.member.room_id);
	assert_null(x.w.request.identity_id);
	assert_null(x.w.seen.room_id);
	assert_null(x.w.search_text);
	record_clear(&x);
}

static void test_malformed(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"{\"token\":{\"hash\":\"00ff\",\"ident\":\"i_x\"}}",           /* short hash */
		"{\"token\":{\"hash\":\"zz\",\"ident\":\"i_x\"}}",
		"{\"ev\":{\"room\":\"r\",\"kind\":\"k\"}}",                      /* no data */
		"{\"room\":{\"id\":\"r\"}}",                                    /* no code, title... */
		"{\"req\":{\"ident\":\"i\",\"client\":\"c\",\"fp\":\"12\"}}",
		"{\"member\":{\"room\":\"r\"}}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		json_t *r = json_loads(bad[i], 0, NULL);
		assert_non_null(r);
		struct record x;
		memset(&x, 0, sizeof x);
		assert_int_equal(record_decode(&x, r), -1);
		record_clear(&x);
		json_decref(r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_part),
		cmocka_unit_test(test_few_parts_and_import),
		cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
