/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include "httpd.h"
#include "http_log.h"
#include "apr_global_mutex.h"
#include "apr_shm.h"
#include "apr_strings.h"
#include "util_mutex.h"

#include "sse_balance.h"
#include "sse_fleet_record.h"
#include "sse_members.h"
#include "sse_stats.h"

APLOG_USE_MODULE(sse_proxy);

#define MUTEX_TYPE "sse-proxy-members"

/* The table and its lock live in the process pool of the parent, made
 * once: graceful restarts (which reload this module and clear pconf)
 * keep them, children inherit them, and old and new generations of
 * children keep sharing one lock during a restart. */
typedef struct {
    apr_shm_t          *shm;
    apr_global_mutex_t *lock;
    sse_member_state   *table;
    sse_counters       *counters;   /* right after the table */
} shared_table;

static shared_table *shared;

/* The main server's SSEProxySlowStart, for outages another node of a
 * fleet decided (they come with no request). */
static apr_int64_t fleet_slow_start_ms;

/* A module upgraded by a graceful restart finds the old table under the
 * old key and makes a new one: the layout is part of the name. */
#define USERDATA_KEY "mod_sse_proxy:members:8"

/* A name httpd allows must fit whole (sse_member_table.h). */
typedef char balancer_name_fits[SSE_BALANCER_NAME_SIZE
                                >= PROXY_BALANCER_MAX_NAME_SIZE ? 1 : -1];
typedef char member_name_fits[SSE_MEMBER_NAME_SIZE
                              >= PROXY_WORKER_EXT_NAME_SIZE ? 1 : -1];

apr_status_t sse_members_pre_config(apr_pool_t *pconf)
{
    return ap_mutex_register(pconf, MUTEX_TYPE, NULL, APR_LOCK_DEFAULT, 0);
}

apr_status_t sse_members_post_config(apr_pool_t *pconf, server_rec *s)
{
    apr_pool_t *pproc = s->process->pool;
    apr_size_t table_size = APR_ALIGN_DEFAULT(sizeof(sse_member_state)
                                              * SSE_MEMBER_SLOTS);
    apr_size_t size = table_size + sizeof(sse_counters);
    shared_table *t = NULL;
    apr_status_t rv;

    (void)pconf;
    fleet_slow_start_ms = sse_conf_slow_start_ms(s);
    apr_pool_userdata_get((void **)&t, USERDATA_KEY, pproc);
    if (t && apr_shm_size_get(t->shm) >= size) {
        shared = t;
        return APR_SUCCESS;
    }
    t = apr_pcalloc(pproc, sizeof(*t));
    rv = apr_shm_create(&t->shm, size, NULL, pproc);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     "SSE00041: cannot create the shared member state "
                     "(%" APR_SIZE_T_FMT " bytes)", size);
        return rv;
    }
    t->table = apr_shm_baseaddr_get(t->shm);
    memset(t->table, 0, size);
    t->counters = (sse_counters *)((char *)t->table + table_size);
    t->counters->started = apr_time_now();
    rv = ap_global_mutex_create(&t->lock, NULL, MUTEX_TYPE, NULL, s, pproc, 0);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     "SSE00042: cannot create the member state mutex");
        return rv;
    }
    apr_pool_userdata_set(t, apr_pstrdup(pproc, USERDATA_KEY),
                          apr_pool_cleanup_null, pproc);
    shared = t;
    return APR_SUCCESS;
}

void sse_members_child_init(apr_pool_t *p, server_rec *s)
{
    apr_status_t rv;

    if (!shared)
        return;
    rv = apr_global_mutex_child_init(&shared->lock,
                                     apr_global_mutex_lockfile(shared->lock),
                                     p);
    if (rv != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     "SSE00043: cannot attach to the member state mutex");
}

sse_counters *sse_stats(void)
{
    return shared ? shared->counters : NULL;
}

const char *sse_request_balancer(request_rec *r)
{
    const char *b = apr_table_get(r->subprocess_env, "BALANCER_NAME");

    return b ? b : "";
}

