/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "apr_general.h"
#include "apr_lib.h"
#include "apr_strings.h"

#include "sse_validate.h"

typedef struct {
    const char *word;
    apr_int64_t value;
} keyword;

static const keyword on_off[] = { { "on", 1 }, { "off", 0 }, { NULL, 0 } };
static const keyword off[] = { { "off", 0 }, { NULL, 0 } };
static const keyword giveup[] = {
    { "204", SSE_GIVEUP_204 }, { "retry", SSE_GIVEUP_RETRY }, { NULL, 0 }
};
static const keyword no_keyword[] = { { NULL, 0 } };
static const keyword retry[] = {
    { "auto", SSE_RETRY_AUTO }, { "off", SSE_RETRY_OFF }, { NULL, 0 }
};

/* 1 with the value of the word arg is, in any case; else 0. */
static int keyword_value(const keyword *k, const char *arg, apr_int64_t *out)
{
    for (; k->word; k++) {
        if (!strcasecmp(arg, k->word)) {
            *out = k->value;
            return 1;
        }
    }
    return 0;
}

static int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!apr_isdigit(*s))
            return 0;
    return 1;
}

/* 1 with arg's value when it is a decimal number in 1..max; else 0.
 * Nine digits at most: max is below 10^9, and apr_atoi64 cannot
 * overflow. */
static int whole_number(const char *arg, apr_int64_t max, apr_int64_t *out)
{
    apr_int64_t v;

    if (!all_digits(arg) || strlen(arg) > 9 || (v = apr_atoi64(arg)) < 1
        || v > max)
        return 0;
    *out = v;
    return 1;
}

static const char *not_valid(apr_pool_t *p, const char *directive,
                             const char *arg, const char *use)
{
    return apr_psprintf(p, "%s: '%s' is not valid; use %s", directive, arg,
                        use);
}

/* A word of k, or else, when max > 0, a whole number in 1..max; use says
 * what is valid. */
static const char *keyword_or_number(apr_pool_t *p, const char *directive,
                                     const char *arg, const keyword *k,
                                     apr_int64_t max, const char *use,
                                     apr_int64_t *out)
{
    if (keyword_value(k, arg, out) || (max > 0 && whole_number(arg, max, out)))
        return NULL;
    return not_valid(p, directive, arg, use);
}

static const char *one_keyword(apr_pool_t *p, const char *directive,
                               const char *arg, const keyword *k,
                               const char *use, int *out)
{
    apr_int64_t v = 0;
    const char *err = keyword_or_number(p, directive, arg, k, 0, use, &v);

    if (!err)
        *out = (int)v;
    return err;
}

const char *sse_parse_on_off(apr_pool_t *p, const char *directive,
                             const char *arg, int *out)
{
    return one_keyword(p, directive, arg, on_off, "On or Off", out);
}

const char *sse_parse_seconds_or_off(apr_pool_t *p, const char *directive,
                                     const char *arg, apr_int64_t *out)
{
    return keyword_or_number(p, directive, arg, off, SSE_MAX_SECONDS,
                             "a whole number of seconds from 1 to "
                             APR_STRINGIFY(SSE_MAX_SECONDS) ", or 'off'", out);
}

/* min..max bytes, with an optional K, M or G suffix. */
static const char *parse_size(apr_pool_t *p, const char *directive,
                              const char *arg, apr_int64_t min,
                              apr_int64_t max, apr_int64_t *out)
{
    char digits[16];
    apr_size_t n = strlen(arg);
    apr_int64_t scale = 1, v;

    if (n > 0 && n < sizeof(digits)) {
        switch (apr_tolower(arg[n - 1])) {
        case 'k': scale = 1024; n--; break;
        case 'm': scale = 1024 * 1024; n--; break;
        case 'g': scale = 1024 * 1024 * 1024; n--; break;
        default: break;
        }
        memcpy(digits, arg, n);
        digits[n] = 0;
        /* bounded before scaling: 10 digits times 2^30 overflow */
        if (all_digits(digits) && n <= 10
            && (v = apr_atoi64(digits)) <= max / scale
            && v * scale >= min) {
            *out = v * scale;
            return NULL;
        }
    }
    return not_valid(p, directive, arg,
                     apr_psprintf(p, "a size in bytes from %" APR_INT64_T_FMT
                                  " to %" APR_INT64_T_FMT ", optionally with "
                                  "K, M or G (e.g. 1M)", min, max));
}

