/*
 * jetstream.c: the NATS JetStream connection of cluster mode (see
 * jetstream.h for the model and invariants). The only file that includes
 * the NATS headers.
 *
 * Why publisher threads and not the libuv adapter: a synchronous
 * js_PublishMsg is one round trip to the stream leader and its quorum
 * (a few ms on one machine); on threads of their own it costs the loop
 * nothing, and while one publish waits the next batch of a room gathers
 * (replica.c puts a room's queued writes into one message), exactly as the
 * store's writer groups commits. JS_PUBLISHERS threads take messages from
 * one queue, so rooms do not wait for each other's round trips. The adapter would put libnats' socket on
 * the loop but its JetStream calls would still block or need async acks
 * matched by hand. Messages arrive on libnats' own delivery thread and are
 * handed to the loop through a mutex-protected list and a uv_async_t.
 */
#include "jetstream.h"

#include <ctype.h>
#include <errno.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "tv_protocol.h"

/* Publisher threads: messages of different subjects are appended in
 * parallel (replica.c keeps at most one per subject in flight). */
#define JS_PUBLISHERS 4
/* How long a publish without an answer is repeated (publish_one). */
#define REPUBLISH_MS 8000

struct js_in {
	struct js_in *next;
	uint64_t seq, pending;
	size_t len;
	char *subject;
	char data[]; /* len bytes and a NUL */
};

struct jetstream {
	uv_loop_t *loop;
	struct js_callbacks cb;
	char stream[65], prefix[65];
	natsConnection *nc;
	jsCtx *js;
	natsSubscription *sub;
	uv_async_t *async;
	struct js_worker {
		struct jetstream *j;
		int idx;
		pthread_t thread;
	} workers[JS_PUBLISHERS];
	int nworkers;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct js_pub *queue, *queue_tail, *done, *done_tail;
	struct js_in *in, *in_tail;
	int stop;
	int closed;                 /* under mu: libnats' closed callback ran */
	pthread_cond_t closed_cv;
	uint64_t resub_from;        /* under mu: subscribe again from here */
	atomic_uint_least64_t stream_last; /* the stream's last seq, as last seen */
	atomic_int connected;
	int reported; /* last connection state handed to the loop */
};

static void set_err(char *err, size_t errlen, const char *what, natsStatus s, jsErrCode jerr)
{
	const char *txt = nats_GetLastError(NULL);
	snprintf(err, errlen, "%s: %s%s%s (js %d)", what, natsStatus_GetText(s),
		 txt ? ": " : "", txt ? txt : "", (int)jerr);
}

static void make_prefix(char *out, size_t cap, const char *stream)
{
	size_t i;
	for (i = 0; stream[i] && i + 1 < cap; i++)
		out[i] = (char)tolower((unsigned char)stream[i]);
	out[i] = 0;
}

/* Options for urls, creds, CA, with a short connect timeout. */
static natsStatus make_options(natsOptions **out, const struct js_opts *o, int reconnect)
{
	natsOptions *opts = NULL;
	natsStatus s = natsOptions_Create(&opts);
	char *urls = strdup(o->urls);
	const char *list[16];
	int n = 0;
	if (s == NATS_OK && !urls)
		s = NATS_NO_MEMORY;
	for (char *save = NULL, *t = urls ? strtok_r(urls, ", ", &save) : NULL; t && n < 16;
	     t = strtok_r(NULL, ", ", &save))
		list[n++] = t;
	if (s == NATS_OK)
		s = natsOptions_SetServers(opts, list, n);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(opts, 2000);
	if (s == NATS_OK && o->name && o->name[0])
		s = natsOptions_SetName(opts, o->name);
	if (s == NATS_OK && o->creds && o->creds[0])
		s = natsOptions_SetUserCredentialsFromFiles(opts, o->creds, NULL);
	if (s == NATS_OK && o->tls_ca && o->tls_ca[0])
		s = natsOptions_LoadCATrustedCertificates(opts, o->tls_ca);
	if (s == NATS_OK && reconnect) {
		s = natsOptions_SetMaxReconnect(opts, -1); /* forever */
		if (s == NATS_OK)
			s = natsOptions_SetReconnectWait(opts, 250);
	} else if (s == NATS_OK) {
		s = natsOptions_SetMaxReconnect(opts, 0);
	}
	free(urls);
	if (s != NATS_OK) {
		natsOptions_Destroy(opts);
		return s;
	}
	*out = opts;
	return NATS_OK;
}

