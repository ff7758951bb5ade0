/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/*
 * Seamless failover: when a stream's backend breaks off between events
 * after it carried an id:, the proxy asks a usable member for the rest
 * with Last-Event-ID, as the client would, while the client stays
 * connected.  The relay waits between tries like any waiting stream
 * (without a thread where streams wait without one), with heartbeats;
 * after the window, the client gets the end it would have got at the
 * break.  Members are picked the way mod_proxy picks them for a request
 * (ap_proxy_pre_request: the balancer's method, members in error
 * skipped), and the broken member is backed off by the policy first, so
 * the pick goes elsewhere.
 */
#include "apr_strings.h"
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "mod_proxy.h"

#include "ssepolicy.h"
#include "sse_async.h"
#include "sse_backend.h"
#include "sse_channel.h"
#include "sse_config.h"
#include "sse_exchange.h"
#include "sse_members.h"
#include "sse_resume.h"
#include "sse_sessions.h"
#include "sse_stats.h"
#include "sse_watcher.h"

APLOG_USE_MODULE(sse_proxy);

/* The shortest wait between two tries: a jittered backoff may say 0,
 * and a dead cluster must not be asked in a tight loop. */
#define MIN_WAIT_MS 100

static sse_server_conf *server_conf(request_rec *r)
{
    return ap_get_module_config(r->server->module_config, &sse_proxy_module);
}

static ssep_class class_of_break(const sse_stream *st, sse_end_reason why,
                                 apr_status_t err)
{
    ssep_condition cond = why == SSE_END_PREMATURE
        ? SSEP_COND_PREMATURE_EOF
        : sse_backend_condition(err, !strcmp(st->scheme, "https"));

    return ssep_classify(0, cond, NULL);
}

/* The URL mod_proxy mapped the request to, before a member was picked:
 * mod_proxy_balancer rewrote r->filename to the member's URL (its name,
 * then the path, then the query), and the balancer's name takes its
 * place again.  NULL when that cannot be told. */
static const char *route_url(sse_stream *st)
{
    request_rec *r = st->r;
    const char *url, *name = st->worker->s->name_ex;
    apr_size_t len = strlen(name);
    const char *balancer = sse_request_balancer(r);

    if (!r->filename || strncmp(r->filename, "proxy:", 6))
        return NULL;
    url = r->filename + 6;
    /* without the query: canonicalizing the URL adds r->args again */
    url = apr_pstrmemdup(r->pool, url, strcspn(url, "?"));
    if (!*balancer)
        return url;
    if (ap_cstr_casecmpn(url, name, len))
        return NULL;
    return apr_pstrcat(r->pool, balancer, url + len, NULL);
}

/* Why this stream is not resumed, or NULL when it may be. */
static const char *not_resumable(sse_stream *st)
{
    request_rec *r = st->r;

    if (r->method_number != M_GET)
        return "it is not a GET: a request that is not idempotent is "
               "never sent again";
    if (st->body && sse_reqbody_bytes(st->body) > 0)
        return "its request had a body";
    if (sse_sessions_pinned(r))
        return "its session lives on that member only";
    if (!st->resume_url)
        return "its route is not known";
    return NULL;
}

/* When to try next, within the window; 0 when the class's strategy has
 * no attempt left. */
static apr_time_t next_try(sse_stream *st, apr_time_t now)
{
    const ssep_policy *policy = &server_conf(st->r)->policy;
    const ssep_strategy *s = ssep_policy_strategy(policy,
                                                  (ssep_class)st->resume_class);
    apr_time_t end = st->resume_since + sse_conf_resume_window(st->dconf);
    apr_int64_t ms;
    apr_time_t at;

    ms = ssep_backoff_jittered(s, st->resume_tries - 1, SSEP_Q_GOOD,
                               policy->jitter, st->resume_delay,
                               &st->resume_rng);
    if (ms == SSEP_GIVE_UP)
        return 0;
    if (ms < MIN_WAIT_MS)
        ms = MIN_WAIT_MS;
    st->resume_delay = ms;
    at = now + apr_time_from_msec(ms);
    return at < end ? at : end;
}

