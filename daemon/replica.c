/*
 * replica.c: cluster mode: writes through the JetStream stream, records
 * applied from it in stream order (see replica.h for the model and the
 * invariants, docs/cluster.md for the reasoning).
 *
 * A record is one store_write as JSON (record.c), with its origin ("o":
 * this process's boot id, "n": its number here). A message on a subject
 * carries one or more records ({"x":EXPECTED,"w":[...]}): a room's writes
 * that queued while its previous message was being appended go together
 * (group commit), one round trip for many.
 *
 * Subjects: PREFIX.room.ID (every write of a room, created with the room),
 * PREFIX.meta (writes that belong to no room: tokens of logins, seen
 * marks), PREFIX.ident.ID (identities brought in by cluster-import).
 *
 * The path of one of this node's writes:
 *   replica_submit: QUEUED on its subject --flush--> PUBLISHING (one
 *   message per subject at a time) --ack--> the consumer delivers the
 *   message --> store_submit of the original write --> its done.
 *   A conflict (another node appended first: JetStream refuses the
 *   publish, or the message turns out void when applied) --> RERUN: once
 *   this node applied the subject up to where it was, done runs with
 *   STORE_RERUN and the dispatcher runs the request again against the new
 *   state.
 *
 * Invariants (besides replica.h's):
 *  1. Per subject at most one message is in flight, and a room's next one
 *     is published only once the previous one was applied here, expecting
 *     exactly the subject's applied sequence (x == applied).
 *  2. A room message whose x is not the stream sequence of the subject's
 *     previous message is void on every node (applied as nothing).
 *  3. An item (one of this node's writes) is freed only when both its
 *     publish was answered (acked) and it went on (finished).
 */
#include "replica.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "jetstream.h"
#include "record.h"
#include "log.h"
#include "map.h"
#include "room.h"
#include "search.h"
#include "server.h"
#include "store.h"

#define MSG_MAX_BYTES (512 * 1024) /* below NATS's default 1 MiB payload */
#define MSG_MAX_RECORDS 512

struct rsubj {
	char subject[128];
	uint64_t applied;      /* last stream seq of this subject applied here */
	uint64_t own_last;     /* last seq this node appended (acknowledged) */
	uint64_t last_foreign; /* last applied seq that another node appended */
	uint64_t lag;          /* records received, not yet applied */
	uint64_t received;     /* stream seq of the last message received on it */
	struct ritem *q, *q_tail;
	struct rsubj *dirty_next; /* replica.dirty: has writes to flush */
	int publishing, dirty;
	char room[TV_ID_LEN + 1]; /* "" unless a room subject */
};

/* One of this node's writes. It is freed once both its publish was
 * answered (acked: the publisher no longer refers to it) and its write
 * went on (finished: handed to the store, or its done ran). */
struct ritem {
	struct ritem *next;
	struct store_write *w;
	struct rsubj *sj;
	uint64_t n, base, need;
	int acked, finished, in_rerun;
};

struct rpub {
	struct js_pub p;
	struct rsubj *sj;
	struct ritem **items;
	size_t nitems;
};

struct replica {
	struct tv_server *srv;
	char prefix[65];     /* subjects: PREFIX.room.ID etc. (stream name, lower case) */
	struct jetstream *js;
	char boot[72];
	uint64_t next_n;
	struct map subjects; /* subject -> struct rsubj * */
	struct map own;      /* decimal n -> struct ritem * (published, not applied) */
	struct ritem *reruns;
	uint64_t pos_seq;    /* stream position applied (seq, records of it) */
	unsigned pos_idx;
	uint64_t received;   /* last stream seq received */
	uint64_t start_last; /* the stream's last seq when this node started */
	int caught_up, connected;
	uv_timer_t *watch;      /* the consumer's watchdog (own allocation) */
	uv_idle_t *kick;        /* flushes the dirty subjects (own allocation) */
	struct rsubj *dirty;
	int64_t last_rx_ms, last_resub_ms;
	size_t pending;      /* writes submitted, not yet handed to the store or ended */
	uint64_t publish_total, conflicts_total, retries_total, applied_total, republish_total;
	double publish_seconds;
};

static void replica_free(struct replica *rp);

static void make_prefix(char *out, size_t cap, const char *stream)
{
	size_t i;
	for (i = 0; stream[i] && i + 1 < cap; i++)
		out[i] = (char)(stream[i] >= 'A' && stream[i] <= 'Z' ? stream[i] + 32 : stream[i]);
	out[i] = 0;
}

/* ---- subjects ----------------------------------------------------------------------- */

