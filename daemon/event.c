/* event.c: log entries with lazily rendered, shared wire bytes (event.h). */
#include "event.h"

#include <stdlib.h>
#include <string.h>

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
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
	for (int a = 0; a < TV_AUD__COUNT; a++)
		e->wire[a] = tv_buf_ref(wire);
	return e;
}

void event_unref(struct tv_event *e)
{
	if (!e || --e->refs)
		return;
	for (int a = 0; a < TV_AUD__COUNT; a++)
		tv_buf_unref(e->wire[a]);
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

struct tv_buf *event_wire(struct tv_event *e, enum tv_audience aud)
{
	if (e->wire[aud])
		return e->wire[aud];
	struct tv_event_view v;
	event_view(e, &v);
	size_t len = 0;
	char *s = tv_encode_event(&v, &len);
	e->wire[aud] = tv_buf_take(s, len);
	return e->wire[aud];
}
