/*
 * store_search.c: the SQL of meetings and forums: the full-text index
 * (FTS5) and the last seq each identity has seen per room.
 *
 * Responsible for: reading the index and the seen table on the loop
 * thread's read connection, and dropping index rows when events are
 * erased or rooms deleted. Not responsible for: writing index rows (the
 * writer does that in store.c, in the event's own transaction, from
 * store_write.search_text), turning what a person typed into an FTS5
 * query (search.c), or who may see a hit (event.c).
 *
 * Why reads stay on the loop thread: like `history` (store_events), every
 * query here is bounded by LIMIT and walks an index: FTS5 returns the
 * room's matches newest first by rowid, and search_docs ids rise with seq
 * within a room (one writer inserts them in seq order), so a page stops
 * after `limit` rows however large the room is.
 *
 * Invariants:
 *  1. search_docs(room_id, seq) and search_fts(rowid) are in one-to-one
 *     correspondence (id = rowid); both change only in one transaction.
 *  2. Nothing here writes on the read connection.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "store.h"
#include "store_internal.h"

static const char search_sql[] =
	"SELECT d.seq FROM search_fts f JOIN search_docs d ON d.id = f.rowid"
	" WHERE search_fts MATCH ?1 AND d.room_id = ?2 AND d.seq < ?3"
	" ORDER BY f.rowid DESC LIMIT ?4";

long store_search(struct store *s, const char *room_id, const char *match, uint64_t before,
		  long limit, int (*fn)(void *, uint64_t), void *arg)
{
	sqlite3 *db = store__reader(s);
	sqlite3_stmt *st;
	/* The room is a phrase on the room column, so FTS5 intersects this
	 * room's postings with the words' instead of walking every room's
	 * matches; room ids are letters, digits and '_' (crypto.h). */
	for (const char *p = room_id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			return -TV_E_ROOM_NOT_FOUND;
	char *q = sqlite3_mprintf("room : \"%s\" AND body : (%s)", room_id, match);
	if (!q)
		return -TV_E_INTERNAL;
	if (sqlite3_prepare_v2(db, search_sql, -1, &st, NULL) != SQLITE_OK) {
		sqlite3_free(q);
		return -TV_E_STORAGE_ERROR;
	}
	sqlite3_bind_text(st, 1, q, -1, sqlite3_free);
	sqlite3_bind_text(st, 2, room_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)before);
	sqlite3_bind_int64(st, 4, limit);
	long n = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		n++;
		if (fn(arg, (uint64_t)sqlite3_column_int64(st, 0)))
			break;
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return n;
	/* A query FTS5 cannot parse is the client's; search_query() should
	 * never build one, so this is a guard, not a path. */
	return (rc & 0xff) == SQLITE_ERROR ? -TV_E_BAD_REQUEST : -TV_E_STORAGE_ERROR;
}

int store_event_get(struct store *s, const char *room_id, uint64_t seq,
		    int (*fn)(void *, const struct tv_event_view *), void *arg)
{
	long n = store_events(s, room_id, seq - 1, seq, 1, fn, arg);
	return n < 0 ? (int)n : n > 0;
}

static const char unread_sql[2][400] = {
	/* the rooms of an organisation (moderators) */
	"SELECT r.id, r.code, r.kind, r.title,"
	" (SELECT coalesce(max(seq),0) FROM events e WHERE e.room_id = r.id),"
	" coalesce((SELECT seq FROM seen s WHERE s.identity_id = ?2 AND s.room_id = r.id), 0)"
	" FROM rooms r WHERE r.org_id = ?1 AND r.archived = 0 ORDER BY r.created, r.id",
	/* the rooms an identity is a member of */
	"SELECT r.id, r.code, r.kind, r.title,"
	" (SELECT coalesce(max(seq),0) FROM events e WHERE e.room_id = r.id),"
	" coalesce((SELECT seq FROM seen s WHERE s.identity_id = ?2 AND s.room_id = r.id), 0)"
	" FROM rooms r JOIN members m ON m.room_id = r.id"
	" WHERE m.identity_id = ?2 AND m.role < 256 AND r.archived = 0 ORDER BY r.created, r.id",
};

static const char count_sql[] =
	"SELECT count(*) FROM (SELECT 1 FROM events WHERE room_id = ?1 AND seq > ?2"
	" AND (author_id IS NULL OR author_id <> ?3) LIMIT ?4)";

