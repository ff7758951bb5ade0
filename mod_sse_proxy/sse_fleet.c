/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include <stdlib.h>
#include <unistd.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "ap_socache.h"
#include "apr_strings.h"
#include "apr_thread_cond.h"
#include "apr_thread_mutex.h"
#include "apr_thread_proc.h"
#include "mod_proxy.h"

#include "sse_config.h"
#include "sse_fleet.h"
#include "sse_fleet_record.h"
#include "sse_members.h"
#include "sse_socache.h"
#include "sse_stats.h"

APLOG_USE_MODULE(sse_proxy);

#define USERDATA_KEY "mod_sse_proxy:fleet:2"
/* How often the leading child merges the node's member state with the
 * fleet's: a member out on one node is out on the others within two
 * rounds. */
#define SYNC_INTERVAL apr_time_from_msec(250)
/* How often an unreachable store is tried again. */
#define PROBE_INTERVAL apr_time_from_sec(1)
#define LEASE apr_time_from_sec(2)
/* Member records live this long without a change. */
#define RECORD_TTL apr_time_from_sec(86400)
#define VALUE_MAX 1024
/* A store call that has not returned after this long means a store that
 * takes connections but does not answer (stopped, or cut off by the
 * network): the node then goes on alone.  Store clients' own timeouts
 * cannot be relied on for this (apr_redis reads RedisTimeout as seconds
 * where mod_socache_redis gives microseconds). */
#define STALL apr_time_from_sec(1)
/* Jobs waiting for the thread at most: beyond, requests do not queue. */
#define QUEUE_MAX 64

static sse_socache *store;
static int wanted;
static server_rec *main_server;

typedef enum { JOB_GET, JOB_PUT, JOB_REMOVE } job_op;

/* A call the fleet thread makes for a request.  The request waits for it
 * a bounded time; if it gives up first, the thread frees the job. */
typedef struct job {
    struct job   *next;
    job_op        op;
    unsigned char key[SSE_FLEET_KEY_SIZE];
    char          value[VALUE_MAX];
    unsigned int  len;
    apr_time_t    expiry;
    apr_status_t  rv;
    int           done;
    int           abandoned;
} job;

/* this child's thread and its queue */
static apr_thread_t *thread;
static apr_thread_mutex_t *qlock;
static apr_thread_cond_t *qcond, *dcond;
static job *qhead, *qtail;
static int queued;
static int stopping;
/* when the thread's current store call began (0: none) */
static volatile apr_time_t calling_since;
static apr_pool_t *tpool;   /* the thread's own */

void sse_fleet_wanted(void)
{
    wanted = 1;
}

apr_status_t sse_fleet_pre_config(apr_pool_t *pconf)
{
    (void)pconf;
    wanted = 0;
    store = NULL;
    return APR_SUCCESS;
}

const char *sse_fleet_spec(void)
{
    return store ? store->spec : NULL;
}

int sse_fleet_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                          server_rec *s)
{
    sse_server_conf *sc = ap_get_module_config(s->module_config,
                                               &sse_proxy_module);
    struct ap_socache_hints hints = { 32, 512, apr_time_from_sec(60) };

    (void)pconf;
    main_server = s;
    if (!wanted || !sc->state_cache)
        return OK;
    /* no mutex: a store that only works inside one host makes no fleet */
    store = sse_socache_open(sc->state_cache, "SSEProxyStateCache",
                             "SSE00072", USERDATA_KEY, "sse-fleet", &hints,
                             NULL, ptemp, s);
    return store ? OK : !OK;
}

static sse_counters *counters(void)
{
    return sse_stats();
}

static void store_answered(int ok, apr_time_t started);

/* A call stuck for STALL says the store is gone even though nothing
 * failed; looked at by every request that would use the store. */
static int stalled(void)
{
    apr_time_t since = calling_since;

    return since && apr_time_now() - since > STALL;
}

