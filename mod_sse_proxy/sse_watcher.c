/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/*
 * The per-child watcher thread.
 *
 * Every stream that waits without a thread has its backend socket (and,
 * on HTTP/1.x, its client socket) in one epoll set, each registered
 * one-shot: the event that reports a socket ready also disables it, so
 * picking a stream needs no system call and no lock.  A stream's state
 * (armed, due) is swapped atomically, so that its two sockets and its
 * deadline can never resume it twice.
 *
 * Ready streams go to a queue that workers empty: a worker called for
 * one stream takes the next ones too, so under load a ready stream costs
 * no further thread wake-ups (the MPM's timed callback, the only way to
 * get onto a worker, goes through its listener thread).  While that
 * queue is empty, the watcher relays a few streams whose backend sent a
 * little itself: their events then reach the client after one thread's
 * wake-up, as on a thread of their own, not two.
 *
 * Memory: a registration is freed only after the watcher has passed an
 * epoll_wait() that began after its sockets left the set, so no event
 * in hand can point to freed memory.
 *
 * configure defines SSE_HAVE_WATCHER where epoll and eventfd exist (and
 * not with --disable-async-relay).  Without it the watcher never runs,
 * and streams keep a worker thread each (see can_suspend() in
 * sse_async.c).
 */
#include "httpd.h"
#include "sse_watcher.h"

#if SSE_HAVE_WATCHER

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/eventfd.h>

#include "apr_portable.h"
#include "apr_thread_cond.h"
#include "apr_thread_mutex.h"
#include "apr_thread_proc.h"
#include "http_log.h"
#include "ap_mpm.h"

#include "sse_relay.h"
#include "sse_stats.h"

APLOG_USE_MODULE(sse_proxy);

/* Deadlines are heartbeats and idle limits, seconds apart: looking for
 * due ones at most this often keeps the scan cheap with 10,000 streams. */
#define DEADLINE_SLACK apr_time_from_msec(100)
/* How often the watcher looks whether httpd is stopping. */
#define STATE_CHECK apr_time_from_sec(1)
#define EVENTS_PER_WAIT 256
/* How long a worker that emptied the ready queue waits for more before
 * going back to the MPM: while it waits, the watcher hands it streams
 * directly instead of through the MPM's listener thread. */
#define DRAIN_LINGER apr_time_from_msec(5)
/* How many ready streams the watcher relays itself in one round, while
 * no worker has a queue to empty: each saves a thread's wake-up, and
 * makes the streams after it in that round wait for its turn (a few
 * microseconds for an event or two; 8 KiB read at most). */
#define TURNS_HERE 16

/* A stream is armed in two steps: its sockets are (re)registered while
 * it is ARMING, and an event in that time only marks it HIT (the arming
 * thread then queues it itself); only once ARMED may the watcher take it,
 * by then nothing else touches it. */
enum { W_IDLE = 0, W_ARMING, W_HIT, W_ARMED, W_DUE };
#define HIT_BACKEND  1u
#define HIT_CLIENT   2u
#define HIT_WRITABLE 4u

typedef struct {
    sse_waiter *wt;
    int         client;
} watched_fd;

struct sse_waiter {
    void          *baton;
    watched_fd     backend_w, client_w;
    int            backend_fd, client_fd;   /* -1: not in the set */
    apr_uint32_t   state;
    apr_uint32_t   hits;           /* sockets ready while ARMING */
    /* An event used up the client socket's one-shot registration.  The
     * client socket is rarely ready (it is when the client leaves), so
     * arming renews it only then: no system call per event for it. */
    apr_uint32_t   client_fired;
    apr_uint32_t   client_events;  /* what the client's registration asks */
    /* Poked (sse_waiter_poke) while not armed: queued once it is. */
    apr_uint32_t   poked;
    int            backend_ready, client_ready, client_writable;
    unsigned long  batch;          /* the watcher round that picked it */
    apr_time_t     deadline;
    sse_waiter    *next;           /* due list, ready queue or retired */
    sse_waiter    *all_prev, *all_next;
    int            listed;
};

