/*
 * report.c: rendering the export model (see report.h).
 *
 * The model (export.c): {format, room: {id, title}, exported_at, phase,
 * tables: [{id, name}], boards: [{id, title, ...}], notes: [note...],
 * syntheses: [{id, name, result}], table_results: [result...],
 * actions: [...], published: [...]} where a result is synthesis_result()'s.
 */
#include "report.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const names[REPORT__COUNT] = { "markdown", "csv", "json", "html" };
static const char *const media[REPORT__COUNT] = {
	"text/markdown; charset=utf-8", "text/csv; charset=utf-8",
	"application/json; charset=utf-8", "text/html; charset=utf-8",
};
static const char *const exts[REPORT__COUNT] = { "md", "csv", "json", "html" };

int report_format_parse(const char *s)
{
	for (int i = 0; s && i < REPORT__COUNT; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

const char *report_format_name(int f)
{
	return f >= 0 && f < REPORT__COUNT ? names[f] : "json";
}

const char *report_media_type(int f)
{
	return f >= 0 && f < REPORT__COUNT ? media[f] : media[REPORT_JSON];
}

const char *report_extension(int f)
{
	return f >= 0 && f < REPORT__COUNT ? exts[f] : "json";
}

/* ---- a growing text ------------------------------------------------------------------- */

struct out {
	char *s;
	size_t len, cap;
	int oom;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->oom)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 4096;
		while (cap < o->len + n + 1)
			cap *= 2;
		char *p = realloc(o->s, cap);
		if (!p) {
			o->oom = 1;
			return;
		}
		o->s = p;
		o->cap = cap;
	}
	memcpy(o->s + o->len, s, n);
	o->len += n;
	o->s[o->len] = 0;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void printf_(struct out *o, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > 0)
		put(o, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static const char *str0(json_t *d, const char *k)
{
	const char *v = json_string_value(json_object_get(d, k));
	return v ? v : "";
}

static long long num(json_t *d, const char *k)
{
	return (long long)json_integer_value(json_object_get(d, k));
}

static void date(struct out *o, long long ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char buf[32];
	gmtime_r(&t, &tm);
	strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
	puts_(o, buf);
}

/* ---- Markdown -------------------------------------------------------------------------- */

/* Text on one Markdown line: line breaks become spaces, and characters that
 * would start markup are escaped. */
static void md_text(struct out *o, const char *s)
{
	for (; *s; s++) {
		if (*s == '\r' || *s == '\n') {
			puts_(o, " ");
			continue;
		}
		if (strchr("\\`*_[]<>#|", *s))
			puts_(o, "\\");
		put(o, s, 1);
	}
}

static void md_byline(struct out *o, json_t *n)
{
	const char *who = str0(n, "author_name"), *proxy = str0(n, "proxy_for");
	puts_(o, " — ");
	md_text(o, str0(n, "table_name")[0] ? str0(n, "table_name") : "(ingen bord)");
	if (who[0] || proxy[0]) {
		puts_(o, ", ");
		md_text(o, who[0] ? who : proxy);
	}
}

static void md_note(struct out *o, json_t *n, const char *indent)
{
	puts_(o, indent);
	puts_(o, "- ");
	md_text(o, str0(n, "text"));
	md_byline(o, n);
	if (json_object_get(n, "dots"))
		printf_(o, " (%lld)", num(n, "dots"));
	puts_(o, "\n");
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(n, "duplicates"), i, d) {
		puts_(o, indent);
		puts_(o, "  - = ");
		md_text(o, str0(d, "text"));
		md_byline(o, d);
		puts_(o, "\n");
	}
}

static void md_result(struct out *o, json_t *r, const char *h)
{
	size_t i, k;
	json_t *c, *n, *a;
	json_t *vote = json_object_get(r, "vote");
	if (json_is_object(vote))
		printf_(o, "Röstning %s: %lld prickar per deltagare, %lld röstande%s.\n\n",
			str0(vote, "id"), num(vote, "budget"), num(vote, "voters"),
			json_is_true(json_object_get(vote, "closed")) ? ", stängd" : ", pågår");
	json_array_foreach(json_object_get(r, "clusters"), i, c) {
		printf_(o, "%s %lld. ", h, num(c, "rank"));
		md_text(o, str0(c, "name"));
		puts_(o, "\n\n");
		if (json_is_true(json_object_get(r, "ranked")))
			printf_(o, "%lld prickar%s. ", num(c, "dots"),
				json_is_true(json_object_get(c, "tie")) ? " (delad placering)" : "");
		printf_(o, "Lyft vid %lld av %lld bord.", num(c, "raised_at"), num(r, "tables_total"));
		if (num(c, "carried_total"))
			printf_(o, " Prickar från borden: %lld.", num(c, "carried_total"));
		puts_(o, "\n\n");
		json_array_foreach(json_object_get(c, "notes"), k, n)
			md_note(o, n, "");
		if (json_array_size(json_object_get(c, "actions"))) {
			puts_(o, "\nÅtgärder:\n\n");
			json_array_foreach(json_object_get(c, "actions"), k, a) {
				printf_(o, "- [%s] ", strcmp(str0(a, "status"), "done") ? " " : "x");
				md_text(o, str0(a, "text"));
				if (str0(a, "owner")[0]) {
					puts_(o, " — ");
					md_text(o, str0(a, "owner"));
				}
				if (str0(a, "due")[0])
					printf_(o, ", senast %s", str0(a, "due"));
				printf_(o, " (%s)\n", str0(a, "status"));
			}
		}
		puts_(o, "\n");
	}
	if (json_array_size(json_object_get(r, "unclustered"))) {
		printf_(o, "%s Utan tema\n\n", h);
		json_array_foreach(json_object_get(r, "unclustered"), k, n)
			md_note(o, n, "");
		puts_(o, "\n");
	}
}

static void render_markdown(struct out *o, json_t *m)
{
	json_t *room = json_object_get(m, "room"), *s, *b, *t, *n;
	size_t i, j, k;
	puts_(o, "# ");
	md_text(o, str0(room, "title"));
	puts_(o, "\n\nExporterad ");
	date(o, num(m, "exported_at"));
	printf_(o, ", fas %s, %zu lappar.\n\n", str0(m, "phase"),
		json_array_size(json_object_get(m, "notes")));
	json_array_foreach(json_object_get(m, "syntheses"), i, s) {
		puts_(o, "## ");
		md_text(o, str0(s, "name"));
		puts_(o, "\n\n");
		md_result(o, json_object_get(s, "result"), "###");
	}
	json_array_foreach(json_object_get(m, "table_results"), i, s) {
		puts_(o, "## Bord: ");
		md_text(o, str0(s, "name"));
		puts_(o, "\n\n");
		md_result(o, s, "###");
	}
	puts_(o, "## Alla lappar\n\n");
	json_array_foreach(json_object_get(m, "boards"), i, b) {
		puts_(o, "### ");
		md_text(o, str0(b, "title"));
		puts_(o, "\n\n");
		json_t *tables = json_copy(json_object_get(m, "tables"));
		json_array_append_new(tables, json_pack("{s:s, s:s}", "id", "", "name", "(ingen bord)"));
		json_array_foreach(tables, j, t) {
			int head = 0;
			json_array_foreach(json_object_get(m, "notes"), k, n) {
				if (strcmp(str0(n, "board"), str0(b, "id")) ||
				    strcmp(str0(n, "table"), str0(t, "id")))
					continue;
				if (!head++) {
					puts_(o, "#### ");
					md_text(o, str0(t, "name"));
					puts_(o, "\n\n");
				}
				puts_(o, "- ");
				md_text(o, str0(n, "text"));
				if (str0(n, "author_name")[0] || str0(n, "proxy_for")[0]) {
					puts_(o, " — ");
					md_text(o, str0(n, "author_name")[0] ? str0(n, "author_name")
									     : str0(n, "proxy_for"));
				}
				puts_(o, "\n");
			}
			if (head)
				puts_(o, "\n");
		}
		json_decref(tables);
	}
}

/* ---- CSV ------------------------------------------------------------------------------------ */

static void csv_field(struct out *o, const char *s, int last)
{
	if (strpbrk(s, ",\"\r\n")) {
		puts_(o, "\"");
		for (; *s; s++) {
			if (*s == '"')
				puts_(o, "\"");
			put(o, s, 1);
		}
		puts_(o, "\"");
	} else {
		puts_(o, s);
	}
	puts_(o, last ? "\r\n" : ",");
}

/* The plenary theme of each note: from the last synthesis (the newest). */
static void render_csv(struct out *o, json_t *m)
{
	static const char *const head[] = { "note_id", "question", "table", "author", "text",
					    "theme", "theme_rank", "theme_dots", "table_theme",
					    "duplicate_of", "created_at" };
	size_t nh = sizeof head / sizeof *head, i, k;
	json_t *n, *syns = json_object_get(m, "syntheses");
	json_t *last = json_array_get(syns, json_array_size(syns) - 1);
	json_t *clusters = json_object_get(json_object_get(last, "result"), "clusters");
	puts_(o, "\xEF\xBB\xBF"); /* byte-order mark: see report.h */
	for (i = 0; i < nh; i++)
		csv_field(o, head[i], i + 1 == nh);
	json_array_foreach(json_object_get(m, "notes"), i, n) {
		const char *theme = "", *rank = "", *dots = "";
		char rb[24] = "", db[24] = "";
		const char *dup = str0(n, "duplicate_of");
		const char *mine = str0(json_object_get(n, "clusters"), str0(last, "id"));
		json_t *c;
		json_array_foreach(clusters, k, c) {
			if (strcmp(str0(c, "id"), mine))
				continue;
			theme = str0(c, "name");
			snprintf(rb, sizeof rb, "%lld", num(c, "rank"));
			snprintf(db, sizeof db, "%lld", num(c, "dots"));
			rank = rb;
			dots = db;
		}
		const char *table_theme = str0(n, "table_theme");
		char when[40];
		struct out w = { 0 };
		date(&w, num(n, "created_at"));
		snprintf(when, sizeof when, "%s", w.s ? w.s : "");
		free(w.s);
		csv_field(o, str0(n, "id"), 0);
		csv_field(o, str0(n, "question"), 0);
		csv_field(o, str0(n, "table_name"), 0);
		csv_field(o, str0(n, "author_name")[0] ? str0(n, "author_name") : str0(n, "proxy_for"), 0);
		csv_field(o, str0(n, "text"), 0);
		csv_field(o, theme, 0);
		csv_field(o, rank, 0);
		csv_field(o, dots, 0);
		csv_field(o, table_theme, 0);
		csv_field(o, dup, 0);
		csv_field(o, when, 1);
	}
}

/* ---- HTML ------------------------------------------------------------------------------------ */

static void html_text(struct out *o, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': puts_(o, "&lt;"); break;
		case '>': puts_(o, "&gt;"); break;
		case '&': puts_(o, "&amp;"); break;
		case '"': puts_(o, "&quot;"); break;
		case '\'': puts_(o, "&#39;"); break;
		case '\n': puts_(o, "<br>"); break;
		default: put(o, s, 1);
		}
	}
}

