/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* The relay loop: backend body -> client, cut into events. */
#ifndef SSE_RELAY_H
#define SSE_RELAY_H

#include "httpd.h"
#include "mod_proxy.h"

#include "sse_backend.h"
#include "sse_config.h"

typedef enum {
    SSE_END_NONE = 0,
    SSE_END_BACKEND,    /* the backend ended the body as its framing says */
    SSE_END_CLIENT,     /* the client went away */
    SSE_END_IDLE,       /* SSEProxyIdleTimeout */
    SSE_END_OVERSIZE,   /* SSEProxyMaxEventSize */
    SSE_END_PREMATURE,  /* the backend broke off mid-body or mid-event */
    SSE_END_ERROR,      /* a read error or malformed framing */
    SSE_END_SHUTDOWN    /* httpd is stopping or restarting gracefully */
} sse_end_reason;

const char *sse_end_name(sse_end_reason why);

/* A stopping or gracefully restarting child must not wait for streams
 * that could last for hours: they end, cleanly, with a retry: hint. */
int sse_mpm_stopping(void);

typedef struct {
    apr_uint64_t   events;
    apr_uint64_t   bytes;
    apr_uint64_t   heartbeats;
    sse_end_reason end;
    apr_status_t   backend_error;  /* the read error with SSE_END_ERROR */
} sse_relay_result;

typedef struct sse_relay sse_relay;

/* Prepares the relay of resp's body to r (allocated from r->pool).
 * initial_retry_ms >= 0 starts an event stream with that retry: line. */
sse_relay *sse_relay_create(request_rec *r, proxy_conn_rec *backend,
                            const sse_dir_conf *conf,
                            const sse_response *resp,
                            apr_int64_t initial_retry_ms);

/* How a relay continues a stream whose backend broke off between
 * events, once it had carried an id: (SSEProxyResume).  The relay knows
 * nothing of members: whoever owns the stream's backend side supplies
 * these, so that a stream served to several clients can use the same
 * relay logic. */
#define SSE_RESUME_LATER      0   /* not yet: try again at *next */
#define SSE_RESUME_DONE       1   /* *backend answered 200 text/event-stream */
#define SSE_RESUME_GIVE_UP  (-1)  /* the stream ends as it broke off */
#define SSE_RESUME_CLIENT_GONE (-2)
typedef struct {
    /* The backend broke off (why, err) with last_id the last event id
     * the client got.  Returns when to try another connection, or 0
     * when the stream must end instead.  Nothing of the relay points
     * into the old connection any more: a non-zero answer releases it. */
    apr_time_t (*broke)(void *baton, sse_end_reason why, apr_status_t err,
                        const char *last_id);
    /* Tries one connection asking for the events after last_id. */
    int (*attempt)(void *baton, const char *last_id,
                   proxy_conn_rec **backend, sse_response *resp,
                   apr_time_t *next);
} sse_relay_resumer;

/* Lets rl continue on another connection when its backend breaks off.
 * After a resume, replayed events (up to the last id the client got) are
 * dropped: see the relay's skip rule. */
void sse_relay_resumable(sse_relay *rl, const sse_relay_resumer *how,
                         void *baton);

/* Shared streams (sse_channel.h).  A founder's relay also writes each
 * event it reads into ch, reads its backend at the backend's pace, and
 * goes on without its client (dropped once it owes more than backlog
 * bytes) while ch has followers, and for grace after the last left. */
struct sse_channel;
struct sse_feed;
void sse_relay_publish(sse_relay *rl, struct sse_channel *ch,
                       apr_interval_time_t grace, apr_off_t backlog);
/* A follower's relay (created without a backend) reads ch's events. */
void sse_relay_feed(sse_relay *rl, struct sse_feed *feed);

/* Serves the event stream to a WebSocket client instead (before
 * sse_relay_begin): the 101, frames, pings. */
struct sse_ws;
void sse_relay_websocket(sse_relay *rl, struct sse_ws *ws);

/* Sends the response head already copied to r, then relays the body
 * until it ends, the client leaves or a limit is hit, waiting in this
 * thread; then sse_relay_end(). */
void sse_relay_run(sse_relay *rl, sse_relay_result *res);

