/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include "httpd.h"
#include "http_log.h"
#include "mod_proxy.h"

#include "sse_exchange.h"

APLOG_USE_MODULE(sse_proxy);

/* Connects, sends the request and reads the response head.  On a reused
 * pooled connection the backend may have closed it in the meantime: then
 * one fresh connection is tried, as mod_proxy_http does (close=1 before
 * ap_proxy_determine_connection drops the stale socket; the connection
 * record itself stays ours until the caller releases it). */
int sse_exchange_head(request_rec *r, apr_pool_t *p, proxy_conn_rec *backend,
                      proxy_worker *worker, proxy_server_conf *conf,
                      sse_target *t, char *url, const char *scheme,
                      sse_reqbody *body, sse_response *resp,
                      apr_interval_time_t *connect_time,
                      sse_attempt_failure *fail)
{
    int attempt;

    for (attempt = 0; attempt < 2; attempt++) {
        int reused;
        apr_time_t start;
        apr_status_t rv;
        int status;

        t->locurl = url;
        status = ap_proxy_determine_connection(p, r, conf, worker,
                                               backend, t->uri, &t->locurl,
                                               t->proxyname, t->proxyport,
                                               t->server_portstr,
                                               sizeof(t->server_portstr));
        if (status != OK) {
            /* mod_proxy could not resolve or parse the backend address */
            fail->cond = SSEP_COND_DNS;
            return HTTP_SERVICE_UNAVAILABLE;
        }
        backend->close = 0;
        reused = backend->connection != NULL && backend->sock != NULL;
        start = apr_time_now();
        if (ap_proxy_connect_backend(scheme, backend, worker, r->server)) {
            apr_interval_time_t took = apr_time_now() - start;
            apr_interval_time_t limit = worker->s->conn_timeout_set
                                        ? worker->s->conn_timeout
                                        : r->server->timeout;
            fail->cond = took >= limit - limit / 10
                         ? SSEP_COND_CONNECT_TIMEOUT
                         : SSEP_COND_CONNECT_REFUSED;
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "SSE00002: cannot connect to backend %s (%s)",
                          worker->s->name_ex, ssep_condition_name(fail->cond));
            return HTTP_SERVICE_UNAVAILABLE;
        }
        if (!reused)
            *connect_time = apr_time_now() - start;
        status = ap_proxy_connection_create_ex(scheme, backend, r);
        if (status != OK) {
            fail->cond = SSEP_COND_OTHER;
            return HTTP_SERVICE_UNAVAILABLE;
        }
        status = sse_backend_send_request(r, p, backend, worker, conf,
                                          t->uri, t->locurl,
                                          t->server_portstr, body);
        if (status == OK) {
            apr_time_t sent = apr_time_now();

            rv = sse_backend_await_head(r, backend);
            if (APR_STATUS_IS_ECONNABORTED(rv)) {
                /* an inference server stops generating once its
                 * connection closes */
                ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                              "SSE00067: client left before %s answered; "
                              "closing the backend connection",
                              worker->s->name_ex);
                backend->close = 1;
                fail->client = 1;
                apr_table_setn(r->notes, "sse-end", "client");
                return DONE;
            }
            if (rv == APR_SUCCESS)
                rv = sse_backend_read_head(r, backend, p, resp);
            if (rv == APR_SUCCESS) {
                resp->ttfb = apr_time_now() - sent;
                return OK;
            }
        } else if (status != HTTP_BAD_GATEWAY
                   && status != HTTP_GATEWAY_TIME_OUT) {
            /* the client's body failed (413, 400) or the client left */
            backend->close = 1;
            fail->client = 1;
            return status;
        } else {
            rv = status == HTTP_GATEWAY_TIME_OUT ? APR_TIMEUP
                                                 : APR_ECONNRESET;
        }
        backend->close = 1;
        fail->cond = sse_backend_condition(rv, backend->is_ssl);
        if (!reused || rv == APR_EGENERAL || rv == APR_ENOSPC
            || APR_STATUS_IS_TIMEUP(rv) || sse_reqbody_spent(body)) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                          "SSE00004: no valid response head from %s (%s)",
                          worker->s->name_ex, ssep_condition_name(fail->cond));
            return HTTP_SERVICE_UNAVAILABLE;
        }
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r,
                      "SSE00007: pooled connection to %s was closed by the "
                      "backend; retrying on a new one", worker->s->name_ex);
    }
    return HTTP_SERVICE_UNAVAILABLE;
}

