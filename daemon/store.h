/*
 * store.h: tavla's durable state in SQLite: the only module with SQL.
 *
 * Responsible for: the schema and its forward migrations; synchronous reads
 * on the loop thread (one read connection, WAL lets it run beside the
 * writer); and all writes, which go to one writer thread that groups
 * whatever is queued into one transaction (group commit) and hands each
 * write back to the loop thread after COMMIT (or failure). Not responsible
 * for: deciding what to write (rooms, handlers) or sending anything.
 *
 * Lifecycle of a write:
 *   loop: store_submit(w) --queue--> writer: BEGIN; apply; COMMIT
 *   --done list + uv_async--> loop: w->done(w) with w->status set.
 *
 * The writer is the sequencer: it gives each event the room's next seq as
 * it inserts it, and it is where a repeated request is recognised (its
 * (identity, client id) is already in `requests` or `requests_recent`):
 * such a write is not applied at all and comes back with `duplicate` set
 * and the first result. Both happen on the writer's own warm connection, so the loop
 * thread reads nothing from the store on the path of a request.
 *
 * Invariants:
 *  1. w->done runs on the loop thread exactly once per submitted write, in
 *     submission order, and only after the write's transaction committed
 *     (status 0) or was rolled back (status < 0): nothing is acknowledged
 *     before it is durable.
 *  2. For every room, stored event seqs are 1, 2, 3, ... with no gap: the
 *     writer assigns them at insertion from the room's last stored seq, so
 *     a failed or duplicate write consumes none.
 *  3. (identity_id, client_id) is unique across requests and
 *     requests_recent together: the idempotency key (a record is appended
 *     to requests_recent and later moved, never copied, into requests).
 *  4. No token is stored, only its SHA-256 hash.
 */
#ifndef TV_STORE_H
#define TV_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "crypto.h"
#include "tv_protocol.h"

struct store;

struct store_opts {
	const char *path;
	int sync_full;  /* synchronous=FULL (1) or NORMAL (0) */
	int batch_max;  /* most writes per transaction */
	/* Move the idempotency records gathered in requests_recent (at least
	 * 64) once the writer has been idle this long, in ms, so that light
	 * load rarely meets a large move; 0: only when 4,096 have gathered. */
	int idle_merge_ms;
};

/* Opens (creating and migrating) the database, starts the writer thread and
 * registers its completion handle on loop. Returns 0 or negative with err. */
int store_open(struct store **out, uv_loop_t *loop, const struct store_opts *o,
               char *err, size_t errlen);
/* Waits for every queued write to finish and runs their completions, stops
 * the writer, closes the database; the completion handle is closed on the
 * loop (run the loop once more to release it). */
void store_close(struct store *s);

/* ---- writes -------------------------------------------------------------- */
struct store_write {
	struct store_write *next; /* owned by the store while queued */
	int status;               /* set by the writer: 0 or -TV_E_x */
	void (*done)(struct store_write *w); /* on the loop thread */
	/* What to write; every part is optional (NULL/0 = absent) and borrowed
	 * until done runs. Applied in this order, in one transaction. */
	struct { const char *id, *org_id, *kind, *title, *code, *created_by; } room;
	struct { const char *id, *kind, *org_id, *name; } identity;
	struct { const unsigned char *hash; const char *identity_id; } token;
	struct { const char *room_id, *identity_id; unsigned role; int replace; } member;
	struct tv_event_view *event; /* seq is set by the writer */
	/* The event's text for full-text search (store_search.c), or NULL
	 * when the event is not searchable. */
	const char *search_text;
	/* The last seq an identity has seen in a room (rooms.seen); the
	 * stored value never goes down. */
	struct { const char *identity_id, *room_id; uint64_t seq; } seen;
	/* The idempotency record. `result` is the handler's result object
	 * (JSON text); with add_seq the writer appends "seq":N to it. The
	 * final text is stored and handed back in `reply`. */
	struct { const char *identity_id, *client_id, *room_id, *result;
	         const unsigned char *fingerprint; int add_seq; } request;
	/* A readiness probe: rewrites the one row of `probe`, so a commit
	 * (with its fsync) shows the database is writable now. */
	int probe;
	/* Retention: deletes every room whose last event (or creation, for a
	 * room without events) is older than before_ms, except those for
	 * which keep(keep_arg, room_id) returns 1 (rooms loaded in memory).
	 * The writer sets deleted to the number of rooms deleted. */
	struct { int64_t before_ms; int (*keep)(void *arg, const char *room_id);
	         void *keep_arg; long deleted; } retention;
	int64_t now_ms;
	/* Cluster mode (replica.c): where this write is in the stream. The
	 * writer records (seq, idx) as the position applied so far, for the
	 * stream as a whole and for subject, in the write's own transaction,
	 * so a restart resumes exactly after it. Absent: seq 0. */
	struct { const char *subject; uint64_t seq; unsigned idx; } replica;
	/* Cluster mode: what `tavlad admin cluster-import` carries besides the
	 * parts above; with `import` set every part is inserted only when
	 * missing (a node that already has it skips it) and the event keeps
	 * the seq it had (event->seq, which must extend the room by one or
	 * be stored already). */
	struct { const char *id, *name; } org;
	struct { const char *username, *identity_id, *pwhash; } account;
	int import;
	/* Set by the writer: */
	int duplicate;                          /* the request was done before */
	unsigned char dup_fingerprint[TV_HASH_LEN];
	char *reply;                            /* malloc'd result text, or NULL */
};
/* A status besides 0 and -TV_E_x, cluster mode only (replica.c): the
 * room moved on (another node appended first) before this write was
 * appended; nothing was written and the request runs again. */
