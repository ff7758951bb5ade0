/* Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0 */

/*
 * libFuzzer target for sse-tail's reader of the proxy's policy document:
 * whatever it accepts is a valid policy, what it refuses leaves the
 * policy as it was, and the library's own document always reads back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sse_tail_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ssep_policy p, before, back;
    char err[256], doc[2048];
    unsigned c;

    ssep_policy_init(&p);
    before = p;
    err[0] = 0;
    if (sse_tail_policy_parse(&p, (const char *)data, size, err,
                              sizeof(err)) == 0) {
        for (c = SSEP_CLASS_NETWORK; c < SSEP_CLASS_COUNT; c++)
            if (ssep_strategy_validate(&p.strategy[c]) != 0)
                abort();
        if ((unsigned)p.jitter >= SSEP_JITTER_COUNT)
            abort();
        /* what the library writes for it reads back the same */
        if (ssep_policy_json(&p, doc, sizeof(doc)) >= (int)sizeof(doc))
            abort();
        ssep_policy_init(&back);
        if (sse_tail_policy_parse(&back, doc, strlen(doc), err,
                                  sizeof(err)) != 0)
            abort();
        for (c = SSEP_CLASS_NETWORK; c < SSEP_CLASS_COUNT; c++)
            if (back.strategy[c].initial_ms != p.strategy[c].initial_ms
                || back.strategy[c].max_ms != p.strategy[c].max_ms
                || back.strategy[c].max_attempts != p.strategy[c].max_attempts)
                abort();
    } else if (memcmp(&p, &before, sizeof(p)) != 0 || err[0] == 0
               || strchr(err, '\n')) {
        abort();
    }
    return 0;
}
