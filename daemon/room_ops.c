/*
 * room_ops.c: creating and listing rooms, and reading a room's history.
 *
 * Responsible for: room.create (a new room whose first event, seq 1, is
 * room.created), room.list, history paging. Not responsible for joining
 * (session.c) or the ring (room.c).
 */
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "crypto.h"
#include "handlers.h"
#include "log.h"
#include "room.h"
#include "replica.h"
#include "server.h"
#include "store.h"

static const char *const room_kinds[] = { "meeting", "forum", "workshop" };

struct create_job {
	struct store_write w; /* first */
	struct tv_server *srv;
	struct pending *pending; /* NULL for internal creation */
	void (*internal_done)(struct tv_server *srv, const char *code);
	struct tv_event_view ev;
	char id[TV_ID_LEN + 1], code[8], org_id[TV_ID_LEN + 1];
	char creator[TV_ID_LEN + 1], creator_name[256];
	char *kind, *title, *data, *result;
};

static void create_free(struct create_job *j)
{
	free(j->kind);
	free(j->title);
	free(j->data);
	free(j->result);
	free(j);
}

static void create_stored(struct store_write *w)
{
	struct create_job *j = (struct create_job *)w;
	if (!w->status)
		log_info("room.create", "room=%s code=%s kind=%s", j->id, j->code, j->kind);
	if (j->pending)
		dispatch_pending_finish(j->srv, j->pending, w);
	store_write_release(w);
	if (j->internal_done)
		j->internal_done(j->srv, w->status ? NULL : j->code);
	create_free(j);
}

/* Picks a join code no room has: 32^6 codes make a clash rare, the check
 * makes it impossible short of two creations racing (then the UNIQUE
 * constraint fails one and its client retries). */
static int fresh_code(struct tv_server *srv, char code[8])
{
	for (int tries = 0; tries < 16; tries++) {
		if (crypto_random_code(code))
			return -TV_E_INTERNAL;
		int taken = store_code_taken(srv->store, code);
		if (taken < 0)
			return taken;
		if (!taken)
			return 0;
	}
	return -TV_E_INTERNAL;
}

