/*
 * ws_server.c: libwebsockets 4.1.6 on tavlad's libuv loop (see ws_server.h).
 *
 * What lws does not do for us, and what this file does about it:
 *  - message size: conn.c limits reassembly and closes with 1009;
 *  - UTF-8: the codec validates each complete message (bad_utf8, 1007),
 *    so a sequence split across fragments is judged whole;
 *  - Origin: browsers send one; it must be the daemon's own origin or in
 *    the `origins` list, else the handshake is refused (non-browser
 *    clients send none and are let in: they cannot be driven by a page);
 *  - slow readers: conn.c bounds what is queued per connection; lws is
 *    never handed more than one frame per writeable callback, so its own
 *    buffers hold at most one partial frame;
 *  - close codes: the daemon sends only the codes in PROTOCOL.md §7.2;
 *  - idle connections: a sweep every idle_timeout/4 pings a connection
 *    silent for half of idle_timeout and drops one silent for all of it.
 *    lws's own validity timers (retry_and_idle_policy) would do the same
 *    with one timer per connection in a sorted list, and inserting into
 *    that list walks it: at 10,000 connections that walk was a third of
 *    the daemon's CPU per accepted connection (bench/RESULTS.md).
 */
#include "ws_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sys/socket.h>
#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "export.h"
#include "guard.h"
#include "log.h"
#include "metrics.h"
#include "qr.h"
#include "server.h"
#include "tls_cert.h"
#include "web_assets.h"
#include "ws_fallback.h"

_Static_assert(LWS_PRE <= TV_WIRE_PRE, "tv_buf headroom must fit the lws frame header");

/* Coalesced frames are built here: large enough to batch a burst, small
 * enough to keep a TLS write from hogging the loop. */
#define SCRATCH_CAP (64 * 1024)

/* The ABI value of a close frame for lws_write(): the public enum leaves 4
 * out ("handled by lws_close_reason()"), but lws_write() frames it. */
#define LWS_WRITE_CLOSE_FRAME ((enum lws_write_protocol)4)

struct ws_server {
	struct tv_server *srv;
	struct lws_context *ctx; /* lws clears it (pcontext) when destroyed */
	void *loops[1];
	char *cert, *key;
	char own_origin[300];
	unsigned open;
	int destroying;
	lws_retry_bo_t retry; /* all zero: no validity timers in lws */
	struct pss_ws *live;  /* established connections, for the idle sweep */
	uv_timer_t sweep;
	/* Connections with something new to send (see flush_woken), linked
	 * through conn->flush_prev/next: `urgent` (replies, closes) all go in
	 * the next turn; the fan-out queue goes in arrival order, a time
	 * budget per turn, while `more` keeps the loop from sleeping. */
	struct conn *urgent;
	struct conn *fan_head, *fan_tail;
	uv_check_t flush;
	uv_idle_t more;
	uint64_t flush_end; /* uv_hrtime() when the last flush ended */
	struct ws_fallback *fallback;
	char scratch[TV_WIRE_PRE + SCRATCH_CAP];
};

struct pss_ws {
	struct conn *c;
	int mid_message;
	/* On ws->live from ESTABLISHED to CLOSED. */
	struct pss_ws *prev, *next;
	struct lws *wsi;
	uint64_t heard_ms; /* loop time of the last frame received, pongs included */
	int ping_due;      /* the next writeable callback sends a ping */
	int pinged;        /* pinged since heard_ms */
	int dropping;      /* silent too long: the next writeable callback closes */
};

struct pss_http {
	struct fb_req fb; /* requests under /api/ (ws_fallback.c) */
	int status;
	const unsigned char *body; /* what is left to send */
	size_t left;
	/* /metrics and /readyz (ops_request): */
	char *owned;          /* malloc'd body that `body` points into */
	const char *mime;
	struct metrics_probe *probe; /* /readyz waiting for the store */
	struct lws *wsi;
	int deferred;         /* headers wait for the probe's answer */
	char disposition[128]; /* /export: Content-Disposition, "" for none */
	const char *cache;    /* Cache-Control of a reply other than no-cache */
};

static struct ws_server *ws_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

/* ---- conn transport ------------------------------------------------------------- */

/*
 * Waking a connection does not ask lws for a writeable callback right away:
 * that costs two epoll_ctl calls per connection per event (arm POLLOUT,
 * disarm it after the write), the largest single cost of fan-out measured
 * with tavla-bench. Instead the connection joins a flush list, and after
 * the I/O callbacks of a loop turn (so everything committed or received in
 * the turn is coalesced into one frame) flush_woken() writes to each
 * socket directly. Only a socket that did not take the last write whole
 * (lws buffered the rest) waits for POLLOUT the classic way, so a client
 * that stops reading still backs up into its own bounded queue.
 *
 * Replies go first (the author's ack does not wait for the room's
 * fan-out). The fan-out queue is written oldest first for a time budget
 * per turn: a large room's fan-out then no longer holds the loop, the next
 * requests are read and committed meanwhile, and whoever is still waiting
 * when the next event commits gets both in one frame. The budget is at
 * least FLUSH_SLICE_NS and at least twice what the rest of the loop took
 * since the last flush, so fan-out keeps two thirds of a busy loop: when
 * more is committed than can be written, reading slows down (as it did
 * when a whole fan-out held the loop) rather than every subscriber falling
 * behind until send_queue cuts it.
 */
