/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* The module's directive and Last-Event-ID validators (sse_validate.c). */
#include <string.h>

#include "apr_general.h"
#include "apr_pools.h"
#include "apr_tables.h"

#include "sse_validate.h"
#include "suites.h"

static apr_pool_t *pool;

static int setup(void)
{
    if (apr_initialize() != APR_SUCCESS)
        return 1;
    return apr_pool_create(&pool, NULL) != APR_SUCCESS;
}

static int teardown(void)
{
    apr_pool_destroy(pool);
    apr_terminate();
    return 0;
}

typedef const char *(*int64_parser)(apr_pool_t *, const char *, const char *,
                                    apr_int64_t *);

static void expect_int64(int64_parser parse, const char *arg, apr_int64_t want)
{
    apr_int64_t v = -12345;
    const char *err = parse(pool, "D", arg, &v);

    CU_ASSERT_PTR_NULL(err);
    CU_ASSERT_EQUAL(v, want);
}

/* Refused, with a message naming the directive, and *out untouched. */
static void refuse_int64(int64_parser parse, const char *arg)
{
    apr_int64_t v = -12345;
    const char *err = parse(pool, "SSEProxyX", arg, &v);

    CU_ASSERT_PTR_NOT_NULL_FATAL(err);
    CU_ASSERT_EQUAL(strncmp(err, "SSEProxyX: ", 11), 0);
    CU_ASSERT_EQUAL(v, -12345);
}

static void test_on_off(void)
{
    int v = -1;

    CU_ASSERT_PTR_NULL(sse_parse_on_off(pool, "SSEProxy", "on", &v));
    CU_ASSERT_EQUAL(v, 1);
    CU_ASSERT_PTR_NULL(sse_parse_on_off(pool, "SSEProxy", "OFF", &v));
    CU_ASSERT_EQUAL(v, 0);
    v = -1;
    CU_ASSERT_STRING_EQUAL(sse_parse_on_off(pool, "SSEProxy", "maybe", &v),
                           "SSEProxy: 'maybe' is not valid; use On or Off");
    CU_ASSERT_PTR_NOT_NULL(sse_parse_on_off(pool, "SSEProxy", "", &v));
    CU_ASSERT_PTR_NOT_NULL(sse_parse_on_off(pool, "SSEProxy", "on ", &v));
    CU_ASSERT_EQUAL(v, -1);
}

static void test_seconds_or_off(void)
{
    expect_int64(sse_parse_seconds_or_off, "off", 0);
    expect_int64(sse_parse_seconds_or_off, "Off", 0);
    expect_int64(sse_parse_seconds_or_off, "1", 1);
    expect_int64(sse_parse_seconds_or_off, "15", 15);
    expect_int64(sse_parse_seconds_or_off, "0604800", SSE_MAX_SECONDS);
    refuse_int64(sse_parse_seconds_or_off, "604801");
    refuse_int64(sse_parse_seconds_or_off, "0");
    refuse_int64(sse_parse_seconds_or_off, "-5");
    refuse_int64(sse_parse_seconds_or_off, "+5");
    refuse_int64(sse_parse_seconds_or_off, "15s");
    refuse_int64(sse_parse_seconds_or_off, " 15");
    refuse_int64(sse_parse_seconds_or_off, "");
    refuse_int64(sse_parse_seconds_or_off, "99999999999");
    CU_ASSERT_STRING_EQUAL(
        sse_parse_seconds_or_off(pool, "SSEProxyHeartbeat", "never", &(apr_int64_t){0}),
        "SSEProxyHeartbeat: 'never' is not valid; use a whole number of "
        "seconds from 1 to 604800, or 'off'");
}

