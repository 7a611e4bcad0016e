/*
 * workshop_ops.c: the rules of a post-it workshop, one handler per op.
 *
 * Responsible for: deciding whether a workshop op is allowed (role, phase,
 * ownership, the board's layout and anonymity, private writing,
 * pre-moderation) and what event it appends. Not responsible for: the
 * checks every op shares (dispatch.c), applying events to state
 * (workshop.c), or who sees which rendering (event.c).
 *
 * Phases: setup -> write -> group -> vote -> discuss -> closed, set by a
 * moderator in any order (going back is allowed). Participants write, edit
 * and delete their notes only in `write`, move and recolour them in
 * `write` and `group`; moderators may act on any note in any phase but
 * `closed`, where the room is read-only until a moderator reopens it.
 *
 * Every event a moderator can undo carries what it replaced ("prev"), so
 * the inverse can be built from the log alone (workshop.c keeps the stack).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "event.h"
#include "handlers.h"
#include "room.h"
#include "server.h"
#include "store.h"
#include "workshop.h"

/* A table stays "stuck" after this long without a note while writing. */
#define STUCK_MS (5 * 60 * 1000)

static struct workshop *ws_of(struct tv_ctx *ctx)
{
	return ctx->room->ws;
}

/* Shared preamble: a workshop room, and not closed unless allowed. */
static int open_workshop(struct tv_ctx *ctx, int allow_closed)
{
	struct workshop *w = ws_of(ctx);
	if (!w)
		return -TV_E_NOT_A_WORKSHOP;
	if (!allow_closed && w->phase == PH_CLOSED) {
		snprintf(ctx->err, sizeof ctx->err, "the workshop is closed");
		return -TV_E_WRONG_PHASE;
	}
	return 0;
}

static int is_mod(const struct tv_ctx *ctx)
{
	return ctx->role == TV_ROLE_MODERATOR;
}

static int phase_error(struct tv_ctx *ctx, const char *what)
{
	snprintf(ctx->err, sizeof ctx->err, "%s is not possible in phase %s", what,
		 workshop_phase_name(ws_of(ctx)->phase));
	return -TV_E_WRONG_PHASE;
}

static const char *req_str(struct tv_ctx *ctx, const char *f)
{
	return tv_req_str(ctx->req, f, NULL);
}

/* ---- tables and seating ---------------------------------------------------------- */

int handle_table_create(struct tv_ctx *ctx)
{
	int rc = open_workshop(ctx, 0);
	if (rc)
		return rc;
	struct workshop *w = ws_of(ctx);
	char id[WS_ID_LEN];
	snprintf(id, sizeof id, "t%u", w->next_table++);
	return append_event(ctx, "table.created",
			    json_pack("{s:s, s:s}", "id", id, "name", req_str(ctx, "name")),
			    json_pack("{s:s}", "table", id));
}

int handle_table_assign(struct tv_ctx *ctx)
{
	int rc = open_workshop(ctx, 0);
	if (rc)
		return rc;
	struct workshop *w = ws_of(ctx);
	struct conn *c = ctx->conn;
	const char *who = req_str(ctx, "identity");
	if (!who)
		who = c->ident.id;
	if (strcmp(who, c->ident.id) != 0) {
		if (!is_mod(ctx))
			return -TV_E_FORBIDDEN; /* only moderators place others */
		unsigned role = room_role_of(ctx->room, who, "guest", "");
		if (!role || role == ROOM_ROLE_REMOVED)
			return -TV_E_NOT_A_MEMBER;
	}
	const char *t = req_str(ctx, "table");
	struct ws_table *table = t ? workshop_table(w, t) : workshop_pick_table(w);
	if (!table)
		return -TV_E_TABLE_NOT_FOUND;
	return append_event(ctx, "table.assigned",
			    json_pack("{s:s, s:s, s:s, s:b}", "identity", who, "table", table->id,
				      "prev", workshop_seat(w, who), "by_moderator", is_mod(ctx)),
			    json_pack("{s:s}", "table", table->id));
}

/* ---- boards --------------------------------------------------------------------------- */

