/*
 * store_admin.c: the operator's side of the store: online backup and
 * restore, accounts and organisations, room listing, archiving, deletion
 * and retention, and one identity's export and erasure (GDPR). Every
 * function opens its own connection to the database file; nothing here
 * runs inside the daemon's loop except store__retention(), which the
 * writer thread calls inside its own transaction.
 *
 * Not responsible for deciding whether it is safe to run: functions that
 * change rooms or identities a running daemon may hold in memory are
 * called by `tavlad admin` only after it took the data directory's lock
 * (datadir.c), i.e. while no daemon runs.
 *
 * Invariants:
 *  1. Every change is one transaction: an admin command that fails leaves
 *     the database as it was.
 *  2. A backup file is complete or absent: it is written under a temporary
 *     name, checked with PRAGMA integrity_check and only then renamed.
 *  3. After an erasure, no text the identity wrote and not its name is left
 *     in the database file or its WAL (secure_delete, VACUUM, checkpoint).
 *     The events keep their skeleton (room, seq, time, kind, ids) so that
 *     sequence numbers stay gap-free and a workshop's state still replays.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store_internal.h"

#define ERASED_NAME "[erased]"

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Opens and migrates the database, which must already exist. */
static int open_existing(sqlite3 **db, const char *path, char *err, size_t errlen)
{
	*db = NULL;
	if (access(path, F_OK) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -ENOENT;
	}
	int rc = store__open_db(db, path, 1, err, errlen);
	if (!rc)
		rc = store__migrate(*db, err, errlen);
	return rc;
}

static int exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	return (sqlite3_extended_errcode(db) & 0xff) == SQLITE_FULL ? -TV_E_STORAGE_FULL
		: -TV_E_STORAGE_ERROR;
}

/* One-statement helper: prepares sql, binds text params, steps once.
 * Returns the step result code (SQLITE_DONE, SQLITE_ROW) or an error. */
static int run1(sqlite3 *db, const char *sql, const char *a, const char *b, int64_t n)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return SQLITE_ERROR;
	int params = sqlite3_bind_parameter_count(st);
	if (params >= 1)
		sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (params >= 2)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	if (params >= 3)
		sqlite3_bind_int64(st, 3, n);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc;
}

static int finish_tx(sqlite3 *db, int rc, char *err, size_t errlen)
{
	if (rc) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	return exec(db, "COMMIT", err, errlen);
}

/* "ok" when the database passes integrity_check; else the first problem. */
static int integrity(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "integrity_check: %s", sqlite3_errmsg(db));
		return -TV_E_STORAGE_ERROR;
	}
	int rc = sqlite3_step(st), ret = 0;
	const unsigned char *t = rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
	if (!t || strcmp((const char *)t, "ok") != 0) {
		snprintf(err, errlen, "integrity_check: %s", t ? (const char *)t : sqlite3_errmsg(db));
		ret = -TV_E_STORAGE_ERROR;
	}
	sqlite3_finalize(st);
	return ret;
}

/* ---- backup and restore ---------------------------------------------------------- */

/*
 * Copies src into dst with one sqlite3_backup_step(-1). Why one step and
 * not many small ones: a stepped backup restarts from the first page
 * whenever another process commits to the source between two steps, so
 * under steady write load it may never finish. One step copies every page
 * from one read snapshot; in WAL mode that snapshot does not block the
 * daemon's writer, and it is exactly the database as of its last commit
 * before the step began.
 */
static int copy_db(sqlite3 *dst, sqlite3 *src, char *err, size_t errlen)
{
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	if (!b) {
		snprintf(err, errlen, "backup: %s", sqlite3_errmsg(dst));
		return -TV_E_STORAGE_ERROR;
	}
	int rc, tries = 0;
	while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED) {
		if (++tries > 200)
			break;
		sqlite3_sleep(50);
	}
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "backup: %s", sqlite3_errstr(rc));
		return (rc & 0xff) == SQLITE_FULL ? -TV_E_STORAGE_FULL : -TV_E_STORAGE_ERROR;
	}
	return 0;
}

