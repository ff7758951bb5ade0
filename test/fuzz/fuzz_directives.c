/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/*
 * libFuzzer target for the argument parsers of the module's directives
 * (sse_validate.c).  The first input byte picks the directive (every
 * byte value picks one), the rest is its argument.  Every parser must
 * either accept with a value inside its documented range, or refuse with
 * a message that names the directive and leave its output alone.  The
 * checks below restate the documented syntax independently of the
 * parsers.
 *
 * SSEProxyAllowCredentials and SSEProxyAsync are FLAG directives: httpd
 * core parses their On/Off, so there is nothing of ours to fuzz.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "apr_general.h"
#include "apr_pools.h"
#include "apr_tables.h"

#include "sse_validate.h"

#define SENTINEL (-7777)

static apr_pool_t *pool;

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (apr_initialize() != APR_SUCCESS
        || apr_pool_create(&pool, NULL) != APR_SUCCESS)
        abort();
    return 0;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* 1 when s[0..n) is a non-empty run of digits; *v saturates. */
static int decimal(const char *s, size_t n, uint64_t *v)
{
    size_t i;

    *v = 0;
    if (n == 0)
        return 0;
    for (i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return 0;
        *v = *v >= UINT64_MAX / 16 ? UINT64_MAX : *v * 10 + (s[i] - '0');
    }
    return 1;
}

/* 1 when err is a refusal: it must name the directive ("Name: ..." or
 * "Name CLASS: ...") and have left the output untouched. */
static int refused(const char *err, const char *name, int untouched)
{
    size_t n = strlen(name);

    if (!err)
        return 0;
    if (strncmp(err, name, n) || (err[n] != ':' && err[n] != ' ')
        || !untouched)
        abort();
    return 1;
}

static void on_off(const char *name, const char *arg)
{
    int v = SENTINEL;
    const char *err = sse_parse_on_off(pool, name, arg, &v);

    if (refused(err, name, v == SENTINEL))
        return;
    if (!(v == 1 && !strcasecmp(arg, "on"))
        && !(v == 0 && !strcasecmp(arg, "off")))
        abort();
}

/* An accepted value is the keyword's value with that keyword as the
 * argument (any case), or else the argument's decimal value in 1..max. */
static void keyword_or_number(const char *arg, apr_int64_t v, apr_int64_t max,
                              apr_int64_t keyword_value, const char *keyword)
{
    uint64_t d;

    if (v == keyword_value ? strcasecmp(arg, keyword) != 0
        : v < 1 || v > max || !decimal(arg, strlen(arg), &d)
          || d != (uint64_t)v)
        abort();
}

static void seconds(const char *name, const char *arg)
{
    apr_int64_t v = SENTINEL;
    const char *err = sse_parse_seconds_or_off(pool, name, arg, &v);

    if (!refused(err, name, v == SENTINEL))
        keyword_or_number(arg, v, SSE_MAX_SECONDS, 0, "off");
}

/* A size in [min, max], with the suffix it was written with. */
static void size_in(const char *arg, apr_int64_t v, apr_int64_t min,
                    apr_int64_t max)
{
    size_t n = strlen(arg);
    uint64_t d, scale = 1;

    if (v < min || v > max || n == 0)
        abort();
    switch (arg[n - 1]) {
    case 'k': case 'K': scale = 1u << 10; n--; break;
    case 'm': case 'M': scale = 1u << 20; n--; break;
    case 'g': case 'G': scale = 1u << 30; n--; break;
    default: break;
    }
    if (!decimal(arg, n, &d) || d > (uint64_t)max / scale
        || d * scale != (uint64_t)v)
        abort();
}

static void event_size(const char *name, const char *arg)
{
    apr_int64_t v = SENTINEL;
    const char *err = sse_parse_event_size(pool, name, arg, &v);

    if (!refused(err, name, v == SENTINEL))
        size_in(arg, v, SSE_MIN_EVENT_SIZE, SSE_MAX_EVENT_SIZE);
}

