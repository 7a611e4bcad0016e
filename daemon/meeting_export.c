/*
 * meeting_export.c: a meeting's or forum's state as JSON and Markdown (see
 * meeting_export.h). The Markdown is built from the JSON, so the two can
 * never disagree about what the room holds.
 */
#include "meeting_export.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meeting.h"

/* ---- JSON ---------------------------------------------------------------------------- */

static int cmp_item(const void *a, const void *b)
{
	const struct mt_item *x = *(const struct mt_item *const *)a;
	const struct mt_item *y = *(const struct mt_item *const *)b;
	int c = strcmp(x->start, y->start);
	if (c)
		return c;
	size_t lx = strlen(x->id), ly = strlen(y->id); /* a2 before a10 */
	return lx != ly ? (lx < ly ? -1 : 1) : strcmp(x->id, y->id);
}

static json_t *agenda_json(const struct meeting *m)
{
	json_t *a = json_array();
	const struct mt_item **order = calloc(m->nitems ? m->nitems : 1, sizeof *order);
	size_t n = 0;
	if (!a || !order) {
		free(order);
		json_decref(a);
		return NULL;
	}
	for (size_t i = 0; i < m->nitems; i++)
		if (!m->items[i].removed)
			order[n++] = &m->items[i];
	qsort(order, n, sizeof *order, cmp_item);
	for (size_t i = 0; i < n; i++) {
		const struct mt_item *it = order[i];
		json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:s, s:b}", "id", it->id, "start",
				      it->start, "minutes", it->minutes, "title",
				      it->title ? it->title : "", "kind", it->kind ? it->kind : "",
				      "current", strcmp(m->current, it->id) == 0);
		if (o && it->presenter && it->presenter[0])
			json_object_set_new(o, "presenter", json_string(it->presenter));
		json_array_append_new(a, o);
	}
	free(order);
	return a;
}

static json_t *polls_json(const struct meeting *m)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < m->npolls; i++) {
		const struct mt_poll *p = &m->polls[i];
		/* Closed: what the close announced. Open: as it stands now
		 * (the export is the moderators'). Either way aggregates only
		 * for anonymous polls (invariant 1). */
		json_t *res = p->closed && p->results ? json_incref(p->results)
						      : meeting_poll_results(p);
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:O, s:s, s:s, s:b, s:o*}", "id",
						   p->id, "question", p->question, "type",
						   meeting_poll_type_name(p->type), "options",
						   p->options, "anonymity",
						   p->anonymous ? "anonymous" : "named", "results_shown",
						   p->live ? "live" : "closed", "closed", p->closed,
						   "results", res));
	}
	return a;
}

static json_t *rounds_json(const struct meeting *m)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < m->nrounds; i++) {
		const struct mt_round *r = &m->rounds[i];
		json_t *ans = json_array();
		for (size_t k = 0; ans && k < r->nanswers; k++)
			json_array_append_new(ans, json_pack("{s:s, s:s, s:s}", "identity",
							     r->answers[k].identity, "name",
							     r->answers[k].name ? r->answers[k].name : "",
							     "text",
							     r->answers[k].text ? r->answers[k].text : ""));
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:b, s:o}", "id", r->id, "kind",
						   r->kind, "prompt", r->prompt, "closed", r->closed,
						   "answers", ans));
	}
	return a;
}

/* {"emoji": count}, in the order first used. */
static json_t *reaction_counts(const struct meeting *m, uint64_t seq)
{
	struct mt_target *t = meeting_target((struct meeting *)m, seq);
	json_t *o = json_object(), *who;
	const char *emoji;
	if (t)
		json_object_foreach(t->reactions, emoji, who)
			json_object_set_new(o, emoji, json_integer((json_int_t)json_array_size(who)));
	return o;
}

static json_t *post_json(const struct meeting *m, const struct mt_post *p)
{
	if (p->deleted)
		return json_pack("{s:s, s:b}", "id", p->id, "deleted", 1);
	json_t *o = json_pack("{s:s, s:{s:s, s:s}, s:I, s:s}", "id", p->id, "author", "id",
			      p->author, "name", p->author_name ? p->author_name : "", "ts",
			      (json_int_t)p->ts_ms, "text", p->text ? p->text : "");
	if (!o)
		return NULL;
	if (p->title)
		json_object_set_new(o, "title", json_string(p->title));
	if (p->reply_to[0])
		json_object_set_new(o, "reply_to", json_string(p->reply_to));
	if (json_array_size(p->history)) {
		json_object_set_new(o, "edited", json_integer(p->edited_ms));
		json_object_set_new(o, "versions", json_integer((json_int_t)json_array_size(p->history) + 1));
	}
	if (json_array_size(p->mentions))
		json_object_set(o, "mentions", p->mentions);
	json_object_set_new(o, "reactions", reaction_counts(m, p->seq));
	return o;
}

