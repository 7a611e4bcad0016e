/*
 * session.c: who a connection is and which rooms it follows: ping, login,
 * resume, join, leave.
 *
 * Responsible for: giving a connection its identity (an account after a
 * password check, a new guest identity from a join code, or a resumed one
 * from a token), membership of rooms, and the join seam: the reply, then
 * every missed event, then live events, with no gap and no duplicate.
 * Not responsible for: the shared checks (dispatch.c), storage (store.c),
 * the ring (room.c).
 */
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "conn.h"
#include "crypto.h"
#include "guard.h"
#include "handlers.h"
#include "log.h"
#include "room.h"
#include "replica.h"
#include "server.h"
#include "store.h"

int handle_ping(struct tv_ctx *ctx)
{
	ctx->result = json_pack("{s:I}", "ts", (json_int_t)server_now_ms());
	return ctx->result ? 0 : -TV_E_INTERNAL;
}

static const char *identity_role(const struct conn_identity *id)
{
	return strcmp(id->kind, "account") == 0 ? "moderator" : "participant";
}

static json_t *identity_json(const struct conn_identity *id, const char *role)
{
	return json_pack("{s:s, s:s, s:s}", "id", id->id, "name", id->name, "role",
			 role ? role : identity_role(id));
}

static void identity_from_store(struct conn_identity *out, const struct store_identity *in)
{
	memset(out, 0, sizeof *out);
	memcpy(out->id, in->id, sizeof out->id);
	memcpy(out->org_id, in->org_id, sizeof out->org_id);
	memcpy(out->kind, in->kind, sizeof out->kind);
	memcpy(out->name, in->name, sizeof out->name);
}

/* ---- login ---------------------------------------------------------------------- */

struct login_job {
	struct store_write w; /* first: the token write */
	struct tv_server *srv;
	char addr[64];
	struct reply_to rt;
	struct conn_identity ident;
	int found;
	char token[TV_TOKEN_LEN + 1];
	unsigned char hash[TV_HASH_LEN];
};

static void login_fail(struct login_job *j, int code)
{
	dispatch_finish(j->srv, &j->rt, code, NULL, NULL);
	free(j);
}

static void login_stored(struct store_write *w)
{
	struct login_job *j = (struct login_job *)w;
	struct conn *c = conn_by_id(j->srv, j->rt.conn_id);
	if (w->status) {
		login_fail(j, w->status);
		return;
	}
	if (!c) {
		free(j);
		return;
	}
	if (c->state != CONN_OPEN) {
		login_fail(j, -TV_E_ALREADY_AUTHENTICATED);
		return;
	}
	conn_set_identity(c, &j->ident);
	log_info("auth.login", "conn=%s identity=%s", c->key, j->ident.id);
	json_t *r = json_pack("{s:o, s:s}", "identity", identity_json(&j->ident, NULL), "token",
			      j->token);
	dispatch_finish(j->srv, &j->rt, r ? 0 : -TV_E_INTERNAL, r, NULL);
	json_decref(r);
	free(j);
}

static void login_verified(void *arg, int ok)
{
	struct login_job *j = arg;
	if (j->srv->stopping) {
		login_fail(j, -TV_E_SHUTTING_DOWN);
		return;
	}
	if (!ok || !j->found) {
		guard_login_failed(j->srv, j->addr, server_now_ms());
		log_info("auth.login_failed", "conn=%llu", (unsigned long long)j->rt.conn_id);
		login_fail(j, -TV_E_BAD_CREDENTIALS);
		return;
	}
	if (!conn_by_id(j->srv, j->rt.conn_id)) {
		free(j);
		return;
	}
	if (crypto_token_new(j->token, j->hash)) {
		login_fail(j, -TV_E_INTERNAL);
		return;
	}
	j->w.token.hash = j->hash;
	j->w.token.identity_id = j->ident.id;
	j->w.now_ms = server_now_ms();
	j->w.done = login_stored;
	replica_submit(j->srv, &j->w);
}

