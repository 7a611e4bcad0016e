/*
 * main.c: tavla-bench, the load generator of tavla.
 *
 * Responsible for start-up: options, SIGPIPE, the file-descriptor limit
 * (raised to the hard limit: every connection is one descriptor), the TLS
 * context shared by every loop, choosing the scenario, printing its
 * report. Not responsible for any measurement (scenario_*.c).
 *
 * Exit status: 0 when the scenario produced figures, 1 when it could not,
 * 2 on a usage error.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "options.h"
#include "report.h"
#include "scenarios.h"
#include "tls_ws_conn.h"

static const struct {
	const char *name;
	int (*run)(const struct bench_opts *, struct ssl_ctx_st *, struct report *);
} scenarios[] = {
	{ "fanout", scenario_fanout },
	{ "idle", scenario_idle },
	{ "write", scenario_write },
	{ "rooms", scenario_rooms },
	{ "resume", scenario_resume },
	{ "suggest", scenario_suggest },
};

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	static struct report rep;
	struct bench_opts o;
	struct ssl_ctx_st *ctx;
	char err[256];
	int rc = options_parse(&o, argc, argv);
	size_t i;

	if (rc != 0)
		return rc > 0 ? 0 : 2;
	for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		if (strcmp(scenarios[i].name, o.scenario) == 0)
			break;
	if (i == sizeof(scenarios) / sizeof(scenarios[0])) {
		fprintf(stderr, "tavla-bench: unknown scenario \"%s\" (fanout, rooms, idle, write, resume, suggest)\n",
		        o.scenario);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	ctx = twc_tls_ctx_new(o.ca_file, o.insecure, o.host, err, sizeof(err));
	if (ctx == NULL) {
		fprintf(stderr, "tavla-bench: %s\n", err);
		return 1;
	}
	report_init(&rep, o.scenario);
	if (o.nports > 1)
		report_text(&rep, "ports", "daemon ports (connections in turn)", o.ports);
	rc = scenarios[i].run(&o, ctx, &rep);
	report_common(&rep);
	if (rep.nrows > 0)
		report_print(&rep, stdout, o.json);
	twc_tls_ctx_free(ctx);
	return rc == 0 ? 0 : 1;
}
