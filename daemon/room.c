/*
 * room.c: live rooms, seq assignment, the fan-out ring, catch-up and
 * presence (see room.h for the model and invariants).
 *
 * Why a ring rather than a queue per connection: an event published to a
 * room of 1,000 subscribers costs one slot and one reference here, and each
 * connection only moves its tail. Slow subscribers cost nothing until they
 * fall off the end, when they are cut off and resume from the store.
 */
#include "room.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "replica.h"
#include "server.h"

struct presence {
	unsigned count; /* subscriptions of this identity */
	unsigned role;
	char name[256];
};

/* ---- loading -------------------------------------------------------------------- */

static void free_presence(const char *key, void *value, void *arg)
{
	free(value);
}

static void free_timer(uv_handle_t *h)
{
	free(h);
}

static void room_free(struct room *r)
{
	for (size_t i = 0; i < r->cap; i++)
		event_unref(r->ring[i].ev);
	free(r->ring);
	map_each(&r->presence, free_presence, NULL);
	map_free(&r->presence);
	workshop_free(r->ws);
	meeting_free(r->mt);
	json_decref(r->pres_joined);
	json_decref(r->pres_left);
	if (r->pres_timer) {
		uv_timer_stop(r->pres_timer);
		r->pres_timer->data = NULL;
		uv_close((uv_handle_t *)r->pres_timer, free_timer);
	}
	if (r->timer) {
		uv_timer_stop(r->timer);
		uv_close((uv_handle_t *)r->timer, free_timer);
	}
	free(r->title);
	free(r);
}

static void timer_sync(struct room *r);

static int replay_one(void *arg, const struct tv_event_view *v)
{
	struct room *r = arg;
	struct tv_event *e = event_new(v);
	int rc = !e ? -TV_E_INTERNAL : r->ws ? workshop_apply(r->ws, e) : meeting_apply(r->mt, e);
	event_unref(e);
	return rc != 0;
}

/* Rebuilds a workshop's state from its whole log (workshop.h, invariant 1).
 * Runs when the room loads, never at daemon start-up. */
static int replay(struct room *r)
{
	if (strcmp(r->kind, "workshop") == 0)
		r->ws = workshop_new();
	else
		r->mt = meeting_new();
	if (!r->ws && !r->mt)
		return -TV_E_INTERNAL;
	for (uint64_t after = 0; after < r->head;) {
		long n = store_events(r->srv->store, r->id, after, r->head, 1000, replay_one, r);
		if (n <= 0)
			return n < 0 ? (int)n : -TV_E_STORAGE_ERROR;
		after += (uint64_t)n;
	}
	timer_sync(r);
	return 0;
}

static int room_load(struct tv_server *srv, struct store_room *sr, struct room **out)
{
	/* A retention write is deciding which idle rooms to delete from a
	 * snapshot of the loaded ones; a room loaded now could be deleted
	 * under it. The write takes milliseconds: the client retries. */
	if (srv->retention_inflight)
		return -TV_E_OVERLOADED;
	struct room *r = calloc(1, sizeof *r);
	if (!r)
		return -TV_E_INTERNAL;
	r->srv = srv;
	r->archived = sr->archived;
	memcpy(r->id, sr->id, sizeof r->id);
	memcpy(r->org_id, sr->org_id, sizeof r->org_id);
	memcpy(r->code, sr->code, sizeof r->code);
	memcpy(r->kind, sr->kind, sizeof r->kind);
	r->title = sr->title;
	sr->title = NULL;
	r->head = sr->head;
	r->cap = (size_t)srv->cfg->room_ring;
	r->ring = calloc(r->cap, sizeof *r->ring);
	map_init(&r->presence);
	if (!r->ring || map_put(&srv->rooms_by_id, r->id, r)) {
		room_free(r);
		return -TV_E_INTERNAL;
	}
	if (strcmp(r->kind, "workshop") == 0 || strcmp(r->kind, "meeting") == 0 ||
	    strcmp(r->kind, "forum") == 0) {
		int rc = replay(r);
		if (rc) {
			map_del(&srv->rooms_by_id, r->id);
			room_free(r);
			return rc;
		}
	}
	log_debug("room.load", "room=%s head=%llu", r->id, (unsigned long long)r->head);
	*out = r;
	return 0;
}

