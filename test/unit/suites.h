/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef SSEP_TEST_SUITES_H
#define SSEP_TEST_SUITES_H

#include <CUnit/CUnit.h>

/* Each file registers its own suite; 0 on success. */
int register_classify_suite(void);
int register_strategy_suite(void);
int register_quality_suite(void);
int register_backoff_suite(void);
int register_policy_suite(void);
int register_parser_suite(void);
int register_validate_suite(void);
int register_member_table_suite(void);
int register_fleet_record_suite(void);
int register_ws_frame_suite(void);
int register_limit_table_suite(void);
int register_balance_suite(void);
int register_body_suite(void);

/* Adds a suite with the given tests, NULL-terminated by name. */
typedef struct {
    const char *name;
    CU_TestFunc fn;
} unit_test;

int add_suite(const char *name, const unit_test *tests);
/* The same with set-up and tear-down functions run around the suite. */
int add_suite_fixture(const char *name, CU_InitializeFunc init,
                      CU_CleanupFunc clean, const unit_test *tests);

#endif