static apr_time_t broke(void *baton, sse_end_reason why, apr_status_t err,
                        const char *last_id)
{
    sse_stream *st = baton;
    request_rec *r = st->r;
    sse_server_conf *sc = server_conf(r);
    apr_time_t now = apr_time_now();
    apr_interval_time_t window = sse_conf_resume_window(st->dconf);
    ssep_class cls = class_of_break(st, why, err);
    const char *why_not = not_resumable(st);
    apr_time_t at;

    if (why_not) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "SSE00094: stream from %s broke off after id %s; not "
                      "resumed: %s", st->worker->s->name_ex, last_id,
                      why_not);
        return 0;
    }
    st->resume_class = cls;
    /* A member that breaks each resumed stream again must not keep the
     * client forever: breaks within one window share it, and only the
     * first is tried again at once. */
    if (!st->resume_since || now - st->resume_since >= window) {
        st->resume_since = now;
        st->resume_tries = 0;
        st->resume_delay = 0;
        ssep_rng_seed(&st->resume_rng, (apr_uint64_t)now
                                       ^ (apr_uint64_t)(apr_uintptr_t)st);
        at = now;
    }
    else if (!(at = next_try(st, now))) {
        at = st->resume_since + window;
    }
    SSE_STAT_ADD(resumes_attempted, 1);
    /* backed off first, so that the next pick goes elsewhere */
    sse_member_failure(r, st->worker, cls, &sc->policy);
    apr_table_setn(r->notes, "sse-class", ssep_class_name(cls));
    ap_log_rerror(APLOG_MARK, APLOG_INFO, err, r,
                  "SSE00090: stream from %s broke off (%s) after id %s; "
                  "resuming it on a usable member", st->worker->s->name_ex,
                  ssep_class_name(cls), last_id);
    /* the old socket leaves the watch before it is closed: its number
     * may be another stream's next */
    if (st->waiter)
        sse_waiter_forget_backend(st->waiter);
    st->backend->close = 1;
    ap_proxy_release_connection(st->scheme, st->backend, r->server);
    st->backend = NULL;
    /* the first try at once: another member is probably usable now */
    return at;
}

/* mod_proxy_balancer counts a stream on each member it picks for it
 * until the request ends, when a cleanup of the request's pool lowers
 * the count again.  A stream that goes on elsewhere, or a try that did
 * not take, would stay counted where it is not: lbmethod=bybusyness and
 * bystreams would see that member busier than it is.  So the count is
 * lowered now, and raised again just before the balancer's own cleanup
 * lowers it at the end (cleanups run in reverse order). */
static apr_status_t count_again_at_end(void *data)
{
    proxy_worker *worker = data;

    worker->s->busy++;
    return APR_SUCCESS;
}

static void uncount(request_rec *r, proxy_worker *worker)
{
    if (!worker || !worker->s->busy)
        return;
    worker->s->busy--;
    apr_pool_cleanup_register(r->pool, worker, count_again_at_end,
                              apr_pool_cleanup_null);
}

/* A try at the member mod_proxy picked. */
static int try_picked(sse_stream *st, proxy_worker *worker,
                      proxy_server_conf *conf, char *url, const char *last_id,
                      proxy_conn_rec **out, sse_response *resp)
{
    request_rec *r = st->r;
    sse_server_conf *sc = server_conf(r);
    proxy_conn_rec *backend = NULL;
    const char *scheme;
    sse_target t;
    sse_attempt_failure fail = { SSEP_COND_NONE, 0 };
    apr_interval_time_t connect_time = 0;
    int status;

    if (!ap_cstr_casecmpn(url, "http:", 5))
        scheme = "http";
    else if (!ap_cstr_casecmpn(url, "https:", 6))
        scheme = "https";
    else
        return SSE_RESUME_GIVE_UP;
    /* a stream waiting without a thread must not wait for a connection
     * of an explicit max= on a worker either */
    if (sse_async_pool_exhausted(r, worker)
        || ap_proxy_acquire_connection(scheme, &backend, worker, r->server)
           != OK)
        return SSE_RESUME_LATER;
    backend->is_ssl = !strcmp(scheme, "https");
    apr_table_set(r->headers_in, "Last-Event-ID", last_id);
    memset(&t, 0, sizeof(t));
    t.uri = apr_pcalloc(r->pool, sizeof(*t.uri));
    status = sse_exchange_head(r, r->pool, backend, worker, conf, &t, url,
                               scheme, NULL, resp, &connect_time, &fail);
    if (status == OK && resp->status == HTTP_OK && resp->is_event_stream) {
        sse_member_success(r, worker, connect_time, resp->ttfb);
        st->worker = worker;
        st->backend = backend;
        st->scheme = scheme;
        *out = backend;
        return SSE_RESUME_DONE;
    }
    backend->close = 1;
    ap_proxy_release_connection(scheme, backend, r->server);
    if (fail.client)
        return SSE_RESUME_CLIENT_GONE;
    if (status != OK) {
        sse_member_failure(r, worker, ssep_classify(0, fail.cond, NULL),
                           &sc->policy);
        return SSE_RESUME_LATER;
    }
    if (sse_status_set_has(&sc->member_failure, resp->status)) {
        sse_member_status_failure(r, worker, resp->status,
                                  ssep_classify(resp->status,
                                                SSEP_COND_NONE, NULL),
                                  sse_backend_retry_after(resp), sc);
        return SSE_RESUME_LATER;
    }
    /* the member answers, but not with the stream (a 204, a 404): the
     * client is told as at the break, and its own reconnection will
     * hear the member's answer */
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  "SSE00091: %s answered %d%s to the resume; giving up",
                  worker->s->name_ex, resp->status,
                  resp->is_event_stream ? "" : " without an event stream");
    return SSE_RESUME_GIVE_UP;
}

