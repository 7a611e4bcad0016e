/*
 * synthesis_ops.c: the rules of the synthesis, one handler per op
 * (PROTOCOL.md §4.27-4.47).
 *
 * Responsible for: who may group, vote and publish in which scope, the
 * checks on notes, clusters and ballots, and what event each op appends;
 * the cluster suggestions (computed on the thread pool, never on the
 * loop); exports. Not responsible for: applying events (synthesis.c),
 * rendering reports (report.c), the checks every op shares (dispatch.c).
 *
 * Who groups: moderators in every scope and phase but `closed`;
 * participants only in their own table's scope and only in phase `group`.
 * Votes are opened and closed by moderators; anyone in the vote's scope
 * may cast (participants at that table for a table vote) until it closes.
 *
 * Votes in flight: a ballot or a close accepted now commits before any
 * request accepted after it (one writer, FIFO), so the handler keeps the
 * vote's "decided" ballots and "closing" flag ahead of the applied state,
 * as workshop_ops.c does for phases; a failed write drops them and they
 * are rebuilt from the committed ballots.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "conn.h"
#include "event.h"
#include "export.h"
#include "handlers.h"
#include "room.h"
#include "server.h"
#include "synthesis.h"
#include "workshop.h"

static struct workshop *ws_of(struct tv_ctx *ctx)
{
	return ctx->room->ws;
}

static int is_mod(const struct tv_ctx *ctx)
{
	return ctx->role == TV_ROLE_MODERATOR;
}

static const char *req_str(struct tv_ctx *ctx, const char *f)
{
	return tv_req_str(ctx->req, f, NULL);
}

static const char *str0(json_t *d, const char *k)
{
	const char *v = json_string_value(json_object_get(d, k));
	return v ? v : "";
}

static int open_workshop(struct tv_ctx *ctx)
{
	struct workshop *w = ws_of(ctx);
	if (!w)
		return -TV_E_NOT_A_WORKSHOP;
	if (w->phase == PH_CLOSED) {
		snprintf(ctx->err, sizeof ctx->err, "the workshop is closed");
		return -TV_E_WRONG_PHASE;
	}
	return 0;
}

/* May the sender group notes in scope? *table gets the scope's table ("" for
 * a synthesis). */
static int may_group(struct tv_ctx *ctx, const char *scope, const char **table)
{
	struct workshop *w = ws_of(ctx);
	const char *t = synthesis_scope_table(w, scope);
	if (!t)
		return -TV_E_SCOPE_NOT_FOUND;
	if (!is_mod(ctx)) {
		if (!t[0] || strcmp(t, workshop_seat(w, ctx->conn->ident.id)) != 0)
			return -TV_E_FORBIDDEN; /* the plenary is the moderators' */
		if (w->phase != PH_GROUP) {
			snprintf(ctx->err, sizeof ctx->err,
				 "grouping notes is not possible in phase %s",
				 workshop_phase_name(w->phase));
			return -TV_E_WRONG_PHASE;
		}
	}
	*table = t;
	return 0;
}

/* Checks that every note of the list belongs to scope. */
static int notes_in_scope(struct tv_ctx *ctx, const char *scope, json_t *notes)
{
	size_t i;
	json_t *v;
	json_array_foreach(notes, i, v) {
		const char *id = json_string_value(v);
		if (!synthesis_in_scope(ws_of(ctx), scope, id, is_mod(ctx))) {
			snprintf(ctx->err, sizeof ctx->err, "note %.16s is not in scope %.16s", id,
				 scope);
			return -TV_E_NOTE_NOT_FOUND;
		}
	}
	return 0;
}

/* {note: to} and {note: its cluster in scope before} for a list of notes. */
static void moves(struct synthesis *s, const char *scope, json_t *notes, const char *to,
		  json_t *assign, json_t *prev)
{
	size_t i;
	json_t *v;
	json_array_foreach(notes, i, v) {
		const char *id = json_string_value(v);
		json_object_set_new(assign, id, json_string(to));
		json_object_set_new(prev, id, json_string(synthesis_cluster_of(s, scope, id)));
	}
}

/* The live cluster named by field f, for a sender allowed to group in its
 * scope. */
static int cluster_arg(struct tv_ctx *ctx, const char *f, json_t **out, const char **table)
{
	json_t *c = synthesis_cluster(&ws_of(ctx)->syn, req_str(ctx, f));
	if (!c)
		return -TV_E_CLUSTER_NOT_FOUND;
	*out = c;
	return may_group(ctx, str0(c, "scope"), table);
}

/* ---- syntheses and clusters ---------------------------------------------------------- */

int handle_synthesis_create(struct tv_ctx *ctx)
{
	int rc = open_workshop(ctx);
	if (rc)
		return rc;
	struct workshop *w = ws_of(ctx);
	json_t *boards = tv_req_strings(ctx->req, "boards"),
	       *tables = tv_req_strings(ctx->req, "tables");
	size_t i;
	json_t *v;
	json_array_foreach(boards, i, v)
		if (!workshop_board(w, json_string_value(v)))
			return -TV_E_BOARD_NOT_FOUND;
	json_array_foreach(tables, i, v)
		if (!workshop_table(w, json_string_value(v)))
			return -TV_E_TABLE_NOT_FOUND;
	char id[WS_ID_LEN];
	snprintf(id, sizeof id, "s%u", w->syn.next_synthesis++);
	return append_event(ctx, "synthesis.created",
			    json_pack("{s:s, s:s, s:o, s:o}", "id", id, "name", req_str(ctx, "name"),
				      "boards", boards ? json_incref(boards) : json_array(), "tables",
				      tables ? json_incref(tables) : json_array()),
			    json_pack("{s:s}", "synthesis", id));
}