int handle_login(struct tv_ctx *ctx)
{
	size_t plen;
	const char *user = tv_req_str(ctx->req, "user", NULL);
	const char *pw = tv_req_str(ctx->req, "password", &plen);
	int rc = guard_login_check(ctx->srv, ctx->conn->addr, server_now_ms());
	if (rc) {
		snprintf(ctx->err, sizeof ctx->err, "too many failed logins from this address; "
			 "wait a minute");
		return rc;
	}
	struct login_job *j = calloc(1, sizeof *j);
	if (!j)
		return -TV_E_INTERNAL;
	j->srv = ctx->srv;
	snprintf(j->addr, sizeof j->addr, "%s", ctx->conn->addr);
	reply_to_init(&j->rt, ctx);
	struct store_identity si;
	char *encoded = NULL;
	rc = store_account_get(ctx->srv->store, user, &si, &encoded);
	if (rc == 0) {
		j->found = 1;
		identity_from_store(&j->ident, &si);
	} else if (rc != -TV_E_BAD_CREDENTIALS) {
		free(j);
		return rc;
	}
	rc = auth_verify_async(ctx->srv, encoded, pw, plen, login_verified, j);
	if (rc) {
		free(j);
		return rc;
	}
	return TV_ASYNC;
}

/* ---- resume --------------------------------------------------------------------- */

/* The identity of a token, set on c; the reply's result (a new reference)
 * in *result. 0 or negative. */
static int resume_as(struct tv_server *srv, struct conn *c, const unsigned char *hash,
		     json_t **result)
{
	struct store_identity si;
	int64_t max_age = (int64_t)srv->cfg->token_days * 86400000;
	int rc = store_identity_by_token(srv->store, hash, server_now_ms(), max_age, &si);
	if (rc)
		return rc;
	struct conn_identity id;
	identity_from_store(&id, &si);
	conn_set_identity(c, &id);
	log_info("auth.resume", "conn=%s identity=%s", c->key, id.id);
	*result = json_pack("{s:o}", "identity", identity_json(&id, NULL));
	return *result ? 0 : -TV_E_INTERNAL;
}

/*
 * Cluster mode: a token made on another node a moment ago may not be in
 * this node's store yet (it arrives with the join that made it, within
 * milliseconds). An unknown token is looked up again for RESUME_WAIT_MS
 * before bad_token is answered.
 */
#define RESUME_WAIT_MS 1500
#define RESUME_POLL_MS 25

struct resume_wait {
	uv_timer_t timer; /* first: the close callback frees the struct */
	struct tv_server *srv;
	struct reply_to rt;
	int64_t deadline;
	unsigned char hash[TV_HASH_LEN];
};

static void resume_wait_free(uv_handle_t *h)
{
	free(h);
}

static void resume_wait_tick(uv_timer_t *t)
{
	struct resume_wait *rw = (struct resume_wait *)t;
	struct conn *c = conn_by_id(rw->srv, rw->rt.conn_id);
	if (c && c->state != CONN_CLOSING && !rw->srv->stopping) {
		json_t *result = NULL;
		int rc = c->state == CONN_IDENT ? -TV_E_ALREADY_AUTHENTICATED
			: resume_as(rw->srv, c, rw->hash, &result);
		if (rc == -TV_E_BAD_TOKEN && server_now_ms() < rw->deadline) {
			uv_timer_start(t, resume_wait_tick, RESUME_POLL_MS, 0);
			return;
		}
		dispatch_finish(rw->srv, &rw->rt, rc, result, NULL);
		json_decref(result);
	}
	uv_close((uv_handle_t *)t, resume_wait_free);
}

int handle_resume(struct tv_ctx *ctx)
{
	size_t len;
	const char *token = tv_req_str(ctx->req, "token", &len);
	unsigned char hash[TV_HASH_LEN];
	crypto_sha256(token, len, hash);
	int rc = resume_as(ctx->srv, ctx->conn, hash, &ctx->result);
	if (rc != -TV_E_BAD_TOKEN || !ctx->srv->replica)
		return rc;
	struct resume_wait *rw = calloc(1, sizeof *rw);
	if (!rw)
		return rc;
	rw->srv = ctx->srv;
	reply_to_init(&rw->rt, ctx);
	rw->deadline = server_now_ms() + RESUME_WAIT_MS;
	memcpy(rw->hash, hash, TV_HASH_LEN);
	uv_timer_init(ctx->srv->loop, &rw->timer);
	uv_timer_start(&rw->timer, resume_wait_tick, RESUME_POLL_MS, 0);
	return TV_ASYNC;
}

/* ---- join: the seam -------------------------------------------------------------- */

