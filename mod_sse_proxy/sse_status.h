/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* The sse-proxy-status handler: HTML, JSON and Prometheus views of the
 * counters and of every member's state. */
#ifndef SSE_STATUS_H
#define SSE_STATUS_H

#include "httpd.h"

#include "sse_stats.h"

#define SSE_STATUS_HANDLER "sse-proxy-status"

int sse_status_handler(request_rec *r);

/* Helpers of the views: a JSON string literal of s, and the HELP and
 * TYPE lines of a Prometheus metric. */
const char *sse_status_json_str(apr_pool_t *p, const char *s);
void sse_status_prom_head(request_rec *r, const char *name,
                          const char *type, const char *help);
/* A metric without labels: its HELP and TYPE lines, then its value. */
void sse_status_prom_metric(request_rec *r, const char *name,
                            const char *type, const char *help,
                            apr_int64_t value);

/* The shared streams' part of each view (sse_share_status.c). */
void sse_share_status_json(request_rec *r, sse_counters *c);
void sse_share_status_prometheus(request_rec *r, sse_counters *c);
void sse_share_status_html(request_rec *r, sse_counters *c);

#endif
