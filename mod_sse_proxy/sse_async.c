/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/*
 * Streams that wait without a worker thread.
 *
 * httpd 2.4 lets a handler return SUSPENDED and gives modules timed
 * callbacks that run on worker threads, but no way to have the MPM poll
 * a socket for them, nor to hand a suspended connection back.  So a
 * stream is handed to this child's watcher (sse_watcher.c) once the MPM
 * has let go of its connection; the watcher has a worker resume it when
 * a socket is ready or a deadline comes, and the relay step runs there,
 * with the output filters (chunking, TLS, logging) on a worker thread,
 * one thread at a time per stream, as httpd expects.  When the stream
 * ends, the request is finished here and the connection closed; its
 * pool, which the MPM's accounting hangs on, goes with the watcher.
 */
#include "apr_atomic.h"
#include "apr_reslist.h"
#include "httpd.h"
#include "http_config.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_mpm.h"
#include "mpm_common.h"
#include "mod_proxy.h"

#include "sse_async.h"
#include "sse_channel.h"
#include "sse_stream.h"
#include "sse_thread_mark.h"
#include "sse_watcher.h"

/* How many freed blocks building a stream leaves in its connection's
 * allocator, measured: see give_back_spare_memory().  The pool that holds
 * the backend's response head while the stream starts is one more, the
 * request's read buffer (drop_read_buffer()) another. */
#define SPARE_NODES 4

APLOG_USE_MODULE(sse_proxy);

/* How long a finished connection waits for the client to close first. */
#define LINGER apr_time_from_sec(2)
/* Connections a member's per-child pool may hand out when max= is not
 * set: as many as streams the child can hold, i.e. no practical cap. */
#define POOL_MAX 100000
/* How long an idle connection record beyond smax is kept when ttl= is
 * not set.  Only streams waiting without a thread take more records than
 * a child has threads, and without a ttl the pool never frees one again:
 * each reconnection storm would leave the child holding as many records
 * as streams it ever had at once. */
#define POOL_TTL apr_time_from_sec(10)

/* Why streams keep their thread is said once per child. */
static apr_uint32_t said_mpm, said_h2;
/* Built without the watcher (no epoll/eventfd, or --disable-async-relay). */
static int no_watcher;

static int can_suspend(request_rec *r)
{
    conn_rec *c = r->connection;

    if (!sse_watcher_running()) {
        if (apr_atomic_cas32(&said_mpm, 1, 0) == 0) {
            if (no_watcher)
                ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                              "SSE00051: SSEProxyAsync: this build has no "
                              "thread-free relay (built without epoll and "
                              "eventfd); streams keep a worker thread each");
            else
                ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                              "SSE00051: SSEProxyAsync: the %s MPM cannot "
                              "suspend requests; streams keep a worker "
                              "thread each", ap_show_mpm());
        }
        return 0;
    }
    if (c->master) {
        if (apr_atomic_cas32(&said_h2, 1, 0) == 0)
            ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                          "SSE00052: SSEProxyAsync: HTTP/2 streams keep "
                          "one of mod_http2's worker threads each "
                          "(mod_http2 runs a stream to its end on one; "
                          "H2MaxWorkers bounds the streams a child relays "
                          "at once)");
        return 0;
    }
    /* Suspension only works on the MPM's asynchronous path: not for
     * subrequests, internal redirects or connections whose input filters
     * keep data of their own. */
    return c->cs && !c->clogging_input_filters && !r->main && !r->prev
           && !r->header_only;
}

static void arm(sse_stream *st);

static void finish(sse_stream *st)
{
    request_rec *r = st->r;
    conn_rec *c = r->connection;
    sse_thread_mark *suspender = st->suspender;
    apr_uint32_t jobs = st->suspender_jobs;

    if (!st->closing) {
        st->closing = 1;
        /* the backend's socket leaves the watch before the connection is
         * released (another stream may get it from the pool) */
        sse_waiter_forget_backend(st->waiter);
        /* the final chunk is passed, the backend connection released */
        sse_stream_complete(st);
        /* what the client has not taken yet waits for it without a
         * thread, as the stream did */
        if (sse_relay_tail_pending(st->relay)) {
            st->state = SSE_RELAY_WRITING;
            arm(st);
            return;
        }
    }
    /* its sockets leave the watch before the connection goes */
    sse_waiter_retire(st->waiter);
    sse_relay_release_output(st->relay);
    ap_finalize_request_protocol(r);
    /* logs the request and destroys its pool (and st with it) */
    ap_process_request_after_handler(r);
    /* The MPM counts the connection as suspended until its pool's
     * cleanups run, which close the socket too. */
    c->cs->state = CONN_STATE_SUSPENDED;
    sse_watcher_bury(c, ap_start_lingering_close(c) ? 0 : LINGER, suspender,
                     jobs);
}