static void fsync_path(const char *path, int dir)
{
	int fd = open(path, (dir ? O_DIRECTORY : 0) | O_RDONLY);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

static void dir_of(const char *path, char *out, size_t cap)
{
	snprintf(out, cap, "%s", path);
	char *slash = strrchr(out, '/');
	if (!slash)
		snprintf(out, cap, ".");
	else if (slash == out)
		out[1] = 0;
	else
		*slash = 0;
}

int store_admin_backup(const char *db_path, const char *dest, char *err, size_t errlen)
{
	sqlite3 *src = NULL, *dst = NULL;
	char tmp[4300];
	snprintf(tmp, sizeof tmp, "%s.tmp-%ld", dest, (long)getpid());
	int rc = open_existing(&src, db_path, err, errlen);
	if (!rc) {
		unlink(tmp);
		if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
		    SQLITE_OK) {
			snprintf(err, errlen, "%s: %s", tmp, dst ? sqlite3_errmsg(dst) : "cannot open");
			rc = -TV_E_STORAGE_ERROR;
		}
	}
	if (!rc)
		rc = copy_db(dst, src, err, errlen);
	/* The copy is one self-contained file: no WAL beside it. */
	if (!rc)
		rc = exec(dst, "PRAGMA journal_mode=DELETE", err, errlen);
	if (!rc)
		rc = integrity(dst, err, errlen);
	sqlite3_close(src);
	if (dst && sqlite3_close(dst) != SQLITE_OK && !rc) {
		snprintf(err, errlen, "%s: close failed", tmp);
		rc = -TV_E_STORAGE_ERROR;
	}
	if (!rc) {
		fsync_path(tmp, 0);
		if (rename(tmp, dest)) {
			snprintf(err, errlen, "rename to %s: %s", dest, strerror(errno));
			rc = -errno;
		} else {
			char dir[4300];
			dir_of(dest, dir, sizeof dir);
			fsync_path(dir, 1);
		}
	}
	if (rc)
		unlink(tmp);
	return rc;
}

