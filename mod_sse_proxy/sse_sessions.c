/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "ap_socache.h"
#include "apr_global_mutex.h"
#include "apr_optional.h"
#include "apr_strings.h"
#include "util_mutex.h"

#include "sse_fleet.h"
#include "sse_members.h"
#include "sse_socache.h"
#include "sse_sessions.h"

APLOG_USE_MODULE(sse_proxy);

#define MUTEX_TYPE "sse-proxy-sessions"
#define USERDATA_KEY "mod_sse_proxy:sessions:2"
#define BALANCER_PREFIX "balancer://"
/* Longer session ids are not pinned: they would crowd the store. */
#define MAX_SESSION_ID 256
#define MAX_KEY (PROXY_BALANCER_MAX_NAME_SIZE + 1 + MAX_SESSION_ID)

static sse_socache *store;
static int wanted;

void sse_sessions_wanted(void)
{
    wanted = 1;
}

apr_status_t sse_sessions_pre_config(apr_pool_t *pconf)
{
    wanted = 0;
    store = NULL;
    return ap_mutex_register(pconf, MUTEX_TYPE, NULL, APR_LOCK_DEFAULT, 0);
}

int sse_sessions_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                             server_rec *s)
{
    sse_server_conf *sc = ap_get_module_config(s->module_config,
                                               &sse_proxy_module);
    struct ap_socache_hints hints = { 64, 64, apr_time_from_sec(30) };

    (void)pconf;
    if (!wanted)
        return OK;
    store = sse_socache_open(sc->session_cache, "SSEProxySessionCache",
                             "SSE00064", USERDATA_KEY,
                             "mod_sse_proxy-sessions", &hints, MUTEX_TYPE,
                             ptemp, s);
    return store ? OK : !OK;
}

void sse_sessions_child_init(apr_pool_t *p, server_rec *s)
{
    apr_status_t rv;

    if (!store || !store->lock)
        return;
    rv = apr_global_mutex_child_init(&store->lock,
                                     apr_global_mutex_lockfile(store->lock),
                                     p);
    if (rv != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     "SSE00064: cannot attach to the session map mutex");
}

/* "<balancer>\n<session id>"; 0 when the id is not one to pin. */
static unsigned int session_key(const char *balancer, const char *id,
                                unsigned char *key)
{
    apr_size_t blen = strlen(balancer), ilen = strlen(id);

    if (!ilen || ilen > MAX_SESSION_ID || blen >= PROXY_BALANCER_MAX_NAME_SIZE)
        return 0;
    memcpy(key, balancer, blen);
    key[blen] = '\n';
    memcpy(key + blen + 1, id, ilen);
    return (unsigned int)(blen + 1 + ilen);
}

static int lock(request_rec *r)
{
    apr_status_t rv;

    if (!store->lock)
        return 1;
    rv = apr_global_mutex_lock(store->lock);
    if (rv != APR_SUCCESS)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      "SSE00065: cannot lock the session map");
    return rv == APR_SUCCESS;
}

static void unlock(void)
{
    if (store->lock)
        apr_global_mutex_unlock(store->lock);
}

/* The fleet's word on a session (another node may have made it): the
 * value names the balancer and session too, as its key is a hash. */
static const char *fleet_lookup(request_rec *r, const char *balancer,
                                const char *id)
{
    char *value, *member;
    apr_size_t len;
    const char *want = apr_pstrcat(r->pool, balancer, "\n", id, "\n", NULL);

    if (sse_fleet_get("session", balancer, id, r->pool, &value, &len)
        != APR_SUCCESS || strncmp(value, want, strlen(want)))
        return NULL;
    member = value + strlen(want);
    return *member ? member : NULL;
}

static void fleet_put(request_rec *r, const sse_dir_conf *d,
                      const char *balancer, const char *id,
                      const char *member)
{
    sse_fleet_put("session", balancer, id,
                  apr_pstrcat(r->pool, balancer, "\n", id, "\n", member,
                              NULL),
                  apr_time_now() + apr_time_from_sec(d->session_timeout_s));
}