int room_get(struct tv_server *srv, const char *id, struct room **out)
{
	if ((*out = map_get(&srv->rooms_by_id, id)))
		return 0;
	struct store_room sr;
	int rc = store_room_get(srv->store, id, &sr);
	if (!rc)
		rc = room_load(srv, &sr, out);
	store_room_clear(&sr);
	return rc;
}

int room_by_code(struct tv_server *srv, const char *code, struct room **out)
{
	struct store_room sr;
	int rc = store_room_by_code(srv->store, code, &sr);
	if (rc == -TV_E_ROOM_NOT_FOUND)
		return -TV_E_BAD_CODE;
	if (!rc) {
		if ((*out = map_get(&srv->rooms_by_id, sr.id)) == NULL)
			rc = room_load(srv, &sr, out);
	}
	store_room_clear(&sr);
	return rc;
}

void room_release_if_idle(struct room *r)
{
	if (!r || r->nsubs || r->inflight || r->pins)
		return;
	map_del(&r->srv->rooms_by_id, r->id);
	log_debug("room.unload", "room=%s", r->id);
	room_free(r);
}

static void quiesce_one(const char *key, void *value, void *arg)
{
	struct room *r = value;
	if (r->timer)
		uv_timer_stop(r->timer);
	if (r->pres_timer)
		uv_timer_stop(r->pres_timer);
}

void room_quiesce_all(struct tv_server *srv)
{
	map_each(&srv->rooms_by_id, quiesce_one, NULL);
}

static void unload_one(const char *key, void *value, void *arg)
{
	room_free(value);
}

void room_unload_all(struct tv_server *srv)
{
	map_each(&srv->rooms_by_id, unload_one, NULL);
	map_free(&srv->rooms_by_id);
}

unsigned room_role_of(struct room *r, const char *identity_id, const char *kind,
		      const char *org_id)
{
	if (strcmp(kind, "account") == 0 && strcmp(org_id, r->org_id) == 0)
		return TV_ROLE_MODERATOR;
	unsigned role = 0;
	if (store_member_role(r->srv->store, r->id, identity_id, &role))
		return 0;
	return role;
}

/* ---- the ring -------------------------------------------------------------------- */

static uint64_t ring_start(const struct room *r)
{
	return r->pos_end - r->count;
}

static struct ring_slot *slot_at(struct room *r, uint64_t pos)
{
	return &r->ring[pos % r->cap];
}

/* Unsent bytes of s: what was published since its tail. */
static uint64_t lag_bytes(struct room *r, const struct room_sub *s)
{
	if (s->tail >= r->pos_end)
		return 0;
	return r->bytes_end - slot_at(r, s->tail)->bytes_before;
}

static void unlink_sub(struct room *r, struct room_sub *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		r->subs = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
	s->room = NULL;
	r->nsubs--;
}

static void presence_leave(struct room *r, const char *identity_id);

/* Appends e (taking the caller's reference) and wakes subscribers. */
static void ring_push(struct room *r, struct tv_event *e)
{
	struct tv_buf *b = event_wire(e, TV_AUD_ALL);
	size_t len = b ? b->len : 0; /* the largest rendering: a fair bound */
	uint64_t limit = (uint64_t)r->srv->cfg->send_queue_max;

	/* Subscribers whose next entry is about to be overwritten, or who hold
	 * more unsent bytes than allowed, are cut off first. They are only
	 * unlinked here; their presence change is published after this push
	 * (publishing re-enters ring_push, which must not happen mid-walk). */
	struct room_sub *cut = NULL;
	for (struct room_sub *s = r->subs, *next; s; s = next) {
		next = s->next;
		int full = r->count == r->cap && s->tail == ring_start(r) && s->tail < r->pos_end;
		if (full || lag_bytes(r, s) + len > limit) {
			unlink_sub(r, s);
			s->room = r; /* kept for the callback below */
			s->cut_next = cut;
			cut = s;
		}
	}
	struct ring_slot *slot = slot_at(r, r->pos_end);
	event_unref(slot->ev);
	slot->ev = e;
	slot->bytes_before = r->bytes_end;
	r->bytes_end += len;
	if (r->count < r->cap)
		r->count++;
	uint64_t old_end = r->pos_end++;
	for (struct room_sub *s = r->subs; s; s = s->next)
		if (s->tail == old_end)
			s->wake(s);
	while (cut) {
		struct room_sub *s = cut;
		cut = s->cut_next;
		s->room = NULL;
		r->srv->stats.slow_closed++;
		log_info("room.lagged", "room=%s identity=%s last_seq=%llu", r->id,
			 s->identity_id, (unsigned long long)s->last_seq);
		presence_leave(r, s->identity_id);
		s->lagged(s);
	}
}

