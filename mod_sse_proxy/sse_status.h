/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* The sse-proxy-status handler: HTML, JSON and Prometheus views of the
 * counters and of every member's state. */
#ifndef SSE_STATUS_H
#define SSE_STATUS_H

#include "httpd.h"

#define SSE_STATUS_HANDLER "sse-proxy-status"

int sse_status_handler(request_rec *r);

#endif
