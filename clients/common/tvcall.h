/*
 * tvcall.h: tavla.v1 messages on top of a wsclient connection.
 *
 * Responsible for: turning frames into single server messages (a "batch"
 * frame becomes its items, in order, exactly as if each had come alone),
 * remembering the server's hello, making request ids, and the request/reply
 * round trip ("send this, wait for the reply with this id, hand everything
 * else to a callback"). Not responsible for: the socket (wsclient.h), what
 * a command does with a reply (the CLI), or reconnecting.
 *
 * Invariants:
 *  1. Messages come out of tvc_next() in the order the server sent them;
 *     items of one batch that follow a reply stay queued for the next call
 *     and are never lost or reordered.
 *  2. The queue holds at most the items of one frame, so it is bounded by
 *     the receive limit of the connection.
 */
#ifndef TV_TVCALL_H
#define TV_TVCALL_H

#include <stddef.h>
#include <stdio.h>

#include "tv_protocol.h"
#include "wsclient.h"

struct tvc;

/* One server message. raw is the frame text when the message was a whole
 * frame, NULL when it was an item of a batch (serialise root instead). */
struct tvc_msg {
	json_t *root; /* owned: release with tvc_msg_clear() */
	enum tv_msg_type type;
	char *raw;    /* owned, NUL-terminated, raw_len bytes; may be NULL */
	size_t raw_len;
};

/* Releases what m owns and zeroes it; safe on a zeroed message. */
void tvc_msg_clear(struct tvc_msg *m);

/* Prints m as one line of compact JSON (its raw text when it has one) to f,
 * followed by a newline, and flushes. Returns 0 or -1 on a write error. */
int tvc_msg_print(const struct tvc_msg *m, FILE *f);

/* Wraps a connected handle. Takes ownership of ws (freed by tvc_free).
 * Returns NULL on OOM (ws is then freed too). */
struct tvc *tvc_new(struct wsc *ws);
/* The underlying connection, borrowed. */
struct wsc *tvc_ws(struct tvc *t);
/* The hello message if one has been seen, borrowed; NULL otherwise. */
json_t *tvc_hello(struct tvc *t);
/* Sends a close (code, no reason), waits up to timeout_ms, frees all. */
void tvc_free(struct tvc *t, int code, int timeout_ms);

/* Writes a fresh request id ("<prefix>-<12 hex>-<n>") into out (>= 32 bytes).
 * Random per process, counting per call. */
void tvc_new_id(struct tvc *t, const char *prefix, char *out, size_t outlen);

/*
 * Waits up to timeout_ms (< 0: forever) for the next single server message.
 * Returns WSC_MESSAGE with *m filled (caller clears it), WSC_TIMEOUT,
 * WSC_CLOSED (see wsc_close_code()), or WSC_ERROR with a message in err.
 * A frame that is not JSON, or a binary frame, is an error. A hello is
 * remembered (tvc_hello) and also returned.
 */
int tvc_next(struct tvc *t, int timeout_ms, struct tvc_msg *m, char *err, size_t errlen);

/* Called for every message that is not the awaited reply; borrows m. */
typedef void (*tvc_other_fn)(const struct tvc_msg *m, void *ud);

/*
 * Sends text (len bytes, a request whose "id" is id) and waits up to
 * timeout_ms for the reply carrying that id, passing every other message to
 * other (may be NULL: they are dropped). Returns WSC_MESSAGE with the reply
 * in *reply (caller clears it; ok:false is still WSC_MESSAGE), or
 * WSC_TIMEOUT / WSC_CLOSED / WSC_ERROR (err says why).
 */
int tvc_call_raw(struct tvc *t, const char *text, size_t len, const char *id,
                 int timeout_ms, tvc_other_fn other, void *ud,
                 struct tvc_msg *reply, char *err, size_t errlen);

/* As tvc_call_raw, with the request built by tv_encode_request(op, id,
 * args); args borrowed, may be NULL. */
int tvc_call(struct tvc *t, enum tv_op op, const char *id, json_t *args,
             int timeout_ms, tvc_other_fn other, void *ud,
             struct tvc_msg *reply, char *err, size_t errlen);

/* Reply helpers: 1 if reply has "ok":true. The "result" object (borrowed,
 * may be NULL) and the error code/message (borrowed, never NULL). */
int tvc_reply_ok(const struct tvc_msg *reply);
json_t *tvc_reply_result(const struct tvc_msg *reply);
const char *tvc_reply_code(const struct tvc_msg *reply);
const char *tvc_reply_message(const struct tvc_msg *reply);

#endif
