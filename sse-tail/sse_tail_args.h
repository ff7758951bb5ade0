/* Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0 */

/*
 * sse-tail's command line: options, request headers and URLs.  No libcurl
 * here, so that the fuzz target and the unit tests can link it alone.
 */
#ifndef SSE_TAIL_ARGS_H
#define SSE_TAIL_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "ssepolicy.h"

/* Exit statuses; --help and sse-tail.1 list them. */
#define SSE_TAIL_EXIT_OK       0 /* 204, --max-events reached, --help */
#define SSE_TAIL_EXIT_ERROR    1 /* runtime failure: memory, libcurl, output */
#define SSE_TAIL_EXIT_USAGE    2 /* bad option, URL, header or strategy */
#define SSE_TAIL_EXIT_GAVE_UP  3 /* a class's max_attempts used up */
#define SSE_TAIL_EXIT_AUTH     4 /* the server answered 401 or 403 */
#define SSE_TAIL_EXIT_TIMEOUT  5 /* --timeout elapsed */
#define SSE_TAIL_EXIT_POLICY   6 /* --policy-from: fetch failed or bad document */

#define SSE_TAIL_MAX_URL       8192
#define SSE_TAIL_MAX_HEADERS   64
#define SSE_TAIL_MAX_HEADER    8192
#define SSE_TAIL_MAX_STRATEGY  64

typedef enum {
    SSE_TAIL_HTTP_DEFAULT = 0,  /* libcurl's choice (HTTP/1.1 for http://) */
    SSE_TAIL_HTTP_2,            /* HTTP/2: ALPN over TLS, Upgrade on http:// */
    SSE_TAIL_HTTP_2_PRIOR       /* HTTP/2 without Upgrade (h2c prior knowledge) */
} sse_tail_http;

typedef struct {
    ssep_class  cls;
    const char *spec;           /* points into argv */
} sse_tail_strategy_arg;

typedef struct {
    const char *url;
    const char *policy_from;
    int         json;
    int         quiet;
    int         help;
    int         version;
    sse_tail_http http;
    uint64_t    max_events;          /* 0: unlimited */
    int64_t     timeout_ms;          /* 0: none */
    int64_t     connect_timeout_ms;  /* 0: libcurl's default */
    const char *headers[SSE_TAIL_MAX_HEADERS]; /* "Name: value", from argv */
    size_t      n_headers;
    const char *initial_id;          /* from -H 'Last-Event-ID: x', or NULL */
    int         have_accept;         /* the user gave an Accept header */
    int         have_jitter;
    ssep_jitter jitter;
    sse_tail_strategy_arg strategies[SSE_TAIL_MAX_STRATEGY];
    size_t      n_strategies;
} sse_tail_args;

/* Parses argv[1..argc-1] into *a.  Returns 0 on success; otherwise -1
 * with a one-line message (no trailing newline) in err.  With --help or
 * --version only that flag needs to be valid. */
int sse_tail_args_parse(sse_tail_args *a, int argc, char **argv,
                        char *err, size_t errlen);

/* 0 when url is an http:// or https:// URL with a host and no blank or
 * control byte, at most SSE_TAIL_MAX_URL bytes; -1 otherwise, with a
 * reason in err. */
int sse_tail_url_check(const char *url, char *err, size_t errlen);

/* 0 when h is "Name: value": a token name, a colon, a value with no CR,
 * LF or other control byte but HTAB; -1 otherwise, with a reason in err.
 * On success *value points at the value with leading blanks skipped and
 * *name_len is the length of the name. */
int sse_tail_header_check(const char *h, size_t *name_len,
                          const char **value, char *err, size_t errlen);

/* Applies "CLASS=spec" overrides and the jitter of a to p, in command-line
 * order.  0 on success; -1 with a message in err. */
int sse_tail_args_apply_policy(const sse_tail_args *a, ssep_policy *p,
                               char *err, size_t errlen);

/* Parses a duration in seconds ("30", "2.5", "0.001") into ms: at most
 * three decimals, at most one year.  0 on success, -1 otherwise. */
int sse_tail_parse_seconds(const char *s, int64_t *ms);

#endif
