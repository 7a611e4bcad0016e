/*
 * synthesis.c: applying synthesis events and answering questions about
 * the result (see synthesis.h). Bookkeeping only: the rules are in
 * synthesis_ops.c, so a replay never re-judges what was accepted.
 */
#include "synthesis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "tv_protocol.h"
#include "workshop.h"

static const char *str(json_t *d, const char *k)
{
	return json_string_value(json_object_get(d, k));
}

static const char *str0(json_t *d, const char *k)
{
	const char *v = str(d, k);
	return v ? v : "";
}

/* "c12" -> 12: ids are numbered in creation order. */
static unsigned long id_no(const char *id)
{
	return id && id[0] ? strtoul(id + 1, NULL, 10) : 0;
}

static void bump(unsigned *next, const char *id)
{
	unsigned long n = id_no(id);
	if (*next <= n)
		*next = (unsigned)n + 1;
}

int synthesis_init(struct synthesis *s)
{
	memset(s, 0, sizeof *s);
	s->clusters = json_object();
	s->member = json_object();
	s->dups = json_object();
	s->rejected = json_object();
	s->votes = json_object();
	s->syntheses = json_object();
	s->actions = json_object();
	s->published = json_array();
	s->next_cluster = s->next_vote = s->next_synthesis = s->next_action = 1;
	return s->clusters && s->member && s->dups && s->rejected && s->votes && s->syntheses &&
	       s->actions && s->published ? 0 : -TV_E_INTERNAL;
}

void synthesis_clear(struct synthesis *s)
{
	json_decref(s->clusters);
	json_decref(s->member);
	json_decref(s->dups);
	json_decref(s->rejected);
	json_decref(s->votes);
	json_decref(s->syntheses);
	json_decref(s->actions);
	json_decref(s->published);
	memset(s, 0, sizeof *s);
}

/* The object under key in parent, created when missing (borrowed). */
static json_t *child(json_t *parent, const char *key)
{
	json_t *o = json_object_get(parent, key);
	if (!o) {
		o = json_object();
		if (json_object_set_new(parent, key, o))
			return NULL;
	}
	return o;
}

/* Applies {note: cluster | ""} to the membership of scope. */
static int assign(struct synthesis *s, const char *scope, json_t *map)
{
	json_t *m = child(s->member, scope), *c;
	const char *note;
	if (!m)
		return -TV_E_INTERNAL;
	json_object_foreach(map, note, c) {
		const char *cid = json_string_value(c);
		if (!cid || !cid[0])
			json_object_del(m, note);
		else if (json_object_set(m, note, c))
			return -TV_E_INTERNAL;
	}
	return 0;
}

/* Copies the listed keys of src into dst. */
static void take(json_t *dst, json_t *src, const char *const *keys, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_object_get(src, keys[i]);
		if (v)
			json_object_set(dst, keys[i], v);
	}
}

static int apply_cluster(struct synthesis *s, const char *k, json_t *d, int *undoable)
{
	const char *id = str0(d, "id"), *scope = str0(d, "scope");
	json_t *c = json_object_get(s->clusters, id);
	int by_mod = json_is_true(json_object_get(d, "by_moderator"));
	if (strcmp(k, "cluster.assigned") == 0) {
		*undoable = by_mod;
		return assign(s, scope, json_object_get(d, "assign"));
	}
	if (strcmp(k, "cluster.created") == 0) {
		c = json_pack("{s:s, s:s, s:s, s:s, s:f, s:s, s:b, s:b}", "id", id, "scope", scope,
			      "table", str0(d, "table"), "name", str0(d, "name"), "order",
			      json_number_value(json_object_get(d, "order")), "into", "", "merged", 0,
			      "deleted", 0);
		if (!c || json_object_set_new(s->clusters, id, c))
			return -TV_E_INTERNAL;
		bump(&s->next_cluster, id);
		*undoable = by_mod;
		return assign(s, scope, json_object_get(d, "assign"));
	}
	if (!c)
		return 0;
	if (strcmp(k, "cluster.updated") == 0) {
		static const char *const keys[] = { "name", "order" };
		take(c, d, keys, 2);
		*undoable = by_mod;
		return 0;
	}
	if (strcmp(k, "cluster.merged") == 0) {
		json_object_set_new(c, "into", json_string(str0(d, "into")));
		json_object_set_new(c, "merged",
				    json_boolean(strcmp(str0(d, "into_scope"), str0(c, "scope")) == 0));
		*undoable = by_mod;
		return assign(s, str0(d, "into_scope"), json_object_get(d, "assign"));
	}
	if (strcmp(k, "cluster.deleted") == 0) {
		json_object_set_new(c, "deleted", json_true());
		*undoable = by_mod;
		return assign(s, scope, json_object_get(d, "assign"));
	}
	if (strcmp(k, "cluster.restored") == 0) {
		json_object_set_new(c, "deleted", json_false());
		json_object_set_new(c, "merged", json_false());
		json_object_set_new(c, "into", json_string(""));
		return assign(s, json_object_get(d, "into_scope") ? str0(d, "into_scope") : scope,
			      json_object_get(d, "assign"));
	}
	return 0;
}

