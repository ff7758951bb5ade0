/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/*
 * libFuzzer target for the WebSocket frame codec.  The input is what a
 * client sends, fed whole and again in slices whose size the first byte
 * picks: both must give the same frames and the same verdict (the parser
 * is incremental), nothing may be read or written out of bounds, a
 * failure is sticky, and no message or control frame may exceed its
 * limit.  The same bytes also go through the JSON event encoder, whose
 * output must be valid UTF-8 of the length it announced.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sse_ws_frame.h"

#define MAX_MESSAGE 4096
#define MAX_RECORDS 256

typedef struct {
    int    result, opcode, code;
    size_t len;
    uint32_t sum;
} record;

static uint32_t checksum(const unsigned char *p, size_t n)
{
    uint32_t h = 2166136261u;

    while (n--)
        h = (h ^ *p++) * 16777619u;
    return h;
}

/* Parses data in slices of step bytes (0: all at once). */
static size_t run(const unsigned char *data, size_t size, size_t step,
                  record *out)
{
    sse_ws_parser *p = sse_ws_parser_create(MAX_MESSAGE, 1);
    size_t off = 0, n = 0;

    if (!p)
        return 0;
    while (off < size && n < MAX_RECORDS) {
        size_t len = step && size - off > step ? step : size - off;
        size_t used;
        sse_ws_frame f;
        sse_ws_result rc = sse_ws_parser_feed(p, data + off, len, &used, &f);

        if (used > len)
            abort();
        off += used;
        if (rc == SSE_WS_MORE) {
            if (used != len)
                abort();
            continue;
        }
        if (rc == SSE_WS_CONTROL && f.len > SSE_WS_MAX_CONTROL)
            abort();
        if (rc == SSE_WS_MESSAGE) {
            if (f.len > MAX_MESSAGE)
                abort();
            if (f.opcode == SSE_WS_OP_TEXT
                && !sse_ws_utf8_valid(f.payload, f.len))
                abort();
        }
        out[n].result = rc;
        out[n].opcode = f.opcode;
        out[n].code = rc == SSE_WS_FAIL ? f.fail_code : f.close_code;
        out[n].len = f.len;
        out[n].sum = f.len ? checksum(f.payload, f.len) : 0;
        n++;
        if (rc == SSE_WS_FAIL) {
            sse_ws_frame again;
            if (!f.why || sse_ws_parser_feed(p, data, size, &used, &again)
                != SSE_WS_FAIL || again.fail_code != f.fail_code)
                abort();
            break;
        }
    }
    sse_ws_parser_destroy(p);
    return n;
}

static void encoders(const unsigned char *data, size_t size)
{
    size_t split = size ? data[0] % (size + 1) : 0;
    size_t n = sse_ws_event_json(NULL, 0, (const char *)data, split, NULL, 0,
                                 (const char *)data + split, size - split);
    char *out = malloc(n + 1);
    unsigned char close[SSE_WS_MAX_CONTROL];
    char *reason;

    if (!out)
        return;
    if (sse_ws_event_json(out, n, (const char *)data, split, NULL, 0,
                          (const char *)data + split, size - split) != n
        || !sse_ws_utf8_valid((unsigned char *)out, n))
        abort();
    free(out);
    reason = malloc(size + 1);
    if (!reason)
        return;
    memcpy(reason, data, size);
    reason[size] = 0;
    n = sse_ws_close_payload(close, 1000, reason);
    if (n > SSE_WS_MAX_CONTROL || n < 2)
        abort();
    free(reason);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static record whole[MAX_RECORDS], sliced[MAX_RECORDS];
    size_t step, a, b;

    if (size < 1)
        return 0;
    step = 1 + data[0] % 17;
    a = run(data + 1, size - 1, 0, whole);
    b = run(data + 1, size - 1, step, sliced);
    if (a != b)
        abort();
    for (size_t i = 0; i < a; i++)
        if (whole[i].result != sliced[i].result
            || whole[i].opcode != sliced[i].opcode
            || whole[i].code != sliced[i].code
            || whole[i].len != sliced[i].len
            || whole[i].sum != sliced[i].sum)
            abort();
    encoders(data, size);
    return 0;
}
