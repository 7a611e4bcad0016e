/*
 * search.c: the `search` op (see search.h; the pure query builder and the
 * text to index are search_text.c's, so they can be fuzzed alone).
 *
 * Like `history`, a search runs on the loop thread against the read
 * connection: FTS5 walks the room's matches newest first and stops after
 * one page, and each hit is one primary-key read, so a page costs the
 * same in a room of 100 events and of 100,000.
 */
#include "search.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "handlers.h"
#include "meeting.h"
#include "room.h"
#include "server.h"
#include "store.h"

/* ---- the op ------------------------------------------------------------------------ */

struct hits {
	struct tv_server *srv;
	struct room *room;
	struct tv_viewer viewer;
	json_t *seqs;
	char *buf;
	size_t len, cap;
	int n;
};

static int collect(void *arg, uint64_t seq)
{
	return json_array_append_new(((struct hits *)arg)->seqs, json_integer((json_int_t)seq)) != 0;
}

static int append(struct hits *h, const char *s, size_t n)
{
	if (h->len + n + 1 > h->cap) {
		size_t cap = h->cap ? h->cap : 4096;
		while (cap < h->len + n + 1)
			cap *= 2;
		char *nb = realloc(h->buf, cap);
		if (!nb)
			return -1;
		h->buf = nb;
		h->cap = cap;
	}
	memcpy(h->buf + h->len, s, n);
	h->len += n;
	h->buf[h->len] = 0;
	return 0;
}

/* A hit about a thread or post that was deleted since is not shown: its
 * text is gone from the room, so search must not bring it back. */
static int deleted(struct room *r, const struct tv_event *e)
{
	if (!r->mt || (strncmp(e->kind, "post.", 5) && strcmp(e->kind, "thread.created")))
		return 0;
	json_t *d = json_loadb(e->data, e->data_len, JSON_ALLOW_NUL, NULL);
	struct mt_post *p = meeting_post(r->mt, json_string_value(json_object_get(d, "id")));
	struct mt_post *t = p && p->thread[0] ? meeting_post(r->mt, p->thread) : NULL;
	json_decref(d);
	return !p || p->deleted || (t && t->deleted);
}

static int one_hit(void *arg, const struct tv_event_view *v)
{
	struct hits *h = arg;
	struct tv_event *e = event_new(v);
	if (!e)
		return 1;
	uint32_t aud = event_audience(e, &h->viewer);
	int rc = 0;
	if (aud != TV_AUD_SKIP && !deleted(h->room, e)) {
		struct tv_buf *b = event_wire(e, aud);
		rc = !b || (h->n && append(h, ",", 1)) || append(h, tv_buf_data(b), b->len);
		h->n++;
	}
	event_unref(e);
	return rc;
}

int handle_search(struct tv_ctx *ctx)
{
	size_t qlen;
	const char *q = tv_req_str(ctx->req, "q", &qlen);
	long long before = 0, limit = 20;
	struct room *r = ctx->room;
	tv_req_int(ctx->req, "limit", &limit);
	if (!tv_req_int(ctx->req, "before", &before) || (uint64_t)before > r->head + 1)
		before = (long long)r->head + 1;
	int empty;
	char *match = search_query(q, qlen, &empty);
	if (!match) {
		if (empty)
			snprintf(ctx->err, sizeof ctx->err, "field \"q\" holds no word to search for");
		return empty ? -TV_E_BAD_REQUEST : -TV_E_INTERNAL;
	}
	struct hits h = { .srv = ctx->srv, .room = r, .seqs = json_array() };
	room_sub_viewer(ctx->sub, &h.viewer);
	/* One more than a page tells whether there is more. */
	long n = h.seqs ? store_search(ctx->srv->store, r->id, match, (uint64_t)before, limit + 1,
				       collect, &h)
			: -TV_E_INTERNAL;
	free(match);
	int rc = n < 0 ? (int)n : append(&h, "{\"hits\":[", 9) ? -TV_E_INTERNAL : 0;
	size_t shown = n > limit ? (size_t)limit : (size_t)(n < 0 ? 0 : n);
	uint64_t last = 0;
	for (size_t i = 0; !rc && i < shown; i++) {
		last = (uint64_t)json_integer_value(json_array_get(h.seqs, i));
		int got = store_event_get(ctx->srv->store, r->id, last, one_hit, &h);
		if (got < 0)
			rc = got;
	}
	if (!rc) {
		char tail[80];
		int more = n > limit;
		snprintf(tail, sizeof tail, "],\"more\":%s,\"next\":%llu}", more ? "true" : "false",
			 more ? (unsigned long long)last : 0ULL);
		if (append(&h, tail, strlen(tail)))
			rc = -TV_E_INTERNAL;
	}
	json_decref(h.seqs);
	if (rc) {
		free(h.buf);
		return rc;
	}
	ctx->result_raw = h.buf;
	return 0;
}
