/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ssepolicy.h"
#include "suites.h"

/* Every figure of the table: floor(min(initial * factor^n, max) * m). */
typedef struct {
    ssep_class c;
    int64_t expect[9]; /* per attempt, GOOD quality; -1 past the last */
} table_row;

static const table_row rows[] = {
    /* NETWORK 5s x1.5, max 300s, 8 attempts */
    { SSEP_CLASS_NETWORK, { 5000, 7500, 11250, 16875, 25312, 37968, 56953,
                            85429, SSEP_GIVE_UP } },
    /* AUTH 30s x2, max 600s, 5 attempts */
    { SSEP_CLASS_AUTH, { 30000, 60000, 120000, 240000, 480000, SSEP_GIVE_UP,
                         SSEP_GIVE_UP, SSEP_GIVE_UP, SSEP_GIVE_UP } },
    /* SERVER 10s x1.8, max 180s, 6 attempts */
    { SSEP_CLASS_SERVER, { 10000, 18000, 32400, 58320, 104976, 180000,
                           SSEP_GIVE_UP, SSEP_GIVE_UP, SSEP_GIVE_UP } },
    /* PROXY 15s x2.5, max 900s, 4 attempts */
    { SSEP_CLASS_PROXY, { 15000, 37500, 93750, 234375, SSEP_GIVE_UP,
                          SSEP_GIVE_UP, SSEP_GIVE_UP, SSEP_GIVE_UP,
                          SSEP_GIVE_UP } },
};

static void test_table_good(void)
{
    size_t i;
    uint32_t n;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const ssep_strategy *s = ssep_default_strategy(rows[i].c);
        for (n = 0; n < 9; n++) {
            int64_t got = ssep_backoff_delay(s, n, SSEP_Q_GOOD);
            if (got != rows[i].expect[n])
                fprintf(stderr, "\n  %s attempt %u: got %lld want %lld\n",
                        ssep_class_name(rows[i].c), n, (long long)got,
                        (long long)rows[i].expect[n]);
            CU_ASSERT_EQUAL(got, rows[i].expect[n]);
        }
    }
}

static void test_table_all_grades(void)
{
    static const ssep_quality qs[] = { SSEP_Q_EXCELLENT, SSEP_Q_GOOD,
                                       SSEP_Q_FAIR, SSEP_Q_POOR };
    size_t i, k;
    uint32_t n;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const ssep_strategy *s = ssep_default_strategy(rows[i].c);
        for (k = 0; k < 4; k++) {
            for (n = 0; n < 9; n++) {
                double base = fmin(s->initial_ms * pow(s->factor, n), s->max_ms);
                int64_t want = n < s->max_attempts
                    ? (int64_t)floor(base * ssep_quality_multiplier(qs[k]) + 1e-6)
                    : SSEP_GIVE_UP;
                CU_ASSERT_EQUAL(ssep_backoff_delay(s, n, qs[k]), want);
            }
        }
    }
    /* the figures quoted in the docs */
    CU_ASSERT_EQUAL(ssep_backoff_delay(ssep_default_strategy(SSEP_CLASS_PROXY),
                                       0, SSEP_Q_EXCELLENT), 7500);
    CU_ASSERT_EQUAL(ssep_backoff_delay(ssep_default_strategy(SSEP_CLASS_PROXY),
                                       1, SSEP_Q_FAIR), 56250);
    CU_ASSERT_EQUAL(ssep_backoff_delay(ssep_default_strategy(SSEP_CLASS_PROXY),
                                       3, SSEP_Q_POOR), 703125);
    CU_ASSERT_EQUAL(ssep_backoff_delay(ssep_default_strategy(SSEP_CLASS_SERVER),
                                       5, SSEP_Q_POOR), 540000);
}

static void test_cap_reached(void)
{
    ssep_strategy s = { 1000, 4000, 2.0, 10 };

    CU_ASSERT_EQUAL(ssep_backoff_delay(&s, 2, SSEP_Q_GOOD), 4000);
    CU_ASSERT_EQUAL(ssep_backoff_delay(&s, 9, SSEP_Q_GOOD), 4000);
    CU_ASSERT_EQUAL(ssep_backoff_delay(&s, 9, SSEP_Q_POOR), 12000);
    CU_ASSERT_EQUAL(ssep_backoff_delay(&s, 10, SSEP_Q_GOOD), SSEP_GIVE_UP);
}

