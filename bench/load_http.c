/* Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0 */

/* HTTP/1.1 responses as an EventSource reads them: the head (status,
 * media type, framing) and the body's framing (chunked, a length, or the
 * connection's end), with the event stream inside handed on. */
#include <stdlib.h>
#include <string.h>

#include "load.h"
#include "load_client.h"
#include "load_conn.h"
#include "load_http.h"

#define MAX_HEAD      16384      /* status line + headers of a response */

/* ------------------------------------------------------------------ */
/* Response bodies                                                      */
/* ------------------------------------------------------------------ */

static void chunk_size_done(struct client *c)
{
    c->chunk = c->remaining ? CH_DATA : CH_TRAILER;
}

/* The line end after a chunk's data: the next size line follows. */
static int chunk_next(struct client *c, char ch)
{
    if (ch != '\n')
        return -1;
    c->chunk = CH_SIZE;
    c->size_digits = 0;
    c->remaining = 0;
    return 0;
}

/* One framing byte of a chunked body.  Returns 1 at the end of the body,
 * -1 on a framing error, 0 otherwise. */
static int chunk_byte(struct client *c, char ch)
{
    int h;

    switch (c->chunk) {
    case CH_SIZE:
        h = sse_hexval(ch);
        if (h >= 0) {
            if (++c->size_digits > 15)
                return -1;
            c->remaining = c->remaining * 16 + (uint64_t)h;
        } else if (c->size_digits == 0) {
            return -1;
        } else if (ch == '\r') {
            c->chunk = CH_SIZE_LF;
        } else if (ch == '\n') {
            chunk_size_done(c);
        } else if (ch == ';' || ch == ' ' || ch == '\t') {
            c->chunk = CH_EXT;
        } else {
            return -1;
        }
        return 0;
    case CH_EXT:
        if (ch == '\n')
            chunk_size_done(c);
        return 0;
    case CH_SIZE_LF:
        if (ch != '\n')
            return -1;
        chunk_size_done(c);
        return 0;
    case CH_DATA_END:
        if (ch == '\r') {
            c->chunk = CH_DATA_LF;
            return 0;
        }
        return chunk_next(c, ch); /* a bare LF is tolerated */
    case CH_DATA_LF:
        return chunk_next(c, ch);
    case CH_TRAILER:
        if (ch == '\n')
            return 1;
        c->chunk = ch == '\r' ? CH_TRAILER_LF : CH_TRAILER_LINE;
        return 0;
    case CH_TRAILER_LF:
        return ch == '\n' ? 1 : -1;
    case CH_TRAILER_LINE:
        if (ch == '\n')
            c->chunk = CH_TRAILER;
        return 0;
    case CH_DATA:
        break;
    }
    return -1;
}

static int chunked_input(struct client *c, const char *p, size_t n, int64_t now)
{
    while (n > 0) {
        int rc;

        if (c->chunk == CH_DATA) {
            size_t take = c->remaining < n ? (size_t)c->remaining : n;

            if (sse_input(c, p, take, now) < 0)
                return -1;
            p += take;
            n -= take;
            c->remaining -= take;
            if (c->remaining == 0)
                c->chunk = CH_DATA_END;
            continue;
        }
        rc = chunk_byte(c, *p++);
        n--;
        if (rc != 0) {
            conn_end(c, rc > 0 ? END_CLEAN : END_BAD, now);
            return -1;
        }
    }
    return 0;
}

int body_input(struct client *c, const char *p, size_t n, int64_t now)
{
    size_t take;

    switch (c->framing) {
    case FR_CHUNKED:
        return chunked_input(c, p, n, now);
    case FR_LENGTH:
        take = c->remaining < n ? (size_t)c->remaining : n;
        if (sse_input(c, p, take, now) < 0)
            return -1;
        c->remaining -= take;
        if (c->remaining == 0) {
            conn_end(c, END_CLEAN, now);
            return -1;
        }
        return 0;
    case FR_CLOSE:
    default:
        return sse_input(c, p, n, now);
    }
}

/* ------------------------------------------------------------------ */
/* Response heads                                                       */
/* ------------------------------------------------------------------ */

/* Length of the head with its blank line, or 0 while it is incomplete.
 * Bare LF line ends are accepted, as browsers do. */
static size_t head_end(const char *buf, size_t n, size_t from)
{
    size_t i = from;

    while (i < n) {
        const char *lf = memchr(buf + i, '\n', n - i);

        if (!lf)
            return 0;
        i = (size_t)(lf - buf);
        if (i + 1 < n && buf[i + 1] == '\n')
            return i + 2;
        if (i + 2 < n && buf[i + 1] == '\r' && buf[i + 2] == '\n')
            return i + 3;
        i++;
    }
    return 0;
}

static int parse_status_line(struct client *c, const char *p, size_t n)
{
    uint64_t status;

    if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' || p[7] > '9'
        || p[8] != ' ' || parse_dec(p + 9, 3, &status) < 0
        || (n > 12 && p[12] != ' '))
        return -1;
    if (status < 100 || status >= MAX_STATUS)
        return -1;
    c->status = (int)status;
    return 0;
}

/* The media type, without parameters, is what EventSource checks. */
static int is_event_stream(const char *v, size_t n)
{
    const char *semi = memchr(v, ';', n);

    if (semi)
        n = (size_t)(semi - v);
    sse_span_trim(&v, &n);
    return sse_span_ieq(v, n, "text/event-stream");
}

