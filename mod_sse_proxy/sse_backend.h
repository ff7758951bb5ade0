/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* Talking HTTP/1.1 to the backend: the request we send and the response
 * head we read back. */
#ifndef SSE_BACKEND_H
#define SSE_BACKEND_H

#include "httpd.h"
#include "mod_proxy.h"

#include "ssepolicy.h"

#include "sse_body.h"
#include "sse_reqbody.h"

/* How often a client whose socket cannot tell that it left (an HTTP/2
 * stream, whose connection says so by setting aborted) is looked at: a
 * user who leaves stops the backend's work within a second. */
#define SSE_CLIENT_CHECK apr_time_from_msec(250)

typedef struct {
    int          status;
    const char  *reason;
    int          http_minor;     /* HTTP/1.x */
    apr_table_t *headers;
    int          keepalive;      /* the backend allows reuse */
    sse_body_framing framing;
    apr_off_t    length;         /* with SSE_BODY_LENGTH */
    int          is_event_stream;
    apr_interval_time_t ttfb;    /* request sent -> status line read */
} sse_response;

/* Sends the request for r to the backend: its head (built in p), then
 * body (NULL for none).  OK or an HTTP status: 502 or 504 when the
 * backend failed, anything else is the client's (sse_reqbody_send). */
int sse_backend_send_request(request_rec *r, apr_pool_t *p,
                             proxy_conn_rec *backend,
                             proxy_worker *worker, proxy_server_conf *conf,
                             apr_uri_t *uri, char *url, char *server_portstr,
                             sse_reqbody *body);

/* Waits until the backend starts its answer, for as long as mod_proxy
 * would wait for it (the worker's timeout, else the server's), while
 * watching the client: APR_SUCCESS, APR_TIMEUP, or APR_ECONNABORTED when
 * the client left (r->connection->aborted is then set), so that a
 * backend still thinking is let go at once. */
apr_status_t sse_backend_await_head(request_rec *r, proxy_conn_rec *backend);

/* The backend's Retry-After in ms (delay-seconds or an HTTP-date), -1
 * when there is none or it cannot be read. */
apr_int64_t sse_backend_retry_after(const sse_response *resp);

/* Reads the status line and headers (interim 1xx responses skipped),
 * resp's strings and table in p.
 * APR_SUCCESS, or the error that ended the read (APR_EOF when the backend
 * closed before a status line, APR_EGENERAL for a malformed head). */
apr_status_t sse_backend_read_head(request_rec *r, proxy_conn_rec *backend,
                                   apr_pool_t *p, sse_response *resp);

/* Copies the response head to r: status, end-to-end headers. */
void sse_backend_copy_head(request_rec *r, const sse_response *resp);

/* The policy's condition for a failed backend read or connect. */
ssep_condition sse_backend_condition(apr_status_t rv, int is_ssl);

#endif
