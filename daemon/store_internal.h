/*
 * store_internal.h: what store.c and store_admin.c share and nobody else
 * may use (it names SQLite types; only store*.c include sqlite3.h).
 */
#ifndef TV_STORE_INTERNAL_H
#define TV_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* Opens path read-write (creating it) in WAL mode with the given
 * synchronous level and the daemon's pragmas. 0 or -TV_E_STORAGE_ERROR. */
int store__open_db(sqlite3 **db, const char *path, int sync_full, char *err, size_t errlen);
/* Applies the forward migrations up to this build's schema. */
int store__migrate(sqlite3 *db, char *err, size_t errlen);
/* Deletes one room and everything of it (events, members, requests) inside
 * the caller's transaction. 0, -ENOENT, or -TV_E_STORAGE_ERROR. */
int store__room_delete(sqlite3 *db, const char *room_id);
/* Deletes idle rooms inside the caller's transaction (store_write.retention
 * says which). */
int store__retention(sqlite3 *db, int64_t before_ms, int (*keep)(void *, const char *),
                     void *keep_arg, long *deleted);

/* The loop thread's read connection (store_search.c). */
struct store;
sqlite3 *store__reader(struct store *s);
/* Drops the full-text index rows of one event (erasure) or of a whole
 * room (deletion) inside the caller's transaction. 0 or negative. */
int store__search_forget(sqlite3 *db, const char *room_id, uint64_t seq);
int store__search_forget_room(sqlite3 *db, const char *room_id);
/* Merges the index so that forgotten words leave the file (erasure). */
int store__search_optimize(sqlite3 *db);

#endif
