/*
 * test_room.c: live rooms (daemon/room.c) on a real store and a real libuv
 * loop: loading, seq assignment, publishing into the fan-out ring,
 * subscribers draining and being cut off, catch-up from the ring and from
 * the store, recovery after a failed write, and presence.
 *
 * The server is a hand-built struct tv_server with a small ring (64) and
 * the smallest send queue (64 KiB), so wrapping and the byte limit are
 * reached with few events. Subscribers are fakes that count their wake and
 * lagged callbacks, as a connection would implement them. Not covered: the
 * store on its own (test_store.c), connections and sockets.
 *
 * Each test frees everything (room_unload_all, store_close) and checks that
 * the loop closes cleanly, so the suite runs clean under LeakSanitizer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <uv.h>

#include "config.h"
#include "crypto.h"
#include "fault.h"
#include "room.h"
#include "server.h"
#include "store.h"

#define RING 64
#define ROOM_ID "r_aaaaaaaaaaaa"
#define ROOM_CODE "ABCDEF"
#define ORG "o_oooooooooooo"
#define IDENT "i_iiiiiiiiiiii"

/* ---- fixture ------------------------------------------------------------------- */

struct fx {
	char dir[64], path[128];
	uv_loop_t loop;
	struct tv_config cfg;
	struct tv_server srv;
	unsigned store_done;
};

static int fx_setup(void **state, int batch_max)
{
	struct fx *f = calloc(1, sizeof *f);
	assert_non_null(f);
	snprintf(f->dir, sizeof f->dir, "/tmp/tv-room-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/tavla.db", f->dir);
	assert_int_equal(uv_loop_init(&f->loop), 0);

	char err[256] = "";
	assert_int_equal(config_defaults(&f->cfg), 0);
	assert_int_equal(config_set(&f->cfg, "room_ring", "64", err, sizeof err), 0);
	assert_int_equal(config_set(&f->cfg, "send_queue", "65536", err, sizeof err), 0);
	/* Presence published at each change: these tests count ring entries. */
	assert_int_equal(config_set(&f->cfg, "presence_ms", "0", err, sizeof err), 0);
	assert_int_equal(f->cfg.room_ring, RING);

	struct store_opts o = { .path = f->path, .sync_full = 0, .batch_max = batch_max };
	f->srv.loop = &f->loop;
	f->srv.cfg = &f->cfg;
	map_init(&f->srv.rooms_by_id);
	map_init(&f->srv.conns_by_id);
	map_init(&f->srv.pending);
	if (store_open(&f->srv.store, &f->loop, &o, err, sizeof err))
		fail_msg("store_open: %s", err);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return fx_setup(state, 4096);
}

#ifdef TAVLA_FAULT
/* One write per transaction: a fault armed for the next write then hits
 * exactly that write (a batch would retry its writes one by one). */
static int setup_batch1(void **state)
{
	return fx_setup(state, 1);
}
#endif

static int teardown(void **state)
{
	struct fx *f = *state;
	fault_arm(NULL, 0, 0);
	room_unload_all(&f->srv);
	store_close(f->srv.store);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	map_free(&f->srv.conns_by_id);
	map_free(&f->srv.pending);
	config_free(&f->cfg);
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
		char p[160];
		snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
		unlink(p);
	}
	assert_int_equal(rmdir(f->dir), 0);
	free(f);
	return 0;
}

static void run_until(struct fx *f, const unsigned *counter, unsigned target)
{
	while (*counter < target)
		uv_run(&f->loop, UV_RUN_ONCE);
}

/* ---- creating the room in the store ---------------------------------------------- */

struct create {
	struct store_write w;
	struct fx *fx;
};

static void create_done(struct store_write *w)
{
	struct create *c = (struct create *)w;
	assert_int_equal(w->status, 0);
	c->fx->store_done++;
}

static void create_room(struct fx *f)
{
	struct create c = { .fx = f };
	c.w.room.id = ROOM_ID;
	c.w.room.org_id = ORG;
	c.w.room.kind = "board";
	c.w.room.title = "Retro";
	c.w.room.code = ROOM_CODE;
	c.w.room.created_by = IDENT;
	c.w.now_ms = server_now_ms();
	c.w.done = create_done;
	unsigned before = f->store_done;
	store_submit(f->srv.store, &c.w);
	run_until(f, &f->store_done, before + 1);
}

