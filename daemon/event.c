/* event.c: log entries, their audiences and lazily rendered, shared wire
 * bytes (see event.h). */
#include "event.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static const char *const anon_names[] = { "named", "moderators", "anonymous" };

int event_anonymity_parse(const char *s)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(s, anon_names[i]) == 0)
			return i;
	return -1;
}

const char *event_anonymity_name(int anon)
{
	return anon >= 0 && anon < 3 ? anon_names[anon] : "named";
}

/* Visibility from kind and data, once per event (invariant: never from the
 * room's current state). */
static void classify(struct tv_event *e)
{
	e->vis = VIS_PUBLIC;
	if (strncmp(e->kind, "note.", 5) == 0)
		e->vis = VIS_NOTE;
	else if (strcmp(e->kind, "writing.revealed") == 0)
		e->vis = VIS_REVEAL;
	else if (strcmp(e->kind, "ready.changed") == 0)
		e->vis = VIS_MODERATORS;
	else if (strcmp(e->kind, "vote.cast") == 0)
		e->vis = VIS_BALLOT;
	else if (strncmp(e->kind, "cluster.", 8) == 0 || strncmp(e->kind, "vote.", 5) == 0 ||
		 strncmp(e->kind, "suggestion.", 11) == 0)
		e->vis = VIS_TABLE; /* public when it names no table */
	else if (strcmp(e->kind, "poll.answered") == 0)
		e->vis = VIS_POLL;
	if (e->vis != VIS_NOTE && e->vis != VIS_TABLE && e->vis != VIS_BALLOT &&
	    e->vis != VIS_POLL)
		return;
	json_t *d = json_loadb(e->data, e->data_len, JSON_ALLOW_NUL, NULL);
	if (e->vis == VIS_POLL) {
		/* meetings and forums (PROTOCOL.md §9.4): who answered is the
		 * answerer's own business in an anonymous poll, and what anyone
		 * answered waits for the close when results are not live. An
		 * unreadable poll is treated as anonymous and closed. */
		const char *an = json_string_value(json_object_get(d, "anonymity"));
		const char *rs = json_string_value(json_object_get(d, "results"));
		e->anon = an && strcmp(an, "named") == 0 ? ANON_NAMED : ANON_ANONYMOUS;
		e->hidden = !(rs && strcmp(rs, "live") == 0);
		json_decref(d);
		return;
	}
	const char *t = json_string_value(json_object_get(d, "table"));
	snprintf(e->table, sizeof e->table, "%s", t ? t : "");
	if (e->vis != VIS_NOTE) {
		const char *o = json_string_value(json_object_get(d, "owner"));
		snprintf(e->owner, sizeof e->owner, "%s", o ? o : "");
		e->hidden = json_is_true(json_object_get(d, "hidden"));
		json_decref(d);
		return;
	}
	const char *a = json_string_value(json_object_get(d, "anonymity"));
	int anon = a ? event_anonymity_parse(a) : ANON_NAMED;
	/* An unreadable level is treated as the strictest. */
	e->anon = (unsigned char)(anon < 0 ? ANON_ANONYMOUS : anon);
	const char *o = json_string_value(json_object_get(d, "owner"));
	snprintf(e->owner, sizeof e->owner, "%s", o ? o : "");
	e->hidden = json_is_true(json_object_get(d, "hidden"));
	e->pending = json_is_true(json_object_get(d, "pending"));
	json_decref(d);
}

struct tv_event *event_new(const struct tv_event_view *v)
{
	struct tv_event *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	e->refs = 1;
	e->seq = v->seq;
	e->ts_ms = v->ts_ms;
	e->room_id = strdup(v->room);
	e->author_id = dup_or_null(v->author_id);
	e->author_name = dup_or_null(v->author_id ? v->author_name : NULL);
	e->kind = strdup(v->kind);
	e->data = malloc(v->data_len + 1);
	if (!e->room_id || !e->kind || !e->data || (v->author_id && !e->author_id) ||
	    (v->author_id && v->author_name && !e->author_name)) {
		event_unref(e);
		return NULL;
	}
	memcpy(e->data, v->data_json, v->data_len);
	e->data[v->data_len] = 0;
	e->data_len = v->data_len;
	classify(e);
	return e;
}