int store_unread(struct store *s, const char *org_id, const char *identity_id,
		 void (*fn)(void *, const struct store_unread *), void *arg)
{
	sqlite3 *db = store__reader(s);
	sqlite3_stmt *st, *cnt;
	if (sqlite3_prepare_v2(db, unread_sql[org_id ? 0 : 1], -1, &st, NULL) != SQLITE_OK)
		return -TV_E_STORAGE_ERROR;
	if (sqlite3_prepare_v2(db, count_sql, -1, &cnt, NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		return -TV_E_STORAGE_ERROR;
	}
	if (org_id)
		sqlite3_bind_text(st, 1, org_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, identity_id, -1, SQLITE_STATIC);
	int rc, ret = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_room r = { 0 };
		snprintf(r.id, sizeof r.id, "%s", (const char *)sqlite3_column_text(st, 0));
		snprintf(r.code, sizeof r.code, "%s", (const char *)sqlite3_column_text(st, 1));
		snprintf(r.kind, sizeof r.kind, "%s", (const char *)sqlite3_column_text(st, 2));
		r.title = (char *)sqlite3_column_text(st, 3);
		r.head = (uint64_t)sqlite3_column_int64(st, 4);
		struct store_unread u = { &r, (uint64_t)sqlite3_column_int64(st, 5), 0 };
		if (u.seen > r.head)
			u.seen = r.head;
		/* Counting walks the primary key from seen on, and stops at
		 * STORE_UNREAD_MAX: an identity that has seen nothing of a
		 * 100,000-event room must not hold the loop for it. */
		sqlite3_bind_text(cnt, 1, r.id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(cnt, 2, (sqlite3_int64)u.seen);
		sqlite3_bind_text(cnt, 3, identity_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(cnt, 4, STORE_UNREAD_MAX);
		if (sqlite3_step(cnt) == SQLITE_ROW)
			u.unread = (uint64_t)sqlite3_column_int64(cnt, 0);
		else
			ret = -TV_E_STORAGE_ERROR;
		sqlite3_reset(cnt);
		if (ret)
			break;
		fn(arg, &u);
	}
	if (!ret && rc != SQLITE_DONE)
		ret = -TV_E_STORAGE_ERROR;
	sqlite3_finalize(st);
	sqlite3_finalize(cnt);
	return ret;
}

int store__search_forget(sqlite3 *db, const char *room_id, uint64_t seq)
{
	static const char *const sql[] = {
		"DELETE FROM search_fts WHERE rowid IN"
		" (SELECT id FROM search_docs WHERE room_id = ?1 AND seq = ?2)",
		"DELETE FROM search_docs WHERE room_id = ?1 AND seq = ?2",
	};
	for (size_t i = 0; i < 2; i++) {
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(db, sql[i], -1, &st, NULL) != SQLITE_OK)
			return -TV_E_STORAGE_ERROR;
		sqlite3_bind_text(st, 1, room_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
		int rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return -TV_E_STORAGE_ERROR;
	}
	return 0;
}

int store__search_forget_room(sqlite3 *db, const char *room_id)
{
	static const char *const sql[] = {
		"DELETE FROM search_fts WHERE rowid IN"
		" (SELECT id FROM search_docs WHERE room_id = ?1)",
		"DELETE FROM search_docs WHERE room_id = ?1",
		"DELETE FROM seen WHERE room_id = ?1",
	};
	for (size_t i = 0; i < sizeof sql / sizeof *sql; i++) {
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(db, sql[i], -1, &st, NULL) != SQLITE_OK)
			return -TV_E_STORAGE_ERROR;
		sqlite3_bind_text(st, 1, room_id, -1, SQLITE_STATIC);
		int rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return -TV_E_STORAGE_ERROR;
	}
	return 0;
}

int store__search_optimize(sqlite3 *db)
{
	/* FTS5 records a deletion as a marker; the words stay in older index
	 * segments until they are merged. Erasure must not leave them there. */
	return sqlite3_exec(db, "INSERT INTO search_fts(search_fts) VALUES ('optimize')", NULL,
			    NULL, NULL) == SQLITE_OK ? 0 : -TV_E_STORAGE_ERROR;
}