static void html_note(struct out *o, json_t *n)
{
	size_t i;
	json_t *d;
	puts_(o, "<li>");
	html_text(o, str0(n, "text"));
	puts_(o, " <span class=by>");
	html_text(o, str0(n, "table_name"));
	if (str0(n, "author_name")[0] || str0(n, "proxy_for")[0]) {
		puts_(o, ", ");
		html_text(o, str0(n, "author_name")[0] ? str0(n, "author_name") : str0(n, "proxy_for"));
	}
	puts_(o, "</span>");
	if (json_array_size(json_object_get(n, "duplicates"))) {
		puts_(o, "<ul class=dup>");
		json_array_foreach(json_object_get(n, "duplicates"), i, d) {
			puts_(o, "<li>= ");
			html_text(o, str0(d, "text"));
			puts_(o, " <span class=by>");
			html_text(o, str0(d, "table_name"));
			puts_(o, "</span></li>");
		}
		puts_(o, "</ul>");
	}
	puts_(o, "</li>\n");
}

static void html_result(struct out *o, json_t *r)
{
	size_t i, k;
	json_t *c, *n, *a;
	puts_(o, "<ol class=themes>\n");
	json_array_foreach(json_object_get(r, "clusters"), i, c) {
		printf_(o, "<li value=\"%lld\"><h3>", num(c, "rank"));
		html_text(o, str0(c, "name"));
		puts_(o, "</h3><p class=meta>");
		if (json_is_true(json_object_get(r, "ranked")))
			printf_(o, "%lld prickar%s · ", num(c, "dots"),
				json_is_true(json_object_get(c, "tie")) ? " (delad placering)" : "");
		printf_(o, "lyft vid %lld av %lld bord", num(c, "raised_at"), num(r, "tables_total"));
		if (num(c, "carried_total"))
			printf_(o, " · %lld prickar från borden", num(c, "carried_total"));
		puts_(o, "</p><ul>\n");
		json_array_foreach(json_object_get(c, "notes"), k, n)
			html_note(o, n);
		puts_(o, "</ul>\n");
		if (json_array_size(json_object_get(c, "actions"))) {
			puts_(o, "<table class=actions><tr><th>Åtgärd</th><th>Ansvar</th><th>Klart senast</th><th>Status</th></tr>\n");
			json_array_foreach(json_object_get(c, "actions"), k, a) {
				puts_(o, "<tr><td>");
				html_text(o, str0(a, "text"));
				puts_(o, "</td><td>");
				html_text(o, str0(a, "owner"));
				puts_(o, "</td><td>");
				html_text(o, str0(a, "due"));
				puts_(o, "</td><td>");
				html_text(o, str0(a, "status"));
				puts_(o, "</td></tr>\n");
			}
			puts_(o, "</table>\n");
		}
		puts_(o, "</li>\n");
	}
	puts_(o, "</ol>\n");
	if (json_array_size(json_object_get(r, "unclustered"))) {
		puts_(o, "<h3>Utan tema</h3><ul>\n");
		json_array_foreach(json_object_get(r, "unclustered"), k, n)
			html_note(o, n);
		puts_(o, "</ul>\n");
	}
}