proxy_balancer *sse_request_balancer_rec(request_rec *r)
{
    proxy_server_conf *pconf = ap_get_module_config(r->server->module_config,
                                                    &proxy_module);
    const char *name = sse_request_balancer(r);

    if (!*name && r->filename && !strncmp(r->filename, "proxy:balancer://", 17))
        name = r->filename + 6;
    if (!*name)
        return NULL;
    return ap_proxy_get_balancer(r->pool, pconf, name, 0);
}

const char *sse_balancer_short_name(const char *name)
{
    return strncmp(name, "balancer://", 11) ? name : name + 11;
}

/* For log lines: "-" for a plain worker. */
static const char *balancer_label(const sse_member_state *m)
{
    return *m->balancer ? sse_balancer_short_name(m->balancer) : "-";
}

apr_int64_t sse_worker_due_ms(proxy_worker *w, apr_time_t now)
{
    apr_time_t due;

    if (PROXY_WORKER_IS_USABLE(w))
        return 0;
    if ((w->s->status & PROXY_WORKER_NOT_USABLE_BITMAP)
        != PROXY_WORKER_IN_ERROR)
        return -1;
    due = w->s->error_time + w->s->retry;
    return due > now ? (due - now) / 1000 : 0;
}

/* Finds or creates the state of (balancer, member).  Lock held. */
static sse_member_state *find_locked(const char *balancer, const char *member,
                                     int create)
{
    int created;
    sse_member_state *m = sse_member_table_find(shared->table,
                                                SSE_MEMBER_SLOTS, balancer,
                                                member, create, &created);

    if (created) {
        m->configured_retry = -1;
        ssep_tracker_init(&m->tracker);
        ssep_rng_seed(&m->rng, (apr_uint64_t)apr_time_now()
                      ^ ((apr_uint64_t)getpid() << 32) ^ (apr_uintptr_t)m);
    }
    return m;
}

static int with_lock(request_rec *r)
{
    apr_status_t rv;

    if (!shared)
        return 0;
    rv = apr_global_mutex_lock(shared->lock);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      "SSE00044: cannot lock the member state");
        return 0;
    }
    return 1;
}

static apr_uint64_t now_ms(void)
{
    return (apr_uint64_t)(apr_time_now() / 1000);
}

static sse_member_state *request_member(request_rec *r, proxy_worker *worker)
{
    sse_member_state *m = find_locked(sse_request_balancer(r),
                                      worker->s->name_ex, 1);
    if (!m)
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "SSE00045: member table full (%d members) or name too "
                      "long; %s is not tracked", SSE_MEMBER_SLOTS,
                      worker->s->name_ex);
    return m;
}

/* Whether m is within its slow start window now. */
static int in_slow_start(const sse_member_state *m, apr_time_t now)
{
    return m->slow_start_ms > 0
           && sse_slow_start_share(m->slow_start_from, m->slow_start_ms,
                                   now) < 1.0;
}

/* The outage of m ends: with a slow start, its share of new streams
 * grows from now on, or from the end of its backoff window if that came
 * first, and a failure within the window goes on counting where this
 * outage left off.  Lock held. */
static void begin_slow_start(request_rec *r, sse_member_state *m,
                             apr_time_t now)
{
    if (m->slow_start_ms <= 0)
        return;
    if (now < m->slow_start_from)
        m->slow_start_from = now;  /* back before its window ended */
    if (!in_slow_start(m, now)) {
        m->slow_start_ms = 0;
        return;
    }
    m->slow_start_failures = m->consecutive_failures;
    if (r)
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                      "SSE00082: slow start member=%s balancer=%s share=%.0f%% "
                      "until=+%" APR_INT64_T_FMT "ms", m->member,
                      balancer_label(m),
                      100 * sse_slow_start_share(m->slow_start_from,
                                                 m->slow_start_ms, now),
                      (m->slow_start_from
                       + apr_time_from_msec(m->slow_start_ms) - now) / 1000);
}