/* The stream, created when missing. */
static natsStatus ensure_stream(jsCtx *js, const struct js_opts *o, const char *prefix,
				uint64_t *last_seq, char *err, size_t errlen)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s = js_GetStreamInfo(&si, js, o->stream, NULL, &jerr);
	*last_seq = 0;
	if (s == NATS_OK) {
		*last_seq = si->State.LastSeq;
		jsStreamInfo_Destroy(si);
		return NATS_OK;
	}
	if (s != NATS_NOT_FOUND) {
		set_err(err, errlen, "stream info", s, jerr);
		return s;
	}
	char subj[80];
	snprintf(subj, sizeof subj, "%s.>", prefix);
	const char *subjects[1] = { subj };
	jsStreamConfig sc;
	jsStreamConfig_Init(&sc);
	sc.Name = o->stream;
	sc.Subjects = subjects;
	sc.SubjectsLen = 1;
	sc.Storage = js_FileStorage;
	sc.Replicas = o->replicas;
	sc.DenyDelete = true;
	sc.DenyPurge = true;
	s = js_AddStream(&si, js, &sc, NULL, &jerr);
	if (s == NATS_OK) {
		jsStreamInfo_Destroy(si);
		return NATS_OK;
	}
	/* Another node created it at the same moment. */
	if (js_GetStreamInfo(&si, js, o->stream, NULL, NULL) == NATS_OK) {
		jsStreamInfo_Destroy(si);
		return NATS_OK;
	}
	set_err(err, errlen, "creating the stream", s, jerr);
	return s;
}

/* ---- libnats threads --------------------------------------------------------------- */

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
	struct jetstream *j = closure;
	jsMsgMetaData *meta = NULL;
	const char *subject = natsMsg_GetSubject(msg);
	int len = natsMsg_GetDataLength(msg);
	if (natsMsg_GetMetaData(&meta, msg) != NATS_OK || len < 0) {
		natsMsg_Destroy(msg);
		return;
	}
	struct js_in *in = malloc(sizeof *in + (size_t)len + 1);
	char *subj = strdup(subject ? subject : "");
	if (!in || !subj) {
		/* Cannot happen short of memory exhaustion; the ordered
		 * consumer cannot redeliver one message, so stop loudly. */
		log_error("cluster.oom", "seq=%llu", (unsigned long long)meta->Sequence.Stream);
		abort();
	}
	in->next = NULL;
	in->seq = meta->Sequence.Stream;
	in->pending = meta->NumPending;
	in->len = (size_t)len;
	in->subject = subj;
	memcpy(in->data, natsMsg_GetData(msg), (size_t)len);
	in->data[len] = 0;
	jsMsgMetaData_Destroy(meta);
	natsMsg_Destroy(msg);
	pthread_mutex_lock(&j->mu);
	if (j->in_tail)
		j->in_tail->next = in;
	else
		j->in = in;
	j->in_tail = in;
	pthread_mutex_unlock(&j->mu);
	uv_async_send(j->async);
}

static void on_disconnected(natsConnection *nc, void *closure)
{
	struct jetstream *j = closure;
	atomic_store(&j->connected, 0);
	pthread_mutex_lock(&j->mu);
	if (j->async)
		uv_async_send(j->async);
	pthread_mutex_unlock(&j->mu);
}

/* The last callback libnats makes for the connection: jetstream_close
 * waits for it before freeing what the callbacks use. */
static void on_closed(natsConnection *nc, void *closure)
{
	struct jetstream *j = closure;
	pthread_mutex_lock(&j->mu);
	j->closed = 1;
	pthread_cond_signal(&j->closed_cv);
	pthread_mutex_unlock(&j->mu);
}

