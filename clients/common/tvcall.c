/*
 * tvcall.c: tavla.v1 message stream and request/reply round trips over one
 * wsclient connection (contract in tvcall.h).
 *
 * Responsible for batch unpacking and id matching; decoding of a frame is
 * the protocol library's (tv_server_msg_decode). Not responsible for the
 * meaning of results.
 *
 * Invariants:
 *  1. queue is NULL or an array with qpos < its size: the items of the last
 *     batch not yet handed out.
 *  2. Request ids of one process share a random 12-hex-digit stem and end in
 *     a counter, so two calls never reuse an id by accident.
 */
#include "tvcall.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

struct tvc {
	struct wsc *ws;
	json_t *hello;
	json_t *queue;
	size_t qpos;
	char stem[13];
	unsigned long counter;
};

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline (-1: none): -1 for "forever", else >= 0. */
static int left_ms(long long deadline)
{
	long long left;
	if (deadline < 0)
		return -1;
	left = deadline - now_ms();
	if (left < 0)
		return 0;
	return left > 0x7fffffff ? 0x7fffffff : (int)left;
}

void tvc_msg_clear(struct tvc_msg *m)
{
	json_decref(m->root);
	free(m->raw);
	memset(m, 0, sizeof(*m));
}

int tvc_msg_print(const struct tvc_msg *m, FILE *f)
{
	int r;
	if (m->raw && !memchr(m->raw, '\n', m->raw_len) && !memchr(m->raw, '\r', m->raw_len)) {
		r = fwrite(m->raw, 1, m->raw_len, f) == m->raw_len ? 0 : -1;
	} else {
		char *s = json_dumps(m->root, JSON_COMPACT);
		if (!s)
			return -1;
		r = fputs(s, f) < 0 ? -1 : 0;
		free(s);
	}
	if (fputc('\n', f) == EOF || fflush(f) == EOF)
		r = -1;
	return r;
}

struct tvc *tvc_new(struct wsc *ws)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[6];
	struct tvc *t = calloc(1, sizeof(*t));
	size_t i;

	if (!t) {
		wsc_free(ws);
		return NULL;
	}
	t->ws = ws;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		/* Ids need to be unique, not secret: time and pid will do. */
		unsigned long long v = (unsigned long long)now_ms() ^ ((unsigned long long)getpid() << 24);
		for (i = 0; i < sizeof(rnd); i++)
			rnd[i] = (unsigned char)(v >> (8 * i));
	}
	for (i = 0; i < sizeof(rnd); i++) {
		t->stem[2 * i] = hex[rnd[i] >> 4];
		t->stem[2 * i + 1] = hex[rnd[i] & 15];
	}
	t->stem[12] = '\0';
	return t;
}

struct wsc *tvc_ws(struct tvc *t)
{
	return t->ws;
}

json_t *tvc_hello(struct tvc *t)
{
	return t->hello;
}

void tvc_free(struct tvc *t, int code, int timeout_ms)
{
	if (!t)
		return;
	if (t->ws) {
		wsc_close(t->ws, code, NULL, timeout_ms);
		wsc_free(t->ws);
	}
	json_decref(t->hello);
	json_decref(t->queue);
	free(t);
}

void tvc_new_id(struct tvc *t, const char *prefix, char *out, size_t outlen)
{
	snprintf(out, outlen, "%.16s-%s-%lu", prefix ? prefix : "t", t->stem, ++t->counter);
}

static enum tv_msg_type type_of(const json_t *msg)
{
	static const struct { const char *name; enum tv_msg_type type; } names[] = {
		{ "hello", TV_MSG_HELLO }, { "reply", TV_MSG_REPLY },
		{ "event", TV_MSG_EVENT }, { "presence", TV_MSG_PRESENCE },
		{ "batch", TV_MSG_BATCH },
	};
	const char *s = json_string_value(json_object_get(msg, "type"));
	size_t i;
	if (!s)
		return TV_MSG_UNKNOWN;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0)
			return names[i].type;
	return TV_MSG_UNKNOWN;
}

/* Hands out the next queued batch item into *m. Returns 1 if there was one. */
static int take_queued(struct tvc *t, struct tvc_msg *m)
{
	json_t *item;
	if (!t->queue)
		return 0;
	item = json_array_get(t->queue, t->qpos++);
	m->root = json_incref(item);
	m->type = type_of(item);
	if (t->qpos >= json_array_size(t->queue)) {
		json_decref(t->queue);
		t->queue = NULL;
		t->qpos = 0;
	}
	return 1;
}

