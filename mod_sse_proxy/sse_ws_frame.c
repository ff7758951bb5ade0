/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include <stdlib.h>
#include <string.h>

#include "sse_ws_frame.h"

struct sse_ws_parser {
    size_t        max_message;
    int           require_mask;
    /* the frame being read */
    unsigned char head[SSE_WS_MAX_HEAD];
    size_t        head_have, head_need;
    int           in_payload;
    int           fin, opcode, masked;
    unsigned char mask[4];
    uint64_t      remaining;
    size_t        mask_pos;
    /* a control frame's payload */
    unsigned char ctl[SSE_WS_MAX_CONTROL];
    size_t        ctl_len;
    /* the data message being joined (opcode 0: none) */
    int           msg_opcode;
    unsigned char *msg;
    size_t        msg_len, msg_cap;
    /* sticky failure */
    int           fail_code;
    const char   *why;
};

sse_ws_parser *sse_ws_parser_create(size_t max_message, int require_mask)
{
    sse_ws_parser *p = calloc(1, sizeof(*p));

    if (!p)
        return NULL;
    p->max_message = max_message ? max_message : SSE_WS_MAX_MESSAGE;
    p->require_mask = require_mask;
    p->head_need = 2;
    return p;
}

void sse_ws_parser_destroy(sse_ws_parser *p)
{
    if (p) {
        free(p->msg);
        free(p);
    }
}

static sse_ws_result fail(sse_ws_parser *p, int code, const char *why,
                          sse_ws_frame *out)
{
    if (!p->fail_code) {
        p->fail_code = code;
        p->why = why;
    }
    memset(out, 0, sizeof(*out));
    out->fail_code = p->fail_code;
    out->why = p->why;
    return SSE_WS_FAIL;
}

static int is_control(int opcode)
{
    return opcode & 0x8;
}

static int known_opcode(int opcode)
{
    return opcode <= SSE_WS_OP_BINARY || (opcode >= SSE_WS_OP_CLOSE
                                          && opcode <= SSE_WS_OP_PONG);
}

/* Codes a peer may send (RFC 6455 7.4.1, 7.4.2). */
static int valid_close_code(int code)
{
    if (code >= 1000 && code <= 1011)
        return code != 1004 && code != 1005 && code != 1006;
    return code >= 3000 && code <= 4999;
}

int sse_ws_utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        uint32_t cp, min;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1; cp = c & 0x1F; min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2; cp = c & 0x0F; min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3; cp = c & 0x07; min = 0x10000;
        } else {
            return 0;
        }
        if (len - i <= n)
            return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += n + 1;
    }
    return 1;
}

/* The length of the well-formed UTF-8 sequence at s, 0 if there is none
 * (then the byte is replaced). */
static size_t utf8_sequence(const unsigned char *s, size_t len)
{
    size_t n = s[0] < 0x80 ? 1 : s[0] < 0xE0 ? 2 : s[0] < 0xF0 ? 3 : 4;

    if (n > len || !sse_ws_utf8_valid(s, n))
        return 0;
    return n;
}

/* The frame head is complete: check it against the protocol. */
static sse_ws_result head_done(sse_ws_parser *p, sse_ws_frame *out)
{
    const unsigned char *h = p->head;
    size_t at = 2;
    uint64_t len = h[1] & 0x7F;

    if (len == 126) {
        len = ((uint64_t)h[2] << 8) | h[3];
        if (len < 126)
            return fail(p, SSE_WS_CLOSE_PROTOCOL, "length not minimally "
                        "encoded", out);
        at = 4;
    } else if (len == 127) {
        len = 0;
        for (at = 2; at < 10; at++)
            len = (len << 8) | h[at];
        if (len >> 63)
            return fail(p, SSE_WS_CLOSE_PROTOCOL, "64-bit length with the "
                        "top bit set", out);
        if (len <= 0xFFFF)
            return fail(p, SSE_WS_CLOSE_PROTOCOL, "length not minimally "
                        "encoded", out);
    }
    if (p->masked)
        memcpy(p->mask, h + at, 4);
    if (!is_control(p->opcode)
        && len > p->max_message - p->msg_len)
        return fail(p, SSE_WS_CLOSE_TOO_BIG, "message larger than allowed",
                    out);
    p->remaining = len;
    p->mask_pos = 0;
    p->ctl_len = 0;
    p->in_payload = 1;
    if (!is_control(p->opcode) && len > p->msg_cap - p->msg_len) {
        size_t cap = p->msg_cap ? p->msg_cap : 1024;
        unsigned char *m;

        while (cap < p->msg_len + len)
            cap = cap * 2 > p->max_message ? p->max_message : cap * 2;
        m = realloc(p->msg, cap);
        if (!m)
            return fail(p, SSE_WS_CLOSE_ERROR, "out of memory", out);
        p->msg = m;
        p->msg_cap = cap;
    }
    return SSE_WS_MORE;
}