/* cluster.created for cluster.create and cluster.split. */
static int create_cluster(struct tv_ctx *ctx, const char *scope, const char *table,
			  json_t *notes, const char *split_from)
{
	struct workshop *w = ws_of(ctx);
	char id[WS_ID_LEN];
	double order;
	snprintf(id, sizeof id, "c%u", w->syn.next_cluster);
	if (!tv_req_number(ctx->req, "order", &order))
		order = w->syn.next_cluster;
	json_t *assign = json_object(), *prev = json_object();
	moves(&w->syn, scope, notes, id, assign, prev);
	json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:f, s:o, s:o, s:b}", "id", id, "scope", scope,
			      "table", table, "name", req_str(ctx, "name"), "order", order,
			      "assign", assign, "prev", prev, "by_moderator", is_mod(ctx));
	if (!d)
		return -TV_E_INTERNAL;
	if (split_from)
		json_object_set_new(d, "split_from", json_string(split_from));
	w->syn.next_cluster++;
	return append_event(ctx, "cluster.created", d, json_pack("{s:s}", "cluster", id));
}

int handle_cluster_create(struct tv_ctx *ctx)
{
	const char *scope = req_str(ctx, "scope"), *table;
	json_t *notes = tv_req_strings(ctx->req, "notes");
	int rc = open_workshop(ctx);
	if (rc || (rc = may_group(ctx, scope, &table)) || (rc = notes_in_scope(ctx, scope, notes)))
		return rc;
	return create_cluster(ctx, scope, table, notes, NULL);
}

int handle_cluster_split(struct tv_ctx *ctx)
{
	json_t *c, *notes = tv_req_strings(ctx->req, "notes");
	const char *table;
	int rc = open_workshop(ctx);
	if (rc || (rc = cluster_arg(ctx, "cluster", &c, &table)))
		return rc;
	const char *scope = str0(c, "scope"), *cid = str0(c, "id");
	size_t i;
	json_t *v;
	json_array_foreach(notes, i, v)
		if (strcmp(synthesis_cluster_of(&ws_of(ctx)->syn, scope, json_string_value(v)), cid)) {
			snprintf(ctx->err, sizeof ctx->err, "note %.16s is not in cluster %s",
				 json_string_value(v), cid);
			return -TV_E_NOTE_NOT_FOUND;
		}
	return create_cluster(ctx, scope, table, notes, cid);
}

int handle_cluster_update(struct tv_ctx *ctx)
{
	json_t *c;
	const char *table;
	int rc = open_workshop(ctx);
	if (rc || (rc = cluster_arg(ctx, "cluster", &c, &table)))
		return rc;
	json_t *d = json_pack("{s:O, s:O, s:s}", "id", json_object_get(c, "id"), "scope",
			      json_object_get(c, "scope"), "table", table);
	json_t *prev = json_object();
	const char *name = req_str(ctx, "name");
	double order;
	if (name) {
		json_object_set_new(d, "name", json_string(name));
		json_object_set(prev, "name", json_object_get(c, "name"));
	}
	if (tv_req_number(ctx->req, "order", &order)) {
		json_object_set_new(d, "order", json_real(order));
		json_object_set(prev, "order", json_object_get(c, "order"));
	}
	if (!json_object_size(prev)) {
		json_decref(d);
		json_decref(prev);
		snprintf(ctx->err, sizeof ctx->err, "nothing to change");
		return -TV_E_BAD_REQUEST;
	}
	json_object_set_new(d, "prev", prev);
	json_object_set_new(d, "by_moderator", json_boolean(is_mod(ctx)));
	return append_event(ctx, "cluster.updated", d, NULL);
}

int handle_cluster_assign(struct tv_ctx *ctx)
{
	const char *scope = req_str(ctx, "scope"), *cid = req_str(ctx, "cluster"), *table;
	json_t *notes = tv_req_strings(ctx->req, "notes");
	int rc = open_workshop(ctx);
	if (rc || (rc = may_group(ctx, scope, &table)) || (rc = notes_in_scope(ctx, scope, notes)))
		return rc;
	struct synthesis *s = &ws_of(ctx)->syn;
	if (cid) {
		json_t *c = synthesis_cluster(s, cid);
		if (!c || strcmp(str0(c, "scope"), scope) != 0)
			return -TV_E_CLUSTER_NOT_FOUND;
	}
	json_t *assign = json_object(), *prev = json_object();
	moves(s, scope, notes, cid ? cid : "", assign, prev);
	return append_event(ctx, "cluster.assigned",
			    json_pack("{s:s, s:s, s:s, s:o, s:o, s:b}", "scope", scope, "table", table,
				      "cluster", cid ? cid : "", "assign", assign, "prev", prev,
				      "by_moderator", is_mod(ctx)),
			    NULL);
}

/* Every note of cluster cid in from_scope that also belongs to to_scope. */
static json_t *members(struct tv_ctx *ctx, const char *cid, const char *from_scope,
		       const char *to_scope)
{
	struct workshop *w = ws_of(ctx);
	json_t *list = json_array(), *c;
	const char *note;
	json_object_foreach(json_object_get(w->syn.member, from_scope), note, c)
		if (strcmp(json_string_value(c), cid) == 0 &&
		    synthesis_in_scope(w, to_scope, note, 1))
			json_array_append_new(list, json_string(note));
	return list;
}