static struct rsubj *subject_get(struct replica *rp, const char *subject)
{
	struct rsubj *sj = map_get(&rp->subjects, subject);
	if (sj)
		return sj;
	sj = calloc(1, sizeof *sj);
	if (!sj)
		return NULL;
	snprintf(sj->subject, sizeof sj->subject, "%s", subject);
	char room_pfx[80];
	snprintf(room_pfx, sizeof room_pfx, "%s.room.", rp->prefix);
	size_t pl = strlen(room_pfx);
	if (strncmp(subject, room_pfx, pl) == 0)
		snprintf(sj->room, sizeof sj->room, "%s", subject + pl);
	if (map_put(&rp->subjects, sj->subject, sj)) {
		free(sj);
		return NULL;
	}
	return sj;
}

/* The subject a write goes to. */
static void subject_of(struct replica *rp, const struct store_write *w, char *out, size_t cap)
{
	const char *pfx = rp->prefix;
	if (w->event && w->event->room)
		snprintf(out, cap, "%s.room.%s", pfx, w->event->room);
	else if (w->room.id)
		snprintf(out, cap, "%s.room.%s", pfx, w->room.id);
	else if (w->member.room_id)
		snprintf(out, cap, "%s.room.%s", pfx, w->member.room_id);
	else
		snprintf(out, cap, "%s.meta", pfx);
}

/* ---- publishing ---------------------------------------------------------------------- */

static void flush(struct replica *rp, struct rsubj *sj);
static void check_reruns(struct replica *rp);

static void item_release(struct ritem *it)
{
	if (it->acked && it->finished)
		free(it);
}

/* Ends a write without writing it: status is STORE_RERUN or -TV_E_x. */
static void item_finish(struct replica *rp, struct ritem *it, int status)
{
	struct store_write *w = it->w;
	w->status = status;
	w->duplicate = 0;
	it->finished = 1;
	rp->pending--;
	item_release(it);
	w->done(w);
}

/* Another node's message came first: once this node applied up to need,
 * the write's request runs again (check_reruns). */
static void item_rerun(struct replica *rp, struct ritem *it, uint64_t need)
{
	it->in_rerun = 1;
	it->need = need;
	it->next = rp->reruns;
	rp->reruns = it;
}

static void own_key(char *key, size_t cap, uint64_t n)
{
	snprintf(key, cap, "%llu", (unsigned long long)n);
}

static void published(void *arg, struct js_pub *p)
{
	struct replica *rp = arg;
	struct rpub *rb = (struct rpub *)p;
	struct rsubj *sj = rb->sj;
	char key[24];
	sj->publishing = 0;
	rp->publish_seconds += p->seconds;
	rp->republish_total += p->attempts;
	log_debug("cluster.published", "subject=%s expect=%llu records=%zu status=%d seq=%llu last=%llu",
		  sj->subject, (unsigned long long)p->expect, rb->nitems, p->status,
		  (unsigned long long)p->seq, (unsigned long long)p->actual_last);
	if (p->status == 0) {
		rp->publish_total++;
		if (p->seq > sj->own_last)
			sj->own_last = p->seq;
		for (size_t i = 0; i < rb->nitems; i++) {
			rb->items[i]->acked = 1;
			item_release(rb->items[i]); /* when the store has it already */
		}
	} else {
		/* Nothing of this message is in the stream (a conflict), or
		 * perhaps it is (an error after the server stored it; then it is
		 * applied as another node's write when it arrives). */
		if (p->status == JS_CONFLICT)
			rp->conflicts_total++;
		for (size_t i = 0; i < rb->nitems; i++) {
			struct ritem *it = rb->items[i];
			it->acked = 1;
			if (it->finished || it->in_rerun) {
				item_release(it); /* applied or voided meanwhile */
				continue;
			}
			own_key(key, sizeof key, it->n);
			map_del(&rp->own, key);
			if (p->status == JS_CONFLICT) {
				uint64_t mine = sj->applied > sj->own_last ? sj->applied : sj->own_last;
				item_rerun(rp, it, p->actual_last ? p->actual_last : mine + 1);
			} else {
				item_finish(rp, it, p->status);
			}
		}
	}
	int conflict = p->status == JS_CONFLICT;
	free(rb->items);
	free(p->data);
	free(rb);
	if (conflict)
		check_reruns(rp);
	flush(rp, sj);
}