/* One member, as mod_proxy would pick it for this request now. */
static int try_member(sse_stream *st, const char *last_id,
                      proxy_conn_rec **out, sse_response *resp)
{
    request_rec *r = st->r;
    proxy_server_conf *conf = ap_get_module_config(r->server->module_config,
                                                   &proxy_module);
    proxy_worker *worker = NULL, *left = st->worker;
    proxy_balancer *balancer = NULL;
    char *url = apr_pstrdup(r->pool, st->resume_url);
    int rc;

    /* no usable member now (all in error): later */
    if (ap_proxy_pre_request(&worker, &balancer, r, conf, &url) != OK
        || !worker)
        return SSE_RESUME_LATER;
    if (!balancer)
        return try_picked(st, worker, conf, url, last_id, out, resp);
    ap_proxy_initialize_worker(worker, r->server, conf->pool);
    rc = try_picked(st, worker, conf, url, last_id, out, resp);
    /* the member the stream left, or the one that did not take it */
    uncount(r, rc == SSE_RESUME_DONE ? left : worker);
    return rc;
}

static int attempt(void *baton, const char *last_id,
                   proxy_conn_rec **backend, sse_response *resp,
                   apr_time_t *next)
{
    sse_stream *st = baton;
    request_rec *r = st->r;
    apr_time_t now = apr_time_now();
    int rc = SSE_RESUME_GIVE_UP;

    if (now - st->resume_since < sse_conf_resume_window(st->dconf)
        && !sse_mpm_stopping()) {
        st->resume_tries++;
        rc = try_member(st, last_id, backend, resp);
        if (rc == SSE_RESUME_LATER && !(*next = next_try(st, now)))
            rc = SSE_RESUME_GIVE_UP;
    }
    if (rc == SSE_RESUME_DONE) {
        SSE_STAT_ADD(resumes_succeeded, 1);
        if (st->channel)
            sse_channel_failed_over(st->channel);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "SSE00092: stream resumed on %s after id %s (try %u, "
                      "%" APR_TIME_T_FMT " ms after the break)",
                      st->worker->s->name_ex, last_id, st->resume_tries,
                      apr_time_as_msec(now - st->resume_since));
    }
    else if (rc == SSE_RESUME_GIVE_UP || rc == SSE_RESUME_CLIENT_GONE) {
        SSE_STAT_ADD(resumes_given_up, 1);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "SSE00093: stream not resumed after %u tries in %"
                      APR_TIME_T_FMT " ms; %s", st->resume_tries,
                      apr_time_as_msec(now - st->resume_since),
                      rc == SSE_RESUME_CLIENT_GONE ? "the client left"
                                                   : "ending it");
    }
    return rc;
}

static const sse_relay_resumer resumer = { broke, attempt };

void sse_resume_offer(sse_stream *st, sse_relay *rl)
{
    if (sse_conf_resume_window(st->dconf) > 0 && !st->ws) {
        /* known now: a resume's pick rewrites r->filename again */
        if (!st->resume_url)
            st->resume_url = route_url(st);
        sse_relay_resumable(rl, &resumer, st);
    }
}
