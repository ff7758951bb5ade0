/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include "apr_strings.h"

#include "sse_config.h"
#include "sse_fleet.h"
#include "sse_limits.h"
#include "sse_share.h"
#include "sse_sessions.h"
#include "sse_slow_start.h"

void *sse_create_dir_conf(apr_pool_t *p, char *dir)
{
    sse_dir_conf *c = apr_pcalloc(p, sizeof(*c));

    c->enabled = 0;
    c->heartbeat_s = SSE_DEFAULT_HEARTBEAT_S;
    c->idle_timeout_s = SSE_DEFAULT_IDLE_TIMEOUT_S;
    c->max_event_size = SSE_DEFAULT_MAX_EVENT_SIZE;
    c->giveup = SSE_GIVEUP_204;
    c->retry_ms = SSE_RETRY_AUTO;
    c->async = 1;
    c->body_buffer = SSE_DEFAULT_BODY_BUFFER;
    c->session_timeout_s = SSE_DEFAULT_SESSION_TIMEOUT_S;
    sse_limits_conf_init(&c->limits, dir);
    c->resume_window_s = SSE_DEFAULT_RESUME_WINDOW_S;
    sse_share_conf_init(&c->share);
    return c;
}

void *sse_create_server_conf(apr_pool_t *p, server_rec *s)
{
    sse_server_conf *c = apr_pcalloc(p, sizeof(*c));

    (void)s;
    ssep_policy_init(&c->policy);
    sse_parse_status_set(p, "", SSE_DEFAULT_MEMBER_FAILURE,
                         &c->member_failure);
    c->failure_streak = SSE_DEFAULT_FAILURE_STREAK;
    c->failure_share = SSE_DEFAULT_FAILURE_SHARE;
    c->session_cache = SSE_DEFAULT_SESSION_CACHE;
    return c;
}

#define MERGE(field) \
    do { \
        c->field = add->field##_set ? add->field : base->field; \
        c->field##_set = add->field##_set || base->field##_set; \
    } while (0)

void *sse_merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    sse_server_conf *base = basev, *add = addv;
    sse_server_conf *c = apr_pcalloc(p, sizeof(*c));
    int i;

    for (i = 0; i < SSEP_CLASS_COUNT; i++) {
        c->policy.strategy[i] = add->strategy_set[i] ? add->policy.strategy[i]
                                                     : base->policy.strategy[i];
        c->strategy_set[i] = add->strategy_set[i] || base->strategy_set[i];
    }
    c->policy.jitter = add->jitter_set ? add->policy.jitter : base->policy.jitter;
    c->jitter_set = add->jitter_set || base->jitter_set;
    MERGE(member_failure);
    MERGE(failure_streak);
    MERGE(failure_share);
    MERGE(session_cache);
    MERGE(state_cache);
    MERGE(slow_start_ms);
    return c;
}

void *sse_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    sse_dir_conf *base = basev, *add = addv;
    sse_dir_conf *c = apr_pcalloc(p, sizeof(*c));

    MERGE(enabled);
    MERGE(heartbeat_s);
    MERGE(idle_timeout_s);
    MERGE(max_event_size);
    MERGE(giveup);
    MERGE(retry_ms);
    MERGE(allow_origins);
    MERGE(allow_credentials);
    MERGE(async);
    MERGE(body_buffer);
    MERGE(session_header);
    MERGE(session_timeout_s);
    MERGE(websocket);
    sse_limits_conf_merge(&c->limits, &base->limits, &add->limits);
    c->resume_window_s = add->resume_set ? add->resume_window_s
                                         : base->resume_window_s;
    MERGE(resume);
    sse_share_conf_merge(&c->share, &base->share, &add->share);
    return c;
}

int sse_conf_enabled(const sse_dir_conf *c)
{
    return c && c->enabled;
}

apr_interval_time_t sse_conf_heartbeat(const sse_dir_conf *c)
{
    return apr_time_from_sec(c->heartbeat_s);
}

