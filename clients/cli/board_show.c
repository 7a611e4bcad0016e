/*
 * board_show.c: `tavla board show ROOM [BOARD]`, a workshop's boards as the
 * calling identity sees them, drawn as text.
 *
 * Responsible for: reading the room's whole log as this identity receives
 * it (join since=0, paging), applying the board, table and note events to a
 * small model, and printing it: per board, per column (matrix boards: with
 * each note's x,y), the notes grouped by table. Not responsible for deciding
 * what this identity may see: the server already sent each event in the
 * form meant for it (a placeholder without text or position for a note
 * still private, nothing at all for another table's notes). It lives apart
 * from workshop.c because it is the only command that keeps state.
 *
 * The read goes JOIN(since) ──complete:false──> JOIN(through) ...
 * ──complete:true──> PING ──its reply──> PRINT: the events of a page are
 * sent right after its join reply, so they all precede the reply to the
 * next request, whatever of the page this identity was not sent.
 *
 * Invariants:
 *  1. The model is what the events say, applied in the order received;
 *     a later event changes only the fields it carries, so a placeholder
 *     never erases text this identity saw earlier.
 *  2. Output is ordered by id (b2 before b10), so equal logs print equal
 *     text; a note's line breaks are printed as spaces.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct model {
	const char *room;
	json_t *boards, *tables, *notes; /* id -> object, each owned */
	char phase[16];
	int private_writing;
	int workshop; /* the join said kind "workshop" */
};

static const char *str_or(json_t *obj, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : dflt;
}

/* Ids such as "n12": shorter first, then by bytes, so n2 < n10. */
static int id_cmp(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	size_t lx = strlen(x), ly = strlen(y);
	if (lx != ly)
		return lx < ly ? -1 : 1;
	return strcmp(x, y);
}

/* The keys of obj in id order: a new array of borrowed strings (caller
 * frees the array), NULL when obj is empty or on OOM. */
static const char **sorted_keys(json_t *obj, size_t *n)
{
	const char **keys = NULL, *k;
	json_t *v;
	size_t i = 0;

	*n = json_object_size(obj);
	if (*n == 0 || !(keys = malloc(*n * sizeof(*keys)))) {
		*n = 0;
		return NULL;
	}
	json_object_foreach(obj, k, v)
		keys[i++] = k;
	qsort(keys, *n, sizeof(*keys), id_cmp);
	return keys;
}

/* ---- applying events ------------------------------------------------------------ */

/* Copies src's fields into dst, except those that describe the change
 * rather than the thing (what it replaced, who did it, what it undoes). */
static void merge(json_t *dst, json_t *src)
{
	const char *k;
	json_t *v;
	json_object_foreach(src, k, v)
		if (strcmp(k, "prev") != 0 && strcmp(k, "by_moderator") != 0 &&
		    strcmp(k, "undo_of") != 0)
			json_object_set(dst, k, v);
}

/* Merges d into the object with d's id in set (creating it; replacing it
 * when fresh). Returns the object, borrowed, or NULL. */
static json_t *put(json_t *set, json_t *d, int fresh)
{
	const char *id = json_string_value(json_object_get(d, "id"));
	json_t *o;
	if (!id)
		return NULL;
	o = json_object_get(set, id);
	if (!o || fresh) {
		o = json_object();
		if (!o || json_object_set_new(set, id, o) != 0)
			return NULL;
	}
	merge(o, d);
	return o;
}

/* The tvc_other_fn of every request: applies one event of our room. */
static void apply(const struct tvc_msg *m, void *ud)
{
	struct model *v = ud;
	const char *kind, *room;
	json_t *d, *n;
	size_t i;

	if (m->type != TV_MSG_EVENT)
		return;
	room = json_string_value(json_object_get(m->root, "room"));
	kind = json_string_value(json_object_get(m->root, "kind"));
	d = json_object_get(m->root, "data");
	if (!room || !kind || strcmp(room, v->room) != 0 || !json_is_object(d))
		return;
	if (strcmp(kind, "board.created") == 0) {
		put(v->boards, d, 1);
	} else if (strcmp(kind, "board.updated") == 0) {
		if (json_object_get(v->boards, str_or(d, "id", "")))
			put(v->boards, d, 0);
	} else if (strcmp(kind, "table.created") == 0) {
		put(v->tables, d, 1);
	} else if (strcmp(kind, "note.created") == 0) {
		put(v->notes, d, 1);
	} else if (strcmp(kind, "note.updated") == 0 || strcmp(kind, "note.approved") == 0) {
		put(v->notes, d, 0);
	} else if (strcmp(kind, "note.restored") == 0) {
		if ((n = put(v->notes, d, 0)))
			json_object_del(n, "deleted");
	} else if (strcmp(kind, "note.deleted") == 0) {
		if ((n = json_object_get(v->notes, str_or(d, "id", ""))))
			json_object_set_new(n, "deleted", json_true());
	} else if (strcmp(kind, "writing.revealed") == 0) {
		json_array_foreach(json_object_get(d, "notes"), i, n)
			put(v->notes, n, 0);
		v->private_writing = 0;
	} else if (strcmp(kind, "writing.changed") == 0) {
		v->private_writing = json_is_true(json_object_get(d, "private"));
	} else if (strcmp(kind, "phase.changed") == 0) {
		snprintf(v->phase, sizeof(v->phase), "%s", str_or(d, "phase", "setup"));
	}
}

