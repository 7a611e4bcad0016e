/*
 * clock.h: the daemon's wall clock, in one place so that every module (and
 * every unit test, which links the core without main.c) reads time the same
 * way. Not responsible for timers or timeouts: those run on the uv loop.
 */
#ifndef TV_CLOCK_H
#define TV_CLOCK_H

#include <stdint.h>

/* Milliseconds since the epoch (CLOCK_REALTIME: event timestamps and token
 * ages are wall-clock facts that survive a restart). */
int64_t server_now_ms(void);

#endif