apr_interval_time_t sse_conf_idle_timeout(const sse_dir_conf *c)
{
    return apr_time_from_sec(c->idle_timeout_s);
}

apr_size_t sse_conf_max_event_size(const sse_dir_conf *c)
{
    return (apr_size_t)c->max_event_size;
}

int sse_conf_async(const sse_dir_conf *c)
{
    return c->async;
}

int sse_conf_websocket(const sse_dir_conf *c)
{
    return c && c->websocket;
}

apr_interval_time_t sse_conf_resume_window(const sse_dir_conf *c)
{
    return c && c->resume ? apr_time_from_sec(c->resume_window_s) : 0;
}

/* SSEProxyResume On|Off [seconds] */
static const char *set_resume(cmd_parms *cmd, void *dconf, const char *flag,
                              const char *window)
{
    sse_dir_conf *c = dconf;
    apr_int64_t s = SSE_DEFAULT_RESUME_WINDOW_S;

    if (!ap_cstr_casecmp(flag, "on"))
        c->resume = 1;
    else if (!ap_cstr_casecmp(flag, "off"))
        c->resume = 0;
    else
        return apr_pstrcat(cmd->pool, cmd->cmd->name,
                           " must be On or Off, not '", flag, "'", NULL);
    if (window) {
        char *end;

        s = apr_strtoi64(window, &end, 10);
        if (*end || end == window || s < 1 || s > SSE_MAX_RESUME_WINDOW_S)
            return apr_psprintf(cmd->pool, "%s: the window must be 1 to %d "
                                "seconds, not '%s'", cmd->cmd->name,
                                SSE_MAX_RESUME_WINDOW_S, window);
    }
    c->resume_window_s = s;
    c->resume_set = 1;
    return NULL;
}

apr_int64_t sse_conf_slow_start_ms(server_rec *s)
{
    sse_server_conf *c = ap_get_module_config(s->module_config,
                                              &sse_proxy_module);

    return c ? c->slow_start_ms : 0;
}

apr_off_t sse_conf_body_buffer(const sse_dir_conf *c)
{
    return (apr_off_t)c->body_buffer;
}

/* The handlers only store what the parsers in sse_validate.c accept.
 * A handler that fails fails the whole configuration, so what it leaves
 * behind then does not matter. */

static const char *set_enabled(cmd_parms *cmd, void *dconf, const char *arg)
{
    sse_dir_conf *c = dconf;

    c->enabled_set = 1;
    return sse_parse_on_off(cmd->pool, cmd->cmd->name, arg, &c->enabled);
}

static const char *set_heartbeat(cmd_parms *cmd, void *dconf, const char *arg)
{
    sse_dir_conf *c = dconf;

    c->heartbeat_s_set = 1;
    return sse_parse_seconds_or_off(cmd->pool, cmd->cmd->name, arg,
                                    &c->heartbeat_s);
}

static const char *set_idle_timeout(cmd_parms *cmd, void *dconf,
                                    const char *arg)
{
    sse_dir_conf *c = dconf;

    c->idle_timeout_s_set = 1;
    return sse_parse_seconds_or_off(cmd->pool, cmd->cmd->name, arg,
                                    &c->idle_timeout_s);
}

static const char *set_max_event_size(cmd_parms *cmd, void *dconf,
                                      const char *arg)
{
    sse_dir_conf *c = dconf;

    c->max_event_size_set = 1;
    return sse_parse_event_size(cmd->pool, cmd->cmd->name, arg,
                                &c->max_event_size);
}

static const char *set_giveup(cmd_parms *cmd, void *dconf, const char *arg)
{
    sse_dir_conf *c = dconf;

    c->giveup_set = 1;
    return sse_parse_giveup(cmd->pool, cmd->cmd->name, arg, &c->giveup);
}

static const char *set_retry(cmd_parms *cmd, void *dconf, const char *arg)
{
    sse_dir_conf *c = dconf;

    c->retry_ms_set = 1;
    return sse_parse_retry(cmd->pool, cmd->cmd->name, arg, &c->retry_ms);
}

static sse_server_conf *server_conf(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config,
                                &sse_proxy_module);
}

