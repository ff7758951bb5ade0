/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/*
 * sse-load: a load generator for benchmarks of Server-Sent Events proxies.
 *
 * It opens N concurrent HTTP/1.1 SSE streams to one address, measures the
 * latency of every event against the send time the origin stamps into it
 * ("t", CLOCK_MONOTONIC ns, so client and origin must share a machine), and
 * models how clients come back after a stream ends: as a WHATWG EventSource
 * does, as a naive fixed-interval poller, or not at all.
 *
 * It must never be the bottleneck of the benchmark it drives: one thread, an
 * edge-triggered epoll loop over non-blocking sockets (a short read means
 * the socket is drained, so an event usually costs one read() and no
 * re-poll), at most one full buffer per socket per turn, a min-heap of
 * per-client deadlines (no scans per tick), and latencies kept in fixed
 * log-linear histograms instead of as samples.  Streams are parsed by
 * libssepolicy's parser, the same one mod_sse_proxy uses, so that both
 * sides agree on what an event is.
 *
 * README-load.md next to this file documents the command line and output.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "ssepolicy.h"

#define NS_PER_US     ((int64_t)1000)
#define NS_PER_MS     ((int64_t)1000000)
#define NS_PER_S      ((int64_t)1000000000)
#define READ_BUF      65536
#define MAX_HEAD      16384      /* status line + headers of a response */
#define MAX_LEI       1024       /* longest Last-Event-ID echoed back */
#define MAX_STATUS    600
#define EPOLL_BATCH   1024
#define FD_SLACK      32         /* descriptors besides the streams */
#define PACE_BURST_NS (10 * NS_PER_MS)
#define TURN_STARTS   128        /* connects and timers handled per loop turn */
#define PROGRESS_S    5
#define NO_TIMER      ((size_t)-1)

enum mode { MODE_NONE, MODE_EVENTSOURCE, MODE_NAIVE };

static const char *const mode_names[] = { "none", "eventsource", "naive" };

enum cstate {
    ST_IDLE,        /* not started, or waiting in the connect queue */
    ST_CONNECTING,
    ST_SENDING,
    ST_HEAD,
    ST_BODY,        /* reading a 200 text/event-stream body */
    ST_WAIT,        /* between connections, until the reconnect deadline */
    ST_DONE         /* stopped for good */
};

enum framing { FR_CLOSE, FR_LENGTH, FR_CHUNKED };

enum chunk_state {
    CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_END, CH_DATA_LF,
    CH_TRAILER, CH_TRAILER_LINE, CH_TRAILER_LF
};

/* How one connection ended; every ending goes through conn_end(). */
enum end_kind {
    END_CLEAN,      /* the body ended where its framing said it would */
    END_NOT_SSE,    /* a response that is not a 200 event stream */
    END_REFUSED,
    END_RESET,
    END_TIMEOUT,
    END_EOF_MID,    /* EOF inside a framed body */
    END_EMPTY,      /* EOF before any byte of a response */
    END_BAD,        /* malformed response, or the SSE parser gave up */
    END_OTHER
};

/* Fixed log-linear histogram: values below 2^SUB_BITS are exact, above
 * that each power of two is split into 2^SUB_BITS buckets, so a bucket's
 * midpoint is within 1/256 of any value in it. */
#define HIST_SUB_BITS 7
#define HIST_SUB      (1u << HIST_SUB_BITS)
#define HIST_BUCKETS  ((64 - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
    uint64_t count;
    uint64_t min, max;
    double sum;
    uint64_t n[HIST_BUCKETS];
};

struct client {
    uint32_t idx;
    uint32_t gen;           /* bumped per connection: stale epoll events are dropped */
    int fd;
    enum cstate state;
    size_t heap_idx;
    int64_t deadline;
    int64_t conn_start;     /* connect() of the current attempt */
    int64_t ended_at;       /* end of the previous attempt, for reconnect intervals */
    char *out;              /* the request, until it is all sent */
    size_t out_len, out_off;
    char *hbuf;             /* a response head split across reads */
    size_t hlen;
    int status;
    int is_sse;
    enum framing framing;
    enum chunk_state chunk;
    unsigned size_digits;
    uint64_t remaining;     /* of the Content-Length body or of the chunk */
    unsigned char queued, started, ever_connected, established;
    unsigned char got_byte, got_event, streaming, have_id;
    unsigned char deferred; /* in the list of sockets to read again */
    unsigned char sent_lei; /* this connection's request carried Last-Event-ID */
    unsigned char got_seq;  /* this connection delivered a sequence event */
    unsigned char broken;   /* a stream that delivered events ended, and no
                             * later connection has delivered one yet */
    unsigned char hup;      /* the peer shut down: read until EOF */
    uint64_t last_id;       /* highest event id seen, across connections */
    ssep_parser *parser;    /* of the current stream only */
    /* What an EventSource keeps across connections: the last event ID
     * string and the reconnection time (-1: never set by the stream). */
    char *lei;
    size_t lei_len, lei_cap;
    int64_t retry_ms;
};

static struct {
    const char *host;
    unsigned port;
    const char *path;
    uint32_t streams;
    double duration_s, warmup_s;
    enum mode mode;
    double connect_rate;
    uint64_t initial_retry_ms, naive_ms, timeout_ms;
    int pace_reconnects, quiet;
    const char *csv_path, *timeline_path, *json_path;
} cfg;

static struct {
    int epfd;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char host_hdr[96];
    struct client *clients;
    struct client **heap;
    size_t heap_len;
    uint32_t *queue;        /* ring of clients waiting for a connect slot */
    size_t qhead, qlen;
    uint32_t *defer[2];     /* sockets that filled the read buffer */
    size_t ndefer[2];
    int defer_fill;         /* which list new deferrals go to */
    int64_t pace_next, pace_interval;
    uint32_t initial_started;
    int64_t t0, ramp_end, window_start, end_at, next_tick;
    uint64_t tick_no;
    int window_open;
    struct rusage ru_window;
    uint64_t open, streaming, established;
    FILE *timeline;
    FILE *json;
    ssep_parser_limits limits;
} g;

static struct {
    uint64_t connects, requests;
    uint64_t responses[MAX_STATUS];
    uint64_t events, events_total, bytes, bytes_total, wire_bytes;
    uint64_t refused, reset, timeout, eof_mid, empty, bad, other;
    uint64_t failed_for_good, stopped_204, reconnects;
    uint64_t breaks, resumes, resumes_without_id;
    double reconnect_ms_sum;
    uint64_t duplicates, gaps, lost, no_timestamp, negative_latency;
    uint64_t ends_clean;
    uint64_t sec_requests, sec_events, sec_conn_errors, peak_requests;
    struct hist latency, first_byte, first_event;
} st;

