/*
 * replica.h: cluster mode. Every write a node makes goes through a
 * JetStream stream first and is applied from it, in stream order, by every
 * node's store (the local SQLite is a cache of the stream). See
 * docs/cluster.md for the design.
 *
 * Responsible for: turning store writes into stream records and back;
 * appending a room's writes only if the room's subject is where this node
 * thinks (expected last subject sequence), else catching up and running
 * the request again (STORE_RERUN, see store.h); applying every record of
 * the stream to the local store exactly once, and handing remote events to
 * their loaded room (room_replica_event); `tavlad admin cluster-import`.
 * Not responsible for: NATS itself (jetstream.c), what a write means
 * (handlers), fan-out (room.c).
 *
 * Invariants:
 *  1. A node's store applies the stream's records in stream order and each
 *     record once: the position applied so far is stored in the same
 *     transaction as the record (store_write.replica), and a restart
 *     resumes after it. Every node therefore assigns the same seqs.
 *  2. A write's done runs once: after the local store applied it (status 0
 *     or duplicate), or with STORE_RERUN after its room moved on and this
 *     node caught up, or with -TV_E_OVERLOADED when the stream could not
 *     be reached. Never before JetStream acknowledged it.
 *  3. A room write is published only with the expected last sequence of
 *     its room's subject set, and only if no other node's record for that
 *     room was applied here after the write was built (its `base`).
 */
#ifndef TV_REPLICA_H
#define TV_REPLICA_H

#include <stddef.h>
#include <stdint.h>

struct tv_server;
struct tv_config;
struct store_write;

/* Connects to the cluster (config cluster_*), reads the applied position
 * from the store and starts consuming the stream. Sets srv->replica.
 * Returns 0 or negative with a message in err. */
int replica_open(struct tv_server *srv, char *err, size_t errlen);
/* Stops consuming and publishing; writes waiting for the stream complete
 * with -TV_E_SHUTTING_DOWN. Call before store_close. */
void replica_close(struct tv_server *srv);
/* The one way to write durable state: through the stream in cluster mode,
 * straight to the store on a single node. Thread: loop. */
void replica_submit(struct tv_server *srv, struct store_write *w);
/* Writes waiting for the stream (queued, in flight, or waiting to run
 * again); 0 on a single node. For shutdown's drain. */
size_t replica_pending(const struct tv_server *srv);
/* 1 when the stream is reachable and this node applied what it had at
 * start (for /readyz); always 1 on a single node. */
int replica_ready(const struct tv_server *srv);
/* Appends the cluster's metrics to a Prometheus text (metrics.c). put is
 * metrics.c's printf-like appender. */
void replica_metrics(struct tv_server *srv, void (*put)(void *o, const char *fmt, ...),
                     void *o);
/* tavlad admin cluster-import: publishes the data directory's store into
 * the stream, each identity and each room once (a second run adds
 * nothing). Prints a summary to stdout. 0 or 1. */
int replica_import(const struct tv_config *cfg, const char *db_path);
/* tavlad --check-cluster. 0 when usable, 1 if not. */
int replica_check(const struct tv_config *cfg);

#endif
