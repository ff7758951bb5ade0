/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/*
 * Which requests share a backend stream, and their way into a channel
 * (sse_channel.c).  A request is shared only when nothing about it could
 * make its stream differ from another's: a GET without a body, for the
 * same backend URL, in the same location, with the same values of the
 * headers the operator lists.  Credentials (Authorization, Cookie) would
 * make one user's stream another's, so requests carrying them are never
 * shared unless the operator lists those headers, which makes them part
 * of the key; a session pinned to a member is not shared either, nor an
 * answer that sets a cookie.  The join runs before mod_proxy picks a
 * member: a follower costs no member anything.
 */
#include "apr_strings.h"
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"

#include "sse_channel.h"
#include "sse_config.h"
#include "sse_share.h"
#include "sse_stats.h"
#include "sse_stream.h"
#include "sse_websocket.h"

APLOG_USE_MODULE(sse_proxy);

void sse_share_conf_init(sse_share_conf *c)
{
    c->grace_s = SSE_DEFAULT_SHARE_GRACE_S;
    c->replay_events = SSE_DEFAULT_REPLAY_EVENTS;
    c->replay_bytes = SSE_DEFAULT_REPLAY_BYTES;
}

void sse_share_conf_merge(sse_share_conf *c, const sse_share_conf *base,
                          const sse_share_conf *add)
{
    const sse_share_conf *on = add->on_set ? add : base;
    const sse_share_conf *vary = add->vary_set ? add : base;
    const sse_share_conf *replay = add->replay_set ? add : base;

    c->on = on->on;
    c->grace_s = on->grace_s;
    c->where = on->where;
    c->on_set = add->on_set || base->on_set;
    c->vary = vary->vary;
    c->vary_set = add->vary_set || base->vary_set;
    c->replay_events = replay->replay_events;
    c->replay_bytes = replay->replay_bytes;
    c->replay_set = add->replay_set || base->replay_set;
}

static sse_share_conf *share_of(void *dconf)
{
    return &((sse_dir_conf *)dconf)->share;
}

const char *sse_share_set(cmd_parms *cmd, void *dconf, const char *flag,
                          const char *grace)
{
    sse_share_conf *c = share_of(dconf);
    int on = 0;
    const char *err = sse_parse_on_off(cmd->pool, cmd->cmd->name, flag, &on);

    if (err)
        return err;
    c->grace_s = SSE_DEFAULT_SHARE_GRACE_S;
    if (grace) {
        char *end;
        apr_int64_t s = apr_strtoi64(grace, &end, 10);

        if (*end || end == grace || s < 0 || s > SSE_MAX_SHARE_GRACE_S)
            return apr_psprintf(cmd->pool, "%s: the grace time must be 0 "
                                "to %d seconds, not '%s'", cmd->cmd->name,
                                SSE_MAX_SHARE_GRACE_S, grace);
        c->grace_s = s;
    }
    c->on = on;
    c->on_set = 1;
    /* the section is what requests of one location have in common: their
     * merged configurations are each request's own */
    c->where = cmd->path ? cmd->path : "";
    return NULL;
}

const char *sse_share_set_vary(cmd_parms *cmd, void *dconf,
                               const char *header)
{
    sse_share_conf *c = share_of(dconf);
    const char *name;
    const char *err = sse_parse_header_name(cmd->pool, cmd->cmd->name,
                                            header, &name);

    if (err)
        return err;
    if (!c->vary_set || !c->vary) {
        c->vary = apr_array_make(cmd->pool, 2, sizeof(const char *));
        c->vary_set = 1;
    }
    APR_ARRAY_PUSH(c->vary, const char *) = name;
    return NULL;
}

