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

#include "sse_body.h"

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

/* Sends the request head for r to the backend.  OK or an HTTP status. */
int sse_backend_send_request(request_rec *r, proxy_conn_rec *backend,
                             proxy_worker *worker, proxy_server_conf *conf,
                             apr_uri_t *uri, char *url, char *server_portstr);

/* Reads the status line and headers (interim 1xx responses skipped).
 * APR_SUCCESS, or the error that ended the read (APR_EOF when the backend
 * closed before a status line, APR_EGENERAL for a malformed head). */
apr_status_t sse_backend_read_head(request_rec *r, proxy_conn_rec *backend,
                                   sse_response *resp);

/* Copies the response head to r: status, end-to-end headers. */
void sse_backend_copy_head(request_rec *r, const sse_response *resp);

#endif
