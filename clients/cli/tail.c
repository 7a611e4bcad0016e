/*
 * tail.c: `tavla tail ROOM`, which follows a room's event log.
 *
 * Responsible for: joining with since, following the paging of a long
 * backlog, and printing every event (and with --presence every presence
 * delta) as one JSON line, exactly as the server sent it, until --count
 * events, --for seconds, or the server closes. Not responsible for the
 * request/reply commands (commands.c).
 *
 * A tail goes JOINING ──reply complete:false (send ping)──> PAGING ──the
 * ping's reply (send join since=through)──> JOINING ──reply complete:true──>
 * LIVE. The page's end is told by the ping rather than by an event with
 * seq = through: the server may have had nothing of the page's last events
 * for this identity (another table's notes), but it sends the page before
 * the reply to any later request. In JOINING the reply must come within
 * --timeout; in PAGING and LIVE the wait is bounded only by --for.
 *
 * Invariants:
 *  1. The next page is asked for only after the last event of the current
 *     page has arrived, so a page is never requested twice.
 *  2. Events are printed in the order received and never twice by this
 *     process: the server guarantees no gap or duplicate at a page seam.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum tail_state { T_JOINING, T_PAGING, T_LIVE };

struct tail {
	struct cli *cli;
	enum tail_state state;
	char join_id[48];
	char mark_id[48];        /* T_PAGING: the ping that follows the page */
	long long join_deadline; /* T_JOINING only */
	long long end;           /* --for deadline, -1: none */
	long long since;         /* of the last join sent */
	long long through;       /* T_PAGING: the last seq of the page */
	long long printed;
};

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sends join {room, since}. Returns CLI_OK or an exit code. */
static int send_join(struct tail *t, long long since)
{
	struct cli *cli = t->cli;
	json_t *args = json_pack("{s:s,s:I}", "room", cli->args[0], "since", (json_int_t)since);
	size_t len = 0;
	char *text;
	int r = CLI_OK;

	tvc_new_id(cli->conn, "tail", t->join_id, sizeof(t->join_id));
	text = args ? tv_encode_request(TV_OP_JOIN, t->join_id, args, &len) : NULL;
	json_decref(args);
	if (!text) {
		fprintf(stderr, "tavla: cannot encode the join request\n");
		return CLI_EUSAGE;
	}
	if (wsc_send_text(tvc_ws(cli->conn), text, len) < 0)
		r = cli_wait_failed(cli, WSC_ERROR, "the join reply", wsc_errmsg(tvc_ws(cli->conn)));
	free(text);
	t->state = T_JOINING;
	t->since = since;
	t->join_deadline = now_ms() + cli->timeout_ms;
	return r;
}

/* Sends the ping whose reply marks the end of the current page. Returns
 * CLI_OK or an exit code. */
static int send_mark(struct tail *t)
{
	struct cli *cli = t->cli;
	size_t len = 0;
	char *text;
	int r = CLI_OK;

	tvc_new_id(cli->conn, "tail", t->mark_id, sizeof(t->mark_id));
	text = tv_encode_request(TV_OP_PING, t->mark_id, NULL, &len);
	if (!text) {
		fprintf(stderr, "tavla: cannot encode a ping\n");
		return CLI_EUSAGE;
	}
	if (wsc_send_text(tvc_ws(cli->conn), text, len) < 0)
		r = cli_wait_failed(cli, WSC_ERROR, "events", wsc_errmsg(tvc_ws(cli->conn)));
	free(text);
	return r;
}

/* The wait for the next message: the nearer of the reply and --for
 * deadlines, -1 when neither applies. */
static int wait_ms(const struct tail *t)
{
	long long d = t->end, left;
	if (t->state == T_JOINING && (d < 0 || t->join_deadline < d))
		d = t->join_deadline;
	if (d < 0)
		return -1;
	left = d - now_ms();
	return left < 0 ? 0 : left > 0x7fffffff ? 0x7fffffff : (int)left;
}

/* A reply with our join id. Returns -1 to go on, or an exit code. */
static int on_join_reply(struct tail *t, const struct tvc_msg *m)
{
	json_t *res;
	int r;
	if (!tvc_reply_ok(m))
		return cli_reply_failed(t->cli, m);
	res = tvc_reply_result(m);
	if (!json_is_false(json_object_get(res, "complete"))) {
		t->state = T_LIVE;
		return -1;
	}
	t->through = json_integer_value(json_object_get(res, "through"));
	if (t->through <= t->since) {
		/* A page must end past where it began, or this never ends. */
		fprintf(stderr, "tavla: the server sent an empty page (through %lld)\n", t->through);
		return CLI_ECONN;
	}
	t->state = T_PAGING;
	r = send_mark(t);
	return r == CLI_OK ? -1 : r;
}

/* An event. Returns -1 to go on, or an exit code. */
static int on_event(struct tail *t, const struct tvc_msg *m)
{
	const char *room = json_string_value(json_object_get(m->root, "room"));

	if (room && strcmp(room, t->cli->args[0]) != 0)
		return -1;
	if (tvc_msg_print(m, stdout) < 0)
		return CLI_OK; /* the reader went away (`| head`): done */
	t->printed++;
	if (t->cli->have_count && t->printed >= t->cli->count)
		return CLI_OK;
	return -1;
}

int cmd_tail(struct cli *cli)
{
	struct tail t;
	char err[512];
	int r;

	memset(&t, 0, sizeof(t));
	t.cli = cli;
	t.end = cli->have_for ? now_ms() + (long long)(cli->for_s * 1000.0) : -1;
	if ((r = cli_connect(cli)) != CLI_OK || (r = cli_resume(cli, "tail")) != CLI_OK ||
	    (r = send_join(&t, cli->have_since ? cli->since : 0)) != CLI_OK)
		return r;
	for (;;) {
		struct tvc_msg m;
		r = tvc_next(cli->conn, wait_ms(&t), &m, err, sizeof(err));
		if (r == WSC_TIMEOUT) {
			if (t.end >= 0 && now_ms() >= t.end)
				return CLI_OK;
			if (t.state == T_JOINING && now_ms() >= t.join_deadline)
				return cli_wait_failed(cli, r, "the join reply", err);
			continue;
		}
		if (r != WSC_MESSAGE)
			return cli_wait_failed(cli, r, t.state == T_JOINING ? "the join reply" : "events", err);
		r = -1;
		if (m.type == TV_MSG_REPLY) {
			const char *id = json_string_value(json_object_get(m.root, "id"));
			if (t.state == T_JOINING && id && strcmp(id, t.join_id) == 0) {
				r = on_join_reply(&t, &m);
			} else if (t.state == T_PAGING && id && strcmp(id, t.mark_id) == 0) {
				r = send_join(&t, t.through);
				r = r == CLI_OK ? -1 : r;
			}
		} else if (m.type == TV_MSG_EVENT) {
			r = on_event(&t, &m);
		} else if (m.type == TV_MSG_PRESENCE && cli->presence) {
			if (tvc_msg_print(&m, stdout) < 0)
				r = CLI_OK;
		}
		tvc_msg_clear(&m);
		if (r >= 0)
			return r;
	}
}
