/*
 * synthesis.c: the synthesis commands of the tavla client: the ranked
 * result of a scope, exports, and the re-import of a JSON export into a
 * new room.
 *
 * Responsible for: `tavla result`, `tavla export` and `tavla import`. Not
 * responsible for the rest of the synthesis (clusters, votes, actions):
 * `tavla send` sends any op as JSON.
 *
 * Import replays the export through the ordinary ops a moderator has, so
 * it is held to the same rules as any client: a new workshop room, its
 * tables and boards, every note (typed in by the importing moderator for
 * its author, proxy entry: the original identities do not exist in the new
 * room), the syntheses, the clusters with their notes, the action items,
 * and finally the phase. Votes are not re-cast (their ballots are not in
 * the export, only their totals), and the links of tables' clusters into
 * plenary ones are not re-made.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str_or(json_t *obj, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s && s[0] ? s : dflt;
}

static int enter(struct cli *cli, const char *cmd, const char *room)
{
	int r;
	if ((r = cli_connect(cli)) != CLI_OK || (r = cli_resume(cli, cmd)) != CLI_OK)
		return r;
	return cli_enter_room(cli, room);
}

int cmd_result(struct cli *cli)
{
	struct tvc_msg reply;
	int r = enter(cli, "result", cli->args[0]);
	if (r != CLI_OK)
		return r;
	r = cli_call(cli, TV_OP_SYNTHESIS_RESULT, NULL,
		     json_pack("{s:s, s:s}", "room", cli->args[0], "scope", cli->args[1]), NULL, NULL,
		     &reply);
	if (r != CLI_OK)
		return r;
	if (!cli_print_json(cli, &reply)) {
		json_t *res = tvc_reply_result(&reply), *c, *n;
		size_t i, k;
		json_array_foreach(json_object_get(res, "clusters"), i, c) {
			printf("%lld. %s", (long long)json_integer_value(json_object_get(c, "rank")),
			       str_or(c, "name", ""));
			if (json_is_true(json_object_get(res, "ranked")))
				printf(" (%lld)", (long long)json_integer_value(json_object_get(c, "dots")));
			printf("\n");
			json_array_foreach(json_object_get(c, "notes"), k, n)
				printf("   - %s [%s]\n", str_or(n, "text", ""), str_or(n, "table_name", "-"));
		}
		json_array_foreach(json_object_get(res, "unclustered"), k, n)
			printf("   ? %s [%s]\n", str_or(n, "text", ""), str_or(n, "table_name", "-"));
	}
	tvc_msg_clear(&reply);
	return CLI_OK;
}

int cmd_export(struct cli *cli)
{
	struct tvc_msg reply;
	int r = enter(cli, "export", cli->args[0]);
	if (r != CLI_OK)
		return r;
	r = cli_call(cli, TV_OP_EXPORT, NULL,
		     json_pack("{s:s, s:s}", "room", cli->args[0], "format", cli->args[1]), NULL, NULL,
		     &reply);
	if (r != CLI_OK)
		return r;
	if (!cli_print_json(cli, &reply)) {
		json_t *body = json_object_get(tvc_reply_result(&reply), "body");
		fwrite(json_string_value(body), 1, json_string_length(body), stdout);
	}
	tvc_msg_clear(&reply);
	return CLI_OK;
}

/* One request of the import; result[key] (a new id) into out. */
static int step(struct cli *cli, enum tv_op op, json_t *args, const char *key, char *out,
		size_t n)
{
	struct tvc_msg reply;
	int r = cli_call(cli, op, NULL, args, NULL, NULL, &reply);
	if (r != CLI_OK)
		return r;
	if (key)
		snprintf(out, n, "%s", str_or(tvc_reply_result(&reply), key, ""));
	tvc_msg_clear(&reply);
	return CLI_OK;
}

/* A list of old ids mapped to new ones (ids missing from map dropped). */
static json_t *mapped(json_t *list, json_t *map)
{
	json_t *out = json_array(), *v;
	size_t i;
	json_array_foreach(list, i, v) {
		json_t *to = json_object_get(map, json_string_value(v));
		if (to)
			json_array_append(out, to);
	}
	return out;
}

