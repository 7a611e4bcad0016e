/*
 * chat.c: chat messages in any room.
 *
 * Responsible for: chat.send, an event of kind chat.message whose data is
 * the text exactly as sent (NUL and every other code point round-trip),
 * and the seq of the message it replies to (meetings and forums, §9).
 * Not responsible for: membership, role and idempotency checks (dispatch).
 */
#include "handlers.h"

int handle_chat_send(struct tv_ctx *ctx)
{
	size_t len;
	const char *text = tv_req_str(ctx->req, "text", &len);
	json_t *data = json_pack("{s:s%}", "text", text, len);
	if (!data)
		return -TV_E_INTERNAL;
	long long reply_to;
	if (tv_req_int(ctx->req, "reply_to", &reply_to)) {
		int rc = meeting_chat_reply_check(ctx, reply_to);
		if (rc) {
			json_decref(data);
			return rc;
		}
		json_object_set_new(data, "reply_to", json_integer(reply_to));
	}
	return append_event(ctx, "chat.message", data, NULL);
}