/* Publishes what queued on sj as one message, if none is in flight. */
static void flush(struct replica *rp, struct rsubj *sj)
{
	/* A room's next message waits until this node applied its previous
	 * one: it is built on the applied state, and expects exactly the
	 * subject's applied sequence. Writes gather meanwhile (group
	 * commit). */
	if (sj->publishing || !sj->q || (sj->room[0] && sj->applied < sj->own_last))
		return;
	if (!rp->js || rp->srv->stopping) {
		while (sj->q) {
			struct ritem *it = sj->q;
			sj->q = it->next;
			it->acked = 1;
			item_finish(rp, it, -TV_E_SHUTTING_DOWN);
		}
		sj->q_tail = NULL;
		return;
	}
	struct rpub *rb = calloc(1, sizeof *rb);
	json_t *arr = json_array();
	size_t bytes = 0, cap = 0;
	if (!rb || !arr) {
		free(rb);
		json_decref(arr);
		return; /* retried on the next flush */
	}
	while (sj->q && rb->nitems < MSG_MAX_RECORDS && bytes < MSG_MAX_BYTES) {
		struct ritem *it = sj->q;
		sj->q = it->next;
		if (!sj->q)
			sj->q_tail = NULL;
		it->next = NULL;
		it->acked = 1; /* until it is in a message */
		/* Built on a state another node has changed since: run again
		 * (this node has applied that change already). */
		if (sj->room[0] && it->base < sj->last_foreign) {
			rp->retries_total++;
			item_finish(rp, it, STORE_RERUN);
			continue;
		}
		json_t *rec = record_encode(it->w, rp->boot, it->n);
		char *one = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
		if (one)
			bytes += strlen(one);
		free(one);
		if (!rec || json_array_append_new(arr, rec)) {
			item_finish(rp, it, -TV_E_INTERNAL);
			continue;
		}
		if (rb->nitems == cap) {
			cap = cap ? cap * 2 : 8;
			struct ritem **v = realloc(rb->items, cap * sizeof *v);
			if (!v) {
				json_array_remove(arr, json_array_size(arr) - 1);
				item_finish(rp, it, -TV_E_INTERNAL);
				continue;
			}
			rb->items = v;
		}
		rb->items[rb->nitems++] = it;
	}
	if (!rb->nitems) {
		json_decref(arr);
		free(rb->items);
		free(rb);
		return;
	}
	/* A room's message carries the subject sequence it expects to follow
	 * ("x"): JetStream checks it before it stores the message, and every
	 * node checks it again when it applies the message (on_message), as
	 * the server's check alone is not serialised in a clustered stream
	 * (nats-server before 2.9.21 may accept two concurrent messages
	 * expecting the same sequence). */
	uint64_t expect = sj->applied;
	json_t *msg = sj->room[0] ? json_pack("{s:I, s:o}", "x", (json_int_t)expect, "w", arr)
		: json_pack("{s:o}", "w", arr);
	char *data = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	json_decref(msg);
	if (!data) {
		for (size_t i = 0; i < rb->nitems; i++)
			item_finish(rp, rb->items[i], -TV_E_INTERNAL); /* acked: never sent */
		free(rb->items);
		free(rb);
		return;
	}
	char key[24];
	for (size_t i = 0; i < rb->nitems; i++) {
		rb->items[i]->acked = 0;
		own_key(key, sizeof key, rb->items[i]->n);
		map_put(&rp->own, key, rb->items[i]);
	}
	rb->sj = sj;
	rb->p.data = data;
	rb->p.len = strlen(data);
	rb->p.arg = rb;
	snprintf(rb->p.subject, sizeof rb->p.subject, "%s", sj->subject);
	snprintf(rb->p.msg_id, sizeof rb->p.msg_id, "%s-%llu", rp->boot,
		 (unsigned long long)rb->items[0]->n);
	if (sj->room[0]) {
		rb->p.expect = expect;
		rb->p.expect_none = expect == 0;
	}
	sj->publishing = 1;
	jetstream_publish(rp->js, &rb->p);
}

static void kick_flush(uv_idle_t *h)
{
	struct replica *rp = h->data;
	uv_idle_stop(h);
	if (!rp)
		return;
	struct rsubj *list = rp->dirty;
	rp->dirty = NULL;
	while (list) {
		struct rsubj *sj = list;
		list = sj->dirty_next;
		sj->dirty = 0;
		sj->dirty_next = NULL;
		flush(rp, sj);
	}
}

