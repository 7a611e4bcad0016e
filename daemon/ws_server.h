/*
 * ws_server.h: the HTTPS + WebSocket listener (the daemon's only
 * libwebsockets user).
 *
 * Responsible for: the lws context on tavlad's own libuv loop, TLS 1.2/1.3
 * with the configured or generated certificate (and its reload), the
 * handshake rules (path /ws, subprotocol tavla.v1, Origin allowlist,
 * connection limit), GET /healthz, feeding received fragments to conn.c and
 * writing the frames conn.c builds (one lws_write per writeable callback).
 * Not responsible for: anything a message means.
 *
 * Shutdown is two-phase, as lws on a foreign loop requires:
 * ws_server_stop_accepting() then, once connections have drained,
 * ws_server_destroy() inside the loop; after uv_run returns,
 * ws_server_destroy() again finishes what the loop could not.
 */
#ifndef TV_WS_SERVER_H
#define TV_WS_SERVER_H

#include <stddef.h>

struct tv_server;
struct ws_server;

/* Creates the context and listens. cert/key are PEM paths. Returns 0 or
 * negative with err. */
int ws_server_start(struct tv_server *srv, const char *cert, const char *key,
                    char *err, size_t errlen);
struct conn;
/* Queues the hello message (PROTOCOL.md 2.1) on a new connection of any
 * transport. */
void ws_server_send_hello(struct ws_server *ws, struct conn *c);
/* Port actually listened on. */
int ws_server_port(struct ws_server *ws);
/* 1 if a browser at `origin` (an Origin header's value) may talk to the
 * daemon: its own https://listen:port or one of the `origins` setting.
 * Shared by the WebSocket handshake and the HTTPS fallback. */
int ws_server_origin_allowed(struct ws_server *ws, const char *origin);
/* Reloads certificate and key for new connections; existing ones keep
 * theirs. A bad pair is refused and the old one stays. 0 or negative. */
int ws_server_reload_cert(struct ws_server *ws, char *err, size_t errlen);
/* Refuses new connections and sends every connection a close frame (1001)
 * once what it has queued is written. */
void ws_server_stop_accepting(struct ws_server *ws);
/* Open connections (HTTP and WebSocket). */
unsigned ws_server_open(struct ws_server *ws);
/* Destroys the lws context (see the two-phase note); idempotent. Frees ws
 * when the context is gone. Returns 1 when fully destroyed. */
int ws_server_destroy(struct ws_server *ws);

#endif
