/*
 * tavla.c: main() of the tavla command-line client: the option and command
 * tables, the usage text, environment defaults and the exit status.
 *
 * Responsible for: turning argv and the environment into a struct cli and
 * running one command. Not responsible for talking to the server
 * (session.c) or for what a command does (commands.c, tail.c).
 *
 * Invariants:
 *  1. Every option has one row in `options` and every command one row in
 *     `commands`; an option given to a command whose row does not list it is
 *     a usage error, never silently ignored.
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
"                     missing; resumes first if a token is given) and print\n"
"                     the reply as JSON\n"
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
"    tavla tail \"$1\" --count 10\n";

enum opt_id {
	O_URL, O_CA, O_INSECURE, O_TOKEN, O_JSON, O_TIMEOUT, O_VERSION, O_HELP,
	O_OBSERVER, O_ID, O_SINCE, O_COUNT, O_FOR, O_PRESENCE, O_BEFORE, O_LIMIT,
};

/* has_arg: the option takes a value. command: NULL for a global option,
 * else the one command it belongs to. */
static const struct option_row {
	const char *name;
	int has_arg;
	enum opt_id id;
	const char *command;
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
	{ "id", 1, O_ID, "chat" },
	{ "since", 1, O_SINCE, "tail" },
	{ "count", 1, O_COUNT, "tail" },
	{ "for", 1, O_FOR, "tail" },
	{ "presence", 0, O_PRESENCE, "tail" },
	{ "before", 1, O_BEFORE, "history" },
	{ "limit", 1, O_LIMIT, "history" },
};

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
	}
	return 0;
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
	int npos = 0, a, r, only_pos = 0;
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
		if (o->has_arg) {
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
		if (o->command && ngiven < NELEM(given))
			given[ngiven++] = o;
	}

	if (npos == 0)
		return usage_error("%s", "no command given");
	*cmd = NULL;
	for (i = 0; i < NELEM(commands); i++)
		if (strcmp(commands[i].name, pos[0]) == 0)
			*cmd = &commands[i];
	if (!*cmd)
		return usage_error("unknown command \"%s\"", pos[0]);
	for (i = 0; i < ngiven; i++)
		if (strcmp(given[i]->command, (*cmd)->name) != 0) {
			fprintf(stderr, "tavla: option --%s does not apply to %s\n", given[i]->name,
			        (*cmd)->name);
			return CLI_EUSAGE;
		}
	cli->args = pos + 1;
	cli->nargs = npos - 1;
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
