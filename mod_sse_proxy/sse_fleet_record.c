/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apr_strings.h"

#include "sse_fleet_record.h"

static apr_uint64_t fnv1a(apr_uint64_t h, const char *s, apr_size_t n)
{
    apr_size_t i;

    for (i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= APR_UINT64_C(0x100000001b3);
    }
    return h;
}

void sse_fleet_key(const char *kind, const char *a, const char *b,
                   unsigned char key[SSE_FLEET_KEY_SIZE])
{
    /* two hashes from different bases: 128 bits, no practical collision
     * (and a collision is caught by the names in the value) */
    apr_uint64_t h[2] = { APR_UINT64_C(0xcbf29ce484222325),
                          APR_UINT64_C(0x84222325cbf29ce4) };
    int i, j;

    for (i = 0; i < 2; i++) {
        h[i] = fnv1a(h[i], kind, strlen(kind) + 1);
        h[i] = fnv1a(h[i], a, strlen(a) + 1);
        h[i] = fnv1a(h[i], b, strlen(b) + 1);
        for (j = 0; j < 8; j++)
            key[i * 8 + j] = (unsigned char)(h[i] >> (8 * j));
    }
}

#define MAGIC "sse2 "
#define FIELDS 9

apr_size_t sse_fleet_record_format(const sse_fleet_record *rec, char *buf,
                                   apr_size_t size)
{
    int n = apr_snprintf(buf, size,
                         MAGIC "%u %u %u %u %" APR_INT64_T_FMT " %" APR_TIME_T_FMT
                         " %" APR_TIME_T_FMT " %" APR_TIME_T_FMT
                         " %" APR_TIME_T_FMT "\n%s\n%s",
                         rec->failures, rec->last_class, rec->quality,
                         rec->gave_up,
                         rec->delay_ms, rec->outage_start, rec->last_failure,
                         rec->next_retry, rec->last_success, rec->balancer,
                         rec->member);

    return n > 0 && (apr_size_t)n < size - 1 ? (apr_size_t)n : 0;
}

/* A decimal number of at most 18 digits (so it cannot overflow); *p
 * moves past it and one following separator sep. */
static int number(const char **p, const char *end, char sep, apr_int64_t *out)
{
    const char *s = *p;
    apr_int64_t v = 0;
    int digits = 0;

    while (s < end && *s >= '0' && *s <= '9' && digits < 18) {
        v = v * 10 + (*s++ - '0');
        digits++;
    }
    if (!digits || s >= end || *s != sep)
        return -1;
    *p = s + 1;
    *out = v;
    return 0;
}

/* A name up to the next newline (or the end), which must fit size. */
static int name(const char **p, const char *end, char *out, apr_size_t size)
{
    const char *s = *p, *nl = memchr(s, '\n', (apr_size_t)(end - s));
    apr_size_t n = (apr_size_t)((nl ? nl : end) - s);

    if (n >= size || memchr(s, 0, n))
        return -1;
    memcpy(out, s, n);
    out[n] = 0;
    *p = nl ? nl + 1 : end;
    return 0;
}

int sse_fleet_record_parse(const char *buf, apr_size_t len,
                           sse_fleet_record *rec)
{
    const char *p = buf, *end = buf + len;
    apr_int64_t v[FIELDS];
    int i;

    memset(rec, 0, sizeof(*rec));
    if (len < sizeof(MAGIC) - 1 || memcmp(buf, MAGIC, sizeof(MAGIC) - 1))
        return -1;
    p += sizeof(MAGIC) - 1;
    for (i = 0; i < FIELDS; i++)
        if (number(&p, end, i < FIELDS - 1 ? ' ' : '\n', &v[i]) < 0)
            return -1;
    if (v[0] > APR_UINT32_MAX || v[1] > APR_UINT32_MAX || v[2] > 3
        || v[3] > 1)
        return -1;
    rec->failures = (apr_uint32_t)v[0];
    rec->last_class = (apr_uint32_t)v[1];
    rec->quality = (apr_uint32_t)v[2];
    rec->gave_up = (apr_uint32_t)v[3];
    rec->delay_ms = v[4];
    rec->outage_start = v[5];
    rec->last_failure = v[6];
    rec->next_retry = v[7];
    rec->last_success = v[8];
    if (name(&p, end, rec->balancer, sizeof(rec->balancer)) < 0
        || p >= end || name(&p, end, rec->member, sizeof(rec->member)) < 0
        || p != end || !rec->member[0])
        return -1;
    return 0;
}

