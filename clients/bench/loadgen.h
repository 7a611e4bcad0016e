/*
 * loadgen.h: the publish/subscribe load engine behind the fanout and write
 * scenarios.
 *
 * Responsible for: ramping up subscribers and publishers over tls_ws_conn
 * (join by code, following `complete:false` pages), driving publishers in
 * closed loop (next message on the ack) or open loop (--rate, each message
 * stamped with its scheduled time so that queueing shows up as latency
 * instead of being hidden by a slowed sender), measuring delivery latency,
 * ack latency, loss, duplicates and throughput, and tearing everything
 * down. In node mode it speaks no tavla protocol: every connection is
 * ready once open, publishers send the bare text, subscribers read bare
 * text, and a publisher's "ack" is its own message coming back.
 * Not responsible for creating rooms (the caller passes ids and codes) or
 * for printing.
 *
 * Message text: "b:PUB:PSEQ:USEC:" padded with 'x' to cfg.size bytes, where
 * PUB is the publisher index, PSEQ its 0-based sequence number and USEC the
 * intended send time on the monotonic clock (the same clock for every
 * thread of the generator, and the generator is also the receiver).
 *
 * Phases: RAMP (connect, join) -> SETTLE (cfg.settle seconds after the last
 * join) -> LOAD (cfg.duration) -> DRAIN (until every subscriber has every
 * acked message, or cfg.drain seconds) -> teardown.
 */
#ifndef TV_BENCH_LOADGEN_H
#define TV_BENCH_LOADGEN_H

#include <stdint.h>

#include "histogram.h"
#include "options.h"

struct ssl_ctx_st;

struct loadgen_cfg {
	const struct bench_opts *o;
	int node;
	int subs, pubs, rooms;
	double rate; /* messages/s per publisher; 0: closed loop */
	int size;
	double duration, settle, drain, timeout;
	char (*room_id)[32]; /* rooms entries (tavla mode) */
	char (*code)[16];
};

struct loadgen_result {
	struct histogram lat;  /* delivery latency, us */
	struct histogram ack;  /* ack latency, us */
	uint64_t delivered;    /* chat messages received by subscribers */
	uint64_t delivered_window; /* ... while the load ran */
	uint64_t acks, acks_window, sent, errors;
	uint64_t gaps;         /* per-publisher sequence gaps seen by subscribers */
	uint64_t dups;         /* per-publisher duplicates */
	uint64_t seq_gaps, seq_dups; /* room event seq gaps / repeats (tavla) */
	uint64_t missing;      /* acked messages some subscriber never got */
	uint64_t failed;       /* connections that never became ready */
	uint64_t dropped;      /* ready connections the server closed */
	int last_close_code;
	double ramp_s, window_s;
	int aborted;           /* the ramp did not finish within cfg.timeout */
};

/* Runs the whole load with o->threads loops. Returns 0 (out filled; check
 * out->aborted) or -1 when it could not start. */
int loadgen_run(const struct loadgen_cfg *cfg, struct ssl_ctx_st *ctx,
                struct loadgen_result *out);

#endif
