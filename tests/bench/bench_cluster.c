/*
 * bench_cluster.c: timing and agreement figures of cluster_suggest(), for
 * bench/RESULTS.md and README.md. Built with the tests, never run by ctest.
 *
 *   bench_cluster time [--notes N] [--reps R] [--concept-share X]
 *       suggestions for N notes (default 2000) recombined from the
 *       fixtures' notes, on one thread
 *   bench_cluster eval [options]                ARI per fixture with the
 *       given options (defaults = cluster_options_init), for tuning
 *
 * eval options: --threshold X --target-k K --attach X --word-share X
 * --part-weight X --min-df N --neighbours K --second-order X --ngram A-B --features words|ngrams|default|
 * nostem|nocompounds|nostop --concept-share X --no-lexicon --only FILE, and --heldout to
 * score the held-out sets too (only for the final figures). Not responsible for pass or
 * fail: test_cluster.c holds the floors.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../unit/cluster_fixture.h"
#include "cluster.h"

static const char *const sets[] = {
	"ws_kompetens.tsv", "ws_landsbygd.tsv", "ws_larande.tsv", "ws_besok.tsv",
	"ws_energi.tsv",    "ws_digital.tsv",   "en_mobility.tsv", "heldout_unga.tsv",
	"heldout_aldre.tsv",
};
#define NSWEDISH 6 /* the Swedish tuning sets come first */
#define NHELDOUT 2 /* and the held-out sets last */
#define NSETS (sizeof sets / sizeof *sets)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int load(size_t k, struct fixture *fx)
{
	char path[1024];

	snprintf(path, sizeof path, "%s/tests/fixtures/clustering/%s", TV_SOURCE_DIR, sets[k]);
	if (fixture_load(path, fx)) {
		fprintf(stderr, "cannot read %s\n", path);
		return -1;
	}
	return 0;
}

static uint64_t rng_next(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return *s >> 33;
}

/* A note made of the first half of a's words and the second half of b's. */
static void recombine(const char *a, const char *b, char *out, size_t cap)
{
	const char *mid_a = a + strlen(a) / 2, *mid_b = b + strlen(b) / 2;

	while (*mid_a && *mid_a != ' ')
		mid_a++;
	while (*mid_b && *mid_b != ' ')
		mid_b++;
	snprintf(out, cap, "%.*s%s", (int)(mid_a - a), a, mid_b);
}

static int bench_time(int argc, char **argv)
{
	size_t notes = 2000, reps = 5, n = 0;
	struct fixture fx[NSETS];
	struct cluster_input *in;
	char (*text)[512], (*ids)[24];
	struct cluster_options o;
	struct textan_lexicon *lex;
	uint64_t seed = 42;
	double t0, best = 1e9, sum = 0;
	size_t nclusters = 0, nun = 0;
	double concept_share = -1;

	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--notes"))
			notes = strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--reps"))
			reps = strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--concept-share"))
			concept_share = atof(argv[i + 1]);
	}
	for (size_t k = 0; k < NSETS - NHELDOUT; k++) /* never the held-out sets */
		if (load(k, &fx[k]))
			return 1;
	in = calloc(notes, sizeof *in);
	text = calloc(notes, sizeof *text);
	ids = calloc(notes, sizeof *ids);
	if (!in || !text || !ids)
		return 1;
	for (n = 0; n < notes; n++) {
		const struct fixture *f = &fx[rng_next(&seed) % NSWEDISH]; /* the Swedish sets */
		size_t a = rng_next(&seed) % f->n, b;

		do
			b = rng_next(&seed) % f->n;
		while (f->truth[b] != f->truth[a]);
		recombine(f->in[a].text, f->in[b].text, text[n], sizeof text[n]);
		snprintf(ids[n], sizeof ids[n], "b%zu", n);
		in[n].id = ids[n];
		in[n].text = text[n];
	}
	t0 = now();
	lex = textan_lexicon_load(TEXTAN_LEXICON_SV);
	printf("lexicon: %zu words loaded in %.1f ms%s\n", textan_lexicon_size(lex),
	       (now() - t0) * 1e3, lex ? "" : " (hunspell-sv missing: no compound parts)");
	cluster_options_init(&o);
	o.lexicon = lex;
	if (concept_share >= 0)
		o.concept_share = concept_share;
	for (size_t r = 0; r < reps; r++) {
		struct cluster_result *res;
		double dt;

		t0 = now();
		if (cluster_suggest(in, notes, &o, &res)) {
			fprintf(stderr, "cluster_suggest failed\n");
			return 1;
		}
		dt = now() - t0;
		sum += dt;
		if (dt < best)
			best = dt;
		nclusters = res->n_clusters;
		nun = res->n_unclustered;
		if (r == 0)
			for (size_t k = 0; k < res->n_clusters && k < 8; k++)
				printf("  cluster %zu: %zu notes, cohesion %.2f: %s\n", k,
				       res->clusters[k].n_notes, res->clusters[k].cohesion,
				       res->clusters[k].label);
		cluster_result_free(res);
	}
	printf("suggest: %zu notes, %zu clusters, %zu unclustered; best %.1f ms, mean %.1f ms over %zu runs\n",
	       notes, nclusters, nun, best * 1e3, sum / (double)reps * 1e3, reps);
	textan_lexicon_free(lex);
	for (size_t k = 0; k < NSETS - NHELDOUT; k++)
		fixture_free(&fx[k]);
	free(in);
	free(text);
	free(ids);
	return 0;
}