int handle_board_create(struct tv_ctx *ctx)
{
	int rc = open_workshop(ctx, 0);
	if (rc)
		return rc;
	struct workshop *w = ws_of(ctx);
	const char *layout_s = req_str(ctx, "layout");
	int layout = workshop_layout_parse(layout_s);
	if (layout < 0) {
		snprintf(ctx->err, sizeof ctx->err,
			 "field \"layout\" must be columns, matrix or timeline");
		return -TV_E_BAD_REQUEST;
	}
	json_t *columns = tv_req_strings(ctx->req, "columns");
	const char *xa = req_str(ctx, "x_axis"), *ya = req_str(ctx, "y_axis");
	if (layout != LAYOUT_MATRIX && !columns) {
		snprintf(ctx->err, sizeof ctx->err, "field \"columns\" is required for layout %s",
			 layout_s);
		return -TV_E_BAD_REQUEST;
	}
	if (layout == LAYOUT_MATRIX && (!xa || !ya)) {
		snprintf(ctx->err, sizeof ctx->err,
			 "fields \"x_axis\" and \"y_axis\" are required for layout matrix");
		return -TV_E_BAD_REQUEST;
	}
	const char *anon_s = req_str(ctx, "anonymity");
	int anon = anon_s ? event_anonymity_parse(anon_s) : ANON_NAMED;
	if (anon < 0) {
		snprintf(ctx->err, sizeof ctx->err,
			 "field \"anonymity\" must be named, moderators or anonymous");
		return -TV_E_BAD_REQUEST;
	}
	int premod = 0;
	tv_req_bool(ctx->req, "premoderation", &premod);
	char id[WS_ID_LEN];
	snprintf(id, sizeof id, "b%u", w->next_board++);
	json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:b}", "id", id, "title", req_str(ctx, "title"),
			      "layout", workshop_layout_name(layout), "anonymity",
			      event_anonymity_name(anon), "premoderation", premod);
	if (d && layout != LAYOUT_MATRIX)
		json_object_set(d, "columns", columns);
	if (d && layout == LAYOUT_MATRIX) {
		json_object_set_new(d, "x_axis", json_string(xa));
		json_object_set_new(d, "y_axis", json_string(ya));
	}
	return append_event(ctx, "board.created", d, json_pack("{s:s}", "board", id));
}

int handle_board_update(struct tv_ctx *ctx)
{
	int rc = open_workshop(ctx, 0);
	if (rc)
		return rc;
	struct ws_board *b = workshop_board(ws_of(ctx), req_str(ctx, "board"));
	if (!b)
		return -TV_E_BOARD_NOT_FOUND;
	json_t *d = json_pack("{s:s}", "id", b->id), *prev = json_object();
	const char *title = req_str(ctx, "title"), *anon_s = req_str(ctx, "anonymity");
	int premod;
	if (title) {
		json_object_set_new(d, "title", json_string(title));
		json_object_set_new(prev, "title", json_string(b->title));
	}
	if (anon_s) {
		if (event_anonymity_parse(anon_s) < 0) {
			json_decref(d);
			json_decref(prev);
			snprintf(ctx->err, sizeof ctx->err,
				 "field \"anonymity\" must be named, moderators or anonymous");
			return -TV_E_BAD_REQUEST;
		}
		json_object_set_new(d, "anonymity", json_string(anon_s));
		json_object_set_new(prev, "anonymity", json_string(event_anonymity_name(b->anon)));
	}
	if (tv_req_bool(ctx->req, "premoderation", &premod)) {
		json_object_set_new(d, "premoderation", json_boolean(premod));
		json_object_set_new(prev, "premoderation", json_boolean(b->premoderation));
	}
	if (json_object_size(prev) == 0) {
		json_decref(d);
		json_decref(prev);
		snprintf(ctx->err, sizeof ctx->err, "nothing to change");
		return -TV_E_BAD_REQUEST;
	}
	json_object_set_new(d, "prev", prev);
	return append_event(ctx, "board.updated", d, NULL);
}

/* ---- notes ------------------------------------------------------------------------------ */

