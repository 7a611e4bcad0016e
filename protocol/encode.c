/*
 * encode.c: the messages tavla.v1 puts on the wire, and the client's reader
 * of server messages.
 *
 * Responsible for the exact bytes of replies, events and requests (compact
 * JSON, UTF-8 unescaped, keys in the order PROTOCOL.md shows them) and for
 * classifying a server frame by its "type". Not responsible for deciding what
 * goes into a result or an event's data, for hello/presence/batch frames
 * (their producers build them with jansson and dump them compactly), nor for
 * sending anything.
 *
 * Replies and requests are built as jansson objects, which keep insertion
 * order, and dumped with JSON_COMPACT. Events are assembled by hand because
 * their data is stored as JSON text and must be copied, not re-parsed; the
 * string escaper below produces the same bytes jansson would.
 *
 * Invariants:
 *  1. Every encoder returns NULL or a new malloc'd buffer (caller free()s)
 *     holding one JSON object, NUL-terminated, its length in *len.
 *  2. Output contains no whitespace outside strings and no \u escape except
 *     for control characters (jansson's rule: '"', '\', \b \f \n \r \t, other
 *     U+0000..U+001F as \u00XX with upper-case hex).
 *  3. Strings given to an encoder must be valid UTF-8; an encoder never emits
 *     invalid UTF-8 (it returns NULL instead, except tv_encode_reply_error,
 *     which substitutes so that an error can always be reported).
 */
#include "tv_protocol.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DECODE_FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)

/* Dumps obj compactly into a new malloc'd NUL-terminated buffer; length in
 * *len (len may be NULL). Borrows obj. NULL on OOM. json_dumpb into our own
 * allocation keeps "free() it" true even if jansson's allocator is replaced. */
static char *dump_compact(const json_t *obj, size_t *len)
{
	size_t n = json_dumpb(obj, NULL, 0, JSON_COMPACT);
	char *out;

	if (n == 0)
		return NULL;
	out = malloc(n + 1);
	if (out == NULL)
		return NULL;
	if (json_dumpb(obj, out, n, JSON_COMPACT) != n) {
		free(out);
		return NULL;
	}
	out[n] = '\0';
	if (len != NULL)
		*len = n;
	return out;
}

/* Sets key to a new string or null (s NULL) in obj. Returns 0, or -1 when s
 * is not valid UTF-8 or on OOM. */
static int set_str_or_null(json_t *obj, const char *key, const char *s)
{
	json_t *v = s != NULL ? json_string(s) : json_null();

	return json_object_set_new(obj, key, v);
}

/* {"type":"reply","id":ID,"ok":true[,"replayed":true],"result":RESULT}.
 * Borrows result (NULL => {}); id NULL => null. NULL on OOM or an id that is
 * not valid UTF-8. */
static char *encode_ok(const char *id, json_t *result, int replayed, size_t *len)
{
	json_t *obj = json_object();
	char *out = NULL;
	int rc;

	if (obj == NULL)
		return NULL;
	rc = json_object_set_new(obj, "type", json_string("reply"));
	rc |= set_str_or_null(obj, "id", id);
	rc |= json_object_set_new(obj, "ok", json_true());
	if (replayed)
		rc |= json_object_set_new(obj, "replayed", json_true());
	if (result != NULL)
		rc |= json_object_set(obj, "result", result);
	else
		rc |= json_object_set_new(obj, "result", json_object());
	if (rc == 0)
		out = dump_compact(obj, len);
	json_decref(obj);
	return out;
}

/* A first reply; see encode_ok for the contract. */
char *tv_encode_reply_ok(const char *id, json_t *result, size_t *len)
{
	return encode_ok(id, result, 0, len);
}

/* A repeated reply to a mutating request whose first result is result
 * (PROTOCOL.md §6); see encode_ok for the contract. */
char *tv_encode_reply_replayed(const char *id, json_t *result, size_t *len)
{
	return encode_ok(id, result, 1, len);
}