int sse_fleet_usable(void)
{
    sse_counters *c = counters();

    if (!store || !thread || !c)
        return 0;
    if (c->fleet_state != SSE_FLEET_UNREACHABLE && stalled())
        store_answered(0, 0);
    return c->fleet_state != SSE_FLEET_UNREACHABLE;
}

/* The store answered a call begun at started, or did not: the node's
 * view changes (logged once per change, by the child that saw it).  An
 * answer to a call begun before the store was found unreachable says
 * nothing about it now (a reply that was on its way when it stopped). */
static void store_answered(int ok, apr_time_t started)
{
    sse_counters *c = counters();
    apr_uint32_t want = ok ? SSE_FLEET_OK : SSE_FLEET_UNREACHABLE;
    apr_uint32_t was;

    if (!c || (ok && started <= c->fleet_down_since))
        return;
    if (!ok)
        __atomic_fetch_add(&c->fleet_errors, 1, __ATOMIC_RELAXED);
    was = __atomic_exchange_n(&c->fleet_state, want, __ATOMIC_RELAXED);
    if (was == want)
        return;
    if (!ok)
        c->fleet_down_since = apr_time_now();
    if (ok)
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, main_server,
                     "SSE00071: SSEProxyStateCache %s answers again: this "
                     "node shares member state and sessions with its fleet",
                     store->spec);
    else
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, main_server,
                     "SSE00070: SSEProxyStateCache %s does not answer: this "
                     "node goes on with its own member state and sessions",
                     store->spec);
}

/* One store call, on the fleet thread. */
static apr_status_t call(job *j)
{
    apr_status_t rv;
    apr_time_t started = apr_time_now();

    apr_pool_clear(tpool);
    calling_since = started;
    switch (j->op) {
    case JOB_GET:
        j->len = sizeof(j->value) - 1;
        rv = store->provider->retrieve(store->inst, main_server, j->key,
                                sizeof(j->key), (unsigned char *)j->value,
                                &j->len, tpool);
        break;
    case JOB_PUT:
        rv = store->provider->store(store->inst, main_server, j->key,
                             sizeof(j->key), j->expiry,
                             (unsigned char *)j->value, j->len, tpool);
        break;
    default:
        rv = store->provider->remove(store->inst, main_server, j->key,
                              sizeof(j->key), tpool);
        break;
    }
    calling_since = 0;
    /* a miss tells nothing: some stores (apr_redis) also report a server
     * they gave up on as a miss; a write tells */
    if (j->op == JOB_PUT || rv == APR_SUCCESS)
        store_answered(rv == APR_SUCCESS, started);
    return rv;
}

static void sync_balancer(proxy_balancer *b)
{
    proxy_worker **workers = (proxy_worker **)b->workers->elts;
    int k;

    for (k = 0; k < b->workers->nelts && !stopping; k++) {
        proxy_worker *w = workers[k];
        sse_fleet_record remote, merged;
        job j;
        int have, result;

        memset(&j, 0, sizeof(j));
        j.op = JOB_GET;
        sse_fleet_key("member", b->s->name, w->s->name_ex, j.key);
        j.rv = call(&j);
        have = j.rv == APR_SUCCESS
               && !sse_fleet_record_parse(j.value, j.len, &remote)
               && !strcmp(remote.balancer, b->s->name)
               && !strcmp(remote.member, w->s->name_ex);
        result = sse_member_fleet_merge(b->s->name, w, have ? &remote : NULL,
                                        &merged);
        if (result & SSE_FLEET_GIVE) {
            j.op = JOB_PUT;
            j.len = (unsigned int)sse_fleet_record_format(&merged, j.value,
                                                          sizeof(j.value));
            j.expiry = apr_time_now() + RECORD_TTL;
            if (j.len && call(&j) == APR_SUCCESS)
                SSE_STAT_ADD(fleet_pushed, 1);
        }
    }
}

