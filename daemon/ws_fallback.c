/*
 * ws_fallback.c: tavla.v1 over plain HTTPS (Server-Sent Events + POST) for
 * networks that block WebSockets. See ws_fallback.h for the contract.
 *
 * A session is a struct conn like any WebSocket connection (same dispatch,
 * same bounded queue, same ring tails); only its transport differs: wake
 * asks for a writeable callback on the attached event stream, if any, and
 * the writer frames each message as an SSE `data:` line instead of a
 * WebSocket frame.
 */
#include "ws_fallback.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "crypto.h"
#include "guard.h"
#include "log.h"
#include "server.h"
#include "ws_server.h"

enum { FB_NONE, FB_SESSION, FB_EVENTS, FB_SEND, FB_POST_UNKNOWN, FB_POST_REFUSED, FB_REPLY };

#define COOKIE "tavla_session"
#define SID_HEADER "x-tavla-session:" /* lws wants it lower case, with the colon */
#define SWEEP_MS 5000
#define SCRATCH (64 * 1024)

struct fb_session {
	char sid[TV_TOKEN_LEN + 1];
	struct ws_fallback *fb;
	struct conn *c;
	struct lws *sse;
	struct fb_req *sse_req; /* the stream's request state, which points back */
	int64_t detached_ms;
};

struct ws_fallback {
	struct tv_server *srv;
	struct map sessions; /* sid -> struct fb_session * */
	uv_timer_t *sweep;
	char scratch[TV_WIRE_PRE + SCRATCH];
};

/* ---- sessions ---------------------------------------------------------------------- */