struct backlog {
	struct tv_buf **bufs;
	size_t n, cap, bytes, budget;
};

static int backlog_add(void *arg, struct tv_buf *b)
{
	struct backlog *bl = arg;
	if (bl->n && bl->bytes + b->len > bl->budget)
		return 1; /* page by bytes as well as count: see subscribe() */
	if (bl->n == bl->cap) {
		size_t cap = bl->cap ? bl->cap * 2 : 64;
		struct tv_buf **n = realloc(bl->bufs, cap * sizeof *n);
		if (!n)
			return -TV_E_INTERNAL;
		bl->bufs = n;
		bl->cap = cap;
	}
	bl->bufs[bl->n++] = tv_buf_ref(b);
	bl->bytes += b->len;
	return 0;
}

static void backlog_free(struct backlog *bl)
{
	for (size_t i = 0; i < bl->n; i++)
		tv_buf_unref(bl->bufs[i]);
	free(bl->bufs);
}

/*
 * Subscribes c to r from `since` and queues, in this order: the join reply
 * (with `extra` merged into its result), the missed events, and then (via
 * the ring) live events. Everything happens in one turn of the loop, so no
 * event can be published between the catch-up and the subscription: that
 * is what makes the seam exact.
 *
 * The backlog is bounded by count (page) and by bytes (half the send queue)
 * so that a page never overflows the queue it is put in; beyond that the
 * reply says complete:false and the client asks again.
 */
