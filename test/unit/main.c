/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "suites.h"

int add_suite_fixture(const char *name, CU_InitializeFunc init,
                      CU_CleanupFunc clean, const unit_test *tests)
{
    CU_pSuite suite = CU_add_suite(name, init, clean);

    if (!suite)
        return -1;
    for (; tests->name; tests++)
        if (!CU_add_test(suite, tests->name, tests->fn))
            return -1;
    return 0;
}

int add_suite(const char *name, const unit_test *tests)
{
    return add_suite_fixture(name, NULL, NULL, tests);
}

int main(void)
{
    unsigned tests_failed, suites_failed, asserts_failed, ran;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    if (register_classify_suite() || register_strategy_suite()
        || register_quality_suite() || register_backoff_suite()
        || register_policy_suite() || register_parser_suite()
        || register_validate_suite() || register_member_table_suite()
        || register_fleet_record_suite() || register_ws_frame_suite()
        || register_limit_table_suite()
        || register_balance_suite() || register_body_suite()) {
        fprintf(stderr, "suite registration failed: %s\n", CU_get_error_msg());
        CU_cleanup_registry();
        return 1;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    /* read before cleanup: the registry owns these counts */
    tests_failed = CU_get_number_of_tests_failed();
    suites_failed = CU_get_number_of_suites_failed();
    asserts_failed = CU_get_number_of_failures();
    ran = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    printf("\n%u passed, %u failed\n", ran - tests_failed, tests_failed);
    if (tests_failed || suites_failed || asserts_failed || ran == 0)
        return 1;
    return 0;
}
