/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* A location's stream caps and reconnect limit, as configured. */
#ifndef SSE_LIMITS_CONF_H
#define SSE_LIMITS_CONF_H

#include "apr.h"
#include "apr_pools.h"
#include "apr_time.h"

typedef enum {
    SSE_LIMIT_BY_IP = 0,         /* the client's address (mod_remoteip's) */
    SSE_LIMIT_BY_HEADER,         /* a request header */
    SSE_LIMIT_BY_ENV             /* an environment variable */
} sse_limit_key_kind;

typedef struct {
    apr_int64_t         per_client;    /* SSEProxyMaxStreamsPerClient, 0 off */
    int                 per_client_set;
    apr_int64_t         per_location;  /* SSEProxyMaxStreams, 0 off */
    int                 per_location_set;
    apr_uint32_t        rate_n;        /* SSEProxyReconnectRate, 0 off */
    apr_interval_time_t rate_period;
    int                 rate_set;
    int                 key_kind;      /* SSEProxyLimitKey */
    const char         *key_name;
    int                 key_set;
    const char         *where;         /* the section it was written in */
} sse_limits_conf;

void sse_limits_conf_init(sse_limits_conf *c, const char *where);
void sse_limits_conf_merge(sse_limits_conf *c, const sse_limits_conf *base,
                           const sse_limits_conf *add);

#endif
