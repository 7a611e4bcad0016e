/*
 * test_cluster.c: text analysis (daemon/textan.c) and clustering
 * suggestions (daemon/cluster.c) on their own.
 *
 * Checks the adjusted Rand index on hand-computed values, normalisation,
 * stop words, compound splitting (when hunspell-sv is installed), the
 * concept lexicon (its format, errors and matches), the language guess,
 * determinism under any input order, cannot-link pairs, readable labels,
 * errors, and the agreement with the human themes of every fixture in
 * tests/fixtures/clustering/ against a floor just below the measured
 * figure. It also prints the figure without concepts and the two baselines
 * (word-level TF-IDF and character n-grams within words, the same code with
 * features switched) so that README.md can show them. The held-out sets
 * are not scored here.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cluster.h"
#include "cluster_fixture.h"
#include "concepts.h"
#include "textan.h"
#include "tv_protocol.h"

#define FIXTURES TV_SOURCE_DIR "/tests/fixtures/clustering/"

static void test_ari_known_values(void **state)
{
	const int a[] = {0, 0, 0, 1, 1, 1};
	const int b[] = {0, 0, 1, 1, 2, 2};
	const int relabelled[] = {5, 5, 5, 2, 2, 2};
	const int x[] = {0, 0, 1, 1}, y[] = {0, 1, 0, 1};
	const int one[] = {0, 0, 0}, each[] = {0, 1, 2};

	(void)state;
	assert_true(fabs(cluster_ari(a, a, 6) - 1.0) < 1e-12);
	assert_true(fabs(cluster_ari(a, relabelled, 6) - 1.0) < 1e-12);
	/* (2 - 18/15) / (4.5 - 18/15) = 0.8 / 3.3 */
	assert_true(fabs(cluster_ari(a, b, 6) - 0.8 / 3.3) < 1e-12);
	assert_true(fabs(cluster_ari(b, a, 6) - 0.8 / 3.3) < 1e-12);
	/* (0 - 4/6) / (2 - 4/6) */
	assert_true(fabs(cluster_ari(x, y, 4) + 0.5) < 1e-12);
	assert_true(fabs(cluster_ari(one, one, 3) - 1.0) < 1e-12);
	assert_true(fabs(cluster_ari(one, each, 3)) < 1e-12);
}

static void test_normalise(void **state)
{
	char *out;

	(void)state;
	assert_int_equal(textan_normalise("ÅÄÖ Éa", strlen("ÅÄÖ Éa"), &out), 0);
	assert_string_equal(out, "åäö éa");
	free(out);
	/* NFKC: the ligature and the full-width letter become plain letters;
	 * a decomposed a + ring composes to å */
	assert_int_equal(textan_normalise("\xef\xac\x81n \xef\xbc\xa1 a\xcc\x8a", 12, &out), 0);
	assert_string_equal(out, "fin a å");
	free(out);
	assert_int_equal(textan_normalise("ok\xff", 3, &out), -TV_E_BAD_UTF8);
	assert_null(out);
}

static void test_stop_words(void **state)
{
	(void)state;
	/* first, middle and last entries: the tables must stay sorted */
	assert_true(textan_is_stop(TEXTAN_SV, "aldrig"));
	assert_true(textan_is_stop(TEXTAN_SV, "alla"));
	assert_true(textan_is_stop(TEXTAN_SV, "stället"));
	assert_true(textan_is_stop(TEXTAN_SV, "och"));
	assert_true(textan_is_stop(TEXTAN_SV, "både"));
	assert_true(textan_is_stop(TEXTAN_SV, "där"));
	assert_true(textan_is_stop(TEXTAN_SV, "då"));
	assert_true(textan_is_stop(TEXTAN_SV, "över"));
	assert_false(textan_is_stop(TEXTAN_SV, "kollektivtrafik"));
	assert_true(textan_is_stop(TEXTAN_EN, "a"));
	assert_true(textan_is_stop(TEXTAN_EN, "the"));
	assert_true(textan_is_stop(TEXTAN_EN, "your"));
	assert_false(textan_is_stop(TEXTAN_EN, "bus"));
}

