/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/*
 * libFuzzer target for the SSE parser.  The first input byte picks the
 * limits and the chunking; the rest is the stream.  Checked properties:
 * no crash, no leak, errors only as documented, collect and scan modes
 * agree on every boundary, and chunking never changes the result.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ssepolicy.h"

typedef struct {
    uint64_t events;
    uint64_t hash;
    size_t   boundary_sum;
    int      err;
} outcome;

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n--)
        h = (h ^ *b++) * 0x100000001b3ULL;
    return h;
}

static void run(const uint8_t *data, size_t size, int collect, size_t chunk,
                size_t max_line, size_t max_event, outcome *o)
{
    ssep_parser_limits lim = { max_line, max_event, collect };
    ssep_parser *p = ssep_parser_create(&lim);
    size_t pos = 0;

    memset(o, 0, sizeof(*o));
    if (!p)
        abort();
    while (pos < size && !o->err) {
        size_t n = size - pos < chunk ? size - pos : chunk, off = 0;
        while (off < n) {
            ssep_event ev;
            size_t used;
            int rc = ssep_parser_feed(p, data + pos + off, n - off, &used, &ev);
            if (used > n - off)
                abort();
            off += used;
            if (rc == SSEP_PARSE_EVENT) {
                o->events++;
                o->boundary_sum += pos + off;
                o->hash = mix(o->hash, &ev.data_len, sizeof(ev.data_len));
                if (collect) {
                    o->hash = mix(o->hash, ev.data, ev.data_len);
                    o->hash = mix(o->hash, ev.type, ev.type_len);
                    if (ev.data[ev.data_len] != 0)
                        abort();
                }
                if (!ssep_parser_at_boundary(p))
                    abort();
            } else if (rc < 0) {
                if (rc != SSEP_ELINE && rc != SSEP_EEVENT)
                    abort();
                o->err = rc;
                o->boundary_sum += pos + off;
                break;
            } else if (off != n) {
                abort();
            }
        }
        pos += n;
    }
    (void)ssep_parser_retry(p);
    (void)ssep_parser_last_id(p, NULL);
    ssep_parser_finish(p);
    ssep_parser_destroy(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    outcome whole, chunked, scan;
    size_t chunk, max_line, max_event;

    if (size < 1)
        return 0;
    chunk = (size_t)(data[0] & 0x0f) + 1;
    max_line = (data[0] & 0x10) ? 16 : 4096;
    max_event = (data[0] & 0x20) ? 64 : 8192;
    data++;
    size--;
    run(data, size, 1, size ? size : 1, max_line, max_event, &whole);
    run(data, size, 1, chunk, max_line, max_event, &chunked);
    run(data, size, 0, chunk, max_line, max_event, &scan);
    if (whole.events != chunked.events || whole.hash != chunked.hash
        || whole.boundary_sum != chunked.boundary_sum || whole.err != chunked.err)
        abort();
    if (scan.events != whole.events || scan.err != whole.err
        || scan.boundary_sum != whole.boundary_sum)
        abort();
    return 0;
}
