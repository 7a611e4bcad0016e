/*
 * handlers.h: the domain logic of every op, one function per row of
 * protocol/messages.def. Dispatch has already checked everything shared
 * (state, role, room membership, idempotency); a handler only applies the
 * op's own rules. See dispatch.h for the return convention.
 *
 *   session.c   ping, login, resume, join, leave
 *   room_ops.c  room.create, room.list, history
 *   chat.c      chat.send
 *   workshop_ops.c  tables, boards, notes, phases, writing, timer, readiness,
 *                   roles, undo, status
 *   synthesis_ops.c syntheses, clusters, suggestions, votes, actions,
 *                   versions, exports
 *
 * Handlers that append an event go through append.c.
 */
#ifndef TV_HANDLERS_H
#define TV_HANDLERS_H

#include "crypto.h"
#include "dispatch.h"
#include "room.h"

int handle_ping(struct tv_ctx *ctx);
int handle_login(struct tv_ctx *ctx);
int handle_resume(struct tv_ctx *ctx);
int handle_join(struct tv_ctx *ctx);
int handle_leave(struct tv_ctx *ctx);
int handle_room_create(struct tv_ctx *ctx);
int handle_room_list(struct tv_ctx *ctx);
int handle_history(struct tv_ctx *ctx);
int handle_chat_send(struct tv_ctx *ctx);
int handle_table_create(struct tv_ctx *ctx);
int handle_table_assign(struct tv_ctx *ctx);
int handle_board_create(struct tv_ctx *ctx);
int handle_board_update(struct tv_ctx *ctx);
int handle_note_add(struct tv_ctx *ctx);
int handle_note_edit(struct tv_ctx *ctx);
int handle_note_delete(struct tv_ctx *ctx);
int handle_note_approve(struct tv_ctx *ctx);
int handle_phase_set(struct tv_ctx *ctx);
int handle_writing_set(struct tv_ctx *ctx);
int handle_writing_reveal(struct tv_ctx *ctx);
int handle_timer_set(struct tv_ctx *ctx);
int handle_ready_set(struct tv_ctx *ctx);
int handle_view_focus(struct tv_ctx *ctx);
int handle_member_role(struct tv_ctx *ctx);
int handle_undo(struct tv_ctx *ctx);
int handle_workshop_status(struct tv_ctx *ctx);
/* synthesis_ops.c */
int handle_synthesis_create(struct tv_ctx *ctx);
int handle_cluster_create(struct tv_ctx *ctx);
int handle_cluster_update(struct tv_ctx *ctx);
int handle_cluster_assign(struct tv_ctx *ctx);
int handle_cluster_merge(struct tv_ctx *ctx);
int handle_cluster_split(struct tv_ctx *ctx);
int handle_cluster_delete(struct tv_ctx *ctx);
int handle_note_merge(struct tv_ctx *ctx);
int handle_cluster_suggest(struct tv_ctx *ctx);
int handle_cluster_reject(struct tv_ctx *ctx);
int handle_vote_open(struct tv_ctx *ctx);
int handle_vote_cast(struct tv_ctx *ctx);
int handle_vote_close(struct tv_ctx *ctx);
int handle_synthesis_result(struct tv_ctx *ctx);
int handle_action_create(struct tv_ctx *ctx);
int handle_action_update(struct tv_ctx *ctx);
int handle_action_list(struct tv_ctx *ctx);
int handle_synthesis_publish(struct tv_ctx *ctx);
int handle_synthesis_get(struct tv_ctx *ctx);
int handle_export(struct tv_ctx *ctx);
int handle_export_link(struct tv_ctx *ctx);
int handle_notes_import(struct tv_ctx *ctx);
/* meetings and forums (PROTOCOL.md §9): meeting_ops.c, search.c */
int handle_agenda_add(struct tv_ctx *ctx);
int handle_agenda_edit(struct tv_ctx *ctx);
int handle_agenda_remove(struct tv_ctx *ctx);
int handle_agenda_current(struct tv_ctx *ctx);
int handle_poll_create(struct tv_ctx *ctx);
int handle_poll_answer(struct tv_ctx *ctx);
int handle_poll_close(struct tv_ctx *ctx);
int handle_round_open(struct tv_ctx *ctx);
int handle_round_answer(struct tv_ctx *ctx);
int handle_round_close(struct tv_ctx *ctx);
int handle_hand_raise(struct tv_ctx *ctx);
int handle_hand_lower(struct tv_ctx *ctx);
int handle_queue_next(struct tv_ctx *ctx);
int handle_react(struct tv_ctx *ctx);
int handle_thread_create(struct tv_ctx *ctx);
int handle_post_add(struct tv_ctx *ctx);
int handle_post_edit(struct tv_ctx *ctx);
int handle_post_delete(struct tv_ctx *ctx);
int handle_search(struct tv_ctx *ctx);
int handle_rooms_unread(struct tv_ctx *ctx);
int handle_rooms_seen(struct tv_ctx *ctx);
int handle_meeting_export(struct tv_ctx *ctx);
/* chat.send's reply_to in a meeting or forum: 0 when seq is a chat
 * message of the room, else a negative code with ctx->err set. */
int meeting_chat_reply_check(struct tv_ctx *ctx, long long seq);

/* ---- append.c --------------------------------------------------------------- */
/* A request's event on its way to the room's log. */
struct append_job {
	struct room_write rw; /* first */
	struct tv_server *srv;
	struct pending *pending;
	char kind[32];
	char author[TV_ID_LEN + 1], name[256];
	char member_id[TV_ID_LEN + 1]; /* for handlers that also write a membership */
	char *data, *result;
	char *search; /* the event's text for the full-text index, or NULL */
	/* Called when the write failed or turned out to repeat an earlier
	 * request (nothing committed), before the reply (may be NULL). */
	void (*on_fail)(struct room *r);
};
/* Appends `kind` with data to ctx->room for the request in ctx and replies
 * with result plus "seq" (result NULL: just {"seq":N}) once committed.
 * Takes data and result. Returns TV_ASYNC or a negative code. */
int append_event(struct tv_ctx *ctx, const char *kind, json_t *data, json_t *result);
/* The same in two steps, for handlers that add to the write (rw.w). */
struct append_job *append_prepare(struct tv_ctx *ctx, const char *kind, json_t *data,
                                  json_t *result);
void append_submit(struct tv_ctx *ctx, struct append_job *j);

/* Creates a room outside any request (the demo set-up): done receives the
 * new room's join code, or NULL on failure. */
int room_ops_create_internal(struct tv_server *srv, const char *org_id, const char *kind,
                             const char *title,
                             void (*done)(struct tv_server *srv, const char *code));

#endif