void room_sub_viewer(const struct room_sub *s, struct tv_viewer *v)
{
	v->identity_id = s->identity_id;
	v->role = s->role;
	v->table = s->table;
}

struct tv_buf *room_sub_next(struct room_sub *s, int peek)
{
	struct room *r = s->room;
	if (!r)
		return NULL; /* cut off: nothing more comes from the ring */
	struct tv_viewer v;
	room_sub_viewer(s, &v);
	while (s->tail < r->pos_end) {
		struct tv_event *e = slot_at(r, s->tail)->ev;
		uint32_t aud = e->seq ? event_audience(e, &v) : TV_AUD_ALL;
		if ((e->seq == 0 && s->tail < s->eph_from) || aud == TV_AUD_SKIP) {
			s->tail++;
			if (e->seq)
				s->last_seq = e->seq;
			continue;
		}
		struct tv_buf *b = event_wire(e, aud);
		if (!peek) {
			s->tail++;
			if (e->seq)
				s->last_seq = e->seq;
		}
		if (b)
			return b;
	}
	return NULL;
}

/* ---- writes -------------------------------------------------------------------------- */

/* Keeps the subscribers' view of who they are in step with the log. */
static void apply_to_subs(struct room *r, const struct tv_event *e)
{
	int seat = strcmp(e->kind, "table.assigned") == 0;
	int role = strcmp(e->kind, "member.role") == 0;
	if (!seat && !role)
		return;
	json_t *d = json_loadb(e->data, e->data_len, 0, NULL);
	const char *who = json_string_value(json_object_get(d, "identity"));
	const char *val = json_string_value(json_object_get(d, seat ? "table" : "role"));
	for (struct room_sub *s = r->subs, *next; who && s; s = next) {
		next = s->next;
		if (strcmp(s->identity_id, who) != 0)
			continue;
		if (seat) {
			snprintf(s->table, sizeof s->table, "%s", val ? val : "");
		} else if (val && strcmp(val, "removed") == 0) {
			room_unsubscribe(s);
			s->lagged(s);
		} else if (val) {
			s->role = strcmp(val, "moderator") == 0 ? TV_ROLE_MODERATOR
				: strcmp(val, "observer") == 0 ? TV_ROLE_OBSERVER : TV_ROLE_PARTICIPANT;
		}
	}
	json_decref(d);
}

/* A committed event changes the room's derived state. */
static void room_apply(struct room *r, const struct tv_event *e)
{
	if (r->ws) {
		workshop_apply(r->ws, e);
		if (strncmp(e->kind, "timer.", 6) == 0)
			timer_sync(r);
	}
	if (r->mt)
		meeting_apply(r->mt, e);
	apply_to_subs(r, e);
}

static void write_done(struct store_write *w)
{
	struct room_write *rw = (struct room_write *)w;
	struct room *r = rw->room;
	r->inflight--;
	if (w->status == 0 && !w->duplicate) {
		/* Completions come in commit order, which is seq order. */
		struct tv_event *e = event_new(&rw->ev);
		r->head = rw->ev.seq;
		rw->seq = rw->ev.seq;
		if (e) {
			r->srv->stats.events_published++;
			metrics_count_event(&r->srv->stats, e->kind);
			room_apply(r, e);
			ring_push(r, e);
		}
	} else if (w->status < 0) {
		log_warn("room.write_failed", "room=%s code=%s", r->id, tv_err_name(w->status));
	}
	char *reply = w->reply; /* done frees the struct that holds w */
	rw->done(rw);
	free(reply);
	room_release_if_idle(r);
}