const char *sse_share_set_replay(cmd_parms *cmd, void *dconf,
                                 const char *events, const char *bytes)
{
    sse_share_conf *c = share_of(dconf);
    char *end;
    apr_int64_t n = apr_strtoi64(events, &end, 10);

    /* a reconnection's id is looked for event by event, under the lock
     * every event of the stream takes: the ring stays small enough for
     * that to cost well under a millisecond */
    if (*end || end == events || n < 0 || n > SSE_MAX_REPLAY_EVENTS)
        return apr_psprintf(cmd->pool, "%s: the number of events must be 0 "
                            "to %d, not '%s'", cmd->cmd->name,
                            SSE_MAX_REPLAY_EVENTS, events);
    c->replay_events = n;
    c->replay_bytes = SSE_DEFAULT_REPLAY_BYTES;
    if (bytes) {
        const char *err = sse_parse_body_buffer(cmd->pool, cmd->cmd->name,
                                                bytes, &c->replay_bytes);
        if (err)
            return err;
        if (c->replay_bytes < 1024)
            return apr_psprintf(cmd->pool, "%s: the ring needs 1K at "
                                "least, not '%s'", cmd->cmd->name, bytes);
    }
    c->replay_set = 1;
    return NULL;
}

static int listed(const sse_share_conf *c, const char *header)
{
    int i;

    for (i = 0; c->vary && i < c->vary->nelts; i++)
        if (!ap_cstr_casecmp(APR_ARRAY_IDX(c->vary, i, const char *),
                             header))
            return 1;
    return 0;
}

/* Why r must have a stream of its own, or NULL when it may share. */
static const char *not_shareable(request_rec *r, const sse_dir_conf *d)
{
    const sse_share_conf *c = &d->share;

    if (r->method_number != M_GET || r->header_only)
        return "it is not a GET";
    if (apr_table_get(r->headers_in, "Content-Length")
        || apr_table_get(r->headers_in, "Transfer-Encoding"))
        return "it has a body";
    if (apr_table_get(r->headers_in, "Authorization")
        && !listed(c, "Authorization"))
        return "it carries Authorization (list it in SSEProxyShareVary "
               "to share by its value)";
    if (apr_table_get(r->headers_in, "Cookie") && !listed(c, "Cookie"))
        return "it carries Cookie (list it in SSEProxyShareVary to share "
               "by its value)";
    if (d->session_header && apr_table_get(r->headers_in, d->session_header))
        return "it belongs to a session";
    if (!r->filename || strncmp(r->filename, "proxy:", 6))
        return "its backend URL is not known yet";
    return NULL;
}

/* The virtual host and section, the backend URL and the listed
 * headers' values: what makes two requests' streams the same.  The URL
 * comes last before the headers, where the status page shows it. */
static const char *share_key(request_rec *r, const sse_dir_conf *d,
                             const sse_stream *st)
{
    const sse_share_conf *c = &d->share;
    char *url = r->filename + 6;
    char *key;

    /* a WebSocket's resume parameter is not part of the stream */
    if (st->ws)
        url = sse_ws_backend_url(r, url);
    key = apr_psprintf(r->pool, "%pp %s\n%s", (const void *)r->server,
                       c->where, url);
    int i;

    for (i = 0; c->vary && i < c->vary->nelts; i++) {
        const char *name = APR_ARRAY_IDX(c->vary, i, const char *);
        const char *v = apr_table_get(r->headers_in, name);

        /* a missing header and an empty one differ */
        key = apr_pstrcat(r->pool, key, "\n", name,
                          v ? ": " : "", v ? v : "", NULL);
    }
    return key;
}

static apr_status_t leave_at_end(void *data)
{
    sse_stream *st = data;

    /* a request that ended before its stream was opened or closed */
    if (st->channel)
        sse_channel_abandon(st->channel);
    if (st->feed)
        sse_feed_leave(st->feed);
    st->channel = NULL;
    st->feed = NULL;
    return APR_SUCCESS;
}

