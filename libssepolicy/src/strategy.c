/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ssepolicy.h"
#include "internal.h"

#define FACTOR_MIN   1.0
#define FACTOR_MAX   100.0
#define ATTEMPTS_MAX 1000000u

static const ssep_strategy default_table[SSEP_CLASS_COUNT] = {
    [SSEP_CLASS_NONE]    = {     0,      0, 1.0, 0 },
    [SSEP_CLASS_NETWORK] = {  5000, 300000, 1.5, 8 },
    [SSEP_CLASS_AUTH]    = { 30000, 600000, 2.0, 5 },
    [SSEP_CLASS_SERVER]  = { 10000, 180000, 1.8, 6 },
    [SSEP_CLASS_PROXY]   = { 15000, 900000, 2.5, 4 },
};

const ssep_strategy *ssep_default_strategy(ssep_class c)
{
    if (c == SSEP_CLASS_NONE || (unsigned)c >= SSEP_CLASS_COUNT)
        return NULL;
    return &default_table[c];
}

int ssep_strategy_validate(const ssep_strategy *s)
{
    if (!s || s->initial_ms == 0 || s->initial_ms > s->max_ms)
        return -1;
    /* written so that NaN fails too */
    if (!(s->factor >= FACTOR_MIN && s->factor <= FACTOR_MAX))
        return -1;
    if (s->max_attempts < 1 || s->max_attempts > ATTEMPTS_MAX)
        return -1;
    return 0;
}

