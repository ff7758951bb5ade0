/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* Per-member failure state in shared memory: one view for every child,
 * kept across graceful restarts, keyed by balancer and member name. */
#ifndef SSE_MEMBERS_H
#define SSE_MEMBERS_H

#include "httpd.h"
#include "mod_proxy.h"

#include "ssepolicy.h"
#include "sse_config.h"
#include "sse_member_table.h"

apr_status_t sse_members_pre_config(apr_pool_t *pconf);
apr_status_t sse_members_post_config(apr_pool_t *pconf, server_rec *s);
void sse_members_child_init(apr_pool_t *p, server_rec *s);

/* The balancer a request was routed through ("" when none). */
const char *sse_request_balancer(request_rec *r);
/* The same balancer's record, NULL when none. */
proxy_balancer *sse_request_balancer_rec(request_rec *r);
/* A balancer's name as shown: without "balancer://". */
const char *sse_balancer_short_name(const char *name);

/* How long until w takes requests again: 0 when it does now, -1 when it
 * is out for reasons the policy does not own (disabled, stopped). */
apr_int64_t sse_worker_due_ms(proxy_worker *w, apr_time_t now);

/* A successful attempt: latency samples, outcome, and the end of any
 * outage (the configured retry is restored). */
void sse_member_success(request_rec *r, proxy_worker *worker,
                        apr_interval_time_t connect_time,
                        apr_interval_time_t ttfb);

/* mod_proxy_hcheck puts a member back when its checks pass; if that
 * happened since its last counted failure, the count starts again (and
 * the configured retry is restored), as after a successful request. */
void sse_member_health_check(request_rec *r, proxy_worker *worker);

/* A failed attempt of class cls that the client could not have caused
 * (a connection that failed or broke): the member is backed off through
 * mod_proxy's own error state and the decision is logged.  Returns the
 * delay in ms. */
apr_int64_t sse_member_failure(request_rec *r, proxy_worker *worker,
                               ssep_class cls, const ssep_policy *policy);

/* The backend answered status, which the operator counts as a member
 * failure (SSEProxyMemberFailure), of class cls.  The member is backed
 * off only after SSEProxyMemberFailureThreshold such answers in a row,
 * and only while that leaves no more than SSEProxyMemberFailureShare of
 * its balancer out: a client can provoke statuses, so they must not be
 * able to take every member out.  A backoff lasts at least floor_ms
 * (the backend's Retry-After; -1 for none), up to the class's maximum.
 * Returns 1 when it was backed off. */
int sse_member_status_failure(request_rec *r, proxy_worker *worker,
                              int status, ssep_class cls,
                              apr_int64_t floor_ms,
                              const sse_server_conf *sc);

/* What balancing needs of a balancer's n workers, at once: each one's
 * share of new streams now (below 1 during its slow start, 1 otherwise)
 * and its quality grade (GOOD when it has no state yet); either array
 * may be NULL.  Returns how many are in slow start. */
int sse_members_balance_view(const char *balancer, proxy_worker **workers,
                             int n, apr_time_t now, double *shares,
                             ssep_quality *grades);

/* Counts a stream the member was not given because of its slow start. */
void sse_member_slow_start_held(request_rec *r, const char *balancer,
                                proxy_worker *worker);

/* A copy of a member's state; 0 if it has none yet. */
int sse_member_snapshot(const char *balancer, const char *member,
                        sse_member_state *out);

/* Calls fn for a copy of every member state known. */
void sse_members_each(void (*fn)(const sse_member_state *m, void *baton),
                      void *baton);

/* The fleet (SSEProxyStateCache).  Takes or renews, for lease, this
 * child's turn to sync the node's member state; 1 when it has it. */
int sse_members_fleet_lead(apr_interval_time_t lease);

/* Merges the fleet's record of (balancer, worker), NULL when it has
 * none, into the local state, applies the result to the worker (out
 * until the shared window ends, or back in), and sets *merged.  Returns
 * SSE_FLEET_TAKEN when the local state changed, SSE_FLEET_GIVE when the
 * store should be given *merged. */
#define SSE_FLEET_TAKEN 1
#define SSE_FLEET_GIVE  2
struct sse_fleet_record;
int sse_member_fleet_merge(const char *balancer, proxy_worker *worker,
                           const struct sse_fleet_record *remote,
                           struct sse_fleet_record *merged);

#endif
