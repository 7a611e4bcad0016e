/*
 * jetstream.h: tavlad's connection to a NATS JetStream cluster (cluster
 * mode): the only module that includes the NATS headers.
 *
 * Responsible for: connecting (URLs, credentials, CA), creating or checking
 * the stream, publishing messages with an expected last subject sequence
 * and a message id (synchronous publishes on threads of their own, like
 * the store's writer), and delivering every message of the
 * stream in stream order to the loop thread. Not responsible for what the
 * messages mean (replica.c) or for the local store.
 *
 * Lifecycle of a publish:
 *   loop: jetstream_publish(p) --queue--> a publisher thread: js_PublishMsg
 *   --done list + uv_async--> loop: cb->published(p) with p->status set.
 *
 * Invariants:
 *  1. cb->message runs on the loop thread for every message of the stream
 *     after start_seq, in stream order, each exactly once per open (the
 *     consumer is an ordered push consumer: a gap makes libnats recreate
 *     it from the last delivered sequence).
 *  2. cb->published runs on the loop thread exactly once per publish; publishes
 *     run on JS_PUBLISHERS threads at once, so completions of different
 *     messages may come in any order (replica.c keeps one per subject).
 *  3. No libnats callback touches loop state: they only append to a
 *     mutex-protected list and wake the loop.
 */
#ifndef TV_JETSTREAM_H
#define TV_JETSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

struct jetstream;

struct js_opts {
	const char *urls;   /* comma-separated */
	const char *creds;  /* "" or a credentials file */
	const char *tls_ca; /* "" or a CA file */
	const char *stream;
	const char *name;   /* connection name (the node) */
	int replicas;
};

/* Status of a publish besides 0 and -TV_E_x. */
#define JS_CONFLICT 1 /* the subject's last sequence was not the expected one */

struct js_pub {
	struct js_pub *next;  /* owned by jetstream while queued */
	char subject[128];
	char msg_id[96];
	char *data;           /* borrowed until published runs */
	size_t len;
	uint64_t expect;      /* expected last subject sequence (0: none) */
	int expect_none;      /* the subject must be empty */
	/* Set by the publisher: */
	int status;           /* 0, JS_CONFLICT or -TV_E_x */
	uint64_t seq;         /* the stream sequence of the message */
	uint64_t actual_last; /* with JS_CONFLICT: the subject's last sequence (0: unknown) */
	double seconds;       /* how long the publish took */
	unsigned attempts;    /* repeats after no answer (same Msg-Id) */
	void *arg;
};

struct js_callbacks {
	void *arg;
	/* One message of the stream (data borrowed for the call); pending is
	 * how many more the server had for this consumer when it sent it. */
	void (*message)(void *arg, const char *subject, uint64_t seq, uint64_t pending,
	                const char *data, size_t len);
	void (*published)(void *arg, struct js_pub *p);
	/* The connection went down (0) or came back (1). */
	void (*connection)(void *arg, int connected);
};

/* Connects, creates the stream when missing (file storage, o->replicas),
 * subscribes from stream sequence start_seq (1: everything) and starts the
 * publisher thread; *last_seq gets the stream's last sequence before the
 * subscription. Returns 0 or negative with a message in err. */
int jetstream_open(struct jetstream **out, uv_loop_t *loop, const struct js_opts *o,
                   const struct js_callbacks *cb, uint64_t start_seq, uint64_t *last_seq,
                   char *err, size_t errlen);
/* Stops the subscription and the publisher (queued publishes complete with
 * -TV_E_SHUTTING_DOWN), closes the connection; the completion handle is
 * closed on the loop. */
void jetstream_close(struct jetstream *js);
/* Queues p. Thread: loop. Errors arrive in p->status. */
void jetstream_publish(struct jetstream *js, struct js_pub *p);
/* The consumer delivered nothing for a while although the stream holds
 * more: the publisher thread replaces it with one starting at from (the
 * ordered consumer does not always recover by itself when the server
 * holding it dies). Thread: loop. */
void jetstream_resubscribe(struct jetstream *js, uint64_t from);
/* The stream's last sequence as last seen by a publish, a conflict or the
 * publisher's poll every 2 s while idle. Any thread. */
uint64_t jetstream_stream_last(const struct jetstream *js);
/* 1 while connected. Thread: loop. */
int jetstream_connected(const struct jetstream *js);

/* tavlad --check-cluster: connects (giving up after a few seconds), prints
 * the servers and the stream's state to out. 0 when usable, 1 if not. */
int jetstream_check(const struct js_opts *o, FILE *out);

/* Publishes one message synchronously on its own connection (tavlad admin
 * cluster-import): onto an empty subject when expect is 0, else after the
 * subject's message expect. Returns 0, JS_CONFLICT or negative with err;
 * *seq gets the stream sequence. */
struct js_sync;
int js_sync_open(struct js_sync **out, const struct js_opts *o, char *err, size_t errlen);
int js_sync_publish(struct js_sync *s, const char *subject, const char *msg_id,
                    const char *data, size_t len, uint64_t expect, uint64_t *seq,
                    int *duplicate, char *err, size_t errlen);
void js_sync_close(struct js_sync *s);

#endif
