/*
 * cli.h: what the parts of the tavla command-line client share.
 *
 * Responsible for: the parsed command line (struct cli), the exit codes,
 * and the session helpers every command uses (session.c: connect, resume,
 * one request with its failure mapped to an exit code). Not responsible for:
 * option parsing and usage text (tavla.c) or any single command (commands.c,
 * tail.c, workshop.c, board_show.c).
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

	/* workshop command options (workshop.c); NULL or have_ 0: not given */
	const char *identity, *layout, *columns, *x_axis, *y_axis, *anonymity;
	const char *title, *text, *colour, *table, *proxy_for;
	int premoderation, have_premoderation;
	long long column;
	double x, y;
	int have_column, have_x, have_y;
	int ready_not;

	/* positional arguments after the command name (and subcommand) */
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

/* Joins room on this connection (every op that names a room needs it),
 * at the room's head as room.list reports it, so no backlog is sent; when
 * the list does not name the room, from 0, paging over the backlog, which
 * is dropped. Returns CLI_OK or an exit code. */
int cli_enter_room(struct cli *cli, const char *room);

/* With --json prints reply as one line on stdout and returns 1; else
 * prints nothing and returns 0 (the caller prints the plain form). */
int cli_print_json(struct cli *cli, const struct tvc_msg *reply);

/* The commands; each returns an exit code. */
int cmd_ping(struct cli *cli);
int cmd_login(struct cli *cli);
int cmd_join(struct cli *cli);
int cmd_room(struct cli *cli);
int cmd_chat(struct cli *cli);
int cmd_send(struct cli *cli);
int cmd_history(struct cli *cli);
int cmd_tail(struct cli *cli);

/* Synthesis (synthesis.c). */
int cmd_result(struct cli *cli);
int cmd_export(struct cli *cli);
int cmd_import(struct cli *cli);

/* Post-it workshops (workshop.c, board_show.c). */
int cmd_table_create(struct cli *cli);
int cmd_table_assign(struct cli *cli);
int cmd_board_create(struct cli *cli);
int cmd_board_update(struct cli *cli);
int cmd_board_show(struct cli *cli);
int cmd_note_add(struct cli *cli);
int cmd_note_edit(struct cli *cli);
int cmd_note_delete(struct cli *cli);
int cmd_note_approve(struct cli *cli);
int cmd_phase(struct cli *cli);
int cmd_writing(struct cli *cli);
int cmd_timer(struct cli *cli);
int cmd_ready(struct cli *cli);
int cmd_focus(struct cli *cli);
int cmd_role(struct cli *cli);
int cmd_undo(struct cli *cli);
int cmd_status(struct cli *cli);

#endif
