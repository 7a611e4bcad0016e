/*
 * tavla.c: main() of the tavla command-line client: the option and command
 * tables, the usage text, environment defaults and the exit status.
 *
 * Responsible for: turning argv and the environment into a struct cli and
 * running one command. Not responsible for talking to the server
 * (session.c) or for what a command does (commands.c, tail.c, workshop.c,
 * board_show.c).
 *
 * Invariants:
 *  1. Every option has one row in `options` and every command (with its
 *     subcommand: "note add") one row in `commands`; an option given to a
 *     command its row does not list is a usage error, never silently
 *     ignored.
 *  2. Command-line values override the environment (TAVLA_URL, TAVLA_CA,
 *     TAVLA_TOKEN), which overrides the built-in defaults.
 */
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
"NAME\n"
"    tavla - command-line client of the tavla collaboration server\n"
"\n"
"SYNOPSIS\n"
"    tavla [GLOBAL OPTIONS] COMMAND [ARGUMENTS] [COMMAND OPTIONS]\n"
"\n"
"    tavla ping\n"
"    tavla login USER\n"
"    tavla join CODE NAME [--observer]\n"
"    tavla room create KIND TITLE\n"
"    tavla room list\n"
"    tavla chat ROOM TEXT [--id ID]\n"
"    tavla tail ROOM [--since N] [--count N] [--for SECONDS] [--presence]\n"
"    tavla history ROOM [--before N] [--limit N]\n"
"    tavla send JSON\n"
"\n"
"    Workshops (ROOM a room of kind workshop; changes take --id ID):\n"
"    tavla table create ROOM NAME\n"
"    tavla table assign ROOM [TABLE] [--identity ID]\n"
"    tavla board create ROOM TITLE --layout columns|matrix|timeline\n"
"                [--columns \"A,B,C\"] [--x-axis X --y-axis Y]\n"
"                [--anonymity named|moderators|anonymous] [--premoderation]\n"
"    tavla board update ROOM BOARD [--title T] [--anonymity A]\n"
"                [--premoderation on|off]\n"
"    tavla board show ROOM [BOARD]\n"
"    tavla note add ROOM BOARD TEXT [--column N] [--x X --y Y] [--colour C]\n"
"                [--table T] [--proxy-for NAME]\n"
"    tavla note edit ROOM NOTE [--text T] [--column N] [--x X --y Y] [--colour C]\n"
"    tavla note delete ROOM NOTE\n"
"    tavla note approve ROOM NOTE\n"
"    tavla phase ROOM setup|write|group|vote|discuss|closed\n"
"    tavla writing ROOM private|open|reveal\n"
"    tavla timer ROOM start SECONDS | pause | resume | stop\n"
"    tavla ready ROOM [--not]\n"
"    tavla focus ROOM BOARD\n"
"    tavla role ROOM IDENTITY moderator|participant|observer|removed\n"
"    tavla undo ROOM\n"
"    tavla status ROOM\n"
"\n"
"DESCRIPTION\n"
"    Talks to tavlad over TLS WebSocket (subprotocol tavla.v1), one command\n"
"    per run. Results go to stdout, diagnostics to stderr as \"tavla: ...\".\n"
"    Options may come before or after the command; \"--\" ends the options\n"
"    (so that a chat TEXT may start with \"-\").\n"
"\n"
"GLOBAL OPTIONS\n"
"    --url URL        server to talk to (default $TAVLA_URL, else\n"
"                     " CLI_DEFAULT_URL "); wss:// only, [IPv6] allowed\n"
"    --ca FILE        trust the CA certificate(s) in PEM FILE (default\n"
"                     $TAVLA_CA, else the system store). For a tavlad with\n"
"                     its self-signed certificate: --ca DATA_DIR/tls/cert.pem\n"
"    --insecure       do not verify the server's certificate (tests only)\n"
"    --token TOKEN    identity token from `login` or `join` (default\n"
"                     $TAVLA_TOKEN); commands that act as someone resume\n"
"                     with it first\n"
"    --json           print the whole reply as one JSON line on stdout\n"
"                     instead of the terse text shown below\n"
"    --timeout SEC    how long to wait for connecting and for each reply\n"
"                     (default 10; decimals allowed)\n"
"    --version        print the version and exit\n"
"    --help           print this text and exit\n"
"\n"
"COMMANDS\n"
"    ping             ask for the server's time; prints the server name,\n"
"                     its time and the round trip\n"
"    login USER       log in as a moderator account; the password comes from\n"
"                     $TAVLA_PASSWORD or the first line of stdin. Prints the\n"
"                     token only, so: export TAVLA_TOKEN=$(tavla login mod)\n"
"    join CODE NAME   join a room with its join code as a new participant\n"
"                     (--observer: read-only). Prints \"TOKEN ROOM_ID\"\n"
"    room create KIND TITLE\n"
"                     make a room (KIND: meeting, forum or workshop; needs a\n"
"                     moderator token). Prints \"ROOM_ID CODE\"\n"
"    room list        one line per room: \"ROOM_ID CODE KIND TITLE\"\n"
"    chat ROOM TEXT   join ROOM and post TEXT; prints the event's seq.\n"
"                     --id ID sets the request id: running the same command\n"
"                     again with the same ID posts nothing new and prints\n"
"                     the same seq (safe retries from scripts)\n"
"    tail ROOM        follow ROOM: every event after --since N (default 0)\n"
"                     as one JSON line exactly as received, long backlogs\n"
"                     paged through. Stops after --count N events, after\n"
"                     --for SECONDS, or when the server closes. --presence\n"
"                     also prints who comes and goes\n"
"    history ROOM     events before --before N (default: all) as JSON\n"
"                     lines, at most --limit N (default 100, at most 1000)\n"
"    send JSON        send one raw request object (an \"id\" is added when\n"
"                     missing; resumes first if a token is given, and then\n"
"                     joins the room when the request names a \"room\") and\n"
"                     print the reply as JSON\n"
"\n"
"WORKSHOP COMMANDS\n"
"    Each joins ROOM first (moderators: a room of their organisation;\n"
"    participants: one they joined with its code). Commands that create\n"
"    something print its id; the other changes print the event's seq. Every\n"
"    change takes --id ID, which makes a retry with the same ID safe.\n"
"    table create ROOM NAME\n"
"                     add a table (a group of participants); prints its id\n"
"    table assign ROOM [TABLE]\n"
"                     seat yourself, or with --identity ID (moderators) that\n"
"                     member, at TABLE, or without TABLE at the table with the\n"
"                     fewest people; prints the table id\n"
"    board create ROOM TITLE --layout L\n"
"                     add a board; prints its id. columns and timeline boards\n"
"                     need --columns \"A,B,C\" (names separated by commas),\n"
"                     matrix boards --x-axis X --y-axis Y. --anonymity: who\n"
"                     sees authors (named: everyone, the default; moderators;\n"
"                     anonymous: nobody). --premoderation: participants'\n"
"                     notes wait for a moderator's approval\n"
"    board update ROOM BOARD\n"
"                     change --title, --anonymity or --premoderation on|off\n"
"    board show ROOM [BOARD]\n"
"                     the boards (or one) as you see them: a line \"phase\n"
"                     PHASE private|open\", then per board \"board ID LAYOUT\n"
"                     TITLE\", its columns (matrix: axes) and under each the\n"
"                     notes by table, one line each: \"ID COLOUR TEXT\" (matrix:\n"
"                     \"ID X,Y COLOUR TEXT\"); a note still private to its\n"
"                     writer shows as \"ID - (hidden)\" under \"position\n"
"                     unknown\". --json: the same as one JSON object\n"
"    note add ROOM BOARD TEXT\n"
"                     post a note; prints its id. --column N (from 0) or\n"
"                     --x X --y Y (0 to 1, matrix boards), --colour yellow,\n"
"                     pink, green, blue, orange or purple. Moderators may\n"
"                     give --table T and --proxy-for NAME (written for\n"
"                     someone else)\n"
"    note edit ROOM NOTE\n"
"                     change --text, move (--column, --x/--y), --colour\n"
"    note delete ROOM NOTE, note approve ROOM NOTE\n"
"                     delete a note; approve a note waiting for approval\n"
"    phase ROOM PHASE set the phase: setup, write, group, vote, discuss or\n"
"                     closed (participants write only in write)\n"
"    writing ROOM private|open|reveal\n"
"                     private: a table sees only placeholders of each other's\n"
"                     new notes; open: new notes are seen at once; reveal:\n"
"                     show every private note to its table and end private\n"
"                     writing\n"
"    timer ROOM start SECONDS | pause | resume | stop\n"
"                     the room's countdown\n"
"    ready ROOM       (participants) say you are done; --not takes it back\n"
"    focus ROOM BOARD point everyone's view at BOARD\n"
"    role ROOM IDENTITY ROLE\n"
"                     make a member moderator, participant, observer, or\n"
"                     removed\n"
"    undo ROOM        undo the last moderator change that can be undone\n"
"    status ROOM      (moderators) a line \"workshop PHASE private|open TIMER\n"
"                     SECONDS_LEFT FOCUS\" (\"-\" for none), then one line per\n"
"                     table: \"table ID SEATED PRESENT DONE NOTES FLAG NAME\"\n"
"                     (FLAG: empty, stuck or -), then one per note waiting for\n"
"                     approval: \"pending ID BOARD TABLE COLOUR TEXT\"\n"
"\n"
"ENVIRONMENT\n"
"    TAVLA_URL, TAVLA_CA, TAVLA_TOKEN   defaults of --url, --ca, --token\n"
"    TAVLA_PASSWORD                     the password for `login`\n"
"\n"
"EXIT STATUS\n"
"    0  success (for tail: --count or --for reached)\n"
"    1  the server replied with an error; stderr has \"tavla: CODE: message\"\n"
"       (with --json the error reply is also printed on stdout)\n"
"    2  usage error (bad option, missing argument, bad URL, no token)\n"
"    3  connection, TLS or WebSocket handshake failure, including a\n"
"       certificate that could not be verified and a connect timeout\n"
"    4  no reply within --timeout\n"
"    5  the server closed the connection (its close code and reason are\n"
"       printed)\n"
"\n"
"EXAMPLES\n"
"    export TAVLA_CA=/var/lib/tavla/tls/cert.pem\n"
"    export TAVLA_TOKEN=$(TAVLA_PASSWORD=secret tavla login moderator)\n"
"    set -- $(tavla room create workshop \"Framtidsverkstad\")\n"
"    tavla chat \"$1\" \"Välkomna!\" --id hello-1\n"
"    tavla tail \"$1\" --count 10\n"
"\n"
"    # a workshop: two tables, one board, notes written privately\n"
"    tavla table create \"$1\" \"Bord 1\"; tavla table create \"$1\" \"Bord 2\"\n"
"    B=$(tavla board create \"$1\" Idéer --layout columns --columns \"Nu,Sen\")\n"
"    tavla phase \"$1\" write; tavla writing \"$1\" private\n"
"    # each participant: set -- $(tavla join CODE Namn); export TAVLA_TOKEN=$1\n"
"    #   tavla table assign ROOM; tavla note add ROOM $B \"En idé\"\n"
"    tavla writing \"$1\" reveal; tavla board show \"$1\"; tavla status \"$1\"\n";