int store_admin_restore(const char *db_path, const char *src_path, char *err, size_t errlen)
{
	sqlite3 *src = NULL, *dst = NULL;
	if (access(src_path, R_OK) != 0) {
		snprintf(err, errlen, "%s: %s", src_path, strerror(errno));
		return -ENOENT;
	}
	int rc = 0;
	if (sqlite3_open_v2(src_path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", src_path, src ? sqlite3_errmsg(src) : "cannot open");
		rc = -TV_E_STORAGE_ERROR;
	}
	if (!rc)
		rc = integrity(src, err, errlen);
	if (!rc && access(db_path, F_OK) == 0) {
		char keep[4300];
		snprintf(keep, sizeof keep, "%s.pre-restore", db_path);
		rc = store_admin_backup(db_path, keep, err, errlen);
	}
	if (!rc)
		rc = store__open_db(&dst, db_path, 1, err, errlen);
	if (!rc)
		rc = copy_db(dst, src, err, errlen);
	if (!rc)
		rc = store__migrate(dst, err, errlen);
	if (!rc)
		rc = integrity(dst, err, errlen);
	if (!rc)
		sqlite3_exec(dst, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	sqlite3_close(src);
	sqlite3_close(dst);
	return rc;
}

/* ---- accounts and organisations ------------------------------------------------- */

int store_admin_org_add(const char *db_path, const char *org, char *err, size_t errlen)
{
	sqlite3 *db;
	int rc = open_existing(&db, db_path, err, errlen);
	if (!rc) {
		char id[TV_ID_LEN + 1];
		if (crypto_random_id(id, "o_")) {
			rc = -TV_E_INTERNAL;
		} else {
			int r = run1(db, "INSERT INTO orgs(id, name, created) VALUES (?1, ?2, ?3)",
				     id, org, wall_ms());
			if ((r & 0xff) == SQLITE_CONSTRAINT) {
				snprintf(err, errlen, "organisation %s already exists", org);
				rc = -EEXIST;
			} else if (r != SQLITE_DONE) {
				snprintf(err, errlen, "organisation %s: %s", org, sqlite3_errmsg(db));
				rc = -TV_E_STORAGE_ERROR;
			}
		}
	}
	sqlite3_close(db);
	return rc;
}

int store_admin_passwd(const char *db_path, const char *user, const char *pwhash,
		       char *err, size_t errlen)
{
	sqlite3 *db;
	int rc = open_existing(&db, db_path, err, errlen);
	if (!rc)
		rc = exec(db, "BEGIN IMMEDIATE", err, errlen);
	if (!rc) {
		if (run1(db, "UPDATE accounts SET pwhash = ?2 WHERE username = ?1", user, pwhash, 0) !=
		    SQLITE_DONE) {
			snprintf(err, errlen, "%s", sqlite3_errmsg(db));
			rc = -TV_E_STORAGE_ERROR;
		} else if (sqlite3_changes(db) == 0) {
			snprintf(err, errlen, "no user %s", user);
			rc = -ENOENT;
		} else if (run1(db, "DELETE FROM tokens WHERE identity_id ="
				" (SELECT identity_id FROM accounts WHERE username = ?1)",
				user, NULL, 0) != SQLITE_DONE) {
			snprintf(err, errlen, "%s", sqlite3_errmsg(db));
			rc = -TV_E_STORAGE_ERROR;
		}
		rc = finish_tx(db, rc, err, errlen);
	}
	sqlite3_close(db);
	return rc;
}

/* ---- rooms ---------------------------------------------------------------------- */

static void iso_time(int64_t ms, char *out, size_t cap)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int store_admin_rooms(const char *db_path, const char *org, void *out_file, char *err,
		      size_t errlen)
{
	FILE *out = out_file;
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	int rc = open_existing(&db, db_path, err, errlen);
	if (!rc && sqlite3_prepare_v2(db,
			"SELECT r.id, r.code, r.kind, r.title,"
			" (SELECT coalesce(max(seq),0) FROM events e WHERE e.room_id = r.id),"
			" r.created, r.archived FROM rooms r LEFT JOIN orgs o ON o.id = r.org_id"
			" WHERE ?1 IS NULL OR o.name = ?1 ORDER BY r.created, r.id",
			-1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		rc = -TV_E_STORAGE_ERROR;
	}
	if (!rc) {
		if (org)
			sqlite3_bind_text(st, 1, org, -1, SQLITE_STATIC);
		int r;
		while ((r = sqlite3_step(st)) == SQLITE_ROW) {
			char title[1024], when[32];
			const unsigned char *t = sqlite3_column_text(st, 3);
			snprintf(title, sizeof title, "%s", t ? (const char *)t : "");
			for (char *p = title; *p; p++)
				if (*p == '\t' || *p == '\n' || *p == '\r')
					*p = ' ';
			iso_time(sqlite3_column_int64(st, 5), when, sizeof when);
			fprintf(out, "%s\t%s\t%s\t%s\t%lld\t%s\t%s\n", sqlite3_column_text(st, 0),
				sqlite3_column_text(st, 1), sqlite3_column_text(st, 2), title,
				(long long)sqlite3_column_int64(st, 4), when,
				sqlite3_column_int(st, 6) ? "archived" : "open");
		}
		if (r != SQLITE_DONE) {
			snprintf(err, errlen, "%s", sqlite3_errmsg(db));
			rc = -TV_E_STORAGE_ERROR;
		}
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

/* The id of a room given by id or join code, into id. 0 or -ENOENT. */
static int room_resolve(sqlite3 *db, const char *room, char id[TV_ID_LEN + 1])
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT id FROM rooms WHERE id = ?1 OR code = ?1", -1, &st,
			       NULL) != SQLITE_OK)
		return -TV_E_STORAGE_ERROR;
	sqlite3_bind_text(st, 1, room, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		snprintf(id, TV_ID_LEN + 1, "%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : -TV_E_STORAGE_ERROR;
}

int store__room_delete(sqlite3 *db, const char *room_id)
{
	if (store__search_forget_room(db, room_id))
		return -TV_E_STORAGE_ERROR;
	static const char *const sql[] = {
		"DELETE FROM events WHERE room_id = ?1",
		"DELETE FROM members WHERE room_id = ?1",
		"DELETE FROM requests WHERE room_id = ?1",
		"DELETE FROM requests_recent WHERE room_id = ?1",
		"DELETE FROM rooms WHERE id = ?1",
	};
	for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++)
		if (run1(db, sql[i], room_id, NULL, 0) != SQLITE_DONE)
			return -TV_E_STORAGE_ERROR;
	return sqlite3_changes(db) ? 0 : -ENOENT;
}

int store__retention(sqlite3 *db, int64_t before_ms, int (*keep)(void *, const char *),
		     void *keep_arg, long *deleted)
{
	sqlite3_stmt *st;
	*deleted = 0;
	if (sqlite3_prepare_v2(db, "SELECT r.id FROM rooms r WHERE coalesce("
			       "(SELECT max(ts) FROM events e WHERE e.room_id = r.id), r.created) < ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return -TV_E_STORAGE_ERROR;
	sqlite3_bind_int64(st, 1, before_ms);
	char (*ids)[TV_ID_LEN + 1] = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);
		if (!id || (keep && keep(keep_arg, id)))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			void *nid = realloc(ids, cap * sizeof *ids);
			if (!nid) {
				rc = SQLITE_NOMEM;
				break;
			}
			ids = nid;
		}
		snprintf(ids[n++], TV_ID_LEN + 1, "%s", id);
	}
	sqlite3_finalize(st);
	int ret = rc == SQLITE_DONE ? 0 : -TV_E_STORAGE_ERROR;
	for (size_t i = 0; !ret && i < n; i++) {
		ret = store__room_delete(db, ids[i]);
		if (ret == -ENOENT)
			ret = 0;
		else if (!ret)
			(*deleted)++;
	}
	free(ids);
	return ret;
}

/* Runs fn(db, room id) in one transaction for a room given by id or code. */
static int room_change(const char *db_path, const char *room,
		       int (*fn)(sqlite3 *db, const char *id), char *err, size_t errlen)
{
	sqlite3 *db;
	char id[TV_ID_LEN + 1];
	int rc = open_existing(&db, db_path, err, errlen);
	if (!rc)
		rc = exec(db, "BEGIN IMMEDIATE", err, errlen);
	if (!rc) {
		rc = room_resolve(db, room, id);
		if (!rc)
			rc = fn(db, id);
		if (rc == -ENOENT)
			snprintf(err, errlen, "no room %s", room);
		else if (rc)
			snprintf(err, errlen, "room %s: %s", room, sqlite3_errmsg(db));
		rc = finish_tx(db, rc, err, errlen);
	}
	sqlite3_close(db);
	return rc;
}

static int archive_one(sqlite3 *db, const char *id)
{
	return run1(db, "UPDATE rooms SET archived = 1 WHERE id = ?1", id, NULL, 0) == SQLITE_DONE
		? 0 : -TV_E_STORAGE_ERROR;
}

int store_admin_room_archive(const char *db_path, const char *room, char *err, size_t errlen)
{
	return room_change(db_path, room, archive_one, err, errlen);
}

int store_admin_room_delete(const char *db_path, const char *room, char *err, size_t errlen)
{
	return room_change(db_path, room, store__room_delete, err, errlen);
}

int store_admin_retention(const char *db_path, long days, long *deleted, char *err,
			  size_t errlen)
{
	sqlite3 *db;
	int rc = open_existing(&db, db_path, err, errlen);
	if (!rc)
		rc = exec(db, "BEGIN IMMEDIATE", err, errlen);
	if (!rc) {
		rc = store__retention(db, wall_ms() - (int64_t)days * 86400000, NULL, NULL, deleted);
		if (rc)
			snprintf(err, errlen, "retention: %s", sqlite3_errmsg(db));
		rc = finish_tx(db, rc, err, errlen);
	}
	sqlite3_close(db);
	return rc;
}

/* ---- one identity: export and erasure ----------------------------------------- */

static int identity_exists(sqlite3 *db, const char *id)
{
	int rc = run1(db, "SELECT 1 FROM identities WHERE id = ?1", id, NULL, 0);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : -TV_E_STORAGE_ERROR;
}

/* Everything stored about one identity, as SQLite's JSON functions build
 * it: the identity (and account name), how many sessions it has, its
 * memberships, the events it wrote (anonymous notes included: they are
 * its own data) and the events that name it (joins, seats, roles). */
static const char export_sql[] =
	"SELECT json_object("
	" 'identity', json_object('id', i.id, 'kind', i.kind, 'name', i.name,"
	"   'created', i.created, 'organisation', (SELECT name FROM orgs WHERE id = i.org_id),"
	"   'username', (SELECT username FROM accounts WHERE identity_id = i.id)),"
	" 'sessions', (SELECT count(*) FROM tokens WHERE identity_id = i.id),"
	" 'memberships', (SELECT json_group_array(json(x)) FROM (SELECT json_object('room', m.room_id,"
	"   'title', r.title, 'role', m.role, 'joined', m.joined) AS x FROM members m"
	"   LEFT JOIN rooms r ON r.id = m.room_id WHERE m.identity_id = i.id"
	"   ORDER BY m.joined, m.room_id)),"
	" 'events', (SELECT json_group_array(json(x)) FROM (SELECT json_object('room', e.room_id,"
	"   'seq', e.seq, 'ts', e.ts, 'kind', e.kind, 'author_name', e.author_name,"
	"   'data', json(e.data)) AS x FROM events e WHERE e.author_id = i.id"
	"   ORDER BY e.room_id, e.seq)),"
	" 'mentioned_in', (SELECT json_group_array(json(x)) FROM (SELECT json_object('room', e.room_id,"
	"   'seq', e.seq, 'ts', e.ts, 'kind', e.kind, 'data', json(e.data)) AS x FROM events e"
	"   WHERE e.room_id IN (SELECT room_id FROM members WHERE identity_id = i.id)"
	"   AND e.kind IN ('member.joined', 'member.role', 'table.assigned')"
	"   AND (json_extract(e.data, '$.id') = i.id OR json_extract(e.data, '$.identity') = i.id)"
	"   AND (e.author_id IS NULL OR e.author_id <> i.id)"
	"   ORDER BY e.room_id, e.seq))"
	") FROM identities i WHERE i.id = ?1";

int store_admin_export_identity(const char *db_path, const char *id, void *out_file,
				char *err, size_t errlen)
{
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	int rc = open_existing(&db, db_path, err, errlen);
	if (!rc && sqlite3_prepare_v2(db, export_sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		rc = -TV_E_STORAGE_ERROR;
	}
	if (!rc) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		int r = sqlite3_step(st);
		if (r == SQLITE_ROW) {
			fprintf(out_file, "%s\n", sqlite3_column_text(st, 0));
		} else if (r == SQLITE_DONE) {
			snprintf(err, errlen, "no identity %s", id);
			rc = -ENOENT;
		} else {
			snprintf(err, errlen, "%s", sqlite3_errmsg(db));
			rc = -TV_E_STORAGE_ERROR;
		}
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

/* Blanks obj[key] when it is a string. Returns 1 when it changed. */
static int blank(json_t *obj, const char *key, const char *with)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_string(v) || strcmp(json_string_value(v), with) == 0)
		return 0;
	json_object_set_new(obj, key, json_string(with));
	return 1;
}

/* Note ids the identity created, per room (a small set; linear search). */
struct note_set {
	char (*ids)[64];
	size_t n, cap;
};

static int note_set_has(const struct note_set *s, const char *id)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->ids[i], id) == 0)
			return 1;
	return 0;
}