/* Checks and copies the position fields for board b into d. */
static int position(struct tv_ctx *ctx, const struct ws_board *b, json_t *d, int required)
{
	long long column;
	double x, y;
	int has_col = tv_req_int(ctx->req, "column", &column);
	int has_x = tv_req_number(ctx->req, "x", &x), has_y = tv_req_number(ctx->req, "y", &y);
	if (b->layout == LAYOUT_MATRIX) {
		if (has_x != has_y || (required && !has_x)) {
			snprintf(ctx->err, sizeof ctx->err,
				 "a note on a matrix board needs both \"x\" and \"y\" (0 to 1)");
			return -TV_E_BAD_REQUEST;
		}
		if (has_x) {
			json_object_set_new(d, "x", json_real(x));
			json_object_set_new(d, "y", json_real(y));
		}
		return 0;
	}
	if (!has_col) {
		if (required)
			json_object_set_new(d, "column", json_integer(0));
		return 0;
	}
	if (column >= b->ncolumns) {
		snprintf(ctx->err, sizeof ctx->err, "board %s has columns 0 to %d", b->id,
			 b->ncolumns - 1);
		return -TV_E_BAD_REQUEST;
	}
	json_object_set_new(d, "column", json_integer(column));
	return 0;
}

static int colour(struct tv_ctx *ctx, json_t *d, int required)
{
	const char *c = req_str(ctx, "colour");
	if (!c) {
		if (required)
			json_object_set_new(d, "colour", json_string("yellow"));
		return 0;
	}
	if (!workshop_colour_valid(c)) {
		snprintf(ctx->err, sizeof ctx->err,
			 "field \"colour\" must be yellow, pink, green, blue, orange or purple");
		return -TV_E_BAD_REQUEST;
	}
	json_object_set_new(d, "colour", json_string(c));
	return 0;
}

static int text_ok(struct tv_ctx *ctx, const char *text, size_t len)
{
	long n = tv_utf8_count(text, len);
	if (n > ctx->srv->cfg->note_chars) {
		snprintf(ctx->err, sizeof ctx->err, "a note holds at most %lld characters",
			 ctx->srv->cfg->note_chars);
		return -TV_E_TOO_LONG;
	}
	return 0;
}

int handle_note_add(struct tv_ctx *ctx)
{
	int rc = open_workshop(ctx, 0);
	if (rc)
		return rc;
	struct workshop *w = ws_of(ctx);
	struct conn *c = ctx->conn;
	struct ws_board *b = workshop_board(w, req_str(ctx, "board"));
	if (!b)
		return -TV_E_BOARD_NOT_FOUND;
	if (!is_mod(ctx) && w->phase != PH_WRITE)
		return phase_error(ctx, "writing notes");
	size_t tlen;
	const char *text = tv_req_str(ctx->req, "text", &tlen);
	if ((rc = text_ok(ctx, text, tlen)))
		return rc;
	const char *table = req_str(ctx, "table"), *proxy_for = req_str(ctx, "proxy_for");
	if (!is_mod(ctx)) {
		if (proxy_for)
			return -TV_E_FORBIDDEN; /* proxy entry is a host's job */
		const char *seat = workshop_seat(w, c->ident.id);
		if (table && strcmp(table, seat) != 0)
			return -TV_E_FORBIDDEN;
		if (w->ntables && !seat[0])
			return -TV_E_NO_TABLE;
		table = seat;
	} else if (table && !workshop_table(w, table)) {
		return -TV_E_TABLE_NOT_FOUND;
	}
	char id[WS_ID_LEN];
	snprintf(id, sizeof id, "n%u", w->next_note);
	json_t *d = json_pack("{s:s, s:s, s:s}", "id", id, "board", b->id, "table",
			      table ? table : "");
	if (!d)
		return -TV_E_INTERNAL;
	if ((rc = position(ctx, b, d, 1)) || (rc = colour(ctx, d, 1))) {
		json_decref(d);
		return rc;
	}
	json_object_set_new(d, "text", json_stringn(text, tlen));
	json_object_set_new(d, "anonymity", json_string(event_anonymity_name(b->anon)));
	json_object_set_new(d, "hidden", json_boolean(w->private_writing));
	json_object_set_new(d, "pending", json_boolean(b->premoderation && !is_mod(ctx)));
	if (proxy_for) {
		json_object_set_new(d, "proxy", json_true());
		json_object_set_new(d, "proxy_for", json_string(proxy_for));
	}
	w->next_note++;
	return append_event(ctx, "note.created", d, json_pack("{s:s}", "note", id));
}