struct tv_event *event_new_ephemeral(const char *room_id, struct tv_buf *wire)
{
	struct tv_event *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	e->refs = 1;
	e->room_id = strdup(room_id);
	if (!e->room_id) {
		free(e);
		return NULL;
	}
	e->wire0 = tv_buf_ref(wire);
	return e;
}

void event_unref(struct tv_event *e)
{
	if (!e || --e->refs)
		return;
	tv_buf_unref(e->wire0);
	for (unsigned i = 0; i < e->nextra; i++)
		tv_buf_unref(e->extra[i].buf);
	free(e->extra);
	free(e->room_id);
	free(e->author_id);
	free(e->author_name);
	free(e->kind);
	free(e->data);
	free(e);
}

void event_view(const struct tv_event *e, struct tv_event_view *out)
{
	out->room = e->room_id;
	out->seq = e->seq;
	out->ts_ms = e->ts_ms;
	out->author_id = e->author_id;
	out->author_name = e->author_name ? e->author_name : "";
	out->kind = e->kind;
	out->data_json = e->data;
	out->data_len = e->data_len;
}

/* The note's author, not the event's: a moderator moving someone's hidden
 * note must not turn that note into a placeholder for its own author. */
static int is_author(const struct tv_event *e, const struct tv_viewer *v)
{
	const char *who = e->owner[0] ? e->owner : e->author_id;
	return who && v->identity_id && strcmp(who, v->identity_id) == 0;
}

/* "t12" -> 12; tables are numbered by workshop.c. */
static unsigned table_no(const char *t)
{
	return t && t[0] == 't' ? (unsigned)strtoul(t + 1, NULL, 10) & 0x7fffff : 0;
}

uint32_t event_audience(const struct tv_event *e, const struct tv_viewer *v)
{
	switch (e->vis) {
	case VIS_PUBLIC:
		return TV_AUD_ALL;
	case VIS_MODERATORS:
		return v->role == TV_ROLE_MODERATOR ? TV_AUD_ALL : TV_AUD_SKIP;
	case VIS_REVEAL:
		/* Moderators and observers get every table (0); a participant
		 * gets its table's notes (table number + 1; 1 = no table). Only
		 * moderators see authors of notes named to moderators. */
		return TV_AUD_REVEAL |
		       (v->role == TV_ROLE_PARTICIPANT ? (table_no(v->table) + 1) << 1 : 0) |
		       (v->role == TV_ROLE_MODERATOR ? 0u : 1u);
	case VIS_TABLE:
		if (v->role == TV_ROLE_PARTICIPANT && e->table[0] && strcmp(e->table, v->table) != 0)
			return TV_AUD_SKIP;
		return TV_AUD_ALL;
	case VIS_BALLOT:
		if (is_author(e, v))
			return TV_AUD_ALL;
		if (v->role == TV_ROLE_PARTICIPANT && e->table[0] && strcmp(e->table, v->table) != 0)
			return TV_AUD_SKIP;
		return TV_AUD_NO_AUTHOR;
	case VIS_POLL:
		if (is_author(e, v))
			return TV_AUD_ALL;
		if (v->role != TV_ROLE_MODERATOR && e->hidden)
			return TV_AUD_PLACEHOLDER;
		return e->anon == ANON_NAMED ? TV_AUD_ALL : TV_AUD_NO_AUTHOR;
	case VIS_NOTE:
	default:
		break;
	}
	if (is_author(e, v))
		return TV_AUD_ALL;
	if (v->role == TV_ROLE_MODERATOR)
		return e->anon == ANON_ANONYMOUS ? TV_AUD_NO_AUTHOR : TV_AUD_ALL;
	if (v->role != TV_ROLE_OBSERVER) {
		if (e->table[0] && strcmp(e->table, v->table) != 0)
			return TV_AUD_SKIP; /* each table sees its own board */
		if (e->pending)
			return TV_AUD_SKIP; /* waiting for a moderator */
	}
	if (e->hidden || e->pending)
		return TV_AUD_PLACEHOLDER;
	return e->anon == ANON_NAMED ? TV_AUD_ALL : TV_AUD_NO_AUTHOR;
}

