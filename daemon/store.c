/*
 * store.c: SQLite schema, reads on the loop thread, and the group-commit
 * writer thread (see store.h for the contract and invariants).
 *
 * Why a writer thread: with synchronous=FULL a COMMIT waits for fsync
 * (milliseconds); on the loop thread that would stall every connection.
 * The writer takes everything queued since its last commit into one
 * transaction, so under load one fsync covers hundreds of writes, and at
 * light load a lone write commits at once (no timer, no waiting to batch).
 *
 * Why checkpoints stay in the writer: a checkpointer thread of its own
 * (passive, on its own connection) was measured and was slower on two
 * cores (bench/RESULTS.md): its CPU and its fsync of the database file
 * compete with the writer's. The writer's WAL hook checkpoints as SQLite's
 * automatic checkpoint would (every CKPT_FRAMES) and counts the pages each
 * commit appends (tavla_wal_pages_total).
 *
 * Why requests_recent: the idempotency key (identity, client id) puts
 * each identity's records in its own part of the requests B-tree, so a
 * commit of N writes from N people rewrote N leaf pages of it (4 KiB of
 * WAL each, for a 100-byte row). New records are appended to
 * requests_recent instead (rowid order: a commit touches its last page or
 * two) and the writer keeps their keys in memory (`recent`); every
 * RECENT_MERGE records it moves them into requests sorted by key in one
 * transaction of its own, where many records of one identity share a
 * leaf. A request is recognised if it is in either table. The move holds
 * the writes queued behind it (40-120 ms with 1,000 identities on the
 * test machine; cutting it into eight transactions by identity cost three
 * times as much in all, each still 30 ms and more, so it stays whole).
 * So that light load, where nothing else would make a write wait, rarely
 * meets a move, the writer also moves what has gathered (RECENT_IDLE_MIN
 * or more) once it has been idle for store_opts.idle_merge_ms.
 *
 * Why the writer checks seq itself: seqs are assigned on the loop thread
 * when a request is accepted. If one write fails (disk full) the writes
 * queued behind it for the same room carry later seqs; storing them would
 * leave a gap. The writer remembers each room's last stored seq and fails
 * any event that does not extend it by one; the room then re-assigns.
 */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fault.h"
#include "log.h"
#include "map.h"
#include "store_internal.h"

/* ---- schema ----------------------------------------------------------------
 * migrations[i] moves a database from user_version i to i+1. Append only. */