static int note_set_add(struct note_set *s, const char *id)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		void *n = realloc(s->ids, cap * sizeof *s->ids);
		if (!n)
			return -1;
		s->ids = n;
		s->cap = cap;
	}
	snprintf(s->ids[s->n++], sizeof s->ids[0], "%s", id);
	return 0;
}

/*
 * The erasure rules, applied to one event's data (decoded). Returns 1 when
 * the data changed. `own` is whether the identity wrote the event.
 *  - its own events: "text" and "prev.text" become "" (chat messages,
 *    notes, note edits), and the data says "erased": true;
 *  - note events by others about one of its notes (a moderator's edit or
 *    move): the same for the text;
 *  - member.joined naming it: "name" becomes [erased];
 *  - writing.revealed: its notes in "notes" lose text and author_name;
 *  - meetings and forums (PROTOCOL.md §9): its own events also lose
 *    "title" and "prev.title", its poll answers "answer" and "prev"
 *    (null); post events by others about one
 *    of its threads or posts lose the text and title; hands, speakers,
 *    mentions and named poll results naming it lose the name (and, in
 *    results, the answer).
 */
static int erase_data(json_t *d, const char *kind, const char *id, int own,
		      struct note_set *notes)
{
	int changed = 0;
	const char *nid = json_string_value(json_object_get(d, "id"));
	if (own && strcmp(kind, "note.created") == 0 && nid && !note_set_has(notes, nid))
		note_set_add(notes, nid);
	int about_note = strncmp(kind, "note.", 5) == 0 && nid && note_set_has(notes, nid);
	if (own && (strcmp(kind, "thread.created") == 0 || strcmp(kind, "post.created") == 0) &&
	    nid && !note_set_has(notes, nid))
		note_set_add(notes, nid);
	int about_post = strncmp(kind, "post.", 5) == 0 && nid && note_set_has(notes, nid);
	if (own || about_note || about_post) {
		changed |= blank(d, "text", "");
		json_t *prev = json_object_get(d, "prev");
		if (json_is_object(prev))
			changed |= blank(prev, "text", "");
	}
	if (own || about_post) {
		changed |= blank(d, "title", "");
		json_t *prev = json_object_get(d, "prev");
		if (json_is_object(prev))
			changed |= blank(prev, "title", "");
	}
	if (own && strcmp(kind, "poll.answered") == 0 && json_object_get(d, "answer") &&
	    !json_is_null(json_object_get(d, "answer"))) {
		json_object_set_new(d, "answer", json_null());
		json_object_set_new(d, "prev", json_null());
		changed = 1;
	}
	const char *who = json_string_value(json_object_get(d, "identity"));
	if (who && strcmp(who, id) == 0 &&
	    (strcmp(kind, "hand.raised") == 0 || strcmp(kind, "speaker.changed") == 0))
		changed |= blank(d, "name", ERASED_NAME);
	json_t *m;
	size_t k;
	json_array_foreach(json_object_get(d, "mentions"), k, m) {
		const char *mid = json_string_value(json_object_get(m, "id"));
		if (mid && strcmp(mid, id) == 0)
			changed |= blank(m, "name", ERASED_NAME);
	}
	if (strcmp(kind, "poll.closed") == 0) {
		json_array_foreach(json_object_get(json_object_get(d, "results"), "ballots"), k, m) {
			const char *bid = json_string_value(json_object_get(m, "identity"));
			if (bid && strcmp(bid, id) == 0) {
				changed |= blank(m, "name", ERASED_NAME);
				json_object_set_new(m, "answer", json_null());
				changed = 1;
			}
		}
	}
	if (strcmp(kind, "member.joined") == 0 && nid && strcmp(nid, id) == 0)
		changed |= blank(d, "name", ERASED_NAME);
	if (strcmp(kind, "writing.revealed") == 0) {
		size_t i;
		json_t *n;
		json_array_foreach(json_object_get(d, "notes"), i, n) {
			const char *a = json_string_value(json_object_get(n, "author"));
			if (a && strcmp(a, id) == 0) {
				changed |= blank(n, "text", "");
				changed |= blank(n, "author_name", ERASED_NAME);
			}
		}
	}
	if (changed || own)
		json_object_set_new(d, "erased", json_true());
	return changed || own;
}

