/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* A request body on its way to a member, read with mod_proxy's own body
 * functions.  A body up to SSEProxyBodyBuffer is kept whole, so that a
 * member that fails before answering can be replaced by another with the
 * same body; a larger one streams from the client to the one member it
 * started with. */
#ifndef SSE_REQBODY_H
#define SSE_REQBODY_H

#include "httpd.h"
#include "mod_proxy.h"

typedef struct sse_reqbody sse_reqbody;

/* Reads the body's start, up to keep bytes, before any member is asked
 * (the client gets its 100 Continue from here).  Returns OK, or the
 * status to answer (413 over LimitRequestBody, 400 for a broken body);
 * *out is NULL when the request has no body. */
int sse_reqbody_prefetch(request_rec *r, proxy_conn_rec *backend,
                         apr_off_t keep, sse_reqbody **out);

/* 1 when the whole body is kept: another member may be tried. */
int sse_reqbody_replayable(const sse_reqbody *b);

/* 1 once part of a body that is not kept went to a member. */
int sse_reqbody_spent(const sse_reqbody *b);

/* Adds the body's framing (Content-Length or chunked) to the request
 * head's fields in bb; the head is not terminated yet. */
void sse_reqbody_frame(const sse_reqbody *b, request_rec *r,
                       apr_bucket_brigade *bb);

/* Sends head (terminated here) and the body to backend.  Returns OK, or
 * an HTTP status: 400 or 413 when the client's part failed (the client
 * is then the cause, r->connection->aborted when it left), 502 or 504
 * when the member's part did. */
int sse_reqbody_send(sse_reqbody *b, request_rec *r, proxy_conn_rec *backend,
                     apr_bucket_brigade *head);

/* The answer was accepted: the kept copy is no longer needed. */
void sse_reqbody_release(sse_reqbody *b);

/* Bytes of the body read from the client so far. */
apr_off_t sse_reqbody_bytes(const sse_reqbody *b);

#endif
