/*
 * cluster_fixture.h: reads the clustering fixtures of tests/fixtures/
 * clustering/ (shared by test_cluster.c and tests/bench/bench_cluster.c).
 *
 * A fixture is a TSV file: lines starting with '#' are comments, every other
 * non-empty line is "theme<TAB>note text", the theme being the cluster a
 * person chose for the note. Not responsible for judging the clustering.
 */
#ifndef TV_CLUSTER_FIXTURE_H
#define TV_CLUSTER_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

struct fixture {
	size_t n;
	struct cluster_input *in; /* ids "n1".."nN" */
	int *truth;               /* theme number per note */
	char **themes;            /* theme names, ntheme of them */
	size_t ntheme;
	char *buf;                /* owns every string */
};

static void fixture_free(struct fixture *fx)
{
	free(fx->in);
	free(fx->truth);
	free(fx->themes);
	free(fx->buf);
	memset(fx, 0, sizeof *fx);
}

/* Loads path; returns 0 or -1 (missing or malformed file). */
static int fixture_load(const char *path, struct fixture *fx)
{
	FILE *f = fopen(path, "rb");
	long size;
	char *p, *line, *next;
	size_t lines = 0;

	memset(fx, 0, sizeof *fx);
	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, 0, SEEK_SET);
	fx->buf = malloc((size_t)size * 2 + 64);
	if (!fx->buf || fread(fx->buf, 1, (size_t)size, f) != (size_t)size) {
		fclose(f);
		fixture_free(fx);
		return -1;
	}
	fclose(f);
	fx->buf[size] = '\0';
	for (p = fx->buf; *p; p++)
		lines += *p == '\n';
	lines++;
	fx->in = calloc(lines, sizeof *fx->in);
	fx->truth = calloc(lines, sizeof *fx->truth);
	fx->themes = calloc(lines, sizeof *fx->themes);
	if (!fx->in || !fx->truth || !fx->themes) {
		fixture_free(fx);
		return -1;
	}
	/* ids are written after the text, in the second half of buf */
	p = fx->buf + size + 1;
	for (line = fx->buf; line; line = next) {
		char *tab, *theme;
		size_t t;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		tab = strchr(line, '\t');
		if (!tab) {
			fixture_free(fx);
			return -1;
		}
		*tab = '\0';
		theme = line;
		for (t = 0; t < fx->ntheme && strcmp(fx->themes[t], theme); t++)
			;
		if (t == fx->ntheme)
			fx->themes[fx->ntheme++] = theme;
		fx->truth[fx->n] = (int)t;
		fx->in[fx->n].text = tab + 1;
		fx->in[fx->n].id = p;
		p += sprintf(p, "n%zu", fx->n + 1) + 1;
		fx->n++;
	}
	return 0;
}

/* ARI of cluster_suggest() with options o against the fixture's themes;
 * NAN when clustering fails. */
static double fixture_ari(const struct fixture *fx, const struct cluster_options *o)
{
	struct cluster_result *r;
	int *got = malloc(fx->n * sizeof *got);
	double ari;

	if (!got || cluster_suggest(fx->in, fx->n, o, &r) != 0) {
		free(got);
		return 0.0 / 0.0;
	}
	cluster_result_labels(r, fx->n, got);
	ari = cluster_ari(fx->truth, got, fx->n);
	cluster_result_free(r);
	free(got);
	return ari;
}

#endif