static int apply_vote(struct synthesis *s, const char *k, json_t *d)
{
	if (strcmp(k, "vote.opened") == 0) {
		json_t *v = json_deep_copy(d);
		if (!v)
			return -TV_E_INTERNAL;
		json_object_set_new(v, "closed", json_false());
		json_object_set_new(v, "ballots", json_object());
		bump(&s->next_vote, str0(d, "id"));
		return json_object_set_new(s->votes, str0(d, "id"), v) ? -TV_E_INTERNAL : 0;
	}
	json_t *v = json_object_get(s->votes, strcmp(k, "vote.cast") == 0 ? str0(d, "vote")
									   : str0(d, "id"));
	if (!v)
		return 0;
	if (strcmp(k, "vote.cast") == 0) {
		json_t *ballots = child(v, "ballots"), *dots = json_object_get(d, "dots");
		if (!ballots)
			return -TV_E_INTERNAL;
		if (json_object_size(dots) == 0)
			json_object_del(ballots, str0(d, "voter"));
		else
			json_object_set(ballots, str0(d, "voter"), dots);
	} else if (strcmp(k, "vote.closed") == 0) {
		json_object_set_new(v, "closed", json_true());
		json_object_set(v, "results", json_object_get(d, "totals"));
	}
	return 0;
}

int synthesis_apply(struct workshop *w, const struct tv_event *e, json_t *d, int *undoable)
{
	struct synthesis *s = &w->syn;
	const char *k = e->kind;
	*undoable = 0;
	if (strncmp(k, "cluster.", 8) == 0)
		return apply_cluster(s, k, d, undoable) < 0 ? -TV_E_INTERNAL : 1;
	if (strncmp(k, "vote.", 5) == 0)
		return apply_vote(s, k, d) < 0 ? -TV_E_INTERNAL : 1;
	if (strcmp(k, "duplicate.merged") == 0) {
		const char *note = str0(d, "note"), *into = str0(d, "into");
		if (into[0])
			json_object_set_new(s->dups, note, json_string(into));
		else
			json_object_del(s->dups, note);
		*undoable = 1;
		return 1;
	}
	if (strcmp(k, "suggestion.rejected") == 0) {
		json_t *r = child(s->rejected, str0(d, "scope")), *notes = json_object_get(d, "notes");
		if (!r)
			return -TV_E_INTERNAL;
		for (size_t i = 0; i < json_array_size(notes); i++)
			for (size_t j = i + 1; j < json_array_size(notes); j++) {
				const char *a = json_string_value(json_array_get(notes, i)),
					   *b = json_string_value(json_array_get(notes, j));
				if (!a || !b)
					continue;
				char key[2 * 16 + 2];
				int swap = id_no(a) > id_no(b);
				snprintf(key, sizeof key, "%s|%s", swap ? b : a, swap ? a : b);
				json_object_set_new(r, key, json_true());
			}
		return 1;
	}
	if (strcmp(k, "synthesis.created") == 0) {
		bump(&s->next_synthesis, str0(d, "id"));
		return json_object_set(s->syntheses, str0(d, "id"), d) ? -TV_E_INTERNAL : 1;
	}
	if (strcmp(k, "synthesis.published") == 0) {
		json_t *p = json_pack("{s:s, s:s, s:O, s:I, s:O}", "synthesis", str0(d, "synthesis"),
				      "name", str0(d, "name"), "version",
				      json_object_get(d, "version"), "seq", (json_int_t)e->seq,
				      "snapshot", json_object_get(d, "snapshot"));
		return !p || json_array_append_new(s->published, p) ? -TV_E_INTERNAL : 1;
	}
	if (strcmp(k, "action.created") == 0) {
		bump(&s->next_action, str0(d, "id"));
		json_t *a = json_deep_copy(d);
		return !a || json_object_set_new(s->actions, str0(d, "id"), a) ? -TV_E_INTERNAL : 1;
	}
	if (strcmp(k, "action.updated") == 0) {
		json_t *a = json_object_get(s->actions, str0(d, "id"));
		static const char *const keys[] = { "text", "owner", "due", "status", "cluster" };
		if (a) {
			take(a, d, keys, 5);
			json_object_set_new(a, "updated_at", json_integer(e->ts_ms));
		}
		return 1;
	}
	return 0;
}

