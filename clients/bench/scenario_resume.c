/*
 * scenario_resume.c: N clients that were away while M events were posted
 * come back at once; how long until every one of them has caught up.
 *
 * Responsible for three phases:
 *   A. JOIN: N clients join one room by code (following complete:false
 *      pages), keep their token and the last seq they applied, wait
 *      --settle seconds for the other joins to reach them, disconnect;
 *   B. POST: the moderator session posts M chat messages (not timed);
 *   C. RESUME: all N reconnect at once (at most --ramp handshakes in flight
 *      per thread), send resume {token} then join {room, since}, page on,
 *      and are caught up when they have applied the last posted seq.
 * Reported: time from the start of phase C until the last client caught
 * up, and the per-client distribution. Not responsible for the daemon's
 * paging policy (hello's limits.page), which the clients just follow.
 *
 * Lifecycle of a client in phase C: IDLE -[tick]-> CONNECTING -[hello:
 * send resume]-> RESUMING -[resume reply: send_join]-> JOINING
 * -[events reach target: caught_up]-> DONE -[finish]-> closed.
 *
 * Invariants:
 *  1. last_seq only grows; a client is caught up exactly once.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "histogram.h"
#include "modsess.h"
#include "msgscan.h"
#include "procstat.h"
#include "scenarios.h"
#include "workers.h"

struct rs_shared {
	const struct bench_opts *o;
	int phase_c;             /* 0: phase A, 1: phase C */
	char room_id[32], code[16];
	long long target;        /* last posted seq (phase C) */
	struct rs_client *clients; /* all N, indexed globally */
	atomic_int ready, failed, abort;
	atomic_llong settle_until;
	long long begin_us;
};

struct rs_client {
	struct twc c;
	struct rs_worker *w;
	char token[48];
	long long last_seq;
	long long done_us;
	uint32_t idx;
	uint8_t ready, closed, started;
};

struct rs_worker {
	struct rs_shared *sh;
	struct worker *wk;
	int first, n, next, inflight, finishing, failed;
	uv_timer_t tick;
	struct histogram hs;
	long long last_done_us;
	uint64_t seq_dups, seq_gaps, events;
	char buf[256];
};

static struct rs_client *client_at(struct rs_worker *w, int i)
{
	return &w->sh->clients[w->first + i * w->wk->count];
}

static void mark_ready(struct rs_client *k)
{
	struct rs_worker *w = k->w;

	if (k->ready)
		return;
	k->ready = 1;
	w->inflight--;
	k->done_us = procstat_now_us();
	if (w->sh->phase_c) {
		w->last_done_us = k->done_us;
		histogram_record(&w->hs, k->done_us - w->sh->begin_us);
	}
	atomic_fetch_add(&w->sh->ready, 1);
}

static void send_json(struct rs_client *k, int n)
{
	if (twc_send_text(&k->c, k->w->buf, (size_t)n) < 0)
		twc_abort(&k->c, 0);
}

static void on_item(void *u, const struct msg_view *v)
{
	struct rs_client *k = u;
	struct rs_worker *w = k->w;
	struct rs_shared *sh = w->sh;

	if (span_eq(v->type, "event")) {
		w->events++;
		if (v->seq <= k->last_seq)
			w->seq_dups++;
		else {
			if (v->seq > k->last_seq + 1)
				w->seq_gaps += (uint64_t)(v->seq - k->last_seq - 1);
			k->last_seq = v->seq;
		}
		if (sh->phase_c && k->last_seq >= sh->target)
			mark_ready(k);
	} else if (span_eq(v->type, "hello")) {
		if (!sh->phase_c)
			send_json(k, snprintf(w->buf, sizeof(w->buf),
			          "{\"op\":\"join\",\"id\":\"j\",\"code\":\"%s\",\"name\":\"r%u\"}",
			          sh->code, k->idx));
		else
			send_json(k, snprintf(w->buf, sizeof(w->buf),
			          "{\"op\":\"resume\",\"id\":\"r\",\"token\":\"%s\"}", k->token));
	} else if (span_eq(v->type, "reply")) {
		struct span tok, c;
		long long through;

		if (v->ok != 1) {
			fprintf(stderr, "tavla-bench: %.*s refused: %.*s\n", (int)v->id.len,
			        v->id.p, (int)v->error.len, v->error.p);
			twc_abort(&k->c, 0);
			return;
		}
		if (span_eq(v->id, "r")) {
			send_json(k, snprintf(w->buf, sizeof(w->buf),
			          "{\"op\":\"join\",\"id\":\"j\",\"room\":\"%s\",\"since\":%lld}",
			          sh->room_id, k->last_seq));
			return;
		}
		if (!span_eq(v->id, "j"))
			return;
		if (msgscan_str(v->result, "token", &tok) == 0 && tok.len < sizeof(k->token)) {
			memcpy(k->token, tok.p, tok.len);
			k->token[tok.len] = '\0';
		}
		if (msgscan_value(v->result, "complete", &c) == 0 && span_eq(c, "false") &&
		    msgscan_int(v->result, "through", &through) == 0)
			send_json(k, snprintf(w->buf, sizeof(w->buf),
			          "{\"op\":\"join\",\"id\":\"j\",\"room\":\"%s\",\"since\":%lld}",
			          sh->room_id, through));
		else if (!sh->phase_c)
			mark_ready(k);
		/* phase C: caught up when the events reach target (above) */
	}
}