static int bench_eval(int argc, char **argv)
{
	struct cluster_options o;
	struct textan_lexicon *lex = textan_lexicon_load(TEXTAN_LEXICON_SV);
	struct textan_thesaurus *th = textan_thesaurus_load(TEXTAN_THESAURUS_SV);
	const char *only = NULL;
	bool heldout = false;
	double sum = 0;
	int tuned = 0;

	cluster_options_init(&o);
	o.lexicon = lex;
	o.thesaurus = th;
	for (int i = 2; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : "";

		if (!strcmp(argv[i], "--no-lexicon")) {
			o.lexicon = NULL;
			continue;
		}
		if (!strcmp(argv[i], "--no-thesaurus")) {
			o.thesaurus = NULL;
			continue;
		}
		if (!strcmp(argv[i], "--heldout")) {
			heldout = true;
			continue;
		}
		i++;
		if (!strcmp(argv[i - 1], "--threshold"))
			o.threshold = atof(v);
		else if (!strcmp(argv[i - 1], "--target-k"))
			o.target_k = (unsigned)atoi(v);
		else if (!strcmp(argv[i - 1], "--attach"))
			o.attach = atof(v);
		else if (!strcmp(argv[i - 1], "--word-share"))
			o.word_share = atof(v);
		else if (!strcmp(argv[i - 1], "--part-weight"))
			o.part_weight = atof(v);
		else if (!strcmp(argv[i - 1], "--refine"))
			o.refine = (unsigned)atoi(v);
		else if (!strcmp(argv[i - 1], "--syn-share"))
			o.syn_share = atof(v);
		else if (!strcmp(argv[i - 1], "--concept-share"))
			o.concept_share = atof(v);
		else if (!strcmp(argv[i - 1], "--syn-max"))
			o.syn_max = (unsigned)atoi(v);
		else if (!strcmp(argv[i - 1], "--neighbours"))
			o.neighbours = (unsigned)atoi(v);
		else if (!strcmp(argv[i - 1], "--second-order"))
			o.second_order = atof(v);
		else if (!strcmp(argv[i - 1], "--min-df"))
			o.min_df = atoi(v);
		else if (!strcmp(argv[i - 1], "--ngram"))
			sscanf(v, "%u-%u", &o.ngram_min, &o.ngram_max);
		else if (!strcmp(argv[i - 1], "--only"))
			only = v;
		else if (!strcmp(argv[i - 1], "--features")) {
			if (!strcmp(v, "words"))
				o.features = TEXTAN_F_WORDS;
			else if (!strcmp(v, "ngrams"))
				o.features = TEXTAN_F_NGRAMS;
			else if (!strcmp(v, "nostem"))
				o.features = TEXTAN_F_DEFAULT & ~(unsigned)TEXTAN_F_STEM;
			else if (!strcmp(v, "nocompounds"))
				o.features = TEXTAN_F_DEFAULT & ~(unsigned)TEXTAN_F_COMPOUNDS;
			else if (!strcmp(v, "nostop"))
				o.features = TEXTAN_F_DEFAULT & ~(unsigned)TEXTAN_F_STOP;
		} else {
			fprintf(stderr, "unknown option %s\n", argv[i - 1]);
			return 2;
		}
	}
	for (size_t k = 0; k < NSETS; k++) {
		struct fixture fx;
		double ari;
		struct cluster_result *r;

		if ((only && strcmp(only, sets[k])) || (k >= NSETS - NHELDOUT && !heldout))
			continue;
		if (load(k, &fx))
			return 1;
		ari = fixture_ari(&fx, &o);
		if (getenv("SWEEP")) { /* representation quality: mean over k = 5..14 */
			struct cluster_options ok = o;

			ari = 0;
			for (ok.target_k = 5; ok.target_k <= 14; ok.target_k++)
				ari += fixture_ari(&fx, &ok) / 10;
		}
		if (cluster_suggest(fx.in, fx.n, &o, &r) == 0) {
			printf("%-18s n=%3zu themes=%2zu ARI %.3f  (%zu clusters, %zu unclustered)\n",
			       sets[k], fx.n, fx.ntheme, ari, r->n_clusters, r->n_unclustered);
			if (getenv("SHOW"))
				for (size_t c = 0; c < r->n_clusters; c++) {
					printf("   [%s]\n", r->clusters[c].label);
					for (size_t m = 0; m < r->clusters[c].n_notes; m++)
						printf("      %-12s %s\n", fx.themes[fx.truth[r->clusters[c].notes[m]]],
						       fx.in[r->clusters[c].notes[m]].text);
				}
			cluster_result_free(r);
		}
		if (k < NSWEDISH)
			sum += ari, tuned++;
		fixture_free(&fx);
	}
	if (tuned)
		printf("mean of the Swedish tuning sets: %.3f\n", sum / tuned);
	textan_lexicon_free(lex);
	textan_thesaurus_free(th);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "time"))
		return bench_time(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "eval"))
		return bench_eval(argc, argv);
	fprintf(stderr, "usage: bench_cluster time [--notes N] [--reps R] [--concept-share X] | eval [options]\n");
	return 2;
}