static const char *set_strategy(cmd_parms *cmd, void *dconf,
                                const char *args)
{
    sse_server_conf *c = server_conf(cmd);
    const char *cls_name = ap_getword_conf(cmd->temp_pool, &args);
    const char *spec = "", *err;
    ssep_class cls;

    (void)dconf;
    /* quoted or not: "PROXY_ERROR initial=15s max=15m" reads the same */
    while (*args) {
        const char *word = ap_getword_conf(cmd->temp_pool, &args);
        spec = *spec ? apr_pstrcat(cmd->temp_pool, spec, " ", word, NULL)
                     : word;
    }
    err = sse_parse_strategy(cmd->pool, cmd->cmd->name, cls_name, spec,
                             &c->policy, &cls);
    if (err)
        return err;
    c->strategy_set[cls] = 1;
    return NULL;
}

static const char *set_jitter(cmd_parms *cmd, void *dconf, const char *arg)
{
    sse_server_conf *c = server_conf(cmd);

    (void)dconf;
    c->jitter_set = 1;
    return sse_parse_jitter(cmd->pool, cmd->cmd->name, arg, &c->policy.jitter);
}

static const char *set_member_failure(cmd_parms *cmd, void *dconf,
                                      const char *args)
{
    sse_server_conf *c = server_conf(cmd);

    (void)dconf;
    c->member_failure_set = 1;
    return sse_parse_status_set(cmd->pool, cmd->cmd->name, args,
                                &c->member_failure);
}

static const char *set_failure_streak(cmd_parms *cmd, void *dconf,
                                      const char *arg)
{
    sse_server_conf *c = server_conf(cmd);

    (void)dconf;
    c->failure_streak_set = 1;
    return sse_parse_failure_streak(cmd->pool, cmd->cmd->name, arg,
                                    &c->failure_streak);
}

static const char *set_failure_share(cmd_parms *cmd, void *dconf,
                                     const char *arg)
{
    sse_server_conf *c = server_conf(cmd);

    (void)dconf;
    c->failure_share_set = 1;
    return sse_parse_percent(cmd->pool, cmd->cmd->name, arg,
                             &c->failure_share);
}

static const char *set_slow_start(cmd_parms *cmd, void *dconf,
                                  const char *arg)
{
    sse_server_conf *c = server_conf(cmd);
    const char *err;

    (void)dconf;
    c->slow_start_ms_set = 1;
    err = sse_parse_slow_start(cmd->pool, cmd->cmd->name, arg,
                               &c->slow_start_ms);
    if (!err && c->slow_start_ms)
        sse_slow_start_wanted();
    return err;
}

static const char *star_with_credentials(cmd_parms *cmd)
{
    return apr_psprintf(cmd->pool, "%s: browsers reject \"*\" together "
                        "with credentials; list the allowed origins in "
                        "SSEProxyAllowOrigin, or set SSEProxyAllowCredentials "
                        "off", cmd->cmd->name);
}

static const char *set_allow_origin(cmd_parms *cmd, void *dconf,
                                    const char *arg)
{
    sse_dir_conf *c = dconf;
    const char *err;

    if (!c->allow_origins_set || !c->allow_origins) {
        c->allow_origins = apr_array_make(cmd->pool, 4, sizeof(const char *));
        c->allow_origins_set = 1;
    }
    err = sse_origins_add(cmd->pool, cmd->cmd->name, c->allow_origins, arg);
    if (err)
        return err;
    if (sse_origins_allow_any(c->allow_origins) && c->allow_credentials)
        return star_with_credentials(cmd);
    return NULL;
}

static const char *set_allow_credentials(cmd_parms *cmd, void *dconf,
                                         int flag)
{
    sse_dir_conf *c = dconf;

    c->allow_credentials = flag;
    c->allow_credentials_set = 1;
    if (flag && sse_origins_allow_any(c->allow_origins))
        return star_with_credentials(cmd);
    return NULL;
}