void replica_submit(struct tv_server *srv, struct store_write *w)
{
	struct replica *rp = srv->replica;
	if (!rp) {
		store_submit(srv->store, w);
		return;
	}
	char subject[128];
	subject_of(rp, w, subject, sizeof subject);
	struct rsubj *sj = subject_get(rp, subject);
	struct ritem *it = sj ? calloc(1, sizeof *it) : NULL;
	if (!it) {
		w->status = -TV_E_INTERNAL;
		w->done(w);
		return;
	}
	it->w = w;
	it->sj = sj;
	rp->pending++;
	it->n = ++rp->next_n;
	it->base = sj->applied;
	if (sj->q_tail)
		sj->q_tail->next = it;
	else
		sj->q = it;
	sj->q_tail = it;
	/* Not flushed here but at the start of the next loop turn: flushing
	 * may end other writes (run again, failed), whose completions must not
	 * run inside the handler that is submitting this one; and the writes
	 * of one loop turn go out together. */
	if (!sj->dirty) {
		sj->dirty = 1;
		sj->dirty_next = rp->dirty;
		rp->dirty = sj;
	}
	if (rp->kick && !uv_is_active((uv_handle_t *)rp->kick))
		uv_idle_start(rp->kick, kick_flush);
}

/* Writes whose room moved on run again once this node caught up. */
static void check_reruns(struct replica *rp)
{
	struct ritem *ready = NULL, **pp = &rp->reruns;
	while (*pp) {
		struct ritem *it = *pp;
		if (it->sj->applied >= it->need || rp->srv->stopping) {
			*pp = it->next;
			it->next = ready;
			ready = it;
		} else {
			pp = &it->next;
		}
	}
	while (ready) {
		struct ritem *it = ready;
		ready = it->next;
		it->in_rerun = 0;
		rp->retries_total++;
		item_finish(rp, it, rp->srv->stopping ? -TV_E_SHUTTING_DOWN : STORE_RERUN);
	}
}

/* ---- applying ------------------------------------------------------------------------ */

/* Another node's write, rebuilt from its record. */
struct rremote {
	struct record r; /* first: the store hands back &r.w */
	struct replica *rp;
};

static void remote_done(struct store_write *w)
{
	struct rremote *x = (struct rremote *)w;
	if (w->status == 0 && !w->duplicate && w->event) {
		x->rp->applied_total++;
		room_replica_event(x->rp->srv, &x->r.ev);
	} else if (w->status) {
		log_error("cluster.apply_failed", "seq=%llu code=%s",
			  (unsigned long long)w->replica.seq, tv_err_name(w->status));
	}
	store_write_release(w);
	record_clear(&x->r);
	free(x);
}

struct rmark {
	struct store_write w; /* first */
	struct replica *rp;
	struct rsubj *sj;
	uint64_t seq, pending;
	size_t records; /* counted in sj->lag until this marker commits */
	int foreign;
};

static void mark_done(struct store_write *w)
{
	struct rmark *m = (struct rmark *)w;
	struct replica *rp = m->rp;
	if (w->status)
		log_error("cluster.position_failed", "seq=%llu code=%s",
			  (unsigned long long)m->seq, tv_err_name(w->status));
	if (m->seq > m->sj->applied)
		m->sj->applied = m->seq;
	if (m->foreign && m->seq > m->sj->last_foreign)
		m->sj->last_foreign = m->seq; /* a valid message of another node */
	m->sj->lag -= m->sj->lag >= m->records ? m->records : m->sj->lag;
	if (m->seq > rp->pos_seq)
		rp->pos_seq = m->seq;
	if ((m->pending == 0 || m->seq >= rp->start_last) && !rp->caught_up) {
		rp->caught_up = 1;
		log_info("cluster.caught_up", "seq=%llu", (unsigned long long)m->seq);
	}
	struct rsubj *sj = m->sj;
	free(m);
	check_reruns(rp);
	flush(rp, sj);
}