static void on_reconnected(natsConnection *nc, void *closure)
{
	struct jetstream *j = closure;
	atomic_store(&j->connected, 1);
	pthread_mutex_lock(&j->mu);
	if (j->async)
		uv_async_send(j->async);
	pthread_mutex_unlock(&j->mu);
}

/* Parses the subject's last sequence out of "wrong last sequence: N". */
static uint64_t parse_last(const char *txt)
{
	const char *p = txt ? strstr(txt, "wrong last sequence: ") : NULL;
	return p ? strtoull(p + 21, NULL, 10) : 0;
}

static void publish_one(struct jetstream *j, struct js_pub *p)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	natsMsg *msg = NULL;
	jsPubAck *ack = NULL;
	jsErrCode jerr = 0;
	jsPubOptions po;
	jsPubOptions_Init(&po);
	po.MaxWait = 2000;
	po.MsgId = p->msg_id;
	po.ExpectLastSubjectSeq = p->expect;
	po.ExpectNoMessage = p->expect_none ? true : false;
	natsStatus s = natsMsg_Create(&msg, p->subject, NULL, p->data, (int)p->len);
	/* A publish that gets no answer (the server went away, the stream is
	 * electing a leader) is sent again, the same message with the same
	 * Msg-Id, for up to REPUBLISH_MS: if the first one was stored after
	 * all, JetStream answers the repeat as a duplicate with its sequence.
	 * A refusal (wrong last sequence) is an answer and is not repeated. */
	for (int64_t waited = 0; s == NATS_OK;) {
		jsPubAck_Destroy(ack);
		ack = NULL;
		jerr = 0;
		s = js_PublishMsg(&ack, j->js, msg, &po, &jerr);
		if (s == NATS_OK || jerr == JSStreamWrongLastSequenceErr || j->stop ||
		    waited >= REPUBLISH_MS)
			break;
		p->attempts++;
		nats_Sleep(250);
		s = NATS_OK;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		waited = (int64_t)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	}
	if (s == NATS_OK) {
		p->status = 0;
		p->seq = ack->Sequence;
		if (p->seq > atomic_load(&j->stream_last))
			atomic_store(&j->stream_last, p->seq);
	} else if (jerr == JSStreamWrongLastSequenceErr) {
		p->status = JS_CONFLICT;
		p->actual_last = parse_last(nats_GetLastError(NULL));
		if (p->actual_last > atomic_load(&j->stream_last))
			atomic_store(&j->stream_last, p->actual_last);
	} else {
		p->status = -TV_E_OVERLOADED; /* the cluster is unreachable: retry later */
		log_warn("cluster.publish_failed", "subject=%s status=%s js=%d error=%s", p->subject,
			 natsStatus_GetText(s), (int)jerr, nats_GetLastError(NULL));
	}
	jsPubAck_Destroy(ack);
	natsMsg_Destroy(msg);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	p->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
}

static natsStatus subscribe(struct jetstream *j, uint64_t start_seq, char *err, size_t errlen);
static void poll_stream(struct jetstream *j);

/* Publisher thread idx. The first one also replaces the consumer when
 * asked and polls the stream's last sequence while idle. */