enum opt_id {
	O_URL, O_CA, O_INSECURE, O_TOKEN, O_JSON, O_TIMEOUT, O_VERSION, O_HELP,
	O_OBSERVER, O_ID, O_SINCE, O_COUNT, O_FOR, O_PRESENCE, O_BEFORE, O_LIMIT,
	O_IDENTITY, O_LAYOUT, O_COLUMNS, O_X_AXIS, O_Y_AXIS, O_ANONYMITY, O_PREMODERATION,
	O_TITLE, O_TEXT, O_COLUMN, O_X, O_Y, O_COLOUR, O_TABLE, O_PROXY_FOR, O_NOT,
};

/* The commands that change a room, and so take --id. */
#define CHANGES "chat|table create|table assign|board create|board update|note add|" \
	"note edit|note delete|note approve|phase|writing|timer|ready|focus|role|undo"

/* has_arg: 0 a flag, 1 takes a value, OPT_ON_OFF takes "on" or "off" when
 * one follows (--premoderation alone means on). commands: NULL for a
 * global option, else the commands it belongs to, separated by "|". */
#define OPT_ON_OFF 2
static const struct option_row {
	const char *name;
	int has_arg;
	enum opt_id id;
	const char *commands;
} options[] = {
	{ "url", 1, O_URL, NULL },
	{ "ca", 1, O_CA, NULL },
	{ "insecure", 0, O_INSECURE, NULL },
	{ "token", 1, O_TOKEN, NULL },
	{ "json", 0, O_JSON, NULL },
	{ "timeout", 1, O_TIMEOUT, NULL },
	{ "version", 0, O_VERSION, NULL },
	{ "help", 0, O_HELP, NULL },
	{ "observer", 0, O_OBSERVER, "join" },
	{ "id", 1, O_ID, CHANGES },
	{ "since", 1, O_SINCE, "tail" },
	{ "count", 1, O_COUNT, "tail" },
	{ "for", 1, O_FOR, "tail" },
	{ "presence", 0, O_PRESENCE, "tail" },
	{ "before", 1, O_BEFORE, "history" },
	{ "limit", 1, O_LIMIT, "history" },
	{ "identity", 1, O_IDENTITY, "table assign" },
	{ "layout", 1, O_LAYOUT, "board create" },
	{ "columns", 1, O_COLUMNS, "board create" },
	{ "x-axis", 1, O_X_AXIS, "board create" },
	{ "y-axis", 1, O_Y_AXIS, "board create" },
	{ "anonymity", 1, O_ANONYMITY, "board create|board update" },
	{ "premoderation", OPT_ON_OFF, O_PREMODERATION, "board create|board update" },
	{ "title", 1, O_TITLE, "board update" },
	{ "text", 1, O_TEXT, "note edit" },
	{ "column", 1, O_COLUMN, "note add|note edit" },
	{ "x", 1, O_X, "note add|note edit" },
	{ "y", 1, O_Y, "note add|note edit" },
	{ "colour", 1, O_COLOUR, "note add|note edit" },
	{ "table", 1, O_TABLE, "note add" },
	{ "proxy-for", 1, O_PROXY_FOR, "note add" },
	{ "not", 0, O_NOT, "ready" },
};