static void session_free(struct fb_session *s)
{
	map_del(&s->fb->sessions, s->sid);
	if (s->sse)
		lws_set_timeout(s->sse, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	if (s->sse_req)
		s->sse_req->session = NULL; /* the stream must not reach a freed session */
	conn_free(s->c); /* invariant 1 */
	free(s);
}

static void tp_wake(struct conn *c, int urgent)
{
	(void)urgent; /* one stream per session: nothing to order */
	struct fb_session *s = c->tp_handle;
	if (s->sse)
		lws_callback_on_writable(s->sse);
	/* else: the queue waits for the next GET /api/events */
}

static void tp_kill(struct conn *c)
{
	/* The stream ends with the close event once the queue is written;
	 * the sweep frees a session whose client stopped reading. */
	struct fb_session *s = c->tp_handle;
	s->detached_ms = server_now_ms();
}

static const struct conn_transport transport = { tp_wake, tp_kill };

static void sweep(uv_timer_t *t)
{
	struct ws_fallback *fb = t->data;
	int64_t now = server_now_ms(), idle = fb->srv->cfg->idle_timeout * 1000;
	/* Collect first: freeing changes the map. */
	struct fb_session *doomed[64];
	size_t n = 0;
	for (size_t i = 0; i < fb->sessions.cap && n < 64; i++) {
		struct map_slot *sl = &fb->sessions.slots[i];
		if (!sl->key || !sl->value || !map_get(&fb->sessions, sl->key))
			continue;
		struct fb_session *s = sl->value;
		if (!s->sse && now - s->detached_ms > (s->c->state == CONN_CLOSING ? 0 : idle))
			doomed[n++] = s;
	}
	for (size_t i = 0; i < n; i++)
		session_free(doomed[i]);
}

struct ws_fallback *fallback_new(struct tv_server *srv)
{
	struct ws_fallback *fb = calloc(1, sizeof *fb);
	if (!fb)
		return NULL;
	fb->srv = srv;
	map_init(&fb->sessions);
	fb->sweep = malloc(sizeof *fb->sweep);
	if (!fb->sweep) {
		free(fb);
		return NULL;
	}
	uv_timer_init(srv->loop, fb->sweep);
	fb->sweep->data = fb;
	uv_timer_start(fb->sweep, sweep, SWEEP_MS, SWEEP_MS);
	return fb;
}

static void free_timer(uv_handle_t *h)
{
	free(h);
}

static void collect(const char *key, void *value, void *arg)
{
	struct fb_session ***p = arg;
	*(*p)++ = value;
}

void fallback_free(struct ws_fallback *fb)
{
	if (!fb)
		return;
	size_t n = fb->sessions.count;
	struct fb_session **all = calloc(n + 1, sizeof *all), **p = all;
	if (all) {
		map_each(&fb->sessions, collect, &p);
		for (size_t i = 0; i < n; i++) {
			all[i]->sse = NULL; /* lws is tearing its sockets down itself */
			if (all[i]->sse_req)
				all[i]->sse_req->session = NULL;
			all[i]->sse_req = NULL;
			session_free(all[i]);
		}
		free(all);
	}
	map_free(&fb->sessions);
	uv_timer_stop(fb->sweep);
	uv_close((uv_handle_t *)fb->sweep, free_timer);
	free(fb);
}

unsigned fallback_sessions(struct ws_fallback *fb)
{
	return fb ? (unsigned)fb->sessions.count : 0;
}

/* The session a request names: the X-Tavla-Session header (one browser tab's
 * own session, PROTOCOL.md 1.1) or else the cookie (shared by every tab). */
static struct fb_session *from_cookie(struct ws_fallback *fb, struct lws *wsi)
{
	char sid[TV_TOKEN_LEN + 8];
	int hlen = lws_hdr_custom_length(wsi, SID_HEADER, (int)strlen(SID_HEADER));
	if (hlen > 0) {
		if (hlen >= (int)sizeof sid ||
		    lws_hdr_custom_copy(wsi, sid, (int)sizeof sid, SID_HEADER,
					(int)strlen(SID_HEADER)) < 0)
			return NULL;
		return map_get(&fb->sessions, sid);
	}
	size_t max = sizeof sid;
	if (lws_http_cookie_get(wsi, COOKIE, sid, &max))
		return NULL;
	sid[max < sizeof sid ? max : sizeof sid - 1] = 0;
	return map_get(&fb->sessions, sid);
}

/* ---- responses -------------------------------------------------------------------- */

static int respond(struct lws *wsi, struct fb_req *r, int status, const char *body,
		   const char *cookie)
{
	unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start,
		*end = buf + sizeof buf - 1;
	free(r->body);
	r->body = body ? strdup(body) : NULL;
	r->body_len = body ? strlen(body) : 0;
	r->status = status;
	r->kind = FB_REPLY;
	if (lws_add_http_common_headers(wsi, (unsigned)status, "application/json", r->body_len, &p,
					end))
		return 1;
	if (cookie && lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_SET_COOKIE,
						   (const unsigned char *)cookie,
						   (int)strlen(cookie), &p, end))
		return 1;
	/* One request per connection: an answer may leave a request body
	 * unread, and the event stream holds its connection anyway. */
	if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
					 (const unsigned char *)"no-store", 8, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
					 (const unsigned char *)"close", 5, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return 1;
	lws_callback_on_writable(wsi);
	return 0;
}

static int error_body(struct lws *wsi, struct fb_req *r, int status, int code)
{
	char body[200];
	snprintf(body, sizeof body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}",
		 tv_err_name(code), tv_err_message(code));
	return respond(wsi, r, status, body, NULL);
}

/* 403 for a browser page of an origin the daemon does not serve. */
static int refuse_origin(struct lws *wsi, struct fb_req *r)
{
	return respond(wsi, r, HTTP_STATUS_FORBIDDEN,
		       "{\"error\":{\"code\":\"forbidden\",\"message\":\"this Origin may not connect\"}}",
		       NULL);
}

/* ---- the routes -------------------------------------------------------------------- */

