/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* The stream limits' table (sse_limit_table.c): counts per child, the
 * counts of children that died, the reconnect rate and its strikes, a
 * full table, and the directives' arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apr_general.h"
#include "apr_pools.h"

#include "sse_limit_table.h"
#include "suites.h"

static sse_limit_table *t;
static apr_pool_t *pool;
static apr_int64_t dead_pid;

static int setup(void)
{
    t = calloc(1, sizeof(*t));
    if (!t || apr_initialize() != APR_SUCCESS)
        return 1;
    return apr_pool_create(&pool, NULL) != APR_SUCCESS;
}

static int teardown(void)
{
    free(t);
    apr_pool_destroy(pool);
    apr_terminate();
    return 0;
}

static int alive(apr_int64_t pid)
{
    return pid != dead_pid;
}

static apr_uint64_t key_of(const char *s)
{
    return sse_limit_key('i', s, strlen(s));
}

/* Streams count per key across owners; a release gives back only what
 * that owner holds. */
static void test_counts(void)
{
    apr_uint64_t k = key_of("127.0.0.1");
    int a, b, slot;

    memset(t, 0, sizeof(*t));
    dead_pid = -1;
    a = sse_limit_owner_claim(t, 100, 1, alive);
    b = sse_limit_owner_claim(t, 200, 1, alive);
    CU_ASSERT(a >= 0 && b >= 0 && a != b);
    slot = sse_limit_find(t, k, "127.0.0.1", 1, 1);
    CU_ASSERT_FATAL(slot >= 0);
    CU_ASSERT_STRING_EQUAL(t->entries[slot].label, "127.0.0.1");
    CU_ASSERT(sse_limit_find(t, k, NULL, 1, 0) == slot);
    CU_ASSERT(sse_limit_acquire(t, slot, a));
    CU_ASSERT(sse_limit_acquire(t, slot, b));
    CU_ASSERT(sse_limit_acquire(t, slot, b));
    CU_ASSERT_EQUAL(t->entries[slot].open, 3);
    sse_limit_release(t, slot, a, k);
    sse_limit_release(t, slot, a, k);   /* a holds none any more */
    CU_ASSERT_EQUAL(t->entries[slot].open, 2);
    sse_limit_release(t, slot, b, key_of("other"));
    CU_ASSERT_EQUAL(t->entries[slot].open, 2);
}

/* A child that died keeps no stream counted: its owner is reclaimed
 * when it is found dead, and when a new process reuses its pid. */
static void test_dead_children(void)
{
    apr_uint64_t k = key_of("10.0.0.1");
    int a, b, c, slot;

    memset(t, 0, sizeof(*t));
    dead_pid = -1;
    a = sse_limit_owner_claim(t, 100, 1, alive);
    b = sse_limit_owner_claim(t, 200, 1, alive);
    slot = sse_limit_find(t, k, "10.0.0.1", 1, 1);
    sse_limit_acquire(t, slot, a);
    sse_limit_acquire(t, slot, a);
    sse_limit_acquire(t, slot, b);
    dead_pid = 100;
    CU_ASSERT_EQUAL(sse_limit_reconcile(t, alive), 2);
    CU_ASSERT_EQUAL(t->entries[slot].open, 1);
    CU_ASSERT_EQUAL(t->owners[a].pid, 0);
    /* pid 200 reused by a new child: the old one's stream is dropped */
    dead_pid = -1;
    c = sse_limit_owner_claim(t, 200, 2, alive);
    CU_ASSERT(c >= 0);
    CU_ASSERT_EQUAL(t->entries[slot].open, 0);
    CU_ASSERT_EQUAL(t->counters.reclaimed, 1);
    /* a release by the dead owner's index changes nothing */
    sse_limit_release(t, slot, b, k);
    CU_ASSERT_EQUAL(t->entries[slot].open, 0);
}

/* Every owner taken: -1, not someone else's owner. */
static void test_owners_full(void)
{
    int o;

    memset(t, 0, sizeof(*t));
    dead_pid = -1;
    for (o = 0; o < SSE_LIMIT_OWNERS; o++)
        CU_ASSERT(sse_limit_owner_claim(t, 1000 + o, 1, alive) == o);
    CU_ASSERT_EQUAL(sse_limit_owner_claim(t, 5000, 1, alive), -1);
    dead_pid = 1003;
    CU_ASSERT_EQUAL(sse_limit_owner_claim(t, 5000, 1, alive), 3);
}

/* A full neighbourhood: -1, and idle slots are taken again. */
static void test_full_and_reuse(void)
{
    int i, o, slot, n = 0;
    char name[32];

    memset(t, 0, sizeof(*t));
    dead_pid = -1;
    o = sse_limit_owner_claim(t, 1, 1, alive);
    for (i = 0; i < SSE_LIMIT_SLOTS * 2; i++) {
        sprintf(name, "10.1.%d.%d", i / 256, i % 256);
        slot = sse_limit_find(t, key_of(name), name, 10, 1);
        if (slot < 0)
            break;
        sse_limit_acquire(t, slot, o);
        n++;
    }
    CU_ASSERT(slot < 0);
    CU_ASSERT(n >= SSE_LIMIT_PROBES);
    CU_ASSERT(n <= SSE_LIMIT_SLOTS);
    /* the client whose slot was refused is there once the others left */
    sse_limit_reclaim(t, o);
    CU_ASSERT(sse_limit_find(t, key_of(name), name, 10, 1) >= 0);
}

