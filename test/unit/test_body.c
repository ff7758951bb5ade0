/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* The backend body's framing (sse_body.c): chunked bodies decoded in
 * pieces of any size, to the same payload and the same verdict, and
 * framing that is not HTTP refused. */
#include <string.h>

#include "sse_body.h"
#include "suites.h"

typedef struct {
    sse_body_status status; /* the last status: OK, DONE or BAD */
    size_t at;              /* input bytes used by then */
    char payload[512];
    size_t payload_len;
} decoded;

/* Decodes in as a chunked body, fed in pieces of at most piece bytes. */
static decoded decode(const char *in, size_t len, size_t piece)
{
    sse_body b;
    decoded d;
    size_t off = 0;

    memset(&d, 0, sizeof(d));
    sse_body_init(&b, SSE_BODY_CHUNKED, 0);
    while (off < len) {
        size_t n = len - off < piece ? len - off : piece, p = 0;

        while (p < n) {
            apr_size_t used, span_len;
            const char *span;

            d.status = sse_body_next(&b, in + off + p, n - p, &used, &span,
                                     &span_len);
            if (span_len) {
                CU_ASSERT_FATAL(d.payload_len + span_len
                                <= sizeof(d.payload));
                memcpy(d.payload + d.payload_len, span, span_len);
                d.payload_len += span_len;
            }
            p += used;
            if (d.status != SSE_BODY_OK) {
                d.at = off + p;
                return d;
            }
        }
        off += n;
    }
    d.at = off;
    return d;
}

/* The same result whatever the pieces, down to one byte at a time. */
static void check(const char *in, sse_body_status status,
                  const char *payload)
{
    size_t len = strlen(in), piece;
    decoded whole = decode(in, len, len ? len : 1);

    CU_ASSERT_EQUAL(whole.status, status);
    if (payload) {
        CU_ASSERT_EQUAL(whole.payload_len, strlen(payload));
        CU_ASSERT_NSTRING_EQUAL(whole.payload, payload, whole.payload_len);
    }
    for (piece = 1; piece < len; piece++) {
        decoded d = decode(in, len, piece);

        CU_ASSERT_EQUAL(d.status, whole.status);
        /* a refusal says nothing of where the call began */
        if (whole.status != SSE_BODY_BAD)
            CU_ASSERT_EQUAL(d.at, whole.at);
        CU_ASSERT_EQUAL(d.payload_len, whole.payload_len);
        CU_ASSERT_NSTRING_EQUAL(d.payload, whole.payload, d.payload_len);
    }
}

static void test_chunks(void)
{
    check("5\r\nhello\r\n", SSE_BODY_OK, "hello");
    check("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", SSE_BODY_DONE,
          "hello world");
    /* one chunk per event, as SSE backends send them */
    check("b\r\ndata: one\n\n\r\nb\r\ndata: two\n\n\r\n", SSE_BODY_OK,
          "data: one\n\ndata: two\n\n");
}

static void test_sizes(void)
{
    check("A\r\n0123456789\r\n", SSE_BODY_OK, "0123456789");
    check("a\r\n0123456789\r\n", SSE_BODY_OK, "0123456789");
    check("0000a\r\n0123456789\r\n", SSE_BODY_OK, "0123456789");
    check("1F\r\n0123456789abcdefghijklmnopqrstu\r\n", SSE_BODY_OK,
          "0123456789abcdefghijklmnopqrstu");
    /* 15 digits are allowed, 16 are not HTTP */
    check("000000000000005\r\nhello\r\n", SSE_BODY_OK, "hello");
    check("0000000000000005\r\nhello\r\n", SSE_BODY_BAD, NULL);
}

static void test_extensions_and_trailers(void)
{
    check("5;name=value\r\nhello\r\n", SSE_BODY_OK, "hello");
    check("5 \r\nhello\r\n", SSE_BODY_OK, "hello");
    check("5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n", SSE_BODY_DONE,
          "hello");
    check("0\r\n\r\n", SSE_BODY_DONE, "");
}

static void test_not_http(void)
{
    check("\r\nhello", SSE_BODY_BAD, NULL);       /* no size */
    check("g\r\nhello\r\n", SSE_BODY_BAD, NULL);  /* not hex */
    check("-5\r\nhello\r\n", SSE_BODY_BAD, NULL);
    check("5\nhello\r\n", SSE_BODY_BAD, NULL);    /* bare LF */
    check("5\r\nhelloX\r\n", SSE_BODY_BAD, NULL); /* longer than said */
    check("5\r\nhello\rX", SSE_BODY_BAD, NULL);   /* CR without LF */
    check("5\r\nhello\n", SSE_BODY_BAD, NULL);
    check("5;\n", SSE_BODY_BAD, NULL);
    check("0\r\nX-Trailer\n", SSE_BODY_BAD, NULL);
}

static void test_other_framings(void)
{
    sse_body b;
    apr_size_t used, span_len;
    const char *span;

    sse_body_init(&b, SSE_BODY_LENGTH, 5);
    CU_ASSERT_EQUAL(sse_body_next(&b, "hello!", 6, &used, &span, &span_len),
                    SSE_BODY_OK);
    CU_ASSERT_EQUAL(span_len, 5);
    CU_ASSERT_EQUAL(used, 5);
    CU_ASSERT_TRUE(sse_body_complete(&b));
    CU_ASSERT_EQUAL(sse_body_next(&b, "!", 1, &used, &span, &span_len),
                    SSE_BODY_DONE);

    sse_body_init(&b, SSE_BODY_CLOSE, 0);
    CU_ASSERT_EQUAL(sse_body_next(&b, "abc", 3, &used, &span, &span_len),
                    SSE_BODY_OK);
    CU_ASSERT_EQUAL(span_len, 3);
    CU_ASSERT_FALSE(sse_body_complete(&b));

    sse_body_init(&b, SSE_BODY_NONE, 0);
    CU_ASSERT_TRUE(sse_body_complete(&b));
}

static const unit_test tests[] = {
    { "chunks decoded in pieces of any size", test_chunks },
    { "chunk sizes in hex, either case, bounded", test_sizes },
    { "extensions and trailers skipped", test_extensions_and_trailers },
    { "framing that is not HTTP refused", test_not_http },
    { "length, close and no body", test_other_framings },
    { NULL, NULL }
};

int register_body_suite(void)
{
    return add_suite("backend body framing", tests);
}
