/*
 * ws_fallback.h: tavla.v1 over plain HTTPS, for networks that block
 * WebSockets (common in municipal and agency networks). Part of the
 * transport layer with ws_server.c (the two files that use libwebsockets).
 *
 * The same messages as over /ws, carried by three requests:
 *
 *   POST /api/session   opens a session: a connection with no socket of its
 *                       own; the reply sets the cookie tavla_session
 *                       (Secure, HttpOnly, SameSite=Strict, Path=/api)
 *   GET  /api/events    Server-Sent Events: every server message, in order,
 *                       as one `data:` line; attaching again replaces the
 *                       previous stream. What was in flight on a stream
 *                       that broke may be lost, exactly as on a broken
 *                       WebSocket: the client then joins again with `since`
 *                       and repeats unanswered requests (same ids)
 *   POST /api/send      one request (a JSON object) as the body; answered
 *                       204, the reply arrives on the event stream
 *
 * The session id lives only in the cookie, never in a URL. A session with
 * no event stream for `idle_timeout` seconds is closed; a session closed by
 * the server ends its stream with an `event: close` whose data carries the
 * close code and reason, exactly as a WebSocket close would.
 *
 * Invariants:
 *  1. A session owns exactly one struct conn from creation to close; the
 *     conn is freed only here (its "transport close").
 *  2. At most one event stream is attached to a session.
 */
#ifndef TV_WS_FALLBACK_H
#define TV_WS_FALLBACK_H

#include <stddef.h>

struct lws;
struct tv_server;
struct ws_fallback;
struct fb_session;

/* Per-HTTP-request state, kept in ws_server.c's per-session data. */
struct fb_req {
	int kind;                  /* 0: not ours; else an FB_* value (ws_fallback.c) */
	struct fb_session *session;
	char *body;
	size_t body_len;
	int status;
};

struct ws_fallback *fallback_new(struct tv_server *srv);
/* Closes every session and frees everything (shutdown). */
void fallback_free(struct ws_fallback *fb);
/* Live sessions (for shutdown accounting). */
unsigned fallback_sessions(struct ws_fallback *fb);

/* Handles an HTTP callback if the request is an /api/ one. Returns 1 when
 * handled, with the callback's return value in *ret; 0 when not ours. */
int fallback_http(struct ws_fallback *fb, struct lws *wsi, int reason, struct fb_req *r,
                  void *in, size_t len, int *ret);

#endif
