/* Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0 */

/*
 * What the two test programs, sse-origin and sse-load, both need around
 * their single-threaded epoll loops: the monotonic clock, a min-heap of
 * per-connection deadlines, epoll registration, numeric addresses, the
 * descriptor limit, command-line options and the few text helpers of an
 * HTTP/1.1 parser.  Neither the module nor the library uses it.
 */
#ifndef SSE_NETUTIL_H
#define SSE_NETUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define SSE_NS_PER_S ((int64_t)1000000000)

/* CLOCK_MONOTONIC in nanoseconds: the origin stamps it into events and the
 * client subtracts it, so both must read the same clock. */
int64_t sse_mono_ns(void);

/* ASCII only: header names and hex digits, never the locale's letters. */
char sse_lower(char ch);
int sse_hexval(char ch);

/* Whether p[0..n) equals lit, ignoring ASCII case; lit is lower case. */
int sse_span_ieq(const char *p, size_t n, const char *lit);

/* Drops spaces and tabs at both ends of *p[0..*n). */
void sse_span_trim(const char **p, size_t *n);

/* Strict decimal: digits only, no sign, no overflow. */
int sse_parse_u64(const char *p, size_t n, uint64_t *out);

/* A deadline kept in a min-heap; it lives inside its owner, which a user
 * finds again with offsetof. */
struct sse_timer {
    int64_t deadline;
    size_t heap_idx;            /* SSE_NO_TIMER while not armed */
};

#define SSE_NO_TIMER SIZE_MAX

struct sse_timers {
    struct sse_timer **heap;
    size_t len, cap;
};

void sse_timer_init(struct sse_timer *t);

/* Room for n armed timers, so that setting them cannot fail. */
int sse_timers_reserve(struct sse_timers *h, size_t n);

/* Arms t, or moves it when it is armed: -1 only when the heap cannot grow. */
int sse_timer_set(struct sse_timers *h, struct sse_timer *t, int64_t when);
void sse_timer_clear(struct sse_timers *h, struct sse_timer *t);

/* The earliest timer, or NULL when none is armed. */
struct sse_timer *sse_timers_first(const struct sse_timers *h);
void sse_timers_free(struct sse_timers *h);

/* Sends p[*off..len) on a non-blocking socket, advancing *off: 0 once all
 * is sent, 1 when the socket would block, -1 when the connection failed
 * (errno is 0 if the peer took no bytes without an error). */
int sse_send_pending(int fd, const char *p, size_t len, size_t *off);

/* epoll_ctl() with the event built in place. */
int sse_epoll_watch(int epfd, int op, int fd, uint32_t events,
                    epoll_data_t data);

/* A numeric host (no name lookups, which could block a benchmark) and a
 * port; 0 on success. */
int sse_resolve_numeric(const char *host, unsigned port,
                        struct sockaddr_storage *addr, socklen_t *addrlen);
void sse_set_port(struct sockaddr_storage *addr, unsigned port);

/* Raises the soft descriptor limit to the hard one, as far as the kernel
 * allows, and reports the limit then in force; -1 if it cannot be read. */
int sse_raise_nofile(struct rlimit *now);

/* The value of option name at argv[*i], given as "--opt value" or
 * "--opt=value"; NULL when argv[*i] is another option.  A missing value
 * ends the program with status 2, naming prog. */
const char *sse_opt_value(const char *prog, int argc, char **argv, int *i,
                          const char *name);

#endif