static const char *set_async(cmd_parms *cmd, void *dconf, int flag)
{
    sse_dir_conf *c = dconf;

    (void)cmd;
    c->async = flag;
    c->async_set = 1;
    return NULL;
}

static const char *set_websocket(cmd_parms *cmd, void *dconf, int flag)
{
    sse_dir_conf *c = dconf;

    (void)cmd;
    c->websocket = flag;
    c->websocket_set = 1;
    return NULL;
}

static const char *set_body_buffer(cmd_parms *cmd, void *dconf,
                                   const char *arg)
{
    sse_dir_conf *c = dconf;

    c->body_buffer_set = 1;
    return sse_parse_body_buffer(cmd->pool, cmd->cmd->name, arg,
                                 &c->body_buffer);
}

static const char *set_session_header(cmd_parms *cmd, void *dconf,
                                      const char *arg)
{
    sse_dir_conf *c = dconf;

    c->session_header_set = 1;
    if (!strcasecmp(arg, "none")) {
        c->session_header = NULL;
        return NULL;
    }
    sse_sessions_wanted();
    return sse_parse_header_name(cmd->pool, cmd->cmd->name, arg,
                                 &c->session_header);
}

static const char *set_session_timeout(cmd_parms *cmd, void *dconf,
                                       const char *arg)
{
    sse_dir_conf *c = dconf;

    c->session_timeout_s_set = 1;
    return sse_parse_seconds(cmd->pool, cmd->cmd->name, arg,
                             &c->session_timeout_s);
}

/* provider[:args], checked for form here and for the provider in
 * post_config.  "none" turns a fleet off. */
static const char *socache_spec(cmd_parms *cmd, const char *arg,
                                const char **out)
{
    if (!*arg || *arg == ':')
        return apr_psprintf(cmd->pool, "%s: '%s' is not valid; use a "
                            "socache provider name, optionally followed by "
                            "':' and its arguments", cmd->cmd->name, arg);
    *out = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

static const char *set_state_cache(cmd_parms *cmd, void *dconf,
                                   const char *arg)
{
    sse_server_conf *c = server_conf(cmd);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)dconf;
    if (err)
        return err;
    c->state_cache_set = 1;
    if (!strcasecmp(arg, "none")) {
        c->state_cache = NULL;
        return NULL;
    }
    sse_fleet_wanted();
    return socache_spec(cmd, arg, &c->state_cache);
}

static const char *set_session_cache(cmd_parms *cmd, void *dconf,
                                     const char *arg)
{
    sse_server_conf *c = server_conf(cmd);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)dconf;
    if (err)
        return err;
    c->session_cache_set = 1;
    return socache_spec(cmd, arg, &c->session_cache);
}

