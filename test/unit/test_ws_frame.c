/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* The WebSocket frame codec (sse_ws_frame.c): client frames parsed
 * incrementally, every protocol violation refused with the close code
 * RFC 6455 asks for, and the frames and JSON the server sends. */
#include <stdlib.h>
#include <string.h>

#include "sse_ws_frame.h"
#include "suites.h"

/* A client frame: head, mask key, masked payload. */
static size_t client_frame(unsigned char *out, int fin, int opcode,
                           const void *payload, size_t len, int mask)
{
    static const unsigned char key[4] = { 0x37, 0xfa, 0x21, 0x3d };
    size_t n = sse_ws_frame_head(out, opcode, len), i;

    if (!fin)
        out[0] &= 0x7F;
    if (mask) {
        out[1] |= 0x80;
        memcpy(out + n, key, 4);
        n += 4;
    }
    for (i = 0; i < len; i++)
        out[n + i] = ((const unsigned char *)payload)[i]
                     ^ (mask ? key[i & 3] : 0);
    return n + len;
}

/* Feeds all of buf; returns the first result that is not MORE. */
static sse_ws_result feed_all(sse_ws_parser *p, const unsigned char *buf,
                              size_t len, size_t *used, sse_ws_frame *f)
{
    size_t consumed;
    sse_ws_result rc = sse_ws_parser_feed(p, buf, len, &consumed, f);

    if (used)
        *used = consumed;
    return rc;
}

static void test_rfc_examples(void)
{
    /* RFC 6455 5.7: a masked "Hello" and a masked ping "Hello" */
    static const unsigned char hello[] = { 0x81, 0x85, 0x37, 0xfa, 0x21,
                                           0x3d, 0x7f, 0x9f, 0x4d, 0x51,
                                           0x58 };
    static const unsigned char ping[] = { 0x89, 0x85, 0x37, 0xfa, 0x21,
                                          0x3d, 0x7f, 0x9f, 0x4d, 0x51,
                                          0x58 };
    sse_ws_parser *p = sse_ws_parser_create(0, 1);
    sse_ws_frame f;
    size_t used;

    CU_ASSERT_EQUAL(feed_all(p, hello, sizeof(hello), &used, &f),
                    SSE_WS_MESSAGE);
    CU_ASSERT_EQUAL(used, sizeof(hello));
    CU_ASSERT_EQUAL(f.opcode, SSE_WS_OP_TEXT);
    CU_ASSERT_EQUAL(f.len, 5);
    CU_ASSERT_EQUAL(memcmp(f.payload, "Hello", 5), 0);
    CU_ASSERT_EQUAL(feed_all(p, ping, sizeof(ping), &used, &f),
                    SSE_WS_CONTROL);
    CU_ASSERT_EQUAL(f.opcode, SSE_WS_OP_PING);
    CU_ASSERT_EQUAL(memcmp(f.payload, "Hello", 5), 0);
    sse_ws_parser_destroy(p);
}

static void test_byte_by_byte(void)
{
    unsigned char buf[512];
    char text[300];
    size_t n, i, frames = 0;
    sse_ws_parser *p = sse_ws_parser_create(0, 1);
    sse_ws_frame f;

    memset(text, 'a', sizeof(text));
    n = client_frame(buf, 1, SSE_WS_OP_TEXT, text, sizeof(text), 1);
    n += client_frame(buf + n, 1, SSE_WS_OP_PING, "pp", 2, 1);
    for (i = 0; i < n; i++) {
        size_t used;
        sse_ws_result rc = sse_ws_parser_feed(p, buf + i, 1, &used, &f);
        CU_ASSERT_EQUAL(used, 1);
        if (rc == SSE_WS_MESSAGE) {
            CU_ASSERT_EQUAL(f.len, sizeof(text));
            CU_ASSERT_EQUAL(memcmp(f.payload, text, sizeof(text)), 0);
            frames++;
        } else if (rc == SSE_WS_CONTROL) {
            CU_ASSERT_EQUAL(f.opcode, SSE_WS_OP_PING);
            CU_ASSERT_EQUAL(f.len, 2);
            frames++;
        } else {
            CU_ASSERT_EQUAL(rc, SSE_WS_MORE);
        }
    }
    CU_ASSERT_EQUAL(frames, 2);
    sse_ws_parser_destroy(p);
}