static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE orgs("
	"  id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created INTEGER NOT NULL);"
	"CREATE TABLE identities("
	"  id TEXT PRIMARY KEY,"
	"  kind TEXT NOT NULL CHECK (kind IN ('account','guest')),"
	"  org_id TEXT, name TEXT NOT NULL, created INTEGER NOT NULL);"
	"CREATE TABLE accounts("
	"  username TEXT PRIMARY KEY, identity_id TEXT NOT NULL UNIQUE,"
	"  pwhash TEXT NOT NULL, created INTEGER NOT NULL);"
	"CREATE TABLE tokens("
	"  hash BLOB PRIMARY KEY, identity_id TEXT NOT NULL,"
	"  created INTEGER NOT NULL, used INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE rooms("
	"  id TEXT PRIMARY KEY, org_id TEXT NOT NULL, kind TEXT NOT NULL,"
	"  title TEXT NOT NULL, code TEXT NOT NULL UNIQUE, created_by TEXT,"
	"  created INTEGER NOT NULL);"
	"CREATE INDEX rooms_by_org ON rooms(org_id);"
	"CREATE TABLE members("
	"  room_id TEXT NOT NULL, identity_id TEXT NOT NULL, role INTEGER NOT NULL,"
	"  joined INTEGER NOT NULL, PRIMARY KEY (room_id, identity_id)) WITHOUT ROWID;"
	"CREATE INDEX members_by_identity ON members(identity_id);"
	"CREATE TABLE events("
	"  room_id TEXT NOT NULL, seq INTEGER NOT NULL CHECK (seq > 0),"
	"  ts INTEGER NOT NULL, author_id TEXT, author_name TEXT,"
	"  kind TEXT NOT NULL, data TEXT NOT NULL,"
	"  PRIMARY KEY (room_id, seq)) WITHOUT ROWID;"
	"CREATE TABLE requests("
	"  identity_id TEXT NOT NULL, client_id TEXT NOT NULL,"
	"  fingerprint BLOB NOT NULL, result TEXT NOT NULL, room_id TEXT,"
	"  created INTEGER NOT NULL, PRIMARY KEY (identity_id, client_id)) WITHOUT ROWID;",
	/* 1 -> 2: archived rooms (tavlad admin room-archive); the readiness
	 * probe's one row (a real write with its fsync, see store_write.probe);
	 * the index that finds an identity's events for export and erasure. */
	"ALTER TABLE rooms ADD COLUMN archived INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE probe(id INTEGER PRIMARY KEY CHECK (id = 1), ts INTEGER NOT NULL);"
	"CREATE INDEX events_by_author ON events(author_id) WHERE author_id IS NOT NULL;",
	/* 2 -> 3: meetings and forums (PROTOCOL.md §9): the full-text index
	 * of what people wrote (FTS5; unicode61 without diacritic folding, so
	 * a, å and ä stay three letters), its room id a column of its own so a
	 * query walks one room's matches only, with one search_docs row per
	 * indexed event, filled from the events already stored; the last seq
	 * each identity has seen per room (rooms.unread). */
	"CREATE TABLE search_docs("
	"  id INTEGER PRIMARY KEY, room_id TEXT NOT NULL, seq INTEGER NOT NULL,"
	"  UNIQUE (room_id, seq));"
	"CREATE VIRTUAL TABLE search_fts USING fts5(room, body,"
	"  tokenize = 'unicode61 remove_diacritics 0', prefix = '2 3');"
	"INSERT INTO search_docs(room_id, seq) SELECT room_id, seq FROM events"
	"  WHERE kind IN ('chat.message','thread.created','post.created','post.edited',"
	"  'round.answered') ORDER BY room_id, seq;"
	"INSERT INTO search_fts(rowid, room, body) SELECT d.id, d.room_id,"
	"  trim(coalesce(json_extract(e.data, '$.title'), '') || ' ' ||"
	"  coalesce(json_extract(e.data, '$.text'), ''))"
	"  FROM search_docs d JOIN events e ON e.room_id = d.room_id AND e.seq = d.seq;"
	"CREATE TABLE seen("
	"  identity_id TEXT NOT NULL, room_id TEXT NOT NULL, seq INTEGER NOT NULL,"
	"  PRIMARY KEY (identity_id, room_id)) WITHOUT ROWID;",
	/* 3 -> 4: new idempotency records are appended to requests_recent
	 * (rowid order, no index) and moved into requests in key order, many
	 * at a time (see "Why requests_recent" above); requests_all is both,
	 * for reading by hand. events_by_author goes: it cost every commit one
	 * rewritten leaf per author, for the sake of `tavlad admin` export
	 * and erasure of one identity, which run with the daemon stopped and
	 * now read the events table through (about a second per million
	 * events). */
	"CREATE TABLE requests_recent("
	"  id INTEGER PRIMARY KEY, identity_id TEXT NOT NULL, client_id TEXT NOT NULL,"
	"  fingerprint BLOB NOT NULL, result TEXT NOT NULL, room_id TEXT,"
	"  created INTEGER NOT NULL);"
	"CREATE VIEW requests_all AS"
	"  SELECT identity_id, client_id, fingerprint, result, room_id, created FROM requests"
	"  UNION ALL"
	"  SELECT identity_id, client_id, fingerprint, result, room_id, created"
	"  FROM requests_recent;"
	"DROP INDEX events_by_author;",
	/* 4 -> 5: cluster mode (replica.c): the stream position applied so
	 * far, for the stream as a whole (subject '') and per subject. Empty
	 * on a single node. */
	"CREATE TABLE IF NOT EXISTS replica("
	"  subject TEXT PRIMARY KEY, seq INTEGER NOT NULL, idx INTEGER NOT NULL) WITHOUT ROWID;",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

/* Statements, by connection. */
enum rd_stmt {
	RD_ROOM_GET, RD_ROOM_BY_CODE, RD_ROOMS_ORG, RD_ROOMS_MEMBER, RD_TOKEN,
	RD_TOKEN_TOUCH, RD_ACCOUNT, RD_MEMBER, RD_EVENTS, RD_REQUEST, RD_CODE,
	RD_REPLICA, RD__COUNT
};
static const char *const rd_sql[RD__COUNT] = {
	[RD_ROOM_GET] = "SELECT r.id, r.org_id, r.code, r.kind, r.title, r.created,"
		" (SELECT coalesce(max(seq),0) FROM events e WHERE e.room_id = r.id), r.archived"
		" FROM rooms r WHERE r.id = ?1",
	[RD_ROOM_BY_CODE] = "SELECT r.id, r.org_id, r.code, r.kind, r.title, r.created,"
		" (SELECT coalesce(max(seq),0) FROM events e WHERE e.room_id = r.id), r.archived"
		" FROM rooms r WHERE r.code = ?1",
	[RD_ROOMS_ORG] = "SELECT r.id, r.org_id, r.code, r.kind, r.title, r.created,"
		" (SELECT coalesce(max(seq),0) FROM events e WHERE e.room_id = r.id), r.archived"
		" FROM rooms r WHERE r.org_id = ?1 ORDER BY r.created, r.id",
	[RD_ROOMS_MEMBER] = "SELECT r.id, r.org_id, r.code, r.kind, r.title, r.created,"
		" (SELECT coalesce(max(seq),0) FROM events e WHERE e.room_id = r.id), r.archived"
		" FROM rooms r JOIN members m ON m.room_id = r.id"
		" WHERE m.identity_id = ?1 ORDER BY r.created, r.id",
	[RD_TOKEN] = "SELECT i.id, coalesce(i.org_id,''), i.kind, i.name, t.used"
		" FROM tokens t JOIN identities i ON i.id = t.identity_id WHERE t.hash = ?1",
	[RD_TOKEN_TOUCH] = "UPDATE tokens SET used = ?2 WHERE hash = ?1",
	[RD_ACCOUNT] = "SELECT i.id, coalesce(i.org_id,''), i.kind, i.name, a.pwhash"
		" FROM accounts a JOIN identities i ON i.id = a.identity_id WHERE a.username = ?1",
	[RD_MEMBER] = "SELECT role FROM members WHERE room_id = ?1 AND identity_id = ?2",
	[RD_EVENTS] = "SELECT seq, ts, author_id, author_name, kind, data FROM events"
		" WHERE room_id = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq LIMIT ?4",
	[RD_REQUEST] = "SELECT fingerprint, result FROM requests"
		" WHERE identity_id = ?1 AND client_id = ?2"
		" UNION ALL SELECT fingerprint, result FROM requests_recent"
		" WHERE identity_id = ?1 AND client_id = ?2",
	[RD_CODE] = "SELECT 1 FROM rooms WHERE code = ?1",
	[RD_REPLICA] = "SELECT subject, seq, idx FROM replica",
};

enum wr_stmt {
	WR_BEGIN, WR_COMMIT, WR_ROLLBACK, WR_ROOM, WR_IDENTITY, WR_TOKEN, WR_MEMBER,
	WR_EVENT, WR_REQUEST, WR_HEAD, WR_MEMBER_SET, WR_REQUEST_GET, WR_PROBE,
	WR_SEARCH_DOC, WR_SEARCH_FTS, WR_SEEN, WR_RECENT_GET, WR_RECENT_SCAN, WR_RECENT_LIST, WR_MERGE,
	WR_MERGE_CLEAR, WR_REPLICA, WR_ORG, WR_ACCOUNT, WR_ROOM_IMP, WR_IDENTITY_IMP,
	WR_TOKEN_IMP, WR__COUNT
};
static const char *const wr_sql[WR__COUNT] = {
	[WR_BEGIN] = "BEGIN IMMEDIATE",
	[WR_COMMIT] = "COMMIT",
	[WR_ROLLBACK] = "ROLLBACK",
	[WR_ROOM] = "INSERT INTO rooms(id, org_id, kind, title, code, created_by, created)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[WR_IDENTITY] = "INSERT INTO identities(id, kind, org_id, name, created)"
		" VALUES (?1, ?2, ?3, ?4, ?5)",
	[WR_TOKEN] = "INSERT INTO tokens(hash, identity_id, created, used) VALUES (?1, ?2, ?3, ?3)",
	[WR_MEMBER] = "INSERT OR IGNORE INTO members(room_id, identity_id, role, joined)"
		" VALUES (?1, ?2, ?3, ?4)",
	[WR_EVENT] = "INSERT INTO events(room_id, seq, ts, author_id, author_name, kind, data)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[WR_REQUEST] = "INSERT INTO requests_recent(identity_id, client_id, fingerprint, result,"
		" room_id, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[WR_HEAD] = "SELECT coalesce(max(seq),0) FROM events WHERE room_id = ?1",
	[WR_MEMBER_SET] = "INSERT OR REPLACE INTO members(room_id, identity_id, role, joined)"
		" VALUES (?1, ?2, ?3, ?4)",
	[WR_REQUEST_GET] = "SELECT fingerprint, result FROM requests"
		" WHERE identity_id = ?1 AND client_id = ?2",
	[WR_PROBE] = "INSERT OR REPLACE INTO probe(id, ts) VALUES (1, ?1)",
	[WR_SEARCH_DOC] = "INSERT INTO search_docs(room_id, seq) VALUES (?1, ?2)",
	[WR_SEARCH_FTS] = "INSERT INTO search_fts(rowid, room, body)"
		" VALUES (last_insert_rowid(), ?1, ?2)",
	[WR_SEEN] = "INSERT INTO seen(identity_id, room_id, seq) VALUES (?1, ?2, ?3)"
		" ON CONFLICT (identity_id, room_id) DO UPDATE SET seq = max(seq, excluded.seq)",
	[WR_RECENT_GET] = "SELECT fingerprint, result FROM requests_recent"
		" WHERE id = ?1 AND identity_id = ?2 AND client_id = ?3",
	[WR_RECENT_SCAN] = "SELECT fingerprint, result FROM requests_recent"
		" WHERE identity_id = ?2 AND client_id = ?3",
	[WR_RECENT_LIST] = "SELECT id, identity_id, client_id FROM requests_recent",
	[WR_MERGE] = "INSERT INTO requests(identity_id, client_id, fingerprint, result, room_id,"
		" created) SELECT identity_id, client_id, fingerprint, result, room_id, created"
		" FROM requests_recent ORDER BY identity_id, client_id",
	[WR_MERGE_CLEAR] = "DELETE FROM requests_recent",
	[WR_REPLICA] = "INSERT INTO replica(subject, seq, idx) VALUES (?1, ?2, ?3)"
		" ON CONFLICT (subject) DO UPDATE SET seq = excluded.seq, idx = excluded.idx",
	[WR_ORG] = "INSERT OR IGNORE INTO orgs(id, name, created) VALUES (?1, ?2, ?3)",
	[WR_ACCOUNT] = "INSERT OR IGNORE INTO accounts(username, identity_id, pwhash, created)"
		" VALUES (?1, ?2, ?3, ?4)",
	[WR_ROOM_IMP] = "INSERT OR IGNORE INTO rooms(id, org_id, kind, title, code, created_by,"
		" created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[WR_IDENTITY_IMP] = "INSERT OR IGNORE INTO identities(id, kind, org_id, name, created)"
		" VALUES (?1, ?2, ?3, ?4, ?5)",
	[WR_TOKEN_IMP] = "INSERT OR IGNORE INTO tokens(hash, identity_id, created, used)"
		" VALUES (?1, ?2, ?3, ?3)",
};

/* Histogram bounds (upper, inclusive) of the writer's measurements. */
static const double lat_bounds[STORE_LAT_BUCKETS] = {
	0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5
};
static const double batch_bounds[STORE_BATCH_BUCKETS] = {
	1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096
};

struct store {
	sqlite3 *rd, *wr;
	sqlite3_stmt *rs[RD__COUNT], *ws[WR__COUNT];
	int batch_max, idle_merge_ms;

	/* Shared between the loop and the writer, under mu. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct store_write *q_head, *q_tail;   /* submitted, not yet taken */
	struct store_write *d_head, *d_tail;   /* finished, not yet completed */
	size_t pending;                        /* submitted, not yet completed */
	int stop;

	pthread_t thread;
	uv_async_t async;
	/* Writer-thread only: last stored seq per room (see file comment). */
	struct map heads;
	/* Writer-thread only: every key in requests_recent ("identity \x1f
	 * client id" -> rowid) while recent_ok; recent_n rows were added since
	 * the last merge, and the next merge is due at recent_due. */
	struct map recent;
	int recent_ok;
	long recent_n, recent_due;
	/* Writer-thread only: WAL size after the last commit, and the frames
	 * the current batch appended (for the metrics). */
	int wal_last;
	uint64_t wal_added;
	/* Measured by the writer, read by store_metrics(); under mu. */
	struct store_metrics m;
};

static int sql_err(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_FULL:
		return -TV_E_STORAGE_FULL;
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	default:
		return -TV_E_STORAGE_ERROR;
	}
}

int store__open_db(sqlite3 **db, const char *path, int sync_full, char *err, size_t errlen)
{
	int rc = sqlite3_open_v2(path, db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
				 NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, *db ? sqlite3_errmsg(*db) : "out of memory");
		sqlite3_close(*db);
		*db = NULL;
		return -TV_E_STORAGE_ERROR;
	}
	sqlite3_db_config(*db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(*db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_busy_timeout(*db, 5000);
	char sql[160];
	snprintf(sql, sizeof sql,
		 "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA foreign_keys=OFF;",
		 sync_full ? "FULL" : "NORMAL");
	char *msg = NULL;
	if (sqlite3_exec(*db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, msg ? msg : "pragma failed");
		sqlite3_free(msg);
		sqlite3_close(*db);
		*db = NULL;
		return -TV_E_STORAGE_ERROR;
	}
	return 0;
}

int store__migrate(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int version = 0;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			version = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	if (version > SCHEMA_VERSION) {
		snprintf(err, errlen, "database schema %d is newer than this tavlad (%d)",
			 version, SCHEMA_VERSION);
		return -TV_E_STORAGE_ERROR;
	}
	for (int v = version; v < SCHEMA_VERSION; v++) {
		char sql[64], *msg = NULL;
		snprintf(sql, sizeof sql, "PRAGMA user_version=%d; COMMIT;", v + 1);
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(db, migrations[v], NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
			snprintf(err, errlen, "migration to schema %d failed: %s", v + 1,
				 msg ? msg : "?");
			sqlite3_free(msg);
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return -TV_E_STORAGE_ERROR;
		}
		log_info("store.migrate", "schema=%d", v + 1);
	}
	return 0;
}

static int prepare_all(sqlite3 *db, const char *const *sql, sqlite3_stmt **st, int n,
		       char *err, size_t errlen)
{
	for (int i = 0; i < n; i++)
		if (sqlite3_prepare_v3(db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st[i],
				       NULL) != SQLITE_OK) {
			snprintf(err, errlen, "prepare: %s", sqlite3_errmsg(db));
			return -TV_E_STORAGE_ERROR;
		}
	return 0;
}

/* ---- checkpoints ------------------------------------------------------------ */

/* WAL frames (pages) after which the writer copies them into the database
 * file: SQLite's own default interval. */
#define CKPT_FRAMES 1000

/* The writer connection's WAL hook (it replaces SQLite's automatic
 * checkpoint): runs in the writer thread after each COMMIT with the WAL's
 * size in frames. Returns SQLITE_OK (the commit stands whatever the
 * checkpoint does; a failed one is tried again after the next commit). */
static int on_wal(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct store *s = arg;
	s->wal_added += (uint64_t)(frames >= s->wal_last ? frames - s->wal_last : frames);
	s->wal_last = frames;
	if (frames >= CKPT_FRAMES)
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return SQLITE_OK;
}

/* ---- the writer thread ------------------------------------------------------ */

static int step_done(sqlite3_stmt *st)
{
	int rc = TV_FAULT("store.step") ? SQLITE_FULL : sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : sql_err(rc);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* Last stored seq of a room as the writer knows it (cached). */
static int writer_head(struct store *s, const char *room, uint64_t *head)
{
	void *v = map_get(&s->heads, room);
	if (v) {
		*head = (uint64_t)(uintptr_t)v - 1;
		return 0;
	}
	sqlite3_stmt *st = s->ws[WR_HEAD];
	sqlite3_bind_text(st, 1, room, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	*head = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : sql_err(rc);
}

void store_write_release(struct store_write *w)
{
	free(w->reply);
	w->reply = NULL;
}

/* ---- requests_recent (file comment) ---- */

/* RECENT_MERGE: records moved at a time; RECENT_KEY: the key's size. */
#define RECENT_MERGE 4096
#define RECENT_IDLE_MIN 64
#define RECENT_KEY (TV_ID_LEN + TV_ID_MAX_BYTES + 2)

static void recent_key(char *key, const char *identity_id, const char *client_id)
{
	snprintf(key, RECENT_KEY, "%s\x1f%s", identity_id, client_id);
}

/* Rebuilds `recent` from the table (at start, and after a rollback that
 * may have left keys of rows that are gone). On failure recent_ok stays 0
 * and find_request scans the table instead: slower, still exact. */
static void recent_load(struct store *s)
{
	sqlite3_stmt *st = s->ws[WR_RECENT_LIST];
	char key[RECENT_KEY];
	int rc;
	map_free(&s->recent);
	map_init(&s->recent);
	s->recent_ok = 0;
	s->recent_n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 1);
		const char *cid = (const char *)sqlite3_column_text(st, 2);
		recent_key(key, id ? id : "", cid ? cid : "");
		if (map_put(&s->recent, key, (void *)(uintptr_t)sqlite3_column_int64(st, 0)))
			break;
		s->recent_n++;
	}
	sqlite3_reset(st);
	s->recent_ok = rc == SQLITE_DONE;
	s->recent_due = RECENT_MERGE;
}

/* Moves requests_recent into requests in its own transaction. A failure
 * (disk full) leaves both tables as they were; it is tried again after
 * another RECENT_MERGE / 4 records. */
static void recent_merge(struct store *s)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = sqlite3_step(s->ws[WR_BEGIN]);
	sqlite3_reset(s->ws[WR_BEGIN]);
	if (rc == SQLITE_DONE) {
		rc = sqlite3_step(s->ws[WR_MERGE]);
		sqlite3_reset(s->ws[WR_MERGE]);
	}
	if (rc == SQLITE_DONE) {
		rc = sqlite3_step(s->ws[WR_MERGE_CLEAR]);
		sqlite3_reset(s->ws[WR_MERGE_CLEAR]);
	}
	if (rc == SQLITE_DONE) {
		rc = sqlite3_step(s->ws[WR_COMMIT]);
		sqlite3_reset(s->ws[WR_COMMIT]);
	}
	if (rc != SQLITE_DONE) {
		log_warn("store.requests_merge_failed", "code=%s records=%ld",
			 tv_err_name(sql_err(rc)), s->recent_n);
		if (!sqlite3_get_autocommit(s->wr))
			step_done(s->ws[WR_ROLLBACK]);
		s->recent_due = s->recent_n + RECENT_MERGE / 4;
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_debug("store.requests_merged", "records=%ld ms=%.1f", s->recent_n,
		  (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	map_free(&s->recent);
	map_init(&s->recent);
	s->recent_ok = 1;
	s->recent_n = 0;
	s->recent_due = RECENT_MERGE;
}

/* Reads one stored request from st (bound, not yet stepped) into w.
 * Returns 1 when found, 0 when not, negative on error; resets st. */
static int take_request(sqlite3_stmt *st, struct store_write *w)
{
	int rc = sqlite3_step(st), ret = 0;
	if (rc == SQLITE_ROW) {
		const void *fp = sqlite3_column_blob(st, 0);
		memset(w->dup_fingerprint, 0, TV_HASH_LEN);
		if (fp && sqlite3_column_bytes(st, 0) == TV_HASH_LEN)
			memcpy(w->dup_fingerprint, fp, TV_HASH_LEN);
		const unsigned char *r = sqlite3_column_text(st, 1);
		free(w->reply);
		w->reply = strdup(r ? (const char *)r : "{}");
		w->duplicate = 1;
		ret = w->reply ? 1 : -TV_E_INTERNAL;
	} else if (rc != SQLITE_DONE) {
		ret = sql_err(rc);
	}
	sqlite3_reset(st);
	return ret;
}

/* A request already done: fills w->duplicate, its fingerprint and reply.
 * Looks in requests_recent (by rowid when `recent` knows the key, by a
 * scan when recent_ok is 0), then in requests. Returns 1 when it was, 0
 * when not, negative on error. */
static int find_request(struct store *s, struct store_write *w)
{
	const char *id = w->request.identity_id, *cid = w->request.client_id;
	char key[RECENT_KEY];
	sqlite3_stmt *st;
	int ret;
	recent_key(key, id, cid);
	void *row = map_get(&s->recent, key);
	if (row || !s->recent_ok) {
		st = s->ws[row ? WR_RECENT_GET : WR_RECENT_SCAN];
		if (row)
			sqlite3_bind_int64(st, 1, (sqlite3_int64)(uintptr_t)row);
		sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, cid, -1, SQLITE_STATIC);
		if ((ret = take_request(st, w)))
			return ret;
	}
	st = s->ws[WR_REQUEST_GET];
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, cid, -1, SQLITE_STATIC);
	return take_request(st, w);
}

/* result + "seq":N, as every append's reply carries it. */
static char *result_with_seq(const char *result, uint64_t seq)
{
	size_t n = strlen(result);
	char *out = malloc(n + 32);
	if (!out)
		return NULL;
	if (n < 2 || result[n - 1] != '}')
		snprintf(out, n + 32, "{\"seq\":%llu}", (unsigned long long)seq);
	else if (n == 2)
		snprintf(out, n + 32, "{\"seq\":%llu}", (unsigned long long)seq);
	else
		snprintf(out, n + 32, "%.*s,\"seq\":%llu}", (int)(n - 1), result,
			 (unsigned long long)seq);
	return out;
}

/* Applies one write inside the open transaction. Returns 0 or -TV_E_x. */
static int apply(struct store *s, struct store_write *w)
{
	sqlite3_stmt *st;
	int rc;
	w->duplicate = 0;
	if (w->replica.seq) {
		st = s->ws[WR_REPLICA];
		for (int i = 0; i < 2; i++) {
			bind_text(st, 1, i ? w->replica.subject : "");
			sqlite3_bind_int64(st, 2, (sqlite3_int64)w->replica.seq);
			sqlite3_bind_int64(st, 3, (sqlite3_int64)w->replica.idx);
			if ((rc = step_done(st)))
				return rc;
		}
	}
	if (w->org.id) {
		st = s->ws[WR_ORG];
		bind_text(st, 1, w->org.id);
		bind_text(st, 2, w->org.name);
		sqlite3_bind_int64(st, 3, w->now_ms);
		if ((rc = step_done(st)))
			return rc;
	}
	if (w->probe) {
		st = s->ws[WR_PROBE];
		sqlite3_bind_int64(st, 1, w->now_ms);
		if ((rc = step_done(st)))
			return rc;
	}
	if (w->retention.before_ms) {
		rc = store__retention(s->wr, w->retention.before_ms, w->retention.keep,
				      w->retention.keep_arg, &w->retention.deleted);
		if (rc)
			return rc;
	}
	if (w->request.identity_id) {
		rc = find_request(s, w);
		if (rc)
			return rc < 0 ? rc : 0; /* a repeat: nothing to write */
	}
	if (w->room.id) {
		st = s->ws[w->import ? WR_ROOM_IMP : WR_ROOM];
		bind_text(st, 1, w->room.id);
		bind_text(st, 2, w->room.org_id);
		bind_text(st, 3, w->room.kind);
		bind_text(st, 4, w->room.title);
		bind_text(st, 5, w->room.code);
		bind_text(st, 6, w->room.created_by);
		sqlite3_bind_int64(st, 7, w->now_ms);
		if ((rc = step_done(st)))
			return rc;
	}
	if (w->identity.id) {
		st = s->ws[w->import ? WR_IDENTITY_IMP : WR_IDENTITY];
		bind_text(st, 1, w->identity.id);
		bind_text(st, 2, w->identity.kind);
		bind_text(st, 3, w->identity.org_id);
		bind_text(st, 4, w->identity.name);
		sqlite3_bind_int64(st, 5, w->now_ms);
		if ((rc = step_done(st)))
			return rc;
	}
	if (w->token.hash) {
		st = s->ws[w->import ? WR_TOKEN_IMP : WR_TOKEN];
		sqlite3_bind_blob(st, 1, w->token.hash, TV_HASH_LEN, SQLITE_STATIC);
		bind_text(st, 2, w->token.identity_id);
		sqlite3_bind_int64(st, 3, w->now_ms);
		if ((rc = step_done(st)))
			return rc;
	}
	if (w->account.username) {
		st = s->ws[WR_ACCOUNT];
		bind_text(st, 1, w->account.username);
		bind_text(st, 2, w->account.identity_id);
		bind_text(st, 3, w->account.pwhash);
		sqlite3_bind_int64(st, 4, w->now_ms);
		if ((rc = step_done(st)))
			return rc;
	}
	if (w->member.room_id) {
		st = s->ws[w->member.replace ? WR_MEMBER_SET : WR_MEMBER];
		bind_text(st, 1, w->member.room_id);
		bind_text(st, 2, w->member.identity_id);
		sqlite3_bind_int(st, 3, (int)w->member.role);
		sqlite3_bind_int64(st, 4, w->now_ms);
		if ((rc = step_done(st)))
			return rc;
	}
	if (w->event) {
		struct tv_event_view *e = w->event;
		uint64_t head;
		if ((rc = writer_head(s, e->room, &head)))
			return rc;
		if (w->import && e->seq <= head)
			goto event_done; /* this node has it already */
		if (w->import && e->seq != head + 1)
			return -TV_E_STORAGE_ERROR; /* never store a gap */
		e->seq = head + 1; /* invariant 2: the writer is the sequencer */
		st = s->ws[WR_EVENT];
		bind_text(st, 1, e->room);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)e->seq);
		sqlite3_bind_int64(st, 3, e->ts_ms);
		bind_text(st, 4, e->author_id);
		bind_text(st, 5, e->author_id ? e->author_name : NULL);
		bind_text(st, 6, e->kind);
		sqlite3_bind_text(st, 7, e->data_json, (int)e->data_len, SQLITE_STATIC);
		if ((rc = step_done(st)))
			return rc;
		if (map_put(&s->heads, e->room, (void *)(uintptr_t)(e->seq + 1)))
			return -TV_E_INTERNAL;
		if (w->search_text) {
			st = s->ws[WR_SEARCH_DOC];
			bind_text(st, 1, e->room);
			sqlite3_bind_int64(st, 2, (sqlite3_int64)e->seq);
			if ((rc = step_done(st)))
				return rc;
			st = s->ws[WR_SEARCH_FTS];
			bind_text(st, 1, e->room);
			bind_text(st, 2, w->search_text);
			if ((rc = step_done(st)))
				return rc;
		}
	}
event_done:
	if (w->seen.room_id) {
		st = s->ws[WR_SEEN];
		bind_text(st, 1, w->seen.identity_id);
		bind_text(st, 2, w->seen.room_id);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)w->seen.seq);
		if ((rc = step_done(st)))
			return rc;
	}
	if (TV_FAULT("store.after_insert"))
		return -TV_E_STORAGE_ERROR;
	if (w->request.identity_id) {
		free(w->reply);
		w->reply = w->request.add_seq && w->event
			? result_with_seq(w->request.result, w->event->seq)
			: strdup(w->request.result ? w->request.result : "{}");
		if (!w->reply)
			return -TV_E_INTERNAL;
		st = s->ws[WR_REQUEST];
		bind_text(st, 1, w->request.identity_id);
		bind_text(st, 2, w->request.client_id);
		sqlite3_bind_blob(st, 3, w->request.fingerprint, TV_HASH_LEN, SQLITE_STATIC);
		bind_text(st, 4, w->reply);
		bind_text(st, 5, w->request.room_id);
		sqlite3_bind_int64(st, 6, w->now_ms);
		if ((rc = step_done(st)))
			return rc;
		char key[RECENT_KEY];
		recent_key(key, w->request.identity_id, w->request.client_id);
		if (map_put(&s->recent, key, (void *)(uintptr_t)sqlite3_last_insert_rowid(s->wr)))
			return -TV_E_INTERNAL;
		s->recent_n++;
	}
	return 0;
}

