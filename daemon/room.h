/*
 * room.h: a live room: its place in the log, its fan-out ring and who is
 * subscribed and present.
 *
 * Responsible for: loading a room from the store on first use; assigning
 * seqs and submitting a room's writes; publishing committed events into the
 * ring (one reference per event, never one copy per subscriber); catching a
 * subscriber up from `since` (ring or store) before it goes live; presence;
 * closing subscribers that fall behind. Not responsible for: permissions
 * (dispatch), what an event means (handlers), sockets (conn, ws_server).
 *
 * The ring: the last `room_ring` published entries, at positions
 * pos_end - count .. pos_end - 1. A subscriber's tail is the position of the
 * next entry it has not sent; the connection drains from tail to pos_end
 * when its socket is writeable. A subscriber whose tail would be
 * overwritten, or whose unsent bytes exceed send_queue, is cut off with a
 * resume hint (the store makes that lossless).
 *
 * Invariants:
 *  1. head is the highest committed seq; events enter the ring in seq order,
 *     head + 1 each time, and only after their commit.
 *  2. Seqs are assigned by the store's writer (store.h), never here: a
 *     write that fails or turns out to repeat a request consumes none.
 *  3. For every subscriber, pos_end - count <= tail <= pos_end.
 *  4. A room with subscribers, writes in flight or pins stays loaded.
 */
#ifndef TV_ROOM_H
#define TV_ROOM_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <uv.h>

#include "crypto.h"
#include "event.h"
#include "map.h"
#include "meeting.h"
#include "store.h"
#include "workshop.h"

struct tv_server;
struct room;

/* The stored role of an identity a moderator removed from a room. */
#define ROOM_ROLE_REMOVED 0x100u

/* One connection's subscription to one room. Embedded in nothing: the
 * connection allocates it (conn.c) and room.c links it. */
struct room_sub {
	struct room *room;
	struct room_sub *prev, *next; /* room->subs */
	struct room_sub *conn_next;   /* the owning connection's list */
	struct room_sub *cut_next;    /* ring_push's list of lagging subscribers */
	uint64_t tail;                /* ring position of the next entry to send */
	uint64_t eph_from;            /* ephemeral entries before this are skipped */
	uint64_t last_seq;            /* highest seq handed to the connection */
	char identity_id[TV_ID_LEN + 1];
	unsigned role;
	char table[16];               /* the identity's table, "" for none */
	void *owner;                  /* the connection */
	/* Called when new entries arrive and the subscriber was caught up. */
	void (*wake)(struct room_sub *s);
	/* Called when the subscriber fell too far behind; it is already
	 * unsubscribed. The owner closes the connection with a resume hint. */
	void (*lagged)(struct room_sub *s);
};

struct ring_slot {
	struct tv_event *ev;
	uint64_t bytes_before; /* bytes published before this entry */
};

struct room {
	struct tv_server *srv;
	char id[TV_ID_LEN + 1], org_id[TV_ID_LEN + 1], code[8], kind[17];
	char *title;
	uint64_t head;
	unsigned inflight;
	struct ring_slot *ring;
	size_t cap, count;
	uint64_t pos_end, bytes_end;
	struct room_sub *subs;
	size_t nsubs;
	struct map presence; /* identity id -> struct presence * */
	struct workshop *ws; /* rooms of kind workshop: state derived from events */
	struct meeting *mt;  /* rooms of kind meeting and forum: the same (§9) */
	uv_timer_t *timer;   /* the workshop timer's expiry (own allocation) */
	uv_timer_t *pres_timer;          /* coalesced presence (room.c) */
	json_t *pres_joined, *pres_left; /* presence changes not yet published */
	int pres_shown;      /* a join reply listed presence since the last flush */
	unsigned pins;       /* reasons to stay loaded besides subscribers */
	int archived;        /* tavlad admin room-archive: join refused */
	int timer_pinned;
};

/* The loaded room with this id, loading it from the store if needed.
 * Returns 0, -TV_E_ROOM_NOT_FOUND or another negative code. */
