/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include "sse_body.h"

enum {
    CH_SIZE,        /* hex digits of the chunk size */
    CH_EXT,         /* chunk extension up to CRLF: ignored */
    CH_SIZE_LF,     /* LF after the size line's CR */
    CH_DATA,
    CH_DATA_CR,     /* CRLF after the chunk data */
    CH_DATA_LF,
    CH_TRAILER,     /* trailer lines after the last chunk */
    CH_TRAILER_LF,
    CH_DONE
};

/* A chunk-size line or trailer line longer than this is not HTTP. */
#define MAX_FRAMING_LINE 4096
#define MAX_SIZE_DIGITS  15   /* 2^60: far beyond any event */

void sse_body_init(sse_body *b, sse_body_framing framing, apr_off_t length)
{
    b->framing = framing;
    b->remaining = framing == SSE_BODY_LENGTH ? length : 0;
    b->state = CH_SIZE;
    b->size_digits = 0;
    b->trailer_line_len = 0;
    b->done = framing == SSE_BODY_NONE
              || (framing == SSE_BODY_LENGTH && length == 0);
}

int sse_body_complete(const sse_body *b)
{
    return b->done && b->framing != SSE_BODY_CLOSE;
}

/* 0-15 for a hex digit, -1 for anything else: no locale lookup, on
 * bytes of every chunk */
static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static sse_body_status chunked_next(sse_body *b, const char *in,
                                    apr_size_t len, apr_size_t *used,
                                    const char **span, apr_size_t *span_len)
{
    apr_size_t i = 0;

    while (i < len) {
        char c = in[i];

        switch (b->state) {
        case CH_SIZE: {
            int v;

            /* the size's digits in one go: an SSE backend sends a chunk,
             * and so a size line, per event */
            while ((v = hex_value(c)) >= 0) {
                if (++b->size_digits > MAX_SIZE_DIGITS)
                    return SSE_BODY_BAD;
                b->remaining = b->remaining * 16 + v;
                if (++i == len) {
                    *used = i;
                    return SSE_BODY_OK;
                }
                c = in[i];
            }
            if (b->size_digits == 0) {
                return SSE_BODY_BAD;
            } else if (c == ';' || c == ' ' || c == '\t') {
                b->state = CH_EXT;
                b->trailer_line_len = 0;
            } else if (c == '\r') {
                b->state = CH_SIZE_LF;
            } else {
                return SSE_BODY_BAD;
            }
            i++;
            break;
        }
        case CH_EXT:
            if (c == '\r')
                b->state = CH_SIZE_LF;
            else if (c == '\n' || ++b->trailer_line_len > MAX_FRAMING_LINE)
                return SSE_BODY_BAD;
            i++;
            break;
        case CH_SIZE_LF:
            if (c != '\n')
                return SSE_BODY_BAD;
            i++;
            b->size_digits = 0;
            if (b->remaining == 0) {
                b->state = CH_TRAILER;
                b->trailer_line_len = 0;
            } else {
                b->state = CH_DATA;
            }
            break;
        case CH_DATA: {
            apr_size_t n = len - i;
            if ((apr_off_t)n > b->remaining)
                n = (apr_size_t)b->remaining;
            b->remaining -= n;
            if (b->remaining == 0)
                b->state = CH_DATA_CR;
            *span = in + i;
            *span_len = n;
            *used = i + n;
            return SSE_BODY_OK;
        }
        case CH_DATA_CR:
            if (c != '\r')
                return SSE_BODY_BAD;
            if (i + 1 < len && in[i + 1] == '\n') { /* the usual CRLF */
                b->state = CH_SIZE;
                i += 2;
                break;
            }
            b->state = CH_DATA_LF;
            i++;
            break;
        case CH_DATA_LF:
            if (c != '\n')
                return SSE_BODY_BAD;
            b->state = CH_SIZE;
            i++;
            break;
        case CH_TRAILER:
            if (c == '\r') {
                b->state = CH_TRAILER_LF;
            } else if (c == '\n' || ++b->trailer_line_len > MAX_FRAMING_LINE) {
                return SSE_BODY_BAD;
            }
            i++;
            break;
        case CH_TRAILER_LF:
            if (c != '\n')
                return SSE_BODY_BAD;
            i++;
            if (b->trailer_line_len == 0) {
                b->state = CH_DONE;
                b->done = 1;
                *used = i;
                return SSE_BODY_DONE;
            }
            b->state = CH_TRAILER;
            b->trailer_line_len = 0;
            break;
        default:
            *used = i;
            return SSE_BODY_DONE;
        }
    }
    *used = i;
    return SSE_BODY_OK;
}

sse_body_status sse_body_next(sse_body *b, const char *in, apr_size_t len,
                              apr_size_t *used, const char **span,
                              apr_size_t *span_len)
{
    *span = NULL;
    *span_len = 0;
    *used = 0;
    if (b->done)
        return SSE_BODY_DONE;
    switch (b->framing) {
    case SSE_BODY_CHUNKED:
        return chunked_next(b, in, len, used, span, span_len);
    case SSE_BODY_LENGTH: {
        apr_size_t n = len;
        if ((apr_off_t)n > b->remaining)
            n = (apr_size_t)b->remaining;
        b->remaining -= n;
        *span = in;
        *span_len = n;
        *used = n;
        if (b->remaining == 0) {
            b->done = 1;
            return n ? SSE_BODY_OK : SSE_BODY_DONE;
        }
        return SSE_BODY_OK;
    }
    case SSE_BODY_CLOSE:
        *span = in;
        *span_len = len;
        *used = len;
        return SSE_BODY_OK;
    case SSE_BODY_NONE:
    default:
        b->done = 1;
        return SSE_BODY_DONE;
    }
}