#define FLUSH_SLICE_NS (1000 * 1000)

static void flush_unlink(struct ws_server *ws, struct conn *c)
{
	if (c->flush_prev)
		c->flush_prev->flush_next = c->flush_next;
	else if (c->flush_queued == 2)
		ws->urgent = c->flush_next;
	else
		ws->fan_head = c->flush_next;
	if (c->flush_next)
		c->flush_next->flush_prev = c->flush_prev;
	else if (c->flush_queued == 1)
		ws->fan_tail = c->flush_prev;
	c->flush_prev = c->flush_next = NULL;
	c->flush_queued = 0;
}

static void keep_polling(uv_idle_t *h)
{
	(void)h; /* its being active is the point: poll does not block */
}

static void tp_wake(struct conn *c, int urgent)
{
	struct ws_server *ws = ws_of(c->tp_handle);
	if (c->flush_queued == 2 || (c->flush_queued == 1 && !urgent))
		return;
	if (c->flush_queued == 1)
		flush_unlink(ws, c);
	c->flush_prev = NULL;
	if (urgent) {
		c->flush_next = ws->urgent;
		if (ws->urgent)
			ws->urgent->flush_prev = c;
		ws->urgent = c;
		c->flush_queued = 2;
	} else {
		c->flush_next = NULL;
		c->flush_prev = ws->fan_tail;
		if (ws->fan_tail)
			ws->fan_tail->flush_next = c;
		else
			ws->fan_head = c;
		ws->fan_tail = c;
		c->flush_queued = 1;
	}
	/* The flush runs after poll: without this a wake from a timer (a
	 * presence flush, a workshop timer) would wait for the next I/O. */
	if (!uv_is_closing((uv_handle_t *)&ws->more))
		uv_idle_start(&ws->more, keep_polling);
}

static void tp_kill(struct conn *c)
{
	/* The close frame waits behind what the client has not read yet.
	 * Holding the socket costs at most one buffered frame, so give a
	 * stalled client (a phone in a tunnel) 30 s to read on and learn where
	 * to resume from; then lws drops it. */
	lws_set_timeout(c->tp_handle, PENDING_TIMEOUT_USER_OK, 30);
}

static const struct conn_transport transport = { tp_wake, tp_kill };

/* ---- handshake checks ----------------------------------------------------------- */

int ws_server_origin_allowed(struct ws_server *ws, const char *origin)
{
	if (strcmp(origin, ws->own_origin) == 0)
		return 1;
	const char *list = ws->srv->cfg->origins;
	size_t olen = strlen(origin);
	while (list && *list) {
		const char *end = strchr(list, ',');
		size_t n = end ? (size_t)(end - list) : strlen(list);
		while (n && (*list == ' ')) {
			list++;
			n--;
		}
		while (n && list[n - 1] == ' ')
			n--;
		if (n == olen && strncmp(list, origin, n) == 0)
			return 1;
		list = end ? end + 1 : NULL;
	}
	return 0;
}

/* Answers a refused WebSocket handshake with a plain HTTP status instead
 * of just dropping the connection, so the client can tell why. Returns
 * what LWS_CALLBACK_HTTP_CONFIRM_UPGRADE expects after a reply (> 0). */
static int refuse(struct lws *wsi, unsigned status, const char *why)
{
	lws_return_http_status(wsi, status, why);
	return 1;
}

/* 1 if the comma-separated Sec-WebSocket-Protocol list offers tavla.v1. */
static int offers_tavla(const char *list)
{
	size_t n = strlen(TV_PROTOCOL_NAME);
	for (const char *p = list; p && *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *end = p;
		while (*end && *end != ',' && *end != ' ')
			end++;
		if ((size_t)(end - p) == n && strncmp(p, TV_PROTOCOL_NAME, n) == 0)
			return 1;
		p = end;
	}
	return 0;
}

/* Every handshake rule, checked while the upgrade request can still be
 * answered with an HTTP status: path (404), subprotocol (400), Origin
 * (403), shutting down (503). Returns 0 to let the upgrade proceed. */
static int confirm_upgrade(struct lws *wsi)
{
	struct ws_server *ws = ws_of(wsi);
	char buf[512], q[200];
	if (ws->srv->stopping)
		return refuse(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "shutting down");
	if (lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_GET_URI) < 0 || strcmp(buf, "/ws") != 0) {
		log_info("ws.refused", "reason=path");
		return refuse(wsi, HTTP_STATUS_NOT_FOUND, "no WebSocket endpoint here; use /ws");
	}
	if (lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_PROTOCOL) <= 0 || !offers_tavla(buf)) {
		log_info("ws.refused", "reason=subprotocol");
		return refuse(wsi, HTTP_STATUS_BAD_REQUEST, "offer the subprotocol " TV_PROTOCOL_NAME);
	}
	if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > 0 &&
	    (lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_ORIGIN) < 0 || !ws_server_origin_allowed(ws, buf))) {
		log_info("ws.refused", "reason=origin origin=%s", log_quote(q, sizeof q, buf));
		return refuse(wsi, HTTP_STATUS_FORBIDDEN, "this Origin may not connect");
	}
	return 0;
}

