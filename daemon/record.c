/*
 * record.c: one store write as a record of the cluster's stream (JSON) and
 * back (see record.h). Pure: jansson only, no NATS, no store.
 *
 * A record has one member per part of the write that is present ("room",
 * "ident", "token", "member", "ev", "seen", "req", "org", "acct",
 * "search"), the write's time ("t"), and where it comes from ("o": the
 * writing process, "n": its number there) when it has an origin. Binary
 * parts (token hash, request fingerprint) are lower-case hex.
 *
 * Invariant: record_decode(record_encode(w)) gives a write that the store
 * applies exactly as it applies w (every part, the event's kind, author,
 * time and data byte for byte, and the seq of an import).
 */
#include "record.h"

#include <stdio.h>
#include <string.h>

void record_hex(char *out, const unsigned char *in, size_t n)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = 0;
}

static int unhex(unsigned char *out, const char *in, size_t n)
{
	if (!in || strlen(in) != 2 * n)
		return -1;
	for (size_t i = 0; i < 2 * n; i++) {
		char c = in[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (v < 0)
			return -1;
		out[i / 2] = (unsigned char)(i % 2 ? (out[i / 2] | v) : v << 4);
	}
	return 0;
}

static void set_str(json_t *o, const char *k, const char *v)
{
	if (v)
		json_object_set_new(o, k, json_string(v));
}

/* One write as a record (a new reference), or NULL when out of memory. */
json_t *record_encode(const struct store_write *w, const char *origin, uint64_t n)
{
	json_t *r = json_object();
	char h[2 * TV_HASH_LEN + 1];
	if (!r)
		return NULL;
	if (origin) {
		json_object_set_new(r, "o", json_string(origin));
		json_object_set_new(r, "n", json_integer((json_int_t)n));
	}
	json_object_set_new(r, "t", json_integer(w->now_ms));
	if (w->import)
		json_object_set_new(r, "imp", json_true());
	if (w->org.id) {
		json_t *o = json_object();
		set_str(o, "id", w->org.id);
		set_str(o, "name", w->org.name);
		json_object_set_new(r, "org", o);
	}
	if (w->room.id) {
		json_t *o = json_object();
		set_str(o, "id", w->room.id);
		set_str(o, "org", w->room.org_id);
		set_str(o, "kind", w->room.kind);
		set_str(o, "title", w->room.title);
		set_str(o, "code", w->room.code);
		set_str(o, "by", w->room.created_by);
		json_object_set_new(r, "room", o);
	}
	if (w->identity.id) {
		json_t *o = json_object();
		set_str(o, "id", w->identity.id);
		set_str(o, "kind", w->identity.kind);
		set_str(o, "org", w->identity.org_id);
		set_str(o, "name", w->identity.name);
		json_object_set_new(r, "ident", o);
	}
	if (w->token.hash) {
		record_hex(h, w->token.hash, TV_HASH_LEN);
		json_object_set_new(r, "token", json_pack("{s:s, s:s}", "hash", h, "ident",
							   w->token.identity_id));
	}
	if (w->account.username) {
		json_t *o = json_object();
		set_str(o, "user", w->account.username);
		set_str(o, "ident", w->account.identity_id);
		set_str(o, "pw", w->account.pwhash);
		json_object_set_new(r, "acct", o);
	}
	if (w->member.room_id)
		json_object_set_new(r, "member",
				    json_pack("{s:s, s:s, s:i, s:b}", "room", w->member.room_id,
					      "ident", w->member.identity_id, "role",
					      (int)w->member.role, "replace", w->member.replace));
	if (w->event) {
		const struct tv_event_view *e = w->event;
		json_t *o = json_object();
		set_str(o, "room", e->room);
		json_object_set_new(o, "ts", json_integer(e->ts_ms));
		set_str(o, "author", e->author_id);
		set_str(o, "name", e->author_id ? e->author_name : NULL);
		set_str(o, "kind", e->kind);
		json_object_set_new(o, "data", json_stringn(e->data_json, e->data_len));
		if (w->import)
			json_object_set_new(o, "seq", json_integer((json_int_t)e->seq));
		json_object_set_new(r, "ev", o);
	}
	set_str(r, "search", w->search_text);
	if (w->seen.room_id)
		json_object_set_new(r, "seen", json_pack("{s:s, s:s, s:I}", "ident",
							  w->seen.identity_id, "room",
							  w->seen.room_id, "seq",
							  (json_int_t)w->seen.seq));
	if (w->request.identity_id) {
		json_t *o = json_object();
		set_str(o, "ident", w->request.identity_id);
		set_str(o, "client", w->request.client_id);
		set_str(o, "room", w->request.room_id);
		set_str(o, "result", w->request.result);
		record_hex(h, w->request.fingerprint, TV_HASH_LEN);
		json_object_set_new(o, "fp", json_string(h));
		if (w->request.add_seq)
			json_object_set_new(o, "add_seq", json_true());
		json_object_set_new(r, "req", o);
	}
	return r;
}

const char *record_str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

int record_decode(struct record *x, json_t *r)
{
	struct store_write *w = &x->w;
	json_t *o;
	x->rec = json_incref(r);
	w->now_ms = (int64_t)json_integer_value(json_object_get(r, "t"));
	w->import = json_is_true(json_object_get(r, "imp"));
	if ((o = json_object_get(r, "org"))) {
		w->org.id = record_str(o, "id");
		w->org.name = record_str(o, "name");
		if (!w->org.id || !w->org.name)
			return -1;
	}
	if ((o = json_object_get(r, "room"))) {
		w->room.id = record_str(o, "id");
		w->room.org_id = record_str(o, "org");
		w->room.kind = record_str(o, "kind");
		w->room.title = record_str(o, "title");
		w->room.code = record_str(o, "code");
		w->room.created_by = record_str(o, "by");
		if (!w->room.id || !w->room.org_id || !w->room.kind || !w->room.title ||
		    !w->room.code)
			return -1;
	}
	if ((o = json_object_get(r, "ident"))) {
		w->identity.id = record_str(o, "id");
		w->identity.kind = record_str(o, "kind");
		w->identity.org_id = record_str(o, "org");
		w->identity.name = record_str(o, "name");
		if (!w->identity.id || !w->identity.kind || !w->identity.name)
			return -1;
	}
	if ((o = json_object_get(r, "token"))) {
		if (unhex(x->hash, record_str(o, "hash"), TV_HASH_LEN) || !record_str(o, "ident"))
			return -1;
		w->token.hash = x->hash;
		w->token.identity_id = record_str(o, "ident");
	}
	if ((o = json_object_get(r, "acct"))) {
		w->account.username = record_str(o, "user");
		w->account.identity_id = record_str(o, "ident");
		w->account.pwhash = record_str(o, "pw");
		if (!w->account.username || !w->account.identity_id || !w->account.pwhash)
			return -1;
	}
	if ((o = json_object_get(r, "member"))) {
		w->member.room_id = record_str(o, "room");
		w->member.identity_id = record_str(o, "ident");
		w->member.role = (unsigned)json_integer_value(json_object_get(o, "role"));
		w->member.replace = json_is_true(json_object_get(o, "replace"));
		if (!w->member.room_id || !w->member.identity_id)
			return -1;
	}
	if ((o = json_object_get(r, "ev"))) {
		struct tv_event_view *e = &x->ev;
		json_t *d = json_object_get(o, "data");
		e->room = record_str(o, "room");
		e->ts_ms = (int64_t)json_integer_value(json_object_get(o, "ts"));
		e->author_id = record_str(o, "author");
		e->author_name = record_str(o, "name");
		if (!e->author_name)
			e->author_name = "";
		e->kind = record_str(o, "kind");
		e->data_json = json_string_value(d);
		e->data_len = json_string_length(d);
		e->seq = (uint64_t)json_integer_value(json_object_get(o, "seq"));
		if (!e->room || !e->kind || !e->data_json)
			return -1;
		w->event = e;
	}
	w->search_text = record_str(r, "search");
	if ((o = json_object_get(r, "seen"))) {
		w->seen.identity_id = record_str(o, "ident");
		w->seen.room_id = record_str(o, "room");
		w->seen.seq = (uint64_t)json_integer_value(json_object_get(o, "seq"));
		if (!w->seen.identity_id || !w->seen.room_id)
			return -1;
	}
	if ((o = json_object_get(r, "req"))) {
		w->request.identity_id = record_str(o, "ident");
		w->request.client_id = record_str(o, "client");
		w->request.room_id = record_str(o, "room");
		w->request.result = record_str(o, "result");
		w->request.add_seq = json_is_true(json_object_get(o, "add_seq"));
		if (unhex(x->fp, record_str(o, "fp"), TV_HASH_LEN) || !w->request.identity_id ||
		    !w->request.client_id)
			return -1;
		w->request.fingerprint = x->fp;
	}
	return 0;
}

void record_clear(struct record *x)
{
	json_decref(x->rec);
	x->rec = NULL;
}
