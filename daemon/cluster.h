/*
 * cluster.h: suggested clusters (themes) for a set of post-it texts.
 *
 * Responsible for: term weighting over the note set, similarity, average-
 * linkage agglomerative clustering with a threshold and/or a target number
 * of clusters, cannot-link pairs (suggestions the moderator rejected), and a
 * readable label per cluster. Not responsible for which notes are passed in
 * (the caller passes the unclustered ones), for storing rejections, nor for
 * text analysis itself (textan.c): text in, clusters out.
 *
 * Typical use by the daemon:
 *
 *     struct cluster_options o;
 *     struct cluster_result *r;
 *     cluster_options_init(&o);
 *     o.lexicon = lexicon_loaded_once_at_start_up;   (may be NULL)
 *     o.thesaurus = thesaurus_loaded_once_at_start_up; (may be NULL)
 *     o.concepts = concepts_loaded_once_at_start_up;   (NULL: built-in)
 *     o.cannot_link = rejected; o.n_cannot_link = n_rejected;
 *     if (cluster_suggest(notes, n, &o, &r) == 0) { ...; cluster_result_free(r); }
 */
#ifndef TV_CLUSTER_H
#define TV_CLUSTER_H

#include <stddef.h>

#include "textan.h"

struct concepts;

/* The most notes one call accepts: the similarity matrix is n * n floats
 * (64 MiB at this bound, 16 MiB at 2,000 notes). */
#define CLUSTER_MAX_NOTES 4096

struct cluster_input {
	const char *id;   /* unique; orders the notes, so results do not depend on input order */
	const char *text; /* UTF-8 */
};

/* Two notes (by id) that must not end up in one suggestion. */
struct cluster_link {
	const char *a, *b;
};

struct cluster_options {
	/* Merging stops when the best average similarity between two
	 * clusters falls below threshold (0..1). */
	double threshold;
	/* When non-zero, merging goes on (down to a similarity of 0) until
	 * there are target_k groups, singletons included; threshold is then
	 * ignored. */
	unsigned target_k;
	/* After merging, a note left alone joins the cluster it is most
	 * similar to on average when that similarity is >= attach (0 = off). */
	double attach;
	unsigned min_size;     /* smallest suggestion (default 2) */
	unsigned max_clusters; /* most suggestions returned, largest first (0 = all) */
	unsigned label_terms;  /* words in a label (default 3) */
	const struct cluster_link *cannot_link;
	size_t n_cannot_link;
	enum textan_lang lang; /* TEXTAN_AUTO: guessed from the texts */
	const struct textan_lexicon *lexicon; /* borrowed; NULL: no compound parts */
	/* Term features (TEXTAN_F_*), n-gram lengths, and the share of the
	 * similarity that comes from word terms rather than n-grams (0..1). */
	unsigned features, ngram_min, ngram_max;
	double word_share;
	double part_weight; /* term frequency a compound part counts as */
	int min_df;         /* ignore terms in fewer notes than this (default 2) */
	/* Synonyms: a thesaurus (borrowed; NULL: none), the share of the
	 * similarity that comes from words the thesaurus relates (taken from the
	 * n-grams' share; default 0: measured to lower agreement), and the most
	 * related words a word may have to count (0 = any). */
	const struct textan_thesaurus *thesaurus;
	double syn_share;
	unsigned syn_max;
	/* Concepts (concepts.h): each word and each of its compound parts
	 * add a term per concept they signal, once per word ("hyresrätter"
	 * and "studentboende" both signal housing): a fourth family with
	 * concept_share of the similarity (taken from the n-grams' share;
	 * 0 = off). concepts is borrowed; NULL: the lexicon
	 * built into tavla, parsed for the call (load it once with
	 * concepts_builtin() to save that). */
	const struct concepts *concepts;
	double concept_share;
	/* Mix of second-order similarity (over each note's `neighbours`
	 * nearest notes) into the cosine: 0 = off, 1 = second-order only. */
	unsigned neighbours;
	double second_order;
	/* Passes of refinement after merging: every note moves to the group
	 * it is most similar to on average (0 = off). */
	unsigned refine;
};

struct cluster {
	size_t *notes;    /* input indices, in id order */
	size_t n_notes;
	char *label;      /* e.g. "kollektivtrafik, buss, pendla"; never empty */
	double cohesion;  /* average similarity between its notes */
};

struct cluster_result {
	struct cluster *clusters; /* largest first, then by smallest id */
	size_t n_clusters;
	size_t *unclustered;      /* input indices not in any suggestion, in id order */
	size_t n_unclustered;
	enum textan_lang lang;    /* the language used */
};

/* Fills o with the defaults (the configuration the README's figures use). */
void cluster_options_init(struct cluster_options *o);

/*
 * Suggests clusters for n notes. Deterministic: the same notes (in any
 * order) and options give the same clusters, labels and order. Pairs of
 * cannot_link never share a cluster; links naming unknown ids are ignored.
 * On success *out is a new result the caller frees with
 * cluster_result_free(). Returns 0, -TV_E_TOO_LARGE (n > CLUSTER_MAX_NOTES),
 * -TV_E_BAD_REQUEST (NULL id or text), -TV_E_BAD_UTF8 or -TV_E_INTERNAL
 * (out of memory).
 */
int cluster_suggest(const struct cluster_input *in, size_t n,
		    const struct cluster_options *o, struct cluster_result **out);

void cluster_result_free(struct cluster_result *r);

/*
 * Adjusted Rand index (Hubert and Arabie) of two labellings of n items,
 * each a cluster number per item (any non-negative ints). 1 for identical
 * partitions, about 0 for chance agreement; 1 when both are trivial.
 */
double cluster_ari(const int *a, const int *b, size_t n);

/*
 * One cluster number per input index from a result (suggestions 0..k-1,
 * every unclustered note its own number), as cluster_ari() takes them.
 * labels has n entries.
 */
void cluster_result_labels(const struct cluster_result *r, size_t n, int *labels);

#endif
