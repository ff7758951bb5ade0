/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* CORS for SSE routes: SSEProxyAllowOrigin / SSEProxyAllowCredentials. */
#ifndef SSE_CORS_H
#define SSE_CORS_H

#include "httpd.h"

#include "sse_config.h"

/* Adds the CORS headers a response to r needs under d (nothing when
 * SSEProxyAllowOrigin is not set or the Origin does not match). */
void sse_cors_headers(request_rec *r, const sse_dir_conf *d);

/* 1 when r is a CORS preflight this module answers (then it did). */
int sse_cors_preflight(request_rec *r, const sse_dir_conf *d);

/* 1 when SSEProxyAllowOrigin lists origin (or is *). */
int sse_cors_origin_listed(const sse_dir_conf *d, const char *origin);

#endif
