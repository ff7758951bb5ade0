/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* Streams that wait without a worker thread on the event MPM. */
#ifndef SSE_ASYNC_H
#define SSE_ASYNC_H

#include "httpd.h"
#include "mod_proxy.h"

/* Lets members' connection pools hold as many streams as the MPM. */
void sse_async_post_config(server_rec *s);

/* True (and logged) when a stream that may wait without a thread would
 * have to wait for a pooled connection: every one is held by a stream. */
int sse_async_pool_exhausted(request_rec *r, proxy_worker *worker);

/* Starts this child's watcher when the MPM can suspend requests. */
void sse_async_child_init(apr_pool_t *pchild, server_rec *s);

void sse_async_register_hooks(void);

#endif
