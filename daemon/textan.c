/*
 * textan.c: normalisation, tokens, stop words, language guess, stems,
 * compound parts and character n-grams of post-it texts (see textan.h).
 *
 * A word goes: NFKC + case fold (utf8proc) -> split at every code point
 * that is not a letter, digit or mark -> stop word? dropped -> stem
 * (Snowball) -> word term, compound part terms, n-gram terms of "<stem>".
 * Compound splitting reads hunspell-sv's word list as a plain set of words
 * rather than asking libhunspell: libhunspell accepts compounds but does not
 * say where their parts are, and a word set needs no library at run time.
 *
 * Invariants:
 *  1. The stop word tables are sorted by bytes (bsearch looks words up).
 *  2. A lexicon's hash table is at most half full, its size a power of two.
 */
#include "textan.h"

#include <libstemmer.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tv_protocol.h"

/* ---- stop words (sorted, byte order of UTF-8) --------------------------- */

/* Function words, plus the verbs and adverbs every workshop note leans on
 * ("behöver", "måste", "finns") that say nothing about its theme. */
static const char *const stop_sv[] = {
	"aldrig", "alla", "alldeles", "allt", "alltid", "andra", "annan",
	"annars", "annat", "att", "av", "bara", "behöver", "behövs", "bli",
	"blir", "borde", "bra", "bättre", "både", "dag", "de", "dem", "den",
	"denna", "dess", "det", "detta", "dig", "din", "ditt", "dock", "du",
	"där", "därför", "då", "efter", "eftersom", "egen", "eget", "egna",
	"ej", "eller", "en", "enkelt", "enligt", "ens", "er", "etc", "ett",
	"ex", "exempel", "finns", "fler", "flera", "fortfarande", "från",
	"färre", "få", "får", "fått", "för", "före", "ganska", "genom", "ger",
	"gjort", "god", "goda", "gärna", "gå", "gör", "göra", "ha", "hade",
	"han", "har", "hela", "helt", "hon", "hos", "hur", "här", "i",
	"ibland", "idag", "igen", "inga", "ingen", "ingenting", "inget",
	"innan", "inom", "inte", "istället", "ju", "kan", "kanske", "kommer",
	"kunde", "kunna", "kvar", "lite", "liten", "lätt", "man", "med",
	"medan", "mellan", "men", "mer", "mest", "mig", "min", "mindre", "mot",
	"mycket", "många", "måste", "ni", "nog", "nu", "ny", "nya", "nytt",
	"när", "nästan", "någon", "något", "några", "och", "också", "ofta",
	"olika", "om", "oss", "på", "redan", "rätt", "samma", "samt", "se",
	"sedan", "sen", "ser", "sig", "sin", "sina", "sitt", "själv", "ska",
	"skulle", "små", "som", "stor", "stora", "stället", "svår", "svårt",
	"sällan", "så", "t", "ta", "tar", "tex", "tid", "till", "tycker",
	"under", "upp", "ut", "utan", "vad", "var", "vara", "varandra",
	"varje", "verkligen", "vi", "vid", "viktigt", "vilka", "vill",
	"väldigt", "vår", "våra", "vårt", "än", "ännu", "är", "även", "åt",
	"över",
};

