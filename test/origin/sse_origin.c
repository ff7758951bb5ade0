/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/*
 * sse-origin: a Server-Sent Events origin for integration tests, the demo
 * and benchmarks.
 *
 * Every aspect of a stream (rate, size, ids, delays, abrupt closes, huge
 * events...) is chosen by the request's query string so that a test can
 * describe the upstream behaviour it needs in the URL it hands to the
 * proxy.  Global failure modes (status, silent, refuse, down) are switched
 * through /control.
 *
 * It must never be the bottleneck of a benchmark: one thread, a
 * level-triggered epoll loop over non-blocking sockets, a min-heap of
 * per-stream deadlines (no scans per tick) and one send() per connection
 * per wake-up whatever the number of events that became due.
 *
 * README.md next to this file documents the command line and endpoints.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "sse_netutil.h"

#define MAX_HEAD      16384      /* request line + headers */
#define MAX_BODY      4096       /* input buffered beyond the head, outside bodies */
#define MAX_IN        (MAX_HEAD + MAX_BODY)
#define MAX_CLEN      ((uint64_t)64 << 20)  /* request body bound */
#define BODY_KEEP     65536      /* body prefix kept for inspection */
#define BODY_READ     (MAX_HEAD + 65536)    /* input buffer while in a body */
#define MAX_CHUNK_LINE 1024      /* chunk-size line, extensions included */
#define MAX_TRAILER   4096
#define MAX_TOKENS    1000000
#define MAX_SESSIONS  1000
#define SESS_RING     100
#define MAX_RPC_ID    64
#define INLINE_PAD    65536      /* larger pads are generated as the socket drains */
#define PASS_EVENTS   1024       /* events per stream per wake-up, for fairness */
#define MAX_NAME      64
#define MAX_LEI_KEEP  512
#define MAX_TYPE      256
#define MAX_HVAL      1024       /* location=, set_cookie= after decoding */
#define MAX_RATE      1e7
#define MAX_MS        (1000ULL * 86400 * 365)
#define NS_PER_MS     ((int64_t)1000000)
#define LINGER_NS     (2000 * NS_PER_MS)
#define RETRY_NS      (100 * NS_PER_MS)
#define SLIP_NS       (1000 * NS_PER_MS)
#define EPOLL_BATCH   1024

enum mode { MODE_NORMAL, MODE_STATUS, MODE_SILENT, MODE_REFUSE, MODE_DOWN };

static const char *const mode_names[] = {
    "normal", "status", "silent", "refuse", "down"
};

/* Output buffer: bytes [off, len) are still to be sent. */
struct buf {
    char *p;
    size_t off;
    size_t len;
    size_t cap;
    int failed;     /* an allocation failed; the connection must go */
};

enum cstate { CS_READ, CS_RESP, CS_STREAM, CS_LINGER };

/* What to do once the output buffer has drained. */
enum after { AFTER_NONE, AFTER_KEEPALIVE, AFTER_GRACEFUL, AFTER_ABRUPT };

struct stream {
    uint64_t start;         /* id of ordinal 1, as given by start= */
    uint64_t next_id;
    uint64_t end_id;        /* first id not to send, when has_end */
    uint64_t interval_ns;   /* 0: as fast as the socket accepts */
    uint64_t pad;
    uint64_t huge, huge_id;
    uint64_t gap_id, gap_ns;
    uint64_t close_after;
    uint64_t retry;
    uint64_t sent;          /* events completed on this response */
    int64_t next_due;
    int has_end, has_huge, has_gap, has_retry;
    int close_mid, noid, crlf, chunked, comment;
    int aligned;            /* align=1 with a rate */
    int preamble_done;
    int parked;             /* stopped by silent mode */
    /* head_delay_ms: the response head is held back until head_due, to
     * play a backend that is slow to answer. */
    int64_t head_due;
    size_t head_len;
    char head[512];
    /* The event being written, when it does not fit in one go. */
    int in_event;
    int cutting;            /* close_mid: this event is sent only in half */
    uint64_t cur_id;
    uint64_t pad_total, pad_left, cut_left;
    /* The AI-traffic streams (LLM tokens, MCP) share the scheduling. */
    int kind;               /* SK_SSE, SK_LLM, SK_MCP_CALL, SK_MCP_GET */
    int phase;
    uint64_t tok_total, tok_sent;
    int sess_slot;
    char sess_id[33];
    char rpc_id[MAX_RPC_ID + 1];
};

enum { SK_SSE = 0, SK_LLM, SK_MCP_CALL, SK_MCP_GET };

struct conn {
    int fd;
    uint64_t id;
    enum cstate state;
    enum after after;
    const char *close_reason;
    uint32_t ev_mask;
    struct sse_timer timer;
    int64_t opened_ns;
    uint64_t events_total;
    int is_stream;          /* counted in open_streams */
    int keep;               /* the current stream may leave the connection open */
    int in_process;         /* guards process_input() against re-entry */
    int dead;
    size_t scan_pos;        /* where the search for the end of head resumes */
    /* Request body being read: the head stays at the front of in, body
     * bytes are folded into the hash and dropped as they arrive. */
    int in_body;
    int body_chunked;
    int chunk_state;
    size_t body_head;       /* length of the head in front of in */
    uint64_t body_left;     /* Content-Length or current chunk bytes left */
    uint64_t body_bytes;
    uint64_t body_fnv;
    size_t trailer_bytes;
    char *body_keep;
    size_t keep_len;
    int has_body;           /* the request being handled had a body */
    int llm;                /* an LLM stream ran on this connection */
    uint64_t llm_tokens;    /* tokens generated by the last one */
    struct buf in, out;
    struct stream s;
    struct conn *prev, *next;
};

static struct {
    int epfd;
    int listen_fd;
    int listen_paused;
    int sig_fd;
    int log_fd;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    const char *host;
    unsigned port;
    char name[MAX_NAME + 1];
    size_t max_buffer;
    size_t low_water;
    enum mode mode;
    int status_code;
    uint64_t head_delay_ms;   /* for streams that set none themselves */
    int64_t revert_at;
    int64_t listen_retry_at;
    struct conn *conns;
    struct conn *dead;
    struct sse_timers timers;
    uint64_t next_conn_id;
    uint64_t open_conns, open_streams, total_streams, total_requests;
    uint64_t events_sent, client_closed, origin_closed;
    char last_lei[MAX_LEI_KEEP + 1];
    int have_lei;
    int quit;
} g;

/* Addresses that tell the listener and signalfd apart from connections in
 * epoll's data.ptr. */
static char listen_tag, sig_tag;

/* ------------------------------------------------------------------ */
/* Small string helpers                                                 */
/* ------------------------------------------------------------------ */

struct slice {
    const char *p;      /* NULL: absent */
    size_t n;
};

static int slice_eq(struct slice s, const char *lit)
{
    size_t n = strlen(lit);

    return s.p && s.n == n && memcmp(s.p, lit, n) == 0;
}

static int slice_ieq(struct slice s, const char *lit)
{
    return s.p && sse_span_ieq(s.p, s.n, lit);
}

static int is_ows(char ch)
{
    return ch == ' ' || ch == '\t';
}

static struct slice slice_trim(struct slice s)
{
    sse_span_trim(&s.p, &s.n);
    return s;
}

/* Whether the comma-separated header value lists tok (case-insensitive). */
static int has_token(struct slice v, const char *tok)
{
    size_t i = 0;

    if (!v.p)
        return 0;
    while (i < v.n) {
        struct slice t;
        size_t j = i;

        while (j < v.n && v.p[j] != ',')
            j++;
        t.p = v.p + i;
        t.n = j - i;
        if (slice_ieq(slice_trim(t), tok))
            return 1;
        i = j + 1;
    }
    return 0;
}

static size_t put_u64(char *d, uint64_t v)
{
    char t[20];
    size_t n = 0, i;

    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (i = 0; i < n; i++)
        d[i] = t[n - 1 - i];
    return n;
}

static size_t put_hex(char *d, uint64_t v)
{
    static const char hex[] = "0123456789abcdef";
    char t[16];
    size_t n = 0, i;

    do {
        t[n++] = hex[v & 15];
        v >>= 4;
    } while (v);
    for (i = 0; i < n; i++)
        d[i] = t[n - 1 - i];
    return n;
}

static size_t put_str(char *d, const char *s, size_t n)
{
    memcpy(d, s, n);
    return n;
}

/* Form decoding of a query value into dst (at least n + 1 bytes). */
static size_t pct_decode(char *dst, const char *p, size_t n)
{
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        if (p[i] == '+') {
            dst[o++] = ' ';
        } else if (p[i] == '%' && i + 2 < n && sse_hexval(p[i + 1]) >= 0
                   && sse_hexval(p[i + 2]) >= 0) {
            dst[o++] = (char)(sse_hexval(p[i + 1]) * 16 + sse_hexval(p[i + 2]));
            i += 2;
        } else {
            dst[o++] = p[i];
        }
    }
    dst[o] = '\0';
    return o;
}

/* JSON string body (no quotes) that stays valid whatever bytes it gets. */
static size_t json_escape(char *dst, size_t cap, const char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, o = 0;

    for (i = 0; i < n && o + 7 < cap; i++) {
        unsigned char ch = (unsigned char)p[i];

        if (ch == '"' || ch == '\\') {
            dst[o++] = '\\';
            dst[o++] = (char)ch;
        } else if (ch < 0x20 || ch >= 0x7f) {
            dst[o++] = '\\';
            dst[o++] = 'u';
            dst[o++] = '0';
            dst[o++] = '0';
            dst[o++] = hex[ch >> 4];
            dst[o++] = hex[ch & 15];
        } else {
            dst[o++] = (char)ch;
        }
    }
    dst[o] = '\0';
    return o;
}

/* ------------------------------------------------------------------ */
/* Log                                                                  */
/* ------------------------------------------------------------------ */

/* Large enough for a maximal request head with every byte encoded. */
static char logbuf[MAX_IN * 3 + 1024];
static size_t loglen;

__attribute__((format(printf, 1, 2)))
static void log_addf(const char *fmt, ...)
{
    va_list ap;
    int n;

    if (g.log_fd < 0 || loglen >= sizeof(logbuf))
        return;
    va_start(ap, fmt);
    n = vsnprintf(logbuf + loglen, sizeof(logbuf) - loglen, fmt, ap);
    va_end(ap);
    if (n > 0)
        loglen += (size_t)n;
    if (loglen >= sizeof(logbuf))
        loglen = sizeof(logbuf) - 1;
}

static void log_begin(const char *word)
{
    loglen = 0;
    log_addf("%" PRId64 " %s", sse_mono_ns() / NS_PER_MS, word);
}

/* key=value with the value percent-encoded wherever it could be mistaken
 * for a separator; "-" stands for an absent value. */
static void log_val(const char *key, struct slice v)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i;

    if (g.log_fd < 0)
        return;
    log_addf(" %s=", key);
    if (!v.p) {
        log_addf("-");
        return;
    }
    if (v.n == 1 && v.p[0] == '-') {
        log_addf("%%2D");
        return;
    }
    for (i = 0; i < v.n && loglen + 4 < sizeof(logbuf); i++) {
        unsigned char ch = (unsigned char)v.p[i];

        if (ch <= 0x20 || ch >= 0x7f || ch == '%' || ch == '"') {
            logbuf[loglen++] = '%';
            logbuf[loglen++] = hex[ch >> 4];
            logbuf[loglen++] = hex[ch & 15];
        } else {
            logbuf[loglen++] = (char)ch;
        }
    }
}

