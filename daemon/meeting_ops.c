/*
 * meeting_ops.c: the rules of network meetings and learning forums, one
 * handler per op (PROTOCOL.md §9).
 *
 * Responsible for: deciding whether an agenda, poll, round, hand, queue,
 * reaction, thread or post op is allowed and what event it appends; the
 * unread list and the last-seen mark; the export op. Not responsible for:
 * the checks every op shares (dispatch.c), applying events to state
 * (meeting.c), who sees which rendering (event.c: anonymous poll answers),
 * search (search.c) or the export's shape (meeting_export.c).
 *
 * Every op here works in rooms of kind meeting and forum
 * (`not_a_meeting` elsewhere). Closing a poll or round is a decision taken
 * when the close is accepted (answers after it are refused, although the
 * close has not committed yet), as workshop phases are; a write that
 * fails undoes the decisions (meeting_forget_decisions).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "event.h"
#include "handlers.h"
#include "meeting.h"
#include "meeting_export.h"
#include "room.h"
#include "replica.h"
#include "server.h"
#include "store.h"

static int open_meeting(struct tv_ctx *ctx, struct meeting **out)
{
	*out = ctx->room->mt;
	return *out ? 0 : -TV_E_NOT_A_MEETING;
}

static int is_mod(const struct tv_ctx *ctx)
{
	return ctx->role == TV_ROLE_MODERATOR;
}

static const char *req_str(struct tv_ctx *ctx, const char *f)
{
	return tv_req_str(ctx->req, f, NULL);
}

static const char *me(struct tv_ctx *ctx)
{
	return ctx->conn->ident.id;
}

static int bad(struct tv_ctx *ctx, const char *msg)
{
	snprintf(ctx->err, sizeof ctx->err, "%s", msg);
	return -TV_E_BAD_REQUEST;
}

static void forget_decisions(struct room *r)
{
	if (r->mt)
		meeting_forget_decisions(r->mt);
}

/* append_event, undoing this op's decisions if the write fails. */
static int append_decided(struct tv_ctx *ctx, const char *kind, json_t *data, json_t *result)
{
	struct append_job *j = append_prepare(ctx, kind, data, result);
	if (!j)
		return -TV_E_INTERNAL;
	j->on_fail = forget_decisions;
	append_submit(ctx, j);
	return TV_ASYNC;
}

/* ---- agenda ------------------------------------------------------------------------ */

/* "HH:MM", 00:00 to 23:59. */
static int start_valid(const char *s)
{
	return s && strlen(s) == 5 && s[0] >= '0' && s[0] <= '2' && s[1] >= '0' && s[1] <= '9' &&
	       (s[0] < '2' || s[1] <= '3') && s[2] == ':' && s[3] >= '0' && s[3] <= '5' &&
	       s[4] >= '0' && s[4] <= '9';
}

static int check_item_fields(struct tv_ctx *ctx)
{
	const char *kind = req_str(ctx, "kind"), *start = req_str(ctx, "start");
	if (kind && !meeting_item_kind_valid(kind))
		return bad(ctx, "field \"kind\" must be theme, talk, dialogue, break, lunch or closing");
	if (start && !start_valid(start))
		return bad(ctx, "field \"start\" must be a time HH:MM");
	return 0;
}

int handle_agenda_add(struct tv_ctx *ctx)
{
	struct meeting *m;
	int rc = open_meeting(ctx, &m);
	if (rc || (rc = check_item_fields(ctx)))
		return rc;
	long long minutes = 0;
	tv_req_int(ctx->req, "minutes", &minutes);
	char id[MT_ID_LEN];
	snprintf(id, sizeof id, "a%u", m->next_item++);
	json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", id, "title", req_str(ctx, "title"),
			      "kind", req_str(ctx, "kind"), "start", req_str(ctx, "start"),
			      "minutes", (json_int_t)minutes);
	if (d && req_str(ctx, "presenter"))
		json_object_set_new(d, "presenter", json_string(req_str(ctx, "presenter")));
	return append_event(ctx, "agenda.added", d, json_pack("{s:s}", "item", id));
}