/* Only the last coding decides whether the body is chunked. */
static int last_coding_chunked(const char *v, size_t n)
{
    const char *comma = memrchr(v, ',', n);

    if (comma) {
        n -= (size_t)(comma + 1 - v);
        v = comma + 1;
    }
    sse_span_trim(&v, &n);
    return sse_span_ieq(v, n, "chunked");
}

struct head_info {
    int have_te, chunked, have_cl;
    uint64_t cl;
};

static int parse_header(struct head_info *hi, struct client *c,
                        const char *line, size_t n)
{
    const char *colon = memchr(line, ':', n), *v;
    size_t name_len, vlen;
    uint64_t cl;

    if (!colon || colon == line)
        return -1;
    name_len = (size_t)(colon - line);
    v = colon + 1;
    vlen = n - name_len - 1;
    sse_span_trim(&v, &vlen);
    if (sse_span_ieq(line, name_len, "content-type")) {
        c->is_sse = is_event_stream(v, vlen);
    } else if (sse_span_ieq(line, name_len, "transfer-encoding")) {
        hi->have_te = 1;
        hi->chunked = last_coding_chunked(v, vlen);
    } else if (sse_span_ieq(line, name_len, "content-length")) {
        if (parse_dec(v, vlen, &cl) < 0 || (hi->have_cl && cl != hi->cl))
            return -1;
        hi->have_cl = 1;
        hi->cl = cl;
    }
    return 0;
}

static int parse_head(struct client *c, const char *h, size_t len)
{
    const char *end = h + len, *line = h, *eol;
    struct head_info hi;
    int first = 1;

    memset(&hi, 0, sizeof(hi));
    c->is_sse = 0;
    while (line < end && (eol = memchr(line, '\n', (size_t)(end - line)))) {
        size_t n = (size_t)(eol - line);

        if (n && line[n - 1] == '\r')
            n--;
        if (first) {
            if (parse_status_line(c, line, n) < 0)
                return -1;
            first = 0;
        } else if (n == 0) {
            break;
        } else if (parse_header(&hi, c, line, n) < 0) {
            return -1;
        }
        line = eol + 1;
    }
    if (first)
        return -1;
    c->remaining = 0;
    if (c->status == 204 || c->status == 304) {
        c->framing = FR_LENGTH;
    } else if (hi.have_te) {
        c->framing = hi.chunked ? FR_CHUNKED : FR_CLOSE;
    } else if (hi.have_cl) {
        c->framing = FR_LENGTH;
        c->remaining = hi.cl;
    } else {
        c->framing = FR_CLOSE;
    }
    return 0;
}

/* Each connection gets a fresh parser, as a browser's does. */
static int start_stream(struct client *c)
{
    c->parser = ssep_parser_create(&g.limits);
    if (!c->parser)
        return -1;
    c->state = ST_BODY;
    c->streaming = 1;
    g.streaming++;
    if (!c->established) {
        c->established = 1;
        g.established++;
    }
    c->chunk = CH_SIZE;
    c->size_digits = 0;
    if (c->framing == FR_CHUNKED)
        c->remaining = 0;
    return 0;
}

/* A complete head in h[0..k); body bytes that came with it follow.
 * Interim 1xx answers are not expected on a GET without Expect and are
 * treated as malformed. */
static int head_done(struct client *c, const char *h, size_t k,
                     const char *body, size_t blen, int64_t now)
{
    if (parse_head(c, h, k) < 0 || c->status < 200) {
        conn_end(c, END_BAD, now);
        return -1;
    }
    st.responses[c->status]++;
    timer_clear(c);
    if (c->status != 200 || !c->is_sse) {
        conn_end(c, END_NOT_SSE, now);
        return -1;
    }
    if (start_stream(c) < 0) {
        conn_end(c, END_OTHER, now);
        return -1;
    }
    if (c->framing == FR_LENGTH && c->remaining == 0) {
        conn_end(c, END_CLEAN, now);
        return -1;
    }
    return blen ? body_input(c, body, blen, now) : 0;
}

/* Heads nearly always arrive in one read and are parsed in place; only a
 * split head is copied into a per-connection buffer. */
int head_input(struct client *c, const char *p, size_t n, int64_t now)
{
    size_t k, take, from;
    char *h;
    int rc;

    if (!c->hbuf) {
        k = head_end(p, n, 0);
        if (k)
            return head_done(c, p, k, p + k, n - k, now);
        if (n >= MAX_HEAD || !(c->hbuf = malloc(MAX_HEAD))) {
            conn_end(c, n >= MAX_HEAD ? END_BAD : END_OTHER, now);
            return -1;
        }
        memcpy(c->hbuf, p, n);
        c->hlen = n;
        return 0;
    }
    from = c->hlen >= 2 ? c->hlen - 2 : 0;
    take = n < MAX_HEAD - c->hlen ? n : MAX_HEAD - c->hlen;
    memcpy(c->hbuf + c->hlen, p, take);
    c->hlen += take;
    k = head_end(c->hbuf, c->hlen, from);
    if (!k) {
        if (c->hlen < MAX_HEAD)
            return 0;
        conn_end(c, END_BAD, now);
        return -1;
    }
    /* Detached first: an ending inside head_done() frees c->hbuf. */
    h = c->hbuf;
    c->hbuf = NULL;
    rc = head_done(c, h, k, h + k, c->hlen - k, now);
    c->hlen = 0;
    if (rc == 0 && take < n)
        rc = body_input(c, p + take, n - take, now);
    free(h);
    return rc;
}
