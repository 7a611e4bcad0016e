/*
 * workshop.h: the state of a post-it workshop, derived from its events.
 *
 * Responsible for: tables, boards (columns, matrix, timeline), notes,
 * seating, the phase, private writing, the timer, readiness and the undo
 * stack, each rebuilt by applying the room's events in seq order
 * (workshop_apply), whether live or replayed when the room loads. Not
 * responsible for: the rules of who may do what (workshop_ops.c), how an
 * event is shown to whom (event.c), storage or sending.
 *
 * Design: one board per question, shared by every table and partitioned
 * by table (each note carries its table). Adding a table needs no new
 * boards, a table sees its partition, moderators see all, and the synthesis
 * of all tables is the same notes without the partition filter. Argued in
 * docs/workshops.md.
 *
 * Invariants:
 *  1. Applying the same events in the same order gives the same state, so
 *     a restart (replay) and a live room never differ.
 *  2. notes[k] has id "n<k+1>"; a deleted note keeps its slot, id, board and
 *     table (its skeleton) with the text dropped.
 *  3. The undo stack holds at most WS_UNDO_MAX entries, newest last.
 */
#ifndef TV_WORKSHOP_H
#define TV_WORKSHOP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "map.h"
#include "synthesis.h"

struct tv_event;

#define WS_UNDO_MAX 20
#define WS_ID_LEN 12

enum ws_phase { PH_SETUP, PH_WRITE, PH_GROUP, PH_VOTE, PH_DISCUSS, PH_CLOSED, PH__COUNT };
enum ws_layout { LAYOUT_COLUMNS, LAYOUT_MATRIX, LAYOUT_TIMELINE };
enum ws_timer { TIMER_STOPPED, TIMER_RUNNING, TIMER_PAUSED };

struct ws_table {
	char id[WS_ID_LEN];
	char *name;
	int64_t last_note_ms; /* telemetry: when a note last arrived */
};

struct ws_board {
	char id[WS_ID_LEN];
	char *title;
	int layout;
	int ncolumns;
	int anon;
	int premoderation;
	json_t *spec; /* board.created's data: columns, axes (owned reference) */
};

struct ws_note {
	char id[WS_ID_LEN], board[WS_ID_LEN], table[WS_ID_LEN];
	char author[TV_ID_LEN + 1];
	char *author_name;
	char *text; /* kept after deletion for undo; never sent then */
	char colour[12];
	int column;
	double x, y;
	unsigned char hidden, pending, deleted, anon, proxy, by_moderator;
	char *proxy_for;
	int64_t created_ms, edited_ms;
	/* Notes imported from another room (notes.imported): {room,
	 * room_title, note, table, table_name, question}; NULL otherwise. */
	json_t *origin;
};

struct ws_undo {
	uint64_t seq;
	char kind[24];
	json_t *data; /* the undoable event's data (owned reference) */
};

struct workshop {
	/* phase and private_writing are what the rules use: the latest
	 * decision, set when a moderator's change is accepted, before it
	 * commits, because every write accepted after it commits after it
	 * (one writer, FIFO). The committed values restore them if that write
	 * fails. */
	int phase;
	int private_writing;
	int phase_committed, private_committed;
	struct ws_table *tables;
	size_t ntables;
	struct ws_board *boards;
	size_t nboards;
	struct ws_note *notes;
	size_t nnotes, notes_cap;
	struct map seats; /* identity id -> table id (malloc'd string) */
	struct map ready; /* identity id -> non-NULL when done */
	struct map imported; /* "room/note" of every note imported from another room */
	int timer;
	int64_t timer_ends_ms, timer_left_ms;
	char focus[WS_ID_LEN];
	struct ws_undo undo[WS_UNDO_MAX];
	int nundo;
	/* Ids handed out to writes in flight (ahead of the applied state). */
	unsigned next_note, next_board, next_table;
	struct synthesis syn; /* clusters, votes, actions (synthesis.h) */
};

struct workshop *workshop_new(void);
void workshop_free(struct workshop *w);

/* Applies one committed event (any kind; unknown kinds are ignored).
 * Returns 0, or negative only on OOM. */
int workshop_apply(struct workshop *w, const struct tv_event *e);

const char *workshop_phase_name(int phase);
int workshop_phase_parse(const char *s);   /* -1 if unknown */
const char *workshop_layout_name(int layout);
int workshop_layout_parse(const char *s);  /* -1 if unknown */
/* 1 if colour is in the fixed palette. */
int workshop_colour_valid(const char *colour);

struct ws_board *workshop_board(struct workshop *w, const char *id);
struct ws_table *workshop_table(struct workshop *w, const char *id);
struct ws_note *workshop_note(struct workshop *w, const char *id);
/* The table an identity sits at, or "" */
const char *workshop_seat(struct workshop *w, const char *identity_id);
/* Seated identities at table t. */
unsigned workshop_seated(struct workshop *w, const char *table);
/* The least occupied table (lowest id on ties), or NULL with no tables. */
struct ws_table *workshop_pick_table(struct workshop *w);

/* Undoes the decisions of a write that failed (see struct workshop). */
void workshop_forget_decisions(struct workshop *w);

/* A note's data as events carry it (id, board, table, position, colour,
 * text, anonymity, hidden, pending, proxy); new reference. */
json_t *workshop_note_json(const struct ws_note *n);

#endif
