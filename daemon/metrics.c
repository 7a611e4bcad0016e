/*
 * metrics.c: the counters' names and the Prometheus text of GET /metrics,
 * the address check for it, and the readiness probe of GET /readyz. Not
 * responsible for HTTP (ws_server.c) or for measuring the store's commits
 * (store.c measures them on its writer thread; store_metrics() copies them).
 *
 * Every metric is prefixed tavla_. Counters end in _total; rates (events
 * per second by kind, errors per second by code) are the scraper's
 * rate() of them. Histograms follow the format: cumulative _bucket{le=}
 * lines ending with le="+Inf", then _sum and _count.
 *
 * Invariants:
 *  1. The body is rendered in one loop turn from loop-thread state plus one
 *     consistent copy of the writer's measurements: what one scrape shows
 *     is a snapshot.
 *  2. Walking the connections for the send-queue histogram is bounded by
 *     max_connections.
 */
#include "metrics.h"
#include "replica.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "store.h"

/* The protocol's event kinds (PROTOCOL.md 5 and 5.3). */
static const char *const kinds[] = {
	"room.created", "member.joined", "chat.message", "table.created", "table.assigned",
	"board.created", "board.updated", "note.created", "note.updated", "note.deleted",
	"note.restored", "note.approved", "phase.changed", "writing.changed",
	"writing.revealed", "timer.changed", "timer.expired", "ready.changed",
	"view.focused", "member.role",
};
#define NKINDS (sizeof kinds / sizeof kinds[0])
_Static_assert(NKINDS <= TV_STATS_KINDS, "raise TV_STATS_KINDS in server.h");

void metrics_count_event(struct tv_stats *st, const char *kind)
{
	for (size_t i = 0; i < NKINDS; i++)
		if (strcmp(kinds[i], kind) == 0) {
			st->events_by_kind[i]++;
			return;
		}
	st->events_by_kind[TV_STATS_KINDS]++;
}

void metrics_count_error(struct tv_stats *st, int code)
{
	if (code < 0)
		code = -code;
	if (code <= TV_E_OK || code >= TV_E__COUNT)
		code = TV_E_INTERNAL;
	st->errors_by_code[code]++;
}

/* ---- the text ---------------------------------------------------------------------- */

struct out {
	char *buf;
	size_t len, cap;
	int oom;
};

static void vput(struct out *o, const char *fmt, va_list ap0)
{
	if (o->oom)
		return;
	for (;;) {
		va_list ap;
		va_copy(ap, ap0);
		int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->oom = 1;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		size_t cap = o->cap * 2 + (size_t)n;
		char *nb = realloc(o->buf, cap);
		if (!nb) {
			o->oom = 1;
			return;
		}
		o->buf = nb;
		o->cap = cap;
	}
}

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vput(o, fmt, ap);
	va_end(ap);
}

/* put for other modules' metrics (replica_metrics). */
static void put_any(void *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vput(o, fmt, ap);
	va_end(ap);
}

static void head(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP tavla_%s %s\n# TYPE tavla_%s %s\n", name, help, name, type);
}

