/* Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0 */

/* Latency histograms: fixed log-linear buckets instead of samples, so a
 * run of any length keeps the same memory and quantiles stay exact to a
 * bucket's width. */
#include "load_hist.h"

static unsigned hist_index(uint64_t v)
{
    unsigned e;

    if (v < HIST_SUB)
        return (unsigned)v;
    e = 63u - (unsigned)__builtin_clzll(v);
    return (e - HIST_SUB_BITS + 1) * HIST_SUB
           + (unsigned)((v >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1));
}

/* [lo, hi] of bucket i, both inclusive so the top bucket cannot overflow. */
void hist_bounds(unsigned i, uint64_t *lo, uint64_t *hi)
{
    unsigned e, shift;

    if (i < HIST_SUB) {
        *lo = *hi = i;
        return;
    }
    e = i / HIST_SUB + HIST_SUB_BITS - 1;
    shift = e - HIST_SUB_BITS;
    *lo = ((uint64_t)HIST_SUB + i % HIST_SUB) << shift;
    *hi = *lo + (((uint64_t)1 << shift) - 1);
}

void hist_add(struct hist *h, uint64_t v)
{
    if (h->count == 0 || v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    h->count++;
    h->sum += (double)v;
    h->n[hist_index(v)]++;
}

/* The value at quantile q, as its bucket's midpoint held within the
 * exact extremes. */
double hist_quantile(const struct hist *h, double q)
{
    uint64_t rank, seen = 0, lo, hi;
    double mid;
    unsigned i;

    if (h->count == 0)
        return 0;
    rank = (uint64_t)(q * (double)h->count);
    if ((double)rank < q * (double)h->count)
        rank++;
    if (rank < 1)
        rank = 1;
    for (i = 0; i < HIST_BUCKETS; i++) {
        seen += h->n[i];
        if (seen >= rank)
            break;
    }
    if (i == HIST_BUCKETS)
        return (double)h->max;
    hist_bounds(i, &lo, &hi);
    mid = (double)lo + (double)(hi - lo) / 2;
    if (mid < (double)h->min)
        mid = (double)h->min;
    if (mid > (double)h->max)
        mid = (double)h->max;
    return mid;
}