static void test_overflow_safety(void)
{
    ssep_strategy s = { UINT32_MAX, UINT32_MAX, 100.0, 1000000 };
    ssep_strategy bad = { 5, 10, NAN, 3 };
    ssep_strategy inf = { 5, 10, INFINITY, 3 };
    uint64_t rng;
    int64_t d;

    d = ssep_backoff_delay(&s, 999999, SSEP_Q_POOR);
    CU_ASSERT_EQUAL(d, (int64_t)UINT32_MAX * 3);
    d = ssep_backoff_delay(&s, UINT32_MAX, SSEP_Q_POOR);
    CU_ASSERT_EQUAL(d, SSEP_GIVE_UP);
    CU_ASSERT_EQUAL(ssep_backoff_delay(&bad, 0, SSEP_Q_GOOD), SSEP_GIVE_UP);
    CU_ASSERT_EQUAL(ssep_backoff_delay(&inf, 0, SSEP_Q_GOOD), SSEP_GIVE_UP);
    CU_ASSERT_EQUAL(ssep_backoff_delay(NULL, 0, SSEP_Q_GOOD), SSEP_GIVE_UP);
    CU_ASSERT_EQUAL(ssep_backoff_delay(&s, 0, (ssep_quality)42),
                    (int64_t)UINT32_MAX);

    ssep_rng_seed(&rng, 1);
    d = ssep_backoff_jittered(&s, 999999, SSEP_Q_POOR, SSEP_JITTER_DECORRELATED,
                              INT64_MAX, &rng);
    CU_ASSERT(d >= (int64_t)UINT32_MAX && d <= (int64_t)UINT32_MAX * 3);
    d = ssep_backoff_jittered(&s, 0, SSEP_Q_GOOD, SSEP_JITTER_DECORRELATED,
                              INT64_MIN, &rng);
    CU_ASSERT(d >= 0);
    d = ssep_backoff_jittered(&s, 3, SSEP_Q_GOOD, SSEP_JITTER_FULL, 0, NULL);
    CU_ASSERT_EQUAL(d, (int64_t)UINT32_MAX);
    d = ssep_backoff_jittered(&s, 3, SSEP_Q_GOOD, (ssep_jitter)99, 0, &rng);
    CU_ASSERT_EQUAL(d, (int64_t)UINT32_MAX);
}

#define DRAWS 20000

static void check_spread(const char *what, const int64_t *v, int n,
                         int64_t lo, int64_t hi)
{
    int i, in = 1, buckets[10] = { 0 };
    int64_t span = hi - lo + 1;
    double mean = 0;

    for (i = 0; i < n; i++) {
        if (v[i] < lo || v[i] > hi)
            in = 0;
        else
            buckets[(v[i] - lo) * 10 / span]++;
        mean += (double)v[i] / n;
    }
    if (!in)
        fprintf(stderr, "\n  %s: a draw left [%lld, %lld]\n", what,
                (long long)lo, (long long)hi);
    CU_ASSERT(in);
    /* uniform: every tenth of the range gets 10% +- 1.5% of the draws */
    for (i = 0; i < 10; i++)
        CU_ASSERT(buckets[i] > n / 10 * 0.85 && buckets[i] < n / 10 * 1.15);
    CU_ASSERT(fabs(mean - (lo + hi) / 2.0) < span * 0.02);
}