void room_write_submit(struct room *r, struct room_write *rw)
{
	rw->room = r;
	rw->ev.room = r->id;
	rw->ev.seq = 0; /* the writer assigns it (store.h, invariant 2) */
	rw->ev.ts_ms = server_now_ms();
	rw->w.event = &rw->ev;
	rw->w.now_ms = rw->ev.ts_ms;
	rw->w.done = write_done;
	r->inflight++;
	replica_submit(r->srv, &rw->w);
}

void room_replica_event(struct tv_server *srv, const struct tv_event_view *v)
{
	struct room *r = map_get(&srv->rooms_by_id, v->room);
	if (!r || v->seq <= r->head)
		return; /* not loaded here, or loaded after it was stored */
	struct tv_event *e = event_new(v);
	r->head = v->seq;
	if (e) {
		srv->stats.events_published++;
		metrics_count_event(&srv->stats, e->kind);
		room_apply(r, e);
		ring_push(r, e);
	}
}

/* ---- catching up and subscribing --------------------------------------------------- */

struct db_emit {
	int (*emit)(void *arg, struct tv_buf *b);
	void *arg;
	const struct tv_viewer *viewer;
	uint64_t last;
	int rc;
};

static int emit_stored(void *arg, const struct tv_event_view *v)
{
	struct db_emit *d = arg;
	struct tv_event *e = event_new(v);
	uint32_t aud = e ? event_audience(e, d->viewer) : TV_AUD_ALL;
	if (aud == TV_AUD_SKIP) {
		d->last = v->seq;
		event_unref(e);
		return 0;
	}
	struct tv_buf *b = e ? event_wire(e, aud) : NULL;
	if (!b) {
		event_unref(e);
		d->rc = -TV_E_INTERNAL;
		return 1;
	}
	d->rc = d->emit(d->arg, b);
	if (d->rc == 0)
		d->last = v->seq;
	event_unref(e);
	return d->rc != 0;
}

int room_catch_up(struct room *r, const struct tv_viewer *v, uint64_t since, long page,
		  int (*emit)(void *, struct tv_buf *), void *arg, uint64_t *through)
{
	uint64_t upto = r->head;
	int complete = 1;
	if (upto > since && upto - since > (uint64_t)page) {
		upto = since + (uint64_t)page;
		complete = 0;
	}
	*through = since;
	if (upto <= since)
		return complete;

	/* From the ring when it still holds since + 1 (the common case: a
	 * client that was away for seconds), else from the store. */
	uint64_t pos = r->pos_end;
	int in_ring = 0;
	while (pos > ring_start(r)) {
		struct tv_event *e = slot_at(r, pos - 1)->ev;
		if (e->seq && e->seq <= since) {
			in_ring = 1;
			break;
		}
		pos--;
		if (e->seq == since + 1) {
			in_ring = 1;
			break;
		}
	}
	if (in_ring) {
		for (; pos < r->pos_end; pos++) {
			struct tv_event *e = slot_at(r, pos)->ev;
			if (!e->seq || e->seq <= since)
				continue;
			if (e->seq > upto)
				break;
			uint32_t aud = event_audience(e, v);
			if (aud == TV_AUD_SKIP) {
				*through = e->seq;
				continue;
			}
			struct tv_buf *b = event_wire(e, aud);
			int rc = b ? emit(arg, b) : -TV_E_INTERNAL;
			if (rc < 0)
				return rc;
			if (rc > 0)
				return 0; /* the caller's byte budget is spent */
			*through = e->seq;
		}
		return complete;
	}
	struct db_emit d = { emit, arg, v, since, 0 };
	long n = store_events(r->srv->store, r->id, since, upto, page, emit_stored, &d);
	if (n < 0)
		return (int)n;
	if (d.rc < 0)
		return d.rc;
	*through = d.last;
	if (d.rc > 0)
		return 0;
	if (d.last != upto)
		return -TV_E_STORAGE_ERROR; /* the store lost events: never paper over */
	return complete;
}