/* The rest of a finished stream's output, in this thread. */
static void tail_sync(sse_stream *st)
{
    int writable = 0;

    while (sse_relay_tail_pending(st->relay)
           && sse_relay_tail(st->relay, 0, writable) == SSE_RELAY_WRITING) {
        apr_pollfd_t pfd;
        apr_int32_t n;

        memset(&pfd, 0, sizeof(pfd));
        pfd.p = st->r->pool;
        pfd.desc_type = APR_POLL_SOCKET;
        pfd.desc.s = sse_relay_write_socket(st->relay);
        pfd.reqevents = APR_POLLOUT;
        writable = apr_poll(&pfd, 1, &n, apr_time_from_sec(1))
                   == APR_SUCCESS;
    }
}

/* The watcher could not take the stream: it goes on in this thread. */
static void resume_sync(void *baton)
{
    sse_stream *st = baton;

    sse_thread_starts_job();
    if (!st->closing) {
        sse_relay_follow(st->relay, st->state);
        st->closing = 1;
        sse_waiter_forget_backend(st->waiter);
        sse_stream_complete(st);
    }
    tail_sync(st);
    finish(st);
}

/* Hands the stream to the watcher; from here another thread may resume
 * it at any moment, so the caller must not touch it any more.  A stream
 * whose turn is over while its backend has more goes back to the end of
 * the queue of ready streams: its next bytes may already sit in the
 * backend connection's input filters, where no poll would see them. */
static void arm(sse_stream *st)
{
    sse_relay *rl = st->relay;
    apr_status_t rv;

    /* a follower waits for its channel's news, unless it has some */
    if (st->state == SSE_RELAY_MORE
        || (st->feed && st->state == SSE_RELAY_WAITING && !st->closing
            && !sse_feed_park(st->feed, st->waiter))) {
        sse_waiter_requeue(st->waiter);
        return;
    }
    if (st->state == SSE_RELAY_WRITING)
        rv = sse_waiter_arm_write(st->waiter, sse_relay_write_socket(rl),
                                  sse_relay_client_socket(rl) != NULL,
                                  sse_relay_deadline(rl));
    else
        rv = sse_waiter_arm(st->waiter, sse_relay_backend_socket(rl),
                            sse_relay_client_socket(rl),
                            sse_relay_deadline(rl));
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, st->r,
                      "SSE00053: cannot watch the stream's sockets; it "
                      "keeps a worker thread");
        ap_mpm_register_timed_callback(0, resume_sync, st);
    }
}

/* A worker thread's turn at a waiting stream: one slice of it. */
static void resume(void *baton)
{
    sse_stream *st = baton;

    if (st->state == SSE_RELAY_DONE) {   /* it ended on the watcher */
        finish(st);
        return;
    }
    if (st->feed)
        sse_feed_unpark(st->feed);
    if (st->closing)
        st->state = sse_relay_tail(st->relay,
                                   sse_waiter_client_ready(st->waiter),
                                   sse_waiter_client_writable(st->waiter));
    else
        st->state = sse_relay_wake(st->relay,
                                   sse_waiter_backend_ready(st->waiter),
                                   sse_waiter_client_ready(st->waiter),
                                   sse_waiter_client_writable(st->waiter));
    if (st->state != SSE_RELAY_DONE)
        arm(st);
    else
        finish(st);
}

/* The watcher's own turn at a stream whose backend sent something: the
 * turn a worker would take, without the hand-off to it (a thread's
 * wake-up, the largest part of an event's added latency at moderate
 * rates).  What may wait is left to a worker: the stream's end (the
 * request's logging, its backend connection going back) and a break of
 * its backend.  0: the stream is not for the watcher. */
static int turn_on_watcher(void *baton)
{
    sse_stream *st = baton;

    if (st->closing || !sse_relay_may_run_on_watcher(st->relay))
        return 0;
    st->state = sse_relay_wake_on_watcher(st->relay);
    if (st->state == SSE_RELAY_DONE)
        sse_waiter_requeue(st->waiter);   /* resume() finishes it */
    else
        arm(st);
    return 1;
}

/* The child exits without waiting for its connections (an ungraceful
 * stop or restart), on its last thread, with the workers gone: the
 * stream ends as on a graceful stop, with a retry: hint and the final
 * chunk, as far as the client's socket takes them at once (an exiting
 * child must not wait for a client), and its backend connection goes
 * back to mod_proxy's pool before that pool is destroyed. */
