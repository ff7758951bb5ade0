/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include <math.h>

#include "ssepolicy.h"

static const char *const jitter_names[SSEP_JITTER_COUNT] = {
    "none", "full", "equal", "decorrelated"
};

const char *ssep_jitter_name(ssep_jitter j)
{
    if ((unsigned)j >= SSEP_JITTER_COUNT)
        return "unknown";
    return jitter_names[j];
}

int ssep_jitter_parse(const char *name, ssep_jitter *out)
{
    unsigned i;

    if (!name || !out)
        return -1;
    for (i = 0; i < SSEP_JITTER_COUNT; i++) {
        const char *a = name, *b = jitter_names[i];
        while (*a && (*a | 0x20) == *b) {
            a++;
            b++;
        }
        if (!*a && !*b) {
            *out = (ssep_jitter)i;
            return 0;
        }
    }
    return -1;
}

/* Clamps a non-negative double into int64 without UB on the cast. */
static int64_t clamp_ms(double v)
{
    if (!(v > 0))
        return 0;
    if (v >= 9.2e18)
        return INT64_MAX;
    return (int64_t)v;
}

/* pow() may land a hair below an exact product (1.8^3 * 10000 as
 * 58319.99999...); nudge by a relative amount far below one ms so that
 * floor() gives the figure the table promises. */
static double floor_ms(double v)
{
    return floor(v + v * 1e-12);
}

int64_t ssep_backoff_delay(const ssep_strategy *s, uint32_t attempt,
                           ssep_quality q)
{
    double base;

    if (ssep_strategy_validate(s) < 0 || attempt >= s->max_attempts)
        return SSEP_GIVE_UP;
    base = (double)s->initial_ms * pow(s->factor, (double)attempt);
    if (!(base <= (double)s->max_ms)) /* also catches inf */
        base = s->max_ms;
    return clamp_ms(floor_ms(base * ssep_quality_multiplier(q)));
}

void ssep_rng_seed(uint64_t *rng, uint64_t seed)
{
    if (rng)
        *rng = seed ^ 0x853c49e6748fea9bULL;
}

uint64_t ssep_rng_next(uint64_t *rng)
{
    uint64_t z;

    z = (*rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t ssep_rng_between(uint64_t *rng, uint64_t lo, uint64_t hi)
{
    uint64_t span, limit, r;

    if (hi <= lo)
        return lo;
    span = hi - lo;
    if (span == UINT64_MAX)
        return ssep_rng_next(rng);
    span++;
    /* rejection sampling: drop the short last block to stay unbiased */
    limit = UINT64_MAX - (UINT64_MAX % span + 1) % span;
    do {
        r = ssep_rng_next(rng);
    } while (r > limit);
    return lo + r % span;
}

int64_t ssep_backoff_jittered(const ssep_strategy *s, uint32_t attempt,
                              ssep_quality q, ssep_jitter j, int64_t prev_ms,
                              uint64_t *rng)
{
    int64_t d = ssep_backoff_delay(s, attempt, q);
    uint64_t lo, hi, cap;

    if (d == SSEP_GIVE_UP)
        return SSEP_GIVE_UP;
    if (!rng)
        return d;
    switch (j) {
    case SSEP_JITTER_FULL:
        return (int64_t)ssep_rng_between(rng, 0, (uint64_t)d);
    case SSEP_JITTER_EQUAL:
        return (int64_t)ssep_rng_between(rng, (uint64_t)d / 2, (uint64_t)d);
    case SSEP_JITTER_DECORRELATED:
        cap = (uint64_t)clamp_ms(floor_ms((double)s->max_ms
                                          * ssep_quality_multiplier(q)));
        lo = s->initial_ms;
        if (prev_ms <= 0)
            hi = 3 * lo; /* no previous delay: start from initial */
        else if ((uint64_t)prev_ms > UINT64_MAX / 3)
            hi = UINT64_MAX;
        else
            hi = 3 * (uint64_t)prev_ms;
        if (hi < lo)
            hi = lo;
        hi = ssep_rng_between(rng, lo, hi);
        return (int64_t)(hi < cap ? hi : cap);
    case SSEP_JITTER_NONE:
    default:
        return d;
    }
}