int room_get(struct tv_server *srv, const char *id, struct room **out);
/* The same by join code (-TV_E_BAD_CODE when none). */
int room_by_code(struct tv_server *srv, const char *code, struct room **out);
/* Unloads the room if nothing holds it (invariant 4). Call after the last
 * use of a pointer obtained from room_get. */
void room_release_if_idle(struct room *r);
/* Stops every room's timers (shutdown): a running workshop timer or a
 * pending presence flush must not keep the loop alive. */
void room_quiesce_all(struct tv_server *srv);
/* Unloads every room (shutdown; no subscribers or writes may remain). */
void room_unload_all(struct tv_server *srv);

/* Role bit of an identity in r: moderator for accounts of r's organisation,
 * else the member role from the store; 0 when not a member. */
unsigned room_role_of(struct room *r, const char *identity_id, const char *kind,
                      const char *org_id);

/* ---- appending ---------------------------------------------------------------- */
/* A write that appends one event to a room (plus whatever else the handler
 * puts in `w`). The handler embeds this at the start of its own struct and
 * owns every string it points to until done runs. */
struct room_write {
	struct store_write w;
	struct room *room;
	struct tv_event_view ev; /* ts is filled by room_write_submit, seq by the writer */
	/* Called after the event was published (w.status == 0), when the
	 * request turned out to be a repeat (w.duplicate: nothing published,
	 * w.reply is the first result), or after the write failed (w.status <
	 * 0, nothing published). Frees the handler's struct; w.reply is
	 * released after it returns. */
	void (*done)(struct room_write *rw);
	uint64_t seq; /* the assigned seq, valid when w.status == 0 */
};
/* Stamps the time and submits. The room stays loaded until done. */
void room_write_submit(struct room *r, struct room_write *rw);
/* Cluster mode: an event another node appended was stored here (v->seq
 * set): the loaded room applies and publishes it exactly as its own;
 * nothing happens when the room is not loaded. Thread: loop. */
void room_replica_event(struct tv_server *srv, const struct tv_event_view *v);

/* ---- subscribing -------------------------------------------------------------- */
/* Hands every event with since < seq <= min(head, since + page) to emit (as
 * the bytes of viewer v's audience, borrowed; events v may not see are
 * passed over) in order; emit returns
 * 0 to go on, > 0 to stop (its byte budget is spent), < 0 on error.
 * Returns 1 when head was reached (complete), 0 when paging must continue,
 * or negative; *through gets the last seq emitted (since if none). */
int room_catch_up(struct room *r, const struct tv_viewer *v, uint64_t since, long page,
                  int (*emit)(void *arg, struct tv_buf *b), void *arg,
                  uint64_t *through);
/* Links s live at the ring's end (everything up to head must have been
 * emitted by room_catch_up) and updates presence; `name` is the
 * subscriber's display name for presence. */
int room_subscribe(struct room *r, struct room_sub *s, const char *name);
/* Unlinks s and updates presence. Does not unload the room. */
void room_unsubscribe(struct room_sub *s);
/* The viewer a subscriber is. */
void room_sub_viewer(const struct room_sub *s, struct tv_viewer *v);
/* Appends a server-made event (author null) outside any request, e.g. the
 * timer's expiry. data is taken. Returns 0 or negative. */
int room_append_system(struct room *r, const char *kind, json_t *data);
/* Who is present now, as a new JSON array reference of at most
 * ROOM_PRESENCE_LIST_MAX entries; *present is set to the whole count.
 * NULL when out of memory. Marks the pending presence changes as shown
 * (they may no longer cancel out unpublished). */
#define ROOM_PRESENCE_LIST_MAX 200
void *room_presence_json(struct room *r, size_t *present);

/* Next entry for s as wire bytes (borrowed), advancing its tail; NULL when
 * caught up. peek leaves the tail where it is. Entries s may not see are
 * passed over. */
struct tv_buf *room_sub_next(struct room_sub *s, int peek);

#endif
