/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* Slow start (SSEProxySlowStart): a member back from backoff takes part
 * in a growing share of its balancer's elections, whatever the
 * balancer's lbmethod, and when no other member can take a stream, the
 * streams it does not take yet are told to come back later. */
#ifndef SSE_SLOW_START_H
#define SSE_SLOW_START_H

#include "httpd.h"
#include "mod_proxy.h"

/* A server configured a slow start: elections go through it. */
void sse_slow_start_wanted(void);

void sse_slow_start_register_hooks(void);

/* 1 when the election of worker for r held the stream back: the member
 * is in slow start, no other could take the stream, and its share did
 * not cover this one.  Counts it for the member. */
int sse_slow_start_held(request_rec *r, proxy_worker *worker);

#endif
