/*
 * retention.c: runs retention_days inside the daemon (see retention.h).
 * Not responsible for the SQL (store_admin.c: store__retention) or for
 * the command-line form (admin_cli.c).
 *
 * Invariants:
 *  1. At most one retention write is in flight (srv->retention_inflight).
 *  2. While it is, no room is loaded from the store (room.c refuses with
 *     overloaded), so the snapshot of loaded rooms that the writer skips
 *     is exact: a room in use is never deleted under its subscribers.
 */
#include "retention.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"

#define FIRST_MS (10 * 1000)
#define EVERY_MS (24 * 3600 * 1000)

struct retention {
	uv_timer_t timer;
	struct tv_server *srv;
};

struct retention_write {
	struct store_write w; /* first: the store hands back &w */
	struct tv_server *srv;
	char (*keep)[TV_ID_LEN + 1]; /* rooms loaded when it was queued */
	size_t nkeep, cap;
};

/* Writer thread: reads only the snapshot, which nobody changes meanwhile. */
static int keep_loaded(void *arg, const char *room_id)
{
	struct retention_write *rw = arg;
	for (size_t i = 0; i < rw->nkeep; i++)
		if (strcmp(rw->keep[i], room_id) == 0)
			return 1;
	return 0;
}

static void snapshot_room(const char *key, void *value, void *arg)
{
	struct retention_write *rw = arg;
	if (rw->nkeep == rw->cap) {
		size_t cap = rw->cap ? 2 * rw->cap : 64;
		void *n = realloc(rw->keep, cap * sizeof *rw->keep);
		if (!n)
			return; /* the room is then not protected: checked below */
		rw->keep = n;
		rw->cap = cap;
	}
	strncpy(rw->keep[rw->nkeep], key, TV_ID_LEN);
	rw->keep[rw->nkeep][TV_ID_LEN] = 0;
	rw->nkeep++;
}

static void retention_done(struct store_write *w)
{
	struct retention_write *rw = (struct retention_write *)w;
	rw->srv->retention_inflight = 0;
	if (w->status)
		log_warn("retention.failed", "code=%s", tv_err_name(w->status));
	else
		log_info("retention.done", "rooms_deleted=%ld days=%lld", w->retention.deleted,
			 rw->srv->cfg->retention_days);
	if (!w->status)
		rw->srv->stats.retention_deleted += (uint64_t)w->retention.deleted;
	store_write_release(w);
	free(rw->keep);
	free(rw);
}

static void tick(uv_timer_t *t)
{
	struct retention *rt = t->data;
	struct tv_server *srv = rt->srv;
	if (srv->stopping || srv->retention_inflight || !srv->store)
		return;
	struct retention_write *rw = calloc(1, sizeof *rw);
	if (!rw)
		return;
	rw->srv = srv;
	map_each(&srv->rooms_by_id, snapshot_room, rw);
	if (rw->nkeep != srv->rooms_by_id.count) {
		free(rw->keep);
		free(rw);
		return; /* out of memory: try tomorrow */
	}
	int64_t now = server_now_ms();
	rw->w.now_ms = now;
	rw->w.retention.before_ms = now - (int64_t)srv->cfg->retention_days * 86400000;
	rw->w.retention.keep = keep_loaded;
	rw->w.retention.keep_arg = rw;
	rw->w.done = retention_done;
	srv->retention_inflight = 1;
	store_submit(srv->store, &rw->w);
}

struct retention *retention_start(struct tv_server *srv)
{
	if (srv->cfg->retention_days <= 0)
		return NULL;
	struct retention *rt = calloc(1, sizeof *rt);
	if (!rt)
		return NULL;
	rt->srv = srv;
	uv_timer_init(srv->loop, &rt->timer);
	rt->timer.data = rt;
	uv_timer_start(&rt->timer, tick, FIRST_MS, EVERY_MS);
	return rt;
}

static void free_closed(uv_handle_t *h)
{
	free(h->data);
}

void retention_stop(struct retention *rt)
{
	if (!rt || uv_is_closing((uv_handle_t *)&rt->timer))
		return;
	uv_timer_stop(&rt->timer);
	uv_close((uv_handle_t *)&rt->timer, free_closed);
}
