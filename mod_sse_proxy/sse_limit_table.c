/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include <string.h>
#include <strings.h>

#include "apr_strings.h"

#include "sse_limit_table.h"

#define MAX_CAP      10000000
#define MAX_RATE_N   1000000
#define MAX_PERIOD_S 3600

apr_uint64_t sse_limit_key(char kind, const char *text, apr_size_t len)
{
    apr_uint64_t h = APR_UINT64_C(14695981039346656037);
    apr_size_t i;

    h = (h ^ (unsigned char)kind) * APR_UINT64_C(1099511628211);
    for (i = 0; i < len; i++)
        h = (h ^ (unsigned char)text[i]) * APR_UINT64_C(1099511628211);
    return h ? h : 1;   /* 0 marks a free slot */
}

/* A slot whose key has no stream open and no rate state left to keep. */
static int idle(const sse_limit_entry *e, apr_time_t now)
{
    return !e->key || (!e->open && e->tat <= now && e->penalty_until <= now);
}

int sse_limit_find(sse_limit_table *t, apr_uint64_t key, const char *label,
                   apr_time_t now, int create)
{
    unsigned start = (unsigned)(key % SSE_LIMIT_SLOTS), probe;
    int spare = -1;

    /* Slots are given back when idle, so a free one does not end the
     * search: the whole window is looked at for the key first. */
    for (probe = 0; probe < SSE_LIMIT_PROBES; probe++) {
        unsigned i = (start + probe) % SSE_LIMIT_SLOTS;
        sse_limit_entry *e = &t->entries[i];

        if (e->key == key)
            return (int)i;
        if (spare < 0 && idle(e, now))
            spare = (int)i;
    }
    if (!create || spare < 0)
        return -1;
    {
        sse_limit_entry *e = &t->entries[spare];
        apr_size_t n = label ? strlen(label) : 0;

        memset(e, 0, sizeof(*e));
        e->key = key;
        if (n >= SSE_LIMIT_LABEL)
            n = SSE_LIMIT_LABEL - 1;
        if (n)
            memcpy(e->label, label, n);
        e->label[n] = 0;
    }
    return spare;
}

int sse_limit_acquire(sse_limit_table *t, int slot, int owner)
{
    apr_uint16_t *c = &t->counts[owner][slot];

    if (*c == 0xffff)
        return 0;
    (*c)++;
    t->entries[slot].open++;
    return 1;
}

void sse_limit_release(sse_limit_table *t, int slot, int owner,
                       apr_uint64_t key)
{
    apr_uint16_t *c = &t->counts[owner][slot];

    /* a slot with streams open is never given to another key, so a
     * count of ours means the slot is still the key's */
    if (*c && t->entries[slot].key == key) {
        (*c)--;
        if (t->entries[slot].open)
            t->entries[slot].open--;
    }
}

apr_uint64_t sse_limit_reclaim(sse_limit_table *t, int owner)
{
    apr_uint64_t dropped = 0;
    int i;

    for (i = 0; i < SSE_LIMIT_SLOTS; i++) {
        apr_uint16_t c = t->counts[owner][i];

        if (!c)
            continue;
        dropped += c;
        t->entries[i].open = t->entries[i].open > c
                             ? t->entries[i].open - c : 0;
        t->counts[owner][i] = 0;
    }
    t->owners[owner].pid = 0;
    t->owners[owner].since = 0;
    return dropped;
}

apr_uint64_t sse_limit_reconcile(sse_limit_table *t,
                                 int (*alive)(apr_int64_t pid))
{
    apr_uint64_t dropped = 0;
    int o;

    for (o = 0; o < SSE_LIMIT_OWNERS; o++)
        if (t->owners[o].pid && !alive(t->owners[o].pid))
            dropped += sse_limit_reclaim(t, o);
    return dropped;
}

