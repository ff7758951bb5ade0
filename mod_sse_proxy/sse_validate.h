/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* Validation of directive arguments and of the Last-Event-ID request
 * header.  Free of httpd types (APR and libssepolicy only) so that the
 * unit tests and the fuzz targets can link it without an httpd. */
#ifndef SSE_VALIDATE_H
#define SSE_VALIDATE_H

#include "apr_pools.h"
#include "apr_tables.h"

#include "ssepolicy.h"

/* The documented ranges of the directives' values. */
#define SSE_MAX_SECONDS        604800     /* a week */
#define SSE_MIN_EVENT_SIZE     256
#define SSE_MAX_EVENT_SIZE     (APR_INT64_C(1) << 30)
#define SSE_MAX_RETRY_MS       86400000
#define SSE_MAX_LAST_EVENT_ID  1024
#define SSE_MAX_FAILURE_STREAK 1000
#define SSE_MAX_BODY_BUFFER    (APR_INT64_C(64) << 20)
#define SSE_MAX_HEADER_NAME    256
#define SSE_MIN_SLOW_START_MS  1000
#define SSE_MAX_SLOW_START_MS  3600000    /* an hour */

/* The backend statuses counted as member failures: a set of 4xx and 5xx
 * codes. */
#define SSE_STATUS_SET_MIN 400
#define SSE_STATUS_SET_MAX 599
typedef struct {
    apr_uint32_t bits[(SSE_STATUS_SET_MAX - SSE_STATUS_SET_MIN) / 32 + 1];
} sse_status_set;

/* 1 when status is in set. */
int sse_status_set_has(const sse_status_set *set, int status);

typedef enum {
    SSE_GIVEUP_204 = 0,          /* tell an EventSource to stop */
    SSE_GIVEUP_RETRY             /* keep sending it a retry: hint */
} sse_giveup_mode;

#define SSE_RETRY_AUTO (-1)
#define SSE_RETRY_OFF  0

/* The directive parsers: NULL on success with the value in *out, else a
 * message from p that starts with the directive's name, *out untouched.
 * directive is the name the message uses. */

/* On or Off, any case: 1 or 0. */
const char *sse_parse_on_off(apr_pool_t *p, const char *directive,
                             const char *arg, int *out);
/* 1..SSE_MAX_SECONDS, or "off" as 0. */
const char *sse_parse_seconds_or_off(apr_pool_t *p, const char *directive,
                                     const char *arg, apr_int64_t *out);
/* SSE_MIN_EVENT_SIZE..SSE_MAX_EVENT_SIZE bytes; a K, M or G suffix
 * multiplies by 2^10, 2^20 or 2^30. */
const char *sse_parse_event_size(apr_pool_t *p, const char *directive,
                                 const char *arg, apr_int64_t *out);
/* 0..SSE_MAX_BODY_BUFFER bytes, with the same suffixes. */
const char *sse_parse_body_buffer(apr_pool_t *p, const char *directive,
                                  const char *arg, apr_int64_t *out);
/* 1..SSE_MAX_SECONDS. */
const char *sse_parse_seconds(apr_pool_t *p, const char *directive,
                              const char *arg, apr_int64_t *out);
/* An HTTP field name (RFC 9110 token) of at most SSE_MAX_HEADER_NAME
 * characters; *out is a copy from p. */
const char *sse_parse_header_name(apr_pool_t *p, const char *directive,
                                  const char *arg, const char **out);
/* "204" or "retry": an sse_giveup_mode. */
const char *sse_parse_giveup(apr_pool_t *p, const char *directive,
                             const char *arg, int *out);
/* "auto" (SSE_RETRY_AUTO), "off" (SSE_RETRY_OFF) or 1..SSE_MAX_RETRY_MS. */
const char *sse_parse_retry(apr_pool_t *p, const char *directive,
                            const char *arg, apr_int64_t *out);
/* A jitter name of ssep_jitter_parse. */
const char *sse_parse_jitter(apr_pool_t *p, const char *directive,
                             const char *arg, ssep_jitter *out);
/* A class name other than NONE and a non-empty strategy spec: updates
 * that class's strategy in *policy and sets *cls; on error neither
 * changes. */
const char *sse_parse_strategy(apr_pool_t *p, const char *directive,
                               const char *cls_name, const char *spec,
                               ssep_policy *policy, ssep_class *cls);

/* "none", or a list of statuses (NNN) and ranges (NNN-NNN) within
 * SSE_STATUS_SET_MIN..SSE_STATUS_SET_MAX, separated by blanks: the set
 * they name replaces *out. */
const char *sse_parse_status_set(apr_pool_t *p, const char *directive,
                                 const char *args, sse_status_set *out);
/* 1..SSE_MAX_FAILURE_STREAK. */
const char *sse_parse_failure_streak(apr_pool_t *p, const char *directive,
                                     const char *arg, apr_int64_t *out);
/* "off" as 0, or a duration of SSE_MIN_SLOW_START_MS to
 * SSE_MAX_SLOW_START_MS: a whole number with a unit of ms, s, m or h (in
 * any case), seconds without one; *out in ms. */
const char *sse_parse_slow_start(apr_pool_t *p, const char *directive,
                                 const char *arg, apr_int64_t *out);
/* A percentage from 1 to 100, with or without a trailing '%'. */
const char *sse_parse_percent(apr_pool_t *p, const char *directive,
                              const char *arg, apr_int64_t *out);

/* NULL when origin is a valid SSEProxyAllowOrigin entry ("*", or
 * scheme://host[:port] with scheme http or https, a host name, IPv4 or
 * bracketed IPv6 address, a port of 1..65535, and nothing after the
 * authority); else why not. */
const char *sse_origin_check(const char *origin);
/* Checks origin and appends it to origins (const char *, from p); "*"
 * cannot share the list with any other entry.  On error origins is left
 * as it was. */
const char *sse_origins_add(apr_pool_t *p, const char *directive,
                            apr_array_header_t *origins, const char *origin);
/* 1 when origins is the list that allows any origin ("*"). */
int sse_origins_allow_any(const apr_array_header_t *origins);

/* NULL when a Last-Event-ID value of len bytes may be forwarded: at most
 * SSE_MAX_LAST_EVENT_ID bytes, no CR, LF or NUL; else why not. */
const char *sse_last_event_id_check(const char *value, apr_size_t len);

#endif
