/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* One exchange with a member: connect, send the request, read the
 * answer's head.  The handler's attempts and a stream's resumes both go
 * through it. */
#ifndef SSE_EXCHANGE_H
#define SSE_EXCHANGE_H

#include "httpd.h"
#include "mod_proxy.h"

#include "ssepolicy.h"
#include "sse_backend.h"
#include "sse_reqbody.h"

/* Why an attempt failed before the client got a byte. */
typedef struct {
    ssep_condition cond;
    int            client;   /* the client's part failed, or it left */
} sse_attempt_failure;

/* Where the request goes: filled by ap_proxy_determine_connection. */
typedef struct {
    apr_uri_t  *uri;
    char       *locurl;
    char        server_portstr[32];
    const char *proxyname;
    apr_port_t  proxyport;
} sse_target;

/* Connects backend (acquired from worker), sends r's request for url
 * and reads the response head into resp.  OK, or the status to answer
 * with (fail says whether the member or the client failed); DONE when
 * the client left while the member was thinking.  What t and resp point
 * to is allocated in p, which the caller may destroy once it has taken
 * over the answer (sse_stream_open() copies what the stream keeps). */
int sse_exchange_head(request_rec *r, apr_pool_t *p, proxy_conn_rec *backend,
                      proxy_worker *worker, proxy_server_conf *conf,
                      sse_target *t, char *url, const char *scheme,
                      sse_reqbody *body, sse_response *resp,
                      apr_interval_time_t *connect_time,
                      sse_attempt_failure *fail);

#endif
