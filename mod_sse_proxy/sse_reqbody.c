/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include "httpd.h"
#include "apr_strings.h"
#include "http_log.h"
#include "http_protocol.h"

#include "sse_reqbody.h"

APLOG_USE_MODULE(sse_proxy);

#define READ_MAX (64 * 1024)

struct sse_reqbody {
    apr_bucket_brigade *kept;     /* the body's start (all of it if whole) */
    apr_off_t           kept_len;
    apr_off_t           total;    /* read from the client so far */
    apr_off_t           length;   /* Content-Length to send, -1: none */
    int                 whole;    /* the client's whole body is kept */
    int                 replayable;
    int                 chunked;  /* streams with chunked framing */
    int                 spent;
};

/* httpd's HTTP_IN filter leaves LimitRequestBody to the handler for
 * proxied requests: it is enforced here, before a member is asked when
 * the body's length is known or the body fits SSEProxyBodyBuffer. */
static int too_large(request_rec *r, apr_off_t bytes, apr_off_t limit)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  "SSE00069: request body of %s%" APR_OFF_T_FMT " bytes is "
                  "over LimitRequestBody %" APR_OFF_T_FMT,
                  r->read_chunked ? "at least " : "", bytes, limit);
    r->connection->keepalive = AP_CONN_CLOSE;
    return HTTP_REQUEST_ENTITY_TOO_LARGE;
}

int sse_reqbody_prefetch(request_rec *r, proxy_conn_rec *backend,
                         apr_off_t keep, sse_reqbody **out)
{
    const char *te = apr_table_get(r->headers_in, "Transfer-Encoding");
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    sse_reqbody *b;
    apr_off_t bytes = 0, limit = ap_get_limit_req_body(r);
    int status;

    *out = NULL;
    /* a subrequest must not eat its main request's body */
    if ((r->main && !r->kept_body) || (!te && !cl))
        return OK;
    if (cl && limit > 0 && ap_parse_strict_length(&bytes, cl) && bytes > limit)
        return too_large(r, bytes, limit);
    b = apr_pcalloc(r->pool, sizeof(*b));
    b->kept = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    b->length = -1;
    if (ap_request_has_body(r)) {
        status = ap_proxy_prefetch_input(r, backend, b->kept, APR_BLOCK_READ,
                                         &bytes, keep);
        if (status != OK)
            return status;
        if (limit > 0 && bytes > limit)
            return too_large(r, bytes, limit);
    }
    else {
        APR_BRIGADE_INSERT_TAIL(b->kept, apr_bucket_eos_create(
                                    r->connection->bucket_alloc));
    }
    if (!APR_BRIGADE_EMPTY(b->kept)
        && APR_BUCKET_IS_EOS(APR_BRIGADE_LAST(b->kept))) {
        apr_bucket_delete(APR_BRIGADE_LAST(b->kept));
        b->whole = 1;
        b->length = bytes;
    }
    else if (te || r->input_filters != r->proto_input_filters) {
        /* the length is not known, or a filter may change it */
        b->chunked = 1;
    }
    else if (!ap_parse_strict_length(&b->length, cl)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "SSE00062: invalid request Content-Length '%s'",
                      ap_escape_logitem(r->pool, cl));
        return HTTP_BAD_REQUEST;
    }
    b->kept_len = b->total = bytes;
    b->replayable = b->whole && keep > 0;
    if (!b->whole)
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "SSE00063: request body larger than SSEProxyBodyBuffer "
                      "(%" APR_OFF_T_FMT " bytes): it streams to one member "
                      "and is not retried on another", keep);
    *out = b;
    return OK;
}

int sse_reqbody_replayable(const sse_reqbody *b)
{
    return !b || b->replayable;
}

int sse_reqbody_spent(const sse_reqbody *b)
{
    return b && b->spent;
}

apr_off_t sse_reqbody_bytes(const sse_reqbody *b)
{
    return b ? b->total : 0;
}