static void test_fragments_with_control_between(void)
{
    unsigned char buf[256];
    size_t n = 0, off = 0, used;
    sse_ws_parser *p = sse_ws_parser_create(0, 1);
    sse_ws_frame f;

    n += client_frame(buf + n, 0, SSE_WS_OP_TEXT, "hel", 3, 1);
    n += client_frame(buf + n, 1, SSE_WS_OP_PING, "x", 1, 1);
    n += client_frame(buf + n, 0, SSE_WS_OP_CONT, "lo ", 3, 1);
    n += client_frame(buf + n, 1, SSE_WS_OP_CONT, "world", 5, 1);
    CU_ASSERT_EQUAL(feed_all(p, buf, n, &used, &f), SSE_WS_CONTROL);
    CU_ASSERT_EQUAL(f.opcode, SSE_WS_OP_PING);
    off += used;
    CU_ASSERT_EQUAL(feed_all(p, buf + off, n - off, &used, &f),
                    SSE_WS_MESSAGE);
    CU_ASSERT_EQUAL(off + used, n);
    CU_ASSERT_EQUAL(f.opcode, SSE_WS_OP_TEXT);
    CU_ASSERT_EQUAL(f.len, 11);
    CU_ASSERT_EQUAL(memcmp(f.payload, "hello world", 11), 0);
    sse_ws_parser_destroy(p);
}

static void test_lengths(void)
{
    unsigned char *buf = malloc(70000 + 20);
    unsigned char *data = calloc(1, 70000);
    sse_ws_parser *p = sse_ws_parser_create(100000, 1);
    sse_ws_frame f;
    size_t n, used;

    /* 16- and 64-bit lengths */
    n = client_frame(buf, 1, SSE_WS_OP_BINARY, data, 300, 1);
    CU_ASSERT_EQUAL(buf[1] & 0x7F, 126);
    CU_ASSERT_EQUAL(feed_all(p, buf, n, &used, &f), SSE_WS_MESSAGE);
    CU_ASSERT_EQUAL(f.len, 300);
    n = client_frame(buf, 1, SSE_WS_OP_BINARY, data, 70000, 1);
    CU_ASSERT_EQUAL(buf[1] & 0x7F, 127);
    CU_ASSERT_EQUAL(feed_all(p, buf, n, &used, &f), SSE_WS_MESSAGE);
    CU_ASSERT_EQUAL(f.len, 70000);
    /* an empty message */
    n = client_frame(buf, 1, SSE_WS_OP_TEXT, "", 0, 1);
    CU_ASSERT_EQUAL(feed_all(p, buf, n, &used, &f), SSE_WS_MESSAGE);
    CU_ASSERT_EQUAL(f.len, 0);
    sse_ws_parser_destroy(p);
    free(buf);
    free(data);
}

/* A frame that must fail the connection with code. */
static void expect_fail(const unsigned char *buf, size_t n, int code)
{
    sse_ws_parser *p = sse_ws_parser_create(SSE_WS_MAX_MESSAGE, 1);
    sse_ws_frame f;
    size_t used;

    CU_ASSERT_EQUAL_FATAL(feed_all(p, buf, n, &used, &f), SSE_WS_FAIL);
    CU_ASSERT_EQUAL(f.fail_code, code);
    CU_ASSERT_PTR_NOT_NULL(f.why);
    /* sticky */
    CU_ASSERT_EQUAL(feed_all(p, buf, n, &used, &f), SSE_WS_FAIL);
    CU_ASSERT_EQUAL(f.fail_code, code);
    sse_ws_parser_destroy(p);
}