int handle_agenda_edit(struct tv_ctx *ctx)
{
	struct meeting *m;
	int rc = open_meeting(ctx, &m);
	if (rc || (rc = check_item_fields(ctx)))
		return rc;
	struct mt_item *it = meeting_item(m, req_str(ctx, "item"));
	if (!it || it->removed)
		return -TV_E_ITEM_NOT_FOUND;
	json_t *d = json_pack("{s:s}", "id", it->id), *prev = json_object();
	static const char *const fields[] = { "title", "kind", "start", "presenter" };
	for (size_t i = 0; i < 4; i++) {
		const char *v = req_str(ctx, fields[i]);
		if (!v)
			continue;
		const char *old = i == 0 ? it->title : i == 1 ? it->kind : i == 2 ? it->start
			: it->presenter;
		json_object_set_new(d, fields[i], json_string(v));
		json_object_set_new(prev, fields[i], json_string(old ? old : ""));
	}
	long long minutes;
	if (tv_req_int(ctx->req, "minutes", &minutes)) {
		json_object_set_new(d, "minutes", json_integer(minutes));
		json_object_set_new(prev, "minutes", json_integer(it->minutes));
	}
	if (!json_object_size(prev)) {
		json_decref(d);
		json_decref(prev);
		return bad(ctx, "give at least one of title, kind, start, minutes, presenter");
	}
	json_object_set_new(d, "prev", prev);
	return append_event(ctx, "agenda.updated", d, NULL);
}

int handle_agenda_remove(struct tv_ctx *ctx)
{
	struct meeting *m;
	int rc = open_meeting(ctx, &m);
	if (rc)
		return rc;
	struct mt_item *it = meeting_item(m, req_str(ctx, "item"));
	if (!it || it->removed)
		return -TV_E_ITEM_NOT_FOUND;
	return append_event(ctx, "agenda.removed", json_pack("{s:s}", "id", it->id), NULL);
}

int handle_agenda_current(struct tv_ctx *ctx)
{
	struct meeting *m;
	int rc = open_meeting(ctx, &m);
	if (rc)
		return rc;
	const char *id = req_str(ctx, "item");
	if (id[0]) {
		struct mt_item *it = meeting_item(m, id);
		if (!it || it->removed)
			return -TV_E_ITEM_NOT_FOUND;
	}
	return append_event(ctx, "agenda.current",
			    json_pack("{s:s, s:s}", "item", id, "prev", m->current), NULL);
}

/* ---- polls -------------------------------------------------------------------------- */

int handle_poll_create(struct tv_ctx *ctx)
{
	struct meeting *m;
	int rc = open_meeting(ctx, &m);
	if (rc)
		return rc;
	int type = meeting_poll_type_parse(req_str(ctx, "type"));
	if (type < 0)
		return bad(ctx, "field \"type\" must be single, multiple, scale or text");
	json_t *opts = tv_req_strings(ctx->req, "options");
	if ((type == POLL_SINGLE || type == POLL_MULTIPLE) && !opts)
		return bad(ctx, "field \"options\" is required for single and multiple choice");
	if ((type == POLL_SCALE || type == POLL_TEXT) && opts)
		return bad(ctx, "field \"options\" is only for single and multiple choice");
	const char *an = req_str(ctx, "anonymity"), *rs = req_str(ctx, "results");
	if (an && strcmp(an, "named") && strcmp(an, "anonymous"))
		return bad(ctx, "field \"anonymity\" must be named or anonymous");
	if (rs && strcmp(rs, "live") && strcmp(rs, "closed"))
		return bad(ctx, "field \"results\" must be live or closed");
	json_t *options = json_array();
	size_t i;
	json_t *o;
	json_array_foreach(opts, i, o) {
		char oid[24];
		snprintf(oid, sizeof oid, "o%zu", i + 1);
		json_array_append_new(options, json_pack("{s:s, s:O}", "id", oid, "text", o));
	}
	char id[MT_ID_LEN];
	snprintf(id, sizeof id, "p%u", m->next_poll++);
	json_t *d = json_pack("{s:s, s:s, s:s, s:o, s:s, s:s}", "id", id, "question",
			      req_str(ctx, "question"), "type", meeting_poll_type_name(type),
			      "options", options, "anonymity", an ? an : "named", "results",
			      rs ? rs : "live");
	return append_event(ctx, "poll.created", d, json_pack("{s:s}", "poll", id));
}

