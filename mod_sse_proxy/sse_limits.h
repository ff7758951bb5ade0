/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* Stream caps (per client key, per location) and reconnect limits,
 * shared by every child: a client over a limit is told when to come
 * back, at once, without a backend. */
#ifndef SSE_LIMITS_H
#define SSE_LIMITS_H

#include "httpd.h"
#include "http_config.h"

#include "sse_limit_table.h"

apr_status_t sse_limits_pre_config(apr_pool_t *pconf);
apr_status_t sse_limits_post_config(apr_pool_t *pconf, server_rec *s);
void sse_limits_child_init(apr_pool_t *pchild, server_rec *s);
void sse_limits_register_hooks(void);

/* What the status page shows: the counters, the streams the table
 * tracks, and the keys holding the most streams (up to max, most
 * first).  0 when there is no table. */
typedef struct {
    char         label[SSE_LIMIT_LABEL];
    apr_uint32_t open;
    apr_uint32_t strikes;
    int          location;   /* a location's count, not a client's */
} sse_limits_top;

int sse_limits_snapshot(sse_limit_counters *counters, apr_uint32_t *keys,
                        sse_limits_top *top, int max, int *ntop);

/* The status handler's parts: a "limits" member of the JSON object
 * (with its leading comma), the metrics, an HTML section. */
void sse_limits_status_json(request_rec *r);
void sse_limits_status_prometheus(request_rec *r);
void sse_limits_status_html(request_rec *r);

/* The directives, for sse_cmds. */
const char *sse_limits_set_per_client(cmd_parms *cmd, void *dconf,
                                      const char *arg);
const char *sse_limits_set_per_location(cmd_parms *cmd, void *dconf,
                                        const char *arg);
const char *sse_limits_set_rate(cmd_parms *cmd, void *dconf,
                                const char *arg);
const char *sse_limits_set_key(cmd_parms *cmd, void *dconf, const char *kind,
                               const char *name);

#define SSE_LIMITS_CMDS \
    AP_INIT_TAKE1("SSEProxyMaxStreamsPerClient", sse_limits_set_per_client, \
                  NULL, RSRC_CONF | ACCESS_CONF, \
                  "Streams one client (SSEProxyLimitKey) may hold open at " \
                  "once, over every child, or off (default off)"), \
    AP_INIT_TAKE1("SSEProxyMaxStreams", sse_limits_set_per_location, NULL, \
                  RSRC_CONF | ACCESS_CONF, \
                  "Streams this location may hold open at once, over every " \
                  "child, or off (default off)"), \
    AP_INIT_TAKE1("SSEProxyReconnectRate", sse_limits_set_rate, NULL, \
                  RSRC_CONF | ACCESS_CONF, \
                  "Stream requests one client may make: n/period, e.g. " \
                  "10/m, or off (default off)"), \
    AP_INIT_TAKE12("SSEProxyLimitKey", sse_limits_set_key, NULL, \
                   RSRC_CONF | ACCESS_CONF, \
                   "What makes a client for the limits: ip (default), " \
                   "header <name> or env <variable>; an empty or missing " \
                   "value falls back to the address"),

#endif
