/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* The module's member table (sse_member_table.c): keyed by the whole
 * balancer and member names, as long as httpd allows them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse_member_table.h"
#include "suites.h"

static sse_member_state table[SSE_MEMBER_SLOTS];

static int clear(void)
{
    memset(table, 0, sizeof(table));
    return 0;
}

/* "http://127.0.0.1:8080/" followed by 'a's, len characters in all. */
static char *member_name(size_t len, char last)
{
    static const char prefix[] = "http://127.0.0.1:8080/";
    char *s = malloc(len + 1);
    size_t i;

    for (i = 0; i < len; i++)
        s[i] = i < sizeof(prefix) - 1 ? prefix[i] : 'a';
    if (len)
        s[len - 1] = last;
    s[len] = 0;
    return s;
}

static unsigned used_slots(void)
{
    unsigned i, n = 0;

    for (i = 0; i < SSE_MEMBER_SLOTS; i++)
        n += table[i].used != 0;
    return n;
}

/* Each length httpd allows is stored whole, and two names that differ
 * only in their last byte are two members. */
static void test_name_lengths(void)
{
    static const size_t lengths[] = { 1, 95, 96, 159, 160, 161, 383 };
    unsigned i;

    clear();
    for (i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
        char *a = member_name(lengths[i], 'x');
        char *b = member_name(lengths[i], 'y');
        int created = 0;
        sse_member_state *ma, *mb;

        ma = sse_member_table_find(table, SSE_MEMBER_SLOTS, "balancer://b",
                                   a, 1, &created);
        CU_ASSERT_PTR_NOT_NULL_FATAL(ma);
        CU_ASSERT_TRUE(created);
        CU_ASSERT_STRING_EQUAL(ma->member, a);
        CU_ASSERT_EQUAL(strlen(ma->member), lengths[i]);
        ma->consecutive_failures = 7;
        mb = sse_member_table_find(table, SSE_MEMBER_SLOTS, "balancer://b",
                                   b, 1, &created);
        CU_ASSERT_PTR_NOT_NULL_FATAL(mb);
        CU_ASSERT_TRUE(created);
        CU_ASSERT_PTR_NOT_EQUAL(ma, mb);
        CU_ASSERT_EQUAL(mb->consecutive_failures, 0);
        /* found again, state intact, nothing new made */
        CU_ASSERT_PTR_EQUAL(sse_member_table_find(table, SSE_MEMBER_SLOTS,
                                                  "balancer://b", a, 1,
                                                  &created), ma);
        CU_ASSERT_FALSE(created);
        CU_ASSERT_EQUAL(ma->consecutive_failures, 7);
        free(a);
        free(b);
    }
    CU_ASSERT_EQUAL(used_slots(), 2 * sizeof(lengths) / sizeof(lengths[0]));
}

/* A name longer than httpd allows is refused, never cut to a prefix
 * that another member could share. */
static void test_too_long(void)
{
    char *m = member_name(SSE_MEMBER_NAME_SIZE, 'x');
    char b[SSE_BALANCER_NAME_SIZE + 1];

    clear();
    CU_ASSERT_PTR_NULL(sse_member_table_find(table, SSE_MEMBER_SLOTS, "", m,
                                             1, NULL));
    memset(b, 'b', sizeof(b) - 1);
    b[sizeof(b) - 1] = 0;
    CU_ASSERT_PTR_NULL(sse_member_table_find(table, SSE_MEMBER_SLOTS, b,
                                             "http://h", 1, NULL));
    b[SSE_BALANCER_NAME_SIZE - 1] = 0;  /* 95 characters fit */
    CU_ASSERT_PTR_NOT_NULL(sse_member_table_find(table, SSE_MEMBER_SLOTS, b,
                                                 "http://h", 1, NULL));
    CU_ASSERT_EQUAL(used_slots(), 1);
    free(m);
}

/* The same member in two balancers, and names whose concatenations are
 * equal, are different members. */
static void test_keys(void)
{
    sse_member_state *a, *b, *c, *d;

    clear();
    a = sse_member_table_find(table, SSE_MEMBER_SLOTS, "balancer://x",
                              "http://h:1", 1, NULL);
    b = sse_member_table_find(table, SSE_MEMBER_SLOTS, "balancer://y",
                              "http://h:1", 1, NULL);
    c = sse_member_table_find(table, SSE_MEMBER_SLOTS, "", "http://h:1", 1,
                              NULL);
    d = sse_member_table_find(table, SSE_MEMBER_SLOTS, "balancer://x/",
                              "/http://h:1", 1, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT(a != b && a != c && b != c && d != a);
    CU_ASSERT_PTR_NULL(sse_member_table_find(table, SSE_MEMBER_SLOTS,
                                             "balancer://z", "http://h:1", 0,
                                             NULL));
    CU_ASSERT_EQUAL(used_slots(), 4);
}

/* Every slot can be used; one more member is refused, and each is found
 * again however far its probe went. */
static void test_full(void)
{
    char name[64];
    unsigned i;

    clear();
    for (i = 0; i < SSE_MEMBER_SLOTS; i++) {
        sprintf(name, "http://10.0.%u.%u:80", i / 256, i % 256);
        CU_ASSERT_PTR_NOT_NULL(sse_member_table_find(
            table, SSE_MEMBER_SLOTS, "balancer://big", name, 1, NULL));
    }
    CU_ASSERT_PTR_NULL(sse_member_table_find(table, SSE_MEMBER_SLOTS,
                                             "balancer://big", "http://o:1",
                                             1, NULL));
    CU_ASSERT_PTR_NULL(sse_member_table_find(table, SSE_MEMBER_SLOTS,
                                             "balancer://big", "http://o:1",
                                             0, NULL));
    for (i = 0; i < SSE_MEMBER_SLOTS; i++) {
        sse_member_state *m;
        sprintf(name, "http://10.0.%u.%u:80", i / 256, i % 256);
        m = sse_member_table_find(table, SSE_MEMBER_SLOTS, "balancer://big",
                                  name, 0, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        CU_ASSERT_STRING_EQUAL(m->member, name);
    }
}

static const unit_test tests[] = {
    { "names of 1 to 383 characters", test_name_lengths },
    { "names too long are refused, not cut", test_too_long },
    { "balancer and member make the key", test_keys },
    { "a full table", test_full },
    { NULL, NULL }
};

int register_member_table_suite(void)
{
    return add_suite_fixture("member table", clear, NULL, tests);
}