static char rbuf[READ_BUF];
static volatile sig_atomic_t stop_requested;

static void conn_end(struct client *c, enum end_kind k, int64_t now);

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* ------------------------------------------------------------------ */
/* Histograms                                                           */
/* ------------------------------------------------------------------ */

static unsigned hist_index(uint64_t v)
{
    unsigned e;

    if (v < HIST_SUB)
        return (unsigned)v;
    e = 63u - (unsigned)__builtin_clzll(v);
    return (e - HIST_SUB_BITS + 1) * HIST_SUB
           + (unsigned)((v >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1));
}

/* [lo, hi] of bucket i, both inclusive so the top bucket cannot overflow. */
static void hist_bounds(unsigned i, uint64_t *lo, uint64_t *hi)
{
    unsigned e, shift;

    if (i < HIST_SUB) {
        *lo = *hi = i;
        return;
    }
    e = i / HIST_SUB + HIST_SUB_BITS - 1;
    shift = e - HIST_SUB_BITS;
    *lo = ((uint64_t)HIST_SUB + i % HIST_SUB) << shift;
    *hi = *lo + (((uint64_t)1 << shift) - 1);
}

static void hist_add(struct hist *h, uint64_t v)
{
    if (h->count == 0 || v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    h->count++;
    h->sum += (double)v;
    h->n[hist_index(v)]++;
}

/* The value at quantile q, as its bucket's midpoint held within the
 * exact extremes. */
static double hist_quantile(const struct hist *h, double q)
{
    uint64_t rank, seen = 0, lo, hi;
    double mid;
    unsigned i;

    if (h->count == 0)
        return 0;
    rank = (uint64_t)(q * (double)h->count);
    if ((double)rank < q * (double)h->count)
        rank++;
    if (rank < 1)
        rank = 1;
    for (i = 0; i < HIST_BUCKETS; i++) {
        seen += h->n[i];
        if (seen >= rank)
            break;
    }
    if (i == HIST_BUCKETS)
        return (double)h->max;
    hist_bounds(i, &lo, &hi);
    mid = (double)lo + (double)(hi - lo) / 2;
    if (mid < (double)h->min)
        mid = (double)h->min;
    if (mid > (double)h->max)
        mid = (double)h->max;
    return mid;
}

/* ------------------------------------------------------------------ */
/* Timer heap                                                           */
/* ------------------------------------------------------------------ */

static void heap_place(size_t i, struct client *c)
{
    g.heap[i] = c;
    c->heap_idx = i;
}

static void heap_up(size_t i)
{
    struct client *c = g.heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;

        if (g.heap[parent]->deadline <= c->deadline)
            break;
        heap_place(i, g.heap[parent]);
        i = parent;
    }
    heap_place(i, c);
}

static void heap_down(size_t i)
{
    struct client *c = g.heap[i];

    for (;;) {
        size_t l = 2 * i + 1, m = l;

        if (l >= g.heap_len)
            break;
        if (l + 1 < g.heap_len && g.heap[l + 1]->deadline < g.heap[l]->deadline)
            m = l + 1;
        if (g.heap[m]->deadline >= c->deadline)
            break;
        heap_place(i, g.heap[m]);
        i = m;
    }
    heap_place(i, c);
}

static void timer_clear(struct client *c)
{
    size_t i = c->heap_idx;
    struct client *last;

    if (i == NO_TIMER)
        return;
    c->heap_idx = NO_TIMER;
    last = g.heap[--g.heap_len];
    if (last == c)
        return;
    heap_place(i, last);
    heap_up(i);
    heap_down(last->heap_idx);
}

/* The heap holds at most one entry per client, so it never grows. */
static void timer_set(struct client *c, int64_t when)
{
    timer_clear(c);
    c->deadline = when;
    heap_place(g.heap_len++, c);
    heap_up(c->heap_idx);
}

/* ------------------------------------------------------------------ */
/* Small text helpers                                                   */
/* ------------------------------------------------------------------ */

static char lower(char ch)
{
    return (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
}

static int span_ieq(const char *p, size_t n, const char *lit)
{
    size_t i;

    if (strlen(lit) != n)
        return 0;
    for (i = 0; i < n; i++)
        if (lower(p[i]) != lit[i])
            return 0;
    return 1;
}

static void span_trim(const char **p, size_t *n)
{
    while (*n && (**p == ' ' || **p == '\t')) {
        (*p)++;
        (*n)--;
    }
    while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = lower(ch);
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* At most 19 digits, so the value always fits. */
static int parse_dec(const char *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    if (n == 0 || n > 19)
        return -1;
    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    *out = v;
    return 0;
}

/* The unsigned number after a key such as "\"t\":" in event data.  A plain
 * search is enough: the origin's events are flat objects whose string
 * values (name, pad) cannot contain a quote. */
static int json_u64(const char *s, size_t n, const char *key, size_t klen,
                    uint64_t *out)
{
    size_t len = 0;
    const char *p = memmem(s, n, key, klen), *end = s + n;

    if (!p)
        return -1;
    p += klen;
    while (p < end && *p == ' ')
        p++;
    while (p + len < end && len < 20 && p[len] >= '0' && p[len] <= '9')
        len++;
    return parse_dec(p, len, out);
}

/* ------------------------------------------------------------------ */
/* Connections                                                          */
/* ------------------------------------------------------------------ */

static int in_window(int64_t now)
{
    return now >= g.window_start;
}

static uint64_t ep_key(const struct client *c)
{
    return ((uint64_t)c->gen << 32) | c->idx;
}

static int set_interest(struct client *c, uint32_t events, int op)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.events = events | EPOLLET | EPOLLRDHUP;
    ev.data.u64 = ep_key(c);
    return epoll_ctl(g.epfd, op, c->fd, &ev);
}

static void enqueue(struct client *c)
{
    size_t cap = cfg.streams;

    if (c->queued)
        return;
    c->queued = 1;
    g.queue[(g.qhead + g.qlen) % cap] = c->idx;
    g.qlen++;
}

static struct client *dequeue(void)
{
    struct client *c = &g.clients[g.queue[g.qhead]];

    g.qhead = (g.qhead + 1) % cfg.streams;
    g.qlen--;
    c->queued = 0;
    return c;
}

/* What EventSource would send: the last event ID string, unless empty.
 * Overlong ids are not echoed, to keep every request small. */
static int build_request(struct client *c)
{
    const char *lei = c->lei;
    size_t lei_len = c->lei_len, cap;
    int n;

    if (cfg.mode != MODE_EVENTSOURCE || !lei || lei_len > MAX_LEI)
        lei_len = 0;
    cap = strlen(cfg.path) + lei_len + 256;
    c->out = malloc(cap);
    if (!c->out)
        return -1;
    n = snprintf(c->out, cap,
                 "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n"
                 "Cache-Control: no-cache\r\n%s%.*s%s\r\n",
                 cfg.path, g.host_hdr, lei_len ? "Last-Event-ID: " : "",
                 (int)lei_len, lei_len ? lei : "", lei_len ? "\r\n" : "");
    if (n < 0 || (size_t)n >= cap) {
        free(c->out);
        c->out = NULL;
        return -1;
    }
    c->out_len = (size_t)n;
    c->out_off = 0;
    c->sent_lei = lei_len != 0;
    return 0;
}

static void conn_release(struct client *c)
{
    ssep_parser_destroy(c->parser);
    c->parser = NULL;
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
        g.open--;
    }
    free(c->out);
    c->out = NULL;
    free(c->hbuf);
    c->hbuf = NULL;
    c->hlen = 0;
    timer_clear(c);
}

