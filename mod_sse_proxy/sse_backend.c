/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include <errno.h>

#include "httpd.h"

#include "apr_strings.h"
#include "apr_lib.h"
#include "apr_date.h"
#include "apr_poll.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"

#include "sse_backend.h"
#include "sse_validate.h"
#include "sse_websocket.h"

APLOG_USE_MODULE(sse_proxy);

#define MAX_HEAD_LINE   8192
#define MAX_HEAD_FIELDS 100
#define MAX_INTERIM     10

int sse_backend_send_request(request_rec *r, apr_pool_t *p,
                             proxy_conn_rec *backend,
                             proxy_worker *worker, proxy_server_conf *conf,
                             apr_uri_t *uri, char *url, char *server_portstr,
                             sse_reqbody *body)
{
    apr_bucket_alloc_t *ba = r->connection->bucket_alloc;
    apr_bucket_brigade *bb = apr_brigade_create(p, ba);
    apr_table_t *saved = r->headers_in;
    const char *leid;
    char *old_cl = NULL, *old_te = NULL;
    int rc;

    /* ap_proxy_create_hdrbrgd() reads r->headers_in: give it our variant
     * and put the client's own headers back afterwards, so logging and
     * other modules see what the client sent.  The head's lines are pool
     * buckets of p: one whose pool goes before it was written turns
     * itself into a heap bucket. */
    r->headers_in = apr_table_copy(p, saved);
    if (sse_ws_of(r))
        sse_ws_backend_headers(sse_ws_of(r), r->headers_in);
    /* A GET on an SSE route is an EventSource; other methods say what
     * they accept (MCP servers insist on both JSON and event streams). */
    if (r->method_number == M_GET)
        apr_table_setn(r->headers_in, "Accept", "text/event-stream");
    /* A compressed stream could not be cut into events, and it would sit
     * in a decompressor's buffer: never ask for one. */
    apr_table_unset(r->headers_in, "Accept-Encoding");
    apr_table_unset(r->headers_in, "TE");
    leid = apr_table_get(r->headers_in, "Last-Event-ID");
    if (leid) {
        const char *why = sse_last_event_id_check(leid, strlen(leid));
        if (why) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          "SSE00010: not forwarding Last-Event-ID: %s", why);
            apr_table_unset(r->headers_in, "Last-Event-ID");
        }
    }
    rc = ap_proxy_create_hdrbrgd(p, bb, r, backend, worker, conf, uri,
                                 url, server_portstr, &old_cl, &old_te);
    r->headers_in = saved;
    if (rc != OK)
        return rc;
    sse_reqbody_frame(body, r, bb);
    return sse_reqbody_send(body, r, backend, bb);
}

apr_status_t sse_backend_await_head(request_rec *r, proxy_conn_rec *backend)
{
    conn_rec *c = r->connection;
    proxy_worker *worker = backend->worker;
    apr_interval_time_t limit = worker->s->timeout_set ? worker->s->timeout
                                                      : r->server->timeout;
    apr_time_t deadline = apr_time_now() + limit;
    apr_pollfd_t pfd[2];
    apr_int32_t n = 1;

    memset(pfd, 0, sizeof(pfd));
    pfd[0].p = r->pool;
    pfd[0].desc_type = APR_POLL_SOCKET;
    pfd[0].desc.s = backend->sock;
    pfd[0].reqevents = APR_POLLIN;
    if (!c->master) {
        pfd[1] = pfd[0];
        pfd[1].desc.s = ap_get_conn_socket(c);
        n = 2;
    }
    for (;;) {
        apr_time_t now = apr_time_now();
        apr_interval_time_t slice = deadline - now;
        apr_int32_t signalled = 0;
        apr_status_t rv;

        if (slice <= 0)
            return APR_TIMEUP;
        if (n == 1 && slice > SSE_CLIENT_CHECK)
            slice = SSE_CLIENT_CHECK;
        rv = apr_poll(pfd, n, &signalled, slice);
        if (rv == APR_SUCCESS) {
            if (pfd[0].rtnevents)
                return APR_SUCCESS;
            if (n > 1 && pfd[1].rtnevents) {
                if (!ap_proxy_is_socket_connected(pfd[1].desc.s)) {
                    c->aborted = 1;
                    return APR_ECONNABORTED;
                }
                /* it sent more (a pipelined request): from here its
                 * socket cannot tell when it leaves */
                n = 1;
            }
        }
        else if (!APR_STATUS_IS_TIMEUP(rv) && !APR_STATUS_IS_EINTR(rv)) {
            return rv;
        }
        if (c->aborted)
            return APR_ECONNABORTED;
    }
}

