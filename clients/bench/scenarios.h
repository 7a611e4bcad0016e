/*
 * scenarios.h: the subcommands of tavla-bench. Each runs one bounded
 * experiment against the server described by the options and fills a
 * report; main() prints it.
 *
 * Every scenario returns 0 when it produced figures (possibly with
 * failures counted in them) and -1 when it could not run at all (after
 * printing why to stderr).
 */
#ifndef TV_BENCH_SCENARIOS_H
#define TV_BENCH_SCENARIOS_H

#include "loadgen.h"
#include "options.h"
#include "report.h"

struct ssl_ctx_st;

int scenario_fanout(const struct bench_opts *o, struct ssl_ctx_st *ctx, struct report *r);
int scenario_write(const struct bench_opts *o, struct ssl_ctx_st *ctx, struct report *r);
int scenario_rooms(const struct bench_opts *o, struct ssl_ctx_st *ctx, struct report *r);
int scenario_idle(const struct bench_opts *o, struct ssl_ctx_st *ctx, struct report *r);
int scenario_resume(const struct bench_opts *o, struct ssl_ctx_st *ctx, struct report *r);
int scenario_suggest(const struct bench_opts *o, struct ssl_ctx_st *ctx, struct report *r);

/* Shared by fanout and write (scenario_fanout.c): logs in as the
 * moderator and creates n workshop rooms, filling ids and codes (arrays of
 * n). Returns 0 or -1 after printing the reason. */
int scenario_make_rooms(const struct bench_opts *o, struct ssl_ctx_st *ctx, int n,
                        char (*ids)[32], char (*codes)[16]);

/* Adds the rows of a loadgen run (throughput, latency, loss, failures). */
void scenario_report_load(struct report *r, const struct loadgen_cfg *cfg,
                          const struct loadgen_result *res);

#endif
