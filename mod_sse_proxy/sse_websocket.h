/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* SSEProxyWebSocket: an SSE route's stream served over a WebSocket, each
 * event one JSON text message.  The handshake is checked before a member
 * is chosen; the backend is asked for the event stream as an EventSource
 * would ask; the relay then writes frames instead of event text. */
#ifndef SSE_WEBSOCKET_H
#define SSE_WEBSOCKET_H

#include "httpd.h"
#include "apr_buckets.h"

#include "ssepolicy.h"

typedef struct sse_ws sse_ws;

void sse_ws_register_hooks(void);

/* The WebSocket r asked for and was allowed, NULL if none. */
sse_ws *sse_ws_of(request_rec *r);

/* The URL the backend is asked for: url without lastEventId. */
char *sse_ws_backend_url(request_rec *r, char *url);

/* The backend request's headers: those of the upgrade go, the resumption
 * point becomes Last-Event-ID. */
void sse_ws_backend_headers(sse_ws *ws, apr_table_t *headers);

/* The id the client resumes from (URL or subprotocol), or NULL. */
const char *sse_ws_last_event_id(const sse_ws *ws);

/* The backend answered with an event stream: the 101 goes into bb and
 * r's output goes straight to the connection from here. */
void sse_ws_accept(sse_ws *ws, apr_bucket_brigade *bb);

/* Frames appended to bb; each returns the bytes appended. */
apr_size_t sse_ws_event(sse_ws *ws, apr_bucket_brigade *bb,
                        const ssep_event *ev);
apr_size_t sse_ws_named_message(sse_ws *ws, apr_bucket_brigade *bb,
                                const char *type, const char *data);
apr_size_t sse_ws_ping(sse_ws *ws, apr_bucket_brigade *bb);
/* The close frame, once; later calls append nothing. */
apr_size_t sse_ws_close(sse_ws *ws, apr_bucket_brigade *bb, int code,
                        const char *reason);

/* Reads what the client sent, without blocking: pongs for its pings and
 * the echo of its close go into bb.  0 to go on; -1 when the stream must
 * end (the client closed, broke the protocol or left). */
int sse_ws_read_client(sse_ws *ws, apr_bucket_brigade *bb);

#endif