static void on_open(struct twc *c)
{
}

static void on_message(struct twc *c, const char *data, size_t len)
{
	msgscan_frame(data, len, on_item, c->user);
}

static void on_close(struct twc *c, int code, int err)
{
	struct rs_client *k = c->user;
	struct rs_worker *w = k->w;

	k->closed = 1;
	if (!k->ready) {
		w->inflight--;
		if (++w->failed <= 3)
			fprintf(stderr, "tavla-bench: client %u failed (close %d, error %d)\n",
			        k->idx, code, err);
		atomic_fetch_add(&w->sh->failed, 1);
	}
}

static const struct twc_cbs cbs = { on_open, on_message, on_close };

static void on_timer_closed(uv_handle_t *h)
{
}

static void finish(struct rs_worker *w)
{
	if (w->finishing)
		return;
	w->finishing = 1;
	for (int i = 0; i < w->n; i++) {
		struct rs_client *k = client_at(w, i);

		if (k->started && !k->closed)
			twc_abort(&k->c, 0);
	}
	uv_close((uv_handle_t *)&w->tick, on_timer_closed);
}

static void on_tick(uv_timer_t *t)
{
	struct rs_worker *w = t->data;
	struct rs_shared *sh = w->sh;
	const struct bench_opts *o = sh->o;
	long long now = procstat_now_us(), until;

	if (atomic_load(&sh->abort)) {
		finish(w);
		return;
	}
	while (w->next < w->n && w->inflight < o->ramp) {
		struct rs_client *k = client_at(w, w->next++);

		k->w = w;
		k->ready = 0;
		k->closed = 0;
		if (twc_connect(&k->c, w->wk->tl, &cbs, k) < 0) {
			atomic_fetch_add(&sh->failed, 1);
			continue;
		}
		k->started = 1;
		w->inflight++;
	}
	if (atomic_load(&sh->ready) + atomic_load(&sh->failed) >= o->clients) {
		long long zero = 0;

		/* phase A waits --settle for late member.joined events */
		atomic_compare_exchange_strong(&sh->settle_until, &zero,
		                               now + (sh->phase_c ? 0 : (long long)(o->settle * 1e6)));
		until = atomic_load(&sh->settle_until);
		if (now >= until)
			finish(w);
	} else if (now - sh->begin_us > (long long)(o->timeout * 1e6)) {
		fprintf(stderr, "tavla-bench: %d of %d clients ready after %.0f s\n",
		        atomic_load(&sh->ready), o->clients, o->timeout);
		atomic_store(&sh->abort, 1);
		finish(w);
	}
}

static void worker_start(struct worker *wk)
{
	struct rs_shared *sh = wk->shared;
	struct rs_worker *w = calloc(1, sizeof(*w));

	wk->state = w;
	w->sh = sh;
	w->wk = wk;
	w->first = wk->index;
	w->n = sh->o->clients / wk->count + (wk->index < sh->o->clients % wk->count);
	histogram_init(&w->hs);
	uv_timer_init(&wk->loop, &w->tick);
	w->tick.data = w;
	uv_timer_start(&w->tick, on_tick, 0, 2);
}

/* Runs one phase on nt workers; merges into hs and returns the last done
 * time, adding the seq counters. */
static long long run_phase(struct rs_shared *sh, struct ssl_ctx_st *ctx, int nt,
                           struct histogram *hs, uint64_t *dups, uint64_t *gaps,
                           uint64_t *events)
{
	struct worker *ws = NULL;
	long long last = 0;

	atomic_store(&sh->ready, 0);
	atomic_store(&sh->failed, 0);
	atomic_store(&sh->settle_until, 0);
	sh->begin_us = procstat_now_us();
	workers_run(sh->o, ctx, nt, worker_start, sh, &ws);
	for (int i = 0; ws != NULL && i < nt; i++) {
		struct rs_worker *w = ws[i].state;

		histogram_merge(hs, &w->hs);
		if (w->last_done_us > last)
			last = w->last_done_us;
		*dups += w->seq_dups;
		*gaps += w->seq_gaps;
		*events += w->events;
		free(w);
	}
	if (ws != NULL)
		workers_free(ws, nt);
	return last;
}

