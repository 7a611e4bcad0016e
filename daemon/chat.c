/*
 * chat.c: chat messages in any room.
 *
 * Responsible for: chat.send, an event of kind chat.message whose data is
 * the text exactly as sent (NUL and every other code point round-trip).
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
	return append_event(ctx, "chat.message", data, NULL);
}