static int open_session(struct ws_fallback *fb, struct lws *wsi, struct fb_req *r)
{
	struct tv_server *srv = fb->srv;
	char addr[64] = "";
	lws_get_peer_simple(wsi, addr, sizeof addr);
	if (srv->stopping || !guard_conn_allowed(srv, addr) ||
	    srv->stats.connections_open >= (uint64_t)srv->cfg->max_connections)
		return error_body(wsi, r, HTTP_STATUS_SERVICE_UNAVAILABLE, -TV_E_OVERLOADED);
	struct fb_session *s = calloc(1, sizeof *s);
	unsigned char unused[TV_HASH_LEN];
	if (!s || crypto_token_new(s->sid, unused)) {
		free(s);
		return error_body(wsi, r, HTTP_STATUS_INTERNAL_SERVER_ERROR, -TV_E_INTERNAL);
	}
	s->fb = fb;
	s->detached_ms = server_now_ms();
	s->c = conn_new(srv, &transport, s, addr);
	if (!s->c || map_put(&fb->sessions, s->sid, s)) {
		if (s->c)
			conn_free(s->c);
		free(s);
		return error_body(wsi, r, HTTP_STATUS_INTERNAL_SERVER_ERROR, -TV_E_INTERNAL);
	}
	ws_server_send_hello(srv->ws, s->c);
	char cookie[160], body[160];
	snprintf(cookie, sizeof cookie, COOKIE "=%s; Path=/api; Secure; HttpOnly; SameSite=Strict",
		 s->sid);
	snprintf(body, sizeof body, "{\"protocol\":\"" TV_PROTOCOL_NAME "\",\"session\":\"%s\"}",
		 s->sid);
	log_debug("fallback.session", "conn=%s addr=%s", s->c->key, addr);
	return respond(wsi, r, 201, body, cookie);
}