/* Applies erase_data to every event of one room, in seq order. */
static int erase_in_room(sqlite3 *db, const char *room, const char *id)
{
	sqlite3_stmt *sel, *upd;
	if (sqlite3_prepare_v2(db, "SELECT seq, kind, data, author_id IS NOT NULL AND author_id = ?2"
			       " FROM events WHERE room_id = ?1 ORDER BY seq", -1, &sel, NULL) != SQLITE_OK)
		return -TV_E_STORAGE_ERROR;
	if (sqlite3_prepare_v2(db, "UPDATE events SET data = ?3, author_name ="
			       " CASE WHEN author_id = ?4 THEN '" ERASED_NAME "' ELSE author_name END"
			       " WHERE room_id = ?1 AND seq = ?2", -1, &upd, NULL) != SQLITE_OK) {
		sqlite3_finalize(sel);
		return -TV_E_STORAGE_ERROR;
	}
	sqlite3_bind_text(sel, 1, room, -1, SQLITE_STATIC);
	sqlite3_bind_text(sel, 2, id, -1, SQLITE_STATIC);
	struct note_set notes = { NULL, 0, 0 };
	int rc, ret = 0;
	while (!ret && (rc = sqlite3_step(sel)) == SQLITE_ROW) {
		const char *kind = (const char *)sqlite3_column_text(sel, 1);
		const char *data = (const char *)sqlite3_column_text(sel, 2);
		json_t *d = data ? json_loads(data, 0, NULL) : NULL;
		if (!kind || !json_is_object(d)) {
			json_decref(d);
			continue;
		}
		if (erase_data(d, kind, id, sqlite3_column_int(sel, 3), &notes)) {
			char *text = json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER);
			if (!text) {
				ret = -TV_E_INTERNAL;
			} else {
				sqlite3_bind_text(upd, 1, room, -1, SQLITE_STATIC);
				sqlite3_bind_int64(upd, 2, sqlite3_column_int64(sel, 0));
				sqlite3_bind_text(upd, 3, text, -1, SQLITE_TRANSIENT);
				sqlite3_bind_text(upd, 4, id, -1, SQLITE_STATIC);
				if (sqlite3_step(upd) != SQLITE_DONE ||
				    store__search_forget(db, room, (uint64_t)sqlite3_column_int64(sel, 0)))
					ret = -TV_E_STORAGE_ERROR;
				sqlite3_reset(upd);
				free(text);
			}
		}
		json_decref(d);
	}
	if (!ret && rc != SQLITE_DONE)
		ret = -TV_E_STORAGE_ERROR;
	free(notes.ids);
	sqlite3_finalize(sel);
	sqlite3_finalize(upd);
	return ret;
}

