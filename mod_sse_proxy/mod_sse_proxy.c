/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

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
#include "sse_answer.h"
#include "sse_backend.h"
#include "sse_config.h"
#include "sse_cors.h"
#include "sse_exchange.h"
#include "sse_lbmethod_bystreams.h"
#include "sse_members.h"
#include "sse_nonblock.h"
#include "sse_relay.h"
#include "sse_fleet.h"
#include "sse_limits.h"
#include "sse_reqbody.h"
#include "sse_sessions.h"
#include "sse_slow_start.h"
#include "sse_stats.h"
#include "sse_status.h"
#include "sse_stream.h"
#include "sse_async.h"
#include "sse_share.h"
#include "sse_websocket.h"

module AP_MODULE_DECLARE_DATA sse_proxy_module;

static sse_server_conf *server_conf(request_rec *r)
{
    return ap_get_module_config(r->server->module_config, &sse_proxy_module);
}

/* A member failed before the client saw anything: back it off and let
 * mod_proxy try another one (503 is what makes it fail over). */
static int member_failed(request_rec *r, proxy_worker *worker,
                         ssep_class cls)
{
    sse_member_failure(r, worker, cls, &server_conf(r)->policy);
    apr_table_setn(r->notes, "sse-class", ssep_class_name(cls));
    return HTTP_SERVICE_UNAVAILABLE;
}

/* The client is told to come back later, here and now.  Returning 503
 * to mod_proxy instead would make it put a balancer member in error
 * itself (proxy_handler() does so for every 503 of a scheme handler), for
 * its whole retry= window: that is for members the policy backed off. */
static int answer_here(request_rec *r, proxy_worker *worker, ssep_class cls)
{
    sse_dir_conf *dconf = ap_get_module_config(r->per_dir_config,
                                               &sse_proxy_module);

    return sse_answer_unavailable(r, dconf, server_conf(r), worker, cls, -1);
}

/* Whether a failed attempt may go on to another member: not once part
 * of a body that was not kept went to this one, nor for a session that
 * lives on this member only. */
static int may_fail_over(request_rec *r, const sse_stream *st)
{
    return !sse_reqbody_spent(st->body) && !sse_sessions_pinned(r);
}

/* The member failed before answering. */
static int attempt_failed(request_rec *r, sse_stream *st, ssep_class cls)
{
    if (may_fail_over(r, st))
        return member_failed(r, st->worker, cls);
    sse_member_failure(r, st->worker, cls, &server_conf(r)->policy);
    apr_table_setn(r->notes, "sse-class", ssep_class_name(cls));
    if (sse_sessions_pinned(r))
        return sse_sessions_lost(r, st->dconf, st->worker,
                                 "its member failed");
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  "SSE00068: %" APR_OFF_T_FMT " bytes of the request body "
                  "already went to %s, which failed; not retried on another "
                  "member", sse_reqbody_bytes(st->body),
                  st->worker->s->name_ex);
    return HTTP_BAD_GATEWAY;
}

/* The member answered with a status the operator counts against it. */
static int counted_answer(request_rec *r, sse_stream *st,
                          const sse_response *resp, ssep_class cls)
{
    apr_int64_t floor_ms = sse_backend_retry_after(resp);

    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  "SSE00006: backend %s answered %d", st->worker->s->name_ex,
                  resp->status);
    apr_table_setn(r->notes, "sse-class", ssep_class_name(cls));
    if (sse_member_status_failure(r, st->worker, resp->status, cls, floor_ms,
                                  server_conf(r))
        && may_fail_over(r, st))
        return HTTP_SERVICE_UNAVAILABLE;
    /* the member stays in, or the request cannot go elsewhere: the
     * client is told when to come back, here and now (see answer_here) */
    return sse_answer_unavailable(r, st->dconf, server_conf(r), st->worker,
                                  cls, floor_ms);
}