/* ---- the tavla.v1 protocol -------------------------------------------------------- */

static int write_frames(struct lws *wsi, struct ws_server *ws, struct conn *c)
{
	char *frame;
	size_t len;
	struct tv_buf *hold;
	if (conn_next_frame(c, ws->scratch, SCRATCH_CAP, &frame, &len, &hold)) {
		int n = lws_write(wsi, (unsigned char *)frame, len, LWS_WRITE_TEXT);
		tv_buf_unref(hold);
		if (n < (int)len)
			return -1; /* lws could not take it: the connection is gone */
		if (conn_has_output(c) || c->state == CONN_CLOSING) {
			c->wake_pending = 1;
			lws_callback_on_writable(wsi);
		}
		return 0;
	}
	if (c->state == CONN_CLOSING) {
		/* Write the close frame ourselves: in 4.1.6, lws_close_reason()
		 * followed by returning -1 from a writeable callback shuts TLS
		 * down without the close frame ever reaching the peer (seen with
		 * strace: only the close_notify alert goes out). */
		unsigned char buf[LWS_PRE + 2 + sizeof c->close_reason];
		size_t rlen = strlen(c->close_reason);
		if (rlen > 123)
			rlen = 123; /* a control frame carries at most 125 bytes */
		buf[LWS_PRE] = (unsigned char)(c->close_code >> 8);
		buf[LWS_PRE + 1] = (unsigned char)(c->close_code & 0xff);
		memcpy(buf + LWS_PRE + 2, c->close_reason, rlen);
		lws_write(wsi, buf + LWS_PRE, 2 + rlen, LWS_WRITE_CLOSE_FRAME);
		return -1;
	}
	return 0;
}

static void flush_one(struct conn *c)
{
	struct lws *wsi = c->tp_handle;
	c->wake_pending = 0;
	if (c->state == CONN_CLOSING || lws_partial_buffered(wsi)) {
		/* Closing happens in the writeable callback; a socket that is
		 * backed up waits for POLLOUT. */
		c->wake_pending = 1;
		lws_callback_on_writable(wsi);
		return;
	}
	/* A few frames at most per turn, so one busy connection cannot hold
	 * the loop; the rest goes the writeable way. */
	struct ws_server *ws = ws_of(wsi);
	for (int frames = 0; frames < 4; frames++) {
		char *frame;
		size_t len;
		struct tv_buf *hold;
		if (!conn_next_frame(c, ws->scratch, SCRATCH_CAP, &frame, &len, &hold))
			break;
		int n = lws_write(wsi, (unsigned char *)frame, len, LWS_WRITE_TEXT);
		tv_buf_unref(hold);
		if (n < (int)len) {
			/* Broken: let lws close it from its own callback. */
			lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
			break;
		}
		if (lws_partial_buffered(wsi))
			break; /* lws asked for POLLOUT itself */
	}
	if (conn_has_output(c) && !c->wake_pending) {
		c->wake_pending = 1;
		lws_callback_on_writable(wsi);
	}
}

static void flush_woken(uv_check_t *h)
{
	struct ws_server *ws = h->data;
	struct conn *c;
	while ((c = ws->urgent) != NULL) {
		flush_unlink(ws, c);
		flush_one(c);
	}
	uint64_t t0 = uv_hrtime(), t = t0;
	uint64_t budget = 2 * (t0 - ws->flush_end);
	if (budget < FLUSH_SLICE_NS)
		budget = FLUSH_SLICE_NS;
	unsigned n = 0;
	while ((c = ws->fan_head) != NULL) {
		flush_unlink(ws, c);
		flush_one(c);
		if ((++n & 15) == 0 && (t = uv_hrtime()) - t0 > budget)
			break;
	}
	ws->flush_end = n & 15 ? uv_hrtime() : t;
	if (!ws->fan_head)
		uv_idle_stop(&ws->more); /* else the rest goes in the next turn */
}

/* Drops c from its flush list (it is being freed). */
static void unlink_woken(struct ws_server *ws, struct conn *c)
{
	if (c->flush_queued)
		flush_unlink(ws, c);
}

void ws_server_send_hello(struct ws_server *ws, struct conn *c)
{
	char hello[256];
	int n = snprintf(hello, sizeof hello,
			 "{\"type\":\"hello\",\"protocol\":\"%s\",\"server\":\"tavlad %s\","
			 "\"limits\":{\"max_message\":%lld,\"page\":%lld}}",
			 TV_PROTOCOL_NAME, TAVLA_VERSION, ws->srv->cfg->max_message,
			 ws->srv->cfg->page_events);
	conn_send_copy(c, hello, (size_t)n);
}

/* RFC 6455 5.5.1, 7.4: the close codes a peer may send. lws 4.1.6 refuses
 * the reserved ones below 3000 itself but echoes codes of 5000 and more. */
static int close_code_valid(unsigned code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
	       (code >= 3000 && code <= 4999);
}

/*
 * A peer's close frame, before lws echoes it: lws 4.1.6 echoes undefined
 * codes (>= 5000), reasons that are not UTF-8, and answers a 1-byte body
 * with an empty close. RFC 6455 wants the connection failed with 1002
 * (protocol error) or 1007 (invalid payload): send that close ourselves and
 * drop the connection. Returns the callback's result.
 */
