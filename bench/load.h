/* Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0 */

/*
 * sse-load's shared state: the options (cfg), the run (g: sockets, queues,
 * timers, clients) and the counters that the report prints (st).  One
 * thread owns them all; sse_load.c defines them.
 */
#ifndef LOAD_H
#define LOAD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "ssepolicy.h"
#include "sse_netutil.h"
#include "load_hist.h"

#define NS_PER_US     ((int64_t)1000)
#define NS_PER_MS     ((int64_t)1000000)
#define NS_PER_S      SSE_NS_PER_S
#define MAX_STATUS    600

enum mode { MODE_NONE, MODE_EVENTSOURCE, MODE_NAIVE, MODE_COUNT };

extern const char *const mode_names[MODE_COUNT];

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

struct client {
    uint32_t idx;
    uint32_t gen;           /* bumped per connection: stale epoll events are dropped */
    int fd;
    enum cstate state;
    struct sse_timer timer;
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

struct load_config {
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
    /* --source-base: client i connects from this IPv4 address plus i
     * (host order), so that a proxy sees one address per client; 0: the
     * kernel's choice */
    uint32_t source_base;
};

struct load_state {
    int epfd;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char host_hdr[96];
    struct client *clients;
    struct sse_timers timers;
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
};

struct load_stats {
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
};

extern struct load_config cfg;
extern struct load_state g;
extern struct load_stats st;

/* Numbers in responses, events and options: at most 19 digits, so the
 * value always fits. */
static inline int parse_dec(const char *p, size_t n, uint64_t *out)
{
    return n > 19 ? -1 : sse_parse_u64(p, n, out);
}

#endif
