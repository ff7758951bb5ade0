/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include "sse_latency.h"
#include "sse_stats.h"

/* Fine below a millisecond, where a healthy relay sits, and wide enough
 * to show the design's 100 ms target and what lies past it. */
const apr_uint32_t sse_latency_bounds_us[SSE_LATENCY_BOUNDS] = {
    50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 100000, 250000,
    1000000
};

void sse_latency_record(apr_interval_time_t us, apr_uint64_t n)
{
    sse_counters *c = sse_stats();
    int i = 0;

    if (!c || !n)
        return;
    if (us < 0)
        us = 0;
    while (i < SSE_LATENCY_BOUNDS && us > (apr_interval_time_t)
                                          sse_latency_bounds_us[i])
        i++;
    __atomic_fetch_add(&c->event_latency.events[i], n, __ATOMIC_RELAXED);
    __atomic_fetch_add(&c->event_latency.sum_us, (apr_uint64_t)us * n,
                       __ATOMIC_RELAXED);
}

apr_uint64_t sse_latency_snapshot(const sse_latency_hist *h,
                                  apr_uint64_t counts[SSE_LATENCY_BUCKETS])
{
    apr_uint64_t total = 0;
    int i;

    for (i = 0; i < SSE_LATENCY_BUCKETS; i++) {
        counts[i] = __atomic_load_n(&h->events[i], __ATOMIC_RELAXED);
        total += counts[i];
    }
    return total;
}

apr_int64_t sse_latency_quantile(const apr_uint64_t counts[SSE_LATENCY_BUCKETS],
                                 apr_uint64_t total, double q)
{
    apr_uint64_t seen = 0, want;
    int i;

    if (!total)
        return -1;
    want = (apr_uint64_t)(q * (double)total);
    if (want < 1)
        want = 1;
    for (i = 0; i < SSE_LATENCY_BOUNDS; i++) {
        seen += counts[i];
        if (seen >= want)
            return sse_latency_bounds_us[i];
    }
    return -1;
}