/* ---- room writes --------------------------------------------------------------- */

struct twr {
	struct room_write rw; /* first: room.c casts back */
	struct fx *fx;
	unsigned calls, *done_count;
	int status, duplicate;
	uint64_t seq;
	unsigned char fp[TV_HASH_LEN];
	char client_id[32];
	char *data;
};

static void twr_done(struct room_write *rw)
{
	struct twr *t = (struct twr *)rw;
	t->calls++;
	t->status = rw->w.status;
	t->duplicate = rw->w.duplicate;
	t->seq = rw->seq;
	(*t->done_count)++;
}

/* Fills t as a handler would (an event of `pad` filler bytes) and submits
 * it to r; the seq is assigned by the store's writer. */
static void write_submit(struct room *r, struct twr *t, unsigned *done_count, size_t pad)
{
	t->data = malloc(pad + 32);
	assert_non_null(t->data);
	int len = snprintf(t->data, 32, "{\"text\":\"");
	memset(t->data + len, 'x', pad);
	snprintf(t->data + len + pad, 32, "\"}");
	t->rw.ev.author_id = IDENT;
	t->rw.ev.author_name = "Ann";
	t->rw.ev.kind = "note";
	t->rw.ev.data_json = t->data;
	t->rw.ev.data_len = strlen(t->data);
	t->rw.done = twr_done;
	t->done_count = done_count;
	room_write_submit(r, &t->rw);
}

/* Adds an idempotency record to t (before write_submit). */
static void twr_request(struct twr *t, const char *client_id)
{
	snprintf(t->client_id, sizeof t->client_id, "%s", client_id);
	crypto_sha256(client_id, strlen(client_id), t->fp);
	t->rw.w.request.identity_id = IDENT;
	t->rw.w.request.client_id = t->client_id;
	t->rw.w.request.room_id = ROOM_ID;
	t->rw.w.request.result = "{}";
	t->rw.w.request.fingerprint = t->fp;
}

/* Writes n events to r, submitting them all before running the loop, and
 * asserts they all commit. */
static void write_n(struct fx *f, struct room *r, unsigned n, size_t pad)
{
	struct twr *t = calloc(n, sizeof *t);
	unsigned done = 0;
	assert_non_null(t);
	for (unsigned i = 0; i < n; i++)
		write_submit(r, &t[i], &done, pad);
	run_until(f, &done, n);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(t[i].status, 0);
		assert_int_equal(t[i].calls, 1);
		free(t[i].data);
	}
	free(t);
}

/* ---- wire bytes ------------------------------------------------------------------ */

/* The seq of an event frame; 0 for presence. */
static uint64_t frame_seq(struct tv_buf *b)
{
	json_error_t e;
	json_t *o = json_loadb(tv_buf_data(b), b->len, 0, &e);
	if (!o)
		fail_msg("bad frame: %s", e.text);
	const char *type = json_string_value(json_object_get(o, "type"));
	assert_non_null(type);
	uint64_t seq = 0;
	if (strcmp(type, "event") == 0) {
		seq = (uint64_t)json_integer_value(json_object_get(o, "seq"));
		assert_true(seq > 0);
	} else {
		assert_string_equal(type, "presence");
	}
	json_decref(o);
	return seq;
}

/* ---- fake subscribers ------------------------------------------------------------- */

struct fsub {
	struct room_sub sub; /* first: the callbacks cast back */
	unsigned wakes, lagged;
	uint64_t next_seq;   /* the seq the next drained event must carry */
	unsigned events, presence, out_of_order;
};

static void fsub_wake(struct room_sub *s)
{
	((struct fsub *)s)->wakes++;
}

static void fsub_lagged(struct room_sub *s)
{
	struct fsub *f = (struct fsub *)s;
	assert_null(s->room); /* already unsubscribed */
	f->lagged++;
}