int ssep_strategy_format(const ssep_strategy *s, char *buf, size_t len)
{
    if (!s)
        return snprintf(buf, len, "invalid");
    return snprintf(buf, len, "initial=%lums max=%lums factor=%g attempts=%lu",
                    (unsigned long)s->initial_ms, (unsigned long)s->max_ms,
                    s->factor, (unsigned long)s->max_attempts);
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void set_error(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* A plain decimal number: digits with at most one '.', no sign, no
 * exponent, so that "1e9s" or "-5s" never sneak in.  Parsed by hand
 * because strtod() follows LC_NUMERIC and a client library must not read
 * "1.5" as 1 under a locale with a decimal comma.  mantissa / 10^k is
 * correctly rounded while both are exact doubles (up to 15 digits). */
static int parse_decimal(const char *s, size_t n, double *out, size_t *used)
{
    size_t i = 0, digits = 0, frac = 0;
    int dot = 0;
    uint64_t mantissa = 0;
    double scale = 1;

    while (i < n && ((s[i] >= '0' && s[i] <= '9') || (s[i] == '.' && !dot))) {
        if (s[i] == '.') {
            dot = 1;
        } else {
            if (mantissa == 0 && s[i] == '0' && !dot) {
                i++;
                digits++;
                continue; /* leading zeros carry no precision */
            }
            if (++digits > 15 + 16)
                return -1;
            if (mantissa >= 100000000000000ULL) /* 15 significant digits */
                return -1;
            mantissa = mantissa * 10 + (uint64_t)(s[i] - '0');
            if (dot)
                frac++;
        }
        i++;
    }
    if (digits == 0)
        return -1;
    while (frac--)
        scale *= 10;
    *out = (double)mantissa / scale;
    *used = i;
    return 0;
}

static int parse_duration(const char *v, size_t n, uint32_t *out)
{
    double num, scale;
    size_t used;
    const char *unit;
    size_t ulen;

    if (parse_decimal(v, n, &num, &used) < 0)
        return -1;
    unit = v + used;
    ulen = n - used;
    if (ulen == 2 && unit[0] == 'm' && unit[1] == 's')
        scale = 1;
    else if (ulen == 1 && unit[0] == 's')
        scale = 1000;
    else if (ulen == 1 && unit[0] == 'm')
        scale = 60000;
    else if (ulen == 1 && unit[0] == 'h')
        scale = 3600000;
    else
        return -1;
    num *= scale;
    if (num > (double)UINT32_MAX || num != floor(num))
        return -1;
    *out = (uint32_t)num;
    return 0;
}

static int parse_count(const char *v, size_t n, uint32_t *out)
{
    uint64_t acc = 0;
    size_t i;

    if (n == 0)
        return -1;
    for (i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        acc = acc * 10 + (uint64_t)(v[i] - '0');
        if (acc > ATTEMPTS_MAX)
            return -1;
    }
    *out = (uint32_t)acc;
    return 0;
}

enum { KEY_INITIAL, KEY_MAX, KEY_FACTOR, KEY_ATTEMPTS, KEY_COUNT };

static int key_index(const char *k, size_t n)
{
    static const char *const names[KEY_COUNT] = {
        "initial", "max", "factor", "attempts"
    };
    int i;

    for (i = 0; i < KEY_COUNT; i++)
        if (strlen(names[i]) == n && memcmp(names[i], k, n) == 0)
            return i;
    return -1;
}

static int is_separator(char c)
{
    return c == ' ' || c == '\t' || c == ',';
}

int ssep_strategy_parse(ssep_strategy *s, const char *text, char *err,
                        size_t errlen)
{
    ssep_strategy work;
    int seen[KEY_COUNT] = { 0 };
    const char *p;

    set_error(err, errlen, "%s", "");
    if (!s || !text) {
        set_error(err, errlen, "no strategy given");
        return -1;
    }
    work = *s;
    p = text;
    for (;;) {
        const char *tok, *eq, *val;
        size_t toklen, keylen, vallen;
        int key, bad;

        while (is_separator(*p))
            p++;
        if (!*p)
            break;
        tok = p;
        while (*p && !is_separator(*p))
            p++;
        toklen = (size_t)(p - tok);
        eq = memchr(tok, '=', toklen);
        if (!eq) {
            set_error(err, errlen, "'%.*s': expected key=value "
                      "(keys: initial, max, factor, attempts)",
                      (int)toklen, tok);
            return -1;
        }
        keylen = (size_t)(eq - tok);
        val = eq + 1;
        vallen = toklen - keylen - 1;
        key = key_index(tok, keylen);
        if (key < 0) {
            set_error(err, errlen, "'%.*s': unknown key '%.*s' "
                      "(keys: initial, max, factor, attempts)",
                      (int)toklen, tok, (int)keylen, tok);
            return -1;
        }
        if (seen[key]) {
            set_error(err, errlen, "'%.*s': '%.*s' given twice",
                      (int)toklen, tok, (int)keylen, tok);
            return -1;
        }
        seen[key] = 1;
        switch (key) {
        case KEY_INITIAL:
            bad = parse_duration(val, vallen, &work.initial_ms) < 0
                  || work.initial_ms == 0;
            if (bad) {
                set_error(err, errlen, "'%.*s': expected a positive whole "
                          "number of ms with a unit (ms, s, m, h), e.g. "
                          "initial=5s", (int)toklen, tok);
                return -1;
            }
            break;
        case KEY_MAX:
            if (parse_duration(val, vallen, &work.max_ms) < 0) {
                set_error(err, errlen, "'%.*s': expected a duration with a "
                          "unit (ms, s, m, h), e.g. max=5m",
                          (int)toklen, tok);
                return -1;
            }
            break;
        case KEY_FACTOR: {
            double f;
            size_t used;
            if (parse_decimal(val, vallen, &f, &used) < 0 || used != vallen
                || f < FACTOR_MIN || f > FACTOR_MAX) {
                set_error(err, errlen, "'%.*s': expected a number from 1 to "
                          "100, e.g. factor=1.5", (int)toklen, tok);
                return -1;
            }
            work.factor = f;
            break;
        }
        case KEY_ATTEMPTS:
            if (parse_count(val, vallen, &work.max_attempts) < 0
                || work.max_attempts < 1) {
                set_error(err, errlen, "'%.*s': expected a whole number "
                          "from 1 to %u, e.g. attempts=8", (int)toklen, tok,
                          ATTEMPTS_MAX);
                return -1;
            }
            break;
        }
    }
    if (work.initial_ms > work.max_ms) {
        set_error(err, errlen, "initial (%lums) is larger than max (%lums)",
                  (unsigned long)work.initial_ms, (unsigned long)work.max_ms);
        return -1;
    }
    if (ssep_strategy_validate(&work) < 0) {
        set_error(err, errlen, "the resulting strategy is invalid");
        return -1;
    }
    *s = work;
    return 0;
}
