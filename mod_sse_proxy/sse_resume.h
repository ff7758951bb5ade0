/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* Seamless failover (SSEProxyResume): a stream whose backend broke off
 * goes on from a usable member, asked with Last-Event-ID, while its
 * client stays connected. */
#ifndef SSE_RESUME_H
#define SSE_RESUME_H

#include "sse_relay.h"
#include "sse_stream.h"

/* Makes rl resumable when the route and the request allow it: resuming
 * on, a GET (a POST is never sent again: it is not idempotent), no
 * request body, no session pinned to the member, no WebSocket. */
void sse_resume_offer(sse_stream *st, sse_relay *rl);

#endif
