/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* The member record a fleet shares (sse_fleet_record.c): its text form,
 * and the merge that lets nodes update it without locks. */
#include <stdio.h>
#include <string.h>

#include "sse_fleet_record.h"
#include "suites.h"

static sse_fleet_record rec(apr_uint32_t failures, apr_time_t last_failure,
                            apr_time_t last_success)
{
    sse_fleet_record r;

    memset(&r, 0, sizeof(r));
    strcpy(r.balancer, "balancer://b");
    strcpy(r.member, "http://10.0.0.1:8080");
    r.failures = failures;
    r.last_failure = last_failure;
    r.last_success = last_success;
    if (failures) {
        r.outage_start = last_failure - 1000;
        r.next_retry = last_failure + 15000000;
        r.delay_ms = 15000 * failures;
        r.last_class = 2;
        r.quality = 1;
    }
    return r;
}

static void test_round_trip(void)
{
    sse_fleet_record a = rec(3, APR_INT64_C(1764380000000000), 42), b;
    char buf[1024];
    apr_size_t n = sse_fleet_record_format(&a, buf, sizeof(buf));

    CU_ASSERT_FATAL(n > 0);
    CU_ASSERT_EQUAL(sse_fleet_record_parse(buf, n, &b), 0);
    CU_ASSERT_EQUAL(memcmp(&a, &b, sizeof(a)), 0);
    /* too small a buffer: nothing */
    CU_ASSERT_EQUAL(sse_fleet_record_format(&a, buf, 20), 0);
}

static void test_malformed(void)
{
    static const char *const bad[] = {
        "", "sse2", "sse1 1 2 1 0 3 4 5 6 7\nb\nm",   /* an older format */
        "sse2 1 2 1 0 3 4 5 6\nb\nm",            /* a field short */
        "sse2 1 2 1 0 3 4 5 6 7 8\nb\nm",        /* a field too many */
        "sse2 1 2 1 2 3 4 5 6 7\nb\nm",          /* gave_up not 0/1 */
        "sse2 1 2 4 0 3 4 5 6 7\nb\nm",          /* no such grade */
        "sse2 -1 2 1 0 3 4 5 6 7\nb\nm",
        "sse2 99999999999 2 1 0 3 4 5 6 7\nb\nm", /* over 32 bits */
        "sse2 1 2 1 0 3 4 5 6 12345678901234567890\nb\nm",
        "sse2 1 2 1 0 3 4 5 6 9999999999999999999\nb\nm",  /* 19 digits */
        "sse2 1 2 1 0 3 4 5 6 7\nb",             /* no member */
        "sse2 1 2 1 0 3 4 5 6 7\nb\n",           /* empty member */
        "sse2 1 2 1 0 3 4 5 6 7\nb\nm\nx",       /* trailing line */
        NULL
    };
    char longname[600];
    sse_fleet_record r;
    int i;

    for (i = 0; bad[i]; i++)
        CU_ASSERT_EQUAL(sse_fleet_record_parse(bad[i], strlen(bad[i]), &r),
                        -1);
    /* a NUL inside */
    CU_ASSERT_EQUAL(sse_fleet_record_parse("sse2 1 2 1 0 3 4 5 6 7\nb\0c\nm",
                                           29, &r), -1);
    /* a name longer than httpd allows */
    memset(longname, 'a', sizeof(longname));
    memcpy(longname, "sse2 1 2 1 0 3 4 5 6 7\nb\n", 25);
    CU_ASSERT_EQUAL(sse_fleet_record_parse(longname, sizeof(longname), &r),
                    -1);
    CU_ASSERT_EQUAL(sse_fleet_record_parse("sse2 1 2 1 0 3 4 5 6 7\nb\nm", 26,
                                           &r), 0);
    CU_ASSERT_EQUAL(r.quality, 1);
}

/* merge(a, b) == merge(b, a), and merging again changes nothing */
static void check_laws(sse_fleet_record a, sse_fleet_record b)
{
    sse_fleet_record ab = a, ba = b, again;

    sse_fleet_record_merge(&ab, &b);
    sse_fleet_record_merge(&ba, &a);
    CU_ASSERT_EQUAL(memcmp(&ab, &ba, sizeof(ab)), 0);
    again = ab;
    CU_ASSERT_EQUAL(sse_fleet_record_merge(&again, &a), 0);
    CU_ASSERT_EQUAL(sse_fleet_record_merge(&again, &b), 0);
    CU_ASSERT_EQUAL(memcmp(&again, &ab, sizeof(ab)), 0);
}