/* The reveal's notes for one table (0: all; else table number + 1, so that
 * 1 is "no table"). A note keeps its author
 * only when its anonymity lets this audience see it: moderators see
 * named and moderators-only authors, everyone else named ones only.
 * Returns new data text or NULL. */
static char *reveal_data(const struct tv_event *e, unsigned table, int participant)
{
	json_t *d = json_loadb(e->data, e->data_len, JSON_ALLOW_NUL, NULL);
	json_t *notes = json_object_get(d, "notes"), *keep = json_array();
	size_t i;
	json_t *n;
	json_array_foreach(notes, i, n) {
		if (table && table_no(json_string_value(json_object_get(n, "table"))) + 1 != table)
			continue;
		json_t *c = json_deep_copy(n);
		const char *a = json_string_value(json_object_get(n, "anonymity"));
		int anon = a ? event_anonymity_parse(a) : ANON_ANONYMOUS;
		if (anon < 0 || anon == ANON_ANONYMOUS || (participant && anon != ANON_NAMED)) {
			json_object_del(c, "author");
			json_object_del(c, "author_name");
		}
		json_array_append_new(keep, c);
	}
	json_object_set_new(d, "notes", keep);
	char *s = json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(d);
	return s;
}

static char *placeholder_data(const struct tv_event *e)
{
	json_t *d = json_loadb(e->data, e->data_len, JSON_ALLOW_NUL, NULL);
	json_t *p = json_object();
	/* Notes keep where they are; poll answers (§9.4) which poll and
	 * whether the answerer is new, never the answer. */
	static const char *const keep[] = { "id", "board", "table", "hidden", "pending",
					    "poll", "first" };
	for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
		json_t *v = json_object_get(d, keep[i]);
		if (v)
			json_object_set(p, keep[i], v);
	}
	char *s = json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(d);
	json_decref(p);
	return s;
}

/* The data with the note's owner removed (invariant 4); for a ballot also
 * the voter's dots, and the totals while the vote is hidden. */
static char *without_owner(const struct tv_event *e)
{
	json_t *d = json_loadb(e->data, e->data_len, JSON_ALLOW_NUL, NULL);
	json_object_del(d, "owner");
	if (e->vis == VIS_BALLOT) {
		json_object_del(d, "dots");
		if (e->hidden)
			json_object_del(d, "totals");
	}
	char *s = d ? json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(d);
	return s;
}

static struct tv_buf *render(struct tv_event *e, uint32_t aud)
{
	struct tv_event_view v;
	event_view(e, &v);
	char *data = NULL;
	int reveal = (aud & TV_AUD_REVEAL) != 0;
	if (aud == TV_AUD_NO_AUTHOR || aud == TV_AUD_PLACEHOLDER || reveal) {
		v.author_id = NULL; /* invariant 4 */
		v.author_name = NULL;
	}
	if (aud == TV_AUD_PLACEHOLDER)
		data = placeholder_data(e);
	else if (aud == TV_AUD_NO_AUTHOR && e->owner[0])
		data = without_owner(e);
	else if (reveal)
		data = reveal_data(e, (aud & ~TV_AUD_REVEAL) >> 1, aud & 1u);
	if (data) {
		v.data_json = data;
		v.data_len = strlen(data);
	} else if (aud == TV_AUD_PLACEHOLDER || reveal || (aud == TV_AUD_NO_AUTHOR && e->owner[0])) {
		return NULL;
	}
	size_t len = 0;
	char *s = tv_encode_event(&v, &len);
	free(data);
	return tv_buf_take(s, len);
}

struct tv_buf *event_wire(struct tv_event *e, uint32_t aud)
{
	if (aud == TV_AUD_ALL) {
		if (!e->wire0)
			e->wire0 = render(e, aud);
		return e->wire0;
	}
	for (unsigned i = 0; i < e->nextra; i++)
		if (e->extra[i].aud == aud)
			return e->extra[i].buf;
	struct tv_buf *b = render(e, aud);
	struct aud_buf *x = b ? realloc(e->extra, (e->nextra + 1) * sizeof *x) : NULL;
	if (!x) {
		tv_buf_unref(b);
		return NULL;
	}
	e->extra = x;
	x[e->nextra].aud = aud;
	x[e->nextra].buf = b;
	e->nextra++;
	return b;
}