static const char *const stop_en[] = {
	"a", "about", "all", "also", "an", "and", "any", "are", "as", "at",
	"be", "been", "before", "being", "better", "but", "by", "can",
	"could", "do", "does", "each", "even", "for", "from", "get", "has",
	"have", "how", "i", "if", "in", "into", "is", "it", "its", "just",
	"less", "many", "more", "most", "much", "must", "need", "needs",
	"no", "not", "of", "on", "only", "or", "other", "our", "out", "same",
	"should", "so", "some", "than", "that", "the", "their", "them",
	"then", "there", "these", "they", "this", "those", "through", "to",
	"too", "up", "us", "very", "was", "we", "were", "what", "when",
	"where", "which", "while", "who", "why", "will", "with", "without",
	"would", "you", "your",
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

bool textan_is_stop(enum textan_lang lang, const char *word)
{
	const char *const *tab = lang == TEXTAN_EN ? stop_en : stop_sv;
	size_t n = lang == TEXTAN_EN ? sizeof stop_en / sizeof *stop_en
				     : sizeof stop_sv / sizeof *stop_sv;

	return bsearch(&word, tab, n, sizeof *tab, cmp_str) != NULL;
}

const char *textan_lang_name(enum textan_lang lang)
{
	switch (lang) {
	case TEXTAN_SV:
		return "sv";
	case TEXTAN_EN:
		return "en";
	default:
		return "auto";
	}
}

/* ---- normalisation and tokens ------------------------------------------ */

int textan_normalise(const char *s, size_t len, char **out)
{
	utf8proc_uint8_t *dst = NULL;
	utf8proc_ssize_t r;

	*out = NULL;
	r = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &dst,
			 UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE |
				 UTF8PROC_CASEFOLD);
	if (r < 0)
		return r == UTF8PROC_ERROR_NOMEM ? -TV_E_INTERNAL : -TV_E_BAD_UTF8;
	*out = (char *)dst;
	return 0;
}

static bool is_word_cp(utf8proc_int32_t cp)
{
	switch (utf8proc_category(cp)) {
	case UTF8PROC_CATEGORY_LU:
	case UTF8PROC_CATEGORY_LL:
	case UTF8PROC_CATEGORY_LT:
	case UTF8PROC_CATEGORY_LM:
	case UTF8PROC_CATEGORY_LO:
	case UTF8PROC_CATEGORY_MN:
	case UTF8PROC_CATEGORY_MC:
	case UTF8PROC_CATEGORY_ND:
		return true;
	default:
		return false;
	}
}

/*
 * Calls fn(arg, word, len) for every word of the normalised string s
 * (words are cut at TEXTAN_WORD_MAX - 1 bytes on a character boundary).
 * Returns 0 or fn's non-zero value.
 */
static int each_word(const char *s, int (*fn)(void *, const char *, size_t), void *arg)
{
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
	size_t start = 0, i = 0, len = strlen(s);
	bool in = false;

	while (i <= len) {
		utf8proc_int32_t cp = 0;
		utf8proc_ssize_t k = 1;

		if (i < len) {
			k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &cp);
			if (k <= 0) /* cannot happen after textan_normalise() */
				k = 1, cp = ' ';
		}
		if (i < len && is_word_cp(cp)) {
			if (!in)
				start = i, in = true;
		} else if (in) {
			size_t wl = i - start;
			int rc;

			while (wl > TEXTAN_WORD_MAX - 1)
				for (wl = TEXTAN_WORD_MAX - 1; (p[start + wl] & 0xC0) == 0x80; wl--)
					;
			rc = fn(arg, s + start, wl);
			if (rc)
				return rc;
			in = false;
		}
		i += (size_t)k;
	}
	return 0;
}

static size_t cp_count(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xC0) != 0x80;
	return n;
}

struct guess {
	size_t sv, en;
};

static int guess_word(void *arg, const char *w, size_t len)
{
	struct guess *g = arg;
	char buf[TEXTAN_WORD_MAX];

	memcpy(buf, w, len);
	buf[len] = '\0';
	g->sv += textan_is_stop(TEXTAN_SV, buf);
	g->en += textan_is_stop(TEXTAN_EN, buf);
	return 0;
}

enum textan_lang textan_guess_lang(const char *const *texts, size_t n)
{
	struct guess g = {0, 0};

	for (size_t i = 0; i < n; i++) {
		char *norm;

		if (!texts[i] || textan_normalise(texts[i], strlen(texts[i]), &norm))
			continue;
		each_word(norm, guess_word, &g);
		free(norm);
	}
	/* Short words such as "i", "a", "on" occur in both lists by chance;
	 * ask for a clear margin before leaving the default. */
	return g.en > 2 * g.sv + 2 ? TEXTAN_EN : TEXTAN_SV;
}

/* ---- lexicon ------------------------------------------------------------ */