static enum end_kind errno_kind(int err)
{
    switch (err) {
    case ECONNREFUSED:
        return END_REFUSED;
    case ECONNRESET:
    case EPIPE:
    case ECONNABORTED:
        return END_RESET;
    case ETIMEDOUT:
        return END_TIMEOUT;
    default:
        return END_OTHER;
    }
}

/* The clock is read here rather than taken from the caller: when thousands
 * of connects start in one turn, their times must show the client's own
 * queueing instead of hiding it. */
static void client_connect(struct client *c)
{
    int64_t now = mono_ns();
    int fd;

    if (c->ever_connected) {
        st.reconnects++;
        st.reconnect_ms_sum += (double)(now - c->ended_at) / (double)NS_PER_MS;
    }
    c->ever_connected = 1;
    c->gen++;
    c->got_byte = c->got_event = c->got_seq = 0;
    c->hup = 0;
    c->status = 0;
    c->conn_start = now;
    st.connects++;
    fd = socket(g.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        conn_end(c, END_OTHER, now);
        return;
    }
    c->fd = fd;
    g.open++;
    if (build_request(c) < 0) {
        conn_end(c, END_OTHER, now);
        return;
    }
    /* Loopback connects usually finish at once, but going through EPOLLOUT
     * either way keeps one path for success and failure. */
    if (connect(fd, (struct sockaddr *)&g.addr, g.addrlen) < 0
        && errno != EINPROGRESS) {
        conn_end(c, errno_kind(errno), now);
        return;
    }
    if (set_interest(c, EPOLLOUT, EPOLL_CTL_ADD) < 0) {
        conn_end(c, END_OTHER, now);
        return;
    }
    c->state = ST_CONNECTING;
    timer_set(c, now + (int64_t)cfg.timeout_ms * NS_PER_MS);
}

/* Reconnection time of an EventSource: the stream's last valid retry
 * field, or the initial value while it never sent one. */
static int64_t eventsource_delay_ms(const struct client *c)
{
    return c->retry_ms >= 0 ? c->retry_ms : (int64_t)cfg.initial_retry_ms;
}

static void schedule_next(struct client *c, enum end_kind k, int64_t now)
{
    int64_t delay_ms;

    switch (cfg.mode) {
    case MODE_NONE:
        c->state = ST_DONE;
        return;
    case MODE_NAIVE:
        delay_ms = (int64_t)cfg.naive_ms;
        break;
    case MODE_EVENTSOURCE:
    default:
        /* "fail the connection": a browser never comes back on its own */
        if (k == END_NOT_SSE) {
            if (c->status == 204)
                st.stopped_204++;
            else
                st.failed_for_good++;
            c->state = ST_DONE;
            return;
        }
        delay_ms = eventsource_delay_ms(c);
        break;
    }
    if (delay_ms > INT64_MAX / NS_PER_MS - now / NS_PER_MS)
        delay_ms = INT64_MAX / NS_PER_MS - now / NS_PER_MS;
    c->state = ST_WAIT;
    timer_set(c, now + delay_ms * NS_PER_MS);
}

static void count_end(const struct client *c, enum end_kind k)
{
    switch (k) {
    case END_CLEAN:   st.ends_clean++; break;
    case END_NOT_SSE: break;
    case END_REFUSED: st.refused++; break;
    case END_RESET:   st.reset++; break;
    case END_TIMEOUT: st.timeout++; break;
    case END_EOF_MID: st.eof_mid++; break;
    case END_EMPTY:   st.empty++; break;
    case END_BAD:     st.bad++; break;
    case END_OTHER:   st.other++; break;
    }
    /* what a storm looks like from outside: attempts that never got an
     * answer */
    if (k != END_CLEAN && k != END_NOT_SSE && !c->got_byte)
        st.sec_conn_errors++;
}

static int set_lei(struct client *c, const char *id, size_t len)
{
    if (len == c->lei_len && c->lei && memcmp(c->lei, id, len) == 0)
        return 0;
    if (len > c->lei_cap) {
        char *np = realloc(c->lei, len);

        if (!np)
            return -1;
        c->lei = np;
        c->lei_cap = len;
    }
    if (len)
        memcpy(c->lei, id, len);
    c->lei_len = len;
    return 0;
}

/* The parser's id is the last event ID *buffer*, which an unfinished event
 * may already have changed; the string a browser resends only takes the
 * buffer's value at a blank line.  So the buffer is adopted here only when
 * the stream stopped at an event boundary (it may end with an id-only
 * block), and otherwise on_event() has kept the string. */
static void stream_closed(struct client *c)
{
    int64_t r = ssep_parser_retry(c->parser);
    const char *id;
    size_t len;

    if (r >= 0)
        c->retry_ms = r;
    if (ssep_parser_finish(c->parser) == 0
        && (id = ssep_parser_last_id(c->parser, &len)))
        set_lei(c, id, len);
    c->streaming = 0;
    g.streaming--;
}

/* A break is a stream that carried the sequence and ended while the client
 * still wanted it; the run's own end is not one (it goes through
 * conn_release() alone).  Mode none never comes back, so it has none. */
static void count_break(struct client *c)
{
    if (!c->got_seq || cfg.mode == MODE_NONE)
        return;
    st.breaks++;
    c->broken = 1;
}

static void conn_end(struct client *c, enum end_kind k, int64_t now)
{
    count_end(c, k);
    count_break(c);
    if (c->streaming)
        stream_closed(c);
    conn_release(c);
    c->ended_at = now;
    schedule_next(c, k, now);
}

