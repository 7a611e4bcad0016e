/*
 * test_store.c: the store (daemon/store.c) against a real SQLite database in
 * a fresh temporary directory and a real libuv loop.
 *
 * Covers: schema migration on open and refusal of a newer schema; the write
 * path (writer thread, group commit, completions in submission order);
 * invariant 2 (the writer assigns gap-free seqs; a repeated request is
 * recognised and consumes none); failure isolation inside a batch; the
 * idempotency record; token expiry; the administration entry points; fault
 * injection at the commit and at SQLite steps; and shutdown with writes
 * still queued. Not covered here: rooms and fan-out (test_room.c).
 *
 * Every test ends the way the daemon does: store_close, one more uv_run to
 * release the completion handle, and uv_loop_close() must return 0.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <uv.h>

#include "crypto.h"
#include "fault.h"
#include "store.h"

/* store.c's migrations[] length: bump together with a new migration. */
#define SCHEMA_VERSION 5 /* 4: requests_recent (appended idempotency records); 5: replica */

#define ROOM_A "r_aaaaaaaaaaaa"
#define ROOM_B "r_bbbbbbbbbbbb"
#define ROOM_C "r_cccccccccccc"
#define IDENT "i_iiiiiiiiiiii"
#define ORG "o_oooooooooooo"

/* ---- fixture ------------------------------------------------------------------ */

struct fx {
	char dir[64], path[128];
	uv_loop_t loop;
	struct store *s;
	unsigned submitted, done, out_of_order;
	int idle_merge_ms; /* store_opts.idle_merge_ms (0 in most tests) */
};

/* One write as a handler would embed it, with the strings it lends. */
struct tw {
	struct store_write w; /* first: the completion casts back */
	struct fx *fx;
	unsigned idx, calls;
	struct tv_event_view ev;
	unsigned char fp[TV_HASH_LEN];
	char client_id[32], data[64], result[64];
	char reply[96];      /* what the writer handed back */
	int duplicate;
};

static void fx_open_store(struct fx *f)
{
	struct store_opts o = { .path = f->path, .sync_full = 0, .batch_max = 4096,
				.idle_merge_ms = f->idle_merge_ms };
	char err[256] = "";
	int rc = store_open(&f->s, &f->loop, &o, err, sizeof err);
	if (rc)
		fail_msg("store_open: %d %s", rc, err);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	assert_non_null(f);
	snprintf(f->dir, sizeof f->dir, "/tmp/tv-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/tavla.db", f->dir);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	*state = f;
	return 0;
}