static void on_message(void *arg, const char *subject, uint64_t seq, uint64_t pending,
		       const char *data, size_t len)
{
	struct replica *rp = arg;
	rp->last_rx_ms = server_now_ms();
	if (seq <= rp->received)
		return; /* a redelivery after the consumer was recreated */
	if (seq != rp->received + 1 && rp->received)
		log_warn("cluster.gap", "after=%llu seq=%llu", (unsigned long long)rp->received,
			 (unsigned long long)seq);
	rp->received = seq;
	struct rsubj *sj = subject_get(rp, subject);
	struct rmark *m = calloc(1, sizeof *m);
	if (!sj || !m) {
		log_error("cluster.oom", "seq=%llu", (unsigned long long)seq);
		abort(); /* a record cannot be skipped: stop before diverging */
	}
	json_error_t jerr;
	json_t *msg = json_loadb(data, len, 0, &jerr);
	json_t *recs = json_object_get(msg, "w");
	size_t nrec = json_array_size(recs);
	if (!json_is_array(recs))
		log_error("cluster.bad_message", "seq=%llu subject=%s", (unsigned long long)seq,
			  subject);
	/* Resuming inside a message applied partly before a restart. */
	int resumed = seq == rp->pos_seq;
	size_t from = resumed ? rp->pos_idx : 0;
	if (from > nrec)
		from = nrec;
	int foreign = 1;
	/* A room's message that does not follow the subject's previous one
	 * is void on every node alike: it was built on a view another node's
	 * message had already changed (see flush). Its writes are this
	 * node's to run again, or nobody's. */
	json_t *jx = json_object_get(msg, "x");
	int void_msg = !resumed && json_is_integer(jx) &&
		(uint64_t)json_integer_value(jx) != sj->received;
	if (void_msg)
		log_debug("cluster.void", "subject=%s seq=%llu expected=%llu previous=%llu", subject,
			  (unsigned long long)seq, (unsigned long long)json_integer_value(jx),
			  (unsigned long long)sj->received);
	sj->received = seq;
	if (void_msg) {
		for (size_t i = 0; i < nrec; i++) {
			json_t *r = json_array_get(recs, i);
			const char *o = record_str(r, "o");
			char key[24];
			struct ritem *it = NULL;
			if (o && strcmp(o, rp->boot) == 0) {
				own_key(key, sizeof key,
					(uint64_t)json_integer_value(json_object_get(r, "n")));
				it = map_del(&rp->own, key);
			}
			if (it) {
				foreign = 0;
				item_rerun(rp, it, seq);
			}
		}
		if (!foreign)
			rp->conflicts_total++;
		foreign = 0; /* changes nothing: no one's view is older for it */
		from = nrec;
	}
	sj->lag += nrec - from;
	for (size_t i = from; i < nrec; i++) {
		json_t *r = json_array_get(recs, i);
		const char *o = record_str(r, "o");
		struct ritem *it = NULL;
		char key[24];
		if (o && strcmp(o, rp->boot) == 0) {
			own_key(key, sizeof key, (uint64_t)json_integer_value(json_object_get(r, "n")));
			it = map_del(&rp->own, key);
		}
		if (it) {
			foreign = 0;
			struct store_write *w = it->w;
			w->replica.subject = sj->subject;
			w->replica.seq = seq;
			w->replica.idx = (unsigned)i + 1;
			it->finished = 1;
			rp->pending--;
			item_release(it);
			store_submit(rp->srv->store, w);
			continue;
		}
		struct rremote *x = calloc(1, sizeof *x);
		if (!x) {
			log_error("cluster.oom", "seq=%llu", (unsigned long long)seq);
			abort();
		}
		x->rp = rp;
		if (record_decode(&x->r, r)) {
			log_error("cluster.bad_record", "seq=%llu index=%zu", (unsigned long long)seq, i);
			record_clear(&x->r);
			free(x);
			continue;
		}
		x->r.w.replica.subject = sj->subject;
		x->r.w.replica.seq = seq;
		x->r.w.replica.idx = (unsigned)i + 1;
		x->r.w.done = remote_done;
		store_submit(rp->srv->store, &x->r.w);
	}
	json_decref(msg);
	log_debug("cluster.received", "subject=%s seq=%llu records=%zu foreign=%d", subject,
		  (unsigned long long)seq, nrec, foreign);
	m->rp = rp;
	m->sj = sj;
	m->seq = seq;
	m->pending = pending;
	m->records = nrec - from;
	m->foreign = foreign;
	m->w.replica.subject = sj->subject;
	m->w.replica.seq = seq;
	m->w.replica.idx = (unsigned)(nrec > from ? nrec : from);
	m->w.now_ms = server_now_ms();
	m->w.done = mark_done;
	store_submit(rp->srv->store, &m->w);
}

static void on_connection(void *arg, int connected)
{
	struct replica *rp = arg;
	rp->connected = connected;
}

/* Every second: when the stream holds messages this node has not received
 * and nothing arrived for 3 s, the consumer is replaced (jetstream.h). */
static void watch_tick(uv_timer_t *t)
{
	struct replica *rp = t->data;
	if (!rp || !rp->js)
		return;
	int64_t now = server_now_ms();
	uint64_t last = jetstream_stream_last(rp->js);
	if (last > rp->received && now - rp->last_rx_ms > 3000 && now - rp->last_resub_ms > 3000) {
		log_warn("cluster.consumer_stalled", "received=%llu stream_last=%llu",
			 (unsigned long long)rp->received, (unsigned long long)last);
		rp->last_resub_ms = now;
		jetstream_resubscribe(rp->js, rp->received + 1);
	}
}

