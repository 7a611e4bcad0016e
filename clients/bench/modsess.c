/*
 * modsess.c: blocking control session over the asynchronous connection
 * (see modsess.h).
 *
 * Responsible for turning "send and wait" into uv_run(UV_RUN_ONCE) steps
 * with a deadline. Replies are found with msgscan and their result object
 * is decoded with jansson (setup traffic is rare, so the convenience is
 * worth it). Events and presence messages arriving meanwhile are ignored.
 */
#include "modsess.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "msgscan.h"
#include "procstat.h"
#include "tv_protocol.h"

static void on_open(struct twc *c)
{
}

static void on_item(void *u, const struct msg_view *v)
{
	struct modsess *m = u;

	if (span_eq(v->type, "hello")) {
		m->hello = 1;
		return;
	}
	if (!span_eq(v->type, "reply") || m->want[0] == '\0' || !span_eq(v->id, m->want))
		return;
	m->got = 1;
	m->ok = v->ok == 1;
	snprintf(m->errcode, sizeof(m->errcode), "%.*s", (int)v->error.len,
	         v->error.p ? v->error.p : "");
	json_decref(m->result);
	m->result = v->result.len
	            ? json_loadb(v->result.p, v->result.len, 0, NULL) : json_object();
}

static void on_message(struct twc *c, const char *data, size_t len)
{
	msgscan_frame(data, len, on_item, c->user);
}

static void on_close(struct twc *c, int code, int err)
{
	struct modsess *m = c->user;

	m->closed = 1;
	m->close_code = code;
	m->close_err = err;
}

static const struct twc_cbs cbs = { on_open, on_message, on_close };

/* Runs the loop until *flag or the session closes or the deadline. */
static int wait_for(struct modsess *m, const int *flag)
{
	long long deadline = procstat_now_us() + (long long)(m->timeout_s * 1e6);

	while (!*flag && !m->closed && procstat_now_us() < deadline)
		uv_run(&m->loop, UV_RUN_ONCE);
	return *flag ? 0 : -1;
}

/* uv_run(ONCE) blocks without a timer; one repeating timer bounds it. */
static void on_tick(uv_timer_t *t)
{
}

static uv_timer_t *start_ticker(struct modsess *m)
{
	uv_timer_t *t = malloc(sizeof(*t));

	uv_timer_init(&m->loop, t);
	uv_timer_start(t, on_tick, 50, 50);
	return t;
}

static void free_handle(uv_handle_t *h)
{
	free(h);
}

int modsess_call(struct modsess *m, const char *op, json_t *args,
                 json_t **result, char *err, size_t errlen)
{
	size_t len;
	char *req;
	uv_timer_t *t;
	int rc;

	snprintf(m->want, sizeof(m->want), "m%08x.%u", m->id_prefix, ++m->next_id);
	req = tv_encode_request(tv_op_lookup(op, strlen(op)), m->want, args, &len);
	if (req == NULL) {
		snprintf(err, errlen, "cannot encode %s", op);
		return -1;
	}
	m->got = 0;
	rc = twc_send_text(&m->c, req, len);
	free(req);
	if (rc < 0) {
		snprintf(err, errlen, "%s: send failed", op);
		return -1;
	}
	t = start_ticker(m);
	rc = wait_for(m, &m->got);
	uv_close((uv_handle_t *)t, free_handle);
	m->want[0] = '\0';
	if (rc < 0) {
		snprintf(err, errlen, "%s: no reply (%s)", op,
		         m->closed ? "connection closed" : "timeout");
		return -1;
	}
	if (!m->ok) {
		snprintf(err, errlen, "%s: %s", op, m->errcode);
		return -1;
	}
	*result = m->result;
	return 0;
}

int modsess_open(struct modsess *m, const struct bench_opts *o,
                 struct ssl_ctx_st *ctx, char *err, size_t errlen)
{
	json_t *args, *res;
	uv_timer_t *t;
	int rc;

	memset(m, 0, sizeof(*m));
	m->timeout_s = o->timeout;
	/* mutating requests are idempotent per (identity, id) for as long as
	 * the room exists (PROTOCOL.md §6): ids must differ between runs */
	m->id_prefix = (unsigned)(procstat_now_us() ^ ((long long)getpid() << 20));
	uv_loop_init(&m->loop);
	m->tl = malloc(sizeof(*m->tl));
	if (m->tl == NULL)
		abort();
	twc_loop_init(m->tl, &m->loop, ctx, o->host, o->port, o->path, "tavla.v1",
	              (uint64_t)procstat_now_us());
	if (o->user == NULL || o->password == NULL) {
		snprintf(err, errlen, "--user and --password (or $TAVLA_BENCH_PASSWORD) "
		         "are needed: create the moderator with `tavlad admin user-add`");
		modsess_close(m);
		return -1;
	}
	if (twc_connect(&m->c, m->tl, &cbs, m) < 0) {
		snprintf(err, errlen, "cannot start connecting");
		m->closed = 1;
		modsess_close(m);
		return -1;
	}
	t = start_ticker(m);
	rc = wait_for(m, &m->hello);
	uv_close((uv_handle_t *)t, free_handle);
	if (rc < 0) {
		snprintf(err, errlen, "no hello from %s:%d (close code %d, error %d)",
		         o->host, o->port, m->close_code, m->close_err);
		modsess_close(m);
		return -1;
	}
	args = json_pack("{s:s,s:s}", "user", o->user, "password", o->password);
	rc = modsess_call(m, "login", args, &res, err, errlen);
	json_decref(args);
	if (rc < 0) {
		modsess_close(m);
		return -1;
	}
	return 0;
}

int modsess_room_create(struct modsess *m, const char *title, char *id,
                        size_t idlen, char *code, size_t codelen,
                        char *err, size_t errlen)
{
	json_t *args = json_pack("{s:s,s:s}", "kind", "workshop", "title", title);
	json_t *res;
	const char *i = NULL, *c = NULL;
	int rc = modsess_call(m, "room.create", args, &res, err, errlen);

	json_decref(args);
	if (rc < 0)
		return -1;
	if (json_unpack(res, "{s:{s:s,s:s}}", "room", "id", &i, "code", &c) != 0) {
		snprintf(err, errlen, "room.create: unexpected result");
		return -1;
	}
	snprintf(id, idlen, "%s", i);
	snprintf(code, codelen, "%s", c);
	return 0;
}

void modsess_close(struct modsess *m)
{
	if (!m->closed && m->c.state != TWC_IDLE)
		twc_abort(&m->c, 0);
	uv_run(&m->loop, UV_RUN_DEFAULT);
	json_decref(m->result);
	m->result = NULL;
	if (uv_loop_close(&m->loop) != 0)
		fprintf(stderr, "tavla-bench: control loop not closed cleanly\n");
	free(m->tl);
	m->tl = NULL;
}
