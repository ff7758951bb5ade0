/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* A stream request's life once the backend answered: the relay opened
 * on the answer, and its end settled with the member, the counters, the
 * client and the request's notes.  Both the handler and the asynchronous
 * continuation end streams here, so neither calls into the other. */
#include "apr_strings.h"
#include "httpd.h"
#include "http_config.h"
#include "mod_proxy.h"

#include "ssepolicy.h"
#include "sse_answer.h"
#include "sse_backend.h"
#include "sse_config.h"
#include "sse_cors.h"
#include "sse_members.h"
#include "sse_relay.h"
#include "sse_resume.h"
#include "sse_share.h"
#include "sse_stats.h"
#include "sse_stream.h"

static sse_server_conf *server_conf(request_rec *r)
{
    return ap_get_module_config(r->server->module_config, &sse_proxy_module);
}

static void set_stream_headers(request_rec *r)
{
    apr_table_unset(r->headers_out, "Content-Length");
    apr_table_setn(r->headers_out, "Cache-Control", "no-cache");
    apr_table_setn(r->headers_out, "X-Accel-Buffering", "no");
    /* A compressing filter would hold events back in its buffer. */
    apr_table_setn(r->subprocess_env, "no-gzip", "1");
    apr_table_setn(r->subprocess_env, "no-brotli", "1");
}

static void note_result(request_rec *r, const sse_relay_result *res)
{
    apr_table_setn(r->notes, "sse-end", sse_end_name(res->end));
    apr_table_setn(r->notes, "sse-events",
                   apr_psprintf(r->pool, "%" APR_UINT64_T_FMT, res->events));
    apr_table_setn(r->notes, "sse-bytes",
                   apr_psprintf(r->pool, "%" APR_UINT64_T_FMT, res->bytes));
    apr_table_setn(r->notes, "sse-heartbeats",
                   apr_psprintf(r->pool, "%" APR_UINT64_T_FMT,
                                res->heartbeats));
}

void sse_stream_count(request_rec *r)
{
    if (!apr_table_get(r->notes, "sse-counted")) {
        apr_table_setn(r->notes, "sse-counted", "1");
        SSE_STAT_ADD(stream_requests, 1);
    }
}

sse_stream *sse_stream_of(request_rec *r)
{
    sse_stream *st = ap_get_module_config(r->request_config,
                                          &sse_proxy_module);

    if (!st) {
        st = apr_pcalloc(r->pool, sizeof(*st));
        st->r = r;
        st->dconf = ap_get_module_config(r->per_dir_config,
                                         &sse_proxy_module);
        ap_set_module_config(r->request_config, &sse_proxy_module, st);
    }
    return st;
}

sse_relay *sse_stream_open(sse_stream *st, const sse_response *resp)
{
    request_rec *r = st->r;
    sse_relay *rl;

    sse_backend_copy_head(r, resp);
    if (resp->is_event_stream)
        set_stream_headers(r);
    sse_cors_headers(r, st->dconf);
    rl = sse_relay_create(r, st->backend, st->dconf, resp,
                          resp->is_event_stream
                          ? sse_initial_retry(r, st->dconf, server_conf(r))
                          : -1);
    st->is_event_stream = resp->is_event_stream;
    /* a WebSocket opens only on an event stream; any other answer (a
     * 404, a 401) reaches its client as it is and ends the handshake */
    if (st->ws && resp->is_event_stream)
        sse_relay_websocket(rl, st->ws);
    if (st->feed)
        sse_relay_feed(rl, st->feed);   /* its founder resumes for it */
    else if (resp->is_event_stream && !st->ws)
        sse_resume_offer(st, rl);
    if (st->channel)
        sse_share_opened(st, rl, resp);
    if (resp->is_event_stream) {
        SSE_STAT_ADD(streams_established, 1);
        SSE_STAT_ADD(streams_open, 1);
    }
    return rl;
}

int sse_stream_relay(sse_stream *st, const sse_response *resp)
{
    sse_relay *rl = sse_stream_open(st, resp);

    if (!st->may_suspend || !sse_relay_suspendable(rl)) {
        sse_relay_run(rl, &st->result);
        sse_stream_close(st, rl);
        return 0;
    }
    /* A connection whose stream waited without a thread is closed when
     * the stream ends (httpd cannot take it back for keep-alive): the
     * head says so, or a client would send its next request on it.  Set
     * in the headers, not on the connection, so that the body stays
     * chunked and a clean end stays distinguishable from a broken one
     * (ap_set_keepalive() decides chunking before it reads this). */
    apr_table_setn(st->r->headers_out, "Connection", "close");
    /* one slice here, as on any later turn: a saturating stream must not
     * keep the thread that accepted it */
    if (sse_relay_begin(rl, &st->result) == SSE_RELAY_WAITING
        && (st->state = sse_relay_pump(rl)) != SSE_RELAY_DONE) {
        st->relay = rl;
        sse_relay_tail_may_wait(rl);
        return 1;
    }
    sse_stream_close(st, rl);
    return 0;
}

/* A stream that broke off is a member failure too, and its client is
 * told when to come back. */
void sse_stream_close(sse_stream *st, sse_relay *rl)
{
    request_rec *r = st->r;
    sse_server_conf *sc = server_conf(r);
    const sse_relay_result *res = &st->result;
    apr_int64_t hint = -1;
    const char *why = NULL;

    sse_relay_end(rl);
    if (st->is_event_stream) {
        SSE_STAT_ADD(streams_open, -1);
        SSE_STAT_ADD(ends[res->end], 1);
    }
    /* a follower's break is its channel's: the founder settled it with
     * the member, and the hint comes from there (sse_share_closed) */
    if ((res->end == SSE_END_PREMATURE || res->end == SSE_END_ERROR)
        && !st->feed) {
        ssep_condition cond = res->end == SSE_END_PREMATURE
            ? SSEP_COND_PREMATURE_EOF
            : sse_backend_condition(res->backend_error,
                                    !strcmp(st->scheme, "https"));
        ssep_class cls = ssep_classify(0, cond, NULL);
        sse_outlook o;

        sse_member_failure(r, st->worker, cls, &sc->policy);
        apr_table_setn(r->notes, "sse-class", ssep_class_name(cls));
        sse_outlook_get(r, st->worker, cls, &o);
        hint = sse_retry_hint(r, sc, &o);
        why = ssep_class_name(cls);
    }
    else if (res->end == SSE_END_SHUTDOWN) {
        /* not the member's fault: come back as after any network blip */
        hint = sse_initial_retry(r, st->dconf, sc);
        if (hint < 0)
            hint = ssep_policy_strategy(&sc->policy,
                                        SSEP_CLASS_NETWORK)->initial_ms;
    }
    if (st->channel || st->feed)
        sse_share_closed(st, res->end, &hint, &why);
    sse_relay_finish(rl, st->is_event_stream ? hint : -1, why);
    note_result(r, res);
}

void sse_stream_complete(sse_stream *st)
{
    sse_stream_close(st, st->relay);
    /* none when a resume gave up: the last one was given back then */
    if (st->backend)
        ap_proxy_release_connection(st->scheme, st->backend, st->r->server);
    st->backend = NULL;
}