static int option_index(const struct mt_poll *p, const char *id)
{
	size_t i;
	json_t *o;
	json_array_foreach(p->options, i, o)
		if (strcmp(json_string_value(json_object_get(o, "id")), id) == 0)
			return (int)i;
	return -1;
}

/* The answer of this request in the poll's type, or NULL with ctx->err. */
static json_t *answer_of(struct tv_ctx *ctx, const struct mt_poll *p)
{
	const char *choice = req_str(ctx, "choice");
	json_t *choices = tv_req_strings(ctx->req, "choices");
	long long value;
	size_t tlen;
	const char *text = tv_req_str(ctx->req, "text", &tlen);
	switch (p->type) {
	case POLL_SINGLE:
		if (!choice || option_index(p, choice) < 0) {
			bad(ctx, "field \"choice\" must name one of the poll's options (o1, o2, ...)");
			return NULL;
		}
		return json_string(choice);
	case POLL_MULTIPLE: {
		if (!choices) {
			bad(ctx, "field \"choices\" is required for a multiple choice poll");
			return NULL;
		}
		/* In the options' order, each once, whatever order was sent. */
		char seen[32] = { 0 };
		size_t i, nopt = json_array_size(p->options);
		json_t *c;
		json_array_foreach(choices, i, c) {
			int k = option_index(p, json_string_value(c));
			if (k < 0 || seen[k]) {
				bad(ctx, "field \"choices\" must name distinct options of the poll");
				return NULL;
			}
			seen[k] = 1;
		}
		json_t *a = json_array();
		for (i = 0; i < nopt && i < sizeof seen; i++)
			if (seen[i])
				json_array_append(a, json_object_get(json_array_get(p->options, i), "id"));
		return a;
	}
	case POLL_SCALE:
		if (!tv_req_int(ctx->req, "value", &value)) {
			bad(ctx, "field \"value\" (1 to 5) is required for a scale poll");
			return NULL;
		}
		return json_integer(value);
	default: {
		if (!text) {
			bad(ctx, "field \"text\" is required for a text poll");
			return NULL;
		}
		char *norm = meeting_normalise_answer(text, tlen);
		if (!norm || !norm[0]) {
			free(norm);
			bad(ctx, "field \"text\" holds no answer");
			return NULL;
		}
		json_t *a = json_string(norm);
		free(norm);
		if (!a)
			bad(ctx, "field \"text\" holds no answer");
		return a;
	}
	}
}

int handle_poll_answer(struct tv_ctx *ctx)
{
	struct meeting *m;
	int rc = open_meeting(ctx, &m);
	if (rc)
		return rc;
	struct mt_poll *p = meeting_poll(m, req_str(ctx, "poll"));
	if (!p)
		return -TV_E_POLL_NOT_FOUND;
	if (p->closing)
		return -TV_E_CLOSED;
	json_t *answer = answer_of(ctx, p);
	if (!answer)
		return -TV_E_BAD_REQUEST;
	struct mt_ballot *b = meeting_ballot_add(p, me(ctx), ctx->conn->ident.name);
	if (!b) {
		json_decref(answer);
		return -TV_E_INTERNAL;
	}
	json_t *prev = meeting_ballot_answer(b);
	/* The answer travels without its author's identity: the event's
	 * author is the only link, and event.c keeps it from everyone but the
	 * answerer in an anonymous poll (§9.4). */
	json_t *d = json_pack("{s:s, s:s, s:s, s:O, s:O, s:b}", "poll", p->id, "anonymity",
			      p->anonymous ? "anonymous" : "named", "results",
			      p->live ? "live" : "closed", "answer", answer, "prev",
			      prev ? prev : json_null(), "first", prev == NULL);
	json_decref(b->decided);
	b->decided = answer; /* the decision: a change right after sees it */
	return append_decided(ctx, "poll.answered", d, json_pack("{s:s}", "poll", p->id));
}

