/*
 * event.h: one entry of a room's log, in memory, with its wire bytes.
 *
 * Responsible for: holding an event's fields, deciding which rendering
 * ("audience") a viewer gets, and rendering each audience once, lazily,
 * sharing those bytes by reference with every recipient in it. Not
 * responsible for: storing (store.c) or sending (conn.c).
 *
 * Audiences exist because not everyone may see everything. Every event
 * kind has a visibility class, fixed when the event is created from its
 * kind and data (never from the room's current state, so a replay renders
 * exactly what was sent live):
 *
 *   VIS_PUBLIC      everyone gets the stored bytes (audience 0)
 *   VIS_NOTE        a post-it event: by viewer, the full event (0), the event
 *                   without its author (1), a placeholder without text or
 *                   author (2), or nothing (other tables; pending notes)
 *   VIS_REVEAL      writing.revealed: each table gets only its own notes,
 *                   authors as their anonymity allows (TV_AUD_REVEAL | ...)
 *   VIS_MODERATORS  moderators only
 *   VIS_TABLE       a table's own grouping and voting (cluster.*, vote.*,
 *                   suggestion.* with a table): that table, moderators and
 *                   observers; other tables get nothing
 *   VIS_BALLOT      vote.cast: the voter gets it all (0); everyone else in
 *                   the vote's scope gets it without the voter and their
 *                   dots (1), and without the running totals when the vote
 *                   is hidden
 *   VIS_POLL        poll.answered: the answerer gets it whole; in an
 *                   anonymous poll nobody else gets the author; while
 *                   results are not live, participants and observers get a
 *                   placeholder without the answer (moderators see it)
 *
 * Ephemeral entries (presence) travel through the same ring as events; they
 * have seq 0, are never stored, and carry pre-rendered bytes.
 *
 * Invariants:
 *  1. An event with seq > 0 was committed to the store before it existed.
 *  2. A rendered audience never changes (recipients hold references).
 *  3. Reference counts are touched only on the loop thread.
 *  4. No rendering for a viewer who must not know a note's author contains
 *     the author's id or name; none for a viewer who must not read a note
 *     contains its text.
 */
#ifndef TV_EVENT_H
#define TV_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "tv_protocol.h"

#define TV_AUD_ALL 0u
#define TV_AUD_NO_AUTHOR 1u
#define TV_AUD_PLACEHOLDER 2u
#define TV_AUD_REVEAL 0x40000000u /* | table << 1 | (1: authors of named notes only) */
#define TV_AUD_SKIP UINT32_MAX

enum event_vis { VIS_PUBLIC, VIS_NOTE, VIS_REVEAL, VIS_MODERATORS, VIS_TABLE, VIS_BALLOT, VIS_POLL };
enum note_anonymity { ANON_NAMED = 0, ANON_MODERATORS = 1, ANON_ANONYMOUS = 2 };

/* Who is looking. table is "" when the viewer sits at no table. */
struct tv_viewer {
	const char *identity_id;
	unsigned role;
	const char *table;
};

struct aud_buf {
	uint32_t aud;
	struct tv_buf *buf;
};

struct tv_event {
	unsigned refs;
	uint64_t seq; /* 0: ephemeral */
	int64_t ts_ms;
	char *room_id;
	char *author_id;   /* NULL: the server */
	char *author_name;
	char *kind;
	char *data;        /* JSON object text, as stored */
	size_t data_len;
	/* Visibility, parsed once from kind and data. */
	unsigned char vis, anon, hidden, pending;
	char table[16];
	char owner[24];    /* note events made by someone else: the note's author */
	/* Rendered audiences; wire0 (audience 0) inline, others in extra. */
	struct tv_buf *wire0;
	struct aud_buf *extra;
	unsigned nextra;
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

/* The audience of viewer v for e, or TV_AUD_SKIP when v gets nothing. */
uint32_t event_audience(const struct tv_event *e, const struct tv_viewer *v);
/* The bytes of audience aud, rendered on first use. Borrowed (take a
 * reference with tv_buf_ref to keep them). NULL on OOM. */
struct tv_buf *event_wire(struct tv_event *e, uint32_t aud);

/* The view of e for encoders and the store (borrowed pointers into e). */
void event_view(const struct tv_event *e, struct tv_event_view *out);

/* Parses "named" / "moderators" / "anonymous"; -1 for anything else. */
int event_anonymity_parse(const char *s);
const char *event_anonymity_name(int anon);

#endif