static int sse_proxy_handler(request_rec *r, proxy_worker *worker,
                             proxy_server_conf *conf, char *url,
                             const char *proxyname, apr_port_t proxyport)
{
    sse_dir_conf *dconf = ap_get_module_config(r->per_dir_config,
                                               &sse_proxy_module);
    const char *scheme;
    proxy_conn_rec *backend = NULL;
    apr_pool_t *hp;
    sse_target t;
    sse_stream *st;
    sse_response resp;
    sse_attempt_failure fail = { SSEP_COND_NONE, 0 };
    apr_interval_time_t connect_time = 0;
    ssep_class cls;
    int status;

    if (!sse_conf_enabled(dconf))
        return DECLINED;
    if (!ap_cstr_casecmpn(url, "http:", 5))
        scheme = "http";
    else if (!ap_cstr_casecmpn(url, "https:", 6))
        scheme = "https";
    else
        return DECLINED;
    if (sse_cors_preflight(r, dconf))
        return OK;
    st = sse_stream_of(r);
    st->worker = worker;
    if (st->ws)
        url = sse_ws_backend_url(r, url);
    sse_stream_count(r);
    sse_member_health_check(r, worker);

    ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r,
                  "SSE00001: %s %s via %s", r->method, url, worker->s->name_ex);
    /* The backend's address, the response head's lines and headers are
     * needed until the stream has taken over the answer; kept in the
     * request's pool, they would stay as long as the stream waits, and
     * push that pool into one more page.  (httpd's pools abort on a
     * failed allocation: creating one cannot fail here.) */
    apr_pool_create(&hp, r->pool);
    apr_pool_tag(hp, "sse_response_head");
    memset(&t, 0, sizeof(t));
    t.uri = apr_pcalloc(hp, sizeof(*t.uri));
    t.proxyname = proxyname;
    t.proxyport = proxyport;
    if (sse_async_pool_exhausted(r, worker)) {
        /* busy, not sick: clients filling a member's max= must not take
         * it out */
        status = answer_here(r, worker, SSEP_CLASS_PROXY);
        goto cleanup;
    }
    if (sse_slow_start_held(r, worker)) {
        /* the member's share does not cover this stream yet, and no
         * other member could take it: come back later */
        status = answer_here(r, worker, SSEP_CLASS_PROXY);
        goto cleanup;
    }
    status = ap_proxy_acquire_connection(scheme, &backend, worker, r->server);
    if (status != OK)
        goto cleanup;
    backend->is_ssl = !strcmp(scheme, "https");
    if (!st->body_read) {
        /* once per request: a failover attempt finds the body kept */
        st->body_read = 1;
        status = sse_reqbody_prefetch(r, backend, sse_conf_body_buffer(dconf),
                                      &st->body);
        if (status != OK)
            goto cleanup;
    }

    memset(&resp, 0, sizeof(resp));
    status = sse_exchange_head(r, hp, backend, worker, conf,
                               &t, url, scheme, st->body, &resp,
                               &connect_time, &fail);
    if (status != OK) {
        if (!fail.client)
            status = attempt_failed(r, st, ssep_classify(0, fail.cond, NULL));
        goto cleanup;
    }
    cls = ssep_classify(resp.status, SSEP_COND_NONE, NULL);
    if (sse_status_set_has(&server_conf(r)->member_failure, resp.status)) {
        backend->close = 1;
        status = counted_answer(r, st, &resp, cls);
        goto cleanup;
    }
    /* Anything else is the member working: a stream, or an answer that
     * is the client's business, passed on as it is (a 404 stays a 404,
     * so that an EventSource stops). */
    if (cls == SSEP_CLASS_AUTH) {
        SSE_STAT_ADD(errors[SSEP_CLASS_AUTH], 1);
        apr_table_setn(r->notes, "sse-class", ssep_class_name(cls));
    }
    sse_member_success(r, worker, connect_time, resp.ttfb);
    sse_reqbody_release(st->body);
    sse_sessions_learn(r, dconf, worker, &resp);
    st->backend = backend;
    st->scheme = scheme;
    status = OK;
    if (sse_stream_relay(st, &resp))
        backend = NULL; /* the backend connection goes with the stream */
    else {
        /* a resumed stream ended on another connection, or on none */
        backend = st->backend;
        scheme = st->scheme;
    }

cleanup:
    apr_pool_destroy(hp);
    if (backend) {
        if (status != OK)
            backend->close = 1;
        ap_proxy_release_connection(scheme, backend, r->server);
    }
    return status;
}

/* Endpoint discovery: a HEAD asking for text/event-stream on an SSE
 * route is answered here, before mod_proxy picks a member, so that a
 * client probing candidate URLs costs no backend a request (and gets its
 * answer while every member is out).  The answer is the head a stream
 * would have, and X-SSE-Relay names the relay.  Any other HEAD on the
 * route is relayed as before. */
static int sse_discovery_handler(request_rec *r)
{
    sse_dir_conf *dconf;

    if (!r->header_only || r->proxyreq != PROXYREQ_REVERSE || !r->handler
        || strcmp(r->handler, "proxy-server") || !r->filename
        || !sse_client_wants_stream(r))
        return DECLINED;
    if (ap_cstr_casecmpn(r->filename, "proxy:http:", 11)
        && ap_cstr_casecmpn(r->filename, "proxy:https:", 12)
        && ap_cstr_casecmpn(r->filename, "proxy:balancer:", 15))
        return DECLINED;
    dconf = ap_get_module_config(r->per_dir_config, &sse_proxy_module);
    if (!sse_conf_enabled(dconf))
        return DECLINED;
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  "SSE00080: HEAD for an event stream answered by the relay "
                  "(endpoint discovery); no backend asked");
    ap_set_content_type(r, "text/event-stream");
    apr_table_setn(r->headers_out, "Cache-Control", "no-cache");
    apr_table_setn(r->headers_out, "X-SSE-Relay", "mod_sse_proxy");
    sse_cors_headers(r, dconf);
    if (apr_table_get(r->headers_out, "Access-Control-Allow-Origin"))
        apr_table_mergen(r->headers_out, "Access-Control-Expose-Headers",
                         "X-SSE-Relay");
    apr_table_setn(r->notes, "sse-end", "discovery");
    return OK;
}