/* Runs writes [first .. NULL) as one transaction. Returns 0 when committed;
 * on failure everything is rolled back and the head cache is dropped (it
 * may hold seqs of rolled-back events). */
static int commit_batch(struct store *s, struct store_write *first, struct store_write **failed)
{
	if (!sqlite3_get_autocommit(s->wr)) /* an earlier ROLLBACK failed: retry it */
		step_done(s->ws[WR_ROLLBACK]);
	int rc = TV_FAULT("store.before_begin") ? -TV_E_STORAGE_ERROR : step_done(s->ws[WR_BEGIN]);
	*failed = NULL;
	if (rc)
		return rc;
	for (struct store_write *w = first; w; w = w->next)
		if ((rc = apply(s, w))) {
			*failed = w;
			break;
		}
	if (!rc && TV_FAULT("store.before_commit"))
		rc = -TV_E_STORAGE_ERROR;
	if (!rc)
		rc = step_done(s->ws[WR_COMMIT]);
	if (rc) {
		step_done(s->ws[WR_ROLLBACK]);
		map_free(&s->heads);
		map_init(&s->heads);
		recent_load(s); /* it may name rows that were rolled back */
		return rc;
	}
	(void)TV_FAULT("store.after_commit"); /* abort action only */
	return 0;
}

