/*
 * report.h: the results of one run, printed as an aligned table and,
 * optionally, as one JSON object.
 *
 * Responsible for collecting named figures in order and formatting them.
 * Not responsible for computing them. Also holds the common part of every
 * report: daemon CPU and RSS (given --pid) and the generator's own CPU.
 *
 * Invariants:
 *  1. Keys are unique, [a-z0-9_], and appear in the JSON in the order
 *     they were added; the table shows the labels in the same order.
 */
#ifndef TV_BENCH_REPORT_H
#define TV_BENCH_REPORT_H

#include "histogram.h"
#include "procstat.h"

#define REPORT_MAX 64

struct report_row {
	char key[40];
	char label[64];
	char unit[16];
	int is_text;
	double num;
	char text[128];
};

struct report {
	char scenario[32];
	int nrows;
	struct report_row rows[REPORT_MAX];
	struct proc_sample d0, d1;
	double self0, wall0_us;
	double wall_s, self_s;
	int ended;
};

void report_init(struct report *r, const char *scenario);
void report_num(struct report *r, const char *key, const char *label,
                double v, const char *unit);
void report_text(struct report *r, const char *key, const char *label,
                 const char *text);
/* Adds KEY_p50, _p99, _p999, _max (and _n) in milliseconds from a
 * microsecond histogram. */
void report_latency(struct report *r, const char *key, const char *label,
                    const struct histogram *h);
/* Samples the daemon (pid, may be 0) and the generator before the load. */
void report_begin(struct report *r, int pid);
/* Samples again after the load (no rows added yet). */
void report_end(struct report *r, int pid);
/* Adds the common rows (wall time, daemon CPU and RSS, generator CPU and
 * the note that both share the cores); nothing if report_end never ran. */
void report_common(struct report *r);
/* Prints the table to f and, with json, the JSON object on one line. */
void report_print(const struct report *r, FILE *f, int json);

#endif