static void fsub_join(struct room *r, struct fsub *f, const char *identity, const char *name)
{
	memset(f, 0, sizeof *f);
	snprintf(f->sub.identity_id, sizeof f->sub.identity_id, "%s", identity);
	f->sub.role = TV_ROLE_PARTICIPANT;
	f->sub.wake = fsub_wake;
	f->sub.lagged = fsub_lagged;
	f->next_seq = r->head + 1;
	assert_int_equal(room_subscribe(r, &f->sub, name), 0);
	assert_ptr_equal(f->sub.room, r);
}

/* Drains everything s can send, checking events arrive as next_seq,
 * next_seq + 1, ...; returns the number of frames. */
static unsigned fsub_drain(struct fsub *f)
{
	unsigned n = 0;
	struct tv_buf *b;
	while ((b = room_sub_next(&f->sub, 0)) != NULL) {
		uint64_t seq = frame_seq(b);
		n++;
		if (!seq) {
			f->presence++;
			continue;
		}
		if (seq != f->next_seq)
			f->out_of_order++;
		f->next_seq = seq + 1;
		f->events++;
		assert_int_equal(f->sub.last_seq, seq);
	}
	return n;
}

/* ---- loading and writing ------------------------------------------------------------ */

static void test_load_and_write(void **state)
{
	struct fx *f = *state;
	struct room *r, *again;
	assert_int_equal(room_get(&f->srv, ROOM_ID, &r), -TV_E_ROOM_NOT_FOUND);
	assert_int_equal(room_by_code(&f->srv, ROOM_CODE, &r), -TV_E_BAD_CODE);
	create_room(f);

	assert_int_equal(room_get(&f->srv, ROOM_ID, &r), 0);
	assert_string_equal(r->id, ROOM_ID);
	assert_string_equal(r->org_id, ORG);
	assert_string_equal(r->code, ROOM_CODE);
	assert_string_equal(r->kind, "board");
	assert_string_equal(r->title, "Retro");
	assert_int_equal(r->head, 0);
	assert_int_equal(room_get(&f->srv, ROOM_ID, &again), 0);
	assert_ptr_equal(again, r);
	assert_int_equal(room_by_code(&f->srv, ROOM_CODE, &again), 0);
	assert_ptr_equal(again, r);

	struct fsub s;
	fsub_join(r, &s, IDENT, "Ann");
	uint64_t pos0 = r->pos_end; /* after the subscriber's own presence */
	/* room_subscribe publishes s's presence before linking s: no wake for
	 * an entry s never sends. */
	unsigned wakes0 = s.wakes;
	assert_int_equal(wakes0, 0);

	struct twr t[5];
	unsigned done = 0;
	memset(t, 0, sizeof t);
	for (unsigned i = 0; i < 5; i++)
		write_submit(r, &t[i], &done, 4);
	assert_int_equal(r->inflight, 5);
	assert_int_equal(r->head, 0); /* nothing is published before its commit */
	assert_int_equal(r->pos_end, pos0);
	assert_null(room_sub_next(&s.sub, 1));

	run_until(f, &done, 5);
	assert_int_equal(r->head, 5);
	assert_int_equal(r->inflight, 0);
	assert_int_equal(r->pos_end, pos0 + 5);
	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(t[i].status, 0);
		assert_int_equal(t[i].seq, i + 1);
		free(t[i].data);
	}
	assert_int_equal(s.wakes - wakes0, 1); /* once, when it was caught up */

	/* peek does not move the tail. */
	struct tv_buf *p1 = room_sub_next(&s.sub, 1), *p2 = room_sub_next(&s.sub, 1);
	assert_non_null(p1);
	assert_ptr_equal(p1, p2);
	assert_int_equal(frame_seq(p1), 1);
	assert_int_equal(fsub_drain(&s), 5);
	assert_int_equal(s.events, 5);
	assert_int_equal(s.out_of_order, 0);
	assert_null(room_sub_next(&s.sub, 0));

	/* And the store agrees. */
	struct store_room sr;
	assert_int_equal(store_room_get(f->srv.store, ROOM_ID, &sr), 0);
	assert_int_equal(sr.head, 5);
	store_room_clear(&sr);

	room_unsubscribe(&s.sub);
	assert_null(s.sub.room);
	assert_int_equal(r->nsubs, 0);
	room_release_if_idle(r);
	assert_null(map_get(&f->srv.rooms_by_id, ROOM_ID));

	/* Reloaded, the room continues from the stored head. */
	assert_int_equal(room_get(&f->srv, ROOM_ID, &r), 0);
	assert_int_equal(r->head, 5);
	assert_int_equal(r->count, 0);
}

