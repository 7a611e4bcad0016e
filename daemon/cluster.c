/*
 * cluster.c: suggested clusters for post-it texts (see cluster.h).
 *
 * One call runs: canonical order (by id) -> terms of every note (textan)
 * -> TF-IDF weights over the note set, word terms and n-gram terms each
 * L2-normalised and mixed by word_share -> cosine similarity of every pair
 * (sparse dot products through an inverted index) -> second-order
 * similarity over each note's nearest neighbours -> average-linkage
 * agglomeration (Lance-Williams updates in the n x n matrix, each row
 * caching its nearest neighbour) -> optional attachment of left-over notes
 * -> refinement: the note-level matrix again, and each note moved to the
 * group it is most similar to on average, until none moves -> labels from
 * the most heavily weighted word terms of each cluster. Thesaurus terms
 * form a third family beside words and n-grams, with its own share, and
 * concepts (concepts.c: which themes a word and its compound parts
 * signal) a fourth; a run looks each distinct word up once.
 *
 * Invariants:
 *  1. Every computation runs in canonical order (notes sorted by id, text,
 *     then input position) and breaks ties by the lower index, so the input
 *     order cannot change the result.
 *  2. sim[i][j] == sim[j][i]; for active clusters it is the average
 *     similarity of their notes, or FORBID when a cannot-link pair spans
 *     them. FORBID survives every merge, so no merge can join such a pair.
 *  3. nn[i] is an active cluster with the highest sim[i][.], lowest index
 *     first, for every active cluster i of more than one active cluster.
 */
#include "cluster.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "concepts.h"
#include "tv_protocol.h"

#define FORBID (-1e30f)

/* The share of the similarity that concepts carry by default. */
#define CONCEPT_SHARE_DEFAULT 0.3

/* Feature families, each L2-normalised on its own and given its share. */
enum { FAM_WORD, FAM_NGRAM, FAM_SYN, FAM_CONCEPT, NFAM };

/* The kind of a concept occurrence, beside textan's kinds. */
#define KIND_CONCEPT 15
/* The most concepts one word counts for. */
#define WORD_CONCEPTS 16

static int family_of(unsigned kind)
{
	return kind == TEXTAN_NGRAM  ? FAM_NGRAM
	       : kind == TEXTAN_SYN  ? FAM_SYN
	       : kind == KIND_CONCEPT ? FAM_CONCEPT
				      : FAM_WORD;
}

/* ---- string interning ---------------------------------------------------- */

struct strtab {
	char *arena;
	size_t len, cap;
	uint32_t *off;   /* per id: arena offset */
	uint32_t *slots; /* id + 1; 0 = empty */
	size_t nslots, count, idcap;
};

