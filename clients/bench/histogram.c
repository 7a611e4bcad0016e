/*
 * histogram.c: logarithmic-bucket latency histogram (see histogram.h).
 *
 * Responsible for the bucket arithmetic only. A value v < HIST_SUB_BUCKETS
 * sits in magnitude 0 at index v (exact); a larger value with highest set
 * bit b sits in magnitude m = b - HIST_SUB_BITS + 1 at index v >> m, which lies
 * in [HIST_SUB_BUCKETS/2, HIST_SUB_BUCKETS): the layout HdrHistogram uses,
 * where each magnitude reuses only the upper half of its sub-buckets. Not responsible for
 * thread safety: each thread owns one histogram and they are merged.
 *
 * Invariants:
 *  1. bucket_of(v) and bucket_high() are inverse enough that
 *     bucket_high(bucket_of(v)) >= v and the gap is at most v / 32.
 *  2. Buckets [m][0..HALF) stay empty for m > 0; the scans skip them.
 */
#include "histogram.h"

#include <string.h>

#define HALF (HIST_SUB_BUCKETS / 2)

void histogram_init(struct histogram *h)
{
	memset(h, 0, sizeof(*h));
}

/* Magnitude and sub-bucket index of v (see the file header). */
static void bucket_of(uint64_t v, unsigned *mag, unsigned *idx)
{
	unsigned b;

	if (v < HIST_SUB_BUCKETS) {
		*mag = 0;
		*idx = (unsigned)v;
		return;
	}
	b = 63u - (unsigned)__builtin_clzll(v);
	*mag = b - HIST_SUB_BITS + 1;
	if (*mag >= HIST_MAGNITUDES) {
		*mag = HIST_MAGNITUDES - 1;
		*idx = HIST_SUB_BUCKETS - 1;
		return;
	}
	*idx = (unsigned)(v >> *mag); /* in [HALF, HIST_SUB_BUCKETS) */
}

/* Largest value that falls into bucket (mag, idx). */
static uint64_t bucket_high(unsigned mag, unsigned idx)
{
	if (mag == 0)
		return idx;
	return (((uint64_t)idx + 1) << mag) - 1;
}

void histogram_record(struct histogram *h, int64_t v)
{
	uint64_t u = v < 0 ? 0 : (uint64_t)v;
	unsigned mag, idx;

	bucket_of(u, &mag, &idx);
	h->buckets[mag][idx]++;
	if (h->count == 0 || u < h->min)
		h->min = u;
	if (u > h->max)
		h->max = u;
	h->count++;
	h->sum += (long double)u;
}

void histogram_merge(struct histogram *dst, const struct histogram *src)
{
	if (src->count == 0)
		return;
	for (unsigned m = 0; m < HIST_MAGNITUDES; m++)
		for (unsigned i = 0; i < HIST_SUB_BUCKETS; i++)
			dst->buckets[m][i] += src->buckets[m][i];
	if (dst->count == 0 || src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	dst->count += src->count;
	dst->sum += src->sum;
}

uint64_t histogram_percentile(const struct histogram *h, double p)
{
	uint64_t want, seen = 0;

	if (h->count == 0)
		return 0;
	if (p >= 100.0)
		return h->max;
	want = (uint64_t)((p / 100.0) * (double)h->count + 0.999999);
	if (want == 0)
		want = 1;
	for (unsigned m = 0; m < HIST_MAGNITUDES; m++) {
		for (unsigned i = (m == 0 ? 0 : HALF); i < HIST_SUB_BUCKETS; i++) {
			seen += h->buckets[m][i];
			if (seen >= want) {
				uint64_t hi = bucket_high(m, i);
				return hi > h->max ? h->max : hi;
			}
		}
	}
	return h->max;
}

double histogram_mean(const struct histogram *h)
{
	return h->count ? (double)(h->sum / (long double)h->count) : 0.0;
}