static void *publisher_main(void *arg)
{
	struct js_worker *wk = arg;
	struct jetstream *j = wk->j;
	int first = wk->idx == 0;
	pthread_mutex_lock(&j->mu);
	for (;;) {
		while (!j->queue && !j->stop && !(first && j->resub_from)) {
			if (!first) {
				pthread_cond_wait(&j->cond, &j->mu);
				continue;
			}
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 2;
			if (pthread_cond_timedwait(&j->cond, &j->mu, &until) == ETIMEDOUT &&
			    !j->queue && !j->stop && !j->resub_from) {
				pthread_mutex_unlock(&j->mu);
				poll_stream(j);
				pthread_mutex_lock(&j->mu);
			}
		}
		if (first && j->resub_from && !j->stop) {
			uint64_t from = j->resub_from;
			j->resub_from = 0;
			pthread_mutex_unlock(&j->mu);
			char err[300] = "";
			if (subscribe(j, from, err, sizeof err) != NATS_OK)
				log_warn("cluster.resubscribe_failed", "from=%llu error=%s",
					 (unsigned long long)from, err);
			else
				log_info("cluster.resubscribed", "from=%llu", (unsigned long long)from);
			pthread_mutex_lock(&j->mu);
			continue;
		}
		if (!j->queue && j->stop)
			break;
		if (!j->queue)
			continue;
		struct js_pub *p = j->queue;
		j->queue = p->next;
		if (!j->queue)
			j->queue_tail = NULL;
		int stop = j->stop;
		pthread_mutex_unlock(&j->mu);
		if (stop)
			p->status = -TV_E_SHUTTING_DOWN;
		else
			publish_one(j, p);
		pthread_mutex_lock(&j->mu);
		p->next = NULL;
		if (j->done_tail)
			j->done_tail->next = p;
		else
			j->done = p;
		j->done_tail = p;
		uv_async_send(j->async);
	}
	pthread_mutex_unlock(&j->mu);
	return NULL;
}

/* The ordered push consumer of the whole stream from start_seq. Called at
 * open and by the publisher thread when the loop finds the consumer
 * stalled (jetstream_resubscribe). */
static natsStatus subscribe(struct jetstream *j, uint64_t start_seq, char *err, size_t errlen)
{
	char subj[80];
	snprintf(subj, sizeof subj, "%s.>", j->prefix);
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = 5000;
	jsSubOptions so;
	jsSubOptions_Init(&so);
	so.Stream = j->stream;
	so.Ordered = true;
	so.Config.Heartbeat = (int64_t)2 * 1000 * 1000 * 1000; /* 2 s, in ns */
	so.Config.FlowControl = true;
	if (start_seq > 1) {
		so.Config.DeliverPolicy = js_DeliverByStartSequence;
		so.Config.OptStartSeq = start_seq;
	} else {
		so.Config.DeliverPolicy = js_DeliverAll;
	}
	jsErrCode jerr = 0;
	natsSubscription *sub = NULL;
	natsStatus s = js_Subscribe(&sub, j->js, subj, on_msg, j, &jo, &so, &jerr);
	if (s != NATS_OK) {
		set_err(err, errlen, "subscribing to the stream", s, jerr);
		return s;
	}
	natsSubscription *old = j->sub;
	j->sub = sub;
	if (old) {
		natsSubscription_Unsubscribe(old);
		natsSubscription_Destroy(old);
	}
	return NATS_OK;
}

/* Publisher thread, while idle: the stream's last sequence, so the loop
 * can tell a stalled consumer from a quiet stream. */
static void poll_stream(struct jetstream *j)
{
	jsStreamInfo *si = NULL;
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = 2000;
	if (js_GetStreamInfo(&si, j->js, j->stream, &jo, NULL) == NATS_OK) {
		atomic_store(&j->stream_last, si->State.LastSeq);
		jsStreamInfo_Destroy(si);
	}
}

/* ---- the loop thread ---------------------------------------------------------------- */

static void on_async(uv_async_t *h)
{
	struct jetstream *j = h->data;
	if (!j)
		return;
	pthread_mutex_lock(&j->mu);
	struct js_pub *done = j->done;
	struct js_in *in = j->in;
	j->done = j->done_tail = NULL;
	j->in = j->in_tail = NULL;
	pthread_mutex_unlock(&j->mu);
	int c = atomic_load(&j->connected);
	if (c != j->reported) {
		j->reported = c;
		log_info(c ? "cluster.connected" : "cluster.disconnected", NULL);
		if (j->cb.connection)
			j->cb.connection(j->cb.arg, c);
	}
	while (done) {
		struct js_pub *p = done;
		done = p->next;
		p->next = NULL;
		j->cb.published(j->cb.arg, p);
	}
	while (in) {
		struct js_in *m = in;
		in = m->next;
		j->cb.message(j->cb.arg, m->subject, m->seq, m->pending, m->data, m->len);
		free(m->subject);
		free(m);
	}
}