static int bucket(const double *bounds, int n, double v)
{
	int i = 0;
	while (i < n && v > bounds[i])
		i++;
	return i; /* n: above the last bound (+Inf) */
}

/* Hands a finished batch back to the loop; records how long its commit
 * took (seconds, 0 when it failed) and how many writes it held. */
static void finish(struct store *s, struct store_write *first, struct store_write *last,
		   double secs, int n, int failed)
{
	pthread_mutex_lock(&s->mu);
	if (failed) {
		s->m.commits_failed++;
	} else {
		s->m.commit_buckets[bucket(lat_bounds, STORE_LAT_BUCKETS, secs)]++;
		s->m.commit_sum += secs;
		s->m.commits++;
		s->m.batch_buckets[bucket(batch_bounds, STORE_BATCH_BUCKETS, n)]++;
		s->m.batch_sum += (uint64_t)n;
	}
	s->m.wal_pages += s->wal_added;
	s->wal_added = 0;
	if (s->d_tail)
		s->d_tail->next = first;
	else
		s->d_head = first;
	s->d_tail = last;
	pthread_mutex_unlock(&s->mu);
	uv_async_send(&s->async);
}

static void *writer_main(void *arg)
{
	struct store *s = arg;
	recent_load(s);
	for (;;) {
		pthread_mutex_lock(&s->mu);
		while (!s->q_head && !s->stop) {
			/* Idle with records gathered (and no failed move pending
			 * its retry): move them if nothing arrives meanwhile. */
			if (s->idle_merge_ms > 0 && s->recent_n >= RECENT_IDLE_MIN &&
			    s->recent_due == RECENT_MERGE) {
				struct timespec until;
				clock_gettime(CLOCK_MONOTONIC, &until);
				until.tv_nsec += (long)(s->idle_merge_ms % 1000) * 1000000L;
				until.tv_sec += s->idle_merge_ms / 1000 + until.tv_nsec / 1000000000L;
				until.tv_nsec %= 1000000000L;
				if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT &&
				    !s->q_head && !s->stop) {
					pthread_mutex_unlock(&s->mu);
					recent_merge(s);
					pthread_mutex_lock(&s->mu);
				}
			} else {
				pthread_cond_wait(&s->cv, &s->mu);
			}
		}
		if (!s->q_head) {
			pthread_mutex_unlock(&s->mu);
			break;
		}
		/* Take up to batch_max writes: everything that queued while the
		 * last commit was waiting for the disk. */
		struct store_write *first = s->q_head, *last = first;
		int n = 1;
		while (last->next && n < s->batch_max) {
			last = last->next;
			n++;
		}
		s->q_head = last->next;
		if (!s->q_head)
			s->q_tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&s->mu);

		struct store_write *failed;
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		int rc = commit_batch(s, first, &failed);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
		if (rc && n > 1) {
			/* Isolate the failure: commit each write on its own, so one
			 * bad write does not fail its neighbours. */
			for (struct store_write *w = first, *next; w; w = next) {
				next = w->next;
				w->next = NULL;
				w->status = commit_batch(s, w, &failed);
				w->next = next;
			}
		} else {
			for (struct store_write *w = first; w; w = w->next)
				w->status = rc;
		}
		if (rc && n == 1)
			log_warn("store.write_failed", "code=%s", tv_err_name(rc));
		finish(s, first, last, secs, n, rc != 0);
		if (s->recent_n >= s->recent_due) /* the writes queued meanwhile wait */
			recent_merge(s);
	}
	return NULL;
}

