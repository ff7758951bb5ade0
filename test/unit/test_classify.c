/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include <stdio.h>
#include <string.h>

#include "ssepolicy.h"
#include "suites.h"

static void test_class_names(void)
{
    CU_ASSERT_STRING_EQUAL(ssep_class_name(SSEP_CLASS_NONE), "NONE");
    CU_ASSERT_STRING_EQUAL(ssep_class_name(SSEP_CLASS_NETWORK), "NETWORK_ERROR");
    CU_ASSERT_STRING_EQUAL(ssep_class_name(SSEP_CLASS_AUTH), "AUTH_ERROR");
    CU_ASSERT_STRING_EQUAL(ssep_class_name(SSEP_CLASS_SERVER), "SERVER_ERROR");
    CU_ASSERT_STRING_EQUAL(ssep_class_name(SSEP_CLASS_PROXY), "PROXY_ERROR");
    CU_ASSERT_STRING_EQUAL(ssep_class_name((ssep_class)99), "UNKNOWN");
    CU_ASSERT_STRING_EQUAL(ssep_class_name((ssep_class)-1), "UNKNOWN");
}

static void test_class_parse(void)
{
    ssep_class c = SSEP_CLASS_NONE;

    CU_ASSERT_EQUAL(ssep_class_parse("PROXY_ERROR", &c), 0);
    CU_ASSERT_EQUAL(c, SSEP_CLASS_PROXY);
    CU_ASSERT_EQUAL(ssep_class_parse("network", &c), 0);
    CU_ASSERT_EQUAL(c, SSEP_CLASS_NETWORK);
    CU_ASSERT_EQUAL(ssep_class_parse("Auth_Error", &c), 0);
    CU_ASSERT_EQUAL(c, SSEP_CLASS_AUTH);
    CU_ASSERT_EQUAL(ssep_class_parse("server", &c), 0);
    CU_ASSERT_EQUAL(c, SSEP_CLASS_SERVER);
    CU_ASSERT_EQUAL(ssep_class_parse("PROXY_ERRORS", &c), -1);
    CU_ASSERT_EQUAL(ssep_class_parse("", &c), -1);
    CU_ASSERT_EQUAL(ssep_class_parse(NULL, &c), -1);
    CU_ASSERT_EQUAL(ssep_class_parse("proxy", NULL), -1);
}

typedef struct {
    int status;
    ssep_condition cond;
    const char *message;
    ssep_class expect;
} classify_case;

