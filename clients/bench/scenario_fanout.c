/*
 * scenario_fanout.c: one room, S subscribers, P publishers; against tavlad
 * or against the Node broadcast baseline (--target node).
 *
 * Responsible for configuring loadgen for the fan-out case (one room; the
 * room is created by the moderator session in tavla mode, and nothing is
 * prepared in node mode, where every connection simply joins the
 * broadcast) and reporting delivered events/s, acks/s, latency, loss and
 * duplicates. Not responsible for the load itself (loadgen.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenarios.h"

int scenario_fanout(const struct bench_opts *o, struct ssl_ctx_st *ctx, struct report *r)
{
	struct loadgen_cfg cfg;
	struct loadgen_result *res = calloc(1, sizeof(*res));
	char ids[1][32], codes[1][16];
	char mode[96];
	int rc;

	memset(&cfg, 0, sizeof(cfg));
	cfg.o = o;
	cfg.node = o->node;
	cfg.subs = o->subs;
	cfg.pubs = o->pubs;
	cfg.rooms = 1;
	cfg.rate = o->rate;
	cfg.size = o->size;
	cfg.duration = o->duration;
	cfg.settle = o->settle;
	cfg.drain = o->drain;
	cfg.timeout = o->timeout;
	cfg.room_id = ids;
	cfg.code = codes;
	if (res == NULL || o->pubs < 1 || o->duration <= 0) {
		fprintf(stderr, "tavla-bench: fanout needs --pubs >= 1 and --duration > 0\n");
		free(res);
		return -1;
	}
	if (!o->node && scenario_make_rooms(o, ctx, 1, ids, codes) < 0) {
		free(res);
		return -1;
	}
	snprintf(mode, sizeof(mode), "%s, %d subs, %d pubs, %s, %d B", o->target,
	         o->subs, o->pubs, o->rate > 0 ? "open loop" : "closed loop", o->size);
	report_text(r, "setup", "setup", mode);
	if (o->rate > 0)
		report_num(r, "rate_per_pub", "offered rate per publisher", o->rate, "1/s");
	report_begin(r, o->pid);
	rc = loadgen_run(&cfg, ctx, res);
	report_end(r, o->pid);
	if (rc == 0 && !res->aborted)
		scenario_report_load(r, &cfg, res);
	rc = rc == 0 && !res->aborted ? 0 : -1;
	free(res);
	return rc;
}
