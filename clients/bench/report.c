/*
 * report.c: result table and JSON (see report.h).
 *
 * Responsible for formatting. Numbers print with up to 3 decimals in the
 * table and in full precision (%.6g, integers as integers) in the JSON.
 * Not responsible for the figures themselves.
 */
#include <stdio.h>
#include <string.h>

#include "report.h"

void report_init(struct report *r, const char *scenario)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->scenario, sizeof(r->scenario), "%s", scenario);
}

static struct report_row *add(struct report *r, const char *key,
                              const char *label, const char *unit)
{
	struct report_row *row;

	if (r->nrows >= REPORT_MAX)
		return NULL;
	row = &r->rows[r->nrows++];
	memset(row, 0, sizeof(*row));
	snprintf(row->key, sizeof(row->key), "%s", key);
	snprintf(row->label, sizeof(row->label), "%s", label);
	snprintf(row->unit, sizeof(row->unit), "%s", unit ? unit : "");
	return row;
}

void report_num(struct report *r, const char *key, const char *label,
                double v, const char *unit)
{
	struct report_row *row = add(r, key, label, unit);

	if (row != NULL)
		row->num = v;
}

void report_text(struct report *r, const char *key, const char *label,
                 const char *text)
{
	struct report_row *row = add(r, key, label, NULL);

	if (row != NULL) {
		row->is_text = 1;
		snprintf(row->text, sizeof(row->text), "%s", text);
	}
}

void report_latency(struct report *r, const char *key, const char *label,
                    const struct histogram *h)
{
	static const struct { const char *suffix, *name; double p; } pct[] = {
		{ "p50", "p50", 50 }, { "p99", "p99", 99 },
		{ "p999", "p99.9", 99.9 }, { "max", "max", 100 },
	};
	char k[40], l[64];

	snprintf(k, sizeof(k), "%s_n", key);
	snprintf(l, sizeof(l), "%s samples", label);
	report_num(r, k, l, (double)h->count, NULL);
	for (size_t i = 0; i < sizeof(pct) / sizeof(pct[0]); i++) {
		snprintf(k, sizeof(k), "%s_%s_ms", key, pct[i].suffix);
		snprintf(l, sizeof(l), "%s %s", label, pct[i].name);
		report_num(r, k, l, (double)histogram_percentile(h, pct[i].p) / 1000.0,
		           "ms");
	}
}

void report_begin(struct report *r, int pid)
{
	procstat_sample(pid, &r->d0);
	r->self0 = procstat_self_cpu();
	r->wall0_us = (double)procstat_now_us();
}

void report_end(struct report *r, int pid)
{
	r->wall_s = ((double)procstat_now_us() - r->wall0_us) / 1e6;
	r->self_s = procstat_self_cpu() - r->self0;
	procstat_sample(pid, &r->d1);
	r->ended = 1;
}

void report_common(struct report *r)
{
	double wall = r->wall_s, self = r->self_s;

	if (!r->ended)
		return;
	report_num(r, "wall_s", "wall time of the run", wall, "s");
	if (r->d0.ok && r->d1.ok) {
		double cpu = r->d1.cpu_s - r->d0.cpu_s;

		report_num(r, "daemon_cpu_s", "daemon CPU (utime+stime)", cpu, "s");
		report_num(r, "daemon_cpu_pct", "daemon CPU / wall", 100.0 * cpu / wall, "%");
		report_num(r, "daemon_rss_before_kb", "daemon RSS before", (double)r->d0.rss_kb, "KiB");
		report_num(r, "daemon_rss_after_kb", "daemon RSS after", (double)r->d1.rss_kb, "KiB");
	}
	report_num(r, "bench_cpu_s", "generator CPU (all threads)", self, "s");
	report_num(r, "bench_cpu_pct", "generator CPU / wall", 100.0 * self / wall, "%");
	report_text(r, "note", "note",
	            "generator and daemon share the machine's cores");
}

void report_print(const struct report *r, FILE *f, int json)
{
	fprintf(f, "%s\n", r->scenario);
	for (int i = 0; i < r->nrows; i++) {
		const struct report_row *row = &r->rows[i];

		if (row->is_text)
			fprintf(f, "  %-40s %s\n", row->label, row->text);
		else if (row->num == (double)(long long)row->num && row->num < 1e15)
			fprintf(f, "  %-40s %14lld %s\n", row->label, (long long)row->num, row->unit);
		else
			fprintf(f, "  %-40s %14.3f %s\n", row->label, row->num, row->unit);
	}
	if (!json)
		return;
	fprintf(f, "{\"scenario\":\"%s\"", r->scenario);
	for (int i = 0; i < r->nrows; i++) {
		const struct report_row *row = &r->rows[i];

		if (row->is_text) {
			fprintf(f, ",\"%s\":\"", row->key);
			for (const char *p = row->text; *p; p++)
				if (*p == '"' || *p == '\\')
					fprintf(f, "\\%c", *p);
				else if ((unsigned char)*p >= 0x20)
					fputc(*p, f);
			fputc('"', f);
		} else if (row->num == (double)(long long)row->num && row->num < 1e15) {
			fprintf(f, ",\"%s\":%lld", row->key, (long long)row->num);
		} else {
			fprintf(f, ",\"%s\":%.6g", row->key, row->num);
		}
	}
	fprintf(f, "}\n");
	fflush(f);
}