struct textan_lexicon {
	char *arena;     /* NUL-separated words */
	size_t arena_len, arena_cap;
	uint32_t *slots; /* arena offset + 1; 0 = empty */
	size_t cap, count;
};

static uint32_t hash_bytes(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static bool lex_has(const struct textan_lexicon *lex, const char *w, size_t len)
{
	size_t mask = lex->cap - 1;

	for (size_t i = hash_bytes(w, len) & mask; lex->slots[i]; i = (i + 1) & mask) {
		const char *e = lex->arena + lex->slots[i] - 1;

		if (strncmp(e, w, len) == 0 && e[len] == '\0')
			return true;
	}
	return false;
}

static int lex_grow(struct textan_lexicon *lex)
{
	size_t ncap = lex->cap ? lex->cap * 2 : 1u << 16;
	uint32_t *ns = calloc(ncap, sizeof *ns);

	if (!ns)
		return -TV_E_INTERNAL;
	for (size_t i = 0; i < lex->cap; i++) {
		uint32_t off = lex->slots[i];
		const char *e;
		size_t j;

		if (!off)
			continue;
		e = lex->arena + off - 1;
		for (j = hash_bytes(e, strlen(e)) & (ncap - 1); ns[j]; j = (j + 1) & (ncap - 1))
			;
		ns[j] = off;
	}
	free(lex->slots);
	lex->slots = ns;
	lex->cap = ncap;
	return 0;
}

static int lex_add(struct textan_lexicon *lex, const char *w, size_t len)
{
	size_t j;

	if (lex->cap && lex_has(lex, w, len))
		return 0;
	if ((lex->count + 1) * 2 > lex->cap && lex_grow(lex))
		return -TV_E_INTERNAL;
	if (lex->arena_len + len + 1 > lex->arena_cap) {
		size_t ncap = lex->arena_cap ? lex->arena_cap * 2 : 1u << 20;
		char *na;

		while (ncap < lex->arena_len + len + 1)
			ncap *= 2;
		if (ncap > UINT32_MAX || !(na = realloc(lex->arena, ncap)))
			return -TV_E_INTERNAL;
		lex->arena = na;
		lex->arena_cap = ncap;
	}
	memcpy(lex->arena + lex->arena_len, w, len);
	lex->arena[lex->arena_len + len] = '\0';
	for (j = hash_bytes(w, len) & (lex->cap - 1); lex->slots[j]; j = (j + 1) & (lex->cap - 1))
		;
	lex->slots[j] = (uint32_t)lex->arena_len + 1;
	lex->arena_len += len + 1;
	lex->count++;
	return 0;
}

/* Keeps lower-case words of letters only, 3 to TEXTAN_WORD_MAX - 1 bytes:
 * names (capitalised) and abbreviations would split words wrongly. */
static bool lex_word_ok(const char *w, size_t len)
{
	if (len < 3 || len >= TEXTAN_WORD_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)w[i];

		if (!((c >= 'a' && c <= 'z') || c >= 0x80))
			return false;
	}
	return true;
}

struct textan_lexicon *textan_lexicon_load(const char *path)
{
	struct textan_lexicon *lex;
	FILE *f = fopen(path, "r");
	char line[256];
	bool first = true;

	if (!f)
		return NULL;
	lex = calloc(1, sizeof *lex);
	if (!lex || lex_grow(lex))
		goto fail;
	while (fgets(line, sizeof line, f)) {
		size_t len = strcspn(line, "/\t \r\n");

		if (first) { /* the word count */
			first = false;
			continue;
		}
		if (lex_word_ok(line, len) && lex_add(lex, line, len))
			goto fail;
	}
	fclose(f);
	return lex;
fail:
	fclose(f);
	textan_lexicon_free(lex);
	return NULL;
}

void textan_lexicon_free(struct textan_lexicon *lex)
{
	if (!lex)
		return;
	free(lex->arena);
	free(lex->slots);
	free(lex);
}