static void end_at_exit(void *baton)
{
    sse_stream *st = baton;
    apr_socket_t *client = ap_get_conn_socket(st->r->connection);

    if (client)
        apr_socket_timeout_set(client, 0);
    if (st->feed)
        sse_feed_unpark(st->feed);
    /* httpd is stopping: the relay ends the stream (SSE_END_SHUTDOWN);
     * what the client does not take at once is not waited for */
    if (!st->closing) {
        if (st->state != SSE_RELAY_DONE)
            sse_relay_wake(st->relay, 0, 0, 0);
        st->closing = 1;
        sse_waiter_forget_backend(st->waiter);
        sse_stream_complete(st);
    }
    finish(st);
}

static int mpm_is_async(void)
{
    int async = 0;

    return ap_mpm_query(AP_MPMQ_IS_ASYNC, &async) == APR_SUCCESS && async;
}

/* A stream waiting without a thread still holds its backend connection,
 * so mod_proxy's default cap of one pooled connection per thread would
 * make new streams wait for connections only ending streams give back,
 * on threads the waiting streams need.  Members without max= get a cap
 * that does not bind; idle connections beyond one per thread (smax) are
 * freed once they have been idle for ttl.  Synchronous requests never use
 * more than one per thread; for them the only difference is that a
 * pooled backend connection left unused for the ttl is not reused. */
static void widen_pool(proxy_worker *worker, int threads)
{
    if (worker && worker->s && worker->s->hmax == 0) {
        worker->s->hmax = POOL_MAX;
        if (worker->s->smax == -1 || worker->s->smax > threads)
            worker->s->smax = threads;
        if (worker->s->ttl == 0)
            worker->s->ttl = POOL_TTL;
    }
}

void sse_async_post_config(server_rec *s)
{
    int threads = 0, i, j;

    if (!mpm_is_async()
        || ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads) != APR_SUCCESS
        || threads < 1)
        return;
    for (; s; s = s->next) {
        proxy_server_conf *pc = ap_get_module_config(s->module_config,
                                                     &proxy_module);
        proxy_worker *workers;
        proxy_balancer *balancers;

        if (!pc)
            continue;
        widen_pool(pc->reverse, threads);
        workers = (proxy_worker *)pc->workers->elts;
        for (i = 0; i < pc->workers->nelts; i++)
            widen_pool(&workers[i], threads);
        balancers = (proxy_balancer *)pc->balancers->elts;
        for (i = 0; i < pc->balancers->nelts; i++) {
            proxy_worker **members =
                (proxy_worker **)balancers[i].workers->elts;
            for (j = 0; j < balancers[i].workers->nelts; j++)
                widen_pool(members[j], threads);
        }
    }
}

int sse_async_pool_exhausted(request_rec *r, proxy_worker *worker)
{
    sse_stream *st = sse_stream_of(r);

    if (!st->may_suspend || !worker->cp || !worker->cp->res
        || (int)apr_reslist_acquired_count(worker->cp->res)
           < worker->s->hmax)
        return 0;
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  "SSE00055: %s: all %d connections (max=) are held by "
                  "streams; the client is told to come back rather than "
                  "wait",
                  worker->s->name_ex, worker->s->hmax);
    return 1;
}

void sse_async_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    if (!mpm_is_async())
        return;
    rv = sse_watcher_start(pchild, resume, turn_on_watcher, end_at_exit);
    if (rv == APR_ENOTIMPL)
        no_watcher = 1;   /* said once per child by SSE00051 */
    else if (rv != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     "SSE00054: cannot start the stream watcher; streams "
                     "keep a worker thread each");
}

static apr_status_t free_unarmed(void *data)
{
    sse_stream *st = data;

    /* never armed (the MPM closed the connection instead of suspending
     * it): nothing else knows the registration */
    if (st->waiter && !st->armed)
        sse_waiter_retire(st->waiter);
    return APR_SUCCESS;
}

/* Reading the request, choosing a member and writing the response head
 * borrow whole allocator blocks and free them again; the connection's
 * allocator keeps freed blocks for reuse (MaxMemFree, 2 MiB by default),
 * so a stream that then waits for hours would keep them too.  With the
 * allocator's cache limited for a moment, taking blocks and freeing them
 * hands the cached ones back to the system.  Debian's APR maps each block
 * on its own: a block taken when none is cached costs a map and an unmap,
 * once per stream. */
static void give_back_spare_memory(conn_rec *c)
{
    apr_allocator_t *a = apr_pool_allocator_get(c->pool);
    int i;

    if (!a)
        return;
    apr_allocator_max_free_set(a, 1);
    for (i = 0; i < SPARE_NODES; i++) {
        apr_memnode_t *node = apr_allocator_alloc(a, 1);

        if (!node)
            break;
        apr_allocator_free(a, node);
    }
    apr_allocator_max_free_set(a, ap_max_mem_free);
}