#define STORE_RERUN 1
/* Frees what the writer attached (reply); call from done. */
void store_write_release(struct store_write *w);
/* Queues w (the caller keeps ownership of the memory; the store links it
 * until done). Thread: loop. Never fails: errors arrive in w->status. */
void store_submit(struct store *s, struct store_write *w);
/* Writes queued or in flight (for shutdown and metrics). */
size_t store_pending(struct store *s);

/* What the writer measured since the store opened. Histogram buckets are
 * per bucket, not cumulative: buckets[i] counts values <= bounds[i] and
 * > bounds[i-1]; buckets[N] counts values above the last bound. */
#define STORE_LAT_BUCKETS 13
#define STORE_BATCH_BUCKETS 12
struct store_metrics {
	const double *lat_bounds, *batch_bounds; /* static; N entries each */
	uint64_t commit_buckets[STORE_LAT_BUCKETS + 1];
	double commit_sum;          /* seconds, committed batches only */
	uint64_t commits, commits_failed;
	uint64_t batch_buckets[STORE_BATCH_BUCKETS + 1];
	uint64_t batch_sum;         /* writes in committed batches */
	uint64_t wal_pages;         /* pages appended to the WAL by the writer */
	size_t pending;
};
/* A consistent copy (the writer's mutex is held while copying). Thread: loop. */
void store_metrics(struct store *s, struct store_metrics *out);

/* ---- reads (loop thread) ------------------------------------------------- */
struct store_room {
	char id[TV_ID_LEN + 1], org_id[TV_ID_LEN + 1], code[8], kind[17];
	char *title; /* malloc'd; store_room_clear frees */
	int64_t created;
	uint64_t head; /* last stored seq */
	int archived;  /* tavlad admin room-archive: no joins, no writes */
};
void store_room_clear(struct store_room *r);
/* 0 and *out, -TV_E_ROOM_NOT_FOUND, or -TV_E_STORAGE_ERROR. */
int store_room_get(struct store *s, const char *id, struct store_room *out);
int store_room_by_code(struct store *s, const char *code, struct store_room *out);
/* Calls fn for each room of org_id (org_id non-NULL) or each room
 * identity_id is a member of. Returns 0 or negative. */
int store_room_list(struct store *s, const char *org_id, const char *identity_id,
                    void (*fn)(void *arg, const struct store_room *r), void *arg);

struct store_identity {
	char id[TV_ID_LEN + 1], org_id[TV_ID_LEN + 1], kind[8];
	char name[256];
};
/* Identity of a token hash used within max_age_ms of its last use (and
 * refreshes its last use when older than a day). 0, -TV_E_BAD_TOKEN. */
int store_identity_by_token(struct store *s, const unsigned char hash[TV_HASH_LEN],
                            int64_t now_ms, int64_t max_age_ms,
                            struct store_identity *out);
/* Account lookup: identity and a malloc'd copy of the argon2 encoded hash.
 * 0, -TV_E_BAD_CREDENTIALS. */
int store_account_get(struct store *s, const char *user, struct store_identity *out,
                      char **pwhash);
/* Role bit of identity in room from the members table; 0 if not a member. */
int store_member_role(struct store *s, const char *room_id, const char *identity_id,
                      unsigned *role);
/* Events of room with after < seq <= upto, ascending, at most limit; fn
 * returns 0 to continue. Returns the number delivered or negative. */
long store_events(struct store *s, const char *room_id, uint64_t after, uint64_t upto,
                  long limit, int (*fn)(void *arg, const struct tv_event_view *v),
                  void *arg);
/* Stored result of an earlier request: 0 with fingerprint and a malloc'd
 * result, 1 when there is none, negative on error. */
int store_request_get(struct store *s, const char *identity_id, const char *client_id,
                      unsigned char fingerprint[TV_HASH_LEN], char **result);
/* Cluster mode: each stream position recorded (subject "" is the stream as
 * a whole), through fn. 0 or negative. Loop thread. */
int store_replica_positions(struct store *s,
                            void (*fn)(void *arg, const char *subject, uint64_t seq,
                                       unsigned idx), void *arg);
