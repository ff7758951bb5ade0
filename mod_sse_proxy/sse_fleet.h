/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* A fleet of httpd nodes sharing member state and sessions through an
 * httpd socache (SSEProxyStateCache, e.g. redis).  Requests never call
 * the store themselves: each child has a thread that does, and a
 * request waits for it at most SSE_FLEET_WAIT, then goes on with this
 * node's own state. */
#ifndef SSE_FLEET_H
#define SSE_FLEET_H

#include "httpd.h"

/* The most a request waits for the store. */
#define SSE_FLEET_WAIT apr_time_from_msec(5)

typedef enum {
    SSE_FLEET_NONE = 0,     /* no SSEProxyStateCache: this node alone */
    SSE_FLEET_OK,
    SSE_FLEET_UNREACHABLE   /* the node goes on with its own state */
} sse_fleet_state;

void sse_fleet_wanted(void);
apr_status_t sse_fleet_pre_config(apr_pool_t *pconf);
int sse_fleet_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                          server_rec *s);
void sse_fleet_child_init(apr_pool_t *pchild, server_rec *s);

/* 1 when this node is in a fleet and its store answers. */
int sse_fleet_usable(void);

/* The fleet's value of (kind, a, b), waited for at most SSE_FLEET_WAIT:
 * APR_SUCCESS with *value (from p), APR_NOTFOUND, or APR_TIMEUP / an
 * error when the store did not answer in time. */
apr_status_t sse_fleet_get(const char *kind, const char *a, const char *b,
                           apr_pool_t *p, char **value, apr_size_t *len);

/* Stores value under (kind, a, b) until expiry; waits as above. */
apr_status_t sse_fleet_put(const char *kind, const char *a, const char *b,
                           const char *value, apr_time_t expiry);

/* Removes (kind, a, b) without waiting. */
void sse_fleet_remove(const char *kind, const char *a, const char *b);

/* The store's spec, or NULL outside a fleet. */
const char *sse_fleet_spec(void);

#endif