size_t textan_lexicon_size(const struct textan_lexicon *lex)
{
	return lex ? lex->count : 0;
}

/* ---- compound splitting ------------------------------------------------- */

#define PART_MIN 4 /* bytes; shorter parts ("kom", "tal") split too eagerly */

/*
 * A non-final part w[0..len): a word, a word + linking s
 * ("erfarenhets"), or a word whose final a was dropped or turned into
 * o/u/e ("skol", "kyrko", "gatu"). Writes the dictionary form to lemma.
 */
static bool head_part(const struct textan_lexicon *lex, const char *w, size_t len,
		      char lemma[TEXTAN_WORD_MAX])
{
	if (len < PART_MIN || len + 2 > TEXTAN_WORD_MAX)
		return false;
	memcpy(lemma, w, len);
	lemma[len] = '\0';
	if (lex_has(lex, w, len))
		return true;
	if (w[len - 1] == 's' && len - 1 >= PART_MIN && lex_has(lex, w, len - 1)) {
		lemma[len - 1] = '\0';
		return true;
	}
	lemma[len] = 'a', lemma[len + 1] = '\0';
	if (lex_has(lex, lemma, len + 1))
		return true;
	if (strchr("oue", w[len - 1])) {
		lemma[len - 1] = 'a', lemma[len] = '\0';
		if (lex_has(lex, lemma, len))
			return true;
	}
	return false;
}

/* Inflection endings tried on the last part, longest first. */
static const char *const endings[] = {
	"arnas", "ernas", "ornas", "arna", "erna", "orna", "ande", "ende",
	"ens", "ets", "ade", "are", "en", "et", "er", "ar", "or", "na", "at",
	"ad", "t", "n", "s", "a", "e",
};

/* The final part w[0..len), possibly inflected ("utbytet", "kollegorna"). */
static bool tail_part(const struct textan_lexicon *lex, const char *w, size_t len,
		      char lemma[TEXTAN_WORD_MAX])
{
	if (len < PART_MIN || len + 2 > TEXTAN_WORD_MAX)
		return false;
	memcpy(lemma, w, len);
	lemma[len] = '\0';
	if (lex_has(lex, w, len))
		return true;
	for (size_t i = 0; i < sizeof endings / sizeof *endings; i++) {
		size_t el = strlen(endings[i]), bl;

		if (el >= len || memcmp(w + len - el, endings[i], el) != 0)
			continue;
		bl = len - el;
		if (bl < PART_MIN)
			continue;
		memcpy(lemma, w, bl);
		lemma[bl] = '\0';
		if (lex_has(lex, lemma, bl))
			return true;
		lemma[bl] = 'a', lemma[bl + 1] = '\0';
		if (lex_has(lex, lemma, bl + 1))
			return true;
		lemma[bl] = 'e';
		if (lex_has(lex, lemma, bl + 1))
			return true;
	}
	return false;
}

#define SPLIT_MAX_PARTS 4

size_t textan_split(const struct textan_lexicon *lex, const char *word,
		    char parts[][TEXTAN_WORD_MAX], size_t max)
{
	/* best[i]: fewest head parts covering word[0..i), from[i] its last cut */
	unsigned char best[TEXTAN_WORD_MAX], from[TEXTAN_WORD_MAX];
	char lemma[TEXTAN_WORD_MAX];
	size_t len = strlen(word), cut = 0, n, pos;
	unsigned bestn = 255;

	if (!lex || len < 2 * PART_MIN || len >= TEXTAN_WORD_MAX || max < 2)
		return 0;
	memset(best, 255, sizeof best);
	best[0] = 0;
	for (size_t i = 0; i < len; i++) {
		if (best[i] == 255 || best[i] >= SPLIT_MAX_PARTS - 1)
			continue;
		if (i && (word[i] & 0xC0) == 0x80)
			continue;
		for (size_t j = i + PART_MIN; j + PART_MIN <= len; j++) {
			if ((word[j] & 0xC0) == 0x80 || best[j] <= best[i] + 1)
				continue;
			if (head_part(lex, word + i, j - i, lemma))
				best[j] = (unsigned char)(best[i] + 1), from[j] = (unsigned char)i;
		}
	}
	/* Fewest parts; among those the longest final part (the head of a
	 * Swedish compound carries its meaning). */
	for (size_t i = PART_MIN; i + PART_MIN <= len; i++) {
		if (best[i] == 255 || (word[i] & 0xC0) == 0x80 || best[i] >= bestn)
			continue;
		if (tail_part(lex, word + i, len - i, lemma))
			bestn = best[i], cut = i;
	}
	if (bestn == 255 || bestn + 1u > max)
		return 0;
	n = bestn + 1u;
	tail_part(lex, word + cut, len - cut, parts[n - 1]);
	for (size_t k = n - 1; k > 0; k--) {
		pos = from[cut];
		head_part(lex, word + pos, cut - pos, parts[k - 1]);
		cut = pos;
	}
	return n;
}

