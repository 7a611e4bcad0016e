/*
 * options.c: the option table of options.def turned into a parser and
 * --help (see options.h).
 *
 * Responsible for reading argv into struct bench_opts and checking the
 * bounds below. Not responsible for acting on any option.
 *
 * Invariants:
 *  1. Each option has exactly one row in options.def; a name not in the
 *     table is an error, never ignored.
 */
#include "options.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct opt_row {
	const char *name;
	enum opt_type type;
	size_t off;
	const char *def_s;
	double def_n;
	const char *help;
};

#define DEF_S_OPT_STR(d) (d)
#define DEF_S_OPT_INT(d) NULL
#define DEF_S_OPT_DBL(d) NULL
#define DEF_S_OPT_FLAG(d) NULL
#define DEF_N_OPT_STR(d) 0
#define DEF_N_OPT_INT(d) (d)
#define DEF_N_OPT_DBL(d) (d)
#define DEF_N_OPT_FLAG(d) (d)

static const struct opt_row rows[] = {
#define BENCH_OPT(name, type, field, def, help) \
	{ #name, type, offsetof(struct bench_opts, field), DEF_S_##type(def), \
	  DEF_N_##type(def), help },
#include "options.def"
#undef BENCH_OPT
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

void options_usage(FILE *f)
{
	fprintf(f,
	"usage: tavla-bench SCENARIO [OPTIONS]\n\n"
	"Scenarios:\n"
	"  fanout  one room: --subs S subscribers, --pubs P publishers (closed loop,\n"
	"          or --rate R per publisher), --size B, --duration SEC;\n"
	"          --target node runs the same against bench/baseline/server.js\n"
	"  rooms   many rooms at once: --rooms R, with --subs S and --pubs P spread\n"
	"          over them (P >= R), closed loop or --rate R per publisher\n"
	"  idle    --conns N TLS WebSocket connections, --hold SEC; with --pid the\n"
	"          daemon's RSS per connection\n"
	"  write   --writers W over --rooms R, closed loop, --duration SEC\n"
	"  resume  --clients N join, leave, --missed M events are posted, all\n"
	"          reconnect (resume + join since): time until all caught up\n"
	"  suggest --notes N notes in one room, --reps K cluster suggestions timed\n\n"
	"The tavla scenarios log in as an existing moderator (--user/--password):\n"
	"the operator creates it with `tavlad admin user-add ORG USER`. Publishers\n"
	"and writers exceed tavlad's default per-connection rate limit (50/s,\n"
	"burst 200): start the daemon with --rate 1000000 --rate_burst 1000000.\n\n"
	"Options:\n");
	for (size_t i = 0; i < NROWS; i++) {
		char lhs[64];

		snprintf(lhs, sizeof(lhs), "--%s%s", rows[i].name,
		         rows[i].type == OPT_FLAG ? "" : " V");
		if (rows[i].type == OPT_STR)
			fprintf(f, "  %-18s %s (default %s)\n", lhs, rows[i].help,
			        rows[i].def_s ? rows[i].def_s : "none");
		else if (rows[i].type == OPT_FLAG)
			fprintf(f, "  %-18s %s\n", lhs, rows[i].help);
		else
			fprintf(f, "  %-18s %s (default %g)\n", lhs, rows[i].help,
			        rows[i].def_n);
	}
}

static int set_value(struct bench_opts *o, const struct opt_row *r, const char *v)
{
	char *end;
	void *field = (char *)o + r->off;

	switch (r->type) {
	case OPT_STR:
		*(const char **)field = v;
		return 0;
	case OPT_INT: {
		long x = strtol(v, &end, 10);

		if (*v == '\0' || *end != '\0' || x < 0 || x > 100000000)
			break;
		*(int *)field = (int)x;
		return 0;
	}
	case OPT_DBL: {
		double x = strtod(v, &end);

		if (*v == '\0' || *end != '\0' || !(x >= 0) || x > 1e9)
			break;
		*(double *)field = x;
		return 0;
	}
	case OPT_FLAG:
		*(int *)field = 1;
		return 0;
	}
	fprintf(stderr, "tavla-bench: --%s: bad value \"%s\"\n", r->name, v);
	return -1;
}

/* Reads "P1,P2,..." into o->port_list. 0 or -1 (message printed). */
static int parse_ports(struct bench_opts *o, const char *s)
{
	o->nports = 0;
	for (;;) {
		char *end;
		long p = strtol(s, &end, 10);

		if (end == s || p < 1 || p > 65535 || (*end != ',' && *end != '\0') ||
		    o->nports >= BENCH_MAX_PORTS) {
			fprintf(stderr, "tavla-bench: --ports: 1 to %d ports 1..65535, "
			        "separated by commas (\"%s\")\n", BENCH_MAX_PORTS, o->ports);
			return -1;
		}
		o->port_list[o->nports++] = (int)p;
		if (*end == '\0')
			return 0;
		s = end + 1;
	}
}

int options_parse(struct bench_opts *o, int argc, char **argv)
{
	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < NROWS; i++) {
		void *field = (char *)o + rows[i].off;

		if (rows[i].type == OPT_STR)
			*(const char **)field = rows[i].def_s;
		else if (rows[i].type == OPT_DBL)
			*(double *)field = rows[i].def_n;
		else
			*(int *)field = (int)rows[i].def_n;
	}
	for (int a = 1; a < argc; a++) {
		const char *arg = argv[a], *eq, *val = NULL;
		const struct opt_row *r = NULL;
		size_t nl;

		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			options_usage(stdout);
			return 1;
		}
		if (strncmp(arg, "--", 2) != 0) {
			if (o->scenario != NULL) {
				fprintf(stderr, "tavla-bench: unexpected argument \"%s\"\n", arg);
				return -1;
			}
			o->scenario = arg;
			continue;
		}
		arg += 2;
		eq = strchr(arg, '=');
		nl = eq ? (size_t)(eq - arg) : strlen(arg);
		for (size_t i = 0; i < NROWS; i++)
			if (strlen(rows[i].name) == nl && strncmp(rows[i].name, arg, nl) == 0)
				r = &rows[i];
		if (r == NULL) {
			fprintf(stderr, "tavla-bench: unknown option --%.*s (see --help)\n",
			        (int)nl, arg);
			return -1;
		}
		if (r->type == OPT_FLAG) {
			if (eq != NULL) {
				fprintf(stderr, "tavla-bench: --%s takes no value\n", r->name);
				return -1;
			}
		} else if (eq != NULL) {
			val = eq + 1;
		} else if (a + 1 < argc) {
			val = argv[++a];
		} else {
			fprintf(stderr, "tavla-bench: --%s needs a value\n", r->name);
			return -1;
		}
		if (set_value(o, r, val) < 0)
			return -1;
	}
	if (o->scenario == NULL) {
		options_usage(stderr);
		return -1;
	}
	if (o->password == NULL)
		o->password = getenv("TAVLA_BENCH_PASSWORD");
	if (o->ports != NULL) {
		if (parse_ports(o, o->ports) < 0)
			return -1;
		o->port = o->port_list[0];
	} else {
		o->nports = 1;
		o->port_list[0] = o->port;
	}
	if (strcmp(o->target, "node") == 0)
		o->node = 1;
	else if (strcmp(o->target, "tavla") != 0) {
		fprintf(stderr, "tavla-bench: --target must be tavla or node\n");
		return -1;
	}
	if (o->threads < 1 || o->threads > 64 || o->port < 1 || o->port > 65535 ||
	    o->ramp < 1 || o->rooms < 1 || o->size < 48 || o->size > 4000) {
		fprintf(stderr, "tavla-bench: --threads 1..64, --port 1..65535, --ramp >= 1, "
		        "--rooms >= 1, --size 48..4000\n");
		return -1;
	}
	return 0;
}
