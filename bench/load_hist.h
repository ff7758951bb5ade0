/* Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0 */

#ifndef LOAD_HIST_H
#define LOAD_HIST_H

#include <stdint.h>

/* Fixed log-linear histogram: values below 2^SUB_BITS are exact, above
 * that each power of two is split into 2^SUB_BITS buckets, so a bucket's
 * midpoint is within 1/256 of any value in it. */
#define HIST_SUB_BITS 7
#define HIST_SUB      (1u << HIST_SUB_BITS)
#define HIST_BUCKETS  ((64 - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
    uint64_t count;
    uint64_t min, max;
    double sum;
    uint64_t n[HIST_BUCKETS];
};

void hist_add(struct hist *h, uint64_t v);

/* The value at quantile q (0..1); 0 for an empty histogram. */
double hist_quantile(const struct hist *h, double q);

/* [lo, hi] of bucket i, both inclusive. */
void hist_bounds(unsigned i, uint64_t *lo, uint64_t *hi);

#endif