/* The note named in the request, if the sender may change it. */
static int own_note(struct tv_ctx *ctx, struct ws_note **out)
{
	struct ws_note *n = workshop_note(ws_of(ctx), req_str(ctx, "note"));
	if (!n || n->deleted)
		return -TV_E_NOTE_NOT_FOUND;
	if (!is_mod(ctx) && strcmp(n->author, ctx->conn->ident.id) != 0)
		return -TV_E_NOT_YOURS;
	if (!is_mod(ctx) && n->pending)
		return -TV_E_NOTE_NOT_FOUND; /* not visible yet, not even to its author's edits */
	*out = n;
	return 0;
}

/* The fields every note event carries so event.c can judge its visibility. */
static json_t *note_header(const struct ws_note *n)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:s}", "id", n->id, "board", n->board,
			 "table", n->table, "anonymity", event_anonymity_name(n->anon), "hidden",
			 n->hidden, "pending", n->pending, "owner", n->author);
}

int handle_note_edit(struct tv_ctx *ctx)
{
	int rc = open_workshop(ctx, 0);
	struct ws_note *n;
	if (rc || (rc = own_note(ctx, &n)))
		return rc;
	struct workshop *w = ws_of(ctx);
	struct ws_board *b = workshop_board(w, n->board);
	size_t tlen = 0;
	const char *text = tv_req_str(ctx->req, "text", &tlen);
	int moves = tv_req_int(ctx->req, "column", &(long long){ 0 }) ||
		    tv_req_number(ctx->req, "x", &(double){ 0 }) ||
		    tv_req_number(ctx->req, "y", &(double){ 0 }) || req_str(ctx, "colour");
	if (!is_mod(ctx)) {
		if (text && w->phase != PH_WRITE)
			return phase_error(ctx, "editing a note's text");
		if (moves && w->phase != PH_WRITE && w->phase != PH_GROUP)
			return phase_error(ctx, "moving notes");
	}
	if (!text && !moves) {
		snprintf(ctx->err, sizeof ctx->err, "nothing to change");
		return -TV_E_BAD_REQUEST;
	}
	if (text && (rc = text_ok(ctx, text, tlen)))
		return rc;
	json_t *d = note_header(n), *prev = json_object();
	if (!b || (rc = position(ctx, b, d, 0)) || (rc = colour(ctx, d, 0))) {
		json_decref(d);
		json_decref(prev);
		return rc ? rc : -TV_E_BOARD_NOT_FOUND;
	}
	if (text) {
		json_object_set_new(d, "text", json_stringn(text, tlen));
		json_object_set_new(prev, "text", json_string(n->text));
	}
	if (json_object_get(d, "column"))
		json_object_set_new(prev, "column", json_integer(n->column));
	if (json_object_get(d, "x")) {
		json_object_set_new(prev, "x", json_real(n->x));
		json_object_set_new(prev, "y", json_real(n->y));
	}
	if (json_object_get(d, "colour"))
		json_object_set_new(prev, "colour", json_string(n->colour));
	json_object_set_new(d, "prev", prev);
	json_object_set_new(d, "by_moderator",
			    json_boolean(is_mod(ctx) && strcmp(n->author, ctx->conn->ident.id)));
	return append_event(ctx, "note.updated", d, NULL);
}

int handle_note_delete(struct tv_ctx *ctx)
{
	int rc = open_workshop(ctx, 0);
	struct ws_note *n;
	if (rc || (rc = own_note(ctx, &n)))
		return rc;
	if (!is_mod(ctx) && ws_of(ctx)->phase != PH_WRITE)
		return phase_error(ctx, "deleting notes");
	json_t *d = note_header(n);
	int by_mod = is_mod(ctx) && strcmp(n->author, ctx->conn->ident.id) != 0;
	json_object_set_new(d, "by_moderator", json_boolean(by_mod));
	return append_event(ctx, "note.deleted", d, NULL);
}