/* 5 per 10 s: a burst of 5, then one every 2 s; limited attempts
 * strike, and a penalty holds whatever the rate says. */
static void test_rate(void)
{
    sse_limit_entry e;
    apr_interval_time_t period = apr_time_from_sec(10);
    apr_time_t now = apr_time_from_sec(1000);
    int i;

    memset(&e, 0, sizeof(e));
    for (i = 0; i < 5; i++)
        CU_ASSERT_EQUAL(sse_limit_rate(&e, 5, period, now), -1);
    CU_ASSERT_EQUAL(sse_limit_rate(&e, 5, period, now), 2000);
    CU_ASSERT_EQUAL(e.strikes, 1);
    now += apr_time_from_sec(2);
    CU_ASSERT_EQUAL(sse_limit_rate(&e, 5, period, now), -1);
    CU_ASSERT_EQUAL(sse_limit_rate(&e, 5, period, now), 2000);
    CU_ASSERT_EQUAL(e.strikes, 2);
    /* told to wait 7 s: sooner strikes again, then is let in */
    e.penalty_until = now + apr_time_from_sec(7);
    CU_ASSERT_EQUAL(sse_limit_rate(&e, 5, period, now + apr_time_from_sec(3)),
                    4000);
    CU_ASSERT_EQUAL(e.strikes, 3);
    now += apr_time_from_sec(7);
    CU_ASSERT_EQUAL(sse_limit_rate(&e, 5, period, now), -1);
    CU_ASSERT_EQUAL(e.strikes, 3);  /* not forgiven yet */
    now += period + 1;
    CU_ASSERT_EQUAL(sse_limit_rate(&e, 5, period, now), -1);
    CU_ASSERT_EQUAL(e.strikes, 0);
}

/* One a minute: a client following a retry: hint of a minute or more
 * is never limited. */
static void test_rate_follower(void)
{
    sse_limit_entry e;
    apr_time_t now = apr_time_from_sec(5000);
    int i;

    memset(&e, 0, sizeof(e));
    for (i = 0; i < 100; i++, now += apr_time_from_sec(60))
        CU_ASSERT_EQUAL(sse_limit_rate(&e, 1, apr_time_from_sec(60), now),
                        -1);
    CU_ASSERT_EQUAL(e.strikes, 0);
}

static void test_parse(void)
{
    apr_uint32_t n = 0;
    apr_interval_time_t period = 0;
    apr_int64_t cap = -1;
    static const char *const bad[] = {
        "", "/", "10", "10/", "/s", "0/s", "-1/s", "10/0s", "10/2d", "10/s ",
        "1000001/s", "10/3601", "10/61m", "10/2h", "x/s", "10/s5",
        "99999999999/s", "10/ss", NULL
    };
    int i;

    CU_ASSERT_PTR_NULL(sse_parse_rate(pool, "R", "10/s", &n, &period));
    CU_ASSERT(n == 10 && period == apr_time_from_sec(1));
    CU_ASSERT_PTR_NULL(sse_parse_rate(pool, "R", "30/5m", &n, &period));
    CU_ASSERT(n == 30 && period == apr_time_from_sec(300));
    CU_ASSERT_PTR_NULL(sse_parse_rate(pool, "R", "5/10", &n, &period));
    CU_ASSERT(n == 5 && period == apr_time_from_sec(10));
    CU_ASSERT_PTR_NULL(sse_parse_rate(pool, "R", "1/h", &n, &period));
    CU_ASSERT(n == 1 && period == apr_time_from_sec(3600));
    for (i = 0; bad[i]; i++) {
        const char *err = sse_parse_rate(pool, "R", bad[i], &n, &period);
        CU_ASSERT_PTR_NOT_NULL(err);
        if (err)
            CU_ASSERT(!strncmp(err, "R: ", 3));
    }
    CU_ASSERT_PTR_NULL(sse_parse_cap(pool, "C", "off", &cap));
    CU_ASSERT_EQUAL(cap, 0);
    CU_ASSERT_PTR_NULL(sse_parse_cap(pool, "C", "3", &cap));
    CU_ASSERT_EQUAL(cap, 3);
    CU_ASSERT_PTR_NOT_NULL(sse_parse_cap(pool, "C", "0", &cap));
    CU_ASSERT_PTR_NOT_NULL(sse_parse_cap(pool, "C", "10000001", &cap));
    CU_ASSERT_PTR_NOT_NULL(sse_parse_cap(pool, "C", "3x", &cap));
    CU_ASSERT_PTR_NOT_NULL(sse_parse_cap(pool, "C", "", &cap));
}

int register_limit_table_suite(void)
{
    static const unit_test tests[] = {
        { "counts per owner", test_counts },
        { "dead children's streams dropped", test_dead_children },
        { "owners full", test_owners_full },
        { "table full, idle slots reused", test_full_and_reuse },
        { "reconnect rate and strikes", test_rate },
        { "a client following the hint", test_rate_follower },
        { "directive arguments", test_parse },
        { NULL, NULL }
    };

    return add_suite_fixture("limit table", setup, teardown, tests);
}