/* A room is unloaded when its last write completes and nobody holds it. */
static void test_unload_after_last_write(void **state)
{
	struct fx *f = *state;
	struct room *r;
	create_room(f);
	assert_int_equal(room_get(&f->srv, ROOM_ID, &r), 0);
	write_n(f, r, 3, 4);
	assert_null(map_get(&f->srv.rooms_by_id, ROOM_ID));
	assert_int_equal(room_get(&f->srv, ROOM_ID, &r), 0);
	assert_int_equal(r->head, 3);
}

/* ---- subscribers ------------------------------------------------------------------ */

/* A subscriber that never drains is cut off exactly when the ring would
 * overwrite its next entry; one that keeps up is not affected. */
static void test_ring_wrap_cuts_laggard(void **state)
{
	struct fx *f = *state;
	struct room *r;
	create_room(f);
	assert_int_equal(room_get(&f->srv, ROOM_ID, &r), 0);

	struct fsub slow, fast;
	fsub_join(r, &slow, "i_slow00000000", "Slow");
	fsub_join(r, &fast, "i_fast00000000", "Fast");
	/* slow's tail is at fast's presence entry; the ring overwrites it on
	 * the push after RING - 1 more entries. */
	assert_int_equal(slow.sub.tail + 1, r->pos_end);
	unsigned before_cut = RING - 1;

	unsigned written = 0;
	while (written < before_cut) {
		unsigned n = before_cut - written < 16 ? before_cut - written : 16;
		write_n(f, r, n, 4);
		written += n;
		fsub_drain(&fast);
	}
	assert_int_equal(r->count, RING);
	assert_int_equal(slow.lagged, 0);
	assert_ptr_equal(slow.sub.room, r);

	write_n(f, r, 1, 4);
	written++;
	assert_int_equal(slow.lagged, 1);
	assert_null(slow.sub.room);
	assert_int_equal(r->nsubs, 1);
	assert_int_equal(f->srv.stats.slow_closed, 1);
	assert_int_equal(slow.sub.last_seq, 0); /* the resume point it reports */

	/* Cut once only, however much more is published. */
	for (int i = 0; i < 10; i++) {
		write_n(f, r, 16, 4);
		written += 16;
		fsub_drain(&fast);
	}
	assert_int_equal(slow.lagged, 1);
	assert_int_equal(fast.lagged, 0);
	fsub_drain(&fast);
	assert_int_equal(fast.events, written);
	assert_int_equal(fast.out_of_order, 0);
	assert_int_equal(fast.presence, 1); /* slow's departure */
	assert_int_equal(fast.sub.last_seq, r->head);
	assert_int_equal(r->head, written);

	/* The cut subscriber's presence is gone, the other's stays. */
	size_t present;
	json_t *list = room_presence_json(r, &present);
	assert_int_equal(json_array_size(list), 1);
	assert_int_equal(present, 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "id")),
			    "i_fast00000000");
	json_decref(list);
	room_unsubscribe(&slow.sub); /* harmless after the cut */
	room_unsubscribe(&fast.sub);
}

/* A subscriber whose unsent bytes would exceed send_queue is cut off long
 * before the ring wraps. */
static void test_byte_limit_cuts_laggard(void **state)
{
	struct fx *f = *state;
	struct room *r;
	create_room(f);
	assert_int_equal(room_get(&f->srv, ROOM_ID, &r), 0);

	struct fsub slow, fast;
	fsub_join(r, &slow, "i_slow00000000", "Slow");
	fsub_join(r, &fast, "i_fast00000000", "Fast");

	/* Events of about 6.1 KiB on the wire: ten fit in 64 KiB, eleven do
	 * not. */
	for (int i = 0; i < 10; i++) {
		write_n(f, r, 1, 6000);
		fsub_drain(&fast);
	}
	assert_int_equal(slow.lagged, 0);
	assert_true(r->bytes_end > 10 * 6000);
	write_n(f, r, 1, 6000);
	fsub_drain(&fast);
	assert_int_equal(slow.lagged, 1);
	assert_null(slow.sub.room);
	assert_true(r->count < RING);

	for (int i = 0; i < 20; i++) {
		write_n(f, r, 1, 6000);
		fsub_drain(&fast);
	}
	assert_int_equal(slow.lagged, 1);
	assert_int_equal(fast.lagged, 0);
	assert_int_equal(fast.events, 31);
	assert_int_equal(fast.out_of_order, 0);
	room_unsubscribe(&fast.sub);
}