/* {k: new, prev: {k: old}} -> {k: old, prev: {k: new}} plus the fixed keys. */
static json_t *swapped(json_t *d, const char *from, const char *to)
{
	json_t *out = json_deep_copy(d);
	json_t *a = json_object_get(d, from), *b = json_object_get(d, to);
	json_object_set(out, from, b ? b : json_object());
	json_object_set(out, to, a ? a : json_object());
	json_object_del(out, "undo_of");
	return out;
}

json_t *synthesis_inverse(struct workshop *w, const char *kind, json_t *d, const char **out_kind)
{
	(void)w;
	json_t *out = NULL;
	*out_kind = kind;
	if (strcmp(kind, "cluster.created") == 0) {
		*out_kind = "cluster.deleted";
		out = swapped(d, "assign", "prev");
		json_object_del(out, "name");
		json_object_del(out, "order");
		json_object_del(out, "split_from");
	} else if (strcmp(kind, "cluster.deleted") == 0 || strcmp(kind, "cluster.merged") == 0) {
		*out_kind = "cluster.restored";
		out = swapped(d, "assign", "prev");
	} else if (strcmp(kind, "cluster.assigned") == 0) {
		out = swapped(d, "assign", "prev");
	} else if (strcmp(kind, "cluster.updated") == 0) {
		out = json_pack("{s:O, s:O, s:O, s:b}", "id", json_object_get(d, "id"), "scope",
				json_object_get(d, "scope"), "table", json_object_get(d, "table"),
				"by_moderator", 1);
		json_t *prev = json_object_get(d, "prev"), *np = json_object(), *v;
		const char *key;
		json_object_foreach(prev, key, v) {
			json_object_set(out, key, v);
			if (json_object_get(d, key))
				json_object_set(np, key, json_object_get(d, key));
		}
		json_object_set_new(out, "prev", np);
	} else if (strcmp(kind, "duplicate.merged") == 0) {
		out = json_pack("{s:O, s:O, s:O}", "note", json_object_get(d, "note"), "into",
				json_object_get(d, "prev"), "prev", json_object_get(d, "into"));
	}
	return out;
}

/* ---- questions -------------------------------------------------------------------- */

const char *synthesis_scope_table(struct workshop *w, const char *scope)
{
	if (!scope)
		return NULL;
	if (scope[0] == 't')
		return workshop_table(w, scope) ? scope : NULL;
	if (scope[0] == 's')
		return json_object_get(w->syn.syntheses, scope) ? "" : NULL;
	return NULL;
}

static int listed(json_t *list, const char *id)
{
	if (json_array_size(list) == 0)
		return 1; /* no list: all */
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v)
		if (json_string_value(v) && strcmp(json_string_value(v), id) == 0)
			return 1;
	return 0;
}

static int note_in_scope(struct workshop *w, const char *scope, const struct ws_note *n,
			 int with_hidden)
{
	if (!n || !n->id[0] || n->deleted || n->pending || (n->hidden && !with_hidden))
		return 0;
	if (scope[0] == 't')
		return strcmp(n->table, scope) == 0;
	json_t *syn = json_object_get(w->syn.syntheses, scope);
	return syn && listed(json_object_get(syn, "boards"), n->board) &&
	       listed(json_object_get(syn, "tables"), n->table);
}

int synthesis_in_scope(struct workshop *w, const char *scope, const char *note_id,
		       int with_hidden)
{
	return note_in_scope(w, scope, workshop_note(w, note_id), with_hidden);
}

const char *synthesis_cluster_of(struct synthesis *s, const char *scope, const char *note_id)
{
	const char *c = json_string_value(json_object_get(json_object_get(s->member, scope), note_id));
	return c ? c : "";
}

