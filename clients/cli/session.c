/*
 * session.c: the connection of one tavla command and how its failures
 * become exit codes.
 *
 * Responsible for: connecting with the global options, resuming with the
 * token, making one request and turning every way it can fail into exactly
 * one diagnostic line and one exit code (cli.h). Not responsible for what a
 * command prints on success.
 *
 * Invariants:
 *  1. Certificate trouble is always reported as such and exits with 3,
 *     never as a generic connection failure the user could not act on.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

/* The receive limit of the CLI: a history page of 1,000 long events with
 * multi-byte text fits; anything larger is refused rather than buffered. */
#define CLI_MAX_MESSAGE (32u * 1024u * 1024u)

int cli_connect(struct cli *cli)
{
	struct wsc_options o;
	enum wsc_fail why = WSC_FAIL_NONE;
	char err[600];
	struct wsc *ws;

	memset(&o, 0, sizeof(o));
	o.ca_file = cli->ca;
	o.insecure = cli->insecure;
	o.subprotocol = TV_PROTOCOL_NAME;
	o.user_agent = "tavla/" TAVLA_VERSION;
	o.timeout_ms = cli->timeout_ms;
	o.max_message = CLI_MAX_MESSAGE;
	ws = wsc_connect(cli->url, &o, &why, err, sizeof(err));
	if (!ws) {
		fprintf(stderr, "tavla: %s\n", err);
		return why == WSC_FAIL_URL ? CLI_EUSAGE : CLI_ECONN;
	}
	cli->conn = tvc_new(ws);
	if (!cli->conn) {
		fprintf(stderr, "tavla: out of memory\n");
		return CLI_ECONN;
	}
	return CLI_OK;
}

/* What a close code without a reason means (PROTOCOL.md §7.2). */
static const char *close_meaning(int code)
{
	switch (code) {
	case 1000: return "(normal close)";
	case 1001: return "(server shutting down; try again shortly)";
	case 1005: return "(no close code given)";
	case 1007: return "(invalid UTF-8 in a message)";
	case 1008: return "(policy: too many requests)";
	case 1009: return "(message too large)";
	case 4000: return "(too far behind; resume)";
	default: return "";
	}
}

int cli_wait_failed(struct cli *cli, int result, const char *what, const char *err)
{
	struct wsc *ws = tvc_ws(cli->conn);
	switch (result) {
	case WSC_TIMEOUT:
		fprintf(stderr, "tavla: timed out after %g s waiting for %s\n",
		        cli->timeout_ms / 1000.0, what);
		return CLI_ETIMEOUT;
	case WSC_CLOSED: {
		const char *reason = wsc_close_reason(ws);
		fprintf(stderr, "tavla: the server closed the connection: %d %s\n",
		        wsc_close_code(ws), reason[0] ? reason : close_meaning(wsc_close_code(ws)));
		return CLI_ECLOSED;
	}
	default:
		fprintf(stderr, "tavla: connection failed while waiting for %s: %s\n", what,
		        err && err[0] ? err : "unknown error");
		return CLI_ECONN;
	}
}

int cli_reply_failed(struct cli *cli, const struct tvc_msg *reply)
{
	fprintf(stderr, "tavla: %s: %s\n", tvc_reply_code(reply), tvc_reply_message(reply));
	if (cli->json)
		tvc_msg_print(reply, stdout);
	return CLI_EREPLY;
}

int cli_call(struct cli *cli, enum tv_op op, const char *id, json_t *args,
             tvc_other_fn other, void *ud, struct tvc_msg *reply)
{
	char own_id[48], err[512], what[80];
	const struct tv_op_info *info = tv_op_info(op);
	int r;

	if (!id) {
		tvc_new_id(cli->conn, "cli", own_id, sizeof(own_id));
		id = own_id;
	}
	snprintf(what, sizeof(what), "the reply to %s", info ? info->wire : "a request");
	r = tvc_call(cli->conn, op, id, args, cli->timeout_ms, other, ud, reply, err, sizeof(err));
	json_decref(args);
	if (r != WSC_MESSAGE)
		return cli_wait_failed(cli, r, what, err);
	if (!tvc_reply_ok(reply)) {
		r = cli_reply_failed(cli, reply);
		tvc_msg_clear(reply);
		return r;
	}
	return CLI_OK;
}

int cli_resume(struct cli *cli, const char *cmd)
{
	struct tvc_msg reply;
	int r;
	if (!cli->token || !cli->token[0]) {
		fprintf(stderr, "tavla: %s needs an identity: pass --token TOKEN or set TAVLA_TOKEN "
		        "(from `tavla login` or `tavla join`)\n", cmd);
		return CLI_EUSAGE;
	}
	r = cli_call(cli, TV_OP_RESUME, NULL, json_pack("{s:s}", "token", cli->token),
	             NULL, NULL, &reply);
	if (r == CLI_OK)
		tvc_msg_clear(&reply);
	return r;
}

/* The room's head from room.list, or -1 when the list does not name it
 * (not a member, no such room: the join then says why). */
static int room_head(struct cli *cli, const char *room, long long *head)
{
	struct tvc_msg reply;
	json_t *rooms, *r;
	size_t i;
	int rc;

	*head = -1;
	rc = cli_call(cli, TV_OP_ROOM_LIST, NULL, NULL, NULL, NULL, &reply);
	if (rc != CLI_OK)
		return rc;
	rooms = json_object_get(tvc_reply_result(&reply), "rooms");
	json_array_foreach(rooms, i, r) {
		const char *id = json_string_value(json_object_get(r, "id"));
		json_t *h = json_object_get(r, "head");
		if (id && strcmp(id, room) == 0 && json_is_integer(h)) {
			*head = json_integer_value(h);
			break;
		}
	}
	tvc_msg_clear(&reply);
	return CLI_OK;
}

int cli_enter_room(struct cli *cli, const char *room)
{
	struct tvc_msg reply;
	long long since;
	int r;

	/* Joining at the head subscribes without a backlog; events that
	 * arrive anyway (posted since the list) are dropped by later calls. */
	if ((r = room_head(cli, room, &since)) != CLI_OK)
		return r;
	if (since < 0)
		since = 0;
	for (;;) {
		json_t *res;
		r = cli_call(cli, TV_OP_JOIN, NULL,
		             json_pack("{s:s,s:I}", "room", room, "since", (json_int_t)since),
		             NULL, NULL, &reply);
		if (r != CLI_OK)
			return r;
		res = tvc_reply_result(&reply);
		if (!json_is_false(json_object_get(res, "complete"))) {
			tvc_msg_clear(&reply);
			return CLI_OK;
		}
		/* A page of backlog (the room was not in the list): its events
		 * precede the next reply and are dropped; go on from its end. */
		{
			long long through = json_integer_value(json_object_get(res, "through"));
			tvc_msg_clear(&reply);
			if (through <= since) {
				fprintf(stderr, "tavla: the server sent an empty page (through %lld)\n",
				        through);
				return CLI_ECONN;
			}
			since = through;
		}
	}
}

int cli_print_json(struct cli *cli, const struct tvc_msg *reply)
{
	if (!cli->json)
		return 0;
	tvc_msg_print(reply, stdout);
	return 1;
}