static void render_html(struct out *o, json_t *m)
{
	json_t *room = json_object_get(m, "room"), *s, *b, *n;
	size_t i, k;
	puts_(o, "<!doctype html>\n<html lang=sv><head><meta charset=utf-8><title>");
	html_text(o, str0(room, "title"));
	puts_(o, "</title><meta name=viewport content=\"width=device-width, initial-scale=1\">"
		 "<style>body{font:15px/1.45 system-ui,sans-serif;color:#111;max-width:50em;"
		 "margin:2em auto;padding:0 1em}h1{font-size:1.6em}h2{border-bottom:2px solid #333;"
		 "margin-top:2em}h3{margin:.2em 0}.meta,.by{color:#444;font-size:.9em}"
		 "ol.themes>li{margin:1em 0;break-inside:avoid}ul.dup{color:#333}"
		 "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #999;"
		 "padding:.2em .5em;text-align:left}@media print{body{margin:0;max-width:none}"
		 "h2{break-before:auto}a{color:inherit}}</style></head><body>\n<h1>");
	html_text(o, str0(room, "title"));
	puts_(o, "</h1>\n<p class=meta>Exporterad ");
	date(o, num(m, "exported_at"));
	printf_(o, " · %zu lappar</p>\n", json_array_size(json_object_get(m, "notes")));
	json_array_foreach(json_object_get(m, "syntheses"), i, s) {
		puts_(o, "<h2>");
		html_text(o, str0(s, "name"));
		puts_(o, "</h2>\n");
		html_result(o, json_object_get(s, "result"));
	}
	json_array_foreach(json_object_get(m, "table_results"), i, s) {
		puts_(o, "<h2>Bord: ");
		html_text(o, str0(s, "name"));
		puts_(o, "</h2>\n");
		html_result(o, s);
	}
	puts_(o, "<h2>Alla lappar</h2>\n");
	json_array_foreach(json_object_get(m, "boards"), i, b) {
		puts_(o, "<h3>");
		html_text(o, str0(b, "title"));
		puts_(o, "</h3><ul>\n");
		json_array_foreach(json_object_get(m, "notes"), k, n)
			if (strcmp(str0(n, "board"), str0(b, "id")) == 0)
				html_note(o, n);
		puts_(o, "</ul>\n");
	}
	puts_(o, "</body></html>\n");
}

char *report_render(json_t *model, int fmt, size_t *len)
{
	struct out o = { 0 };
	switch (fmt) {
	case REPORT_MARKDOWN:
		render_markdown(&o, model);
		break;
	case REPORT_CSV:
		render_csv(&o, model);
		break;
	case REPORT_HTML:
		render_html(&o, model);
		break;
	default: {
		char *s = json_dumps(model, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
		if (s)
			puts_(&o, s);
		free(s);
		puts_(&o, "\n");
	}
	}
	if (o.oom || !o.s) {
		free(o.s);
		return NULL;
	}
	*len = o.len;
	return o.s;
}