/* The member is healthy again: its count starts over and its configured
 * retry= is back.  Lock held. */
static void end_outage(request_rec *r, sse_member_state *m,
                       proxy_worker *worker)
{
    if (m->consecutive_failures) {
        begin_slow_start(r, m, apr_time_now());
        m->last_recovery_ms = (apr_time_now() - m->outage_start) / 1000;
        if (m->configured_retry >= 0)
            worker->s->retry = m->configured_retry;
        m->last_success = apr_time_now();
        m->fleet_dirty = 1;
        m->from_fleet = 0;
    }
    m->consecutive_failures = 0;
    m->status_streak = 0;
    m->held_in = 0;
    m->gave_up = 0;
    m->delay_ms = 0;
    m->next_retry = 0;
    m->outage_start = 0;
}

void sse_member_success(request_rec *r, proxy_worker *worker,
                        apr_interval_time_t connect_time,
                        apr_interval_time_t ttfb)
{
    sse_member_state *m;

    if (!with_lock(r))
        return;
    m = request_member(r, worker);
    if (m) {
        /* one sample per attempt: what it took to get the stream going,
         * connect (when a new connection was needed) plus first byte */
        ssep_tracker_latency(&m->tracker,
                             (apr_uint32_t)((connect_time + ttfb) / 1000));
        ssep_tracker_attempt(&m->tracker, 0, now_ms());
        m->attempts++;
        if (m->consecutive_failures)
            ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                          "SSE00031: recovered member=%s balancer=%s "
                          "after=%" APR_INT64_T_FMT "ms failures=%u",
                          m->member, balancer_label(m),
                          (apr_time_now() - m->outage_start) / 1000,
                          m->consecutive_failures);
        end_outage(r, m, worker);
    }
    apr_global_mutex_unlock(shared->lock);
}

void sse_member_health_check(request_rec *r, proxy_worker *worker)
{
    sse_member_state *m;

    /* only a member under health checks that were run since its last
     * failure and that it passes (it is usable before its window ended) */
    if (worker->s->method == NONE || !PROXY_WORKER_IS_USABLE(worker)
        || !with_lock(r))
        return;
    m = find_locked(sse_request_balancer(r), worker->s->name_ex, 0);
    if (m && m->consecutive_failures && apr_time_now() < m->next_retry
        && worker->s->updated > m->last_failure) {
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                      "SSE00036: health checks passed: member=%s balancer=%s "
                      "back after %u failures", m->member,
                      balancer_label(m), m->consecutive_failures);
        end_outage(r, m, worker);
    }
    apr_global_mutex_unlock(shared->lock);
}