static void histogram(struct out *o, const char *name, const char *help, const double *bounds,
		      int n, const uint64_t *buckets, double sum, uint64_t count)
{
	head(o, name, "histogram", help);
	uint64_t cum = 0;
	for (int i = 0; i < n; i++) {
		cum += buckets[i];
		put(o, "tavla_%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], (unsigned long long)cum);
	}
	cum += buckets[n];
	put(o, "tavla_%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
	put(o, "tavla_%s_sum %.6f\n", name, sum);
	put(o, "tavla_%s_count %llu\n", name, (unsigned long long)count);
}

/* Send-queue depth buckets, in bytes queued per connection. */
static const double queue_bounds[] = { 0, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304 };
#define NQUEUE (int)(sizeof queue_bounds / sizeof queue_bounds[0])

struct queue_walk {
	uint64_t buckets[NQUEUE + 1];
	double sum;
	uint64_t count, max;
};

static void walk_conn(const char *key, void *value, void *arg)
{
	struct queue_walk *q = arg;
	const struct conn *c = value;
	double v = (double)c->q_bytes;
	int i = 0;
	while (i < NQUEUE && v > queue_bounds[i])
		i++;
	q->buckets[i]++;
	q->sum += v;
	q->count++;
	if (c->q_bytes > q->max)
		q->max = c->q_bytes;
}

char *metrics_render(struct tv_server *srv, int cert_loaded, size_t *len)
{
	struct out o = { malloc(16384), 0, 16384, 0 };
	if (!o.buf)
		return NULL;
	const struct tv_stats *st = &srv->stats;
	struct store_metrics sm;
	memset(&sm, 0, sizeof sm);
	if (srv->store)
		store_metrics(srv->store, &sm);

	head(&o, "build_info", "gauge", "tavlad version and protocol");
	put(&o, "tavla_build_info{version=\"%s\",protocol=\"%s\"} 1\n", TAVLA_VERSION,
	    TV_PROTOCOL_NAME);
	head(&o, "start_time_seconds", "gauge", "when this tavlad started (Unix time)");
	put(&o, "tavla_start_time_seconds %.3f\n", (double)srv->started_ms / 1000.0);
	head(&o, "connections", "gauge", "WebSocket connections open now");
	put(&o, "tavla_connections %llu\n", (unsigned long long)st->connections_open);
	head(&o, "connections_total", "counter", "WebSocket connections accepted");
	put(&o, "tavla_connections_total %llu\n", (unsigned long long)st->connections_total);
	head(&o, "rooms_loaded", "gauge", "rooms held in memory (with subscribers or writes)");
	put(&o, "tavla_rooms_loaded %zu\n", srv->rooms_by_id.count);
	head(&o, "requests_total", "counter", "requests received");
	put(&o, "tavla_requests_total %llu\n", (unsigned long long)st->requests);

	head(&o, "events_total", "counter", "events committed and published, by kind");
	for (size_t i = 0; i < NKINDS; i++)
		put(&o, "tavla_events_total{kind=\"%s\"} %llu\n", kinds[i],
		    (unsigned long long)st->events_by_kind[i]);
	put(&o, "tavla_events_total{kind=\"other\"} %llu\n",
	    (unsigned long long)st->events_by_kind[TV_STATS_KINDS]);

	head(&o, "errors_total", "counter", "error replies sent, by code (PROTOCOL.md 7.1)");
	for (int c = TV_E_OK + 1; c < TV_E__COUNT; c++)
		put(&o, "tavla_errors_total{code=\"%s\"} %llu\n", tv_err_name(c),
		    (unsigned long long)st->errors_by_code[c]);

	head(&o, "slow_consumers_closed_total", "counter",
	     "connections closed with 4000 because they fell behind (send_queue or the ring)");
	put(&o, "tavla_slow_consumers_closed_total %llu\n", (unsigned long long)st->slow_closed);

	struct queue_walk q;
	memset(&q, 0, sizeof q);
	map_each(&srv->conns_by_id, walk_conn, &q);
	histogram(&o, "send_queue_bytes", "bytes waiting to be sent, per connection, now",
		  queue_bounds, NQUEUE, q.buckets, q.sum, q.count);
	head(&o, "send_queue_max_bytes", "gauge", "the longest send queue now");
	put(&o, "tavla_send_queue_max_bytes %llu\n", (unsigned long long)q.max);

	histogram(&o, "commit_seconds", "time from BEGIN to COMMIT of one group commit",
		  sm.lat_bounds ? sm.lat_bounds : queue_bounds, STORE_LAT_BUCKETS,
		  sm.commit_buckets, sm.commit_sum, sm.commits);
	histogram(&o, "commit_batch_writes", "writes per group commit", sm.batch_bounds ?
		  sm.batch_bounds : queue_bounds, STORE_BATCH_BUCKETS, sm.batch_buckets,
		  (double)sm.batch_sum, sm.commits);
	head(&o, "wal_pages_total", "counter", "database pages the writer appended to the WAL (4 KiB each)");
	put(&o, "tavla_wal_pages_total %llu\n", (unsigned long long)sm.wal_pages);
	head(&o, "commits_failed_total", "counter", "group commits rolled back (disk full, I/O error)");
	put(&o, "tavla_commits_failed_total %llu\n", (unsigned long long)sm.commits_failed);
	head(&o, "store_pending_writes", "gauge", "writes queued or being committed");
	put(&o, "tavla_store_pending_writes %zu\n", sm.pending);
	head(&o, "retention_rooms_deleted_total", "counter", "rooms deleted by retention_days");
	put(&o, "tavla_retention_rooms_deleted_total %llu\n",
	    (unsigned long long)st->retention_deleted);
	head(&o, "tls_certificate_loaded", "gauge", "1 while a certificate and key are in use");
	put(&o, "tavla_tls_certificate_loaded %d\n", cert_loaded ? 1 : 0);
	replica_metrics(srv, put_any, &o); /* cluster mode only */

	if (o.oom) {
		free(o.buf);
		return NULL;
	}
	*len = o.len;
	return o.buf;
}

/* ---- who may scrape ------------------------------------------------------------- */

/* Parses an address into 16 bytes (IPv4 as IPv4-mapped IPv6). */
static int parse_addr(const char *s, unsigned char out[16])
{
	struct in_addr v4;
	if (inet_pton(AF_INET, s, &v4) == 1) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &v4, 4);
		return 4;
	}
	struct in6_addr v6;
	if (inet_pton(AF_INET6, s, &v6) == 1) {
		memcpy(out, &v6, 16);
		static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		return memcmp(out, mapped, 12) == 0 ? 4 : 6;
	}
	return 0;
}

