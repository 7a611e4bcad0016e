/*
 * histogram.h: latency histogram with logarithmic buckets (HDR style).
 *
 * Responsible for recording non-negative values (microseconds, by
 * convention) with a bounded relative error, merging histograms from
 * several threads, and answering percentile queries. Not responsible for
 * time sources, locking (one histogram per thread, merged at the end) or
 * printing.
 *
 * Invariants:
 *  1. A value v lands in the bucket whose range [lo, hi) contains it; the
 *     bucket width is at most lo / (HIST_SUB_BUCKETS / 2), so a reported
 *     percentile is within 1/32 (about 3 %) of the truth,
 *     and never below it (the upper bound of the bucket is reported).
 *  2. count == sum of all bucket counts; min/max are exact.
 *  3. The struct has a fixed size (no allocation): copying or zeroing it
 *     is a valid reset.
 */
#ifndef TV_BENCH_HISTOGRAM_H
#define TV_BENCH_HISTOGRAM_H

#include <stdint.h>

#define HIST_SUB_BITS 6
#define HIST_SUB_BUCKETS (1u << HIST_SUB_BITS)
/* Values below 2^46 us (about two years) are distinguished; larger clamp. */
#define HIST_MAGNITUDES 41

struct histogram {
	uint64_t count;
	uint64_t min, max;
	long double sum;
	uint32_t buckets[HIST_MAGNITUDES][HIST_SUB_BUCKETS];
};

/* Zeroes h. */
void histogram_init(struct histogram *h);
/* Records one value (negative values are recorded as 0). */
void histogram_record(struct histogram *h, int64_t v);
/* Adds every count of src into dst; src is borrowed. */
void histogram_merge(struct histogram *dst, const struct histogram *src);
/* Value at percentile p (0..100): the upper bound of the bucket holding
 * the ceil(p/100 * count)-th smallest value, clamped to max; 0 when empty. */
uint64_t histogram_percentile(const struct histogram *h, double p);
/* Arithmetic mean, 0 when empty. */
double histogram_mean(const struct histogram *h);

#endif