int handle_poll_close(struct tv_ctx *ctx)
{
	struct meeting *m;
	int rc = open_meeting(ctx, &m);
	if (rc)
		return rc;
	struct mt_poll *p = meeting_poll(m, req_str(ctx, "poll"));
	if (!p)
		return -TV_E_POLL_NOT_FOUND;
	if (p->closing)
		return -TV_E_CLOSED;
	json_t *results = meeting_poll_results(p);
	if (!results)
		return -TV_E_INTERNAL;
	p->closing = 1;
	return append_decided(ctx, "poll.closed",
			      json_pack("{s:s, s:o}", "poll", p->id, "results", results), NULL);
}

/* ---- rounds ------------------------------------------------------------------------- */

int handle_round_open(struct tv_ctx *ctx)
{
	struct meeting *m;
	int rc = open_meeting(ctx, &m);
	if (rc)
		return rc;
	const char *kind = req_str(ctx, "kind");
	if (strcmp(kind, "checkin") && strcmp(kind, "checkout") && strcmp(kind, "round"))
		return bad(ctx, "field \"kind\" must be checkin, checkout or round");
	char id[MT_ID_LEN];
	snprintf(id, sizeof id, "rd%u", m->next_round++);
	return append_event(ctx, "round.opened",
			    json_pack("{s:s, s:s, s:s}", "id", id, "kind", kind, "prompt",
				      req_str(ctx, "prompt")),
			    json_pack("{s:s}", "round", id));
}

int handle_round_answer(struct tv_ctx *ctx)
{
	struct meeting *m;
	int rc = open_meeting(ctx, &m);
	if (rc)
		return rc;
	struct mt_round *r = meeting_round(m, req_str(ctx, "round"));
	if (!r)
		return -TV_E_ROUND_NOT_FOUND;
	if (r->closing)
		return -TV_E_CLOSED;
	size_t len;
	const char *text = tv_req_str(ctx->req, "text", &len);
	return append_event(ctx, "round.answered",
			    json_pack("{s:s, s:s%}", "round", r->id, "text", text, len), NULL);
}

int handle_round_close(struct tv_ctx *ctx)
{
	struct meeting *m;
	int rc = open_meeting(ctx, &m);
	if (rc)
		return rc;
	struct mt_round *r = meeting_round(m, req_str(ctx, "round"));
	if (!r)
		return -TV_E_ROUND_NOT_FOUND;
	if (r->closing)
		return -TV_E_CLOSED;
	r->closing = 1;
	return append_decided(ctx, "round.closed", json_pack("{s:s}", "round", r->id), NULL);
}

/* ---- hands and the speaker queue ------------------------------------------------------- */

int handle_hand_raise(struct tv_ctx *ctx)
{
	struct meeting *m;
	int rc = open_meeting(ctx, &m);
	if (rc)
		return rc;
	if (meeting_hand_raised(m, me(ctx)))
		return bad(ctx, "your hand is already raised");
	return append_event(ctx, "hand.raised",
			    json_pack("{s:s, s:s}", "identity", me(ctx), "name",
				      ctx->conn->ident.name),
			    NULL);
}

int handle_hand_lower(struct tv_ctx *ctx)
{
	struct meeting *m;
	int rc = open_meeting(ctx, &m);
	if (rc)
		return rc;
	const char *who = req_str(ctx, "identity");
	if (!who)
		who = me(ctx);
	if (strcmp(who, me(ctx)) != 0 && !is_mod(ctx))
		return -TV_E_FORBIDDEN;
	if (!meeting_hand_raised(m, who))
		return bad(ctx, "that hand is not raised");
	return append_event(ctx, "hand.lowered",
			    json_pack("{s:s, s:b}", "identity", who, "by_moderator",
				      strcmp(who, me(ctx)) != 0),
			    NULL);
}

