/*
 * loadgen.c: publishers and subscribers on N loops (see loadgen.h for the
 * phases and the message format).
 *
 * Responsible for the per-connection state machine and the per-worker
 * tick. A connection goes
 *   IDLE -[tick: ramp]-> CONNECTING -[hello: send_join]-> JOINING
 *   -[join reply complete:true (or open, node mode): mark_ready]-> READY
 *   -[teardown: twc_abort]-> closed;  any state -[server close]-> closed.
 * Not responsible for room creation or reporting.
 *
 * Cross-thread coordination is by atomics in struct lg_shared only: the
 * ready/failed counts decide when the ramp is over, the first worker to
 * see that sets start_us (compare-and-swap), and every worker derives the
 * same LOAD window from it. Totals of sent/acked/unique-delivered messages
 * are published once per tick so that DRAIN can end early.
 *
 * Invariants:
 *  1. A connection belongs to worker (global index % threads); only that
 *     worker's thread touches it.
 *  2. A subscriber counts a message as unique at most once per (publisher,
 *     PSEQ): next[pub] only grows.
 *  3. Publishers send only inside [start_us, end_us).
 */
#include "loadgen.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msgscan.h"
#include "procstat.h"
#include "tls_ws_conn.h"
#include "workers.h"

struct lg_shared {
	const struct loadgen_cfg *cfg;
	int total;
	atomic_int ready, failed, abort;
	atomic_llong start_us;
	long long ramp_begin_us;
	atomic_ullong sent, acked, uniq;
	atomic_int last_ready_worker;
};

struct lg_worker;

struct lg_conn {
	struct twc c;
	struct lg_worker *w;
	uint32_t gi;          /* global index: subs first, then publishers */
	uint8_t is_pub, ready, closed, started;
	uint16_t room;
	long long last_seq;
	uint32_t *next;       /* subscribers: next expected PSEQ per publisher */
	uint32_t sent, acked;
	long long last_send_us;
};

struct lg_worker {
	struct worker *wk;
	struct lg_shared *sh;
	const struct loadgen_cfg *cfg;
	struct lg_conn *conns;
	int n, next_connect, inflight, open;
	uv_timer_t tick;
	int started, stopped, finishing;
	long long start_us, end_us, ready_us;
	struct loadgen_result r;
	uint64_t pushed_sent, pushed_acks, pushed_uniq, uniq;
	char *buf;           /* request being built */
	size_t buflen;
};

static void mark_ready(struct lg_conn *k)
{
	struct lg_worker *w = k->w;

	if (k->ready)
		return;
	k->ready = 1;
	w->inflight--;
	atomic_fetch_add(&w->sh->ready, 1);
	w->ready_us = procstat_now_us();
}

/* Builds the text of message pseq of publisher pi into out (size+1). */
static void make_text(char *out, int size, unsigned pi, unsigned pseq, long long us)
{
	int n = snprintf(out, (size_t)size + 1, "b:%u:%u:%lld:", pi, pseq, us);

	if (n < size)
		memset(out + n, 'x', (size_t)(size - n));
	out[size] = '\0';
}

/* Sends message number k->sent stamped with intended time us. */
static void publish(struct lg_conn *k, long long us)
{
	struct lg_worker *w = k->w;
	const struct loadgen_cfg *cfg = w->cfg;
	unsigned pi = k->gi - (unsigned)cfg->subs;
	char *text = w->buf + w->buflen - (size_t)cfg->size - 1;
	int n;

	make_text(text, cfg->size, pi, k->sent, us);
	if (cfg->node) {
		n = twc_send_text(&k->c, text, (size_t)cfg->size);
	} else {
		int h = snprintf(w->buf, 160,
		                 "{\"op\":\"chat.send\",\"id\":\"k%u\",\"room\":\"%s\",\"text\":\"",
		                 k->sent, cfg->room_id[k->room]);
		memmove(w->buf + h, text, (size_t)cfg->size);
		memcpy(w->buf + h + cfg->size, "\"}", 2);
		n = twc_send_text(&k->c, w->buf, (size_t)h + (size_t)cfg->size + 2);
	}
	if (n < 0) {
		w->r.errors++;
		return;
	}
	k->sent++;
	w->r.sent++;
	k->last_send_us = us;
}

/* Intended send time of a publisher's message pseq. Open loop: each
 * publisher's schedule is shifted by its share of one period, so P
 * publishers at R/s offer P*R evenly spaced messages per second rather than
 * P at once every 1/R s (a burst the latency would then be about). */
