/* Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sse_netutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t sse_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * SSE_NS_PER_S + ts.tv_nsec;
}

/* ------------------------------------------------------------------ */
/* Text                                                                 */
/* ------------------------------------------------------------------ */

char sse_lower(char ch)
{
    return (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
}

int sse_hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = sse_lower(ch);
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

int sse_span_ieq(const char *p, size_t n, const char *lit)
{
    size_t i;

    if (strlen(lit) != n)
        return 0;
    for (i = 0; i < n; i++)
        if (sse_lower(p[i]) != lit[i])
            return 0;
    return 1;
}

void sse_span_trim(const char **p, size_t *n)
{
    while (*n && (**p == ' ' || **p == '\t')) {
        (*p)++;
        (*n)--;
    }
    while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
}

int sse_parse_u64(const char *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    if (n == 0 || n > 20)
        return -1;
    for (i = 0; i < n; i++) {
        unsigned d;

        if (p[i] < '0' || p[i] > '9')
            return -1;
        d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Timer heap: one entry per timer at most, keyed by deadline           */
/* ------------------------------------------------------------------ */

static void heap_place(struct sse_timers *h, size_t i, struct sse_timer *t)
{
    h->heap[i] = t;
    t->heap_idx = i;
}

static void heap_up(struct sse_timers *h, size_t i)
{
    struct sse_timer *t = h->heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;

        if (h->heap[parent]->deadline <= t->deadline)
            break;
        heap_place(h, i, h->heap[parent]);
        i = parent;
    }
    heap_place(h, i, t);
}

static void heap_down(struct sse_timers *h, size_t i)
{
    struct sse_timer *t = h->heap[i];

    for (;;) {
        size_t l = 2 * i + 1, m = i;
        int64_t best = t->deadline;

        if (l < h->len && h->heap[l]->deadline < best) {
            m = l;
            best = h->heap[l]->deadline;
        }
        if (l + 1 < h->len && h->heap[l + 1]->deadline < best)
            m = l + 1;
        if (m == i)
            break;
        heap_place(h, i, h->heap[m]);
        i = m;
    }
    heap_place(h, i, t);
}

void sse_timer_init(struct sse_timer *t)
{
    t->deadline = 0;
    t->heap_idx = SSE_NO_TIMER;
}

int sse_timers_reserve(struct sse_timers *h, size_t n)
{
    struct sse_timer **nh;

    if (n <= h->cap)
        return 0;
    if (n > SIZE_MAX / sizeof(*nh))
        return -1;
    nh = realloc(h->heap, n * sizeof(*nh));
    if (!nh)
        return -1;
    h->heap = nh;
    h->cap = n;
    return 0;
}

void sse_timer_clear(struct sse_timers *h, struct sse_timer *t)
{
    size_t i = t->heap_idx;

    if (i == SSE_NO_TIMER)
        return;
    t->heap_idx = SSE_NO_TIMER;
    h->len--;
    if (i == h->len)
        return;
    heap_place(h, i, h->heap[h->len]);
    heap_up(h, i);
    heap_down(h, h->heap[i]->heap_idx);
}

int sse_timer_set(struct sse_timers *h, struct sse_timer *t, int64_t when)
{
    if (t->heap_idx != SSE_NO_TIMER) {
        t->deadline = when;
        heap_up(h, t->heap_idx);
        heap_down(h, t->heap_idx);
        return 0;
    }
    if (h->len == h->cap
        && sse_timers_reserve(h, h->cap ? h->cap * 2 : 1024) < 0)
        return -1;
    t->deadline = when;
    heap_place(h, h->len++, t);
    heap_up(h, t->heap_idx);
    return 0;
}

struct sse_timer *sse_timers_first(const struct sse_timers *h)
{
    return h->len ? h->heap[0] : NULL;
}

void sse_timers_free(struct sse_timers *h)
{
    free(h->heap);
    memset(h, 0, sizeof(*h));
}

/* ------------------------------------------------------------------ */
/* Sockets, descriptors, options                                        */
/* ------------------------------------------------------------------ */

int sse_send_pending(int fd, const char *p, size_t len, size_t *off)
{
    while (*off < len) {
        ssize_t n = send(fd, p + *off, len - *off, MSG_NOSIGNAL);

        if (n > 0) {
            *off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 1;
        if (n == 0)
            errno = 0;
        return -1;
    }
    return 0;
}

int sse_epoll_watch(int epfd, int op, int fd, uint32_t events,
                    epoll_data_t data)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data = data;
    return epoll_ctl(epfd, op, fd, &ev);
}

void sse_set_port(struct sockaddr_storage *addr, unsigned port)
{
    if (addr->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)addr)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)addr)->sin_port = htons((uint16_t)port);
}

int sse_resolve_numeric(const char *host, unsigned port,
                        struct sockaddr_storage *addr, socklen_t *addrlen)
{
    struct addrinfo hints, *ai;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    if (getaddrinfo(host, "0", &hints, &ai) != 0)
        return -1;
    memcpy(addr, ai->ai_addr, ai->ai_addrlen);
    *addrlen = ai->ai_addrlen;
    freeaddrinfo(ai);
    sse_set_port(addr, port);
    return 0;
}

int sse_raise_nofile(struct rlimit *now)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -1;
    if (rl.rlim_cur != rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
            /* the kernel refuses an unlimited value above nr_open */
            rl.rlim_cur = 1048576;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    *now = rl;
    return 0;
}

const char *sse_opt_value(const char *prog, int argc, char **argv, int *i,
                          const char *name)
{
    size_t n = strlen(name);
    const char *a = argv[*i];

    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        fprintf(stderr, "%s: %s needs a value\n", prog, name);
        exit(2);
    }
    return argv[++*i];
}