/* mod_proxy ends with 503 when no member could serve the request (all
 * out, or every attempt failed): an SSE route answers in a form the
 * client can act on instead of an error page. */
static int sse_request_status(int *status, request_rec *r)
{
    sse_dir_conf *dconf = ap_get_module_config(r->per_dir_config,
                                               &sse_proxy_module);
    sse_stream *st = ap_get_module_config(r->request_config,
                                          &sse_proxy_module);
    proxy_worker *worker = st ? st->worker : NULL;
    const char *cls_name = apr_table_get(r->notes, "sse-class");
    ssep_class cls = SSEP_CLASS_PROXY;

    if (*status != HTTP_SERVICE_UNAVAILABLE || !sse_conf_enabled(dconf)
        || r->sent_bodyct || r->bytes_sent)
        return DECLINED;
    if (cls_name)
        ssep_class_parse(cls_name, &cls);
    sse_stream_count(r);
    *status = sse_answer_unavailable(r, dconf, server_conf(r), worker, cls,
                                     -1);
    return OK;
}

static int sse_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp)
{
    (void)plog; (void)ptemp;
    if (sse_sessions_pre_config(pconf) != APR_SUCCESS
        || sse_fleet_pre_config(pconf) != APR_SUCCESS
        || sse_limits_pre_config(pconf) != APR_SUCCESS)
        return !OK;
    return sse_members_pre_config(pconf) == APR_SUCCESS ? OK : !OK;
}

static int sse_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, server_rec *s)
{
    (void)plog;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG)
        return OK;
    if (sse_members_post_config(pconf, s) != APR_SUCCESS
        || sse_limits_post_config(pconf, s) != APR_SUCCESS
        || sse_sessions_post_config(pconf, ptemp, s) != OK
        || sse_fleet_post_config(pconf, ptemp, s) != OK)
        return !OK;
    sse_async_post_config(s);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                 "SSE00000: mod_sse_proxy with libssepolicy %s",
                 ssep_version());
    return OK;
}

static void sse_child_init(apr_pool_t *p, server_rec *s)
{
    sse_members_child_init(p, s);
    sse_limits_child_init(p, s);
    sse_sessions_child_init(p, s);
    sse_fleet_child_init(p, s);
    sse_share_child_init(p, s);
    sse_async_child_init(p, s);
}

static void sse_register_hooks(apr_pool_t *p)
{
    /* ahead of mod_proxy_http, as mod_proxy_wstunnel does */
    static const char *const succ[] = { "mod_proxy_http.c", NULL };

    /* slotmem providers register in their own pre_config */
    static const char *const after_slotmem[] = { "mod_slotmem_shm.c", NULL };
    static const char *const balancer[] = { "mod_proxy_balancer.c", NULL };
    static const char *const before_proxy[] = { "mod_proxy.c", NULL };

    proxy_hook_scheme_handler(sse_proxy_handler, NULL, succ, APR_HOOK_FIRST);
    /* a session's member is chosen before the balancer chooses one */
    proxy_hook_pre_request(sse_sessions_route, NULL, balancer,
                           APR_HOOK_FIRST);
    APR_OPTIONAL_HOOK(proxy, request_status, sse_request_status, NULL, NULL,
                      APR_HOOK_MIDDLE);
    ap_hook_pre_config(sse_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(sse_post_config, after_slotmem, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(sse_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(sse_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    /* ahead of mod_proxy's own handler, which would pick a member */
    ap_hook_handler(sse_discovery_handler, NULL, before_proxy,
                    APR_HOOK_FIRST);
    sse_ws_register_hooks();
    sse_limits_register_hooks();
    sse_async_register_hooks();
    sse_share_register_hooks();
    sse_slow_start_register_hooks();
    sse_bystreams_register(p);
    sse_nonblock_register();
}

AP_DECLARE_MODULE(sse_proxy) = {
    STANDARD20_MODULE_STUFF,
    sse_create_dir_conf,
    sse_merge_dir_conf,
    sse_create_server_conf,
    sse_merge_server_conf,
    sse_cmds,
    sse_register_hooks,
    AP_MODULE_FLAG_NONE
};
