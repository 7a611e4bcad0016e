/*
 * workshop.c: applying workshop events to the derived state (see
 * workshop.h). Every function here is pure bookkeeping: the rules live in
 * workshop_ops.c, so replaying a log never re-judges what was accepted.
 */
#include "workshop.h"

#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "tv_protocol.h"

static const char *const phase_names[PH__COUNT] = {
	"setup", "write", "group", "vote", "discuss", "closed",
};
static const char *const layout_names[] = { "columns", "matrix", "timeline" };
static const char *const palette[] = { "yellow", "pink", "green", "blue", "orange", "purple" };

const char *workshop_phase_name(int p)
{
	return p >= 0 && p < PH__COUNT ? phase_names[p] : "setup";
}

int workshop_phase_parse(const char *s)
{
	for (int i = 0; i < PH__COUNT; i++)
		if (strcmp(s, phase_names[i]) == 0)
			return i;
	return -1;
}

const char *workshop_layout_name(int l)
{
	return l >= 0 && l < 3 ? layout_names[l] : "columns";
}

int workshop_layout_parse(const char *s)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(s, layout_names[i]) == 0)
			return i;
	return -1;
}

int workshop_colour_valid(const char *c)
{
	for (size_t i = 0; i < sizeof palette / sizeof *palette; i++)
		if (strcmp(c, palette[i]) == 0)
			return 1;
	return 0;
}

struct workshop *workshop_new(void)
{
	struct workshop *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	if (synthesis_init(&w->syn)) {
		synthesis_clear(&w->syn);
		free(w);
		return NULL;
	}
	map_init(&w->seats);
	map_init(&w->ready);
	map_init(&w->imported);
	w->next_note = w->next_board = w->next_table = 1;
	return w;
}

static void free_value(const char *k, void *v, void *arg)
{
	free(v);
}

void workshop_free(struct workshop *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->ntables; i++)
		free(w->tables[i].name);
	for (size_t i = 0; i < w->nboards; i++) {
		free(w->boards[i].title);
		json_decref(w->boards[i].spec);
	}
	for (size_t i = 0; i < w->nnotes; i++) {
		free(w->notes[i].text);
		free(w->notes[i].author_name);
		free(w->notes[i].proxy_for);
		json_decref(w->notes[i].origin);
	}
	for (int i = 0; i < w->nundo; i++)
		json_decref(w->undo[i].data);
	synthesis_clear(&w->syn);
	map_each(&w->seats, free_value, NULL);
	map_free(&w->seats);
	map_free(&w->ready);
	map_free(&w->imported);
	free(w->tables);
	free(w->boards);
	free(w->notes);
	free(w);
}

struct ws_board *workshop_board(struct workshop *w, const char *id)
{
	for (size_t i = 0; id && i < w->nboards; i++)
		if (strcmp(w->boards[i].id, id) == 0)
			return &w->boards[i];
	return NULL;
}

struct ws_table *workshop_table(struct workshop *w, const char *id)
{
	for (size_t i = 0; id && i < w->ntables; i++)
		if (strcmp(w->tables[i].id, id) == 0)
			return &w->tables[i];
	return NULL;
}

struct ws_note *workshop_note(struct workshop *w, const char *id)
{
	if (!id || id[0] != 'n')
		return NULL;
	char *end;
	unsigned long k = strtoul(id + 1, &end, 10);
	if (*end || k < 1 || k > w->nnotes)
		return NULL;
	return &w->notes[k - 1];
}

const char *workshop_seat(struct workshop *w, const char *identity_id)
{
	const char *t = map_get(&w->seats, identity_id);
	return t ? t : "";
}

struct count_seats {
	const char *table;
	unsigned n;
};

static void count_seat(const char *k, void *v, void *arg)
{
	struct count_seats *c = arg;
	if (strcmp(v, c->table) == 0)
		c->n++;
}

unsigned workshop_seated(struct workshop *w, const char *table)
{
	struct count_seats c = { table, 0 };
	map_each(&w->seats, count_seat, &c);
	return c.n;
}

struct ws_table *workshop_pick_table(struct workshop *w)
{
	struct ws_table *best = NULL;
	unsigned best_n = 0;
	for (size_t i = 0; i < w->ntables; i++) {
		unsigned n = workshop_seated(w, w->tables[i].id);
		if (!best || n < best_n) {
			best = &w->tables[i];
			best_n = n;
		}
	}
	return best;
}