/* Counts a failure of m and backs the member off.  Lock held. */
static apr_int64_t back_off(request_rec *r, proxy_worker *worker,
                            sse_member_state *m, ssep_class cls,
                            const ssep_policy *policy, apr_int64_t floor_ms)
{
    const ssep_strategy *strategy = ssep_policy_strategy(policy, cls);
    apr_time_t now = apr_time_now();
    apr_int64_t delay;
    ssep_quality q;
    int gave_up = 0;

    /* Streams that were opened before the member's last counted failure
     * and die now are that same failure seen again (a backend that dies
     * takes all its streams with it): one outage must not count as a
     * thousand attempts. */
    if (m->consecutive_failures && r->request_time <= m->last_failure) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "SSE00035: %s failure of member %s is part of the "
                      "failure already counted", ssep_class_name(cls),
                      worker->s->name_ex);
        return m->next_retry > now ? (m->next_retry - now) / 1000 : 0;
    }
    if (!m->consecutive_failures && m->slow_start_failures
        && in_slow_start(m, now)) {
        /* It came back moments ago and fails again: the same outage,
         * whose next delay applies, not a new one's first. */
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                      "SSE00081: member=%s balancer=%s failed during slow "
                      "start at share=%.0f%%; back out as attempt %u",
                      m->member, balancer_label(m),
                      100 * sse_slow_start_share(m->slow_start_from,
                                                 m->slow_start_ms, now),
                      m->slow_start_failures + 1);
        m->consecutive_failures = m->slow_start_failures;
        m->outage_start = now;
    }
    m->slow_start_failures = 0;
    ssep_tracker_attempt(&m->tracker, 1, now_ms());
    m->attempts++;
    m->failures_by_class[cls]++;
    m->outages += m->consecutive_failures == 0;
    m->last_failure = now;
    if (m->consecutive_failures == 0) {
        m->outage_start = now;
        m->configured_retry = worker->s->retry;
    }
    m->consecutive_failures++;
    m->fleet_dirty = 1;
    m->from_fleet = 0;
    m->status_streak = 0;
    m->held_in = 0;
    m->last_class = cls;
    q = ssep_tracker_grade(&m->tracker, now_ms());
    m->last_quality = q;
    delay = ssep_backoff_jittered(strategy, m->consecutive_failures - 1, q,
                                  policy->jitter, m->delay_ms, &m->rng);
    if (delay == SSEP_GIVE_UP) {
        /* Never dead for good: the member is probed at the class's
         * slowest pace until it answers again. */
        gave_up = 1;
        delay = strategy->max_ms;
    }
    /* the backend said when it can take work again */
    if (floor_ms > delay)
        delay = floor_ms < (apr_int64_t)strategy->max_ms ? floor_ms
                                                        : strategy->max_ms;
    m->gave_up = gave_up;
    m->delay_ms = delay;
    m->next_retry = now + apr_time_from_msec(delay);
    /* its share of new streams grows again once the window has passed */
    m->slow_start_from = m->next_retry;
    m->slow_start_ms = sse_conf_slow_start_ms(r->server);

    /* mod_proxy's own error state and retry window: the balancer,
     * balancer-manager and mod_proxy_hcheck see the same truth. */
    if (!(worker->s->status & PROXY_WORKER_IGNORE_ERRORS)) {
        worker->s->retry = apr_time_from_msec(delay);
        worker->s->error_time = now;
        worker->s->status |= PROXY_WORKER_IN_ERROR;
    }
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  "SSE00030: %s member=%s balancer=%s class=%s quality=%s "
                  "attempt=%u delay=%" APR_INT64_T_FMT "ms",
                  gave_up ? "give-up" : "backoff", m->member,
                  balancer_label(m), ssep_class_name(cls),
                  ssep_quality_name(q), m->consecutive_failures, delay);
    return delay;
}

apr_int64_t sse_member_failure(request_rec *r, proxy_worker *worker,
                               ssep_class cls, const ssep_policy *policy)
{
    const ssep_strategy *strategy = ssep_policy_strategy(policy, cls);
    sse_member_state *m;
    apr_int64_t delay;

    SSE_STAT_ADD(errors[cls], 1);
    if (!strategy || !with_lock(r))
        return 0;
    m = request_member(r, worker);
    delay = m ? back_off(r, worker, m, cls, policy, -1)
              : ssep_backoff_delay(strategy, 0, SSEP_Q_GOOD);
    apr_global_mutex_unlock(shared->lock);
    return delay;
}

/* How many members of worker's balancer status failures may keep out at
 * once, and how many others are out now.  Under the lock, so that two
 * status failures at once cannot both see room for one more. */
static void balancer_census(proxy_balancer *balancer, proxy_worker *worker,
                            apr_int64_t share, int *allowed, int *out)
{
    apr_time_t now = apr_time_now();
    int i, total = 1;

    *out = 0;
    if (balancer) {
        proxy_worker **workers = (proxy_worker **)balancer->workers->elts;
        total = balancer->workers->nelts;
        for (i = 0; i < total; i++)
            if (workers[i] != worker && sse_worker_due_ms(workers[i], now))
                (*out)++;
    }
    *allowed = (int)(total * share / 100);
    if (*allowed < 1)
        *allowed = 1;
}