/* Merges every balancer member's state with the fleet's; a balancer that
 * virtual hosts inherit is synced once. */
static void sync_members(void)
{
    const char *seen[64];
    int nseen = 0, i, k;
    server_rec *s;

    for (s = main_server; s && !stopping; s = s->next) {
        proxy_server_conf *pc = ap_get_module_config(s->module_config,
                                                     &proxy_module);
        proxy_balancer *balancers;

        if (!pc)
            continue;
        balancers = (proxy_balancer *)pc->balancers->elts;
        for (i = 0; i < pc->balancers->nelts; i++) {
            const char *name = balancers[i].s->name;

            for (k = 0; k < nseen && strcmp(seen[k], name); k++)
                ;
            if (k < nseen)
                continue;
            if (nseen < (int)(sizeof(seen) / sizeof(seen[0])))
                seen[nseen++] = name;
            sync_balancer(&balancers[i]);
        }
    }
    counters()->fleet_synced = apr_time_now();
}

/* Writes a probe: the one call whose failure every store reports. */
static void probe(void)
{
    job j;
    int n;

    memset(&j, 0, sizeof(j));
    j.op = JOB_PUT;
    sse_fleet_key("probe", "", "", j.key);
    n = apr_snprintf(j.value, sizeof(j.value), "%d", (int)getpid());
    j.len = (unsigned int)n;
    j.expiry = apr_time_now() + apr_time_from_sec(60);
    call(&j);
}

static void finish_job(job *j)
{
    apr_thread_mutex_lock(qlock);
    j->done = 1;
    if (j->abandoned)
        free(j);
    else
        apr_thread_cond_broadcast(dcond);
    apr_thread_mutex_unlock(qlock);
}

static void *APR_THREAD_FUNC fleet_thread(apr_thread_t *t, void *data)
{
    apr_time_t next_sync = 0;

    (void)data;
    for (;;) {
        job *j = NULL;
        apr_time_t now;

        apr_thread_mutex_lock(qlock);
        while (!stopping && !qhead && (now = apr_time_now()) < next_sync)
            apr_thread_cond_timedwait(qcond, qlock, next_sync - now);
        if (stopping) {
            apr_thread_mutex_unlock(qlock);
            break;
        }
        if (qhead) {
            j = qhead;
            qhead = j->next;
            if (!qhead)
                qtail = NULL;
            queued--;
        }
        apr_thread_mutex_unlock(qlock);
        if (j) {
            j->rv = call(j);
            finish_job(j);
            continue;
        }
        if (counters()->fleet_state == SSE_FLEET_UNREACHABLE) {
            probe();
            next_sync = apr_time_now()
                        + (counters()->fleet_state == SSE_FLEET_OK
                           ? 0 : PROBE_INTERVAL);
            continue;
        }
        if (sse_members_fleet_lead(LEASE)) {
            probe();
            if (counters()->fleet_state == SSE_FLEET_OK)
                sync_members();
        }
        next_sync = apr_time_now() + SYNC_INTERVAL;
    }
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

static apr_status_t stop_thread(void *data)
{
    apr_status_t rv;

    (void)data;
    if (!thread)
        return APR_SUCCESS;
    apr_thread_mutex_lock(qlock);
    stopping = 1;
    apr_thread_cond_broadcast(qcond);
    apr_thread_mutex_unlock(qlock);
    apr_thread_join(&rv, thread);
    thread = NULL;
    while (qhead) {
        job *j = qhead;
        qhead = j->next;
        if (j->abandoned)
            free(j);
        else
            j->done = 1;
    }
    return APR_SUCCESS;
}

void sse_fleet_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;
    apr_allocator_t *allocator = NULL;

    if (!store)
        return;
    /* the thread's pool has an allocator of its own: it is used while
     * other threads allocate from pchild's */
    if (apr_thread_mutex_create(&qlock, APR_THREAD_MUTEX_DEFAULT, pchild)
        || apr_thread_cond_create(&qcond, pchild)
        || apr_thread_cond_create(&dcond, pchild)
        || apr_allocator_create(&allocator)
        || apr_pool_create_ex(&tpool, pchild, NULL, allocator)) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     "SSE00073: cannot set up the fleet thread; this node "
                     "goes on alone");
        if (allocator && !tpool)
            apr_allocator_destroy(allocator);
        return;
    }
    apr_allocator_owner_set(allocator, tpool);
    stopping = 0;
    if (!counters()->fleet_state)
        counters()->fleet_state = SSE_FLEET_OK;
    rv = apr_thread_create(&thread, NULL, fleet_thread, NULL, pchild);
    if (rv != APR_SUCCESS) {
        thread = NULL;
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     "SSE00073: cannot start the fleet thread; this node "
                     "goes on alone");
        return;
    }
    /* before pchild's subpools (the thread's pool) go */
    apr_pool_pre_cleanup_register(pchild, NULL, stop_thread);
}