static void test_event_size(void)
{
    expect_int64(sse_parse_event_size, "256", 256);
    expect_int64(sse_parse_event_size, "1k", 1024);
    expect_int64(sse_parse_event_size, "1M", 1024 * 1024);
    expect_int64(sse_parse_event_size, "0001m", 1024 * 1024);
    expect_int64(sse_parse_event_size, "1G", SSE_MAX_EVENT_SIZE);
    expect_int64(sse_parse_event_size, "1048576K", SSE_MAX_EVENT_SIZE);
    expect_int64(sse_parse_event_size, "1073741824", SSE_MAX_EVENT_SIZE);
    refuse_int64(sse_parse_event_size, "255");
    refuse_int64(sse_parse_event_size, "0K");
    refuse_int64(sse_parse_event_size, "1048577K");
    refuse_int64(sse_parse_event_size, "1073741825");
    refuse_int64(sse_parse_event_size, "2G");
    refuse_int64(sse_parse_event_size, "5X");
    refuse_int64(sse_parse_event_size, "K");
    refuse_int64(sse_parse_event_size, "1MB");
    refuse_int64(sse_parse_event_size, "-1M");
    refuse_int64(sse_parse_event_size, "");
    refuse_int64(sse_parse_event_size, "000000000000001M");
    expect_int64(sse_parse_event_size, "1024M", SSE_MAX_EVENT_SIZE);
    refuse_int64(sse_parse_event_size, "1025M");
    /* 10 digits times 2^30 used to overflow before the range check */
    refuse_int64(sse_parse_event_size, "9999999999G");
    refuse_int64(sse_parse_event_size, "8589934592G");
    refuse_int64(sse_parse_event_size, "9999999999K");
    CU_ASSERT_STRING_EQUAL(
        sse_parse_event_size(pool, "SSEProxyMaxEventSize", "10", &(apr_int64_t){0}),
        "SSEProxyMaxEventSize: '10' is not valid; use a size in bytes from "
        "256 to 1073741824, optionally with K, M or G (e.g. 1M)");
}

static void test_giveup(void)
{
    int v = -1;

    CU_ASSERT_PTR_NULL(sse_parse_giveup(pool, "G", "204", &v));
    CU_ASSERT_EQUAL(v, SSE_GIVEUP_204);
    CU_ASSERT_PTR_NULL(sse_parse_giveup(pool, "G", "Retry", &v));
    CU_ASSERT_EQUAL(v, SSE_GIVEUP_RETRY);
    v = -1;
    CU_ASSERT_STRING_EQUAL(sse_parse_giveup(pool, "SSEProxyGiveUp", "205", &v),
                           "SSEProxyGiveUp: '205' is not valid; use 204 or "
                           "retry");
    CU_ASSERT_PTR_NOT_NULL(sse_parse_giveup(pool, "G", "0204", &v));
    CU_ASSERT_EQUAL(v, -1);
}

static void test_retry(void)
{
    expect_int64(sse_parse_retry, "auto", SSE_RETRY_AUTO);
    expect_int64(sse_parse_retry, "OFF", SSE_RETRY_OFF);
    expect_int64(sse_parse_retry, "1", 1);
    expect_int64(sse_parse_retry, "86400000", SSE_MAX_RETRY_MS);
    refuse_int64(sse_parse_retry, "86400001");
    refuse_int64(sse_parse_retry, "0");
    refuse_int64(sse_parse_retry, "1000ms");
    refuse_int64(sse_parse_retry, "");
    CU_ASSERT_STRING_EQUAL(
        sse_parse_retry(pool, "SSEProxyRetry", "x", &(apr_int64_t){0}),
        "SSEProxyRetry: 'x' is not valid; use auto, off, or milliseconds "
        "from 1 to 86400000");
}

static void test_jitter(void)
{
    ssep_jitter j = SSEP_JITTER_NONE;

    CU_ASSERT_PTR_NULL(sse_parse_jitter(pool, "J", "decorrelated", &j));
    CU_ASSERT_EQUAL(j, SSEP_JITTER_DECORRELATED);
    CU_ASSERT_STRING_EQUAL(sse_parse_jitter(pool, "SSEProxyJitter", "some", &j),
                           "SSEProxyJitter: 'some' is not valid; use none, "
                           "full, equal or decorrelated");
    CU_ASSERT_EQUAL(j, SSEP_JITTER_DECORRELATED);
}