int handle_cluster_merge(struct tv_ctx *ctx)
{
	json_t *c, *into;
	const char *table, *into_table;
	int rc = open_workshop(ctx);
	if (rc || (rc = cluster_arg(ctx, "cluster", &c, &table)) ||
	    (rc = cluster_arg(ctx, "into", &into, &into_table)))
		return rc;
	const char *scope = str0(c, "scope"), *to = str0(into, "scope");
	if (c == into) {
		snprintf(ctx->err, sizeof ctx->err, "a cluster cannot be merged into itself");
		return -TV_E_BAD_REQUEST;
	}
	int same = strcmp(scope, to) == 0;
	if (!same && !(scope[0] == 't' && to[0] == 's')) {
		snprintf(ctx->err, sizeof ctx->err,
			 "a cluster merges into one of its own scope, or a table's into a synthesis");
		return -TV_E_BAD_REQUEST;
	}
	struct synthesis *s = &ws_of(ctx)->syn;
	json_t *notes = members(ctx, str0(c, "id"), scope, to);
	json_t *assign = json_object(), *prev = json_object();
	moves(s, to, notes, str0(into, "id"), assign, prev);
	json_decref(notes);
	/* A table's cluster carried into the plenary is news for everyone. */
	return append_event(ctx, "cluster.merged",
			    json_pack("{s:O, s:s, s:s, s:O, s:s, s:o, s:o, s:b}", "id",
				      json_object_get(c, "id"), "scope", scope, "table",
				      same ? table : "", "into", json_object_get(into, "id"),
				      "into_scope", to, "assign", assign, "prev", prev,
				      "by_moderator", is_mod(ctx)),
			    NULL);
}

int handle_cluster_delete(struct tv_ctx *ctx)
{
	json_t *c;
	const char *table;
	int rc = open_workshop(ctx);
	if (rc || (rc = cluster_arg(ctx, "cluster", &c, &table)))
		return rc;
	const char *scope = str0(c, "scope");
	json_t *notes = members(ctx, str0(c, "id"), scope, scope);
	json_t *assign = json_object(), *prev = json_object();
	moves(&ws_of(ctx)->syn, scope, notes, "", assign, prev);
	json_decref(notes);
	return append_event(ctx, "cluster.deleted",
			    json_pack("{s:O, s:s, s:s, s:o, s:o, s:b}", "id", json_object_get(c, "id"),
				      "scope", scope, "table", table, "assign", assign, "prev", prev,
				      "by_moderator", is_mod(ctx)),
			    NULL);
}

int handle_note_merge(struct tv_ctx *ctx)
{
	int rc = open_workshop(ctx);
	if (rc)
		return rc;
	struct workshop *w = ws_of(ctx);
	struct ws_note *n = workshop_note(w, req_str(ctx, "note"));
	const char *into = req_str(ctx, "into");
	const char *was = json_string_value(json_object_get(w->syn.dups, n ? n->id : ""));
	if (!n || n->deleted)
		return -TV_E_NOTE_NOT_FOUND;
	if (!into[0]) {
		if (!was) {
			snprintf(ctx->err, sizeof ctx->err, "note %s is not merged", n->id);
			return -TV_E_BAD_REQUEST;
		}
	} else {
		struct ws_note *t = workshop_note(w, into);
		/* Merging into a duplicate merges into what it duplicates. */
		const char *up = t ? json_string_value(json_object_get(w->syn.dups, t->id)) : NULL;
		if (up)
			t = workshop_note(w, up);
		if (!t || t->deleted)
			return -TV_E_NOTE_NOT_FOUND;
		if (t == n) {
			snprintf(ctx->err, sizeof ctx->err, "a note cannot duplicate itself");
			return -TV_E_BAD_REQUEST;
		}
		into = t->id;
	}
	return append_event(ctx, "duplicate.merged",
			    json_pack("{s:s, s:s, s:s}", "note", n->id, "into", into, "prev",
				      was ? was : ""),
			    NULL);
}

int handle_cluster_reject(struct tv_ctx *ctx)
{
	const char *scope = req_str(ctx, "scope"), *table;
	json_t *notes = tv_req_strings(ctx->req, "notes");
	int rc = open_workshop(ctx);
	if (rc || (rc = may_group(ctx, scope, &table)) || (rc = notes_in_scope(ctx, scope, notes)))
		return rc;
	return append_event(ctx, "suggestion.rejected",
			    json_pack("{s:s, s:s, s:O}", "scope", scope, "table", table, "notes", notes),
			    NULL);
}

/* ---- aggregation across rooms ------------------------------------------------------------- */

/* 1 if list is empty or names id. */
static int chosen(json_t *list, const char *id)
{
	size_t i;
	json_t *v;
	if (!json_array_size(list))
		return 1;
	json_array_foreach(list, i, v)
		if (strcmp(json_string_value(v), id) == 0)
			return 1;
	return 0;
}

/*
 * Copies the visible notes of another workshop room (its chosen boards and
 * tables) onto a board of this one, each with its origin, so that one
 * synthesis can span several rooms of a national session. A copy, because
 * rooms are separate logs; the origin keeps the provenance (room, table,
 * question), authors travel only where their note was named, and a note
 * is imported once: asking again pulls in only what was written since.
 * The sender must moderate both rooms. Reading the other room may load it
 * from the store, like a join would.
 */