static int check_peer_close(struct lws *wsi, const unsigned char *in, size_t len)
{
	unsigned code = 0;
	if (len == 1 || (len >= 2 && !close_code_valid((unsigned)in[0] << 8 | in[1])))
		code = 1002;
	else if (len > 2 && !tv_utf8_valid((const char *)in + 2, len - 2))
		code = 1007;
	if (!code)
		return 0; /* lws echoes it */
	unsigned char buf[LWS_PRE + 2];
	buf[LWS_PRE] = (unsigned char)(code >> 8);
	buf[LWS_PRE + 1] = (unsigned char)(code & 0xff);
	lws_write(wsi, buf + LWS_PRE, 2, LWS_WRITE_CLOSE_FRAME);
	return -1;
}

static void heard(struct ws_server *ws, struct pss_ws *pss)
{
	pss->heard_ms = uv_now(ws->srv->loop);
	pss->pinged = 0;
}

/* The idle sweep (see the file comment): one walk over the established
 * connections per idle_timeout/4. */
static void sweep_idle(uv_timer_t *t)
{
	struct ws_server *ws = t->data;
	uint64_t now = uv_now(ws->srv->loop);
	uint64_t hangup = (uint64_t)ws->srv->cfg->idle_timeout * 1000, ping = hangup / 2;
	for (struct pss_ws *p = ws->live; p; p = p->next) {
		uint64_t quiet = now - p->heard_ms;
		if (p->dropping)
			continue;
		if (quiet >= hangup) {
			/* Closed from its writeable callback; a socket that never
			 * becomes writeable again is dropped by the timeout. */
			log_info("ws.idle_closed", "conn=%s", p->c ? p->c->key : "-");
			p->dropping = 1;
			lws_set_timeout(p->wsi, PENDING_TIMEOUT_USER_OK, 2);
			lws_callback_on_writable(p->wsi);
		} else if (quiet >= ping && !p->pinged) {
			p->pinged = 1;
			p->ping_due = 1;
			lws_callback_on_writable(p->wsi);
		}
	}
}

static int cb_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		 size_t len)
{
	struct pss_ws *pss = user;
	struct ws_server *ws;
	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		/* confirm_upgrade() already judged the handshake. */
		return ws_of(wsi)->srv->stopping;

	case LWS_CALLBACK_ESTABLISHED: {
		ws = ws_of(wsi);
		char addr[64] = "";
		lws_get_peer_simple(wsi, addr, sizeof addr);
		pss->c = conn_new(ws->srv, &transport, wsi, addr);
		if (!pss->c)
			return -1;
		ws->open++;
		pss->wsi = wsi;
		pss->prev = NULL;
		pss->next = ws->live;
		if (ws->live)
			ws->live->prev = pss;
		ws->live = pss;
		heard(ws, pss);
		ws_server_send_hello(ws, pss->c);
		return 0;
	}

	case LWS_CALLBACK_RECEIVE: {
		if (!pss->c)
			return -1;
		heard(ws_of(wsi), pss);
		int first = !pss->mid_message;
		int final = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
		pss->mid_message = !final;
		conn_rx(pss->c, in, len, first, final, lws_frame_is_binary(wsi));
		if (pss->c->state == CONN_CLOSING) {
			/* Read nothing more: what follows a message we refused
			 * (the rest of an oversized one) would only be parsed as
			 * garbage and turn our 1009 into a 1002. */
			lws_rx_flow_control(wsi, 0);
			lws_callback_on_writable(wsi);
		}
		return 0;
	}

	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (!pss->c || pss->dropping)
			return -1;
		if (pss->ping_due) {
			/* One write per callback: frames follow in the next. */
			/* Not empty: lws 4.1.6 reports no pong without payload. */
			unsigned char ping[LWS_PRE + 4] = { [LWS_PRE] = 't', 'v', 'p', 'g' };
			pss->ping_due = 0;
			if (lws_write(wsi, ping + LWS_PRE, 4, LWS_WRITE_PING) < 4)
				return -1;
			if (conn_has_output(pss->c) || pss->c->state == CONN_CLOSING)
				lws_callback_on_writable(wsi);
			return 0;
		}
		return write_frames(wsi, ws_of(wsi), pss->c);

	case LWS_CALLBACK_RECEIVE_PONG:
		heard(ws_of(wsi), pss);
		return 0;

	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		return check_peer_close(wsi, in, len);

	case LWS_CALLBACK_CLOSED:
		if (pss->c) {
			ws = ws_of(wsi);
			unlink_woken(ws, pss->c);
			if (pss->prev)
				pss->prev->next = pss->next;
			else
				ws->live = pss->next;
			if (pss->next)
				pss->next->prev = pss->prev;
			conn_free(pss->c);
			pss->c = NULL;
			ws->open--;
		}
		return 0;

	default:
		return 0;
	}
}

/* The peer's address in the form lws_get_peer_simple() gives conn.c. */
static int peer_addr(int fd, char *out, size_t outlen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	if (getpeername(fd, (struct sockaddr *)&ss, &len))
		return -1;
	const void *a = ss.ss_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr
						 : (const void *)&((struct sockaddr_in *)&ss)->sin_addr;
	return inet_ntop(ss.ss_family, a, out, (socklen_t)outlen) ? 0 : -1;
}