/* A finished connection.  Once its time comes its pool is cleared: the
 * cleanups run (the socket closes, the MPM counts the connection gone)
 * and every block but the pool's first goes back.  The first block holds
 * what the suspending thread may still write after the hooks (the MPM's
 * connection state, the conn_rec, the socket record), and apr_pool_clear
 * keeps it; it goes with apr_pool_destroy once that thread has started
 * another job.  A thread that never does (idle until the child exits)
 * keeps one such block: the MPM never destroys these pools itself. */
typedef struct grave grave;
struct grave {
    /* first: an epoll event for the client socket names the grave (its
     * wt is NULL) */
    watched_fd       lingering;
    grave           *next;
    long             id;         /* c->id, for the log */
    apr_pool_t      *pool;
    apr_time_t       when;       /* the client had time to close first */
    int              fd;         /* watched for the client's close, or -1 */
    const char      *why;        /* set once it is due early */
    sse_thread_mark *suspender;  /* NULL: never provably done */
    apr_uint32_t     jobs;       /* its count when it suspended c */
};

static struct {
    int                 epfd, evfd;
    apr_thread_mutex_t *mutex;       /* ready queue, retired, graves */
    apr_thread_cond_t  *more_ready;  /* for draining workers that wait */
    apr_thread_mutex_t *list_mutex;  /* registered streams */
    apr_thread_t       *thread;
    sse_resume_fn      *resume;
    sse_turn_fn        *turn_here;
    sse_resume_fn      *end_at_exit;
    sse_waiter         *all;
    sse_waiter         *ready, *ready_tail;
    int                 draining, max_draining, waiting;
    sse_waiter         *retired;
    grave              *graves;      /* buried, not yet due */
    grave              *shells;      /* cleared; the watcher's alone */
    apr_time_t          next_scan;
    unsigned long       batch;
    volatile int        exiting;
    int                 running;
} w;

