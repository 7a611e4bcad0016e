/*
 * synthesis.h: the convergence half of a workshop, derived from its events:
 * syntheses (which boards and tables feed a plenary view), clusters
 * (themes), duplicates, rejected suggestions, dot votes, action items and
 * published versions.
 *
 * Responsible for: applying synthesis events to this state (pure
 * bookkeeping, like workshop.c), answering questions about it (which notes
 * a scope holds, where a note is clustered, a vote's totals) and building
 * the ranked result of a scope. Not responsible for: the rules of who may
 * do what (synthesis_ops.c), rendering reports (report.c), visibility of
 * events (event.c).
 *
 * Scopes. Grouping happens in a scope: a table ("t3", the table groups its
 * own notes) or a synthesis ("s1", the plenary over chosen boards and
 * tables). A note is in at most one cluster per scope, so a note can sit
 * in its table's cluster and, at the same time, in a plenary cluster.
 * Notes are referenced by id, never copied: a cluster is a name and an
 * order; membership is the map scope -> note -> cluster.
 *
 * Two-level convergence: a table cluster merged into a plenary cluster
 * brings its notes along and stays linked ("into"); the dots it got in its
 * table's closed vote are carried and shown per table. A cluster merged
 * into another of the same scope is gone (its notes moved).
 *
 * The state is held as jansson values: the sizes are hundreds of notes,
 * the questions are asked once per request, and the same values are what
 * events, replies and exports carry.
 *
 * Invariants:
 *  1. Applying the same events in the same order gives the same state.
 *  2. Every cluster id named in `member` exists in `clusters`.
 *  3. A ballot never holds more dots than its vote's budget (checked by
 *     the op before it is appended).
 */
#ifndef TV_SYNTHESIS_H
#define TV_SYNTHESIS_H

#include <jansson.h>

struct workshop;
struct tv_event;

struct synthesis {
	json_t *clusters;  /* id -> {id, scope, table, name, order, into, deleted} */
	json_t *member;    /* scope -> {note id -> cluster id} */
	json_t *dups;      /* note id -> the note it duplicates */
	json_t *rejected;  /* scope -> {"n1|n2": true} (pairs sorted by id) */
	json_t *votes;     /* id -> {id, scope, table, budget, max_per_item, hidden, on,
			    *        closed, ballots: {voter: {item: dots}}, results} */
	json_t *syntheses; /* id -> {id, name, boards, tables} */
	json_t *actions;   /* id -> {id, cluster, text, owner, due, status} */
	json_t *published; /* [{synthesis, name, version, seq, snapshot}] */
	unsigned next_cluster, next_vote, next_synthesis, next_action;
};

int synthesis_init(struct synthesis *s);
void synthesis_clear(struct synthesis *s);

/* Applies a synthesis event (kinds synthesis.*, cluster.*, duplicate.*,
 * suggestion.*, vote.*, action.*); *undoable is set when a moderator may
 * undo it. Returns 1 when the kind was one of these, 0 when not, negative
 * on OOM. */
int synthesis_apply(struct workshop *w, const struct tv_event *e, json_t *d, int *undoable);

/* The undo of an undoable synthesis event: *kind and the data of the event
 * that reverses it (new reference), or NULL when kind is not ours. */
json_t *synthesis_inverse(struct workshop *w, const char *kind, json_t *d, const char **out_kind);

/* Scope checks. Returns the table id for a table scope, "" for a synthesis,
 * NULL when the scope does not exist. */
const char *synthesis_scope_table(struct workshop *w, const char *scope);
/* 1 if note (by id) belongs to scope: a table's own notes, or a
 * synthesis's boards and tables (empty lists: all). Deleted and pending
 * notes belong nowhere; hidden ones only when with_hidden. */
int synthesis_in_scope(struct workshop *w, const char *scope, const char *note_id,
                       int with_hidden);
/* The cluster a note is in within scope, or "". */
const char *synthesis_cluster_of(struct synthesis *s, const char *scope, const char *note_id);
/* A live cluster (not deleted, not merged away), or NULL. */
json_t *synthesis_cluster(struct synthesis *s, const char *id);
/* The open vote of a scope, or NULL. */
json_t *synthesis_open_vote(struct synthesis *s, const char *scope);
/* Totals {item: dots} of a vote's ballots (new reference). */
json_t *synthesis_vote_totals(json_t *vote);

/* Who is asking, for what the result may show. */
struct synthesis_viewer {
	int moderator;   /* sees hidden notes and authors named to moderators */
	int show_open;   /* show running totals of an open, hidden vote */
};

/*
 * The ranked result of a scope (new reference):
 *   {scope, name, tables_total, vote: {...} | null,
 *    clusters: [{id, name, rank, tie, dots, carried: {table: dots},
 *                carried_total, raised_at, tables: [...], notes: [...],
 *                actions: [...]}],
 *    unclustered: [note...]}
 * Clusters are ranked by the dots of the scope's latest vote on clusters
 * (open and not hidden, or closed), ties sharing a rank, then by order and
 * id. Each note: {id, text, board, question, table, table_name, author_name
 * (only when the note's anonymity lets the viewer see it), dots,
 * duplicates: [note...]}.
 */
json_t *synthesis_result(struct workshop *w, const char *scope, const struct synthesis_viewer *v);

/* A note as the result and the export show it (new reference). */
json_t *synthesis_note_json(struct workshop *w, const char *note_id,
                            const struct synthesis_viewer *v);

#endif
