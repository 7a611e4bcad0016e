/*
 * meeting.h: the state of a network meeting or learning forum, derived from
 * its events.
 *
 * Responsible for: the agenda and its current item, polls with their
 * ballots, check-in/check-out rounds, raised hands and the speaker, chat
 * replies and reactions, forum threads and posts with their edit history,
 * and the names of the room's members; each rebuilt by applying the room's
 * events in seq order (meeting_apply), live or replayed when the room
 * loads. Not responsible for: the rules of who may do what
 * (meeting_ops.c), how an event is shown to whom (event.c), storage,
 * search (search.c) or rendering a report (meeting_export.c).
 *
 * Rooms of kind "meeting" and "forum" share this one model: a meeting may
 * open a thread and a forum may run a poll.
 *
 * Invariants:
 *  1. Applying the same events in the same order gives the same state, so
 *     a restart (replay) and a live room never differ.
 *  2. items[k] has id "a<k+1>", polls[k] "p<k+1>", rounds[k] "rd<k+1>";
 *     threads are "th<n>" and posts "m<n>", both in posts[]. Removed and
 *     deleted entries keep their slot (and id).
 *  3. A ballot of an anonymous poll is held here (one answer per identity
 *     must be enforced) but never leaves this module with its identity:
 *     meeting_poll_results() and the export name voters of named polls
 *     only.
 *  4. "decided" fields are the latest decision accepted by a handler and
 *     not yet committed (see workshop.h for why); meeting_forget_decisions
 *     resets them to the committed state when a write fails.
 */
#ifndef TV_MEETING_H
#define TV_MEETING_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "map.h"

struct tv_event;

#define MT_ID_LEN 12

enum mt_poll_type { POLL_SINGLE, POLL_MULTIPLE, POLL_SCALE, POLL_TEXT, POLL__COUNT };

struct mt_item {
	char id[MT_ID_LEN];
	char *title, *kind, *presenter;
	char start[6]; /* "HH:MM" */
	int minutes;
	int removed;
};

struct mt_ballot {
	char identity[40];
	char *name;
	json_t *answer;  /* committed answer (owned), NULL before the first commit */
	json_t *decided; /* accepted, not yet committed (owned) or NULL */
};

struct mt_poll {
	char id[MT_ID_LEN];
	char *question;
	int type;
	json_t *options; /* [{"id":"o1","text":…}] */
	int anonymous, live;
	int closed, closing; /* closing: a close was accepted (decision) */
	json_t *results;     /* as poll.closed carried them, once closed */
	struct mt_ballot *ballots; /* in order of first answer */
	size_t nballots, cap;
};

struct mt_round_answer {
	char identity[40];
	char *name, *text;
};

struct mt_round {
	char id[MT_ID_LEN];
	char kind[12];
	char *prompt;
	int closed, closing;
	struct mt_round_answer *answers; /* in order of first answer */
	size_t nanswers, cap;
};

struct mt_post {
	char id[MT_ID_LEN];
	char thread[MT_ID_LEN]; /* "" for a thread's opening post */
	char reply_to[MT_ID_LEN];
	char author[40];
	char *author_name, *title, *text;
	json_t *mentions; /* [{"id","name"}] */
	json_t *history;  /* earlier versions [{"text","title"?,"ts","by"}] */
	uint64_t seq;     /* the event that created it */
	int64_t ts_ms, edited_ms;
	int deleted;
};

/* A chat message or post that can carry reactions. */
struct mt_target {
	uint64_t seq;
	char kind[16];
	char post[MT_ID_LEN]; /* for posts and threads */
	char author[40];
	char *author_name, *text;
	uint64_t reply_to;    /* chat replies */
	int64_t ts_ms;
	json_t *reactions;    /* {"emoji":["identity",…]} */
};

struct meeting {
	char *title, *kind;
	struct mt_item *items;
	size_t nitems;
	char current[MT_ID_LEN];
	struct mt_poll *polls;
	size_t npolls;
	struct mt_round *rounds;
	size_t nrounds;
	json_t *hands;      /* [{"identity","name"}] in order raised */
	/* Identities called by a queue.next accepted but not yet applied, so
	 * a second queue.next in flight calls the next hand, not the same. */
	json_t *called;
	char speaker[40];
	char *speaker_name;
	struct mt_post *posts;
	size_t nposts, posts_cap;
	struct map post_ix; /* post id -> index + 1 */
	struct mt_target *targets; /* ascending seq */
	size_t ntargets, targets_cap;
	struct map names;   /* identity id -> name (malloc'd) */
	/* Ids handed out to writes in flight (ahead of the applied state). */
	unsigned next_item, next_poll, next_round, next_thread, next_post;
};

struct meeting *meeting_new(void);
void meeting_free(struct meeting *m);

/* Applies one committed event (any kind; unknown kinds are ignored).
 * Returns 0, or negative only on OOM. */
int meeting_apply(struct meeting *m, const struct tv_event *e);
/* Drops every decision not yet committed (a write failed). */
void meeting_forget_decisions(struct meeting *m);

struct mt_item *meeting_item(struct meeting *m, const char *id);
struct mt_poll *meeting_poll(struct meeting *m, const char *id);
struct mt_round *meeting_round(struct meeting *m, const char *id);
struct mt_post *meeting_post(struct meeting *m, const char *id);
struct mt_target *meeting_target(struct meeting *m, uint64_t seq);
/* The known display name of an identity, or NULL. */
const char *meeting_name(struct meeting *m, const char *identity_id);
struct mt_ballot *meeting_ballot(struct mt_poll *p, const char *identity_id);
/* The answer that counts now for b: the decided one if any, else the
 * committed one (borrowed, may be NULL). */
json_t *meeting_ballot_answer(const struct mt_ballot *b);
/* The ballot of identity, created empty if missing (NULL on OOM). */
struct mt_ballot *meeting_ballot_add(struct mt_poll *p, const char *identity_id,
                                     const char *name);
/* 1 if identity has a raised hand. */
int meeting_hand_raised(const struct meeting *m, const char *identity_id);

const char *meeting_poll_type_name(int type);
int meeting_poll_type_parse(const char *s); /* -1 if unknown */
/* 1 if kind is an agenda kind (theme, talk, dialogue, break, lunch,
 * closing). */
int meeting_item_kind_valid(const char *kind);

/*
 * The normal form of a free-text poll answer, so that "Ja!", " ja " and
 * "JA" count as one: NFKC and case folding (å ä ö stay letters of their
 * own), whitespace runs collapsed to one space, leading and trailing
 * spaces and trailing . ! ? … removed. Returns a new string (free()),
 * "" when nothing is left, or NULL for invalid UTF-8 or OOM.
 */
char *meeting_normalise_answer(const char *s, size_t len);

/*
 * The results of a poll as poll.closed carries them and the export shows
 * them: {"voters":N, "counts":{option id or scale value: n}} for choice and
 * scale polls (plus "mean" for scale), {"voters":N, "answers":[{"text",
 * "count"}]} for text polls (most frequent first, then alphabetical), and
 * for named polls only "ballots":[{"identity","name","answer"}]. Uses the
 * answers that count now (decided or committed). New reference.
 */
json_t *meeting_poll_results(const struct mt_poll *p);

#endif