static int attach_events(struct ws_fallback *fb, struct lws *wsi, struct fb_req *r)
{
	struct fb_session *s = from_cookie(fb, wsi);
	if (!s)
		return error_body(wsi, r, HTTP_STATUS_NOT_FOUND, -TV_E_NOT_AUTHENTICATED);
	unsigned char buf[LWS_PRE + 512], *start = buf + LWS_PRE, *p = start,
		*end = buf + sizeof buf - 1;
	if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, "text/event-stream",
					LWS_ILLEGAL_HTTP_CONTENT_LEN, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
					 (const unsigned char *)"no-store", 8, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return 1;
	if (s->sse && s->sse != wsi) { /* invariant 2: the newer stream wins */
		lws_set_timeout(s->sse, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		if (s->sse_req)
			s->sse_req->session = NULL;
	}
	s->sse = wsi;
	s->sse_req = r;
	r->kind = FB_EVENTS;
	r->session = s;
	s->c->wake_pending = 1;
	lws_callback_on_writable(wsi);
	return 0;
}

/* Writes what the session's conn has queued as SSE `data:` lines. */
static int write_events(struct ws_fallback *fb, struct lws *wsi, struct fb_req *r)
{
	struct fb_session *s = r->session;
	if (!s || s->sse != wsi)
		return -1;
	struct conn *c = s->c;
	char *frame;
	size_t len;
	struct tv_buf *hold;
	if (conn_next_frame(c, fb->scratch, SCRATCH - 16, &frame, &len, &hold)) {
		size_t total = 6 + len + 2;
		char *out = malloc(LWS_PRE + total);
		if (!out) {
			tv_buf_unref(hold);
			return -1;
		}
		memcpy(out + LWS_PRE, "data: ", 6);
		memcpy(out + LWS_PRE + 6, frame, len);
		memcpy(out + LWS_PRE + 6 + len, "\n\n", 2);
		tv_buf_unref(hold);
		int n = lws_write(wsi, (unsigned char *)out + LWS_PRE, total, LWS_WRITE_HTTP);
		free(out);
		if (n < (int)total)
			return -1;
		if (conn_has_output(c) || c->state == CONN_CLOSING) {
			c->wake_pending = 1;
			lws_callback_on_writable(wsi);
		}
		return 0;
	}
	if (c->state == CONN_CLOSING) {
		char msg[LWS_PRE + 256];
		int n = snprintf(msg + LWS_PRE, sizeof msg - LWS_PRE,
				 "event: close\ndata: {\"code\":%d,\"reason\":\"%s\"}\n\n",
				 c->close_code, c->close_reason);
		lws_write(wsi, (unsigned char *)msg + LWS_PRE, (size_t)n, LWS_WRITE_HTTP_FINAL);
		return -1;
	}
	return 0;
}

int fallback_http(struct ws_fallback *fb, struct lws *wsi, int reason, struct fb_req *r,
		  void *in, size_t len, int *ret)
{
	switch (reason) {
	case LWS_CALLBACK_HTTP: {
		const char *path = in ? (const char *)in : "";
		if (strncmp(path, "/api/", 5) != 0)
			return 0;
		int post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
		free(r->body);
		memset(r, 0, sizeof *r);
		*ret = 0;
		/* The Origin rule of the WebSocket handshake, here too: without
		 * it a page of another origin on the same host (another port is
		 * the same site, so SameSite does not keep the cookie back)
		 * could open sessions and post into an existing one with plain
		 * "simple" requests that need no CORS preflight. */
		char origin[512], q[200];
		if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > 0 &&
		    (lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) < 0 ||
		     !ws_server_origin_allowed(fb->srv->ws, origin))) {
			log_info("fallback.refused", "reason=origin origin=%s",
				 log_quote(q, sizeof q, origin));
			if (post) /* like any POST: answered once the body is read */
				r->kind = FB_POST_REFUSED;
			else
				*ret = refuse_origin(wsi, r);
			return 1;
		}
		if (post) /* answered once the body is read */
			r->kind = strcmp(path, "/api/session") == 0 ? FB_SESSION
				: strcmp(path, "/api/send") == 0 ? FB_SEND : FB_POST_UNKNOWN;
		else if (strcmp(path, "/api/events") == 0)
			*ret = attach_events(fb, wsi, r);
		else
			*ret = error_body(wsi, r, HTTP_STATUS_NOT_FOUND, -TV_E_UNKNOWN_OP);
		return 1;
	}
	case LWS_CALLBACK_HTTP_BODY:
		if (r->kind != FB_SEND && r->kind != FB_SESSION && r->kind != FB_POST_UNKNOWN &&
		    r->kind != FB_POST_REFUSED)
			return 0;
		if (r->body_len + len <= (size_t)fb->srv->cfg->max_message) {
			char *n = realloc(r->body, r->body_len + len + 1);
			if (n) {
				if (len)
					memcpy(n + r->body_len, in, len);
				r->body = n;
				r->body_len += len;
				n[r->body_len] = 0;
			}
		} else {
			r->status = HTTP_STATUS_REQ_ENTITY_TOO_LARGE;
		}
		*ret = 0;
		return 1;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION: {
		if (r->kind == FB_SESSION) {
			*ret = open_session(fb, wsi, r);
			return 1;
		}
		if (r->kind == FB_POST_REFUSED) {
			*ret = refuse_origin(wsi, r);
			return 1;
		}
		if (r->kind == FB_POST_UNKNOWN) {
			*ret = error_body(wsi, r, HTTP_STATUS_NOT_FOUND, -TV_E_UNKNOWN_OP);
			return 1;
		}
		if (r->kind != FB_SEND)
			return 0;
		struct fb_session *s = from_cookie(fb, wsi);
		if (r->status == HTTP_STATUS_REQ_ENTITY_TOO_LARGE)
			*ret = error_body(wsi, r, HTTP_STATUS_REQ_ENTITY_TOO_LARGE, -TV_E_TOO_LARGE);
		else if (!s)
			*ret = error_body(wsi, r, HTTP_STATUS_NOT_FOUND, -TV_E_NOT_AUTHENTICATED);
		else {
			/* Exactly what a WebSocket text message goes through. */
			conn_rx(s->c, r->body ? r->body : "", r->body_len, 1, 1, 0);
			*ret = respond(wsi, r, 202, "{}", NULL);
		}
		return 1;
	}
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (r->kind == FB_EVENTS) {
			*ret = write_events(fb, wsi, r);
			return 1;
		}
		if (r->kind == FB_REPLY) {
			unsigned char buf[LWS_PRE + 1024];
			size_t n = r->body_len < 1024 ? r->body_len : 1024;
			if (n)
				memcpy(buf + LWS_PRE, r->body, n);
			if (lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_HTTP_FINAL) < (int)n) {
				*ret = -1;
				return 1;
			}
			free(r->body);
			r->body = NULL;
			r->kind = FB_NONE;
			*ret = -1; /* Connection: close (see respond) */
			return 1;
		}
		return 0;
	case LWS_CALLBACK_CLOSED_HTTP:
		if (r->kind == FB_EVENTS && r->session && r->session->sse == wsi) {
			r->session->sse = NULL;
			r->session->sse_req = NULL;
			r->session->detached_ms = server_now_ms();
		}
		free(r->body);
		memset(r, 0, sizeof *r);
		return 0; /* let ws_server see it too */
	default:
		return 0;
	}
}