static void log_end(void)
{
    size_t off = 0;

    if (g.log_fd < 0)
        return;
    if (loglen >= sizeof(logbuf))
        loglen = sizeof(logbuf) - 1;
    logbuf[loglen++] = '\n';
    /* One write per line so that concurrent readers never see half lines. */
    while (off < loglen) {
        ssize_t n = write(g.log_fd, logbuf + off, loglen - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    loglen = 0;
}

/* ------------------------------------------------------------------ */
/* Buffers                                                              */
/* ------------------------------------------------------------------ */

static size_t buf_pending(const struct buf *b)
{
    return b->len - b->off;
}

static int buf_reserve(struct buf *b, size_t n)
{
    size_t want;
    char *np;

    if (b->cap - b->len >= n)
        return 0;
    if (b->off > 0) {
        memmove(b->p, b->p + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->cap - b->len >= n)
            return 0;
    }
    want = b->cap ? b->cap : 1024;
    while (want - b->len < n) {
        if (want > SIZE_MAX / 2) {
            b->failed = 1;
            return -1;
        }
        want *= 2;
    }
    np = realloc(b->p, want);
    if (!np) {
        b->failed = 1;
        return -1;
    }
    b->p = np;
    b->cap = want;
    return 0;
}

static void buf_append(struct buf *b, const void *src, size_t n)
{
    if (n == 0 || buf_reserve(b, n) < 0)
        return;
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

__attribute__((format(printf, 2, 3)))
static void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n + 1) < 0) {
        b->failed = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void buf_free(struct buf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* Timers: one per connection at most                                  */
/* ------------------------------------------------------------------ */

static struct conn *timer_conn(struct sse_timer *t)
{
    return (struct conn *)(void *)((char *)t - offsetof(struct conn, timer));
}

static void timer_clear(struct conn *c)
{
    sse_timer_clear(&g.timers, &c->timer);
}

static int timer_set(struct conn *c, int64_t when)
{
    return sse_timer_set(&g.timers, &c->timer, when);
}

/* ------------------------------------------------------------------ */
/* Connections                                                          */
/* ------------------------------------------------------------------ */

static void set_interest(struct conn *c, int want_out)
{
    uint32_t m = EPOLLIN | EPOLLRDHUP | (want_out ? (uint32_t)EPOLLOUT : 0);
    epoll_data_t data = { .ptr = c };

    if (m == c->ev_mask || c->dead)
        return;
    if (sse_epoll_watch(g.epfd, EPOLL_CTL_MOD, c->fd, m, data) == 0)
        c->ev_mask = m;
}

/* Reading what the peer already sent before close() avoids turning our FIN
 * into an RST that could destroy the last bytes still in flight. */
static void drain_input(int fd)
{
    char tmp[4096];
    int i;

    for (i = 0; i < 64; i++)
        if (recv(fd, tmp, sizeof(tmp), MSG_DONTWAIT) <= 0)
            break;
}

static void conn_close(struct conn *c, int by_peer, const char *reason)
{
    if (c->dead)
        return;
    c->dead = 1;
    if (c->is_stream) {
        g.open_streams--;
        c->is_stream = 0;
    }
    timer_clear(c);
    if (by_peer)
        g.client_closed++;
    else
        g.origin_closed++;
    log_begin("CLOSE");
    log_addf(" conn=%" PRIu64 " by=%s sent_events=%" PRIu64
             " open_ms=%" PRId64 " reason=%s",
             c->id, by_peer ? "peer" : "origin", c->events_total,
             (sse_mono_ns() - c->opened_ns) / NS_PER_MS, reason);
    if (c->llm)
        log_addf(" tokens_sent=%" PRIu64, c->llm_tokens);
    log_end();
    if (!by_peer)
        drain_input(c->fd);
    close(c->fd);
    c->fd = -1;
    if (c->prev)
        c->prev->next = c->next;
    else
        g.conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    /* Freed at the end of the loop turn: later epoll events of this batch
     * may still point at it. */
    c->prev = NULL;
    c->next = g.dead;
    g.dead = c;
    g.open_conns--;
}

static void free_dead(void)
{
    while (g.dead) {
        struct conn *c = g.dead;

        g.dead = c->next;
        buf_free(&c->in);
        buf_free(&c->out);
        free(c->body_keep);
        free(c);
    }
}

static void process_input(struct conn *c);

/* Returns -1 if the connection was closed. */
static int conn_flush(struct conn *c)
{
    struct buf *b = &c->out;

    if (b->failed) {
        conn_close(c, 0, "oom");
        return -1;
    }
    if (sse_send_pending(c->fd, b->p, b->len, &b->off) < 0) {
        conn_close(c, 1, "reset");
        return -1;
    }
    if (b->off == b->len) {
        b->off = b->len = 0;
        /* A drained huge burst should not pin its memory forever. */
        if (b->cap > 4 * INLINE_PAD)
            buf_free(b);
    }
    return 0;
}

static void stream_reset(struct conn *c)
{
    memset(&c->s, 0, sizeof(c->s));
}

/* The buffered output has been fully sent: carry out what was decided. */
static void conn_after(struct conn *c)
{
    enum after a = c->after;

    c->after = AFTER_NONE;
    switch (a) {
    case AFTER_NONE:
        return;
    case AFTER_KEEPALIVE:
        c->state = CS_READ;
        timer_clear(c);
        stream_reset(c);
        set_interest(c, 0);
        if (!c->in_process && c->in.len > 0)
            process_input(c);
        return;
    case AFTER_GRACEFUL:
        shutdown(c->fd, SHUT_WR);
        c->state = CS_LINGER;
        set_interest(c, 0);
        timer_set(c, sse_mono_ns() + LINGER_NS);
        return;
    case AFTER_ABRUPT:
        conn_close(c, 0, c->close_reason ? c->close_reason : "abort");
        return;
    }
}

/* ------------------------------------------------------------------ */
/* Stream generation                                                    */
/* ------------------------------------------------------------------ */

static const char *ev_tail(const struct stream *s, size_t *len)
{
    static const char *const tails[4] = {
        "\"}\n\n", "\"}\n\n\r\n", "\"}\r\n\r\n", "\"}\r\n\r\n\r\n"
    };
    int k = (s->crlf ? 2 : 0) + (s->chunked ? 1 : 0);

    *len = strlen(tails[k]);
    return tails[k];
}

static void ev_emit(struct conn *c, const char *src, size_t n)
{
    struct stream *s = &c->s;

    if (s->cutting) {
        if (n > s->cut_left)
            n = (size_t)s->cut_left;
        s->cut_left -= n;
    }
    buf_append(&c->out, src, n);
}

static void ev_pad(struct conn *c, size_t n)
{
    struct stream *s = &c->s;

    if (s->cutting && n > s->cut_left)
        n = (size_t)s->cut_left;
    if (buf_reserve(&c->out, n) < 0)
        return;
    memset(c->out.p + c->out.len, 'x', n);
    c->out.len += n;
    if (s->cutting)
        s->cut_left -= n;
    s->pad_left -= n;
}

static void emit_chunk(struct conn *c, const char *payload, size_t n)
{
    char hdr[24];
    size_t h;

    if (!c->s.chunked) {
        buf_append(&c->out, payload, n);
        return;
    }
    h = put_hex(hdr, n);
    hdr[h++] = '\r';
    hdr[h++] = '\n';
    buf_append(&c->out, hdr, h);
    buf_append(&c->out, payload, n);
    buf_append(&c->out, "\r\n", 2);
}

static void emit_preamble(struct conn *c)
{
    struct stream *s = &c->s;
    const char *eol = s->crlf ? "\r\n" : "\n";
    size_t el = strlen(eol), n = 0;
    char p[64];

    if (!s->comment && !s->has_retry)
        return;
    if (s->comment) {
        n += put_str(p + n, ": hello", 7);
        n += put_str(p + n, eol, el);
    }
    if (s->has_retry) {
        n += put_str(p + n, "retry: ", 7);
        n += put_u64(p + n, s->retry);
        n += put_str(p + n, eol, el);
    }
    /* The blank line dispatches nothing but lets line-framing proxies
     * forward the preamble without waiting for the first event. */
    n += put_str(p + n, eol, el);
    emit_chunk(c, p, n);
}

/* Writes the event's chunk header and everything up to the pad. */
static void ev_start(struct conn *c)
{
    struct stream *s = &c->s;
    const char *eol = s->crlf ? "\r\n" : "\n";
    size_t el = strlen(eol), tail_len, hl = 0;
    char head[48 + 4 * 24 + MAX_NAME + 64];
    char *p = head + 24;    /* room in front for the chunk-size line */
    char *begin = p;
    uint64_t payload;

    s->cur_id = s->next_id;
    s->pad_total = (s->has_huge && s->cur_id == s->huge_id) ? s->huge : s->pad;
    s->pad_left = s->pad_total;
    if (!s->noid) {
        hl += put_str(p + hl, "id: ", 4);
        hl += put_u64(p + hl, s->cur_id);
        hl += put_str(p + hl, eol, el);
    }
    hl += put_str(p + hl, "data: {\"id\":", 12);
    hl += put_u64(p + hl, s->cur_id);
    hl += put_str(p + hl, ",\"t\":", 5);
    /* an aligned event is stamped with its instant: the time the origin
     * takes to write it to all its streams counts, as a proxy's time to
     * hand one event to all its clients does */
    hl += put_u64(p + hl, s->aligned ? (uint64_t)s->next_due
                                     : (uint64_t)sse_mono_ns());
    hl += put_str(p + hl, ",\"origin\":\"", 11);
    hl += put_str(p + hl, g.name, strlen(g.name));
    hl += put_str(p + hl, "\",\"pad\":\"", 9);
    ev_tail(s, &tail_len);
    if (s->chunked) {
        char hx[24];
        size_t xn;

        payload = hl + s->pad_total + tail_len - 2;
        xn = put_hex(hx, payload);
        hx[xn++] = '\r';
        hx[xn++] = '\n';
        begin = p - xn;
        memcpy(begin, hx, xn);
        hl += xn;
    }
    if (s->cutting)
        s->cut_left = (hl + s->pad_total + tail_len) / 2;
    s->in_event = 1;
    ev_emit(c, begin, hl);
}

/* 1: event complete; 0: paused until the socket drains; -1: cut short. */
static int ev_continue(struct conn *c)
{
    struct stream *s = &c->s;
    int progressive = s->pad_total > INLINE_PAD;
    const char *tail;
    size_t tail_len;

    while (s->pad_left > 0) {
        uint64_t n = s->pad_left;

        if (c->out.failed)
            return 0;
        if (s->cutting && s->cut_left == 0)
            return -1;
        if (progressive) {
            size_t pend = buf_pending(&c->out);

            if (pend >= g.low_water)
                return 0;
            if (n > g.low_water - pend)
                n = g.low_water - pend;
        }
        ev_pad(c, (size_t)n);
    }
    if (s->cutting && s->cut_left == 0)
        return -1;
    tail = ev_tail(s, &tail_len);
    ev_emit(c, tail, tail_len);
    s->in_event = 0;
    return s->cutting ? -1 : 1;
}

static void ev_done(struct conn *c, int64_t now)
{
    struct stream *s = &c->s;
    uint64_t id = s->cur_id;

    s->sent++;
    c->events_total++;
    g.events_sent++;
    s->next_id = id + 1;
    if (s->close_after && s->sent == s->close_after) {
        if (!s->close_mid) {
            c->after = AFTER_ABRUPT;
            c->close_reason = "close_after";
            return;
        }
        s->cutting = 1;
    }
    if (s->has_gap && id == s->gap_id) {
        s->next_due = now + (int64_t)s->gap_ns;
    } else if (s->interval_ns) {
        s->next_due += (int64_t)s->interval_ns;
        /* Having fallen far behind means we were stalled, not that the
         * client wants a burst. */
        if (now - s->next_due > SLIP_NS)
            s->next_due = now;
    }
}

static void stream_end(struct conn *c)
{
    struct stream *s = &c->s;

    if (s->cutting) {
        c->after = AFTER_ABRUPT;
        c->close_reason = "close_mid";
        return;
    }
    if (s->chunked)
        buf_append(&c->out, "0\r\n\r\n", 5);
    if (c->is_stream) {
        g.open_streams--;
        c->is_stream = 0;
    }
    log_begin("END");
    log_addf(" conn=%" PRIu64 " sent_events=%" PRIu64 " last_id=%" PRIu64,
             c->id, s->sent, s->next_id - 1);
    log_end();
    c->close_reason = "done";
    c->after = c->keep ? AFTER_KEEPALIVE : AFTER_GRACEFUL;
}

/* Decides which wake-up (timer or writability) the stream waits for. */
static void stream_arm(struct conn *c, int64_t now)
{
    struct stream *s = &c->s;
    int want_out = buf_pending(&c->out) > 0;

    if (s->head_len && !s->preamble_done) {
        timer_set(c, s->head_due);
        set_interest(c, want_out);
        return;
    }
    if (s->parked) {
        timer_clear(c);
    } else if (s->in_event) {
        timer_clear(c);
        want_out = 1;
    } else if (now < s->next_due || s->interval_ns) {
        timer_set(c, s->next_due);
    } else {
        timer_clear(c);
        want_out = 1;
    }
    set_interest(c, want_out);
}

static void ai_pump(struct conn *c);

static void stream_pump(struct conn *c)
{
    struct stream *s = &c->s;
    int64_t now = sse_mono_ns();
    unsigned budget = PASS_EVENTS;

    if (s->kind != SK_SSE) {
        ai_pump(c);
        return;
    }

    if (c->after == AFTER_NONE && g.mode == MODE_SILENT) {
        s->parked = 1;
    } else if (c->after == AFTER_NONE) {
        s->parked = 0;
        if (!s->preamble_done && s->head_len) {
            if (now < s->head_due) {
                stream_arm(c, now);
                return;
            }
            buf_append(&c->out, s->head, s->head_len);
            s->head_len = 0;
        }
        if (!s->preamble_done) {
            emit_preamble(c);
            s->preamble_done = 1;
        }
        for (;;) {
            if (s->in_event) {
                int r = ev_continue(c);

                if (r == 0)
                    break;
                if (r < 0) {
                    c->after = AFTER_ABRUPT;
                    c->close_reason = "close_mid";
                    break;
                }
                ev_done(c, now);
                if (c->after != AFTER_NONE)
                    break;
                continue;
            }
            if (s->has_end && s->next_id >= s->end_id) {
                stream_end(c);
                break;
            }
            if (now < s->next_due || budget == 0)
                break;
            if (s->interval_ns == 0 && buf_pending(&c->out) >= g.low_water)
                break;
            budget--;
            ev_start(c);
        }
    }
    if (conn_flush(c) < 0)
        return;
    if (buf_pending(&c->out) > g.max_buffer) {
        conn_close(c, 0, "slow");
        return;
    }
    if (c->after != AFTER_NONE) {
        if (buf_pending(&c->out) == 0)
            conn_after(c);
        else
            set_interest(c, 1);
        return;
    }
    stream_arm(c, now);
}

/* ------------------------------------------------------------------ */
/* HTTP requests                                                        */
/* ------------------------------------------------------------------ */

struct req {
    struct slice method, target, path, query, body;
    int minor;
    int keepalive;
    struct slice host, accept, accept_enc, xff, ua, lei, connection;
    struct slice origin, cookie;   /* logged only: what a browser sent */
    struct slice expect, mcp_sid;
    size_t total;           /* bytes of the head (the body is read apart) */
    int has_body, chunked;
    uint64_t clen;
};

enum { PARSE_OK = 0, PARSE_MORE = 1 };

static int is_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
        || (ch >= '0' && ch <= '9'))
        return 1;
    return ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static int is_vchar_or_ws(unsigned char ch)
{
    return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

/* Next line of [*cur, end), without its LF or CRLF. */
static int next_line(const char **cur, const char *end, struct slice *line)
{
    const char *p = *cur, *nl;

    if (p >= end)
        return -1;
    nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl)
        return -1;
    line->p = p;
    line->n = (size_t)(nl - p);
    if (line->n && p[line->n - 1] == '\r')
        line->n--;
    *cur = nl + 1;
    return 0;
}

static int parse_request_line(struct slice l, struct req *r)
{
    size_t i = 0, t0;

    while (i < l.n && is_tchar((unsigned char)l.p[i]))
        i++;
    if (i == 0 || i > 32 || i >= l.n || l.p[i] != ' ')
        return 400;
    r->method.p = l.p;
    r->method.n = i;
    t0 = ++i;
    while (i < l.n && (unsigned char)l.p[i] > 0x20 && (unsigned char)l.p[i] < 0x7f)
        i++;
    if (i == t0 || i >= l.n || l.p[i] != ' ')
        return 400;
    r->target.p = l.p + t0;
    r->target.n = i - t0;
    i++;
    if (l.n - i != 8 || memcmp(l.p + i, "HTTP/", 5) != 0
        || l.p[i + 5] < '0' || l.p[i + 5] > '9' || l.p[i + 6] != '.'
        || l.p[i + 7] < '0' || l.p[i + 7] > '9')
        return 400;
    if (l.p[i + 5] != '1')
        return 505;
    r->minor = l.p[i + 7] == '0' ? 0 : 1;
    return 0;
}

/* Splits the target into path and query; absolute-form is accepted. */
static int split_target(struct req *r)
{
    const char *p = r->target.p, *end = p + r->target.n, *q;

    if (r->target.n >= 7 && memcmp(p, "http://", 7) == 0)
        p += 7;
    else if (r->target.n >= 8 && memcmp(p, "https://", 8) == 0)
        p += 8;
    if (p != r->target.p) {
        p = memchr(p, '/', (size_t)(end - p));
        if (!p) {
            r->path.p = "/";
            r->path.n = 1;
            r->query.p = NULL;
            return 0;
        }
    }
    if (*p != '/')
        return 400;
    q = memchr(p, '?', (size_t)(end - p));
    r->path.p = p;
    r->path.n = (size_t)((q ? q : end) - p);
    if (q) {
        r->query.p = q + 1;
        r->query.n = (size_t)(end - q - 1);
    }
    return 0;
}

/* A repeated header keeps its first value. */
static void keep_first(struct slice *dst, struct slice val)
{
    if (!dst->p)
        *dst = val;
}

static int parse_header(struct slice l, struct req *r, uint64_t *clen,
                        int *have_clen, int *have_te)
{
    struct slice name, val;
    size_t i = 0, k;

    if (l.n == 0 || is_ows(l.p[0]))
        return 400;             /* obsolete line folding is refused */
    while (i < l.n && is_tchar((unsigned char)l.p[i]))
        i++;
    if (i == 0 || i >= l.n || l.p[i] != ':')
        return 400;
    name.p = l.p;
    name.n = i;
    val.p = l.p + i + 1;
    val.n = l.n - i - 1;
    for (k = 0; k < val.n; k++)
        if (!is_vchar_or_ws((unsigned char)val.p[k]))
            return 400;
    val = slice_trim(val);
    if (slice_ieq(name, "host")) {
        keep_first(&r->host, val);
    } else if (slice_ieq(name, "accept")) {
        keep_first(&r->accept, val);
    } else if (slice_ieq(name, "accept-encoding")) {
        keep_first(&r->accept_enc, val);
    } else if (slice_ieq(name, "x-forwarded-for")) {
        keep_first(&r->xff, val);
    } else if (slice_ieq(name, "user-agent")) {
        keep_first(&r->ua, val);
    } else if (slice_ieq(name, "last-event-id")) {
        keep_first(&r->lei, val);
    } else if (slice_ieq(name, "origin")) {
        keep_first(&r->origin, val);
    } else if (slice_ieq(name, "cookie")) {
        keep_first(&r->cookie, val);
    } else if (slice_ieq(name, "connection")) {
        keep_first(&r->connection, val);
    } else if (slice_ieq(name, "expect")) {
        keep_first(&r->expect, val);
    } else if (slice_ieq(name, "mcp-session-id")) {
        keep_first(&r->mcp_sid, val);
    } else if (slice_ieq(name, "transfer-encoding")) {
        /* Only a lone "chunked" is understood. */
        if (*have_te || !slice_ieq(val, "chunked"))
            *have_te = 2;
        else
            *have_te = 1;
    } else if (slice_ieq(name, "content-length")) {
        uint64_t v;

        if (sse_parse_u64(val.p, val.n, &v) < 0 || (*have_clen && v != *clen))
            return 400;
        *clen = v;
        *have_clen = 1;
    }
    return 0;
}

/*
 * PARSE_OK, PARSE_MORE or the HTTP status to refuse the request with.
 * Only the head is parsed here: a body (Content-Length up to MAX_CLEN, or
 * chunked) is announced in has_body and read apart by body_feed().
 */
static int parse_request(struct conn *c, struct req *r)
{
    const char *p = c->in.p, *cur, *hend;
    size_t n = c->in.len, i, end = 0;
    uint64_t clen = 0;
    int have_clen = 0, have_te = 0, rc;
    struct slice l;

    memset(r, 0, sizeof(*r));
    for (i = c->scan_pos; i < n; i++) {
        if (p[i] != '\n')
            continue;
        if (i + 1 < n && p[i + 1] == '\n') {
            end = i + 2;
            break;
        }
        if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n') {
            end = i + 3;
            break;
        }
    }
    if (!end) {
        c->scan_pos = n >= 2 ? n - 2 : 0;
        return n >= MAX_HEAD ? 431 : PARSE_MORE;
    }
    c->scan_pos = end >= 3 ? end - 3 : 0;
    if (end > MAX_HEAD)
        return 431;
    cur = p;
    hend = p + end;
    if (next_line(&cur, hend, &l) < 0)
        return 400;
    if ((rc = parse_request_line(l, r)) != 0)
        return rc;
    if ((rc = split_target(r)) != 0)
        return rc;
    while (next_line(&cur, hend, &l) == 0 && l.n > 0)
        if ((rc = parse_header(l, r, &clen, &have_clen, &have_te)) != 0)
            return rc;
    if (have_te > 1)
        return 501;
    if (have_te && have_clen)
        return 400;
    if (clen > MAX_CLEN)
        return 413;
    r->chunked = have_te;
    r->clen = clen;
    r->has_body = have_te || clen > 0;
    r->body.p = "";
    r->body.n = 0;
    r->total = end;
    if (r->minor >= 1)
        r->keepalive = !has_token(r->connection, "close");
    else
        r->keepalive = has_token(r->connection, "keep-alive");
    return PARSE_OK;
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Content Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Status";
    }
}

