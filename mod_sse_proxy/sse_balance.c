/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include <math.h>

#include "sse_balance.h"

double sse_slow_start_share(apr_time_t from, apr_int64_t window_ms,
                            apr_time_t now)
{
    apr_time_t window = apr_time_from_msec(window_ms);

    if (window_ms <= 0 || now >= from + window)
        return 1.0;
    if (now <= from)
        return 0.0;
    return (double)(now - from) / (double)window;
}

int sse_slow_start_admits(double share, apr_uint64_t draw)
{
    if (share >= 1.0)
        return 1;
    if (share <= 0.0)
        return 0;
    /* the top 53 bits, exact in a double: uniform in [0, 1) by 2^-53 */
    return (double)(draw >> 11) < ldexp(share, 53);
}

apr_uint32_t sse_grade_thirds(ssep_quality q)
{
    double m = ssep_quality_multiplier(q);
    long thirds = m > 0 ? lround(3.0 / m) : 3;

    return thirds > 0 ? (apr_uint32_t)thirds : 1;
}

apr_uint64_t sse_stream_weight(int lbfactor, ssep_quality q)
{
    apr_uint64_t factor = lbfactor > 0 ? (apr_uint64_t)lbfactor : 100;

    return factor * sse_grade_thirds(q);
}

int sse_streams_compare(apr_uint64_t streams_a, apr_uint64_t weight_a,
                        apr_uint64_t streams_b, apr_uint64_t weight_b)
{
    /* (a + 1) / wa against (b + 1) / wb, cross-multiplied: stream counts
     * stay far below 2^32 and weights below 2^16, so nothing overflows */
    apr_uint64_t lhs = (streams_a + 1) * (weight_b ? weight_b : 1);
    apr_uint64_t rhs = (streams_b + 1) * (weight_a ? weight_a : 1);

    return lhs < rhs ? -1 : lhs > rhs;
}