static uint32_t hash_str(const char *s, char kind)
{
	uint32_t h = 2166136261u ^ (unsigned char)kind;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static const char *strtab_str(const struct strtab *t, uint32_t id)
{
	return t->arena + t->off[id] + 1; /* skip the kind byte */
}

static int strtab_grow(struct strtab *t)
{
	size_t ns = t->nslots ? t->nslots * 2 : 1024;
	uint32_t *slots = calloc(ns, sizeof *slots);

	if (!slots)
		return -TV_E_INTERNAL;
	for (size_t id = 0; id < t->count; id++) {
		const char *e = t->arena + t->off[id];
		size_t j = hash_str(e + 1, e[0]) & (ns - 1);

		while (slots[j])
			j = (j + 1) & (ns - 1);
		slots[j] = (uint32_t)id + 1;
	}
	free(t->slots);
	t->slots = slots;
	t->nslots = ns;
	return 0;
}

/* Interns (kind, s); returns its id or -TV_E_INTERNAL. */
static int64_t strtab_id(struct strtab *t, char kind, const char *s)
{
	size_t sl = strlen(s), j;
	uint32_t h;

	if ((t->count + 1) * 2 > t->nslots && strtab_grow(t))
		return -TV_E_INTERNAL;
	h = hash_str(s, kind);
	for (j = h & (t->nslots - 1); t->slots[j]; j = (j + 1) & (t->nslots - 1)) {
		const char *e = t->arena + t->off[t->slots[j] - 1];

		if (e[0] == kind && strcmp(e + 1, s) == 0)
			return t->slots[j] - 1;
	}
	if (t->len + sl + 2 > t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 4096;
		char *na;

		while (nc < t->len + sl + 2)
			nc *= 2;
		if (nc > UINT32_MAX || !(na = realloc(t->arena, nc)))
			return -TV_E_INTERNAL;
		t->arena = na;
		t->cap = nc;
	}
	if (t->count == t->idcap) {
		size_t nc = t->idcap ? t->idcap * 2 : 1024;
		uint32_t *no = realloc(t->off, nc * sizeof *no);

		if (!no)
			return -TV_E_INTERNAL;
		t->off = no;
		t->idcap = nc;
	}
	t->arena[t->len] = kind;
	memcpy(t->arena + t->len + 1, s, sl + 1);
	t->off[t->count] = (uint32_t)t->len;
	t->len += sl + 2;
	t->slots[j] = (uint32_t)t->count + 1;
	return (int64_t)t->count++;
}

static void strtab_free(struct strtab *t)
{
	free(t->arena);
	free(t->off);
	free(t->slots);
}

/* ---- one run's state ------------------------------------------------------ */

struct occ { /* one term occurrence in one note */
	uint32_t feat, surf;
	uint8_t kind; /* enum textan_kind */
};

struct entry { /* one weighted feature of a note's vector */
	uint32_t feat;
	float w;
};

struct note {
	size_t input;      /* index in the caller's array */
	const char *id, *text; /* borrowed from the caller */
	struct occ *occ;
	size_t nocc, occcap;
	struct entry *vec; /* sorted by feat, L2 norm 1 (or empty) */
	size_t nvec;
};

struct run {
	const struct cluster_options *o;
	size_t n;
	struct note *notes; /* canonical order */
	struct strtab feats, surfs;
	uint32_t *df;       /* per feature: notes containing it */
	uint8_t *family;    /* per feature: FAM_* */
	float *sim;         /* n x n */
	struct note *cur;   /* while collecting terms */
	/* concepts: the lexicon (NULL: off), the one this run parsed, the
	 * concepts of each surface id once looked up (cc_off UINT32_MAX: not
	 * yet), and those of the current word */
	const struct concepts *concepts;
	struct concepts *owned;
	uint32_t *cc_off;
	uint8_t *cc_n;
	size_t cc_ids;
	uint16_t *cc_list;
	size_t cc_len, cc_cap;
	uint16_t word_cc[WORD_CONCEPTS];
	size_t nword_cc;
};

void cluster_options_init(struct cluster_options *o)
{
	memset(o, 0, sizeof *o);
	o->threshold = 0.10;
	o->attach = 0.0;
	o->min_size = 2;
	o->label_terms = 3;
	o->lang = TEXTAN_AUTO;
	o->features = TEXTAN_F_DEFAULT;
	o->ngram_min = 3;
	o->ngram_max = 6;
	o->word_share = 0.1;
	o->part_weight = 0.5;
	o->min_df = 2;
	o->neighbours = 8;
	o->second_order = 0.0;
	o->syn_share = 0.0;
	o->syn_max = 0;
	o->refine = 10;
	o->concepts = NULL;
	o->concept_share = CONCEPT_SHARE_DEFAULT;
}

static int add_occ(struct note *nt, int64_t f, int64_t s, unsigned kind)
{
	if (f < 0 || s < 0)
		return -TV_E_INTERNAL;
	if (nt->nocc == nt->occcap) {
		size_t nc = nt->occcap ? nt->occcap * 2 : 64;
		struct occ *no = realloc(nt->occ, nc * sizeof *no);

		if (!no)
			return -TV_E_INTERNAL;
		nt->occ = no;
		nt->occcap = nc;
	}
	nt->occ[nt->nocc++] = (struct occ){(uint32_t)f, (uint32_t)s, (uint8_t)kind};
	return 0;
}

/* The concepts of surface id surf (looked up once per run): sets *list
 * and returns their number, or -TV_E_INTERNAL. */
static int concepts_of(struct run *r, uint32_t surf, const uint16_t **list)
{
	uint16_t found[WORD_CONCEPTS];
	size_t m;

	if (surf >= r->cc_ids) {
		size_t nc = r->cc_ids ? r->cc_ids * 2 : 1024;
		uint32_t *no;
		uint8_t *nn;

		while (nc <= surf)
			nc *= 2;
		if (!(no = realloc(r->cc_off, nc * sizeof *no)))
			return -TV_E_INTERNAL;
		r->cc_off = no;
		if (!(nn = realloc(r->cc_n, nc)))
			return -TV_E_INTERNAL;
		r->cc_n = nn;
		for (size_t i = r->cc_ids; i < nc; i++)
			r->cc_off[i] = UINT32_MAX;
		r->cc_ids = nc;
	}
	if (r->cc_off[surf] == UINT32_MAX) {
		m = concepts_match(r->concepts, strtab_str(&r->surfs, surf), found, WORD_CONCEPTS);
		if (m > WORD_CONCEPTS)
			m = WORD_CONCEPTS;
		if (!r->cc_list || r->cc_len + m > r->cc_cap) {
			size_t nc = r->cc_cap ? r->cc_cap * 2 : 1024;
			uint16_t *nl = realloc(r->cc_list, nc * sizeof *nl);

			if (!nl)
				return -TV_E_INTERNAL;
			r->cc_list = nl;
			r->cc_cap = nc;
		}
		memcpy(r->cc_list + r->cc_len, found, m * sizeof *found);
		r->cc_off[surf] = (uint32_t)r->cc_len;
		r->cc_n[surf] = (uint8_t)m;
		r->cc_len += m;
	}
	*list = r->cc_list + r->cc_off[surf];
	return r->cc_n[surf];
}

/*
 * Concept terms of a word or compound part: a word's own concepts and
 * those of its parts, each concept once per word (textan emits a word's
 * parts right after the word). Parts count even when the whole word
 * matched: "skolskjuts" is school and travel. Looking at parts only when
 * the word matched nothing (so that "sjukhus" is not housing through
 * "hus") measured 0.01-0.02 lower.
 */
static int collect_concepts(struct run *r, enum textan_kind kind, uint32_t surf)
{
	const uint16_t *list;
	int m;

	if (kind == TEXTAN_WORD)
		r->nword_cc = 0;
	else if (kind != TEXTAN_PART)
		return 0;
	if ((m = concepts_of(r, surf, &list)) < 0)
		return m;
	for (int i = 0; i < m; i++) {
		bool dup = false;
		int rc;

		for (size_t k = 0; k < r->nword_cc; k++)
			dup |= r->word_cc[k] == list[i];
		if (dup || r->nword_cc == WORD_CONCEPTS)
			continue;
		r->word_cc[r->nword_cc++] = list[i];
		rc = add_occ(r->cur, strtab_id(&r->feats, 'c', concepts_name(r->concepts, list[i])),
			     surf, KIND_CONCEPT);
		if (rc)
			return rc;
	}
	return 0;
}

static int collect(void *arg, enum textan_kind kind, const char *term, const char *surface)
{
	struct run *r = arg;
	int64_t f = strtab_id(&r->feats, "wgy"[family_of(kind)], term);
	int64_t s = strtab_id(&r->surfs, 's', surface);
	int rc = add_occ(r->cur, f, s, kind);

	if (!rc && r->concepts && kind != TEXTAN_NGRAM && kind != TEXTAN_SYN)
		rc = collect_concepts(r, kind, (uint32_t)s);
	return rc;
}

static int cmp_occ_feat(const void *a, const void *b)
{
	const struct occ *x = a, *y = b;

	if (x->feat != y->feat)
		return x->feat < y->feat ? -1 : 1;
	if (x->surf != y->surf)
		return x->surf < y->surf ? -1 : 1;
	return (int)x->kind - (int)y->kind;
}

/* Analyses every note: occurrences sorted by feature, document frequencies. */
static int analyse(struct run *r, enum textan_lang lang)
{
	struct textan *ta = textan_new(lang, r->o->features, r->o->lexicon,
				       r->o->ngram_min, r->o->ngram_max);
	int rc = 0;

	if (!ta)
		return -TV_E_INTERNAL;
	if (r->o->syn_share > 0)
		textan_set_thesaurus(ta, r->o->thesaurus, r->o->syn_max);
	for (size_t i = 0; i < r->n && !rc; i++) {
		r->cur = &r->notes[i];
		rc = textan_terms(ta, r->notes[i].text, collect, r);
		if (!rc && r->cur->nocc)
			qsort(r->cur->occ, r->cur->nocc, sizeof *r->cur->occ, cmp_occ_feat);
	}
	textan_free(ta);
	if (rc)
		return rc;
	r->df = calloc(r->feats.count + 1, sizeof *r->df);
	r->family = calloc(r->feats.count + 1, 1);
	if (!r->df || !r->family)
		return -TV_E_INTERNAL;
	for (size_t i = 0; i < r->n; i++) {
		const struct note *nt = &r->notes[i];

		for (size_t k = 0; k < nt->nocc; k++) {
			if (k == 0 || nt->occ[k].feat != nt->occ[k - 1].feat)
				r->df[nt->occ[k].feat]++;
			r->family[nt->occ[k].feat] = (uint8_t)family_of(nt->occ[k].kind);
		}
	}
	return 0;
}

/* TF-IDF per family, each family L2-normalised and scaled by its share. */
static int weigh(struct run *r)
{
	double cshare = r->concepts ? r->o->concept_share : 0;
	double share[NFAM] = {r->o->word_share,
			      1.0 - r->o->word_share - r->o->syn_share - cshare,
			      r->o->syn_share, cshare};
	size_t min_df = r->o->min_df > 0 ? (size_t)r->o->min_df : 1;

	if (share[FAM_NGRAM] < 0)
		share[FAM_NGRAM] = 0;
	for (size_t i = 0; i < r->n; i++) {
		struct note *nt = &r->notes[i];
		double norm[NFAM] = {0, 0, 0, 0}, total = 0;
		size_t k = 0;

		nt->vec = malloc((nt->nocc ? nt->nocc : 1) * sizeof *nt->vec);
		if (!nt->vec)
			return -TV_E_INTERNAL;
		while (k < nt->nocc) {
			uint32_t f = nt->occ[k].feat;
			double tf = 0, w;

			for (; k < nt->nocc && nt->occ[k].feat == f; k++) {
				const struct occ *oc = &nt->occ[k];

				if (oc->kind == TEXTAN_PART)
					tf += r->o->part_weight;
				else
					tf += 1.0;
			}
			if (r->df[f] < min_df || tf <= 0)
				continue;
			/* sublinear above one occurrence; a compound part's
			 * fraction stays a fraction (1 + log would drop it) */
			w = (tf <= 1 ? tf : 1.0 + log(tf)) * log((double)(r->n + 1) / r->df[f]);
			if (w <= 0)
				continue;
			nt->vec[nt->nvec++] = (struct entry){f, (float)w};
			norm[r->family[f]] += w * w;
		}
		for (int fam = 0; fam < NFAM; fam++)
			norm[fam] = norm[fam] > 0 && share[fam] > 0 ? sqrt(share[fam]) / sqrt(norm[fam]) : 0;
		for (size_t e = 0; e < nt->nvec; e++) {
			nt->vec[e].w *= (float)norm[r->family[nt->vec[e].feat]];
			total += (double)nt->vec[e].w * nt->vec[e].w;
		}
		/* a note with terms of one family only is still a unit vector */
		total = total > 0 ? 1.0 / sqrt(total) : 0;
		for (size_t e = 0; e < nt->nvec; e++)
			nt->vec[e].w *= (float)total;
	}
	return 0;
}

/* Cosine similarities of all pairs through per-feature postings. */
static int similarities(struct run *r)
{
	size_t n = r->n, nf = r->feats.count, total = 0;
	size_t *start = calloc(nf + 1, sizeof *start);
	struct posting { uint32_t note; float w; } *post = NULL;
	size_t *fill = NULL;
	int rc = -TV_E_INTERNAL;

	r->sim = calloc(n ? n * n : 1, sizeof *r->sim);
	if (!start || !r->sim)
		goto out;
	for (size_t i = 0; i < n; i++)
		for (size_t e = 0; e < r->notes[i].nvec; e++)
			start[r->notes[i].vec[e].feat + 1]++, total++;
	for (size_t f = 0; f < nf; f++)
		start[f + 1] += start[f];
	post = malloc((total ? total : 1) * sizeof *post);
	fill = malloc((nf ? nf : 1) * sizeof *fill);
	if (!post || !fill)
		goto out;
	memcpy(fill, start, nf * sizeof *fill);
	for (size_t i = 0; i < n; i++)
		for (size_t e = 0; e < r->notes[i].nvec; e++) {
			const struct entry *en = &r->notes[i].vec[e];

			post[fill[en->feat]++] = (struct posting){(uint32_t)i, en->w};
		}
	/* Postings are in note order: for note i walk each list backwards
	 * from its end down to i, adding into row i. */
	for (size_t i = 0; i < n; i++) {
		float *row = r->sim + i * n;

		for (size_t e = 0; e < r->notes[i].nvec; e++) {
			const struct entry *en = &r->notes[i].vec[e];

			for (size_t p = start[en->feat + 1]; p-- > start[en->feat];) {
				if (post[p].note <= i)
					break;
				row[post[p].note] += en->w * post[p].w;
			}
		}
		for (size_t j = i + 1; j < n; j++)
			r->sim[j * n + i] = row[j];
		row[i] = 0;
	}
	rc = 0;
out:
	free(start);
	free(post);
	free(fill);
	return rc;
}

/*
 * Second-order similarity: each note is also described by its k nearest
 * neighbours (weighted by similarity, itself included with weight 1), and
 * sim becomes (1 - beta) * sim + beta * cosine of those descriptions. Two
 * short notes that share no term but share neighbours ("ambulansen" and
 * "vårdcentralen" both near notes on care) then become similar.
 */
static int second_order(struct run *r)
{
	size_t n = r->n, k = r->o->neighbours;
	double beta = r->o->second_order;
	struct nb { uint32_t idx; float w; } *nbr = NULL, *post = NULL;
	size_t *cnt = NULL, *start = NULL, *fill = NULL;
	float *acc = NULL;
	int rc = -TV_E_INTERNAL;

	if (!k || beta <= 0 || n < 3)
		return 0;
	if (k > n - 1)
		k = n - 1;
	nbr = malloc(n * (k + 1) * sizeof *nbr);
	cnt = calloc(n, sizeof *cnt);
	start = calloc(n + 1, sizeof *start);
	fill = malloc(n * sizeof *fill);
	acc = malloc(n * sizeof *acc);
	post = malloc(n * (k + 1) * sizeof *post);
	if (!nbr || !cnt || !start || !fill || !acc || !post)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct nb *row = nbr + i * (k + 1);
		const float *s = r->sim + i * n;
		size_t m = 0;
		double norm = 1;

		row[m++] = (struct nb){(uint32_t)i, 1.0f};
		for (size_t j = 0; j < n; j++) { /* top k, ties to the lower index */
			size_t pos;

			if (j == i || s[j] <= 0 || (m == k + 1 && s[j] <= row[k].w))
				continue;
			if (m < k + 1)
				m++;
			for (pos = m - 1; pos > 1 && row[pos - 1].w < s[j]; pos--)
				row[pos] = row[pos - 1];
			row[pos] = (struct nb){(uint32_t)j, s[j]};
		}
		for (size_t e = 1; e < m; e++)
			norm += (double)row[e].w * row[e].w;
		norm = 1.0 / sqrt(norm);
		for (size_t e = 0; e < m; e++) {
			row[e].w *= (float)norm;
			start[row[e].idx + 1]++;
		}
		cnt[i] = m;
	}
	for (size_t i = 0; i < n; i++)
		start[i + 1] += start[i];
	memcpy(fill, start, n * sizeof *fill);
	for (size_t i = 0; i < n; i++)
		for (size_t e = 0; e < cnt[i]; e++) {
			const struct nb *x = &nbr[i * (k + 1) + e];

			post[fill[x->idx]++] = (struct nb){(uint32_t)i, x->w};
		}
	for (size_t i = 0; i < n; i++) {
		float *s = r->sim + i * n;

		memset(acc, 0, n * sizeof *acc);
		for (size_t e = 0; e < cnt[i]; e++) {
			const struct nb *x = &nbr[i * (k + 1) + e];

			for (size_t p = start[x->idx]; p < start[x->idx + 1]; p++)
				acc[post[p].idx] += x->w * post[p].w;
		}
		for (size_t j = 0; j < n; j++)
			if (j != i)
				s[j] = (float)((1.0 - beta) * s[j] + beta * acc[j]);
	}
	rc = 0;
out:
	free(nbr);
	free(cnt);
	free(start);
	free(fill);
	free(acc);
	free(post);
	return rc;
}

