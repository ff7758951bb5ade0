/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include <string.h>

#include "ssepolicy.h"
#include "suites.h"

static void test_grade_table(void)
{
    static const struct {
        ssep_quality q;
        const char *name;
        uint32_t threshold;
        double mult;
    } rows[] = {
        { SSEP_Q_EXCELLENT, "EXCELLENT", 100, 0.5 },
        { SSEP_Q_GOOD, "GOOD", 500, 1.0 },
        { SSEP_Q_FAIR, "FAIR", 2000, 1.5 },
        { SSEP_Q_POOR, "POOR", 5000, 3.0 },
    };
    size_t i;

    for (i = 0; i < 4; i++) {
        CU_ASSERT_STRING_EQUAL(ssep_quality_name(rows[i].q), rows[i].name);
        CU_ASSERT_EQUAL(ssep_quality_threshold_ms(rows[i].q), rows[i].threshold);
        CU_ASSERT_DOUBLE_EQUAL(ssep_quality_multiplier(rows[i].q), rows[i].mult, 0);
    }
    CU_ASSERT_STRING_EQUAL(ssep_quality_name((ssep_quality)4), "UNKNOWN");
    CU_ASSERT_DOUBLE_EQUAL(ssep_quality_multiplier((ssep_quality)-3), 1.0, 0);
}

static void fill(ssep_tracker *t, uint32_t ms, int n)
{
    int i;

    for (i = 0; i < n; i++)
        ssep_tracker_latency(t, ms);
}

static void test_needs_three_samples(void)
{
    ssep_tracker t;

    ssep_tracker_init(&t);
    CU_ASSERT_EQUAL(ssep_tracker_grade(&t, 0), SSEP_Q_GOOD);
    fill(&t, 10, 2);
    CU_ASSERT_EQUAL(ssep_tracker_grade(&t, 0), SSEP_Q_GOOD);
    fill(&t, 10, 1);
    CU_ASSERT_EQUAL(ssep_tracker_grade(&t, 0), SSEP_Q_EXCELLENT);

    ssep_tracker_init(&t);
    fill(&t, 9000, 2);                     /* terrible, but too few */
    CU_ASSERT_EQUAL(ssep_tracker_grade(&t, 0), SSEP_Q_GOOD);
    CU_ASSERT_EQUAL(ssep_tracker_grade(NULL, 0), SSEP_Q_GOOD);
}

static void test_grades_by_latency(void)
{
    static const struct { uint32_t ms; ssep_quality q; } rows[] = {
        { 0, SSEP_Q_EXCELLENT }, { 99, SSEP_Q_EXCELLENT },
        { 100, SSEP_Q_GOOD }, { 499, SSEP_Q_GOOD },
        { 500, SSEP_Q_FAIR }, { 1999, SSEP_Q_FAIR },
        { 2000, SSEP_Q_POOR }, { 5000, SSEP_Q_POOR }, { UINT32_MAX, SSEP_Q_POOR },
    };
    size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        ssep_tracker t;
        ssep_tracker_init(&t);
        fill(&t, rows[i].ms, 5);
        CU_ASSERT_EQUAL(ssep_tracker_grade(&t, 1000), rows[i].q);
    }
}

static void test_grades_by_error_rate(void)
{
    /* 10 attempts with k failures, latency excellent */
    static const struct { int failures; ssep_quality q; } rows[] = {
        { 0, SSEP_Q_EXCELLENT }, { 1, SSEP_Q_GOOD }, { 2, SSEP_Q_GOOD },
        { 3, SSEP_Q_FAIR }, { 4, SSEP_Q_FAIR }, { 5, SSEP_Q_POOR },
        { 10, SSEP_Q_POOR },
    };
    size_t i;
    int k;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        ssep_tracker t;
        ssep_tracker_init(&t);
        fill(&t, 20, 3);
        for (k = 0; k < 10; k++)
            ssep_tracker_attempt(&t, k < rows[i].failures, 60000 + k * 1000);
        CU_ASSERT_EQUAL(ssep_tracker_grade(&t, 70000), rows[i].q);
    }
}

/* The seed's code divided the 10-sample sum by the whole history length;
 * a true mean of the last 10 is wanted. */
static void test_true_mean_of_last_ten(void)
{
    ssep_tracker t;

    ssep_tracker_init(&t);
    fill(&t, 3000, 50);                    /* old, slow history */
    fill(&t, 50, 10);                      /* the last 10 are fast */
    CU_ASSERT_DOUBLE_EQUAL(ssep_tracker_mean_latency(&t), 50.0, 1e-9);
    CU_ASSERT_EQUAL(ssep_tracker_samples(&t), 10);
    CU_ASSERT_EQUAL(ssep_tracker_grade(&t, 0), SSEP_Q_EXCELLENT);

    ssep_tracker_init(&t);
    ssep_tracker_latency(&t, 100);
    ssep_tracker_latency(&t, 200);
    ssep_tracker_latency(&t, 600);
    CU_ASSERT_DOUBLE_EQUAL(ssep_tracker_mean_latency(&t), 300.0, 1e-9);
    CU_ASSERT_EQUAL(ssep_tracker_grade(&t, 0), SSEP_Q_GOOD);
    /* the buggy formula would have given sum/10 = 90 ms: EXCELLENT */
    CU_ASSERT_DOUBLE_EQUAL(ssep_tracker_mean_latency(NULL), 0, 0);
}

