/*
 * textan.h: text analysis for clustering suggestions: turns the text of one
 * post-it into the terms a similarity measure compares.
 *
 * Responsible for: Unicode normalisation (NFKC + case folding, utf8proc),
 * tokenising, Swedish and English stop words, a language guess for a set of
 * notes, stemming (Snowball through libstemmer), compound splitting against
 * a word list (the hunspell-sv dictionary, optional at run time),
 * character n-grams within words, and related words from a thesaurus
 * (mythes-sv, optional at run time). Not responsible for weighting, similarity
 * or clustering (cluster.c), nor for where texts come from: it knows no
 * rooms, notes or sockets.
 *
 * Only this module includes utf8proc.h and libstemmer.h.
 *
 * Invariants:
 *  1. Every term it emits is valid UTF-8, NFKC-normalised and case-folded,
 *     and the same text with the same options always yields the same terms
 *     in the same order.
 *  2. Word terms are never empty and contain no '<' or '>'; n-gram terms
 *     can equal a word term ("kol"), so callers keep them apart by kind.
 */
#ifndef TV_TEXTAN_H
#define TV_TEXTAN_H

#include <stdbool.h>
#include <stddef.h>

enum textan_lang {
	TEXTAN_AUTO = 0, /* guess from the texts (textan_guess_lang) */
	TEXTAN_SV,
	TEXTAN_EN,
};

/* "sv", "en" or "auto". */
const char *textan_lang_name(enum textan_lang lang);

/* Where Debian's hunspell-sv keeps its word list. */
#define TEXTAN_LEXICON_SV "/usr/share/hunspell/sv_SE.dic"

/* Feature switches for textan_new(); the default set is TEXTAN_F_DEFAULT.
 * The baselines of the README are TEXTAN_F_WORDS alone (word-level) and
 * TEXTAN_F_NGRAMS alone (character n-grams of unstemmed words). */
enum {
	TEXTAN_F_WORDS = 1u << 0,     /* one term per word (stem if F_STEM) */
	TEXTAN_F_NGRAMS = 1u << 1,    /* character n-grams within each word */
	TEXTAN_F_STEM = 1u << 2,      /* Snowball stems for words and n-grams */
	TEXTAN_F_STOP = 1u << 3,      /* drop stop words */
	TEXTAN_F_COMPOUNDS = 1u << 4, /* also emit the parts of compounds */
	TEXTAN_F_DEFAULT = TEXTAN_F_WORDS | TEXTAN_F_NGRAMS | TEXTAN_F_STEM |
			   TEXTAN_F_STOP | TEXTAN_F_COMPOUNDS,
};

enum textan_kind {
	TEXTAN_WORD,  /* a whole word (or its stem) */
	TEXTAN_PART,  /* a part of a compound, as a word term (same space) */
	TEXTAN_NGRAM, /* a character n-gram with '<' '>' word boundaries */
	TEXTAN_SYN,   /* the stem of the word or of a word related to it */
};

/*
 * NFKC + case folding of len bytes of UTF-8. On success *out is a new
 * NUL-terminated string the caller frees with free(). Returns 0,
 * -TV_E_BAD_UTF8 for invalid input or -TV_E_INTERNAL when out of memory.
 */
int textan_normalise(const char *s, size_t len, char **out);

/* True when the normalised word is a stop word of lang (SV or EN). */
bool textan_is_stop(enum textan_lang lang, const char *word);

/*
 * Guesses the language of a set of notes from their stop words: English
 * when clearly more English than Swedish stop words occur, else Swedish
 * (the default of the product). Invalid UTF-8 texts are skipped.
 */
enum textan_lang textan_guess_lang(const char *const *texts, size_t n);

/*
 * A word list for compound splitting, read from a hunspell .dic file
 * (affix flags ignored). Returns a new lexicon the caller frees with
 * textan_lexicon_free(), or NULL when the file cannot be read (hunspell-sv
 * not installed) or memory runs out: callers then go without splitting.
 */
struct textan_lexicon;
struct textan_lexicon *textan_lexicon_load(const char *path);
void textan_lexicon_free(struct textan_lexicon *lex);
size_t textan_lexicon_size(const struct textan_lexicon *lex);

/*
 * Splits a normalised word into dictionary words: "erfarenhetsutbyte" ->
 * "erfarenhet" "utbyte" (linking s and a dropped final vowel are undone).
 * Writes up to max parts, each a NUL-terminated copy of at most
 * TEXTAN_WORD_MAX bytes, into parts. Returns the number of parts (>= 2),
 * or 0 when the word is not a compound the lexicon can explain.
 */
#define TEXTAN_WORD_MAX 64
size_t textan_split(const struct textan_lexicon *lex, const char *word,
		    char parts[][TEXTAN_WORD_MAX], size_t max);

/* Where Debian's mythes-sv keeps its Swedish thesaurus. */
#define TEXTAN_THESAURUS_SV "/usr/share/mythes/th_sv_SE_v2.dat"

/*
 * A thesaurus for synonyms, read from a MyThes .dat file (Latin-1 or
 * UTF-8): a head word and each of its synonyms are related both ways, by
 * their Swedish stems (single words only; relations are not chained).
 * Returns a new thesaurus the caller frees with textan_thesaurus_free(), or
 * NULL when the file cannot be read (mythes-sv not installed), relates no
 * words, or memory runs out: callers then go without synonyms. Loading
 * takes some 60 ms; load it once.
 */
struct textan_thesaurus;
struct textan_thesaurus *textan_thesaurus_load(const char *path);
void textan_thesaurus_free(struct textan_thesaurus *th);
size_t textan_thesaurus_size(const struct textan_thesaurus *th); /* words */

/* An analyser: stemmer and options for one language; not thread-safe
 * (one per thread). */
struct textan;

/*
 * Returns a new analyser (free with textan_free) or NULL when out of
 * memory. lang must be TEXTAN_SV or TEXTAN_EN. lex is borrowed and may be
 * NULL (no compound splitting); it must outlive the analyser. ngram_min and
 * ngram_max bound the n-gram lengths in characters, boundary marks
 * included (0 for the defaults 3 and 5).
 */
struct textan *textan_new(enum textan_lang lang, unsigned flags,
			  const struct textan_lexicon *lex, unsigned ngram_min,
			  unsigned ngram_max);
void textan_free(struct textan *ta);

/*
 * Makes ta also emit TEXTAN_SYN terms for each word the thesaurus knows
 * (or, when it does not know the whole word, for a compound's head): its
 * own stem and the stems of the words related to it, skipping words with
 * more than max_groups relations (0: no limit). th is borrowed (NULL: no
 * synonyms) and must outlive ta; it serves Swedish analysers with stemming
 * only and is ignored by the others.
 */
void textan_set_thesaurus(struct textan *ta, const struct textan_thesaurus *th,
			  size_t max_groups);

/*
 * Called once per term of a text: term is the feature (stem, part stem or
 * n-gram), surface the normalised word it came from (for labels). Both are
 * borrowed for the duration of the call. A non-zero return stops
 * textan_terms() and is passed back.
 */
typedef int (*textan_term_fn)(void *arg, enum textan_kind kind,
			      const char *term, const char *surface);

/*
 * Normalises text and emits its terms in order. Returns 0, the callback's
 * non-zero value, -TV_E_BAD_UTF8 or -TV_E_INTERNAL.
 */
int textan_terms(struct textan *ta, const char *text, textan_term_fn fn,
		 void *arg);

#endif