const char *sse_parse_event_size(apr_pool_t *p, const char *directive,
                                 const char *arg, apr_int64_t *out)
{
    return parse_size(p, directive, arg, SSE_MIN_EVENT_SIZE,
                      SSE_MAX_EVENT_SIZE, out);
}

const char *sse_parse_body_buffer(apr_pool_t *p, const char *directive,
                                  const char *arg, apr_int64_t *out)
{
    return parse_size(p, directive, arg, 0, SSE_MAX_BODY_BUFFER, out);
}

const char *sse_parse_seconds(apr_pool_t *p, const char *directive,
                              const char *arg, apr_int64_t *out)
{
    return keyword_or_number(p, directive, arg, no_keyword, SSE_MAX_SECONDS,
                             "a whole number of seconds from 1 to "
                             APR_STRINGIFY(SSE_MAX_SECONDS), out);
}

const char *sse_parse_slow_start(apr_pool_t *p, const char *directive,
                                 const char *arg, apr_int64_t *out)
{
    static const struct {
        const char *unit;
        apr_int64_t ms;
    } units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
                  { "h", 3600000 }, { "", 1000 } };
    char digits[16];
    apr_size_t n, i;
    apr_int64_t v;

    if (!strcasecmp(arg, "off")) {
        *out = 0;
        return NULL;
    }
    for (n = 0; apr_isdigit(arg[n]); n++)
        ;
    /* eight digits at most: no product below overflows */
    if (n > 0 && n <= 8) {
        memcpy(digits, arg, n);
        digits[n] = 0;
        v = apr_atoi64(digits);
        for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            if (strcasecmp(arg + n, units[i].unit))
                continue;
            v *= units[i].ms;
            if (v >= SSE_MIN_SLOW_START_MS && v <= SSE_MAX_SLOW_START_MS) {
                *out = v;
                return NULL;
            }
            break;
        }
    }
    return not_valid(p, directive, arg,
                     "a duration from 1s to 1h: a whole number with a unit "
                     "of ms, s, m or h (seconds without one), e.g. 30s; or "
                     "'off'");
}