/* name: one word, or two for a command with subcommands ("note add");
 * min_args, max_args: the positional arguments after the name. */
static const struct command_row {
	const char *name;
	int min_args, max_args;
	int (*run)(struct cli *cli);
	const char *synopsis;
} commands[] = {
	{ "ping", 0, 0, cmd_ping, "tavla ping" },
	{ "login", 1, 1, cmd_login, "tavla login USER" },
	{ "join", 2, 2, cmd_join, "tavla join CODE NAME [--observer]" },
	{ "room", 1, 3, cmd_room, "tavla room create KIND TITLE | tavla room list" },
	{ "chat", 2, 2, cmd_chat, "tavla chat ROOM TEXT [--id ID]" },
	{ "tail", 1, 1, cmd_tail,
	  "tavla tail ROOM [--since N] [--count N] [--for SECONDS] [--presence]" },
	{ "history", 1, 1, cmd_history, "tavla history ROOM [--before N] [--limit N]" },
	{ "send", 1, 1, cmd_send, "tavla send JSON" },
	{ "table create", 2, 2, cmd_table_create, "tavla table create ROOM NAME" },
	{ "table assign", 1, 2, cmd_table_assign,
	  "tavla table assign ROOM [TABLE] [--identity ID]" },
	{ "board create", 2, 2, cmd_board_create,
	  "tavla board create ROOM TITLE --layout columns|matrix|timeline [--columns \"A,B,C\"] "
	  "[--x-axis X --y-axis Y] [--anonymity named|moderators|anonymous] [--premoderation]" },
	{ "board update", 2, 2, cmd_board_update,
	  "tavla board update ROOM BOARD [--title T] [--anonymity A] [--premoderation on|off]" },
	{ "board show", 1, 2, cmd_board_show, "tavla board show ROOM [BOARD]" },
	{ "note add", 3, 3, cmd_note_add,
	  "tavla note add ROOM BOARD TEXT [--column N] [--x X --y Y] [--colour C] [--table T] "
	  "[--proxy-for NAME]" },
	{ "note edit", 2, 2, cmd_note_edit,
	  "tavla note edit ROOM NOTE [--text T] [--column N] [--x X --y Y] [--colour C]" },
	{ "note delete", 2, 2, cmd_note_delete, "tavla note delete ROOM NOTE" },
	{ "note approve", 2, 2, cmd_note_approve, "tavla note approve ROOM NOTE" },
	{ "phase", 2, 2, cmd_phase, "tavla phase ROOM setup|write|group|vote|discuss|closed" },
	{ "writing", 2, 2, cmd_writing, "tavla writing ROOM private|open|reveal" },
	{ "timer", 2, 3, cmd_timer, "tavla timer ROOM start SECONDS | pause | resume | stop" },
	{ "ready", 1, 1, cmd_ready, "tavla ready ROOM [--not]" },
	{ "focus", 2, 2, cmd_focus, "tavla focus ROOM BOARD" },
	{ "role", 3, 3, cmd_role, "tavla role ROOM IDENTITY moderator|participant|observer|removed" },
	{ "undo", 1, 1, cmd_undo, "tavla undo ROOM" },
	{ "status", 1, 1, cmd_status, "tavla status ROOM" },
	{ "result", 2, 2, cmd_result, "tavla result ROOM SCOPE" },
	{ "export", 2, 2, cmd_export, "tavla export ROOM markdown|csv|json|html" },
	{ "import", 1, 2, cmd_import, "tavla import FILE|- [TITLE]" },
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int usage_error(const char *fmt, const char *what)
{
	fprintf(stderr, "tavla: ");
	fprintf(stderr, fmt, what);
	fprintf(stderr, "\n(tavla --help shows the usage)\n");
	return CLI_EUSAGE;
}

/* Parses a whole decimal integer in [min, max]. Returns 0 or -1. */
static int parse_int(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_seconds(const char *s, double *out)
{
	char *end;
	double v;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 31536000.0)
		return -1;
	*out = v;
	return 0;
}

/* Parses a real number in [0, 1] (a position on a matrix board). */
static int parse_unit(const char *s, double *out)
{
	char *end;
	double v;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0.0 && v <= 1.0))
		return -1;
	*out = v;
	return 0;
}