static int in_net(const unsigned char a[16], const char *net, size_t n)
{
	char buf[80];
	if (n == 0 || n >= sizeof buf)
		return 0;
	memcpy(buf, net, n);
	buf[n] = 0;
	char *slash = strchr(buf, '/');
	long bits = -1;
	if (slash) {
		*slash = 0;
		char *end;
		bits = strtol(slash + 1, &end, 10);
		if (*end || end == slash + 1)
			return 0;
	}
	unsigned char m[16];
	int fam = parse_addr(buf, m);
	if (!fam)
		return 0;
	if (bits < 0)
		bits = fam == 4 ? 32 : 128;
	if ((fam == 4 && bits > 32) || bits > 128)
		return 0;
	if (fam == 4)
		bits += 96; /* compare inside the mapped form */
	for (long i = 0; i < bits; i++) {
		unsigned mask = 0x80u >> (i % 8);
		if ((a[i / 8] & mask) != (m[i / 8] & mask))
			return 0;
	}
	return 1;
}

int metrics_addr_allowed(const char *list, const char *addr)
{
	unsigned char a[16];
	if (!list || !addr || !parse_addr(addr, a))
		return 0;
	while (*list) {
		while (*list == ' ' || *list == ',')
			list++;
		size_t n = strcspn(list, ", ");
		if (n && in_net(a, list, n))
			return 1;
		list += n;
	}
	return 0;
}

/* ---- the readiness probe --------------------------------------------------------- */

struct metrics_probe {
	struct store_write w; /* first: the store hands back &w */
	struct tv_server *srv;
	void (*done)(void *arg, int status);
	void *arg;
};

static void probe_done(struct store_write *w)
{
	struct metrics_probe *p = (struct metrics_probe *)w;
	int status = w->status;
	/* Cluster mode: ready only while the stream is reachable and this
	 * node has applied what it held at start (replica.h). */
	if (!status && !replica_ready(p->srv))
		status = -TV_E_OVERLOADED;
	if (p->done)
		p->done(p->arg, status);
	store_write_release(w);
	free(p);
}

struct metrics_probe *metrics_probe_start(struct tv_server *srv,
					  void (*done)(void *arg, int status), void *arg)
{
	struct metrics_probe *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->done = done;
	p->arg = arg;
	p->srv = srv;
	p->w.probe = 1;
	p->w.now_ms = server_now_ms();
	p->w.done = probe_done;
	store_submit(srv->store, &p->w);
	return p;
}

void metrics_probe_cancel(struct metrics_probe *p)
{
	if (p)
		p->done = NULL;
}