static int no_body_status(int status)
{
    return status == 204 || status == 304;
}

/* Queues a complete response; the caller flushes.  r may be NULL when the
 * request could not be parsed, which always closes the connection. */
static void respond(struct conn *c, const struct req *r, int status,
                    const char *ctype, const char *extra,
                    const char *body, size_t body_len, int force_close)
{
    int keep = r && r->keepalive && !force_close;
    int head = r && slice_eq(r->method, "HEAD");

    buf_printf(&c->out, "HTTP/1.1 %d %s\r\nX-Origin-Name: %s\r\n"
               "Server: sse-origin\r\n%s",
               status, reason_phrase(status), g.name, extra ? extra : "");
    if (!no_body_status(status))
        buf_printf(&c->out, "Content-Type: %s\r\nContent-Length: %zu\r\n",
                   ctype, body_len);
    if (!keep)
        buf_printf(&c->out, "Connection: close\r\n");
    else if (r->minor == 0)
        buf_printf(&c->out, "Connection: keep-alive\r\n");
    buf_append(&c->out, "\r\n", 2);
    if (!head && !no_body_status(status))
        buf_append(&c->out, body, body_len);
    c->state = CS_RESP;
    c->after = keep ? AFTER_KEEPALIVE : AFTER_GRACEFUL;
    c->close_reason = keep ? NULL : "response";
    log_begin("RESP");
    log_addf(" conn=%" PRIu64 " status=%d", c->id, status);
    log_end();
}

static void respond_text(struct conn *c, const struct req *r, int status,
                         const char *text, int force_close)
{
    respond(c, r, status, "text/plain", NULL, text, strlen(text), force_close);
}

/* extra: further header lines (each ending in CRLF), or NULL. */
static void respond_status(struct conn *c, const struct req *r, int status,
                           const char *extra)
{
    char body[64];

    snprintf(body, sizeof(body), "status %d\n", status);
    respond(c, r, status, "text/plain", extra, body, strlen(body), 0);
}

/* ------------------------------------------------------------------ */
/* Query strings                                                        */
/* ------------------------------------------------------------------ */

struct qparam {
    struct slice key, val;
};

static int query_next(struct slice *q, struct qparam *out)
{
    const char *amp, *eq;
    struct slice item;

    while (q->p && q->n > 0) {
        amp = memchr(q->p, '&', q->n);
        item.p = q->p;
        item.n = amp ? (size_t)(amp - q->p) : q->n;
        q->p += item.n + (amp ? 1 : 0);
        q->n -= item.n + (amp ? 1 : 0);
        if (item.n == 0)
            continue;
        eq = memchr(item.p, '=', item.n);
        out->key.p = item.p;
        out->key.n = eq ? (size_t)(eq - item.p) : item.n;
        out->val.p = eq ? eq + 1 : item.p + item.n;
        out->val.n = eq ? item.n - out->key.n - 1 : 0;
        return 1;
    }
    return 0;
}

static int param_u64(struct qparam *qp, uint64_t max, uint64_t *out)
{
    char tmp[64];
    size_t n;

    if (qp->val.n >= sizeof(tmp))
        return -1;
    n = pct_decode(tmp, qp->val.p, qp->val.n);
    if (sse_parse_u64(tmp, n, out) < 0 || *out > max)
        return -1;
    return 0;
}

static int param_bool(struct qparam *qp, int *out)
{
    struct slice v = qp->val;

    if (v.n == 0 || slice_eq(v, "1") || slice_ieq(v, "true") || slice_ieq(v, "yes")) {
        *out = 1;
        return 0;
    }
    if (slice_eq(v, "0") || slice_ieq(v, "false") || slice_ieq(v, "no")) {
        *out = 0;
        return 0;
    }
    return -1;
}

