/*
 * test_meeting: the pure parts of meetings and forums (PROTOCOL.md §9):
 * free-text poll answer normalisation, the search query builder, the
 * state derived from events (meeting.c), poll results, the visibility of
 * anonymous answers (event.c) and the export (meeting_export.c). No
 * sockets, no store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "event.h"
#include "meeting.h"
#include "meeting_export.h"
#include "search.h"

static void norm_is(const char *in, const char *want)
{
	char *got = meeting_normalise_answer(in, strlen(in));
	assert_non_null(got);
	if (strcmp(got, want) != 0)
		fail_msg("normalise(\"%s\") = \"%s\", want \"%s\"", in, got, want);
	free(got);
}

static void test_normalise(void **state)
{
	(void)state;
	norm_is("Ja!", "ja");
	norm_is("  ja ", "ja");
	norm_is("JA", "ja");
	norm_is("Det  beror\tpå…", "det beror på");
	norm_is("ÅÄÖ?", "åäö");
	norm_is("Hållbarhet.", "hållbarhet");
	norm_is("Det beror på!?", "det beror på");
	norm_is("!!!", "");
	norm_is("   ", "");
	/* compatibility forms fold (NFKC): the ligature and full-width letters */
	norm_is("\xEF\xAC\x81n", "fin");
	norm_is("\xEF\xBC\xA1", "a");
	/* å ä ö are letters of their own, never a or o */
	norm_is("Häv", "häv");
	assert_null(meeting_normalise_answer("\xC3\x28", 2)); /* invalid UTF-8 */
}

static void query_is(const char *q, const char *want)
{
	int empty = -1;
	char *got = search_query(q, strlen(q), &empty);
	if (!want) {
		assert_null(got);
		assert_int_equal(empty, 1);
		return;
	}
	assert_non_null(got);
	assert_int_equal(empty, 0);
	if (strcmp(got, want) != 0)
		fail_msg("search_query(\"%s\") = %s, want %s", q, got, want);
	free(got);
}

static void test_search_query(void **state)
{
	(void)state;
	query_is("hållbarhet", "\"hållbarhet\"*");
	query_is("Hållbar region", "\"Hållbar\"* AND \"region\"*");
	/* FTS5 syntax is never passed through */
	query_is("\"; DROP TABLE events; --", "\"DROP\"* AND \"TABLE\"* AND \"events\"*");
	query_is("NEAR(a b) OR c*", "\"NEAR\"* AND \"a\"* AND \"b\"* AND \"OR\"* AND \"c\"*");
	query_is("!!! ... ---", NULL);
	query_is("", NULL);
	char many[200] = "";
	for (int i = 0; i < 20; i++)
		strcat(many, "ord ");
	int empty;
	char *q = search_query(many, strlen(many), &empty);
	int terms = 0;
	for (char *p = q; (p = strstr(p, "\"ord\"*")); p++)
		terms++;
	assert_int_equal(terms, SEARCH_MAX_TERMS);
	free(q);
}

/* ---- state from events -------------------------------------------------------------- */

struct log {
	struct tv_event *ev[64];
	int n;
};

static struct tv_event *add(struct log *l, const char *author, const char *name,
			    const char *kind, const char *data)
{
	struct tv_event_view v = {
		.room = "r_test", .seq = (uint64_t)l->n + 1, .ts_ms = 1795430400000 + l->n,
		.author_id = author, .author_name = name, .kind = kind, .data_json = data,
		.data_len = strlen(data),
	};
	struct tv_event *e = event_new(&v);
	assert_non_null(e);
	l->ev[l->n++] = e;
	return e;
}

static void free_log(struct log *l)
{
	for (int i = 0; i < l->n; i++)
		event_unref(l->ev[i]);
}

static struct meeting *replay(struct log *l)
{
	struct meeting *m = meeting_new();
	assert_non_null(m);
	for (int i = 0; i < l->n; i++)
		assert_int_equal(meeting_apply(m, l->ev[i]), 0);
	return m;
}

