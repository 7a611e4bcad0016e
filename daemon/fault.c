/*
 * fault.c: the TV_FAULT() sites' switchboard (see fault.h). Holds the one
 * armed site parsed from $TAVLA_FAULT; counts hits atomically so the writer
 * thread and the loop thread can both reach sites.
 */
#include "fault.h"

#ifdef TAVLA_FAULT
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Process-wide, written once in fault_init() before threads start. */
static char armed_site[64];
static long armed_n;
static int armed_abort;
static atomic_long hits;

void fault_init(void)
{
	const char *spec = getenv("TAVLA_FAULT");
	if (!spec || !*spec)
		return;
	const char *c1 = strchr(spec, ':');
	if (!c1 || (size_t)(c1 - spec) >= sizeof armed_site)
		return;
	memcpy(armed_site, spec, (size_t)(c1 - spec));
	armed_site[c1 - spec] = 0;
	armed_n = strtol(c1 + 1, NULL, 10);
	const char *c2 = strchr(c1 + 1, ':');
	armed_abort = c2 && strcmp(c2 + 1, "abort") == 0;
	if (armed_n < 1)
		armed_n = 1;
}

int fault_hit(const char *site)
{
	if (!armed_site[0] || strcmp(site, armed_site) != 0)
		return 0;
	long n = atomic_fetch_add(&hits, 1) + 1;
	if (n != armed_n)
		return 0;
	if (armed_abort) {
		static const char msg[] = "tavlad: fault site reached, aborting\n";
		ssize_t w = write(2, msg, sizeof msg - 1);
		(void)w;
		signal(SIGABRT, SIG_DFL);
		abort();
	}
	return 1;
}
#endif
