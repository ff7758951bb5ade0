/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* Slow start's share and bystreams' weights (sse_balance.c), and the
 * SSEProxySlowStart argument (sse_validate.c). */
#include <string.h>

#include "apr_general.h"
#include "apr_pools.h"

#include "sse_balance.h"
#include "sse_validate.h"
#include "suites.h"

static apr_pool_t *pool;

static int setup(void)
{
    if (apr_initialize() != APR_SUCCESS)
        return 1;
    return apr_pool_create(&pool, NULL) != APR_SUCCESS;
}

static int teardown(void)
{
    apr_pool_destroy(pool);
    apr_terminate();
    return 0;
}

#define T0 APR_INT64_C(1700000000000000)

static void test_share_ramps_linearly(void)
{
    CU_ASSERT_DOUBLE_EQUAL(sse_slow_start_share(T0, 10000, T0), 0.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(sse_slow_start_share(T0, 10000, T0 - 5), 0.0,
                           1e-12);
    CU_ASSERT_DOUBLE_EQUAL(sse_slow_start_share(T0, 10000,
                                                T0 + apr_time_from_msec(2500)),
                           0.25, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(sse_slow_start_share(T0, 10000,
                                                T0 + apr_time_from_msec(9999)),
                           0.9999, 1e-12);
    CU_ASSERT_EQUAL(sse_slow_start_share(T0, 10000,
                                         T0 + apr_time_from_msec(10000)), 1.0);
    CU_ASSERT_EQUAL(sse_slow_start_share(T0, 10000, T0 + apr_time_from_sec(99)),
                    1.0);
    /* no window: always the whole share */
    CU_ASSERT_EQUAL(sse_slow_start_share(T0, 0, T0), 1.0);
    CU_ASSERT_EQUAL(sse_slow_start_share(T0, -1, T0 - 1), 1.0);
}

static void test_admits_by_share(void)
{
    apr_uint64_t half = APR_UINT64_C(1) << 63;
    apr_uint64_t rng = 42, draws = 100000, admitted = 0, i;

    CU_ASSERT_TRUE(sse_slow_start_admits(1.0, ~APR_UINT64_C(0)));
    CU_ASSERT_FALSE(sse_slow_start_admits(0.0, 0));
    CU_ASSERT_TRUE(sse_slow_start_admits(0.5, half - 1));
    CU_ASSERT_FALSE(sse_slow_start_admits(0.5, half));
    CU_ASSERT_FALSE(sse_slow_start_admits(-1.0, 0));
    /* uniform draws admit the share's proportion */
    for (i = 0; i < draws; i++)
        admitted += sse_slow_start_admits(0.3, ssep_rng_next(&rng));
    CU_ASSERT(admitted > draws * 29 / 100 && admitted < draws * 31 / 100);
}

static void test_grade_weights(void)
{
    /* the inverse of each grade's backoff multiplier, in thirds */
    CU_ASSERT_EQUAL(sse_grade_thirds(SSEP_Q_EXCELLENT), 6);
    CU_ASSERT_EQUAL(sse_grade_thirds(SSEP_Q_GOOD), 3);
    CU_ASSERT_EQUAL(sse_grade_thirds(SSEP_Q_FAIR), 2);
    CU_ASSERT_EQUAL(sse_grade_thirds(SSEP_Q_POOR), 1);
    /* mod_proxy keeps loadfactor times 100; unset is 1 */
    CU_ASSERT_EQUAL(sse_stream_weight(100, SSEP_Q_GOOD), 300);
    CU_ASSERT_EQUAL(sse_stream_weight(200, SSEP_Q_POOR), 200);
    CU_ASSERT_EQUAL(sse_stream_weight(0, SSEP_Q_GOOD), 300);
}

static void test_compare(void)
{
    apr_uint64_t good = sse_stream_weight(100, SSEP_Q_GOOD);
    apr_uint64_t poor = sse_stream_weight(100, SSEP_Q_POOR);

    CU_ASSERT(sse_streams_compare(0, good, 1, good) < 0);
    CU_ASSERT(sse_streams_compare(3, good, 3, good) == 0);
    CU_ASSERT(sse_streams_compare(4, good, 3, good) > 0);
    /* one stream on POOR weighs as much as three on GOOD, with the new one */
    CU_ASSERT(sse_streams_compare(0, poor, 2, good) == 0);
    CU_ASSERT(sse_streams_compare(0, poor, 1, good) > 0);
}

/* Electing by the comparison, one stream at a time, ends with counts in
 * proportion to the weights. */
static void test_elections_end_in_proportion(void)
{
    apr_uint64_t w[3], n[3] = { 0, 0, 0 };
    int i, k;

    w[0] = sse_stream_weight(200, SSEP_Q_GOOD);
    w[1] = sse_stream_weight(100, SSEP_Q_GOOD);
    w[2] = sse_stream_weight(100, SSEP_Q_POOR);
    for (k = 0; k < 1000; k++) {
        int best = 0;
        for (i = 1; i < 3; i++)
            if (sse_streams_compare(n[i], w[i], n[best], w[best]) < 0)
                best = i;
        n[best]++;
    }
    /* weights 6:3:1 */
    CU_ASSERT(n[0] >= 599 && n[0] <= 601);
    CU_ASSERT(n[1] >= 299 && n[1] <= 301);
    CU_ASSERT(n[2] >= 99 && n[2] <= 101);
}

static void expect_ms(const char *arg, apr_int64_t want)
{
    apr_int64_t v = -12345;

    CU_ASSERT_PTR_NULL(sse_parse_slow_start(pool, "D", arg, &v));
    CU_ASSERT_EQUAL(v, want);
}

static void refuse(const char *arg)
{
    apr_int64_t v = -12345;
    const char *err = sse_parse_slow_start(pool, "SSEProxySlowStart", arg, &v);

    CU_ASSERT_PTR_NOT_NULL_FATAL(err);
    CU_ASSERT_EQUAL(strncmp(err, "SSEProxySlowStart: ", 19), 0);
    CU_ASSERT_EQUAL(v, -12345);
}

static void test_slow_start_argument(void)
{
    expect_ms("off", 0);
    expect_ms("OFF", 0);
    expect_ms("30", 30000);
    expect_ms("30s", 30000);
    expect_ms("2m", 120000);
    expect_ms("2M", 120000);
    expect_ms("1h", 3600000);
    expect_ms("1500ms", 1500);
    expect_ms("1000ms", 1000);
    expect_ms("3600", 3600000);
    refuse("");
    refuse("0");
    refuse("999ms");
    refuse("3601s");
    refuse("2h");
    refuse("30 s");
    refuse("1.5s");
    refuse("-5s");
    refuse("s");
    refuse("30sec");
    refuse("99999999999999999999s");
    CU_ASSERT_STRING_EQUAL(
        sse_parse_slow_start(pool, "SSEProxySlowStart", "soon", &(apr_int64_t){0}),
        "SSEProxySlowStart: 'soon' is not valid; use a duration from 1s to "
        "1h: a whole number with a unit of ms, s, m or h (seconds without "
        "one), e.g. 30s; or 'off'");
}

static const unit_test tests[] = {
    { "slow start share ramps linearly", test_share_ramps_linearly },
    { "slow start admits by its share", test_admits_by_share },
    { "bystreams grade weights", test_grade_weights },
    { "bystreams load comparison", test_compare },
    { "bystreams elections end in proportion", test_elections_end_in_proportion },
    { "SSEProxySlowStart", test_slow_start_argument },
    { NULL, NULL }
};

int register_balance_suite(void)
{
    return add_suite_fixture("balance", setup, teardown, tests);
}