static void meeting_log(struct log *l)
{
	add(l, "i_mod", "Moderator", "room.created",
	    "{\"kind\":\"meeting\",\"title\":\"Nätverksträff\",\"code\":\"K7QF4M\"}");
	add(l, NULL, NULL, "member.joined", "{\"id\":\"i_asa\",\"name\":\"Åsa\",\"role\":\"participant\"}");
	add(l, NULL, NULL, "member.joined", "{\"id\":\"i_bo\",\"name\":\"Bo\",\"role\":\"participant\"}");
	add(l, "i_mod", "Moderator", "agenda.added",
	    "{\"id\":\"a1\",\"title\":\"Lunch\",\"kind\":\"lunch\",\"start\":\"12:00\",\"minutes\":60}");
	add(l, "i_mod", "Moderator", "agenda.added",
	    "{\"id\":\"a2\",\"title\":\"Incheckning\",\"kind\":\"theme\",\"start\":\"09:30\",\"minutes\":15}");
	add(l, "i_mod", "Moderator", "agenda.current", "{\"item\":\"a2\",\"prev\":\"\"}");
	add(l, "i_mod", "Moderator", "poll.created",
	    "{\"id\":\"p1\",\"question\":\"Strategin?\",\"type\":\"single\",\"options\":"
	    "[{\"id\":\"o1\",\"text\":\"Ja!\"},{\"id\":\"o2\",\"text\":\"Nej\"},{\"id\":\"o3\","
	    "\"text\":\"Det beror på\"}],\"anonymity\":\"anonymous\",\"results\":\"live\"}");
	add(l, "i_asa", "Åsa", "poll.answered",
	    "{\"poll\":\"p1\",\"anonymity\":\"anonymous\",\"results\":\"live\",\"answer\":\"o1\","
	    "\"prev\":null,\"first\":true}");
	add(l, "i_bo", "Bo", "poll.answered",
	    "{\"poll\":\"p1\",\"anonymity\":\"anonymous\",\"results\":\"live\",\"answer\":\"o3\","
	    "\"prev\":null,\"first\":true}");
	add(l, "i_asa", "Åsa", "poll.answered",
	    "{\"poll\":\"p1\",\"anonymity\":\"anonymous\",\"results\":\"live\",\"answer\":\"o3\","
	    "\"prev\":\"o1\",\"first\":false}");
	add(l, "i_mod", "Moderator", "poll.created",
	    "{\"id\":\"p2\",\"question\":\"Ett ord?\",\"type\":\"text\",\"options\":[],"
	    "\"anonymity\":\"named\",\"results\":\"closed\"}");
	add(l, "i_asa", "Åsa", "poll.answered",
	    "{\"poll\":\"p2\",\"anonymity\":\"named\",\"results\":\"closed\",\"answer\":\"lärorikt\","
	    "\"prev\":null,\"first\":true}");
	add(l, "i_bo", "Bo", "poll.answered",
	    "{\"poll\":\"p2\",\"anonymity\":\"named\",\"results\":\"closed\",\"answer\":\"lärorikt\","
	    "\"prev\":null,\"first\":true}");
	add(l, "i_mod", "Moderator", "round.opened",
	    "{\"id\":\"rd1\",\"kind\":\"checkin\",\"prompt\":\"Hej!\"}");
	add(l, "i_bo", "Bo", "round.answered", "{\"round\":\"rd1\",\"text\":\"Första\"}");
	add(l, "i_bo", "Bo", "round.answered", "{\"round\":\"rd1\",\"text\":\"Andra\"}");
	add(l, "i_asa", "Åsa", "hand.raised", "{\"identity\":\"i_asa\",\"name\":\"Åsa\"}");
	add(l, "i_bo", "Bo", "hand.raised", "{\"identity\":\"i_bo\",\"name\":\"Bo\"}");
	add(l, "i_mod", "Moderator", "speaker.changed",
	    "{\"identity\":\"i_asa\",\"name\":\"Åsa\",\"prev\":\"\"}");
	add(l, "i_asa", "Åsa", "thread.created",
	    "{\"id\":\"th1\",\"title\":\"Dialogkort\",\"text\":\"Hur?\",\"mentions\":[]}");
	add(l, "i_bo", "Bo", "post.created",
	    "{\"id\":\"m1\",\"thread\":\"th1\",\"text\":\"Så här\",\"mentions\":[]}");
	add(l, "i_bo", "Bo", "post.edited",
	    "{\"id\":\"m1\",\"thread\":\"th1\",\"text\":\"Så här gjorde vi\",\"prev\":{\"text\":\"Så här\"},"
	    "\"by_moderator\":false}");
	add(l, "i_asa", "Åsa", "reaction.changed", "{\"target\":21,\"emoji\":\"👍\",\"on\":true}");
}