apr_int64_t sse_backend_retry_after(const sse_response *resp)
{
    const char *v = apr_table_get(resp->headers, "Retry-After");
    apr_time_t when;

    if (!v)
        return -1;
    while (*v == ' ' || *v == '\t')
        v++;
    if (apr_isdigit(*v)) {
        apr_int64_t s = 0;
        for (; apr_isdigit(*v); v++) {
            if (s > 10 * 365 * 86400)
                return -1;
            s = s * 10 + (*v - '0');
        }
        while (*v == ' ' || *v == '\t')
            v++;
        return *v ? -1 : s * 1000;
    }
    when = apr_date_parse_http(v);
    if (when == APR_DATE_BAD)
        return -1;
    when -= apr_time_now();
    return when > 0 ? apr_time_as_msec(when) : 0;
}

/* One CRLF- or LF-terminated line, terminator stripped, at most
 * MAX_HEAD_LINE bytes, in p.  bb is always left empty: its buckets come
 * from the backend connection's allocator, which goes away with that
 * connection, while bb itself lives in p. */
static apr_status_t read_line(request_rec *r, conn_rec *origin,
                              apr_pool_t *p, apr_bucket_brigade *bb,
                              char **line)
{
    char buf[MAX_HEAD_LINE + 2];
    apr_size_t have = 0;
    apr_status_t rv;

    for (;;) {
        apr_size_t n = sizeof(buf) - have;

        rv = ap_get_brigade(origin->input_filters, bb, AP_MODE_GETLINE,
                            APR_BLOCK_READ, 0);
        if (rv != APR_SUCCESS)
            break;
        if (APR_BRIGADE_EMPTY(bb) || APR_BUCKET_IS_EOS(APR_BRIGADE_FIRST(bb))) {
            rv = APR_EOF;
            break;
        }
        rv = apr_brigade_flatten(bb, buf + have, &n);
        apr_brigade_cleanup(bb);
        if (rv != APR_SUCCESS)
            break;
        have += n;
        if (have > 0 && buf[have - 1] == '\n')
            break;
        if (have >= sizeof(buf)) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "SSE00011: backend response header line longer "
                          "than %d bytes", MAX_HEAD_LINE);
            rv = APR_ENOSPC;
            break;
        }
    }
    apr_brigade_cleanup(bb);
    if (rv != APR_SUCCESS)
        return rv;
    have--;
    if (have > 0 && buf[have - 1] == '\r')
        have--;
    *line = apr_pstrmemdup(p, buf, have);
    return APR_SUCCESS;
}

static int parse_status_line(const char *line, sse_response *resp)
{
    /* "HTTP/1.1 200 OK" */
    if (strncmp(line, "HTTP/1.", 7) || !apr_isdigit(line[7]) || line[8] != ' '
        || !apr_isdigit(line[9]) || !apr_isdigit(line[10])
        || !apr_isdigit(line[11]) || (line[12] && line[12] != ' '))
        return -1;
    resp->http_minor = line[7] - '0';
    resp->status = (line[9] - '0') * 100 + (line[10] - '0') * 10
                   + (line[11] - '0');
    if (resp->status < 100)
        return -1;
    resp->reason = line[12] ? line + 13 : "";
    return 0;
}

static int token_listed(apr_pool_t *p, const char *list, const char *token)
{
    return list && ap_find_token(p, list, token);
}

static void decide_framing(request_rec *r, apr_pool_t *p,
                           sse_response *resp)
{
    const char *te = apr_table_get(resp->headers, "Transfer-Encoding");
    const char *cl = apr_table_get(resp->headers, "Content-Length");
    const char *conn = apr_table_get(resp->headers, "Connection");

    resp->keepalive = resp->http_minor >= 1
                      ? !token_listed(p, conn, "close")
                      : token_listed(p, conn, "keep-alive");
    resp->framing = SSE_BODY_CLOSE;
    resp->length = 0;
    if (r->header_only || resp->status == 204 || resp->status == 304
        || resp->status < 200) {
        resp->framing = SSE_BODY_NONE;
    } else if (te) {
        /* chunked must be the last coding; anything else we cannot frame
         * and is read until close (as RFC 9112 says) */
        if (!strcasecmp(te, "chunked"))
            resp->framing = SSE_BODY_CHUNKED;
        else
            resp->keepalive = 0;
    } else if (cl) {
        char *end;
        apr_off_t len;
        if (apr_strtoff(&len, cl, &end, 10) == APR_SUCCESS && !*end
            && len >= 0) {
            resp->framing = SSE_BODY_LENGTH;
            resp->length = len;
        } else {
            resp->keepalive = 0; /* unreadable length: until close */
        }
    }
    if (resp->framing == SSE_BODY_CLOSE)
        resp->keepalive = 0;
}

