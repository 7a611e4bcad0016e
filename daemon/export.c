/*
 * export.c: the export model of a workshop room and its signed links
 * (see export.h).
 */
#include "export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "crypto.h"
#include "event.h"
#include "export_link.h"
#include "log.h"
#include "meeting_export.h"
#include "room.h"
#include "server.h"
#include "synthesis.h"
#include "workshop.h"

static const char *str0(json_t *d, const char *k)
{
	const char *v = json_string_value(json_object_get(d, k));
	return v ? v : "";
}

static json_t *board_json(const struct ws_board *b)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b}", "id", b->id, "title",
			      b->title ? b->title : "", "layout", workshop_layout_name(b->layout),
			      "anonymity", event_anonymity_name(b->anon), "premoderation",
			      b->premoderation);
	static const char *const keys[] = { "columns", "x_axis", "y_axis" };
	for (size_t i = 0; o && b->spec && i < 3; i++)
		if (json_object_get(b->spec, keys[i]))
			json_object_set(o, keys[i], json_object_get(b->spec, keys[i]));
	return o;
}

json_t *export_model(struct room *r, int moderator, int64_t now_ms)
{
	struct workshop *w = r->ws;
	if (!w)
		return NULL;
	struct synthesis *s = &w->syn;
	struct synthesis_viewer v = { moderator, 0 };
	json_t *m = json_object(), *tables = json_array(), *boards = json_array(),
	       *notes = json_array(), *syns = json_array(), *tres = json_array(),
	       *clusters = json_array(), *votes = json_array(), *actions = json_array(),
	       *published = json_array(), *x;
	const char *id;
	size_t i;
	json_object_set_new(m, "format", json_string("tavla.export.v1"));
	json_object_set_new(m, "room", json_pack("{s:s, s:s, s:s}", "id", r->id, "title",
						 r->title ? r->title : "", "kind", r->kind));
	json_object_set_new(m, "exported_at", json_integer(now_ms));
	json_object_set_new(m, "phase", json_string(workshop_phase_name(w->phase)));
	for (i = 0; i < w->ntables; i++)
		json_array_append_new(tables, json_pack("{s:s, s:s}", "id", w->tables[i].id, "name",
							w->tables[i].name ? w->tables[i].name : ""));
	for (i = 0; i < w->nboards; i++)
		json_array_append_new(boards, board_json(&w->boards[i]));
	for (i = 0; i < w->nnotes; i++) {
		struct ws_note *n = &w->notes[i];
		if (!n->id[0] || n->deleted || n->pending || (n->hidden && !moderator))
			continue;
		json_t *o = synthesis_note_json(w, n->id, &v);
		if (!o)
			continue;
		struct ws_board *b = workshop_board(w, n->board);
		if (b && b->layout == LAYOUT_MATRIX) {
			json_object_set_new(o, "x", json_real(n->x));
			json_object_set_new(o, "y", json_real(n->y));
		} else {
			json_object_set_new(o, "column", json_integer(n->column));
		}
		json_t *in = json_object(), *members;
		const char *scope;
		json_object_foreach(s->member, scope, members) {
			json_t *c = json_object_get(members, n->id);
			if (c && synthesis_cluster(s, json_string_value(c)))
				json_object_set(in, scope, c);
		}
		json_object_set_new(o, "clusters", in);
		json_t *tc = synthesis_cluster(s, str0(in, n->table));
		if (tc)
			json_object_set(o, "table_theme", json_object_get(tc, "name"));
		const char *dup = json_string_value(json_object_get(s->dups, n->id));
		if (dup)
			json_object_set_new(o, "duplicate_of", json_string(dup));
		json_array_append_new(notes, o);
	}
	json_object_foreach(s->syntheses, id, x) {
		json_t *res = synthesis_result(w, id, &v);
		json_array_append_new(syns, json_pack("{s:s, s:O, s:O, s:O, s:o}", "id", id, "name",
						      json_object_get(x, "name"), "boards",
						      json_object_get(x, "boards"), "tables",
						      json_object_get(x, "tables"), "result",
						      res ? res : json_null()));
	}
	/* A table's own result, where the table grouped or voted. */
	for (i = 0; i < w->ntables; i++) {
		const char *t = w->tables[i].id;
		int used = 0;
		json_object_foreach(s->clusters, id, x)
			used |= strcmp(str0(x, "scope"), t) == 0 && synthesis_cluster(s, id);
		if (used)
			json_array_append_new(tres, synthesis_result(w, t, &v));
	}
	json_object_foreach(s->clusters, id, x)
		if (synthesis_cluster(s, id))
			json_array_append_new(clusters, json_pack("{s:s, s:O, s:O, s:O, s:O, s:O}", "id", id,
							"scope", json_object_get(x, "scope"), "table",
							json_object_get(x, "table"), "name",
							json_object_get(x, "name"), "order",
							json_object_get(x, "order"), "into",
							json_object_get(x, "into")));
	json_object_foreach(s->votes, id, x) {
		int closed = json_is_true(json_object_get(x, "closed"));
		json_t *o = json_pack("{s:s, s:O, s:O, s:O, s:O, s:O, s:b, s:i}", "id", id, "scope",
				      json_object_get(x, "scope"), "on", json_object_get(x, "on"),
				      "budget", json_object_get(x, "budget"), "max_per_item",
				      json_object_get(x, "max_per_item"), "hidden",
				      json_object_get(x, "hidden"), "closed", closed, "voters",
				      (int)json_object_size(json_object_get(x, "ballots")));
		if (closed)
			json_object_set(o, "totals", json_object_get(x, "results"));
		json_array_append_new(votes, o);
	}
	json_object_foreach(s->actions, id, x)
		json_array_append(actions, x);
	size_t k;
	json_array_foreach(s->published, k, x)
		json_array_append_new(published, json_pack("{s:O, s:O, s:O, s:O}", "synthesis",
							   json_object_get(x, "synthesis"), "name",
							   json_object_get(x, "name"), "version",
							   json_object_get(x, "version"), "seq",
							   json_object_get(x, "seq")));
	json_object_set_new(m, "tables", tables);
	json_object_set_new(m, "boards", boards);
	json_object_set_new(m, "notes", notes);
	json_object_set_new(m, "syntheses", syns);
	json_object_set_new(m, "table_results", tres);
	json_object_set_new(m, "clusters", clusters);
	json_object_set_new(m, "votes", votes);
	json_object_set_new(m, "actions", actions);
	json_object_set_new(m, "published", published);
	return m;
}

