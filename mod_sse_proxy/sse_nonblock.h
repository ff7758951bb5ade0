/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* Writes to a stream's client that never wait for the client: what its
 * socket cannot take now is set aside, and the relay stops reading the
 * backend until the client has drained it. */
#ifndef SSE_NONBLOCK_H
#define SSE_NONBLOCK_H

#include "httpd.h"
#include "util_filter.h"

typedef struct sse_nonblock sse_nonblock;

/* Registers the connection filter and the hook that adds it to every
 * HTTP/1.x connection (at register_hooks time). */
void sse_nonblock_register(void);

/* Makes writes to c through the filter (just above httpd's core output
 * filter) non-blocking until sse_nonblock_stop().  NULL where it cannot
 * apply: HTTP/2 streams (their connection has no socket of its own) or a
 * connection where another filter sits between it and the core's. */
sse_nonblock *sse_nonblock_start(conn_rec *c);

/* Writes blocking again (httpd's ordinary behaviour, bounded by
 * Timeout): for the end of the response, after the relay. */
void sse_nonblock_stop(sse_nonblock *nb);

/* Writes what is set aside, as much as the socket takes now.  Returns
 * an error when the client is gone. */
apr_status_t sse_nonblock_write(sse_nonblock *nb);

/* Output is set aside: the client's socket was full. */
int sse_nonblock_pending(const sse_nonblock *nb);
/* How much is set aside. */
apr_off_t sse_nonblock_pending_bytes(const sse_nonblock *nb);

#endif
