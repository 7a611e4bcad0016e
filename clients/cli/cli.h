/*
 * cli.h: what the parts of the tavla command-line client share.
 *
 * Responsible for: the parsed command line (struct cli), the exit codes,
 * and the session helpers every command uses (session.c: connect, resume,
 * one request with its failure mapped to an exit code). Not responsible for:
 * option parsing and usage text (tavla.c) or any single command (commands.c,
 * tail.c).
 *
 * Invariants:
 *  1. Every function that can end the program returns an enum cli_exit and
 *     has already printed its diagnostic to stderr ("tavla: ...").
 *  2. stdout carries only results (tokens, ids, JSON lines), so scripts can
 *     capture it; everything for people goes to stderr.
 */
#ifndef TV_CLI_H
#define TV_CLI_H

#include "tvcall.h"

enum cli_exit {
	CLI_OK = 0,       /* done */
	CLI_EREPLY = 1,   /* the server replied with an error */
	CLI_EUSAGE = 2,   /* bad command line */
	CLI_ECONN = 3,    /* connection, TLS or handshake failure */
	CLI_ETIMEOUT = 4, /* no reply within --timeout */
	CLI_ECLOSED = 5,  /* the server closed the connection */
};

#define CLI_DEFAULT_URL "wss://127.0.0.1:8443/ws"

struct cli {
	/* global options */
	const char *url;
	const char *ca;
	const char *token;
	int insecure;
	int json;
	int timeout_ms;

	/* command options; the have_ flags tell whether one was given */
	int observer;
	int presence;
	const char *id;
	long long since, count, before, limit;
	int have_since, have_count, have_before, have_limit;
	double for_s;
	int have_for;

	/* positional arguments after the command name */
	int nargs;
	char **args;

	struct tvc *conn; /* set by cli_connect, freed by main */
};

/* Connects to cli->url. Returns CLI_OK with cli->conn set, or an exit code. */
int cli_connect(struct cli *cli);

/* Sends resume with cli->token. Without a token: usage error naming cmd. */
int cli_resume(struct cli *cli, const char *cmd);

/*
 * One request: op with args (taken over: the reference is released here,
 * may be NULL), a fresh id unless id is given, wait for the reply within
 * --timeout, other messages to other (may be NULL). Returns CLI_OK with
 * *reply filled (caller clears it) when the server said ok; otherwise
 * prints the diagnostic (and with --json the error reply on stdout) and
 * returns the exit code, *reply zeroed.
 */
int cli_call(struct cli *cli, enum tv_op op, const char *id, json_t *args,
             tvc_other_fn other, void *ud, struct tvc_msg *reply);

/* Maps a tvc/wsc result other than WSC_MESSAGE to an exit code, printing
 * why; what names the thing that was being waited for. */
int cli_wait_failed(struct cli *cli, int result, const char *what, const char *err);

/* Handles a reply with "ok":false: prints "tavla: CODE: message" (and the
 * reply on stdout with --json). Returns CLI_EREPLY. */
int cli_reply_failed(struct cli *cli, const struct tvc_msg *reply);

/* Joins room on this connection (needed before chat.send and history),
 * paging over any backlog, which is dropped. Returns CLI_OK or an exit code. */
int cli_enter_room(struct cli *cli, const char *room);

/* The commands; each returns an exit code. */
int cmd_ping(struct cli *cli);
int cmd_login(struct cli *cli);
int cmd_join(struct cli *cli);
int cmd_room(struct cli *cli);
int cmd_chat(struct cli *cli);
int cmd_send(struct cli *cli);
int cmd_history(struct cli *cli);
int cmd_tail(struct cli *cli);

#endif