/* ---- plain HTTPS ------------------------------------------------------------------- */

/* ---- /metrics and /readyz ---- */

static void ops_release(struct pss_http *pss)
{
	metrics_probe_cancel(pss->probe);
	pss->probe = NULL;
	free(pss->owned);
	pss->owned = NULL;
	pss->deferred = 0;
	pss->disposition[0] = 0;
	pss->cache = NULL;
}

/* Sets the reply to a copy of text (or takes body, malloc'd). 0 or -1. */
static int ops_reply(struct pss_http *pss, int status, const char *mime, char *body, size_t len,
		     const char *text)
{
	if (!body) {
		text = text ? text : "";
		len = strlen(text);
		if (!(body = malloc(len + 1)))
			return -1;
		memcpy(body, text, len + 1);
	}
	pss->status = status;
	pss->mime = mime;
	pss->owned = body;
	pss->body = (const unsigned char *)body;
	pss->left = len;
	return 0;
}

/* GET /metrics is for the networks in metrics_allow, or for anyone sending
 * "Authorization: Bearer <metrics_token>". The token is never logged. */
static int metrics_access(struct lws *wsi, const struct tv_config *cfg)
{
	char addr[64] = "";
	lws_get_peer_simple(wsi, addr, sizeof addr);
	if (cfg->metrics_allow[0] && metrics_addr_allowed(cfg->metrics_allow, addr))
		return 1;
	if (!cfg->metrics_token[0] || lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION) <= 0)
		return 0;
	char auth[400];
	if (lws_hdr_copy(wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION) < 0 ||
	    strncmp(auth, "Bearer ", 7) != 0)
		return 0;
	const char *got = auth + 7, *want = cfg->metrics_token;
	size_t n = strlen(want);
	if (strlen(got) != n)
		return 0;
	unsigned char diff = 0; /* constant time in the token's length */
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(got[i] ^ want[i]);
	return diff == 0;
}

static const char text_plain[] = "text/plain; charset=utf-8";

static void readyz_done(void *arg, int status)
{
	struct pss_http *pss = arg;
	char msg[160];
	pss->probe = NULL;
	snprintf(msg, sizeof msg, "not ready: the store refused a write (%s)\n", tv_err_name(status));
	if (ops_reply(pss, status ? HTTP_STATUS_SERVICE_UNAVAILABLE : HTTP_STATUS_OK, text_plain,
		      NULL, 0, status ? msg : "ready\n"))
		ops_reply(pss, HTTP_STATUS_INTERNAL_SERVER_ERROR, text_plain, NULL, 0, "");
	lws_callback_on_writable(pss->wsi);
}

/* Prepares the reply to GET /metrics or /readyz. Returns 1 when status,
 * body and mime are set (the caller writes the headers), 0 when the reply
 * waits for the readiness probe (deferred), -1 on failure. */
static int ops_request(struct lws *wsi, struct ws_server *ws, struct pss_http *pss,
		       const char *path)
{
	struct tv_server *srv = ws->srv;
	pss->wsi = wsi;
	if (strcmp(path, "/metrics") == 0) {
		if (!metrics_access(wsi, srv->cfg)) {
			char addr[64] = "";
			lws_get_peer_simple(wsi, addr, sizeof addr);
			log_info("http.metrics_refused", "addr=%s", addr);
			return ops_reply(pss, HTTP_STATUS_FORBIDDEN, text_plain, NULL, 0,
					 "forbidden: see metrics_allow and metrics_token\n") ? -1 : 1;
		}
		size_t len = 0;
		char *body = metrics_render(srv, ws->ctx != NULL, &len);
		return body && !ops_reply(pss, HTTP_STATUS_OK, "text/plain; version=0.0.4; charset=utf-8",
					  body, len, NULL) ? 1 : -1;
	}
	if (srv->stopping || !srv->store)
		return ops_reply(pss, HTTP_STATUS_SERVICE_UNAVAILABLE, text_plain, NULL, 0,
				 "not ready: shutting down\n") ? -1 : 1;
	if (!ws->ctx)
		return ops_reply(pss, HTTP_STATUS_SERVICE_UNAVAILABLE, text_plain, NULL, 0,
				 "not ready: no certificate loaded\n") ? -1 : 1;
	/* The certificate is loaded (a failed reload keeps the old pair);
	 * whether the store takes a write now is for the probe to say. */
	pss->deferred = 1;
	pss->status = 0;
	pss->probe = metrics_probe_start(srv, readyz_done, pss);
	return pss->probe ? 0 : -1;
}

/* ---- /qr.svg ---- */

/* GET /qr.svg?code=CODE: the join link a participant opens
 * ("https://HOST/?code=CODE", HOST as this request names it) as a QR code
 * in SVG, for the moderator's screen and for print. The Host must be an
 * origin browsers may connect from (the daemon's own or in `origins`), so
 * the picture never sends a phone to a host the daemon would refuse.
 * Whether a room has the code is not checked: the picture says nothing an
 * unknown code would not. Sets status, mime, cache and an owned body;
 * returns 0 or -1 (out of memory). */