int handle_notes_import(struct tv_ctx *ctx)
{
	int rc = open_workshop(ctx);
	if (rc)
		return rc;
	struct workshop *w = ws_of(ctx);
	struct ws_board *target = workshop_board(w, req_str(ctx, "board"));
	const char *from = req_str(ctx, "from");
	if (!target)
		return -TV_E_BOARD_NOT_FOUND;
	if (strcmp(from, ctx->room->id) == 0) {
		snprintf(ctx->err, sizeof ctx->err, "a room cannot import its own notes");
		return -TV_E_BAD_REQUEST;
	}
	struct room *src;
	if ((rc = room_get(ctx->srv, from, &src)))
		return rc;
	struct conn_identity *me = &ctx->conn->ident;
	json_t *notes = json_array();
	if (!src->ws) {
		rc = -TV_E_NOT_A_WORKSHOP;
	} else if (room_role_of(src, me->id, me->kind, me->org_id) != TV_ROLE_MODERATOR) {
		snprintf(ctx->err, sizeof ctx->err, "only a moderator of room %s may import its notes",
			 src->id);
		rc = -TV_E_FORBIDDEN;
	}
	json_t *boards = tv_req_strings(ctx->req, "boards"), *tables = tv_req_strings(ctx->req, "tables");
	unsigned next = w->next_note;
	for (size_t i = 0; !rc && i < src->ws->nnotes; i++) {
		struct ws_note *n = &src->ws->notes[i];
		char key[96];
		snprintf(key, sizeof key, "%s/%s", src->id, n->id);
		if (!n->id[0] || n->deleted || n->pending || n->hidden ||
		    !chosen(boards, n->board) || !chosen(tables, n->table) ||
		    map_get(&w->imported, key))
			continue;
		struct ws_board *b = workshop_board(src->ws, n->board);
		struct ws_table *t = workshop_table(src->ws, n->table);
		char id[WS_ID_LEN];
		snprintf(id, sizeof id, "n%u", next++);
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:b, s:b, s:{s:s, s:s, s:s, "
				      "s:s, s:s, s:s}}",
				      "id", id, "board", target->id, "table", "", "text",
				      n->text ? n->text : "", "colour", n->colour, "column", 0,
				      "anonymity", "anonymous", "hidden", 0, "pending", 0, "origin",
				      "room", src->id, "room_title", src->title ? src->title : "",
				      "note", n->id, "table", n->table, "table_name",
				      t && t->name ? t->name : "", "question",
				      b && b->title ? b->title : "");
		/* The author's name travels only with a named note. */
		const char *who = n->proxy ? n->proxy_for : n->anon == ANON_NAMED ? n->author_name : NULL;
		if (o && who && who[0]) {
			json_object_set_new(o, "proxy", json_true());
			json_object_set_new(o, "proxy_for", json_string(who));
		}
		json_array_append_new(notes, o);
	}
	room_release_if_idle(src);
	if (rc) {
		json_decref(notes);
		return rc;
	}
	size_t count = json_array_size(notes);
	w->next_note = next; /* the ids are this write's */
	return append_event(ctx, "notes.imported",
			    json_pack("{s:s, s:s, s:o}", "from", from, "board", target->id, "notes",
				      notes),
			    json_pack("{s:I}", "imported", (json_int_t)count));
}

/* ---- suggestions ----------------------------------------------------------------------- */

/* The inputs are copied so the worker shares nothing with the loop. */
struct suggest_job {
	uv_work_t work;
	struct tv_server *srv;
	struct reply_to rt;
	struct cluster_input *in;
	size_t n;
	struct cluster_link *links;
	size_t nlinks;
	char **strings; /* everything the inputs and links point into */
	size_t nstrings;
	unsigned target_k;
	struct cluster_result *res;
	int status;
};

static char *keep(struct suggest_job *j, const char *s)
{
	char *c = strdup(s);
	if (c)
		j->strings[j->nstrings++] = c;
	return c;
}

static void suggest_work(uv_work_t *wk)
{
	struct suggest_job *j = wk->data;
	struct cluster_options o;
	cluster_options_init(&o);
	o.lexicon = j->srv->lexicon;
	o.concepts = j->srv->concepts;
	o.cannot_link = j->links;
	o.n_cannot_link = j->nlinks;
	if (j->target_k)
		o.target_k = j->target_k;
	j->status = cluster_suggest(j->in, j->n, &o, &j->res);
}

static void suggest_free(struct suggest_job *j)
{
	for (size_t i = 0; i < j->nstrings; i++)
		free(j->strings[i]);
	free(j->strings);
	free(j->in);
	free(j->links);
	cluster_result_free(j->res);
	free(j);
}

static void suggest_after(uv_work_t *wk, int status)
{
	struct suggest_job *j = wk->data;
	if (status || j->status) {
		dispatch_finish(j->srv, &j->rt, status ? -TV_E_INTERNAL : j->status, NULL,
				"no suggestions could be made");
		suggest_free(j);
		return;
	}
	json_t *list = json_array();
	for (size_t c = 0; c < j->res->n_clusters; c++) {
		struct cluster *cl = &j->res->clusters[c];
		json_t *notes = json_array();
		for (size_t k = 0; k < cl->n_notes; k++)
			json_array_append_new(notes, json_string(j->in[cl->notes[k]].id));
		json_array_append_new(list, json_pack("{s:s, s:o, s:f}", "label", cl->label,
						      "notes", notes, "cohesion", cl->cohesion));
	}
	json_t *res = json_pack("{s:o, s:I, s:I}", "suggestions", list, "considered",
				(json_int_t)j->n, "unclustered",
				(json_int_t)j->res->n_unclustered);
	dispatch_finish(j->srv, &j->rt, res ? 0 : -TV_E_INTERNAL, res, NULL);
	json_decref(res);
	suggest_free(j);
}