int sse_member_status_failure(request_rec *r, proxy_worker *worker,
                              int status, ssep_class cls,
                              apr_int64_t floor_ms,
                              const sse_server_conf *sc)
{
    proxy_balancer *balancer = sse_request_balancer_rec(r);
    sse_member_state *m;
    int allowed, out, backed_off = 0;

    SSE_STAT_ADD(errors[cls], 1);
    if (!ssep_policy_strategy(&sc->policy, cls) || !with_lock(r))
        return 0;
    m = request_member(r, worker);
    if (!m)
        goto unlock;
    /* a member in an outage, or just back from one, has shown its streak
     * already */
    if (!m->consecutive_failures && !in_slow_start(m, apr_time_now())
        && ++m->status_streak < (apr_uint32_t)sc->failure_streak) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "SSE00058: status %d from member=%s balancer=%s "
                      "counts against it: %u of %" APR_INT64_T_FMT
                      " in a row", status, m->member, balancer_label(m),
                      m->status_streak, sc->failure_streak);
        goto unlock;
    }
    balancer_census(balancer, worker, sc->failure_share, &allowed, &out);
    if (out >= allowed) {
        if (!m->held_in)
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          "SSE00059: member=%s balancer=%s stays in despite "
                          "status %d: %d other members are out, and "
                          "SSEProxyMemberFailureShare %" APR_INT64_T_FMT
                          "%% allows %d", m->member, balancer_label(m),
                          status, out, sc->failure_share, allowed);
        m->held_in = 1;
        goto unlock;
    }
    back_off(r, worker, m, cls, &sc->policy, floor_ms);
    backed_off = 1;
unlock:
    apr_global_mutex_unlock(shared->lock);
    return backed_off;
}

int sse_member_snapshot(const char *balancer, const char *member,
                        sse_member_state *out)
{
    sse_member_state *m;
    int found = 0;

    if (!shared || apr_global_mutex_lock(shared->lock) != APR_SUCCESS)
        return 0;
    m = find_locked(balancer, member, 0);
    if (m) {
        *out = *m;
        found = 1;
    }
    apr_global_mutex_unlock(shared->lock);
    return found;
}

void sse_members_each(void (*fn)(const sse_member_state *m, void *baton),
                      void *baton)
{
    sse_member_state copy, *m;
    unsigned i;

    if (!shared)
        return;
    for (i = 0; i < SSE_MEMBER_SLOTS; i++) {
        int used = 0;
        if (apr_global_mutex_lock(shared->lock) != APR_SUCCESS)
            return;
        m = &shared->table[i];
        if (m->used) {
            copy = *m;
            used = 1;
        }
        apr_global_mutex_unlock(shared->lock);
        if (used)
            fn(&copy, baton);
    }
}

/* The grade a member is balanced by: its own samples', or, for an
 * outage another node decided, the grade its backoff was scaled by. */
static ssep_quality balance_grade(const sse_member_state *m)
{
    if (m->from_fleet && m->consecutive_failures)
        return (ssep_quality)m->last_quality;
    return ssep_tracker_grade(&m->tracker, now_ms());
}

int sse_members_balance_view(const char *balancer, proxy_worker **workers,
                             int n, apr_time_t now, double *shares,
                             ssep_quality *grades)
{
    int i, ramping = 0;

    for (i = 0; i < n; i++) {
        if (shares)
            shares[i] = 1.0;
        if (grades)
            grades[i] = SSEP_Q_GOOD;
    }
    if (!shares && !grades)
        return 0;
    if (!shared || apr_global_mutex_lock(shared->lock) != APR_SUCCESS)
        return 0;
    for (i = 0; i < n; i++) {
        sse_member_state *m = find_locked(balancer, workers[i]->s->name_ex,
                                          0);
        if (!m)
            continue;
        if (shares && in_slow_start(m, now)) {
            shares[i] = sse_slow_start_share(m->slow_start_from,
                                             m->slow_start_ms, now);
            ramping++;
        }
        if (grades)
            grades[i] = balance_grade(m);
    }
    apr_global_mutex_unlock(shared->lock);
    return ramping;
}

