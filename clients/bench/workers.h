/*
 * workers.h: N libuv loops in N threads, each owning a share of the
 * connections of a scenario.
 *
 * Responsible for creating each thread's loop and its tls_ws_conn loop
 * state, running a scenario's start function on it, running the loop until
 * every handle is closed, and closing the loop. Not responsible for
 * coordination between workers: scenarios share a struct of C11 atomics
 * and each worker polls it from its own timer.
 *
 * Invariants:
 *  1. A worker's loop, twc_loop and everything started on them are touched
 *     only by that worker's thread.
 *  2. workers_run() returns after every thread has joined and every loop
 *     closed (uv_loop_close() == 0, else it reports the leak).
 */
#ifndef TV_BENCH_WORKERS_H
#define TV_BENCH_WORKERS_H

#include <uv.h>

#include "options.h"
#include "tls_ws_conn.h"

struct worker {
	int index, count;
	uv_loop_t loop;
	struct twc_loop *tl; /* owned */
	void *shared;        /* the scenario's, borrowed */
	void *state;         /* the scenario's per-worker state */
};

/* Runs n workers, each calling start(w) on its own thread and loop; the
 * loop then runs until start's handles are all closed. Returns 0, or -1 if
 * a thread could not start (the others still run to completion). */
int workers_run(const struct bench_opts *o, struct ssl_ctx_st *ctx, int n,
                void (*start)(struct worker *w), void *shared,
                struct worker **out_workers);
/* Frees the array workers_run() returned (after the caller read states). */
void workers_free(struct worker *ws, int n);

#endif