/* Closes the store (if open) and checks the loop closes cleanly. */
static void fx_close_store(struct fx *f)
{
	if (f->s) {
		store_close(f->s);
		f->s = NULL;
	}
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	fx_close_store(f);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	fault_arm(NULL, 0, 0);
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

static int setup_open(void **state)
{
	setup(state);
	fx_open_store(*state);
	return 0;
}

/* ---- writes -------------------------------------------------------------------- */

static void tw_done(struct store_write *w)
{
	struct tw *t = (struct tw *)w;
	t->calls++;
	t->duplicate = w->duplicate;
	snprintf(t->reply, sizeof t->reply, "%s", w->reply ? w->reply : "");
	store_write_release(w);
	if (t->idx != t->fx->done)
		t->fx->out_of_order++;
	t->fx->done++;
}

static void tw_room(struct tw *t, const char *id, const char *code)
{
	t->w.room.id = id;
	t->w.room.org_id = ORG;
	t->w.room.kind = "board";
	t->w.room.title = "Retro";
	t->w.room.code = code;
	t->w.room.created_by = IDENT;
}

static void tw_event(struct tw *t, const char *room, uint64_t seq)
{
	snprintf(t->data, sizeof t->data, "{\"n\":%llu}", (unsigned long long)seq);
	t->ev = (struct tv_event_view){
		.room = room, .seq = seq, .ts_ms = 1000 + (int64_t)seq,
		.author_id = IDENT, .author_name = "Ann", .kind = "note",
		.data_json = t->data, .data_len = strlen(t->data),
	};
	t->w.event = &t->ev;
}

static void tw_request(struct tw *t, const char *client_id, const char *room)
{
	snprintf(t->client_id, sizeof t->client_id, "%s", client_id);
	snprintf(t->result, sizeof t->result, "{\"client\":\"%s\"}", client_id);
	crypto_sha256(client_id, strlen(client_id), t->fp);
	t->w.request.identity_id = IDENT;
	t->w.request.client_id = t->client_id;
	t->w.request.room_id = room;
	t->w.request.result = t->result;
	t->w.request.fingerprint = t->fp;
}

static void submit(struct fx *f, struct tw *t)
{
	t->fx = f;
	t->idx = f->submitted++;
	t->w.done = tw_done;
	if (!t->w.now_ms)
		t->w.now_ms = 5000;
	store_submit(f->s, &t->w);
}

static void run_until_done(struct fx *f)
{
	while (f->done < f->submitted)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_int_equal(f->out_of_order, 0);
	assert_int_equal(store_pending(f->s), 0);
}

/* Submits one write, waits for it and returns its status. */
static int write_one(struct fx *f, struct tw *t)
{
	submit(f, t);
	run_until_done(f);
	assert_int_equal(t->calls, 1);
	return t->w.status;
}

/* A room with event 1 in it, committed. */
static void make_room(struct fx *f, const char *id, const char *code)
{
	struct tw t = { 0 };
	tw_room(&t, id, code);
	tw_event(&t, id, 1);
	assert_int_equal(write_one(f, &t), 0);
}

/* ---- reads --------------------------------------------------------------------- */

struct seqs {
	uint64_t seq[4096];
	long n;
	int bad; /* a field did not read back as written */
};

static int collect(void *arg, const struct tv_event_view *v)
{
	struct seqs *c = arg;
	char want[64];
	snprintf(want, sizeof want, "{\"n\":%llu}", (unsigned long long)v->seq);
	if (strcmp(v->data_json, want) || v->data_len != strlen(want) ||
	    strcmp(v->kind, "note") || !v->author_id || strcmp(v->author_id, IDENT) ||
	    strcmp(v->author_name, "Ann") || v->ts_ms != 1000 + (int64_t)v->seq)
		c->bad++;
	if (c->n < (long)(sizeof c->seq / sizeof c->seq[0]))
		c->seq[c->n] = v->seq;
	c->n++;
	return 0;
}

/* Asserts that room holds exactly events 1..head, in order. */
static void assert_events(struct fx *f, const char *room, uint64_t head)
{
	static struct seqs c;
	memset(&c, 0, sizeof c);
	long n = store_events(f->s, room, 0, UINT32_MAX, 100000, collect, &c);
	assert_int_equal(n, (long)head);
	assert_int_equal(c.n, (long)head);
	assert_int_equal(c.bad, 0);
	for (long i = 0; i < c.n; i++)
		assert_int_equal(c.seq[i], (uint64_t)i + 1);

	struct store_room r;
	assert_int_equal(store_room_get(f->s, room, &r), 0);
	assert_int_equal(r.head, head);
	store_room_clear(&r);
}

static int user_version(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int v = -1;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* ---- schema --------------------------------------------------------------------- */

static void test_open_fresh_migrates(void **state)
{
	struct fx *f = *state;
	fx_open_store(f);
	assert_int_equal(user_version(f->path), SCHEMA_VERSION);
	struct store_room r;
	assert_int_equal(store_room_get(f->s, ROOM_A, &r), -TV_E_ROOM_NOT_FOUND);
	store_room_clear(&r);
	assert_int_equal(store_code_taken(f->s, "ABCDEF"), 0);
}

static void test_reopen_keeps_data(void **state)
{
	struct fx *f = *state;
	fx_open_store(f);
	make_room(f, ROOM_A, "ABCDEF");
	fx_close_store(f);

	/* A second migration run would fail on CREATE TABLE: open must
	 * succeed and find the data. */
	fx_open_store(f);
	assert_int_equal(user_version(f->path), SCHEMA_VERSION);
	assert_events(f, ROOM_A, 1);
	assert_int_equal(store_code_taken(f->s, "ABCDEF"), 1);
	struct store_room r;
	assert_int_equal(store_room_by_code(f->s, "ABCDEF", &r), 0);
	assert_string_equal(r.id, ROOM_A);
	assert_string_equal(r.org_id, ORG);
	assert_string_equal(r.kind, "board");
	assert_string_equal(r.title, "Retro");
	assert_int_equal(r.created, 5000);
	store_room_clear(&r);
}

static void test_refuses_newer_schema(void **state)
{
	struct fx *f = *state;
	sqlite3 *db;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	struct store_opts o = { .path = f->path, .sync_full = 1, .batch_max = 16 };
	char err[256] = "";
	struct store *s = NULL;
	int rc = store_open(&s, &f->loop, &o, err, sizeof err);
	assert_true(rc < 0);
	assert_null(s);
	assert_non_null(strstr(err, "99"));
	assert_non_null(strstr(err, "newer"));
	assert_int_equal(user_version(f->path), 99); /* left alone */
}

/* ---- writes ---------------------------------------------------------------------- */

static void test_write_and_read_back(void **state)
{
	struct fx *f = *state;
	struct tw t = { 0 };
	tw_room(&t, ROOM_A, "ABCDEF");
	tw_event(&t, ROOM_A, 1);
	assert_int_equal(write_one(f, &t), 0);
	assert_events(f, ROOM_A, 1);

	/* after/upto/limit bound the read. */
	struct seqs c = { 0 };
	assert_int_equal(store_events(f->s, ROOM_A, 1, 10, 10, collect, &c), 0);
	assert_int_equal(store_events(f->s, ROOM_B, 0, 10, 10, collect, &c), 0);
}

static void test_writer_assigns_seq(void **state)
{
	struct fx *f = *state;
	make_room(f, ROOM_A, "ABCDEF");

	/* Whatever seq the caller put in, the writer gives head + 1 and says
	 * so in the view and in the reply. */
	struct tw t = { 0 };
	tw_event(&t, ROOM_A, 2); /* data and time as seq 2 would have them */
	t.ev.seq = 77;
	tw_request(&t, "s1", ROOM_A);
	t.w.request.add_seq = 1;
	assert_int_equal(write_one(f, &t), 0);
	assert_int_equal(t.ev.seq, 2);
	assert_string_equal(t.reply, "{\"client\":\"s1\",\"seq\":2}");
	assert_events(f, ROOM_A, 2);

	/* The same request again: recognised, nothing written, first reply. */
	struct tw again = { 0 };
	tw_event(&again, ROOM_A, 3);
	tw_request(&again, "s1", ROOM_A);
	again.w.request.add_seq = 1;
	assert_int_equal(write_one(f, &again), 0);
	assert_true(again.duplicate);
	assert_string_equal(again.reply, "{\"client\":\"s1\",\"seq\":2}");
	assert_memory_equal(again.w.dup_fingerprint, t.fp, TV_HASH_LEN);
	assert_events(f, ROOM_A, 2);

	/* ...and the next event still gets 3: a repeat consumes no seq. */
	struct tw next = { 0 };
	tw_event(&next, ROOM_A, 3);
	next.ev.seq = 0;
	assert_int_equal(write_one(f, &next), 0);
	assert_int_equal(next.ev.seq, 3);
	assert_events(f, ROOM_A, 3);
}

#define MANY 2000

static void test_group_commit_order(void **state)
{
	struct fx *f = *state;
	make_room(f, ROOM_A, "ABCDEF");

	struct tw *t = calloc(MANY, sizeof *t);
	assert_non_null(t);
	for (unsigned i = 0; i < MANY; i++) {
		char cid[32];
		snprintf(cid, sizeof cid, "c%u", i);
		tw_event(&t[i], ROOM_A, 2 + i);
		t[i].ev.seq = 0; /* the writer decides */
		tw_request(&t[i], cid, ROOM_A);
		submit(f, &t[i]);
	}
	run_until_done(f);
	for (unsigned i = 0; i < MANY; i++) {
		assert_int_equal(t[i].calls, 1);
		assert_int_equal(t[i].w.status, 0);
		assert_int_equal(t[i].ev.seq, 2 + i); /* submission order is seq order */
	}
	assert_events(f, ROOM_A, MANY + 1);

	unsigned char fp[TV_HASH_LEN];
	char *result = NULL;
	assert_int_equal(store_request_get(f->s, IDENT, "c1999", fp, &result), 0);
	assert_memory_equal(fp, t[1999].fp, TV_HASH_LEN);
	assert_string_equal(result, "{\"client\":\"c1999\"}");
	free(result);
	free(t);
}

/* Holds SQLite's write lock from a second connection so that the writer
 * stalls inside its first transaction while more writes queue up: the ones
 * queued meanwhile then form one batch. */
static sqlite3 *plug_begin(struct fx *f)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	return db;
}

static void plug_end(sqlite3 *db)
{
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void test_batch_isolates_failure(void **state)
{
	struct fx *f = *state;
	make_room(f, ROOM_A, "ABCDEF");
	make_room(f, ROOM_B, "BCDEFG");

	sqlite3 *plug = plug_begin(f);
	struct tw first = { 0 }, a = { 0 }, bad = { 0 }, c = { 0 };
	tw_request(&first, "first", NULL);
	submit(f, &first);
	usleep(100 * 1000); /* the writer takes `first` alone and waits */

	tw_event(&a, ROOM_A, 2);
	tw_request(&a, "k1", ROOM_A);
	submit(f, &a);
	/* bad: an event in B, but a room whose id exists (ROOM_A): the
	 * constraint fails the write, the batch is retried write by write. */
	tw_room(&bad, ROOM_A, "CDEFGH");
	tw_event(&bad, ROOM_B, 2);
	tw_request(&bad, "k2", ROOM_B);
	submit(f, &bad);
	tw_event(&c, ROOM_A, 3);
	tw_request(&c, "k3", ROOM_A);
	submit(f, &c);
	plug_end(plug);
	run_until_done(f);

	assert_int_equal(first.w.status, 0);
	assert_int_equal(a.w.status, 0);
	assert_int_equal(bad.w.status, -TV_E_STORAGE_ERROR);
	assert_int_equal(c.w.status, 0);
	assert_events(f, ROOM_A, 3);
	assert_events(f, ROOM_B, 1);
	struct store_room r;
	assert_int_equal(store_room_by_code(f->s, "CDEFGH", &r), -TV_E_ROOM_NOT_FOUND);
	store_room_clear(&r);
	assert_int_equal(store_request_get(f->s, IDENT, "k2", (unsigned char[TV_HASH_LEN]){ 0 },
					   &(char *){ NULL }), 1);

	unsigned char fp[TV_HASH_LEN];
	char *result = NULL;
	assert_int_equal(store_request_get(f->s, IDENT, "k1", fp, &result), 0);
	assert_string_equal(result, "{\"client\":\"k1\"}");
	assert_memory_equal(fp, a.fp, TV_HASH_LEN);
	free(result);

	/* The room the bad write touched takes its next event normally. */
	struct tw b2 = { 0 };
	tw_event(&b2, ROOM_B, 2);
	assert_int_equal(write_one(f, &b2), 0);
	assert_events(f, ROOM_B, 2);
}

static void test_request_record(void **state)
{
	struct fx *f = *state;
	unsigned char fp[TV_HASH_LEN];
	char *result = NULL;
	assert_int_equal(store_request_get(f->s, IDENT, "x1", fp, &result), 1);
	assert_null(result);

	struct tw t = { 0 };
	tw_request(&t, "x1", NULL);
	assert_int_equal(write_one(f, &t), 0);
	assert_int_equal(store_request_get(f->s, IDENT, "x1", fp, &result), 0);
	assert_memory_equal(fp, t.fp, TV_HASH_LEN);
	assert_string_equal(result, "{\"client\":\"x1\"}");
	free(result);
	/* The key is (identity, client id): another identity is absent. */
	result = NULL;
	assert_int_equal(store_request_get(f->s, "i_other0000000", "x1", fp, &result), 1);
	assert_null(result);

	/* Invariant 3: the same key again is a repeat, not a second record. */
	struct tw dup = { 0 };
	tw_request(&dup, "x1", NULL);
	assert_int_equal(write_one(f, &dup), 0);
	assert_true(dup.duplicate);
	assert_string_equal(dup.reply, "{\"client\":\"x1\"}");
}

/* Rows in table (a count on a connection of the test's own). */
static long count_rows(struct fx *f, const char *table)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char sql[96];
	long n = -1;
	snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return n;
}

/* Asserts that client id cid of IDENT is a repeat (in either table). */
static void assert_repeat(struct fx *f, const char *cid)
{
	struct tw dup = { 0 };
	tw_request(&dup, cid, NULL);
	assert_int_equal(write_one(f, &dup), 0);
	assert_true(dup.duplicate);
	char want[64];
	snprintf(want, sizeof want, "{\"client\":\"%s\"}", cid);
	assert_string_equal(dup.reply, want);
	unsigned char fp[TV_HASH_LEN];
	char *result = NULL;
	assert_int_equal(store_request_get(f->s, IDENT, cid, fp, &result), 0);
	assert_string_equal(result, want);
	free(result);
}

/* New records go to requests_recent and move to requests every 4096
 * (store.c RECENT_MERGE); a repeat is recognised before the move, after
 * it, and after a restart (the writer reloads the keys of the recent ones). */
static void test_requests_recent_merge(void **state)
{
	struct fx *f = *state;
	enum { N = 5000, BATCH = 500 };
	struct tw *t = calloc(N, sizeof *t);
	assert_non_null(t);
	for (int i = 0; i < N; i += BATCH) {
		for (int j = i; j < i + BATCH; j++) {
			char cid[16];
			snprintf(cid, sizeof cid, "m%d", j);
			tw_request(&t[j], cid, NULL);
			submit(f, &t[j]);
		}
		run_until_done(f);
	}
	for (int j = 0; j < N; j++) {
		assert_int_equal(t[j].w.status, 0);
		assert_false(t[j].duplicate);
	}
	free(t);
	long merged = count_rows(f, "requests"), recent = count_rows(f, "requests_recent");
	assert_true(merged >= 4096);
	assert_int_equal(merged + recent, N);
	assert_true(recent > 0);
	assert_repeat(f, "m0");    /* merged */
	assert_repeat(f, "m4999"); /* still recent */
	assert_int_equal(count_rows(f, "requests_all"), N);

	fx_close_store(f);
	fx_open_store(f);
	assert_repeat(f, "m0");
	assert_repeat(f, "m4999");
	assert_int_equal(count_rows(f, "requests_all"), N);
}

/* An idle writer moves what has gathered (64 records or more) after
 * idle_merge_ms; fewer stay. */
static void test_requests_idle_merge(void **state)
{
	struct fx *f = *state;
	f->idle_merge_ms = 20;
	fx_open_store(f);
	enum { N = 100 };
	struct tw *t = calloc(N, sizeof *t);
	assert_non_null(t);
	for (int j = 0; j < N; j++) {
		char cid[16];
		snprintf(cid, sizeof cid, "i%d", j);
		tw_request(&t[j], cid, NULL);
		submit(f, &t[j]);
	}
	run_until_done(f);
	free(t);
	long recent = -1;
	for (int i = 0; i < 200 && recent != 0; i++) { /* up to 2 s */
		usleep(10000);
		recent = count_rows(f, "requests_recent");
	}
	assert_int_equal(recent, 0);
	assert_int_equal(count_rows(f, "requests"), N);
	assert_repeat(f, "i0");
	assert_repeat(f, "i99");
	/* The repeats added nothing; a few new records stay where they are. */
	struct tw few[3];
	memset(few, 0, sizeof few);
	for (int j = 0; j < 3; j++) {
		char cid[16];
		snprintf(cid, sizeof cid, "k%d", j);
		tw_request(&few[j], cid, NULL);
		submit(f, &few[j]);
	}
	run_until_done(f);
	usleep(100000);
	assert_int_equal(count_rows(f, "requests_recent"), 3);
	assert_repeat(f, "k2");
}

/* ---- tokens and accounts ----------------------------------------------------------- */

#define DAY (86400LL * 1000)

static void test_token_expiry(void **state)
{
	struct fx *f = *state;
	unsigned char hash[TV_HASH_LEN], other[TV_HASH_LEN];
	crypto_sha256("token", 5, hash);
	crypto_sha256("other", 5, other);
	const int64_t t0 = 1700000000000LL, max_age = 30 * DAY;

	struct tw t = { 0 };
	t.w.identity.id = IDENT;
	t.w.identity.kind = "guest";
	t.w.identity.name = "Ann";
	t.w.token.hash = hash;
	t.w.token.identity_id = IDENT;
	t.w.now_ms = t0;
	assert_int_equal(write_one(f, &t), 0);

	struct store_identity id;
	memset(&id, 0, sizeof id);
	assert_int_equal(store_identity_by_token(f->s, hash, t0 + 1000, max_age, &id), 0);
	assert_string_equal(id.id, IDENT);
	assert_string_equal(id.kind, "guest");
	assert_string_equal(id.name, "Ann");
	assert_string_equal(id.org_id, "");

	assert_int_equal(store_identity_by_token(f->s, hash, t0 + max_age + 1, max_age, &id),
			 -TV_E_BAD_TOKEN);
	assert_int_equal(store_identity_by_token(f->s, hash, t0 + 1000 * DAY, max_age, &id),
			 -TV_E_BAD_TOKEN);
	assert_int_equal(store_identity_by_token(f->s, other, t0, max_age, &id),
			 -TV_E_BAD_TOKEN);

	/* Sliding expiry: a use two days in moves the deadline with it. */
	const int64_t t2 = t0 + 2 * DAY;
	assert_int_equal(store_identity_by_token(f->s, hash, t2, max_age, &id), 0);
	assert_int_equal(store_identity_by_token(f->s, hash, t2 + max_age, max_age, &id), 0);
	assert_int_equal(store_identity_by_token(f->s, hash, t2 + 2 * max_age + 1, max_age, &id),
			 -TV_E_BAD_TOKEN);
}

static void test_admin_user_add(void **state)
{
	struct fx *f = *state;
	const char *pw = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";
	char err[256] = "";
	assert_int_equal(store_admin_user_add(f->path, "acme", "ann", pw, err, sizeof err), 0);
	err[0] = 0;
	assert_int_equal(store_admin_user_add(f->path, "acme", "ann", "other", err, sizeof err),
			 -EEXIST);
	assert_non_null(strstr(err, "ann"));

	struct store_identity id;
	char *hash = NULL;
	memset(&id, 0, sizeof id);
	assert_int_equal(store_account_get(f->s, "ann", &id, &hash), 0);
	assert_string_equal(hash, pw); /* the first add's, not the refused one */
	assert_string_equal(id.kind, "account");
	assert_string_equal(id.name, "ann");
	assert_int_equal(strlen(id.id), TV_ID_LEN);
	free(hash);

	char org[TV_ID_LEN + 1];
	assert_int_equal(store_admin_org_id(f->path, "acme", org, err, sizeof err), 0);
	assert_string_equal(org, id.org_id);

	hash = NULL;
	assert_int_equal(store_account_get(f->s, "bob", &id, &hash), -TV_E_BAD_CREDENTIALS);
	assert_null(hash);
}

/* ---- fault injection ----------------------------------------------------------------- */

#ifdef TAVLA_FAULT
static void test_fault_before_commit(void **state)
{
	struct fx *f = *state;
	make_room(f, ROOM_A, "ABCDEF");

	fault_arm("store.before_commit", 1, 0);
	struct tw t = { 0 };
	tw_room(&t, ROOM_B, "BCDEFG");
	tw_event(&t, ROOM_A, 2);
	tw_request(&t, "f1", ROOM_A);
	assert_true(write_one(f, &t) < 0);
	assert_events(f, ROOM_A, 1);
	struct store_room r;
	assert_int_equal(store_room_get(f->s, ROOM_B, &r), -TV_E_ROOM_NOT_FOUND);
	store_room_clear(&r);
	unsigned char fp[TV_HASH_LEN];
	char *result = NULL;
	assert_int_equal(store_request_get(f->s, IDENT, "f1", fp, &result), 1);

	/* The site trips once: the same write now commits. */
	struct tw again = { 0 };
	tw_room(&again, ROOM_B, "BCDEFG");
	tw_event(&again, ROOM_A, 2);
	tw_request(&again, "f1", ROOM_A);
	assert_int_equal(write_one(f, &again), 0);
	assert_events(f, ROOM_A, 2);
	assert_int_equal(store_request_get(f->s, IDENT, "f1", fp, &result), 0);
	free(result);
}

static void test_fault_step_full(void **state)
{
	struct fx *f = *state;
	make_room(f, ROOM_A, "ABCDEF");

	/* n = 1 trips the BEGIN, n = 2 the first INSERT (after BEGIN). */
	for (long n = 1; n <= 2; n++) {
		fault_arm("store.step", n, 0);
		struct tw t = { 0 };
		tw_room(&t, ROOM_B, "BCDEFG");
		tw_event(&t, ROOM_A, 2);
		assert_int_equal(write_one(f, &t), -TV_E_STORAGE_FULL);
		assert_events(f, ROOM_A, 1);
		struct store_room r;
		assert_int_equal(store_room_get(f->s, ROOM_B, &r), -TV_E_ROOM_NOT_FOUND);
		store_room_clear(&r);
	}
	fault_arm(NULL, 0, 0);
	struct tw t = { 0 };
	tw_event(&t, ROOM_A, 2);
	assert_int_equal(write_one(f, &t), 0);
	assert_events(f, ROOM_A, 2);
}

/* A failed write's ROLLBACK that itself fails must not leave the writer
 * stuck inside the open transaction for every later write. */
static void test_fault_rollback_recovers(void **state)
{
	struct fx *f = *state;
	make_room(f, ROOM_A, "ABCDEF");

	/* Steps: BEGIN (1), the room INSERT (2, fails: the id exists), then
	 * ROLLBACK (3), which the armed site fails. */
	fault_arm("store.step", 3, 0);
	struct tw t = { 0 };
	tw_room(&t, ROOM_A, "ABCDEF"); /* duplicate room: fails at step 2 */
	assert_true(write_one(f, &t) < 0);
	fault_arm(NULL, 0, 0);

	struct tw next = { 0 };
	tw_event(&next, ROOM_A, 2);
	assert_int_equal(write_one(f, &next), 0);
	assert_events(f, ROOM_A, 2);
}
#endif

/* ---- shutdown ----------------------------------------------------------------------- */

static void test_close_runs_queued_completions(void **state)
{
	struct fx *f = *state;
	make_room(f, ROOM_A, "ABCDEF");

	struct tw t[100];
	memset(t, 0, sizeof t);
	unsigned before = f->done;
	for (unsigned i = 0; i < 100; i++) {
		tw_event(&t[i], ROOM_A, 2 + i);
		submit(f, &t[i]);
	}
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(f->done - before, 100);
	assert_int_equal(f->out_of_order, 0);
	for (unsigned i = 0; i < 100; i++) {
		assert_int_equal(t[i].calls, 1);
		assert_int_equal(t[i].w.status, 0);
	}
	fx_close_store(f);

	fx_open_store(f);
	assert_events(f, ROOM_A, 101);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_fresh_migrates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_newer_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_and_read_back, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_writer_assigns_seq, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit_order, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_batch_isolates_failure, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_request_record, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_requests_recent_merge, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_requests_idle_merge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_expiry, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_admin_user_add, setup_open, teardown),
#ifdef TAVLA_FAULT
		cmocka_unit_test_setup_teardown(test_fault_before_commit, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_fault_step_full, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_fault_rollback_recovers, setup_open, teardown),
#endif
		cmocka_unit_test_setup_teardown(test_close_runs_queued_completions, setup_open,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