/* The core input filter keeps the bucket that held the request's last
 * line, emptied but still sharing the 8 KiB buffer the socket was read
 * into, until the connection is read again: only then does it drop empty
 * buckets (BRIGADE_NORMALIZE in ap_core_input_filter()).  A stream that
 * waits is not read again, and would keep that buffer for as long as it
 * waits.  A non-blocking speculative read, the one httpd itself makes
 * between pipelined requests (check_pipeline()), lets the core drop it;
 * it takes only bytes the client already sent.  Not on a WebSocket,
 * whose frames would then sit in the core's brigade, where the watcher's
 * poll of the socket cannot see them.  The brigade lives in the
 * connection's pool: the connection of a stream that waited is closed
 * when the stream ends, so that is once per connection. */
static void drop_read_buffer(sse_stream *st)
{
    conn_rec *c = st->r->connection;
    apr_bucket_brigade *bb;

    if (st->ws)
        return;
    bb = apr_brigade_create(c->pool, c->bucket_alloc);
    ap_get_brigade(c->input_filters, bb, AP_MODE_SPECULATIVE,
                   APR_NONBLOCK_READ, 1);
    apr_brigade_destroy(bb);
}

/* Runs the proxy handler (us included, as its scheme handler) in a way
 * that lets the stream continue without this thread. */
static int async_handler(request_rec *r)
{
    sse_stream *st;
    int status;

    if (!r->handler || strcmp(r->handler, "proxy-server"))
        return DECLINED;
    st = sse_stream_of(r);
    if (!sse_conf_enabled(st->dconf) || !sse_conf_async(st->dconf)
        || st->may_suspend || !can_suspend(r))
        return DECLINED;

    st->may_suspend = 1;
    status = ap_run_handler(r);
    if (status == DECLINED) /* as ap_invoke_handler would answer */
        return HTTP_INTERNAL_SERVER_ERROR;
    if (status != OK || !st->relay)
        return status;

    /* before the check below: this read may find the client gone */
    drop_read_buffer(st);
    st->waiter = sse_waiter_create(st);
    /* the MPM would close an aborted connection instead of suspending */
    if (!st->waiter || r->connection->aborted) {
        if (st->waiter)
            sse_waiter_retire(st->waiter);
        st->waiter = NULL;
        sse_relay_follow(st->relay, st->state);
        sse_stream_complete(st);
        sse_relay_release_output(st->relay);
        return OK;
    }
    apr_pool_cleanup_register(r->pool, st, free_unarmed,
                              apr_pool_cleanup_null);
    give_back_spare_memory(r->connection);
    return SUSPENDED;
}

/* The MPM let go of the connection: only now may another thread resume
 * the stream (the handler's thread was still on it until here).  This
 * thread goes on writing to the connection's memory after the hooks
 * (event.c: notify_suspend(), worker_thread()): its job count now tells
 * when it has stopped. */
static void suspend_connection(conn_rec *c, request_rec *r)
{
    sse_stream *st;

    if (!r || !c->cs || c->cs->state != CONN_STATE_SUSPENDED)
        return;
    st = ap_get_module_config(r->request_config, &sse_proxy_module);
    if (st && st->waiter && !st->armed) {
        st->suspender = sse_thread_mark_mine();
        if (st->suspender)
            st->suspender_jobs = sse_thread_mark_jobs(st->suspender);
        st->armed = 1;
        arm(st);
    }
}

/* Every job a worker starts after suspending a connection begins with
 * one of these (a new connection, an existing one, or our own timed
 * callbacks, counted where they run). */
static conn_rec *thread_takes_new_connection(apr_pool_t *p, server_rec *s,
                                             apr_socket_t *csd, long id,
                                             void *sbh,
                                             apr_bucket_alloc_t *alloc)
{
    (void)p; (void)s; (void)csd; (void)id; (void)sbh; (void)alloc;
    sse_thread_starts_job();
    return NULL;
}

static void thread_resumes_connection(conn_rec *c, request_rec *r)
{
    (void)c; (void)r;
    sse_thread_starts_job();
}

void sse_async_register_hooks(void)
{
    static const char *const before_proxy[] = { "mod_proxy.c", NULL };

    ap_hook_handler(async_handler, NULL, before_proxy, APR_HOOK_FIRST);
    /* last: a hook after ours could be handed a request that another
     * thread has already finished */
    ap_hook_suspend_connection(suspend_connection, NULL, NULL,
                               APR_HOOK_REALLY_LAST);
    ap_hook_create_connection(thread_takes_new_connection, NULL, NULL,
                              APR_HOOK_REALLY_FIRST);
    ap_hook_resume_connection(thread_resumes_connection, NULL, NULL,
                              APR_HOOK_MIDDLE);
}
