/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/*
 * Non-blocking writes to a stream's client.
 *
 * httpd 2.4's core output filter (server/core_filters.c) writes
 * non-blocking, but a FLUSH bucket, or more than FlushMaxThreshold bytes
 * (64 KiB by default) it could not write, make it poll the socket until
 * it is writable, for up to Timeout: one client that stops reading then
 * holds the worker thread that writes to it.  Called with a NULL brigade
 * it writes what it holds without ever waiting, and
 * c->data_in_output_filters says whether anything is left.
 *
 * This connection filter sits just above the core output filter (below
 * TLS, which passes FLUSH buckets of its own).  While a relay runs, it
 * drops FLUSH buckets and hands the core filter at most PIECE bytes at a
 * time, and only once it holds nothing: the core filter then never has
 * a reason to wait.  What the socket cannot take stays here, set aside;
 * the relay does not read the backend while anything is (so a stream
 * sets aside at most one backend read, 64 KiB, plus framing) and waits
 * for the socket to be writable instead.
 *
 * Without a FLUSH, the core filter keeps a write under 4 KiB (one event,
 * typically) for later, copied into a pool it creates for that, which
 * the connection then keeps for its life; it writes it when called again
 * with NULL.  So while the core holds nothing, plain data is written to
 * the socket here (as the core's writev_nonblocking() would, counted
 * for mod_logio the same way): no copy, and no such pool per stream.
 * Anything else (metadata such as the request's end, files) goes through
 * the core filter, as before.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_connection.h"
#include "http_core.h"
#include "util_filter.h"
#include "apr_optional.h"

#include "sse_nonblock.h"

/* Below the core filter's FlushMaxThreshold (64 KiB by default): what it
 * holds can never make it wait. */
#define PIECE (16 * 1024)
/* Buckets one direct write gathers at most.  A backend read at
 * saturation holds dozens of events, each a bucket of its own (they
 * arrive one per chunk): all of them go in one writev, as the core
 * filter would send them, since every extra write costs the kernel a
 * segment of its own.  4 KiB of stack. */
#define NVEC 256

static APR_OPTIONAL_FN_TYPE(ap_logio_add_bytes_out) *logio_add_bytes_out;

static const char filter_name[] = "SSE_NONBLOCK";
static ap_filter_rec_t *filter_handle;

struct sse_nonblock {
    conn_rec           *c;
    ap_filter_t        *f;
    ap_filter_t        *core;
    apr_bucket_brigade *held;   /* set aside: the socket was full */
    apr_bucket_brigade *rest;
    int                 active;
};

/* The core filter holds data it could not write: it writes what the
 * socket takes now, never waiting.  Returns 1 when some is still left. */
static int core_still_full(sse_nonblock *nb, apr_status_t *rv)
{
    *rv = APR_SUCCESS;
    if (!nb->c->data_in_output_filters)
        return 0;
    *rv = nb->core->frec->filter_func.out_func(nb->core, NULL);
    return *rv == APR_SUCCESS && nb->c->data_in_output_filters;
}

/* Hands src on, PIECE bytes at a time, while the socket takes them. */
/* Writes the leading data buckets of bb to the socket, without waiting:
 * APR_SUCCESS when it wrote all of them (others may follow: metadata),
 * APR_EAGAIN when the socket took less, or an error. */
static apr_status_t write_direct(sse_nonblock *nb, apr_bucket_brigade *bb)
{
    apr_socket_t *sock = ap_get_conn_socket(nb->c);
    struct iovec vec[NVEC];
    apr_interval_time_t timeout;
    apr_size_t n = 0, i, total = 0, written = 0;
    apr_bucket *b;
    apr_status_t rv;

    for (b = APR_BRIGADE_FIRST(bb);
         b != APR_BRIGADE_SENTINEL(bb) && n < NVEC
         && !APR_BUCKET_IS_METADATA(b) && !APR_BUCKET_IS_FILE(b)
         && b->length != (apr_size_t)-1;
         b = APR_BUCKET_NEXT(b)) {
        const char *data;
        apr_size_t len;

        if (!b->length)
            continue;
        rv = apr_bucket_read(b, &data, &len, APR_NONBLOCK_READ);
        if (rv != APR_SUCCESS)
            return rv;
        vec[n].iov_base = (void *)data;
        vec[n++].iov_len = len;
        total += len;
    }
    apr_socket_timeout_get(sock, &timeout);
    apr_socket_timeout_set(sock, 0);
    rv = total ? apr_socket_sendv(sock, vec, n, &written) : APR_SUCCESS;
    apr_socket_timeout_set(sock, timeout);
    if (written && logio_add_bytes_out)
        logio_add_bytes_out(nb->c, written);
    for (i = 0; (b = APR_BRIGADE_FIRST(bb)) != APR_BRIGADE_SENTINEL(bb)
                && i < n;) {
        if (!b->length) {
            apr_bucket_delete(b);
        }
        else if (written >= b->length) {
            written -= b->length;
            apr_bucket_delete(b);
            i++;
        }
        else {
            if (written) {
                apr_bucket_split(b, written);
                apr_bucket_delete(b);
            }
            return rv == APR_SUCCESS ? APR_EAGAIN : rv;
        }
    }
    return rv;
}

/* The brigade starts with plain data the socket may take directly. */
static int direct_first(const apr_bucket_brigade *bb)
{
    apr_bucket *b = APR_BRIGADE_FIRST(bb);

    return !APR_BUCKET_IS_METADATA(b) && !APR_BUCKET_IS_FILE(b)
           && b->length != (apr_size_t)-1;
}