static int param_rate(struct qparam *qp, double *out)
{
    char tmp[64], *end;
    size_t n;
    double v;

    if (qp->val.n == 0 || qp->val.n >= sizeof(tmp))
        return -1;
    n = pct_decode(tmp, qp->val.p, qp->val.n);
    v = strtod(tmp, &end);
    if (end != tmp + n || !isfinite(v) || v < 0 || v > MAX_RATE)
        return -1;
    *out = v;
    return 0;
}

/* The value ends up in a header line, so control characters are refused. */
static int param_type(struct qparam *qp, char *dst, size_t cap)
{
    size_t i, n;

    if (qp->val.n == 0 || qp->val.n >= cap)
        return -1;
    n = pct_decode(dst, qp->val.p, qp->val.n);
    for (i = 0; i < n; i++)
        if ((unsigned char)dst[i] < 0x20 || dst[i] == 0x7f)
            return -1;
    return 0;
}

/* A value that becomes a whole response header value: 1 to MAX_HVAL bytes
 * once decoded, without control characters (so no CR or LF). */
static int param_header(struct qparam *qp, char *dst)
{
    char tmp[3 * MAX_HVAL + 1];
    size_t i, n;

    /* every decoded byte takes at most three encoded ones */
    if (qp->val.n == 0 || qp->val.n > 3 * MAX_HVAL)
        return -1;
    n = pct_decode(tmp, qp->val.p, qp->val.n);
    if (n == 0 || n > MAX_HVAL)
        return -1;
    for (i = 0; i < n; i++)
        if ((unsigned char)tmp[i] < 0x20 || tmp[i] == 0x7f)
            return -1;
    memcpy(dst, tmp, n + 1);
    return 0;
}

struct sopts {
    double rate;
    uint64_t count, size, start, first_delay_ms, silent_ms, head_delay_ms;
    uint64_t gap_after, gap_ms, status, close_after, huge, huge_at, retry;
    int has_count, has_gap_after, has_gap_ms, has_status, has_huge, has_retry;
    int noid, close_mid, comment, crlf, te_close, replay, align;
    char type[MAX_TYPE];
    char location[MAX_HVAL + 1], set_cookie[MAX_HVAL + 1];
};

/* Fills o from the query; on a bad value writes a message into err. */
static int parse_stream_opts(struct slice q, struct sopts *o, char *err,
                             size_t errlen)
{
    struct qparam qp;
    int bad = 0;

    memset(o, 0, sizeof(*o));
    o->rate = 1;
    o->start = 1;
    o->huge_at = 1;
    while (!bad && query_next(&q, &qp)) {
        struct slice k = qp.key;

        if (slice_eq(k, "rate")) {
            bad = param_rate(&qp, &o->rate);
        } else if (slice_eq(k, "count")) {
            bad = param_u64(&qp, UINT64_MAX, &o->count);
            o->has_count = 1;
        } else if (slice_eq(k, "size")) {
            bad = param_u64(&qp, (uint64_t)1 << 40, &o->size);
        } else if (slice_eq(k, "start")) {
            bad = param_u64(&qp, UINT64_MAX / 2, &o->start);
        } else if (slice_eq(k, "first_delay_ms")) {
            bad = param_u64(&qp, MAX_MS, &o->first_delay_ms);
        } else if (slice_eq(k, "silent_ms")) {
            bad = param_u64(&qp, MAX_MS, &o->silent_ms);
        } else if (slice_eq(k, "head_delay_ms")) {
            bad = param_u64(&qp, MAX_MS, &o->head_delay_ms);
        } else if (slice_eq(k, "gap_after")) {
            bad = param_u64(&qp, UINT64_MAX / 2, &o->gap_after)
                  || o->gap_after == 0;
            o->has_gap_after = 1;
        } else if (slice_eq(k, "gap_ms")) {
            bad = param_u64(&qp, MAX_MS, &o->gap_ms);
            o->has_gap_ms = 1;
        } else if (slice_eq(k, "status")) {
            bad = param_u64(&qp, 599, &o->status) || o->status < 200;
            o->has_status = 1;
        } else if (slice_eq(k, "close_after")) {
            bad = param_u64(&qp, UINT64_MAX, &o->close_after);
        } else if (slice_eq(k, "huge")) {
            bad = param_u64(&qp, (uint64_t)1 << 40, &o->huge);
            o->has_huge = 1;
        } else if (slice_eq(k, "huge_at")) {
            bad = param_u64(&qp, UINT64_MAX / 2, &o->huge_at) || o->huge_at == 0;
        } else if (slice_eq(k, "retry")) {
            bad = param_u64(&qp, MAX_MS, &o->retry);
            o->has_retry = 1;
        } else if (slice_eq(k, "noid")) {
            bad = param_bool(&qp, &o->noid);
        } else if (slice_eq(k, "replay")) {
            bad = param_bool(&qp, &o->replay);
        } else if (slice_eq(k, "align")) {
            bad = param_bool(&qp, &o->align);
        } else if (slice_eq(k, "close_mid")) {
            bad = param_bool(&qp, &o->close_mid);
        } else if (slice_eq(k, "comment")) {
            bad = param_bool(&qp, &o->comment);
        } else if (slice_eq(k, "crlf")) {
            bad = param_bool(&qp, &o->crlf);
        } else if (slice_eq(k, "te")) {
            o->te_close = slice_eq(qp.val, "close");
        } else if (slice_eq(k, "type")) {
            bad = param_type(&qp, o->type, sizeof(o->type));
        } else if (slice_eq(k, "location")) {
            bad = param_header(&qp, o->location);
        } else if (slice_eq(k, "set_cookie")) {
            /* one cookie: a second one would silently replace the first */
            bad = o->set_cookie[0] || param_header(&qp, o->set_cookie);
        }
        /* Unknown parameters are ignored so that cache-busters pass. */
        if (bad)
            snprintf(err, errlen, "bad value for %.*s\n", (int)k.n, k.p);
    }
    return bad ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* Endpoints                                                            */
/* ------------------------------------------------------------------ */

static uint64_t interval_of(double rate)
{
    double iv, max_iv = (double)MAX_MS * (double)NS_PER_MS;

    if (rate <= 0)
        return 0;
    iv = 1e9 / rate;
    if (iv > max_iv)
        iv = max_iv;
    return iv < 1 ? 1 : (uint64_t)llround(iv);
}

/* Ordinal-based options (count, huge_at, gap_after) are anchored on start=
 * rather than on the resume point, so that a stream resumed with
 * Last-Event-ID carries exactly the events the first attempt would have. */
static void stream_init(struct stream *s, const struct sopts *o,
                        const struct req *r, int64_t now)
{
    uint64_t lei;

    s->start = o->start;
    s->next_id = o->start;
    if (!o->replay && r->lei.p && sse_parse_u64(r->lei.p, r->lei.n, &lei) == 0
        && lei < UINT64_MAX)
        s->next_id = lei + 1;
    s->has_end = o->has_count;
    s->end_id = o->count > UINT64_MAX - o->start ? UINT64_MAX : o->start + o->count;
    s->interval_ns = interval_of(o->rate);
    s->pad = o->size;
    s->has_huge = o->has_huge;
    s->huge = o->huge;
    s->huge_id = o->start + o->huge_at - 1;
    s->has_gap = o->has_gap_after || o->has_gap_ms;
    s->gap_id = o->start + (o->has_gap_after ? o->gap_after : 1) - 1;
    s->gap_ns = (o->has_gap_ms ? o->gap_ms : 1000) * (uint64_t)NS_PER_MS;
    s->close_after = o->close_after;
    s->close_mid = o->close_mid && o->close_after > 0;
    s->noid = o->noid;
    s->crlf = o->crlf;
    s->comment = o->comment;
    s->has_retry = o->has_retry;
    s->retry = o->retry;
    s->head_due = now + (int64_t)(o->head_delay_ms * NS_PER_MS);
    s->next_due = s->head_due
                  + (int64_t)((o->first_delay_ms + o->silent_ms) * NS_PER_MS);
    /* every aligned stream of a rate sends at the same instants, as a
     * backend broadcasting one event to all its clients does */
    s->aligned = o->align && s->interval_ns;
    if (s->aligned)
        s->next_due += (int64_t)s->interval_ns
                       - s->next_due % (int64_t)s->interval_ns;
}

static void start_stream(struct conn *c, const struct req *r)
{
    struct sopts o;
    struct stream *s = &c->s;
    char err[128], head[sizeof(s->head)];
    int keep, chunked, n;

    if (parse_stream_opts(r->query, &o, err, sizeof(err)) < 0) {
        respond_text(c, r, 400, err, 0);
        return;
    }
    if (!o.head_delay_ms)
        o.head_delay_ms = g.head_delay_ms;
    if (o.has_status) {
        char extra[2 * MAX_HVAL + 32];
        size_t len = 0;

        extra[0] = '\0';
        if (o.location[0])
            len += (size_t)snprintf(extra, sizeof(extra), "Location: %s\r\n",
                                    o.location);
        if (o.set_cookie[0])
            snprintf(extra + len, sizeof(extra) - len, "Set-Cookie: %s\r\n",
                     o.set_cookie);
        respond_status(c, r, (int)o.status, extra);
        return;
    }
    chunked = r->minor >= 1 && !o.te_close;
    keep = chunked && r->keepalive;
    n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n"
                 "Cache-Control: no-cache\r\nX-Origin-Name: %s\r\n"
                 "Server: sse-origin\r\n%s%s\r\n",
                 o.type[0] ? o.type : "text/event-stream", g.name,
                 chunked ? "Transfer-Encoding: chunked\r\n" : "",
                 keep ? "" : "Connection: close\r\n");
    if (n < 0 || (size_t)n >= sizeof(head)) {
        respond_text(c, r, 400, "type too long\n", 0);
        return;
    }
    if (!o.head_delay_ms || slice_eq(r->method, "HEAD"))
        buf_append(&c->out, head, (size_t)n);
    if (slice_eq(r->method, "HEAD")) {
        c->state = CS_RESP;
        c->after = keep ? AFTER_KEEPALIVE : AFTER_GRACEFUL;
        c->close_reason = keep ? NULL : "response";
        log_begin("RESP");
        log_addf(" conn=%" PRIu64 " status=200 head=1", c->id);
        log_end();
        return;
    }
    stream_reset(c);
    stream_init(s, &o, r, sse_mono_ns());
    s->chunked = chunked;
    if (o.head_delay_ms) {
        memcpy(s->head, head, (size_t)n);
        s->head_len = (size_t)n;
    }
    c->state = CS_STREAM;
    c->after = AFTER_NONE;
    c->is_stream = 1;
    c->keep = keep;
    c->close_reason = NULL;
    g.open_streams++;
    g.total_streams++;
    log_begin("STREAM");
    log_addf(" conn=%" PRIu64 " first_id=%" PRIu64 " rate=%g chunked=%d",
             c->id, s->next_id, o.rate, s->chunked);
    if (s->has_end)
        log_addf(" end_id=%" PRIu64, s->end_id);
    log_end();
}

static size_t stats_json(char *dst, size_t cap)
{
    char lei[MAX_LEI_KEEP * 6 + 3];
    char revert[32];
    int n;

    if (g.have_lei) {
        size_t k;

        lei[0] = '"';
        k = json_escape(lei + 1, sizeof(lei) - 2, g.last_lei, strlen(g.last_lei));
        lei[k + 1] = '"';
        lei[k + 2] = '\0';
    } else {
        strcpy(lei, "null");
    }
    if (g.revert_at) {
        int64_t left = (g.revert_at - sse_mono_ns()) / NS_PER_MS;

        snprintf(revert, sizeof(revert), "%" PRId64, left > 0 ? left : 0);
    } else {
        strcpy(revert, "null");
    }
    n = snprintf(dst, cap,
                 "{\"name\":\"%s\",\"port\":%u,\"mode\":\"%s\",\"status\":%d,"
                 "\"revert_in_ms\":%s,\"open_streams\":%" PRIu64
                 ",\"open_connections\":%" PRIu64 ",\"total_streams\":%" PRIu64
                 ",\"total_requests\":%" PRIu64 ",\"events_sent\":%" PRIu64
                 ",\"client_closed\":%" PRIu64 ",\"origin_closed\":%" PRIu64
                 ",\"last_event_id\":%s,\"head_delay_ms\":%" PRIu64 "}\n",
                 g.name, g.port, mode_names[g.mode], g.status_code, revert,
                 g.open_streams, g.open_conns, g.total_streams, g.total_requests,
                 g.events_sent, g.client_closed, g.origin_closed, lei,
                 g.head_delay_ms);
    return n < 0 ? 0 : ((size_t)n >= cap ? cap - 1 : (size_t)n);
}