char *export_render(struct room *r, int moderator, int fmt, int64_t now_ms, size_t *len)
{
	if (!r->ws && r->mt) {
		/* Meetings and forums have their own export (meeting_export.c). */
		if (fmt == REPORT_MARKDOWN)
			return meeting_export_markdown(r->mt, len);
		json_t *x = fmt == REPORT_JSON ? meeting_export_json(r->mt) : NULL;
		char *s = x ? json_dumps(x, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
		json_decref(x);
		if (s)
			*len = strlen(s);
		return s;
	}
	json_t *m = export_model(r, moderator, now_ms);
	if (!m)
		return NULL;
	char *s = report_render(m, fmt, len);
	json_decref(m);
	return s;
}

/* ---- signed links ------------------------------------------------------------------------ */

int export_key_init(struct tv_server *srv)
{
	return crypto_random(srv->export_key, sizeof srv->export_key);
}

int export_link(struct tv_server *srv, const char *room, const char *identity, int moderator,
		int fmt, int64_t expires_ms, char *url, size_t n)
{
	struct export_token t = { .format = fmt, .expires_ms = expires_ms, .moderator = moderator };
	char token[EXPORT_TOKEN_MAX + 1];
	snprintf(t.room, sizeof t.room, "%s", room);
	snprintf(t.identity, sizeof t.identity, "%s", identity);
	if (export_token_make(srv->export_key, sizeof srv->export_key, &t, token, sizeof token))
		return -1;
	int len = snprintf(url, n, "/export?t=%s", token);
	return len < 0 || (size_t)len >= n ? -1 : 0;
}

static char *plain(const char *msg, size_t *len, const char **mime)
{
	*mime = "text/plain; charset=utf-8";
	*len = strlen(msg);
	return strdup(msg);
}

int export_http(struct tv_server *srv, const char *t, char **body, size_t *len,
		const char **mime, char *filename, size_t fnlen)
{
	filename[0] = 0;
	struct export_token tok;
	int st = export_token_check(srv->export_key, sizeof srv->export_key, t, &tok);
	if (st == EXPORT_TOKEN_FORGED) {
		*body = plain("this export link is not valid (made before a restart?): "
			      "ask for a new one\n", len, mime);
		return 403;
	}
	if (st != EXPORT_TOKEN_OK) {
		*body = plain("bad or missing export link: ask for a new one\n", len, mime);
		return 400;
	}
	if (server_now_ms() > tok.expires_ms) {
		*body = plain("this export link has expired: ask for a new one\n", len, mime);
		return 410;
	}
	const char *room = tok.room, *ident = tok.identity, *fmt_s = report_format_name(tok.format);
	int moderator = tok.moderator;
	struct room *r;
	int rc = room_get(srv, room, &r);
	if (rc) {
		*body = plain("no such room\n", len, mime);
		return 404;
	}
	int fmt = tok.format;
	*body = export_render(r, moderator, fmt, server_now_ms(), len);
	log_info("export.http", "room=%s identity=%s format=%s bytes=%zu", room, ident, fmt_s,
		 *body ? *len : 0);
	room_release_if_idle(r);
	if (!*body) {
		*body = plain("the export failed\n", len, mime);
		return 500;
	}
	*mime = report_media_type(fmt);
	snprintf(filename, fnlen, "tavla-%s.%s", room, report_extension(fmt));
	return 200;
}