json_t *synthesis_cluster(struct synthesis *s, const char *id)
{
	json_t *c = json_object_get(s->clusters, id ? id : "");
	if (!c || json_is_true(json_object_get(c, "deleted")) ||
	    json_is_true(json_object_get(c, "merged")))
		return NULL;
	return c;
}

/* The latest vote of scope (highest id), on clusters or notes as asked
 * (on NULL: either), or NULL. */
static json_t *latest_vote(struct synthesis *s, const char *scope, const char *on, int closed_only)
{
	json_t *best = NULL, *v;
	const char *id;
	json_object_foreach(s->votes, id, v) {
		if (strcmp(str0(v, "scope"), scope) != 0 || (on && strcmp(str0(v, "on"), on) != 0))
			continue;
		if (closed_only && !json_is_true(json_object_get(v, "closed")))
			continue;
		if (!best || id_no(id) > id_no(str0(best, "id")))
			best = v;
	}
	return best;
}

json_t *synthesis_open_vote(struct synthesis *s, const char *scope)
{
	json_t *v = latest_vote(s, scope, NULL, 0);
	return v && !json_is_true(json_object_get(v, "closed")) ? v : NULL;
}

json_t *synthesis_vote_totals(json_t *vote)
{
	json_t *t = json_object(), *ballot, *n;
	const char *voter, *item;
	json_object_foreach(json_object_get(vote, "ballots"), voter, ballot) {
		json_object_foreach(ballot, item, n) {
			json_int_t have = json_integer_value(json_object_get(t, item));
			json_object_set_new(t, item, json_integer(have + json_integer_value(n)));
		}
	}
	return t;
}

/* The dots of a vote as the viewer may see them (new reference), or NULL
 * while they are hidden. */
static json_t *visible_totals(json_t *vote, const struct synthesis_viewer *v)
{
	if (!vote)
		return NULL;
	if (json_is_true(json_object_get(vote, "closed")))
		return json_incref(json_object_get(vote, "results"));
	if (json_is_true(json_object_get(vote, "hidden")) && !v->show_open)
		return NULL;
	return synthesis_vote_totals(vote);
}

static json_t *vote_json(json_t *vote)
{
	if (!vote)
		return json_null();
	json_t *o = json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:i}", "id",
			      json_object_get(vote, "id"), "on", json_object_get(vote, "on"), "budget",
			      json_object_get(vote, "budget"), "max_per_item",
			      json_object_get(vote, "max_per_item"), "hidden",
			      json_object_get(vote, "hidden"), "closed",
			      json_object_get(vote, "closed"), "voters",
			      (int)json_object_size(json_object_get(vote, "ballots")));
	return o ? o : json_null();
}

json_t *synthesis_note_json(struct workshop *w, const char *note_id,
			    const struct synthesis_viewer *v)
{
	struct ws_note *n = workshop_note(w, note_id);
	if (!n)
		return NULL;
	struct ws_board *b = workshop_board(w, n->board);
	struct ws_table *t = workshop_table(w, n->table);
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "id", n->id, "text",
			      n->text ? n->text : "", "board", n->board, "question",
			      b && b->title ? b->title : "", "table", n->table, "table_name",
			      t && t->name ? t->name : "", "colour", n->colour, "created_at",
			      (json_int_t)n->created_ms);
	if (!o)
		return NULL;
	if (n->origin) {
		/* Imported from another room: its room and table are the
		 * provenance ("Room / Table"), its question the source's. */
		char where[320];
		json_t *g = n->origin;
		snprintf(where, sizeof where, "%s / %s", str0(g, "room_title"), str0(g, "table_name"));
		json_object_set_new(o, "table_name", json_string(where));
		json_object_set_new(o, "question", json_string(str0(g, "question")));
		json_object_set(o, "origin", g);
	}
	int show = n->anon == ANON_NAMED || (n->anon == ANON_MODERATORS && v->moderator);
	if (n->proxy && n->proxy_for)
		json_object_set_new(o, "proxy_for", json_string(n->proxy_for));
	else if (show && n->author_name)
		json_object_set_new(o, "author_name", json_string(n->author_name));
	return o;
}

/* Follows merges within one scope to the live cluster (or NULL). */
static json_t *root(struct synthesis *s, const char *id)
{
	json_t *c = json_object_get(s->clusters, id);
	for (int hops = 0; c && hops < 1000; hops++) {
		if (json_is_true(json_object_get(c, "deleted")))
			return NULL;
		if (!json_is_true(json_object_get(c, "merged")))
			return c;
		c = json_object_get(s->clusters, str0(c, "into"));
	}
	return NULL;
}