/* ------------------------------------------------------------------ */
/* Events                                                               */
/* ------------------------------------------------------------------ */

static int event_id(const ssep_event *ev, uint64_t *id)
{
    if (ev->data && json_u64(ev->data, ev->data_len, "\"id\":", 5, id) == 0)
        return 0;
    if (ev->id && parse_dec(ev->id, ev->id_len, id) == 0)
        return 0;
    return -1;
}

static void track_id(struct client *c, const ssep_event *ev)
{
    uint64_t id;

    /* the origin's events are "message"s; a proxy's own named events
     * (such as the policy's "sse-proxy" hint) carry no sequence */
    if (ev->type && (ev->type_len != 7 || memcmp(ev->type, "message", 7)))
        return;
    if (event_id(ev, &id) < 0)
        return;
    /* the first sequence event after a break closes it: resumed if the
     * request asked for what followed the last event seen */
    if (!c->got_seq) {
        c->got_seq = 1;
        if (c->broken) {
            c->broken = 0;
            if (c->sent_lei)
                st.resumes++;
            else
                st.resumes_without_id++;
        }
    }
    if (c->have_id && id <= c->last_id) {
        st.duplicates++;
        return;
    }
    if (c->have_id && id > c->last_id + 1) {
        st.gaps++;
        st.lost += id - c->last_id - 1;
    }
    c->last_id = id;
    c->have_id = 1;
}

static void on_event(struct client *c, const ssep_event *ev)
{
    int64_t now = mono_ns();
    uint64_t t;

    st.events_total++;
    st.sec_events++;
    if (!c->got_event) {
        c->got_event = 1;
        hist_add(&st.first_event, (uint64_t)(now - c->conn_start));
    }
    track_id(c, ev);
    /* No id at all means this connection's parser never saw one; a browser
     * starts each connection's buffer from the string, so it stays. */
    if (ev->id)
        set_lei(c, ev->id, ev->id_len);
    if (!in_window(now))
        return;
    st.events++;
    if (!ev->data || json_u64(ev->data, ev->data_len, "\"t\":", 4, &t) < 0) {
        st.no_timestamp++;
        return;
    }
    if ((int64_t)t > now) {
        st.negative_latency++;
        return;
    }
    hist_add(&st.latency, (uint64_t)(now - (int64_t)t));
}

/* Returns -1 when the connection ended. */
static int sse_input(struct client *c, const char *p, size_t n, int64_t now)
{
    st.bytes_total += n;
    if (in_window(now))
        st.bytes += n;
    while (n > 0) {
        ssep_event ev;
        size_t used = 0;
        int rc = ssep_parser_feed(c->parser, p, n, &used, &ev);

        if (rc < 0) {
            conn_end(c, END_BAD, now);
            return -1;
        }
        p += used;
        n -= used;
        if (rc == SSEP_PARSE_EVENT)
            on_event(c, &ev);
    }
    return 0;
}

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
        h = hexval(ch);
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

static int body_input(struct client *c, const char *p, size_t n, int64_t now)
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
    span_trim(&v, &n);
    return span_ieq(v, n, "text/event-stream");
}

/* Only the last coding decides whether the body is chunked. */
static int last_coding_chunked(const char *v, size_t n)
{
    const char *comma = memrchr(v, ',', n);

    if (comma) {
        n -= (size_t)(comma + 1 - v);
        v = comma + 1;
    }
    span_trim(&v, &n);
    return span_ieq(v, n, "chunked");
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
    span_trim(&v, &vlen);
    if (span_ieq(line, name_len, "content-type")) {
        c->is_sse = is_event_stream(v, vlen);
    } else if (span_ieq(line, name_len, "transfer-encoding")) {
        hi->have_te = 1;
        hi->chunked = last_coding_chunked(v, vlen);
    } else if (span_ieq(line, name_len, "content-length")) {
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
static int head_input(struct client *c, const char *p, size_t n, int64_t now)
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

/* ------------------------------------------------------------------ */
/* Socket events                                                        */
/* ------------------------------------------------------------------ */

static void on_connected(struct client *c, int64_t now)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err) {
        conn_end(c, errno_kind(err), now);
        return;
    }
    c->state = ST_SENDING;
}

static void send_request(struct client *c, int64_t now)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                         MSG_NOSIGNAL);

        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        conn_end(c, n < 0 ? errno_kind(errno) : END_OTHER, now);
        return;
    }
    free(c->out);
    c->out = NULL;
    st.requests++;
    st.sec_requests++;
    c->state = ST_HEAD;
    if (set_interest(c, EPOLLIN, EPOLL_CTL_MOD) < 0)
        conn_end(c, END_OTHER, now);
}

static void on_eof(struct client *c, int64_t now)
{
    if (c->state == ST_HEAD) {
        conn_end(c, c->got_byte ? END_BAD : END_EMPTY, now);
        return;
    }
    conn_end(c, c->framing == FR_CLOSE ? END_CLEAN : END_EOF_MID, now);
}

static void defer_read(struct client *c)
{
    if (c->deferred)
        return;
    c->deferred = 1;
    g.defer[g.defer_fill][g.ndefer[g.defer_fill]++] = c->idx;
}

/* Returns -1 when the connection ended. */
static int input(struct client *c, size_t n, int64_t now)
{
    st.wire_bytes += n;
    if (!c->got_byte) {
        c->got_byte = 1;
        hist_add(&st.first_byte, (uint64_t)(now - c->conn_start));
    }
    if (c->state == ST_HEAD)
        return head_input(c, rbuf, n, now);
    return body_input(c, rbuf, n, now);
}

/* Edge-triggered: the socket is reported again only for new input, so it
 * is read until a short read, except that a full buffer defers the rest to
 * the next turn and lets the other sockets have theirs. */
static void on_readable(struct client *c, int64_t now)
{
    for (;;) {
        ssize_t n = read(c->fd, rbuf, sizeof(rbuf));

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                conn_end(c, errno_kind(errno), now);
            return;
        }
        if (n == 0) {
            on_eof(c, now);
            return;
        }
        if (input(c, (size_t)n, now) < 0)
            return;
        if ((size_t)n == sizeof(rbuf)) {
            defer_read(c);
            return;
        }
        /* data and FIN may come in one edge: the EOF must still be read */
        if (!c->hup)
            return;
    }
}

/* The sockets deferred last turn; those that fill the buffer again go to
 * the other list, for the turn after. */