static const classify_case cases[] = {
    /* the seed's rules in order */
    { 404, SSEP_COND_NONE, NULL, SSEP_CLASS_PROXY },
    { 502, SSEP_COND_NONE, NULL, SSEP_CLASS_PROXY },
    { 503, SSEP_COND_NONE, NULL, SSEP_CLASS_PROXY },
    { 401, SSEP_COND_NONE, NULL, SSEP_CLASS_AUTH },
    { 403, SSEP_COND_NONE, NULL, SSEP_CLASS_AUTH },
    { 500, SSEP_COND_NONE, NULL, SSEP_CLASS_SERVER },
    { 501, SSEP_COND_NONE, NULL, SSEP_CLASS_SERVER },
    { 504, SSEP_COND_NONE, NULL, SSEP_CLASS_SERVER },
    { 599, SSEP_COND_NONE, NULL, SSEP_CLASS_SERVER },
    { 0, SSEP_COND_NONE, "Network is unreachable", SSEP_CLASS_NETWORK },
    { 0, SSEP_COND_NONE, "CONNECTION reset by peer", SSEP_CLASS_NETWORK },
    { 0, SSEP_COND_NONE, "event stream closed", SSEP_CLASS_PROXY },
    { 0, SSEP_COND_NONE, "Premature EOF", SSEP_CLASS_PROXY },
    { 0, SSEP_COND_NONE, "something odd", SSEP_CLASS_NETWORK },
    { 0, SSEP_COND_NONE, NULL, SSEP_CLASS_NETWORK },
    /* order: status before message */
    { 503, SSEP_COND_NONE, "network down", SSEP_CLASS_PROXY },
    { 404, SSEP_COND_RESET, "connection reset", SSEP_CLASS_PROXY },
    { 401, SSEP_COND_NONE, "stream closed", SSEP_CLASS_AUTH },
    { 500, SSEP_COND_PREMATURE_EOF, "network", SSEP_CLASS_SERVER },
    /* order: "network"/"connection" before "stream closed"/"premature" */
    { 0, SSEP_COND_NONE, "premature close of connection", SSEP_CLASS_NETWORK },
    /* order: message before condition */
    { 0, SSEP_COND_PREMATURE_EOF, "connection lost", SSEP_CLASS_NETWORK },
    { 0, SSEP_COND_RESET, "stream closed early", SSEP_CLASS_PROXY },
    /* conditions */
    { 0, SSEP_COND_PREMATURE_EOF, NULL, SSEP_CLASS_PROXY },
    { 200, SSEP_COND_PREMATURE_EOF, NULL, SSEP_CLASS_PROXY },
    { 0, SSEP_COND_CONNECT_REFUSED, NULL, SSEP_CLASS_NETWORK },
    { 0, SSEP_COND_CONNECT_TIMEOUT, NULL, SSEP_CLASS_NETWORK },
    { 0, SSEP_COND_DNS, NULL, SSEP_CLASS_NETWORK },
    { 0, SSEP_COND_RESET, NULL, SSEP_CLASS_NETWORK },
    { 0, SSEP_COND_READ_TIMEOUT, NULL, SSEP_CLASS_NETWORK },
    { 0, SSEP_COND_TLS, NULL, SSEP_CLASS_NETWORK },
    { 0, SSEP_COND_OTHER, NULL, SSEP_CLASS_NETWORK },
    { 200, SSEP_COND_RESET, NULL, SSEP_CLASS_NETWORK },
    /* success-ish statuses with nothing wrong */
    { 200, SSEP_COND_NONE, NULL, SSEP_CLASS_NONE },
    { 204, SSEP_COND_NONE, NULL, SSEP_CLASS_NONE },
    { 101, SSEP_COND_NONE, NULL, SSEP_CLASS_NONE },
    { 301, SSEP_COND_NONE, NULL, SSEP_CLASS_NONE },
    { 399, SSEP_COND_NONE, "", SSEP_CLASS_NONE },
    { 200, SSEP_COND_NONE, "fine", SSEP_CLASS_NETWORK },
    /* other 4xx fall through to the default */
    { 400, SSEP_COND_NONE, NULL, SSEP_CLASS_NETWORK },
    { 429, SSEP_COND_NONE, NULL, SSEP_CLASS_NETWORK },
    { 405, SSEP_COND_NONE, "premature", SSEP_CLASS_PROXY },
    /* nonsense input stays defined */
    { -1, SSEP_COND_NONE, NULL, SSEP_CLASS_NETWORK },
    { 100000, SSEP_COND_NONE, NULL, SSEP_CLASS_SERVER },
    { 0, (ssep_condition)1234, NULL, SSEP_CLASS_NETWORK },
};

static void test_classify_table(void)
{
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const classify_case *tc = &cases[i];
        ssep_class got = ssep_classify(tc->status, tc->cond, tc->message);
        if (got != tc->expect)
            fprintf(stderr, "\n  case %zu: status=%d cond=%s msg=%s: got %s, "
                    "want %s\n", i, tc->status, ssep_condition_name(tc->cond),
                    tc->message ? tc->message : "(null)",
                    ssep_class_name(got), ssep_class_name(tc->expect));
        CU_ASSERT_EQUAL(got, tc->expect);
    }
}

static void test_condition_names(void)
{
    CU_ASSERT_STRING_EQUAL(ssep_condition_name(SSEP_COND_PREMATURE_EOF),
                           "premature-eof");
    CU_ASSERT_STRING_EQUAL(ssep_condition_name((ssep_condition)77), "unknown");
}

static void test_errors(void)
{
    CU_ASSERT_STRING_EQUAL(ssep_err_name(SSEP_ELINE), "ELINE");
    CU_ASSERT_STRING_EQUAL(ssep_err_name(SSEP_OK), "OK");
    CU_ASSERT_STRING_EQUAL(ssep_err_name(12345), "UNKNOWN");
    CU_ASSERT_PTR_NOT_NULL(strstr(ssep_strerror(SSEP_EEVENT), "event"));
    CU_ASSERT_STRING_EQUAL(ssep_strerror(-999), "unknown error");
    CU_ASSERT_STRING_EQUAL(ssep_version(), SSEP_VERSION_STRING);
}

int register_classify_suite(void)
{
    static const unit_test tests[] = {
        { "class names", test_class_names },
        { "class parse", test_class_parse },
        { "classification table and rule order", test_classify_table },
        { "condition names", test_condition_names },
        { "error codes", test_errors },
        { NULL, NULL }
    };
    return add_suite("classify", tests);
}