/* Loop thread: run completions in submission order. */
static void on_async(uv_async_t *h)
{
	struct store *s = h->data;
	pthread_mutex_lock(&s->mu);
	struct store_write *w = s->d_head;
	s->d_head = s->d_tail = NULL;
	pthread_mutex_unlock(&s->mu);
	while (w) {
		struct store_write *next = w->next;
		w->next = NULL;
		s->pending--;
		w->done(w);
		w = next;
	}
}

void store_submit(struct store *s, struct store_write *w)
{
	w->next = NULL;
	w->status = 0;
	s->pending++;
	pthread_mutex_lock(&s->mu);
	if (s->q_tail)
		s->q_tail->next = w;
	else
		s->q_head = w;
	s->q_tail = w;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

size_t store_pending(struct store *s)
{
	return s->pending;
}

void store_metrics(struct store *s, struct store_metrics *out)
{
	pthread_mutex_lock(&s->mu);
	*out = s->m;
	pthread_mutex_unlock(&s->mu);
	out->lat_bounds = lat_bounds;
	out->batch_bounds = batch_bounds;
	out->pending = s->pending;
}

int store_open(struct store **out, uv_loop_t *loop, const struct store_opts *o,
	       char *err, size_t errlen)
{
	struct store *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -TV_E_INTERNAL;
	}
	s->batch_max = o->batch_max > 0 ? o->batch_max : 1;
	s->idle_merge_ms = o->idle_merge_ms;
	map_init(&s->heads);
	map_init(&s->recent);
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_t ca; /* the idle wait measures on the monotonic clock */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	int rc = store__open_db(&s->wr, o->path, o->sync_full, err, errlen);
	if (!rc)
		rc = store__migrate(s->wr, err, errlen);
	if (!rc)
		rc = store__open_db(&s->rd, o->path, o->sync_full, err, errlen);
	if (!rc) {
		/* Checkpoints belong to the writer (file comment), not to the
		 * read connection's token touches on the loop thread. The
		 * writer keeps its working set (B-tree interior pages, recent
		 * leaves, the index pages of active identities) in a larger
		 * cache than SQLite's default 2 MiB. */
		sqlite3_wal_hook(s->wr, on_wal, s);
		sqlite3_wal_autocheckpoint(s->rd, 0);
		sqlite3_exec(s->wr, "PRAGMA cache_size=-32768", NULL, NULL, NULL);
	}
	if (!rc)
		rc = prepare_all(s->wr, wr_sql, s->ws, WR__COUNT, err, errlen);
	if (!rc)
		rc = prepare_all(s->rd, rd_sql, s->rs, RD__COUNT, err, errlen);
	if (!rc && uv_async_init(loop, &s->async, on_async)) {
		snprintf(err, errlen, "uv_async_init failed");
		rc = -TV_E_INTERNAL;
	}
	if (rc) {
		for (int i = 0; i < WR__COUNT; i++)
			sqlite3_finalize(s->ws[i]);
		for (int i = 0; i < RD__COUNT; i++)
			sqlite3_finalize(s->rs[i]);
		sqlite3_close(s->wr);
		sqlite3_close(s->rd);
		free(s);
		return rc;
	}
	s->async.data = s;
	if (pthread_create(&s->thread, NULL, writer_main, s)) {
		snprintf(err, errlen, "cannot start the writer thread");
		return -TV_E_INTERNAL;
	}
	*out = s;
	return 0;
}

