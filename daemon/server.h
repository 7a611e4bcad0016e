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

struct store;
struct ws_server;

struct tv_stats {
	uint64_t connections_total, connections_open;
	uint64_t requests, errors, events_published, slow_closed;
};

struct tv_server {
	uv_loop_t *loop;
	struct tv_config *cfg;
	struct store *store;
	struct ws_server *ws;
	struct map rooms_by_id;     /* room id -> struct room * */
	struct map conns_by_id;     /* decimal conn id -> struct conn * */
	struct map pending;         /* identity \x1f client id -> struct pending * */
	struct map guard;           /* client address -> guard.c's entry */
	uint64_t next_conn_id;
	unsigned hashes_in_flight;  /* argon2 verifications running */
	int stopping;
	struct tv_stats stats;
	/* The demo set-up prints its join code when its room commits. */
	char demo_org_id[16];
};

#endif
