/*
 * scenario_common.c: what the fanout and write scenarios share: creating
 * rooms through the moderator session, and the report rows of a loadgen
 * run.
 *
 * Responsible for setup before the measured phase and for naming the
 * figures (keys are the JSON names bench/run.sh and RESULTS.md use). Not
 * responsible for the load itself (loadgen.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modsess.h"
#include "scenarios.h"

int scenario_make_rooms(const struct bench_opts *o, struct ssl_ctx_st *ctx, int n,
                        char (*ids)[32], char (*codes)[16])
{
	struct modsess m;
	char err[256], title[64];

	if (modsess_open(&m, o, ctx, err, sizeof(err)) < 0) {
		fprintf(stderr, "tavla-bench: %s\n", err);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		snprintf(title, sizeof(title), "bench %s %d", o->scenario, i);
		if (modsess_room_create(&m, title, ids[i], sizeof(ids[i]), codes[i],
		                        sizeof(codes[i]), err, sizeof(err)) < 0) {
			fprintf(stderr, "tavla-bench: %s\n", err);
			modsess_close(&m);
			return -1;
		}
	}
	modsess_close(&m);
	return 0;
}

/* Adds the rows common to fanout and write. */
void scenario_report_load(struct report *r, const struct loadgen_cfg *cfg,
                        const struct loadgen_result *res)
{
	report_num(r, "ramp_s", "ramp (all connected and joined)", res->ramp_s, "s");
	report_num(r, "window_s", "load window", res->window_s, "s");
	report_num(r, "sent", "messages sent", (double)res->sent, NULL);
	report_num(r, "acks", "acks received", (double)res->acks, NULL);
	report_num(r, "acks_per_s", "acks/s (in window)",
	           (double)res->acks_window / res->window_s, "1/s");
	report_latency(r, "ack", "ack latency", &res->ack);
	if (cfg->subs > 0) {
		report_num(r, "delivered", "events delivered to subscribers",
		           (double)res->delivered, NULL);
		report_num(r, "delivered_per_s", "delivered events/s (in window)",
		           (double)res->delivered_window / res->window_s, "1/s");
		report_latency(r, "lat", "delivery latency", &res->lat);
		report_num(r, "loss_gaps", "loss: per-publisher sequence gaps", (double)res->gaps, NULL);
		report_num(r, "missing", "acked messages not delivered", (double)res->missing, NULL);
		report_num(r, "dups", "duplicates (per publisher)", (double)res->dups, NULL);
		if (!cfg->node) {
			report_num(r, "seq_gaps", "room seq gaps", (double)res->seq_gaps, NULL);
			report_num(r, "seq_dups", "room seq duplicates", (double)res->seq_dups, NULL);
		}
	}
	report_num(r, "errors", "error replies / send failures", (double)res->errors, NULL);
	report_num(r, "failed_conns", "connections that never got ready", (double)res->failed, NULL);
	report_num(r, "dropped_conns", "connections closed by the server", (double)res->dropped, NULL);
	if (res->dropped)
		report_num(r, "last_close_code", "last close code", res->last_close_code, NULL);
}