int jetstream_open(struct jetstream **out, uv_loop_t *loop, const struct js_opts *o,
		   const struct js_callbacks *cb, uint64_t start_seq, uint64_t *last_seq,
		   char *err, size_t errlen)
{
	struct jetstream *j = calloc(1, sizeof *j);
	natsOptions *opts = NULL;
	if (!j) {
		snprintf(err, errlen, "out of memory");
		return -TV_E_INTERNAL;
	}
	j->loop = loop;
	j->cb = *cb;
	snprintf(j->stream, sizeof j->stream, "%s", o->stream);
	make_prefix(j->prefix, sizeof j->prefix, o->stream);
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cond, NULL);
	pthread_cond_init(&j->closed_cv, NULL);
	j->async = malloc(sizeof *j->async);
	if (!j->async || uv_async_init(loop, j->async, on_async)) {
		free(j->async);
		free(j);
		snprintf(err, errlen, "out of memory");
		return -TV_E_INTERNAL;
	}
	j->async->data = j;
	natsStatus s = make_options(&opts, o, 1);
	if (s == NATS_OK)
		s = natsOptions_SetDisconnectedCB(opts, on_disconnected, j);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectedCB(opts, on_reconnected, j);
	if (s == NATS_OK)
		s = natsOptions_SetClosedCB(opts, on_closed, j);
	if (s == NATS_OK)
		s = natsConnection_Connect(&j->nc, opts);
	natsOptions_Destroy(opts);
	if (s != NATS_OK) {
		set_err(err, errlen, "connecting to NATS", s, 0);
		goto fail;
	}
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = 5000;
	s = natsConnection_JetStream(&j->js, j->nc, &jo);
	if (s != NATS_OK) {
		set_err(err, errlen, "JetStream", s, 0);
		goto fail;
	}
	/* The stream may need a moment after the servers start (leader
	 * election): try for a few seconds. */
	for (int tries = 0; tries < 20; tries++) {
		s = ensure_stream(j->js, o, j->prefix, last_seq, err, errlen);
		if (s == NATS_OK)
			break;
		nats_Sleep(500);
	}
	if (s != NATS_OK)
		goto fail;
	atomic_store(&j->connected, 1);
	atomic_store(&j->stream_last, *last_seq);
	j->reported = 1;
	s = subscribe(j, start_seq, err, errlen);
	if (s != NATS_OK)
		goto fail;
	for (int i = 0; i < JS_PUBLISHERS; i++) {
		j->workers[i].j = j;
		j->workers[i].idx = i;
		if (pthread_create(&j->workers[i].thread, NULL, publisher_main, &j->workers[i])) {
			snprintf(err, errlen, "cannot start the publisher threads");
			goto fail;
		}
		j->nworkers++;
	}
	*out = j;
	return 0;
fail:
	jetstream_close(j);
	return -TV_E_INTERNAL;
}

static void free_async(uv_handle_t *h)
{
	free(h);
}

void jetstream_close(struct jetstream *j)
{
	if (!j)
		return;
	if (j->sub) {
		natsSubscription_Unsubscribe(j->sub);
		natsSubscription_Destroy(j->sub);
	}
	if (j->nworkers) {
		pthread_mutex_lock(&j->mu);
		j->stop = 1;
		pthread_cond_broadcast(&j->cond);
		pthread_mutex_unlock(&j->mu);
		for (int i = 0; i < j->nworkers; i++)
			pthread_join(j->workers[i].thread, NULL);
	}
	if (j->nc) {
		natsConnection_Close(j->nc);
		/* libnats calls disconnected and closed on a thread of its own
		 * after Close returns: wait for the last one (bounded: 3 s). */
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 3;
		pthread_mutex_lock(&j->mu);
		while (!j->closed &&
		       pthread_cond_timedwait(&j->closed_cv, &j->mu, &until) != ETIMEDOUT)
			;
		pthread_mutex_unlock(&j->mu);
	}
	/* Whatever arrived is delivered (completions) or dropped (messages:
	 * the next start reads them again from the stream). */
	pthread_mutex_lock(&j->mu);
	struct js_in *in = j->in;
	j->in = j->in_tail = NULL;
	pthread_mutex_unlock(&j->mu);
	while (in) {
		struct js_in *m = in;
		in = m->next;
		free(m->subject);
		free(m);
	}
	pthread_mutex_lock(&j->mu);
	struct js_pub *done = j->done;
	j->done = j->done_tail = NULL;
	uv_async_t *a = j->async;
	j->async = NULL;
	pthread_mutex_unlock(&j->mu);
	while (done) {
		struct js_pub *p = done;
		done = p->next;
		j->cb.published(j->cb.arg, p);
	}
	jsCtx_Destroy(j->js);
	natsConnection_Destroy(j->nc);
	if (a) {
		a->data = NULL;
		uv_close((uv_handle_t *)a, free_async);
	}
	pthread_mutex_destroy(&j->mu);
	pthread_cond_destroy(&j->cond);
	pthread_cond_destroy(&j->closed_cv);
	free(j);
}