/* RFC 9110 tchar */
static int is_tchar(int c)
{
    return apr_isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

const char *sse_parse_header_name(apr_pool_t *p, const char *directive,
                                  const char *arg, const char **out)
{
    const char *s;

    for (s = arg; *s && is_tchar((unsigned char)*s); s++)
        ;
    if (!*arg || *s || s - arg > SSE_MAX_HEADER_NAME)
        return not_valid(p, directive, arg,
                         "a header field name (letters, digits and "
                         "!#$%&'*+-.^_`|~, at most "
                         APR_STRINGIFY(SSE_MAX_HEADER_NAME) " characters)");
    *out = apr_pstrdup(p, arg);
    return NULL;
}

const char *sse_parse_giveup(apr_pool_t *p, const char *directive,
                             const char *arg, int *out)
{
    return one_keyword(p, directive, arg, giveup, "204 or retry", out);
}

const char *sse_parse_retry(apr_pool_t *p, const char *directive,
                            const char *arg, apr_int64_t *out)
{
    return keyword_or_number(p, directive, arg, retry, SSE_MAX_RETRY_MS,
                             "auto, off, or milliseconds from 1 to "
                             APR_STRINGIFY(SSE_MAX_RETRY_MS), out);
}

const char *sse_parse_jitter(apr_pool_t *p, const char *directive,
                             const char *arg, ssep_jitter *out)
{
    if (ssep_jitter_parse(arg, out) < 0)
        return not_valid(p, directive, arg,
                         "none, full, equal or decorrelated");
    return NULL;
}

const char *sse_parse_strategy(apr_pool_t *p, const char *directive,
                               const char *cls_name, const char *spec,
                               ssep_policy *policy, ssep_class *cls)
{
    ssep_class c;
    char err[200];

    if (ssep_class_parse(cls_name, &c) < 0 || c == SSEP_CLASS_NONE)
        return apr_psprintf(p, "%s: unknown class '%s'; use NETWORK_ERROR, "
                            "AUTH_ERROR, SERVER_ERROR or PROXY_ERROR",
                            directive, cls_name);
    if (!*spec)
        return apr_psprintf(p, "%s %s: no strategy given; e.g. initial=15s "
                            "max=15m factor=2.5 attempts=4", directive,
                            cls_name);
    /* keys the spec leaves out keep the class's current values */
    if (ssep_strategy_parse(&policy->strategy[c], spec, err, sizeof(err)) < 0)
        return apr_psprintf(p, "%s %s: %s", directive, cls_name, err);
    *cls = c;
    return NULL;
}

int sse_status_set_has(const sse_status_set *set, int status)
{
    unsigned bit;

    if (status < SSE_STATUS_SET_MIN || status > SSE_STATUS_SET_MAX)
        return 0;
    bit = (unsigned)(status - SSE_STATUS_SET_MIN);
    return (set->bits[bit / 32] >> (bit % 32)) & 1;
}

static void status_set_add(sse_status_set *set, int from, int to)
{
    for (; from <= to; from++) {
        unsigned bit = (unsigned)(from - SSE_STATUS_SET_MIN);
        set->bits[bit / 32] |= (apr_uint32_t)1 << (bit % 32);
    }
}

/* Three digits within the set's range. */
static int status_code(const char *s, apr_size_t n, int *out)
{
    int v;

    if (n != 3 || !apr_isdigit(s[0]) || !apr_isdigit(s[1])
        || !apr_isdigit(s[2]))
        return 0;
    v = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    if (v < SSE_STATUS_SET_MIN || v > SSE_STATUS_SET_MAX)
        return 0;
    *out = v;
    return 1;
}

const char *sse_parse_status_set(apr_pool_t *p, const char *directive,
                                 const char *args, sse_status_set *out)
{
    static const char use[] = "status codes (503) or ranges (502-504) from "
        APR_STRINGIFY(SSE_STATUS_SET_MIN) " to "
        APR_STRINGIFY(SSE_STATUS_SET_MAX) ", or 'none'";
    sse_status_set set;
    const char *s = args;
    int words = 0, none = 0;

    memset(&set, 0, sizeof(set));
    for (;;) {
        const char *word, *dash;
        apr_size_t n;
        int from, to;

        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s)
            break;
        word = s;
        while (*s && *s != ' ' && *s != '\t')
            s++;
        n = (apr_size_t)(s - word);
        words++;
        if (n == 4 && !strncasecmp(word, "none", 4)) {
            none = 1;
            continue;
        }
        dash = memchr(word, '-', n);
        if (!dash) {
            if (!status_code(word, n, &from))
                return not_valid(p, directive, apr_pstrmemdup(p, word, n),
                                 use);
            to = from;
        } else if (!status_code(word, (apr_size_t)(dash - word), &from)
                   || !status_code(dash + 1,
                                   n - (apr_size_t)(dash - word) - 1, &to)) {
            return not_valid(p, directive, apr_pstrmemdup(p, word, n), use);
        }
        if (to < from)
            return apr_psprintf(p, "%s: '%s' is not valid: a range goes from "
                                "the lower status to the higher", directive,
                                apr_pstrmemdup(p, word, n));
        status_set_add(&set, from, to);
    }
    if (!words)
        return apr_psprintf(p, "%s: no status given; use %s", directive, use);
    if (none && words > 1)
        return apr_psprintf(p, "%s: 'none' cannot be listed with statuses",
                            directive);
    *out = set;
    return NULL;
}