static void free_timer(uv_handle_t *h)
{
	free(h);
}

/* ---- opening and closing ----------------------------------------------------------------- */

static void load_position(void *arg, const char *subject, uint64_t seq, unsigned idx)
{
	struct replica *rp = arg;
	if (!subject[0]) {
		rp->pos_seq = seq;
		rp->pos_idx = idx;
		return;
	}
	struct rsubj *sj = subject_get(rp, subject);
	if (sj && seq > sj->applied)
		sj->applied = sj->last_foreign = sj->received = seq;
}

static void opts_of(const struct tv_config *cfg, struct js_opts *o, char *name, size_t cap)
{
	if (cfg->cluster_node[0]) {
		snprintf(name, cap, "%s", cfg->cluster_node);
	} else {
		char host[64] = "localhost";
		gethostname(host, sizeof host - 1);
		snprintf(name, cap, "%s:%lld", host, cfg->port);
	}
	*o = (struct js_opts){ cfg->cluster_nats, cfg->cluster_creds, cfg->cluster_tls_ca,
			       cfg->cluster_stream, name, (int)cfg->cluster_replicas };
}

int replica_open(struct tv_server *srv, char *err, size_t errlen)
{
	struct replica *rp = calloc(1, sizeof *rp);
	if (!rp) {
		snprintf(err, errlen, "out of memory");
		return -TV_E_INTERNAL;
	}
	rp->srv = srv;
	map_init(&rp->subjects);
	map_init(&rp->own);
	char name[64], rnd[8];
	unsigned char b[4] = { 0 };
	struct js_opts o;
	opts_of(srv->cfg, &o, name, sizeof name);
	make_prefix(rp->prefix, sizeof rp->prefix, o.stream);
	if (crypto_random(b, sizeof b)) {
		free(rp);
		snprintf(err, errlen, "no randomness");
		return -TV_E_INTERNAL;
	}
	record_hex(rnd, b, 3);
	snprintf(rp->boot, sizeof rp->boot, "%.63s/%s", name, rnd);
	/* Where this node's store stands in the stream (invariant 1). */
	int rc = store_replica_positions(srv->store, load_position, rp);
	if (rc) {
		snprintf(err, errlen, "cannot read the stream position: %s", tv_err_name(rc));
		replica_free(rp);
		return rc;
	}
	rp->received = rp->pos_seq ? rp->pos_seq - 1 : 0;
	struct js_callbacks cb = { rp, on_message, published, on_connection };
	rc = jetstream_open(&rp->js, srv->loop, &o, &cb, rp->pos_seq ? rp->pos_seq : 1,
			    &rp->start_last, err, errlen);
	if (rc) {
		replica_free(rp);
		return rc;
	}
	rp->connected = 1;
	rp->caught_up = rp->pos_seq >= rp->start_last;
	rp->last_rx_ms = server_now_ms();
	rp->kick = malloc(sizeof *rp->kick);
	if (!rp->kick) {
		snprintf(err, errlen, "out of memory");
		jetstream_close(rp->js);
		replica_free(rp);
		return -TV_E_INTERNAL;
	}
	uv_idle_init(srv->loop, rp->kick);
	rp->kick->data = rp;
	rp->watch = malloc(sizeof *rp->watch);
	if (rp->watch) {
		uv_timer_init(srv->loop, rp->watch);
		rp->watch->data = rp;
		uv_timer_start(rp->watch, watch_tick, 1000, 1000);
		uv_unref((uv_handle_t *)rp->watch);
	}
	srv->replica = rp;
	log_info("cluster.open", "node=%s stream=%s from=%llu", rp->boot, o.stream,
		 (unsigned long long)(rp->pos_seq ? rp->pos_seq : 1));
	return 0;
}

static void fail_queued(const char *key, void *value, void *arg)
{
	struct replica *rp = arg;
	struct rsubj *sj = value;
	while (sj->q) {
		struct ritem *it = sj->q;
		sj->q = it->next;
		item_finish(rp, it, -TV_E_SHUTTING_DOWN);
	}
	sj->q_tail = NULL;
}

static void collect_own(const char *key, void *value, void *arg)
{
	struct ritem **list = arg, *it = value;
	it->next = *list;
	*list = it;
}

static void free_subject(const char *key, void *value, void *arg)
{
	free(value);
}

static void replica_free(struct replica *rp)
{
	map_each(&rp->subjects, free_subject, NULL);
	map_free(&rp->subjects);
	map_free(&rp->own);
	free(rp);
}

