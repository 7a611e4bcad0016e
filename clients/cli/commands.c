/*
 * commands.c: the request/reply commands of tavla (ping, login, join, room,
 * chat, send, history).
 *
 * Responsible for: building each command's requests from the parsed command
 * line and printing its result: terse, script-friendly text by default, the
 * whole reply as one JSON line with --json. Not responsible for connecting
 * or mapping failures (session.c) or the streaming command (tail.c).
 *
 * Invariants:
 *  1. Commands that act as an identity resume with the token first; login
 *     and code joins never do (the server would say already_authenticated).
 *  2. The plain output of a command is one line per item, fields separated
 *     by single spaces, the free-text field (a title) last.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define PASSWORD_MAX 1024

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *str_or(json_t *obj, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : dflt;
}

int cmd_ping(struct cli *cli)
{
	struct tvc_msg reply;
	double t0, rtt;
	json_int_t ts;
	int r;

	if ((r = cli_connect(cli)) != CLI_OK)
		return r;
	t0 = now_s();
	r = cli_call(cli, TV_OP_PING, NULL, NULL, NULL, NULL, &reply);
	if (r != CLI_OK)
		return r;
	rtt = (now_s() - t0) * 1000.0;
	if (!cli_print_json(cli, &reply)) {
		char when[64] = "?";
		time_t secs;
		struct tm tm;
		ts = json_integer_value(json_object_get(tvc_reply_result(&reply), "ts"));
		secs = (time_t)(ts / 1000);
		if (gmtime_r(&secs, &tm))
			snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
			         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			         tm.tm_min, tm.tm_sec, (int)(ts % 1000));
		printf("pong from %s: server time %s (ts %lld), round trip %.1f ms\n",
		       str_or(tvc_hello(cli->conn), "server", "server"), when, (long long)ts, rtt);
	}
	tvc_msg_clear(&reply);
	return CLI_OK;
}

/* Reads the password: $TAVLA_PASSWORD, else the first line of stdin (with
 * echo off when stdin is a terminal). Returns 0 or an exit code. */