static void wake(void)
{
    uint64_t one = 1;

    if (write(w.evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        ap_log_error(APLOG_MARK, APLOG_DEBUG, errno, ap_server_conf,
                     "SSE00057: cannot wake the stream watcher");
}

int sse_watcher_running(void)
{
    return w.running;
}

sse_waiter *sse_waiter_create(void *baton)
{
    sse_waiter *wt = calloc(1, sizeof(*wt));

    if (!wt)
        return NULL;
    wt->baton = baton;
    wt->backend_w.wt = wt->client_w.wt = wt;
    wt->client_w.client = 1;
    wt->backend_fd = wt->client_fd = -1;
    return wt;
}

static int watch(int *registered, int fd, watched_fd *data,
                 apr_uint32_t events)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.events = events | EPOLLONESHOT;
    ev.data.ptr = data;
    if (*registered >= 0)
        return epoll_ctl(w.epfd, EPOLL_CTL_MOD, fd, &ev);
    if (epoll_ctl(w.epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -1;
    *registered = fd;
    return 0;
}

static void unwatch(int *registered)
{
    if (*registered >= 0) {
        epoll_ctl(w.epfd, EPOLL_CTL_DEL, *registered, NULL);
        *registered = -1;
    }
}

static void queue_one(sse_waiter *wt);
static int queue_ready(sse_waiter *due);
static void drain(void *baton);
static int take(sse_waiter *wt);

/* Registers the stream's sockets one-shot: the backend's unless bfd < 0
 * (then it stays as it is), the client's for client_events unless
 * cfd < 0 (then it leaves the set). */
static apr_status_t arm(sse_waiter *wt, int bfd, int cfd,
                        apr_uint32_t client_events, apr_time_t deadline)
{
    apr_uint32_t arming = W_ARMING;

    wt->backend_ready = wt->client_ready = wt->client_writable = 0;
    wt->deadline = deadline;
    __atomic_store_n(&wt->hits, 0, __ATOMIC_RELAXED);
    if (!wt->listed) {
        apr_thread_mutex_lock(w.list_mutex);
        wt->all_next = w.all;
        if (w.all)
            w.all->all_prev = wt;
        w.all = wt;
        wt->listed = 1;
        apr_thread_mutex_unlock(w.list_mutex);
    }
    if (cfd < 0)
        unwatch(&wt->client_fd);   /* the relay stopped watching it */

    /* sequentially consistent with note_ready(): either it sees ARMING
     * (and marks the stream HIT) or this sees client_fired */
    __atomic_store_n(&wt->state, W_ARMING, __ATOMIC_SEQ_CST);
    if ((bfd >= 0 && watch(&wt->backend_fd, bfd, &wt->backend_w,
                           EPOLLIN) < 0)
        || (cfd >= 0
            && (__atomic_exchange_n(&wt->client_fired, 0, __ATOMIC_SEQ_CST)
                || wt->client_fd < 0 || wt->client_events != client_events)
            && watch(&wt->client_fd, cfd, &wt->client_w,
                     client_events) < 0)) {
        apr_status_t rv = APR_FROM_OS_ERROR(errno);

        /* the caller goes on with the stream itself */
        __atomic_store_n(&wt->state, W_IDLE, __ATOMIC_RELEASE);
        return rv;
    }
    if (cfd >= 0)
        wt->client_events = client_events;
    if (!__atomic_compare_exchange_n(&wt->state, &arming, W_ARMED, 0,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        /* HIT: a socket was ready while being registered */
        apr_uint32_t hits = __atomic_load_n(&wt->hits, __ATOMIC_ACQUIRE);

        wt->backend_ready = (hits & HIT_BACKEND) != 0;
        wt->client_ready = (hits & HIT_CLIENT) != 0;
        wt->client_writable = (hits & HIT_WRITABLE) != 0;
        /* it runs now: that answers a poke too */
        __atomic_store_n(&wt->poked, 0, __ATOMIC_SEQ_CST);
        __atomic_store_n(&wt->state, W_DUE, __ATOMIC_RELEASE);
        queue_one(wt);
        return APR_SUCCESS;
    }
    SSE_STAT_ADD(streams_waiting, 1);
    /* sequentially consistent with sse_waiter_poke(): either it sees
     * ARMED, or this sees its flag */
    if (__atomic_exchange_n(&wt->poked, 0, __ATOMIC_SEQ_CST) && take(wt)) {
        wt->backend_ready = 1;
        __atomic_store_n(&wt->batch, ~0UL, __ATOMIC_RELAXED);
        queue_one(wt);
        return APR_SUCCESS;
    }
    if (deadline && deadline < __atomic_load_n(&w.next_scan,
                                               __ATOMIC_RELAXED))
        wake();
    return APR_SUCCESS;
}

apr_status_t sse_waiter_arm(sse_waiter *wt, apr_socket_t *backend,
                            apr_socket_t *client, apr_time_t deadline)
{
    apr_os_sock_t bfd = -1, cfd = -1;

    /* none while a broken stream waits to resume: the old one was
     * forgotten before it was released */
    if (backend)
        apr_os_sock_get(&bfd, backend);
    if (client)
        apr_os_sock_get(&cfd, client);
    return arm(wt, bfd, cfd, EPOLLIN, deadline);
}

apr_status_t sse_waiter_arm_write(sse_waiter *wt, apr_socket_t *client,
                                  int readable_too, apr_time_t deadline)
{
    apr_os_sock_t cfd;

    apr_os_sock_get(&cfd, client);
    return arm(wt, -1, cfd, EPOLLOUT | (readable_too ? EPOLLIN : 0),
               deadline);
}

void sse_waiter_requeue(sse_waiter *wt)
{
    wt->backend_ready = 1;
    wt->client_ready = wt->client_writable = 0;
    /* never this round's: an event for it waits for its next arming */
    __atomic_store_n(&wt->batch, ~0UL, __ATOMIC_RELAXED);
    __atomic_store_n(&wt->state, W_DUE, __ATOMIC_RELEASE);
    queue_one(wt);
}

void sse_waiter_poke_into(sse_waiter *wt, sse_waiter **batch)
{
    __atomic_store_n(&wt->poked, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&wt->state, __ATOMIC_SEQ_CST) == W_ARMED
        && __atomic_exchange_n(&wt->poked, 0, __ATOMIC_SEQ_CST)
        && take(wt)) {
        wt->backend_ready = 1;
        __atomic_store_n(&wt->batch, ~0UL, __ATOMIC_RELAXED);
        wt->next = *batch;
        *batch = wt;
    }
}

void sse_waiter_queue_batch(sse_waiter *batch)
{
    int more;

    if (!batch)
        return;
    apr_thread_mutex_lock(w.mutex);
    more = queue_ready(batch);
    apr_thread_mutex_unlock(w.mutex);
    while (more-- > 0)
        ap_mpm_register_timed_callback(0, drain, NULL);
}

void sse_waiter_poke(sse_waiter *wt)
{
    sse_waiter *batch = NULL;

    sse_waiter_poke_into(wt, &batch);
    sse_waiter_queue_batch(batch);
}

int sse_waiter_client_writable(const sse_waiter *wt)
{
    return wt->client_writable;
}

int sse_waiter_client_ready(const sse_waiter *wt)
{
    return wt->client_ready;
}

int sse_waiter_backend_ready(const sse_waiter *wt)
{
    return wt->backend_ready;
}

void sse_waiter_forget_backend(sse_waiter *wt)
{
    unwatch(&wt->backend_fd);
}

void sse_waiter_retire(sse_waiter *wt)
{
    unwatch(&wt->backend_fd);
    unwatch(&wt->client_fd);
    if (wt->listed) {
        apr_thread_mutex_lock(w.list_mutex);
        if (wt->all_prev)
            wt->all_prev->all_next = wt->all_next;
        else
            w.all = wt->all_next;
        if (wt->all_next)
            wt->all_next->all_prev = wt->all_prev;
        wt->listed = 0;
        apr_thread_mutex_unlock(w.list_mutex);
    }
    apr_thread_mutex_lock(w.mutex);
    wt->next = w.retired;
    w.retired = wt;
    apr_thread_mutex_unlock(w.mutex);
}

void sse_watcher_bury(conn_rec *c, apr_interval_time_t linger,
                      sse_thread_mark *suspender, apr_uint32_t jobs)
{
    grave *g = calloc(1, sizeof(*g));

    if (!g) {   /* better a leaked connection than a crash */
        ap_log_cerror(APLOG_MARK, APLOG_CRIT, APR_ENOMEM, c,
                      "SSE00056: cannot release a finished connection");
        return;
    }
    g->id = c->id;
    g->pool = c->pool;
    g->when = apr_time_now() + linger;
    g->fd = -1;
    g->why = linger ? NULL : "at once: the client is gone";
    g->suspender = suspender;
    g->jobs = jobs;
    if (linger) {
        apr_socket_t *csd = ap_get_conn_socket(c);
        apr_os_sock_t fd = -1;
        struct epoll_event ev;

        /* The client's close (its EOF after our FIN) ends the linger.
         * Registered before the grave is listed, so that the watcher,
         * which alone closes the socket, never closes it first. */
        memset(&ev, 0, sizeof(ev));
        ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
        ev.data.ptr = &g->lingering;
        if (csd && apr_os_sock_get(&fd, csd) == APR_SUCCESS && fd >= 0) {
            g->fd = fd;
            if (epoll_ctl(w.epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
                g->fd = -1;   /* it lingers its whole time */
        }
    }
    apr_thread_mutex_lock(w.mutex);
    g->next = w.graves;
    w.graves = g;
    apr_thread_mutex_unlock(w.mutex);
    wake();
}

/* Runs on a worker: resumes ready streams until there have been none
 * for a moment. */
static void drain(void *baton)
{
    (void)baton;
    sse_thread_starts_job();    /* once per job, not per stream */
    apr_thread_mutex_lock(w.mutex);
    for (;;) {
        sse_waiter *wt = w.ready;

        if (wt) {
            w.ready = wt->next;
            if (!w.ready)
                w.ready_tail = NULL;
            apr_thread_mutex_unlock(w.mutex);
            SSE_STAT_ADD(streams_queued, -1);
            SSE_STAT_ADD(streams_relaying, 1);
            w.resume(wt->baton);
            SSE_STAT_ADD(streams_relaying, -1);
            apr_thread_mutex_lock(w.mutex);
            continue;
        }
        if (w.exiting || sse_mpm_stopping())
            break;
        w.waiting++;
        apr_thread_cond_timedwait(w.more_ready, w.mutex, DRAIN_LINGER);
        w.waiting--;
        if (!w.ready)
            break;
    }
    w.draining--;
    apr_thread_mutex_unlock(w.mutex);
}

static void pick(sse_waiter *wt, sse_waiter **due)
{
    wt->batch = w.batch;
    wt->next = *due;
    *due = wt;
}

static int take(sse_waiter *wt)
{
    apr_uint32_t armed = W_ARMED;

    if (!__atomic_compare_exchange_n(&wt->state, &armed, W_DUE, 0,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return 0;
    SSE_STAT_ADD(streams_waiting, -1);
    return 1;
}

static void note_ready(const watched_fd *wf, apr_uint32_t events,
                       sse_waiter **due)
{
    sse_waiter *wt = wf->wt;
    int writable = wf->client && (events & EPOLLOUT);
    int readable = !wf->client || (events & ~(apr_uint32_t)EPOLLOUT);
    apr_uint32_t bit = (wf->client ? (readable ? HIT_CLIENT : 0)
                                   : HIT_BACKEND)
                       | (writable ? HIT_WRITABLE : 0);

    if (wf->client)
        __atomic_store_n(&wt->client_fired, 1, __ATOMIC_SEQ_CST);
    for (;;) {
        apr_uint32_t state = __atomic_load_n(&wt->state, __ATOMIC_SEQ_CST);

        if (state == W_ARMED) {
            if (take(wt)) {
                pick(wt, due);
                break;
            }
        }
        else if (state == W_ARMING) {
            apr_uint32_t arming = W_ARMING;

            __atomic_fetch_or(&wt->hits, bit, __ATOMIC_ACQ_REL);
            if (__atomic_compare_exchange_n(&wt->state, &arming, W_HIT, 0,
                                            __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE))
                return;   /* the arming thread queues it */
        }
        else if (state == W_DUE && wt->batch == w.batch) {
            break;        /* picked in this round: one more reason */
        }
        else {
            return;       /* being resumed: its next arming reports it */
        }
    }
    if (!wf->client)
        wt->backend_ready = 1;
    if (wf->client && readable)
        wt->client_ready = 1;
    if (writable)
        wt->client_writable = 1;
}

/* Picks the streams whose deadline passed (all of them when httpd is
 * stopping) and plans the next look. */
static void pick_due(apr_time_t now, int stopping, sse_waiter **due)
{
    apr_time_t earliest = now + STATE_CHECK;
    sse_waiter *wt;

    apr_thread_mutex_lock(w.list_mutex);
    for (wt = w.all; wt; wt = wt->all_next) {
        if (__atomic_load_n(&wt->state, __ATOMIC_ACQUIRE) != W_ARMED)
            continue;
        if (stopping || (wt->deadline && wt->deadline <= now)) {
            if (take(wt))
                pick(wt, due);
        }
        else if (wt->deadline && wt->deadline < earliest) {
            earliest = wt->deadline;
        }
    }
    apr_thread_mutex_unlock(w.list_mutex);
    __atomic_store_n(&w.next_scan, earliest > now + DEADLINE_SLACK
                                   ? earliest : now + DEADLINE_SLACK,
                     __ATOMIC_RELAXED);
}

/* Under w.mutex: the graves whose time came (no lingering when
 * stopping). */
static grave *take_graves(apr_time_t now, int stopping)
{
    grave **gp = &w.graves, *ready = NULL;

    while (*gp) {
        grave *g = *gp;
        apr_time_t due = stopping || g->why ? now : g->when;
        if (now >= due) {
            if (!g->why)
                g->why = stopping ? "at once: httpd is stopping"
                                  : "after the linger: the client kept it "
                                    "open";
            *gp = g->next;
            g->next = ready;
            ready = g;
        }
        else {
            if (due < w.next_scan)
                __atomic_store_n(&w.next_scan, due, __ATOMIC_RELAXED);
            gp = &g->next;
        }
    }
    return ready;
}

/* The suspending thread has started another job since: nothing of the
 * MPM's uses the connection's memory any more. */
static int suspender_moved_on(const grave *g)
{
    return g->suspender && sse_thread_mark_jobs(g->suspender) != g->jobs;
}

static void free_grave(grave *g)
{
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, ap_server_conf,
                 "SSE00061: connection %ld freed", g->id);
    apr_pool_destroy(g->pool);
    free(g);
}

/* On the watcher: due graves are freed, or cleared when their
 * suspending thread has not moved on yet; shells whose thread has moved
 * on are freed. */
static void release(grave *due)
{
    grave **gp;

    while (due) {
        grave *g = due;
        due = g->next;
        unwatch(&g->fd);
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, ap_server_conf,
                     "SSE00102: connection %ld closed %s", g->id, g->why);
        if (suspender_moved_on(g)) {
            free_grave(g);
            continue;
        }
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, ap_server_conf,
                     "SSE00060: connection %ld released; its memory waits "
                     "for the thread that suspended it", g->id);
        apr_pool_clear(g->pool);
        g->next = w.shells;
        w.shells = g;
    }
    for (gp = &w.shells; *gp;) {
        grave *g = *gp;
        if (suspender_moved_on(g)) {
            *gp = g->next;
            free_grave(g);
        }
        else {
            gp = &g->next;
        }
    }
}

/* Under w.mutex: queues the picked streams, wakes waiting workers;
 * returns how many more workers to call. */
static int queue_ready(sse_waiter *due)
{
    int more = 0, woken = 0;

    while (due) {
        sse_waiter *wt = due;
        due = wt->next;
        wt->next = NULL;
        if (w.ready_tail)
            w.ready_tail->next = wt;
        else
            w.ready = wt;
        w.ready_tail = wt;
        SSE_STAT_ADD(streams_queued, 1);
        if (woken < w.waiting) {
            apr_thread_cond_signal(w.more_ready);
            woken++;
        }
        else if (w.draining < w.max_draining) {
            w.draining++;
            more++;
        }
    }
    return more;
}

/* Queues a stream that its arming thread found ready. */
static void queue_one(sse_waiter *wt)
{
    int more;

    wt->next = NULL;
    apr_thread_mutex_lock(w.mutex);
    more = queue_ready(wt);
    apr_thread_mutex_unlock(w.mutex);
    if (more)
        ap_mpm_register_timed_callback(0, drain, NULL);
}

/* Under w.mutex, on the watcher: takes out of due the streams it
 * relays itself this round, those only their backend woke, while the
 * workers have no queue (they would reach a stream queued behind others
 * without a wake-up). */
static sse_waiter *keep_some(sse_waiter **due)
{
    sse_waiter *mine = NULL, **wp = due;
    int n = 0;

    if (w.ready)
        return NULL;
    while (*wp && n < TURNS_HERE) {
        sse_waiter *wt = *wp;

        if (wt->backend_ready && !wt->client_ready && !wt->client_writable) {
            *wp = wt->next;
            wt->next = mine;
            mine = wt;
            n++;
        }
        else {
            wp = &wt->next;
        }
    }
    return mine;
}

/* On the watcher: the turns it keeps; a stream that is not for it goes
 * to the workers after all. */
static void take_turns(sse_waiter *mine)
{
    while (mine) {
        sse_waiter *wt = mine;
        int taken;

        /* once relayed and armed again, another thread may take it */
        mine = wt->next;
        SSE_STAT_ADD(streams_relaying, 1);
        taken = w.turn_here(wt->baton);
        SSE_STAT_ADD(streams_relaying, -1);
        if (!taken)
            queue_one(wt);
    }
}

/* On the watcher: a lingering connection's client socket is readable.
 * Its EOF (or an error) ends the linger at once; bytes it still sends
 * are read and dropped, as httpd's lingering close does, within a bound
 * per event so that no client holds the watcher. */
static void lingered(grave *g)
{
    char buf[4096];
    int i;

    for (i = 0; i < 16; i++) {
        ssize_t got = recv(g->fd, buf, sizeof(buf), MSG_DONTWAIT);

        if (got > 0)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (got < 0 && errno == EINTR)
            continue;
        g->why = got == 0 ? "on the client's close"
                          : "on an error of the client's socket";
        return;
    }
    /* still open: watch on, until the linger's end */
    watch(&g->fd, g->fd, &g->lingering, EPOLLIN);
}

static int wait_ms(apr_time_t now)
{
    apr_time_t next = __atomic_load_n(&w.next_scan, __ATOMIC_RELAXED);
    apr_interval_time_t t = next > now ? next - now : 0;

    if (t > STATE_CHECK)
        t = STATE_CHECK;
    return (int)((t + 999) / 1000);
}

static void * APR_THREAD_FUNC watcher(apr_thread_t *thd, void *data)
{
    struct epoll_event evs[EVENTS_PER_WAIT];

    (void)thd; (void)data;
    while (!w.exiting) {
        sse_waiter *retired, *due = NULL, *mine;
        grave *graves;
        apr_time_t now;
        int n, i, stopping, more;

        /* retired before this wait: no event of it can name them */
        apr_thread_mutex_lock(w.mutex);
        retired = w.retired;
        w.retired = NULL;
        apr_thread_mutex_unlock(w.mutex);

        n = epoll_wait(w.epfd, evs, EVENTS_PER_WAIT,
                       wait_ms(apr_time_now()));
        if (w.exiting)
            break;
        w.batch++;
        for (i = 0; i < n; i++) {
            watched_fd *wf = evs[i].data.ptr;

            if (wf && wf->wt) {
                note_ready(wf, evs[i].events, &due);
            }
            else if (wf) {
                lingered((grave *)wf);
            }
            else {
                uint64_t count;
                if (read(w.evfd, &count, sizeof(count)) < 0)
                    continue;
            }
        }
        now = apr_time_now();
        stopping = sse_mpm_stopping();
        if (stopping || now >= __atomic_load_n(&w.next_scan,
                                               __ATOMIC_RELAXED))
            pick_due(now, stopping, &due);

        apr_thread_mutex_lock(w.mutex);
        graves = take_graves(now, stopping);
        mine = stopping ? NULL : keep_some(&due);
        more = queue_ready(due);
        apr_thread_mutex_unlock(w.mutex);

        while (more-- > 0)
            ap_mpm_register_timed_callback(0, drain, NULL);
        take_turns(mine);
        release(graves);
        while (retired) {
            sse_waiter *wt = retired;
            retired = wt->next;
            free(wt);
        }
    }
    return NULL;
}

/* On the exiting thread, once the watcher has stopped: the streams
 * still waiting (armed, or due with no worker left to run them) are
 * ended here.  An ungraceful stop or restart does not wait for
 * connections, and its workers are gone: nothing else would end them,
 * and each holds a connection of mod_proxy's per-child pool, which APR
 * refuses to destroy with connections out (an abort in
 * reslist_cleanup(), "rl->ntotal == 0").
 *
 * Their client connections, and those still waiting in graves, are not
 * released: each has had its lingering close's FIN, the process's exit
 * closes the descriptors, and their pools hang from pconf, which an
 * exiting child never destroys.  Destroying them here would only delay
 * the exit (a pool's blocks are unmapped one by one) past the parent's
 * patience. */
static void end_leftovers(void)
{
    sse_waiter *todo, *wt;
    unsigned n = 0;

    apr_thread_mutex_lock(w.mutex);
    todo = w.ready;
    w.ready = w.ready_tail = NULL;
    apr_thread_mutex_unlock(w.mutex);
    apr_thread_mutex_lock(w.list_mutex);
    for (wt = w.all; wt; wt = wt->all_next) {
        apr_uint32_t idle = W_IDLE;

        /* armed, or left idle by a failed arming whose worker never ran
         * (one that did would have taken it off the list) */
        if (take(wt)
            || __atomic_compare_exchange_n(&wt->state, &idle, W_DUE, 0,
                                           __ATOMIC_ACQ_REL,
                                           __ATOMIC_ACQUIRE)) {
            wt->next = todo;
            todo = wt;
        }
    }
    apr_thread_mutex_unlock(w.list_mutex);
    for (wt = todo; wt; wt = wt->next)
        n++;
    if (!n)
        return;
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, ap_server_conf,
                 "SSE00100: child exiting without waiting for its "
                 "connections: ending its %u waiting streams here", n);
    while (todo) {
        wt = todo;
        todo = wt->next;
        w.end_at_exit(wt->baton);
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, ap_server_conf,
                 "SSE00101: %u streams ended, their backend connections "
                 "given back", n);
}

static apr_status_t stop_watcher(void *data)
{
    apr_status_t rv;

    (void)data;
    w.exiting = 1;
    w.running = 0;
    wake();
    apr_thread_join(&rv, w.thread);
    end_leftovers();
    close(w.epfd);
    close(w.evfd);
    return APR_SUCCESS;
}

apr_status_t sse_watcher_start(apr_pool_t *pchild, sse_resume_fn *resume,
                              sse_turn_fn *turn_here,
                              sse_resume_fn *end_at_exit)
{
    struct epoll_event ev;
    int threads = 1;
    apr_status_t rv;

    w.resume = resume;
    w.turn_here = turn_here;
    w.end_at_exit = end_at_exit;
    /* Half the workers at most relay waiting streams; the others stay
     * for the listener.  The MPM's timed callbacks (the only way onto a
     * worker) reach the worker queue without reserving an idle worker,
     * and workers take them before accepted connections; a worker that
     * relays never goes idle while streams are ready (saturation).  So
     * what the listener can hand new connections to, and what their
     * first slice runs on, is the workers never given to relaying. */
    ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    w.max_draining = threads / 2 > 0 ? threads / 2 : 1;
    w.next_scan = apr_time_now() + STATE_CHECK;

    w.epfd = epoll_create1(EPOLL_CLOEXEC);
    w.evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (w.epfd < 0 || w.evfd < 0)
        return APR_FROM_OS_ERROR(errno);
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = NULL;
    if (epoll_ctl(w.epfd, EPOLL_CTL_ADD, w.evfd, &ev) < 0)
        return APR_FROM_OS_ERROR(errno);
    rv = apr_thread_mutex_create(&w.mutex, APR_THREAD_MUTEX_DEFAULT, pchild);
    if (rv == APR_SUCCESS)
        rv = apr_thread_cond_create(&w.more_ready, pchild);
    if (rv == APR_SUCCESS)
        rv = apr_thread_mutex_create(&w.list_mutex, APR_THREAD_MUTEX_DEFAULT,
                                     pchild);
    if (rv == APR_SUCCESS)
        rv = apr_thread_create(&w.thread, NULL, watcher, NULL, pchild);
    if (rv != APR_SUCCESS)
        return rv;
    w.running = 1;
    /* before pchild's subpools go (mod_proxy's connection pools among
     * them): the watcher may be using them until it has stopped, and
     * the streams still waiting give their connections back there */
    apr_pool_pre_cleanup_register(pchild, NULL, stop_watcher);
    return APR_SUCCESS;
}

#else /* !SSE_HAVE_WATCHER */

/* This build has no thread-free relay: the watcher never runs, so
 * can_suspend() never lets a stream wait without its thread and nothing
 * below is reached. */
apr_status_t sse_watcher_start(apr_pool_t *pchild, sse_resume_fn *resume,
                              sse_turn_fn *turn_here,
                              sse_resume_fn *end_at_exit)
{
    (void)pchild; (void)resume; (void)turn_here; (void)end_at_exit;
    return APR_ENOTIMPL;
}

int sse_watcher_running(void)
{
    return 0;
}

sse_waiter *sse_waiter_create(void *baton)
{
    (void)baton;
    return NULL;
}

apr_status_t sse_waiter_arm(sse_waiter *wt, apr_socket_t *backend,
                            apr_socket_t *client, apr_time_t deadline)
{
    (void)wt; (void)backend; (void)client; (void)deadline;
    return APR_ENOTIMPL;
}

apr_status_t sse_waiter_arm_write(sse_waiter *wt, apr_socket_t *client,
                                  int readable_too, apr_time_t deadline)
{
    (void)wt; (void)client; (void)readable_too; (void)deadline;
    return APR_ENOTIMPL;
}

void sse_waiter_requeue(sse_waiter *wt)
{
    (void)wt;
}

void sse_waiter_poke(sse_waiter *wt)
{
    (void)wt;
}

void sse_waiter_poke_into(sse_waiter *wt, sse_waiter **batch)
{
    (void)wt;
    (void)batch;
}

void sse_waiter_queue_batch(sse_waiter *batch)
{
    (void)batch;
}

int sse_waiter_client_writable(const sse_waiter *wt)
{
    (void)wt;
    return 0;
}

int sse_waiter_backend_ready(const sse_waiter *wt)
{
    (void)wt;
    return 0;
}

int sse_waiter_client_ready(const sse_waiter *wt)
{
    (void)wt;
    return 0;
}

void sse_waiter_forget_backend(sse_waiter *wt)
{
    (void)wt;
}

void sse_waiter_retire(sse_waiter *wt)
{
    (void)wt;
}

void sse_watcher_bury(conn_rec *c, apr_interval_time_t linger,
                      sse_thread_mark *suspender, apr_uint32_t jobs)
{
    (void)c; (void)linger; (void)suspender; (void)jobs;
}

#endif /* SSE_HAVE_WATCHER */