static int qr_request(struct lws *wsi, struct ws_server *ws, struct pss_http *pss)
{
	char arg[32], host[QR_HOST_MAX + 2] = "", origin[QR_HOST_MAX + 16], link[QR_HOST_MAX + 40];
	const char *code = lws_get_urlarg_by_name(wsi, "code=", arg, (int)sizeof arg);
	pss->cache = "no-store";
	if (!code || !qr_code_valid(code))
		return ops_reply(pss, HTTP_STATUS_BAD_REQUEST, text_plain, NULL, 0,
				 "bad_request: give a join code of 6 characters, /qr.svg?code=K7QF4M\n");
	if (lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) <= 0 || !qr_host_valid(host))
		return ops_reply(pss, HTTP_STATUS_BAD_REQUEST, text_plain, NULL, 0,
				 "bad_request: the Host header is missing or malformed\n");
	snprintf(origin, sizeof origin, "https://%s", host);
	if (!ws_server_origin_allowed(ws, origin))
		return ops_reply(pss, HTTP_STATUS_BAD_REQUEST, text_plain, NULL, 0,
				 "bad_request: this Host is neither the daemon's own nor in its origins setting\n");
	char *svg;
	size_t len;
	if (qr_join_url(host, code, link, sizeof link) || qr_svg(link, &svg, &len))
		return ops_reply(pss, HTTP_STATUS_BAD_REQUEST, text_plain, NULL, 0,
				 "bad_request: this join link cannot be drawn\n");
	/* The same Host and code always give the same picture; private, as
	 * it depends on the Host this browser used. */
	pss->cache = "private, max-age=86400";
	return ops_reply(pss, HTTP_STATUS_OK, "image/svg+xml", svg, len, NULL);
}

