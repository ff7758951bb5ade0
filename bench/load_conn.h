/* Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0 */

#ifndef LOAD_CONN_H
#define LOAD_CONN_H

#include "load.h"

/* The client's one deadline: a connect, request or head that takes too
 * long, or the end of the wait before it comes back. */
void timer_set(struct client *c, int64_t when);
void timer_clear(struct client *c);

/* The queue of clients waiting for a connect slot. */
void enqueue(struct client *c);
struct client *dequeue(void);

/* Opens a connection for c and sends its request as the socket allows. */
void client_connect(struct client *c);

/* Closes c's socket and frees what its connection held. */
void conn_release(struct client *c);

/* An epoll event for the socket keyed key; stale keys are dropped. */
void on_socket(uint64_t key, uint32_t events, int64_t now);

/* Reads the sockets that filled the read buffer last turn. */
void run_deferred(int64_t now);

#endif
