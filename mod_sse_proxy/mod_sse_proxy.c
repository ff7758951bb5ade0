/*
 * mod_sse_proxy: relays Server-Sent Events through mod_proxy.
 *
 * A proxy scheme handler that runs ahead of mod_proxy_http and takes the
 * requests of locations marked "SSEProxy On"; everything else is declined
 * and left to mod_proxy_http.  Routing, balancing and connection pooling
 * stay mod_proxy's: this module only owns the relay of the stream.
 */
#include "apr_strings.h"
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mod_proxy.h"

#include "ssepolicy.h"
#include "sse_backend.h"
#include "sse_config.h"
#include "sse_relay.h"

module AP_MODULE_DECLARE_DATA sse_proxy_module;

static int request_has_body(request_rec *r)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");

    return apr_table_get(r->headers_in, "Transfer-Encoding")
           || (cl && strcmp(cl, "0") != 0);
}

/* Connects, sends the request and reads the response head.  On a reused
 * pooled connection the backend may have closed it in the meantime: then
 * one fresh connection is tried, as mod_proxy_http does. */
static int exchange_head(request_rec *r, proxy_conn_rec *backend,
                         proxy_worker *worker, proxy_server_conf *conf,
                         apr_uri_t *uri, char *locurl, char *server_portstr,
                         const char *scheme, sse_response *resp)
{
    int attempt;

    for (attempt = 0; attempt < 2; attempt++) {
        int reused = backend->connection != NULL && attempt == 0;
        apr_status_t rv;
        int status;

        if (ap_proxy_connect_backend(scheme, backend, worker, r->server)) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "SSE00002: cannot connect to backend %s",
                          worker->s->name);
            return HTTP_SERVICE_UNAVAILABLE;
        }
        status = ap_proxy_connection_create_ex(scheme, backend, r);
        if (status != OK)
            return status;
        status = sse_backend_send_request(r, backend, worker, conf, uri,
                                          locurl, server_portstr);
        if (status == OK) {
            rv = sse_backend_read_head(r, backend, resp);
            if (rv == APR_SUCCESS)
                return OK;
            if (APR_STATUS_IS_TIMEUP(rv)) {
                ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                              "SSE00003: timed out waiting for the response "
                              "head from %s", worker->s->name);
                backend->close = 1;
                return HTTP_GATEWAY_TIME_OUT;
            }
        } else {
            rv = APR_EGENERAL;
        }
        backend->close = 1;
        if (!reused || rv == APR_EGENERAL || rv == APR_ENOSPC) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                          "SSE00004: no valid response head from %s",
                          worker->s->name);
            return HTTP_BAD_GATEWAY;
        }
        /* drop the stale connection and try a new one */
        ap_proxy_release_connection(scheme, backend, r->server);
        backend->close = 0;
    }
    return HTTP_BAD_GATEWAY;
}

static void set_stream_headers(request_rec *r)
{
    apr_table_unset(r->headers_out, "Content-Length");
    apr_table_setn(r->headers_out, "Cache-Control", "no-cache");
    apr_table_setn(r->headers_out, "X-Accel-Buffering", "no");
    /* A compressing filter would hold events back in its buffer. */
    apr_table_setn(r->subprocess_env, "no-gzip", "1");
    apr_table_setn(r->subprocess_env, "no-brotli", "1");
    r->no_local_copy = 1;
}

static int sse_proxy_handler(request_rec *r, proxy_worker *worker,
                             proxy_server_conf *conf, char *url,
                             const char *proxyname, apr_port_t proxyport)
{
    sse_dir_conf *dconf = ap_get_module_config(r->per_dir_config,
                                               &sse_proxy_module);
    const char *scheme;
    proxy_conn_rec *backend = NULL;
    apr_uri_t *uri;
    char *locurl = url;
    char server_portstr[32];
    sse_response resp;
    sse_relay_result res;
    int status;

    if (!sse_conf_enabled(dconf))
        return DECLINED;
    if (!ap_cstr_casecmpn(url, "http:", 5))
        scheme = "http";
    else if (!ap_cstr_casecmpn(url, "https:", 6))
        scheme = "https";
    else
        return DECLINED;
    /* Only GET and HEAD open streams; anything else on the route is an
     * ordinary proxied request for mod_proxy_http. */
    if (r->method_number != M_GET)
        return DECLINED;
    if (request_has_body(r)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "SSE00005: refusing a stream request with a body");
        return HTTP_BAD_REQUEST;
    }

    ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r,
                  "SSE00001: stream %s via %s", url, worker->s->name);
    uri = apr_pcalloc(r->pool, sizeof(*uri));
    status = ap_proxy_acquire_connection(scheme, &backend, worker, r->server);
    if (status != OK)
        goto cleanup;
    backend->is_ssl = !strcmp(scheme, "https");
    backend->close = 0;
    status = ap_proxy_determine_connection(r->pool, r, conf, worker, backend,
                                           uri, &locurl, proxyname, proxyport,
                                           server_portstr,
                                           sizeof(server_portstr));
    if (status != OK)
        goto cleanup;

    memset(&resp, 0, sizeof(resp));
    status = exchange_head(r, backend, worker, conf, uri, locurl,
                           server_portstr, scheme, &resp);
    if (status != OK)
        goto cleanup;

    sse_backend_copy_head(r, &resp);
    if (resp.is_event_stream)
        set_stream_headers(r);
    sse_relay_run(r, backend, dconf, &resp, &res);
    apr_table_setn(r->notes, "sse-end", sse_end_name(res.end));
    apr_table_setn(r->notes, "sse-events",
                   apr_psprintf(r->pool, "%" APR_UINT64_T_FMT, res.events));
    apr_table_setn(r->notes, "sse-bytes",
                   apr_psprintf(r->pool, "%" APR_UINT64_T_FMT, res.bytes));
    apr_table_setn(r->notes, "sse-heartbeats",
                   apr_psprintf(r->pool, "%" APR_UINT64_T_FMT,
                                res.heartbeats));
    status = OK;

cleanup:
    if (backend) {
        if (status != OK)
            backend->close = 1;
        ap_proxy_release_connection(scheme, backend, r->server);
    }
    return status;
}

static int sse_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, server_rec *s)
{
    (void)pconf; (void)plog; (void)ptemp;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG)
        return OK;
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                 "SSE00000: mod_sse_proxy with libssepolicy %s",
                 ssep_version());
    return OK;
}

static void sse_register_hooks(apr_pool_t *p)
{
    /* ahead of mod_proxy_http, as mod_proxy_wstunnel does */
    static const char *const succ[] = { "mod_proxy_http.c", NULL };

    (void)p;
    proxy_hook_scheme_handler(sse_proxy_handler, NULL, succ, APR_HOOK_FIRST);
    ap_hook_post_config(sse_post_config, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(sse_proxy) = {
    STANDARD20_MODULE_STUFF,
    sse_create_dir_conf,
    sse_merge_dir_conf,
    NULL,
    NULL,
    sse_cmds,
    sse_register_hooks,
    AP_MODULE_FLAG_NONE
};
