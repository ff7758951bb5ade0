/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include "httpd.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_strings.h"

#include "sse_answer.h"
#include "sse_cors.h"
#include "sse_members.h"
#include "sse_stats.h"

APLOG_USE_MODULE(sse_proxy);

int sse_client_wants_stream(request_rec *r)
{
    const char *accept = apr_table_get(r->headers_in, "Accept");

    return r->method_number == M_GET && accept
           && ap_strcasestr(accept, "text/event-stream") != NULL;
}

void sse_outlook_get(request_rec *r, proxy_worker *worker, ssep_class cls,
                     sse_outlook *o)
{
    proxy_balancer *balancer = sse_request_balancer_rec(r);
    apr_time_t now = apr_time_now();
    const char *bname = balancer ? balancer->s->name : "";
    int i, n = 0, gave_up = 0;

    o->due_ms = -1;
    o->cls = cls;
    o->all_gave_up = 0;
    if (balancer) {
        proxy_worker **workers = (proxy_worker **)balancer->workers->elts;
        for (i = 0; i < balancer->workers->nelts; i++) {
            proxy_worker *w = workers[i];
            sse_member_state m;
            int known = sse_member_snapshot(bname, w->s->name_ex, &m);
            apr_int64_t due = sse_worker_due_ms(w, now);

            if (due < 0)
                continue;
            n++;
            if (known && m.gave_up && due > 0)
                gave_up++;
            if (o->due_ms < 0 || due < o->due_ms) {
                o->due_ms = due;
                if (known && m.consecutive_failures)
                    o->cls = (ssep_class)m.last_class;
            }
        }
        o->all_gave_up = n > 0 && gave_up == n;
    } else if (worker) {
        sse_member_state m;
        if (sse_member_snapshot("", worker->s->name_ex, &m)
            && m.consecutive_failures) {
            o->due_ms = m.next_retry > now ? (m.next_retry - now) / 1000 : 0;
            o->cls = (ssep_class)m.last_class;
            o->all_gave_up = m.gave_up;
        }
    }
    if (o->due_ms < 0)
        o->due_ms = 0;
    if (o->cls == SSEP_CLASS_NONE)
        o->cls = SSEP_CLASS_PROXY;
}

static apr_uint64_t client_rng(request_rec *r)
{
    apr_uint64_t seed = 0, rng;

    if (apr_generate_random_bytes((unsigned char *)&seed, sizeof(seed))
        != APR_SUCCESS)
        seed = (apr_uint64_t)apr_time_now() ^ (apr_uintptr_t)r;
    ssep_rng_seed(&rng, seed);
    return rng;
}

apr_int64_t sse_retry_hint(request_rec *r, const sse_server_conf *sc,
                           const sse_outlook *o)
{
    const ssep_strategy *net = ssep_policy_strategy(&sc->policy,
                                                    SSEP_CLASS_NETWORK);
    const ssep_strategy *cls = ssep_policy_strategy(&sc->policy, o->cls);
    apr_uint64_t rng = client_rng(r);
    apr_int64_t spread, hint;

    /* the spread of a healthy stream's first retry, on top of the time
     * the soonest member is due */
    spread = ssep_backoff_jittered(net, 0, SSEP_Q_GOOD, sc->policy.jitter, 0,
                                   &rng);
    if (spread < 0)
        spread = net ? net->initial_ms : 5000;
    hint = o->due_ms + spread;
    if (cls && hint > (apr_int64_t)cls->max_ms)
        hint = cls->max_ms;
    return hint;
}

apr_int64_t sse_initial_retry(request_rec *r, const sse_dir_conf *d,
                              const sse_server_conf *sc)
{
    const ssep_strategy *net;
    apr_uint64_t rng, low, high;

    if (d->retry_ms == SSE_RETRY_OFF)
        return -1;
    if (d->retry_ms > 0)
        return d->retry_ms;
    /* A healthy stream's first reconnect is never sooner than the
     * NETWORK_ERROR class's initial delay: jitter spreads clients upward,
     * up to three times that delay (5-15 s with the default table), so a
     * restart's wave of reconnects is spread without any coming early. */
    net = ssep_policy_strategy(&sc->policy, SSEP_CLASS_NETWORK);
    if (!net)
        return 5000;
    low = net->initial_ms;
    high = 3 * (apr_uint64_t)net->initial_ms;
    if (high > net->max_ms)
        high = net->max_ms;
    if (sc->policy.jitter == SSEP_JITTER_NONE || high <= low)
        return (apr_int64_t)low;
    rng = client_rng(r);
    return (apr_int64_t)ssep_rng_between(&rng, low, high);
}

