/*
 * guard.h: abuse limits by client address.
 *
 * Responsible for: how many connections one address may hold at once
 * (max_per_address), and throttling password guessing: after
 * login_failures failed logins from one address within a minute, further
 * logins from it are refused with rate_limited until that minute has
 * passed. Not responsible for: per-connection request rates (conn.c's token
 * bucket) or the global connection cap (ws_server.c).
 *
 * Behind a TCP load balancer every client has the balancer's address: set
 * max_per_address 0 (no limit) there.
 *
 * Invariants:
 *  1. An entry exists only while its address has a connection or a failed
 *     login within the current window.
 *  2. conns equals the number of live connections from the address.
 */
#ifndef TV_GUARD_H
#define TV_GUARD_H

#include <stdint.h>

struct tv_server;

/* 1 if another connection from addr may be accepted. */
int guard_conn_allowed(struct tv_server *srv, const char *addr);
void guard_conn_opened(struct tv_server *srv, const char *addr);
void guard_conn_closed(struct tv_server *srv, const char *addr);

/* 0, or -TV_E_RATE_LIMITED while addr is throttled. */
int guard_login_check(struct tv_server *srv, const char *addr, int64_t now_ms);
void guard_login_failed(struct tv_server *srv, const char *addr, int64_t now_ms);

/* Frees every entry (shutdown). */
void guard_free(struct tv_server *srv);

#endif