static long long intended_us(const struct lg_conn *k, unsigned pseq)
{
	const struct lg_worker *w = k->w;

	if (w->cfg->rate > 0) {
		double phase = (double)(k->gi - (uint32_t)w->cfg->subs) / (double)w->cfg->pubs;
		return w->start_us + (long long)(((double)pseq + phase) * 1e6 / w->cfg->rate);
	}
	return k->last_send_us;
}

static void on_ack(struct lg_conn *k, unsigned pseq, int ok)
{
	struct lg_worker *w = k->w;
	long long now = procstat_now_us();

	if (!ok) {
		w->r.errors++;
	} else {
		k->acked++;
		w->r.acks++;
		if (now <= w->end_us)
			w->r.acks_window++;
		histogram_record(&w->r.ack, now - intended_us(k, pseq));
	}
	if (w->cfg->rate <= 0 && !w->stopped && now < w->end_us && pseq + 1 == k->sent)
		publish(k, procstat_now_us());
}

/* Parses "b:PUB:PSEQ:USEC:" at the start of text. 0 or -1. */
static int parse_text(const char *p, size_t len, unsigned *pi, unsigned *pseq,
                      long long *us)
{
	const char *end = p + len;
	unsigned long long v[3] = { 0, 0, 0 };

	if (len < 2 || p[0] != 'b' || p[1] != ':')
		return -1;
	p += 2;
	for (int i = 0; i < 3; i++) {
		const char *s = p;

		while (p < end && *p >= '0' && *p <= '9')
			v[i] = v[i] * 10 + (unsigned)(*p++ - '0');
		if (p == s || p >= end || *p != ':')
			return -1;
		p++;
	}
	*pi = (unsigned)v[0];
	*pseq = (unsigned)v[1];
	*us = (long long)v[2];
	return 0;
}

static void on_chat(struct lg_conn *k, const char *text, size_t len)
{
	struct lg_worker *w = k->w;
	const struct loadgen_cfg *cfg = w->cfg;
	unsigned pi, pseq;
	long long us, now;

	if (parse_text(text, len, &pi, &pseq, &us) < 0 || pi >= (unsigned)cfg->pubs)
		return;
	if (k->is_pub) {
		if (cfg->node && pi == k->gi - (unsigned)cfg->subs)
			on_ack(k, pseq, 1);
		return;
	}
	now = procstat_now_us();
	w->r.delivered++;
	if (now <= w->end_us)
		w->r.delivered_window++;
	histogram_record(&w->r.lat, now - us);
	if (pseq >= k->next[pi]) {
		w->r.gaps += pseq - k->next[pi];
		k->next[pi] = pseq + 1;
		w->uniq++;
	} else {
		w->r.dups++;
	}
}

static void send_join(struct lg_conn *k, long long since_through)
{
	struct lg_worker *w = k->w;
	const struct loadgen_cfg *cfg = w->cfg;
	int n;

	if (since_through < 0)
		n = snprintf(w->buf, 256, "{\"op\":\"join\",\"id\":\"j\",\"code\":\"%s\",\"name\":\"%c%u\"}",
		             cfg->code[k->room], k->is_pub ? 'p' : 's', k->gi);
	else
		n = snprintf(w->buf, 256, "{\"op\":\"join\",\"id\":\"j\",\"room\":\"%s\",\"since\":%lld}",
		             cfg->room_id[k->room], since_through);
	if (twc_send_text(&k->c, w->buf, (size_t)n) < 0)
		w->r.errors++;
}

static void on_item(void *u, const struct msg_view *v)
{
	struct lg_conn *k = u;
	struct lg_worker *w = k->w;

	if (v->type.len == 5 && memcmp(v->type.p, "event", 5) == 0) {
		if (!k->is_pub && v->seq >= 0) {
			if (v->seq <= k->last_seq)
				w->r.seq_dups++;
			else {
				if (v->seq > k->last_seq + 1)
					w->r.seq_gaps += (uint64_t)(v->seq - k->last_seq - 1);
				k->last_seq = v->seq;
			}
		}
		if (v->text.len && span_eq(v->kind, "chat.message"))
			on_chat(k, v->text.p, v->text.len);
	} else if (span_eq(v->type, "reply")) {
		if (v->id.len > 1 && v->id.p[0] == 'k') {
			on_ack(k, (unsigned)strtoul(v->id.p + 1, NULL, 10), v->ok == 1);
		} else if (span_eq(v->id, "j")) {
			long long through;
			struct span c;

			if (v->ok != 1) {
				fprintf(stderr, "tavla-bench: join refused: %.*s\n",
				        (int)v->error.len, v->error.p);
				w->r.errors++;
				twc_abort(&k->c, 0);
				return;
			}
			if (msgscan_value(v->result, "complete", &c) == 0 &&
			    span_eq(c, "false") &&
			    msgscan_int(v->result, "through", &through) == 0)
				send_join(k, through);
			else
				mark_ready(k);
		}
	} else if (span_eq(v->type, "hello")) {
		send_join(k, -1);
	}
}

