/*
 * concepts.h: a concept lexicon: which themes (housing, travel, care...) a
 * word signals, from a hand-written list of word stems, prefixes and
 * compound heads per concept (daemon/lexicon/concepts-sv.txt, compiled into
 * tavlad; its header describes the format).
 *
 * Responsible for: parsing a lexicon (the built-in one or any text in its
 * format), and answering which concepts one normalised word matches.
 * Not responsible for splitting compounds or normalising note texts
 * (textan.c), nor for weighting (cluster.c): cluster.c asks about each word
 * and each of its compound parts.
 *
 * Invariants:
 *  1. A parsed lexicon is read-only: any number of threads may match against
 *     one lexicon at once.
 *  2. concepts_match() returns concept indices in ascending order, each
 *     once, a concept's parents included; the same word always gives the
 *     same answer.
 */
#ifndef TV_CONCEPTS_H
#define TV_CONCEPTS_H

#include <stddef.h>
#include <stdint.h>

struct concepts;

/* The most concepts one lexicon may define. */
#define CONCEPTS_MAX 1024

/*
 * Parses len bytes of lexicon text. Returns a new lexicon the caller frees
 * with concepts_free(), or NULL: then err (when not NULL) holds a message
 * naming the line, e.g. "line 12: pattern before any [concept]", or "out of
 * memory".
 */
struct concepts *concepts_parse(const char *text, size_t len, char *err, size_t errlen);

/* Parses the file at path (NULL with err set when it cannot be read). */
struct concepts *concepts_load(const char *path, char *err, size_t errlen);

/* Parses the lexicon compiled into tavla (a few hundred microseconds);
 * NULL only when memory runs out. */
struct concepts *concepts_builtin(void);

void concepts_free(struct concepts *c);

size_t concepts_count(const struct concepts *c);    /* concepts */
size_t concepts_patterns(const struct concepts *c); /* patterns */
/* The name of concept k (< concepts_count), borrowed from c. */
const char *concepts_name(const struct concepts *c, size_t k);

/*
 * The concepts that word (NFKC + case folded, as textan emits it) signals:
 * writes up to max indices into out, ascending, and returns how many
 * concepts matched (which may exceed max). 0 when c is NULL.
 */
size_t concepts_match(const struct concepts *c, const char *word, uint16_t *out, size_t max);

#endif