/* {"type":"reply","id":ID,"ok":false,"error":{"code":C,"message":M}}. code
 * is TV_E_x or -TV_E_x. id NULL, or not valid UTF-8, => "id":null; message
 * NULL, or not valid UTF-8, => tv_err_message(code). NULL only on OOM. */
char *tv_encode_reply_error(const char *id, int code, const char *message,
                            size_t *len)
{
	json_t *obj = json_object(), *error = json_object();
	json_t *msg = message != NULL ? json_string(message) : NULL;
	json_t *idv = id != NULL ? json_string(id) : NULL;
	char *out = NULL;
	int rc;

	if (msg == NULL)
		msg = json_string(tv_err_message(code));
	if (idv == NULL)
		idv = json_null();
	if (obj == NULL || error == NULL || msg == NULL) {
		json_decref(obj);
		json_decref(error);
		json_decref(msg);
		return NULL;
	}
	rc = json_object_set_new(error, "code", json_string(tv_err_name(code)));
	rc |= json_object_set_new(error, "message", msg);
	rc |= json_object_set_new(obj, "type", json_string("reply"));
	rc |= json_object_set_new(obj, "id", idv);
	rc |= json_object_set_new(obj, "ok", json_false());
	rc |= json_object_set_new(obj, "error", error);
	if (rc == 0)
		out = dump_compact(obj, len);
	json_decref(obj);
	return out;
}

/* {"op":OP,"id":ID,...args}. Borrows args (an object or NULL); its "op" and
 * "id" keys, if any, are skipped so the header of the request is ours. NULL
 * for an unknown op, a NULL or invalid id, args that is not an object, or
 * OOM. */
char *tv_encode_request(enum tv_op op, const char *id, json_t *args, size_t *len)
{
	const struct tv_op_info *info = tv_op_info(op);
	json_t *obj, *value;
	const char *key;
	char *out = NULL;
	int rc;

	if (info == NULL || id == NULL || (args != NULL && !json_is_object(args)))
		return NULL;
	obj = json_object();
	if (obj == NULL)
		return NULL;
	rc = json_object_set_new(obj, "op", json_string(info->wire));
	rc |= json_object_set_new(obj, "id", json_string(id));
	if (args != NULL) {
		json_object_foreach(args, key, value) {
			if (strcmp(key, "op") != 0 && strcmp(key, "id") != 0)
				rc |= json_object_set(obj, key, value);
		}
	}
	if (rc == 0)
		out = dump_compact(obj, len);
	json_decref(obj);
	return out;
}

/* ---- event assembly ------------------------------------------------------ */

struct sbuf {
	char *p;
	size_t len, cap;
	int failed; /* set on OOM or invalid input; later appends do nothing */
};

static void sb_put(struct sbuf *sb, const char *s, size_t n)
{
	size_t cap;
	char *p;

	if (sb->failed)
		return;
	if (sb->len + n + 1 > sb->cap) {
		cap = sb->cap ? sb->cap : 64;
		while (cap < sb->len + n + 1)
			cap *= 2;
		p = realloc(sb->p, cap);
		if (p == NULL) {
			sb->failed = 1;
			return;
		}
		sb->p = p;
		sb->cap = cap;
	}
	memcpy(sb->p + sb->len, s, n);
	sb->len += n;
	sb->p[sb->len] = '\0';
}

static void sb_lit(struct sbuf *sb, const char *s)
{
	sb_put(sb, s, strlen(s));
}

/* Appends s as a JSON string literal, escaped per invariant 2. Marks sb
 * failed when s is not valid UTF-8. Unescaped runs are copied in one go. */
static void sb_str(struct sbuf *sb, const char *s)
{
	size_t n = strlen(s), i, run = 0;
	unsigned char c;
	char esc[8];

	if (!tv_utf8_valid(s, n)) {
		sb->failed = 1;
		return;
	}
	sb_put(sb, "\"", 1);
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		sb_put(sb, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"':  sb_put(sb, "\\\"", 2); break;
		case '\\': sb_put(sb, "\\\\", 2); break;
		case '\b': sb_put(sb, "\\b", 2); break;
		case '\f': sb_put(sb, "\\f", 2); break;
		case '\n': sb_put(sb, "\\n", 2); break;
		case '\r': sb_put(sb, "\\r", 2); break;
		case '\t': sb_put(sb, "\\t", 2); break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04X", c);
			sb_put(sb, esc, 6);
		}
	}
	sb_put(sb, s + run, n - run);
	sb_put(sb, "\"", 1);
}

