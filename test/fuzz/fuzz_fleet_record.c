/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* libFuzzer target: member records read from a fleet's store, which a
 * node does not control.  An accepted record formats back to the same
 * bytes, and merging it with another obeys the merge's laws. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sse_fleet_record.h"

static sse_fleet_record reference(void)
{
    sse_fleet_record r;

    memset(&r, 0, sizeof(r));
    strcpy(r.balancer, "balancer://b");
    strcpy(r.member, "http://10.0.0.1:8080");
    r.failures = 2;
    r.last_failure = 3000000;
    r.next_retry = 18000000;
    r.outage_start = 1000000;
    r.delay_ms = 15000;
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sse_fleet_record rec, other = reference(), ab, ba, again;
    char buf[1024];
    apr_size_t n;

    if (sse_fleet_record_parse((const char *)data, size, &rec) != 0)
        return 0;
    n = sse_fleet_record_format(&rec, buf, sizeof(buf));
    /* what parses formats back, byte for byte, unless it had leading
     * zeros (numbers are read, not copied) */
    if (n) {
        sse_fleet_record back;
        if (sse_fleet_record_parse(buf, n, &back) != 0
            || memcmp(&back, &rec, sizeof(rec)) != 0)
            abort();
    }
    /* the same names, as a parsed record holds them (zero-filled) */
    memcpy(other.balancer, rec.balancer, sizeof(other.balancer));
    memcpy(other.member, rec.member, sizeof(other.member));
    ab = rec;
    sse_fleet_record_merge(&ab, &other);
    ba = other;
    sse_fleet_record_merge(&ba, &rec);
    if (memcmp(&ab, &ba, sizeof(ab)) != 0)
        abort();
    again = ab;
    if (sse_fleet_record_merge(&again, &rec)
        || sse_fleet_record_merge(&again, &other))
        abort();
    return 0;
}