static apr_status_t write_some(sse_nonblock *nb, apr_bucket_brigade *src)
{
    apr_status_t rv;

    while (!APR_BRIGADE_EMPTY(src)) {
        apr_bucket *after;

        if (core_still_full(nb, &rv) || rv != APR_SUCCESS)
            return rv;
        if (direct_first(src)) {
            rv = write_direct(nb, src);
            if (APR_STATUS_IS_EAGAIN(rv))
                return APR_SUCCESS;   /* the rest is set aside */
            if (rv != APR_SUCCESS)
                return rv;
            continue;
        }
        rv = apr_brigade_partition(src, PIECE, &after);
        if (rv != APR_SUCCESS && rv != APR_INCOMPLETE)
            return rv;
        if (after != APR_BRIGADE_SENTINEL(src))
            apr_brigade_split_ex(src, after, nb->rest);
        rv = ap_pass_brigade(nb->f->next, src);
        apr_brigade_cleanup(src);
        APR_BRIGADE_CONCAT(src, nb->rest);
        if (rv != APR_SUCCESS)
            return rv;
    }
    core_still_full(nb, &rv);
    return rv;
}

static apr_status_t nonblock_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    sse_nonblock *nb = f->ctx;
    apr_bucket *b, *next;
    apr_status_t rv;

    if (!nb || !nb->active || f->c->aborted) {
        /* ordinary, blocking behaviour; what was set aside goes first */
        if (nb)
            APR_BRIGADE_PREPEND(bb, nb->held);
        return ap_pass_brigade(f->next, bb);
    }
    for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = next) {
        next = APR_BUCKET_NEXT(b);
        if (APR_BUCKET_IS_FLUSH(b))
            apr_bucket_delete(b);
    }
    rv = APR_SUCCESS;
    if (!APR_BRIGADE_EMPTY(nb->held))
        rv = write_some(nb, nb->held);
    if (rv == APR_SUCCESS && APR_BRIGADE_EMPTY(nb->held))
        rv = write_some(nb, bb);
    if (rv != APR_SUCCESS) {
        apr_brigade_cleanup(bb);
        apr_brigade_cleanup(nb->held);
        f->c->aborted = 1;
        return rv;
    }
    /* the caller's buckets may point into memory it is about to reuse */
    if (!APR_BRIGADE_EMPTY(bb))
        return ap_save_brigade(f, &nb->held, &bb, f->c->pool);
    return APR_SUCCESS;
}

/* In every HTTP/1.x connection's chain from the start, doing nothing
 * until a relay starts: a connection filter added once a request's chain
 * is built would sit in front of the connection's first filter, where
 * the request's filters do not pass through it. */
static int add_filter(conn_rec *c, void *csd)
{
    (void)csd;
    if (!c->master)
        ap_add_output_filter_handle(filter_handle, NULL, NULL, c);
    return OK;
}

static void retrieve_logio(void)
{
    logio_add_bytes_out = APR_RETRIEVE_OPTIONAL_FN(ap_logio_add_bytes_out);
}

void sse_nonblock_register(void)
{
    ap_hook_optional_fn_retrieve(retrieve_logio, NULL, NULL,
                                 APR_HOOK_MIDDLE);
    filter_handle = ap_register_output_filter(filter_name, nonblock_filter,
                                              NULL, AP_FTYPE_NETWORK - 1);
    ap_hook_pre_connection(add_filter, NULL, NULL, APR_HOOK_MIDDLE);
}

sse_nonblock *sse_nonblock_start(conn_rec *c)
{
    ap_filter_t *f, *core;
    sse_nonblock *nb;

    if (c->master || !filter_handle)
        return NULL;
    for (f = c->output_filters; f && f->frec != filter_handle; f = f->next)
        ;
    if (!f || !f->next)
        return NULL;
    /* only filters that hold nothing back (mod_logio's counter) may sit
     * between it and the core output filter, which ends the chain */
    for (core = f->next; core->next; core = core->next)
        ;
    if (core->frec != ap_core_output_filter_handle)
        return NULL;
    nb = f->ctx;
    if (!nb) {
        nb = apr_pcalloc(c->pool, sizeof(*nb));
        nb->c = c;
        nb->f = f;
        nb->core = core;
        nb->held = apr_brigade_create(c->pool, c->bucket_alloc);
        nb->rest = apr_brigade_create(c->pool, c->bucket_alloc);
        f->ctx = nb;
    }
    nb->active = 1;
    return nb;
}

void sse_nonblock_stop(sse_nonblock *nb)
{
    if (nb)
        nb->active = 0;
}

apr_status_t sse_nonblock_write(sse_nonblock *nb)
{
    apr_status_t rv;

    if (nb->c->aborted)
        return APR_ECONNABORTED;
    rv = write_some(nb, nb->held);
    if (rv != APR_SUCCESS) {
        apr_brigade_cleanup(nb->held);
        nb->c->aborted = 1;
    }
    return rv;
}

int sse_nonblock_pending(const sse_nonblock *nb)
{
    return !APR_BRIGADE_EMPTY(nb->held) || nb->c->data_in_output_filters;
}

apr_off_t sse_nonblock_pending_bytes(const sse_nonblock *nb)
{
    apr_off_t len = 0;

    /* what the core output filter keeps is not counted: at most what
     * one write did not take */
    apr_brigade_length(nb->held, 0, &len);
    return len;
}