void sse_reqbody_frame(const sse_reqbody *b, request_rec *r,
                       apr_bucket_brigade *bb)
{
    const char *field;

    if (!b)
        return;
    field = b->chunked
        ? "Transfer-Encoding: chunked" CRLF
        : apr_psprintf(r->pool, "Content-Length: %" APR_OFF_T_FMT CRLF,
                       b->length);
    apr_brigade_puts(bb, NULL, NULL, field);
}

/* Wraps what bb holds in one chunk; the last chunk too at the end. */
static void chunk(apr_bucket_brigade *bb, int last)
{
    apr_bucket_alloc_t *ba = bb->bucket_alloc;
    apr_off_t len = 0;
    char head[32];

    apr_brigade_length(bb, 1, &len);
    if (len > 0) {
        apr_size_t n = apr_snprintf(head, sizeof(head),
                                    "%" APR_UINT64_T_HEX_FMT CRLF,
                                    (apr_uint64_t)len);
        APR_BRIGADE_INSERT_HEAD(bb, apr_bucket_heap_create(head, n, NULL,
                                                           ba));
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_immortal_create(CRLF, 2, ba));
    }
    if (last)
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_immortal_create(
                                    "0" CRLF CRLF, 5, ba));
}

/* Statuses of a failed write to the member: its failure, never the
 * client's. */
static int member_status(int status)
{
    return status == HTTP_GATEWAY_TIME_OUT ? status : HTTP_BAD_GATEWAY;
}

int sse_reqbody_send(sse_reqbody *b, request_rec *r, proxy_conn_rec *backend,
                     apr_bucket_brigade *head)
{
    apr_bucket_alloc_t *ba = head->bucket_alloc;
    apr_bucket_brigade *bb;
    apr_bucket *e;
    int status;

    APR_BRIGADE_INSERT_TAIL(head, apr_bucket_immortal_create(CRLF, 2, ba));
    if (b && b->kept_len) {
        /* copies: the kept body may have to go to another member */
        bb = apr_brigade_create(r->pool, ba);
        for (e = APR_BRIGADE_FIRST(b->kept); e != APR_BRIGADE_SENTINEL(b->kept);
             e = APR_BUCKET_NEXT(e)) {
            apr_bucket *copy;
            if (apr_bucket_copy(e, &copy) != APR_SUCCESS)
                return HTTP_INTERNAL_SERVER_ERROR;
            APR_BRIGADE_INSERT_TAIL(bb, copy);
        }
        if (b->chunked)
            chunk(bb, 0);
        APR_BRIGADE_CONCAT(head, bb);
    }
    status = ap_proxy_pass_brigade(ba, r, backend, backend->connection, head,
                                   1);
    if (status != OK)
        return member_status(status);
    if (!b || b->whole)
        return OK;

    /* The rest comes from the client as the member takes it: from here on
     * the body cannot go to another member. */
    b->spent = 1;
    bb = apr_brigade_create(r->pool, ba);
    for (;;) {
        int eos;

        status = ap_proxy_read_input(r, backend, bb, READ_MAX);
        if (status != OK)
            return status;
        eos = !APR_BRIGADE_EMPTY(bb)
              && APR_BUCKET_IS_EOS(APR_BRIGADE_LAST(bb));
        if (eos)
            apr_bucket_delete(APR_BRIGADE_LAST(bb));
        {
            apr_off_t len = 0, limit = ap_get_limit_req_body(r);
            apr_brigade_length(bb, 1, &len);
            b->total += len;
            if (limit > 0 && b->total > limit)
                return too_large(r, b->total, limit);
        }
        if (b->chunked)
            chunk(bb, eos);
        status = ap_proxy_pass_brigade(ba, r, backend, backend->connection,
                                       bb, eos);
        if (status != OK)
            return member_status(status);
        if (eos)
            return OK;
    }
}

void sse_reqbody_release(sse_reqbody *b)
{
    if (b)
        apr_brigade_cleanup(b->kept);
}