static void remember_hello(struct tvc *t, const struct tvc_msg *m)
{
	if (m->type != TV_MSG_HELLO)
		return;
	json_decref(t->hello);
	t->hello = json_incref(m->root);
}

int tvc_next(struct tvc *t, int timeout_ms, struct tvc_msg *m, char *err, size_t errlen)
{
	long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;

	memset(m, 0, sizeof(*m));
	for (;;) {
		char *buf = NULL;
		size_t len = 0;
		int binary = 0, r;
		json_t *root = NULL, *items;
		enum tv_msg_type type;

		if (take_queued(t, m)) {
			remember_hello(t, m);
			return WSC_MESSAGE;
		}
		r = wsc_recv(t->ws, left_ms(deadline), &buf, &len, &binary);
		if (r == WSC_ERROR)
			snprintf(err, errlen, "%s", wsc_errmsg(t->ws));
		if (r != WSC_MESSAGE)
			return r;
		if (binary) {
			free(buf);
			snprintf(err, errlen, "the server sent a binary message");
			return WSC_ERROR;
		}
		if (tv_server_msg_decode(buf, len, &root, &type) < 0 || !json_is_object(root)) {
			json_decref(root);
			snprintf(err, errlen, "the server sent a message that is not a JSON object: %.80s", buf);
			free(buf);
			return WSC_ERROR;
		}
		if (type != TV_MSG_BATCH) {
			m->root = root;
			m->type = type;
			m->raw = buf;
			m->raw_len = len;
			remember_hello(t, m);
			return WSC_MESSAGE;
		}
		free(buf);
		items = json_object_get(root, "items");
		if (!json_is_array(items)) {
			json_decref(root);
			snprintf(err, errlen, "the server sent a batch without an items array");
			return WSC_ERROR;
		}
		if (json_array_size(items) > 0) {
			t->queue = json_incref(items);
			t->qpos = 0;
		}
		json_decref(root);
	}
}

/* 1 if m is the reply to the request with id: same id, or "id":null (the
 * server could not read the id of a request, which can only be ours while
 * we wait for one). */
static int is_reply_to(const struct tvc_msg *m, const char *id)
{
	json_t *rid;
	if (m->type != TV_MSG_REPLY)
		return 0;
	rid = json_object_get(m->root, "id");
	if (json_is_null(rid))
		return 1;
	return json_is_string(rid) && strcmp(json_string_value(rid), id) == 0;
}

int tvc_call_raw(struct tvc *t, const char *text, size_t len, const char *id,
                 int timeout_ms, tvc_other_fn other, void *ud,
                 struct tvc_msg *reply, char *err, size_t errlen)
{
	long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;

	memset(reply, 0, sizeof(*reply));
	if (wsc_send_text(t->ws, text, len) < 0) {
		snprintf(err, errlen, "%s", wsc_errmsg(t->ws));
		return WSC_ERROR;
	}
	for (;;) {
		struct tvc_msg m;
		int r = tvc_next(t, left_ms(deadline), &m, err, errlen);
		if (r != WSC_MESSAGE)
			return r;
		if (is_reply_to(&m, id)) {
			*reply = m;
			return WSC_MESSAGE;
		}
		if (other)
			other(&m, ud);
		tvc_msg_clear(&m);
	}
}

int tvc_call(struct tvc *t, enum tv_op op, const char *id, json_t *args,
             int timeout_ms, tvc_other_fn other, void *ud,
             struct tvc_msg *reply, char *err, size_t errlen)
{
	size_t len = 0;
	char *text = tv_encode_request(op, id, args, &len);
	int r;

	if (!text) {
		memset(reply, 0, sizeof(*reply));
		snprintf(err, errlen, "cannot encode the request");
		return WSC_ERROR;
	}
	r = tvc_call_raw(t, text, len, id, timeout_ms, other, ud, reply, err, errlen);
	free(text);
	return r;
}

int tvc_reply_ok(const struct tvc_msg *reply)
{
	return json_is_true(json_object_get(reply->root, "ok"));
}

json_t *tvc_reply_result(const struct tvc_msg *reply)
{
	json_t *r = json_object_get(reply->root, "result");
	return json_is_object(r) ? r : NULL;
}

const char *tvc_reply_code(const struct tvc_msg *reply)
{
	const char *s = json_string_value(json_object_get(json_object_get(reply->root, "error"), "code"));
	return s ? s : "internal";
}

const char *tvc_reply_message(const struct tvc_msg *reply)
{
	const char *s = json_string_value(json_object_get(json_object_get(reply->root, "error"), "message"));
	return s ? s : "";
}