static void test_protocol_errors(void)
{
    unsigned char buf[400];
    unsigned char big[200];
    size_t n;

    memset(big, 'x', sizeof(big));
    n = client_frame(buf, 1, SSE_WS_OP_PING, "x", 1, 0);
    expect_fail(buf, n, SSE_WS_CLOSE_PROTOCOL);              /* unmasked */
    n = client_frame(buf, 1, SSE_WS_OP_TEXT, "x", 1, 1);
    buf[0] |= 0x40;
    expect_fail(buf, n, SSE_WS_CLOSE_PROTOCOL);              /* RSV1 */
    n = client_frame(buf, 1, 3, "x", 1, 1);
    expect_fail(buf, n, SSE_WS_CLOSE_PROTOCOL);              /* opcode 3 */
    n = client_frame(buf, 1, 0xB, "x", 1, 1);
    expect_fail(buf, n, SSE_WS_CLOSE_PROTOCOL);              /* opcode B */
    n = client_frame(buf, 0, SSE_WS_OP_PING, "x", 1, 1);
    expect_fail(buf, n, SSE_WS_CLOSE_PROTOCOL);              /* no FIN */
    n = client_frame(buf, 1, SSE_WS_OP_PING, big, 126, 1);
    expect_fail(buf, n, SSE_WS_CLOSE_PROTOCOL);              /* > 125 */
    n = client_frame(buf, 1, SSE_WS_OP_CONT, "x", 1, 1);
    expect_fail(buf, n, SSE_WS_CLOSE_PROTOCOL);              /* orphan */
    n = client_frame(buf, 0, SSE_WS_OP_TEXT, "x", 1, 1);
    n += client_frame(buf + n, 1, SSE_WS_OP_TEXT, "y", 1, 1);
    expect_fail(buf, n, SSE_WS_CLOSE_PROTOCOL);              /* nested */
    n = client_frame(buf, 1, SSE_WS_OP_CLOSE, "\x03", 1, 1);
    expect_fail(buf, n, SSE_WS_CLOSE_PROTOCOL);              /* 1 byte */
    n = client_frame(buf, 1, SSE_WS_OP_CLOSE, "\x03\xed", 2, 1);
    expect_fail(buf, n, SSE_WS_CLOSE_PROTOCOL);              /* 1005 */
    n = client_frame(buf, 1, SSE_WS_OP_CLOSE, "\x03\xe8\xff", 3, 1);
    expect_fail(buf, n, SSE_WS_CLOSE_BAD_DATA);              /* reason */
    n = client_frame(buf, 1, SSE_WS_OP_TEXT, "\xc0\xaf", 2, 1);
    expect_fail(buf, n, SSE_WS_CLOSE_BAD_DATA);              /* overlong */
    /* a length that is not minimally encoded */
    {
        unsigned char l16[] = { 0x82, 0xFE, 0x00, 0x05, 1, 2, 3, 4 };
        unsigned char l64[] = { 0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0x01, 0x00,
                                1, 2, 3, 4 };
        unsigned char top[] = { 0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0,
                                1, 2, 3, 4 };
        expect_fail(l16, sizeof(l16), SSE_WS_CLOSE_PROTOCOL);
        expect_fail(l64, sizeof(l64), SSE_WS_CLOSE_PROTOCOL);
        expect_fail(top, sizeof(top), SSE_WS_CLOSE_PROTOCOL);
    }
}

static void test_size_limit(void)
{
    unsigned char head[] = { 0x81, 0xFF, 0, 0, 0, 0, 0, 1, 0x11, 0x70,
                             1, 2, 3, 4 };  /* 70000 bytes announced */
    unsigned char *buf = malloc(2 * 40000 + 40);
    unsigned char *data = calloc(1, 40000);
    sse_ws_parser *p = sse_ws_parser_create(SSE_WS_MAX_MESSAGE, 1);
    sse_ws_frame f;
    size_t n, used;

    /* refused from its head, before any payload */
    expect_fail(head, sizeof(head), SSE_WS_CLOSE_TOO_BIG);
    /* fragments count together */
    n = client_frame(buf, 0, SSE_WS_OP_BINARY, data, 40000, 1);
    n += client_frame(buf + n, 1, SSE_WS_OP_CONT, data, 40000, 1);
    CU_ASSERT_EQUAL(feed_all(p, buf, n, &used, &f), SSE_WS_FAIL);
    CU_ASSERT_EQUAL(f.fail_code, SSE_WS_CLOSE_TOO_BIG);
    sse_ws_parser_destroy(p);
    /* exactly the limit is fine */
    p = sse_ws_parser_create(1000, 1);
    n = client_frame(buf, 1, SSE_WS_OP_BINARY, data, 1000, 1);
    CU_ASSERT_EQUAL(feed_all(p, buf, n, &used, &f), SSE_WS_MESSAGE);
    n = client_frame(buf, 1, SSE_WS_OP_BINARY, data, 1001, 1);
    CU_ASSERT_EQUAL(feed_all(p, buf, n, &used, &f), SSE_WS_FAIL);
    sse_ws_parser_destroy(p);
    free(buf);
    free(data);
}