static void expect_concepts(const struct concepts *c, const char *word, const char *want)
{
	uint16_t out[16];
	size_t m = concepts_match(c, word, out, 16);
	char got[256] = "";

	for (size_t k = 0; k < m && k < 16; k++) {
		if (k)
			strcat(got, " ");
		strcat(got, concepts_name(c, out[k]));
	}
	if (strcmp(got, want))
		print_message("%s: got \"%s\", want \"%s\"\n", word, got, want);
	assert_string_equal(got, want);
}

static void expect_parse_error(const char *text, const char *want)
{
	char err[128];

	assert_null(concepts_parse(text, strlen(text), err, sizeof err));
	assert_string_equal(err, want);
}

static void test_concepts(void **state)
{
	struct concepts *c = concepts_builtin(), *t;
	const char *text = "# a test lexicon\n[resor]\nresa *resor\n"
			   "[buss < resor]  # a comment\n  Buss* *HÅLLPLATS\n[bo]\nhus *boende\n";
	char err[128];

	(void)state;
	/* the compiled-in lexicon: 40-80 concepts of regional development */
	assert_non_null(c);
	assert_true(concepts_count(c) >= 40 && concepts_count(c) <= 80);
	assert_true(concepts_patterns(c) > 1000);
	expect_concepts(c, "hyresrätter", "bostad");
	expect_concepts(c, "lägenheten", "bostad");
	expect_concepts(c, "förstahandskontrakt", "bostad");
	expect_concepts(c, "busshållplatsen", "resor kollektivtrafik");
	expect_concepts(c, "vårdcentralen", "vard");
	expect_concepts(c, "kommunen", "offentlig-sektor");
	expect_concepts(c, "kommunikation", "kommunikation");
	expect_concepts(c, "knappt", "");
	expect_concepts(c, "", "");
	assert_int_equal(concepts_match(NULL, "hus", NULL, 0), 0);
	assert_null(concepts_name(c, concepts_count(c)));
	concepts_free(c);

	/* the format: exact words with an ending, prefixes, suffixes,
	 * parents; case and Unicode form normalised */
	t = concepts_parse(text, strlen(text), err, sizeof err);
	assert_non_null(t);
	assert_int_equal(concepts_count(t), 3);
	assert_int_equal(concepts_patterns(t), 6);
	expect_concepts(t, "resan", "resor");
	expect_concepts(t, "busskort", "resor buss");
	expect_concepts(t, "busshållplatserna", "resor buss");
	expect_concepts(t, "husen", "bo");
	expect_concepts(t, "hush", "");
	expect_concepts(t, "studentboendet", "bo");
	expect_concepts(t, "flygresor", "resor");
	concepts_free(t);

	expect_parse_error("hus\n", "line 1: pattern before any [concept]");
	expect_parse_error("[a]\n[b < c]\n", "line 2: the parent must be a concept defined above");
	expect_parse_error("[a]\n[a]\n", "line 2: concept defined twice");
	expect_parse_error("[a]\nab*\n", "line 2: a prefix, suffix or infix pattern needs 3 bytes or more");
	expect_parse_error("[a]\n\ne-post\n", "line 3: a pattern is letters and digits with '*' at either end");
	expect_parse_error("[a\n", "line 1: a concept header is [name] or [name < parent]");
	expect_parse_error("# nothing\n", "no concepts");
	assert_null(concepts_load("/nonexistent/concepts.txt", err, sizeof err));
	assert_string_equal(err, "cannot open the file");
}

static void test_guess_lang(void **state)
{
	const char *sv[] = {"Bussen går för sällan och det finns ingen cykelväg",
			    "Vi behöver fler mötesplatser för unga"};
	const char *en[] = {"The bus runs too rarely and there is no cycle path",
			    "We need more places for young people to meet"};

	(void)state;
	assert_int_equal(textan_guess_lang(sv, 2), TEXTAN_SV);
	assert_int_equal(textan_guess_lang(en, 2), TEXTAN_EN);
	assert_int_equal(textan_guess_lang(NULL, 0), TEXTAN_SV);
}