/* Joins the control session to the room, following complete:false pages
 * until it is subscribed (a moderator may post only in a joined room). */
static int join_all_pages(struct modsess *m, const char *room, char *err, size_t errlen)
{
	json_int_t since = 0;

	for (;;) {
		json_t *args = json_pack("{s:s,s:I}", "room", room, "since", since);
		json_t *res, *complete;
		int rc = modsess_call(m, "join", args, &res, err, errlen);

		json_decref(args);
		if (rc < 0)
			return -1;
		complete = json_object_get(res, "complete");
		if (!json_is_false(complete))
			return 0;
		if (json_unpack(res, "{s:I}", "through", &since) != 0) {
			snprintf(err, errlen, "join: complete:false without through");
			return -1;
		}
	}
}

int scenario_resume(const struct bench_opts *o, struct ssl_ctx_st *ctx, struct report *r)
{
	struct rs_shared sh;
	struct modsess m;
	struct histogram hs;
	char err[256], setup[96];
	json_t *args, *res;
	uint64_t dups = 0, gaps = 0, events = 0, d2 = 0, g2 = 0;
	long long last, min_seq = -1;
	int nt = o->threads < o->clients ? o->threads : 1, rc = -1, ready;

	if (o->node || o->clients < 1 || o->missed < 1) {
		fprintf(stderr, "tavla-bench: resume needs --target tavla, --clients >= 1, --missed >= 1\n");
		return -1;
	}
	memset(&sh, 0, sizeof(sh));
	sh.o = o;
	sh.clients = calloc((size_t)o->clients, sizeof(*sh.clients));
	for (int i = 0; i < o->clients; i++)
		sh.clients[i].idx = (uint32_t)i;
	histogram_init(&hs);
	if (modsess_open(&m, o, ctx, err, sizeof(err)) < 0 ||
	    modsess_room_create(&m, "bench resume", sh.room_id, sizeof(sh.room_id),
	                        sh.code, sizeof(sh.code), err, sizeof(err)) < 0) {
		fprintf(stderr, "tavla-bench: %s\n", err);
		free(sh.clients);
		return -1;
	}
	/* A: join and leave */
	run_phase(&sh, ctx, nt, &hs, &dups, &gaps, &events);
	ready = atomic_load(&sh.ready);
	if (atomic_load(&sh.abort) || ready < o->clients) {
		fprintf(stderr, "tavla-bench: only %d of %d clients joined\n", ready, o->clients);
		goto out;
	}
	for (int i = 0; i < o->clients; i++)
		if (min_seq < 0 || sh.clients[i].last_seq < min_seq)
			min_seq = sh.clients[i].last_seq;
	/* B: post while they are away */
	rc = join_all_pages(&m, sh.room_id, err, sizeof(err));
	for (int i = 0; rc == 0 && i < o->missed; i++) {
		char text[64];
		json_int_t seq = 0;

		snprintf(text, sizeof(text), "missed %d", i);
		args = json_pack("{s:s,s:s}", "room", sh.room_id, "text", text);
		rc = modsess_call(&m, "chat.send", args, &res, err, sizeof(err));
		json_decref(args);
		if (rc == 0 && json_unpack(res, "{s:I}", "seq", &seq) == 0)
			sh.target = seq;
	}
	if (rc < 0) {
		fprintf(stderr, "tavla-bench: %s\n", err);
		goto out;
	}
	/* C: everyone comes back */
	sh.phase_c = 1;
	snprintf(setup, sizeof(setup), "%d clients, %d missed events (oldest client at seq %lld, target %lld)",
	         o->clients, o->missed, min_seq, sh.target);
	report_text(r, "setup", "setup", setup);
	histogram_init(&hs);
	report_begin(r, o->pid);
	events = 0;
	last = run_phase(&sh, ctx, nt, &hs, &d2, &g2, &events);
	report_end(r, o->pid);
	ready = atomic_load(&sh.ready);
	report_num(r, "caught_up", "clients caught up", ready, NULL);
	report_num(r, "failed", "clients failed", atomic_load(&sh.failed), NULL);
	report_num(r, "all_caught_up_s", "time until all caught up",
	           last ? (double)(last - sh.begin_us) / 1e6 : 0, "s");
	report_latency(r, "catchup", "per-client catch-up (from phase start)", &hs);
	report_num(r, "events_replayed", "events received in catch-up", (double)events, NULL);
	report_num(r, "seq_gaps", "room seq gaps", (double)g2, NULL);
	report_num(r, "seq_dups", "room seq duplicates", (double)d2, NULL);
	rc = ready == o->clients ? 0 : -1;
out:
	modsess_close(&m);
	free(sh.clients);
	return rc;
}