static void test_close_frames(void)
{
    unsigned char buf[200];
    sse_ws_parser *p = sse_ws_parser_create(0, 1);
    sse_ws_frame f;
    size_t n, used;

    n = client_frame(buf, 1, SSE_WS_OP_CLOSE, "\x03\xe8" "bye", 5, 1);
    CU_ASSERT_EQUAL(feed_all(p, buf, n, &used, &f), SSE_WS_CONTROL);
    CU_ASSERT_EQUAL(f.opcode, SSE_WS_OP_CLOSE);
    CU_ASSERT_EQUAL(f.close_code, 1000);
    n = client_frame(buf, 1, SSE_WS_OP_CLOSE, "", 0, 1);
    CU_ASSERT_EQUAL(feed_all(p, buf, n, &used, &f), SSE_WS_CONTROL);
    CU_ASSERT_EQUAL(f.close_code, SSE_WS_CLOSE_NO_STATUS);
    n = client_frame(buf, 1, SSE_WS_OP_CLOSE, "\x0f\xa0", 2, 1); /* 4000 */
    CU_ASSERT_EQUAL(feed_all(p, buf, n, &used, &f), SSE_WS_CONTROL);
    CU_ASSERT_EQUAL(f.close_code, 4000);
    sse_ws_parser_destroy(p);
}

static void test_encoder(void)
{
    unsigned char h[SSE_WS_MAX_HEAD], c[SSE_WS_MAX_CONTROL];
    char reason[300];
    size_t n;

    CU_ASSERT_EQUAL(sse_ws_frame_head(h, SSE_WS_OP_TEXT, 5), 2);
    CU_ASSERT_EQUAL(h[0], 0x81);
    CU_ASSERT_EQUAL(h[1], 5);
    CU_ASSERT_EQUAL(sse_ws_frame_head(h, SSE_WS_OP_TEXT, 126), 4);
    CU_ASSERT_EQUAL(h[1], 126);
    CU_ASSERT_EQUAL(h[2] << 8 | h[3], 126);
    CU_ASSERT_EQUAL(sse_ws_frame_head(h, SSE_WS_OP_PING, 65536), 10);
    CU_ASSERT_EQUAL(h[0], 0x89);
    CU_ASSERT_EQUAL(h[1], 127);
    CU_ASSERT_EQUAL(h[7], 1);
    CU_ASSERT_EQUAL(h[8], 0);

    n = sse_ws_close_payload(c, 1000, "backend; retry=5000");
    CU_ASSERT_EQUAL(n, 2 + 19);
    CU_ASSERT_EQUAL(c[0] << 8 | c[1], 1000);
    CU_ASSERT_EQUAL(memcmp(c + 2, "backend; retry=5000", 19), 0);
    /* a long reason is cut to fit, never inside a UTF-8 sequence */
    memset(reason, 0, sizeof(reason));
    for (n = 0; n + 2 < 250; n += 2)
        memcpy(reason + n, "\xc3\xa9", 2);
    n = sse_ws_close_payload(c, 1001, reason);
    CU_ASSERT(n <= SSE_WS_MAX_CONTROL);
    CU_ASSERT(sse_ws_utf8_valid(c + 2, n - 2));
    CU_ASSERT_EQUAL(n, 2 + 122);
    /* no reason: the code alone */
    n = sse_ws_close_payload(c, 1011, NULL);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT_EQUAL(c[0] << 8 | c[1], 1011);
}