void sse_member_slow_start_held(request_rec *r, const char *balancer,
                                proxy_worker *worker)
{
    sse_member_state *m;

    if (!with_lock(r))
        return;
    m = find_locked(balancer, worker->s->name_ex, 0);
    if (m)
        m->slow_start_held++;
    apr_global_mutex_unlock(shared->lock);
}

int sse_members_fleet_lead(apr_interval_time_t lease)
{
    sse_counters *c;
    apr_time_t now = apr_time_now();
    apr_uint32_t me = (apr_uint32_t)getpid();
    int lead = 0;

    if (!shared || apr_global_mutex_lock(shared->lock) != APR_SUCCESS)
        return 0;
    c = shared->counters;
    if (c->fleet_leader == me || now >= c->fleet_lease) {
        c->fleet_leader = me;
        c->fleet_lease = now + lease;
        lead = 1;
    }
    apr_global_mutex_unlock(shared->lock);
    return lead;
}

/* The longest window another node's record can impose: a store with a
 * wrong clock or a bad value must not keep a member out for good. */
#define FLEET_MAX_WINDOW apr_time_from_sec(3600)

/* The worker as the merged state says: out until its window ends, or
 * back in.  Lock held. */
static void apply_to_worker(sse_member_state *m, proxy_worker *worker,
                            int was_out, apr_time_t now)
{
    if (worker->s->status & PROXY_WORKER_IGNORE_ERRORS)
        return;
    if (m->consecutive_failures && m->next_retry > now) {
        if (!was_out)
            m->configured_retry = worker->s->retry;
        worker->s->retry = m->next_retry - now < FLEET_MAX_WINDOW
                           ? m->next_retry - now : FLEET_MAX_WINDOW;
        worker->s->error_time = now;
        worker->s->status |= PROXY_WORKER_IN_ERROR;
    }
    else if (!m->consecutive_failures && was_out) {
        if (m->configured_retry >= 0)
            worker->s->retry = m->configured_retry;
        worker->s->status &= ~PROXY_WORKER_IN_ERROR;
    }
}

int sse_member_fleet_merge(const char *balancer, proxy_worker *worker,
                           const sse_fleet_record *remote,
                           sse_fleet_record *merged)
{
    sse_member_state *m;
    sse_fleet_record local;
    apr_time_t now = apr_time_now();
    int result = 0, was_out;

    if (!shared || apr_global_mutex_lock(shared->lock) != APR_SUCCESS)
        return 0;
    m = find_locked(balancer, worker->s->name_ex, 1);
    if (!m)
        goto unlock;
    sse_fleet_record_from_state(&local, m);
    *merged = local;
    if (remote && sse_fleet_record_merge(merged, remote)) {
        apr_uint32_t failures = m->consecutive_failures;

        was_out = failures > 0;
        if (!was_out && merged->failures)
            m->outages++;
        if (was_out && !merged->failures)
            m->last_recovery_ms = (now - m->outage_start) / 1000;
        sse_fleet_record_to_state(merged, m);
        if (merged->failures && merged->next_retry != m->slow_start_from) {
            m->slow_start_from = merged->next_retry;
            m->slow_start_ms = fleet_slow_start_ms;
        }
        else if (was_out && !merged->failures) {
            m->consecutive_failures = failures;
            begin_slow_start(NULL, m, now);
            m->consecutive_failures = 0;
        }
        m->from_fleet = 1;
        apply_to_worker(m, worker, was_out, now);
        result |= SSE_FLEET_TAKEN;
        SSE_STAT_ADD(fleet_pulled, 1);
    }
    if (!remote ? (m->fleet_dirty || local.failures || local.last_success)
                : memcmp(merged, remote, sizeof(*merged)) != 0)
        result |= SSE_FLEET_GIVE;
    m->fleet_dirty = 0;
unlock:
    apr_global_mutex_unlock(shared->lock);
    return result;
}