/* ---- catching up ------------------------------------------------------------------- */

struct got {
	uint64_t seq[512];
	unsigned n;
	int stop_at;  /* refuse (return 1) the frame at this index; -1: never */
	int in_ring;  /* every frame was a ring entry's own bytes */
	struct room *room;
};

static int in_ring(struct room *r, struct tv_buf *b)
{
	for (size_t i = 0; i < r->cap; i++)
		if (r->ring[i].ev && r->ring[i].ev->wire0 == b)
			return 1;
	return 0;
}

static int emit(void *arg, struct tv_buf *b)
{
	struct got *g = arg;
	if (g->stop_at >= 0 && g->n == (unsigned)g->stop_at)
		return 1;
	if (!in_ring(g->room, b))
		g->in_ring = 0;
	g->seq[g->n++] = frame_seq(b);
	return 0;
}

/* Catches up from since with page, checking the frames are exactly
 * since + 1 .. want_through; returns room_catch_up's result. */
static int catch_up(struct room *r, uint64_t since, long page, int stop_at,
		    uint64_t want_through, int want_ring)
{
	static struct got g;
	memset(&g, 0, sizeof g);
	g.stop_at = stop_at;
	g.in_ring = 1;
	g.room = r;
	uint64_t through = 12345;
	struct tv_viewer v = { "i_test", TV_ROLE_PARTICIPANT, "" };
	int rc = room_catch_up(r, &v, since, page, emit, &g, &through);
	assert_int_equal(through, want_through);
	assert_int_equal(g.n, want_through - since);
	for (unsigned i = 0; i < g.n; i++)
		assert_int_equal(g.seq[i], since + 1 + i);
	if (g.n)
		assert_int_equal(g.in_ring, want_ring);
	return rc;
}

static void test_catch_up(void **state)
{
	struct fx *f = *state;
	struct room *r;
	create_room(f);
	assert_int_equal(room_get(&f->srv, ROOM_ID, &r), 0);
	write_n(f, r, 20, 4); /* unloads the room: nobody holds it */

	/* A freshly loaded room has an empty ring: all from the store. */
	assert_int_equal(room_get(&f->srv, ROOM_ID, &r), 0);
	assert_int_equal(r->count, 0);
	assert_int_equal(catch_up(r, 0, 1000, -1, 20, 0), 1);

	struct fsub s;
	fsub_join(r, &s, IDENT, "Ann");
	for (int i = 0; i < 10; i++) { /* 21 .. 120; the ring keeps the last 64 */
		write_n(f, r, 10, 4);
		fsub_drain(&s); /* keeping up, so the room stays loaded */
	}
	assert_int_equal(s.lagged, 0);
	assert_int_equal(r->head, 120);
	assert_int_equal(r->count, RING);
	uint64_t oldest = 120 - RING + 1; /* 57 */
	assert_int_equal(r->ring[(r->pos_end - RING) % RING].ev->seq, oldest);

	/* Within the ring. */
	assert_int_equal(catch_up(r, 100, 1000, -1, 120, 1), 1);
	assert_int_equal(catch_up(r, oldest - 1, 1000, -1, 120, 1), 1);
	/* Older than the ring: the store. */
	assert_int_equal(catch_up(r, oldest - 2, 1000, -1, 120, 0), 1);
	assert_int_equal(catch_up(r, 0, 1000, -1, 120, 0), 1);
	assert_int_equal(catch_up(r, 10, 1000, -1, 120, 0), 1);
	/* Nothing missed. */
	assert_int_equal(catch_up(r, 120, 1000, -1, 120, 0), 1);

	/* Paging: page < missed gives since + page and "not complete". */
	assert_int_equal(catch_up(r, 10, 25, -1, 35, 0), 0);
	assert_int_equal(catch_up(r, 35, 25, -1, 60, 0), 0);
	assert_int_equal(catch_up(r, 100, 5, -1, 105, 1), 0);
	assert_int_equal(catch_up(r, 100, 20, -1, 120, 1), 1); /* exactly enough */

	/* emit refusing a frame stops there; through is the last accepted. */
	assert_int_equal(catch_up(r, 100, 1000, 3, 103, 1), 0);
	assert_int_equal(catch_up(r, 10, 1000, 3, 13, 0), 0);
	assert_int_equal(catch_up(r, 10, 1000, 0, 10, 0), 0);
	assert_int_equal(catch_up(r, 100, 1000, 0, 100, 0), 0);

	room_unsubscribe(&s.sub);
}

