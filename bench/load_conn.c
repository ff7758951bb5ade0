/* Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0 */

/* Connections: non-blocking sockets in an edge-triggered epoll set, the
 * queue of clients waiting for a connect slot, the request, and the
 * reads that feed responses to load_http.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "load.h"
#include "load_client.h"
#include "load_conn.h"
#include "load_hist.h"
#include "load_http.h"

#define READ_BUF      65536
#define MAX_LEI       1024       /* longest Last-Event-ID echoed back */

static char rbuf[READ_BUF];

void timer_clear(struct client *c)
{
    sse_timer_clear(&g.timers, &c->timer);
}

/* The heap is reserved for one timer per client, so this cannot fail. */
void timer_set(struct client *c, int64_t when)
{
    sse_timer_set(&g.timers, &c->timer, when);
}

static uint64_t ep_key(const struct client *c)
{
    return ((uint64_t)c->gen << 32) | c->idx;
}

static int set_interest(struct client *c, uint32_t events, int op)
{
    epoll_data_t data = { .u64 = ep_key(c) };

    return sse_epoll_watch(g.epfd, op, c->fd, events | EPOLLET | EPOLLRDHUP,
                           data);
}

void enqueue(struct client *c)
{
    size_t cap = cfg.streams;

    if (c->queued)
        return;
    c->queued = 1;
    g.queue[(g.qhead + g.qlen) % cap] = c->idx;
    g.qlen++;
}

struct client *dequeue(void)
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

void conn_release(struct client *c)
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

/* One source address per client (--source-base), for proxies that key
 * clients by address; the port is left to connect(), which can reuse
 * one for different destinations. */
static int bind_source(int fd, uint32_t idx)
{
    struct sockaddr_in sa;
#ifdef IP_BIND_ADDRESS_NO_PORT
    int one = 1;

    (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                     sizeof(one));
#endif
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(cfg.source_base + idx);
    return bind(fd, (struct sockaddr *)&sa, sizeof(sa));
}

/* The clock is read here rather than taken from the caller: when thousands
 * of connects start in one turn, their times must show the client's own
 * queueing instead of hiding it. */
void client_connect(struct client *c)
{
    int64_t now = sse_mono_ns();
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
    if (cfg.source_base && bind_source(fd, c->idx) < 0) {
        conn_end(c, errno_kind(errno), now);
        return;
    }
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
    int rc = sse_send_pending(c->fd, c->out, c->out_len, &c->out_off);

    if (rc > 0)
        return;
    if (rc < 0) {
        conn_end(c, errno_kind(errno), now);
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
void run_deferred(int64_t now)
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

void on_socket(uint64_t key, uint32_t events, int64_t now)
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
