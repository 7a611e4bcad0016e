/*
 * options.h: tavla-bench's command line, driven by the table in
 * options.def.
 *
 * Responsible for defaults, parsing "--name value" / "--name=value" /
 * "--flag", range checks that every scenario relies on, and --help. Not
 * responsible for which options a scenario reads.
 *
 * Invariants:
 *  1. After options_parse() returned 0 every numeric field is within the
 *     bounds options_parse documents and every string is non-NULL except
 *     ca_file, user, password and ports; 1 <= nports <= BENCH_MAX_PORTS,
 *     every port_list entry is a port and port == port_list[0].
 */
#ifndef TV_BENCH_OPTIONS_H
#define TV_BENCH_OPTIONS_H

#include <stdio.h>

enum opt_type { OPT_STR, OPT_INT, OPT_DBL, OPT_FLAG };

/* Most --ports (as many as tls_ws_conn's TWC_MAX_TARGETS). */
#define BENCH_MAX_PORTS 16

struct bench_opts {
	const char *scenario; /* fanout, idle, write, resume */
#define OPT_STR_T const char *
#define OPT_INT_T int
#define OPT_DBL_T double
#define OPT_FLAG_T int
#define BENCH_OPT(name, type, field, def, help) type##_T field;
#include "options.def"
#undef BENCH_OPT
	int node;             /* target == "node" */
	int nports;           /* --ports parsed (1 and {port} without it) */
	int port_list[BENCH_MAX_PORTS];
};

/* Fills o from argv (borrowed: strings point into argv). Returns 0, 1 when
 * --help was printed, or -1 after printing an error to stderr. */
int options_parse(struct bench_opts *o, int argc, char **argv);
void options_usage(FILE *f);

#endif