static void test_split(void **state)
{
	struct textan_lexicon *lex = textan_lexicon_load(TEXTAN_LEXICON_SV);
	char parts[4][TEXTAN_WORD_MAX];

	(void)state;
	assert_null(textan_lexicon_load("/nonexistent/sv_SE.dic"));
	assert_int_equal(textan_split(NULL, "erfarenhetsutbyte", parts, 4), 0);
	if (!lex) {
		print_message("hunspell-sv not installed: compound splitting not tested\n");
		return;
	}
	assert_true(textan_lexicon_size(lex) > 10000);
	assert_int_equal(textan_split(lex, "erfarenhetsutbyte", parts, 4), 2);
	assert_string_equal(parts[0], "erfarenhet");
	assert_string_equal(parts[1], "utbyte");
	assert_int_equal(textan_split(lex, "kompetensförsörjningen", parts, 4), 2);
	assert_string_equal(parts[0], "kompetens");
	assert_string_equal(parts[1], "försörjning");
	assert_int_equal(textan_split(lex, "buss", parts, 4), 0);
	textan_lexicon_free(lex);
}

struct syns {
	char terms[64][TEXTAN_WORD_MAX];
	size_t n;
};

static int collect_syns(void *arg, enum textan_kind kind, const char *term, const char *surface)
{
	struct syns *s = arg;

	(void)surface;
	if (kind == TEXTAN_SYN && s->n < 64)
		snprintf(s->terms[s->n++], TEXTAN_WORD_MAX, "%s", term);
	return 0;
}

static bool share_term(const struct syns *a, const struct syns *b)
{
	for (size_t i = 0; i < a->n; i++)
		for (size_t j = 0; j < b->n; j++)
			if (!strcmp(a->terms[i], b->terms[j]))
				return true;
	return false;
}

/* "jobb" and "arbete" share no n-gram of note but the thesaurus relates
 * them; an English analyser ignores the (Swedish) thesaurus. */
static void test_thesaurus(void **state)
{
	struct textan_thesaurus *th = textan_thesaurus_load(TEXTAN_THESAURUS_SV);
	struct textan *ta;
	struct syns a = {.n = 0}, b = {.n = 0}, c = {.n = 0};

	(void)state;
	assert_null(textan_thesaurus_load("/nonexistent/th_sv_SE_v2.dat"));
	if (!th) {
		print_message("mythes-sv not installed: synonyms not tested\n");
		return;
	}
	assert_true(textan_thesaurus_size(th) > 5000);
	ta = textan_new(TEXTAN_SV, TEXTAN_F_DEFAULT, NULL, 3, 5);
	assert_non_null(ta);
	textan_set_thesaurus(ta, th, 0);
	assert_int_equal(textan_terms(ta, "jobb", collect_syns, &a), 0);
	assert_int_equal(textan_terms(ta, "arbete", collect_syns, &b), 0);
	assert_int_equal(textan_terms(ta, "cykel", collect_syns, &c), 0);
	assert_true(a.n > 0 && b.n > 0);
	assert_true(share_term(&a, &b));
	assert_false(share_term(&a, &c));
	textan_free(ta);
	ta = textan_new(TEXTAN_EN, TEXTAN_F_DEFAULT, NULL, 3, 5);
	assert_non_null(ta);
	textan_set_thesaurus(ta, th, 0);
	a.n = 0;
	assert_int_equal(textan_terms(ta, "jobb", collect_syns, &a), 0);
	assert_int_equal(a.n, 0);
	textan_free(ta);
	textan_thesaurus_free(th);
}

static int count_terms(void *arg, enum textan_kind kind, const char *term, const char *surface)
{
	size_t *n = arg;

	assert_true(term[0] != '\0' && surface[0] != '\0');
	if (kind != TEXTAN_NGRAM)
		assert_null(strpbrk(term, "<>"));
	if (kind < 3)
		n[kind]++;
	return 0;
}