const command_rec sse_cmds[] = {
    AP_INIT_TAKE1("SSEProxy", set_enabled, NULL, RSRC_CONF | ACCESS_CONF,
                  "On to relay proxied requests of this location as "
                  "Server-Sent Events streams (default Off)"),
    AP_INIT_TAKE1("SSEProxyHeartbeat", set_heartbeat, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Seconds of backend silence before a heartbeat comment is "
                  "sent to the client, or 'off' (default 15)"),
    AP_INIT_TAKE1("SSEProxyIdleTimeout", set_idle_timeout, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Seconds of backend silence after which the stream is "
                  "ended, or 'off' (default off)"),
    AP_INIT_TAKE1("SSEProxyMaxEventSize", set_max_event_size, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Largest event or line accepted from the backend, in bytes "
                  "(K, M, G suffixes; default 1M)"),
    AP_INIT_RAW_ARGS("SSEProxyStrategy", set_strategy, NULL, RSRC_CONF,
                     "Backoff strategy of an error class: SSEProxyStrategy "
                     "PROXY_ERROR initial=15s max=15m factor=2.5 attempts=4"),
    AP_INIT_TAKE1("SSEProxyJitter", set_jitter, NULL, RSRC_CONF,
                  "Jitter applied to member backoff and client retry hints: "
                  "none, full, equal or decorrelated (default equal)"),
    AP_INIT_RAW_ARGS("SSEProxyMemberFailure", set_member_failure, NULL,
                     RSRC_CONF,
                     "Backend statuses that count against a member: codes "
                     "and ranges (default 502-504), or none"),
    AP_INIT_TAKE1("SSEProxyMemberFailureThreshold", set_failure_streak, NULL,
                  RSRC_CONF,
                  "Counted statuses in a row before a member is backed off "
                  "(default 5)"),
    AP_INIT_TAKE1("SSEProxyMemberFailureShare", set_failure_share, NULL,
                  RSRC_CONF,
                  "Largest share of a balancer's members that counted "
                  "statuses may keep out at once (default 10%; one member "
                  "always may)"),
    AP_INIT_TAKE1("SSEProxySlowStart", set_slow_start, NULL, RSRC_CONF,
                  "Time over which a member back from backoff gets a "
                  "growing share of new streams, e.g. 30s, or off (the "
                  "default)"),
    AP_INIT_TAKE1("SSEProxyGiveUp", set_giveup, NULL, RSRC_CONF | ACCESS_CONF,
                  "Answer to an EventSource once every member has given up: "
                  "204 (stop) or retry (default 204)"),
    AP_INIT_TAKE1("SSEProxyRetry", set_retry, NULL, RSRC_CONF | ACCESS_CONF,
                  "retry: hint at the start of each stream: auto, off or "
                  "milliseconds (default auto)"),
    AP_INIT_ITERATE("SSEProxyAllowOrigin", set_allow_origin, NULL,
                    RSRC_CONF | ACCESS_CONF,
                    "Origins allowed to read the streams cross-origin "
                    "(scheme://host[:port] ...), or * for any"),
    AP_INIT_FLAG("SSEProxyAllowCredentials", set_allow_credentials, NULL,
                 RSRC_CONF | ACCESS_CONF,
                 "On to let cross-origin EventSources send cookies "
                 "(withCredentials); needs listed origins, not *"),
    AP_INIT_FLAG("SSEProxyAsync", set_async, NULL, RSRC_CONF | ACCESS_CONF,
                 "On to hold idle streams without a worker thread where the "
                 "MPM allows it (event MPM, HTTP/1.x); default On"),
    AP_INIT_TAKE12("SSEProxyResume", set_resume, NULL,
                   RSRC_CONF | ACCESS_CONF,
                   "On [seconds] to continue a GET stream whose backend broke "
                   "off, on a usable member with Last-Event-ID, for up to "
                   "seconds (default 30); default Off"),
    AP_INIT_FLAG("SSEProxyWebSocket", set_websocket, NULL,
                 RSRC_CONF | ACCESS_CONF,
                 "On to also serve the stream to WebSocket clients (RFC "
                 "6455), each event one JSON text message; default Off"),
    AP_INIT_TAKE1("SSEProxyBodyBuffer", set_body_buffer, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Request bodies up to this size are kept to fail over to "
                  "another member; larger ones stream through and are not "
                  "retried (K, M suffixes; 0 for never; default 1M)"),
    AP_INIT_TAKE1("SSEProxySessionHeader", set_session_header, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Response header naming a session (e.g. Mcp-Session-Id): "
                  "later requests carrying it go to the member that set it; "
                  "none to turn off (default none)"),
    AP_INIT_TAKE1("SSEProxySessionTimeout", set_session_timeout, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Seconds a session stays pinned to its member after its "
                  "last request (default 3600)"),
    AP_INIT_TAKE1("SSEProxyStateCache", set_state_cache, NULL, RSRC_CONF,
                  "socache provider shared by a fleet of nodes for member "
                  "state and sessions, e.g. redis:10.0.0.9:6379; none (the "
                  "default) keeps both on this host"),
    AP_INIT_TAKE1("SSEProxySessionCache", set_session_cache, NULL, RSRC_CONF,
                  "socache provider holding the session map, with its "
                  "arguments: provider[:args] (default shmcb)"),
    SSE_LIMITS_CMDS
    SSE_SHARE_CMDS
    { NULL }
};
