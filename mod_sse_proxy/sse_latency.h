/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* The latency the relay adds to each event: from the read that brought
 * the event's last byte from the backend to the end of the write that
 * handed it to the client's connection.  A fixed histogram in the shared
 * counters, so the status page shows it live for the whole server. */
#ifndef SSE_LATENCY_H
#define SSE_LATENCY_H

#include "apr.h"
#include "apr_time.h"

/* Upper bounds of the buckets in microseconds; a last bucket holds the
 * rest (Prometheus's le="+Inf"). */
#define SSE_LATENCY_BOUNDS 12
#define SSE_LATENCY_BUCKETS (SSE_LATENCY_BOUNDS + 1)

typedef struct {
    apr_uint64_t events[SSE_LATENCY_BUCKETS];
    apr_uint64_t sum_us;
} sse_latency_hist;

extern const apr_uint32_t sse_latency_bounds_us[SSE_LATENCY_BOUNDS];

/* Counts n events that waited us microseconds in the shared histogram. */
void sse_latency_record(apr_interval_time_t us, apr_uint64_t n);

/* A snapshot of h: the bucket counts and their total. */
apr_uint64_t sse_latency_snapshot(const sse_latency_hist *h,
                                  apr_uint64_t counts[SSE_LATENCY_BUCKETS]);

/* The upper bound (us) of the bucket holding quantile q (0 < q <= 1) of
 * the snapshot, -1 for the open last bucket or when nothing was counted. */
apr_int64_t sse_latency_quantile(const apr_uint64_t counts[SSE_LATENCY_BUCKETS],
                                 apr_uint64_t total, double q);

#endif