static void run_deferred(int64_t now)
{
    int cur = g.defer_fill;
    size_t i, n = g.ndefer[cur];

    g.defer_fill = !cur;
    for (i = 0; i < n; i++) {
        struct client *c = &g.clients[g.defer[cur][i]];

        /* the socket may since have been closed, even replaced: a read
         * that finds nothing is harmless */
        c->deferred = 0;
        if (c->fd >= 0 && (c->state == ST_HEAD || c->state == ST_BODY))
            on_readable(c, now);
    }
    g.ndefer[cur] = 0;
}

static void on_socket(uint64_t key, uint32_t events, int64_t now)
{
    uint32_t idx = (uint32_t)key, gen = (uint32_t)(key >> 32);
    struct client *c;

    if (idx >= cfg.streams)
        return;
    c = &g.clients[idx];
    if (c->gen != gen || c->fd < 0)
        return;
    switch (c->state) {
    case ST_CONNECTING:
        on_connected(c, now);
        if (c->state == ST_SENDING)
            send_request(c, now);
        break;
    case ST_SENDING:
        send_request(c, now);
        break;
    case ST_HEAD:
    case ST_BODY:
        if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            c->hup = 1;
        if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))
            on_readable(c, now);
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------------ */
/* Schedule: pacing, timers, seconds                                    */
/* ------------------------------------------------------------------ */

static void window_begin(void)
{
    g.window_open = 1;
    getrusage(RUSAGE_SELF, &g.ru_window);
}

static void ramp_done(int64_t now)
{
    g.ramp_end = now;
    g.window_start = now + (int64_t)(cfg.warmup_s * (double)NS_PER_S);
    g.end_at = g.window_start + (int64_t)(cfg.duration_s * (double)NS_PER_S);
}

/* Connects cost tens of microseconds each, so a burst is started a slice
 * per loop turn: the first connections send their requests while the rest
 * are still being opened, instead of all waiting for the whole burst. */
static void pace(int64_t now)
{
    int budget = TURN_STARTS;

    if (g.qlen == 0)
        return;
    /* An idle spell earns at most a short burst, never a stampede. */
    if (g.pace_next < now - PACE_BURST_NS)
        g.pace_next = now - PACE_BURST_NS;
    while (g.qlen && g.pace_next <= now && budget-- > 0) {
        struct client *c = dequeue();

        g.pace_next += g.pace_interval;
        if (!c->started) {
            c->started = 1;
            g.initial_started++;
        }
        client_connect(c);
        if (g.initial_started == cfg.streams && !g.ramp_end)
            ramp_done(mono_ns());
    }
}

static void on_timer(struct client *c, int64_t now)
{
    switch (c->state) {
    case ST_WAIT:
        c->state = ST_IDLE;
        if (cfg.pace_reconnects)
            enqueue(c);
        else
            client_connect(c);
        break;
    case ST_CONNECTING:
    case ST_SENDING:
    case ST_HEAD:
        conn_end(c, END_TIMEOUT, now);
        break;
    default:
        break;
    }
}

/* Sliced like pace(), which also keeps a zero reconnection time meeting an
 * instant failure from spinning here. */
static void run_timers(int64_t now)
{
    int budget = TURN_STARTS;

    while (budget-- > 0 && g.heap_len && g.heap[0]->deadline <= now) {
        struct client *c = g.heap[0];

        timer_clear(c);
        on_timer(c, now);
    }
}

static void progress(void)
{
    fprintf(stderr, "sse-load: t=%" PRIu64 "s open=%" PRIu64 " streaming=%"
            PRIu64 " events=%" PRIu64 " requests=%" PRIu64 " connects=%"
            PRIu64 "\n", g.tick_no, g.open, g.streaming, st.events_total,
            st.requests, st.connects);
}

static void tick(int64_t now)
{
    while (now >= g.next_tick) {
        g.tick_no++;
        if (g.timeline)
            fprintf(g.timeline, "%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                    ",%" PRIu64 ",%" PRIu64 "\n", g.tick_no, g.open,
                    g.streaming, st.sec_requests, st.sec_events,
                    st.sec_conn_errors);
        if (st.sec_requests > st.peak_requests)
            st.peak_requests = st.sec_requests;
        st.sec_requests = st.sec_events = st.sec_conn_errors = 0;
        g.next_tick += NS_PER_S;
        if (!cfg.quiet && g.tick_no % PROGRESS_S == 0)
            progress();
    }
}

static int next_timeout(int64_t now)
{
    int64_t t = g.next_tick;

    if (g.ndefer[g.defer_fill])
        return 0;
    if (g.heap_len && g.heap[0]->deadline < t)
        t = g.heap[0]->deadline;
    if (g.qlen && g.pace_next < t)
        t = g.pace_next;
    if (g.end_at < t)
        t = g.end_at;
    if (!g.window_open && g.window_start < t)
        t = g.window_start;
    if (t <= now)
        return 0;
    return (int)((t - now + NS_PER_MS - 1) / NS_PER_MS);
}

static void run(void)
{
    static struct epoll_event evs[EPOLL_BATCH];

    while (!stop_requested) {
        int64_t now = mono_ns();
        int n, i;

        if (now >= g.end_at)
            break;
        if (!g.window_open && now >= g.window_start)
            window_begin();
        tick(now);
        pace(now);
        run_timers(now);
        n = epoll_wait(g.epfd, evs, EPOLL_BATCH, next_timeout(mono_ns()));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("sse-load: epoll_wait");
            break;
        }
        now = mono_ns();
        for (i = 0; i < n; i++)
            on_socket(evs[i].data.u64, evs[i].events, now);
        run_deferred(now);
    }
}

/* ------------------------------------------------------------------ */
/* Output                                                               */
/* ------------------------------------------------------------------ */

static void json_hist_us(FILE *f, const char *name, const struct hist *h)
{
    if (h->count == 0) {
        fprintf(f, "\"%s\":{\"count\":0,\"mean\":null,\"min\":null,\"p50\":null,"
                "\"p90\":null,\"p99\":null,\"p999\":null,\"max\":null}", name);
        return;
    }
    fprintf(f, "\"%s\":{\"count\":%" PRIu64 ",\"mean\":%.1f,\"min\":%.1f,"
            "\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f}",
            name, h->count, h->sum / (double)h->count / 1e3,
            (double)h->min / 1e3, hist_quantile(h, 0.5) / 1e3,
            hist_quantile(h, 0.9) / 1e3, hist_quantile(h, 0.99) / 1e3,
            hist_quantile(h, 0.999) / 1e3, (double)h->max / 1e3);
}

