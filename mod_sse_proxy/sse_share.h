/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* Shared streams (SSEProxyShare): which requests share a backend stream,
 * and how a request joins, founds or leaves one. */
#ifndef SSE_SHARE_H
#define SSE_SHARE_H

#include "httpd.h"
#include "http_config.h"

#include "sse_backend.h"
#include "sse_relay.h"
#include "sse_stream.h"

void sse_share_register_hooks(void);
void sse_share_child_init(apr_pool_t *pchild, server_rec *s);

/* The founder's answer: an event stream opens its channel (rl then
 * publishes to it); anything else sends the waiting requests alone. */
void sse_share_opened(sse_stream *st, sse_relay *rl,
                      const sse_response *resp);

/* The stream of st ends: a founder ends its channel (followers end the
 * same way, with this hint and class); a follower leaves its channel,
 * and when the channel broke off takes its hint and class. */
void sse_share_closed(sse_stream *st, sse_end_reason end,
                      apr_int64_t *hint, const char **class_name);

const char *sse_share_set(cmd_parms *cmd, void *dconf, const char *flag,
                          const char *grace);
const char *sse_share_set_vary(cmd_parms *cmd, void *dconf,
                               const char *header);
const char *sse_share_set_replay(cmd_parms *cmd, void *dconf,
                                 const char *events, const char *bytes);

#define SSE_SHARE_CMDS \
    AP_INIT_TAKE12("SSEProxyShare", sse_share_set, NULL, \
                   RSRC_CONF | ACCESS_CONF, \
                   "On [seconds] to serve GET requests for the same " \
                   "backend URL from one backend stream per child, kept " \
                   "for seconds after its last client left (default 5); " \
                   "default Off"), \
    AP_INIT_ITERATE("SSEProxyShareVary", sse_share_set_vary, NULL, \
                    RSRC_CONF | ACCESS_CONF, \
                    "Request headers whose values must match too for " \
                    "requests to share a stream; requests carrying " \
                    "Authorization or Cookie are shared only if listed"), \
    AP_INIT_TAKE12("SSEProxyReplay", sse_share_set_replay, NULL, \
                   RSRC_CONF | ACCESS_CONF, \
                   "Recent events a shared stream keeps for reconnecting " \
                   "clients: count [bytes] (default 1000 1M); 0 for no " \
                   "replay"),

#endif