/* Applies one option with its value (NULL for flags). Returns 0 or an exit
 * code (usage error, or CLI_OK for --help/--version handled by the caller
 * through *stop). */
static int apply_option(struct cli *cli, const struct option_row *o, const char *v, int *stop)
{
	double secs;
	switch (o->id) {
	case O_URL: cli->url = v; break;
	case O_CA: cli->ca = v; break;
	case O_INSECURE: cli->insecure = 1; break;
	case O_TOKEN: cli->token = v; break;
	case O_JSON: cli->json = 1; break;
	case O_TIMEOUT:
		if (parse_seconds(v, &secs) < 0 || secs > 86400)
			return usage_error("--timeout needs a number of seconds (0 < SEC <= 86400), not \"%s\"", v);
		cli->timeout_ms = (int)(secs * 1000.0 + 0.5);
		if (cli->timeout_ms < 1)
			cli->timeout_ms = 1;
		break;
	case O_VERSION:
		printf("tavla %s (protocol %s)\n", TAVLA_VERSION, TV_PROTOCOL_NAME);
		*stop = 1;
		break;
	case O_HELP:
		fputs(usage_text, stdout);
		*stop = 1;
		break;
	case O_OBSERVER: cli->observer = 1; break;
	case O_PRESENCE: cli->presence = 1; break;
	case O_ID:
		if (!v[0] || strlen(v) > TV_ID_MAX_BYTES)
			return usage_error("--id needs 1 to 64 characters, not \"%s\"", v);
		cli->id = v;
		break;
	case O_SINCE:
		if (parse_int(v, 0, 9007199254740991LL, &cli->since) < 0)
			return usage_error("--since needs a sequence number >= 0, not \"%s\"", v);
		cli->have_since = 1;
		break;
	case O_COUNT:
		if (parse_int(v, 1, 9007199254740991LL, &cli->count) < 0)
			return usage_error("--count needs a number >= 1, not \"%s\"", v);
		cli->have_count = 1;
		break;
	case O_FOR:
		if (parse_seconds(v, &cli->for_s) < 0)
			return usage_error("--for needs a number of seconds > 0, not \"%s\"", v);
		cli->have_for = 1;
		break;
	case O_BEFORE:
		if (parse_int(v, 1, 9007199254740991LL, &cli->before) < 0)
			return usage_error("--before needs a sequence number >= 1, not \"%s\"", v);
		cli->have_before = 1;
		break;
	case O_LIMIT:
		if (parse_int(v, 1, 1000, &cli->limit) < 0)
			return usage_error("--limit needs a number from 1 to 1000, not \"%s\"", v);
		cli->have_limit = 1;
		break;
	case O_IDENTITY: cli->identity = v; break;
	case O_LAYOUT: cli->layout = v; break;
	case O_COLUMNS: cli->columns = v; break;
	case O_X_AXIS: cli->x_axis = v; break;
	case O_Y_AXIS: cli->y_axis = v; break;
	case O_ANONYMITY: cli->anonymity = v; break;
	case O_PREMODERATION:
		if (v && strcmp(v, "on") != 0 && strcmp(v, "off") != 0)
			return usage_error("--premoderation takes on or off, not \"%s\"", v);
		cli->premoderation = !v || strcmp(v, "on") == 0;
		cli->have_premoderation = 1;
		break;
	case O_TITLE: cli->title = v; break;
	case O_TEXT: cli->text = v; break;
	case O_COLUMN:
		if (parse_int(v, 0, 1000000, &cli->column) < 0)
			return usage_error("--column needs a column number (0 is the first), not \"%s\"", v);
		cli->have_column = 1;
		break;
	case O_X:
		if (parse_unit(v, &cli->x) < 0)
			return usage_error("--x needs a number from 0 to 1, not \"%s\"", v);
		cli->have_x = 1;
		break;
	case O_Y:
		if (parse_unit(v, &cli->y) < 0)
			return usage_error("--y needs a number from 0 to 1, not \"%s\"", v);
		cli->have_y = 1;
		break;
	case O_COLOUR: cli->colour = v; break;
	case O_TABLE: cli->table = v; break;
	case O_PROXY_FOR: cli->proxy_for = v; break;
	case O_NOT: cli->ready_not = 1; break;
	}
	return 0;
}