static json_t *threads_json(const struct meeting *m)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < m->nposts; i++) {
		const struct mt_post *t = &m->posts[i];
		if (t->thread[0])
			continue;
		json_t *o = post_json(m, t), *posts = json_array();
		for (size_t k = 0; !t->deleted && posts && k < m->nposts; k++)
			if (strcmp(m->posts[k].thread, t->id) == 0)
				json_array_append_new(posts, post_json(m, &m->posts[k]));
		if (!t->deleted)
			json_object_set(o, "posts", posts);
		json_decref(posts);
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *chat_json(const struct meeting *m)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < m->ntargets; i++) {
		const struct mt_target *t = &m->targets[i];
		if (strcmp(t->kind, "chat.message") != 0)
			continue;
		json_t *o = json_pack("{s:I, s:{s:s, s:s}, s:I, s:s}", "seq", (json_int_t)t->seq,
				      "author", "id", t->author, "name",
				      t->author_name ? t->author_name : "", "ts",
				      (json_int_t)t->ts_ms, "text", t->text ? t->text : "");
		if (o && t->reply_to)
			json_object_set_new(o, "reply_to", json_integer((json_int_t)t->reply_to));
		if (o)
			json_object_set_new(o, "reactions", reaction_counts(m, t->seq));
		json_array_append_new(a, o);
	}
	return a;
}

json_t *meeting_export_json(const struct meeting *m)
{
	json_t *speaker = m->speaker[0]
		? json_pack("{s:s, s:s}", "id", m->speaker, "name",
			    m->speaker_name ? m->speaker_name : "")
		: json_null();
	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:O, s:o, s:o, s:o}", "title",
			 m->title ? m->title : "", "kind", m->kind ? m->kind : "", "current",
			 m->current, "agenda", agenda_json(m), "polls", polls_json(m), "rounds",
			 rounds_json(m), "queue", m->hands, "speaker", speaker, "threads",
			 threads_json(m), "chat", chat_json(m));
}

/* ---- Markdown --------------------------------------------------------------------------- */

struct md {
	char *s;
	size_t len, cap;
	int oom;
};

static void put(struct md *b, const char *fmt, ...)
{
	if (b->oom)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = 1;
		return;
	}
	if (b->len + (size_t)n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		char *ns = realloc(b->s, cap);
		if (!ns) {
			b->oom = 1;
			return;
		}
		b->s = ns;
		b->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* Text on one line: newlines become spaces, '|' is escaped (tables). */
static void put_line(struct md *b, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '\n' || *s == '\r')
			put(b, " ");
		else if (*s == '|')
			put(b, "\\|");
		else
			put(b, "%c", *s);
	}
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static const char *option_text(json_t *poll, const char *id)
{
	size_t i;
	json_t *o;
	json_array_foreach(json_object_get(poll, "options"), i, o)
		if (strcmp(jstr(o, "id"), id) == 0)
			return jstr(o, "text");
	return id;
}

static void md_answer(struct md *b, json_t *poll, json_t *a)
{
	if (json_is_integer(a)) {
		put(b, "%lld", (long long)json_integer_value(a));
	} else if (json_is_string(a)) {
		put_line(b, strcmp(jstr(poll, "type"), "text") == 0 ? json_string_value(a)
								      : option_text(poll, json_string_value(a)));
	} else if (json_is_array(a)) {
		size_t i;
		json_t *v;
		json_array_foreach(a, i, v) {
			if (i)
				put(b, ", ");
			put_line(b, option_text(poll, json_string_value(v)));
		}
	}
}

static void md_poll(struct md *b, json_t *p)
{
	json_t *r = json_object_get(p, "results");
	put(b, "### ");
	put_line(b, jstr(p, "question"));
	put(b, "\n\n_%s, %s, %s; %lld answered_\n\n", jstr(p, "type"), jstr(p, "anonymity"),
	    json_is_true(json_object_get(p, "closed")) ? "closed" : "open",
	    (long long)json_integer_value(json_object_get(r, "voters")));
	const char *k;
	json_t *v;
	size_t i;
	if (strcmp(jstr(p, "type"), "text") == 0) {
		json_array_foreach(json_object_get(r, "answers"), i, v) {
			put(b, "- ");
			put_line(b, jstr(v, "text"));
			put(b, ": %lld\n", (long long)json_integer_value(json_object_get(v, "count")));
		}
	} else {
		json_object_foreach(json_object_get(r, "counts"), k, v) {
			put(b, "- ");
			put_line(b, strcmp(jstr(p, "type"), "scale") == 0 ? k : option_text(p, k));
			put(b, ": %lld\n", (long long)json_integer_value(v));
		}
		if (json_object_get(r, "mean"))
			put(b, "- mean: %.2f\n", json_real_value(json_object_get(r, "mean")));
	}
	json_t *ballots = json_object_get(r, "ballots");
	if (json_array_size(ballots)) {
		put(b, "\nWho answered what:\n\n");
		json_array_foreach(ballots, i, v) {
			put(b, "- ");
			put_line(b, jstr(v, "name"));
			put(b, ": ");
			md_answer(b, p, json_object_get(v, "answer"));
			put(b, "\n");
		}
	}
	put(b, "\n");
}