static const char cors_headers[] =
    "Access-Control-Allow-Origin: *\r\nCache-Control: no-store\r\n";

static void respond_stats(struct conn *c, const struct req *r, int force_close)
{
    char body[MAX_LEI_KEEP * 6 + 1024];
    size_t n = stats_json(body, sizeof(body));

    respond(c, r, 200, "application/json", cors_headers, body, n, force_close);
}

static void listen_close(void);
static int listen_open(void);
static void set_mode(enum mode m, int status, uint64_t for_ms, int has_for,
                     const char *why, struct conn *keep);

static int parse_mode(struct slice v, enum mode *out)
{
    size_t i;

    for (i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++) {
        if (slice_eq(v, mode_names[i])) {
            *out = (enum mode)i;
            return 0;
        }
    }
    return -1;
}

static void respond_json_error(struct conn *c, const struct req *r,
                               const char *msg)
{
    char body[160];
    int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}\n", msg);

    respond(c, r, 400, "application/json", cors_headers, body, (size_t)n, 0);
}

/* Control parameters may come in the query or as a form body. */
static void handle_control(struct conn *c, const struct req *r)
{
    struct slice srcs[2];
    struct qparam qp;
    enum mode m = g.mode;
    uint64_t status = (uint64_t)g.status_code, for_ms = 0;
    uint64_t head_delay_ms = g.head_delay_ms;
    int has_mode = 0, has_status = 0, has_for = 0, i;

    srcs[0] = r->query;
    srcs[1] = r->body;
    for (i = 0; i < 2; i++) {
        struct slice q = srcs[i];

        while (query_next(&q, &qp)) {
            if (slice_eq(qp.key, "mode")) {
                if (parse_mode(qp.val, &m) < 0) {
                    respond_json_error(c, r, "unknown mode");
                    return;
                }
                has_mode = 1;
            } else if (slice_eq(qp.key, "status")) {
                if (param_u64(&qp, 599, &status) < 0 || status < 200) {
                    respond_json_error(c, r, "bad status");
                    return;
                }
                has_status = 1;
            } else if (slice_eq(qp.key, "for_ms")) {
                if (param_u64(&qp, MAX_MS, &for_ms) < 0) {
                    respond_json_error(c, r, "bad for_ms");
                    return;
                }
                has_for = 1;
            } else if (slice_eq(qp.key, "head_delay_ms")) {
                if (param_u64(&qp, MAX_MS, &head_delay_ms) < 0) {
                    respond_json_error(c, r, "bad head_delay_ms");
                    return;
                }
            }
        }
    }
    if (has_mode && m == MODE_STATUS && !has_status)
        status = 503;
    /* whatever the mode: an origin that is slow to answer, not failing */
    g.head_delay_ms = head_delay_ms;
    if (has_mode || has_status || has_for)
        set_mode(m, (int)status, for_ms, has_for, "request", c);
    /* In down mode this connection is the last one; it closes after the
     * answer. */
    respond_stats(c, r, g.mode == MODE_DOWN);
}

/* ------------------------------------------------------------------ */
/* AI traffic: LLM token streams and MCP Streamable HTTP sessions      */
/* ------------------------------------------------------------------ */

/* No JSON parser: the kept body prefix is searched for "key" followed by a
 * colon (spaces allowed around it); returns where the value starts. */
static const char *json_value(struct slice b, const char *key, const char *from)
{
    size_t kn = strlen(key);
    const char *p = from ? from : b.p, *end = b.p + b.n;

    if (!b.p)
        return NULL;
    while (p < end) {
        const char *q = memmem(p, (size_t)(end - p), key, kn);

        if (!q)
            return NULL;
        p = q + kn;
        if (q == b.p || q[-1] != '"' || p >= end || *p != '"')
            continue;
        q = p + 1;
        while (q < end && (is_ows(*q) || *q == '\r' || *q == '\n'))
            q++;
        if (q >= end || *q != ':')
            continue;
        q++;
        while (q < end && (is_ows(*q) || *q == '\r' || *q == '\n'))
            q++;
        return q;
    }
    return NULL;
}

/* Whether some "key" has the literal value lit (e.g. "\"initialize\""). */
static int json_has(struct slice b, const char *key, const char *lit)
{
    const char *v = NULL, *end = b.p + b.n;
    size_t n = strlen(lit);

    while ((v = json_value(b, key, v)) != NULL)
        if ((size_t)(end - v) >= n && memcmp(v, lit, n) == 0)
            return 1;
    return 0;
}

/* The text of the first value of "key" (a string with its quotes, or a
 * bare token), at most MAX_RPC_ID bytes; 0 if there is none. */
static int json_token(struct slice b, const char *key, char *dst)
{
    const char *v = json_value(b, key, NULL), *end = b.p + b.n;
    size_t n = 0;

    if (!v || v >= end)
        return 0;
    if (*v == '"') {
        n = 1;
        while (v + n < end && v[n] != '"' && v[n] != '\\'
               && (unsigned char)v[n] >= 0x20 && (unsigned char)v[n] < 0x7f)
            n++;
        if (v + n >= end || v[n] != '"')
            return 0;
        n++;
    } else {
        while (v + n < end && (isalnum((unsigned char)v[n]) || v[n] == '-'
                               || v[n] == '+' || v[n] == '.'))
            n++;
    }
    if (n == 0 || n > MAX_RPC_ID)
        return 0;
    memcpy(dst, v, n);
    dst[n] = '\0';
    return 1;
}

/* The request's JSON-RPC id, as written. */
static int rpc_id(struct slice b, char *dst)
{
    return json_token(b, "id", dst);
}

struct aopts {
    uint64_t think_ms, tokens, status, retry_after;
    double token_rate, rate;
    int has_status, has_retry_after, te_close;
};

static int parse_ai_opts(struct slice q, struct aopts *o, char *err,
                         size_t errlen)
{
    struct qparam qp;
    int bad = 0;

    memset(o, 0, sizeof(*o));
    o->tokens = 20;
    o->token_rate = 20;
    o->rate = 1;
    while (!bad && query_next(&q, &qp)) {
        struct slice k = qp.key;

        if (slice_eq(k, "think_ms")) {
            bad = param_u64(&qp, MAX_MS, &o->think_ms);
        } else if (slice_eq(k, "tokens")) {
            bad = param_u64(&qp, MAX_TOKENS, &o->tokens);
        } else if (slice_eq(k, "token_rate")) {
            bad = param_rate(&qp, &o->token_rate) || o->token_rate <= 0;
        } else if (slice_eq(k, "rate")) {
            bad = param_rate(&qp, &o->rate) || o->rate <= 0;
        } else if (slice_eq(k, "status")) {
            bad = param_u64(&qp, 599, &o->status) || o->status < 200;
            o->has_status = 1;
        } else if (slice_eq(k, "retry_after")) {
            bad = param_u64(&qp, MAX_MS, &o->retry_after);
            o->has_retry_after = 1;
        } else if (slice_eq(k, "te")) {
            o->te_close = slice_eq(qp.val, "close");
        }
        if (bad)
            snprintf(err, errlen, "bad value for %.*s\n", (int)k.n, k.p);
    }
    return bad ? -1 : 0;
}

/* Starts a 200 text/event-stream answer driven by ai_pump(). */
static void ai_start(struct conn *c, const struct req *r, int kind,
                     int te_close, const char *extra)
{
    struct stream *s = &c->s;
    int chunked = r->minor >= 1 && !te_close;
    int keep = chunked && r->keepalive;

    buf_printf(&c->out, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
               "Cache-Control: no-cache\r\nX-Origin-Name: %s\r\n"
               "Server: sse-origin\r\n%s%s%s\r\n", g.name, extra ? extra : "",
               chunked ? "Transfer-Encoding: chunked\r\n" : "",
               keep ? "" : "Connection: close\r\n");
    stream_reset(c);
    s->kind = kind;
    s->chunked = chunked;
    s->preamble_done = 1;
    s->next_due = sse_mono_ns();
    s->interval_ns = 1;
    c->state = CS_STREAM;
    c->after = AFTER_NONE;
    c->is_stream = 1;
    c->keep = keep;
    c->close_reason = NULL;
    g.open_streams++;
    g.total_streams++;
}

/* One SSE event (id 0: no id line) in its own chunk. */
static void ai_event(struct conn *c, uint64_t id, const char *data, size_t n)
{
    char p[512];
    size_t k = 0;

    if (n > sizeof(p) - 40)
        n = sizeof(p) - 40;
    if (id) {
        k += put_str(p + k, "id: ", 4);
        k += put_u64(p + k, id);
        p[k++] = '\n';
    }
    k += put_str(p + k, "data: ", 6);
    k += put_str(p + k, data, n);
    k += put_str(p + k, "\n\n", 2);
    emit_chunk(c, p, k);
    c->s.sent++;
    c->events_total++;
    g.events_sent++;
}

static void ai_end(struct conn *c)
{
    struct stream *s = &c->s;

    if (s->chunked)
        buf_append(&c->out, "0\r\n\r\n", 5);
    if (c->is_stream) {
        g.open_streams--;
        c->is_stream = 0;
    }
    log_begin("END");
    log_addf(" conn=%" PRIu64 " sent_events=%" PRIu64 " last_id=%" PRIu64,
             c->id, s->sent, s->kind == SK_LLM ? s->tok_sent : s->next_id);
    if (s->kind == SK_LLM)
        log_addf(" tokens_sent=%" PRIu64, s->tok_sent);
    log_end();
    c->close_reason = "done";
    c->after = c->keep ? AFTER_KEEPALIVE : AFTER_GRACEFUL;
}

/* MCP sessions: a fixed table, each with a ring of its last events. */
struct sess_ev {
    uint64_t id;
    size_t len;
    char data[224];
};

struct session {
    char id[33];
    uint64_t counter;       /* id of the last event */
    struct sess_ev ring[SESS_RING];
};

static struct session *sessions[MAX_SESSIONS];
static uint64_t sess_serial;

static int sess_find(struct slice sid)
{
    int i;

    if (!sid.p || sid.n != 32)
        return -1;
    for (i = 0; i < MAX_SESSIONS; i++)
        if (sessions[i] && memcmp(sessions[i]->id, sid.p, 32) == 0)
            return i;
    return -1;
}

static int sess_new(void)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char rnd[16];
    uint64_t x;
    int i, k, fd, got = 0;

    for (i = 0; i < MAX_SESSIONS && sessions[i]; i++)
        ;
    if (i == MAX_SESSIONS || !(sessions[i] = calloc(1, sizeof(struct session))))
        return -1;
    fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        got = read(fd, rnd, sizeof(rnd)) == (ssize_t)sizeof(rnd);
        close(fd);
    }
    /* Fallback and uniqueness: a serial number mixed into the bytes. */
    x = (++sess_serial * 0x9e3779b97f4a7c15ULL) ^ (uint64_t)sse_mono_ns();
    if (!got)
        memset(rnd, 0, sizeof(rnd));
    for (k = 0; k < 8; k++)
        rnd[k + 8] ^= (unsigned char)(x >> (8 * k));
    for (k = 0; k < 16; k++) {
        sessions[i]->id[2 * k] = hex[rnd[k] >> 4];
        sessions[i]->id[2 * k + 1] = hex[rnd[k] & 15];
    }
    sessions[i]->id[32] = '\0';
    return i;
}

/* Records an event of the session and returns its id. */
static uint64_t sess_record(int slot, const char *data, size_t n)
{
    struct session *ss = sessions[slot];
    struct sess_ev *e;

    ss->counter++;
    e = &ss->ring[(ss->counter - 1) % SESS_RING];
    if (n > sizeof(e->data))
        n = sizeof(e->data);
    e->id = ss->counter;
    e->len = n;
    memcpy(e->data, data, n);
    return ss->counter;
}

/* The stream's session, if it still exists. */
static int ai_session(const struct stream *s)
{
    struct session *ss = sessions[s->sess_slot];

    return ss && memcmp(ss->id, s->sess_id, 32) == 0 ? s->sess_slot : -1;
}

static void ai_sess_event(struct conn *c, int slot, const char *data, size_t n)
{
    uint64_t id = sess_record(slot, data, n);

    c->s.next_id = id;
    ai_event(c, id, data, n);
}