/* 1 when name is one of the "|"-separated names in list. */
static int in_list(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; p; p = strchr(p, '|') ? strchr(p, '|') + 1 : NULL)
		if (strncmp(p, name, n) == 0 && (p[n] == '|' || p[n] == '\0'))
			return 1;
	return 0;
}

/* The row named by the first one or two positional arguments; *words says
 * how many it took. Returns 0, or a usage error (with the synopses of the
 * command's subcommands when only the subcommand is wrong). */
static int find_command(char **pos, int npos, const struct command_row **cmd, int *words)
{
	size_t i, n0 = strlen(pos[0]);
	int family = 0;

	for (i = 0; i < NELEM(commands); i++) {
		const char *name = commands[i].name, *sp = strchr(name, ' ');
		if (!sp && strcmp(name, pos[0]) == 0) {
			*cmd = &commands[i];
			*words = 1;
			return 0;
		}
		if (sp && (size_t)(sp - name) == n0 && strncmp(name, pos[0], n0) == 0) {
			family = 1;
			if (npos > 1 && strcmp(sp + 1, pos[1]) == 0) {
				*cmd = &commands[i];
				*words = 2;
				return 0;
			}
		}
	}
	if (!family)
		return usage_error("unknown command \"%s\"", pos[0]);
	fprintf(stderr, "tavla: usage:");
	for (i = 0; i < NELEM(commands); i++)
		if (strncmp(commands[i].name, pos[0], n0) == 0 && commands[i].name[n0] == ' ')
			fprintf(stderr, "\n    %s", commands[i].synopsis);
	fputc('\n', stderr);
	return CLI_EUSAGE;
}

