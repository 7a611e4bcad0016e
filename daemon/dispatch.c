/*
 * dispatch.c: decode, shared checks, handler, reply (see dispatch.h).
 *
 * Like Redis's processCommand(): the checks every op needs live here once,
 * driven by the op's row in protocol/messages.def, so a handler cannot
 * forget one and a new op cannot skip them.
 */
#include "dispatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conn.h"
#include "fault.h"
#include "handlers.h"
#include "log.h"
#include "metrics.h"
#include "room.h"
#include "server.h"
#include "store.h"

typedef int (*handler_fn)(struct tv_ctx *);

static const handler_fn handlers[TV_OP__COUNT] = {
	[TV_OP_PING] = handle_ping,
	[TV_OP_LOGIN] = handle_login,
	[TV_OP_RESUME] = handle_resume,
	[TV_OP_JOIN] = handle_join,
	[TV_OP_LEAVE] = handle_leave,
	[TV_OP_ROOM_CREATE] = handle_room_create,
	[TV_OP_ROOM_LIST] = handle_room_list,
	[TV_OP_CHAT_SEND] = handle_chat_send,
	[TV_OP_HISTORY] = handle_history,
	[TV_OP_TABLE_CREATE] = handle_table_create,
	[TV_OP_TABLE_ASSIGN] = handle_table_assign,
	[TV_OP_BOARD_CREATE] = handle_board_create,
	[TV_OP_BOARD_UPDATE] = handle_board_update,
	[TV_OP_NOTE_ADD] = handle_note_add,
	[TV_OP_NOTE_EDIT] = handle_note_edit,
	[TV_OP_NOTE_DELETE] = handle_note_delete,
	[TV_OP_NOTE_APPROVE] = handle_note_approve,
	[TV_OP_PHASE_SET] = handle_phase_set,
	[TV_OP_WRITING_SET] = handle_writing_set,
	[TV_OP_WRITING_REVEAL] = handle_writing_reveal,
	[TV_OP_TIMER_SET] = handle_timer_set,
	[TV_OP_READY_SET] = handle_ready_set,
	[TV_OP_VIEW_FOCUS] = handle_view_focus,
	[TV_OP_MEMBER_ROLE] = handle_member_role,
	[TV_OP_UNDO] = handle_undo,
	[TV_OP_WORKSHOP_STATUS] = handle_workshop_status,
	[TV_OP_SYNTHESIS_CREATE] = handle_synthesis_create,
	[TV_OP_CLUSTER_CREATE] = handle_cluster_create,
	[TV_OP_CLUSTER_UPDATE] = handle_cluster_update,
	[TV_OP_CLUSTER_ASSIGN] = handle_cluster_assign,
	[TV_OP_CLUSTER_MERGE] = handle_cluster_merge,
	[TV_OP_CLUSTER_SPLIT] = handle_cluster_split,
	[TV_OP_CLUSTER_DELETE] = handle_cluster_delete,
	[TV_OP_NOTE_MERGE] = handle_note_merge,
	[TV_OP_CLUSTER_SUGGEST] = handle_cluster_suggest,
	[TV_OP_CLUSTER_REJECT] = handle_cluster_reject,
	[TV_OP_VOTE_OPEN] = handle_vote_open,
	[TV_OP_VOTE_CAST] = handle_vote_cast,
	[TV_OP_VOTE_CLOSE] = handle_vote_close,
	[TV_OP_SYNTHESIS_RESULT] = handle_synthesis_result,
	[TV_OP_ACTION_CREATE] = handle_action_create,
	[TV_OP_ACTION_UPDATE] = handle_action_update,
	[TV_OP_ACTION_LIST] = handle_action_list,
	[TV_OP_SYNTHESIS_PUBLISH] = handle_synthesis_publish,
	[TV_OP_SYNTHESIS_GET] = handle_synthesis_get,
	[TV_OP_EXPORT] = handle_export,
	[TV_OP_EXPORT_LINK] = handle_export_link,
	[TV_OP_NOTES_IMPORT] = handle_notes_import,
	/* meetings and forums (PROTOCOL.md §9) */
	[TV_OP_AGENDA_ADD] = handle_agenda_add,
	[TV_OP_AGENDA_EDIT] = handle_agenda_edit,
	[TV_OP_AGENDA_REMOVE] = handle_agenda_remove,
	[TV_OP_AGENDA_CURRENT] = handle_agenda_current,
	[TV_OP_POLL_CREATE] = handle_poll_create,
	[TV_OP_POLL_ANSWER] = handle_poll_answer,
	[TV_OP_POLL_CLOSE] = handle_poll_close,
	[TV_OP_ROUND_OPEN] = handle_round_open,
	[TV_OP_ROUND_ANSWER] = handle_round_answer,
	[TV_OP_ROUND_CLOSE] = handle_round_close,
	[TV_OP_HAND_RAISE] = handle_hand_raise,
	[TV_OP_HAND_LOWER] = handle_hand_lower,
	[TV_OP_QUEUE_NEXT] = handle_queue_next,
	[TV_OP_REACT] = handle_react,
	[TV_OP_THREAD_CREATE] = handle_thread_create,
	[TV_OP_POST_ADD] = handle_post_add,
	[TV_OP_POST_EDIT] = handle_post_edit,
	[TV_OP_POST_DELETE] = handle_post_delete,
	[TV_OP_SEARCH] = handle_search,
	[TV_OP_ROOMS_UNREAD] = handle_rooms_unread,
	[TV_OP_ROOMS_SEEN] = handle_rooms_seen,
	[TV_OP_MEETING_EXPORT] = handle_meeting_export,
};