static void ai_pump(struct conn *c)
{
    struct stream *s = &c->s;
    int64_t now = sse_mono_ns();
    unsigned budget = PASS_EVENTS;
    char d[400];
    int n, slot;

    while (c->after == AFTER_NONE && now >= s->next_due && budget > 0) {
        budget--;
        switch (s->kind) {
        case SK_LLM:
            if (s->tok_sent >= s->tok_total) {
                ai_event(c, 0, "[DONE]", 6);
                ai_end(c);
                break;
            }
            s->tok_sent++;
            c->llm_tokens = s->tok_sent;
            n = snprintf(d, sizeof(d), "{\"id\":\"chatcmpl-%" PRIu64 "\","
                         "\"object\":\"chat.completion.chunk\",\"choices\":"
                         "[{\"index\":0,\"delta\":{\"content\":\"tok%" PRIu64
                         " \"}}]}", c->id, s->tok_sent);
            ai_event(c, 0, d, (size_t)n);
            if (s->tok_sent < s->tok_total) {
                s->next_due += (int64_t)s->interval_ns;
                if (now - s->next_due > SLIP_NS)
                    s->next_due = now;
            }
            break;
        case SK_MCP_CALL:
            slot = ai_session(s);
            if (slot >= 0) {
                n = snprintf(d, sizeof(d), "{\"jsonrpc\":\"2.0\",\"id\":%s,"
                             "\"result\":{\"content\":[{\"type\":\"text\","
                             "\"text\":\"done\"}]}}", s->rpc_id);
                ai_sess_event(c, slot, d, (size_t)n);
            }
            ai_end(c);
            break;
        case SK_MCP_GET:
            slot = ai_session(s);
            if (slot < 0) {
                ai_end(c);
                break;
            }
            s->tok_sent++;
            n = snprintf(d, sizeof(d), "{\"jsonrpc\":\"2.0\",\"method\":"
                         "\"notifications/message\",\"params\":{\"level\":"
                         "\"info\",\"data\":{\"n\":%" PRIu64 "}}}",
                         s->tok_sent);
            ai_sess_event(c, slot, d, (size_t)n);
            s->next_due += (int64_t)s->interval_ns;
            if (now - s->next_due > SLIP_NS)
                s->next_due = now;
            break;
        }
    }
    if (conn_flush(c) < 0)
        return;
    if (buf_pending(&c->out) > g.max_buffer) {
        conn_close(c, 0, "slow");
        return;
    }
    if (c->after != AFTER_NONE) {
        if (buf_pending(&c->out) == 0)
            conn_after(c);
        else
            set_interest(c, 1);
        return;
    }
    stream_arm(c, now);
}

static void handle_llm(struct conn *c, const struct req *r)
{
    struct aopts o;
    struct stream *s = &c->s;
    char err[128], d[400];
    int n, stream;

    if (parse_ai_opts(r->query, &o, err, sizeof(err)) < 0) {
        respond_text(c, r, 400, err, 0);
        return;
    }
    if (o.has_status || g.mode == MODE_STATUS) {
        int st = o.has_status ? (int)o.status : g.status_code;
        char extra[64];

        extra[0] = '\0';
        if (o.has_retry_after)
            snprintf(extra, sizeof(extra), "Retry-After: %" PRIu64 "\r\n",
                     o.retry_after);
        n = snprintf(d, sizeof(d), "{\"error\":{\"message\":\"status %d\","
                     "\"type\":\"origin\"}}\n", st);
        respond(c, r, st, "application/json", extra, d, (size_t)n, 0);
        return;
    }
    stream = !json_has(r->body, "stream", "false");
    log_begin("LLM");
    log_addf(" conn=%" PRIu64 " think_ms=%" PRIu64 " tokens=%" PRIu64
             " rate=%g stream=%d", c->id, o.think_ms, o.tokens, o.token_rate,
             stream);
    log_end();
    c->llm = 1;
    if (!stream) {
        struct buf b;
        uint64_t k;

        memset(&b, 0, sizeof(b));
        buf_printf(&b, "{\"id\":\"chatcmpl-%" PRIu64 "\",\"object\":"
                   "\"chat.completion\",\"model\":\"sse-origin\",\"choices\":"
                   "[{\"index\":0,\"message\":{\"role\":\"assistant\","
                   "\"content\":\"", c->id);
        for (k = 1; k <= o.tokens; k++)
            buf_printf(&b, "tok%" PRIu64 " ", k);
        buf_printf(&b, "\"},\"finish_reason\":\"stop\"}],\"usage\":"
                   "{\"completion_tokens\":%" PRIu64 "}}\n", o.tokens);
        if (b.failed) {
            buf_free(&b);
            conn_close(c, 0, "oom");
            return;
        }
        c->llm_tokens = o.tokens;
        respond(c, r, 200, "application/json", NULL, b.p, b.len, 0);
        buf_free(&b);
        return;
    }
    ai_start(c, r, SK_LLM, o.te_close, NULL);
    c->llm_tokens = 0;
    s->tok_total = o.tokens;
    s->interval_ns = interval_of(o.token_rate);
    n = snprintf(d, sizeof(d), "{\"id\":\"chatcmpl-%" PRIu64 "\",\"object\":"
                 "\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
                 "\"delta\":{\"role\":\"assistant\"}}]}", c->id);
    ai_event(c, 0, d, (size_t)n);
    s->next_due = sse_mono_ns() + (int64_t)(o.think_ms * NS_PER_MS);
}

static const char mcp_not_found[] =
    "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32001,"
    "\"message\":\"Session not found\"}}\n";

static void log_mcp(struct conn *c, const struct req *r, const char *rpc,
                    const char *sid, int status)
{
    struct slice m = r->method, sv;

    sv.p = sid;
    sv.n = sid ? strlen(sid) : 0;
    if (sid && sid[0] == '?')
        sv = r->mcp_sid;    /* an unknown session: what the client sent */
    log_begin("MCP");
    log_addf(" conn=%" PRIu64, c->id);
    log_val("method", m);
    log_addf(" rpc=%s", rpc);
    log_val("session", sv);
    log_addf(" status=%d", status);
    log_end();
}

static void handle_mcp(struct conn *c, const struct req *r)
{
    struct aopts o;
    struct stream *s = &c->s;
    char err[128], d[400], idt[MAX_RPC_ID + 1], sid[33];
    int n, slot, has_id;
    const char *rpc = "-";

    if (parse_ai_opts(r->query, &o, err, sizeof(err)) < 0) {
        respond_text(c, r, 400, err, 0);
        log_mcp(c, r, rpc, NULL, 400);
        return;
    }
    has_id = slice_eq(r->method, "POST") && rpc_id(r->body, idt);
    if (slice_eq(r->method, "POST")
        && json_has(r->body, "method", "\"initialize\"")) {
        char extra[64];

        rpc = "initialize";
        slot = sess_new();
        if (slot < 0) {
            static const char full[] =
                "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32000,"
                "\"message\":\"Too many sessions\"}}\n";

            respond(c, r, 503, "application/json", NULL, full,
                    sizeof(full) - 1, 0);
            log_mcp(c, r, rpc, NULL, 503);
            return;
        }
        snprintf(extra, sizeof(extra), "Mcp-Session-Id: %s\r\n",
                 sessions[slot]->id);
        n = snprintf(d, sizeof(d), "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":"
                     "{\"protocolVersion\":\"2025-03-26\",\"serverInfo\":"
                     "{\"name\":\"%s\",\"version\":\"1.0\"},"
                     "\"capabilities\":{\"tools\":{},\"logging\":{}}}}\n",
                     has_id ? idt : "1", g.name);
        respond(c, r, 200, "application/json", extra, d, (size_t)n, 0);
        log_mcp(c, r, rpc, sessions[slot]->id, 200);
        return;
    }
    if (slice_eq(r->method, "POST")) {
        if (!has_id)
            rpc = "notification";
        else if (json_has(r->body, "method", "\"tools/call\""))
            rpc = "tools/call";
        else
            rpc = "other";
        if (!r->mcp_sid.p) {
            static const char msg[] =
                "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32000,"
                "\"message\":\"Mcp-Session-Id required\"}}\n";

            respond(c, r, 400, "application/json", NULL, msg,
                    sizeof(msg) - 1, 0);
            log_mcp(c, r, rpc, NULL, 400);
            return;
        }
    }
    slot = sess_find(r->mcp_sid);
    if (slot < 0) {
        respond(c, r, 404, "application/json", NULL, mcp_not_found,
                sizeof(mcp_not_found) - 1, 0);
        log_mcp(c, r, rpc, r->mcp_sid.p ? "?" : NULL, 404);
        return;
    }
    memcpy(sid, sessions[slot]->id, sizeof(sid));
    if (slice_eq(r->method, "DELETE")) {
        free(sessions[slot]);
        sessions[slot] = NULL;
        respond(c, r, 200, "application/json", NULL, "", 0, 0);
        log_mcp(c, r, rpc, sid, 200);
        return;
    }
    if (slice_eq(r->method, "POST") && !has_id) {
        respond(c, r, 202, "application/json", NULL, "", 0, 0);
        log_mcp(c, r, rpc, sid, 202);
        return;
    }
    if (slice_eq(r->method, "POST") && strcmp(rpc, "tools/call") != 0) {
        n = snprintf(d, sizeof(d), "{\"jsonrpc\":\"2.0\",\"id\":%s,"
                     "\"result\":{}}\n", idt);
        respond(c, r, 200, "application/json", NULL, d, (size_t)n, 0);
        log_mcp(c, r, rpc, sid, 200);
        return;
    }
    snprintf(err, sizeof(err), "Mcp-Session-Id: %s\r\n", sid);
    ai_start(c, r, slice_eq(r->method, "POST") ? SK_MCP_CALL : SK_MCP_GET,
             o.te_close, err);
    s->sess_slot = slot;
    memcpy(s->sess_id, sid, sizeof(sid));
    log_mcp(c, r, rpc, sid, 200);
    if (s->kind == SK_MCP_CALL) {
        char tok[MAX_RPC_ID + 1];
        int has_tok = json_token(r->body, "progressToken", tok);

        /* A client matches progress to its request by the token it put
         * in params._meta.progressToken: echoed when there is one. */
        n = snprintf(d, sizeof(d), "{\"jsonrpc\":\"2.0\",\"method\":"
                     "\"notifications/progress\",\"params\":{%s%s%s"
                     "\"progress\":1}}", has_tok ? "\"progressToken\":" : "",
                     has_tok ? tok : "", has_tok ? "," : "");
        memcpy(s->rpc_id, idt, sizeof(idt));
        ai_sess_event(c, slot, d, (size_t)n);
        s->next_due = sse_mono_ns() + (int64_t)(o.think_ms * NS_PER_MS);
    } else {
        struct session *ss = sessions[slot];
        uint64_t lei, id;

        /* Replay what the ring still holds after Last-Event-ID. */
        if (r->lei.p && sse_parse_u64(r->lei.p, r->lei.n, &lei) == 0) {
            id = ss->counter > SESS_RING ? ss->counter - SESS_RING + 1 : 1;
            if (id <= lei)
                id = lei + 1;
            for (; id <= ss->counter; id++) {
                struct sess_ev *e = &ss->ring[(id - 1) % SESS_RING];

                ai_event(c, e->id, e->data, e->len);
            }
        }
        s->next_id = ss->counter;
        s->interval_ns = interval_of(o.rate);
        s->next_due = sse_mono_ns() + (int64_t)s->interval_ns;
    }
}

enum route { R_NONE, R_HEALTH, R_STATS, R_CONTROL, R_EVENTS, R_LLM, R_MCP };

static enum route route_of(struct slice path)
{
    const char *last;
    struct slice seg;

    if (slice_eq(path, "/health"))
        return R_HEALTH;
    if (slice_eq(path, "/stats"))
        return R_STATS;
    if (slice_eq(path, "/control"))
        return R_CONTROL;
    if (slice_eq(path, "/v1/chat/completions") || slice_eq(path, "/v1/messages"))
        return R_LLM;
    if (slice_eq(path, "/mcp"))
        return R_MCP;
    last = path.p + path.n;
    while (last > path.p && last[-1] != '/')
        last--;
    seg.p = last;
    seg.n = (size_t)(path.p + path.n - last);
    if (slice_eq(seg, "events") || slice_eq(seg, "stream"))
        return R_EVENTS;
    return R_NONE;
}

static void remember_lei(struct slice lei)
{
    size_t n = lei.n < MAX_LEI_KEEP ? lei.n : MAX_LEI_KEEP;

    memcpy(g.last_lei, lei.p, n);
    g.last_lei[n] = '\0';
    g.have_lei = 1;
}

static void log_request(struct conn *c, const struct req *r)
{
    if (g.log_fd < 0)
        return;
    log_begin("REQ");
    log_addf(" conn=%" PRIu64, c->id);
    log_val("method", r->method);
    log_val("path", r->target);
    log_addf(" http=1.%d", r->minor);
    log_val("last_event_id", r->lei);
    log_val("host", r->host);
    log_val("accept", r->accept);
    log_val("accept_encoding", r->accept_enc);
    log_val("xff", r->xff);
    log_val("ua", r->ua);
    log_val("origin", r->origin);
    log_val("cookie", r->cookie);
    log_end();
}