/* ---- thesaurus ------------------------------------------------------------ */

/*
 * A MyThes thesaurus (Debian's mythes-sv): a first line naming the
 * encoding, then entries "word|meanings" each followed by that many lines
 * "(class)|synonym|synonym...". Each head word and each of its synonyms
 * become a pair of related words both ways, by their Swedish stems, so
 * "jobbet" and "arbetet" meet through the entries of "jobb" and "arbete".
 * Relations are not followed further: words of many senses would chain
 * unrelated notes together. Phrases ("vänja sig") are skipped: a note's
 * words are looked up one by one.
 */
struct thes_pair {
	const char *word, *rel; /* stems, into arena */
};

struct textan_thesaurus {
	char *arena;
	size_t arena_len, arena_cap;
	struct thes_pair *pairs; /* sorted by word, then rel; unique */
	size_t n, cap, words;
};

static int cmp_pair(const void *a, const void *b)
{
	const struct thes_pair *x = a, *y = b;
	int c = strcmp(x->word, y->word);

	return c ? c : strcmp(x->rel, y->rel);
}

/* Latin-1 to UTF-8 of len bytes into out (2 * len + 1 bytes). */
static void latin1_to_utf8(const char *in, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c < 0x80) {
			out[o++] = (char)c;
		} else {
			out[o++] = (char)(0xC0 | (c >> 6));
			out[o++] = (char)(0x80 | (c & 0x3F));
		}
	}
	out[o] = '\0';
}

/* Stores the stem of one thesaurus word in the arena; *off is its offset
 * + 1, or 0 when the word is not one plain word of letters (skipped).
 * Returns 0 or -TV_E_INTERNAL. */
static int thes_stem(struct textan_thesaurus *th, struct sb_stemmer *st, const char *w,
		     size_t len, bool latin1, size_t *off)
{
	char raw[2 * TEXTAN_WORD_MAX + 1], *norm;
	const sb_symbol *stem;
	int sl;

	*off = 0;
	if (len < 2 || len >= TEXTAN_WORD_MAX)
		return 0;
	if (latin1)
		latin1_to_utf8(w, len, raw);
	else
		memcpy(raw, w, len), raw[len] = '\0';
	if (textan_normalise(raw, strlen(raw), &norm))
		return 0; /* not valid text: skip the word, keep the rest */
	for (const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)norm; *p;) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate(p, -1, &cp);

		if (k <= 0 || !is_word_cp(cp)) {
			free(norm);
			return 0;
		}
		p += k;
	}
	stem = sb_stemmer_stem(st, (const sb_symbol *)norm, (int)strlen(norm));
	free(norm);
	if (!stem)
		return -TV_E_INTERNAL;
	sl = sb_stemmer_length(st);
	if (sl < 2)
		return 0;
	if (th->arena_len + (size_t)sl + 1 > th->arena_cap) {
		size_t nc = th->arena_cap ? th->arena_cap * 2 : 1u << 18;
		char *na = realloc(th->arena, nc);

		if (!na)
			return -TV_E_INTERNAL;
		th->arena = na;
		th->arena_cap = nc;
	}
	memcpy(th->arena + th->arena_len, stem, (size_t)sl);
	th->arena[th->arena_len + (size_t)sl] = '\0';
	*off = th->arena_len + 1;
	th->arena_len += (size_t)sl + 1;
	return 0;
}