/* 1 if a room has this join code, 0 if not, negative on error. */
int store_code_taken(struct store *s, const char *code);

/* ---- meetings and forums (store_search.c) ---------------------------------- */
/* Seqs of the room's indexed events matching an FTS5 query (built by
 * search_query()), newest first, with seq < before, at most limit; fn
 * returns 0 to continue. Returns the number delivered or negative
 * (-TV_E_BAD_REQUEST when FTS5 refuses the query). Loop thread. */
long store_search(struct store *s, const char *room_id, const char *match, uint64_t before,
                  long limit, int (*fn)(void *arg, uint64_t seq), void *arg);
/* One event by seq through fn (as store_events). 1 delivered, 0 none. */
int store_event_get(struct store *s, const char *room_id, uint64_t seq,
                    int (*fn)(void *arg, const struct tv_event_view *v), void *arg);
#define STORE_UNREAD_MAX 1000
struct store_unread {
	const struct store_room *room;
	uint64_t seen;   /* last seq seen (0: never) */
	uint64_t unread; /* events after seen not written by the identity,
	                  * counted up to STORE_UNREAD_MAX */
};
/* Calls fn for each room of org_id (moderators) or each room identity_id
 * is a member of, with its unread count for identity_id. 0 or negative. */
int store_unread(struct store *s, const char *org_id, const char *identity_id,
                 void (*fn)(void *arg, const struct store_unread *u), void *arg);

/* ---- administration (own connection; safe while a daemon runs) ------------ */
/* Creates the organisation if missing and a moderator account with an
 * identity; pwhash is an argon2id encoded string. 0, -EEXIST, negative. */
int store_admin_user_add(const char *db_path, const char *org, const char *user,
                         const char *pwhash, char *err, size_t errlen);
/* Organisation id by name, creating it: used by the demo set-up. */
int store_admin_org_id(const char *db_path, const char *org, char out[TV_ID_LEN + 1],
                       char *err, size_t errlen);

/* The rest lives in store_admin.c. Each opens its own connection to the
 * database file; those marked "stopped" must only run while no daemon uses
 * the data directory (the caller checks its lock, see datadir.h), because
 * a running daemon keeps rooms and identities in memory. Each returns 0 or
 * negative with a message in err. */

/* Online backup to dest (a new file; replaced atomically when it exists):
 * SQLite's backup API from a read snapshot of the live database, then
 * PRAGMA integrity_check on the copy. Safe while a daemon runs. */
int store_admin_backup(const char *db_path, const char *dest, char *err, size_t errlen);
/* Stopped. Checks src, keeps the current database as db_path.pre-restore,
 * then copies src over db_path (and migrates it to this schema). */
int store_admin_restore(const char *db_path, const char *src, char *err, size_t errlen);
/* Creates an organisation; -EEXIST when it exists. Safe while running. */
int store_admin_org_add(const char *db_path, const char *org, char *err, size_t errlen);
/* Replaces an account's password hash and ends its sessions (tokens).
 * -ENOENT when there is no such user. Safe while running (an open
 * connection keeps its identity until it closes). */
int store_admin_passwd(const char *db_path, const char *user, const char *pwhash,
                       char *err, size_t errlen);
/* Writes one line per room (id code kind title head created archived,
 * tab-separated) to out, of one organisation (by name) or all. */
int store_admin_rooms(const char *db_path, const char *org, void *out_file,
                      char *err, size_t errlen);
/* Stopped. Marks a room archived: joins refused with room_archived. */
int store_admin_room_archive(const char *db_path, const char *room, char *err, size_t errlen);
/* Stopped. Deletes a room with its events, members and requests. */
int store_admin_room_delete(const char *db_path, const char *room, char *err, size_t errlen);
/* Writes everything stored about one identity as one JSON object to out.
 * Safe while running. -ENOENT when there is no such identity. */
int store_admin_export_identity(const char *db_path, const char *id, void *out_file,
                                char *err, size_t errlen);
/* Stopped. GDPR erasure of one identity (see store_admin.c for exactly
 * what is kept). -ENOENT when there is no such identity. */
int store_admin_erase_identity(const char *db_path, const char *id, char *err, size_t errlen);
/* Cluster mode migration (tavlad admin cluster-import): hands fn every
 * identity (with its organisation, account and token hashes) and then
 * every room (with its members and all its events) as store_writes with
 * `import` set, one call per identity or room, the writes of one call in
 * the array w[0..n). Borrowed for the call. fn returns 0 to go on.
 * Safe while running (one read transaction). */
int store_admin_export_all(const char *db_path,
                           int (*fn)(void *arg, const char *kind, const char *id,
                                     struct store_write *w, size_t n),
                           void *arg, char *err, size_t errlen);
/* Stopped. Deletes rooms idle for more than days; *deleted counts them. */
int store_admin_retention(const char *db_path, long days, long *deleted, char *err,
                          size_t errlen);

#endif