static void test_strategy(void)
{
    ssep_policy pol, before;
    ssep_class cls = SSEP_CLASS_NONE;
    const char *err;

    ssep_policy_init(&pol);
    CU_ASSERT_PTR_NULL(sse_parse_strategy(pool, "S", "PROXY_ERROR",
                                          "initial=15s max=15m factor=2.5 "
                                          "attempts=4", &pol, &cls));
    CU_ASSERT_EQUAL(cls, SSEP_CLASS_PROXY);
    CU_ASSERT_EQUAL(pol.strategy[SSEP_CLASS_PROXY].initial_ms, 15000);
    CU_ASSERT_EQUAL(pol.strategy[SSEP_CLASS_PROXY].max_ms, 900000);
    CU_ASSERT_EQUAL(pol.strategy[SSEP_CLASS_PROXY].max_attempts, 4);
    /* a subset keeps the class's other values */
    CU_ASSERT_PTR_NULL(sse_parse_strategy(pool, "S", "network", "attempts=2",
                                          &pol, &cls));
    CU_ASSERT_EQUAL(cls, SSEP_CLASS_NETWORK);
    CU_ASSERT_EQUAL(pol.strategy[SSEP_CLASS_NETWORK].max_attempts, 2);
    CU_ASSERT_EQUAL(pol.strategy[SSEP_CLASS_NETWORK].initial_ms,
                    ssep_default_strategy(SSEP_CLASS_NETWORK)->initial_ms);

    before = pol;
    cls = SSEP_CLASS_NONE;
    err = sse_parse_strategy(pool, "SSEProxyStrategy", "NONE", "attempts=2",
                             &pol, &cls);
    CU_ASSERT_STRING_EQUAL(err, "SSEProxyStrategy: unknown class 'NONE'; use "
                           "NETWORK_ERROR, AUTH_ERROR, SERVER_ERROR or "
                           "PROXY_ERROR");
    CU_ASSERT_PTR_NOT_NULL(sse_parse_strategy(pool, "S", "", "attempts=2",
                                              &pol, &cls));
    err = sse_parse_strategy(pool, "SSEProxyStrategy", "AUTH_ERROR", "",
                             &pol, &cls);
    CU_ASSERT_STRING_EQUAL(err, "SSEProxyStrategy AUTH_ERROR: no strategy "
                           "given; e.g. initial=15s max=15m factor=2.5 "
                           "attempts=4");
    err = sse_parse_strategy(pool, "SSEProxyStrategy", "AUTH_ERROR",
                             "initial=1s max=5 ", &pol, &cls);
    CU_ASSERT_PTR_NOT_NULL_FATAL(err);
    CU_ASSERT_EQUAL(strncmp(err, "SSEProxyStrategy AUTH_ERROR: ", 29), 0);
    CU_ASSERT_EQUAL(memcmp(&pol, &before, sizeof(pol)), 0);
    CU_ASSERT_EQUAL(cls, SSEP_CLASS_NONE);
}

static void test_origin_check(void)
{
    CU_ASSERT_PTR_NULL(sse_origin_check("*"));
    CU_ASSERT_PTR_NULL(sse_origin_check("https://app.example:8443"));
    CU_ASSERT_PTR_NULL(sse_origin_check("http://localhost"));
    CU_ASSERT_PTR_NULL(sse_origin_check("HTTPS://APP.EXAMPLE"));
    CU_ASSERT_PTR_NULL(sse_origin_check("http://127.0.0.1:8080"));
    CU_ASSERT_PTR_NULL(sse_origin_check("http://[::1]:8080"));
    CU_ASSERT_PTR_NOT_NULL(sse_origin_check("ftp://a.example"));
    CU_ASSERT_PTR_NOT_NULL(sse_origin_check("a.example"));
    CU_ASSERT_PTR_NOT_NULL(sse_origin_check("**"));
    CU_ASSERT_PTR_NOT_NULL(sse_origin_check(""));
    CU_ASSERT_STRING_EQUAL(sse_origin_check("https://"),
                           "the origin has no host");
    CU_ASSERT_PTR_NOT_NULL(sse_origin_check("https://a.example/"));
    CU_ASSERT_PTR_NOT_NULL(sse_origin_check("https://a.example/path"));
    CU_ASSERT_PTR_NOT_NULL(sse_origin_check("https://a.example?q"));
    CU_ASSERT_PTR_NOT_NULL(sse_origin_check("https://user@a.example"));
    CU_ASSERT_PTR_NOT_NULL(sse_origin_check("https://a example"));
}

/* An Origin header never looks like these, so such an entry could never
 * match; each was once accepted. */
