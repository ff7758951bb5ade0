/* Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0 */

/* The loop: one thread waits in epoll_wait for the earliest of a socket,
 * a connect slot, a client's deadline or the next second, and each turn
 * starts a bounded slice of connects and timers. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "load.h"
#include "load_client.h"
#include "load_conn.h"
#include "load_loop.h"

#define EPOLL_BATCH   1024
#define PACE_BURST_NS (10 * NS_PER_MS)
#define TURN_STARTS   128        /* connects and timers handled per loop turn */
#define PROGRESS_S    5

volatile sig_atomic_t stop_requested;

static struct client *timer_client(struct sse_timer *t)
{
    return (struct client *)(void *)((char *)t
                                     - offsetof(struct client, timer));
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
            ramp_done(sse_mono_ns());
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
    struct sse_timer *t;

    while (budget-- > 0 && (t = sse_timers_first(&g.timers))
           && t->deadline <= now) {
        struct client *c = timer_client(t);

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
    struct sse_timer *first = sse_timers_first(&g.timers);

    if (g.ndefer[g.defer_fill])
        return 0;
    if (first && first->deadline < t)
        t = first->deadline;
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

void run(void)
{
    static struct epoll_event evs[EPOLL_BATCH];

    while (!stop_requested) {
        int64_t now = sse_mono_ns();
        int n, i;

        if (now >= g.end_at)
            break;
        if (!g.window_open && now >= g.window_start)
            window_begin();
        tick(now);
        pace(now);
        run_timers(now);
        n = epoll_wait(g.epfd, evs, EPOLL_BATCH, next_timeout(sse_mono_ns()));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("sse-load: epoll_wait");
            break;
        }
        now = sse_mono_ns();
        for (i = 0; i < n; i++)
            on_socket(evs[i].data.u64, evs[i].events, now);
        run_deferred(now);
    }
}
