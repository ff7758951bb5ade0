/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* The per-child watcher: waits for the sockets and deadlines of streams
 * that wait without a thread, and has workers resume them. */
#ifndef SSE_WATCHER_H
#define SSE_WATCHER_H

#include "httpd.h"
#include "apr_network_io.h"

#include "sse_thread_mark.h"

typedef struct sse_waiter sse_waiter;

/* Called on a worker thread for each ready stream. */
typedef void sse_resume_fn(void *baton);
/* A turn the watcher may take itself: 0 when the stream needs a worker
 * (then nothing was done). */
typedef int sse_turn_fn(void *baton);

/* Starts the watcher thread of this child (stopped with pchild).
 * Ready streams are resumed on workers; while none is queued for them,
 * the watcher offers a few whose backend sent something to turn_here
 * first.  When
 * pchild goes with streams still waiting (an ungraceful stop or restart
 * does not wait for connections, and its workers are gone by then),
 * end_at_exit is called for each on the exiting thread, before any of
 * pchild's subpools is destroyed, and their connections are released. */
apr_status_t sse_watcher_start(apr_pool_t *pchild, sse_resume_fn *resume,
                              sse_turn_fn *turn_here,
                              sse_resume_fn *end_at_exit);
int sse_watcher_running(void);

/* A stream's registration; NULL when out of memory. */
sse_waiter *sse_waiter_create(void *baton);

/* Waits for the backend socket (NULL: none, e.g. while a stream waits
 * to resume; a new one may replace one sse_waiter_forget_backend()
 * forgot), the client socket (may be NULL) and
 * the deadline (0: none), whichever comes first, then resumes the
 * stream on a worker.  The caller must not touch the stream any more:
 * another thread may resume it at once. */
apr_status_t sse_waiter_arm(sse_waiter *wt, apr_socket_t *backend,
                            apr_socket_t *client, apr_time_t deadline);

/* Waits until the client's socket is writable (and readable, when
 * readable_too: the client left) or the deadline; the backend is not
 * watched meanwhile. */
apr_status_t sse_waiter_arm_write(sse_waiter *wt, apr_socket_t *client,
                                  int readable_too, apr_time_t deadline);

/* The stream is ready at once, behind those already in the queue: its
 * turn ended with more to relay. */
void sse_waiter_requeue(sse_waiter *wt);

/* Another stream has news for this one (a shared stream's event): it
 * is resumed as if its backend were ready, at once when it is armed,
 * else as soon as it is.  The caller must make sure wt is not retired
 * meanwhile. */
void sse_waiter_poke(sse_waiter *wt);
/* The same for many at once: the waiters to queue are collected in
 * *batch (start with NULL), then queued together, under one lock. */
void sse_waiter_poke_into(sse_waiter *wt, sse_waiter **batch);
void sse_waiter_queue_batch(sse_waiter *batch);

/* What woke the stream (hints: the backend is read anyway). */
int sse_waiter_backend_ready(const sse_waiter *wt);
int sse_waiter_client_ready(const sse_waiter *wt);
int sse_waiter_client_writable(const sse_waiter *wt);

/* The stream's backend connection is about to be released (its end
 * may still wait for the client): its socket leaves the watch. */
void sse_waiter_forget_backend(sse_waiter *wt);

/* The stream is over: its sockets leave the watch; the registration is
 * freed once the watcher can no longer hold an event for it. */
void sse_waiter_retire(sse_waiter *wt);

/* Gives a finished suspended connection back: with a linger of 0 at
 * once, else (its write side shut down) when the client closes its end
 * or after linger, whichever comes first, and at once when httpd is
 * stopping; its pool is then cleared, which closes the socket and ends
 * the MPM's count of it (debug line SSE00102 says when and why); the
 * memory goes only once suspender,
 * the thread that suspended it, has started another job than the one it
 * had when its count was jobs (see sse_thread_mark.h). */
void sse_watcher_bury(conn_rec *c, apr_interval_time_t linger,
                      sse_thread_mark *suspender, apr_uint32_t jobs);

#endif