static int subscribe(struct conn *c, struct room *r, unsigned role, uint64_t since,
		     const char *req_id, json_t *extra, char *err, size_t errlen)
{
	struct tv_server *srv = c->srv;
	if (since > r->head) {
		snprintf(err, errlen, "since %llu is ahead of the room (head %llu)",
			 (unsigned long long)since, (unsigned long long)r->head);
		return -TV_E_BAD_REQUEST;
	}
	struct room_sub *old = conn_sub(c, r->id);
	if (old) {
		/* A re-join restarts from the new since. Dropping the old
		 * subscription may leave the room idle: pin it meanwhile. */
		r->pins++;
		conn_sub_drop(c, old);
		r->pins--;
	}

	struct backlog bl = { .budget = (size_t)srv->cfg->send_queue_max / 2 };
	uint64_t through;
	const char *seat = r->ws ? workshop_seat(r->ws, c->ident.id) : "";
	struct tv_viewer viewer = { c->ident.id, role, seat };
	int complete = room_catch_up(r, &viewer, since, (long)srv->cfg->page_events, backlog_add,
				     &bl, &through);
	if (complete < 0) {
		backlog_free(&bl);
		return complete;
	}
	if (complete) {
		struct room_sub *s = conn_sub_new(c, role);
		if (s)
			snprintf(s->table, sizeof s->table, "%s", seat);
		if (!s || room_subscribe(r, s, c->ident.name)) {
			if (s)
				conn_sub_drop(c, s);
			backlog_free(&bl);
			return -TV_E_INTERNAL;
		}
	}
	json_t *res = extra ? json_incref(extra) : json_object();
	json_object_set_new(res, "room",
			    json_pack("{s:s, s:s, s:s, s:s}", "id", r->id, "code", r->code,
				      "kind", r->kind, "title", r->title));
	json_object_set_new(res, "role", json_string(tv_role_name(role)));
	json_object_set_new(res, "head", json_integer((json_int_t)r->head));
	json_object_set_new(res, "complete", json_boolean(complete));
	if (!complete)
		json_object_set_new(res, "through", json_integer((json_int_t)through));
	json_object_set_new(res, "presence", room_presence_json(r));
	char *text = json_dumps(res, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(res);
	if (!text) {
		backlog_free(&bl);
		return -TV_E_INTERNAL;
	}
	dispatch_ok_raw(c, req_id, text, 0);
	free(text);
	for (size_t i = 0; i < bl.n; i++)
		conn_send(c, bl.bufs[i]);
	backlog_free(&bl);
	log_debug("room.join", "conn=%s room=%s since=%llu complete=%d", c->key, r->id,
		  (unsigned long long)since, complete);
	return 0;
}

/* A membership write (first join of an identity to a room), with a new
 * guest identity and token when the connection had none. */
struct join_job {
	struct room_write rw; /* first */
	struct tv_server *srv;
	struct reply_to rt;
	struct conn_identity ident;
	int new_identity;
	unsigned role;
	uint64_t since;
	char token[TV_TOKEN_LEN + 1];
	unsigned char hash[TV_HASH_LEN];
	char *data;
};

static void join_stored(struct room_write *rw)
{
	struct join_job *j = (struct join_job *)rw;
	struct conn *c = conn_by_id(j->srv, j->rt.conn_id);
	if (rw->w.status == STORE_RERUN && c && c->state != CONN_CLOSING) {
		/* Cluster mode: another node appended to the room first. A
		 * first join is valid whatever happened meanwhile: append it
		 * again after what is there now. */
		room_write_submit(rw->room, rw);
		return;
	}
	if (rw->w.status) {
		dispatch_finish(j->srv, &j->rt, rw->w.status, NULL, NULL);
	} else if (c && c->state != CONN_CLOSING) {
		json_t *extra = NULL;
		int rc = 0;
		if (j->new_identity) {
			if (c->state == CONN_IDENT) {
				rc = -TV_E_ALREADY_AUTHENTICATED;
			} else {
				conn_set_identity(c, &j->ident);
				extra = json_pack("{s:o, s:s}", "identity",
						  identity_json(&j->ident, tv_role_name(j->role)),
						  "token", j->token);
			}
		}
		char err[200] = "";
		if (!rc)
			rc = subscribe(c, rw->room, j->role, j->since, j->rt.req_id, extra, err,
				       sizeof err);
		if (rc)
			dispatch_error(c, j->rt.req_id, rc, err);
		json_decref(extra);
	}
	free(j->data);
	free(j);
}

static int join_member(struct tv_ctx *ctx, struct room *r, const char *name, unsigned role,
		       uint64_t since)
{
	struct conn *c = ctx->conn;
	struct join_job *j = calloc(1, sizeof *j);
	if (!j)
		return -TV_E_INTERNAL;
	j->srv = ctx->srv;
	reply_to_init(&j->rt, ctx);
	j->role = role;
	j->since = since;
	if (c->state == CONN_IDENT) {
		j->ident = c->ident;
	} else {
		j->new_identity = 1;
		if (crypto_random_id(j->ident.id, "i_") || crypto_token_new(j->token, j->hash)) {
			free(j);
			return -TV_E_INTERNAL;
		}
		snprintf(j->ident.kind, sizeof j->ident.kind, "guest");
		snprintf(j->ident.name, sizeof j->ident.name, "%s", name);
		j->rw.w.identity.id = j->ident.id;
		j->rw.w.identity.kind = "guest";
		j->rw.w.identity.name = j->ident.name;
		j->rw.w.token.hash = j->hash;
		j->rw.w.token.identity_id = j->ident.id;
	}
	json_t *data = json_pack("{s:s, s:s, s:s}", "id", j->ident.id, "name", j->ident.name,
				 "role", tv_role_name(role));
	j->data = data ? json_dumps(data, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(data);
	if (!j->data) {
		free(j);
		return -TV_E_INTERNAL;
	}
	j->rw.w.member.room_id = r->id;
	j->rw.w.member.identity_id = j->ident.id;
	j->rw.w.member.role = role;
	j->rw.ev.kind = "member.joined";
	j->rw.ev.data_json = j->data;
	j->rw.ev.data_len = strlen(j->data);
	j->rw.done = join_stored;
	room_write_submit(r, &j->rw);
	return TV_ASYNC;
}

static int join_wait(struct tv_ctx *ctx, struct room *r, unsigned role, uint64_t since);

int handle_join(struct tv_ctx *ctx)
{
	struct conn *c = ctx->conn;
	const char *code = tv_req_str(ctx->req, "code", NULL);
	const char *room_id = tv_req_str(ctx->req, "room", NULL);
	const char *name = tv_req_str(ctx->req, "name", NULL);
	long long since = 0;
	int observer = 0;
	tv_req_int(ctx->req, "since", &since);
	tv_req_bool(ctx->req, "observer", &observer);
	if (!code == !room_id) {
		snprintf(ctx->err, sizeof ctx->err, "give either \"code\" or \"room\"");
		return -TV_E_BAD_REQUEST;
	}
	if (room_id && c->state != CONN_IDENT)
		return -TV_E_NOT_AUTHENTICATED;
	if (code && c->state != CONN_IDENT && !name) {
		snprintf(ctx->err, sizeof ctx->err, "field \"name\" is required with \"code\"");
		return -TV_E_BAD_REQUEST;
	}
	struct room *r;
	int rc = code ? room_by_code(ctx->srv, code, &r) : room_get(ctx->srv, room_id, &r);
	if (rc)
		return rc;
	if (r->archived) {
		room_release_if_idle(r);
		return -TV_E_ROOM_ARCHIVED;
	}
	unsigned role = c->state == CONN_IDENT
		? room_role_of(r, c->ident.id, c->ident.kind, c->ident.org_id) : 0;
	if ((!role && room_id) || role == ROOM_ROLE_REMOVED) {
		room_release_if_idle(r);
		return -TV_E_FORBIDDEN;
	}
	if (!role) {
		rc = join_member(ctx, r, name, observer ? TV_ROLE_OBSERVER : TV_ROLE_PARTICIPANT,
				 (uint64_t)since);
	} else if (ctx->srv->replica && since > 0 && (uint64_t)since > r->head) {
		rc = join_wait(ctx, r, role, (uint64_t)since);
	} else {
		rc = subscribe(c, r, role, (uint64_t)since, ctx->req->id, NULL, ctx->err,
			       sizeof ctx->err);
		if (rc == 0)
			rc = TV_ASYNC; /* subscribe() queued the reply itself */
	}
	room_release_if_idle(r);
	return rc;
}

/*
 * Cluster mode: a client that moved from another node may know seqs this
 * node has not applied yet (a few milliseconds behind, or seconds after a
 * NATS failover). Its join waits, up to JOIN_WAIT_MS, for the room to get
 * there instead of being refused; the room is looked up again each time,
 * so nothing is held meanwhile.
 */
#define JOIN_WAIT_MS 5000
#define JOIN_POLL_MS 20

struct join_wait {
	uv_timer_t timer; /* first: the close callback frees the struct */
	struct tv_server *srv;
	uint64_t conn_id, since;
	unsigned role;
	int64_t deadline;
	char room[TV_ID_LEN + 1];
	char req_id[TV_ID_MAX_BYTES + 1];
};

static void join_wait_free(uv_handle_t *h)
{
	free(h);
}

static void join_wait_tick(uv_timer_t *t)
{
	struct join_wait *jw = (struct join_wait *)t;
	struct conn *c = conn_by_id(jw->srv, jw->conn_id);
	struct room *r = NULL;
	int rc = 0;
	if (!c || c->state == CONN_CLOSING || jw->srv->stopping)
		goto done;
	rc = room_get(jw->srv, jw->room, &r);
	if (!rc && r->head < jw->since && server_now_ms() < jw->deadline) {
		room_release_if_idle(r);
		uv_timer_start(t, join_wait_tick, JOIN_POLL_MS, 0);
		return;
	}
	char err[200] = "";
	if (!rc)
		rc = subscribe(c, r, jw->role, jw->since, jw->req_id, NULL, err, sizeof err);
	if (rc)
		dispatch_error(c, jw->req_id, rc, err);
	room_release_if_idle(r);
done:
	uv_close((uv_handle_t *)t, join_wait_free);
}

static int join_wait(struct tv_ctx *ctx, struct room *r, unsigned role, uint64_t since)
{
	struct join_wait *jw = calloc(1, sizeof *jw);
	if (!jw)
		return -TV_E_INTERNAL;
	jw->srv = ctx->srv;
	jw->conn_id = ctx->conn->id;
	jw->since = since;
	jw->role = role;
	jw->deadline = server_now_ms() + JOIN_WAIT_MS;
	snprintf(jw->room, sizeof jw->room, "%s", r->id);
	snprintf(jw->req_id, sizeof jw->req_id, "%s", ctx->req->id);
	uv_timer_init(ctx->srv->loop, &jw->timer);
	uv_timer_start(&jw->timer, join_wait_tick, JOIN_POLL_MS, 0);
	log_debug("room.join_wait", "room=%s since=%llu head=%llu", r->id,
		  (unsigned long long)since, (unsigned long long)r->head);
	return TV_ASYNC;
}

int handle_leave(struct tv_ctx *ctx)
{
	conn_sub_drop(ctx->conn, ctx->sub);
	ctx->result = json_object();
	return ctx->result ? 0 : -TV_E_INTERNAL;
}
