/* guard.c: per-address connection counts and login throttling (guard.h). */
#include "guard.h"

#include <stdlib.h>

#include "server.h"
#include "tv_protocol.h"

#define LOGIN_WINDOW_MS 60000

struct guard_entry {
	unsigned conns;
	unsigned fails;
	int64_t window_start;
};

static struct guard_entry *entry(struct tv_server *srv, const char *addr, int create)
{
	struct guard_entry *e = map_get(&srv->guard, addr);
	if (!e && create) {
		e = calloc(1, sizeof *e);
		if (e && map_put(&srv->guard, addr, e)) {
			free(e);
			e = NULL;
		}
	}
	return e;
}

/* Invariant 1: drop an entry nothing refers to any more. */
static void maybe_drop(struct tv_server *srv, const char *addr, struct guard_entry *e,
		       int64_t now_ms)
{
	if (e->conns == 0 && (e->fails == 0 || now_ms - e->window_start > LOGIN_WINDOW_MS))
		free(map_del(&srv->guard, addr));
}

int guard_conn_allowed(struct tv_server *srv, const char *addr)
{
	long long max = srv->cfg->max_per_address;
	struct guard_entry *e = entry(srv, addr, 0);
	return max == 0 || !e || e->conns < (unsigned long long)max;
}

void guard_conn_opened(struct tv_server *srv, const char *addr)
{
	struct guard_entry *e = entry(srv, addr, 1);
	if (e)
		e->conns++;
}

void guard_conn_closed(struct tv_server *srv, const char *addr)
{
	struct guard_entry *e = entry(srv, addr, 0);
	if (!e)
		return;
	if (e->conns)
		e->conns--;
	maybe_drop(srv, addr, e, server_now_ms());
}

int guard_login_check(struct tv_server *srv, const char *addr, int64_t now_ms)
{
	struct guard_entry *e = entry(srv, addr, 0);
	if (!e || now_ms - e->window_start > LOGIN_WINDOW_MS)
		return 0;
	return e->fails >= (unsigned long long)srv->cfg->login_failures ? -TV_E_RATE_LIMITED : 0;
}

void guard_login_failed(struct tv_server *srv, const char *addr, int64_t now_ms)
{
	struct guard_entry *e = entry(srv, addr, 1);
	if (!e)
		return;
	if (now_ms - e->window_start > LOGIN_WINDOW_MS) {
		e->window_start = now_ms;
		e->fails = 0;
	}
	e->fails++;
}

static void free_one(const char *key, void *value, void *arg)
{
	free(value);
}

void guard_free(struct tv_server *srv)
{
	map_each(&srv->guard, free_one, NULL);
	map_free(&srv->guard);
}