static void on_open(struct twc *c)
{
	struct lg_conn *k = c->user;

	if (k->w->cfg->node)
		mark_ready(k);
}

static void on_message(struct twc *c, const char *data, size_t len)
{
	struct lg_conn *k = c->user;

	if (k->w->cfg->node)
		on_chat(k, data, len);
	else if (msgscan_frame(data, len, on_item, k) < 0) {
		if (k->w->r.errors++ == 0)
			fprintf(stderr, "tavla-bench: unreadable frame: %.*s\n",
			        (int)(len > 300 ? 300 : len), data);
	}
}

static void on_close(struct twc *c, int code, int err)
{
	struct lg_conn *k = c->user;
	struct lg_worker *w = k->w;

	k->closed = 1;
	w->open--;
	if (!k->ready) {
		w->inflight--;
		w->r.failed++;
		atomic_fetch_add(&w->sh->failed, 1);
		if (w->r.failed <= 3)
			fprintf(stderr, "tavla-bench: connection %u failed (close %d, error %d %s)\n",
			        k->gi, code, err, err < 0 && err > -10000 ? uv_err_name(err) : "");
	} else if (!w->finishing) {
		w->r.dropped++;
		w->r.last_close_code = code;
	}
}

static const struct twc_cbs cbs = { on_open, on_message, on_close };

static void on_timer_closed(uv_handle_t *h)
{
}

static void finish(struct lg_worker *w)
{
	if (w->finishing)
		return;
	w->finishing = 1;
	for (int i = 0; i < w->n; i++)
		if (w->conns[i].started && !w->conns[i].closed)
			twc_abort(&w->conns[i].c, 0);
	uv_timer_stop(&w->tick);
	uv_close((uv_handle_t *)&w->tick, on_timer_closed);
}

static void on_tick(uv_timer_t *t)
{
	struct lg_worker *w = t->data;
	struct lg_shared *sh = w->sh;
	const struct loadgen_cfg *cfg = w->cfg;
	long long now = procstat_now_us();

	if (atomic_load(&sh->abort)) {
		finish(w);
		return;
	}
	while (w->next_connect < w->n && w->inflight < cfg->o->ramp) {
		struct lg_conn *k = &w->conns[w->next_connect++];

		if (twc_connect(&k->c, w->wk->tl, &cbs, k) < 0) {
			w->r.failed++;
			atomic_fetch_add(&sh->failed, 1);
			continue;
		}
		k->started = 1;
		w->inflight++;
		w->open++;
	}
	if (!w->started) {
		long long s = atomic_load(&sh->start_us);

		if (s == 0 && atomic_load(&sh->ready) + atomic_load(&sh->failed) >= sh->total) {
			long long want = now + (long long)(cfg->settle * 1e6);

			atomic_compare_exchange_strong(&sh->start_us, &s, want);
			s = atomic_load(&sh->start_us);
		}
		if (s == 0 && now - sh->ramp_begin_us > (long long)(cfg->timeout * 1e6)) {
			fprintf(stderr, "tavla-bench: ramp incomplete after %.0f s: %d ready, %d failed of %d\n",
			        cfg->timeout, atomic_load(&sh->ready), atomic_load(&sh->failed), sh->total);
			atomic_store(&sh->abort, 1);
			finish(w);
			return;
		}
		if (s == 0 || now < s)
			return;
		w->started = 1;
		w->start_us = s;
		w->end_us = s + (long long)(cfg->duration * 1e6);
		if (cfg->rate <= 0)
			for (int i = 0; i < w->n; i++)
				if (w->conns[i].is_pub && w->conns[i].ready && !w->conns[i].closed)
					publish(&w->conns[i], procstat_now_us());
	}
	if (!w->stopped && cfg->rate > 0) {
		long long lim = (long long)(cfg->duration * cfg->rate);

		for (int i = 0; i < w->n; i++) {
			struct lg_conn *k = &w->conns[i];

			if (!k->is_pub || !k->ready || k->closed)
				continue;
			while ((long long)k->sent < lim && intended_us(k, k->sent) <= now)
				publish(k, intended_us(k, k->sent));
		}
	}
	if (now >= w->end_us)
		w->stopped = 1;
	atomic_fetch_add(&sh->sent, w->r.sent - w->pushed_sent);
	atomic_fetch_add(&sh->acked, w->r.acks - w->pushed_acks);
	atomic_fetch_add(&sh->uniq, w->uniq - w->pushed_uniq);
	w->pushed_sent = w->r.sent;
	w->pushed_acks = w->r.acks;
	w->pushed_uniq = w->uniq;
	if (w->stopped) {
		uint64_t sent = atomic_load(&sh->sent), acked = atomic_load(&sh->acked);
		uint64_t want = cfg->rooms == 1 ? (uint64_t)cfg->subs * acked : 0;
		int subs_done = cfg->subs == 0 || (cfg->rooms == 1 && atomic_load(&sh->uniq) >= want);

		if ((acked >= sent && subs_done) ||
		    now >= w->end_us + (long long)(cfg->drain * 1e6))
			finish(w);
	}
}