/* The same relay in steps, for a stream that waits without a thread.
 * A step never waits: it returns
 *   WAITING  nothing to do until the backend or the client socket is
 *            readable or the deadline passes;
 *   WRITING  output is set aside because the client's socket is full:
 *            nothing to do until it is writable (the backend is not read
 *            meanwhile) or the deadline (Timeout) passes;
 *   MORE     the turn's slice is used up and the backend has more: the
 *            stream is ready at once, after the streams ahead of it;
 *   DONE     the stream is over (then sse_relay_end()). */
typedef enum {
    SSE_RELAY_WAITING,
    SSE_RELAY_WRITING,
    SSE_RELAY_MORE,
    SSE_RELAY_DONE
} sse_relay_state;

/* Sends the head (and the initial retry: line). */
sse_relay_state sse_relay_begin(sse_relay *rl, sse_relay_result *res);
/* Relays a slice of what the backend has ready, without blocking. */
sse_relay_state sse_relay_pump(sse_relay *rl);
/* After a wait: writes what waits for the client, checks the client,
 * httpd's state, idle and heartbeat deadlines, then pumps. */
sse_relay_state sse_relay_wake(sse_relay *rl, int backend_ready,
                               int client_ready, int client_writable);
/* Whether a turn may run on the stream watcher's own thread: a plain
 * relay (no channel, WebSocket or resume in progress) whose writes never
 * block, whose client takes what it is given, and whose last turn was
 * light (a few KiB). */
int sse_relay_may_run_on_watcher(const sse_relay *rl);
/* sse_relay_wake() for a stream whose backend is readable, on a thread
 * that must not wait: a slice of 8 KiB, and a break of the backend is not
 * followed up but answered MORE; a worker's next sse_relay_wake() goes on
 * from there.  DONE is ended by a worker too (sse_relay_end() may wait). */
sse_relay_state sse_relay_wake_on_watcher(sse_relay *rl);
/* The next heartbeat or idle deadline (0: none); while output waits for
 * the client, when the client will have drained nothing for Timeout. */
apr_time_t sse_relay_deadline(const sse_relay *rl);
/* Only event streams wait without a thread; plain answers are short. */
int sse_relay_suspendable(const sse_relay *rl);
/* NULL while a broken stream waits to resume: no backend to watch. */
apr_socket_t *sse_relay_backend_socket(const sse_relay *rl);
/* NULL when the client's socket cannot tell (HTTP/2, or it sent data). */
apr_socket_t *sse_relay_client_socket(const sse_relay *rl);
/* The client's socket, to wait until it is writable (WRITING). */
apr_socket_t *sse_relay_write_socket(const sse_relay *rl);

/* Goes on in this thread from a step that returned state until DONE. */
void sse_relay_follow(sse_relay *rl, sse_relay_state state);

/* Settles the result once DONE.  The backend connection is marked for
 * closing unless the body ended cleanly on a reusable connection. */
void sse_relay_end(sse_relay *rl);

/* Ends the client's response cleanly (unless the client left), with a
 * retry: line first when retry_ms >= 0, placed so that it cannot become
 * part of an event.  With a class name, and only between events, the
 * hint is also sent as the named event "sse-proxy" for pages to show. */
void sse_relay_finish(sse_relay *rl, apr_int64_t retry_ms,
                      const char *class_name);

/* For a stream that waits without a thread: sse_relay_finish() leaves
 * the writes non-blocking, so that what its client has not taken yet can
 * wait for it without a thread too. */
void sse_relay_tail_may_wait(sse_relay *rl);
/* After sse_relay_finish(): output still waits for a client that is
 * there.  Then each sse_relay_tail() (once the client's socket is
 * writable, or at sse_relay_deadline()) writes more, and returns WRITING
 * until nothing is left, or DONE (drained, gone, or dropped after
 * Timeout without progress: SSE00025). */
int sse_relay_tail_pending(sse_relay *rl);
sse_relay_state sse_relay_tail(sse_relay *rl, int client_ready,
                               int client_writable);
/* Writes blocking again, httpd's ordinary way (bounded by Timeout). */
void sse_relay_release_output(sse_relay *rl);

#endif
