/*
 * append.c: the one way a request appends an event to its room.
 * (The reply is the handler's result plus "seq":N, composed by the
 * store's writer, which assigns the seq.)
 *
 * Responsible for: building the room write for a request (event, author,
 * the idempotency record with the result every repeat will get) and
 * replying to every waiter once it committed or failed. Not responsible for
 * the op's rules: handlers decide what to append, this file how.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "handlers.h"
#include "room.h"
#include "search.h"
#include "server.h"

static void append_done(struct room_write *rw)
{
	struct append_job *j = (struct append_job *)rw;
	/* A repeat of an earlier request commits nothing either: decisions
	 * the handler took for it must go as for a failed write. */
	if ((rw->w.status || rw->w.duplicate) && j->on_fail)
		j->on_fail(rw->room);
	dispatch_pending_finish(j->srv, j->pending, &rw->w);
	free(j->data);
	free(j->result);
	free(j->search);
	free(j);
}

struct append_job *append_prepare(struct tv_ctx *ctx, const char *kind, json_t *data,
				  json_t *result)
{
	struct append_job *j = calloc(1, sizeof *j);
	json_t *res = result ? result : json_object();
	if (j && res) {
		/* Searchable kinds (search.h) are indexed in the event's own
		 * transaction. */
		j->search = data ? search_text_of(kind, data) : NULL;
		j->data = data ? json_dumps(data, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		j->result = json_dumps(res, JSON_COMPACT | JSON_PRESERVE_ORDER);
	}
	json_decref(data);
	json_decref(res);
	if (!j || !j->data || !j->result) {
		if (j) {
			free(j->data);
			free(j->result);
			free(j->search);
		}
		free(j);
		return NULL;
	}
	struct conn *c = ctx->conn;
	j->srv = ctx->srv;
	j->pending = ctx->pending;
	snprintf(j->kind, sizeof j->kind, "%s", kind);
	snprintf(j->author, sizeof j->author, "%s", c->ident.id);
	snprintf(j->name, sizeof j->name, "%s", c->ident.name);
	j->rw.ev.author_id = j->author;
	j->rw.ev.author_name = j->name;
	j->rw.ev.kind = j->kind;
	j->rw.ev.data_json = j->data;
	j->rw.ev.data_len = strlen(j->data);
	j->rw.w.search_text = j->search;
	j->rw.w.request.identity_id = pending_identity(ctx->pending);
	j->rw.w.request.client_id = pending_client_id(ctx->pending);
	j->rw.w.request.fingerprint = pending_fingerprint(ctx->pending);
	j->rw.w.request.result = j->result;
	j->rw.w.request.add_seq = 1; /* replies carry the event's seq */
	j->rw.w.request.room_id = ctx->room->id;
	j->rw.done = append_done;
	return j;
}

void append_submit(struct tv_ctx *ctx, struct append_job *j)
{
	room_write_submit(ctx->room, &j->rw);
}

int append_event(struct tv_ctx *ctx, const char *kind, json_t *data, json_t *result)
{
	struct append_job *j = append_prepare(ctx, kind, data, result);
	if (!j)
		return -TV_E_INTERNAL;
	append_submit(ctx, j);
	return TV_ASYNC;
}