void jetstream_publish(struct jetstream *j, struct js_pub *p)
{
	p->next = NULL;
	p->status = 0;
	p->attempts = 0;
	p->seq = p->actual_last = 0;
	pthread_mutex_lock(&j->mu);
	if (j->queue_tail)
		j->queue_tail->next = p;
	else
		j->queue = p;
	j->queue_tail = p;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->mu);
}

void jetstream_resubscribe(struct jetstream *j, uint64_t from)
{
	pthread_mutex_lock(&j->mu);
	j->resub_from = from ? from : 1;
	pthread_cond_broadcast(&j->cond); /* for the first publisher thread */
	pthread_mutex_unlock(&j->mu);
}

uint64_t jetstream_stream_last(const struct jetstream *j)
{
	return atomic_load(&((struct jetstream *)j)->stream_last);
}

int jetstream_connected(const struct jetstream *j)
{
	return j && j->reported;
}

/* ---- tavlad --check-cluster ------------------------------------------------------------ */

int jetstream_check(const struct js_opts *o, FILE *out)
{
	natsOptions *opts = NULL;
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	int rc = 1;
	if (!o->urls[0]) {
		fprintf(out, "cluster: cluster_nats is empty: this node runs alone\n");
		return 1;
	}
	natsStatus s = make_options(&opts, o, 0);
	if (s == NATS_OK)
		s = natsConnection_Connect(&nc, opts);
	natsOptions_Destroy(opts);
	if (s != NATS_OK) {
		fprintf(out, "cluster: cannot connect to %s: %s\n", o->urls, natsStatus_GetText(s));
		goto done;
	}
	char url[256] = "";
	natsConnection_GetConnectedUrl(nc, url, sizeof url);
	fprintf(out, "nats: connected to %s\n", url);
	char **servers = NULL;
	int n = 0;
	if (natsConnection_GetServers(nc, &servers, &n) == NATS_OK) {
		for (int i = 0; i < n; i++) {
			fprintf(out, "nats: server %s\n", servers[i]);
			free(servers[i]);
		}
		free(servers);
	}
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = 3000;
	s = natsConnection_JetStream(&js, nc, &jo);
	if (s == NATS_OK)
		s = js_GetStreamInfo(&si, js, o->stream, NULL, &jerr);
	if (s == NATS_NOT_FOUND) {
		fprintf(out, "stream: %s does not exist yet (the first node creates it with %d "
			"replicas)\n", o->stream, o->replicas);
		/* Usable when JetStream answers at all: ask for the account. */
		jsAccountInfo *ai = NULL;
		s = js_GetAccountInfo(&ai, js, &jo, &jerr);
		if (s == NATS_OK) {
			fprintf(out, "jetstream: available (streams=%lld)\n", (long long)ai->Streams);
			jsAccountInfo_Destroy(ai);
			rc = 0;
		} else {
			fprintf(out, "jetstream: not available: %s (js %d)\n", natsStatus_GetText(s),
				(int)jerr);
		}
		goto done;
	}
	if (s != NATS_OK) {
		fprintf(out, "stream: %s: %s (js %d)\n", o->stream, natsStatus_GetText(s), (int)jerr);
		goto done;
	}
	fprintf(out, "stream: %s exists replicas=%d messages=%llu last_seq=%llu\n", o->stream,
		si->Config ? (int)si->Config->Replicas : 0, (unsigned long long)si->State.Msgs,
		(unsigned long long)si->State.LastSeq);
	if (si->Cluster) {
		fprintf(out, "stream: leader=%s\n", si->Cluster->Leader ? si->Cluster->Leader : "(none)");
		int current = 0;
		for (int i = 0; i < si->Cluster->ReplicasLen; i++) {
			jsPeerInfo *p = si->Cluster->Replicas[i];
			fprintf(out, "stream: replica %s current=%s offline=%s\n", p->Name,
				p->Current ? "yes" : "no", p->Offline ? "yes" : "no");
			current += p->Current && !p->Offline;
		}
		if (!si->Cluster->Leader || !si->Cluster->Leader[0]) {
			fprintf(out, "cluster: the stream has no leader\n");
			goto done;
		}
		fprintf(out, "stream: %d of %d followers current\n", current, si->Cluster->ReplicasLen);
	}
	rc = 0;
done:
	fprintf(out, "cluster: %s\n", rc ? "NOT usable" : "usable");
	jsStreamInfo_Destroy(si);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	return rc;
}

