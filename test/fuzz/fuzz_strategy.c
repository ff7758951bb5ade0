/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/*
 * libFuzzer target for the strategy-string parser, the name parsers and
 * the backoff arithmetic fed with whatever strategy parsing accepted.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ssepolicy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    char err[128], fmt[128];
    ssep_strategy s = *ssep_default_strategy(SSEP_CLASS_PROXY), before = s;
    ssep_class c;
    ssep_jitter j;
    uint64_t rng;
    uint32_t a;

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    (void)ssep_class_parse(text, &c);
    (void)ssep_jitter_parse(text, &j);
    if (ssep_strategy_parse(&s, text, err, sizeof(err)) == 0) {
        ssep_strategy back = *ssep_default_strategy(SSEP_CLASS_NETWORK);
        if (ssep_strategy_validate(&s) != 0)
            abort();
        /* the canonical form reads back to the same strategy */
        ssep_strategy_format(&s, fmt, sizeof(fmt));
        if (ssep_strategy_parse(&back, fmt, err, sizeof(err)) != 0
            || back.initial_ms != s.initial_ms || back.max_ms != s.max_ms
            || back.max_attempts != s.max_attempts)
            abort();
        ssep_rng_seed(&rng, size);
        for (a = 0; a < 12; a++) {
            int64_t d = ssep_backoff_delay(&s, a, SSEP_Q_POOR);
            int64_t jd = ssep_backoff_jittered(&s, a, SSEP_Q_POOR,
                                               (ssep_jitter)(a % 4), d, &rng);
            if (a >= s.max_attempts ? d != SSEP_GIVE_UP
                                    : (d < 0 || d > (int64_t)s.max_ms * 3))
                abort();
            if ((d == SSEP_GIVE_UP) != (jd == SSEP_GIVE_UP))
                abort();
            if (jd != SSEP_GIVE_UP && (jd < 0 || jd > (int64_t)s.max_ms * 3))
                abort();
        }
    } else {
        if (memcmp(&s, &before, sizeof(s)) != 0 || err[0] == 0)
            abort();
    }
    free(text);
    return 0;
}