int store_admin_erase_identity(const char *db_path, const char *id, char *err, size_t errlen)
{
	sqlite3 *db;
	int rc = open_existing(&db, db_path, err, errlen);
	/* Deleted and overwritten content is zeroed, not left in free space. */
	if (!rc)
		rc = exec(db, "PRAGMA secure_delete=ON; BEGIN IMMEDIATE", err, errlen);
	if (rc) {
		sqlite3_close(db);
		return rc;
	}
	rc = identity_exists(db, id);
	if (rc == -ENOENT)
		snprintf(err, errlen, "no identity %s", id);
	sqlite3_stmt *st = NULL;
	if (!rc && sqlite3_prepare_v2(db, "SELECT room_id FROM members WHERE identity_id = ?1"
				      " UNION SELECT DISTINCT room_id FROM events WHERE author_id = ?1",
				      -1, &st, NULL) != SQLITE_OK)
		rc = -TV_E_STORAGE_ERROR;
	if (!rc) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		char (*rooms)[TV_ID_LEN + 1] = NULL;
		size_t n = 0, cap = 0;
		int r;
		while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
			if (n == cap) {
				cap = cap ? 2 * cap : 16;
				void *nr = realloc(rooms, cap * sizeof *rooms);
				if (!nr) {
					rc = -TV_E_INTERNAL;
					break;
				}
				rooms = nr;
			}
			snprintf(rooms[n++], TV_ID_LEN + 1, "%s", sqlite3_column_text(st, 0));
		}
		sqlite3_finalize(st);
		for (size_t i = 0; !rc && i < n; i++)
			rc = erase_in_room(db, rooms[i], id);
		free(rooms);
	}
	/* Sessions end; the account (a user name is personal data) goes;
	 * the idempotency records go (the identity can no longer send). The
	 * identity row stays, nameless, so memberships and ownership of notes
	 * still resolve: its id is random and names nobody. */
	static const char *const sql[] = {
		"DELETE FROM tokens WHERE identity_id = ?1",
		"DELETE FROM accounts WHERE identity_id = ?1",
		"DELETE FROM requests WHERE identity_id = ?1",
		"DELETE FROM requests_recent WHERE identity_id = ?1",
		"UPDATE identities SET name = '" ERASED_NAME "' WHERE id = ?1",
	};
	for (size_t i = 0; !rc && i < sizeof sql / sizeof sql[0]; i++)
		if (run1(db, sql[i], id, NULL, 0) != SQLITE_DONE)
			rc = -TV_E_STORAGE_ERROR;
	if (!rc)
		rc = store__search_optimize(db);
	if (rc && rc != -ENOENT)
		snprintf(err, errlen, "erase %s: %s", id, sqlite3_errmsg(db));
	rc = finish_tx(db, rc, err, errlen);
	/* Old page images survive in the WAL until a checkpoint and in free
	 * pages until a VACUUM: rewrite the file, then empty the WAL. */
	if (!rc)
		rc = exec(db, "VACUUM; PRAGMA wal_checkpoint(TRUNCATE)", err, errlen);
	sqlite3_close(db);
	return rc;
}