/* ---- one synchronous publisher (tavlad admin cluster-import) ------------------------------ */

struct js_sync {
	natsConnection *nc;
	jsCtx *js;
	char prefix[65];
};

int js_sync_open(struct js_sync **out, const struct js_opts *o, char *err, size_t errlen)
{
	struct js_sync *y = calloc(1, sizeof *y);
	natsOptions *opts = NULL;
	if (!y)
		return -TV_E_INTERNAL;
	make_prefix(y->prefix, sizeof y->prefix, o->stream);
	natsStatus s = make_options(&opts, o, 0);
	if (s == NATS_OK)
		s = natsConnection_Connect(&y->nc, opts);
	natsOptions_Destroy(opts);
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = 5000;
	if (s == NATS_OK)
		s = natsConnection_JetStream(&y->js, y->nc, &jo);
	for (int tries = 0; s == NATS_OK && tries < 20; tries++) {
		uint64_t last;
		s = ensure_stream(y->js, o, y->prefix, &last, err, errlen);
		if (s == NATS_OK)
			break;
		nats_Sleep(500);
		s = NATS_OK;
		if (tries == 19)
			s = NATS_TIMEOUT;
	}
	if (s != NATS_OK) {
		if (!err[0])
			set_err(err, errlen, "connecting to NATS", s, 0);
		js_sync_close(y);
		return -TV_E_INTERNAL;
	}
	*out = y;
	return 0;
}

int js_sync_publish(struct js_sync *y, const char *subject, const char *msg_id,
		    const char *data, size_t len, uint64_t expect, uint64_t *seq, int *duplicate,
		    char *err, size_t errlen)
{
	natsMsg *msg = NULL;
	jsPubAck *ack = NULL;
	jsErrCode jerr = 0;
	jsPubOptions po;
	jsPubOptions_Init(&po);
	po.MsgId = msg_id;
	po.MaxWait = 10000;
	po.ExpectLastSubjectSeq = expect;
	po.ExpectNoMessage = expect == 0;
	natsStatus s = natsMsg_Create(&msg, subject, NULL, data, (int)len);
	if (s == NATS_OK)
		s = js_PublishMsg(&ack, y->js, msg, &po, &jerr);
	natsMsg_Destroy(msg);
	if (s == NATS_OK) {
		*seq = ack->Sequence;
		*duplicate = ack->Duplicate;
		jsPubAck_Destroy(ack);
		return 0;
	}
	if (jerr == JSStreamWrongLastSequenceErr)
		return JS_CONFLICT;
	set_err(err, errlen, "publishing", s, jerr);
	return -TV_E_INTERNAL;
}

void js_sync_close(struct js_sync *y)
{
	if (!y)
		return;
	jsCtx_Destroy(y->js);
	natsConnection_Destroy(y->nc);
	free(y);
}