static void test_terms(void **state)
{
	struct textan *ta = textan_new(TEXTAN_SV, TEXTAN_F_DEFAULT, NULL, 3, 5);
	size_t n[3] = {0, 0, 0};

	(void)state;
	assert_non_null(ta);
	/* "och", "i" are stop words; "2050" is only digits */
	assert_int_equal(textan_terms(ta, "Kollegor och lärande i 2050", count_terms, n), 0);
	assert_int_equal(n[TEXTAN_WORD], 2);
	assert_true(n[TEXTAN_NGRAM] > 10);
	assert_int_equal(textan_terms(ta, "bad \xc3", count_terms, n), -TV_E_BAD_UTF8);
	textan_free(ta);
}

/* ---- suggestions on the fixtures ------------------------------------------ */

struct group {
	struct textan_lexicon *lex; /* NULL without hunspell-sv */
};

static int group_setup(void **state)
{
	struct group *g = calloc(1, sizeof *g);

	if (!g)
		return -1;
	g->lex = textan_lexicon_load(TEXTAN_LEXICON_SV);
	*state = g;
	return 0;
}

static int group_teardown(void **state)
{
	struct group *g = *state;

	textan_lexicon_free(g->lex);
	free(g);
	return 0;
}

static void load(const char *name, struct fixture *fx)
{
	char path[1024];

	snprintf(path, sizeof path, FIXTURES "%s", name);
	assert_int_equal(fixture_load(path, fx), 0);
	assert_true(fx->n >= 20);
}

/* Every cluster and unclustered note as "id id id|label" lines, by id. */
static char *describe(const struct cluster_input *in, const struct cluster_result *r)
{
	size_t cap = 1 << 16, len = 0;
	char *s = malloc(cap);

	assert_non_null(s);
	s[0] = '\0';
	for (size_t k = 0; k < r->n_clusters; k++) {
		for (size_t m = 0; m < r->clusters[k].n_notes; m++)
			len += (size_t)snprintf(s + len, cap - len, "%s ", in[r->clusters[k].notes[m]].id);
		len += (size_t)snprintf(s + len, cap - len, "|%s|%.6f\n", r->clusters[k].label,
					r->clusters[k].cohesion);
		assert_true(len < cap);
	}
	for (size_t m = 0; m < r->n_unclustered; m++)
		len += (size_t)snprintf(s + len, cap - len, "%s ", in[r->unclustered[m]].id);
	assert_true(len < cap);
	return s;
}

static void test_deterministic_any_order(void **state)
{
	struct group *g = *state;
	struct fixture fx;
	struct cluster_options o;
	struct cluster_result *r1, *r2, *r3;
	struct cluster_input *shuffled;
	char *d1, *d2, *d3;
	uint64_t seed = 7;

	load("ws_kompetens.tsv", &fx);
	cluster_options_init(&o);
	o.lexicon = g->lex;
	assert_int_equal(cluster_suggest(fx.in, fx.n, &o, &r1), 0);
	assert_int_equal(cluster_suggest(fx.in, fx.n, &o, &r2), 0);
	d1 = describe(fx.in, r1);
	d2 = describe(fx.in, r2);
	assert_string_equal(d1, d2);

	shuffled = malloc(fx.n * sizeof *shuffled);
	assert_non_null(shuffled);
	memcpy(shuffled, fx.in, fx.n * sizeof *shuffled);
	for (size_t i = fx.n - 1; i > 0; i--) {
		size_t j;
		struct cluster_input t;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		j = (size_t)(seed >> 33) % (i + 1);
		t = shuffled[i], shuffled[i] = shuffled[j], shuffled[j] = t;
	}
	assert_int_equal(cluster_suggest(shuffled, fx.n, &o, &r3), 0);
	/* descriptions use ids, so they compare across input orders */
	d3 = describe(shuffled, r3);
	assert_string_equal(d1, d3);
	assert_true(r1->n_clusters > 1);
	free(d1);
	free(d2);
	free(d3);
	free(shuffled);
	cluster_result_free(r1);
	cluster_result_free(r2);
	cluster_result_free(r3);
	fixture_free(&fx);
}