static void handle_request(struct conn *c, const struct req *r)
{
    enum route rt = route_of(r->path);
    int get = slice_eq(r->method, "GET"), head = slice_eq(r->method, "HEAD");
    int post = slice_eq(r->method, "POST");
    int del = slice_eq(r->method, "DELETE");

    g.total_requests++;
    if (r->lei.p)
        remember_lei(r->lei);
    log_request(c, r);
    if (c->has_body) {
        log_begin("BODY");
        log_addf(" conn=%" PRIu64 " bytes=%" PRIu64 " fnv=%016" PRIx64,
                 c->id, c->body_bytes, c->body_fnv);
        log_end();
    }
    if (g.mode == MODE_REFUSE && rt != R_CONTROL && rt != R_STATS) {
        conn_close(c, 0, "refused");
        return;
    }
    if (slice_eq(r->method, "OPTIONS")) {
        respond(c, r, 204, "text/plain",
                "Access-Control-Allow-Origin: *\r\n"
                "Access-Control-Allow-Methods: GET, HEAD, POST, DELETE, OPTIONS\r\n"
                "Access-Control-Allow-Headers: *\r\n"
                "Access-Control-Max-Age: 600\r\n", "", 0, 0);
        return;
    }
    if (rt == R_LLM) {
        if (post)
            handle_llm(c, r);
        else
            respond(c, r, 405, "text/plain", "Allow: POST, OPTIONS\r\n",
                    "method not allowed\n", 19, 0);
        return;
    }
    if (rt == R_MCP) {
        if (post || get || del)
            handle_mcp(c, r);
        else
            respond(c, r, 405, "text/plain",
                    "Allow: GET, POST, DELETE, OPTIONS\r\n",
                    "method not allowed\n", 19, 0);
        return;
    }
    if (!get && !head && !(post && (rt == R_CONTROL || rt == R_EVENTS))) {
        respond(c, r, 405, "text/plain",
                "Allow: GET, HEAD, POST, OPTIONS\r\n",
                "method not allowed\n", 19, 0);
        return;
    }
    switch (rt) {
    case R_HEALTH:
        if (g.mode == MODE_STATUS)
            respond_status(c, r, g.status_code, NULL);
        else
            respond_text(c, r, 200, "ok\n", 0);
        return;
    case R_STATS:
        respond_stats(c, r, 0);
        return;
    case R_CONTROL:
        handle_control(c, r);
        return;
    case R_EVENTS:
        if (g.mode == MODE_STATUS)
            respond_status(c, r, g.status_code, NULL);
        else
            start_stream(c, r);
        return;
    case R_LLM:
    case R_MCP:
    case R_NONE:
        break;
    }
    respond_text(c, r, 404, "not found\n", 0);
}

/* Sends what handle_request() queued and moves the connection on. */
static void conn_kick(struct conn *c)
{
    if (c->dead)
        return;
    if (c->state == CS_STREAM) {
        stream_pump(c);
        return;
    }
    if (conn_flush(c) < 0)
        return;
    if (buf_pending(&c->out) > 0) {
        set_interest(c, 1);
        return;
    }
    conn_after(c);
}

static void consume_input(struct conn *c, size_t n)
{
    struct buf *b = &c->in;

    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
    c->scan_pos = 0;
    if (b->len == 0 && b->cap > 4096)
        buf_free(b);
}

enum { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER };

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME  0x100000001b3ULL

static void body_take(struct conn *c, const char *p, size_t n)
{
    uint64_t h = c->body_fnv;
    size_t i;

    if (c->keep_len < BODY_KEEP) {
        size_t k = BODY_KEEP - c->keep_len;

        if (k > n)
            k = n;
        memcpy(c->body_keep + c->keep_len, p, k);
        c->keep_len += k;
    }
    for (i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= FNV_PRIME;
    }
    c->body_fnv = h;
    c->body_bytes += n;
}

/* One line of chunked framing at p (n bytes available): the line length
 * without CRLF, -2 if incomplete, -1 if malformed.  CRLF is required. */
static long chunk_line(const char *p, size_t n)
{
    const char *nl = memchr(p, '\n', n < MAX_CHUNK_LINE + 2 ? n : MAX_CHUNK_LINE + 2);
    size_t len;

    if (!nl)
        return n > MAX_CHUNK_LINE + 1 ? -1 : -2;
    len = (size_t)(nl - p);
    if (len == 0 || p[len - 1] != '\r')
        return -1;
    return (long)(len - 1);
}

/* Parses a chunk-size line: 1-16 hex digits, optional extensions. */
static int chunk_size(const char *p, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;

    while (i < len && sse_hexval(p[i]) >= 0) {
        if (i >= 16)
            return -1;
        v = v * 16 + (uint64_t)sse_hexval(p[i]);
        i++;
    }
    if (i == 0)
        return -1;
    while (i < len && is_ows(p[i]))
        i++;
    if (i < len && p[i] != ';')
        return -1;
    for (; i < len; i++)
        if (!is_vchar_or_ws((unsigned char)p[i]))
            return -1;
    *out = v;
    return 0;
}

/*
 * Consumes the body bytes that follow the head in c->in: PARSE_OK once the
 * body is complete (what follows it stays in place), PARSE_MORE, or the
 * status to refuse the request with.
 */
static int body_feed(struct conn *c)
{
    char *p = c->in.p + c->body_head;
    size_t n = c->in.len - c->body_head, pos = 0;
    int rc = PARSE_MORE;

    while (rc == PARSE_MORE && pos < n) {
        long len;
        uint64_t v;

        if (!c->body_chunked || c->chunk_state == CH_DATA) {
            size_t k = n - pos;

            if (k > c->body_left)
                k = (size_t)c->body_left;
            body_take(c, p + pos, k);
            pos += k;
            c->body_left -= k;
            if (c->body_left == 0) {
                if (!c->body_chunked)
                    rc = PARSE_OK;
                else
                    c->chunk_state = CH_DATA_END;
            }
            continue;
        }
        if (c->chunk_state == CH_DATA_END) {
            if (n - pos < 2)
                break;
            if (p[pos] != '\r' || p[pos + 1] != '\n') {
                rc = 400;
                break;
            }
            pos += 2;
            c->chunk_state = CH_SIZE;
            continue;
        }
        len = chunk_line(p + pos, n - pos);
        if (len == -2)
            break;
        if (len < 0) {
            rc = 400;
            break;
        }
        if (c->chunk_state == CH_TRAILER) {
            c->trailer_bytes += (size_t)len + 2;
            if (c->trailer_bytes > MAX_TRAILER) {
                rc = 400;
                break;
            }
            pos += (size_t)len + 2;
            if (len == 0)
                rc = PARSE_OK;
            continue;
        }
        if (chunk_size(p + pos, (size_t)len, &v) < 0) {
            rc = 400;
            break;
        }
        if (v > MAX_CLEN - c->body_bytes) {
            rc = 413;
            break;
        }
        pos += (size_t)len + 2;
        if (v == 0) {
            c->chunk_state = CH_TRAILER;
        } else {
            c->body_left = v;
            c->chunk_state = CH_DATA;
        }
    }
    memmove(p, p + pos, n - pos);
    c->in.len -= pos;
    return rc;
}

/* Sets up the reading of r's body; -1 if the connection was closed. */
static int body_begin(struct conn *c, const struct req *r)
{
    if (!c->body_keep && !(c->body_keep = malloc(BODY_KEEP))) {
        conn_close(c, 0, "oom");
        return -1;
    }
    c->in_body = 1;
    c->body_chunked = r->chunked;
    c->chunk_state = CH_SIZE;
    c->body_head = r->total;
    c->body_left = r->clen;
    c->body_bytes = 0;
    c->body_fnv = FNV_OFFSET;
    c->trailer_bytes = 0;
    c->keep_len = 0;
    if (r->expect.p && slice_ieq(r->expect, "100-continue") && r->minor >= 1) {
        buf_append(&c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        if (conn_flush(c) < 0)
            return -1;
        if (buf_pending(&c->out) > 0)
            set_interest(c, 1);
    }
    return 0;
}

static void refuse_request(struct conn *c, int rc)
{
    char msg[64];

    g.total_requests++;
    snprintf(msg, sizeof(msg), "%s\n", reason_phrase(rc));
    respond_text(c, NULL, rc, msg, 1);
    c->close_reason = "bad_request";
    c->in.len = 0;
    c->in_body = 0;
    conn_kick(c);
}

static void process_input(struct conn *c)
{
    c->in_process = 1;
    while (!c->dead && c->state == CS_READ && c->in.len > 0) {
        struct req r;
        size_t skip = 0;
        int rc;

        if (c->in_body) {
            rc = body_feed(c);
            if (rc == PARSE_MORE)
                break;
            if (rc != PARSE_OK) {
                refuse_request(c, rc);
                break;
            }
            /* The head is still in front of the input: parse it again. */
            c->in_body = 0;
            c->scan_pos = 0;
            rc = parse_request(c, &r);
            if (rc != PARSE_OK) {
                refuse_request(c, rc == PARSE_MORE ? 400 : rc);
                break;
            }
            r.body.p = c->body_keep;
            r.body.n = c->keep_len;
            c->has_body = 1;
            handle_request(c, &r);
            c->has_body = 0;
            if (c->dead)
                break;
            free(c->body_keep);
            c->body_keep = NULL;
            consume_input(c, r.total);
            conn_kick(c);
            continue;
        }
        /* Stray line ends between requests are tolerated. */
        while (skip < c->in.len && (c->in.p[skip] == '\r' || c->in.p[skip] == '\n'))
            skip++;
        if (skip) {
            consume_input(c, skip);
            continue;
        }
        rc = parse_request(c, &r);
        if (rc == PARSE_MORE)
            break;
        if (rc != PARSE_OK) {
            refuse_request(c, rc);
            break;
        }
        if (r.has_body) {
            if (body_begin(c, &r) < 0)
                break;
            continue;
        }
        handle_request(c, &r);
        if (c->dead)
            break;
        consume_input(c, r.total);
        conn_kick(c);
    }
    if (!c->dead)
        c->in_process = 0;
}

static void on_readable(struct conn *c)
{
    struct buf *b = &c->in;
    size_t cap = c->in_body ? BODY_READ : MAX_IN;
    ssize_t n;

    if (c->state == CS_LINGER) {
        char tmp[4096];

        n = recv(c->fd, tmp, sizeof(tmp), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            conn_close(c, 0, c->close_reason ? c->close_reason : "done");
        return;
    }
    if (b->len >= cap) {
        /* Only possible outside CS_READ: the peer keeps sending while we
         * are busy answering. */
        conn_close(c, 0, "input_overflow");
        return;
    }
    if (buf_reserve(b, b->len < 1024 ? 1024 : b->len) < 0) {
        conn_close(c, 0, "oom");
        return;
    }
    {
        size_t room = b->cap - b->len;

        if (room > cap - b->len)
            room = cap - b->len;
        n = recv(c->fd, b->p + b->len, room, 0);
    }
    if (n == 0) {
        conn_close(c, 1, "eof");
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            conn_close(c, 1, "reset");
        return;
    }
    b->len += (size_t)n;
    if (c->state == CS_READ)
        process_input(c);
}

static void on_writable(struct conn *c)
{
    if (conn_flush(c) < 0)
        return;
    if (buf_pending(&c->out) > 0)
        return;
    if (c->after != AFTER_NONE) {
        conn_after(c);
        return;
    }
    if (c->state == CS_STREAM) {
        stream_pump(c);
        return;
    }
    set_interest(c, 0);
}

/* A lingering connection was already closed by us; the peer only
 * acknowledges it. */
static void conn_peer_gone(struct conn *c, const char *reason)
{
    if (c->state == CS_LINGER)
        conn_close(c, 0, c->close_reason ? c->close_reason : "done");
    else
        conn_close(c, 1, reason);
}

static void on_conn_event(struct conn *c, uint32_t ev)
{
    if (c->dead)
        return;
    if (ev & EPOLLERR) {
        conn_peer_gone(c, "reset");
        return;
    }
    if (ev & EPOLLIN) {
        on_readable(c);
        if (c->dead)
            return;
    } else if (ev & (EPOLLHUP | EPOLLRDHUP)) {
        conn_peer_gone(c, "hup");
        return;
    }
    if ((ev & EPOLLOUT) && !c->dead)
        on_writable(c);
}

static void on_timer(struct conn *c)
{
    if (c->state == CS_LINGER)
        conn_close(c, 0, c->close_reason ? c->close_reason : "done");
    else if (c->state == CS_STREAM)
        stream_pump(c);
}

/* ------------------------------------------------------------------ */
/* Listener and modes                                                   */
/* ------------------------------------------------------------------ */

static void log_open(const struct conn *c, const struct sockaddr_storage *ss)
{
    char addr[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;

    if (g.log_fd < 0)
        return;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

        inet_ntop(AF_INET, &a->sin_addr, addr, sizeof(addr));
        port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

        inet_ntop(AF_INET6, &a->sin6_addr, addr, sizeof(addr));
        port = ntohs(a->sin6_port);
    }
    log_begin("OPEN");
    log_addf(" conn=%" PRIu64 " peer=%s:%u", c->id, addr, port);
    log_end();
}

/* Takes ownership of fd. */
static void conn_new(int fd, const struct sockaddr_storage *ss)
{
    struct conn *c = calloc(1, sizeof(*c));
    epoll_data_t data = { .ptr = c };
    int one = 1;

    if (!c) {
        close(fd);
        return;
    }
    /* Events are small and latency is what benchmarks measure. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->fd = fd;
    c->id = ++g.next_conn_id;
    sse_timer_init(&c->timer);
    c->opened_ns = sse_mono_ns();
    c->state = CS_READ;
    c->ev_mask = EPOLLIN | EPOLLRDHUP;
    if (sse_epoll_watch(g.epfd, EPOLL_CTL_ADD, fd, c->ev_mask, data) < 0) {
        close(fd);
        free(c);
        return;
    }
    c->next = g.conns;
    if (g.conns)
        g.conns->prev = c;
    g.conns = c;
    g.open_conns++;
    log_open(c, ss);
}

/* Level-triggered: stop watching the listener for a while instead of
 * spinning on a backlog we cannot take. */
static void listen_pause(int err)
{
    epoll_ctl(g.epfd, EPOLL_CTL_DEL, g.listen_fd, NULL);
    g.listen_paused = 1;
    g.listen_retry_at = sse_mono_ns() + RETRY_NS;
    log_begin("ACCEPT_PAUSED");
    log_addf(" errno=%d", err);
    log_end();
}

static void accept_conns(void)
{
    int i;

    for (i = 0; i < 256 && g.listen_fd >= 0; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(g.listen_fd, (struct sockaddr *)&ss, &sl,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS
                || errno == ENOMEM)
                listen_pause(errno);
            return;
        }
        conn_new(fd, &ss);
    }
}

static int listen_open(void)
{
    epoll_data_t data = { .ptr = &listen_tag };
    int one = 1;
    int fd = socket(g.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&g.addr, g.addrlen) < 0
        || listen(fd, 4096) < 0) {
        int e = errno;

        close(fd);
        errno = e;
        return -1;
    }
    if (g.port == 0) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);

        getsockname(fd, (struct sockaddr *)&ss, &sl);
        if (ss.ss_family == AF_INET)
            g.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else
            g.port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        /* Reopening after down mode must come back on the same port. */
        sse_set_port(&g.addr, g.port);
    }
    if (sse_epoll_watch(g.epfd, EPOLL_CTL_ADD, fd, EPOLLIN, data) < 0) {
        close(fd);
        return -1;
    }
    g.listen_fd = fd;
    g.listen_paused = 0;
    return 0;
}