static int share_handler(request_rec *r)
{
    sse_dir_conf *d;
    sse_stream *st;
    sse_ring_limits lim;
    const char *why, *last_id;
    sse_channel *ch = NULL;
    sse_feed *feed = NULL;
    sse_join join;

    if (!r->handler || strcmp(r->handler, "proxy-server") || r->main)
        return DECLINED;
    d = ap_get_module_config(r->per_dir_config, &sse_proxy_module);
    if (!sse_conf_enabled(d) || !d->share.on)
        return DECLINED;
    st = sse_stream_of(r);
    /* the handler chain runs again for a stream that may wait without a
     * thread: one join per request */
    if (st->share_tried)
        return DECLINED;
    st->share_tried = 1;
    if ((why = not_shareable(r, d)) != NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "SSE00099: stream not shared: %s", why);
        return DECLINED;
    }
    lim.events = (apr_size_t)d->share.replay_events;
    lim.bytes = (apr_size_t)d->share.replay_bytes;
    last_id = st->ws ? sse_ws_last_event_id(st->ws)
                     : apr_table_get(r->headers_in, "Last-Event-ID");
    if (last_id && !d->share.replay_events)
        return DECLINED;   /* only its own backend request can resume it */
    /* a WebSocket joins a stream an event-stream request opened: those
     * are the ones the proxy can resume */
    join = sse_channel_join(share_key(r, d, st), last_id, !st->ws, &lim,
                            r->server->timeout, &ch, &feed, &why);
    if (join == SSE_JOIN_ALONE) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "SSE00099: stream not shared: %s", why);
        apr_table_setn(r->notes, "sse-share", "alone");
        return DECLINED;
    }
    apr_pool_cleanup_register(r->pool, st, leave_at_end,
                              apr_pool_cleanup_null);
    if (join == SSE_JOIN_FOUNDER) {
        st->channel = ch;
        apr_table_setn(r->notes, "sse-share", "founder");
        return DECLINED;   /* mod_proxy asks a member */
    }
    st->feed = feed;
    apr_table_setn(r->notes, "sse-share", last_id ? "replay" : "follower");
    sse_stream_count(r);
    sse_stream_relay(st, sse_feed_head(feed));
    return OK;
}

void sse_share_opened(sse_stream *st, sse_relay *rl,
                      const sse_response *resp)
{
    const sse_share_conf *c = &st->dconf->share;

    if (resp->status != HTTP_OK || !resp->is_event_stream
        || apr_table_get(resp->headers, "Set-Cookie")) {
        if (resp->is_event_stream)
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, st->r,
                          "SSE00099: stream not shared: its answer sets a "
                          "cookie");
        sse_channel_abandon(st->channel);
        st->channel = NULL;
        return;
    }
    sse_channel_open(st->channel, resp);
    sse_relay_publish(rl, st->channel, apr_time_from_sec(c->grace_s),
                      (apr_off_t)c->replay_bytes);
}

void sse_share_closed(sse_stream *st, sse_end_reason end,
                      apr_int64_t *hint, const char **class_name)
{
    if (st->channel) {
        sse_channel_end(st->channel, end, *hint, *class_name);
        st->channel = NULL;
    }
    if (st->feed) {
        sse_end_reason ch_end;
        apr_int64_t ch_hint;
        const char *ch_class;

        sse_feed_end(st->feed, &ch_end, &ch_hint, &ch_class);
        if (end == SSE_END_PREMATURE || end == SSE_END_ERROR) {
            *hint = ch_hint;
            *class_name = ch_class
                          ? apr_pstrdup(st->r->pool, ch_class) : NULL;
        }
        sse_feed_leave(st->feed);
        st->feed = NULL;
    }
}

void sse_share_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv = sse_channels_init(pchild);

    if (rv != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     "SSE00117: cannot set up shared streams; every stream "
                     "has its own backend request");
}

void sse_share_register_hooks(void)
{
    static const char *const before_proxy[] = { "mod_proxy.c", NULL };

    /* after the limits (a follower is a stream like any other) and after
     * the handler that lets streams wait without a thread, so that a
     * follower runs inside it; before mod_proxy picks a member */
    ap_hook_handler(share_handler, NULL, before_proxy, APR_HOOK_FIRST + 1);
}