int handle_cluster_suggest(struct tv_ctx *ctx)
{
	const char *scope = req_str(ctx, "scope"), *table;
	int rc = open_workshop(ctx);
	if (rc || (rc = may_group(ctx, scope, &table)))
		return rc;
	struct workshop *w = ws_of(ctx);
	struct synthesis *s = &w->syn;
	json_t *rejected = json_object_get(s->rejected, scope);
	struct suggest_job *j = calloc(1, sizeof *j);
	if (!j)
		return -TV_E_INTERNAL;
	j->in = calloc(w->nnotes + 1, sizeof *j->in);
	j->links = calloc(json_object_size(rejected) + 1, sizeof *j->links);
	j->strings = calloc(2 * (w->nnotes + json_object_size(rejected)) + 1, sizeof *j->strings);
	if (!j->in || !j->links || !j->strings) {
		suggest_free(j);
		return -TV_E_INTERNAL;
	}
	/* The unclustered notes of the scope; duplicates follow their note. */
	for (size_t i = 0; i < w->nnotes && j->n < CLUSTER_MAX_NOTES; i++) {
		struct ws_note *n = &w->notes[i];
		if (!synthesis_in_scope(w, scope, n->id, is_mod(ctx)) ||
		    synthesis_cluster_of(s, scope, n->id)[0] || json_object_get(s->dups, n->id))
			continue;
		j->in[j->n].id = keep(j, n->id);
		j->in[j->n].text = keep(j, n->text ? n->text : "");
		if (!j->in[j->n].id || !j->in[j->n].text) {
			suggest_free(j);
			return -TV_E_INTERNAL;
		}
		j->n++;
	}
	const char *pair;
	json_t *v;
	json_object_foreach(rejected, pair, v) {
		char *a = keep(j, pair), *bar = a ? strchr(a, '|') : NULL;
		if (!bar)
			continue;
		*bar = 0;
		j->links[j->nlinks].a = a;
		j->links[j->nlinks].b = bar + 1;
		j->nlinks++;
	}
	long long k = 0;
	if (tv_req_int(ctx->req, "clusters", &k))
		j->target_k = (unsigned)k;
	j->srv = ctx->srv;
	reply_to_init(&j->rt, ctx);
	j->work.data = j;
	if (uv_queue_work(ctx->srv->loop, &j->work, suggest_work, suggest_after)) {
		suggest_free(j);
		return -TV_E_INTERNAL;
	}
	return TV_ASYNC;
}

/* ---- voting ------------------------------------------------------------------------------- */

/* The ballots as decided (committed plus accepted in flight). */
static json_t *decided(json_t *vote)
{
	json_t *d = json_object_get(vote, "decided");
	if (!d) {
		d = json_deep_copy(json_object_get(vote, "ballots"));
		json_object_set_new(vote, "decided", d ? d : json_object());
		d = json_object_get(vote, "decided");
	}
	return d;
}

/* A vote write failed: forget what was decided ahead of the log. */
static void forget_votes(struct room *r)
{
	json_t *v;
	const char *id;
	if (!r->ws)
		return;
	json_object_foreach(r->ws->syn.votes, id, v) {
		json_object_del(v, "decided");
		json_object_del(v, "closing");
	}
}

static int vote_arg(struct tv_ctx *ctx, json_t **out)
{
	json_t *v = json_object_get(ws_of(ctx)->syn.votes, req_str(ctx, "vote"));
	if (!v)
		return -TV_E_VOTE_NOT_FOUND;
	if (json_is_true(json_object_get(v, "closed")) || json_is_true(json_object_get(v, "closing")))
		return -TV_E_VOTE_CLOSED;
	*out = v;
	return 0;
}

int handle_vote_open(struct tv_ctx *ctx)
{
	const char *scope = req_str(ctx, "scope"), *on = req_str(ctx, "on");
	int rc = open_workshop(ctx), hidden = 0;
	if (rc)
		return rc;
	struct workshop *w = ws_of(ctx);
	const char *table = synthesis_scope_table(w, scope);
	if (!table)
		return -TV_E_SCOPE_NOT_FOUND;
	if (!on)
		on = "clusters";
	if (strcmp(on, "clusters") != 0 && strcmp(on, "notes") != 0) {
		snprintf(ctx->err, sizeof ctx->err, "field \"on\" must be clusters or notes");
		return -TV_E_BAD_REQUEST;
	}
	json_t *open = synthesis_open_vote(&w->syn, scope);
	if (open && !json_is_true(json_object_get(open, "closing"))) {
		snprintf(ctx->err, sizeof ctx->err, "vote %s is still open in %s", str0(open, "id"),
			 scope);
		return -TV_E_BAD_REQUEST;
	}
	long long budget = 3, max;
	tv_req_int(ctx->req, "budget", &budget);
	if (!tv_req_int(ctx->req, "max_per_item", &max))
		max = budget;
	tv_req_bool(ctx->req, "hidden", &hidden);
	char id[WS_ID_LEN];
	snprintf(id, sizeof id, "v%u", w->syn.next_vote++);
	return append_event(ctx, "vote.opened",
			    json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:b}", "id", id, "scope", scope,
				      "table", table, "on", on, "budget", (json_int_t)budget,
				      "max_per_item", (json_int_t)(max < budget ? max : budget),
				      "hidden", hidden),
			    json_pack("{s:s}", "vote", id));
}