/* Adds the pair (a, b) of arena offsets + 1 (as integers until the arena
 * stops moving). Returns 0 or -TV_E_INTERNAL. */
static int thes_pair_add(struct textan_thesaurus *th, size_t a, size_t b)
{
	if (th->n == th->cap) {
		size_t nc = th->cap ? th->cap * 2 : 1u << 15;
		struct thes_pair *np = realloc(th->pairs, nc * sizeof *np);

		if (!np)
			return -TV_E_INTERNAL;
		th->pairs = np;
		th->cap = nc;
	}
	th->pairs[th->n++] = (struct thes_pair){(const char *)(uintptr_t)a,
						(const char *)(uintptr_t)b};
	return 0;
}

struct textan_thesaurus *textan_thesaurus_load(const char *path)
{
	struct textan_thesaurus *th;
	struct sb_stemmer *st;
	FILE *f = fopen(path, "r");
	char line[4096], head[TEXTAN_WORD_MAX];
	size_t headlen = 0, out = 0;
	bool latin1;

	if (!f)
		return NULL;
	th = calloc(1, sizeof *th);
	st = sb_stemmer_new("swedish", "UTF_8");
	if (!th || !st || !fgets(line, sizeof line, f))
		goto fail;
	latin1 = strncmp(line, "UTF-8", 5) != 0;
	while (fgets(line, sizeof line, f)) {
		size_t len = strcspn(line, "\r\n"), h;
		char *p, *bar;

		line[len] = '\0';
		if (line[0] != '|' && line[0] != '(') { /* "word|meanings" */
			bar = strchr(line, '|');
			headlen = bar ? (size_t)(bar - line) : 0;
			if (headlen >= TEXTAN_WORD_MAX)
				headlen = 0;
			memcpy(head, line, headlen);
			continue;
		}
		if (!headlen || thes_stem(th, st, head, headlen, latin1, &h))
			goto fail_or_skip;
		if (!h)
			continue;
		for (p = strchr(line, '|'); p; p = bar) {
			size_t m;

			p++;
			bar = strchr(p, '|');
			if (thes_stem(th, st, p, bar ? (size_t)(bar - p) : strlen(p), latin1, &m))
				goto fail;
			if (m && (thes_pair_add(th, h, m) || thes_pair_add(th, m, h)))
				goto fail;
		}
		continue;
fail_or_skip:
		if (headlen)
			goto fail;
	}
	fclose(f);
	f = NULL;
	sb_stemmer_delete(st);
	st = NULL;
	for (size_t i = 0; i < th->n; i++) {
		th->pairs[i].word = th->arena + (uintptr_t)th->pairs[i].word - 1;
		th->pairs[i].rel = th->arena + (uintptr_t)th->pairs[i].rel - 1;
	}
	if (th->n)
		qsort(th->pairs, th->n, sizeof *th->pairs, cmp_pair);
	for (size_t i = 0; i < th->n; i++) { /* duplicates, and a word with itself */
		if (strcmp(th->pairs[i].word, th->pairs[i].rel) == 0 ||
		    (out && cmp_pair(&th->pairs[i], &th->pairs[out - 1]) == 0))
			continue;
		th->words += !out || strcmp(th->pairs[i].word, th->pairs[out - 1].word) != 0;
		th->pairs[out++] = th->pairs[i];
	}
	th->n = out;
	if (!th->n)
		goto fail;
	return th;
fail:
	if (f)
		fclose(f);
	if (st)
		sb_stemmer_delete(st);
	textan_thesaurus_free(th);
	return NULL;
}

void textan_thesaurus_free(struct textan_thesaurus *th)
{
	if (!th)
		return;
	free(th->arena);
	free(th->pairs);
	free(th);
}

