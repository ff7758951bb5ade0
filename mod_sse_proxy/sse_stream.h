/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* One stream request: what the handler, the relay and the asynchronous
 * continuation share, kept in r->request_config. */
#ifndef SSE_STREAM_H
#define SSE_STREAM_H

#include "httpd.h"
#include "mod_proxy.h"

#include "sse_config.h"
#include "sse_relay.h"

typedef struct sse_stream {
    request_rec        *r;
    const sse_dir_conf *dconf;
    proxy_worker       *worker;      /* the member tried last */
    struct sse_reqbody *body;        /* NULL: the request has none */
    int                 body_read;   /* prefetched (once per request) */
    /* Set by the asynchronous handler: the relay may continue without
     * this thread once the backend has nothing more to say. */
    int                 may_suspend;
    /* Non-NULL once the relay was handed over (the backend connection
     * stays acquired until the stream ends). */
    sse_relay          *relay;
    sse_relay_state     state;       /* what its last step returned */
    /* Its relay ended; what the client has not taken yet may still wait
     * for the client before the request is finished. */
    int                 closing;
    proxy_conn_rec     *backend;
    const char         *scheme;
    int                 is_event_stream;
    sse_relay_result    result;
    struct sse_ws      *ws;          /* a WebSocket handshake was accepted */
    struct sse_waiter  *waiter;      /* while it waits without a thread */
    int                 armed;       /* handed to the watcher once */
    /* The thread that suspended the connection, and its job count then:
     * the connection's memory is freed only once that count moved. */
    struct sse_thread_mark *suspender;
    apr_uint32_t        suspender_jobs;
    /* Resuming after the backend broke off (SSEProxyResume): since when
     * this stream's breaks share one window, tries in it, and the class
     * of the break that scales the wait between tries. */
    apr_time_t          resume_since;
    apr_uint32_t        resume_tries;
    int                 resume_class;
    apr_int64_t         resume_delay;
    apr_uint64_t        resume_rng;
    const char         *resume_url;  /* the route's URL, member not picked */
    /* Shared streams: the channel this request founded (its backend
     * stream feeds it), or its place in another's; joined once. */
    struct sse_channel *channel;
    struct sse_feed    *feed;
    int                 share_tried;
} sse_stream;

/* Counts a stream request once, however many members it is tried on
 * (or none: a shared stream's follower). */
void sse_stream_count(request_rec *r);

/* The stream state of r, created on first use. */
sse_stream *sse_stream_of(request_rec *r);

/* Starts relaying an answer the policy accepted: the head, the stream
 * headers, the counters, and the WebSocket framing if one was accepted. */
sse_relay *sse_stream_open(sse_stream *st, const sse_response *resp);

/* Relays the answer in this thread, or up to the point where the stream
 * has nothing more to say when it may continue without the thread.
 * Returns 1 when the relay was handed over. */
int sse_stream_relay(sse_stream *st, const sse_response *resp);

/* Ends the relay rl of st: settles the member's state and the counters,
 * ends the client's response (with when to come back if the stream broke
 * off) and notes the outcome for the access log. */
void sse_stream_close(sse_stream *st, sse_relay *rl);

/* Ends a handed-over stream: settles the relay and its member's state,
 * ends the client's response cleanly and releases the backend
 * connection.  The request itself is left to the caller to finish. */
void sse_stream_complete(sse_stream *st);

#endif