/* 1 if item may get dots in vote v. */
static int votable(struct workshop *w, json_t *v, const char *item)
{
	const char *scope = str0(v, "scope");
	if (strcmp(str0(v, "on"), "notes") == 0)
		return synthesis_in_scope(w, scope, item, 0) && !json_object_get(w->syn.dups, item);
	json_t *c = synthesis_cluster(&w->syn, item);
	return c && strcmp(str0(c, "scope"), scope) == 0;
}

int handle_vote_cast(struct tv_ctx *ctx)
{
	json_t *v;
	int rc = open_workshop(ctx);
	if (rc || (rc = vote_arg(ctx, &v)))
		return rc;
	struct workshop *w = ws_of(ctx);
	const char *me = ctx->conn->ident.id, *table = str0(v, "table");
	if (!is_mod(ctx) && table[0] && strcmp(table, workshop_seat(w, me)) != 0)
		return -TV_E_FORBIDDEN; /* a table's vote is for that table */
	json_t *dots = json_object(), *list = tv_req_strings(ctx->req, "dots"), *item;
	json_int_t budget = json_integer_value(json_object_get(v, "budget")),
		   max = json_integer_value(json_object_get(v, "max_per_item"));
	size_t i;
	json_array_foreach(list, i, item) {
		const char *id = json_string_value(item);
		if (!votable(w, v, id)) {
			json_decref(dots);
			snprintf(ctx->err, sizeof ctx->err, "%.16s is not an item of vote %s", id,
				 str0(v, "id"));
			return strcmp(str0(v, "on"), "notes") == 0 ? -TV_E_NOTE_NOT_FOUND
								   : -TV_E_CLUSTER_NOT_FOUND;
		}
		json_int_t have = json_integer_value(json_object_get(dots, id)) + 1;
		if (have > max || (json_int_t)i + 1 > budget) {
			json_decref(dots);
			snprintf(ctx->err, sizeof ctx->err,
				 "vote %s allows %lld dots, at most %lld per item", str0(v, "id"),
				 (long long)budget, (long long)max);
			return -TV_E_OVER_BUDGET;
		}
		json_object_set_new(dots, id, json_integer(have));
	}
	json_t *ballots = decided(v);
	if (json_object_size(dots))
		json_object_set(ballots, me, dots);
	else
		json_object_del(ballots, me);
	json_t *fake = json_pack("{s:O}", "ballots", ballots);
	json_t *totals = synthesis_vote_totals(fake);
	json_decref(fake);
	json_t *d = json_pack("{s:O, s:O, s:s, s:s, s:O, s:o, s:o, s:i}", "vote",
			      json_object_get(v, "id"), "scope", json_object_get(v, "scope"),
			      "table", table, "owner", me, "hidden", json_object_get(v, "hidden"),
			      "dots", dots, "totals", totals, "voters",
			      (int)json_object_size(ballots));
	struct append_job *j = append_prepare(ctx, "vote.cast", d,
					      json_pack("{s:I}", "dots", (json_int_t)json_array_size(list)));
	if (!j)
		return -TV_E_INTERNAL;
	j->on_fail = forget_votes;
	append_submit(ctx, j);
	return TV_ASYNC;
}

static int by_dots(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_int_t dx = json_integer_value(json_object_get(x, "dots")),
		   dy = json_integer_value(json_object_get(y, "dots"));
	if (dx != dy)
		return dx > dy ? -1 : 1;
	return strcmp(json_string_value(json_object_get(x, "item")),
		      json_string_value(json_object_get(y, "item")));
}

int handle_vote_close(struct tv_ctx *ctx)
{
	json_t *v;
	int rc = open_workshop(ctx);
	if (rc || (rc = vote_arg(ctx, &v)))
		return rc;
	json_t *fake = json_pack("{s:O}", "ballots", decided(v));
	json_t *totals = synthesis_vote_totals(fake);
	json_decref(fake);
	/* The ranked list, ties sharing a rank. */
	size_t n = json_object_size(totals), k = 0;
	json_t **rows = calloc(n + 1, sizeof *rows), *dots;
	const char *item;
	json_object_foreach(totals, item, dots)
		rows[k++] = json_pack("{s:s, s:O}", "item", item, "dots", dots);
	qsort(rows, n, sizeof *rows, by_dots);
	json_t *ranked = json_array();
	for (size_t i = 0, rank = 1; i < n; i++) {
		if (i && json_integer_value(json_object_get(rows[i], "dots")) !=
				 json_integer_value(json_object_get(rows[i - 1], "dots")))
			rank = i + 1;
		json_object_set_new(rows[i], "rank", json_integer((json_int_t)rank));
		json_array_append_new(ranked, rows[i]);
	}
	free(rows);
	json_t *d = json_pack("{s:O, s:O, s:O, s:O, s:o, s:o, s:i}", "id", json_object_get(v, "id"),
			      "scope", json_object_get(v, "scope"), "table",
			      json_object_get(v, "table"), "on", json_object_get(v, "on"), "totals",
			      totals, "results", ranked, "voters",
			      (int)json_object_size(decided(v)));
	struct append_job *j = append_prepare(ctx, "vote.closed", d, NULL);
	if (!j)
		return -TV_E_INTERNAL;
	j->on_fail = forget_votes;
	append_submit(ctx, j);
	json_object_set_new(v, "closing", json_true());
	return TV_ASYNC;
}