int handle_queue_next(struct tv_ctx *ctx)
{
	struct meeting *m;
	int rc = open_meeting(ctx, &m);
	if (rc)
		return rc;
	/* The first raised hand not already called by a queue.next in flight
	 * (a double click must not call the same person twice). */
	json_t *first = NULL, *h;
	size_t i;
	json_array_foreach(m->hands, i, h) {
		if (!json_object_get(m->called, json_string_value(json_object_get(h, "identity")))) {
			first = h;
			break;
		}
	}
	if (!first)
		return -TV_E_QUEUE_EMPTY;
	const char *who = json_string_value(json_object_get(first, "identity"));
	json_object_set_new(m->called, who, json_true());
	return append_decided(ctx, "speaker.changed",
			      json_pack("{s:s, s:O, s:s}", "identity", who, "name",
					json_object_get(first, "name"), "prev", m->speaker),
			      json_pack("{s:s}", "speaker", who));
}

/* ---- chat replies and reactions --------------------------------------------------------- */

int meeting_chat_reply_check(struct tv_ctx *ctx, long long seq)
{
	struct meeting *m = ctx->room->mt;
	if (!m)
		return 0; /* other rooms keep no chat state: the seq is the client's */
	struct mt_target *t = meeting_target(m, (uint64_t)seq);
	if (!t || strcmp(t->kind, "chat.message") != 0) {
		snprintf(ctx->err, sizeof ctx->err, "field \"reply_to\" must be the seq of a chat message");
		return -TV_E_BAD_REQUEST;
	}
	return 0;
}

int handle_react(struct tv_ctx *ctx)
{
	struct meeting *m;
	int rc = open_meeting(ctx, &m);
	if (rc)
		return rc;
	long long seq = 0;
	int on = 1;
	tv_req_int(ctx->req, "target", &seq);
	tv_req_bool(ctx->req, "on", &on);
	struct mt_target *t = meeting_target(m, (uint64_t)seq);
	struct mt_post *p = t && t->post[0] ? meeting_post(m, t->post) : NULL;
	if (!t || (p && p->deleted)) {
		snprintf(ctx->err, sizeof ctx->err, "no chat message, thread or post has seq %lld",
			 seq);
		return -TV_E_POST_NOT_FOUND;
	}
	const char *emoji = req_str(ctx, "emoji");
	json_t *who = json_object_get(t->reactions, emoji), *v;
	size_t i;
	int mine = 0;
	json_array_foreach(who, i, v)
		mine |= strcmp(json_string_value(v), me(ctx)) == 0;
	if (mine == on)
		return bad(ctx, on ? "you already reacted with this" : "you have not reacted with this");
	return append_event(ctx, "reaction.changed",
			    json_pack("{s:I, s:s, s:b}", "target", (json_int_t)seq, "emoji", emoji,
				      "on", on),
			    NULL);
}

/* ---- threads and posts --------------------------------------------------------------- */

/* [{"id","name"}] for the request's mentions, or NULL with an error. */
static int mentions_of(struct tv_ctx *ctx, struct meeting *m, json_t **out)
{
	json_t *ids = tv_req_strings(ctx->req, "mentions"), *v;
	size_t i;
	*out = json_array();
	if (!*out)
		return -TV_E_INTERNAL;
	json_array_foreach(ids, i, v) {
		const char *name = meeting_name(m, json_string_value(v));
		if (!name) {
			json_decref(*out);
			*out = NULL;
			snprintf(ctx->err, sizeof ctx->err, "mentioned %s is not a member of this room",
				 json_string_value(v));
			return -TV_E_NOT_A_MEMBER;
		}
		json_array_append_new(*out, json_pack("{s:O, s:s}", "id", v, "name", name));
	}
	return 0;
}

