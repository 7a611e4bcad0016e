/*
 * workshop.c: the commands a moderator and participants use to run a post-it
 * workshop (tables, boards, notes, phases, private writing, timer,
 * readiness, focus, roles, undo, status).
 *
 * Responsible for: turning each command line into one workshop request in
 * a room joined on the same connection, and printing its result: the new
 * id for commands that create something, the event's seq for the other
 * changes, lines for `status`, the whole reply with --json. Not responsible
 * for the rules (the server judges every request; this file checks only
 * what it must to build one) or for drawing a board (board_show.c).
 *
 * Invariants:
 *  1. Usage errors are found before connecting: a bad command line never
 *     reaches the server.
 *  2. Every request that changes the room carries --id when one is given,
 *     so running the same command again with the same --id changes
 *     nothing and prints the same result.
 *  3. Words on the command line map to fields one to one (writing
 *     private|open -> writing.set private true|false); values the server
 *     knows how to judge (phases, roles, colours) are passed through
 *     unchanged, so its message names the accepted ones.
 */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int usage(const char *fmt, ...)
{
	va_list ap;
	fputs("tavla: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	return CLI_EUSAGE;
}

static const char *str_or(json_t *obj, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s && s[0] ? s : dflt;
}

static long long int_of(json_t *obj, const char *key)
{
	return (long long)json_integer_value(json_object_get(obj, key));
}

/* Connects, resumes (naming cmd when there is no token) and joins the room
 * in the first argument. Returns CLI_OK or an exit code. */
static int enter(struct cli *cli, const char *cmd)
{
	int r;
	if ((r = cli_connect(cli)) != CLI_OK || (r = cli_resume(cli, cmd)) != CLI_OK)
		return r;
	return cli_enter_room(cli, cli->args[0]);
}

/*
 * The shape of every changing command: enter the room, send op with args
 * (taken over; NULL means they could not be built) under --id, print
 * result[key] (a new id) or, when key is NULL, the event's seq. Returns an
 * exit code.
 */
static int change(struct cli *cli, const char *cmd, enum tv_op op, json_t *args,
                  const char *key)
{
	struct tvc_msg reply;
	json_t *res;
	int r;

	if (!args) {
		fprintf(stderr, "tavla: out of memory\n");
		return CLI_ECONN;
	}
	if ((r = enter(cli, cmd)) != CLI_OK) {
		json_decref(args);
		return r;
	}
	r = cli_call(cli, op, cli->id, args, NULL, NULL, &reply);
	if (r != CLI_OK)
		return r;
	if (!cli_print_json(cli, &reply)) {
		res = tvc_reply_result(&reply);
		if (key)
			printf("%s\n", str_or(res, key, ""));
		else
			printf("%lld\n", int_of(res, "seq"));
	}
	tvc_msg_clear(&reply);
	return CLI_OK;
}

/* {"room": ROOM, name: value} with value the second argument. */
static json_t *room_and(struct cli *cli, const char *name, const char *value)
{
	return json_pack("{s:s,s:s}", "room", cli->args[0], name, value);
}

/* ---- tables ----------------------------------------------------------------- */

int cmd_table_create(struct cli *cli)
{
	return change(cli, "table create", TV_OP_TABLE_CREATE, room_and(cli, "name", cli->args[1]),
	              "table");
}

int cmd_table_assign(struct cli *cli)
{
	json_t *args = json_pack("{s:s}", "room", cli->args[0]);
	if (args && cli->nargs > 1)
		json_object_set_new(args, "table", json_string(cli->args[1]));
	if (args && cli->identity)
		json_object_set_new(args, "identity", json_string(cli->identity));
	return change(cli, "table assign", TV_OP_TABLE_ASSIGN, args, "table");
}

/* ---- boards ----------------------------------------------------------------- */

/* "A, B,C" -> ["A","B","C"]: items trimmed of spaces, none empty. Returns
 * a new array, or NULL after printing a usage error. */
static json_t *split_columns(const char *list)
{
	json_t *cols = json_array();
	const char *p = list;

	while (cols) {
		const char *end = strchr(p, ','), *a = p, *b;
		if (!end)
			end = p + strlen(p);
		b = end;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (a == b) {
			json_decref(cols);
			usage("--columns needs names separated by commas, none empty: \"%s\"", list);
			return NULL;
		}
		json_array_append_new(cols, json_stringn(a, (size_t)(b - a)));
		if (!*end)
			break;
		p = end + 1;
	}
	return cols;
}

int cmd_board_create(struct cli *cli)
{
	json_t *args, *cols = NULL;

	if (!cli->layout)
		return usage("board create needs --layout columns|matrix|timeline");
	if (strcmp(cli->layout, "matrix") == 0) {
		if (!cli->x_axis || !cli->y_axis)
			return usage("a matrix board needs --x-axis X and --y-axis Y");
		if (cli->columns)
			return usage("a matrix board has axes, not --columns");
	} else {
		if (cli->x_axis || cli->y_axis)
			return usage("--x-axis and --y-axis are for --layout matrix");
		if (!cli->columns)
			return usage("a %s board needs --columns \"A,B,C\"", cli->layout);
		if (!(cols = split_columns(cli->columns)))
			return CLI_EUSAGE;
	}
	args = json_pack("{s:s,s:s,s:s}", "room", cli->args[0], "title", cli->args[1], "layout",
	                 cli->layout);
	if (args && cols)
		json_object_set(args, "columns", cols);
	json_decref(cols);
	if (args && cli->x_axis)
		json_object_set_new(args, "x_axis", json_string(cli->x_axis));
	if (args && cli->y_axis)
		json_object_set_new(args, "y_axis", json_string(cli->y_axis));
	if (args && cli->anonymity)
		json_object_set_new(args, "anonymity", json_string(cli->anonymity));
	if (args && cli->have_premoderation)
		json_object_set_new(args, "premoderation", json_boolean(cli->premoderation));
	return change(cli, "board create", TV_OP_BOARD_CREATE, args, "board");
}

int cmd_board_update(struct cli *cli)
{
	json_t *args;

	if (!cli->title && !cli->anonymity && !cli->have_premoderation)
		return usage("board update needs --title, --anonymity or --premoderation on|off");
	args = room_and(cli, "board", cli->args[1]);
	if (args && cli->title)
		json_object_set_new(args, "title", json_string(cli->title));
	if (args && cli->anonymity)
		json_object_set_new(args, "anonymity", json_string(cli->anonymity));
	if (args && cli->have_premoderation)
		json_object_set_new(args, "premoderation", json_boolean(cli->premoderation));
	return change(cli, "board update", TV_OP_BOARD_UPDATE, args, NULL);
}

/* ---- notes ------------------------------------------------------------------ */

/* Adds --column, --x/--y and --colour to args. Returns 0 or a usage error. */
static int note_place(struct cli *cli, json_t *args)
{
	if (cli->have_x != cli->have_y)
		return usage("--x and --y go together");
	if (cli->have_column && cli->have_x)
		return usage("--column is for column boards, --x/--y for matrix boards: not both");
	if (cli->have_column)
		json_object_set_new(args, "column", json_integer(cli->column));
	if (cli->have_x) {
		json_object_set_new(args, "x", json_real(cli->x));
		json_object_set_new(args, "y", json_real(cli->y));
	}
	if (cli->colour)
		json_object_set_new(args, "colour", json_string(cli->colour));
	return 0;
}

int cmd_note_add(struct cli *cli)
{
	json_t *args = json_pack("{s:s,s:s,s:s}", "room", cli->args[0], "board", cli->args[1],
	                         "text", cli->args[2]);
	int r;

	if (args && (r = note_place(cli, args)) != 0) {
		json_decref(args);
		return r;
	}
	if (args && cli->table)
		json_object_set_new(args, "table", json_string(cli->table));
	if (args && cli->proxy_for)
		json_object_set_new(args, "proxy_for", json_string(cli->proxy_for));
	return change(cli, "note add", TV_OP_NOTE_ADD, args, "note");
}

int cmd_note_edit(struct cli *cli)
{
	json_t *args;
	int r;

	if (!cli->text && !cli->have_column && !cli->have_x && !cli->have_y && !cli->colour)
		return usage("note edit needs --text, --column, --x/--y or --colour");
	args = room_and(cli, "note", cli->args[1]);
	if (args && (r = note_place(cli, args)) != 0) {
		json_decref(args);
		return r;
	}
	if (args && cli->text)
		json_object_set_new(args, "text", json_string(cli->text));
	return change(cli, "note edit", TV_OP_NOTE_EDIT, args, NULL);
}

int cmd_note_delete(struct cli *cli)
{
	return change(cli, "note delete", TV_OP_NOTE_DELETE, room_and(cli, "note", cli->args[1]),
	              NULL);
}

int cmd_note_approve(struct cli *cli)
{
	return change(cli, "note approve", TV_OP_NOTE_APPROVE, room_and(cli, "note", cli->args[1]),
	              NULL);
}

/* ---- the room's flow ---------------------------------------------------------- */

int cmd_phase(struct cli *cli)
{
	return change(cli, "phase", TV_OP_PHASE_SET, room_and(cli, "phase", cli->args[1]), NULL);
}

int cmd_writing(struct cli *cli)
{
	const char *how = cli->args[1];

	if (strcmp(how, "reveal") == 0)
		return change(cli, "writing", TV_OP_WRITING_REVEAL,
		              json_pack("{s:s}", "room", cli->args[0]), NULL);
	if (strcmp(how, "private") != 0 && strcmp(how, "open") != 0)
		return usage("usage: tavla writing ROOM private|open|reveal");
	return change(cli, "writing", TV_OP_WRITING_SET,
	              json_pack("{s:s,s:b}", "room", cli->args[0], "private",
	                        strcmp(how, "private") == 0),
	              NULL);
}

int cmd_timer(struct cli *cli)
{
	const char *action = cli->args[1];
	char *end;
	long secs;

	if (strcmp(action, "start") == 0) {
		if (cli->nargs != 3)
			return usage("usage: tavla timer ROOM start SECONDS");
		secs = strtol(cli->args[2], &end, 10);
		if (end == cli->args[2] || *end || secs < 1 || secs > 86400)
			return usage("timer start needs whole seconds from 1 to 86400, not \"%s\"",
			             cli->args[2]);
		return change(cli, "timer", TV_OP_TIMER_SET,
		              json_pack("{s:s,s:s,s:i}", "room", cli->args[0], "action", "start",
		                        "seconds", (int)secs),
		              NULL);
	}
	if ((strcmp(action, "pause") != 0 && strcmp(action, "resume") != 0 &&
	     strcmp(action, "stop") != 0) || cli->nargs != 2)
		return usage("usage: tavla timer ROOM start SECONDS | pause | resume | stop");
	return change(cli, "timer", TV_OP_TIMER_SET, room_and(cli, "action", action), NULL);
}

int cmd_ready(struct cli *cli)
{
	return change(cli, "ready", TV_OP_READY_SET,
	              json_pack("{s:s,s:b}", "room", cli->args[0], "done", !cli->ready_not), NULL);
}

int cmd_focus(struct cli *cli)
{
	return change(cli, "focus", TV_OP_VIEW_FOCUS, room_and(cli, "board", cli->args[1]), NULL);
}

int cmd_role(struct cli *cli)
{
	return change(cli, "role", TV_OP_MEMBER_ROLE,
	              json_pack("{s:s,s:s,s:s}", "room", cli->args[0], "identity", cli->args[1],
	                        "role", cli->args[2]),
	              NULL);
}

int cmd_undo(struct cli *cli)
{
	return change(cli, "undo", TV_OP_UNDO, json_pack("{s:s}", "room", cli->args[0]), NULL);
}

/* ---- status ------------------------------------------------------------------- */

/* Prints text on one line: control characters (a note's line breaks)
 * become spaces so that every item stays one line. */
static void put_line_text(const char *text)
{
	for (const char *p = text; *p; p++)
		putchar((unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p);
}

/* Seconds left on the timer, rounded up: for a running timer from its end
 * (server time) and this machine's clock, so only as right as the two
 * clocks agree. */
static long long timer_left_s(json_t *timer)
{
	const char *state = str_or(timer, "state", "stopped");
	long long ms;
	if (strcmp(state, "running") == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ms = int_of(timer, "ends_at") - ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	} else if (strcmp(state, "paused") == 0) {
		ms = int_of(timer, "remaining_ms");
	} else {
		return -1;
	}
	return ms <= 0 ? 0 : (ms + 999) / 1000;
}

int cmd_status(struct cli *cli)
{
	struct tvc_msg reply;
	json_t *res, *timer, *t, *n;
	long long left;
	size_t i;
	int r;

	if ((r = enter(cli, "status")) != CLI_OK)
		return r;
	r = cli_call(cli, TV_OP_WORKSHOP_STATUS, NULL, json_pack("{s:s}", "room", cli->args[0]),
	             NULL, NULL, &reply);
	if (r != CLI_OK)
		return r;
	if (cli_print_json(cli, &reply)) {
		tvc_msg_clear(&reply);
		return CLI_OK;
	}
	res = tvc_reply_result(&reply);
	timer = json_object_get(res, "timer");
	left = timer_left_s(timer);
	printf("workshop %s %s %s ", str_or(res, "phase", "-"),
	       json_is_true(json_object_get(res, "private")) ? "private" : "open",
	       str_or(timer, "state", "stopped"));
	if (left < 0)
		printf("-");
	else
		printf("%lld", left);
	printf(" %s\n", str_or(res, "focus", "-"));
	json_array_foreach(json_object_get(res, "tables"), i, t) {
		const char *flag = json_is_true(json_object_get(t, "stuck")) ? "stuck"
		                 : json_is_true(json_object_get(t, "empty")) ? "empty" : "-";
		printf("table %s %lld %lld %lld %lld %s ", str_or(t, "id", "-"), int_of(t, "seated"),
		       int_of(t, "present"), int_of(t, "done"), int_of(t, "notes"), flag);
		put_line_text(str_or(t, "name", ""));
		putchar('\n');
	}
	json_array_foreach(json_object_get(res, "pending"), i, n) {
		printf("pending %s %s %s %s ", str_or(n, "id", "-"), str_or(n, "board", "-"),
		       str_or(n, "table", "-"), str_or(n, "colour", "-"));
		put_line_text(str_or(n, "text", ""));
		putchar('\n');
	}
	tvc_msg_clear(&reply);
	return CLI_OK;
}
