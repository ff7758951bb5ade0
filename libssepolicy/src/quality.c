/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include <string.h>

#include "ssepolicy.h"

static const struct {
    const char *name;
    uint32_t    threshold_ms;
    double      max_error_rate;
    double      multiplier;
} grades[SSEP_QUALITY_COUNT] = {
    [SSEP_Q_EXCELLENT] = { "EXCELLENT",  100, 0.1, 0.5 },
    [SSEP_Q_GOOD]      = { "GOOD",       500, 0.3, 1.0 },
    [SSEP_Q_FAIR]      = { "FAIR",      2000, 0.5, 1.5 },
    [SSEP_Q_POOR]      = { "POOR",      5000, 1.0, 3.0 },
};

const char *ssep_quality_name(ssep_quality q)
{
    if ((unsigned)q >= SSEP_QUALITY_COUNT)
        return "UNKNOWN";
    return grades[q].name;
}

double ssep_quality_multiplier(ssep_quality q)
{
    if ((unsigned)q >= SSEP_QUALITY_COUNT)
        return 1.0;
    return grades[q].multiplier;
}

uint32_t ssep_quality_threshold_ms(ssep_quality q)
{
    if ((unsigned)q >= SSEP_QUALITY_COUNT)
        return 0;
    return grades[q].threshold_ms;
}

void ssep_tracker_init(ssep_tracker *t)
{
    if (t)
        memset(t, 0, sizeof(*t));
}

void ssep_tracker_latency(ssep_tracker *t, uint32_t ms)
{
    if (!t)
        return;
    /* A tracker that came from shared memory may be garbage; keep every
     * index in range rather than trust it. */
    t->latency_next %= SSEP_TRACKER_SAMPLES;
    t->latency_ms[t->latency_next] = ms;
    t->latency_next = (t->latency_next + 1) % SSEP_TRACKER_SAMPLES;
    if (t->latency_count < SSEP_TRACKER_SAMPLES)
        t->latency_count++;
}

static uint64_t slot_of(uint64_t now_ms)
{
    /* +1 so that slot 0 can mean "bucket unused" */
    return now_ms / SSEP_TRACKER_BUCKET_MS + 1;
}

void ssep_tracker_attempt(ssep_tracker *t, int failed, uint64_t now_ms)
{
    uint64_t slot;
    ssep_tracker_bucket *b;

    if (!t)
        return;
    slot = slot_of(now_ms);
    b = &t->buckets[slot % SSEP_TRACKER_BUCKETS];
    if (b->slot != slot) {
        b->slot = slot;
        b->attempts = 0;
        b->failures = 0;
    }
    if (b->attempts < UINT32_MAX) {
        b->attempts++;
        if (failed)
            b->failures++;
    }
    t->total_attempts++;
    if (failed)
        t->total_failures++;
}

uint32_t ssep_tracker_samples(const ssep_tracker *t)
{
    if (!t)
        return 0;
    return t->latency_count > SSEP_TRACKER_SAMPLES ? SSEP_TRACKER_SAMPLES
                                                   : t->latency_count;
}

double ssep_tracker_mean_latency(const ssep_tracker *t)
{
    uint32_t n = ssep_tracker_samples(t), i;
    double sum = 0;

    if (n == 0)
        return 0;
    /* The samples held are the n most recent ones; when the ring is not
     * yet full they are slots 0..n-1, otherwise all of it. */
    for (i = 0; i < n; i++)
        sum += t->latency_ms[i];
    return sum / n;
}

double ssep_tracker_error_rate(const ssep_tracker *t, uint64_t now_ms)
{
    uint64_t now_slot, attempts = 0, failures = 0;
    unsigned i;

    if (!t)
        return 0;
    now_slot = slot_of(now_ms);
    for (i = 0; i < SSEP_TRACKER_BUCKETS; i++) {
        const ssep_tracker_bucket *b = &t->buckets[i];
        /* A bucket from the future (clock stepped back) is ignored, as is
         * one older than the window. */
        if (b->slot == 0 || b->slot > now_slot
            || now_slot - b->slot >= SSEP_TRACKER_BUCKETS)
            continue;
        attempts += b->attempts;
        failures += b->failures <= b->attempts ? b->failures : b->attempts;
    }
    if (attempts == 0)
        return 0;
    return (double)failures / (double)attempts;
}

ssep_quality ssep_tracker_grade(const ssep_tracker *t, uint64_t now_ms)
{
    double mean, rate;
    int q;

    if (!t || ssep_tracker_samples(t) < SSEP_TRACKER_MIN_SAMPLES)
        return SSEP_Q_GOOD;
    mean = ssep_tracker_mean_latency(t);
    rate = ssep_tracker_error_rate(t, now_ms);
    for (q = SSEP_Q_EXCELLENT; q < SSEP_Q_POOR; q++)
        if (mean < grades[q].threshold_ms && rate < grades[q].max_error_rate)
            return (ssep_quality)q;
    return SSEP_Q_POOR;
}
