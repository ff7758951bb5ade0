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
 * README-load.md next to this file documents the command line, the output
 * and which file holds which part.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include "load.h"
#include "load_args.h"
#include "load_conn.h"
#include "load_loop.h"
#include "load_report.h"

#define FD_SLACK      32         /* descriptors besides the streams */

struct load_config cfg;
struct load_state g;
struct load_stats st;

/* ------------------------------------------------------------------ */
/* Start-up                                                             */
/* ------------------------------------------------------------------ */

static int resolve_host(void)
{
    int v6;

    if (sse_resolve_numeric(cfg.host, cfg.port, &g.addr, &g.addrlen) < 0)
        return -1;
    v6 = g.addr.ss_family == AF_INET6;
    snprintf(g.host_hdr, sizeof(g.host_hdr), v6 ? "[%s]:%u" : "%s:%u",
             cfg.host, cfg.port);
    return 0;
}

/* One descriptor per stream: the soft limit goes to the hard one, and a
 * run that still cannot fit is refused up front rather than half-run. */
static int raise_nofile(void)
{
    struct rlimit rl;

    if (sse_raise_nofile(&rl) < 0)
        return -1;
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
    g.queue = calloc(cfg.streams, sizeof(*g.queue));
    g.defer[0] = calloc(cfg.streams, sizeof(*g.defer[0]));
    g.defer[1] = calloc(cfg.streams, sizeof(*g.defer[1]));
    if (!g.clients || !g.queue || !g.defer[0] || !g.defer[1]
        || sse_timers_reserve(&g.timers, cfg.streams) < 0)
        return -1;
    ssep_parser_limits_init(&g.limits);
    g.limits.collect = 1;
    for (i = 0; i < cfg.streams; i++) {
        struct client *c = &g.clients[i];

        c->idx = i;
        c->fd = -1;
        sse_timer_init(&c->timer);
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
    sse_timers_free(&g.timers);
    free(g.queue);
    free(g.defer[0]);
    free(g.defer[1]);
    if (g.epfd >= 0)
        close(g.epfd);
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
    g.t0 = sse_mono_ns();
    g.pace_next = g.t0;
    g.next_tick = g.t0 + NS_PER_S;

    run();

    rc = finish();
    teardown();
    return rc;
}
