/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* The arithmetic of slow start and of lbmethod=bystreams.  Free of
 * httpd types (APR and libssepolicy only), for the unit tests. */
#ifndef SSE_BALANCE_H
#define SSE_BALANCE_H

#include "apr.h"
#include "apr_time.h"

#include "ssepolicy.h"

/* A member's share of new streams during slow start: 0 at from, growing
 * linearly to 1 window_ms later; 1 outside the window, and with no
 * window (window_ms <= 0). */
double sse_slow_start_share(apr_time_t from, apr_int64_t window_ms,
                            apr_time_t now);

/* 1 when the member in slow start, at share, takes a stream: draw is a
 * uniform 64-bit random number, so it does with probability share. */
int sse_slow_start_admits(double share, apr_uint64_t draw);

/* The weight a quality grade gives a member under bystreams, in thirds:
 * the inverse of the grade's backoff multiplier (EXCELLENT 2, GOOD 1,
 * FAIR 2/3, POOR 1/3), so 6, 3, 2 and 1. */
apr_uint32_t sse_grade_thirds(ssep_quality q);

/* A member's weight under bystreams: its loadfactor (mod_proxy keeps it
 * times 100; 0 counts as the default, 1) times its grade's weight. */
apr_uint64_t sse_stream_weight(int lbfactor, ssep_quality q);

/* Compares two members by the load each would carry with one stream
 * more, streams / weight: negative when a's is lower, 0 when equal.
 * Exact (integers), so that ties are ties. */
int sse_streams_compare(apr_uint64_t streams_a, apr_uint64_t weight_a,
                        apr_uint64_t streams_b, apr_uint64_t weight_b);

#endif