int handle_thread_create(struct tv_ctx *ctx)
{
	struct meeting *m;
	json_t *mentions;
	int rc = open_meeting(ctx, &m);
	if (rc || (rc = mentions_of(ctx, m, &mentions)))
		return rc;
	size_t len;
	const char *text = tv_req_str(ctx->req, "text", &len);
	char id[MT_ID_LEN];
	snprintf(id, sizeof id, "th%u", m->next_thread++);
	json_t *d = json_pack("{s:s, s:s, s:s%, s:o}", "id", id, "title", req_str(ctx, "title"),
			      "text", text, len, "mentions", mentions);
	return append_event(ctx, "thread.created", d, json_pack("{s:s}", "thread", id));
}

int handle_post_add(struct tv_ctx *ctx)
{
	struct meeting *m;
	json_t *mentions;
	int rc = open_meeting(ctx, &m);
	if (rc)
		return rc;
	struct mt_post *t = meeting_post(m, req_str(ctx, "thread"));
	if (!t || t->thread[0] || t->deleted)
		return -TV_E_POST_NOT_FOUND;
	const char *reply = req_str(ctx, "reply_to");
	if (reply) {
		struct mt_post *r = meeting_post(m, reply);
		if (!r || (r != t && strcmp(r->thread, t->id) != 0)) {
			snprintf(ctx->err, sizeof ctx->err,
				 "field \"reply_to\" must be the thread or one of its posts");
			return -TV_E_POST_NOT_FOUND;
		}
	}
	if ((rc = mentions_of(ctx, m, &mentions)))
		return rc;
	size_t len;
	const char *text = tv_req_str(ctx->req, "text", &len);
	char id[MT_ID_LEN];
	snprintf(id, sizeof id, "m%u", m->next_post++);
	json_t *d = json_pack("{s:s, s:s, s:s%, s:o}", "id", id, "thread", t->id, "text", text,
			      len, "mentions", mentions);
	if (d && reply)
		json_object_set_new(d, "reply_to", json_string(reply));
	return append_event(ctx, "post.created", d, json_pack("{s:s}", "post", id));
}

/* The post the request names, if this sender may change it. */
static int own_post(struct tv_ctx *ctx, struct meeting *m, struct mt_post **out)
{
	struct mt_post *p = meeting_post(m, req_str(ctx, "post"));
	struct mt_post *t = p && p->thread[0] ? meeting_post(m, p->thread) : NULL;
	if (!p || p->deleted || (t && t->deleted))
		return -TV_E_POST_NOT_FOUND;
	if (!is_mod(ctx) && strcmp(p->author, me(ctx)) != 0) {
		snprintf(ctx->err, sizeof ctx->err,
			 "only the post's author or a moderator may do this");
		return -TV_E_NOT_YOURS;
	}
	*out = p;
	return 0;
}

int handle_post_edit(struct tv_ctx *ctx)
{
	struct meeting *m;
	struct mt_post *p;
	int rc = open_meeting(ctx, &m);
	if (rc || (rc = own_post(ctx, m, &p)))
		return rc;
	size_t len;
	const char *text = tv_req_str(ctx->req, "text", &len);
	const char *title = req_str(ctx, "title");
	if (title && !p->title)
		return bad(ctx, "field \"title\" is only for a thread");
	if (!text && !title)
		return bad(ctx, "give text or title");
	json_t *d = json_pack("{s:s, s:s}", "id", p->id, "thread", p->thread[0] ? p->thread : p->id);
	json_t *prev = json_object();
	if (text) {
		json_object_set_new(d, "text", json_stringn(text, len));
		json_object_set_new(prev, "text", json_string(p->text ? p->text : ""));
	}
	if (title) {
		json_object_set_new(d, "title", json_string(title));
		json_object_set_new(prev, "title", json_string(p->title));
	}
	json_object_set_new(d, "prev", prev);
	json_object_set_new(d, "by_moderator", json_boolean(strcmp(p->author, me(ctx)) != 0));
	return append_event(ctx, "post.edited", d, NULL);
}