static size_t cluster_of(const struct cluster_result *r, size_t note)
{
	for (size_t k = 0; k < r->n_clusters; k++)
		for (size_t m = 0; m < r->clusters[k].n_notes; m++)
			if (r->clusters[k].notes[m] == note)
				return k;
	return SIZE_MAX;
}

/* A rejected suggestion becomes cannot-link pairs of all its notes; none
 * of those pairs may share a suggestion again, with or without attaching. */
static void test_cannot_link(void **state)
{
	struct group *g = *state;
	struct fixture fx;
	struct cluster_options o;
	struct cluster_result *r, *r2;
	struct cluster_link *links;
	size_t nl = 0, m;

	load("ws_larande.tsv", &fx);
	cluster_options_init(&o);
	o.lexicon = g->lex;
	assert_int_equal(cluster_suggest(fx.in, fx.n, &o, &r), 0);
	assert_true(r->n_clusters > 0 && r->clusters[0].n_notes >= 2);
	m = r->clusters[0].n_notes;
	links = calloc(m * m + 1, sizeof *links);
	assert_non_null(links);
	for (size_t i = 0; i < m; i++)
		for (size_t j = i + 1; j < m; j++)
			links[nl++] = (struct cluster_link){fx.in[r->clusters[0].notes[i]].id,
							    fx.in[r->clusters[0].notes[j]].id};
	links[nl++] = (struct cluster_link){"no-such-id", fx.in[0].id}; /* ignored */
	o.cannot_link = links;
	o.n_cannot_link = nl;
	for (int pass = 0; pass < 3; pass++) {
		o.attach = pass == 1 ? 0.01 : 0;
		o.target_k = pass == 2 ? 2 : 0;
		assert_int_equal(cluster_suggest(fx.in, fx.n, &o, &r2), 0);
		for (size_t i = 0; i < m; i++)
			for (size_t j = i + 1; j < m; j++) {
				size_t a = cluster_of(r2, r->clusters[0].notes[i]);
				size_t b = cluster_of(r2, r->clusters[0].notes[j]);

				assert_true(a == SIZE_MAX || a != b);
			}
		cluster_result_free(r2);
	}
	free(links);
	cluster_result_free(r);
	fixture_free(&fx);
}

static void test_labels_readable(void **state)
{
	struct group *g = *state;
	const char *sets[] = {"ws_kompetens.tsv", "ws_landsbygd.tsv", "en_mobility.tsv"};

	for (size_t s = 0; s < 3; s++) {
		struct fixture fx;
		struct cluster_options o;
		struct cluster_result *r;

		load(sets[s], &fx);
		cluster_options_init(&o);
		o.lexicon = g->lex;
		o.max_clusters = 4;
		assert_int_equal(cluster_suggest(fx.in, fx.n, &o, &r), 0);
		assert_true(r->n_clusters > 0 && r->n_clusters <= 4);
		for (size_t k = 0; k < r->n_clusters; k++) {
			const char *l = r->clusters[k].label;
			char *norm;

			assert_true(strlen(l) >= 2);
			assert_null(strpbrk(l, "<>"));
			assert_int_equal(textan_normalise(l, strlen(l), &norm), 0);
			free(norm);
			if (k)
				assert_true(r->clusters[k].n_notes <= r->clusters[k - 1].n_notes);
			print_message("  %s [%s] %zu notes: %s\n", sets[s], textan_lang_name(r->lang),
				      r->clusters[k].n_notes, l);
		}
		assert_int_equal(r->lang, s == 2 ? TEXTAN_EN : TEXTAN_SV);
		cluster_result_free(r);
		fixture_free(&fx);
	}
}

