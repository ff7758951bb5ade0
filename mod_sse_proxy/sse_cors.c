/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include "httpd.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_strings.h"

#include "sse_cors.h"

APLOG_USE_MODULE(sse_proxy);

/* The length of origin without its scheme's default port: browsers
 * leave that out of Origin, and an entry may still spell it out. */
static size_t without_default_port(const char *origin)
{
    size_t n = strlen(origin);

    if (!strncasecmp(origin, "http://", 7) && n > 10
        && !strcmp(origin + n - 3, ":80"))
        return n - 3;
    if (!strncasecmp(origin, "https://", 8) && n > 12
        && !strcmp(origin + n - 4, ":443"))
        return n - 4;
    return n;
}

/* The configured entry that allows origin, or NULL. */
static const char *allowed(const sse_dir_conf *d, const char *origin)
{
    size_t n = without_default_port(origin);
    int i;

    for (i = 0; i < d->allow_origins->nelts; i++) {
        const char *o = APR_ARRAY_IDX(d->allow_origins, i, const char *);
        /* origins compare exactly, except for the scheme and host's case */
        if (!strcmp(o, "*")
            || (without_default_port(o) == n && !strncasecmp(o, origin, n)))
            return o;
    }
    return NULL;
}

int sse_cors_origin_listed(const sse_dir_conf *d, const char *origin)
{
    return d->allow_origins && d->allow_origins->nelts
           && allowed(d, origin) != NULL;
}

static const char *matching_origin(request_rec *r, const sse_dir_conf *d,
                                   const char **entry)
{
    const char *origin;

    if (!d->allow_origins || !d->allow_origins->nelts)
        return NULL;
    origin = apr_table_get(r->headers_in, "Origin");
    if (!origin)
        return NULL;
    *entry = allowed(d, origin);
    return *entry ? origin : NULL;
}

void sse_cors_headers(request_rec *r, const sse_dir_conf *d)
{
    const char *entry = NULL, *origin;

    if (!d->allow_origins || !d->allow_origins->nelts)
        return;
    /* our policy replaces whatever the backend said */
    apr_table_unset(r->headers_out, "Access-Control-Allow-Origin");
    apr_table_unset(r->headers_out, "Access-Control-Allow-Credentials");
    origin = matching_origin(r, d, &entry);
    if (!origin) {
        if (!sse_origins_allow_any(d->allow_origins))
            apr_table_mergen(r->headers_out, "Vary", "Origin");
        return;
    }
    if (!strcmp(entry, "*") && !d->allow_credentials) {
        apr_table_setn(r->headers_out, "Access-Control-Allow-Origin", "*");
        return;
    }
    if (!strcmp(entry, "*")) {
        /* "*" with credentials is refused at configuration time; an
         * inherited mix still must not turn into "any origin with
         * cookies". */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "SSE00050: SSEProxyAllowOrigin * cannot be combined "
                      "with SSEProxyAllowCredentials on; no CORS headers sent");
        return;
    }
    apr_table_setn(r->headers_out, "Access-Control-Allow-Origin", origin);
    apr_table_mergen(r->headers_out, "Vary", "Origin");
    if (d->allow_credentials)
        apr_table_setn(r->headers_out, "Access-Control-Allow-Credentials",
                       "true");
}

int sse_cors_preflight(request_rec *r, const sse_dir_conf *d)
{
    const char *entry = NULL;

    if (r->method_number != M_OPTIONS || !d->allow_origins
        || !d->allow_origins->nelts
        || !apr_table_get(r->headers_in, "Access-Control-Request-Method"))
        return 0;
    sse_cors_headers(r, d);
    if (matching_origin(r, d, &entry)) {
        apr_table_setn(r->headers_out, "Access-Control-Allow-Methods",
                       "GET, HEAD");
        apr_table_setn(r->headers_out, "Access-Control-Allow-Headers",
                       "Last-Event-ID, Cache-Control, Accept");
        apr_table_setn(r->headers_out, "Access-Control-Max-Age", "600");
    }
    r->status = HTTP_NO_CONTENT;
    return 1;
}