static void test_state(void **state)
{
	(void)state;
	struct log l = { .n = 0 };
	meeting_log(&l);
	struct meeting *m = replay(&l);
	assert_string_equal(m->title, "Nätverksträff");
	assert_int_equal(m->nitems, 2);
	assert_string_equal(m->current, "a2");
	assert_int_equal(m->next_item, 3);
	struct mt_poll *p = meeting_poll(m, "p1");
	assert_non_null(p);
	assert_int_equal(p->nballots, 2); /* Åsa changed her answer: still one ballot */
	json_t *r = meeting_poll_results(p);
	assert_int_equal(json_integer_value(json_object_get(r, "voters")), 2);
	json_t *counts = json_object_get(r, "counts");
	assert_int_equal(json_integer_value(json_object_get(counts, "o1")), 0);
	assert_int_equal(json_integer_value(json_object_get(counts, "o3")), 2);
	assert_null(json_object_get(r, "ballots")); /* anonymous: aggregates only */
	json_decref(r);
	r = meeting_poll_results(meeting_poll(m, "p2"));
	json_t *ans = json_array_get(json_object_get(r, "answers"), 0);
	assert_string_equal(json_string_value(json_object_get(ans, "text")), "lärorikt");
	assert_int_equal(json_integer_value(json_object_get(ans, "count")), 2);
	assert_int_equal(json_array_size(json_object_get(r, "ballots")), 2);
	json_decref(r);
	struct mt_round *rd = meeting_round(m, "rd1");
	assert_int_equal(rd->nanswers, 1);
	assert_string_equal(rd->answers[0].text, "Andra");
	assert_int_equal(json_array_size(m->hands), 1); /* Åsa got the word */
	assert_string_equal(m->speaker, "i_asa");
	struct mt_post *post = meeting_post(m, "m1");
	assert_string_equal(post->text, "Så här gjorde vi");
	assert_int_equal(json_array_size(post->history), 1);
	assert_int_equal(json_array_size(json_object_get(meeting_target(m, 21)->reactions, "👍")), 1);
	assert_null(meeting_poll(m, "p9"));
	assert_null(meeting_post(m, "m9"));

	/* a decision not yet committed counts in the results, and is
	 * forgotten when its write fails */
	struct mt_ballot *b = meeting_ballot(p, "i_bo");
	b->decided = json_string("o2");
	r = meeting_poll_results(p);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "counts"), "o2")), 1);
	json_decref(r);
	meeting_forget_decisions(m);
	assert_null(b->decided);

	/* invariant 1: a replay gives the same state, byte for byte */
	struct meeting *m2 = replay(&l);
	json_t *x1 = meeting_export_json(m), *x2 = meeting_export_json(m2);
	assert_true(json_equal(x1, x2));
	json_decref(x1);
	json_decref(x2);
	meeting_free(m2);
	meeting_free(m);
	free_log(&l);
}