static int read_password(char *out, size_t outlen)
{
	const char *env = getenv("TAVLA_PASSWORD");
	struct termios old, quiet;
	int tty = isatty(STDIN_FILENO), got;
	size_t n;

	if (env) {
		if (strlen(env) >= outlen) {
			fprintf(stderr, "tavla: TAVLA_PASSWORD is too long\n");
			return CLI_EUSAGE;
		}
		strcpy(out, env);
		return out[0] ? 0 : (fprintf(stderr, "tavla: TAVLA_PASSWORD is empty\n"), CLI_EUSAGE);
	}
	if (tty && tcgetattr(STDIN_FILENO, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		fprintf(stderr, "Password: ");
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	} else {
		tty = 0;
	}
	got = fgets(out, (int)outlen, stdin) != NULL;
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (!got) {
		fprintf(stderr, "tavla: no password: set TAVLA_PASSWORD or give it on stdin\n");
		return CLI_EUSAGE;
	}
	n = strlen(out);
	if (n == outlen - 1 && out[n - 1] != '\n') {
		fprintf(stderr, "tavla: the password line is too long\n");
		return CLI_EUSAGE;
	}
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = '\0';
	if (n == 0) {
		fprintf(stderr, "tavla: the password is empty\n");
		return CLI_EUSAGE;
	}
	return 0;
}

int cmd_login(struct cli *cli)
{
	char password[PASSWORD_MAX];
	struct tvc_msg reply;
	json_t *args;
	int r;

	r = read_password(password, sizeof(password));
	if (r != 0)
		return r;
	if ((r = cli_connect(cli)) != CLI_OK)
		return r;
	args = json_pack("{s:s,s:s}", "user", cli->args[0], "password", password);
	memset(password, 0, sizeof(password));
	if (!args) {
		fprintf(stderr, "tavla: the password is not valid UTF-8\n");
		return CLI_EUSAGE;
	}
	r = cli_call(cli, TV_OP_LOGIN, NULL, args, NULL, NULL, &reply);
	if (r != CLI_OK)
		return r;
	if (!cli_print_json(cli, &reply))
		printf("%s\n", str_or(tvc_reply_result(&reply), "token", ""));
	tvc_msg_clear(&reply);
	return CLI_OK;
}

int cmd_join(struct cli *cli)
{
	struct tvc_msg reply;
	json_t *args, *res;
	int r;

	if ((r = cli_connect(cli)) != CLI_OK)
		return r;
	args = json_pack("{s:s,s:s}", "code", cli->args[0], "name", cli->args[1]);
	if (args && cli->observer)
		json_object_set_new(args, "observer", json_true());
	r = cli_call(cli, TV_OP_JOIN, NULL, args, NULL, NULL, &reply);
	if (r != CLI_OK)
		return r;
	if (!cli_print_json(cli, &reply)) {
		res = tvc_reply_result(&reply);
		printf("%s %s\n", str_or(res, "token", ""),
		       str_or(json_object_get(res, "room"), "id", ""));
	}
	tvc_msg_clear(&reply);
	return CLI_OK;
}

static int room_create(struct cli *cli)
{
	struct tvc_msg reply;
	json_t *room;
	int r;

	r = cli_call(cli, TV_OP_ROOM_CREATE, NULL,
	             json_pack("{s:s,s:s}", "kind", cli->args[1], "title", cli->args[2]),
	             NULL, NULL, &reply);
	if (r != CLI_OK)
		return r;
	if (!cli_print_json(cli, &reply)) {
		room = json_object_get(tvc_reply_result(&reply), "room");
		printf("%s %s\n", str_or(room, "id", ""), str_or(room, "code", ""));
	}
	tvc_msg_clear(&reply);
	return CLI_OK;
}

static int room_list(struct cli *cli)
{
	struct tvc_msg reply;
	json_t *rooms, *room;
	size_t i;
	int r;

	r = cli_call(cli, TV_OP_ROOM_LIST, NULL, NULL, NULL, NULL, &reply);
	if (r != CLI_OK)
		return r;
	if (!cli_print_json(cli, &reply)) {
		rooms = json_object_get(tvc_reply_result(&reply), "rooms");
		json_array_foreach(rooms, i, room)
			printf("%s %s %s %s\n", str_or(room, "id", "-"), str_or(room, "code", "-"),
			       str_or(room, "kind", "-"), str_or(room, "title", ""));
	}
	tvc_msg_clear(&reply);
	return CLI_OK;
}

int cmd_room(struct cli *cli)
{
	int create = strcmp(cli->args[0], "create") == 0;
	int r;

	if (create ? cli->nargs != 3 : (strcmp(cli->args[0], "list") != 0 || cli->nargs != 1)) {
		fprintf(stderr, "tavla: usage: tavla room create KIND TITLE | tavla room list\n");
		return CLI_EUSAGE;
	}
	if ((r = cli_connect(cli)) != CLI_OK || (r = cli_resume(cli, "room")) != CLI_OK)
		return r;
	return create ? room_create(cli) : room_list(cli);
}

int cmd_chat(struct cli *cli)
{
	struct tvc_msg reply;
	int r;

	if ((r = cli_connect(cli)) != CLI_OK || (r = cli_resume(cli, "chat")) != CLI_OK ||
	    (r = cli_enter_room(cli, cli->args[0])) != CLI_OK)
		return r;
	r = cli_call(cli, TV_OP_CHAT_SEND, cli->id,
	             json_pack("{s:s,s:s}", "room", cli->args[0], "text", cli->args[1]),
	             NULL, NULL, &reply);
	if (r != CLI_OK)
		return r;
	if (!cli_print_json(cli, &reply))
		printf("%lld\n", (long long)json_integer_value(
		                     json_object_get(tvc_reply_result(&reply), "seq")));
	tvc_msg_clear(&reply);
	return CLI_OK;
}

int cmd_history(struct cli *cli)
{
	struct tvc_msg reply;
	json_t *args, *res, *events, *ev;
	size_t i;
	int r;

	if ((r = cli_connect(cli)) != CLI_OK || (r = cli_resume(cli, "history")) != CLI_OK ||
	    (r = cli_enter_room(cli, cli->args[0])) != CLI_OK)
		return r;
	args = json_pack("{s:s}", "room", cli->args[0]);
	if (args && cli->have_before)
		json_object_set_new(args, "before", json_integer(cli->before));
	if (args && cli->have_limit)
		json_object_set_new(args, "limit", json_integer(cli->limit));
	r = cli_call(cli, TV_OP_HISTORY, NULL, args, NULL, NULL, &reply);
	if (r != CLI_OK)
		return r;
	if (!cli_print_json(cli, &reply)) {
		res = tvc_reply_result(&reply);
		events = json_object_get(res, "events");
		json_array_foreach(events, i, ev) {
			struct tvc_msg m = { .root = ev, .type = TV_MSG_EVENT };
			tvc_msg_print(&m, stdout);
		}
		if (json_is_true(json_object_get(res, "more")) && isatty(STDERR_FILENO)) {
			json_t *first = json_array_get(events, 0);
			fprintf(stderr, "tavla: older events exist; see them with --before %lld\n",
			        (long long)json_integer_value(json_object_get(first, "seq")));
		}
	}
	tvc_msg_clear(&reply);
	return CLI_OK;
}

int cmd_send(struct cli *cli)
{
	json_error_t jerr;
	json_t *req, *idv;
	const char *roomv, *opv;
	struct tvc_msg reply;
	char id[TV_ID_MAX_BYTES + 64], err[512], *text;
	int r;

	req = json_loads(cli->args[0], JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(req)) {
		fprintf(stderr, "tavla: send needs one JSON object: %s\n",
		        req ? "that is not an object" : jerr.text);
		json_decref(req);
		return CLI_EUSAGE;
	}
	if ((r = cli_connect(cli)) != CLI_OK) {
		json_decref(req);
		return r;
	}
	if (cli->token && cli->token[0] && (r = cli_resume(cli, "send")) != CLI_OK) {
		json_decref(req);
		return r;
	}
	/* Room ops need the room joined on this connection: do it for them
	 * (join and leave name a room too, but are the join themselves). */
	roomv = json_string_value(json_object_get(req, "room"));
	opv = json_string_value(json_object_get(req, "op"));
	if (roomv && cli->token && cli->token[0] &&
	    !(opv && (strcmp(opv, "join") == 0 || strcmp(opv, "leave") == 0)) &&
	    (r = cli_enter_room(cli, roomv)) != CLI_OK) {
		json_decref(req);
		return r;
	}
	idv = json_object_get(req, "id");
	if (!idv) {
		tvc_new_id(cli->conn, "cli", id, sizeof(id));
		json_object_set_new(req, "id", json_string(id));
	} else {
		/* A non-string id gets a reply with "id":null, which matches. */
		snprintf(id, sizeof(id), "%s", json_is_string(idv) ? json_string_value(idv) : "");
	}
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!text) {
		fprintf(stderr, "tavla: out of memory\n");
		return CLI_ECONN;
	}
	r = tvc_call_raw(cli->conn, text, strlen(text), id, cli->timeout_ms, NULL, NULL,
	                 &reply, err, sizeof(err));
	free(text);
	if (r != WSC_MESSAGE)
		return cli_wait_failed(cli, r, "the reply", err);
	if (!tvc_reply_ok(&reply)) {
		if (!cli->json)
			tvc_msg_print(&reply, stdout);
		r = cli_reply_failed(cli, &reply);
	} else {
		tvc_msg_print(&reply, stdout);
		r = CLI_OK;
	}
	tvc_msg_clear(&reply);
	return r;
}