/* {"type":"event","room":R,"seq":N,"ts":T,"author":{"id":I,"name":N}|null,
 *  "kind":K,"data":D}. Borrows ev; data_json is copied verbatim (NULL or
 * empty => {}); author_name NULL with an author_id => "name":null. NULL on
 * OOM, a NULL room or kind, or strings that are not valid UTF-8. */
char *tv_encode_event(const struct tv_event_view *ev, size_t *len)
{
	struct sbuf sb = { NULL, 0, 0, 0 };
	char num[32];

	if (ev == NULL || ev->room == NULL || ev->kind == NULL)
		return NULL;
	sb_lit(&sb, "{\"type\":\"event\",\"room\":");
	sb_str(&sb, ev->room);
	snprintf(num, sizeof(num), ",\"seq\":%" PRIu64, ev->seq);
	sb_lit(&sb, num);
	snprintf(num, sizeof(num), ",\"ts\":%" PRId64, ev->ts_ms);
	sb_lit(&sb, num);
	if (ev->author_id == NULL) {
		sb_lit(&sb, ",\"author\":null");
	} else {
		sb_lit(&sb, ",\"author\":{\"id\":");
		sb_str(&sb, ev->author_id);
		sb_lit(&sb, ",\"name\":");
		if (ev->author_name != NULL)
			sb_str(&sb, ev->author_name);
		else
			sb_lit(&sb, "null");
		sb_lit(&sb, "}");
	}
	sb_lit(&sb, ",\"kind\":");
	sb_str(&sb, ev->kind);
	sb_lit(&sb, ",\"data\":");
	if (ev->data_json != NULL && ev->data_len > 0)
		sb_put(&sb, ev->data_json, ev->data_len);
	else
		sb_lit(&sb, "{}");
	sb_lit(&sb, "}");
	if (sb.failed) {
		free(sb.p);
		return NULL;
	}
	if (len != NULL)
		*len = sb.len;
	return sb.p;
}

/* ---- server messages ------------------------------------------------------ */

static const struct {
	const char *wire;
	enum tv_msg_type type;
} msg_types[] = {
	{ "hello", TV_MSG_HELLO },     { "reply", TV_MSG_REPLY },
	{ "event", TV_MSG_EVENT },     { "presence", TV_MSG_PRESENCE },
	{ "batch", TV_MSG_BATCH },
};

/* Parses buf[0..len). Returns 0 with a new reference in *root (caller
 * json_decref()s) and its type in *type (TV_MSG_UNKNOWN for a missing,
 * non-string or unknown "type": clients ignore those, PROTOCOL.md §8), or
 * -TV_E_BAD_UTF8 / -TV_E_BAD_JSON with *root NULL. */
int tv_server_msg_decode(const char *buf, size_t len, json_t **root,
                         enum tv_msg_type *type)
{
	json_error_t jerr;
	const json_t *t;
	json_t *obj;
	size_t i;

	*root = NULL;
	*type = TV_MSG_UNKNOWN;
	if (buf == NULL)
		buf = "";
	if (!tv_utf8_valid(buf, len))
		return -TV_E_BAD_UTF8;
	obj = json_loadb(buf, len, DECODE_FLAGS, &jerr);
	if (!json_is_object(obj)) {
		json_decref(obj);
		return -TV_E_BAD_JSON;
	}
	t = json_object_get(obj, "type");
	if (json_is_string(t))
		for (i = 0; i < sizeof(msg_types) / sizeof(msg_types[0]); i++)
			if (json_string_length(t) == strlen(msg_types[i].wire) &&
			    memcmp(json_string_value(t), msg_types[i].wire,
			           json_string_length(t)) == 0)
				*type = msg_types[i].type;
	*root = obj;
	return 0;
}