static void test_export_never_names_anonymous_voters(void **state)
{
	(void)state;
	struct log l = { .n = 0 };
	meeting_log(&l);
	struct meeting *m = replay(&l);
	json_t *x = meeting_export_json(m);
	json_t *polls = json_object_get(x, "polls");
	char *p1 = json_dumps(json_array_get(polls, 0), 0);
	/* Åsa and Bo are named elsewhere in the export (rounds, threads),
	 * never in the anonymous poll */
	assert_null(strstr(p1, "i_asa"));
	assert_null(strstr(p1, "i_bo"));
	assert_null(strstr(p1, "Åsa"));
	free(p1);
	char *p2 = json_dumps(json_array_get(polls, 1), 0);
	assert_non_null(strstr(p2, "Åsa")); /* named poll: who answered what */
	free(p2);
	size_t len;
	char *md = meeting_export_markdown(m, &len);
	assert_non_null(md);
	assert_int_equal(strlen(md), len);
	assert_non_null(strstr(md, "# Nätverksträff"));
	assert_non_null(strstr(md, "| ▶ | 09:30 | 15 | Incheckning |"));
	/* the agenda is ordered by start time */
	assert_true(strstr(md, "Incheckning") < strstr(md, "Lunch"));
	assert_non_null(strstr(md, "- Det beror på: 2"));
	assert_non_null(strstr(md, "- lärorikt: 2"));
	assert_non_null(strstr(md, "### Check-in: Hej!"));
	assert_non_null(strstr(md, "Så här gjorde vi _(edited)_"));
	/* anonymous poll section: between its heading and the next one */
	char *a = strstr(md, "### Strategin?"), *e = strstr(md, "### Ett ord?");
	assert_true(a && e && a < e);
	*e = 0;
	assert_null(strstr(a, "Åsa"));
	free(md);
	json_decref(x);
	meeting_free(m);
	free_log(&l);
}

/* event.c, §9.4: an anonymous answer reaches nobody but its answerer with
 * the answerer's identity; a closed-results answer reaches participants
 * as a placeholder. */
static void test_visibility(void **state)
{
	(void)state;
	struct log l = { .n = 0 };
	struct tv_event *anon = add(&l, "i_asa", "Åsa", "poll.answered",
				    "{\"poll\":\"p1\",\"anonymity\":\"anonymous\",\"results\":\"live\","
				    "\"answer\":\"o1\",\"prev\":null,\"first\":true}");
	struct tv_event *hidden = add(&l, "i_asa", "Åsa", "poll.answered",
				      "{\"poll\":\"p2\",\"anonymity\":\"anonymous\",\"results\":\"closed\","
				      "\"answer\":\"o2\",\"prev\":null,\"first\":true}");
	struct tv_event *named = add(&l, "i_asa", "Åsa", "poll.answered",
				     "{\"poll\":\"p3\",\"anonymity\":\"named\",\"results\":\"closed\","
				     "\"answer\":4,\"prev\":null,\"first\":true}");
	struct tv_viewer self = { "i_asa", TV_ROLE_PARTICIPANT, "" };
	struct tv_viewer mod = { "i_mod", TV_ROLE_MODERATOR, "" };
	struct tv_viewer peer = { "i_bo", TV_ROLE_PARTICIPANT, "" };
	struct tv_viewer obs = { "i_obs", TV_ROLE_OBSERVER, "" };
	assert_int_equal(event_audience(anon, &self), TV_AUD_ALL);
	assert_int_equal(event_audience(anon, &mod), TV_AUD_NO_AUTHOR);
	assert_int_equal(event_audience(anon, &peer), TV_AUD_NO_AUTHOR);
	assert_int_equal(event_audience(hidden, &mod), TV_AUD_NO_AUTHOR);
	assert_int_equal(event_audience(hidden, &peer), TV_AUD_PLACEHOLDER);
	assert_int_equal(event_audience(hidden, &obs), TV_AUD_PLACEHOLDER);
	assert_int_equal(event_audience(named, &mod), TV_AUD_ALL);
	assert_int_equal(event_audience(named, &peer), TV_AUD_PLACEHOLDER);
	const struct { struct tv_event *e; struct tv_viewer *v; } cases[] = {
		{ anon, &mod }, { anon, &peer }, { hidden, &mod }, { hidden, &peer },
		{ hidden, &obs }, { named, &peer },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct tv_buf *b = event_wire(cases[i].e, event_audience(cases[i].e, cases[i].v));
		assert_non_null(b);
		char *s = strndup(tv_buf_data(b), b->len);
		if (strstr(s, "i_asa") || strstr(s, "Åsa"))
			fail_msg("case %zu leaks the answerer: %s", i, s);
		if (cases[i].v != &mod && cases[i].e != anon && strstr(s, "answer\""))
			fail_msg("case %zu shows a closed answer: %s", i, s);
		free(s);
	}
	free_log(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalise),
		cmocka_unit_test(test_search_query),
		cmocka_unit_test(test_state),
		cmocka_unit_test(test_export_never_names_anonymous_voters),
		cmocka_unit_test(test_visibility),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
