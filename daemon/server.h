/*
 * server.h: the state of one running tavlad, passed explicitly to every
 * module that needs more than its own piece (no globals).
 *
 * Responsible for: owning the loop, the configuration, the store, the live
 * rooms and connections, and the counters. Not responsible for behaviour:
 * each module below acts on the parts it is given.
 *
 * Invariants:
 *  1. Everything reachable from here is touched only by the loop thread,
 *     except the store's internals (store.c guards its own queue).
 *  2. rooms_by_id holds every loaded room; a room is unloaded only when it
 *     has no subscribers and no write in flight.
 */
#ifndef TV_SERVER_H
#define TV_SERVER_H

#include <stdint.h>
#include <uv.h>

#include "clock.h" /* server_now_ms(), for every module that includes this */
#include "config.h"
#include "map.h"
#include "tv_protocol.h"

struct store;
struct ws_server;
struct textan_lexicon;
struct concepts;
struct replica;

/* Counters for GET /metrics (metrics.c renders them). Loop thread only;
 * the store keeps its writer's own measurements (store_metrics()). */
#define TV_STATS_KINDS 24 /* event kinds counted by name; see metrics.c */
struct tv_stats {
	uint64_t connections_total, connections_open;
	uint64_t requests, errors, events_published, slow_closed;
	uint64_t events_by_kind[TV_STATS_KINDS + 1]; /* last: any other kind */
	uint64_t errors_by_code[TV_E__COUNT];        /* index: TV_E_x */
	uint64_t retention_deleted;                  /* rooms deleted by retention */
};

struct tv_server {
	uv_loop_t *loop;
	struct tv_config *cfg;
	struct store *store;
	struct replica *replica;   /* cluster mode (replica.h); NULL on a single node */
	struct ws_server *ws;
	struct map rooms_by_id;     /* room id -> struct room * */
	struct map conns_by_id;     /* decimal conn id -> struct conn * */
	struct map pending;         /* identity \x1f client id -> struct pending * */
	struct map guard;           /* client address -> guard.c's entry */
	uint64_t next_conn_id;
	unsigned hashes_in_flight;  /* argon2 verifications running */
	int stopping;
	int64_t started_ms;         /* wall clock at start, for /metrics */
	int retention_inflight;     /* a retention write is queued: no room loads */
	struct tv_stats stats;
	/* The demo set-up prints its join code when its room commits. */
	char demo_org_id[16];
	/* Cluster suggestions: hunspell-sv's word list, loaded at start (NULL
	 * when not installed: no compound parts). */
	struct textan_lexicon *lexicon;
	/* and the concept lexicon compiled in, parsed once at start (NULL when
	 * memory ran out: each suggestion then parses it itself). */
	struct concepts *concepts;
	unsigned char export_key[32]; /* signs export links (export.c) */
};

#endif