/* ---- reading the log ---------------------------------------------------------------- */

/* Joins from 0 through every page, then waits for the last page's events
 * behind a ping. Returns CLI_OK or an exit code. */
static int read_log(struct cli *cli, struct model *v)
{
	struct tvc_msg reply;
	long long since = 0;
	json_t *res;
	int r;

	for (;;) {
		r = cli_call(cli, TV_OP_JOIN, NULL,
		             json_pack("{s:s,s:I}", "room", v->room, "since", (json_int_t)since),
		             apply, v, &reply);
		if (r != CLI_OK)
			return r;
		res = tvc_reply_result(&reply);
		v->workshop = strcmp(str_or(json_object_get(res, "room"), "kind", ""), "workshop") == 0;
		if (!json_is_false(json_object_get(res, "complete"))) {
			tvc_msg_clear(&reply);
			break;
		}
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
	r = cli_call(cli, TV_OP_PING, NULL, NULL, apply, v, &reply);
	if (r == CLI_OK)
		tvc_msg_clear(&reply);
	return r;
}

/* ---- printing ------------------------------------------------------------------------ */

static void put_text(const char *text)
{
	for (const char *p = text; *p; p++)
		putchar((unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p);
}

/* Which notes of a board one group shows. */
struct pick {
	const char *board;
	int ncolumns;
	int column; /* >= 0: that column; PICK_ALL: every note; PICK_UNKNOWN:
	             * notes whose column this identity was not told */
};
#define PICK_ALL (-2)
#define PICK_UNKNOWN (-1)

static int picked(json_t *n, const struct pick *p)
{
	json_t *c;
	int known;

	if (json_is_true(json_object_get(n, "deleted")) ||
	    strcmp(str_or(n, "board", ""), p->board) != 0)
		return 0;
	if (p->column == PICK_ALL)
		return 1;
	c = json_object_get(n, "column");
	known = json_is_integer(c) && json_integer_value(c) >= 0 &&
	        json_integer_value(c) < p->ncolumns;
	if (p->column == PICK_UNKNOWN)
		return !known;
	return known && json_integer_value(c) == p->column;
}

static void print_note(const char *id, json_t *n, int matrix)
{
	const char *text = json_string_value(json_object_get(n, "text"));
	json_t *x = json_object_get(n, "x"), *y = json_object_get(n, "y");

	printf("      %s ", id);
	if (matrix) {
		if (json_is_number(x) && json_is_number(y))
			printf("%.2f,%.2f ", json_number_value(x), json_number_value(y));
		else
			printf("- ");
	}
	if (!text) {
		printf("- (hidden)\n");
		return;
	}
	printf("%s ", str_or(n, "colour", "-"));
	if (json_is_true(json_object_get(n, "pending")))
		printf("[pending] ");
	put_text(text);
	putchar('\n');
}

/* Prints the notes p picks under heading (when there is one at least),
 * grouped by table in id order, notes without a table last. */
static void print_group(struct model *v, const char **ids, size_t nids, const struct pick *p,
                        const char *heading)
{
	const char **tables = malloc((nids ? nids : 1) * sizeof(*tables));
	size_t ntables = 0, i, k;
	int any_loose = 0;

	if (!tables)
		return;
	for (i = 0; i < nids; i++) {
		json_t *n = json_object_get(v->notes, ids[i]);
		const char *t = str_or(n, "table", "");
		if (!picked(n, p))
			continue;
		if (!t[0]) {
			any_loose = 1;
			continue;
		}
		for (k = 0; k < ntables && strcmp(tables[k], t) != 0; k++)
			;
		if (k == ntables)
			tables[ntables++] = t;
	}
	qsort(tables, ntables, sizeof(*tables), id_cmp);
	if (heading && (ntables || any_loose))
		printf("  %s\n", heading);
	for (k = 0; k <= ntables; k++) {
		const char *t = k < ntables ? tables[k] : "";
		if (k == ntables && !any_loose)
			break;
		if (t[0]) {
			printf("    table %s ", t);
			put_text(str_or(json_object_get(v->tables, t), "name", ""));
			putchar('\n');
		} else {
			printf("    no table\n");
		}
		for (i = 0; i < nids; i++) {
			json_t *n = json_object_get(v->notes, ids[i]);
			if (picked(n, p) && strcmp(str_or(n, "table", ""), t) == 0)
				print_note(ids[i], n, p->column == PICK_ALL);
		}
	}
	free(tables);
}

static void print_board(struct model *v, const char *id, const char **ids, size_t nids)
{
	json_t *b = json_object_get(v->boards, id), *cols = json_object_get(b, "columns"), *c;
	struct pick p = { id, (int)json_array_size(cols), PICK_ALL };
	const char *layout = str_or(b, "layout", "columns");
	size_t i;

	printf("board %s %s ", id, layout);
	put_text(str_or(b, "title", ""));
	putchar('\n');
	if (strcmp(layout, "matrix") == 0) {
		printf("  x-axis ");
		put_text(str_or(b, "x_axis", ""));
		printf("\n  y-axis ");
		put_text(str_or(b, "y_axis", ""));
		putchar('\n');
		print_group(v, ids, nids, &p, NULL);
		return;
	}
	json_array_foreach(cols, i, c) {
		printf("  column %zu ", i);
		put_text(json_string_value(c) ? json_string_value(c) : "");
		putchar('\n');
		p.column = (int)i;
		print_group(v, ids, nids, &p, NULL);
	}
	p.column = PICK_UNKNOWN;
	print_group(v, ids, nids, &p, "position unknown");
}

/* The model as one JSON object: {"room","phase","private","tables",
 * "boards","notes"}, arrays in id order, only board (when given) and its
 * notes, deleted notes left out. Returns a new reference or NULL. */
static json_t *model_json(struct model *v, const char *board)
{
	json_t *out = json_pack("{s:s,s:s,s:b}", "room", v->room, "phase", v->phase, "private",
	                        v->private_writing);
	json_t *tables = json_array(), *boards = json_array(), *notes = json_array();
	const char **keys;
	size_t n, i;

	if (!out || !tables || !boards || !notes) {
		json_decref(out);
		json_decref(tables);
		json_decref(boards);
		json_decref(notes);
		return NULL;
	}
	keys = sorted_keys(v->tables, &n);
	for (i = 0; i < n; i++)
		json_array_append(tables, json_object_get(v->tables, keys[i]));
	free(keys);
	keys = sorted_keys(v->boards, &n);
	for (i = 0; i < n; i++)
		if (!board || strcmp(board, keys[i]) == 0)
			json_array_append(boards, json_object_get(v->boards, keys[i]));
	free(keys);
	keys = sorted_keys(v->notes, &n);
	for (i = 0; i < n; i++) {
		json_t *note = json_object_get(v->notes, keys[i]);
		if (!json_is_true(json_object_get(note, "deleted")) &&
		    (!board || strcmp(board, str_or(note, "board", "")) == 0))
			json_array_append(notes, note);
	}
	free(keys);
	json_object_set_new(out, "tables", tables);
	json_object_set_new(out, "boards", boards);
	json_object_set_new(out, "notes", notes);
	return out;
}

static int print_model(struct cli *cli, struct model *v, const char *board)
{
	const char **boards, **notes;
	size_t nboards, nnotes, i;

	if (cli->json) {
		json_t *o = model_json(v, board);
		char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		json_decref(o);
		if (!s) {
			fprintf(stderr, "tavla: out of memory\n");
			return CLI_ECONN;
		}
		printf("%s\n", s);
		free(s);
		return CLI_OK;
	}
	printf("phase %s %s\n", v->phase, v->private_writing ? "private" : "open");
	boards = sorted_keys(v->boards, &nboards);
	notes = sorted_keys(v->notes, &nnotes);
	for (i = 0; i < nboards; i++)
		if (!board || strcmp(board, boards[i]) == 0)
			print_board(v, boards[i], notes, nnotes);
	free(boards);
	free(notes);
	return CLI_OK;
}

int cmd_board_show(struct cli *cli)
{
	struct model v;
	const char *board = cli->nargs > 1 ? cli->args[1] : NULL;
	int r;

	memset(&v, 0, sizeof(v));
	v.room = cli->args[0];
	snprintf(v.phase, sizeof(v.phase), "setup");
	v.boards = json_object();
	v.tables = json_object();
	v.notes = json_object();
	if (!v.boards || !v.tables || !v.notes) {
		fprintf(stderr, "tavla: out of memory\n");
		r = CLI_ECONN;
	} else if ((r = cli_connect(cli)) != CLI_OK || (r = cli_resume(cli, "board show")) != CLI_OK ||
	           (r = read_log(cli, &v)) != CLI_OK) {
		/* already reported */
	} else if (!v.workshop) {
		fprintf(stderr, "tavla: not_a_workshop: room %s is not a workshop\n", v.room);
		r = CLI_EREPLY;
	} else if (board && !json_object_get(v.boards, board)) {
		fprintf(stderr, "tavla: board_not_found: no board %s in room %s\n", board, v.room);
		r = CLI_EREPLY;
	} else {
		r = print_model(cli, &v, board);
	}
	json_decref(v.boards);
	json_decref(v.tables);
	json_decref(v.notes);
	return r;
}