/* ---- agglomeration --------------------------------------------------------- */

struct agg {
	size_t n;
	float *sim;
	size_t *size, *nn, *next, *tail; /* members: linked from each head */
	float *nnsim;
	double *within; /* sum of similarities of pairs inside a cluster */
	unsigned char *active;
	size_t nactive;
};

static void agg_nn(struct agg *g, size_t i)
{
	const float *row = g->sim + i * g->n;
	size_t best = SIZE_MAX;
	float bs = FORBID;

	for (size_t j = 0; j < g->n; j++)
		if (j != i && g->active[j] && (best == SIZE_MAX || row[j] > bs))
			best = j, bs = row[j];
	g->nn[i] = best;
	g->nnsim[i] = bs;
}

static float lw_average(float a, float b, size_t na, size_t nb)
{
	if (a <= FORBID || b <= FORBID)
		return FORBID;
	return (float)(((double)a * na + (double)b * nb) / (double)(na + nb));
}

/* Merges cluster b into a (a < b), both active. */
static void agg_merge(struct agg *g, size_t a, size_t b)
{
	size_t n = g->n;

	g->within[a] += g->within[b] + (double)g->sim[a * n + b] * g->size[a] * g->size[b];
	for (size_t k = 0; k < n; k++) {
		float s;

		if (!g->active[k] || k == a || k == b)
			continue;
		s = lw_average(g->sim[a * n + k], g->sim[b * n + k], g->size[a], g->size[b]);
		g->sim[a * n + k] = g->sim[k * n + a] = s;
	}
	g->size[a] += g->size[b];
	g->next[g->tail[a]] = b;
	g->tail[a] = g->tail[b];
	g->active[b] = 0;
	g->nactive--;
	agg_nn(g, a);
	for (size_t k = 0; k < n; k++) {
		float s;

		if (!g->active[k] || k == a)
			continue;
		s = g->sim[k * n + a];
		if (g->nn[k] == a || g->nn[k] == b)
			agg_nn(g, k);
		else if (s > g->nnsim[k] || (s == g->nnsim[k] && a < g->nn[k]))
			g->nn[k] = a, g->nnsim[k] = s;
	}
}