static void body_buffer(const char *name, const char *arg)
{
    apr_int64_t v = SENTINEL;
    const char *err = sse_parse_body_buffer(pool, name, arg, &v);

    if (!refused(err, name, v == SENTINEL))
        size_in(arg, v, 0, SSE_MAX_BODY_BUFFER);
}

static void seconds_only(const char *name, const char *arg)
{
    apr_int64_t v = SENTINEL;
    const char *err = sse_parse_seconds(pool, name, arg, &v);

    if (!refused(err, name, v == SENTINEL))
        keyword_or_number(arg, v, SSE_MAX_SECONDS, 0, "");
}

/* An accepted name is a copy of a token of RFC 9110 characters. */
static void header_name(const char *name, const char *arg)
{
    const char *v = NULL;
    const char *err = sse_parse_header_name(pool, name, arg, &v);
    const char *c;

    if (refused(err, name, v == NULL))
        return;
    if (!v || v == arg || strcmp(v, arg) || !*v
        || strlen(v) > SSE_MAX_HEADER_NAME)
        abort();
    for (c = v; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr("!#$%&'*+-.^_`|~", *c))
            abort();
}

static void giveup(const char *name, const char *arg)
{
    int v = SENTINEL;
    const char *err = sse_parse_giveup(pool, name, arg, &v);

    if (refused(err, name, v == SENTINEL))
        return;
    if (!(v == SSE_GIVEUP_204 && !strcmp(arg, "204"))
        && !(v == SSE_GIVEUP_RETRY && !strcasecmp(arg, "retry")))
        abort();
}

static void retry(const char *name, const char *arg)
{
    apr_int64_t v = SENTINEL;
    const char *err = sse_parse_retry(pool, name, arg, &v);

    if (refused(err, name, v == SENTINEL))
        return;
    if (v != SSE_RETRY_AUTO)
        keyword_or_number(arg, v, SSE_MAX_RETRY_MS, SSE_RETRY_OFF, "off");
    else if (strcasecmp(arg, "auto"))
        abort();
}

static void jitter(const char *name, const char *arg)
{
    ssep_jitter j = (ssep_jitter)SENTINEL;
    const char *err = sse_parse_jitter(pool, name, arg, &j);

    if (refused(err, name, j == (ssep_jitter)SENTINEL))
        return;
    if ((unsigned)j >= SSEP_JITTER_COUNT)
        abort();
}

/* RAW_ARGS: httpd's ap_getword_conf splits off the class name; a split
 * at the first blank stands in for it here. */
static void strategy(const char *name, char *args)
{
    ssep_policy pol, before;
    ssep_class cls = (ssep_class)SENTINEL;
    char *spec = args + strcspn(args, " \t");
    const char *err;
    int i;

    if (*spec)
        *spec++ = 0;
    spec += strspn(spec, " \t");
    ssep_policy_init(&pol);
    before = pol;
    err = sse_parse_strategy(pool, name, args, spec, &pol, &cls);
    if (refused(err, name, cls == (ssep_class)SENTINEL
                           && !memcmp(&pol, &before, sizeof(pol))))
        return;
    if (cls <= SSEP_CLASS_NONE || cls >= SSEP_CLASS_COUNT
        || ssep_strategy_validate(&pol.strategy[cls]) || pol.jitter != before.jitter)
        abort();
    for (i = 0; i < SSEP_CLASS_COUNT; i++)
        if (i != (int)cls && memcmp(&pol.strategy[i], &before.strategy[i],
                                    sizeof(pol.strategy[i])))
            abort();
}

/* scheme://host[:port]: http or https, a non-empty host (a name or a
 * bracketed IPv6 address), a port of 1..65535, nothing else. */