static void test_jitter_bounds_and_spread(void)
{
    static int64_t v[DRAWS];
    const ssep_strategy *s = ssep_default_strategy(SSEP_CLASS_PROXY);
    uint64_t rng;
    int i;

    ssep_rng_seed(&rng, 42);
    for (i = 0; i < DRAWS; i++)
        v[i] = ssep_backoff_jittered(s, 1, SSEP_Q_GOOD, SSEP_JITTER_FULL, 0, &rng);
    check_spread("full", v, DRAWS, 0, 37500);

    for (i = 0; i < DRAWS; i++)
        v[i] = ssep_backoff_jittered(s, 1, SSEP_Q_GOOD, SSEP_JITTER_EQUAL, 0, &rng);
    check_spread("equal", v, DRAWS, 18750, 37500);

    for (i = 0; i < DRAWS; i++)
        v[i] = ssep_backoff_jittered(s, 1, SSEP_Q_FAIR, SSEP_JITTER_EQUAL, 0, &rng);
    check_spread("equal FAIR", v, DRAWS, 28125, 56250);

    for (i = 0; i < DRAWS; i++)
        v[i] = ssep_backoff_jittered(s, 1, SSEP_Q_GOOD, SSEP_JITTER_DECORRELATED,
                                     20000, &rng);
    check_spread("decorrelated", v, DRAWS, 15000, 60000);

    /* first decorrelated delay: prev unknown, [initial, 3*initial] */
    for (i = 0; i < DRAWS; i++)
        v[i] = ssep_backoff_jittered(s, 0, SSEP_Q_GOOD, SSEP_JITTER_DECORRELATED,
                                     0, &rng);
    check_spread("decorrelated first", v, DRAWS, 15000, 45000);

    /* decorrelated is capped by max * multiplier */
    for (i = 0; i < 1000; i++) {
        int64_t d = ssep_backoff_jittered(s, 2, SSEP_Q_EXCELLENT,
                                          SSEP_JITTER_DECORRELATED, 10000000, &rng);
        CU_ASSERT(d >= 15000 && d <= 450000);
    }
    CU_ASSERT_EQUAL(ssep_backoff_jittered(s, 1, SSEP_Q_GOOD, SSEP_JITTER_NONE,
                                          0, &rng), 37500);
    CU_ASSERT_EQUAL(ssep_backoff_jittered(s, 4, SSEP_Q_GOOD, SSEP_JITTER_FULL,
                                          0, &rng), SSEP_GIVE_UP);
}

static void test_rng(void)
{
    uint64_t a, b, z;
    int i, same = 0;

    ssep_rng_seed(&a, 7);
    ssep_rng_seed(&b, 7);
    for (i = 0; i < 100; i++)
        CU_ASSERT_EQUAL(ssep_rng_next(&a), ssep_rng_next(&b));
    ssep_rng_seed(&b, 8);
    for (i = 0; i < 100; i++)
        same += ssep_rng_next(&a) == ssep_rng_next(&b);
    CU_ASSERT_EQUAL(same, 0);
    ssep_rng_seed(&z, 0);
    CU_ASSERT(ssep_rng_next(&z) != ssep_rng_next(&z));
    CU_ASSERT_EQUAL(ssep_rng_between(&z, 5, 5), 5);
    CU_ASSERT_EQUAL(ssep_rng_between(&z, 9, 3), 9);
    (void)ssep_rng_between(&z, 0, UINT64_MAX);
    for (i = 0; i < 1000; i++) {
        uint64_t v = ssep_rng_between(&z, 10, 12);
        CU_ASSERT(v >= 10 && v <= 12);
    }
}

static void test_jitter_names(void)
{
    ssep_jitter j;

    CU_ASSERT_STRING_EQUAL(ssep_jitter_name(SSEP_JITTER_DECORRELATED), "decorrelated");
    CU_ASSERT_STRING_EQUAL(ssep_jitter_name((ssep_jitter)9), "unknown");
    CU_ASSERT_EQUAL(ssep_jitter_parse("FULL", &j), 0);
    CU_ASSERT_EQUAL(j, SSEP_JITTER_FULL);
    CU_ASSERT_EQUAL(ssep_jitter_parse("none", &j), 0);
    CU_ASSERT_EQUAL(j, SSEP_JITTER_NONE);
    CU_ASSERT_EQUAL(ssep_jitter_parse("equals", &j), -1);
    CU_ASSERT_EQUAL(ssep_jitter_parse("", &j), -1);
    CU_ASSERT_EQUAL(ssep_jitter_parse(NULL, &j), -1);
}

int register_backoff_suite(void)
{
    static const unit_test tests[] = {
        { "table at GOOD, every attempt to give-up", test_table_good },
        { "table at every grade", test_table_all_grades },
        { "cap", test_cap_reached },
        { "overflow safety", test_overflow_safety },
        { "jitter bounds and spread", test_jitter_bounds_and_spread },
        { "rng", test_rng },
        { "jitter names", test_jitter_names },
        { NULL, NULL }
    };
    return add_suite("backoff", tests);
}