static void json_hist_ms(FILE *f, const char *name, const struct hist *h)
{
    if (h->count == 0) {
        fprintf(f, "\"%s\":{\"count\":0,\"p50\":null,\"p99\":null,"
                "\"max\":null}", name);
        return;
    }
    fprintf(f, "\"%s\":{\"count\":%" PRIu64 ",\"p50\":%.3f,\"p99\":%.3f,"
            "\"max\":%.3f}", name, h->count, hist_quantile(h, 0.5) / 1e6,
            hist_quantile(h, 0.99) / 1e6, (double)h->max / 1e6);
}

static void json_statuses(FILE *f)
{
    int s, first = 1;

    fputs("\"responses_by_status\":{", f);
    for (s = 0; s < MAX_STATUS; s++) {
        if (!st.responses[s])
            continue;
        fprintf(f, "%s\"%d\":%" PRIu64, first ? "" : ",", s, st.responses[s]);
        first = 0;
    }
    fputs("},", f);
}

struct summary {
    double wall_s, ramp_s, window_s;
    double user_s, sys_s, win_user_s, win_sys_s;
    uint64_t open_at_end, streaming_at_end, breaks_pending;
};

static void json_escaped(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;

        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void write_json(FILE *f, const struct summary *s)
{
    double window = s->window_s > 0 ? s->window_s : 0;

    fprintf(f, "{\"mode\":\"%s\",\"host\":", mode_names[cfg.mode]);
    json_escaped(f, cfg.host);
    fprintf(f, ",\"port\":%u,\"path\":", cfg.port);
    json_escaped(f, cfg.path);
    fprintf(f, ",\"streams_requested\":%" PRIu32 ",\"streams_established\":%"
            PRIu64 ",\"streams_open_at_end\":%" PRIu64 ",\"connects\":%" PRIu64
            ",\"requests_sent\":%" PRIu64 ",\"peak_requests_per_sec\":%" PRIu64
            ",", cfg.streams, g.established, s->open_at_end, st.connects,
            st.requests, st.peak_requests);
    json_statuses(f);
    fprintf(f, "\"events\":%" PRIu64 ",\"events_total\":%" PRIu64
            ",\"bytes\":%" PRIu64 ",\"bytes_total\":%" PRIu64
            ",\"wire_bytes\":%" PRIu64 ",\"events_per_sec\":%.1f,",
            st.events, st.events_total, st.bytes, st.bytes_total,
            st.wire_bytes, window > 0 ? (double)st.events / window : 0.0);
    json_hist_us(f, "latency_us", &st.latency);
    fputc(',', f);
    json_hist_ms(f, "first_byte_ms", &st.first_byte);
    fputc(',', f);
    json_hist_ms(f, "first_event_ms", &st.first_event);
    fprintf(f, ",\"errors\":{\"connect_refused\":%" PRIu64 ",\"reset\":%" PRIu64
            ",\"timeout\":%" PRIu64 ",\"eof_mid_stream\":%" PRIu64
            ",\"empty_reply\":%" PRIu64 ",\"bad_response\":%" PRIu64
            ",\"other\":%" PRIu64 "},", st.refused, st.reset, st.timeout,
            st.eof_mid, st.empty, st.bad, st.other);
    fprintf(f, "\"eventsource\":{\"failed_for_good\":%" PRIu64
            ",\"stopped_204\":%" PRIu64 ",\"reconnects\":%" PRIu64
            ",\"reconnect_interval_ms_mean\":", st.failed_for_good,
            st.stopped_204, st.reconnects);
    if (st.reconnects)
        fprintf(f, "%.1f", st.reconnect_ms_sum / (double)st.reconnects);
    else
        fputs("null", f);
    fprintf(f, ",\"clients_streaming_at_end\":%" PRIu64 ",\"breaks\":%" PRIu64
            ",\"resumes\":%" PRIu64 ",\"resumes_without_id\":%" PRIu64
            ",\"breaks_pending_at_end\":%" PRIu64 "},", s->streaming_at_end,
            st.breaks, st.resumes, st.resumes_without_id, s->breaks_pending);
    fprintf(f, "\"duplicates\":%" PRIu64 ",\"gaps\":%" PRIu64
            ",\"lost_events\":%" PRIu64 ",\"events_without_timestamp\":%" PRIu64
            ",\"negative_latency\":%" PRIu64 ",\"ends_clean\":%" PRIu64 ",",
            st.duplicates, st.gaps, st.lost, st.no_timestamp,
            st.negative_latency, st.ends_clean);
    fprintf(f, "\"ramp_s\":%.3f,\"warmup_s\":%.3f,\"window_s\":%.3f,"
            "\"wall_s\":%.3f,\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,"
            "\"cpu_window_user_s\":%.3f,\"cpu_window_sys_s\":%.3f}\n",
            s->ramp_s, cfg.warmup_s, window, s->wall_s, s->user_s, s->sys_s,
            s->win_user_s, s->win_sys_s);
}

static void write_human(const struct summary *s)
{
    const struct hist *l = &st.latency;
    double window = s->window_s > 0 ? s->window_s : 0;

    fprintf(stderr, "sse-load: mode=%s streams=%" PRIu32 " established=%" PRIu64
            " open_at_end=%" PRIu64 " streaming_at_end=%" PRIu64 "\n",
            mode_names[cfg.mode], cfg.streams, g.established, s->open_at_end,
            s->streaming_at_end);
    fprintf(stderr, "  window %.2f s: %" PRIu64 " events (%.0f/s), %" PRIu64
            " bytes; %" PRIu64 " events in all\n", window, st.events,
            window > 0 ? (double)st.events / window : 0.0, st.bytes,
            st.events_total);
    fprintf(stderr, "  latency us: p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f "
            "max %.1f mean %.1f (n=%" PRIu64 ")\n",
            hist_quantile(l, 0.5) / 1e3, hist_quantile(l, 0.9) / 1e3,
            hist_quantile(l, 0.99) / 1e3, hist_quantile(l, 0.999) / 1e3,
            (double)l->max / 1e3,
            l->count ? l->sum / (double)l->count / 1e3 : 0.0, l->count);
    fprintf(stderr, "  first byte ms: p50 %.2f p99 %.2f; first event ms: "
            "p50 %.2f p99 %.2f\n", hist_quantile(&st.first_byte, 0.5) / 1e6,
            hist_quantile(&st.first_byte, 0.99) / 1e6,
            hist_quantile(&st.first_event, 0.5) / 1e6,
            hist_quantile(&st.first_event, 0.99) / 1e6);
    fprintf(stderr, "  connects %" PRIu64 " requests %" PRIu64 " (peak %" PRIu64
            "/s) reconnects %" PRIu64 " failed_for_good %" PRIu64
            " stopped_204 %" PRIu64 "\n", st.connects, st.requests,
            st.peak_requests, st.reconnects, st.failed_for_good,
            st.stopped_204);
    fprintf(stderr, "  breaks %" PRIu64 " resumed %" PRIu64 " (without "
            "Last-Event-ID %" PRIu64 ", pending at end %" PRIu64 ")\n",
            st.breaks, st.resumes, st.resumes_without_id, s->breaks_pending);
    fprintf(stderr, "  errors: refused %" PRIu64 " reset %" PRIu64 " timeout %"
            PRIu64 " eof_mid %" PRIu64 " empty %" PRIu64 " bad %" PRIu64
            " other %" PRIu64 "; duplicates %" PRIu64 " gaps %" PRIu64 "\n",
            st.refused, st.reset, st.timeout, st.eof_mid, st.empty, st.bad,
            st.other, st.duplicates, st.gaps);
    fprintf(stderr, "  cpu user %.2f s sys %.2f s (window %.2f + %.2f) over "
            "%.2f s wall\n", s->user_s, s->sys_s, s->win_user_s,
            s->win_sys_s, s->wall_s);
}

static int write_csv(const char *path)
{
    FILE *f = fopen(path, "w");
    uint64_t seen = 0;
    unsigned i;

    if (!f)
        return -1;
    fputs("lo_us,hi_us,count,cum_fraction\n", f);
    for (i = 0; i < HIST_BUCKETS; i++) {
        uint64_t lo, hi;

        if (!st.latency.n[i])
            continue;
        seen += st.latency.n[i];
        hist_bounds(i, &lo, &hi);
        fprintf(f, "%.3f,%.3f,%" PRIu64 ",%.6f\n", (double)lo / 1e3,
                (double)(hi + 1) / 1e3, st.latency.n[i],
                (double)seen / (double)st.latency.count);
    }
    return fclose(f);
}

static void summarise(struct summary *s, int64_t now)
{
    struct rusage ru;
    uint32_t i;

    memset(s, 0, sizeof(*s));
    getrusage(RUSAGE_SELF, &ru);
    s->wall_s = (double)(now - g.t0) / (double)NS_PER_S;
    s->ramp_s = g.ramp_end ? (double)(g.ramp_end - g.t0) / (double)NS_PER_S
                           : s->wall_s;
    if (g.window_open)
        s->window_s = (double)(now - g.window_start) / (double)NS_PER_S;
    s->user_s = tv_s(ru.ru_utime);
    s->sys_s = tv_s(ru.ru_stime);
    if (g.window_open) {
        s->win_user_s = s->user_s - tv_s(g.ru_window.ru_utime);
        s->win_sys_s = s->sys_s - tv_s(g.ru_window.ru_stime);
    }
    s->open_at_end = g.open;
    s->streaming_at_end = g.streaming;
    for (i = 0; i < cfg.streams; i++)
        s->breaks_pending += g.clients[i].broken;
}

/* ------------------------------------------------------------------ */
/* Start-up                                                             */
/* ------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: sse-load --port P --path PATH --streams N --duration SECONDS\n"
        "                [--host 127.0.0.1] [--mode none|eventsource|naive]\n"
        "                [--connect-rate R] [--pace-reconnects]\n"
        "                [--initial-retry-ms MS] [--naive-interval-ms MS]\n"
        "                [--timeout-ms MS] [--warmup SECONDS]\n"
        "                [--csv-latency FILE] [--timeline FILE] [--json FILE]\n"
        "                [--quiet]\n");
}

/* Accepts "--opt value" and "--opt=value". */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    const char *a = argv[*i];

    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        fprintf(stderr, "sse-load: %s needs a value\n", name);
        exit(2);
    }
    return argv[++*i];
}