/* The headers of a deferred reply, once the probe answered. */
static int ops_write_headers(struct lws *wsi, struct pss_http *pss)
{
	if (!pss->status)
		return 0; /* a spurious writeable: the probe is still out */
	unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start,
		*end = buf + sizeof buf - 1;
	if (lws_add_http_common_headers(wsi, (unsigned)pss->status, pss->mime, pss->left, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
					 (const unsigned char *)"no-store", 8, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	pss->deferred = 0;
	lws_callback_on_writable(wsi);
	return 0;
}

static int cb_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		   size_t len)
{
	struct pss_http *pss = user;
	struct ws_server *ws;
	static const char ok[] = "ok\n", missing[] = "not found\n";
	if (pss && (reason == LWS_CALLBACK_HTTP || reason == LWS_CALLBACK_HTTP_BODY ||
		    reason == LWS_CALLBACK_HTTP_BODY_COMPLETION ||
		    reason == LWS_CALLBACK_HTTP_WRITEABLE || reason == LWS_CALLBACK_CLOSED_HTTP)) {
		int ret;
		ws = ws_of(wsi);
		if (ws->fallback &&
		    fallback_http(ws->fallback, wsi, (int)reason, &pss->fb, in, len, &ret))
			return ret;
	}
	switch (reason) {
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION: {
		ws = ws_of(wsi);
		if (ws->srv->stopping ||
		    ws->srv->stats.connections_open >= (uint64_t)ws->srv->cfg->max_connections)
			return 1;
		char addr[64];
		if (peer_addr((int)(lws_intptr_t)in, addr, sizeof addr) == 0 &&
		    !guard_conn_allowed(ws->srv, addr)) {
			log_info("conn.refused", "reason=per_address addr=%s", addr);
			return 1;
		}
		return 0;
	}

	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return confirm_upgrade(wsi);

	case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
		/* user is the vhost's SSL_CTX: let idle connections give their
		 * 16 KiB+ read and write buffers back (measured per idle
		 * connection with tavla-bench idle). */
		SSL_CTX_set_mode((SSL_CTX *)user, SSL_MODE_RELEASE_BUFFERS);
		/* No TLS 1.3 session tickets: making the two OpenSSL sends by
		 * default was a fifth of the daemon's CPU per handshake
		 * (tavla-bench idle, 5,000 connections: 0.64 -> 0.52 ms), and a
		 * resumed TLS 1.3 handshake is one round trip like a full one;
		 * tavla's own session survives reconnects through its token. */
		SSL_CTX_set_num_tickets((SSL_CTX *)user, 0);
		return 0;

	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		/* Backstop: an upgrade that reached the http protocol offered
		 * no protocol we speak. */
		return 1;

	case LWS_CALLBACK_HTTP: {
		unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start,
			*end = buf + sizeof buf - 1;
		const char *path = in ? (const char *)in : "";
		const char *mime = "text/plain; charset=utf-8";
		const struct web_asset *a;
		ops_release(pss);
		if (strcmp(path, "/metrics") == 0 || strcmp(path, "/readyz") == 0) {
			int r = ops_request(wsi, ws_of(wsi), pss, path);
			if (r <= 0)
				return r < 0 ? -1 : 0;
			mime = pss->mime;
		} else if (strcmp(path, "/export") == 0) {
			/* A signed, expiring link (export.c); the report is
			 * built here, on the loop, like any read of a room. */
			char t[1024], fname[96];
			const char *arg = lws_get_urlarg_by_name(wsi, "t=", t, sizeof t);
			char *body = NULL;
			size_t blen = 0;
			int st = export_http(ws_of(wsi)->srv, arg, &body, &blen, &mime, fname,
					     sizeof fname);
			if (!body || ops_reply(pss, st, mime, body, blen, NULL))
				return 1;
			if (fname[0]) {
				snprintf(pss->disposition, sizeof pss->disposition,
					 "inline; filename=\"%s\"", fname);
			}
			pss->cache = "no-store"; /* a room's contents: never in a cache */
		} else if (strcmp(path, "/qr.svg") == 0) {
			if (qr_request(wsi, ws_of(wsi), pss))
				return 1;
			mime = pss->mime;
		} else if (strcmp(path, "/healthz") == 0) {
			pss->status = HTTP_STATUS_OK;
			pss->body = (const unsigned char *)ok;
			pss->left = sizeof ok - 1;
		} else if ((a = web_asset_find(path))) {
			pss->status = HTTP_STATUS_OK;
			pss->body = a->data;
			pss->left = a->len;
			mime = a->mime;
		} else {
			pss->status = HTTP_STATUS_NOT_FOUND;
			pss->body = (const unsigned char *)missing;
			pss->left = sizeof missing - 1;
		}
		/* The client is small and changes with the daemon: revalidate. */
		const char *cache = pss->cache ? pss->cache : "no-cache";
		if (lws_add_http_common_headers(wsi, (unsigned)pss->status, mime, pss->left, &p,
						end) ||
		    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
						 (const unsigned char *)cache, (int)strlen(cache),
						 &p, end) ||
		    (pss->disposition[0] &&
		     lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_DISPOSITION,
						  (const unsigned char *)pss->disposition,
						  (int)strlen(pss->disposition), &p, end)) ||
		    lws_finalize_write_http_header(wsi, start, &p, end))
			return 1;
		lws_callback_on_writable(wsi);
		return 0;
	}

	case LWS_CALLBACK_HTTP_WRITEABLE: {
		if (pss->deferred)
			return ops_write_headers(wsi, pss);
		/* The body in chunks, one write per writeable callback. */
		unsigned char buf[LWS_PRE + 16384];
		size_t n = pss->left < 16384 ? pss->left : 16384;
		int last = n == pss->left;
		if (n)
			memcpy(buf + LWS_PRE, pss->body, n);
		if (lws_write(wsi, buf + LWS_PRE, n,
			      last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
			return -1;
		pss->body += n;
		pss->left -= n;
		if (!last) {
			lws_callback_on_writable(wsi);
			return 0;
		}
		ops_release(pss);
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}

	case LWS_CALLBACK_CLOSED_HTTP:
		if (pss) /* NULL for a connection that never made a request */
			ops_release(pss);
		return lws_callback_http_dummy(wsi, reason, user, in, len);

	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

static const struct lws_protocols protocols[] = {
	{ "http", cb_http, sizeof(struct pss_http), 0, 0, NULL, 0 },
	/* rx_buffer_size: lws keeps this buffer for the connection's whole life
	 * and hands a larger message over in pieces of this size, which
	 * conn.c assembles anyway; 512 covers a typical request in one piece
	 * and costs 1.5 KiB less per idle connection than 2048 (tavla-bench
	 * idle, 5,000 connections: 18.4 -> 17.0 KiB RSS each).
	 * tx_packet_size: lws would otherwise cut each write to rx_buffer_size
	 * and buffer the rest, undoing the coalescing of conn_next_frame(). */
	{ TV_PROTOCOL_NAME, cb_ws, sizeof(struct pss_ws), 512, 0, NULL,
	  SCRATCH_CAP + LWS_PRE + 16 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 } /* 4.1.6 has no LWS_PROTOCOL_LIST_TERM */
};

/* ---- lifecycle ----------------------------------------------------------------------- */

static void lws_log_emit(int level, const char *line)
{
	char buf[512];
	snprintf(buf, sizeof buf, "%s", line);
	size_t n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = 0;
	char q[540];
	tv_log(level & LLL_ERR ? TV_LOG_ERROR : level & LLL_WARN ? TV_LOG_WARN : TV_LOG_DEBUG,
	       "lws", "msg=%s", log_quote(q, sizeof q, buf));
}

int ws_server_start(struct tv_server *srv, const char *cert, const char *key, char *err,
		    size_t errlen)
{
	struct ws_server *ws = calloc(1, sizeof *ws);
	if (!ws) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ws->srv = srv;
	ws->cert = strdup(cert);
	ws->key = strdup(key);
	ws->loops[0] = srv->loop;
	const struct tv_config *cfg = srv->cfg;
	int v6 = strchr(cfg->listen_addr, ':') != NULL;
	snprintf(ws->own_origin, sizeof ws->own_origin, "https://%s%s%s:%lld", v6 ? "[" : "",
		 cfg->listen_addr, v6 ? "]" : "", cfg->port);

	lws_set_log_level(LLL_ERR | LLL_WARN | (log_enabled(TV_LOG_DEBUG) ? LLL_NOTICE : 0),
			  lws_log_emit);


	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	/* DISABLE_OS_CA_CERTS: tavlad asks no client for a certificate and
	 * connects to nobody, so the system's CA bundle (~150 certificates,
	 * ~240 M instructions of ASN.1 decoding at start-up) is not loaded. */
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
		       LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE |
		       LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
	if (!v6)
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	info.foreign_loops = ws->loops;
	info.port = (int)cfg->port;
	info.iface = cfg->listen_addr;
	info.protocols = protocols;
	info.vhost_name = "tavla";
	/* HTTP/1.1 only: browsers then open WebSockets with the ordinary
	 * upgrade every check here is written for (no WebSockets over h2). */
	info.alpn = "http/1.1";
	info.server_string = "tavlad";
	info.user = ws;
	info.pcontext = &ws->ctx;
	info.ssl_cert_filepath = ws->cert;
	info.ssl_private_key_filepath = ws->key;
	info.ssl_cipher_list = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
			       "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
			       "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
	info.tls1_3_plus_cipher_list = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
				       "TLS_CHACHA20_POLY1305_SHA256";
	info.ssl_options_set = (long)(SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 |
				      SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
				      SSL_OP_CIPHER_SERVER_PREFERENCE);
	info.retry_and_idle_policy = &ws->retry;
	info.timeout_secs = 10;
	info.fd_limit_per_thread = (unsigned)cfg->max_connections + 256;

	ws->ctx = lws_create_context(&info);
	if (!ws->ctx) {
		snprintf(err, errlen,
			 "cannot listen on %s:%lld with TLS (port in use, bad certificate, or "
			 "the libwebsockets-evlib-uv plugin missing)", cfg->listen_addr, cfg->port);
		free(ws->cert);
		free(ws->key);
		free(ws);
		return -EINVAL;
	}
	ws->fallback = fallback_new(srv);
	uv_check_init(srv->loop, &ws->flush);
	ws->flush.data = ws;
	uv_check_start(&ws->flush, flush_woken);
	uv_idle_init(srv->loop, &ws->more);
	uint64_t every = (uint64_t)cfg->idle_timeout * 1000 / 4;
	uv_timer_init(srv->loop, &ws->sweep);
	ws->sweep.data = ws;
	uv_timer_start(&ws->sweep, sweep_idle, every, every);
	uv_unref((uv_handle_t *)&ws->sweep); /* never what keeps the loop alive */
	srv->ws = ws;
	return 0;
}

int ws_server_port(struct ws_server *ws)
{
	struct lws_vhost *vh = lws_get_vhost_by_name(ws->ctx, "tavla");
	return vh ? lws_get_vhost_listen_port(vh) : -1;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t cap = 0, n = 0, r;
	do {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			char *nb = realloc(buf, cap);
			if (!nb || cap > (1u << 20)) {
				free(nb ? nb : buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		r = fread(buf + n, 1, 4096, f);
		n += r;
	} while (r > 0);
	fclose(f);
	buf[n] = 0;
	*len = n;
	return buf;
}

int ws_server_reload_cert(struct ws_server *ws, char *err, size_t errlen)
{
	int rc = tls_cert_check_pair(ws->cert, ws->key, err, errlen);
	if (rc)
		return rc;
	size_t clen = 0, klen = 0;
	char *c = read_file(ws->cert, &clen), *k = read_file(ws->key, &klen);
	if (!c || !k) {
		snprintf(err, errlen, "cannot read %s or %s", ws->cert, ws->key);
		rc = -EIO;
	} else if (lws_tls_cert_updated(ws->ctx, ws->cert, ws->key, c, clen, k, klen)) {
		snprintf(err, errlen, "the TLS library refused the new certificate");
		rc = -EINVAL;
	}
	if (k)
		memset(k, 0, klen);
	free(c);
	free(k);
	return rc;
}

static void close_one(const char *key, void *value, void *arg)
{
	conn_close(value, 1001, "server shutting down: resume");
}

void ws_server_stop_accepting(struct ws_server *ws)
{
	map_each(&ws->srv->conns_by_id, close_one, NULL);
}

unsigned ws_server_open(struct ws_server *ws)
{
	return ws->open;
}

int ws_server_destroy(struct ws_server *ws)
{
	if (!ws)
		return 1;
	fallback_free(ws->fallback);
	ws->fallback = NULL;
	if (!uv_is_closing((uv_handle_t *)&ws->flush)) {
		uv_check_stop(&ws->flush);
		uv_close((uv_handle_t *)&ws->flush, NULL);
		uv_idle_stop(&ws->more);
		uv_close((uv_handle_t *)&ws->more, NULL);
		uv_timer_stop(&ws->sweep);
		uv_close((uv_handle_t *)&ws->sweep, NULL);
	}
	if (ws->ctx) {
		/* First call (inside the loop) starts closing lws's handles;
		 * lws clears ws->ctx through pcontext once it is gone. */
		struct lws_context *ctx = ws->ctx;
		lws_context_destroy(ctx);
		if (ws->ctx && ws->destroying) {
			/* Second call, after uv_run returned: finish. */
			ws->ctx = NULL;
		}
		ws->destroying = 1;
	}
	if (ws->ctx)
		return 0;
	ws->srv->ws = NULL;
	free(ws->cert);
	free(ws->key);
	free(ws);
	return 1;
}