int handle_note_approve(struct tv_ctx *ctx)
{
	int rc = open_workshop(ctx, 0);
	if (rc)
		return rc;
	struct ws_note *n = workshop_note(ws_of(ctx), req_str(ctx, "note"));
	if (!n || n->deleted)
		return -TV_E_NOTE_NOT_FOUND;
	if (!n->pending) {
		snprintf(ctx->err, sizeof ctx->err, "note %s is not waiting for approval", n->id);
		return -TV_E_BAD_REQUEST;
	}
	/* The approval carries the whole note: the table saw nothing of it
	 * while it waited. */
	json_t *d = workshop_note_json(n);
	json_object_set_new(d, "pending", json_false());
	json_object_set_new(d, "owner", json_string(n->author));
	return append_event(ctx, "note.approved", d, NULL);
}

/* ---- phases, writing, timer, focus -------------------------------------------------- */

static void forget_decisions(struct room *r)
{
	if (r->ws)
		workshop_forget_decisions(r->ws);
}

/* Appends a moderator's change of phase or of private writing and makes it
 * the rule at once (struct workshop): a note accepted after this request
 * commits after it, so it must already be judged by it. phase / private
 * < 0: unchanged. */
static int decide(struct tv_ctx *ctx, const char *kind, json_t *data, json_t *result, int phase,
		  int private_writing)
{
	struct append_job *j = append_prepare(ctx, kind, data, result);
	if (!j)
		return -TV_E_INTERNAL;
	j->on_fail = forget_decisions;
	append_submit(ctx, j);
	struct workshop *w = ws_of(ctx);
	if (phase >= 0)
		w->phase = phase;
	if (private_writing >= 0)
		w->private_writing = private_writing;
	return TV_ASYNC;
}

int handle_phase_set(struct tv_ctx *ctx)
{
	int rc = open_workshop(ctx, 1);
	if (rc)
		return rc;
	int p = workshop_phase_parse(req_str(ctx, "phase"));
	if (p < 0) {
		snprintf(ctx->err, sizeof ctx->err,
			 "field \"phase\" must be setup, write, group, vote, discuss or closed");
		return -TV_E_BAD_REQUEST;
	}
	return decide(ctx, "phase.changed",
		      json_pack("{s:s, s:s}", "phase", workshop_phase_name(p), "prev",
				workshop_phase_name(ws_of(ctx)->phase)),
		      NULL, p, -1);
}

int handle_writing_set(struct tv_ctx *ctx)
{
	int rc = open_workshop(ctx, 0), on = 0;
	if (rc)
		return rc;
	tv_req_bool(ctx->req, "private", &on);
	return decide(ctx, "writing.changed",
		      json_pack("{s:b, s:b}", "private", on, "prev", ws_of(ctx)->private_writing),
		      NULL, -1, on);
}

int handle_writing_reveal(struct tv_ctx *ctx)
{
	int rc = open_workshop(ctx, 0);
	if (rc)
		return rc;
	struct workshop *w = ws_of(ctx);
	json_t *notes = json_array();
	for (size_t i = 0; i < w->nnotes; i++) {
		struct ws_note *n = &w->notes[i];
		if (!n->id[0] || n->deleted || !n->hidden || n->pending)
			continue; /* pending notes show when approved */
		json_t *o = workshop_note_json(n);
		json_object_set_new(o, "hidden", json_false());
		json_object_set_new(o, "author", json_string(n->author));
		json_object_set_new(o, "author_name", json_string(n->author_name ? n->author_name : ""));
		json_array_append_new(notes, o);
	}
	size_t count = json_array_size(notes);
	return decide(ctx, "writing.revealed", json_pack("{s:o, s:b}", "notes", notes, "private", 0),
		      json_pack("{s:I}", "revealed", (json_int_t)count), -1, 0);
}