/*
 * Presence changes are coalesced: a join or leave is noted, and the room
 * publishes one presence message with everything noted at most every
 * presence_ms (config). Publishing each change at once costs one delivery per
 * subscriber per change: a reconnect storm of n clients in one room would
 * send n^2 messages. A join and a leave of the same identity inside the
 * window cancel out, as nobody saw the state in between, unless a join
 * reply listed the state since (pres_shown): then what is pending is
 * published first, so that newcomer hears of the change too.
 */
static void presence_flush(uv_timer_t *t)
{
	struct room *r = t->data;
	if (!r || (!json_object_size(r->pres_joined) && !json_object_size(r->pres_left)))
		return;
	json_t *joined = json_array(), *left = json_array(), *v;
	const char *id;
	json_object_foreach(r->pres_joined, id, v)
		json_array_append(joined, v);
	json_object_foreach(r->pres_left, id, v)
		json_array_append_new(left, json_string(id));
	json_object_clear(r->pres_joined);
	json_object_clear(r->pres_left);
	r->pres_shown = 0;
	json_t *o = json_pack("{s:s, s:s, s:o, s:o}", "type", "presence", "room", r->id, "joined",
			      joined, "left", left);
	char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	struct tv_buf *b = text ? tv_buf_take(text, strlen(text)) : NULL;
	struct tv_event *e = b ? event_new_ephemeral(r->id, b) : NULL;
	tv_buf_unref(b);
	if (e)
		ring_push(r, e);
}

static json_t *presence_item(const char *id, const struct presence *p)
{
	return json_pack("{s:s, s:s, s:s}", "id", id, "name", p->name, "role", tv_role_name(p->role));
}

static void publish_presence(struct room *r, const char *id, const struct presence *p, int joined)
{
	if (!r->pres_joined) {
		r->pres_joined = json_object();
		r->pres_left = json_object();
	}
	if (!r->pres_timer) {
		r->pres_timer = malloc(sizeof *r->pres_timer);
		if (!r->pres_timer)
			return;
		uv_timer_init(r->srv->loop, r->pres_timer);
		r->pres_timer->data = r;
	}
	int cancels = json_object_get(joined ? r->pres_left : r->pres_joined, id) != NULL;
	if (cancels && r->pres_shown) {
		presence_flush(r->pres_timer); /* a newcomer's list showed the pending state */
		cancels = 0;
	}
	if (joined) {
		if (cancels)
			json_object_del(r->pres_left, id); /* back within the window */
		else
			json_object_set_new(r->pres_joined, id, presence_item(id, p));
	} else {
		if (cancels)
			json_object_del(r->pres_joined, id); /* came and went unseen */
		else
			json_object_set_new(r->pres_left, id, json_true());
	}
	if (r->srv->cfg->presence_ms == 0) {
		presence_flush(r->pres_timer);
		return;
	}
	if (!uv_is_active((uv_handle_t *)r->pres_timer))
		uv_timer_start(r->pres_timer, presence_flush, (uint64_t)r->srv->cfg->presence_ms, 0);
}

int room_subscribe(struct room *r, struct room_sub *s, const char *name)
{
	/* The newcomer's join reply lists who is present now, pending
	 * changes included; those also reach it in the next presence message,
	 * which repeats nothing it could misread (a join it already knows, a
	 * departure of someone it never saw). Nothing is flushed early here,
	 * so a join storm of n clients costs n/window presence messages, not
	 * n (each to every subscriber). */
	struct presence *p = map_get(&r->presence, s->identity_id);
	if (!p) {
		p = calloc(1, sizeof *p);
		if (!p || map_put(&r->presence, s->identity_id, p)) {
			free(p);
			return -TV_E_INTERNAL;
		}
		snprintf(p->name, sizeof p->name, "%s", name);
		p->role = s->role;
	}
	/* Published before s is linked: publishing may flush presence into
	 * the ring at once, and the ring's walk over its subscribers must not
	 * meet one whose tail is not set yet (it would look lagged and be cut
	 * off in the middle of its join). */
	if (p->count++ == 0)
		publish_presence(r, s->identity_id, p, 1);
	s->room = r;
	s->prev = NULL;
	s->next = r->subs;
	if (r->subs)
		r->subs->prev = s;
	r->subs = s;
	r->nsubs++;
	s->last_seq = r->head;
	/* Live from here: the catch-up emitted everything up to head, and
	 * ephemeral entries from before the join are not replayed (the join
	 * result carries the presence list). */
	s->tail = r->pos_end;
	s->eph_from = r->pos_end;
	return 0;
}