static void test_origin_authority(void)
{
    CU_ASSERT_PTR_NULL(sse_origin_check("http://a.example:1"));
    CU_ASSERT_PTR_NULL(sse_origin_check("http://a.example:65535"));
    CU_ASSERT_PTR_NULL(sse_origin_check("http://[2001:db8::1]"));
    CU_ASSERT_PTR_NULL(sse_origin_check("http://[::ffff:192.0.2.1]:80"));
    CU_ASSERT_STRING_EQUAL(sse_origin_check("http://http:off"),
                           "the port is not a number from 1 to 65535");
    CU_ASSERT_PTR_NOT_NULL(sse_origin_check("https://a.example:"));
    CU_ASSERT_PTR_NOT_NULL(sse_origin_check("https://a.example:0"));
    CU_ASSERT_PTR_NOT_NULL(sse_origin_check("https://a.example:65536"));
    CU_ASSERT_PTR_NOT_NULL(sse_origin_check("https://a.example:000080"));
    CU_ASSERT_PTR_NOT_NULL(sse_origin_check("https://a.example:1:2"));
    CU_ASSERT_STRING_EQUAL(sse_origin_check("http://:80"),
                           "the origin has no host");
    CU_ASSERT_PTR_NOT_NULL(sse_origin_check("http://::"));
    CU_ASSERT_STRING_EQUAL(sse_origin_check("http://[]"),
                           "an IPv6 host is an address in brackets: "
                           "[2001:db8::1]");
    CU_ASSERT_PTR_NOT_NULL(sse_origin_check("http://[::1"));
    CU_ASSERT_PTR_NOT_NULL(sse_origin_check("http://[g::1]"));
    CU_ASSERT_PTR_NOT_NULL(sse_origin_check("http://[::1]x"));
    CU_ASSERT_PTR_NOT_NULL(sse_origin_check("http://a]"));
    CU_ASSERT_PTR_NOT_NULL(sse_origin_check("http://a[::1]"));
}

static void test_origins_add(void)
{
    apr_array_header_t *list = apr_array_make(pool, 1, sizeof(const char *));
    const char *err;

    CU_ASSERT_PTR_NULL(sse_origins_add(pool, "O", list, "https://a.example"));
    CU_ASSERT_PTR_NULL(sse_origins_add(pool, "O", list, "http://b.example:81"));
    CU_ASSERT_EQUAL(list->nelts, 2);
    CU_ASSERT_FALSE(sse_origins_allow_any(list));
    err = sse_origins_add(pool, "SSEProxyAllowOrigin", list, "*");
    CU_ASSERT_STRING_EQUAL(err, "SSEProxyAllowOrigin: \"*\" allows every "
                           "origin and cannot be listed with others");
    err = sse_origins_add(pool, "SSEProxyAllowOrigin", list, "https://a/b");
    CU_ASSERT_STRING_EQUAL(err, "SSEProxyAllowOrigin: 'https://a/b' is not "
                           "valid: an origin has no path, query, user or "
                           "spaces: scheme://host[:port]");
    CU_ASSERT_EQUAL(list->nelts, 2);

    list = apr_array_make(pool, 1, sizeof(const char *));
    CU_ASSERT_FALSE(sse_origins_allow_any(list));
    CU_ASSERT_FALSE(sse_origins_allow_any(NULL));
    CU_ASSERT_PTR_NULL(sse_origins_add(pool, "O", list, "*"));
    CU_ASSERT_TRUE(sse_origins_allow_any(list));
    CU_ASSERT_PTR_NOT_NULL(sse_origins_add(pool, "O", list, "https://a.example"));
    CU_ASSERT_PTR_NOT_NULL(sse_origins_add(pool, "O", list, "*"));
    CU_ASSERT_EQUAL(list->nelts, 1);
}

static void test_last_event_id(void)
{
    char id[SSE_MAX_LAST_EVENT_ID + 1];

    CU_ASSERT_PTR_NULL(sse_last_event_id_check("", 0));
    CU_ASSERT_PTR_NULL(sse_last_event_id_check("41", 2));
    CU_ASSERT_PTR_NULL(sse_last_event_id_check("a b\t\x7f\xc3\xa9", 7));
    memset(id, 'x', sizeof(id));
    CU_ASSERT_PTR_NULL(sse_last_event_id_check(id, SSE_MAX_LAST_EVENT_ID));
    CU_ASSERT_STRING_EQUAL(sse_last_event_id_check(id, sizeof(id)),
                           "longer than 1024 bytes");
    CU_ASSERT_STRING_EQUAL(sse_last_event_id_check("4\r\nX: y", 7),
                           "contains CR or LF");
    CU_ASSERT_PTR_NOT_NULL(sse_last_event_id_check("4\r", 2));
    CU_ASSERT_PTR_NOT_NULL(sse_last_event_id_check("\n", 1));
    /* a NUL inside the given length, which a C string would hide */
    CU_ASSERT_STRING_EQUAL(sse_last_event_id_check("4\0\r", 3), "contains NUL");
    CU_ASSERT_PTR_NULL(sse_last_event_id_check("4\0\r", 1));
}