/* The seed's code divided the error count by a constant 10; a true rate
 * over the attempts of the last five minutes is wanted. */
static void test_true_error_rate(void)
{
    ssep_tracker t;
    int i;

    ssep_tracker_init(&t);
    CU_ASSERT_DOUBLE_EQUAL(ssep_tracker_error_rate(&t, 0), 0, 0);
    /* 2 attempts, 1 failed: 0.5, not 1/10 */
    ssep_tracker_attempt(&t, 1, 1000);
    ssep_tracker_attempt(&t, 0, 2000);
    CU_ASSERT_DOUBLE_EQUAL(ssep_tracker_error_rate(&t, 3000), 0.5, 1e-12);
    fill(&t, 10, 3);
    CU_ASSERT_EQUAL(ssep_tracker_grade(&t, 3000), SSEP_Q_POOR);

    /* 100 attempts, 20 failures: 0.2, not 2.0 */
    ssep_tracker_init(&t);
    for (i = 0; i < 100; i++)
        ssep_tracker_attempt(&t, i % 5 == 0, 10000 + (uint64_t)i * 100);
    CU_ASSERT_DOUBLE_EQUAL(ssep_tracker_error_rate(&t, 30000), 0.2, 1e-12);
}

static void test_window_is_five_minutes(void)
{
    ssep_tracker t;
    const uint64_t t0 = 1000000;

    ssep_tracker_init(&t);
    ssep_tracker_attempt(&t, 1, t0);
    ssep_tracker_attempt(&t, 1, t0);
    CU_ASSERT_DOUBLE_EQUAL(ssep_tracker_error_rate(&t, t0 + 290000), 1.0, 0);
    /* past the window the old failures no longer count */
    CU_ASSERT_DOUBLE_EQUAL(ssep_tracker_error_rate(&t, t0 + 300000 + 5000), 0, 0);
    ssep_tracker_attempt(&t, 0, t0 + 400000);
    CU_ASSERT_DOUBLE_EQUAL(ssep_tracker_error_rate(&t, t0 + 400000), 0, 0);
    /* a ring slot reused after a full lap starts from zero */
    ssep_tracker_attempt(&t, 1, t0 + 400000 + 300000);
    CU_ASSERT_DOUBLE_EQUAL(ssep_tracker_error_rate(&t, t0 + 700000), 1.0, 0);
    /* clock stepped back: nothing from the future counts, no crash */
    CU_ASSERT_DOUBLE_EQUAL(ssep_tracker_error_rate(&t, 0), 0, 0);
    CU_ASSERT_EQUAL(t.total_attempts, 4);
    CU_ASSERT_EQUAL(t.total_failures, 3);
}

static void test_tracker_is_shm_safe(void)
{
    ssep_tracker t, copy;
    int i;

    /* a garbage state (as from uninitialised shared memory) must not
     * make the functions read or write out of bounds */
    memset(&t, 0xff, sizeof(t));
    ssep_tracker_latency(&t, 5);
    ssep_tracker_attempt(&t, 1, 12345);
    (void)ssep_tracker_grade(&t, 12345);
    (void)ssep_tracker_error_rate(&t, 12345);
    CU_ASSERT(ssep_tracker_samples(&t) <= SSEP_TRACKER_SAMPLES);

    /* plain memcpy is a faithful copy: no pointers inside */
    ssep_tracker_init(&t);
    for (i = 0; i < 7; i++)
        ssep_tracker_latency(&t, 700);
    memcpy(&copy, &t, sizeof(t));
    CU_ASSERT_EQUAL(ssep_tracker_grade(&copy, 0), SSEP_Q_FAIR);
    ssep_tracker_init(NULL);
    ssep_tracker_latency(NULL, 1);
    ssep_tracker_attempt(NULL, 1, 1);
}

int register_quality_suite(void)
{
    static const unit_test tests[] = {
        { "grade table", test_grade_table },
        { "GOOD until three samples", test_needs_three_samples },
        { "grades by latency", test_grades_by_latency },
        { "grades by error rate", test_grades_by_error_rate },
        { "true mean of the last ten samples", test_true_mean_of_last_ten },
        { "true error rate", test_true_error_rate },
        { "five minute window", test_window_is_five_minutes },
        { "state is shared-memory safe", test_tracker_is_shm_safe },
        { NULL, NULL }
    };
    return add_suite("quality", tests);
}
