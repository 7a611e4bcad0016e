/*
 * retention.h: the daemon's own application of retention_days: at start
 * and then once a day, rooms whose last event is older than that are
 * deleted (through the store's writer, skipping rooms loaded in memory).
 * `tavlad admin retention DAYS` does the same with the daemon stopped.
 */
#ifndef TV_RETENTION_H
#define TV_RETENTION_H

#include "server.h"

struct retention;
/* Starts the daily timer when cfg->retention_days > 0 (else does nothing
 * and returns NULL). The first run is ten seconds after start. */
struct retention *retention_start(struct tv_server *srv);
/* Stops the timer; the handle is freed when the loop closes it. */
void retention_stop(struct retention *rt);

#endif