/* ---- failure ---------------------------------------------------------------------- */

/* Asserts the store holds events 1..head of the room with no gap. */
static int count_seq(void *arg, const struct tv_event_view *v)
{
	uint64_t *next = arg;
	if (v->seq != *next)
		return 1;
	(*next)++;
	return 0;
}

static void assert_store_gap_free(struct fx *f, uint64_t head)
{
	uint64_t next = 1;
	long n = store_events(f->srv.store, ROOM_ID, 0, UINT32_MAX, 100000, count_seq, &next);
	assert_int_equal(n, (long)head);
	assert_int_equal(next, head + 1);
}

#ifdef TAVLA_FAULT
/* A failed write consumes no seq: the writes queued behind it in the same
 * room commit with the next seqs, and the store stays gap-free. */
static void test_fault_consumes_no_seq(void **state)
{
	struct fx *f = *state;
	struct room *r;
	create_room(f);
	assert_int_equal(room_get(&f->srv, ROOM_ID, &r), 0);
	struct fsub s;
	fsub_join(r, &s, IDENT, "Ann");
	write_n(f, r, 3, 4);

	fault_arm("store.after_insert", 1, 0);
	struct twr t[3];
	unsigned done = 0;
	memset(t, 0, sizeof t);
	for (unsigned i = 0; i < 3; i++)
		write_submit(r, &t[i], &done, 4);
	run_until(f, &done, 3);
	assert_true(t[0].status < 0);
	assert_int_equal(t[1].status, 0);
	assert_int_equal(t[1].seq, 4);
	assert_int_equal(t[2].status, 0);
	assert_int_equal(t[2].seq, 5);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(t[i].calls, 1);
		free(t[i].data);
	}
	assert_int_equal(r->head, 5);
	assert_int_equal(r->inflight, 0);

	write_n(f, r, 3, 4);
	assert_int_equal(r->head, 8);
	assert_store_gap_free(f, 8);
	fsub_drain(&s);
	assert_int_equal(s.events, 8);
	assert_int_equal(s.out_of_order, 0);
	room_unsubscribe(&s.sub);
}
#endif

/* A repeated request (its idempotency key is taken) is recognised by the
 * writer in the middle of a batch: nothing is published for it, it consumes
 * no seq, and its neighbours commit. */
static void test_repeat_consumes_no_seq(void **state)
{
	struct fx *f = *state;
	struct room *r;
	create_room(f);
	assert_int_equal(room_get(&f->srv, ROOM_ID, &r), 0);
	struct fsub s;
	fsub_join(r, &s, IDENT, "Ann");

	struct twr t[5];
	unsigned done = 0;
	memset(t, 0, sizeof t);
	twr_request(&t[0], "k1");
	write_submit(r, &t[0], &done, 4);
	run_until(f, &done, 1);
	assert_int_equal(t[0].status, 0);
	assert_int_equal(t[0].seq, 1);

	twr_request(&t[1], "k2");
	twr_request(&t[2], "k1"); /* done by t[0] */
	twr_request(&t[3], "k3");
	for (unsigned i = 1; i < 5; i++)
		write_submit(r, &t[i], &done, 4);
	run_until(f, &done, 5);
	for (unsigned i = 1; i < 5; i++)
		assert_int_equal(t[i].status, 0);
	assert_false(t[1].duplicate);
	assert_int_equal(t[1].seq, 2);
	assert_true(t[2].duplicate);
	assert_false(t[3].duplicate);
	assert_int_equal(t[3].seq, 3);
	assert_int_equal(t[4].seq, 4);
	assert_int_equal(r->head, 4);
	for (unsigned i = 0; i < 5; i++)
		free(t[i].data);

	assert_store_gap_free(f, 4);
	fsub_drain(&s);
	assert_int_equal(s.events, 4);
	assert_int_equal(s.out_of_order, 0);
	room_unsubscribe(&s.sub);
}

