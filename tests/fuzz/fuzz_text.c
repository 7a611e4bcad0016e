/*
 * fuzz_text.c: libFuzzer target for text analysis and cluster suggestions
 * (daemon/textan.c, daemon/cluster.c), which read every note's text.
 *
 * The input is cut at newlines into notes (ids n1, n2, ...); a few lines
 * of it also name cannot-link pairs.
 *
 * Invariants checked (cluster.h):
 *  1. Any notes give suggestions or an error code, never a crash, leak or
 *     overflow; invalid UTF-8 gives -TV_E_BAD_UTF8.
 *  2. Every note is in at most one suggestion or unclustered, exactly
 *     once; every suggestion has at least min_size notes and a label.
 *  3. No suggestion holds both notes of a cannot-link pair.
 *  4. The same notes in reverse order give the same suggestions
 *     (determinism does not depend on input order).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "tv_protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                             \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,  \
			        __LINE__, #cond);                               \
			abort();                                                \
		}                                                               \
	} while (0)

#define MAX_NOTES 200

static void check(const struct cluster_result *r, size_t n, const struct cluster_input *in,
		  const struct cluster_link *links, size_t nlinks, unsigned min_size)
{
	unsigned char seen[MAX_NOTES] = { 0 };
	for (size_t c = 0; c < r->n_clusters; c++) {
		CHECK(r->clusters[c].n_notes >= min_size);
		CHECK(r->clusters[c].label && r->clusters[c].label[0]);
		for (size_t k = 0; k < r->clusters[c].n_notes; k++) {
			size_t i = r->clusters[c].notes[k];
			CHECK(i < n && !seen[i]);
			seen[i] = 1;
		}
		for (size_t l = 0; l < nlinks; l++) {
			int a = 0, b = 0;
			for (size_t k = 0; k < r->clusters[c].n_notes; k++) {
				a |= strcmp(in[r->clusters[c].notes[k]].id, links[l].a) == 0;
				b |= strcmp(in[r->clusters[c].notes[k]].id, links[l].b) == 0;
			}
			CHECK(!(a && b));
		}
	}
	for (size_t k = 0; k < r->n_unclustered; k++) {
		size_t i = r->unclustered[k];
		CHECK(i < n && !seen[i]);
		seen[i] = 1;
	}
	for (size_t i = 0; i < n; i++)
		CHECK(seen[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char ids[MAX_NOTES][8];
	struct cluster_input in[MAX_NOTES], rev[MAX_NOTES];
	char *copy = malloc(size + 1);
	CHECK(copy);
	memcpy(copy, data, size);
	copy[size] = 0;
	size_t n = 0;
	char *p = copy;
	while (n < MAX_NOTES) {
		char *nl = memchr(p, '\n', (size_t)(copy + size - p));
		if (nl)
			*nl = 0;
		snprintf(ids[n], sizeof ids[n], "n%zu", n + 1);
		in[n].id = ids[n];
		in[n].text = p;
		n++;
		if (!nl)
			break;
		p = nl + 1;
	}
	struct cluster_link links[4];
	size_t nlinks = 0;
	for (size_t i = 0; i + 1 < n && nlinks < 4; i += 7)
		links[nlinks++] = (struct cluster_link){ in[i].id, in[i + 1].id };
	struct cluster_options o;
	cluster_options_init(&o);
	o.cannot_link = links;
	o.n_cannot_link = nlinks;
	if (size && data[0] % 3 == 0)
		o.target_k = 1 + data[0] % 7;
	int valid = 1;
	for (size_t i = 0; i < n; i++)
		valid &= tv_utf8_valid(in[i].text, strlen(in[i].text));
	struct cluster_result *r = NULL, *r2 = NULL;
	int rc = cluster_suggest(in, n, &o, &r);
	if (!valid) {
		CHECK(rc == -TV_E_BAD_UTF8);
		free(copy);
		return 0;
	}
	CHECK(rc == 0 && r);
	check(r, n, in, links, nlinks, o.min_size);
	for (size_t i = 0; i < n; i++)
		rev[i] = in[n - 1 - i];
	CHECK(cluster_suggest(rev, n, &o, &r2) == 0);
	CHECK(r->n_clusters == r2->n_clusters);
	for (size_t c = 0; c < r->n_clusters; c++) {
		CHECK(r->clusters[c].n_notes == r2->clusters[c].n_notes);
		CHECK(strcmp(r->clusters[c].label, r2->clusters[c].label) == 0);
		for (size_t k = 0; k < r->clusters[c].n_notes; k++)
			CHECK(strcmp(in[r->clusters[c].notes[k]].id,
				     rev[r2->clusters[c].notes[k]].id) == 0);
	}
	cluster_result_free(r);
	cluster_result_free(r2);
	free(copy);
	return 0;
}