static char *json(const char *id, const char *type, const char *data,
                  size_t data_len)
{
    size_t n = sse_ws_event_json(NULL, 0, id, id ? strlen(id) : 0, type,
                                 type ? strlen(type) : 0, data, data_len);
    char *out = malloc(n + 1);

    CU_ASSERT_EQUAL(sse_ws_event_json(out, n, id, id ? strlen(id) : 0,
                                      type, type ? strlen(type) : 0, data,
                                      data_len), n);
    out[n] = 0;
    return out;
}

static void test_event_json(void)
{
    struct { const char *id, *type, *data; size_t len; const char *want; }
    cases[] = {
        { "7", "update", "hi", 2,
          "{\"id\":\"7\",\"event\":\"update\",\"data\":\"hi\"}" },
        { NULL, "message", "a\nb", 3,
          "{\"id\":null,\"event\":null,\"data\":\"a\\nb\"}" },
        { "", NULL, "", 0, "{\"id\":null,\"event\":null,\"data\":\"\"}" },
        { "q\"\\", NULL, "\t\r\x01\x7f", 4,
          "{\"id\":\"q\\\"\\\\\",\"event\":null,"
          "\"data\":\"\\t\\r\\u0001\x7f\"}" },
        { NULL, NULL, "\xc3\xa9\xe2\x9c\x93\xf0\x9f\x98\x80", 9,
          "{\"id\":null,\"event\":null,"
          "\"data\":\"\xc3\xa9\xe2\x9c\x93\xf0\x9f\x98\x80\"}" },
        /* not UTF-8: each bad byte becomes U+FFFD */
        { NULL, NULL, "a\xff\xc3(\xed\xa0\x80", 7,
          "{\"id\":null,\"event\":null,\"data\":\"a\xef\xbf\xbd\xef\xbf\xbd("
          "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"}" },
        { NULL, NULL, "a\0b", 3,
          "{\"id\":null,\"event\":null,\"data\":\"a\\u0000b\"}" },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = json(cases[i].id, cases[i].type, cases[i].data,
                         cases[i].len);
        CU_ASSERT_STRING_EQUAL(got, cases[i].want);
        CU_ASSERT(sse_ws_utf8_valid((unsigned char *)got, strlen(got)));
        free(got);
    }
    /* a short buffer is filled as far as it goes; the length is whole */
    {
        char small[5];
        size_t n = sse_ws_event_json(small, sizeof(small), "1", 1, NULL, 0,
                                     "x", 1);
        CU_ASSERT_EQUAL(n, strlen("{\"id\":\"1\",\"event\":null,"
                                  "\"data\":\"x\"}"));
        CU_ASSERT_EQUAL(memcmp(small, "{\"id\"", 5), 0);
    }
}

static void test_utf8(void)
{
    CU_ASSERT(sse_ws_utf8_valid((const unsigned char *)"", 0));
    CU_ASSERT(sse_ws_utf8_valid((const unsigned char *)"\xf4\x8f\xbf\xbf",
                                4));
    CU_ASSERT(!sse_ws_utf8_valid((const unsigned char *)"\xf4\x90\x80\x80",
                                 4));
    CU_ASSERT(!sse_ws_utf8_valid((const unsigned char *)"\xed\xa0\x80", 3));
    CU_ASSERT(!sse_ws_utf8_valid((const unsigned char *)"\xe2\x9c", 2));
    CU_ASSERT(!sse_ws_utf8_valid((const unsigned char *)"\x80", 1));
}

static const unit_test tests[] = {
    { "RFC 6455 examples", test_rfc_examples },
    { "frames fed one byte at a time", test_byte_by_byte },
    { "fragments joined, control frames between", test_fragments_with_control_between },
    { "7-, 16- and 64-bit lengths", test_lengths },
    { "protocol errors close with 1002 or 1007", test_protocol_errors },
    { "message size limit closes with 1009", test_size_limit },
    { "close frames and codes", test_close_frames },
    { "frame heads and close payloads", test_encoder },
    { "events as JSON messages", test_event_json },
    { "UTF-8 validation", test_utf8 },
    { NULL, NULL }
};

int register_ws_frame_suite(void)
{
    return add_suite("websocket frames", tests);
}