void replica_close(struct tv_server *srv)
{
	struct replica *rp = srv->replica;
	if (!rp)
		return;
	/* Publishes in flight complete inside jetstream_close (published()
	 * may queue nothing new: flush sees js == NULL). */
	if (rp->watch) {
		uv_timer_stop(rp->watch);
		rp->watch->data = NULL;
		uv_close((uv_handle_t *)rp->watch, free_timer);
		rp->watch = NULL;
	}
	if (rp->kick) {
		uv_idle_stop(rp->kick);
		rp->kick->data = NULL;
		uv_close((uv_handle_t *)rp->kick, free_timer);
		rp->kick = NULL;
	}
	struct jetstream *js = rp->js;
	rp->js = NULL;
	jetstream_close(js);
	map_each(&rp->subjects, fail_queued, rp);
	/* Published but not applied: the stream has them, this node's
	 * store will apply them on the next start; their requesters get
	 * shutting_down and resume. */
	struct ritem *list = NULL;
	map_each(&rp->own, collect_own, &list);
	while (list) {
		struct ritem *it = list;
		list = it->next;
		item_finish(rp, it, -TV_E_SHUTTING_DOWN);
	}
	while (rp->reruns) {
		struct ritem *it = rp->reruns;
		rp->reruns = it->next;
		item_finish(rp, it, -TV_E_SHUTTING_DOWN);
	}
	srv->replica = NULL;
	replica_free(rp);
}

size_t replica_pending(const struct tv_server *srv)
{
	return srv->replica ? srv->replica->pending : 0;
}

int replica_ready(const struct tv_server *srv)
{
	const struct replica *rp = srv->replica;
	return !rp || (rp->connected && jetstream_connected(rp->js) && rp->caught_up);
}

struct lag_walk {
	struct tv_server *srv;
	void (*put)(void *o, const char *fmt, ...);
	void *o;
};

static void put_lag(const char *key, void *value, void *arg)
{
	struct lag_walk *lw = arg;
	struct rsubj *sj = value;
	if (sj->room[0] && map_get(&lw->srv->rooms_by_id, sj->room))
		lw->put(lw->o, "tavla_cluster_lag_events{room=\"%s\"} %llu\n", sj->room,
			(unsigned long long)sj->lag);
}

void replica_metrics(struct tv_server *srv, void (*put)(void *o, const char *fmt, ...), void *o)
{
	struct replica *rp = srv->replica;
	if (!rp)
		return;
	put(o, "# HELP tavla_cluster_connected 1 while the NATS connection is up\n"
	       "# TYPE tavla_cluster_connected gauge\n");
	put(o, "tavla_cluster_connected %d\n", rp->connected && jetstream_connected(rp->js));
	put(o, "# HELP tavla_cluster_caught_up 1 once this node applied what the stream held at start\n"
	       "# TYPE tavla_cluster_caught_up gauge\n");
	put(o, "tavla_cluster_caught_up %d\n", rp->caught_up);
	put(o, "# HELP tavla_cluster_publish_total messages this node appended to the stream\n"
	       "# TYPE tavla_cluster_publish_total counter\n");
	put(o, "tavla_cluster_publish_total %llu\n", (unsigned long long)rp->publish_total);
	put(o, "# HELP tavla_cluster_publish_seconds_total time spent appending\n"
	       "# TYPE tavla_cluster_publish_seconds_total counter\n");
	put(o, "tavla_cluster_publish_seconds_total %.6f\n", rp->publish_seconds);
	put(o, "# HELP tavla_cluster_republish_total publishes sent again (same Msg-Id) after no answer\n"
	       "# TYPE tavla_cluster_republish_total counter\n");
	put(o, "tavla_cluster_republish_total %llu\n", (unsigned long long)rp->republish_total);
	put(o, "# HELP tavla_cluster_conflicts_total appends refused because another node appended to the room first\n"
	       "# TYPE tavla_cluster_conflicts_total counter\n");
	put(o, "tavla_cluster_conflicts_total %llu\n", (unsigned long long)rp->conflicts_total);
	put(o, "# HELP tavla_cluster_retries_total requests run again after their room moved on\n"
	       "# TYPE tavla_cluster_retries_total counter\n");
	put(o, "tavla_cluster_retries_total %llu\n", (unsigned long long)rp->retries_total);
	put(o, "# HELP tavla_cluster_applied_total events of other nodes applied here\n"
	       "# TYPE tavla_cluster_applied_total counter\n");
	put(o, "tavla_cluster_applied_total %llu\n", (unsigned long long)rp->applied_total);
	put(o, "# HELP tavla_cluster_stream_seq last stream sequence applied here\n"
	       "# TYPE tavla_cluster_stream_seq gauge\n");
	put(o, "tavla_cluster_stream_seq %llu\n", (unsigned long long)rp->pos_seq);
	put(o, "# HELP tavla_cluster_lag_events events (records) of a loaded room received from the stream but not yet applied\n"
	       "# TYPE tavla_cluster_lag_events gauge\n");
	struct lag_walk lw = { srv, put, o };
	map_each(&rp->subjects, put_lag, &lw);
}