int sse_answer_unavailable(request_rec *r, const sse_dir_conf *d,
                           const sse_server_conf *sc, proxy_worker *worker,
                           ssep_class cls, apr_int64_t floor_ms)
{
    sse_outlook o;
    apr_int64_t hint;
    const ssep_strategy *strategy;

    sse_outlook_get(r, worker, cls, &o);
    strategy = ssep_policy_strategy(&sc->policy, o.cls);
    if (o.all_gave_up && d->giveup == SSE_GIVEUP_RETRY && strategy)
        o.due_ms = strategy->max_ms;
    if (floor_ms > o.due_ms)
        o.due_ms = floor_ms;
    hint = sse_retry_hint(r, sc, &o);

    apr_table_setn(r->subprocess_env, "no-gzip", "1");
    apr_table_setn(r->notes, "sse-end", "policy");
    apr_table_setn(r->notes, "sse-class", ssep_class_name(o.cls));
    apr_table_setn(r->headers_out, "Cache-Control", "no-cache");
    sse_cors_headers(r, d);

    if (!sse_client_wants_stream(r)) {
        SSE_STAT_ADD(answers[SSE_ANSWER_UNAVAILABLE], 1);
        r->status = HTTP_SERVICE_UNAVAILABLE;
        apr_table_setn(r->headers_out, "Retry-After",
                       apr_psprintf(r->pool, "%" APR_INT64_T_FMT,
                                    (hint + 999) / 1000));
        ap_set_content_type(r, "text/plain; charset=utf-8");
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "SSE00033: no member available (%s): 503, Retry-After "
                      "%" APR_INT64_T_FMT "s", ssep_class_name(o.cls),
                      (hint + 999) / 1000);
        if (!r->header_only)
            ap_rprintf(r, "Service temporarily unavailable (%s); retry in "
                       "%" APR_INT64_T_FMT " s.\n", ssep_class_name(o.cls),
                       (hint + 999) / 1000);
        return OK;
    }
    if (o.all_gave_up && d->giveup == SSE_GIVEUP_204) {
        SSE_STAT_ADD(answers[SSE_ANSWER_NO_CONTENT], 1);
        r->status = HTTP_NO_CONTENT;
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "SSE00034: every member gave up (%s): 204 tells the "
                      "client to stop", ssep_class_name(o.cls));
        return OK;
    }
    SSE_STAT_ADD(answers[SSE_ANSWER_RETRY], 1);
    r->status = HTTP_OK;
    ap_set_content_type(r, "text/event-stream");
    apr_table_setn(r->headers_out, "X-Accel-Buffering", "no");
    apr_table_setn(r->notes, "sse-retry",
                   apr_psprintf(r->pool, "%" APR_INT64_T_FMT, hint));
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  "SSE00032: no member available (%s): retry: %" APR_INT64_T_FMT
                  " sent to the client", ssep_class_name(o.cls), hint);
    /* The retry: field is for the EventSource itself; the named event
     * lets a page show it (scripts cannot see retry: or comments).
     * Listeners of "message" never see it. */
    if (!r->header_only)
        ap_rprintf(r, "retry: %" APR_INT64_T_FMT "\n: %s, no backend "
                   "available; reconnect in %" APR_INT64_T_FMT " ms\n\n"
                   "event: sse-proxy\ndata: {\"retry\":%" APR_INT64_T_FMT
                   ",\"class\":\"%s\"}\n\n",
                   hint, ssep_class_name(o.cls), hint, hint,
                   ssep_class_name(o.cls));
    return OK;
}

apr_int64_t sse_limit_retry_hint(request_rec *r, const sse_server_conf *sc,
                                 unsigned strikes, apr_int64_t floor_ms)
{
    const ssep_strategy *net = ssep_policy_strategy(&sc->policy,
                                                    SSEP_CLASS_NETWORK);
    apr_uint64_t rng = client_rng(r);
    apr_int64_t base, hint;

    if (!net)
        return floor_ms > 5000 ? floor_ms : 5000;
    base = ssep_backoff_delay(net, strikes ? strikes - 1 : 0, SSEP_Q_GOOD);
    if (base < 0 || base > (apr_int64_t)net->max_ms)
        base = net->max_ms;
    /* upward only: a client told to wait is never let in before that */
    hint = base + (apr_int64_t)ssep_rng_between(&rng, 0,
                                                (apr_uint64_t)base / 2);
    if (hint > (apr_int64_t)net->max_ms)
        hint = net->max_ms;
    return hint < floor_ms ? floor_ms : hint;
}

int sse_answer_later(request_rec *r, const sse_dir_conf *d,
                     apr_int64_t hint, const char *limit, const char *why)
{
    apr_int64_t secs = (hint + 999) / 1000;

    apr_table_setn(r->subprocess_env, "no-gzip", "1");
    apr_table_setn(r->notes, "sse-end", "limit");
    apr_table_setn(r->notes, "sse-limit", limit);
    apr_table_setn(r->headers_out, "Cache-Control", "no-cache");
    sse_cors_headers(r, d);
    /* the answer is complete at once: nothing keeps the connection */
    if (!r->connection->master)
        r->connection->keepalive = AP_CONN_CLOSE;

    if (!sse_client_wants_stream(r)) {
        r->status = HTTP_TOO_MANY_REQUESTS;
        apr_table_setn(r->headers_out, "Retry-After",
                       apr_psprintf(r->pool, "%" APR_INT64_T_FMT, secs));
        ap_set_content_type(r, "text/plain; charset=utf-8");
        if (!r->header_only)
            ap_rprintf(r, "Too many requests (%s); retry in %"
                       APR_INT64_T_FMT " s.\n", why, secs);
        return OK;
    }
    r->status = HTTP_OK;
    ap_set_content_type(r, "text/event-stream");
    apr_table_setn(r->headers_out, "X-Accel-Buffering", "no");
    apr_table_setn(r->notes, "sse-retry",
                   apr_psprintf(r->pool, "%" APR_INT64_T_FMT, hint));
    /* As the policy's own answer: retry: for the EventSource, the named
     * event for pages (NETWORK_ERROR: the class whose delays it uses). */
    if (!r->header_only)
        ap_rprintf(r, "retry: %" APR_INT64_T_FMT "\n: %s; reconnect in %"
                   APR_INT64_T_FMT " ms\n\nevent: sse-proxy\ndata: "
                   "{\"retry\":%" APR_INT64_T_FMT ",\"class\":\"%s\","
                   "\"limit\":\"%s\"}\n\n", hint, why, hint, hint,
                   ssep_class_name(SSEP_CLASS_NETWORK), limit);
    return OK;
}
