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
 *        store.after_commit, dispatch.before_ack, dispatch.after_ack,
 *        store.step (any SQLite step).
 *
 * Unit tests arm sites directly with fault_arm(), one site at a time, as
 * often as they like; arming replaces whatever was armed and restarts the
 * count.
 *
 * Invariant: an unarmed site costs one predictable branch.
 */
#ifndef TV_FAULT_H
#define TV_FAULT_H

#ifdef TAVLA_FAULT
/* Returns 1 when the armed site trips now (or aborts the process), else 0.
 * Thread-safe. */
int fault_hit(const char *site);
/* Reads TAVLA_FAULT and arms what it names; call once at start-up. */
void fault_init(void);
/* Arms `site` (copied) to trip the nth time it is reached from now on, once;
 * abort_ makes that trip abort the process. site NULL disarms. Thread-safe:
 * a site reached concurrently sees either the old or the new arming. */
void fault_arm(const char *site, long n, int abort_);
#define TV_FAULT(site) fault_hit(site)
#else
#define TV_FAULT(site) 0
static inline void fault_init(void) {}
static inline void fault_arm(const char *site, long n, int abort_)
{
	(void)site;
	(void)n;
	(void)abort_;
}
#endif

#endif
