/*
 * event.h: one entry of a room's log, in memory, with its wire bytes.
 *
 * Responsible for: holding an event's fields and rendering it to JSON once
 * per audience, lazily, sharing those bytes by reference with every
 * recipient. Not responsible for: deciding who is in which audience (room.c
 * asks event_audience()), storing (store.c) or sending (conn.c).
 *
 * Audiences exist because not everyone may see everything: today every
 * event has the single audience TV_AUD_ALL; hidden writing and anonymity
 * add audiences (the author and moderators see a hidden note's text, others
 * a placeholder) without changing the fan-out path.
 *
 * Ephemeral entries (presence) travel through the same ring as events; they
 * have seq 0, are never stored, and carry pre-rendered bytes.
 *
 * Invariants:
 *  1. An event with seq > 0 was committed to the store before it was created
 *     from a completion or read back from the store.
 *  2. wire[a], once rendered, never changes (recipients hold references).
 *  3. Reference counts are touched only on the loop thread.
 */
#ifndef TV_EVENT_H
#define TV_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "tv_protocol.h"

enum tv_audience { TV_AUD_ALL = 0, TV_AUD__COUNT };

struct tv_event {
	unsigned refs;
	uint64_t seq; /* 0: ephemeral */
	int64_t ts_ms;
	char *room_id;
	char *author_id;   /* NULL: the server */
	char *author_name;
	char *kind;
	char *data;        /* JSON object text */
	size_t data_len;
	struct tv_buf *wire[TV_AUD__COUNT];
};

/* New event copying every string (view->data_json is copied verbatim).
 * Returns one reference, or NULL on OOM. */
struct tv_event *event_new(const struct tv_event_view *view);
/* New ephemeral entry that sends `wire` to everyone; takes a reference to
 * wire. seq is 0. */
struct tv_event *event_new_ephemeral(const char *room_id, struct tv_buf *wire);

static inline struct tv_event *event_ref(struct tv_event *e)
{
	e->refs++;
	return e;
}
void event_unref(struct tv_event *e);

/* The bytes audience `aud` receives, rendered on first use. Borrowed (take
 * a reference with tv_buf_ref to keep them). NULL on OOM. */
struct tv_buf *event_wire(struct tv_event *e, enum tv_audience aud);

/* The view of e for encoders and the store (borrowed pointers into e). */
void event_view(const struct tv_event *e, struct tv_event_view *out);

#endif