static void presence_leave(struct room *r, const char *identity_id)
{
	struct presence *p = map_get(&r->presence, identity_id);
	if (p && --p->count == 0) {
		char id[TV_ID_LEN + 1];
		snprintf(id, sizeof id, "%s", identity_id);
		map_del(&r->presence, id);
		publish_presence(r, id, p, 0);
		free(p);
	}
}

void room_unsubscribe(struct room_sub *s)
{
	struct room *r = s->room;
	if (!r)
		return;
	unlink_sub(r, s);
	presence_leave(r, s->identity_id);
}

static void presence_entry(const char *id, void *value, void *arg)
{
	json_t *list = arg;
	if (json_array_size(list) < ROOM_PRESENCE_LIST_MAX)
		json_array_append_new(list, presence_item(id, value));
}

void *room_presence_json(struct room *r, size_t *present)
{
	json_t *list = json_array();
	if (!list)
		return NULL;
	map_each(&r->presence, presence_entry, list);
	*present = r->presence.count;
	r->pres_shown = 1;
	return list;
}

/* ---- the workshop timer ----------------------------------------------------------- */

static void timer_fired(uv_timer_t *t)
{
	struct room *r = t->data;
	if (!r || !r->ws || r->ws->timer != TIMER_RUNNING)
		return;
	/* libuv arms timers against the loop's cached clock, which lags the wall
	 * clock by however long the current loop turn has run; the expiry is a
	 * promise about wall-clock time, so an early wake re-arms for the rest. */
	int64_t left = r->ws->timer_ends_ms - server_now_ms();
	if (left > 0) {
		uv_timer_start(t, timer_fired, (uint64_t)left, 0);
		return;
	}
	/* Announce once: the expiry event stops the timer when it commits. */
	r->ws->timer = TIMER_STOPPED;
	room_append_system(r, "timer.expired", json_pack("{s:I}", "ends_at",
							 (json_int_t)r->ws->timer_ends_ms));
}

/* The daemon holds the authoritative end time: a running timer keeps the
 * room loaded and a libuv timer armed for its expiry. */
static void timer_sync(struct room *r)
{
	int running = r->ws && r->ws->timer == TIMER_RUNNING;
	if (running && !r->timer) {
		r->timer = malloc(sizeof *r->timer);
		if (!r->timer)
			return;
		uv_timer_init(r->srv->loop, r->timer);
		r->timer->data = r;
	}
	if (!r->timer)
		return;
	uv_timer_stop(r->timer);
	if (running) {
		int64_t left = r->ws->timer_ends_ms - server_now_ms();
		uv_timer_start(r->timer, timer_fired, left > 0 ? (uint64_t)left : 0, 0);
		if (!r->timer_pinned) {
			r->timer_pinned = 1;
			r->pins++;
		}
	} else if (r->timer_pinned) {
		r->timer_pinned = 0;
		r->pins--;
	}
}

struct system_write {
	struct room_write rw;
	char *data;
};

static void system_done(struct room_write *rw)
{
	struct system_write *sw = (struct system_write *)rw;
	free(sw->data);
	free(sw);
}

int room_append_system(struct room *r, const char *kind, json_t *data)
{
	if (r->srv->stopping) {
		json_decref(data); /* the next start announces what is overdue */
		return -TV_E_SHUTTING_DOWN;
	}
	struct system_write *sw = calloc(1, sizeof *sw);
	char *text = data ? json_dumps(data, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(data);
	if (!sw || !text) {
		free(sw);
		free(text);
		return -TV_E_INTERNAL;
	}
	sw->data = text;
	sw->rw.ev.kind = kind;
	sw->rw.ev.data_json = text;
	sw->rw.ev.data_len = strlen(text);
	sw->rw.done = system_done;
	room_write_submit(r, &sw->rw);
	return 0;
}