struct ranked {
	json_t *c;     /* the cluster's result entry */
	json_int_t dots;
	double order;
	unsigned long no;
};

static int by_rank(const void *pa, const void *pb)
{
	const struct ranked *a = pa, *b = pb;
	if (a->dots != b->dots)
		return a->dots > b->dots ? -1 : 1;
	if (a->order != b->order)
		return a->order < b->order ? -1 : 1;
	return a->no < b->no ? -1 : a->no > b->no;
}

/* The table a note was raised at: its own, or for an imported note
 * "room/table" of its origin (so tables of different rooms differ). */
static const char *raised_table(const struct ws_note *n, char *buf, size_t len)
{
	if (!n->origin)
		return n->table;
	snprintf(buf, len, "%s/%s", str0(n->origin, "room"), str0(n->origin, "table"));
	return buf;
}

/* Adds a table to a cluster entry's set of tables (where it was raised). */
static void raise_at(json_t *tables, const char *table)
{
	size_t i;
	json_t *v;
	if (!table || !table[0])
		return;
	json_array_foreach(tables, i, v)
		if (strcmp(json_string_value(v), table) == 0)
			return;
	json_array_append_new(tables, json_string(table));
}

json_t *synthesis_result(struct workshop *w, const char *scope, const struct synthesis_viewer *v)
{
	struct synthesis *s = &w->syn;
	json_t *cvote = latest_vote(s, scope, "clusters", 0);
	json_t *nvote = latest_vote(s, scope, "notes", 0);
	json_t *ctot = visible_totals(cvote, v), *ntot = visible_totals(nvote, v);
	json_t *entries = json_object(), *unclustered = json_array();
	json_t *origin_tables = json_array(); /* other rooms' tables with notes here */
	json_t *cl;
	const char *cid;

	/* The live clusters of this scope. */
	json_object_foreach(s->clusters, cid, cl) {
		if (strcmp(str0(cl, "scope"), scope) != 0 || !synthesis_cluster(s, cid))
			continue;
		json_t *dots = ctot ? json_object_get(ctot, cid) : NULL;
		json_object_set_new(entries, cid,
			json_pack("{s:s, s:O, s:O, s:I, s:{}, s:i, s:[], s:[], s:[]}", "id", cid,
				  "name", json_object_get(cl, "name"), "order",
				  json_object_get(cl, "order"), "dots",
				  (json_int_t)json_integer_value(dots), "carried", "carried_total", 0,
				  "tables", "notes", "actions"));
	}
	/* Notes, in id order, into their cluster or the unclustered list;
	 * duplicates go under the note they duplicate. */
	json_t *byid = json_object();
	for (size_t i = 0; i < w->nnotes; i++) {
		struct ws_note *n = &w->notes[i];
		if (!note_in_scope(w, scope, n, v->moderator))
			continue;
		const char *dup = str(s->dups, n->id);
		if (dup && note_in_scope(w, scope, workshop_note(w, dup), v->moderator))
			continue;
		json_t *o = synthesis_note_json(w, n->id, v);
		if (!o)
			continue;
		json_object_set_new(o, "duplicates", json_array());
		if (ntot)
			json_object_set_new(o, "dots",
					    json_integer(json_integer_value(json_object_get(ntot, n->id))));
		json_object_set(byid, n->id, o);
		json_t *c = root(s, synthesis_cluster_of(s, scope, n->id));
		json_t *e = c ? json_object_get(entries, str0(c, "id")) : NULL;
		char key[96];
		raised_table(n, key, sizeof key);
		if (n->origin)
			raise_at(origin_tables, key);
		if (e) {
			json_array_append(json_object_get(e, "notes"), o);
			raise_at(json_object_get(e, "tables"), raised_table(n, key, sizeof key));
		} else {
			json_array_append(unclustered, o);
		}
		json_decref(o);
	}
	const char *nid;
	json_t *into;
	json_object_foreach(s->dups, nid, into) {
		struct ws_note *n = workshop_note(w, nid);
		json_t *target = json_object_get(byid, json_string_value(into));
		if (!target || !note_in_scope(w, scope, n, v->moderator))
			continue;
		json_t *o = synthesis_note_json(w, nid, v);
		if (o)
			json_array_append_new(json_object_get(target, "duplicates"), o);
		/* A duplicate raised elsewhere still says where it was raised. */
		json_t *c = root(s, synthesis_cluster_of(s, scope, json_string_value(into)));
		json_t *e = c ? json_object_get(entries, str0(c, "id")) : NULL;
		char key[96];
		if (e)
			raise_at(json_object_get(e, "tables"), raised_table(n, key, sizeof key));
	}
	json_decref(byid);
	/* Table clusters merged into plenary ones carry their table vote. */
	json_object_foreach(s->clusters, cid, cl) {
		const char *sc = str0(cl, "scope"), *in = str0(cl, "into");
		if (sc[0] != 't' || !in[0] || json_is_true(json_object_get(cl, "deleted")))
			continue;
		json_t *target = root(s, in);
		json_t *e = target && strcmp(str0(target, "scope"), scope) == 0
				    ? json_object_get(entries, str0(target, "id")) : NULL;
		if (!e)
			continue;
		json_t *tv = latest_vote(s, sc, "clusters", 1);
		json_int_t dots = tv ? json_integer_value(
					       json_object_get(json_object_get(tv, "results"), cid))
				     : 0;
		json_t *carried = json_object_get(e, "carried");
		json_int_t have = json_integer_value(json_object_get(carried, sc));
		json_object_set_new(carried, sc, json_integer(have + dots));
		json_object_set_new(e, "carried_total",
				    json_integer(json_integer_value(json_object_get(e, "carried_total")) +
						 dots));
		raise_at(json_object_get(e, "tables"), sc);
	}
	/* Action items follow their cluster through merges. */
	json_t *a;
	const char *aid;
	json_object_foreach(s->actions, aid, a) {
		json_t *c = root(s, str0(a, "cluster"));
		json_t *e = c ? json_object_get(entries, str0(c, "id")) : NULL;
		if (e)
			json_array_append(json_object_get(e, "actions"), a);
	}
	/* Rank. */
	size_t n = json_object_size(entries), k = 0;
	struct ranked *r = calloc(n ? n : 1, sizeof *r);
	json_t *list = json_array();
	json_object_foreach(entries, cid, cl) {
		r[k].c = cl;
		r[k].dots = json_integer_value(json_object_get(cl, "dots"));
		r[k].order = json_number_value(json_object_get(cl, "order"));
		r[k].no = id_no(cid);
		k++;
	}
	qsort(r, n, sizeof *r, by_rank);
	for (size_t i = 0; i < n; i++) {
		/* Competition ranking: equal dots share a rank (1, 1, 3). */
		size_t first = i;
		while (ctot && first > 0 && r[first - 1].dots == r[i].dots)
			first--;
		int tie = ctot && ((i > 0 && r[i - 1].dots == r[i].dots) ||
				   (i + 1 < n && r[i + 1].dots == r[i].dots));
		json_object_set_new(r[i].c, "rank", json_integer((json_int_t)(ctot ? first + 1 : i + 1)));
		json_object_set_new(r[i].c, "tie", json_boolean(tie));
		json_object_set_new(r[i].c, "raised_at",
				    json_integer((json_int_t)json_array_size(
					    json_object_get(r[i].c, "tables"))));
		json_array_append(list, r[i].c);
	}
	free(r);
	json_decref(entries);

	size_t tables_total = 1;
	if (scope[0] == 's') {
		json_t *tl = json_object_get(json_object_get(s->syntheses, scope), "tables");
		tables_total = json_array_size(tl) ? json_array_size(tl) : w->ntables;
		tables_total += json_array_size(origin_tables);
	}
	json_decref(origin_tables);
	json_t *syn = json_object_get(s->syntheses, scope);
	struct ws_table *t = workshop_table(w, scope);
	json_t *out = json_object();
	json_object_set_new(out, "scope", json_string(scope));
	json_object_set_new(out, "name",
			    json_string(syn ? str0(syn, "name") : t && t->name ? t->name : ""));
	json_object_set_new(out, "tables_total", json_integer((json_int_t)tables_total));
	json_object_set_new(out, "vote", vote_json(cvote));
	if (nvote)
		json_object_set_new(out, "note_vote", vote_json(nvote));
	json_object_set_new(out, "ranked", json_boolean(ctot != NULL));
	json_object_set_new(out, "clusters", list);
	json_object_set_new(out, "unclustered", unclustered);
	json_decref(ctot);
	json_decref(ntot);
	return out;
}
