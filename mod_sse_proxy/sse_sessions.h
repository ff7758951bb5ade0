/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* Session affinity by header (SSEProxySessionHeader): the member whose
 * answer named a session serves every later request that carries it.
 * The map lives in an httpd socache (SSEProxySessionCache), shared by
 * every child and kept across graceful restarts. */
#ifndef SSE_SESSIONS_H
#define SSE_SESSIONS_H

#include "httpd.h"
#include "mod_proxy.h"

#include "sse_backend.h"
#include "sse_config.h"

/* Called while the configuration is read: a location names a session
 * header, so the store is needed. */
void sse_sessions_wanted(void);

apr_status_t sse_sessions_pre_config(apr_pool_t *pconf);
int sse_sessions_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                             server_rec *s);
void sse_sessions_child_init(apr_pool_t *p, server_rec *s);

/* mod_proxy's pre_request hook, ahead of mod_proxy_balancer: a request
 * naming a known session goes to its member, or gets 404 when that
 * member cannot serve it (an MCP client then starts a new session). */
int sse_sessions_route(proxy_worker **worker, proxy_balancer **balancer,
                       request_rec *r, proxy_server_conf *conf, char **url);

/* 1 when r was sent to its session's member by sse_sessions_route. */
int sse_sessions_pinned(request_rec *r);

/* The member answered r: a session it names is mapped to it, a pinned
 * session's idle time starts again, one it ended or no longer knows is
 * forgotten. */
void sse_sessions_learn(request_rec *r, const sse_dir_conf *d,
                        proxy_worker *worker, const sse_response *resp);

/* The pinned member of r cannot serve it: the session is forgotten and
 * the client told so (404).  Returns the handler status. */
int sse_sessions_lost(request_rec *r, const sse_dir_conf *d,
                      proxy_worker *worker, const char *why);

#endif