int handle_post_delete(struct tv_ctx *ctx)
{
	struct meeting *m;
	struct mt_post *p;
	int rc = open_meeting(ctx, &m);
	if (rc || (rc = own_post(ctx, m, &p)))
		return rc;
	return append_event(ctx, "post.deleted",
			    json_pack("{s:s, s:s, s:b}", "id", p->id, "thread",
				      p->thread[0] ? p->thread : p->id, "by_moderator",
				      strcmp(p->author, me(ctx)) != 0),
			    NULL);
}

/* ---- across rooms --------------------------------------------------------------------- */

static void unread_one(void *arg, const struct store_unread *u)
{
	json_array_append_new(arg, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "id",
					     u->room->id, "code", u->room->code, "kind",
					     u->room->kind, "title", u->room->title, "head",
					     (json_int_t)u->room->head, "seen",
					     (json_int_t)u->seen, "unread",
					     (json_int_t)u->unread));
}

int handle_rooms_unread(struct tv_ctx *ctx)
{
	struct conn *c = ctx->conn;
	json_t *rooms = json_array();
	if (!rooms)
		return -TV_E_INTERNAL;
	int account = strcmp(c->ident.kind, "account") == 0;
	int rc = store_unread(ctx->srv->store, account ? c->ident.org_id : NULL, c->ident.id,
			      unread_one, rooms);
	if (rc) {
		json_decref(rooms);
		return rc;
	}
	ctx->result = json_pack("{s:o}", "rooms", rooms);
	return ctx->result ? 0 : -TV_E_INTERNAL;
}

struct seen_job {
	struct store_write w; /* first */
	struct tv_server *srv;
	struct reply_to rt;
	char identity[TV_ID_LEN + 1], room[TV_ID_LEN + 1];
	uint64_t seq;
};

static void seen_done(struct store_write *w)
{
	struct seen_job *j = (struct seen_job *)w;
	json_t *result = w->status ? NULL : json_pack("{s:I}", "seen", (json_int_t)j->seq);
	dispatch_finish(j->srv, &j->rt, w->status, result, NULL);
	json_decref(result);
	store_write_release(w);
	free(j);
}

int handle_rooms_seen(struct tv_ctx *ctx)
{
	long long seq = 0;
	tv_req_int(ctx->req, "seq", &seq);
	if ((uint64_t)seq > ctx->room->head)
		return bad(ctx, "field \"seq\" is ahead of the room's head");
	struct seen_job *j = calloc(1, sizeof *j);
	if (!j)
		return -TV_E_INTERNAL;
	j->srv = ctx->srv;
	reply_to_init(&j->rt, ctx);
	snprintf(j->identity, sizeof j->identity, "%s", me(ctx));
	snprintf(j->room, sizeof j->room, "%s", ctx->room->id);
	j->seq = (uint64_t)seq;
	j->w.seen.identity_id = j->identity;
	j->w.seen.room_id = j->room;
	j->w.seen.seq = j->seq;
	j->w.now_ms = server_now_ms();
	j->w.done = seen_done;
	replica_submit(ctx->srv, &j->w);
	return TV_ASYNC;
}

int handle_meeting_export(struct tv_ctx *ctx)
{
	struct meeting *m;
	int rc = open_meeting(ctx, &m);
	if (rc)
		return rc;
	const char *format = req_str(ctx, "format");
	if (!format || strcmp(format, "json") == 0) {
		json_t *x = meeting_export_json(m);
		ctx->result = x ? json_pack("{s:s, s:o}", "format", "json", "export", x) : NULL;
	} else if (strcmp(format, "markdown") == 0) {
		size_t len;
		char *md = meeting_export_markdown(m, &len);
		ctx->result = md ? json_pack("{s:s, s:s%}", "format", "markdown", "markdown", md, len)
				 : NULL;
		free(md);
	} else {
		return bad(ctx, "field \"format\" must be json or markdown");
	}
	return ctx->result ? 0 : -TV_E_INTERNAL;
}