int handle_timer_set(struct tv_ctx *ctx)
{
	int rc = open_workshop(ctx, 0);
	if (rc)
		return rc;
	struct workshop *w = ws_of(ctx);
	const char *action = req_str(ctx, "action");
	long long seconds = 0;
	int64_t now = server_now_ms();
	json_t *d;
	if (strcmp(action, "start") == 0) {
		if (!tv_req_int(ctx->req, "seconds", &seconds)) {
			snprintf(ctx->err, sizeof ctx->err, "field \"seconds\" is required to start");
			return -TV_E_BAD_REQUEST;
		}
		d = json_pack("{s:s, s:I, s:I}", "state", "running", "ends_at",
			      (json_int_t)(now + seconds * 1000), "seconds", (json_int_t)seconds);
	} else if (strcmp(action, "pause") == 0) {
		if (w->timer != TIMER_RUNNING) {
			snprintf(ctx->err, sizeof ctx->err, "the timer is not running");
			return -TV_E_BAD_REQUEST;
		}
		int64_t left = w->timer_ends_ms - now;
		d = json_pack("{s:s, s:I}", "state", "paused", "remaining_ms",
			      (json_int_t)(left > 0 ? left : 0));
	} else if (strcmp(action, "resume") == 0) {
		if (w->timer != TIMER_PAUSED) {
			snprintf(ctx->err, sizeof ctx->err, "the timer is not paused");
			return -TV_E_BAD_REQUEST;
		}
		d = json_pack("{s:s, s:I}", "state", "running", "ends_at",
			      (json_int_t)(now + w->timer_left_ms));
	} else if (strcmp(action, "stop") == 0) {
		d = json_pack("{s:s}", "state", "stopped");
	} else {
		snprintf(ctx->err, sizeof ctx->err,
			 "field \"action\" must be start, pause, resume or stop");
		return -TV_E_BAD_REQUEST;
	}
	return append_event(ctx, "timer.changed", d, NULL);
}

int handle_ready_set(struct tv_ctx *ctx)
{
	int rc = open_workshop(ctx, 0), done = 0;
	if (rc)
		return rc;
	tv_req_bool(ctx->req, "done", &done);
	const char *id = ctx->conn->ident.id;
	return append_event(ctx, "ready.changed",
			    json_pack("{s:s, s:s, s:b}", "identity", id, "table",
				      workshop_seat(ws_of(ctx), id), "done", done),
			    NULL);
}

int handle_view_focus(struct tv_ctx *ctx)
{
	int rc = open_workshop(ctx, 0);
	if (rc)
		return rc;
	struct ws_board *b = workshop_board(ws_of(ctx), req_str(ctx, "board"));
	if (!b)
		return -TV_E_BOARD_NOT_FOUND;
	return append_event(ctx, "view.focused", json_pack("{s:s}", "board", b->id), NULL);
}

/* ---- roles ------------------------------------------------------------------------------- */

static unsigned role_bits(const char *role)
{
	if (strcmp(role, "moderator") == 0)
		return TV_ROLE_MODERATOR;
	if (strcmp(role, "participant") == 0)
		return TV_ROLE_PARTICIPANT;
	if (strcmp(role, "observer") == 0)
		return TV_ROLE_OBSERVER;
	if (strcmp(role, "removed") == 0)
		return ROOM_ROLE_REMOVED;
	return 0;
}

static const char *role_word(unsigned bits)
{
	return bits == ROOM_ROLE_REMOVED ? "removed" : tv_role_name(bits);
}

/* Appends member.role and rewrites the membership in the same commit. */
static int set_role(struct tv_ctx *ctx, const char *who, unsigned bits, unsigned prev,
		    json_int_t undo_of)
{
	json_t *d = json_pack("{s:s, s:s, s:s}", "identity", who, "role", role_word(bits), "prev",
			      role_word(prev));
	if (d && undo_of)
		json_object_set_new(d, "undo_of", json_integer(undo_of));
	struct append_job *j = append_prepare(ctx, "member.role", d,
					      undo_of ? json_pack("{s:I}", "undone", undo_of) : NULL);
	if (!j)
		return -TV_E_INTERNAL;
	snprintf(j->member_id, sizeof j->member_id, "%s", who);
	j->rw.w.member.room_id = ctx->room->id;
	j->rw.w.member.identity_id = j->member_id;
	j->rw.w.member.role = bits;
	j->rw.w.member.replace = 1;
	append_submit(ctx, j);
	return TV_ASYNC;
}