static void test_errors_and_edges(void **state)
{
	struct cluster_input in[3] = {{"a", "buss"}, {"b", NULL}, {"c", "tåg"}};
	struct cluster_input *many;
	struct cluster_result *r;
	struct cluster_options o;

	(void)state;
	assert_int_equal(cluster_suggest(in, 3, NULL, &r), -TV_E_BAD_REQUEST);
	assert_null(r);
	in[1].text = "bad \xff";
	assert_int_equal(cluster_suggest(in, 3, NULL, &r), -TV_E_BAD_UTF8);
	assert_int_equal(cluster_suggest(in, 0, NULL, &r), 0);
	assert_int_equal(r->n_clusters, 0);
	cluster_result_free(r);
	in[1].text = "";
	/* "buss" and "tåg" share no letters but both signal public transport */
	assert_int_equal(cluster_suggest(in, 3, NULL, &r), 0);
	assert_int_equal(r->n_clusters, 1);
	assert_int_equal(r->clusters[0].n_notes, 2);
	assert_int_equal(r->n_unclustered, 1);
	cluster_result_free(r);
	/* without concepts nothing joins them */
	cluster_options_init(&o);
	o.concept_share = 0;
	assert_int_equal(cluster_suggest(in, 3, &o, &r), 0);
	assert_int_equal(r->n_clusters, 0);
	assert_int_equal(r->n_unclustered, 3);
	cluster_result_free(r);
	many = calloc(CLUSTER_MAX_NOTES + 1, sizeof *many);
	assert_non_null(many);
	assert_int_equal(cluster_suggest(many, CLUSTER_MAX_NOTES + 1, NULL, &r), -TV_E_TOO_LARGE);
	free(many);
}

/* Measured ARI with the default options (README.md: concept lexicon on),
 * with and without the hunspell-sv word list; floors sit just below them. */
static const struct {
	const char *file;
	double with_lexicon, without;
} expect[] = {
	{"ws_kompetens.tsv", 0.325, 0.259},
	{"ws_landsbygd.tsv", 0.414, 0.290},
	{"ws_larande.tsv", 0.489, 0.403},
	{"ws_besok.tsv", 0.289, 0.294},
	{"ws_energi.tsv", 0.203, 0.187},
	{"ws_digital.tsv", 0.223, 0.210},
	{"en_mobility.tsv", 0.293, 0.293},
};
#define FLOOR_MARGIN 0.02

static void test_fixture_agreement(void **state)
{
	struct group *g = *state;

	print_message("  %-18s %8s %8s %8s %8s\n", "fixture", "default", "no-conc", "words",
		      "ngrams");
	for (size_t s = 0; s < sizeof expect / sizeof *expect; s++) {
		struct fixture fx;
		struct cluster_options o;
		double ari, plain, words, ngrams, want;

		load(expect[s].file, &fx);
		cluster_options_init(&o);
		o.lexicon = g->lex;
		ari = fixture_ari(&fx, &o);
		/* without the concept lexicon, and the baselines: the same
		 * pipeline with one feature family */
		o.concept_share = 0;
		plain = fixture_ari(&fx, &o);
		o.features = TEXTAN_F_WORDS;
		words = fixture_ari(&fx, &o);
		o.features = TEXTAN_F_NGRAMS;
		ngrams = fixture_ari(&fx, &o);
		print_message("  %-18s %8.3f %8.3f %8.3f %8.3f\n", expect[s].file, ari, plain, words,
			      ngrams);
		want = g->lex ? expect[s].with_lexicon : expect[s].without;
		assert_false(isnan(ari));
		assert_true(ari >= want - FLOOR_MARGIN);
		fixture_free(&fx);
	}
}

int main(void)
{
	const struct CMUnitTest plain[] = {
		cmocka_unit_test(test_ari_known_values),
		cmocka_unit_test(test_normalise),
		cmocka_unit_test(test_stop_words),
		cmocka_unit_test(test_guess_lang),
		cmocka_unit_test(test_concepts),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_thesaurus),
		cmocka_unit_test(test_terms),
		cmocka_unit_test(test_errors_and_edges),
	};
	const struct CMUnitTest fixtures[] = {
		cmocka_unit_test(test_deterministic_any_order),
		cmocka_unit_test(test_cannot_link),
		cmocka_unit_test(test_labels_readable),
		cmocka_unit_test(test_fixture_agreement),
	};
	int failed = cmocka_run_group_tests_name("textan", plain, NULL, NULL);

	failed += cmocka_run_group_tests_name("cluster", fixtures, group_setup, group_teardown);
	return failed;
}
