/*
 * conn.h: one client connection, independent of the transport.
 *
 * Responsible for: reassembling a message from fragments under the size
 * limit, the identity the connection acquired, its subscriptions, its
 * bounded queue of replies, the rate limit, and building the next frame to
 * send (coalescing whatever is waiting into one `batch` frame). Not
 * responsible for: sockets and TLS (ws_server.c drives a conn through
 * struct conn_transport), or interpreting requests (dispatch.c).
 *
 * Lifecycle (each arrow names the function that performs it):
 *
 *   OPEN (anonymous) --session: conn_set_identity--> IDENT
 *   OPEN|IDENT --conn_close (error, lag, shutdown)--> CLOSING
 *   any --transport closed: conn_free--> gone
 *
 * Invariants:
 *  1. q_bytes <= cfg->send_queue_max, else the connection is CLOSING with
 *     close code 4000 and a resume hint.
 *  2. A conn is freed only by its transport's close callback (conn_free),
 *     never inside a dispatch: asynchronous work refers to it by id and
 *     looks it up again (conn_by_id) when it completes.
 *  3. Replies and catch-up events are queued in order and sent before any
 *     live ring entry, so a join reply precedes the events it announces.
 */
#ifndef TV_CONN_H
#define TV_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "crypto.h"
#include "room.h"

struct tv_server;
struct conn;

struct conn_transport {
	/* Ask to be called back when the socket can take a frame. urgent:
	 * a reply or a close waits (the author's ack goes before fan-out);
	 * also called when a connection already waiting for fan-out gets one. */
	void (*wake)(struct conn *c, int urgent);
	/* Drop the connection without further writes (it stopped reading). */
	void (*kill)(struct conn *c);
};

enum conn_state { CONN_OPEN, CONN_IDENT, CONN_CLOSING };

struct conn_identity {
	char id[TV_ID_LEN + 1];
	char org_id[TV_ID_LEN + 1];
	char kind[8]; /* "account" or "guest" */
	char name[256];
};

struct conn {
	struct tv_server *srv;
	uint64_t id;
	char key[24]; /* id in decimal: the conns_by_id key */
	const struct conn_transport *tp;
	void *tp_handle; /* the transport's own handle (an lws wsi) */
	enum conn_state state;
	struct conn_identity ident;
	char addr[64];

	/* Reassembly of the current message. */
	char *rx;
	size_t rx_len, rx_cap;
	int rx_binary, rx_overflow;

	/* Replies and catch-up events, in order (invariant 3). */
	struct tv_buf **q;
	size_t q_head, q_len, q_cap, q_bytes;

	struct room_sub *subs;
	struct room_sub *rr; /* next subscription to drain (round robin) */

	double tokens;
	int64_t tokens_ms;
	unsigned strikes;

	int close_code;
	char close_reason[124];
	int wake_pending;  /* the transport will call back when writeable */
	int flush_queued;  /* on a transport's flush list: 1 fan-out, 2 urgent */
	struct conn *flush_prev, *flush_next;
};

/* New connection registered under a fresh id. Returns NULL on OOM. */
struct conn *conn_new(struct tv_server *srv, const struct conn_transport *tp,
                      void *tp_handle, const char *addr);
/* Unsubscribes everything, drops queued buffers, unregisters and frees.
 * Only the transport calls this, from its close callback. */
void conn_free(struct conn *c);
/* The live connection with this id, or NULL if it closed meanwhile. */
struct conn *conn_by_id(struct tv_server *srv, uint64_t id);

/* Feeds one received fragment. Complete text messages go to dispatch.
 * Returns 0, or -1 when the transport should close now (the close code and
 * reason are already set). */
int conn_rx(struct conn *c, const void *in, size_t len, int first, int final, int binary);

/* Queues b (takes a new reference) and wakes the transport. Returns 0, or
 * negative when the queue limit was hit (the connection is then CLOSING). */
int conn_send(struct conn *c, struct tv_buf *b);
/* Queues a copy of s[0..len). */
int conn_send_copy(struct conn *c, const char *s, size_t len);
/* Marks the connection CLOSING with a WebSocket close code and reason;
 * what is already queued is still sent first. */
void conn_close(struct conn *c, int code, const char *reason);

/* Gives the connection an identity (login, join, resume). */
void conn_set_identity(struct conn *c, const struct conn_identity *id);
/* The subscription of c to room_id, or NULL. */
struct room_sub *conn_sub(struct conn *c, const char *room_id);
/* New subscription owned by c (room_subscribe links it to a room). */
struct room_sub *conn_sub_new(struct conn *c, unsigned role);
/* Unsubscribes and frees one subscription of c. */
void conn_sub_drop(struct conn *c, struct room_sub *s);

/* Takes one token from the rate bucket (cost tokens). 0 or -TV_E_RATE_LIMITED. */
int conn_rate_take(struct conn *c, double cost);

/*
 * Builds the next frame. Returns 0 when there is nothing to send.
 * Otherwise returns 1 with *frame pointing at len bytes that have
 * TV_WIRE_PRE bytes of writable headroom before them: either inside *hold
 * (one message sent as is; the caller must tv_buf_unref(*hold) after
 * writing) or inside scratch (several messages coalesced into one batch
 * frame; *hold is NULL). scratch must have TV_WIRE_PRE + scratch_cap bytes.
 */
int conn_next_frame(struct conn *c, char *scratch, size_t scratch_cap, char **frame,
                    size_t *len, struct tv_buf **hold);
/* 1 when conn_next_frame would return something. */
int conn_has_output(struct conn *c);

#endif