size_t textan_thesaurus_size(const struct textan_thesaurus *th)
{
	return th ? th->words : 0;
}

/* The words related to a stem: *first and their count (0: none). */
static size_t thes_related(const struct textan_thesaurus *th, const char *stem,
			   const struct thes_pair **first)
{
	size_t lo = 0, hi = th ? th->n : 0, end;

	*first = NULL;
	if (!th)
		return 0;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (strcmp(th->pairs[mid].word, stem) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (end = lo; end < th->n && strcmp(th->pairs[end].word, stem) == 0; end++)
		;
	*first = lo < th->n ? &th->pairs[lo] : NULL;
	return end - lo;
}

/* ---- the analyser ------------------------------------------------------- */

struct textan {
	enum textan_lang lang;
	unsigned flags, ngram_min, ngram_max;
	const struct textan_lexicon *lex;
	const struct textan_thesaurus *thes;
	size_t syn_max;
	struct sb_stemmer *stemmer;
	textan_term_fn fn;
	void *arg;
};

struct textan *textan_new(enum textan_lang lang, unsigned flags,
			  const struct textan_lexicon *lex, unsigned ngram_min,
			  unsigned ngram_max)
{
	struct textan *ta = calloc(1, sizeof *ta);

	if (!ta)
		return NULL;
	ta->lang = lang == TEXTAN_EN ? TEXTAN_EN : TEXTAN_SV;
	ta->flags = flags;
	ta->lex = ta->lang == TEXTAN_SV ? lex : NULL;
	ta->ngram_min = ngram_min ? ngram_min : 3;
	ta->ngram_max = ngram_max ? ngram_max : 5;
	if (ta->ngram_max < ta->ngram_min)
		ta->ngram_max = ta->ngram_min;
	if (flags & TEXTAN_F_STEM) {
		ta->stemmer = sb_stemmer_new(ta->lang == TEXTAN_EN ? "english" : "swedish",
					     "UTF_8");
		if (!ta->stemmer) {
			free(ta);
			return NULL;
		}
	}
	return ta;
}

void textan_set_thesaurus(struct textan *ta, const struct textan_thesaurus *th,
			  size_t max_groups)
{
	/* its groups are keyed by Swedish stems */
	ta->thes = ta->lang == TEXTAN_SV && ta->stemmer ? th : NULL;
	ta->syn_max = max_groups;
}

void textan_free(struct textan *ta)
{
	if (!ta)
		return;
	if (ta->stemmer)
		sb_stemmer_delete(ta->stemmer);
	free(ta);
}

/* Copies the stem of w (or w itself without a stemmer) into out. */
static int stem_of(struct textan *ta, const char *w, size_t len, char out[TEXTAN_WORD_MAX])
{
	if (ta->stemmer) {
		const sb_symbol *s = sb_stemmer_stem(ta->stemmer, (const sb_symbol *)w, (int)len);
		int sl = sb_stemmer_length(ta->stemmer);

		if (!s)
			return -TV_E_INTERNAL;
		if (sl > 0 && (size_t)sl < TEXTAN_WORD_MAX) {
			memcpy(out, s, (size_t)sl);
			out[sl] = '\0';
			return 0;
		}
	}
	memcpy(out, w, len);
	out[len] = '\0';
	return 0;
}

static int emit_ngrams(struct textan *ta, const char *stem, const char *surface)
{
	/* "<stem>" with the byte offset of each character */
	char buf[TEXTAN_WORD_MAX + 2], gram[TEXTAN_WORD_MAX + 2];
	size_t off[TEXTAN_WORD_MAX + 3], nc = 0, len;

	len = (size_t)snprintf(buf, sizeof buf, "<%s>", stem);
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)buf[i] & 0xC0) != 0x80)
			off[nc++] = i;
	off[nc] = len;
	for (size_t n = ta->ngram_min; n <= ta->ngram_max; n++) {
		if (n > nc)
			break;
		for (size_t i = 0; i + n <= nc; i++) {
			size_t gl = off[i + n] - off[i];
			int rc;

			/* "<x>" alone repeats the word term */
			if (n == nc && (ta->flags & TEXTAN_F_WORDS))
				continue;
			memcpy(gram, buf + off[i], gl);
			gram[gl] = '\0';
			rc = ta->fn(ta->arg, TEXTAN_NGRAM, gram, surface);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* Workshops mix languages ("Shoulder season is where the growth is" among
 * Swedish notes), so a word is dropped when it is a stop word of either. */
static bool is_stop_any(const char *word)
{
	return textan_is_stop(TEXTAN_SV, word) || textan_is_stop(TEXTAN_EN, word);
}

static bool all_digits(const char *w, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (w[i] < '0' || w[i] > '9')
			return false;
	return true;
}

/*
 * Emits TEXTAN_SYN terms for stem: the stem itself and every word the
 * thesaurus relates to it, unless there are more than syn_max of those (a
 * word of many senses would join unrelated notes). Sets *found to whether
 * stem is in the thesaurus at all. Returns 0 or the callback's value.
 */
static int emit_synonyms(struct textan *ta, const char *stem, const char *surface, bool *found)
{
	const struct thes_pair *g;
	size_t n = thes_related(ta->thes, stem, &g);
	int rc;

	*found = n > 0;
	if (!n || (ta->syn_max && n > ta->syn_max))
		return 0;
	if ((rc = ta->fn(ta->arg, TEXTAN_SYN, stem, surface)))
		return rc;
	for (size_t i = 0; i < n; i++)
		if ((rc = ta->fn(ta->arg, TEXTAN_SYN, g[i].rel, surface)))
			return rc;
	return 0;
}

static int term_word(void *arg, const char *w, size_t len)
{
	struct textan *ta = arg;
	char word[TEXTAN_WORD_MAX], stem[TEXTAN_WORD_MAX];
	char parts[SPLIT_MAX_PARTS][TEXTAN_WORD_MAX];
	size_t np = 0;
	int rc;

	if (cp_count(w, len) < 2 || all_digits(w, len))
		return 0;
	memcpy(word, w, len);
	word[len] = '\0';
	if ((ta->flags & TEXTAN_F_STOP) && is_stop_any(word))
		return 0;
	if ((rc = stem_of(ta, word, len, stem)))
		return rc;
	if ((ta->flags & TEXTAN_F_WORDS) && (rc = ta->fn(ta->arg, TEXTAN_WORD, stem, word)))
		return rc;
	if (ta->flags & TEXTAN_F_COMPOUNDS)
		np = textan_split(ta->lex, word, parts, SPLIT_MAX_PARTS);
	for (size_t i = 0; i < np; i++) {
		char pstem[TEXTAN_WORD_MAX];

		if ((ta->flags & TEXTAN_F_STOP) && is_stop_any(parts[i]))
			continue;
		if ((rc = stem_of(ta, parts[i], strlen(parts[i]), pstem)))
			return rc;
		if (strcmp(pstem, stem) == 0)
			continue;
		if ((rc = ta->fn(ta->arg, TEXTAN_PART, pstem, parts[i])))
			return rc;
	}
	if (ta->thes) {
		bool found;

		/* the whole word, else the head (last part) of a compound */
		if ((rc = emit_synonyms(ta, stem, word, &found)))
			return rc;
		if (!found && np) {
			char hstem[TEXTAN_WORD_MAX];

			if ((rc = stem_of(ta, parts[np - 1], strlen(parts[np - 1]), hstem)) ||
			    (rc = emit_synonyms(ta, hstem, word, &found)))
				return rc;
		}
	}
	if (ta->flags & TEXTAN_F_NGRAMS)
		return emit_ngrams(ta, stem, word);
	return 0;
}

int textan_terms(struct textan *ta, const char *text, textan_term_fn fn, void *arg)
{
	char *norm;
	int rc = textan_normalise(text, strlen(text), &norm);

	if (rc)
		return rc;
	ta->fn = fn;
	ta->arg = arg;
	rc = each_word(norm, term_word, ta);
	free(norm);
	return rc;
}
