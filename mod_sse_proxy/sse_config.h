/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* Directives and the per-directory configuration of mod_sse_proxy. */
#ifndef SSE_CONFIG_H
#define SSE_CONFIG_H

#include "httpd.h"
#include "http_config.h"

#include "ssepolicy.h"
#include "sse_validate.h"
#include "sse_limits_conf.h"
#include "sse_share_conf.h"

#define SSE_UNSET (-1)

/* Defaults, documented in README.md. */
#define SSE_DEFAULT_HEARTBEAT_S      15
#define SSE_DEFAULT_IDLE_TIMEOUT_S   0          /* off */
#define SSE_DEFAULT_MAX_EVENT_SIZE   (1024 * 1024)
/* Member health: which backend statuses count against a member, how
 * many in a row back it off, and the largest share of a balancer's
 * members they may keep out at once (docs/policy.md argues each). */
#define SSE_DEFAULT_MEMBER_FAILURE   "502-504"
#define SSE_DEFAULT_FAILURE_STREAK   5
#define SSE_DEFAULT_FAILURE_SHARE    10
/* Request bodies kept for failing over to another member: enough for an
 * LLM request with a long conversation (docs/ai-traffic.md). */
#define SSE_DEFAULT_BODY_BUFFER      (1024 * 1024)
#define SSE_DEFAULT_SESSION_TIMEOUT_S 3600
#define SSE_DEFAULT_SESSION_CACHE    "shmcb"
#define SSE_DEFAULT_RESUME_WINDOW_S  30
#define SSE_MAX_RESUME_WINDOW_S      3600

typedef struct {
    int        enabled;          /* SSEProxy */
    int        enabled_set;
    apr_int64_t heartbeat_s;     /* 0 = off */
    int        heartbeat_s_set;
    apr_int64_t idle_timeout_s;  /* 0 = off */
    int        idle_timeout_s_set;
    apr_int64_t max_event_size;
    int        max_event_size_set;
    int        giveup;           /* SSEProxyGiveUp */
    int        giveup_set;
    apr_int64_t retry_ms;        /* SSEProxyRetry: ms, AUTO or OFF */
    int        retry_ms_set;
    apr_array_header_t *allow_origins; /* SSEProxyAllowOrigin: const char * */
    int        allow_origins_set;
    int        allow_credentials; /* SSEProxyAllowCredentials */
    int        allow_credentials_set;
    int        async;            /* SSEProxyAsync */
    int        async_set;
    apr_int64_t body_buffer;     /* SSEProxyBodyBuffer, bytes */
    int        body_buffer_set;
    const char *session_header;  /* SSEProxySessionHeader, NULL: none */
    int        session_header_set;
    apr_int64_t session_timeout_s; /* SSEProxySessionTimeout */
    int        session_timeout_s_set;
    int        websocket;        /* SSEProxyWebSocket */
    int        websocket_set;
    sse_limits_conf limits;      /* stream caps, reconnect limit */
    int        resume;           /* SSEProxyResume */
    apr_int64_t resume_window_s; /* how long a broken stream may resume */
    int        resume_set;
    sse_share_conf share;        /* shared streams, replay ring */
} sse_dir_conf;

/* Server-wide: the policy members are backed off by, and what counts as
 * evidence against a member. */
typedef struct {
    ssep_policy policy;
    int         strategy_set[SSEP_CLASS_COUNT];
    int         jitter_set;
    sse_status_set member_failure;  /* SSEProxyMemberFailure */
    int         member_failure_set;
    apr_int64_t failure_streak;     /* SSEProxyMemberFailureThreshold */
    int         failure_streak_set;
    apr_int64_t failure_share;      /* SSEProxyMemberFailureShare, % */
    int         failure_share_set;
    const char *session_cache;      /* SSEProxySessionCache provider[:args] */
    int         session_cache_set;
    const char *state_cache;        /* SSEProxyStateCache, NULL: no fleet */
    int         state_cache_set;
    apr_int64_t slow_start_ms;      /* SSEProxySlowStart, 0: off */
    int         slow_start_ms_set;
} sse_server_conf;

extern module AP_MODULE_DECLARE_DATA sse_proxy_module;
extern const command_rec sse_cmds[];

void *sse_create_dir_conf(apr_pool_t *p, char *dir);
void *sse_create_server_conf(apr_pool_t *p, server_rec *s);
void *sse_merge_server_conf(apr_pool_t *p, void *basev, void *addv);
void *sse_merge_dir_conf(apr_pool_t *p, void *basev, void *addv);

/* Effective values, defaults applied. */
int sse_conf_enabled(const sse_dir_conf *c);
apr_interval_time_t sse_conf_heartbeat(const sse_dir_conf *c);
apr_interval_time_t sse_conf_idle_timeout(const sse_dir_conf *c);
apr_size_t sse_conf_max_event_size(const sse_dir_conf *c);
int sse_conf_async(const sse_dir_conf *c);
apr_off_t sse_conf_body_buffer(const sse_dir_conf *c);
int sse_conf_websocket(const sse_dir_conf *c);
/* 0 when streams are not resumed, else how long a broken stream may try */
apr_interval_time_t sse_conf_resume_window(const sse_dir_conf *c);
/* SSEProxySlowStart of server s, in ms (0: off). */
apr_int64_t sse_conf_slow_start_ms(server_rec *s);

#endif
