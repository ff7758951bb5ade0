/* Per-member failure state in shared memory: one view for every child,
 * kept across graceful restarts, keyed by balancer and member name. */
#ifndef SSE_MEMBERS_H
#define SSE_MEMBERS_H

#include "httpd.h"
#include "mod_proxy.h"

#include "ssepolicy.h"

#define SSE_MEMBER_KEY_MAX 256
#define SSE_MEMBER_SLOTS   512

typedef struct {
    char         balancer[96];     /* "" for a plain ProxyPass worker */
    char         member[SSE_MEMBER_KEY_MAX - 96];
    apr_uint32_t used;
    apr_uint32_t consecutive_failures;
    apr_uint32_t last_class;       /* ssep_class */
    apr_uint32_t gave_up;
    apr_int64_t  delay_ms;         /* current backoff, 0 when healthy */
    apr_time_t   next_retry;       /* when the member is due again */
    apr_time_t   outage_start;     /* first failure of the current outage */
    apr_time_t   last_failure;     /* when the last counted failure was */
    apr_interval_time_t configured_retry; /* worker's retry= before us */
    apr_int64_t  last_recovery_ms; /* how long the last outage lasted */
    apr_uint64_t rng;
    apr_uint64_t attempts;
    apr_uint64_t outages;
    apr_uint64_t failures_by_class[SSEP_CLASS_COUNT];
    ssep_tracker tracker;
} sse_member_state;

apr_status_t sse_members_pre_config(apr_pool_t *pconf);
apr_status_t sse_members_post_config(apr_pool_t *pconf, server_rec *s);
void sse_members_child_init(apr_pool_t *p, server_rec *s);

/* The balancer a request was routed through ("" when none). */
const char *sse_request_balancer(request_rec *r);

/* A successful attempt: latency samples, outcome, and the end of any
 * outage (the configured retry is restored). */
void sse_member_success(request_rec *r, proxy_worker *worker,
                        apr_interval_time_t connect_time,
                        apr_interval_time_t ttfb);

/* mod_proxy_hcheck puts a member back when its checks pass; if that
 * happened since its last counted failure, the count starts again (and
 * the configured retry is restored), as after a successful request. */
void sse_member_health_check(request_rec *r, proxy_worker *worker);

/* A failed attempt of class cls: the member is backed off through
 * mod_proxy's own error state and the decision is logged.  Returns the
 * delay in ms. */
apr_int64_t sse_member_failure(request_rec *r, proxy_worker *worker,
                               ssep_class cls, const ssep_policy *policy);

/* A copy of a member's state; 0 if it has none yet. */
int sse_member_snapshot(const char *balancer, const char *member,
                        sse_member_state *out);

/* Calls fn for a copy of every member state known. */
void sse_members_each(void (*fn)(const sse_member_state *m, void *baton),
                      void *baton);

#endif
