/*
 * metrics.h: what tavlad tells its operators over HTTP: the Prometheus text
 * of GET /metrics, who may read it, and the store probe behind GET /readyz.
 * ws_server.c serves the bytes; this module knows nothing of HTTP or lws.
 */
#ifndef TV_METRICS_H
#define TV_METRICS_H

#include <stddef.h>

#include "server.h"

/* Counts one committed event of this kind (a fixed table of the protocol's
 * kinds; anything else is counted as "other"). */
void metrics_count_event(struct tv_stats *st, const char *kind);
/* Counts one error reply; code is TV_E_x or -TV_E_x. */
void metrics_count_error(struct tv_stats *st, int code);

/* Renders every metric in the Prometheus text exposition format 0.0.4.
 * Returns a malloc'd body (the caller frees it) and its length in *len,
 * or NULL when out of memory. cert_loaded is ws_server's TLS state. */
char *metrics_render(struct tv_server *srv, int cert_loaded, size_t *len);

/* 1 if addr (an IPv4 or IPv6 literal; IPv4-mapped IPv6 counts as IPv4)
 * lies in one of the comma-separated CIDR networks of list ("10.0.0.0/8,
 * ::1/128"; a bare address means /32 or /128). Malformed entries match
 * nothing. */
int metrics_addr_allowed(const char *list, const char *addr);

/* The readiness probe: one trivial write transaction through the store's
 * writer (store_write.probe). done(arg, status) runs on the loop thread
 * with 0 or -TV_E_x, unless the probe was cancelled first. Returns the
 * probe (owned by this module) or NULL when out of memory. */
struct metrics_probe;
struct metrics_probe *metrics_probe_start(struct tv_server *srv,
                                          void (*done)(void *arg, int status), void *arg);
/* The requester went away: done will not run; the probe frees itself when
 * the store hands it back. */
void metrics_probe_cancel(struct metrics_probe *p);

#endif