static int arg_u64(const char *v, uint64_t max, uint64_t *out)
{
    return parse_dec(v, strlen(v), out) == 0 && *out <= max ? 0 : -1;
}

static int arg_double(const char *v, double min, double max, double *out)
{
    char *end;
    double d;

    errno = 0;
    d = strtod(v, &end);
    if (errno || end == v || *end || !(d >= min && d <= max))
        return -1;
    *out = d;
    return 0;
}

static int arg_mode(const char *v)
{
    int m;

    for (m = 0; m < (int)(sizeof(mode_names) / sizeof(mode_names[0])); m++)
        if (!strcmp(v, mode_names[m])) {
            cfg.mode = (enum mode)m;
            return 0;
        }
    return -1;
}

/* A request target that goes on the wire as given: origin-form, and
 * nothing that would break the request line. */
static int valid_path(const char *p)
{
    if (*p != '/')
        return 0;
    for (; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return 0;
    return 1;
}

static int parse_option(int argc, char **argv, int *i, unsigned *seen)
{
    const char *v;
    uint64_t u;

    if ((v = opt_value(argc, argv, i, "--host"))) {
        cfg.host = v;
    } else if ((v = opt_value(argc, argv, i, "--port"))) {
        if (arg_u64(v, 65535, &u) < 0 || u == 0)
            return -1;
        cfg.port = (unsigned)u;
        *seen |= 1;
    } else if ((v = opt_value(argc, argv, i, "--path"))) {
        if (!valid_path(v))
            return -1;
        cfg.path = v;
        *seen |= 2;
    } else if ((v = opt_value(argc, argv, i, "--streams"))) {
        if (arg_u64(v, 10000000, &u) < 0 || u == 0)
            return -1;
        cfg.streams = (uint32_t)u;
        *seen |= 4;
    } else if ((v = opt_value(argc, argv, i, "--duration"))) {
        if (arg_double(v, 0.001, 31536000, &cfg.duration_s) < 0)
            return -1;
        *seen |= 8;
    } else if ((v = opt_value(argc, argv, i, "--warmup"))) {
        if (arg_double(v, 0, 31536000, &cfg.warmup_s) < 0)
            return -1;
    } else if ((v = opt_value(argc, argv, i, "--mode"))) {
        if (arg_mode(v) < 0)
            return -1;
    } else if ((v = opt_value(argc, argv, i, "--connect-rate"))) {
        if (arg_double(v, 0.01, 1e7, &cfg.connect_rate) < 0)
            return -1;
    } else if ((v = opt_value(argc, argv, i, "--initial-retry-ms"))) {
        if (arg_u64(v, 86400000, &cfg.initial_retry_ms) < 0)
            return -1;
    } else if ((v = opt_value(argc, argv, i, "--naive-interval-ms"))) {
        if (arg_u64(v, 86400000, &cfg.naive_ms) < 0)
            return -1;
    } else if ((v = opt_value(argc, argv, i, "--timeout-ms"))) {
        if (arg_u64(v, 86400000, &cfg.timeout_ms) < 0 || cfg.timeout_ms == 0)
            return -1;
    } else if ((v = opt_value(argc, argv, i, "--csv-latency"))) {
        cfg.csv_path = v;
    } else if ((v = opt_value(argc, argv, i, "--timeline"))) {
        cfg.timeline_path = v;
    } else if ((v = opt_value(argc, argv, i, "--json"))) {
        cfg.json_path = v;
    } else if (!strcmp(argv[*i], "--pace-reconnects")) {
        cfg.pace_reconnects = 1;
    } else if (!strcmp(argv[*i], "--quiet")) {
        cfg.quiet = 1;
    } else {
        return -1;
    }
    return 0;
}

static void parse_args(int argc, char **argv)
{
    unsigned seen = 0;
    int i;

    cfg.host = "127.0.0.1";
    cfg.mode = MODE_NONE;
    cfg.connect_rate = 2000;
    cfg.initial_retry_ms = 3000;
    cfg.naive_ms = 1000;
    cfg.timeout_ms = 10000;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            exit(0);
        }
        if (parse_option(argc, argv, &i, &seen) < 0) {
            fprintf(stderr, "sse-load: bad argument '%s'\n", argv[i]);
            usage(stderr);
            exit(2);
        }
    }
    if (seen != 15) {
        fprintf(stderr, "sse-load: --port, --path, --streams and --duration "
                "are required\n");
        usage(stderr);
        exit(2);
    }
}

