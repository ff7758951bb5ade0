/* Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0 */

/*
 * sse-tail's output: each event as SSE text or as one JSON line.
 */
#ifndef SSE_TAIL_OUTPUT_H
#define SSE_TAIL_OUTPUT_H

#include <stddef.h>
#include <stdio.h>

/* One event as the printers see it; lengths are exact, the strings may
 * hold any byte. */
typedef struct {
    const char *type; size_t type_len;
    const char *data; size_t data_len;
    const char *id;   size_t id_len;    /* the last event ID, "" if none */
} sse_tail_event;

typedef struct {
    int json;
    int id_printed; /* raw mode: a non-empty id went out before */
} sse_tail_output;

/* Writes s as a JSON string (quotes included): ", \ and control bytes
 * escaped, U+2028 and U+2029 escaped, and bytes that are not valid UTF-8
 * replaced by U+FFFD, one per maximal ill-formed subsequence (what the
 * WHATWG UTF-8 decoder, and so an EventSource, does). */
void sse_tail_json_string(FILE *f, const char *s, size_t len);

/* Prints one event and flushes.  Returns 0, or -1 when the output
 * failed (errno tells why). */
int sse_tail_print_event(sse_tail_output *o, FILE *f,
                         const sse_tail_event *ev);

#endif