static void test_merge(void)
{
    sse_fleet_record a, b;

    /* the same first failure seen by two nodes at once: one failure */
    a = rec(1, 1000000, 0);
    b = rec(1, 1000300, 0);
    check_laws(a, b);
    CU_ASSERT_EQUAL(sse_fleet_record_merge(&a, &b), 1);
    CU_ASSERT_EQUAL(a.failures, 1);
    CU_ASSERT_EQUAL(a.last_failure, 1000300);

    /* a later failure of the same outage wins */
    a = rec(2, 3000000, 0);
    b = rec(1, 1000000, 0);
    check_laws(a, b);
    CU_ASSERT_EQUAL(sse_fleet_record_merge(&b, &a), 1);
    CU_ASSERT_EQUAL(b.failures, 2);

    /* a success after the last failure ends the outage everywhere */
    a = rec(3, 3000000, 0);
    b = rec(0, 0, 4000000);
    check_laws(a, b);
    sse_fleet_record_merge(&a, &b);
    CU_ASSERT_FALSE(sse_fleet_record_out(&a));
    CU_ASSERT_EQUAL(a.failures, 0);
    CU_ASSERT_EQUAL(a.next_retry, 0);
    CU_ASSERT_EQUAL(a.last_success, 4000000);

    /* a new outage after that success stands, whatever the old count */
    a = rec(5, 2000000, 0);
    b = rec(1, 5000000, 4000000);
    check_laws(a, b);
    sse_fleet_record_merge(&a, &b);
    CU_ASSERT_TRUE(sse_fleet_record_out(&a));
    CU_ASSERT_EQUAL(a.failures, 1);
    CU_ASSERT_EQUAL(a.last_failure, 5000000);

    /* healthy and empty: nothing changes */
    a = rec(0, 0, 0);
    b = rec(0, 0, 0);
    CU_ASSERT_EQUAL(sse_fleet_record_merge(&a, &b), 0);
}

static void test_state(void)
{
    sse_member_state m;
    sse_fleet_record r = rec(2, 3000000, 1000), back;

    memset(&m, 0, sizeof(m));
    strcpy(m.balancer, r.balancer);
    strcpy(m.member, r.member);
    m.status_streak = 3;
    sse_fleet_record_to_state(&r, &m);
    CU_ASSERT_EQUAL(m.consecutive_failures, 2);
    CU_ASSERT_EQUAL(m.next_retry, r.next_retry);
    sse_fleet_record_from_state(&back, &m);
    CU_ASSERT_EQUAL(memcmp(&back, &r, sizeof(r)), 0);
    /* healthy: the local streak starts over */
    r = rec(0, 0, 5000000);
    sse_fleet_record_to_state(&r, &m);
    CU_ASSERT_EQUAL(m.consecutive_failures, 0);
    CU_ASSERT_EQUAL(m.status_streak, 0);
}

static void test_keys(void)
{
    unsigned char a[SSE_FLEET_KEY_SIZE], b[SSE_FLEET_KEY_SIZE];

    sse_fleet_key("member", "balancer://b", "http://a", a);
    sse_fleet_key("member", "balancer://b", "http://a", b);
    CU_ASSERT_EQUAL(memcmp(a, b, sizeof(a)), 0);
    /* the kind and the split between the names are part of the key */
    sse_fleet_key("session", "balancer://b", "http://a", b);
    CU_ASSERT_NOT_EQUAL(memcmp(a, b, sizeof(a)), 0);
    sse_fleet_key("member", "balancer://bh", "ttp://a", b);
    CU_ASSERT_NOT_EQUAL(memcmp(a, b, sizeof(a)), 0);
}

static const unit_test tests[] = {
    { "text form round trip", test_round_trip },
    { "malformed records are refused", test_malformed },
    { "merge: one failure counted once, successes end outages",
      test_merge },
    { "to and from the member state", test_state },
    { "store keys", test_keys },
    { NULL, NULL }
};

int register_fleet_record_suite(void)
{
    return add_suite("fleet record", tests);
}
