/*
 * fault.h: fault injection, SQLite-style. A TV_FAULT(site) expression is
 * true when the test harness armed that site; production builds compile it
 * to 0 (configure with -DTAVLA_FAULT=OFF).
 *
 * Arming is by environment, read once at start-up:
 *   TAVLA_FAULT=site:N[:action]   trip the Nth time `site` is reached
 *   action: "fail" (default: the site's own failure path) or "abort"
 *           (the process dies on the spot, as a kill -9 would leave it)
 * Sites: store.before_begin, store.after_insert, store.before_commit,
 *        store.after_commit, dispatch.after_ack, store.step (any SQLite step).
 *
 * Invariant: an unarmed site costs one predictable branch.
 */
#ifndef TV_FAULT_H
#define TV_FAULT_H

#ifdef TAVLA_FAULT
/* Returns 1 when the armed site trips now (or aborts the process), else 0.
 * Thread-safe. */
int fault_hit(const char *site);
/* Reads TAVLA_FAULT; call once before any thread starts. */
void fault_init(void);
#define TV_FAULT(site) fault_hit(site)
#else
#define TV_FAULT(site) 0
static inline void fault_init(void) {}
#endif

#endif