int dispatch_table_complete(void)
{
	for (int op = 1; op < TV_OP__COUNT; op++)
		if (!handlers[op])
			return 0;
	return 1;
}

/* Cost in rate tokens: authentication is dearer (password hashing). */
static const double rate_cost[TV_RATE__COUNT] = {
	[TV_RATE_NONE] = 0, [TV_RATE_READ] = 1, [TV_RATE_WRITE] = 1, [TV_RATE_AUTH] = 5,
};

/* ---- replies -------------------------------------------------------------------- */

/* {"type":"reply","id":ID,"ok":true[,"replayed":true],"result":RESULT} built
 * around already-serialised result text (no re-encoding). */
static struct tv_buf *reply_ok_buf(const char *req_id, const char *result, int replayed)
{
	json_t *jid = req_id ? json_string(req_id) : json_null();
	char *id = jid ? json_dumps(jid, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
	json_decref(jid);
	if (!id)
		return NULL;
	if (!result)
		result = "{}";
	size_t len = strlen(id) + strlen(result) + 64;
	struct tv_buf *b = tv_buf_new(len);
	if (b)
		b->len = (size_t)snprintf(tv_buf_data(b), len + 1,
					  "{\"type\":\"reply\",\"id\":%s,\"ok\":true,%s\"result\":%s}",
					  id, replayed ? "\"replayed\":true," : "", result);
	free(id);
	return b;
}

void dispatch_ok_raw(struct conn *c, const char *req_id, const char *result_json, int replayed)
{
	struct tv_buf *b = reply_ok_buf(req_id, result_json, replayed);
	if (!b) {
		dispatch_error(c, req_id, -TV_E_INTERNAL, NULL);
		return;
	}
	conn_send(c, b);
	tv_buf_unref(b);
}

static void reply_ok_json(struct conn *c, const char *req_id, json_t *result)
{
	char *s = result ? json_dumps(result, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	if (result && !s) {
		dispatch_error(c, req_id, -TV_E_INTERNAL, NULL);
		return;
	}
	dispatch_ok_raw(c, req_id, s, 0);
	free(s);
}

void dispatch_error(struct conn *c, const char *req_id, int code, const char *msg)
{
	size_t len;
	char *s = tv_encode_reply_error(req_id && *req_id ? req_id : NULL, code,
					msg && *msg ? msg : NULL, &len);
	c->srv->stats.errors++;
	metrics_count_error(&c->srv->stats, code);
	log_debug("request.error", "conn=%s code=%s", c->key, tv_err_name(code));
	struct tv_buf *b = s ? tv_buf_take(s, len) : NULL;
	if (b) {
		conn_send(c, b);
		tv_buf_unref(b);
	}
}

void reply_to_init(struct reply_to *rt, const struct tv_ctx *ctx)
{
	rt->conn_id = ctx->conn->id;
	snprintf(rt->req_id, sizeof rt->req_id, "%s", ctx->req->id);
}

void dispatch_finish(struct tv_server *srv, const struct reply_to *rt, int status,
		     json_t *result, const char *msg)
{
	struct conn *c = conn_by_id(srv, rt->conn_id);
	if (!c || c->state == CONN_CLOSING)
		return;
	if (status == STORE_RERUN)
		status = -TV_E_OVERLOADED; /* not run again: the client retries */
	if (status)
		dispatch_error(c, rt->req_id, status, msg);
	else
		reply_ok_json(c, rt->req_id, result);
}

/* ---- idempotency ------------------------------------------------------------------- */

struct pending {
	char key[TV_ID_LEN + TV_ID_MAX_BYTES + 2]; /* identity \x1f client id */
	char identity[TV_ID_LEN + 1];
	char client_id[TV_ID_MAX_BYTES + 1];
	unsigned char fingerprint[TV_HASH_LEN];
	struct reply_to *waiters;
	size_t nwaiters;
	/* Cluster mode: the request's text, to run it again when its room
	 * moved on before it was appended (STORE_RERUN, replica.h). */
	char *raw;
	size_t raw_len;
};

void dispatch_pending_free(void *pending)
{
	struct pending *p = pending;
	if (!p)
		return;
	free(p->waiters);
	free(p->raw);
	free(p);
}

static void rerun(struct tv_server *srv, struct pending *p);

const char *pending_identity(const struct pending *p) { return p->identity; }
const char *pending_client_id(const struct pending *p) { return p->client_id; }
const unsigned char *pending_fingerprint(const struct pending *p) { return p->fingerprint; }

static int add_waiter(struct pending *p, struct conn *c, const char *req_id)
{
	struct reply_to *w = realloc(p->waiters, (p->nwaiters + 1) * sizeof *w);
	if (!w)
		return -TV_E_INTERNAL;
	p->waiters = w;
	w[p->nwaiters].conn_id = c->id;
	snprintf(w[p->nwaiters].req_id, sizeof w->req_id, "%s", req_id);
	p->nwaiters++;
	return 0;
}

void dispatch_pending_finish(struct tv_server *srv, struct pending *p,
			     const struct store_write *w)
{
	if (w->status == STORE_RERUN) {
		rerun(srv, p);
		return;
	}
	map_del(&srv->pending, p->key);
	int status = w->status, replayed = w->duplicate;
	if (status == 0 && w->duplicate && memcmp(w->dup_fingerprint, p->fingerprint, TV_HASH_LEN))
		status = -TV_E_ID_REUSED;
	if (status == 0 && TV_FAULT("dispatch.before_ack"))
		status = -TV_E_INTERNAL; /* test hook: committed, ack lost */
	for (size_t i = 0; i < p->nwaiters; i++) {
		struct conn *c = conn_by_id(srv, p->waiters[i].conn_id);
		if (!c || c->state == CONN_CLOSING)
			continue;
		if (status)
			dispatch_error(c, p->waiters[i].req_id, status, NULL);
		else
			dispatch_ok_raw(c, p->waiters[i].req_id, w->reply, replayed || i > 0);
	}
	(void)TV_FAULT("dispatch.after_ack"); /* abort action only */
	dispatch_pending_free(p);
}

/* Returns 0 with ctx->pending set (run the handler), TV_ASYNC when the
 * request was answered or attached to one in flight, or negative. */
static int idempotency(struct tv_ctx *ctx)
{
	struct conn *c = ctx->conn;
	struct tv_server *srv = ctx->srv;
	size_t clen;
	char *canon = tv_request_canonical(ctx->req, &clen);
	if (!canon)
		return -TV_E_INTERNAL;
	unsigned char fp[TV_HASH_LEN];
	crypto_sha256(canon, clen, fp);
	free(canon);

	char key[sizeof ((struct pending *)0)->key];
	snprintf(key, sizeof key, "%s\x1f%s", c->ident.id, ctx->req->id);
	struct pending *p = map_get(&srv->pending, key);
	if (p) {
		if (memcmp(p->fingerprint, fp, TV_HASH_LEN))
			return -TV_E_ID_REUSED;
		return add_waiter(p, c, ctx->req->id) ? -TV_E_INTERNAL : TV_ASYNC;
	}
	/* Whether it committed before is for the writer to find (store.h). */
	p = calloc(1, sizeof *p);
	if (!p)
		return -TV_E_INTERNAL;
	memcpy(p->key, key, sizeof p->key);
	snprintf(p->identity, sizeof p->identity, "%s", c->ident.id);
	snprintf(p->client_id, sizeof p->client_id, "%s", ctx->req->id);
	memcpy(p->fingerprint, fp, TV_HASH_LEN);
	if (srv->replica && ctx->raw) {
		p->raw = malloc(ctx->raw_len + 1);
		if (p->raw) {
			memcpy(p->raw, ctx->raw, ctx->raw_len);
			p->raw[ctx->raw_len] = 0;
			p->raw_len = ctx->raw_len;
		}
	}
	if (add_waiter(p, c, ctx->req->id) || map_put(&srv->pending, p->key, p)) {
		dispatch_pending_free(p);
		return -TV_E_INTERNAL;
	}
	ctx->pending = p;
	return 0;
}

/* ---- the shared checks ---------------------------------------------------------------- */

static int check_auth(struct tv_ctx *ctx, const struct tv_op_info *info, int ident);

static int check(struct tv_ctx *ctx, const struct tv_op_info *info)
{
	struct conn *c = ctx->conn;
	if (ctx->srv->stopping)
		return -TV_E_SHUTTING_DOWN;
	if (conn_rate_take(c, rate_cost[info->rate])) {
		/* A client that keeps hammering after being told is cut off,
		 * so it cannot keep the loop busy with error replies. */
		if (++c->strikes > 100)
			conn_close(c, 1008, "request flood");
		return -TV_E_RATE_LIMITED;
	}
	int ident = c->state == CONN_IDENT;
	int rc = check_auth(ctx, info, ident);
	if (rc)
		return rc;
	if (info->mutates)
		return idempotency(ctx);
	return 0;
}

/* The checks of an op's row that depend on the connection's state: its
 * identity, the room it names and the sender's role there. */
static int check_auth(struct tv_ctx *ctx, const struct tv_op_info *info, int ident)
{
	struct conn *c = ctx->conn;
	switch (info->auth) {
	case TV_AUTH_ANON:
		if (ident)
			return -TV_E_ALREADY_AUTHENTICATED;
		break;
	case TV_AUTH_IDENT:
		if (!ident)
			return -TV_E_NOT_AUTHENTICATED;
		break;
	case TV_AUTH_ANY:
	case TV_AUTH_JOIN: /* the handler knows which form needs what */
		break;
	}
	if (info->room) {
		const char *room = tv_req_str(ctx->req, "room", NULL);
		ctx->sub = room ? conn_sub(c, room) : NULL;
		if (!ctx->sub)
			return -TV_E_NOT_IN_ROOM;
		ctx->room = ctx->sub->room;
		ctx->role = ctx->sub->role;
		if (!(info->roles & ctx->role))
			return -TV_E_FORBIDDEN;
	} else if (ident && info->auth == TV_AUTH_IDENT &&
		   info->roles == TV_ROLE_MODERATOR && strcmp(c->ident.kind, "account") != 0) {
		return -TV_E_FORBIDDEN;
	}
	return 0;
}

void dispatch_message(struct conn *c, const char *buf, size_t len)
{
	struct tv_request req;
	char err[200] = "";
	struct tv_server *srv = c->srv;
	srv->stats.requests++;
	int rc = tv_request_decode(buf, len, &req, err, sizeof err);
	if (rc) {
		dispatch_error(c, req.id, rc, err);
		if (rc == -TV_E_BAD_UTF8)
			conn_close(c, 1007, "invalid UTF-8");
		return;
	}
	struct tv_ctx ctx = { .srv = srv, .conn = c, .req = &req, .raw = buf, .raw_len = len };
	const struct tv_op_info *info = tv_op_info(req.op);
	rc = check(&ctx, info);
	if (rc == 0)
		rc = handlers[req.op](&ctx);
	if (rc < 0 && ctx.pending) {
		/* The handler refused. If this is a repeat of a request that
		 * committed earlier, the first result wins over a refusal based
		 * on how the room has moved on since (a retried note after the
		 * phase changed). Refusals are rare: this is the one read. */
		unsigned char stored_fp[TV_HASH_LEN];
		char *result = NULL;
		int found = store_request_get(srv->store, c->ident.id, req.id, stored_fp, &result);
		if (found == 0) {
			if (memcmp(stored_fp, ctx.pending->fingerprint, TV_HASH_LEN) == 0) {
				dispatch_ok_raw(c, req.id, result, 1);
				rc = TV_ASYNC;
			} else {
				rc = -TV_E_ID_REUSED;
				ctx.err[0] = 0;
			}
		}
		free(result);
		/* Nothing was written: forget the request so a retry runs it.
		 * It was created just now, so this request is its only waiter. */
		map_del(&srv->pending, ctx.pending->key);
		dispatch_pending_free(ctx.pending);
		ctx.pending = NULL;
	}
	if (rc < 0) {
		dispatch_error(c, req.id, rc, ctx.err);
	} else if (rc == 0) {
		if (ctx.result_raw)
			dispatch_ok_raw(c, req.id, ctx.result_raw, 0);
		else
			reply_ok_json(c, req.id, ctx.result);
	}
	if (rc < 0 || rc == 0)
		log_debug("request", "conn=%s op=%s rc=%s", c->key, info->wire,
			  rc ? tv_err_name(rc) : "ok");
	json_decref(ctx.result);
	free(ctx.result_raw);
	tv_request_free(&req);
}

/* ---- running a request again (cluster mode) ------------------------------------------- */

/* Answers every waiter of p the same way and forgets p. */
static void finish_all(struct tv_server *srv, struct pending *p, int status,
		       const char *result, int replayed, const char *msg)
{
	map_del(&srv->pending, p->key);
	for (size_t i = 0; i < p->nwaiters; i++) {
		struct conn *c = conn_by_id(srv, p->waiters[i].conn_id);
		if (!c || c->state == CONN_CLOSING)
			continue;
		if (status)
			dispatch_error(c, p->waiters[i].req_id, status, msg);
		else
			dispatch_ok_raw(c, p->waiters[i].req_id, result, replayed || i > 0);
	}
	dispatch_pending_free(p);
}

/*
 * Another node appended to the room between this request's checks and its
 * append, and this node has now applied that. The request runs again from
 * its text against the room as it is now, exactly as when it arrived
 * (except rate limiting and idempotency, done already): it may now be
 * refused (the phase moved on, the vote budget is spent), or turn out to
 * be a repeat that committed meanwhile elsewhere.
 */
static void rerun(struct tv_server *srv, struct pending *p)
{
	struct conn *c = p->nwaiters ? conn_by_id(srv, p->waiters[0].conn_id) : NULL;
	struct tv_request req;
	char err[200] = "";
	if (!c || c->state == CONN_CLOSING || !p->raw || srv->stopping ||
	    tv_request_decode(p->raw, p->raw_len, &req, err, sizeof err)) {
		finish_all(srv, p, srv->stopping ? -TV_E_SHUTTING_DOWN : -TV_E_OVERLOADED, NULL, 0,
			   NULL);
		return;
	}
	struct tv_ctx ctx = { .srv = srv, .conn = c, .req = &req, .raw = p->raw,
			      .raw_len = p->raw_len };
	const struct tv_op_info *info = tv_op_info(req.op);
	int rc = check_auth(&ctx, info, c->state == CONN_IDENT);
	ctx.pending = p;
	if (rc == 0)
		rc = handlers[req.op](&ctx);
	log_debug("request.rerun", "conn=%s op=%s rc=%s", c->key, info->wire,
		  rc == TV_ASYNC ? "async" : rc ? tv_err_name(rc) : "ok");
	if (rc == TV_ASYNC) {
		/* p goes on with the handler's new write */
	} else if (rc == 0) {
		char *s = ctx.result_raw || !ctx.result ? NULL : json_dumps(ctx.result, JSON_COMPACT);
		finish_all(srv, p, 0, ctx.result_raw ? ctx.result_raw : s ? s : "{}", 0, NULL);
		free(s);
	} else {
		unsigned char stored_fp[TV_HASH_LEN];
		char *result = NULL;
		int found = store_request_get(srv->store, p->identity, p->client_id, stored_fp,
					      &result);
		if (found == 0 && memcmp(stored_fp, p->fingerprint, TV_HASH_LEN) == 0)
			finish_all(srv, p, 0, result, 1, NULL);
		else if (found == 0)
			finish_all(srv, p, -TV_E_ID_REUSED, NULL, 0, NULL);
		else
			finish_all(srv, p, rc, NULL, 0, ctx.err);
		free(result);
	}
	json_decref(ctx.result);
	free(ctx.result_raw);
	tv_request_free(&req);
}
