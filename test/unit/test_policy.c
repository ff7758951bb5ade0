/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "ssepolicy.h"
#include "suites.h"

static void test_policy_defaults(void)
{
    ssep_policy p;
    int c;

    ssep_policy_init(&p);
    CU_ASSERT_EQUAL(p.jitter, SSEP_JITTER_EQUAL);
    for (c = SSEP_CLASS_NETWORK; c < SSEP_CLASS_COUNT; c++)
        CU_ASSERT_EQUAL(memcmp(ssep_policy_strategy(&p, (ssep_class)c),
                               ssep_default_strategy((ssep_class)c),
                               sizeof(ssep_strategy)), 0);
    CU_ASSERT_PTR_NULL(ssep_policy_strategy(&p, SSEP_CLASS_NONE));
    CU_ASSERT_PTR_NULL(ssep_policy_strategy(NULL, SSEP_CLASS_PROXY));
}

static const char expected_json[] =
    "{\"version\":\"" SSEP_VERSION_STRING "\",\"jitter\":\"equal\",\"strategies\":{"
    "\"NETWORK_ERROR\":{\"initial_ms\":5000,\"max_ms\":300000,\"factor\":1.5,\"max_attempts\":8},"
    "\"AUTH_ERROR\":{\"initial_ms\":30000,\"max_ms\":600000,\"factor\":2,\"max_attempts\":5},"
    "\"SERVER_ERROR\":{\"initial_ms\":10000,\"max_ms\":180000,\"factor\":1.8,\"max_attempts\":6},"
    "\"PROXY_ERROR\":{\"initial_ms\":15000,\"max_ms\":900000,\"factor\":2.5,\"max_attempts\":4}},"
    "\"quality\":{"
    "\"EXCELLENT\":{\"latency_threshold_ms\":100,\"multiplier\":0.5},"
    "\"GOOD\":{\"latency_threshold_ms\":500,\"multiplier\":1},"
    "\"FAIR\":{\"latency_threshold_ms\":2000,\"multiplier\":1.5},"
    "\"POOR\":{\"latency_threshold_ms\":5000,\"multiplier\":3}}}";

static void test_json_export(void)
{
    ssep_policy p;
    char buf[2048];
    int n;

    ssep_policy_init(&p);
    n = ssep_policy_json(&p, buf, sizeof(buf));
    CU_ASSERT_EQUAL(n, (int)strlen(expected_json));
    CU_ASSERT_STRING_EQUAL(buf, expected_json);
}

static void test_json_truncation(void)
{
    ssep_policy p;
    char small[40];
    int need;

    ssep_policy_init(&p);
    need = ssep_policy_json(&p, NULL, 0);
    CU_ASSERT_EQUAL(need, (int)strlen(expected_json));
    memset(small, 'Z', sizeof(small));
    CU_ASSERT_EQUAL(ssep_policy_json(&p, small, sizeof(small)), need);
    CU_ASSERT_EQUAL(strlen(small), sizeof(small) - 1);
    CU_ASSERT_EQUAL(strncmp(small, expected_json, sizeof(small) - 1), 0);
    CU_ASSERT_EQUAL(ssep_policy_json(NULL, small, sizeof(small)), -1);
    CU_ASSERT_STRING_EQUAL(small, "");
}

static void test_json_custom_and_locale(void)
{
    ssep_policy p;
    char buf[2048];
    const char *old;

    ssep_policy_init(&p);
    p.jitter = SSEP_JITTER_DECORRELATED;
    CU_ASSERT_EQUAL(ssep_strategy_parse(&p.strategy[SSEP_CLASS_PROXY],
                                        "factor=1.25 initial=1s", NULL, 0), 0);
    /* a decimal-comma locale must not leak into the JSON (if installed) */
    old = setlocale(LC_NUMERIC, "de_DE.UTF-8");
    ssep_policy_json(&p, buf, sizeof(buf));
    if (old)
        setlocale(LC_NUMERIC, "C");
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"jitter\":\"decorrelated\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"PROXY_ERROR\":{\"initial_ms\":1000,"
                                       "\"max_ms\":900000,\"factor\":1.25,"));
    CU_ASSERT_PTR_NULL(strstr(buf, "1,25"));
    /* NaN is not JSON */
    p.strategy[SSEP_CLASS_AUTH].factor = strtod("nan", NULL);
    ssep_policy_json(&p, buf, sizeof(buf));
    CU_ASSERT_PTR_NULL(strstr(buf, "nan"));
}

int register_policy_suite(void)
{
    static const unit_test tests[] = {
        { "defaults", test_policy_defaults },
        { "json export", test_json_export },
        { "json truncation", test_json_truncation },
        { "json custom values, any locale", test_json_custom_and_locale },
        { NULL, NULL }
    };
    return add_suite("policy", tests);
}