static void md_post(struct md *b, json_t *p, const char *indent)
{
	if (json_is_true(json_object_get(p, "deleted"))) {
		put(b, "%s- _(deleted)_\n", indent);
		return;
	}
	put(b, "%s- **", indent);
	put_line(b, jstr(json_object_get(p, "author"), "name"));
	put(b, "**");
	json_t *rt = json_object_get(p, "reply_to");
	if (json_is_integer(rt))
		put(b, " (reply to #%lld)", (long long)json_integer_value(rt));
	else if (rt)
		put(b, " (reply to %s)", jstr(p, "reply_to"));
	put(b, ": ");
	put_line(b, jstr(p, "text"));
	if (json_object_get(p, "versions"))
		put(b, " _(edited)_");
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(p, "reactions"), k, v) {
		put(b, " ");
		put_line(b, k);
		put(b, "×%lld", (long long)json_integer_value(v));
	}
	put(b, "\n");
}

char *meeting_export_markdown(const struct meeting *m, size_t *len)
{
	json_t *x = meeting_export_json(m), *v;
	struct md b = { 0 };
	size_t i, k;
	if (!x)
		return NULL;
	put(&b, "# ");
	put_line(&b, jstr(x, "title"));
	put(&b, "\n\n_%s_\n\n", jstr(x, "kind"));
	if (json_array_size(json_object_get(x, "agenda"))) {
		put(&b, "## Agenda\n\n| | start | minutes | item | kind | presenter |\n"
			"|---|---|---|---|---|---|\n");
		json_array_foreach(json_object_get(x, "agenda"), i, v) {
			put(&b, "| %s | %s | %lld | ",
			    json_is_true(json_object_get(v, "current")) ? "▶" : "", jstr(v, "start"),
			    (long long)json_integer_value(json_object_get(v, "minutes")));
			put_line(&b, jstr(v, "title"));
			put(&b, " | %s | ", jstr(v, "kind"));
			put_line(&b, jstr(v, "presenter"));
			put(&b, " |\n");
		}
		put(&b, "\n");
	}
	if (json_array_size(json_object_get(x, "polls"))) {
		put(&b, "## Polls\n\n");
		json_array_foreach(json_object_get(x, "polls"), i, v)
			md_poll(&b, v);
	}
	if (json_array_size(json_object_get(x, "rounds"))) {
		put(&b, "## Rounds\n\n");
		json_array_foreach(json_object_get(x, "rounds"), i, v) {
			const char *kind = jstr(v, "kind");
			put(&b, "### %s: ", strcmp(kind, "checkin") == 0 ? "Check-in"
					    : strcmp(kind, "checkout") == 0 ? "Check-out" : "Round");
			put_line(&b, jstr(v, "prompt"));
			put(&b, "\n\n");
			json_t *a;
			json_array_foreach(json_object_get(v, "answers"), k, a) {
				put(&b, "- **");
				put_line(&b, jstr(a, "name"));
				put(&b, "**: ");
				put_line(&b, jstr(a, "text"));
				put(&b, "\n");
			}
			put(&b, "\n");
		}
	}
	if (json_array_size(json_object_get(x, "threads"))) {
		put(&b, "## Threads\n\n");
		json_array_foreach(json_object_get(x, "threads"), i, v) {
			if (json_is_true(json_object_get(v, "deleted"))) {
				put(&b, "### _(deleted thread)_\n\n");
				continue;
			}
			put(&b, "### ");
			put_line(&b, jstr(v, "title"));
			put(&b, "\n\n");
			md_post(&b, v, "");
			json_t *p;
			json_array_foreach(json_object_get(v, "posts"), k, p)
				md_post(&b, p, "  ");
			put(&b, "\n");
		}
	}
	if (json_array_size(json_object_get(x, "chat"))) {
		put(&b, "## Chat\n\n");
		json_array_foreach(json_object_get(x, "chat"), i, v)
			md_post(&b, v, "");
		put(&b, "\n");
	}
	json_decref(x);
	if (b.oom || !b.s) {
		free(b.s);
		return NULL;
	}
	*len = b.len;
	return b.s;
}
