/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* What a client is told when no member can serve it, and the retry:
 * hints that spread a crowd of reconnecting clients. */
#ifndef SSE_ANSWER_H
#define SSE_ANSWER_H

#include "httpd.h"
#include "mod_proxy.h"

#include "ssepolicy.h"
#include "sse_config.h"

typedef struct {
    apr_int64_t due_ms;      /* until the soonest member is due again */
    ssep_class  cls;         /* the class keeping that member out */
    int         all_gave_up; /* every member has given up */
} sse_outlook;

/* The outlook of the request's balancer, or of its single worker. */
void sse_outlook_get(request_rec *r, proxy_worker *worker, ssep_class cls,
                     sse_outlook *o);

/* A per-client retry: hint in ms: the outlook's due time plus jitter,
 * capped by the class's maximum delay. */
apr_int64_t sse_retry_hint(request_rec *r, const sse_server_conf *sc,
                           const sse_outlook *o);

/* The retry: a healthy stream starts with (SSEProxyRetry); -1 for none. */
apr_int64_t sse_initial_retry(request_rec *r, const sse_dir_conf *d,
                              const sse_server_conf *sc);

/* Answers a request no member can serve: 200 + retry: for an
 * EventSource, 204 once every member gave up (SSEProxyGiveUp 204), 503 +
 * Retry-After for anyone else.  The client comes back no sooner than
 * floor_ms (a backend's Retry-After; -1 for none).  Returns the handler
 * status (OK). */
int sse_answer_unavailable(request_rec *r, const sse_dir_conf *d,
                           const sse_server_conf *sc, proxy_worker *worker,
                           ssep_class cls, apr_int64_t floor_ms);

/* When a client over a limit should come back: the NETWORK_ERROR
 * class's delay for its strikes-th limited attempt in a row (its
 * initial delay for the first), spread upward by up to half, capped by
 * the class's maximum, and never sooner than floor_ms. */
apr_int64_t sse_limit_retry_hint(request_rec *r, const sse_server_conf *sc,
                                 unsigned strikes, apr_int64_t floor_ms);

/* Answers a client over a limit (limit names it, why says it for
 * people): 200 + retry: for an EventSource, 429 + Retry-After for anyone
 * else, both at once and with the connection closed after them.
 * Returns the handler status (OK). */
int sse_answer_later(request_rec *r, const sse_dir_conf *d,
                     apr_int64_t hint, const char *limit, const char *why);

/* 1 for an EventSource: a GET that asked for text/event-stream. */
int sse_client_wants_stream(request_rec *r);

#endif