int handle_member_role(struct tv_ctx *ctx)
{
	/* Roles exist in rooms of every kind (PROTOCOL.md 4.24), so no
	 * open_workshop(); but a closed workshop is read-only for everyone,
	 * role changes included (5.2). */
	if (ctx->room->ws && ctx->room->ws->phase == PH_CLOSED) {
		snprintf(ctx->err, sizeof ctx->err, "the workshop is closed");
		return -TV_E_WRONG_PHASE;
	}
	const char *who = req_str(ctx, "identity");
	unsigned bits = role_bits(req_str(ctx, "role"));
	if (!bits) {
		snprintf(ctx->err, sizeof ctx->err,
			 "field \"role\" must be moderator, participant, observer or removed");
		return -TV_E_BAD_REQUEST;
	}
	unsigned prev = 0;
	if (store_member_role(ctx->srv->store, ctx->room->id, who, &prev) || !prev)
		return -TV_E_NOT_A_MEMBER; /* accounts of the organisation have no row */
	return set_role(ctx, who, bits, prev, 0);
}

/* ---- undo ---------------------------------------------------------------------------------- */

static json_t *swap_prev(json_t *data, const char *const *keys, size_t n)
{
	/* {k: new, prev: {k: old}} -> {k: old, prev: {k: new}} for the keys present */
	json_t *out = json_object(), *prev = json_object_get(data, "prev"), *np = json_object();
	for (size_t i = 0; i < n; i++) {
		json_t *old = json_object_get(prev, keys[i]), *cur = json_object_get(data, keys[i]);
		if (!old)
			continue;
		json_object_set(out, keys[i], old);
		if (cur)
			json_object_set(np, keys[i], cur);
	}
	json_object_set_new(out, "prev", np);
	return out;
}

int handle_undo(struct tv_ctx *ctx)
{
	int rc = open_workshop(ctx, 1);
	if (rc)
		return rc;
	struct workshop *w = ws_of(ctx);
	if (w->nundo == 0)
		return -TV_E_NOTHING_TO_UNDO;
	struct ws_undo *u = &w->undo[w->nundo - 1];
	json_t *d = u->data, *out = NULL;
	const char *kind = u->kind;
	json_int_t of = (json_int_t)u->seq;
	if (strcmp(kind, "phase.changed") == 0) {
		out = json_pack("{s:O, s:O}", "phase", json_object_get(d, "prev"), "prev",
				json_object_get(d, "phase"));
	} else if (strcmp(kind, "writing.changed") == 0) {
		out = json_pack("{s:O, s:O}", "private", json_object_get(d, "prev"), "prev",
				json_object_get(d, "private"));
	} else if (strcmp(kind, "board.updated") == 0) {
		static const char *const keys[] = { "title", "anonymity", "premoderation" };
		out = swap_prev(d, keys, 3);
		json_object_set(out, "id", json_object_get(d, "id"));
	} else if (strcmp(kind, "table.assigned") == 0) {
		out = json_pack("{s:O, s:O, s:O, s:b}", "identity", json_object_get(d, "identity"),
				"table", json_object_get(d, "prev"), "prev",
				json_object_get(d, "table"), "by_moderator", 1);
	} else if (strcmp(kind, "note.updated") == 0 || strcmp(kind, "note.deleted") == 0) {
		struct ws_note *n = workshop_note(w, json_string_value(json_object_get(d, "id")));
		if (!n)
			return -TV_E_NOTE_NOT_FOUND;
		if (strcmp(kind, "note.deleted") == 0) {
			kind = "note.restored"; /* with its text, from memory */
			out = workshop_note_json(n);
			json_object_set_new(out, "owner", json_string(n->author));
		} else {
			static const char *const keys[] = { "text", "column", "x", "y", "colour" };
			json_t *sw = swap_prev(d, keys, 5);
			out = note_header(n);
			json_object_update(out, sw);
			json_decref(sw);
			json_object_set_new(out, "by_moderator", json_true());
		}
	} else if (strcmp(kind, "member.role") == 0) {
		const char *who = json_string_value(json_object_get(d, "identity"));
		return set_role(ctx, who, role_bits(json_string_value(json_object_get(d, "prev"))),
				role_bits(json_string_value(json_object_get(d, "role"))), of);
	} else {
		out = synthesis_inverse(w, kind, d, &kind);
	}
	if (!out)
		return -TV_E_INTERNAL;
	json_object_set_new(out, "undo_of", json_integer(of));
	char k[24];
	snprintf(k, sizeof k, "%s", kind); /* u may move when the event applies */
	json_t *res = json_pack("{s:I}", "undone", of);
	if (strcmp(k, "phase.changed") == 0)
		return decide(ctx, k, out, res,
			      workshop_phase_parse(json_string_value(json_object_get(out, "phase"))), -1);
	if (strcmp(k, "writing.changed") == 0)
		return decide(ctx, k, out, res, -1, json_is_true(json_object_get(out, "private")));
	return append_event(ctx, k, out, res);
}