/* Queues j; with wait, waits for it up to SSE_FLEET_WAIT and returns
 * the call's status (the caller frees j), else APR_TIMEUP with the job
 * left to the thread, which frees it. */
static apr_status_t submit(job *j, int wait)
{
    apr_time_t deadline = apr_time_now() + SSE_FLEET_WAIT;
    apr_status_t rv = APR_TIMEUP;

    apr_thread_mutex_lock(qlock);
    if (stopping || queued >= QUEUE_MAX) {
        apr_thread_mutex_unlock(qlock);
        free(j);
        SSE_STAT_ADD(fleet_skipped, 1);
        return APR_TIMEUP;
    }
    queued++;
    if (qtail)
        qtail->next = j;
    else
        qhead = j;
    qtail = j;
    apr_thread_cond_signal(qcond);
    while (wait && !j->done) {
        apr_time_t now = apr_time_now();
        if (now >= deadline)
            break;
        apr_thread_cond_timedwait(dcond, qlock, deadline - now);
    }
    if (wait && j->done) {
        rv = j->rv;
    }
    else {
        j->abandoned = 1;
        if (wait)
            SSE_STAT_ADD(fleet_skipped, 1);
    }
    apr_thread_mutex_unlock(qlock);
    return rv;
}

static job *new_job(job_op op, const char *kind, const char *a,
                    const char *b)
{
    job *j = sse_fleet_usable() ? calloc(1, sizeof(*j)) : NULL;

    if (j) {
        j->op = op;
        sse_fleet_key(kind, a, b, j->key);
    }
    return j;
}

apr_status_t sse_fleet_get(const char *kind, const char *a, const char *b,
                           apr_pool_t *p, char **value, apr_size_t *len)
{
    job *j = new_job(JOB_GET, kind, a, b);
    apr_status_t rv;

    if (!j)
        return APR_EGENERAL;
    rv = submit(j, 1);
    if (rv == APR_TIMEUP)
        return rv;
    if (rv == APR_SUCCESS) {
        *value = apr_pstrmemdup(p, j->value, j->len);
        *len = j->len;
    }
    free(j);
    return rv;
}

apr_status_t sse_fleet_put(const char *kind, const char *a, const char *b,
                           const char *value, apr_time_t expiry)
{
    job *j;
    apr_size_t n = strlen(value);
    apr_status_t rv;

    if (n >= VALUE_MAX || !(j = new_job(JOB_PUT, kind, a, b)))
        return APR_EGENERAL;
    memcpy(j->value, value, n);
    j->len = (unsigned int)n;
    j->expiry = expiry;
    rv = submit(j, 1);
    if (rv != APR_TIMEUP)
        free(j);
    return rv;
}

void sse_fleet_remove(const char *kind, const char *a, const char *b)
{
    job *j = new_job(JOB_REMOVE, kind, a, b);

    if (j)
        submit(j, 0);
}