/* ---- cluster-import: everything, as writes ------------------------------------------------- */

/* Copies of the column texts of one call, freed after it. */
struct strs {
	char **v;
	size_t n, cap;
	int oom;
};

static const char *keep(struct strs *s, sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return NULL;
	const void *p = sqlite3_column_blob(st, col);
	int len = sqlite3_column_bytes(st, col);
	char *c = malloc((size_t)len + 1);
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		char **v = realloc(s->v, cap * sizeof *v);
		if (!v) {
			free(c);
			s->oom = 1;
			return NULL;
		}
		s->v = v;
		s->cap = cap;
	}
	if (!c) {
		s->oom = 1;
		return NULL;
	}
	if (len)
		memcpy(c, p, (size_t)len);
	c[len] = 0;
	s->v[s->n++] = c;
	return c;
}

static void strs_clear(struct strs *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	s->n = 0;
	s->oom = 0;
}

struct wlist {
	struct store_write *w;
	struct tv_event_view *ev;
	size_t n, cap;
};

static struct store_write *wl_add(struct wlist *l, int with_event)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct store_write *w = realloc(l->w, cap * sizeof *w);
		if (w)
			l->w = w;
		struct tv_event_view *ev = realloc(l->ev, cap * sizeof *ev);
		if (ev)
			l->ev = ev;
		if (!w || !ev)
			return NULL;
		l->cap = cap;
	}
	struct store_write *w = &l->w[l->n];
	memset(w, 0, sizeof *w);
	memset(&l->ev[l->n], 0, sizeof l->ev[l->n]);
	w->import = 1;
	w->now_ms = wall_ms();
	(void)with_event;
	l->n++;
	return w;
}

/* Event pointers are set after the list stopped growing (realloc). */
static void wl_fix_events(struct wlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->w[i].event)
			l->w[i].event = &l->ev[i];
}

