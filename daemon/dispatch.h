/*
 * dispatch.h: from one complete message to one reply.
 *
 * Responsible for: decoding (protocol codec), then every check shared by
 * all ops, in one place and in this order, before any handler runs:
 * shutting down, rate limit, auth state, room membership and role (for ops
 * naming a room), idempotency (for ops that append to a log). Then the
 * handler for the op, and turning its return into exactly one reply.
 * Not responsible for: domain rules (handlers), sockets (conn/ws_server).
 *
 * Handlers return 0 (reply ok now with ctx->result or ctx->result_raw),
 * a negative -TV_E_x (reply with that error and ctx->err as message when
 * set), or TV_ASYNC: the handler started work that will reply later through
 * dispatch_finish() (by connection id, since the connection may be gone by
 * then) or dispatch_pending_finish() (every waiter of an idempotent request).
 *
 * Invariants:
 *  1. Every decoded request gets exactly one reply; every frame that could
 *     not be decoded gets one error reply.
 *  2. For ops with MUTATES, at most one request per (identity, id) is in
 *     flight; repeats wait for it and get its result. A repeat of a request
 *     that committed earlier is recognised by the store's writer (no read
 *     on this thread), or, when the handler refuses it (the room moved on
 *     since), by one lookup here before the refusal is sent.
 */
#ifndef TV_DISPATCH_H
#define TV_DISPATCH_H

#include <jansson.h>
#include <stdint.h>

#include "crypto.h"
#include "tv_protocol.h"

#define TV_ASYNC 1

struct conn;
struct room;
struct room_sub;
struct tv_server;
struct pending;

struct tv_ctx {
	struct tv_server *srv;
	struct conn *conn;
	const struct tv_request *req;
	const char *raw;          /* the request's text (borrowed) */
	size_t raw_len;
	struct room *room;        /* ops with ROOM: the joined room */
	struct room_sub *sub;     /* ... and this connection's subscription */
	unsigned role;            /* ... and the sender's role in it */
	struct pending *pending;  /* ops with MUTATES: the idempotency record */
	json_t *result;           /* out: owned, for a sync ok reply */
	char *result_raw;         /* out: malloc'd JSON text, alternative */
	char err[200];            /* out: message for an error return */
};

/* Where an asynchronous reply goes. */
struct reply_to {
	uint64_t conn_id;
	char req_id[TV_ID_MAX_BYTES + 1];
};

/* Handles one complete text message received on c. */
void dispatch_message(struct conn *c, const char *buf, size_t len);
/* Queues an error reply on c (req_id NULL => "id":null). */
void dispatch_error(struct conn *c, const char *req_id, int code, const char *msg);
/* Queues {"ok":true,"result":<result_json>} on c. */
void dispatch_ok_raw(struct conn *c, const char *req_id, const char *result_json, int replayed);

void reply_to_init(struct reply_to *rt, const struct tv_ctx *ctx);
/* Replies to an asynchronous request if its connection is still open:
 * status 0 => ok with result (borrowed; NULL => {}), else error(status, msg). */
void dispatch_finish(struct tv_server *srv, const struct reply_to *rt, int status,
                     json_t *result, const char *msg);

/* The fields a handler puts in its store write to make the request
 * idempotent (borrowed from the pending record, valid until finish). */
const char *pending_identity(const struct pending *p);
/* Frees a pending record (the server's map must not hold it any more). */
void dispatch_pending_free(void *pending);
const char *pending_client_id(const struct pending *p);
const unsigned char *pending_fingerprint(const struct pending *p);
struct store_write;
/* Replies to every waiter of p from its finished write w (the first
 * result, a replay when the writer found the request done before, or the
 * error) and frees p. */
void dispatch_pending_finish(struct tv_server *srv, struct pending *p,
                             const struct store_write *w);

/* Every op has a handler (startup self-check; also a unit test). */
int dispatch_table_complete(void);

#endif
