/*
 * scenario_rooms.c: many rooms at once: R rooms, S subscribers and P
 * publishers spread evenly over them (a national dialogue session of many
 * breakout tables), fixed rate per publisher or closed loop.
 *
 * Responsible for configuring loadgen for several rooms (created by the
 * moderator session) and reporting delivered events/s, acks/s and latency
 * over all rooms. Loss is checked per publisher and per room seq; the
 * "acked but never delivered" count needs one room and is not reported
 * here. Not responsible for the load itself (loadgen.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenarios.h"

int scenario_rooms(const struct bench_opts *o, struct ssl_ctx_st *ctx, struct report *r)
{
	struct loadgen_cfg cfg;
	struct loadgen_result *res = calloc(1, sizeof(*res));
	char (*ids)[32] = calloc((size_t)(o->rooms > 0 ? o->rooms : 1), sizeof(*ids));
	char (*codes)[16] = calloc((size_t)(o->rooms > 0 ? o->rooms : 1), sizeof(*codes));
	char mode[128];
	int rc = -1;

	memset(&cfg, 0, sizeof(cfg));
	cfg.o = o;
	cfg.subs = o->subs;
	cfg.pubs = o->pubs;
	cfg.rooms = o->rooms;
	cfg.rate = o->rate;
	cfg.size = o->size;
	cfg.duration = o->duration;
	cfg.settle = o->settle;
	cfg.drain = o->drain;
	cfg.timeout = o->timeout;
	cfg.room_id = ids;
	cfg.code = codes;
	if (res == NULL || ids == NULL || codes == NULL || o->node || o->rooms < 1 ||
	    o->pubs < o->rooms || o->duration <= 0) {
		fprintf(stderr, "tavla-bench: rooms needs --target tavla, --rooms >= 1, "
		        "--pubs >= --rooms (a publisher per room) and --duration > 0\n");
		goto out;
	}
	if (scenario_make_rooms(o, ctx, o->rooms, ids, codes) < 0)
		goto out;
	snprintf(mode, sizeof(mode), "%d rooms, %d subs, %d pubs, %s, %d B", o->rooms, o->subs,
	         o->pubs, o->rate > 0 ? "open loop" : "closed loop", o->size);
	report_text(r, "setup", "setup", mode);
	if (o->rate > 0)
		report_num(r, "rate_per_pub", "offered rate per publisher", o->rate, "1/s");
	report_begin(r, o->pid);
	rc = loadgen_run(&cfg, ctx, res);
	report_end(r, o->pid);
	if (rc == 0 && !res->aborted)
		scenario_report_load(r, &cfg, res);
	rc = rc == 0 && !res->aborted ? 0 : -1;
out:
	free(res);
	free(ids);
	free(codes);
	return rc;
}
