/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ssepolicy.h"
#include "suites.h"

static void expect_strategy(ssep_class c, uint32_t initial, uint32_t max,
                            double factor, uint32_t attempts)
{
    const ssep_strategy *s = ssep_default_strategy(c);

    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->initial_ms, initial);
    CU_ASSERT_EQUAL(s->max_ms, max);
    CU_ASSERT_DOUBLE_EQUAL(s->factor, factor, 1e-12);
    CU_ASSERT_EQUAL(s->max_attempts, attempts);
    CU_ASSERT_EQUAL(ssep_strategy_validate(s), 0);
}

static void test_default_table(void)
{
    expect_strategy(SSEP_CLASS_NETWORK, 5000, 300000, 1.5, 8);
    expect_strategy(SSEP_CLASS_AUTH, 30000, 600000, 2.0, 5);
    expect_strategy(SSEP_CLASS_SERVER, 10000, 180000, 1.8, 6);
    expect_strategy(SSEP_CLASS_PROXY, 15000, 900000, 2.5, 4);
    CU_ASSERT_PTR_NULL(ssep_default_strategy(SSEP_CLASS_NONE));
    CU_ASSERT_PTR_NULL(ssep_default_strategy((ssep_class)9));
}

static void test_parse_full(void)
{
    ssep_strategy s = *ssep_default_strategy(SSEP_CLASS_NETWORK);
    char err[128];

    CU_ASSERT_EQUAL(ssep_strategy_parse(&s, "initial=15s max=15m factor=2.5 "
                                        "attempts=4", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(s.initial_ms, 15000);
    CU_ASSERT_EQUAL(s.max_ms, 900000);
    CU_ASSERT_DOUBLE_EQUAL(s.factor, 2.5, 1e-12);
    CU_ASSERT_EQUAL(s.max_attempts, 4);
    CU_ASSERT_STRING_EQUAL(err, "");
}

static void test_parse_subset_and_units(void)
{
    ssep_strategy s = *ssep_default_strategy(SSEP_CLASS_SERVER);
    char err[128];

    CU_ASSERT_EQUAL(ssep_strategy_parse(&s, "initial=250ms", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(s.initial_ms, 250);
    CU_ASSERT_EQUAL(s.max_ms, 180000);                /* untouched */
    CU_ASSERT_DOUBLE_EQUAL(s.factor, 1.8, 1e-12);
    CU_ASSERT_EQUAL(s.max_attempts, 6);

    CU_ASSERT_EQUAL(ssep_strategy_parse(&s, " max=1h,factor=1.05\tattempts=100 ",
                                        err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(s.max_ms, 3600000);
    CU_ASSERT_DOUBLE_EQUAL(s.factor, 1.05, 1e-15);
    CU_ASSERT_EQUAL(s.max_attempts, 100);

    CU_ASSERT_EQUAL(ssep_strategy_parse(&s, "initial=1.5s max=2.5m", err,
                                        sizeof(err)), 0);
    CU_ASSERT_EQUAL(s.initial_ms, 1500);
    CU_ASSERT_EQUAL(s.max_ms, 150000);

    /* the empty subset changes nothing */
    CU_ASSERT_EQUAL(ssep_strategy_parse(&s, "", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(s.initial_ms, 1500);
}

typedef struct {
    const char *text;
    const char *must_mention;
} bad_case;

static const bad_case bad[] = {
    { "initial=5", "initial=5" },            /* unit missing */
    { "initial=5x", "initial=5x" },
    { "initial=0s", "initial=0s" },
    { "initial=-5s", "initial=-5s" },
    { "initial=1e3s", "initial=1e3s" },
    { "initial=0.5ms", "initial=0.5ms" },     /* not a whole ms */
    { "initial=5000000h", "initial=5000000h" },
    { "initial=", "initial=" },
    { "max=5", "max=5" },
    { "factor=0.5", "factor=0.5" },
    { "factor=abc", "factor=abc" },
    { "factor=101", "factor=101" },
    { "factor=1.5x", "factor=1.5x" },
    { "factor=1..5", "factor=1..5" },
    { "attempts=0", "attempts=0" },
    { "attempts=-1", "attempts=-1" },
    { "attempts=2.5", "attempts=2.5" },
    { "attempts=99999999999999999999", "attempts=99999999999999999999" },
    { "tries=3", "tries" },
    { "initial", "initial" },
    { "=5s", "=5s" },
    { "initial=5s initial=6s", "twice" },
    { "initial=10m max=1m", "larger than max" },
};

static void test_parse_errors(void)
{
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ssep_strategy s = *ssep_default_strategy(SSEP_CLASS_PROXY);
        ssep_strategy before = s;
        char err[160] = "";
        int rc = ssep_strategy_parse(&s, bad[i].text, err, sizeof(err));

        if (rc != -1 || !strstr(err, bad[i].must_mention))
            fprintf(stderr, "\n  '%s' -> rc=%d err='%s'\n", bad[i].text, rc, err);
        CU_ASSERT_EQUAL(rc, -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].must_mention));
        /* a failed parse leaves the strategy as it was */
        CU_ASSERT_EQUAL(memcmp(&s, &before, sizeof(s)), 0);
    }
}

static void test_parse_edge_args(void)
{
    ssep_strategy s = *ssep_default_strategy(SSEP_CLASS_PROXY);
    char tiny[4];

    CU_ASSERT_EQUAL(ssep_strategy_parse(NULL, "initial=1s", NULL, 0), -1);
    CU_ASSERT_EQUAL(ssep_strategy_parse(&s, NULL, NULL, 0), -1);
    /* a tiny error buffer is still NUL-terminated */
    CU_ASSERT_EQUAL(ssep_strategy_parse(&s, "bogus", tiny, sizeof(tiny)), -1);
    CU_ASSERT_EQUAL(strlen(tiny), 3);
}

static void test_validate_and_format(void)
{
    ssep_strategy s = { 100, 50, 2.0, 3 };
    char buf[128];

    CU_ASSERT_EQUAL(ssep_strategy_validate(&s), -1);     /* initial > max */
    s.max_ms = 100;
    CU_ASSERT_EQUAL(ssep_strategy_validate(&s), 0);
    s.factor = NAN;
    CU_ASSERT_EQUAL(ssep_strategy_validate(&s), -1);
    s.factor = 0.9;
    CU_ASSERT_EQUAL(ssep_strategy_validate(&s), -1);
    s.factor = 2.0;
    s.max_attempts = 0;
    CU_ASSERT_EQUAL(ssep_strategy_validate(&s), -1);
    CU_ASSERT_EQUAL(ssep_strategy_validate(NULL), -1);

    ssep_strategy_format(ssep_default_strategy(SSEP_CLASS_PROXY), buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "initial=15000ms max=900000ms factor=2.5 attempts=4");
    /* the canonical form parses back to the same strategy */
    s = *ssep_default_strategy(SSEP_CLASS_NETWORK);
    CU_ASSERT_EQUAL(ssep_strategy_parse(&s, buf, NULL, 0), 0);
    CU_ASSERT_EQUAL(memcmp(&s, ssep_default_strategy(SSEP_CLASS_PROXY), sizeof(s)), 0);
}

int register_strategy_suite(void)
{
    static const unit_test tests[] = {
        { "default table", test_default_table },
        { "parse full spec", test_parse_full },
        { "parse subset and units", test_parse_subset_and_units },
        { "parse errors name the token", test_parse_errors },
        { "parse edge arguments", test_parse_edge_args },
        { "validate and format", test_validate_and_format },
        { NULL, NULL }
    };
    return add_suite("strategy", tests);
}