/* ---- operator commands ------------------------------------------------------------------ */

int replica_check(const struct tv_config *cfg)
{
	char name[80];
	struct js_opts o;
	opts_of(cfg, &o, name, sizeof name);
	return jetstream_check(&o, stdout);
}

struct import {
	struct js_sync *y;
	char prefix[65];
	long identities, rooms, skipped, messages, events;
	int failed;
	char err[512];
};

/* Publishes the writes of one identity or room: the first message only
 * onto an empty subject (else it was imported before: skipped), the rest
 * chained after it. */
static int import_one(void *arg, const char *kind, const char *id, struct store_write *w,
		      size_t n)
{
	struct import *im = arg;
	char subject[160];
	snprintf(subject, sizeof subject, "%s.%s.%s", im->prefix,
		 strcmp(kind, "room") == 0 ? "room" : "ident", id);
	size_t i = 0;
	unsigned chunk = 0;
	uint64_t last = 0;
	while (i < n) {
		json_t *arr = json_array();
		size_t bytes = 0;
		while (arr && i < n && bytes < MSG_MAX_BYTES && json_array_size(arr) < MSG_MAX_RECORDS) {
			char *search = NULL;
			if (w[i].event) {
				json_t *d = json_loadb(w[i].event->data_json, w[i].event->data_len, 0, NULL);
				search = d ? search_text_of(w[i].event->kind, d) : NULL;
				json_decref(d);
				w[i].search_text = search;
				im->events++;
			}
			json_t *rec = record_encode(&w[i], NULL, 0);
			free(search);
			w[i].search_text = NULL;
			char *one = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
			bytes += one ? strlen(one) : 0;
			free(one);
			json_array_append_new(arr, rec);
			i++;
		}
		json_t *msg = json_pack("{s:I, s:o}", "x", (json_int_t)(chunk ? last : 0), "w", arr);
		char *data = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
		json_decref(msg);
		if (!data) {
			snprintf(im->err, sizeof im->err, "out of memory");
			im->failed = 1;
			return 1;
		}
		char msg_id[200];
		snprintf(msg_id, sizeof msg_id, "import-%s-%u", id, chunk);
		uint64_t seq = 0;
		int dup = 0;
		int rc = js_sync_publish(im->y, subject, msg_id, data, strlen(data), chunk ? last : 0,
					 &seq, &dup, im->err, sizeof im->err);
		free(data);
		if ((rc == JS_CONFLICT || (rc == 0 && dup)) && chunk == 0) {
			im->skipped++;
			return 0; /* in the stream already */
		}
		if (rc) {
			if (rc == JS_CONFLICT)
				snprintf(im->err, sizeof im->err, "%s %s changed while importing", kind, id);
			im->failed = 1;
			return 1;
		}
		im->messages++;
		last = seq;
		chunk++;
	}
	if (strcmp(kind, "room") == 0)
		im->rooms++;
	else
		im->identities++;
	return 0;
}

int replica_import(const struct tv_config *cfg, const char *db_path)
{
	char name[80], err[512] = "";
	struct js_opts o;
	struct import im;
	memset(&im, 0, sizeof im);
	opts_of(cfg, &o, name, sizeof name);
	if (!cfg->cluster_nats[0]) {
		fprintf(stderr, "tavlad: cluster-import needs cluster_nats\n");
		return 1;
	}
	make_prefix(im.prefix, sizeof im.prefix, o.stream);
	if (js_sync_open(&im.y, &o, err, sizeof err)) {
		fprintf(stderr, "tavlad: cluster-import: %s\n", err);
		return 1;
	}
	int rc = store_admin_export_all(db_path, import_one, &im, err, sizeof err);
	js_sync_close(im.y);
	if (rc || im.failed) {
		fprintf(stderr, "tavlad: cluster-import: %s\n", im.failed ? im.err : err);
		return 1;
	}
	printf("cluster-import: %ld identities and %ld rooms (%ld events) published in %ld "
	       "messages; %ld already in the stream\n", im.identities, im.rooms, im.events,
	       im.messages, im.skipped);
	return 0;
}