int store_admin_export_all(const char *db_path,
			   int (*fn)(void *arg, const char *kind, const char *id,
				     struct store_write *w, size_t n),
			   void *arg, char *err, size_t errlen)
{
	static const char *const q_ident =
		"SELECT i.id, i.kind, i.org_id, i.name, o.name, a.username, a.pwhash"
		" FROM identities i LEFT JOIN orgs o ON o.id = i.org_id"
		" LEFT JOIN accounts a ON a.identity_id = i.id ORDER BY i.id";
	static const char *const q_tokens = "SELECT hash FROM tokens WHERE identity_id = ?1";
	static const char *const q_rooms =
		"SELECT r.id, r.org_id, r.kind, r.title, r.code, r.created_by, o.name"
		" FROM rooms r LEFT JOIN orgs o ON o.id = r.org_id ORDER BY r.created, r.id";
	static const char *const q_members =
		"SELECT identity_id, role FROM members WHERE room_id = ?1";
	static const char *const q_events =
		"SELECT seq, ts, author_id, author_name, kind, data FROM events"
		" WHERE room_id = ?1 ORDER BY seq";
	sqlite3 *db;
	sqlite3_stmt *si = NULL, *stk = NULL, *sr = NULL, *sm = NULL, *se = NULL;
	struct strs ss = { 0 };
	struct wlist wl = { 0 };
	int rc = open_existing(&db, db_path, err, errlen);
	if (rc)
		return rc;
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, q_ident, -1, &si, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, q_tokens, -1, &stk, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, q_rooms, -1, &sr, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, q_members, -1, &sm, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, q_events, -1, &se, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		rc = -TV_E_STORAGE_ERROR;
		goto done;
	}
	while (!rc && sqlite3_step(si) == SQLITE_ROW) {
		strs_clear(&ss);
		wl.n = 0;
		struct store_write *w = wl_add(&wl, 0);
		if (!w) {
			rc = -TV_E_INTERNAL;
			break;
		}
		const char *id = keep(&ss, si, 0);
		w->identity.id = id;
		w->identity.kind = keep(&ss, si, 1);
		w->identity.org_id = keep(&ss, si, 2);
		w->identity.name = keep(&ss, si, 3);
		if (w->identity.org_id) {
			w->org.id = w->identity.org_id;
			w->org.name = keep(&ss, si, 4);
			if (!w->org.name)
				w->org.id = NULL;
		}
		w->account.username = keep(&ss, si, 5);
		w->account.pwhash = keep(&ss, si, 6);
		w->account.identity_id = id;
		if (!w->account.username)
			w->account.pwhash = NULL;
		sqlite3_bind_text(stk, 1, id, -1, SQLITE_STATIC);
		while (sqlite3_step(stk) == SQLITE_ROW) {
			if (sqlite3_column_bytes(stk, 0) != TV_HASH_LEN)
				continue;
			struct store_write *t = wl_add(&wl, 0);
			if (!t)
				break;
			t->token.hash = (const unsigned char *)keep(&ss, stk, 0);
			t->token.identity_id = id;
		}
		sqlite3_reset(stk);
		if (ss.oom || !id) {
			rc = -TV_E_INTERNAL;
			break;
		}
		if (fn(arg, "identity", id, wl.w, wl.n))
			break;
	}
	while (!rc && sqlite3_step(sr) == SQLITE_ROW) {
		strs_clear(&ss);
		wl.n = 0;
		struct store_write *w = wl_add(&wl, 0);
		if (!w) {
			rc = -TV_E_INTERNAL;
			break;
		}
		const char *id = keep(&ss, sr, 0);
		w->room.id = id;
		w->room.org_id = keep(&ss, sr, 1);
		w->room.kind = keep(&ss, sr, 2);
		w->room.title = keep(&ss, sr, 3);
		w->room.code = keep(&ss, sr, 4);
		w->room.created_by = keep(&ss, sr, 5);
		w->org.id = w->room.org_id;
		w->org.name = keep(&ss, sr, 6);
		if (!w->org.name)
			w->org.id = NULL;
		sqlite3_bind_text(sm, 1, id, -1, SQLITE_STATIC);
		while (sqlite3_step(sm) == SQLITE_ROW) {
			struct store_write *m = wl_add(&wl, 0);
			if (!m)
				break;
			m->member.room_id = id;
			m->member.identity_id = keep(&ss, sm, 0);
			m->member.role = (unsigned)sqlite3_column_int(sm, 1);
			m->member.replace = 1;
		}
		sqlite3_reset(sm);
		sqlite3_bind_text(se, 1, id, -1, SQLITE_STATIC);
		while (sqlite3_step(se) == SQLITE_ROW) {
			struct store_write *e = wl_add(&wl, 1);
			if (!e)
				break;
			struct tv_event_view *v = &wl.ev[wl.n - 1];
			v->room = id;
			v->seq = (uint64_t)sqlite3_column_int64(se, 0);
			v->ts_ms = sqlite3_column_int64(se, 1);
			v->author_id = keep(&ss, se, 2);
			v->author_name = keep(&ss, se, 3);
			v->kind = keep(&ss, se, 4);
			v->data_json = keep(&ss, se, 5);
			v->data_len = v->data_json ? strlen(v->data_json) : 0;
			e->event = v; /* fixed below */
			e->now_ms = v->ts_ms;
		}
		sqlite3_reset(se);
		if (ss.oom || !id) {
			rc = -TV_E_INTERNAL;
			break;
		}
		wl_fix_events(&wl);
		if (fn(arg, "room", id, wl.w, wl.n))
			break;
	}
	if (rc == -TV_E_INTERNAL)
		snprintf(err, errlen, "out of memory");
done:
	strs_clear(&ss);
	free(ss.v);
	free(wl.w);
	free(wl.ev);
	sqlite3_finalize(si);
	sqlite3_finalize(stk);
	sqlite3_finalize(sr);
	sqlite3_finalize(sm);
	sqlite3_finalize(se);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}