int sse_limit_owner_claim(sse_limit_table *t, apr_int64_t pid,
                          apr_time_t now, int (*alive)(apr_int64_t pid))
{
    int o;

    for (o = 0; o < SSE_LIMIT_OWNERS; o++)
        if (t->owners[o].pid == pid)
            t->counters.reclaimed += sse_limit_reclaim(t, o);
    t->counters.reclaimed += sse_limit_reconcile(t, alive);
    for (o = 0; o < SSE_LIMIT_OWNERS; o++)
        if (!t->owners[o].pid) {
            t->owners[o].pid = pid;
            t->owners[o].since = now;
            return o;
        }
    return -1;
}

apr_int64_t sse_limit_rate(sse_limit_entry *e, apr_uint32_t n,
                           apr_interval_time_t period, apr_time_t now)
{
    apr_interval_time_t step = period / (n ? n : 1);
    apr_time_t tat = e->tat > now ? e->tat : now;

    if (now < e->penalty_until) {
        if (e->strikes < SSE_LIMIT_MAX_STRIKES)
            e->strikes++;
        return (e->penalty_until - now + 999) / 1000;
    }
    if (tat + step - now > period) {
        if (e->strikes < SSE_LIMIT_MAX_STRIKES)
            e->strikes++;
        /* forgiveness counts from the last strike at the earliest */
        e->penalty_until = now;
        return (tat + step - period - now + 999) / 1000;
    }
    if (e->strikes && now - e->penalty_until > period)
        e->strikes = 0;
    e->tat = tat + step;
    return -1;
}

static const char *bad_rate(apr_pool_t *p, const char *directive,
                            const char *arg)
{
    return apr_psprintf(p, "%s: '%s' is not valid; use n/period, n from 1 "
                        "to %d and a period of whole seconds (s), minutes "
                        "(m) or hours (h) from 1s to 1h, e.g. 10/s or 30/5m",
                        directive, arg, MAX_RATE_N);
}

/* A whole number of 1..max digits-only, at most 9 digits. */
static int whole(const char *s, apr_size_t len, apr_int64_t max,
                 apr_int64_t *out)
{
    apr_int64_t v = 0;
    apr_size_t i;

    if (!len || len > 9)
        return 0;
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > max)
        return 0;
    *out = v;
    return 1;
}

const char *sse_parse_rate(apr_pool_t *p, const char *directive,
                           const char *arg, apr_uint32_t *n,
                           apr_interval_time_t *period)
{
    const char *slash = strchr(arg, '/'), *unit;
    apr_int64_t count, amount = 1, secs;
    apr_size_t len;

    if (!slash || !whole(arg, (apr_size_t)(slash - arg), MAX_RATE_N, &count))
        return bad_rate(p, directive, arg);
    len = strlen(slash + 1);
    if (!len)
        return bad_rate(p, directive, arg);
    unit = slash + len;           /* the last character */
    if (*unit >= '0' && *unit <= '9') {
        if (!whole(slash + 1, len, MAX_PERIOD_S, &amount))
            return bad_rate(p, directive, arg);
        secs = amount;
    } else {
        int mult = *unit == 's' ? 1 : *unit == 'm' ? 60
                 : *unit == 'h' ? 3600 : 0;

        if (!mult || (len > 1 && !whole(slash + 1, len - 1, MAX_PERIOD_S,
                                        &amount)))
            return bad_rate(p, directive, arg);
        secs = amount * mult;
    }
    if (secs < 1 || secs > MAX_PERIOD_S)
        return bad_rate(p, directive, arg);
    *n = (apr_uint32_t)count;
    *period = apr_time_from_sec(secs);
    return NULL;
}

const char *sse_parse_cap(apr_pool_t *p, const char *directive,
                          const char *arg, apr_int64_t *out)
{
    apr_int64_t v;

    if (!strcasecmp(arg, "off")) {
        *out = 0;
        return NULL;
    }
    if (!whole(arg, strlen(arg), MAX_CAP, &v))
        return apr_psprintf(p, "%s: '%s' is not valid; use a number of "
                            "streams from 1 to %d, or 'off'", directive, arg,
                            MAX_CAP);
    *out = v;
    return NULL;
}