void workshop_forget_decisions(struct workshop *w)
{
	w->phase = w->phase_committed;
	w->private_writing = w->private_committed;
}

json_t *workshop_note_json(const struct ws_note *n)
{
	json_t *o = json_pack("{s:s, s:s, s:s}", "id", n->id, "board", n->board, "table", n->table);
	if (!o)
		return NULL;
	json_object_set_new(o, "column", json_integer(n->column));
	json_object_set_new(o, "x", json_real(n->x));
	json_object_set_new(o, "y", json_real(n->y));
	json_object_set_new(o, "colour", json_string(n->colour));
	if (n->text)
		json_object_set_new(o, "text", json_string(n->text));
	json_object_set_new(o, "anonymity", json_string(event_anonymity_name(n->anon)));
	json_object_set_new(o, "hidden", json_boolean(n->hidden));
	json_object_set_new(o, "pending", json_boolean(n->pending));
	if (n->proxy) {
		json_object_set_new(o, "proxy", json_true());
		if (n->proxy_for)
			json_object_set_new(o, "proxy_for", json_string(n->proxy_for));
	}
	return o;
}

/* ---- applying ------------------------------------------------------------------ */

static const char *str(json_t *d, const char *k)
{
	return json_string_value(json_object_get(d, k));
}

static void set_str(char **dst, const char *v)
{
	if (!v)
		return;
	free(*dst);
	*dst = strdup(v);
}

static void push_undo(struct workshop *w, const struct tv_event *e, json_t *d)
{
	if (w->nundo == WS_UNDO_MAX) {
		json_decref(w->undo[0].data);
		memmove(w->undo, w->undo + 1, (WS_UNDO_MAX - 1) * sizeof *w->undo);
		w->nundo--;
	}
	struct ws_undo *u = &w->undo[w->nundo++];
	u->seq = e->seq;
	snprintf(u->kind, sizeof u->kind, "%s", e->kind);
	u->data = json_incref(d);
}

/* An undo event removes the entry it undoes (wherever it is, normally
 * the top) instead of being pushed itself. */
static int pop_undo(struct workshop *w, json_t *d)
{
	json_t *of = json_object_get(d, "undo_of");
	if (!json_is_integer(of))
		return 0;
	uint64_t seq = (uint64_t)json_integer_value(of);
	for (int i = w->nundo - 1; i >= 0; i--)
		if (w->undo[i].seq == seq) {
			json_decref(w->undo[i].data);
			memmove(w->undo + i, w->undo + i + 1, (size_t)(w->nundo - i - 1) * sizeof *w->undo);
			w->nundo--;
			break;
		}
	return 1;
}

static int note_update(struct workshop *w, json_t *d, int64_t ts)
{
	struct ws_note *n = workshop_note(w, str(d, "id"));
	if (!n)
		return 0;
	const char *t;
	if ((t = str(d, "text")) && !n->deleted)
		set_str(&n->text, t);
	if ((t = str(d, "colour")))
		snprintf(n->colour, sizeof n->colour, "%s", t);
	json_t *v;
	if ((v = json_object_get(d, "column")) && json_is_integer(v))
		n->column = (int)json_integer_value(v);
	if ((v = json_object_get(d, "x")) && json_is_number(v))
		n->x = json_number_value(v);
	if ((v = json_object_get(d, "y")) && json_is_number(v))
		n->y = json_number_value(v);
	n->edited_ms = ts;
	return 0;
}

