/*
 * map.h: a string-keyed hash map (open addressing, linear probing,
 * tombstones) for the daemon's in-memory indexes: rooms by id and code,
 * connections by id, pending requests by (identity, id).
 *
 * Responsible for: lookup, insert, delete, iteration. Not responsible for
 * the values: the map stores pointers it never frees; keys are copied.
 *
 * Invariants:
 *  1. count + tombstones < cap * 3/4 (grow or rehash before inserting).
 *  2. cap is a power of two.
 */
#ifndef TV_MAP_H
#define TV_MAP_H

#include <stddef.h>

struct map_slot {
	char *key; /* NULL: empty; MAP_TOMBSTONE: deleted */
	size_t hash;
	void *value;
};

struct map {
	struct map_slot *slots;
	size_t cap, count, tombstones;
};

void map_init(struct map *m);
/* Frees the slots and copied keys (not the values). */
void map_free(struct map *m);
void *map_get(const struct map *m, const char *key);
/* Inserts or replaces. Returns 0 or -TV_E_INTERNAL on OOM. */
int map_put(struct map *m, const char *key, void *value);
/* Removes key; returns its value or NULL. */
void *map_del(struct map *m, const char *key);
/* Calls fn for every entry; fn must not change the map. */
void map_each(const struct map *m, void (*fn)(const char *key, void *value, void *arg), void *arg);

#endif