static int create(struct tv_server *srv, const char *org_id, const char *creator,
		  const char *creator_name, const char *kind, const char *title,
		  struct pending *pending,
		  void (*internal_done)(struct tv_server *, const char *))
{
	struct create_job *j = calloc(1, sizeof *j);
	if (!j)
		return -TV_E_INTERNAL;
	j->srv = srv;
	j->pending = pending;
	j->internal_done = internal_done;
	snprintf(j->org_id, sizeof j->org_id, "%s", org_id);
	snprintf(j->creator, sizeof j->creator, "%s", creator ? creator : "");
	snprintf(j->creator_name, sizeof j->creator_name, "%s", creator_name ? creator_name : "");
	j->kind = strdup(kind);
	j->title = strdup(title);
	int rc = crypto_random_id(j->id, "r_");
	if (!rc)
		rc = fresh_code(srv, j->code);
	json_t *data = json_pack("{s:s, s:s, s:s}", "kind", kind, "title", title, "code", j->code);
	json_t *result = json_pack("{s:{s:s, s:s, s:s, s:s}}", "room", "id", j->id, "code",
				   j->code, "kind", kind, "title", title);
	j->data = data ? json_dumps(data, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	j->result = result ? json_dumps(result, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(data);
	json_decref(result);
	if (!rc && (!j->kind || !j->title || !j->data || !j->result))
		rc = -TV_E_INTERNAL;
	if (rc) {
		create_free(j);
		return rc;
	}
	j->w.room.id = j->id;
	j->w.room.org_id = j->org_id;
	j->w.room.kind = j->kind;
	j->w.room.title = j->title;
	j->w.room.code = j->code;
	j->w.room.created_by = creator ? j->creator : NULL;
	j->ev = (struct tv_event_view){
		.room = j->id, .seq = 1, .ts_ms = server_now_ms(),
		.author_id = creator ? j->creator : NULL, .author_name = j->creator_name,
		.kind = "room.created", .data_json = j->data, .data_len = strlen(j->data),
	};
	j->w.event = &j->ev;
	j->w.now_ms = j->ev.ts_ms;
	if (pending) {
		j->w.request.identity_id = pending_identity(pending);
		j->w.request.client_id = pending_client_id(pending);
		j->w.request.fingerprint = pending_fingerprint(pending);
		j->w.request.result = j->result;
	}
	j->w.done = create_stored;
	replica_submit(srv, &j->w);
	return TV_ASYNC;
}

int handle_room_create(struct tv_ctx *ctx)
{
	const char *kind = tv_req_str(ctx->req, "kind", NULL);
	const char *title = tv_req_str(ctx->req, "title", NULL);
	size_t i;
	for (i = 0; i < sizeof room_kinds / sizeof *room_kinds; i++)
		if (strcmp(kind, room_kinds[i]) == 0)
			break;
	if (i == sizeof room_kinds / sizeof *room_kinds) {
		snprintf(ctx->err, sizeof ctx->err,
			 "field \"kind\" must be meeting, forum or workshop");
		return -TV_E_BAD_REQUEST;
	}
	struct conn *c = ctx->conn;
	return create(ctx->srv, c->ident.org_id, c->ident.id, c->ident.name, kind, title,
		      ctx->pending, NULL);
}

int room_ops_create_internal(struct tv_server *srv, const char *org_id, const char *kind,
			     const char *title, void (*done)(struct tv_server *, const char *))
{
	int rc = create(srv, org_id, NULL, NULL, kind, title, NULL, done);
	return rc == TV_ASYNC ? 0 : rc;
}

static void list_one(void *arg, const struct store_room *r)
{
	json_array_append_new(arg, json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", r->id, "code",
					     r->code, "kind", r->kind, "title", r->title,
					     "head", (json_int_t)r->head));
}

int handle_room_list(struct tv_ctx *ctx)
{
	struct conn *c = ctx->conn;
	json_t *rooms = json_array();
	if (!rooms)
		return -TV_E_INTERNAL;
	int account = strcmp(c->ident.kind, "account") == 0;
	int rc = store_room_list(ctx->srv->store, account ? c->ident.org_id : NULL, c->ident.id,
				 list_one, rooms);
	if (rc) {
		json_decref(rooms);
		return rc;
	}
	ctx->result = json_pack("{s:o}", "rooms", rooms);
	return ctx->result ? 0 : -TV_E_INTERNAL;
}

struct history_out {
	char *buf;
	size_t len, cap;
	int first;
	struct tv_viewer viewer;
};

static int history_append(struct history_out *h, const char *s, size_t n)
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

/* Each event as this reader may see it: history is one more surface where
 * hidden text and anonymous authors must not leak. */
static int history_event(void *arg, const struct tv_event_view *v)
{
	struct history_out *h = arg;
	struct tv_event *e = event_new(v);
	if (!e)
		return 1;
	uint32_t aud = event_audience(e, &h->viewer);
	struct tv_buf *b = aud == TV_AUD_SKIP ? NULL : event_wire(e, aud);
	int rc = 0;
	if (b) {
		rc = (!h->first && history_append(h, ",", 1)) ||
		     history_append(h, tv_buf_data(b), b->len);
		h->first = 0;
	} else if (aud != TV_AUD_SKIP) {
		rc = 1;
	}
	event_unref(e);
	return rc;
}

int handle_history(struct tv_ctx *ctx)
{
	struct room *r = ctx->room;
	long long before = (long long)r->head + 1, limit = 100;
	tv_req_int(ctx->req, "before", &before);
	tv_req_int(ctx->req, "limit", &limit);
	if ((uint64_t)before > r->head + 1)
		before = (long long)r->head + 1;
	uint64_t upto = (uint64_t)before - 1;
	uint64_t after = upto > (uint64_t)limit ? upto - (uint64_t)limit : 0;
	struct history_out h = { .first = 1 };
	room_sub_viewer(ctx->sub, &h.viewer);
	int rc = history_append(&h, "{\"events\":[", 11) ? -TV_E_INTERNAL : 0;
	if (!rc) {
		long n = store_events(ctx->srv->store, r->id, after, upto, limit, history_event, &h);
		if (n < 0)
			rc = (int)n;
	}
	if (!rc && history_append(&h, after > 0 ? "],\"more\":true}" : "],\"more\":false}",
				  after > 0 ? 14 : 15))
		rc = -TV_E_INTERNAL;
	if (rc) {
		free(h.buf);
		return rc;
	}
	ctx->result_raw = h.buf;
	return 0;
}