/* ---- results, actions, versions --------------------------------------------------------- */

static void viewer_of(struct tv_ctx *ctx, struct synthesis_viewer *v)
{
	v->moderator = is_mod(ctx);
	v->show_open = 0; /* a hidden vote is hidden from everyone until closed */
}

int handle_synthesis_result(struct tv_ctx *ctx)
{
	struct workshop *w = ws_of(ctx);
	if (!w)
		return -TV_E_NOT_A_WORKSHOP;
	const char *scope = req_str(ctx, "scope"), *table = synthesis_scope_table(w, scope);
	if (!table)
		return -TV_E_SCOPE_NOT_FOUND;
	if (ctx->role == TV_ROLE_PARTICIPANT && table[0] &&
	    strcmp(table, workshop_seat(w, ctx->conn->ident.id)) != 0)
		return -TV_E_FORBIDDEN; /* another table's board */
	struct synthesis_viewer v;
	viewer_of(ctx, &v);
	ctx->result = synthesis_result(w, scope, &v);
	return ctx->result ? 0 : -TV_E_INTERNAL;
}

static int date_ok(const char *s)
{
	/* YYYY-MM-DD, or "" to clear */
	if (!s[0])
		return 1;
	int y, m, d;
	char tail;
	return strlen(s) == 10 && sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3 && s[4] == '-' &&
	       s[7] == '-' && m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

static int status_ok(const char *s)
{
	static const char *const ok[] = { "open", "doing", "done", "dropped" };
	for (size_t i = 0; i < 4; i++)
		if (strcmp(s, ok[i]) == 0)
			return 1;
	return 0;
}

static int action_fields(struct tv_ctx *ctx)
{
	const char *due = req_str(ctx, "due"), *status = req_str(ctx, "status");
	if (due && !date_ok(due)) {
		snprintf(ctx->err, sizeof ctx->err, "field \"due\" must be a date YYYY-MM-DD");
		return -TV_E_BAD_REQUEST;
	}
	if (status && !status_ok(status)) {
		snprintf(ctx->err, sizeof ctx->err,
			 "field \"status\" must be open, doing, done or dropped");
		return -TV_E_BAD_REQUEST;
	}
	return 0;
}

int handle_action_create(struct tv_ctx *ctx)
{
	int rc = open_workshop(ctx);
	if (rc || (rc = action_fields(ctx)))
		return rc;
	struct workshop *w = ws_of(ctx);
	json_t *c = synthesis_cluster(&w->syn, req_str(ctx, "cluster"));
	if (!c)
		return -TV_E_CLUSTER_NOT_FOUND;
	const char *owner = req_str(ctx, "owner"), *due = req_str(ctx, "due"),
		   *status = req_str(ctx, "status");
	char id[WS_ID_LEN];
	snprintf(id, sizeof id, "a%u", w->syn.next_action++);
	return append_event(ctx, "action.created",
			    json_pack("{s:s, s:O, s:O, s:s, s:s, s:s, s:s, s:I}", "id", id, "cluster",
				      json_object_get(c, "id"), "cluster_name",
				      json_object_get(c, "name"), "text", req_str(ctx, "text"),
				      "owner", owner ? owner : "", "due", due ? due : "", "status",
				      status ? status : "open", "created_at",
				      (json_int_t)server_now_ms()),
			    json_pack("{s:s}", "action", id));
}

int handle_action_update(struct tv_ctx *ctx)
{
	/* Action items are reviewed at later meetings: open even when closed. */
	struct workshop *w = ws_of(ctx);
	int rc;
	if (!w)
		return -TV_E_NOT_A_WORKSHOP;
	if ((rc = action_fields(ctx)))
		return rc;
	json_t *a = json_object_get(w->syn.actions, req_str(ctx, "action"));
	if (!a)
		return -TV_E_ACTION_NOT_FOUND;
	json_t *d = json_pack("{s:O}", "id", json_object_get(a, "id")), *prev = json_object();
	static const char *const keys[] = { "text", "owner", "due", "status" };
	for (size_t i = 0; i < 4; i++) {
		const char *v = req_str(ctx, keys[i]);
		if (!v)
			continue;
		json_object_set_new(d, keys[i], json_string(v));
		json_object_set(prev, keys[i], json_object_get(a, keys[i]));
	}
	if (!json_object_size(prev)) {
		json_decref(d);
		json_decref(prev);
		snprintf(ctx->err, sizeof ctx->err, "nothing to change");
		return -TV_E_BAD_REQUEST;
	}
	json_object_set_new(d, "prev", prev);
	return append_event(ctx, "action.updated", d, NULL);
}

int handle_action_list(struct tv_ctx *ctx)
{
	struct workshop *w = ws_of(ctx);
	if (!w)
		return -TV_E_NOT_A_WORKSHOP;
	json_t *list = json_array(), *a;
	const char *id;
	json_object_foreach(w->syn.actions, id, a) {
		json_t *o = json_deep_copy(a);
		json_t *c = json_object_get(w->syn.clusters, str0(a, "cluster"));
		if (c)
			json_object_set(o, "cluster_name", json_object_get(c, "name"));
		json_array_append_new(list, o);
	}
	ctx->result = json_pack("{s:o}", "actions", list);
	return ctx->result ? 0 : -TV_E_INTERNAL;
}

int handle_synthesis_publish(struct tv_ctx *ctx)
{
	int rc = open_workshop(ctx);
	if (rc)
		return rc;
	struct workshop *w = ws_of(ctx);
	const char *sid = req_str(ctx, "synthesis");
	json_t *syn = json_object_get(w->syn.syntheses, sid);
	if (!syn)
		return -TV_E_SCOPE_NOT_FOUND;
	/* Versions count per synthesis, including publishes still in flight. */
	json_int_t version = json_integer_value(json_object_get(syn, "decided_version"));
	size_t i;
	json_t *p;
	json_array_foreach(w->syn.published, i, p)
		if (strcmp(str0(p, "synthesis"), sid) == 0 &&
		    json_integer_value(json_object_get(p, "version")) > version)
			version = json_integer_value(json_object_get(p, "version"));
	version++;
	json_object_set_new(syn, "decided_version", json_integer(version));
	/* The published artifact is for everyone: authors only where named. */
	struct synthesis_viewer v = { 0, 0 };
	json_t *snap = synthesis_result(w, sid, &v);
	if (!snap)
		return -TV_E_INTERNAL;
	json_object_set_new(snap, "published_at", json_integer(server_now_ms()));
	json_object_set_new(snap, "version", json_integer(version));
	return append_event(ctx, "synthesis.published",
			    json_pack("{s:s, s:O, s:I, s:o}", "synthesis", sid, "name",
				      json_object_get(syn, "name"), "version", version, "snapshot",
				      snap),
			    json_pack("{s:s, s:I}", "synthesis", sid, "version", version));
}

int handle_synthesis_get(struct tv_ctx *ctx)
{
	struct workshop *w = ws_of(ctx);
	if (!w)
		return -TV_E_NOT_A_WORKSHOP;
	const char *sid = req_str(ctx, "synthesis");
	long long version = 0;
	int want = tv_req_int(ctx->req, "version", &version);
	size_t i;
	json_t *p, *found = NULL, *list = json_array();
	json_array_foreach(w->syn.published, i, p) {
		if (sid && strcmp(str0(p, "synthesis"), sid) != 0)
			continue;
		json_array_append_new(list, json_pack("{s:O, s:O, s:O, s:O}", "synthesis",
						      json_object_get(p, "synthesis"), "name",
						      json_object_get(p, "name"), "version",
						      json_object_get(p, "version"), "seq",
						      json_object_get(p, "seq")));
		if (!want || json_integer_value(json_object_get(p, "version")) == version)
			found = p; /* the latest, or the one asked for */
	}
	if (!sid) {
		ctx->result = json_pack("{s:o}", "versions", list);
		return ctx->result ? 0 : -TV_E_INTERNAL;
	}
	if (!found) {
		json_decref(list);
		if (!json_object_get(w->syn.syntheses, sid))
			return -TV_E_SCOPE_NOT_FOUND;
		snprintf(ctx->err, sizeof ctx->err, "synthesis %.16s has no published version%s", sid,
			 want ? " of that number" : " yet");
		return -TV_E_BAD_REQUEST;
	}
	ctx->result = json_pack("{s:o, s:O}", "versions", list, "snapshot",
				json_object_get(found, "snapshot"));
	return ctx->result ? 0 : -TV_E_INTERNAL;
}

/* ---- exports ----------------------------------------------------------------------------- */

/* The format of an export request, for this room's kind (meetings and
 * forums export as JSON or Markdown). */
static int export_format(struct tv_ctx *ctx, int *fmt)
{
	if (!ws_of(ctx) && !ctx->room->mt)
		return -TV_E_NOT_A_WORKSHOP;
	*fmt = report_format_parse(req_str(ctx, "format"));
	if (*fmt < 0 || (!ws_of(ctx) && *fmt != REPORT_JSON && *fmt != REPORT_MARKDOWN)) {
		snprintf(ctx->err, sizeof ctx->err, ws_of(ctx)
			 ? "field \"format\" must be markdown, csv, json or html"
			 : "field \"format\" must be markdown or json in a meeting or forum");
		return -TV_E_BAD_REQUEST;
	}
	return 0;
}

int handle_export(struct tv_ctx *ctx)
{
	int fmt, rc = export_format(ctx, &fmt);
	if (rc)
		return rc;
	size_t len;
	char *body = export_render(ctx->room, is_mod(ctx), fmt, server_now_ms(), &len);
	if (!body)
		return -TV_E_INTERNAL;
	char name[64];
	snprintf(name, sizeof name, "tavla-%s.%s", ctx->room->id, report_extension(fmt));
	ctx->result = json_pack("{s:s, s:s, s:s, s:s%}", "format", report_format_name(fmt),
				"media_type", report_media_type(fmt), "filename", name, "body", body,
				len);
	free(body);
	return ctx->result ? 0 : -TV_E_INTERNAL;
}

int handle_export_link(struct tv_ctx *ctx)
{
	int fmt, rc = export_format(ctx, &fmt);
	if (rc)
		return rc;
	int64_t expires = server_now_ms() + EXPORT_LINK_TTL_MS;
	char url[512];
	if (export_link(ctx->srv, ctx->room->id, ctx->conn->ident.id, is_mod(ctx), fmt, expires,
			url, sizeof url))
		return -TV_E_INTERNAL;
	ctx->result = json_pack("{s:s, s:I}", "url", url, "expires_at", (json_int_t)expires);
	return ctx->result ? 0 : -TV_E_INTERNAL;
}