/* The first two bytes are in: how long the head is, and what may
 * already be refused. */
static sse_ws_result start_done(sse_ws_parser *p, sse_ws_frame *out)
{
    unsigned char b0 = p->head[0], b1 = p->head[1];
    size_t len7 = b1 & 0x7F;

    p->fin = (b0 & 0x80) != 0;
    p->opcode = b0 & 0x0F;
    p->masked = (b1 & 0x80) != 0;
    if (b0 & 0x70)
        return fail(p, SSE_WS_CLOSE_PROTOCOL, "reserved bits set (no "
                    "extension was agreed)", out);
    if (!known_opcode(p->opcode))
        return fail(p, SSE_WS_CLOSE_PROTOCOL, "unknown opcode", out);
    if (p->require_mask && !p->masked)
        return fail(p, SSE_WS_CLOSE_PROTOCOL, "unmasked client frame", out);
    if (is_control(p->opcode)) {
        if (!p->fin)
            return fail(p, SSE_WS_CLOSE_PROTOCOL, "fragmented control "
                        "frame", out);
        if (len7 > SSE_WS_MAX_CONTROL)
            return fail(p, SSE_WS_CLOSE_PROTOCOL, "control frame longer "
                        "than 125 bytes", out);
    } else if (p->opcode == SSE_WS_OP_CONT) {
        if (!p->msg_opcode)
            return fail(p, SSE_WS_CLOSE_PROTOCOL, "continuation without a "
                        "message", out);
    } else if (p->msg_opcode) {
        return fail(p, SSE_WS_CLOSE_PROTOCOL, "new message inside a "
                    "fragmented one", out);
    }
    p->head_need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0)
                   + (p->masked ? 4 : 0);
    return SSE_WS_MORE;
}

/* The frame's payload is complete. */
static sse_ws_result frame_done(sse_ws_parser *p, sse_ws_frame *out)
{
    p->in_payload = 0;
    p->head_have = 0;
    p->head_need = 2;
    memset(out, 0, sizeof(*out));
    if (is_control(p->opcode)) {
        out->opcode = p->opcode;
        out->payload = p->ctl;
        out->len = p->ctl_len;
        if (p->opcode == SSE_WS_OP_CLOSE) {
            out->close_code = SSE_WS_CLOSE_NO_STATUS;
            if (p->ctl_len == 1)
                return fail(p, SSE_WS_CLOSE_PROTOCOL, "close frame of one "
                            "byte", out);
            if (p->ctl_len >= 2) {
                out->close_code = (p->ctl[0] << 8) | p->ctl[1];
                if (!valid_close_code(out->close_code))
                    return fail(p, SSE_WS_CLOSE_PROTOCOL, "invalid close "
                                "code", out);
                if (!sse_ws_utf8_valid(p->ctl + 2, p->ctl_len - 2))
                    return fail(p, SSE_WS_CLOSE_BAD_DATA, "close reason "
                                "not UTF-8", out);
            }
        }
        return SSE_WS_CONTROL;
    }
    if (p->opcode != SSE_WS_OP_CONT)
        p->msg_opcode = p->opcode;
    if (!p->fin)
        return SSE_WS_MORE;
    out->opcode = p->msg_opcode;
    out->payload = p->msg;
    out->len = p->msg_len;
    p->msg_opcode = 0;
    p->msg_len = 0;
    if (out->opcode == SSE_WS_OP_TEXT
        && !sse_ws_utf8_valid(out->payload, out->len))
        return fail(p, SSE_WS_CLOSE_BAD_DATA, "text message not UTF-8",
                    out);
    return SSE_WS_MESSAGE;
}

