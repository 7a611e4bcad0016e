/*
 * chat.c: chat messages in any room.
 *
 * Responsible for: chat.send, an event of kind chat.message whose data is
 * the text exactly as sent (NUL and every other code point round-trip).
 * Not responsible for: membership, role and idempotency checks (dispatch).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "handlers.h"
#include "room.h"
#include "server.h"

struct chat_job {
	struct room_write rw; /* first */
	struct tv_server *srv;
	struct pending *pending;
	char author[TV_ID_LEN + 1], name[256];
	char *data;
	char result[48];
};

static void chat_stored(struct room_write *rw)
{
	struct chat_job *j = (struct chat_job *)rw;
	dispatch_pending_finish(j->srv, j->pending, rw->w.status, j->result);
	free(j->data);
	free(j);
}

int handle_chat_send(struct tv_ctx *ctx)
{
	size_t len;
	const char *text = tv_req_str(ctx->req, "text", &len);
	struct chat_job *j = calloc(1, sizeof *j);
	json_t *data = json_pack("{s:s%}", "text", text, len);
	if (j && data)
		j->data = json_dumps(data, JSON_COMPACT);
	json_decref(data);
	if (!j || !j->data) {
		free(j);
		return -TV_E_INTERNAL;
	}
	struct conn *c = ctx->conn;
	j->srv = ctx->srv;
	j->pending = ctx->pending;
	snprintf(j->author, sizeof j->author, "%s", c->ident.id);
	snprintf(j->name, sizeof j->name, "%s", c->ident.name);
	snprintf(j->result, sizeof j->result, "{\"seq\":%llu}",
		 (unsigned long long)room_next_seq(ctx->room));
	j->rw.ev.author_id = j->author;
	j->rw.ev.author_name = j->name;
	j->rw.ev.kind = "chat.message";
	j->rw.ev.data_json = j->data;
	j->rw.ev.data_len = strlen(j->data);
	j->rw.w.request.identity_id = pending_identity(j->pending);
	j->rw.w.request.client_id = pending_client_id(j->pending);
	j->rw.w.request.fingerprint = pending_fingerprint(j->pending);
	j->rw.w.request.result = j->result;
	j->rw.w.request.room_id = ctx->room->id;
	j->rw.done = chat_stored;
	room_write_submit(ctx->room, &j->rw);
	return TV_ASYNC;
}