static void agg_run(struct agg *g, const struct cluster_options *o)
{
	for (size_t i = 0; i < g->n; i++)
		agg_nn(g, i);
	while (g->nactive > 1) {
		size_t best = SIZE_MAX;

		for (size_t i = 0; i < g->n; i++)
			if (g->active[i] && (best == SIZE_MAX || g->nnsim[i] > g->nnsim[best]))
				best = i;
		if (g->nnsim[best] <= 0)
			break;
		if (o->target_k ? g->nactive <= o->target_k : g->nnsim[best] < o->threshold)
			break;
		if (best < g->nn[best])
			agg_merge(g, best, g->nn[best]);
		else
			agg_merge(g, g->nn[best], best);
	}
}

static int cmp_size(const void *a, const void *b)
{
	const size_t *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* ---- labels ---------------------------------------------------------------- */

struct cand {
	uint32_t key, surf;
	double score;
	unsigned votes; /* 2 for a whole word, 1 for a compound part */
};

static int cmp_cand_key(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->surf < y->surf ? -1 : x->surf > y->surf;
}

static float note_weight(const struct note *nt, uint32_t feat)
{
	size_t lo = 0, hi = nt->nvec;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (nt->vec[mid].feat < feat)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < nt->nvec && nt->vec[lo].feat == feat ? nt->vec[lo].w : 0;
}

struct term {
	uint32_t surf;
	double score;
	size_t notes, uses; /* notes with the term; votes for this surface form */
};

static int better_term(const struct term *x, const struct term *y, const struct strtab *surfs)
{
	if (x->score != y->score)
		return x->score > y->score;
	return strcmp(strtab_str(surfs, x->surf), strtab_str(surfs, y->surf)) < 0;
}

/*
 * Label of the notes members[0..m): the word terms with the highest summed
 * weight, preferring terms shared by two or more notes, each shown as its
 * most frequent surface form in the cluster. Returns a new string or NULL.
 */
static char *make_label(struct run *r, const size_t *members, size_t m)
{
	size_t nc = 0, cap = 0, nterm = 0, want = r->o->label_terms ? r->o->label_terms : 3;
	struct cand *c = NULL;
	struct term *terms = NULL, *pick;
	char *label = NULL;
	size_t len = 0, npick = 0;

	for (size_t i = 0; i < m; i++)
		cap += r->notes[members[i]].nocc;
	c = malloc((cap ? cap : 1) * sizeof *c);
	terms = malloc((cap ? cap : 1) * sizeof *terms);
	pick = calloc(want, sizeof *pick);
	if (!c || !terms || !pick)
		goto out;
	/* candidates: (word feature, surface) per note, or, when the word
	 * family is off, the surface words themselves */
	for (size_t i = 0; i < m; i++) {
		const struct note *nt = &r->notes[members[i]];

		for (size_t k = 0; k < nt->nocc; k++) {
			const struct occ *oc = &nt->occ[k];
			bool words = (r->o->features & TEXTAN_F_WORDS) != 0;

			if (oc->kind == TEXTAN_SYN || oc->kind == KIND_CONCEPT ||
			    (words ? oc->kind == TEXTAN_NGRAM : oc->kind != TEXTAN_NGRAM))
				continue;
			if (k && oc->feat == nt->occ[k - 1].feat && oc->surf == nt->occ[k - 1].surf)
				continue;
			c[nc++] = (struct cand){words ? oc->feat : oc->surf, oc->surf,
						words ? note_weight(nt, oc->feat) + 1e-6 : 1.0,
						oc->kind == TEXTAN_PART ? 1u : 2u};
		}
	}
	qsort(c, nc, sizeof *c, cmp_cand_key);
	for (size_t i = 0; i < nc;) {
		struct term t = {c[i].surf, 0, 0, 0};
		size_t j = i;

		while (j < nc && c[j].key == c[i].key) {
			size_t k = j, uses = 0;

			/* a surface seen as a whole word beats a compound part */
			while (k < nc && c[k].key == c[i].key && c[k].surf == c[j].surf)
				uses += c[k].votes, t.notes++, t.score += c[k].score, k++;
			if (uses > t.uses ||
			    (uses == t.uses && strlen(strtab_str(&r->surfs, c[j].surf)) <
						       strlen(strtab_str(&r->surfs, t.surf))))
				t.uses = uses, t.surf = c[j].surf;
			j = k;
		}
		if (t.notes < 2 && m > 1)
			t.score *= 0.01; /* a term of one note says little of the cluster */
		terms[nterm++] = t;
		i = j;
	}
	for (size_t i = 0; i < nterm; i++) {
		size_t pos = npick;
		bool dup = false;

		for (size_t k = 0; k < npick; k++)
			dup |= pick[k].surf == terms[i].surf;
		if (dup)
			continue;
		while (pos > 0 && better_term(&terms[i], &pick[pos - 1], &r->surfs))
			pos--;
		if (pos >= want)
			continue;
		if (npick < want)
			npick++;
		memmove(pick + pos + 1, pick + pos, (npick - 1 - pos) * sizeof *pick);
		pick[pos] = terms[i];
	}
	for (size_t k = 0; k < npick; k++)
		len += strlen(strtab_str(&r->surfs, pick[k].surf)) + 2;
	label = malloc(len + 2);
	if (!label)
		goto out;
	label[0] = '\0';
	for (size_t k = 0; k < npick; k++) {
		if (k)
			strcat(label, ", ");
		strcat(label, strtab_str(&r->surfs, pick[k].surf));
	}
	if (!label[0]) /* notes without words: still a readable name */
		strcpy(label, "?");
out:
	free(c);
	free(terms);
	free(pick);
	return label;
}

/* ---- the public calls ------------------------------------------------------ */

static int cmp_canon(const void *a, const void *b)
{
	const struct note *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	if (!c)
		c = strcmp(x->text, y->text);
	if (!c)
		c = x->input < y->input ? -1 : x->input > y->input;
	return c;
}

/* Canonical index of a note id, or SIZE_MAX (ids are sorted in r->notes). */
static size_t find_id(const struct run *r, const char *id)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (strcmp(r->notes[mid].id, id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < r->n && strcmp(r->notes[lo].id, id) == 0 ? lo : SIZE_MAX;
}

static void run_free(struct run *r)
{
	for (size_t i = 0; r->notes && i < r->n; i++) {
		free(r->notes[i].occ);
		free(r->notes[i].vec);
	}
	free(r->notes);
	strtab_free(&r->feats);
	strtab_free(&r->surfs);
	free(r->df);
	free(r->family);
	free(r->sim);
	free(r->cc_off);
	free(r->cc_n);
	free(r->cc_list);
	concepts_free(r->owned);
}

static void agg_free(struct agg *g)
{
	free(g->size);
	free(g->nn);
	free(g->next);
	free(g->tail);
	free(g->nnsim);
	free(g->within);
	free(g->active);
}

/*
 * Joins each note left alone to the cluster it is most similar to, when
 * that average similarity reaches o->attach and no cannot-link pair with
 * the notes already there forbids it.
 */
static void attach_singletons(struct agg *g, const struct cluster_options *o,
			      const size_t (*links)[2], size_t nlinks, size_t *head_of)
{
	size_t n = g->n;

	for (size_t s = 0; s < n; s++) {
		size_t best = SIZE_MAX;

		if (!g->active[s] || g->size[s] != 1)
			continue;
		for (size_t c = 0; c < n; c++) {
			if (!g->active[c] || c == s || g->size[c] < (o->min_size ? o->min_size : 2))
				continue;
			if (best == SIZE_MAX || g->sim[s * n + c] > g->sim[s * n + best])
				best = c;
		}
		if (best == SIZE_MAX || g->sim[s * n + best] < o->attach)
			continue;
		for (size_t l = 0; l < nlinks; l++) {
			size_t other = links[l][0] == s ? links[l][1] : links[l][1] == s ? links[l][0] : SIZE_MAX;

			if (other != SIZE_MAX && head_of[other] == best)
				best = SIZE_MAX;
			if (best == SIZE_MAX)
				break;
		}
		if (best != SIZE_MAX)
			head_of[s] = best;
	}
}

/*
 * Refinement after merging: each note in turn, in canonical order, moves to
 * the group whose notes it is most similar to on average (sim is the
 * note-level matrix, cannot-link pairs FORBID, so no move can join such a
 * pair); a note alone moves when that average is above zero. Moves take
 * effect at once, passes repeat until none moves or `passes` ran. Like
 * k-means, this mends notes that an early merge put in the wrong group,
 * which average linkage can never undo. head_of is updated, each group's
 * head being its member of lowest index. Returns 0 or -TV_E_INTERNAL.
 */
static int refine(const float *sim, size_t n, size_t *head_of, unsigned passes)
{
	double *acc = malloc((n ? n : 1) * sizeof *acc);
	size_t *size = calloc(n ? n : 1, sizeof *size);

	if (!acc || !size) {
		free(acc);
		free(size);
		return -TV_E_INTERNAL;
	}
	for (size_t i = 0; i < n; i++)
		size[head_of[i]]++;
	for (unsigned p = 0; p < passes; p++) {
		size_t moves = 0;

		for (size_t i = 0; i < n; i++) {
			const float *row = sim + i * n;
			size_t cur = head_of[i], best = cur;
			double bestv;

			memset(acc, 0, n * sizeof *acc);
			for (size_t j = 0; j < n; j++)
				if (j != i)
					acc[head_of[j]] += row[j];
			bestv = size[cur] > 1 ? acc[cur] / (double)(size[cur] - 1) : 0;
			for (size_t h = 0; h < n; h++) {
				double v;

				if (h == cur || !size[h])
					continue;
				v = acc[h] / (double)size[h];
				if (v > bestv + 1e-9)
					best = h, bestv = v;
			}
			if (best != cur) {
				size[cur]--, size[best]++;
				head_of[i] = best;
				moves++;
			}
		}
		if (!moves)
			break;
	}
	/* the head of a group is again its member of lowest index */
	for (size_t h = 0; h < n; h++)
		size[h] = SIZE_MAX;
	for (size_t i = 0; i < n; i++) {
		if (size[head_of[i]] == SIZE_MAX)
			size[head_of[i]] = i;
		head_of[i] = size[head_of[i]];
	}
	free(acc);
	free(size);
	return 0;
}

int cluster_suggest(const struct cluster_input *in, size_t n,
		    const struct cluster_options *opt, struct cluster_result **out)
{
	struct cluster_options defaults;
	const struct cluster_options *o = opt;
	struct run r;
	struct agg g;
	struct cluster_result *res = NULL;
	size_t (*links)[2] = NULL, nlinks = 0, *head_of = NULL, *order = NULL;
	enum textan_lang lang;
	int rc;

	*out = NULL;
	if (n > CLUSTER_MAX_NOTES)
		return -TV_E_TOO_LARGE;
	for (size_t i = 0; i < n; i++)
		if (!in[i].id || !in[i].text)
			return -TV_E_BAD_REQUEST;
	if (!o) {
		cluster_options_init(&defaults);
		o = &defaults;
	}
	memset(&r, 0, sizeof r);
	memset(&g, 0, sizeof g);
	r.o = o;
	r.n = n;
	rc = -TV_E_INTERNAL;
	r.notes = calloc(n ? n : 1, sizeof *r.notes);
	res = calloc(1, sizeof *res);
	if (!r.notes || !res)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		r.notes[i].input = i;
		r.notes[i].id = in[i].id;
		r.notes[i].text = in[i].text;
	}
	qsort(r.notes, n, sizeof *r.notes, cmp_canon);

	lang = o->lang;
	if (lang == TEXTAN_AUTO) {
		const char **texts = malloc((n ? n : 1) * sizeof *texts);

		if (!texts)
			goto fail;
		for (size_t i = 0; i < n; i++)
			texts[i] = r.notes[i].text;
		lang = textan_guess_lang(texts, n);
		free(texts);
	}
	res->lang = lang;
	if (o->concept_share > 0) {
		r.concepts = o->concepts;
		if (!r.concepts && !(r.concepts = r.owned = concepts_builtin()))
			goto fail;
	}
	if ((rc = analyse(&r, lang)) || (rc = weigh(&r)) || (rc = similarities(&r)) ||
	    (rc = second_order(&r)))
		goto fail;
	rc = -TV_E_INTERNAL;

	/* cannot-link pairs become FORBID in the matrix */
	links = malloc((o->n_cannot_link ? o->n_cannot_link : 1) * sizeof *links);
	if (!links)
		goto fail;
	for (size_t l = 0; l < o->n_cannot_link; l++) {
		size_t a, b;

		if (!o->cannot_link[l].a || !o->cannot_link[l].b)
			continue;
		a = find_id(&r, o->cannot_link[l].a);
		b = find_id(&r, o->cannot_link[l].b);
		if (a == SIZE_MAX || b == SIZE_MAX || a == b)
			continue;
		r.sim[a * n + b] = r.sim[b * n + a] = FORBID;
		links[nlinks][0] = a;
		links[nlinks++][1] = b;
	}

	g.n = n;
	g.sim = r.sim;
	g.size = malloc((n ? n : 1) * sizeof *g.size);
	g.nn = malloc((n ? n : 1) * sizeof *g.nn);
	g.next = malloc((n ? n : 1) * sizeof *g.next);
	g.tail = malloc((n ? n : 1) * sizeof *g.tail);
	g.nnsim = malloc((n ? n : 1) * sizeof *g.nnsim);
	g.within = calloc(n ? n : 1, sizeof *g.within);
	g.active = malloc(n ? n : 1);
	head_of = malloc((n ? n : 1) * sizeof *head_of);
	order = malloc((n ? n : 1) * 2 * sizeof *order);
	if (!g.size || !g.nn || !g.next || !g.tail || !g.nnsim || !g.within || !g.active ||
	    !head_of || !order)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		g.size[i] = 1;
		g.next[i] = SIZE_MAX;
		g.tail[i] = i;
		g.active[i] = 1;
	}
	g.nactive = n;
	agg_run(&g, o);
	for (size_t i = 0; i < n; i++)
		if (g.active[i])
			for (size_t k = i; k != SIZE_MAX; k = g.next[k])
				head_of[k] = i;
	if (o->attach > 0)
		attach_singletons(&g, o, (const size_t(*)[2])links, nlinks, head_of);
	if (o->refine) {
		/* merging overwrote the matrix with cluster averages */
		free(r.sim);
		r.sim = g.sim = NULL;
		if ((rc = similarities(&r)) || (rc = second_order(&r)))
			goto fail;
		g.sim = r.sim;
		for (size_t l = 0; l < nlinks; l++)
			r.sim[links[l][0] * n + links[l][1]] = r.sim[links[l][1] * n + links[l][0]] = FORBID;
		if ((rc = refine(r.sim, n, head_of, o->refine)))
			goto fail;
		rc = -TV_E_INTERNAL;
	}

	/* clusters: heads with enough members, largest first, then by head
	 * (the head is the member of lowest canonical index) */
	{
		size_t *count = calloc(n ? n : 1, sizeof *count), nheads = 0, min = o->min_size ? o->min_size : 2;
		size_t nun = 0;

		if (!count)
			goto fail;
		for (size_t i = 0; i < n; i++)
			count[head_of[i]]++;
		for (size_t h = 0; h < n; h++)
			if (count[h] >= min) {
				order[2 * nheads] = n - count[h]; /* sorts largest first */
				order[2 * nheads + 1] = h;
				nheads++;
			}
		qsort(order, nheads, 2 * sizeof *order, cmp_size);
		for (size_t k = 0; k + 1 < nheads; k++) /* equal sizes: by head */
			for (size_t j = k + 1; j < nheads && order[2 * j] == order[2 * k]; j++)
				if (order[2 * j + 1] < order[2 * k + 1]) {
					size_t t = order[2 * j + 1];

					order[2 * j + 1] = order[2 * k + 1];
					order[2 * k + 1] = t;
				}
		if (o->max_clusters && nheads > o->max_clusters)
			nheads = o->max_clusters;
		res->clusters = calloc(nheads ? nheads : 1, sizeof *res->clusters);
		res->unclustered = malloc((n ? n : 1) * sizeof *res->unclustered);
		if (!res->clusters || !res->unclustered) {
			free(count);
			goto fail;
		}
		for (size_t k = 0; k < nheads; k++) {
			size_t h = order[2 * k + 1], m = 0;
			struct cluster *c = &res->clusters[k];
			size_t *canon = malloc(count[h] * sizeof *canon);

			c->notes = malloc(count[h] * sizeof *c->notes);
			res->n_clusters++;
			if (!c->notes || !canon) {
				free(canon);
				free(count);
				goto fail;
			}
			for (size_t i = 0; i < n; i++)
				if (head_of[i] == h)
					canon[m] = i, c->notes[m++] = r.notes[i].input;
			c->n_notes = m;
			if (o->refine) { /* over the final members */
				double w = 0;

				for (size_t a = 0; a < m; a++)
					for (size_t b = a + 1; b < m; b++)
						w += r.sim[canon[a] * n + canon[b]];
				c->cohesion = m > 1 ? w / ((double)m * (m - 1) / 2) : 0;
			} else { /* over the merged notes (attached ones are not counted) */
				c->cohesion = g.size[h] > 1 ? g.within[h] / ((double)g.size[h] * (g.size[h] - 1) / 2) : 0;
			}
			c->label = make_label(&r, canon, m);
			free(canon);
			if (!c->label) {
				free(count);
				goto fail;
			}
			count[h] = 0; /* marks the head as suggested */
		}
		for (size_t i = 0; i < n; i++)
			if (count[head_of[i]] != 0)
				res->unclustered[nun++] = r.notes[i].input;
		res->n_unclustered = nun;
		free(count);
	}
	free(links);
	free(head_of);
	free(order);
	agg_free(&g);
	run_free(&r);
	*out = res;
	return 0;
fail:
	free(links);
	free(head_of);
	free(order);
	agg_free(&g);
	run_free(&r);
	cluster_result_free(res);
	return rc;
}