const char *sse_parse_failure_streak(apr_pool_t *p, const char *directive,
                                     const char *arg, apr_int64_t *out)
{
    return keyword_or_number(p, directive, arg, no_keyword,
                             SSE_MAX_FAILURE_STREAK, "a whole number from 1 "
                             "to " APR_STRINGIFY(SSE_MAX_FAILURE_STREAK), out);
}

const char *sse_parse_percent(apr_pool_t *p, const char *directive,
                              const char *arg, apr_int64_t *out)
{
    apr_size_t n = strlen(arg);
    const char *digits = arg;

    if (n > 1 && arg[n - 1] == '%')
        digits = apr_pstrmemdup(p, arg, n - 1);
    if (whole_number(digits, 100, out))
        return NULL;
    return not_valid(p, directive, arg, "a percentage from 1 to 100 (10%)");
}

/* host[:port] after the scheme: the host a name or IPv4 address, or an
 * IPv6 address in brackets; the port 1..65535.  An Origin header never
 * carries anything else, so an entry that does could never match. */
static const char *authority_check(const char *host)
{
    const char *s = host;
    apr_size_t digits;

    if (*s == '[') {
        for (s++; apr_isxdigit(*s) || *s == ':' || *s == '.'; s++)
            ;
        if (*s != ']' || s == host + 1)
            return "an IPv6 host is an address in brackets: [2001:db8::1]";
        s++;
    } else {
        for (; apr_isalnum(*s) || *s == '.' || *s == '-'; s++)
            ;
        if (s == host && (!*s || *s == ':'))
            return "the origin has no host";
    }
    if (!*s)
        return NULL;
    if (*s != ':')
        return "an origin has no path, query, user or spaces: "
               "scheme://host[:port]";
    for (digits = 0; apr_isdigit(s[1 + digits]); digits++)
        ;
    if (!digits || s[1 + digits] || digits > 5 || atoi(s + 1) < 1
        || atoi(s + 1) > 65535)
        return "the port is not a number from 1 to 65535";
    return NULL;
}

const char *sse_origin_check(const char *origin)
{
    if (!strcmp(origin, "*"))
        return NULL;
    if (!strncasecmp(origin, "https://", 8))
        return authority_check(origin + 8);
    if (!strncasecmp(origin, "http://", 7))
        return authority_check(origin + 7);
    return "an origin is scheme://host[:port] with http or https, or *";
}

int sse_origins_allow_any(const apr_array_header_t *origins)
{
    return origins && origins->nelts
           && !strcmp(APR_ARRAY_IDX(origins, 0, const char *), "*");
}

const char *sse_origins_add(apr_pool_t *p, const char *directive,
                            apr_array_header_t *origins, const char *origin)
{
    const char *why = sse_origin_check(origin);

    if (why)
        return apr_psprintf(p, "%s: '%s' is not valid: %s", directive, origin,
                            why);
    if (origins->nelts
        && (!strcmp(origin, "*") || sse_origins_allow_any(origins)))
        return apr_psprintf(p, "%s: \"*\" allows every origin and cannot be "
                            "listed with others", directive);
    APR_ARRAY_PUSH(origins, const char *) = apr_pstrdup(p, origin);
    return NULL;
}

const char *sse_last_event_id_check(const char *value, apr_size_t len)
{
    apr_size_t i;

    if (len > SSE_MAX_LAST_EVENT_ID)
        return "longer than " APR_STRINGIFY(SSE_MAX_LAST_EVENT_ID) " bytes";
    /* each would end the header line it is forwarded in; httpd refuses
     * NUL in a request header, but the check must not rely on that */
    for (i = 0; i < len; i++) {
        if (value[i] == '\r' || value[i] == '\n')
            return "contains CR or LF";
        if (value[i] == '\0')
            return "contains NUL";
    }
    return NULL;
}