static int import_model(struct cli *cli, json_t *m)
{
	char room[64], id[64];
	json_t *ids = json_object(), *x;
	size_t i;
	int r;
	struct tvc_msg reply;
	const char *title = cli->nargs > 1 ? cli->args[1]
					   : str_or(json_object_get(m, "room"), "title", "Import");
	if ((r = cli_connect(cli)) != CLI_OK || (r = cli_resume(cli, "import")) != CLI_OK)
		goto out;
	r = cli_call(cli, TV_OP_ROOM_CREATE, NULL,
		     json_pack("{s:s, s:s}", "kind", "workshop", "title", title), NULL, NULL, &reply);
	if (r != CLI_OK)
		goto out;
	snprintf(room, sizeof room, "%s",
		 str_or(json_object_get(tvc_reply_result(&reply), "room"), "id", ""));
	tvc_msg_clear(&reply);
	if ((r = cli_enter_room(cli, room)) != CLI_OK)
		goto out;
	json_array_foreach(json_object_get(m, "tables"), i, x) {
		if ((r = step(cli, TV_OP_TABLE_CREATE,
			      json_pack("{s:s, s:s}", "room", room, "name", str_or(x, "name", "?")),
			      "table", id, sizeof id)))
			goto out;
		json_object_set_new(ids, str_or(x, "id", ""), json_string(id));
	}
	json_array_foreach(json_object_get(m, "boards"), i, x) {
		json_t *a = json_pack("{s:s, s:s, s:s, s:s}", "room", room, "title",
				      str_or(x, "title", "?"), "layout", str_or(x, "layout", "columns"),
				      "anonymity", str_or(x, "anonymity", "named"));
		static const char *const keys[] = { "columns", "x_axis", "y_axis" };
		for (size_t k = 0; k < 3; k++)
			if (json_object_get(x, keys[k]))
				json_object_set(a, keys[k], json_object_get(x, keys[k]));
		if ((r = step(cli, TV_OP_BOARD_CREATE, a, "board", id, sizeof id)))
			goto out;
		json_object_set_new(ids, str_or(x, "id", ""), json_string(id));
	}
	json_array_foreach(json_object_get(m, "notes"), i, x) {
		json_t *a = json_pack("{s:s, s:O, s:s, s:s}", "room", room, "board",
				      json_object_get(ids, str_or(x, "board", "")), "text",
				      str_or(x, "text", ""), "colour", str_or(x, "colour", "yellow"));
		json_t *t = json_object_get(ids, str_or(x, "table", ""));
		const char *who = str_or(x, "author_name", str_or(x, "proxy_for", NULL));
		if (t)
			json_object_set(a, "table", t);
		if (who)
			json_object_set_new(a, "proxy_for", json_string(who));
		static const char *const pos[] = { "column", "x", "y" };
		for (size_t k = 0; k < 3; k++)
			if (json_object_get(x, pos[k]))
				json_object_set(a, pos[k], json_object_get(x, pos[k]));
		if ((r = step(cli, TV_OP_NOTE_ADD, a, "note", id, sizeof id)))
			goto out;
		json_object_set_new(ids, str_or(x, "id", ""), json_string(id));
	}
	json_array_foreach(json_object_get(m, "syntheses"), i, x) {
		json_t *a = json_pack("{s:s, s:s, s:o, s:o}", "room", room, "name",
				      str_or(x, "name", "?"), "boards",
				      mapped(json_object_get(x, "boards"), ids), "tables",
				      mapped(json_object_get(x, "tables"), ids));
		if ((r = step(cli, TV_OP_SYNTHESIS_CREATE, a, "synthesis", id, sizeof id)))
			goto out;
		json_object_set_new(ids, str_or(x, "id", ""), json_string(id));
	}
	json_array_foreach(json_object_get(m, "clusters"), i, x) {
		const char *old = str_or(x, "id", ""), *scope = str_or(x, "scope", "");
		json_t *notes = json_array(), *n;
		size_t k;
		json_array_foreach(json_object_get(m, "notes"), k, n) {
			const char *c = str_or(json_object_get(n, "clusters"), scope, "");
			if (strcmp(c, old) == 0)
				json_array_append(notes, json_object_get(ids, str_or(n, "id", "")));
		}
		json_t *a = json_pack("{s:s, s:O, s:s, s:O, s:o}", "room", room, "scope",
				      json_object_get(ids, scope), "name", str_or(x, "name", "?"),
				      "order", json_object_get(x, "order"), "notes", notes);
		if (!json_object_get(ids, scope)) {
			json_decref(a);
			continue;
		}
		if ((r = step(cli, TV_OP_CLUSTER_CREATE, a, "cluster", id, sizeof id)))
			goto out;
		json_object_set_new(ids, old, json_string(id));
	}
	json_array_foreach(json_object_get(m, "actions"), i, x) {
		json_t *c = json_object_get(ids, str_or(x, "cluster", ""));
		if (!c)
			continue;
		json_t *a = json_pack("{s:s, s:O, s:s, s:s}", "room", room, "cluster", c, "text",
				      str_or(x, "text", "?"), "status", str_or(x, "status", "open"));
		if (str_or(x, "owner", NULL))
			json_object_set_new(a, "owner", json_string(str_or(x, "owner", "")));
		if (str_or(x, "due", NULL))
			json_object_set_new(a, "due", json_string(str_or(x, "due", "")));
		if ((r = step(cli, TV_OP_ACTION_CREATE, a, "action", id, sizeof id)))
			goto out;
	}
	if ((r = step(cli, TV_OP_PHASE_SET,
		      json_pack("{s:s, s:s}", "room", room, "phase", str_or(m, "phase", "setup")),
		      NULL, NULL, 0)))
		goto out;
	printf("%s\n", room);
out:
	json_decref(ids);
	return r;
}

int cmd_import(struct cli *cli)
{
	json_error_t err;
	json_t *m = strcmp(cli->args[0], "-") == 0 ? json_loadf(stdin, 0, &err)
						    : json_load_file(cli->args[0], 0, &err);
	if (!m) {
		fprintf(stderr, "tavla: %s: line %d: %s\n", cli->args[0], err.line, err.text);
		return CLI_EUSAGE;
	}
	if (strcmp(str_or(m, "format", ""), "tavla.export.v1") != 0) {
		fprintf(stderr, "tavla: %s is not a tavla JSON export (tavla.export.v1)\n",
			cli->args[0]);
		json_decref(m);
		return CLI_EUSAGE;
	}
	int r = import_model(cli, m);
	json_decref(m);
	return r;
}