static int set_has_only(const sse_status_set *set, const int *statuses)
{
    int status, i, listed;

    for (status = 0; status < 700; status++) {
        for (i = 0, listed = 0; statuses[i]; i++)
            listed |= statuses[i] == status;
        if (sse_status_set_has(set, status) != listed)
            return 0;
    }
    return 1;
}

static void test_status_set(void)
{
    static const int gateway[] = { 502, 503, 504, 0 };
    static const int mixed[] = { 400, 429, 500, 501, 502, 599, 0 };
    static const int nothing[] = { 0 };
    sse_status_set set, before;

    CU_ASSERT_PTR_NULL(sse_parse_status_set(pool, "D", "502-504", &set));
    CU_ASSERT_TRUE(set_has_only(&set, gateway));
    CU_ASSERT_PTR_NULL(sse_parse_status_set(pool, "D", " 502\t503 504 ",
                                            &set));
    CU_ASSERT_TRUE(set_has_only(&set, gateway));
    CU_ASSERT_PTR_NULL(sse_parse_status_set(pool, "D",
                                            "429 400 500-502 599", &set));
    CU_ASSERT_TRUE(set_has_only(&set, mixed));
    CU_ASSERT_PTR_NULL(sse_parse_status_set(pool, "D", "NONE", &set));
    CU_ASSERT_TRUE(set_has_only(&set, nothing));

    /* refused, with the set untouched */
    CU_ASSERT_PTR_NULL(sse_parse_status_set(pool, "D", "503", &before));
    set = before;
    CU_ASSERT_STRING_EQUAL(
        sse_parse_status_set(pool, "SSEProxyMemberFailure", "404x", &set),
        "SSEProxyMemberFailure: '404x' is not valid; use status codes (503) "
        "or ranges (502-504) from 400 to 599, or 'none'");
    CU_ASSERT_PTR_NOT_NULL(sse_parse_status_set(pool, "D", "399", &set));
    CU_ASSERT_PTR_NOT_NULL(sse_parse_status_set(pool, "D", "600", &set));
    CU_ASSERT_PTR_NOT_NULL(sse_parse_status_set(pool, "D", "5xx", &set));
    CU_ASSERT_PTR_NOT_NULL(sse_parse_status_set(pool, "D", "504-502", &set));
    CU_ASSERT_PTR_NOT_NULL(sse_parse_status_set(pool, "D", "500-", &set));
    CU_ASSERT_PTR_NOT_NULL(sse_parse_status_set(pool, "D", "-500", &set));
    CU_ASSERT_PTR_NOT_NULL(sse_parse_status_set(pool, "D", "500--502", &set));
    CU_ASSERT_PTR_NOT_NULL(sse_parse_status_set(pool, "D", "0503", &set));
    CU_ASSERT_PTR_NOT_NULL(sse_parse_status_set(pool, "D", "none 503", &set));
    CU_ASSERT_PTR_NOT_NULL(sse_parse_status_set(pool, "D", "", &set));
    CU_ASSERT_PTR_NOT_NULL(sse_parse_status_set(pool, "D", "  ", &set));
    CU_ASSERT_EQUAL(memcmp(&set, &before, sizeof(set)), 0);
}

static void test_failure_streak(void)
{
    expect_int64(sse_parse_failure_streak, "1", 1);
    expect_int64(sse_parse_failure_streak, "5", 5);
    expect_int64(sse_parse_failure_streak, "1000", SSE_MAX_FAILURE_STREAK);
    refuse_int64(sse_parse_failure_streak, "0");
    refuse_int64(sse_parse_failure_streak, "1001");
    refuse_int64(sse_parse_failure_streak, "off");
    refuse_int64(sse_parse_failure_streak, "");
}