static void listen_close(void)
{
    if (g.listen_fd >= 0)
        close(g.listen_fd);
    g.listen_fd = -1;
    g.listen_paused = 0;
}

/* Called when listen_retry_at expires. */
static void listen_retry(void)
{
    g.listen_retry_at = 0;
    if (g.listen_fd >= 0 && g.listen_paused) {
        epoll_data_t data = { .ptr = &listen_tag };

        if (sse_epoll_watch(g.epfd, EPOLL_CTL_ADD, g.listen_fd, EPOLLIN,
                            data) == 0)
            g.listen_paused = 0;
        else
            g.listen_retry_at = sse_mono_ns() + RETRY_NS;
        return;
    }
    if (g.listen_fd < 0 && g.mode != MODE_DOWN) {
        if (listen_open() < 0) {
            log_begin("CONTROL");
            log_addf(" listen_error=%d retry_ms=%lld", errno,
                     (long long)(RETRY_NS / NS_PER_MS));
            log_end();
            g.listen_retry_at = sse_mono_ns() + RETRY_NS;
        } else {
            log_begin("LISTEN");
            log_addf(" port=%u", g.port);
            log_end();
        }
    }
}

static void close_all(const char *reason, struct conn *keep)
{
    struct conn *c = g.conns, *next;

    for (; c; c = next) {
        next = c->next;
        if (c != keep)
            conn_close(c, 0, reason);
    }
}

/* Streams stopped by silent mode pick up from now, not with a burst. */
static void unpark_all(void)
{
    struct conn *c = g.conns, *next;
    int64_t now = sse_mono_ns();

    for (; c; c = next) {
        next = c->next;
        if (c->state != CS_STREAM || !c->s.parked)
            continue;
        c->s.parked = 0;
        if (c->s.next_due < now)
            c->s.next_due = now;
        stream_pump(c);
    }
}

static void set_mode(enum mode m, int status, uint64_t for_ms, int has_for,
                     const char *why, struct conn *keep)
{
    enum mode prev = g.mode;

    g.mode = m;
    g.status_code = status;
    g.revert_at = (has_for && for_ms > 0 && m != MODE_NORMAL)
                  ? sse_mono_ns() + (int64_t)for_ms * NS_PER_MS : 0;
    log_begin("CONTROL");
    log_addf(" mode=%s prev=%s status=%d for_ms=%" PRIu64 " by=%s",
             mode_names[m], mode_names[prev], status,
             has_for ? for_ms : 0, why);
    log_end();
    if (m == MODE_DOWN && prev != MODE_DOWN) {
        close_all("down", keep);
        listen_close();
    }
    if (prev == MODE_DOWN && m != MODE_DOWN)
        listen_retry();
    if (prev == MODE_SILENT && m != MODE_SILENT)
        unpark_all();
}

/* ------------------------------------------------------------------ */
/* Main loop                                                            */
/* ------------------------------------------------------------------ */

static void on_signal(void)
{
    struct signalfd_siginfo si;

    while (read(g.sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGUSR1)
            set_mode(MODE_NORMAL, 503, 0, 0, "signal", NULL);
        else
            g.quit = 1;
    }
}

static void run_timers(int64_t now)
{
    /* Bounded so that a stream catching up cannot monopolise a turn. */
    size_t limit = g.timers.len + 16;
    struct sse_timer *t;

    if (g.revert_at && now >= g.revert_at)
        set_mode(MODE_NORMAL, g.status_code, 0, 0, "timer", NULL);
    if (g.listen_retry_at && now >= g.listen_retry_at)
        listen_retry();
    while ((t = sse_timers_first(&g.timers)) && t->deadline <= now
           && limit-- > 0) {
        struct conn *c = timer_conn(t);

        timer_clear(c);
        on_timer(c);
    }
}

static int next_timeout(int64_t now)
{
    int64_t next = INT64_MAX, ms;
    struct sse_timer *t = sse_timers_first(&g.timers);

    if (t)
        next = t->deadline;
    if (g.revert_at && g.revert_at < next)
        next = g.revert_at;
    if (g.listen_retry_at && g.listen_retry_at < next)
        next = g.listen_retry_at;
    if (next == INT64_MAX)
        return -1;
    if (next <= now)
        return 0;
    /* Rounded up: waking early would only mean spinning until due. */
    ms = (next - now + NS_PER_MS - 1) / NS_PER_MS;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

static void run(void)
{
    static struct epoll_event evs[EPOLL_BATCH];

    while (!g.quit) {
        int n, i;

        run_timers(sse_mono_ns());
        free_dead();
        n = epoll_wait(g.epfd, evs, EPOLL_BATCH, next_timeout(sse_mono_ns()));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("epoll_wait");
            break;
        }
        for (i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;

            if (p == &listen_tag)
                accept_conns();
            else if (p == &sig_tag)
                on_signal();
            else
                on_conn_event(p, evs[i].events);
        }
        free_dead();
    }
}

/* ------------------------------------------------------------------ */
/* Start-up                                                             */
/* ------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sse-origin [--host 127.0.0.1] [--port N] [--port-file PATH]\n"
            "                  [--log PATH] [--name NAME] [--max-buffer BYTES]\n");
}

static int write_port_file(const char *path)
{
    char tmp[4096], line[16];
    int fd, n, ok;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid())
        >= (int)sizeof(tmp))
        return -1;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    n = snprintf(line, sizeof(line), "%u\n", g.port);
    ok = write(fd, line, (size_t)n) == n;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) < 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int valid_name(const char *s)
{
    size_t n = strlen(s), i;

    if (n == 0 || n > MAX_NAME)
        return 0;
    for (i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
            return 0;
    return 1;
}

static int setup_signals(void)
{
    epoll_data_t data = { .ptr = &sig_tag };
    sigset_t set;

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -1;
    g.sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (g.sig_fd < 0)
        return -1;
    return sse_epoll_watch(g.epfd, EPOLL_CTL_ADD, g.sig_fd, EPOLLIN, data);
}

static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
    return sse_opt_value("sse-origin", argc, argv, i, name);
}

static void parse_args(int argc, char **argv, const char **port_file,
                       const char **log_path)
{
    int i;

    for (i = 1; i < argc; i++) {
        const char *v;
        uint64_t u;

        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            exit(0);
        } else if ((v = opt_value(argc, argv, &i, "--host"))) {
            g.host = v;
        } else if ((v = opt_value(argc, argv, &i, "--port"))) {
            if (sse_parse_u64(v, strlen(v), &u) < 0 || u > 65535)
                goto bad;
            g.port = (unsigned)u;
        } else if ((v = opt_value(argc, argv, &i, "--port-file"))) {
            *port_file = v;
        } else if ((v = opt_value(argc, argv, &i, "--log"))) {
            *log_path = v;
        } else if ((v = opt_value(argc, argv, &i, "--name"))) {
            if (!valid_name(v)) {
                fprintf(stderr, "sse-origin: --name must be 1-%d printable "
                        "characters without quotes or backslashes\n", MAX_NAME);
                exit(2);
            }
            strcpy(g.name, v);
        } else if ((v = opt_value(argc, argv, &i, "--max-buffer"))) {
            if (sse_parse_u64(v, strlen(v), &u) < 0 || u < 4096
                || u > ((uint64_t)1 << 40))
                goto bad;
            g.max_buffer = (size_t)u;
        } else {
            goto bad;
        }
    }
    return;
bad:
    fprintf(stderr, "sse-origin: bad argument '%s'\n", argv[i]);
    usage(stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    const char *port_file = NULL, *log_path = NULL;
    struct rlimit rl;

    g.listen_fd = g.sig_fd = g.log_fd = -1;
    g.host = "127.0.0.1";
    g.max_buffer = 4 * 1024 * 1024;
    g.status_code = 503;
    strcpy(g.name, "origin");
    parse_args(argc, argv, &port_file, &log_path);
    g.low_water = g.max_buffer / 2 < INLINE_PAD ? g.max_buffer / 2 : INLINE_PAD;
    sse_raise_nofile(&rl);
    if (log_path) {
        g.log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (g.log_fd < 0) {
            perror(log_path);
            return 1;
        }
    }
    if (sse_resolve_numeric(g.host, g.port, &g.addr, &g.addrlen) < 0) {
        fprintf(stderr, "sse-origin: --host must be a numeric address\n");
        return 2;
    }
    g.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (g.epfd < 0 || setup_signals() < 0) {
        perror("sse-origin: setup");
        return 1;
    }
    if (listen_open() < 0) {
        perror("sse-origin: listen");
        return 1;
    }
    if (port_file && write_port_file(port_file) < 0) {
        perror(port_file);
        return 1;
    }
    if (g.addr.ss_family == AF_INET6)
        printf("listening [%s]:%u\n", g.host, g.port);
    else
        printf("listening %s:%u\n", g.host, g.port);
    fflush(stdout);
    log_begin("LISTEN");
    log_addf(" port=%u name=%s pid=%ld", g.port, g.name, (long)getpid());
    log_end();

    run();

    close_all("shutdown", NULL);
    free_dead();
    listen_close();
    log_begin("EXIT");
    log_end();
    sse_timers_free(&g.timers);
    close(g.sig_fd);
    close(g.epfd);
    if (g.log_fd >= 0)
        close(g.log_fd);
    return 0;
}
