/*
 * scenario_suggest.c: cluster suggestions over the wire: a workshop room
 * with N notes, then `cluster.suggest` for all of them, timed from request
 * to reply, several times.
 *
 * Responsible for filling a room with --notes notes (generated from a
 * small Swedish vocabulary of regional-development themes, so the
 * clustering has real work: shared stems, compounds, varied wording),
 * creating a synthesis over them, and timing --reps suggestions for it
 * (the daemon computes them on its thread pool; the time is what a
 * moderator waits, TLS and JSON included). Not responsible for the
 * quality of the suggestions (tests/unit/test_cluster.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "histogram.h"
#include "modsess.h"
#include "scenarios.h"

static const char *const subjects[] = {
	"kollektivtrafiken", "bostäderna", "hyresrätter", "bredbandet", "vården",
	"kompetensförsörjningen", "skolan", "näringslivet", "besöksnäringen",
	"energiomställningen", "kulturlivet", "föreningslivet", "landsbygden",
	"samverkan mellan kommuner", "ungdomarnas inflytande", "äldreomsorgen",
};
static const char *const verbs[] = {
	"behöver", "måste få", "saknar", "kräver", "förtjänar", "borde få",
};
static const char *const objects[] = {
	"mer resurser", "bättre planering", "fler mötesplatser", "långsiktig finansiering",
	"digitala lösningar", "tätare turer", "fler utbildningsplatser", "lokala initiativ",
	"tydligare ansvar", "kortare handläggningstider", "mer samarbete", "nya arbetssätt",
};

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int scenario_suggest(const struct bench_opts *o, struct ssl_ctx_st *ctx, struct report *r)
{
	struct modsess m;
	char err[256], room[32], code[16], setup[128];
	json_t *res, *args;
	struct histogram h;
	int rc = -1;

	if (o->notes < 2 || o->notes > 4096 || o->reps < 1) {
		fprintf(stderr, "tavla-bench: suggest needs 2 <= --notes <= 4096 and --reps >= 1\n");
		return -1;
	}
	if (modsess_open(&m, o, ctx, err, sizeof(err)) < 0) {
		fprintf(stderr, "tavla-bench: %s\n", err);
		return -1;
	}
	if (modsess_room_create(&m, "bench suggest", room, sizeof(room), code, sizeof(code),
	                        err, sizeof(err)) < 0)
		goto out;
	args = json_pack("{s:s}", "room", room);
	rc = modsess_call(&m, "join", args, &res, err, sizeof(err));
	json_decref(args);
	if (rc < 0)
		goto out;
	args = json_pack("{s:s, s:s, s:s, s:[s]}", "room", room, "title", "Vad behöver regionen?",
	                 "layout", "columns", "columns", "Idéer");
	rc = modsess_call(&m, "board.create", args, &res, err, sizeof(err));
	json_decref(args);
	if (rc < 0)
		goto out;
	double t0 = now_s();
	for (int i = 0; i < o->notes; i++) {
		char text[200];
		/* Deterministic, varied: the same run makes the same notes. */
		unsigned k = (unsigned)i * 2654435761u;
		snprintf(text, sizeof(text), "%s %s %s",
		         subjects[k % (sizeof subjects / sizeof *subjects)],
		         verbs[(k >> 8) % (sizeof verbs / sizeof *verbs)],
		         objects[(k >> 16) % (sizeof objects / sizeof *objects)]);
		args = json_pack("{s:s, s:s, s:s}", "room", room, "board", "b1", "text", text);
		rc = modsess_call(&m, "note.add", args, &res, err, sizeof(err));
		json_decref(args);
		if (rc < 0)
			goto out;
	}
	double fill_s = now_s() - t0;
	args = json_pack("{s:s, s:s}", "room", room, "name", "bench");
	rc = modsess_call(&m, "synthesis.create", args, &res, err, sizeof(err));
	json_decref(args);
	if (rc < 0)
		goto out;
	snprintf(setup, sizeof(setup), "one room, %d notes, %d suggestions in a row", o->notes,
	         o->reps);
	report_text(r, "setup", "setup", setup);
	report_num(r, "fill_s", "time to post the notes (one at a time)", fill_s, "s");
	histogram_init(&h);
	long suggestions = 0, considered = 0;
	report_begin(r, o->pid);
	for (int i = 0; i < o->reps; i++) {
		args = json_pack("{s:s, s:s}", "room", room, "scope", "s1");
		double t = now_s();
		rc = modsess_call(&m, "cluster.suggest", args, &res, err, sizeof(err));
		double dt = now_s() - t;
		json_decref(args);
		if (rc < 0)
			goto out;
		histogram_record(&h, (int64_t)(dt * 1e6));
		suggestions = (long)json_array_size(json_object_get(res, "suggestions"));
		considered = (long)json_integer_value(json_object_get(res, "considered"));
	}
	report_end(r, o->pid);
	report_num(r, "considered", "notes considered", (double)considered, NULL);
	report_num(r, "suggestions", "suggestions made", (double)suggestions, NULL);
	report_latency(r, "suggest", "cluster.suggest, request to reply", &h);
	rc = considered == o->notes ? 0 : -1;
	if (rc < 0)
		fprintf(stderr, "tavla-bench: the daemon considered %ld of %d notes\n", considered,
		        o->notes);
out:
	if (rc < 0 && err[0])
		fprintf(stderr, "tavla-bench: %s\n", err);
	modsess_close(&m);
	return rc;
}
