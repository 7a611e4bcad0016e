/*
 * conn.c: per-connection state: reassembly, reply queue, subscriptions,
 * rate limit and frame building (see conn.h).
 */
#include "conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dispatch.h"
#include "guard.h"
#include "log.h"
#include "server.h"

/* ---- lifecycle ----------------------------------------------------------------- */

struct conn *conn_new(struct tv_server *srv, const struct conn_transport *tp,
		      void *tp_handle, const char *addr)
{
	struct conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->srv = srv;
	c->id = ++srv->next_conn_id;
	snprintf(c->key, sizeof c->key, "%llu", (unsigned long long)c->id);
	c->tp = tp;
	c->tp_handle = tp_handle;
	c->state = CONN_OPEN;
	snprintf(c->addr, sizeof c->addr, "%s", addr ? addr : "?");
	c->tokens = (double)srv->cfg->rate_burst;
	c->tokens_ms = server_now_ms();
	if (map_put(&srv->conns_by_id, c->key, c)) {
		free(c);
		return NULL;
	}
	srv->stats.connections_total++;
	srv->stats.connections_open++;
	guard_conn_opened(srv, c->addr);
	log_debug("conn.open", "conn=%s addr=%s", c->key, c->addr);
	return c;
}

void conn_free(struct conn *c)
{
	if (!c)
		return;
	while (c->subs)
		conn_sub_drop(c, c->subs);
	for (size_t i = 0; i < c->q_len; i++)
		tv_buf_unref(c->q[(c->q_head + i) % c->q_cap]);
	free(c->q);
	free(c->rx);
	map_del(&c->srv->conns_by_id, c->key);
	c->srv->stats.connections_open--;
	guard_conn_closed(c->srv, c->addr);
	log_debug("conn.close", "conn=%s code=%d", c->key, c->close_code);
	free(c);
}

struct conn *conn_by_id(struct tv_server *srv, uint64_t id)
{
	char key[24];
	snprintf(key, sizeof key, "%llu", (unsigned long long)id);
	return map_get(&srv->conns_by_id, key);
}

static void wake(struct conn *c, int urgent)
{
	if (!c->wake_pending) {
		c->wake_pending = 1;
		c->tp->wake(c, urgent);
	} else if (urgent) {
		c->tp->wake(c, 1); /* may move it ahead of the fan-out */
	}
}

void conn_close(struct conn *c, int code, const char *reason)
{
	if (c->state == CONN_CLOSING)
		return;
	c->state = CONN_CLOSING;
	c->close_code = code;
	snprintf(c->close_reason, sizeof c->close_reason, "%s", reason ? reason : "");
	while (c->subs)
		conn_sub_drop(c, c->subs);
	wake(c, 1);
}

/* ---- receiving -------------------------------------------------------------------- */

int conn_rx(struct conn *c, const void *in, size_t len, int first, int final, int binary)
{
	size_t max = (size_t)c->srv->cfg->max_message;
	if (first) {
		c->rx_len = 0;
		c->rx_binary = binary;
		c->rx_overflow = 0;
	}
	if (c->state == CONN_CLOSING)
		return 0;
	if (c->rx_len + len > max) {
		/* Too large: say so, then close with 1009 (RFC 6455: message
		 * too big). Reading on to the end would let one client make
		 * the daemon buffer without bound. */
		dispatch_error(c, NULL, -TV_E_TOO_LARGE, NULL);
		conn_close(c, 1009, "message too large");
		return 0;
	}
	if (c->rx_len + len + 1 > c->rx_cap) {
		size_t cap = c->rx_cap ? c->rx_cap : 1024;
		while (cap < c->rx_len + len + 1)
			cap *= 2;
		char *n = realloc(c->rx, cap);
		if (!n) {
			conn_close(c, 1011, "out of memory");
			return 0;
		}
		c->rx = n;
		c->rx_cap = cap;
	}
	memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	if (!final)
		return 0;
	c->rx[c->rx_len] = 0;
	if (c->rx_binary) {
		dispatch_error(c, NULL, -TV_E_BINARY_FRAME, NULL);
	} else {
		dispatch_message(c, c->rx, c->rx_len);
	}
	c->rx_len = 0;
	/* A big message should not pin a big buffer for the connection's life. */
	if (c->rx_cap > 16384) {
		free(c->rx);
		c->rx = NULL;
		c->rx_cap = 0;
	}
	return 0;
}

int conn_rate_take(struct conn *c, double cost)
{
	const struct tv_config *cfg = c->srv->cfg;
	int64_t now = server_now_ms();
	c->tokens += (double)(now - c->tokens_ms) * (double)cfg->rate_per_sec / 1000.0;
	c->tokens_ms = now;
	if (c->tokens > (double)cfg->rate_burst)
		c->tokens = (double)cfg->rate_burst;
	if (c->tokens < cost)
		return -TV_E_RATE_LIMITED;
	c->tokens -= cost;
	return 0;
}

/* ---- sending ------------------------------------------------------------------------ */

int conn_send(struct conn *c, struct tv_buf *b)
{
	if (!b)
		return -TV_E_INTERNAL;
	if (c->q_bytes + b->len > (size_t)c->srv->cfg->send_queue_max) {
		c->srv->stats.slow_closed++;
		conn_close(c, 4000, "send queue full: resume");
		return -TV_E_OVERLOADED;
	}
	if (c->q_len == c->q_cap) {
		size_t cap = c->q_cap ? c->q_cap * 2 : 8;
		struct tv_buf **q = malloc(cap * sizeof *q);
		if (!q)
			return -TV_E_INTERNAL;
		for (size_t i = 0; i < c->q_len; i++)
			q[i] = c->q[(c->q_head + i) % c->q_cap];
		free(c->q);
		c->q = q;
		c->q_cap = cap;
		c->q_head = 0;
	}
	c->q[(c->q_head + c->q_len) % c->q_cap] = tv_buf_ref(b);
	c->q_len++;
	c->q_bytes += b->len;
	wake(c, 1);
	return 0;
}