static int resolve_host(void)
{
    struct addrinfo hints, *res;
    int v6;

    memset(&hints, 0, sizeof(hints));
    hints.ai_flags = AI_NUMERICHOST;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(cfg.host, NULL, &hints, &res) != 0)
        return -1;
    memcpy(&g.addr, res->ai_addr, res->ai_addrlen);
    g.addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    v6 = g.addr.ss_family == AF_INET6;
    if (v6)
        ((struct sockaddr_in6 *)&g.addr)->sin6_port = htons((uint16_t)cfg.port);
    else
        ((struct sockaddr_in *)&g.addr)->sin_port = htons((uint16_t)cfg.port);
    snprintf(g.host_hdr, sizeof(g.host_hdr), v6 ? "[%s]:%u" : "%s:%u",
             cfg.host, cfg.port);
    return 0;
}

/* One descriptor per stream: the soft limit goes to the hard one, and a
 * run that still cannot fit is refused up front rather than half-run. */
static int raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -1;
    if (rl.rlim_cur != rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
            /* the kernel refuses an unlimited value above nr_open */
            rl.rlim_cur = 1048576;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY
        && (uint64_t)cfg.streams + FD_SLACK > (uint64_t)rl.rlim_cur) {
        fprintf(stderr, "sse-load: %" PRIu32 " streams need %" PRIu32
                " descriptors, the limit is %llu\n", cfg.streams,
                cfg.streams + FD_SLACK, (unsigned long long)rl.rlim_cur);
        return -1;
    }
    return 0;
}

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* No SA_RESTART, so that a signal wakes epoll_wait at once. */
static void setup_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

static int setup_clients(void)
{
    uint32_t i;

    g.clients = calloc(cfg.streams, sizeof(*g.clients));
    g.heap = calloc(cfg.streams, sizeof(*g.heap));
    g.queue = calloc(cfg.streams, sizeof(*g.queue));
    g.defer[0] = calloc(cfg.streams, sizeof(*g.defer[0]));
    g.defer[1] = calloc(cfg.streams, sizeof(*g.defer[1]));
    if (!g.clients || !g.heap || !g.queue || !g.defer[0] || !g.defer[1])
        return -1;
    ssep_parser_limits_init(&g.limits);
    g.limits.collect = 1;
    for (i = 0; i < cfg.streams; i++) {
        struct client *c = &g.clients[i];

        c->idx = i;
        c->fd = -1;
        c->heap_idx = NO_TIMER;
        c->retry_ms = -1;
        enqueue(c);
    }
    return 0;
}

static void teardown(void)
{
    uint32_t i;

    for (i = 0; g.clients && i < cfg.streams; i++) {
        conn_release(&g.clients[i]);
        free(g.clients[i].lei);
    }
    free(g.clients);
    free(g.heap);
    free(g.queue);
    free(g.defer[0]);
    free(g.defer[1]);
    if (g.epfd >= 0)
        close(g.epfd);
}

static int open_outputs(void)
{
    if (cfg.timeline_path) {
        g.timeline = fopen(cfg.timeline_path, "w");
        if (!g.timeline) {
            perror(cfg.timeline_path);
            return -1;
        }
        fputs("t_s,streams_open,clients_streaming,requests_sent_in_second,"
              "events_in_second,connect_errors_in_second\n", g.timeline);
    }
    if (cfg.json_path) {
        g.json = fopen(cfg.json_path, "w");
        if (!g.json) {
            perror(cfg.json_path);
            return -1;
        }
    }
    return 0;
}

static int finish(void)
{
    struct summary s;
    int rc = 0;

    summarise(&s, mono_ns());
    write_human(&s);
    if (!cfg.quiet)
        write_json(stdout, &s);
    if (g.json) {
        write_json(g.json, &s);
        if (fclose(g.json) != 0) {
            perror(cfg.json_path);
            rc = 1;
        }
    }
    if (g.timeline && fclose(g.timeline) != 0) {
        perror(cfg.timeline_path);
        rc = 1;
    }
    if (cfg.csv_path && write_csv(cfg.csv_path) != 0) {
        perror(cfg.csv_path);
        rc = 1;
    }
    return rc;
}

int main(int argc, char **argv)
{
    int rc;

    g.epfd = -1;
    parse_args(argc, argv);
    if (resolve_host() < 0) {
        fprintf(stderr, "sse-load: --host must be a numeric address\n");
        return 2;
    }
    if (raise_nofile() < 0)
        return 2;
    setup_signals();
    g.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (g.epfd < 0 || setup_clients() < 0) {
        fprintf(stderr, "sse-load: out of resources at start-up\n");
        teardown();
        return 1;
    }
    if (open_outputs() < 0) {
        teardown();
        return 1;
    }
    g.pace_interval = (int64_t)((double)NS_PER_S / cfg.connect_rate);
    if (g.pace_interval < 1)
        g.pace_interval = 1;
    g.window_start = g.end_at = INT64_MAX;
    g.t0 = mono_ns();
    g.pace_next = g.t0;
    g.next_tick = g.t0 + NS_PER_S;

    run();

    rc = finish();
    teardown();
    return rc;
}