/* The member name of a session, NULL when unknown. */
static const char *lookup(request_rec *r, const char *balancer,
                          const char *id)
{
    unsigned char key[MAX_KEY];
    unsigned char member[PROXY_WORKER_EXT_NAME_SIZE];
    unsigned int klen = session_key(balancer, id, key);
    unsigned int mlen = sizeof(member) - 1;
    apr_status_t rv;

    if (!klen || !lock(r))
        return NULL;
    rv = store->provider->retrieve(store->inst, r->server, key, klen, member, &mlen,
                            r->pool);
    unlock();
    if (rv != APR_SUCCESS)
        return NULL;
    return apr_pstrmemdup(r->pool, (const char *)member, mlen);
}

static void put_here(request_rec *r, const sse_dir_conf *d,
                     const char *balancer, const char *id,
                     const char *member)
{
    unsigned char key[MAX_KEY];
    unsigned int klen = session_key(balancer, id, key);
    apr_status_t rv;

    if (!klen || !lock(r))
        return;
    rv = store->provider->store(store->inst, r->server, key, klen,
                         apr_time_now()
                         + apr_time_from_sec(d->session_timeout_s),
                         (unsigned char *)member, (unsigned int)strlen(member),
                         r->pool);
    unlock();
    if (rv != APR_SUCCESS)
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r,
                      "SSE00065: cannot store session of member=%s "
                      "balancer=%s in SSEProxySessionCache %s (full?)",
                      member, sse_balancer_short_name(balancer), store->spec);
}

/* Here first, then the fleet's (learnt here for next time). */
static const char *find_session(request_rec *r, const sse_dir_conf *d,
                                const char *balancer, const char *id)
{
    const char *member = lookup(r, balancer, id);

    if (!member && sse_fleet_usable()) {
        member = fleet_lookup(r, balancer, id);
        if (member)
            put_here(r, d, balancer, id, member);
    }
    return member;
}

static void put(request_rec *r, const sse_dir_conf *d, const char *balancer,
                const char *id, const char *member)
{
    put_here(r, d, balancer, id, member);
    if (sse_fleet_usable())
        fleet_put(r, d, balancer, id, member);
}

static void drop(request_rec *r, const char *balancer, const char *id)
{
    unsigned char key[MAX_KEY];
    unsigned int klen = session_key(balancer, id, key);

    if (!klen)
        return;
    if (sse_fleet_usable())
        sse_fleet_remove("session", balancer, id);
    if (!lock(r))
        return;
    store->provider->remove(store->inst, r->server, key, klen, r->pool);
    unlock();
}

static const char *session_of(request_rec *r, const sse_dir_conf *d)
{
    if (!store || !sse_conf_enabled(d) || !d->session_header)
        return NULL;
    return apr_table_get(r->headers_in, d->session_header);
}

static apr_status_t less_busy(void *data)
{
    proxy_worker *w = data;

    if (w->s->busy)
        w->s->busy--;
    return APR_SUCCESS;
}

/* The balancing method counts the request as the member's, as
 * mod_proxy_balancer counts one that follows a route, so that pinned
 * sessions do not skew who gets the next new one. */
static void count_election(proxy_worker *w, proxy_balancer *b, server_rec *s)
{
    proxy_worker **workers = (proxy_worker **)b->workers->elts;
    int i, total = 0;

    if (PROXY_THREAD_LOCK(b) != APR_SUCCESS)
        return;
    if (b->lbmethod && b->lbmethod->updatelbstatus) {
        b->lbmethod->updatelbstatus(b, w, s);
    }
    else {
        for (i = 0; i < b->workers->nelts; i++) {
            if (PROXY_WORKER_IS_USABLE(workers[i])) {
                workers[i]->s->lbstatus += workers[i]->s->lbfactor;
                total += workers[i]->s->lbfactor;
            }
        }
        w->s->lbstatus -= total;
    }
    w->s->elected++;
    PROXY_THREAD_UNLOCK(b);
}

