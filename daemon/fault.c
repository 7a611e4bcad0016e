/*
 * fault.c: the TV_FAULT() sites' switchboard (see fault.h). Holds the one
 * armed site, from $TAVLA_FAULT or fault_arm(); the writer thread and the
 * loop thread can both reach sites.
 *
 * Invariants:
 *  1. `armed` is 0 unless a site is armed and has not tripped yet, so an
 *     unarmed site costs one atomic load and a branch.
 *  2. armed_site, armed_n, armed_abort and hits change only under mu.
 */
#include "fault.h"

#ifdef TAVLA_FAULT
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Process-wide test switchboard: the one deliberate piece of global state,
 * because sites sit deep in modules that have no handle to pass it in. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int armed;
static char armed_site[64];
static long armed_n;
static int armed_abort;
static long hits;

void fault_arm(const char *site, long n, int abort_)
{
	pthread_mutex_lock(&mu);
	atomic_store(&armed, 0);
	armed_site[0] = 0;
	hits = 0;
	if (site && *site && strlen(site) < sizeof armed_site) {
		snprintf(armed_site, sizeof armed_site, "%s", site);
		armed_n = n < 1 ? 1 : n;
		armed_abort = abort_;
		atomic_store(&armed, 1);
	}
	pthread_mutex_unlock(&mu);
}

void fault_init(void)
{
	const char *spec = getenv("TAVLA_FAULT");
	if (!spec || !*spec)
		return;
	const char *c1 = strchr(spec, ':');
	char site[sizeof armed_site];
	if (!c1 || (size_t)(c1 - spec) >= sizeof site)
		return;
	memcpy(site, spec, (size_t)(c1 - spec));
	site[c1 - spec] = 0;
	long n = strtol(c1 + 1, NULL, 10);
	const char *c2 = strchr(c1 + 1, ':');
	fault_arm(site, n, c2 && strcmp(c2 + 1, "abort") == 0);
}

int fault_hit(const char *site)
{
	if (!atomic_load_explicit(&armed, memory_order_relaxed))
		return 0;
	pthread_mutex_lock(&mu);
	int trip = 0, abort_ = 0;
	if (atomic_load(&armed) && strcmp(site, armed_site) == 0 && ++hits == armed_n) {
		trip = 1;
		abort_ = armed_abort;
		atomic_store(&armed, 0); /* once: later hits pass */
	}
	pthread_mutex_unlock(&mu);
	if (trip && abort_) {
		static const char msg[] = "tavlad: fault site reached, aborting\n";
		ssize_t w = write(2, msg, sizeof msg - 1);
		(void)w;
		signal(SIGABRT, SIG_DFL);
		abort();
	}
	return trip;
}
#endif