static int origin_syntax_ok(const char *o)
{
    const char *host, *end, *s;
    uint64_t port;

    if (!strcmp(o, "*"))
        return 1;
    if (!strncasecmp(o, "http://", 7))
        host = o + 7;
    else if (!strncasecmp(o, "https://", 8))
        host = o + 8;
    else
        return 0;
    if (*host == '[') {
        end = strchr(host, ']');
        if (!end || end == host + 1)
            return 0;
        for (s = host + 1; s < end; s++)
            if (!strchr("0123456789abcdefABCDEF:.", *s))
                return 0;
        end++;
    } else {
        end = host + strcspn(host, ":");
        if (end == host)
            return 0;
        for (s = host; s < end; s++)
            if (!is_digit(*s) && !strchr("abcdefghijklmnopqrstuvwxyz"
                                         "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-", *s))
                return 0;
    }
    if (!*end)
        return 1;
    return *end == ':' && strlen(end + 1) <= 5
           && decimal(end + 1, strlen(end + 1), &port)
           && port >= 1 && port <= 65535;
}

/* ITERATE: each blank-separated word is one call, on one list. */
static void allow_origin(const char *name, char *args)
{
    apr_array_header_t *list = apr_array_make(pool, 2, sizeof(const char *));
    char *word = args;

    while (*word) {
        size_t n = strcspn(word, " \t");
        int before = list->nelts, i;
        char *next = word + n;
        const char *err;

        if (*next)
            *next++ = 0;
        if (n) {
            err = sse_origins_add(pool, name, list, word);
            if (!refused(err, name, list->nelts == before)
                && (list->nelts != before + 1 || !origin_syntax_ok(word)))
                abort();
            for (i = 0; i < list->nelts; i++)
                if (list->nelts > 1
                    && !strcmp(APR_ARRAY_IDX(list, i, const char *), "*"))
                    abort();
            if (sse_origins_allow_any(list) != (list->nelts == 1
                && !strcmp(APR_ARRAY_IDX(list, 0, const char *), "*")))
                abort();
        }
        word = next;
    }
}

static void failure_streak(const char *name, const char *arg)
{
    apr_int64_t v = SENTINEL;
    const char *err = sse_parse_failure_streak(pool, name, arg, &v);

    /* no keyword: 0 is no value the parser may give */
    if (!refused(err, name, v == SENTINEL))
        keyword_or_number(arg, v, SSE_MAX_FAILURE_STREAK, 0, "");
}

static void percent(const char *name, const char *arg)
{
    apr_int64_t v = SENTINEL;
    const char *err = sse_parse_percent(pool, name, arg, &v);
    size_t n = strlen(arg);
    uint64_t d;

    if (refused(err, name, v == SENTINEL))
        return;
    if (n && arg[n - 1] == '%')
        n--;
    if (v < 1 || v > 100 || !decimal(arg, n, &d) || d != (uint64_t)v)
        abort();
}

/* "off" as 0, or digits and a unit (ms, s, m, h; seconds without one),
 * in any case, within the documented range. */
static void slow_start(const char *name, const char *arg)
{
    static const struct {
        const char *unit;
        uint64_t ms;
    } units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
                  { "h", 3600000 }, { "", 1000 } };
    apr_int64_t v = SENTINEL;
    const char *err = sse_parse_slow_start(pool, name, arg, &v);
    size_t n = 0, i;
    uint64_t d;

    if (refused(err, name, v == SENTINEL))
        return;
    if (v == 0) {
        if (strcasecmp(arg, "off"))
            abort();
        return;
    }
    while (is_digit(arg[n]))
        n++;
    if (v < SSE_MIN_SLOW_START_MS || v > SSE_MAX_SLOW_START_MS
        || !decimal(arg, n, &d))
        abort();
    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (!strcasecmp(arg + n, units[i].unit))
            break;
    if (i == sizeof(units) / sizeof(units[0]) || d * units[i].ms != (uint64_t)v)
        abort();
}