void cluster_result_free(struct cluster_result *r)
{
	if (!r)
		return;
	for (size_t k = 0; k < r->n_clusters; k++) {
		free(r->clusters[k].notes);
		free(r->clusters[k].label);
	}
	free(r->clusters);
	free(r->unclustered);
	free(r);
}

void cluster_result_labels(const struct cluster_result *r, size_t n, int *labels)
{
	int next = (int)r->n_clusters;

	for (size_t i = 0; i < n; i++)
		labels[i] = -1;
	for (size_t k = 0; k < r->n_clusters; k++)
		for (size_t m = 0; m < r->clusters[k].n_notes; m++)
			if (r->clusters[k].notes[m] < n)
				labels[r->clusters[k].notes[m]] = (int)k;
	for (size_t i = 0; i < n; i++)
		if (labels[i] < 0)
			labels[i] = next++;
}

static double choose2(double x)
{
	return x * (x - 1) / 2;
}

double cluster_ari(const int *a, const int *b, size_t n)
{
	int ka = 0, kb = 0;
	double *table, *ra, *rb, sum_ij = 0, sum_a = 0, sum_b = 0, expected, max, total;

	if (n < 2)
		return 1.0;
	for (size_t i = 0; i < n; i++) {
		if (a[i] + 1 > ka)
			ka = a[i] + 1;
		if (b[i] + 1 > kb)
			kb = b[i] + 1;
	}
	table = calloc((size_t)ka * (size_t)kb + (size_t)ka + (size_t)kb, sizeof *table);
	if (!table)
		return NAN;
	ra = table + (size_t)ka * (size_t)kb;
	rb = ra + ka;
	for (size_t i = 0; i < n; i++) {
		table[(size_t)a[i] * (size_t)kb + (size_t)b[i]]++;
		ra[a[i]]++;
		rb[b[i]]++;
	}
	for (size_t i = 0; i < (size_t)ka * (size_t)kb; i++)
		sum_ij += choose2(table[i]);
	for (int i = 0; i < ka; i++)
		sum_a += choose2(ra[i]);
	for (int j = 0; j < kb; j++)
		sum_b += choose2(rb[j]);
	free(table);
	total = choose2((double)n);
	expected = sum_a * sum_b / total;
	max = (sum_a + sum_b) / 2;
	if (max == expected) /* both partitions trivial in the same way */
		return 1.0;
	return (sum_ij - expected) / (max - expected);
}
