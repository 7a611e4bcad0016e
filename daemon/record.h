/*
 * record.h: a store write (store.h) as a record of the cluster's stream,
 * and back. Responsible for the format only; not for subjects, messages or
 * publishing (replica.c) nor for applying (store.c). See record.c for the
 * format and its invariant.
 */
#ifndef TV_RECORD_H
#define TV_RECORD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "store.h"

/* A write rebuilt from a record: the parts of w point into rec (strings)
 * and into hash, fp and ev. */
struct record {
	struct store_write w; /* first: the store hands back &w */
	struct tv_event_view ev;
	json_t *rec;          /* a reference, dropped by record_clear */
	unsigned char hash[TV_HASH_LEN], fp[TV_HASH_LEN];
};

/* w as a record (a new reference), or NULL when out of memory. origin
 * (the writing process) and n (its number of the write) are added when
 * origin is not NULL. The replica position and the results the writer
 * sets are not part of a record. */
json_t *record_encode(const struct store_write *w, const char *origin, uint64_t n);
/* Fills x (zeroed by the caller) from record r, taking a reference to r.
 * Returns 0, or -1 when a part is malformed (x must still be cleared). */
int record_decode(struct record *x, json_t *r);
/* Drops the reference to the record. */
void record_clear(struct record *x);
/* The string member k of o, or NULL. Borrowed from o. */
const char *record_str(json_t *o, const char *k);
/* in[0..n) as 2n lower-case hex digits and a NUL in out. */
void record_hex(char *out, const unsigned char *in, size_t n);

#endif