int sse_fleet_record_out(const sse_fleet_record *rec)
{
    return rec->failures > 0 && rec->last_failure > rec->last_success;
}

/* 1 when a's outage is later in the member's history than b's: more
 * failures in a row, then the later failure, then the later window. */
static int outage_after(const sse_fleet_record *a, const sse_fleet_record *b)
{
    if (a->failures != b->failures)
        return a->failures > b->failures;
    if (a->last_failure != b->last_failure)
        return a->last_failure > b->last_failure;
    if (a->next_retry != b->next_retry)
        return a->next_retry > b->next_retry;
    /* the rest only makes the order total, so that merging does not
     * depend on who merges whom */
    if (a->delay_ms != b->delay_ms)
        return a->delay_ms > b->delay_ms;
    if (a->outage_start != b->outage_start)
        return a->outage_start > b->outage_start;
    if (a->last_class != b->last_class)
        return a->last_class > b->last_class;
    if (a->quality != b->quality)
        return a->quality > b->quality;
    return a->gave_up > b->gave_up;
}

static void end_outage(sse_fleet_record *r)
{
    r->failures = 0;
    r->quality = 0;
    r->gave_up = 0;
    r->delay_ms = 0;
    r->outage_start = 0;
    r->next_retry = 0;
}

int sse_fleet_record_merge(sse_fleet_record *into,
                           const sse_fleet_record *other)
{
    sse_fleet_record before = *into;
    sse_fleet_record o = *other;

    if (o.last_success > into->last_success)
        into->last_success = o.last_success;
    o.last_success = into->last_success;
    /* a success after an outage's last failure ended it, wherever it
     * was seen */
    if (!sse_fleet_record_out(into))
        end_outage(into);
    if (!sse_fleet_record_out(&o))
        end_outage(&o);
    if (o.failures && (!into->failures || outage_after(&o, into))) {
        into->failures = o.failures;
        into->last_class = o.last_class;
        into->quality = o.quality;
        into->gave_up = o.gave_up;
        into->delay_ms = o.delay_ms;
        into->outage_start = o.outage_start;
        into->last_failure = o.last_failure;
        into->next_retry = o.next_retry;
    }
    else if (!into->failures && !o.failures
             && (o.last_failure > into->last_failure
                 || (o.last_failure == into->last_failure
                     && o.last_class > into->last_class))) {
        into->last_failure = o.last_failure;
        into->last_class = o.last_class;
    }
    return memcmp(&before, into, sizeof(before)) != 0;
}

void sse_fleet_record_from_state(sse_fleet_record *rec,
                                 const sse_member_state *m)
{
    memset(rec, 0, sizeof(*rec));
    rec->failures = m->consecutive_failures;
    rec->last_class = m->last_class;
    rec->quality = m->consecutive_failures ? m->last_quality : 0;
    rec->gave_up = m->gave_up;
    rec->delay_ms = m->delay_ms;
    rec->outage_start = m->outage_start;
    rec->last_failure = m->last_failure;
    rec->next_retry = m->next_retry;
    rec->last_success = m->last_success;
    memcpy(rec->balancer, m->balancer, sizeof(rec->balancer));
    memcpy(rec->member, m->member, sizeof(rec->member));
}

void sse_fleet_record_to_state(const sse_fleet_record *rec,
                               sse_member_state *m)
{
    m->consecutive_failures = rec->failures;
    m->last_class = rec->last_class;
    m->last_quality = rec->quality;
    m->gave_up = rec->gave_up;
    m->delay_ms = rec->delay_ms;
    m->outage_start = rec->outage_start;
    m->last_failure = rec->last_failure;
    m->next_retry = rec->next_retry;
    m->last_success = rec->last_success;
    if (!rec->failures) {
        m->status_streak = 0;
        m->held_in = 0;
    }
}