apr_status_t sse_backend_read_head(request_rec *r, proxy_conn_rec *backend,
                                   apr_pool_t *p, sse_response *resp)
{
    apr_bucket_brigade *bb = apr_brigade_create(p,
                                                r->connection->bucket_alloc);
    int interim;

    for (interim = 0; interim <= MAX_INTERIM; interim++) {
        char *line;
        int fields = 0;
        apr_status_t rv = read_line(r, backend->connection, p, bb, &line);

        if (rv != APR_SUCCESS)
            return rv;
        if (parse_status_line(line, resp) < 0) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "SSE00012: invalid status line from backend: '%.80s'",
                          ap_escape_logitem(r->pool, line));
            return APR_EGENERAL;
        }
        resp->headers = apr_table_make(p, 16);
        for (;;) {
            char *colon, *value;
            rv = read_line(r, backend->connection, p, bb, &line);
            if (rv != APR_SUCCESS)
                return rv;
            if (!*line)
                break;
            if (++fields > MAX_HEAD_FIELDS || *line == ' ' || *line == '\t'
                || !(colon = strchr(line, ':')) || colon == line) {
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                              "SSE00013: invalid header line from backend: "
                              "'%.80s'", ap_escape_logitem(r->pool, line));
                return APR_EGENERAL;
            }
            *colon = 0;
            for (value = colon + 1; *value == ' ' || *value == '\t'; value++)
                ;
            apr_table_add(resp->headers, line, value);
        }
        if (resp->status >= 200 || resp->status == 101)
            break;
    }
    if (resp->status < 200) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "SSE00014: backend answered %d, which a stream cannot "
                      "carry", resp->status);
        return APR_EGENERAL;
    }
    decide_framing(r, p, resp);
    {
        const char *ct = apr_table_get(resp->headers, "Content-Type");
        resp->is_event_stream = resp->status == 200 && ct
            && !strncasecmp(ct, "text/event-stream", 17)
            && (ct[17] == 0 || ct[17] == ';' || ct[17] == ' ');
    }
    return APR_SUCCESS;
}

/* Hop-by-hop headers (RFC 9110 7.6.1) and those httpd sets itself. */
static int skip_header(apr_pool_t *p, const char *name,
                       const char *connection)
{
    static const char *const hop[] = {
        "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding",
        "TE", "Trailer", "Upgrade", "Content-Length", "Date", "Server", NULL
    };
    int i;

    for (i = 0; hop[i]; i++)
        if (!strcasecmp(name, hop[i]))
            return 1;
    return token_listed(p, connection, name);
}

typedef struct {
    request_rec     *r;
    const char      *connection;
    proxy_dir_conf  *proxy_conf;
} copy_ctx;

/* The headers that name backend URLs or cookie scopes, rewritten by
 * ProxyPassReverse and ProxyPassReverseCookieDomain/Path as
 * mod_proxy_http rewrites them, so that no internal URL leaks. */
static const char *reverse_mapped(copy_ctx *ctx, const char *key,
                                  const char *val)
{
    static const struct {
        const char *name;
        ap_proxy_header_reverse_map_fn map;
    } mapped[] = {
        { "Location", ap_proxy_location_reverse_map },
        { "Content-Location", ap_proxy_location_reverse_map },
        { "URI", ap_proxy_location_reverse_map },
        { "Destination", ap_proxy_location_reverse_map },
        { "Set-Cookie", ap_proxy_cookie_reverse_map },
        { NULL, NULL }
    };
    int i;

    for (i = 0; mapped[i].name; i++)
        if (!ap_cstr_casecmp(key, mapped[i].name))
            return mapped[i].map(ctx->r, ctx->proxy_conf, val);
    return val;
}

static int copy_one(void *data, const char *key, const char *val)
{
    copy_ctx *ctx = data;

    if (!skip_header(ctx->r->pool, key, ctx->connection))
        apr_table_add(ctx->r->headers_out, key,
                      reverse_mapped(ctx, key, val));
    return 1;
}

void sse_backend_copy_head(request_rec *r, const sse_response *resp)
{
    copy_ctx ctx = { r, apr_table_get(resp->headers, "Connection"),
                     ap_get_module_config(r->per_dir_config, &proxy_module) };
    const char *ct = apr_table_get(resp->headers, "Content-Type");

    r->status = resp->status;
    r->status_line = apr_psprintf(r->pool, "%d %s", resp->status,
                                  resp->reason);
    apr_table_do(copy_one, &ctx, resp->headers, NULL);
    apr_table_unset(r->headers_out, "Content-Type");
    if (ct)
        ap_set_content_type(r, apr_pstrdup(r->pool, ct));
    if (resp->framing == SSE_BODY_LENGTH && !resp->is_event_stream)
        ap_set_content_length(r, resp->length);
}

ssep_condition sse_backend_condition(apr_status_t rv, int is_ssl)
{
    if (APR_STATUS_IS_TIMEUP(rv))
        return SSEP_COND_READ_TIMEOUT;
    if (APR_STATUS_IS_EOF(rv))
        return SSEP_COND_PREMATURE_EOF;
    if (APR_STATUS_IS_ECONNRESET(rv) || APR_STATUS_IS_ECONNABORTED(rv)
        || rv == EPIPE)
        return SSEP_COND_RESET;
    if (APR_STATUS_IS_ECONNREFUSED(rv))
        return SSEP_COND_CONNECT_REFUSED;
    return is_ssl ? SSEP_COND_TLS : SSEP_COND_OTHER;
}