/* Three digits naming a status the set may hold. */
static int status_word(const char *s, size_t n, int *status)
{
    uint64_t d;

    if (n != 3 || !decimal(s, n, &d) || d < SSE_STATUS_SET_MIN
        || d > SSE_STATUS_SET_MAX)
        return 0;
    *status = (int)d;
    return 1;
}

/* RAW_ARGS: the whole list at once.  An accepted list holds exactly the
 * statuses its words name ("none" naming none, and only alone). */
static void status_set(const char *name, char *args)
{
    sse_status_set set, untouched;
    char want[SSE_STATUS_SET_MAX + 1];
    const char *err, *w = args;
    int words = 0, none = 0, i;

    memset(&set, 0xa5, sizeof(set));
    untouched = set;
    err = sse_parse_status_set(pool, name, args, &set);
    if (refused(err, name, !memcmp(&set, &untouched, sizeof(set))))
        return;
    memset(want, 0, sizeof(want));
    while (*w) {
        size_t n;
        const char *dash;
        int from, to;

        w += strspn(w, " \t");
        n = strcspn(w, " \t");
        if (!n)
            break;
        words++;
        dash = memchr(w, '-', n);
        if (n == 4 && !strncasecmp(w, "none", 4))
            none = 1;
        else if (!dash && status_word(w, n, &from))
            want[from] = 1;
        else if (dash && status_word(w, (size_t)(dash - w), &from)
                 && status_word(dash + 1, n - (size_t)(dash - w) - 1, &to)
                 && from <= to)
            memset(want + from, 1, (size_t)(to - from + 1));
        else
            abort();
        w += n;
    }
    if (!words || (none && words > 1))
        abort();
    for (i = 0; i <= SSE_STATUS_SET_MAX + 100; i++)
        if (sse_status_set_has(&set, i) != (i <= SSE_STATUS_SET_MAX && want[i]))
            abort();
}

typedef void (*arg_fn)(const char *name, const char *arg);
typedef void (*args_fn)(const char *name, char *args);

static const struct {
    const char *name;
    arg_fn take1;     /* one argument */
    args_fn split;    /* or the whole line, split by the function */
} directives[] = {
    { "SSEProxy", on_off, NULL },
    { "SSEProxyHeartbeat", seconds, NULL },
    { "SSEProxyIdleTimeout", seconds, NULL },
    { "SSEProxyMaxEventSize", event_size, NULL },
    { "SSEProxyStrategy", NULL, strategy },
    { "SSEProxyJitter", jitter, NULL },
    { "SSEProxyGiveUp", giveup, NULL },
    { "SSEProxyRetry", retry, NULL },
    { "SSEProxyAllowOrigin", NULL, allow_origin },
    { "SSEProxyMemberFailure", NULL, status_set },
    { "SSEProxyMemberFailureThreshold", failure_streak, NULL },
    { "SSEProxyMemberFailureShare", percent, NULL },
    { "SSEProxyBodyBuffer", body_buffer, NULL },
    { "SSEProxySessionTimeout", seconds_only, NULL },
    { "SSEProxySessionHeader", header_name, NULL },
    { "SSEProxySlowStart", slow_start, NULL },
};
#define DIRECTIVES (sizeof(directives) / sizeof(directives[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *arg;
    size_t which;

    if (size < 1)
        return 0;
    /* '0' + index picks directives[index]: seeds read "31M", "1off" */
    which = (unsigned char)(data[0] - '0') % DIRECTIVES;
    /* httpd hands a directive a C string: a NUL ends the argument */
    arg = malloc(size);
    if (!arg)
        return 0;
    memcpy(arg, data + 1, size - 1);
    arg[size - 1] = 0;
    if (directives[which].take1)
        directives[which].take1(directives[which].name, arg);
    else
        directives[which].split(directives[which].name, arg);
    free(arg);
    apr_pool_clear(pool);
    return 0;
}