static void free_on_close(uv_handle_t *h)
{
	free(h->data);
}

void store_close(struct store *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	on_async(&s->async); /* completions the loop has not run yet */
	for (int i = 0; i < WR__COUNT; i++)
		sqlite3_finalize(s->ws[i]);
	for (int i = 0; i < RD__COUNT; i++)
		sqlite3_finalize(s->rs[i]);
	sqlite3_close(s->wr);
	sqlite3_close(s->rd);
	map_free(&s->heads);
	map_free(&s->recent);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	uv_close((uv_handle_t *)&s->async, free_on_close);
}

/* ---- reads -------------------------------------------------------------------- */

static void copy_col(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

static int read_room(sqlite3_stmt *st, struct store_room *r)
{
	memset(r, 0, sizeof *r);
	copy_col(r->id, sizeof r->id, st, 0);
	copy_col(r->org_id, sizeof r->org_id, st, 1);
	copy_col(r->code, sizeof r->code, st, 2);
	copy_col(r->kind, sizeof r->kind, st, 3);
	const unsigned char *t = sqlite3_column_text(st, 4);
	r->title = strdup(t ? (const char *)t : "");
	r->created = sqlite3_column_int64(st, 5);
	r->head = (uint64_t)sqlite3_column_int64(st, 6);
	r->archived = sqlite3_column_int(st, 7) != 0;
	return r->title ? 0 : -TV_E_INTERNAL;
}

void store_room_clear(struct store_room *r)
{
	free(r->title);
	r->title = NULL;
}

static int room_one(struct store *s, enum rd_stmt which, const char *key, struct store_room *out)
{
	sqlite3_stmt *st = s->rs[which];
	memset(out, 0, sizeof *out); /* store_room_clear is safe on every path */
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st), ret;
	if (rc == SQLITE_ROW)
		ret = read_room(st, out);
	else
		ret = rc == SQLITE_DONE ? -TV_E_ROOM_NOT_FOUND : sql_err(rc);
	sqlite3_reset(st);
	return ret;
}

