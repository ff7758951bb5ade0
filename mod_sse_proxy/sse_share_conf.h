/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* A location's shared streams and replay ring, as configured. */
#ifndef SSE_SHARE_CONF_H
#define SSE_SHARE_CONF_H

#include "apr.h"
#include "apr_tables.h"

/* Defaults, argued in README.md ("Shared streams"). */
#define SSE_DEFAULT_SHARE_GRACE_S    5
#define SSE_MAX_SHARE_GRACE_S        3600
#define SSE_DEFAULT_REPLAY_EVENTS    1000
#define SSE_MAX_REPLAY_EVENTS        100000
#define SSE_DEFAULT_REPLAY_BYTES     (1024 * 1024)

typedef struct {
    int                 on;            /* SSEProxyShare */
    apr_int64_t         grace_s;
    int                 on_set;
    const char         *where;         /* the section it was set in */
    apr_array_header_t *vary;          /* SSEProxyShareVary: const char * */
    int                 vary_set;
    apr_int64_t         replay_events; /* SSEProxyReplay, 0: no replay */
    apr_int64_t         replay_bytes;
    int                 replay_set;
} sse_share_conf;

void sse_share_conf_init(sse_share_conf *c);
void sse_share_conf_merge(sse_share_conf *c, const sse_share_conf *base,
                          const sse_share_conf *add);

#endif