static void worker_start(struct worker *wk)
{
	struct lg_shared *sh = wk->shared;
	const struct loadgen_cfg *cfg = sh->cfg;
	struct lg_worker *w = calloc(1, sizeof(*w));
	int total = cfg->subs + cfg->pubs;

	wk->state = w;
	w->wk = wk;
	w->sh = sh;
	w->cfg = cfg;
	w->end_us = (long long)1 << 62;
	histogram_init(&w->r.lat);
	histogram_init(&w->r.ack);
	w->buflen = 2 * (size_t)cfg->size + 512;
	w->buf = malloc(w->buflen);
	w->conns = calloc((size_t)(total / wk->count + 1), sizeof(*w->conns));
	for (int gi = wk->index; gi < total; gi += wk->count) {
		struct lg_conn *k = &w->conns[w->n++];

		k->w = w;
		k->gi = (uint32_t)gi;
		k->is_pub = gi >= cfg->subs;
		k->room = (uint16_t)((k->is_pub ? gi - cfg->subs : gi) % cfg->rooms);
		if (!k->is_pub)
			k->next = calloc((size_t)cfg->pubs + 1, sizeof(uint32_t));
	}
	uv_timer_init(&wk->loop, &w->tick);
	w->tick.data = w;
	uv_timer_start(&w->tick, on_tick, 0, cfg->rate > 0 ? 1 : 5);
}

int loadgen_run(const struct loadgen_cfg *cfg, struct ssl_ctx_st *ctx,
                struct loadgen_result *out)
{
	struct lg_shared sh;
	struct worker *ws = NULL;
	int nt = cfg->o->threads, rc;
	long long start, last_ready = 0;

	memset(&sh, 0, sizeof(sh));
	sh.cfg = cfg;
	sh.total = cfg->subs + cfg->pubs;
	sh.ramp_begin_us = procstat_now_us();
	if (nt > sh.total)
		nt = sh.total > 0 ? sh.total : 1;
	rc = workers_run(cfg->o, ctx, nt, worker_start, &sh, &ws);
	memset(out, 0, sizeof(*out));
	histogram_init(&out->lat);
	histogram_init(&out->ack);
	start = atomic_load(&sh.start_us);
	for (int i = 0; ws != NULL && i < nt; i++) {
		struct lg_worker *w = ws[i].state;
		if (w == NULL)
			continue;
		histogram_merge(&out->lat, &w->r.lat);
		histogram_merge(&out->ack, &w->r.ack);
		out->delivered += w->r.delivered;
		out->delivered_window += w->r.delivered_window;
		out->acks += w->r.acks;
		out->acks_window += w->r.acks_window;
		out->sent += w->r.sent;
		out->errors += w->r.errors;
		out->gaps += w->r.gaps;
		out->dups += w->r.dups;
		out->seq_gaps += w->r.seq_gaps;
		out->seq_dups += w->r.seq_dups;
		out->failed += w->r.failed;
		out->dropped += w->r.dropped;
		if (w->r.last_close_code)
			out->last_close_code = w->r.last_close_code;
		if (w->ready_us > last_ready)
			last_ready = w->ready_us;
		for (int j = 0; j < w->n; j++)
			free(w->conns[j].next);
		free(w->conns);
		free(w->buf);
		free(w);
	}
	if (cfg->rooms == 1 && (uint64_t)cfg->subs * out->acks > atomic_load(&sh.uniq))
		out->missing = (uint64_t)cfg->subs * out->acks - atomic_load(&sh.uniq);
	out->aborted = start == 0 || atomic_load(&sh.abort);
	out->ramp_s = last_ready ? (double)(last_ready - sh.ramp_begin_us) / 1e6 : 0;
	out->window_s = cfg->duration;
	if (ws != NULL)
		workers_free(ws, nt);
	return rc;
}