/* ---- presence ---------------------------------------------------------------------- */

static size_t presence_count(struct room *r, const char *id, const char **name)
{
	size_t present;
	json_t *list = room_presence_json(r, &present);
	assert_non_null(list);
	assert_true(present >= json_array_size(list));
	size_t n = json_array_size(list), found = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(list, i);
		if (strcmp(json_string_value(json_object_get(e, "id")), id) == 0) {
			found++;
			static char buf[64];
			snprintf(buf, sizeof buf, "%s",
				 json_string_value(json_object_get(e, "name")));
			*name = buf;
		}
	}
	json_decref(list);
	return found * 1000 + n; /* matches of id, and the list's length */
}

static void test_presence(void **state)
{
	struct fx *f = *state;
	struct room *r;
	const char *name = NULL;
	create_room(f);
	assert_int_equal(room_get(&f->srv, ROOM_ID, &r), 0);

	struct fsub watcher, a1, a2;
	fsub_join(r, &watcher, "i_watch0000000", "Watcher");
	fsub_join(r, &a1, IDENT, "Ann");
	fsub_join(r, &a2, IDENT, "Ann (tablet)");
	assert_int_equal(presence_count(r, IDENT, &name), 1000 + 2);
	assert_string_equal(name, "Ann");
	/* Only the first subscription of an identity is announced. */
	assert_int_equal(fsub_drain(&watcher), 1);
	assert_int_equal(watcher.presence, 1);
	assert_null(room_sub_next(&a1.sub, 0));

	room_unsubscribe(&a1.sub);
	assert_int_equal(presence_count(r, IDENT, &name), 1000 + 2);
	assert_int_equal(fsub_drain(&watcher), 0);

	room_unsubscribe(&a2.sub);
	assert_int_equal(presence_count(r, IDENT, &name), 0 + 1);
	assert_int_equal(fsub_drain(&watcher), 1); /* the departure */
	assert_int_equal(watcher.presence, 2);

	/* Joining again announces again. */
	fsub_join(r, &a1, IDENT, "Ann");
	assert_int_equal(presence_count(r, IDENT, &name), 1000 + 2);
	assert_int_equal(fsub_drain(&watcher), 1);
	room_unsubscribe(&a1.sub);
	room_unsubscribe(&watcher.sub);
	assert_int_equal(presence_count(r, IDENT, &name), 0);
	assert_int_equal(r->nsubs, 0);
}

/* With a presence window, a join reply lists who is present now, pending
 * arrivals included, capped, with `present` counting everyone; pending
 * changes cancel out unpublished only while no join reply has shown them. */
static void flush_presence(struct fx *f, struct room *r)
{
	while (r->pres_timer && uv_is_active((uv_handle_t *)r->pres_timer))
		uv_run(&f->loop, UV_RUN_ONCE);
}

static size_t listed(struct room *r, size_t *present)
{
	json_t *list = room_presence_json(r, present);
	assert_non_null(list);
	size_t n = json_array_size(list);
	json_decref(list);
	return n;
}

/* The room of the presence-window tests: presence coalesced for 20 ms. */
static struct room *windowed_room(struct fx *f)
{
	struct room *r;
	char err[128];
	assert_int_equal(config_set(&f->cfg, "presence_ms", "20", err, sizeof err), 0);
	create_room(f);
	assert_int_equal(room_get(&f->srv, ROOM_ID, &r), 0);
	return r;
}