/* What mod_proxy_balancer does for the member it elects. */
static int elect(proxy_worker *w, proxy_balancer *b, request_rec *r,
                 char **url)
{
    const char *path = strstr(*url, "://");
    int rc;

    path = path ? ap_strchr_c(path + 3, '/') : NULL;
    count_election(w, b, r->server);
    w->s->busy++;
    apr_pool_cleanup_register(r->pool, w, less_busy, apr_pool_cleanup_null);
    apr_table_setn(r->subprocess_env, "BALANCER_NAME", b->s->name);
    apr_table_setn(r->subprocess_env, "BALANCER_WORKER_NAME", w->s->name_ex);
    apr_table_setn(r->subprocess_env, "BALANCER_WORKER_ROUTE", w->s->route);
    apr_table_setn(r->notes, "sse-session", "pinned");
    /* the member's scheme canonicalises the URL (and adds the query), as
     * for the balancer's own choice */
    r->filename = apr_pstrcat(r->pool, "proxy:", w->s->name_ex,
                              path ? path : "", NULL);
    rc = proxy_run_canon_handler(r, apr_pstrdup(r->pool, r->filename + 6));
    if (rc != OK && rc != DECLINED)
        return rc;
    *url = apr_pstrdup(r->pool, r->filename + 6);
    return OK;
}

static int not_found(request_rec *r, const char *balancer, const char *id,
                     const char *member, const char *why)
{
    drop(r, balancer, id);
    apr_table_setn(r->notes, "sse-session", "lost");
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  "SSE00066: session of member=%s balancer=%s ended: %s; "
                  "answering 404", member, sse_balancer_short_name(balancer),
                  why);
    return HTTP_NOT_FOUND;
}

int sse_sessions_route(proxy_worker **worker, proxy_balancer **balancer,
                       request_rec *r, proxy_server_conf *conf, char **url)
{
    const sse_dir_conf *d = ap_get_module_config(r->per_dir_config,
                                                 &sse_proxy_module);
    const char *id = session_of(r, d);
    const char *member;
    proxy_balancer *b;
    proxy_worker **workers;
    apr_int64_t due;
    int i;

    /* a failover attempt has its balancer: that is the balancer's call */
    if (!id || *balancer
        || ap_cstr_casecmpn(*url, BALANCER_PREFIX, sizeof(BALANCER_PREFIX) - 1)
        || !(b = ap_proxy_get_balancer(r->pool, conf, *url, 1)))
        return DECLINED;
    member = find_session(r, d, b->s->name, id);
    if (!member)
        return DECLINED; /* unknown: balanced as any request */
    workers = (proxy_worker **)b->workers->elts;
    for (i = 0; i < b->workers->nelts; i++) {
        proxy_worker *w = workers[i];
        if (strcmp(w->s->name_ex, member))
            continue;
        due = sse_worker_due_ms(w, apr_time_now());
        if (due == 0 && !PROXY_WORKER_IS_USABLE(w)) {
            /* its retry window is over: try it again, as the balancer
             * does for a route */
            APR_OPTIONAL_FN_TYPE(ap_proxy_retry_worker) *retry =
                APR_RETRIEVE_OPTIONAL_FN(ap_proxy_retry_worker);
            if (retry)
                retry("BALANCER", w, r->server);
        }
        if (due != 0 || !PROXY_WORKER_IS_USABLE(w))
            return not_found(r, b->s->name, id, member,
                             due > 0 ? "the member is backed off"
                                     : "the member is out of service");
        *worker = w;
        *balancer = b;
        return elect(w, b, r, url);
    }
    return not_found(r, b->s->name, id, member,
                     "the member left the balancer");
}

int sse_sessions_pinned(request_rec *r)
{
    const char *state = apr_table_get(r->notes, "sse-session");

    return state && !strcmp(state, "pinned");
}

void sse_sessions_learn(request_rec *r, const sse_dir_conf *d,
                        proxy_worker *worker, const sse_response *resp)
{
    const char *balancer = sse_request_balancer(r);
    const char *sent = session_of(r, d);
    const char *named;

    if (!store || !d->session_header || !*balancer)
        return;
    named = apr_table_get(resp->headers, d->session_header);
    if (sent && (resp->status == HTTP_NOT_FOUND
                 || (r->method_number == M_DELETE && resp->status < 300))) {
        drop(r, balancer, sent);
        return;
    }
    /* Only the member's own word creates an entry: ids that clients make
     * up must not crowd out real sessions. */
    if (named)
        put(r, d, balancer, named, worker->s->name_ex);
    else if (sent && sse_sessions_pinned(r) && resp->status < 400)
        put(r, d, balancer, sent, worker->s->name_ex);
}

int sse_sessions_lost(request_rec *r, const sse_dir_conf *d,
                      proxy_worker *worker, const char *why)
{
    return not_found(r, sse_request_balancer(r), session_of(r, d),
                     worker->s->name_ex, why);
}