int conn_send_copy(struct conn *c, const char *s, size_t len)
{
	struct tv_buf *b = tv_buf_copy(s, len);
	int rc = conn_send(c, b);
	tv_buf_unref(b);
	return b ? rc : -TV_E_INTERNAL;
}

static struct tv_buf *q_peek(struct conn *c)
{
	return c->q_len ? c->q[c->q_head] : NULL;
}

static void q_pop(struct conn *c)
{
	struct tv_buf *b = c->q[c->q_head];
	c->q_head = (c->q_head + 1) % c->q_cap;
	c->q_len--;
	c->q_bytes -= b->len;
	tv_buf_unref(b);
}

/* The next message to send and where it comes from (queue first, then
 * the subscriptions round robin). Does not consume it. */
static struct tv_buf *peek_next(struct conn *c, struct room_sub **from)
{
	struct tv_buf *b = q_peek(c);
	*from = NULL;
	if (b)
		return b;
	if (!c->rr)
		c->rr = c->subs;
	for (struct room_sub *s = c->rr, *start = c->rr; s;) {
		if ((b = room_sub_next(s, 1))) {
			*from = s;
			c->rr = s;
			return b;
		}
		s = s->conn_next ? s->conn_next : c->subs;
		if (s == start)
			break;
	}
	return NULL;
}

static void consume(struct conn *c, struct room_sub *from)
{
	if (from) {
		room_sub_next(from, 0);
		c->rr = from->conn_next; /* fairness: next subscription next time */
	} else {
		q_pop(c);
	}
}

int conn_has_output(struct conn *c)
{
	struct room_sub *from;
	return peek_next(c, &from) != NULL;
}

int conn_next_frame(struct conn *c, char *scratch, size_t scratch_cap, char **frame,
		    size_t *len, struct tv_buf **hold)
{
	static const char head[] = "{\"type\":\"batch\",\"items\":[";
	static const char tail[] = "]}";
	struct room_sub *from;
	struct tv_buf *b = peek_next(c, &from);
	c->wake_pending = 0;
	*hold = NULL;
	if (!b)
		return 0;
	tv_buf_ref(b); /* consume() may drop the queue's reference */
	consume(c, from);
	struct tv_buf *next = peek_next(c, &from);
	size_t room = scratch_cap - (sizeof head - 1) - (sizeof tail - 1);
	if (!next || b->len + 1 + next->len > room) {
		/* Alone: send the shared bytes as they are, no copy. */
		*hold = b;
		*frame = tv_buf_data(b);
		*len = b->len;
		return 1;
	}
	/* Several waiting: coalesce into one frame (one TLS record, one
	 * send) instead of one write per message. */
	char *p = scratch + TV_WIRE_PRE;
	memcpy(p, head, sizeof head - 1);
	size_t n = sizeof head - 1;
	memcpy(p + n, tv_buf_data(b), b->len);
	n += b->len;
	tv_buf_unref(b);
	while (next && n + 1 + next->len + sizeof tail - 1 <= scratch_cap) {
		p[n++] = ',';
		memcpy(p + n, tv_buf_data(next), next->len);
		n += next->len;
		consume(c, from);
		next = peek_next(c, &from);
	}
	memcpy(p + n, tail, sizeof tail - 1);
	n += sizeof tail - 1;
	*frame = p;
	*len = n;
	return 1;
}

/* ---- identity and subscriptions ------------------------------------------------------ */

void conn_set_identity(struct conn *c, const struct conn_identity *id)
{
	c->ident = *id;
	if (c->state == CONN_OPEN)
		c->state = CONN_IDENT;
}

struct room_sub *conn_sub(struct conn *c, const char *room_id)
{
	for (struct room_sub *s = c->subs; s; s = s->conn_next)
		if (s->room && strcmp(s->room->id, room_id) == 0)
			return s;
	return NULL;
}

static void sub_wake(struct room_sub *s)
{
	wake(s->owner, 0);
}

static void sub_lagged(struct room_sub *s)
{
	struct conn *c = s->owner;
	char reason[64];
	snprintf(reason, sizeof reason, "resume since=%llu", (unsigned long long)s->last_seq);
	conn_close(c, 4000, reason);
	/* A client that stopped reading never becomes writeable, so the
	 * close frame might never go out: the transport drops it after a
	 * grace period. */
	c->tp->kill(c);
}

struct room_sub *conn_sub_new(struct conn *c, unsigned role)
{
	struct room_sub *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	snprintf(s->identity_id, sizeof s->identity_id, "%s", c->ident.id);
	s->role = role;
	s->owner = c;
	s->wake = sub_wake;
	s->lagged = sub_lagged;
	s->conn_next = c->subs;
	c->subs = s;
	return s;
}

void conn_sub_drop(struct conn *c, struct room_sub *s)
{
	struct room_sub **pp = &c->subs;
	while (*pp && *pp != s)
		pp = &(*pp)->conn_next;
	if (*pp)
		*pp = s->conn_next;
	if (c->rr == s)
		c->rr = NULL;
	struct room *r = s->room;
	room_unsubscribe(s);
	room_release_if_idle(r);
	free(s);
}