static void test_presence_window(void **state)
{
	struct fx *f = *state;
	struct room *r = windowed_room(f);
	size_t present;

	struct fsub watcher;
	fsub_join(r, &watcher, "i_watch0000000", "Watcher");
	assert_int_equal(listed(r, &present), 1); /* before any presence message */
	assert_int_equal(present, 1);
	flush_presence(f, r);
	assert_int_equal(fsub_drain(&watcher), 1); /* its own arrival */

	enum { N = ROOM_PRESENCE_LIST_MAX + 50 };
	static struct fsub many[N];
	char id[TV_ID_LEN + 1];
	for (int i = 0; i < N; i++) {
		snprintf(id, sizeof id, "i_p%011d", i);
		fsub_join(r, &many[i], id, "Deltagare");
	}
	/* No join reply was built in this window: a departure and a return
	 * cancel out unpublished. */
	room_unsubscribe(&many[0].sub);
	fsub_join(r, &many[0], "i_p00000000000", "Deltagare");
	assert_int_equal(fsub_drain(&watcher), 0);
	assert_int_equal(listed(r, &present), ROOM_PRESENCE_LIST_MAX);
	assert_int_equal(present, N + 1);
	/* A join reply has now listed many[1] as present: its departure can
	 * no longer cancel its unpublished arrival, so what is pending goes
	 * out first and the departure follows in the next message. */
	room_unsubscribe(&many[1].sub);
	assert_int_equal(fsub_drain(&watcher), 1); /* the N arrivals, at once */
	flush_presence(f, r);
	assert_int_equal(fsub_drain(&watcher), 1); /* many[1]'s departure */
	assert_int_equal(listed(r, &present), ROOM_PRESENCE_LIST_MAX);
	assert_int_equal(present, N);

	for (int i = 0; i < N; i++)
		if (i != 1)
			room_unsubscribe(&many[i].sub);
	room_unsubscribe(&watcher.sub);
	flush_presence(f, r);
	assert_int_equal(listed(r, &present), 0);
	assert_int_equal(present, 0);
}

/* A participant who comes back within the presence window, after a join
 * reply listed it, makes room_subscribe flush presence into the ring at
 * once. The newcomer's subscription must not take part in that push before
 * its tail is set: from tail 0 it would owe every byte the room published
 * and be cut off as lagged in the middle of its own join. */
static void test_rejoin_flush_keeps_newcomer(void **state)
{
	struct fx *f = *state;
	struct room *r = windowed_room(f);
	size_t present;

	struct fsub watcher, a;
	fsub_join(r, &watcher, "i_watch0000000", "Watcher");
	/* More than the 64 KiB send queue published, all of it still in the
	 * ring (fewer than RING events), the watcher keeping up. */
	for (int i = 0; i < 12; i++) {
		write_n(f, r, 1, 6000);
		fsub_drain(&watcher);
	}
	assert_true(r->bytes_end > 65536);
	assert_true(r->count < RING);

	fsub_join(r, &a, "i_back00000000", "Back");
	listed(r, &present); /* a join reply shows a as present */
	room_unsubscribe(&a.sub); /* its arrival goes out, its departure waits */
	listed(r, &present); /* ... and another join reply shows that */
	fsub_join(r, &a, "i_back00000000", "Back"); /* back: flushed at once */
	assert_int_equal(a.lagged, 0);
	assert_ptr_equal(a.sub.room, r);
	assert_int_equal(watcher.lagged, 0);

	write_n(f, r, 1, 100);
	assert_int_equal(fsub_drain(&a), 1);
	assert_int_equal(a.events, 1);
	assert_int_equal(a.out_of_order, 0);
	room_unsubscribe(&a.sub);
	room_unsubscribe(&watcher.sub);
	flush_presence(f, r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_load_and_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unload_after_last_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_wrap_cuts_laggard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_byte_limit_cuts_laggard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catch_up, setup, teardown),
#ifdef TAVLA_FAULT
		cmocka_unit_test_setup_teardown(test_fault_consumes_no_seq, setup_batch1, teardown),
#endif
		cmocka_unit_test_setup_teardown(test_repeat_consumes_no_seq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_presence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_presence_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rejoin_flush_keeps_newcomer, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
