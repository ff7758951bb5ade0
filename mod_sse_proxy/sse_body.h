/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* Decodes the framing of a backend response body (chunked, a known
 * length, or until close) into payload spans, without copying. */
#ifndef SSE_BODY_H
#define SSE_BODY_H

#include "apr.h"

typedef enum {
    SSE_BODY_NONE,     /* no body (HEAD, 204, 304) */
    SSE_BODY_CHUNKED,
    SSE_BODY_LENGTH,
    SSE_BODY_CLOSE     /* delimited by the backend closing */
} sse_body_framing;

typedef enum {
    SSE_BODY_OK = 0,
    SSE_BODY_DONE,     /* the body ended as its framing says */
    SSE_BODY_BAD       /* malformed chunked framing */
} sse_body_status;

typedef struct {
    sse_body_framing framing;
    apr_off_t remaining;   /* bytes left in the body or current chunk */
    int       state;       /* chunked parser state, private */
    int       size_digits;
    int       trailer_line_len;
    int       done;
} sse_body;

void sse_body_init(sse_body *b, sse_body_framing framing, apr_off_t length);

/* Consumes framing bytes from in[0..len) until it reaches payload, the end
 * of the body, or the end of the input.  Sets *span and *span_len to the
 * payload found (may be empty) and *used to the bytes taken from in,
 * payload included.  Call again with the rest of the input. */
sse_body_status sse_body_next(sse_body *b, const char *in, apr_size_t len,
                              apr_size_t *used, const char **span,
                              apr_size_t *span_len);

/* 1 when the body ended exactly as its framing says (the connection may
 * then carry another request). */
int sse_body_complete(const sse_body *b);

#endif