static int note_create(struct workshop *w, const struct tv_event *e, json_t *d)
{
	const char *id = str(d, "id");
	unsigned long k = id && id[0] == 'n' ? strtoul(id + 1, NULL, 10) : 0;
	if (k < 1 || k > 10000000)
		return 0;
	if (k > w->notes_cap) {
		size_t cap = w->notes_cap ? w->notes_cap : 64;
		while (cap < k)
			cap *= 2;
		struct ws_note *nn = realloc(w->notes, cap * sizeof *nn);
		if (!nn)
			return -TV_E_INTERNAL;
		memset(nn + w->notes_cap, 0, (cap - w->notes_cap) * sizeof *nn);
		w->notes = nn;
		w->notes_cap = cap;
	}
	if (k > w->nnotes)
		w->nnotes = k;
	struct ws_note *n = &w->notes[k - 1];
	snprintf(n->id, sizeof n->id, "%s", id);
	snprintf(n->board, sizeof n->board, "%s", str(d, "board") ? str(d, "board") : "");
	snprintf(n->table, sizeof n->table, "%s", str(d, "table") ? str(d, "table") : "");
	snprintf(n->author, sizeof n->author, "%s", e->author_id ? e->author_id : "");
	set_str(&n->author_name, e->author_name);
	set_str(&n->text, str(d, "text"));
	snprintf(n->colour, sizeof n->colour, "%s", str(d, "colour") ? str(d, "colour") : "yellow");
	n->column = (int)json_integer_value(json_object_get(d, "column"));
	n->x = json_number_value(json_object_get(d, "x"));
	n->y = json_number_value(json_object_get(d, "y"));
	n->hidden = json_is_true(json_object_get(d, "hidden"));
	n->pending = json_is_true(json_object_get(d, "pending"));
	const char *an = str(d, "anonymity");
	int a = event_anonymity_parse(an ? an : "named");
	n->anon = (unsigned char)(a < 0 ? ANON_ANONYMOUS : a);
	n->proxy = json_is_true(json_object_get(d, "proxy"));
	set_str(&n->proxy_for, str(d, "proxy_for"));
	json_decref(n->origin);
	n->origin = json_incref(json_object_get(d, "origin"));
	n->deleted = 0;
	n->created_ms = n->edited_ms = e->ts_ms;
	if (w->next_note <= k)
		w->next_note = (unsigned)k + 1;
	struct ws_table *t = workshop_table(w, n->table);
	if (t)
		t->last_note_ms = e->ts_ms;
	return 0;
}