int store_room_get(struct store *s, const char *id, struct store_room *out)
{
	return room_one(s, RD_ROOM_GET, id, out);
}

int store_room_by_code(struct store *s, const char *code, struct store_room *out)
{
	return room_one(s, RD_ROOM_BY_CODE, code, out);
}

int store_room_list(struct store *s, const char *org_id, const char *identity_id,
		    void (*fn)(void *, const struct store_room *), void *arg)
{
	sqlite3_stmt *st = s->rs[org_id ? RD_ROOMS_ORG : RD_ROOMS_MEMBER];
	sqlite3_bind_text(st, 1, org_id ? org_id : identity_id, -1, SQLITE_STATIC);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_room r;
		if (read_room(st, &r) == 0)
			fn(arg, &r);
		store_room_clear(&r);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : sql_err(rc);
}

static void read_identity(sqlite3_stmt *st, struct store_identity *out)
{
	copy_col(out->id, sizeof out->id, st, 0);
	copy_col(out->org_id, sizeof out->org_id, st, 1);
	copy_col(out->kind, sizeof out->kind, st, 2);
	copy_col(out->name, sizeof out->name, st, 3);
}

int store_identity_by_token(struct store *s, const unsigned char hash[TV_HASH_LEN],
			    int64_t now_ms, int64_t max_age_ms, struct store_identity *out)
{
	sqlite3_stmt *st = s->rs[RD_TOKEN];
	sqlite3_bind_blob(st, 1, hash, TV_HASH_LEN, SQLITE_STATIC);
	int rc = sqlite3_step(st), ret = -TV_E_BAD_TOKEN;
	int64_t used = 0;
	if (rc == SQLITE_ROW) {
		read_identity(st, out);
		used = sqlite3_column_int64(st, 4);
		ret = now_ms - used <= max_age_ms ? 0 : -TV_E_BAD_TOKEN;
	} else if (rc != SQLITE_DONE) {
		ret = sql_err(rc);
	}
	sqlite3_reset(st);
	/* Sliding expiry, written at most daily: a small write on the loop
	 * thread, rare enough not to matter and not worth a queue entry. */
	if (ret == 0 && now_ms - used > 86400000) {
		st = s->rs[RD_TOKEN_TOUCH];
		sqlite3_bind_blob(st, 1, hash, TV_HASH_LEN, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, now_ms);
		sqlite3_step(st);
		sqlite3_reset(st);
	}
	return ret;
}

int store_account_get(struct store *s, const char *user, struct store_identity *out,
		      char **pwhash)
{
	sqlite3_stmt *st = s->rs[RD_ACCOUNT];
	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st), ret = -TV_E_BAD_CREDENTIALS;
	if (rc == SQLITE_ROW) {
		read_identity(st, out);
		const unsigned char *h = sqlite3_column_text(st, 4);
		*pwhash = strdup(h ? (const char *)h : "");
		ret = *pwhash ? 0 : -TV_E_INTERNAL;
	} else if (rc != SQLITE_DONE) {
		ret = sql_err(rc);
	}
	sqlite3_reset(st);
	return ret;
}

