/*
 * scenario_write.c: durable write throughput: W writers spread over R
 * rooms, each sending chat.send in closed loop (or --rate per writer).
 *
 * Responsible for configuring loadgen without subscribers (the writers are
 * members of their room, so they also receive its events, as real clients
 * would) and reporting acks/s and ack latency. Every ack is a message
 * committed with the daemon's configured synchronous mode. Not
 * responsible for the load itself (loadgen.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenarios.h"

int scenario_write(const struct bench_opts *o, struct ssl_ctx_st *ctx, struct report *r)
{
	struct loadgen_cfg cfg;
	struct loadgen_result *res = calloc(1, sizeof(*res));
	char (*ids)[32] = calloc((size_t)o->rooms, sizeof(*ids));
	char (*codes)[16] = calloc((size_t)o->rooms, sizeof(*codes));
	char mode[96];
	int rc = -1;

	memset(&cfg, 0, sizeof(cfg));
	cfg.o = o;
	cfg.subs = 0;
	cfg.pubs = o->writers;
	cfg.rooms = o->rooms;
	cfg.rate = o->rate;
	cfg.size = o->size;
	cfg.duration = o->duration;
	cfg.settle = o->settle;
	cfg.drain = o->drain;
	cfg.timeout = o->timeout;
	cfg.room_id = ids;
	cfg.code = codes;
	if (res == NULL || ids == NULL || codes == NULL || o->node || o->writers < 1) {
		fprintf(stderr, "tavla-bench: write needs --target tavla and --writers >= 1\n");
		goto out;
	}
	if (scenario_make_rooms(o, ctx, o->rooms, ids, codes) < 0)
		goto out;
	snprintf(mode, sizeof(mode), "%d writers over %d rooms, %s, %d B", o->writers,
	         o->rooms, o->rate > 0 ? "open loop" : "closed loop", o->size);
	report_text(r, "setup", "setup", mode);
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
