/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* Counters of the whole server, in shared memory so that every child
 * adds to the same numbers (what the status handler shows). */
#ifndef SSE_STATS_H
#define SSE_STATS_H

#include "apr.h"
#include "apr_time.h"

#include "ssepolicy.h"
#include "sse_latency.h"
#include "sse_relay.h"

typedef enum {
    SSE_ANSWER_RETRY = 0,      /* 200 text/event-stream with retry: */
    SSE_ANSWER_NO_CONTENT,     /* 204: every member gave up */
    SSE_ANSWER_UNAVAILABLE,    /* 503 + Retry-After */
    SSE_ANSWER_KINDS
} sse_answer_kind;

#define SSE_END_REASONS (SSE_END_SHUTDOWN + 1)

typedef struct {
    apr_time_t   started;              /* when the parent created them */
    apr_uint64_t stream_requests;      /* GET/HEAD on SSE routes */
    apr_uint64_t streams_established;  /* that got a backend 200 stream */
    apr_int64_t  streams_open;
    /* Where open streams are (gauges): waiting without a thread for a
     * socket or a deadline, ready in a queue for a worker, being relayed
     * on a worker thread; and those whose output is set aside because
     * their client's socket is full (any of the above). */
    apr_int64_t  streams_waiting;
    apr_int64_t  streams_queued;
    apr_int64_t  streams_relaying;
    apr_int64_t  streams_held;
    apr_uint64_t events;
    apr_uint64_t bytes;
    apr_uint64_t heartbeats;
    apr_uint64_t errors[SSEP_CLASS_COUNT];
    apr_uint64_t ends[SSE_END_REASONS];
    apr_uint64_t answers[SSE_ANSWER_KINDS];
    apr_uint64_t first_event_us;       /* sum: request start -> 1st event */
    apr_uint64_t first_events;         /* streams that had a first event */
    sse_latency_hist event_latency;    /* what the relay adds per event */
    /* The fleet store (SSEProxyStateCache), as this node sees it: one
     * child at a time (the leader, by lease) syncs member state. */
    apr_uint32_t fleet_state;          /* sse_fleet_state */
    apr_uint32_t fleet_leader;         /* pid of the syncing child */
    apr_time_t   fleet_lease;          /* until when it syncs */
    apr_time_t   fleet_synced;         /* the last complete sync */
    apr_time_t   fleet_down_since;     /* when it was last found unreachable */
    apr_uint64_t fleet_pulled;         /* member states taken from others */
    apr_uint64_t fleet_pushed;         /* member states written */
    apr_uint64_t fleet_errors;         /* store calls that failed */
    apr_uint64_t fleet_skipped;        /* request lookups not waited for */
    /* Streams whose backend broke off and that the proxy continued on
     * another connection (SSEProxyResume): breaks it tried to resume,
     * breaks resumed, breaks it gave up on (the client got the end). */
    apr_uint64_t resumes_attempted;
    apr_uint64_t resumes_succeeded;
    apr_uint64_t resumes_given_up;
    /* Shared streams (SSEProxyShare): channels open now and the clients
     * they serve besides their founder's (gauges); joins served from a
     * ring's replay; channels continued on another member; followers
     * dropped for falling behind the ring. */
    apr_int64_t  shared_streams;
    apr_int64_t  shared_clients;
    apr_uint64_t shared_replays;
    apr_uint64_t shared_failovers;
    apr_uint64_t shared_dropped;
} sse_counters;

/* The shared counters, or NULL before post_config. */
sse_counters *sse_stats(void);

#define SSE_STAT_ADD(field, n) \
    do { \
        sse_counters *sse_c_ = sse_stats(); \
        if (sse_c_) \
            __atomic_fetch_add(&sse_c_->field, (n), __ATOMIC_RELAXED); \
    } while (0)

#define SSE_STAT_GET(c, field) __atomic_load_n(&(c)->field, __ATOMIC_RELAXED)

#endif
