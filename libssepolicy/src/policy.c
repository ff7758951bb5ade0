/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ssepolicy.h"

void ssep_policy_init(ssep_policy *p)
{
    unsigned c;

    if (!p)
        return;
    memset(p, 0, sizeof(*p));
    for (c = SSEP_CLASS_NETWORK; c < SSEP_CLASS_COUNT; c++)
        p->strategy[c] = *ssep_default_strategy((ssep_class)c);
    /* Equal jitter keeps at least half of the computed delay, so the
     * table's promise of a minimum pause holds, while still spreading a
     * crowd over the other half. */
    p->jitter = SSEP_JITTER_EQUAL;
}

const ssep_strategy *ssep_policy_strategy(const ssep_policy *p, ssep_class c)
{
    if (!p || c == SSEP_CLASS_NONE || (unsigned)c >= SSEP_CLASS_COUNT)
        return NULL;
    return &p->strategy[c];
}

/* snprintf-style appender that keeps counting past the end of buf so
 * the caller learns the size it needs. */
typedef struct {
    char  *buf;
    size_t len;
    size_t used;
} json_out;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void out_printf(json_out *o, const char *fmt, ...)
{
    va_list ap;
    int n;
    size_t room = o->used < o->len ? o->len - o->used : 0;

    va_start(ap, fmt);
    n = vsnprintf(room ? o->buf + o->used : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->used += (size_t)n;
}

/* 15 significant digits reproduce every factor the strategy parser
 * accepts; '.' is forced whatever LC_NUMERIC says, since JSON knows no
 * other decimal separator. */
static const char *json_number(double v, char *tmp, size_t len)
{
    char *p;

    if (!(v == v) || v > 1e300 || v < -1e300)
        v = 0; /* NaN and inf are not JSON */
    snprintf(tmp, len, "%.15g", v);
    for (p = tmp; *p; p++)
        if (!((*p >= '0' && *p <= '9') || *p == '-' || *p == '+'
              || *p == 'e' || *p == 'E'))
            *p = '.';
    return tmp;
}

int ssep_policy_json(const ssep_policy *p, char *buf, size_t len)
{
    json_out o = { buf, len, 0 };
    unsigned c, q;
    char num[40];

    if (buf && len)
        buf[0] = 0;
    if (!p)
        return -1;
    out_printf(&o, "{\"version\":\"%s\",\"jitter\":\"%s\",\"strategies\":{",
               SSEP_VERSION_STRING, ssep_jitter_name(p->jitter));
    for (c = SSEP_CLASS_NETWORK; c < SSEP_CLASS_COUNT; c++) {
        const ssep_strategy *s = &p->strategy[c];
        out_printf(&o, "%s\"%s\":{\"initial_ms\":%lu,\"max_ms\":%lu,"
                   "\"factor\":%s,\"max_attempts\":%lu}",
                   c == SSEP_CLASS_NETWORK ? "" : ",",
                   ssep_class_name((ssep_class)c),
                   (unsigned long)s->initial_ms, (unsigned long)s->max_ms,
                   json_number(s->factor, num, sizeof(num)),
                   (unsigned long)s->max_attempts);
    }
    out_printf(&o, "},\"quality\":{");
    for (q = 0; q < SSEP_QUALITY_COUNT; q++)
        out_printf(&o, "%s\"%s\":{\"latency_threshold_ms\":%lu,"
                   "\"multiplier\":%s}", q ? "," : "",
                   ssep_quality_name((ssep_quality)q),
                   (unsigned long)ssep_quality_threshold_ms((ssep_quality)q),
                   json_number(ssep_quality_multiplier((ssep_quality)q), num,
                               sizeof(num)));
    out_printf(&o, "}}");
    if (o.used > (size_t)0x7fffffff)
        return -1;
    return (int)o.used;
}