int workshop_apply(struct workshop *w, const struct tv_event *e)
{
	const char *k = e->kind;
	/* Chat changes no workshop state: no branch below or in
	 * synthesis_apply takes it, and its data (chat.c: text, reply_to)
	 * has no undo_of. Skipping the parse saves a JSON decode per message
	 * as it commits and as a room's log is replayed. */
	if (strcmp(k, "chat.message") == 0)
		return 0;
	json_t *d = json_loadb(e->data, e->data_len, JSON_ALLOW_NUL, NULL);
	if (!d)
		return 0;
	int rc = 0, undoable = 0;
	int undo = pop_undo(w, d);

	if (strcmp(k, "table.created") == 0) {
		struct ws_table *t = realloc(w->tables, (w->ntables + 1) * sizeof *t);
		if (!t) {
			rc = -TV_E_INTERNAL;
		} else {
			w->tables = t;
			t = &w->tables[w->ntables++];
			memset(t, 0, sizeof *t);
			snprintf(t->id, sizeof t->id, "%s", str(d, "id") ? str(d, "id") : "");
			t->name = strdup(str(d, "name") ? str(d, "name") : "");
			unsigned long n = strtoul(t->id + 1, NULL, 10);
			if (w->next_table <= n)
				w->next_table = (unsigned)n + 1;
		}
	} else if (strcmp(k, "board.created") == 0) {
		struct ws_board *b = realloc(w->boards, (w->nboards + 1) * sizeof *b);
		if (!b) {
			rc = -TV_E_INTERNAL;
		} else {
			w->boards = b;
			b = &w->boards[w->nboards++];
			memset(b, 0, sizeof *b);
			snprintf(b->id, sizeof b->id, "%s", str(d, "id") ? str(d, "id") : "");
			b->title = strdup(str(d, "title") ? str(d, "title") : "");
			b->layout = workshop_layout_parse(str(d, "layout") ? str(d, "layout") : "");
			b->ncolumns = (int)json_array_size(json_object_get(d, "columns"));
			int a = event_anonymity_parse(str(d, "anonymity") ? str(d, "anonymity") : "named");
			b->anon = a < 0 ? ANON_ANONYMOUS : a;
			b->premoderation = json_is_true(json_object_get(d, "premoderation"));
			b->spec = json_incref(d);
			unsigned long n = strtoul(b->id + 1, NULL, 10);
			if (w->next_board <= n)
				w->next_board = (unsigned)n + 1;
		}
	} else if (strcmp(k, "board.updated") == 0) {
		struct ws_board *b = workshop_board(w, str(d, "id"));
		if (b) {
			if (str(d, "title"))
				set_str(&b->title, str(d, "title"));
			if (str(d, "anonymity")) {
				int a = event_anonymity_parse(str(d, "anonymity"));
				b->anon = a < 0 ? ANON_ANONYMOUS : a;
			}
			if (json_is_boolean(json_object_get(d, "premoderation")))
				b->premoderation = json_is_true(json_object_get(d, "premoderation"));
			undoable = 1;
		}
	} else if (strcmp(k, "table.assigned") == 0) {
		const char *who = str(d, "identity"), *t = str(d, "table");
		if (who) {
			free(map_del(&w->seats, who));
			if (t && t[0]) {
				char *copy = strdup(t);
				if (!copy || map_put(&w->seats, who, copy)) {
					free(copy);
					rc = -TV_E_INTERNAL;
				}
			}
			undoable = json_is_true(json_object_get(d, "by_moderator"));
		}
	} else if (strcmp(k, "note.created") == 0) {
		rc = note_create(w, e, d);
	} else if (strcmp(k, "notes.imported") == 0) {
		/* Copies of another room's notes, each with its origin. */
		json_t *item;
		size_t i;
		json_array_foreach(json_object_get(d, "notes"), i, item) {
			json_t *o = json_object_get(item, "origin");
			char key[96];
			if ((rc = note_create(w, e, item)))
				break;
			snprintf(key, sizeof key, "%s/%s", str(o, "room") ? str(o, "room") : "",
				 str(o, "note") ? str(o, "note") : "");
			if ((rc = map_put(&w->imported, key, w)))
				break;
		}
	} else if (strcmp(k, "note.updated") == 0) {
		rc = note_update(w, d, e->ts_ms);
		struct ws_note *n = workshop_note(w, str(d, "id"));
		undoable = n && json_is_true(json_object_get(d, "by_moderator"));
	} else if (strcmp(k, "note.deleted") == 0) {
		struct ws_note *n = workshop_note(w, str(d, "id"));
		if (n) {
			/* The skeleton stays (invariant 2). The text stays in
			 * memory only, for a moderator's undo; nothing sends it. */
			n->deleted = 1;
			undoable = json_is_true(json_object_get(d, "by_moderator"));
		}
	} else if (strcmp(k, "note.restored") == 0) {
		struct ws_note *n = workshop_note(w, str(d, "id"));
		if (n) {
			n->deleted = 0;
			if (str(d, "text"))
				set_str(&n->text, str(d, "text"));
		}
	} else if (strcmp(k, "note.approved") == 0) {
		struct ws_note *n = workshop_note(w, str(d, "id"));
		if (n)
			n->pending = 0;
	} else if (strcmp(k, "phase.changed") == 0) {
		int p = workshop_phase_parse(str(d, "phase") ? str(d, "phase") : "");
		if (p >= 0) {
			w->phase = w->phase_committed = p;
			map_free(&w->ready); /* readiness is per phase */
			map_init(&w->ready);
			undoable = 1;
		}
	} else if (strcmp(k, "writing.changed") == 0) {
		w->private_writing = w->private_committed =
			json_is_true(json_object_get(d, "private"));
		undoable = 1;
	} else if (strcmp(k, "writing.revealed") == 0) {
		/* Everything written privately is revealed, including notes
		 * still waiting for approval: they show when approved. */
		for (size_t i = 0; i < w->nnotes; i++)
			w->notes[i].hidden = 0;
		w->private_writing = w->private_committed = 0;
	} else if (strcmp(k, "timer.changed") == 0) {
		const char *s = str(d, "state");
		w->timer = s && strcmp(s, "running") == 0 ? TIMER_RUNNING
			 : s && strcmp(s, "paused") == 0 ? TIMER_PAUSED : TIMER_STOPPED;
		w->timer_ends_ms = json_integer_value(json_object_get(d, "ends_at"));
		w->timer_left_ms = json_integer_value(json_object_get(d, "remaining_ms"));
	} else if (strcmp(k, "timer.expired") == 0) {
		w->timer = TIMER_STOPPED;
	} else if (strcmp(k, "ready.changed") == 0) {
		const char *who = str(d, "identity");
		if (who) {
			map_del(&w->ready, who);
			if (json_is_true(json_object_get(d, "done")) && map_put(&w->ready, who, w))
				rc = -TV_E_INTERNAL;
		}
	} else if (strcmp(k, "view.focused") == 0) {
		snprintf(w->focus, sizeof w->focus, "%s", str(d, "board") ? str(d, "board") : "");
	} else if (strcmp(k, "member.role") == 0) {
		undoable = 1;
	} else if ((rc = synthesis_apply(w, e, d, &undoable)) > 0) {
		rc = 0;
	}
	if (undoable && !undo && e->author_id)
		push_undo(w, e, d);
	json_decref(d);
	return rc;
}
