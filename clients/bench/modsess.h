/*
 * modsess.h: the generator's control connection: a moderator logged in
 * over tavla.v1, used to create rooms and post events before and between
 * the measured phases.
 *
 * Responsible for one tls_ws_conn on a private loop and a blocking
 * request/reply call (the loop runs until the reply with the request's id
 * arrives or the deadline passes). Not responsible for anything measured:
 * its calls are never timed as part of a result.
 *
 * Invariants:
 *  1. At most one call is outstanding; request ids are "mPREFIX.1",
 *     "mPREFIX.2", ... with a prefix that differs per session, since the
 *     moderator identity outlives a run and ids are idempotency keys.
 *  2. The private loop is closed by modsess_close(), which also frees the
 *     connection; no handle outlives it.
 */
#ifndef TV_BENCH_MODSESS_H
#define TV_BENCH_MODSESS_H

#include <jansson.h>
#include <uv.h>

#include "options.h"
#include "tls_ws_conn.h"

struct modsess {
	uv_loop_t loop;
	struct twc_loop *tl;
	struct twc c;
	int hello, closed, close_code, close_err;
	unsigned next_id, id_prefix;
	char want[32];
	int got;
	int ok;
	char errcode[48];
	json_t *result; /* of the last call; owned */
	double timeout_s;
};

/* Connects, waits for hello, and logs in with o->user/o->password. 0 or
 * -1 with err filled (the session is then already closed). */
int modsess_open(struct modsess *m, const struct bench_opts *o,
                 struct ssl_ctx_st *ctx, char *err, size_t errlen);
/* Sends {op, id, ...args} (args borrowed, may be NULL) and waits for the
 * reply. Returns 0 with *result borrowed (valid until the next call) or -1
 * with err filled ("code: ..." for an error reply). */
int modsess_call(struct modsess *m, const char *op, json_t *args,
                 json_t **result, char *err, size_t errlen);
/* Creates a workshop room; copies its id and join code. 0 or -1. */
int modsess_room_create(struct modsess *m, const char *title, char *id,
                        size_t idlen, char *code, size_t codelen,
                        char *err, size_t errlen);
void modsess_close(struct modsess *m);

#endif