/*
 * Parses argv into cli. Positional arguments are collected into argv itself
 * (cli->args points into it). Returns 0 to run a command, CLI_OK with *stop
 * set after --help/--version, or CLI_EUSAGE.
 */
static int parse_args(int argc, char **argv, struct cli *cli,
                      const struct command_row **cmd, int *stop)
{
	const struct option_row *given[NELEM(options)];
	size_t ngiven = 0, i;
	int npos = 0, a, r, only_pos = 0, words = 0;
	char **pos = argv + 1;

	for (a = 1; a < argc; a++) {
		const char *arg = argv[a], *eq, *val = NULL;
		const struct option_row *o = NULL;
		size_t nlen;

		if (only_pos || arg[0] != '-' || arg[1] == '\0') {
			pos[npos++] = argv[a];
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			only_pos = 1;
			continue;
		}
		if (arg[1] != '-')
			return usage_error("unknown option \"%s\" (options are spelt --name)", arg);
		arg += 2;
		eq = strchr(arg, '=');
		nlen = eq ? (size_t)(eq - arg) : strlen(arg);
		for (i = 0; i < NELEM(options); i++)
			if (strlen(options[i].name) == nlen && strncmp(options[i].name, arg, nlen) == 0)
				o = &options[i];
		if (!o)
			return usage_error("unknown option \"%s\"", argv[a]);
		if (o->has_arg == OPT_ON_OFF) {
			if (eq)
				val = eq + 1;
			else if (a + 1 < argc &&
			         (strcmp(argv[a + 1], "on") == 0 || strcmp(argv[a + 1], "off") == 0))
				val = argv[++a];
		} else if (o->has_arg) {
			if (eq)
				val = eq + 1;
			else if (a + 1 < argc)
				val = argv[++a];
			else
				return usage_error("option --%s needs a value", o->name);
		} else if (eq) {
			return usage_error("option --%s takes no value", o->name);
		}
		r = apply_option(cli, o, val, stop);
		if (r || *stop)
			return r;
		if (o->commands && ngiven < NELEM(given))
			given[ngiven++] = o;
	}

	if (npos == 0)
		return usage_error("%s", "no command given");
	if ((r = find_command(pos, npos, cmd, &words)) != 0)
		return r;
	for (i = 0; i < ngiven; i++)
		if (!in_list(given[i]->commands, (*cmd)->name)) {
			fprintf(stderr, "tavla: option --%s does not apply to %s\n", given[i]->name,
			        (*cmd)->name);
			return CLI_EUSAGE;
		}
	cli->args = pos + words;
	cli->nargs = npos - words;
	if (cli->nargs < (*cmd)->min_args || cli->nargs > (*cmd)->max_args) {
		fprintf(stderr, "tavla: usage: %s\n", (*cmd)->synopsis);
		return CLI_EUSAGE;
	}
	for (a = 0; a < cli->nargs; a++)
		if (!tv_utf8_valid(cli->args[a], strlen(cli->args[a])))
			return usage_error("argument \"%s\" is not valid UTF-8", cli->args[a]);
	return 0;
}

int main(int argc, char **argv)
{
	struct cli cli;
	const struct command_row *cmd = NULL;
	int stop = 0, r;

	/* A server that resets the connection while we write must not kill
	 * us with SIGPIPE: the write fails and is reported instead. */
	signal(SIGPIPE, SIG_IGN);

	memset(&cli, 0, sizeof(cli));
	cli.url = getenv("TAVLA_URL");
	if (!cli.url || !cli.url[0])
		cli.url = CLI_DEFAULT_URL;
	cli.ca = getenv("TAVLA_CA");
	if (cli.ca && !cli.ca[0])
		cli.ca = NULL;
	cli.token = getenv("TAVLA_TOKEN");
	cli.timeout_ms = 10000;

	r = parse_args(argc, argv, &cli, &cmd, &stop);
	if (stop)
		return fflush(stdout) == 0 ? CLI_OK : CLI_EUSAGE;
	if (r)
		return r;
	r = cmd->run(&cli);
	/* Close politely; a closed or broken connection is just freed. */
	tvc_free(cli.conn, 1000, 1000);
	if (fflush(stdout) != 0 && r == CLI_OK)
		r = CLI_OK; /* stdout went away (a closed pipe): nothing to report */
	return r;
}
