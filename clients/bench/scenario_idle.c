/*
 * scenario_idle.c: N idle TLS WebSocket connections; how fast they are
 * accepted and what each costs the daemon in resident memory.
 *
 * Responsible for ramping the connections as fast as --ramp allows (that
 * many handshakes in flight per thread), timing each from connect() to
 * its hello (tavla) or 101 (node), sampling the daemon's VmRSS before,
 * when all are up, and after --hold seconds, and closing them. Not
 * responsible for any traffic after hello: the connections stay silent
 * (tavlad pings after idle_timeout, which tls_ws_conn answers).
 *
 * Lifecycle of one connection: IDLE -[tick: twc_connect]-> CONNECTING
 *   -[hello / open: mark_up]-> UP -[hold over: finish -> twc_abort]-> closed.
 *
 * Invariants:
 *  1. The RSS samples are taken by whichever worker first sees the
 *     condition (compare-and-swap on the phase), so each is taken once.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "histogram.h"
#include "msgscan.h"
#include "procstat.h"
#include "scenarios.h"
#include "workers.h"

enum { PH_RAMP, PH_HOLD, PH_DONE };

struct idle_shared {
	const struct bench_opts *o;
	atomic_int up, failed, phase;
	long long begin_us;
	atomic_llong all_up_us;
	struct proc_sample rss_up, rss_hold;
};

struct idle_conn {
	struct twc c;
	struct idle_worker *w;
	long long t0;
	uint8_t up, closed, started;
};

struct idle_worker {
	struct idle_shared *sh;
	struct worker *wk;
	struct idle_conn *conns;
	int n, next, inflight, finishing;
	uv_timer_t tick;
	struct histogram hs;
	long long last_up_us;
	int failed;
};

static void mark_up(struct idle_conn *k)
{
	if (k->up)
		return;
	k->up = 1;
	k->w->inflight--;
	k->w->last_up_us = procstat_now_us();
	histogram_record(&k->w->hs, k->w->last_up_us - k->t0);
	atomic_fetch_add(&k->w->sh->up, 1);
}

static void on_open(struct twc *c)
{
	struct idle_conn *k = c->user;

	if (k->w->sh->o->node)
		mark_up(k);
}

static void on_item(void *u, const struct msg_view *v)
{
	if (span_eq(v->type, "hello"))
		mark_up(u);
}

static void on_message(struct twc *c, const char *data, size_t len)
{
	struct idle_conn *k = c->user;

	if (!k->up)
		msgscan_frame(data, len, on_item, k);
}

static void on_close(struct twc *c, int code, int err)
{
	struct idle_conn *k = c->user;

	k->closed = 1;
	if (!k->up) {
		k->w->inflight--;
		if (++k->w->failed <= 3)
			fprintf(stderr, "tavla-bench: connection failed (close %d, error %d %s)\n",
			        code, err, err < 0 && err > -10000 ? uv_err_name(err) : "");
		atomic_fetch_add(&k->w->sh->failed, 1);
	}
}

static const struct twc_cbs cbs = { on_open, on_message, on_close };

static void on_timer_closed(uv_handle_t *h)
{
}

static void finish(struct idle_worker *w)
{
	if (w->finishing)
		return;
	w->finishing = 1;
	for (int i = 0; i < w->n; i++)
		if (w->conns[i].started && !w->conns[i].closed)
			twc_abort(&w->conns[i].c, 0);
	uv_close((uv_handle_t *)&w->tick, on_timer_closed);
}

static void on_tick(uv_timer_t *t)
{
	struct idle_worker *w = t->data;
	struct idle_shared *sh = w->sh;
	const struct bench_opts *o = sh->o;
	long long now = procstat_now_us();
	int ph = atomic_load(&sh->phase);

	while (w->next < w->n && w->inflight < o->ramp) {
		struct idle_conn *k = &w->conns[w->next++];

		k->w = w;
		k->t0 = procstat_now_us();
		if (twc_connect(&k->c, w->wk->tl, &cbs, k) < 0) {
			atomic_fetch_add(&sh->failed, 1);
			continue;
		}
		k->started = 1;
		w->inflight++;
	}
	if (ph == PH_RAMP && atomic_load(&sh->up) + atomic_load(&sh->failed) >= o->conns) {
		int expect = PH_RAMP;

		if (atomic_compare_exchange_strong(&sh->phase, &expect, PH_HOLD)) {
			atomic_store(&sh->all_up_us, now);
			procstat_sample(o->pid, &sh->rss_up);
		}
	} else if (ph == PH_RAMP && now - sh->begin_us > (long long)(o->timeout * 1e6)) {
		int expect = PH_RAMP;

		fprintf(stderr, "tavla-bench: only %d of %d connections up after %.0f s\n",
		        atomic_load(&sh->up), o->conns, o->timeout);
		if (atomic_compare_exchange_strong(&sh->phase, &expect, PH_HOLD)) {
			atomic_store(&sh->all_up_us, now);
			procstat_sample(o->pid, &sh->rss_up);
		}
	} else if (ph == PH_HOLD &&
	           now >= atomic_load(&sh->all_up_us) + (long long)(o->hold * 1e6)) {
		int expect = PH_HOLD;

		if (atomic_compare_exchange_strong(&sh->phase, &expect, PH_DONE))
			procstat_sample(o->pid, &sh->rss_hold);
		finish(w);
	} else if (ph == PH_DONE) {
		finish(w);
	}
}

static void worker_start(struct worker *wk)
{
	struct idle_shared *sh = wk->shared;
	struct idle_worker *w = calloc(1, sizeof(*w));
	int n = sh->o->conns / wk->count + (wk->index < sh->o->conns % wk->count);

	wk->state = w;
	w->sh = sh;
	w->wk = wk;
	w->n = n;
	w->conns = calloc((size_t)n + 1, sizeof(*w->conns));
	histogram_init(&w->hs);
	uv_timer_init(&wk->loop, &w->tick);
	w->tick.data = w;
	uv_timer_start(&w->tick, on_tick, 0, 2);
}

int scenario_idle(const struct bench_opts *o, struct ssl_ctx_st *ctx, struct report *r)
{
	struct idle_shared sh;
	struct worker *ws = NULL;
	struct histogram hs;
	struct proc_sample before;
	long long last_up = 0;
	int nt = o->threads < o->conns ? o->threads : (o->conns > 0 ? o->conns : 1);
	int up;
	double t_all;
	char setup[96];

	memset(&sh, 0, sizeof(sh));
	sh.o = o;
	histogram_init(&hs);
	snprintf(setup, sizeof(setup), "%s, %d connections, %d handshakes in flight per thread",
	         o->target, o->conns, o->ramp);
	report_text(r, "setup", "setup", setup);
	procstat_sample(o->pid, &before);
	report_begin(r, o->pid);
	sh.begin_us = procstat_now_us();
	workers_run(o, ctx, nt, worker_start, &sh, &ws);
	report_end(r, o->pid);
	for (int i = 0; ws != NULL && i < nt; i++) {
		struct idle_worker *w = ws[i].state;

		histogram_merge(&hs, &w->hs);
		if (w->last_up_us > last_up)
			last_up = w->last_up_us;
		free(w->conns);
		free(w);
	}
	if (ws != NULL)
		workers_free(ws, nt);
	up = atomic_load(&sh.up);
	t_all = last_up ? (double)(last_up - sh.begin_us) / 1e6 : 0;
	report_num(r, "conns_up", "connections up (hello received)", up, NULL);
	report_num(r, "conns_failed", "connections failed", atomic_load(&sh.failed), NULL);
	report_num(r, "connect_all_s", "time to all connected", t_all, "s");
	report_num(r, "connect_rate", "connect rate", t_all > 0 ? up / t_all : 0, "1/s");
	report_latency(r, "handshake", "connect to hello", &hs);
	if (before.ok && sh.rss_up.ok && sh.rss_hold.ok && up > 0) {
		report_num(r, "rss_before_kb", "daemon RSS before", (double)before.rss_kb, "KiB");
		report_num(r, "rss_up_kb", "daemon RSS all connected", (double)sh.rss_up.rss_kb, "KiB");
		report_num(r, "rss_hold_kb", "daemon RSS after hold", (double)sh.rss_hold.rss_kb, "KiB");
		report_num(r, "rss_per_conn_kb", "daemon RSS per connection (after hold)",
		           (double)(sh.rss_hold.rss_kb - before.rss_kb) / up, "KiB");
	}
	return up > 0 ? 0 : -1;
}