/* ---- status for the moderator ---------------------------------------------------------------- */

int handle_workshop_status(struct tv_ctx *ctx)
{
	struct workshop *w = ws_of(ctx);
	if (!w)
		return -TV_E_NOT_A_WORKSHOP;
	struct room *r = ctx->room;
	int64_t now = server_now_ms();
	json_t *tables = json_array();
	for (size_t i = 0; i < w->ntables; i++) {
		struct ws_table *t = &w->tables[i];
		unsigned present = 0, done = 0, notes = 0;
		for (size_t k = 0; k < w->nnotes; k++)
			notes += !w->notes[k].deleted && w->notes[k].id[0] &&
				 strcmp(w->notes[k].table, t->id) == 0;
		for (size_t s = 0; s < w->seats.cap; s++) {
			struct map_slot *sl = &w->seats.slots[s];
			if (!sl->key || !sl->value || strcmp(sl->value, t->id) != 0 ||
			    !map_get(&w->seats, sl->key))
				continue;
			present += map_get(&r->presence, sl->key) != NULL;
			done += map_get(&w->ready, sl->key) != NULL;
		}
		int64_t idle = t->last_note_ms ? now - t->last_note_ms : -1;
		json_array_append_new(tables,
			json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:I, s:b, s:b}", "id", t->id,
				  "name", t->name, "seated", (int)workshop_seated(w, t->id), "present",
				  (int)present, "writing", (int)(present - done), "done", (int)done,
				  "notes", (int)notes, "idle_ms", (json_int_t)idle, "empty",
				  present == 0, "stuck",
				  w->phase == PH_WRITE && present > 0 &&
				  (idle < 0 || idle > STUCK_MS) && done < present));
	}
	json_t *pending = json_array();
	for (size_t k = 0; k < w->nnotes; k++) {
		struct ws_note *n = &w->notes[k];
		if (!n->id[0] || n->deleted || !n->pending)
			continue;
		json_t *o = workshop_note_json(n);
		if (n->anon != ANON_ANONYMOUS) /* the queue hides anonymous authors too */
			json_object_set_new(o, "author", json_string(n->author));
		json_array_append_new(pending, o);
	}
	ctx->result = json_pack("{s:s, s:b, s:{s:s, s:I, s:I}, s:s, s:o, s:o, s:i}",
		"phase", workshop_phase_name(w->phase), "private", w->private_writing,
		"timer", "state", w->timer == TIMER_RUNNING ? "running"
			 : w->timer == TIMER_PAUSED ? "paused" : "stopped",
		"ends_at", (json_int_t)w->timer_ends_ms, "remaining_ms", (json_int_t)w->timer_left_ms,
		"focus", w->focus, "tables", tables, "pending", pending, "undo", w->nundo);
	return ctx->result ? 0 : -TV_E_INTERNAL;
}