int store_member_role(struct store *s, const char *room_id, const char *identity_id,
		      unsigned *role)
{
	sqlite3_stmt *st = s->rs[RD_MEMBER];
	sqlite3_bind_text(st, 1, room_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, identity_id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	*role = rc == SQLITE_ROW ? (unsigned)sqlite3_column_int(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sql_err(rc);
}

sqlite3 *store__reader(struct store *s)
{
	return s->rd;
}

long store_events(struct store *s, const char *room_id, uint64_t after, uint64_t upto,
		  long limit, int (*fn)(void *, const struct tv_event_view *), void *arg)
{
	sqlite3_stmt *st = s->rs[RD_EVENTS];
	sqlite3_bind_text(st, 1, room_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)after);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)upto);
	sqlite3_bind_int64(st, 4, limit);
	long n = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct tv_event_view v = {
			.room = room_id,
			.seq = (uint64_t)sqlite3_column_int64(st, 0),
			.ts_ms = sqlite3_column_int64(st, 1),
			.author_id = (const char *)sqlite3_column_text(st, 2),
			.author_name = (const char *)sqlite3_column_text(st, 3),
			.kind = (const char *)sqlite3_column_text(st, 4),
			.data_json = (const char *)sqlite3_column_text(st, 5),
			.data_len = (size_t)sqlite3_column_bytes(st, 5),
		};
		if (!v.author_name)
			v.author_name = "";
		n++;
		if (fn(arg, &v))
			break;
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? n : sql_err(rc);
}

int store_request_get(struct store *s, const char *identity_id, const char *client_id,
		      unsigned char fingerprint[TV_HASH_LEN], char **result)
{
	sqlite3_stmt *st = s->rs[RD_REQUEST];
	sqlite3_bind_text(st, 1, identity_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, client_id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st), ret = 1;
	if (rc == SQLITE_ROW) {
		const void *fp = sqlite3_column_blob(st, 0);
		if (fp && sqlite3_column_bytes(st, 0) == TV_HASH_LEN)
			memcpy(fingerprint, fp, TV_HASH_LEN);
		else
			memset(fingerprint, 0, TV_HASH_LEN);
		const unsigned char *r = sqlite3_column_text(st, 1);
		*result = strdup(r ? (const char *)r : "{}");
		ret = *result ? 0 : -TV_E_INTERNAL;
	} else if (rc != SQLITE_DONE) {
		ret = sql_err(rc);
	}
	sqlite3_reset(st);
	return ret;
}

int store_replica_positions(struct store *s,
			    void (*fn)(void *arg, const char *subject, uint64_t seq, unsigned idx),
			    void *arg)
{
	sqlite3_stmt *st = s->rs[RD_REPLICA];
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *subj = sqlite3_column_text(st, 0);
		fn(arg, subj ? (const char *)subj : "", (uint64_t)sqlite3_column_int64(st, 1),
		   (unsigned)sqlite3_column_int64(st, 2));
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : sql_err(rc);
}

int store_code_taken(struct store *s, const char *code)
{
	sqlite3_stmt *st = s->rs[RD_CODE];
	sqlite3_bind_text(st, 1, code, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : sql_err(rc);
}

/* ---- administration ------------------------------------------------------------ */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int admin_open(sqlite3 **db, const char *path, char *err, size_t errlen)
{
	int rc = store__open_db(db, path, 1, err, errlen);
	if (!rc)
		rc = store__migrate(*db, err, errlen);
	return rc;
}

static int org_id_in(sqlite3 *db, const char *org, char out[TV_ID_LEN + 1])
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "SELECT id FROM orgs WHERE name = ?1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return -TV_E_STORAGE_ERROR;
	sqlite3_bind_text(st, 1, org, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		copy_col(out, TV_ID_LEN + 1, st, 0);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (crypto_random_id(out, "o_"))
		return -TV_E_INTERNAL;
	if (sqlite3_prepare_v2(db, "INSERT INTO orgs(id, name, created) VALUES (?1, ?2, ?3)",
			       -1, &st, NULL) != SQLITE_OK)
		return -TV_E_STORAGE_ERROR;
	sqlite3_bind_text(st, 1, out, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, org, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now_ms());
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : sql_err(rc);
}

int store_admin_org_id(const char *db_path, const char *org, char out[TV_ID_LEN + 1],
		       char *err, size_t errlen)
{
	sqlite3 *db;
	int rc = admin_open(&db, db_path, err, errlen);
	if (!rc && (rc = org_id_in(db, org, out)))
		snprintf(err, errlen, "organisation %s: %s", org, sqlite3_errmsg(db));
	sqlite3_close(db);
	return rc;
}

int store_admin_user_add(const char *db_path, const char *org, const char *user,
			 const char *pwhash, char *err, size_t errlen)
{
	sqlite3 *db;
	int rc = admin_open(&db, db_path, err, errlen);
	if (rc) {
		sqlite3_close(db);
		return rc;
	}
	char org_id[TV_ID_LEN + 1], ident[TV_ID_LEN + 1];
	sqlite3_stmt *st = NULL;
	int64_t now = now_ms();
	rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? 0
		: -TV_E_STORAGE_ERROR;
	if (!rc)
		rc = org_id_in(db, org, org_id);
	if (!rc)
		rc = crypto_random_id(ident, "i_");
	if (!rc && sqlite3_prepare_v2(db, "INSERT INTO identities(id, kind, org_id, name, created)"
				      " VALUES (?1, 'account', ?2, ?3, ?4)", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, ident, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, org_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, user, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, now);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -TV_E_STORAGE_ERROR;
		sqlite3_finalize(st);
	}
	if (!rc && sqlite3_prepare_v2(db, "INSERT INTO accounts(username, identity_id, pwhash, created)"
				      " VALUES (?1, ?2, ?3, ?4)", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, ident, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, pwhash, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, now);
		int r = sqlite3_step(st);
		rc = r == SQLITE_DONE ? 0 : (r & 0xff) == SQLITE_CONSTRAINT ? -EEXIST
			: -TV_E_STORAGE_ERROR;
		sqlite3_finalize(st);
	}
	if (rc) {
		if (rc == -EEXIST)
			snprintf(err, errlen, "user %s already exists", user);
		else
			snprintf(err, errlen, "cannot add user %s: %s", user, sqlite3_errmsg(db));
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	} else if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "commit: %s", sqlite3_errmsg(db));
		rc = -TV_E_STORAGE_ERROR;
	}
	sqlite3_close(db);
	return rc;
}
