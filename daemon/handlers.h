/*
 * handlers.h: the domain logic of every op, one function per row of
 * protocol/messages.def. Dispatch has already checked everything shared
 * (state, role, room membership, idempotency); a handler only applies the
 * op's own rules. See dispatch.h for the return convention.
 *
 *   session.c   ping, login, resume, join, leave
 *   room_ops.c  room.create, room.list, history
 *   chat.c      chat.send
 */
#ifndef TV_HANDLERS_H
#define TV_HANDLERS_H

#include "dispatch.h"

int handle_ping(struct tv_ctx *ctx);
int handle_login(struct tv_ctx *ctx);
int handle_resume(struct tv_ctx *ctx);
int handle_join(struct tv_ctx *ctx);
int handle_leave(struct tv_ctx *ctx);
int handle_room_create(struct tv_ctx *ctx);
int handle_room_list(struct tv_ctx *ctx);
int handle_history(struct tv_ctx *ctx);
int handle_chat_send(struct tv_ctx *ctx);

/* Creates a room outside any request (the demo set-up): done receives the
 * new room's join code, or NULL on failure. */
int room_ops_create_internal(struct tv_server *srv, const char *org_id, const char *kind,
                             const char *title,
                             void (*done)(struct tv_server *srv, const char *code));

#endif
