/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* The WebSocket frame codec (RFC 6455), server side: an incremental
 * parser of client frames and the encoders of what the server sends.
 * Plain C99, no httpd or APR types, for the unit tests and the fuzz
 * target. */
#ifndef SSE_WS_FRAME_H
#define SSE_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define SSE_WS_OP_CONT   0x0
#define SSE_WS_OP_TEXT   0x1
#define SSE_WS_OP_BINARY 0x2
#define SSE_WS_OP_CLOSE  0x8
#define SSE_WS_OP_PING   0x9
#define SSE_WS_OP_PONG   0xA

#define SSE_WS_CLOSE_NORMAL     1000
#define SSE_WS_CLOSE_GOING_AWAY 1001
#define SSE_WS_CLOSE_PROTOCOL   1002
#define SSE_WS_CLOSE_NO_STATUS  1005  /* a close frame without a code */
#define SSE_WS_CLOSE_BAD_DATA   1007
#define SSE_WS_CLOSE_TOO_BIG    1009
#define SSE_WS_CLOSE_ERROR      1011

/* Control frames carry at most this much (RFC 6455 5.5). */
#define SSE_WS_MAX_CONTROL 125
/* Largest frame head: 2 bytes, 8 of length, 4 of mask. */
#define SSE_WS_MAX_HEAD 14
/* The largest message a client may send, all fragments together. */
#define SSE_WS_MAX_MESSAGE (64 * 1024)

typedef enum {
    SSE_WS_MORE = 0,  /* input used up, nothing complete yet */
    SSE_WS_CONTROL,   /* a ping, pong or close frame */
    SSE_WS_MESSAGE,   /* a whole text or binary message, fragments joined */
    SSE_WS_FAIL       /* the peer broke the protocol: close with code */
} sse_ws_result;

typedef struct {
    int                  opcode;
    const unsigned char *payload;  /* unmasked; valid until the next feed */
    size_t               len;
    /* with SSE_WS_CONTROL and a close frame: its code (1005 if none) */
    int                  close_code;
    /* with SSE_WS_FAIL: the code to close with, and why (for the log) */
    int                  fail_code;
    const char          *why;
} sse_ws_frame;

typedef struct sse_ws_parser sse_ws_parser;

/* A parser of the frames one peer sends.  require_mask: frames from a
 * client must be masked (a server reads those).  max_message bounds a
 * data message, fragments together; 0 means SSE_WS_MAX_MESSAGE.  NULL
 * when out of memory. */
sse_ws_parser *sse_ws_parser_create(size_t max_message, int require_mask);
void sse_ws_parser_destroy(sse_ws_parser *p);

/* Feeds len bytes.  Stops after each complete control frame or message
 * (*consumed then says how many bytes were used: call again with the
 * rest); otherwise returns SSE_WS_MORE with *consumed = len.  A failure
 * is sticky: every later call returns it again. */
sse_ws_result sse_ws_parser_feed(sse_ws_parser *p, const void *buf,
                                 size_t len, size_t *consumed,
                                 sse_ws_frame *out);

/* 1 when s is well-formed UTF-8 (no overlong forms, no surrogates). */
int sse_ws_utf8_valid(const unsigned char *s, size_t len);

/* Writes the head of an unmasked, final frame of len payload bytes into
 * out (room for SSE_WS_MAX_HEAD); returns its length. */
size_t sse_ws_frame_head(unsigned char *out, int opcode, uint64_t len);

/* The payload of a close frame: the code, then reason cut to what fits
 * a control frame without splitting a UTF-8 sequence.  out has room for
 * SSE_WS_MAX_CONTROL bytes; returns the length. */
size_t sse_ws_close_payload(unsigned char *out, int code,
                            const char *reason);

/* One event as the JSON text of a message:
 *   {"id":"7","event":"update","data":"..."}
 * id is null when id is NULL or empty, event null when type is NULL,
 * empty or "message".  Bytes that are not UTF-8 become U+FFFD, so that
 * the message is valid text.  Writes at most cap bytes to out (which may
 * be NULL with cap 0) and returns the full length, as snprintf does. */
size_t sse_ws_event_json(char *out, size_t cap,
                         const char *id, size_t id_len,
                         const char *type, size_t type_len,
                         const char *data, size_t data_len);

#endif