static void test_percent(void)
{
    expect_int64(sse_parse_percent, "10", 10);
    expect_int64(sse_parse_percent, "10%", 10);
    expect_int64(sse_parse_percent, "100%", 100);
    expect_int64(sse_parse_percent, "1", 1);
    refuse_int64(sse_parse_percent, "0");
    refuse_int64(sse_parse_percent, "0%");
    refuse_int64(sse_parse_percent, "101");
    refuse_int64(sse_parse_percent, "%");
    refuse_int64(sse_parse_percent, "10%%");
    refuse_int64(sse_parse_percent, "1.5");
    refuse_int64(sse_parse_percent, "");
}

static void test_body_buffer(void)
{
    expect_int64(sse_parse_body_buffer, "0", 0);
    expect_int64(sse_parse_body_buffer, "64K", 64 * 1024);
    expect_int64(sse_parse_body_buffer, "1M", 1024 * 1024);
    expect_int64(sse_parse_body_buffer, "64M", SSE_MAX_BODY_BUFFER);
    refuse_int64(sse_parse_body_buffer, "65M");
    refuse_int64(sse_parse_body_buffer, "1G");
    refuse_int64(sse_parse_body_buffer, "-1");
    refuse_int64(sse_parse_body_buffer, "off");
    refuse_int64(sse_parse_body_buffer, "");
}

static void test_seconds(void)
{
    expect_int64(sse_parse_seconds, "1", 1);
    expect_int64(sse_parse_seconds, "3600", 3600);
    expect_int64(sse_parse_seconds, "604800", SSE_MAX_SECONDS);
    refuse_int64(sse_parse_seconds, "0");
    refuse_int64(sse_parse_seconds, "off");
    refuse_int64(sse_parse_seconds, "604801");
    refuse_int64(sse_parse_seconds, "1h");
}

static void test_header_name(void)
{
    const char *v = NULL;
    char longest[SSE_MAX_HEADER_NAME + 2];

    CU_ASSERT_PTR_NULL(sse_parse_header_name(pool, "D", "Mcp-Session-Id", &v));
    CU_ASSERT_STRING_EQUAL(v, "Mcp-Session-Id");
    CU_ASSERT_PTR_NULL(sse_parse_header_name(pool, "D", "X_a.b~1", &v));
    v = NULL;
    CU_ASSERT_STRING_EQUAL(
        sse_parse_header_name(pool, "SSEProxySessionHeader", "Mcp Session",
                              &v),
        "SSEProxySessionHeader: 'Mcp Session' is not valid; use a header "
        "field name (letters, digits and !#$%&'*+-.^_`|~, at most 256 "
        "characters)");
    CU_ASSERT_PTR_NULL(v);
    CU_ASSERT_PTR_NOT_NULL(sse_parse_header_name(pool, "D", "", &v));
    CU_ASSERT_PTR_NOT_NULL(sse_parse_header_name(pool, "D", "a:b", &v));
    CU_ASSERT_PTR_NOT_NULL(sse_parse_header_name(pool, "D", "a\r\nb", &v));
    memset(longest, 'a', sizeof(longest));
    longest[SSE_MAX_HEADER_NAME] = 0;
    CU_ASSERT_PTR_NULL(sse_parse_header_name(pool, "D", longest, &v));
    longest[SSE_MAX_HEADER_NAME] = 'a';
    longest[SSE_MAX_HEADER_NAME + 1] = 0;
    CU_ASSERT_PTR_NOT_NULL(sse_parse_header_name(pool, "D", longest, &v));
}

static const unit_test tests[] = {
    { "SSEProxy on/off", test_on_off },
    { "seconds or off", test_seconds_or_off },
    { "event size with suffixes", test_event_size },
    { "SSEProxyGiveUp", test_giveup },
    { "SSEProxyRetry", test_retry },
    { "SSEProxyJitter", test_jitter },
    { "SSEProxyStrategy", test_strategy },
    { "origin syntax", test_origin_check },
    { "origin host and port", test_origin_authority },
    { "origin lists and *", test_origins_add },
    { "Last-Event-ID", test_last_event_id },
    { "SSEProxyMemberFailure", test_status_set },
    { "SSEProxyMemberFailureThreshold", test_failure_streak },
    { "SSEProxyMemberFailureShare", test_percent },
    { "SSEProxyBodyBuffer", test_body_buffer },
    { "SSEProxySessionTimeout", test_seconds },
    { "SSEProxySessionHeader", test_header_name },
    { NULL, NULL }
};

int register_validate_suite(void)
{
    return add_suite_fixture("validate", setup, teardown, tests);
}
