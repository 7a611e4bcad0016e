/*
 * msgscan.h: a zero-allocation reader of tavla.v1 server frames for the
 * hot path of the load generator.
 *
 * Responsible for walking one server frame (a JSON object, or a `batch`
 * whose items are objects) and reporting, per message, the few fields a
 * benchmark needs as spans into the frame. Not responsible for full JSON
 * validation or unescaping (strings are returned raw, escapes intact), nor
 * for anything the generator does not measure: setup replies with nested
 * results are handed to jansson by the caller via the `result` span.
 * Parsing every frame with jansson would make the generator, which shares
 * two cores with the daemon, the bottleneck it is trying to measure.
 *
 * Invariants:
 *  1. Every span points into the caller's buffer (valid while it is) and
 *     has len 0 when the field is absent.
 *  2. A batch is reported item by item, in order, as if each item had
 *     arrived in its own frame (PROTOCOL.md §2.5), whatever the key order.
 *  3. Malformed input makes msgscan_frame return -1; messages reported
 *     before the error stay reported.
 */
#ifndef TV_BENCH_MSGSCAN_H
#define TV_BENCH_MSGSCAN_H

#include <stddef.h>
#include <stdint.h>

struct span {
	const char *p;
	size_t len;
};

struct msg_view {
	struct span type;   /* "event", "reply", "hello", "presence", ... */
	struct span id;     /* reply id (raw string contents), len 0 if null */
	struct span kind;   /* event kind */
	struct span text;   /* event data.text (raw, escapes intact) */
	struct span result; /* reply result object, raw JSON text */
	struct span error;  /* reply error.code */
	long long seq;      /* event seq; -1 when absent */
	int ok;             /* reply ok: 1 true, 0 false, -1 absent */
};

/* Calls cb once per message in buf[0..len). Returns the number of messages
 * reported, or -1 on malformed input (invariant 3). */
int msgscan_frame(const char *buf, size_t len,
                  void (*cb)(void *user, const struct msg_view *m), void *user);

/* Integer value of key inside the JSON object text s (top level only);
 * 0 and *out when found. Used on result spans ("seq", "head"). */
int msgscan_int(struct span obj, const char *key, long long *out);
/* Raw string contents of key inside the object (top level only). */
int msgscan_str(struct span obj, const char *key, struct span *out);
/* Raw text of the value (any type) of key inside the object. */
int msgscan_value(struct span obj, const char *key, struct span *out);

/* 1 if s equals the NUL-terminated literal lit. */
int span_eq(struct span s, const char *lit);

#endif