sse_ws_result sse_ws_parser_feed(sse_ws_parser *p, const void *buf,
                                 size_t len, size_t *consumed,
                                 sse_ws_frame *out)
{
    const unsigned char *in = buf;
    size_t off = 0;
    sse_ws_result rc;

    *consumed = 0;
    if (p->fail_code)
        return fail(p, p->fail_code, p->why, out);
    for (;;) {
        if (!p->in_payload) {
            while (p->head_have < p->head_need && off < len)
                p->head[p->head_have++] = in[off++];
            if (p->head_have < p->head_need)
                break;
            if (p->head_need == 2) {
                rc = start_done(p, out);
                if (rc != SSE_WS_MORE)
                    goto done;
                if (p->head_have < p->head_need)
                    continue;
            }
            rc = head_done(p, out);
            if (rc != SSE_WS_MORE)
                goto done;
        }
        if (p->remaining) {
            size_t n = len - off;
            unsigned char *dst = is_control(p->opcode)
                                 ? p->ctl + p->ctl_len
                                 : p->msg + p->msg_len;

            if (n > p->remaining)
                n = (size_t)p->remaining;
            for (size_t i = 0; i < n; i++) {
                unsigned char c = in[off + i];
                if (p->masked)
                    c ^= p->mask[p->mask_pos++ & 3];
                dst[i] = c;
            }
            if (is_control(p->opcode))
                p->ctl_len += n;
            else
                p->msg_len += n;
            off += n;
            p->remaining -= n;
            if (p->remaining)
                break;
        }
        rc = frame_done(p, out);
        if (rc != SSE_WS_MORE)
            goto done;
    }
    *consumed = off;
    memset(out, 0, sizeof(*out));
    return SSE_WS_MORE;
done:
    *consumed = off;
    return rc;
}

size_t sse_ws_frame_head(unsigned char *out, int opcode, uint64_t len)
{
    out[0] = (unsigned char)(0x80 | (opcode & 0x0F));
    if (len < 126) {
        out[1] = (unsigned char)len;
        return 2;
    }
    if (len <= 0xFFFF) {
        out[1] = 126;
        out[2] = (unsigned char)(len >> 8);
        out[3] = (unsigned char)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (unsigned char)(len >> (56 - 8 * i));
    return 10;
}

size_t sse_ws_close_payload(unsigned char *out, int code, const char *reason)
{
    size_t n = reason ? strlen(reason) : 0, i = 0;

    out[0] = (unsigned char)(code >> 8);
    out[1] = (unsigned char)code;
    /* whole UTF-8 sequences only; anything else is left out */
    while (i < n) {
        size_t k = utf8_sequence((const unsigned char *)reason + i, n - i);
        if (!k || i + k > SSE_WS_MAX_CONTROL - 2)
            break;
        i += k;
    }
    if (i)
        memcpy(out + 2, reason, i);
    return 2 + i;
}

typedef struct {
    char  *out;
    size_t cap, len;
} json_buf;

static void put(json_buf *b, const char *s, size_t n)
{
    if (n && b->len < b->cap) {
        size_t room = b->cap - b->len;
        memcpy(b->out + b->len, s, n < room ? n : room);
    }
    b->len += n;
}

static void put_string(json_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    put(b, "\"", 1);
    while (i < n) {
        unsigned char c = u[i];
        size_t k;

        if (c == '"' || c == '\\') {
            char esc[2] = { '\\', (char)c };
            put(b, esc, 2);
            i++;
        } else if (c < 0x20) {
            char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            if (c == '\n')
                put(b, "\\n", 2);
            else if (c == '\r')
                put(b, "\\r", 2);
            else if (c == '\t')
                put(b, "\\t", 2);
            else
                put(b, esc, 6);
            i++;
        } else if (c < 0x80) {
            size_t j = i + 1;
            while (j < n && u[j] >= 0x20 && u[j] < 0x80 && u[j] != '"'
                   && u[j] != '\\')
                j++;
            put(b, s + i, j - i);
            i = j;
        } else if ((k = utf8_sequence(u + i, n - i)) != 0) {
            put(b, s + i, k);
            i += k;
        } else {
            put(b, "\xEF\xBF\xBD", 3);  /* U+FFFD */
            i++;
        }
    }
    put(b, "\"", 1);
}

size_t sse_ws_event_json(char *out, size_t cap,
                         const char *id, size_t id_len,
                         const char *type, size_t type_len,
                         const char *data, size_t data_len)
{
    json_buf b = { out, cap, 0 };

    put(&b, "{\"id\":", 6);
    if (id && id_len)
        put_string(&b, id, id_len);
    else
        put(&b, "null", 4);
    put(&b, ",\"event\":", 9);
    if (type && type_len && !(type_len == 7 && !memcmp(type, "message", 7)))
        put_string(&b, type, type_len);
    else
        put(&b, "null", 4);
    put(&b, ",\"data\":", 8);
    put_string(&b, data ? data : "", data ? data_len : 0);
    put(&b, "}", 1);
    return b.len;
}
