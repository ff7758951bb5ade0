/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* Stream caps and reconnect limits.  A handler ahead of mod_proxy's
 * decides, before any member is chosen or backend connection taken,
 * whether a stream request may go on; the stream then counts under its
 * client's key and its location until its request's pool goes, which
 * happens however the stream ends (the client left, the backend ended,
 * a stream that waited without a thread, a graceful stop).  The counts
 * are kept per child, so that those of a child that died without
 * running its cleanups (a crash, an ungraceful stop) are dropped when
 * its death is noticed: at the next child's start, and at most a second
 * later by any child that admits a stream. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_global_mutex.h"
#include "apr_shm.h"
#include "apr_strings.h"
#include "util_mutex.h"

#include "sse_answer.h"
#include "sse_config.h"
#include "sse_limits.h"

APLOG_USE_MODULE(sse_proxy);

#define MUTEX_TYPE "sse-proxy-limits"
/* The layout is part of the name: a module upgraded by a graceful
 * restart makes a new table rather than read an old one wrongly. */
#define USERDATA_KEY "mod_sse_proxy:limits:1"
#define RECONCILE_EVERY apr_time_from_sec(1)
#define FULL_LOG_EVERY  apr_time_from_sec(60)

typedef struct {
    apr_shm_t          *shm;
    apr_global_mutex_t *lock;
    sse_limit_table    *table;
} shared_limits;

static shared_limits *shared;
static int my_owner = -1;

void sse_limits_conf_init(sse_limits_conf *c, const char *where)
{
    memset(c, 0, sizeof(*c));
    c->where = where ? where : "";
}

#define MERGE_L(field, set) \
    do { \
        c->field = add->set ? add->field : base->field; \
    } while (0)

void sse_limits_conf_merge(sse_limits_conf *c, const sse_limits_conf *base,
                           const sse_limits_conf *add)
{
    MERGE_L(per_client, per_client_set);
    MERGE_L(per_location, per_location_set);
    MERGE_L(rate_n, rate_set);
    MERGE_L(rate_period, rate_set);
    MERGE_L(key_kind, key_set);
    MERGE_L(key_name, key_set);
    c->per_client_set = add->per_client_set || base->per_client_set;
    c->per_location_set = add->per_location_set || base->per_location_set;
    c->rate_set = add->rate_set || base->rate_set;
    c->key_set = add->key_set || base->key_set;
    /* each section counts its own streams under SSEProxyMaxStreams */
    c->where = add->where && *add->where ? add->where : base->where;
}

static sse_limits_conf *limits_of(void *dconf)
{
    return &((sse_dir_conf *)dconf)->limits;
}

const char *sse_limits_set_per_client(cmd_parms *cmd, void *dconf,
                                      const char *arg)
{
    sse_limits_conf *c = limits_of(dconf);

    c->per_client_set = 1;
    return sse_parse_cap(cmd->pool, cmd->cmd->name, arg, &c->per_client);
}

const char *sse_limits_set_per_location(cmd_parms *cmd, void *dconf,
                                        const char *arg)
{
    sse_limits_conf *c = limits_of(dconf);

    c->per_location_set = 1;
    return sse_parse_cap(cmd->pool, cmd->cmd->name, arg, &c->per_location);
}

const char *sse_limits_set_rate(cmd_parms *cmd, void *dconf,
                                const char *arg)
{
    sse_limits_conf *c = limits_of(dconf);

    c->rate_set = 1;
    if (!strcasecmp(arg, "off")) {
        c->rate_n = 0;
        return NULL;
    }
    return sse_parse_rate(cmd->pool, cmd->cmd->name, arg, &c->rate_n,
                          &c->rate_period);
}

const char *sse_limits_set_key(cmd_parms *cmd, void *dconf, const char *kind,
                               const char *name)
{
    sse_limits_conf *c = limits_of(dconf);

    c->key_set = 1;
    if (!strcasecmp(kind, "ip") && !name) {
        c->key_kind = SSE_LIMIT_BY_IP;
        c->key_name = NULL;
        return NULL;
    }
    if (name && !strcasecmp(kind, "header")) {
        c->key_kind = SSE_LIMIT_BY_HEADER;
        return sse_parse_header_name(cmd->pool, cmd->cmd->name, name,
                                     &c->key_name);
    }
    if (name && !strcasecmp(kind, "env") && *name) {
        c->key_kind = SSE_LIMIT_BY_ENV;
        c->key_name = apr_pstrdup(cmd->pool, name);
        return NULL;
    }
    return apr_psprintf(cmd->pool, "%s: '%s%s%s' is not valid; use ip, "
                        "header <name> or env <variable>", cmd->cmd->name,
                        kind, name ? " " : "", name ? name : "");
}

apr_status_t sse_limits_pre_config(apr_pool_t *pconf)
{
    return ap_mutex_register(pconf, MUTEX_TYPE, NULL, APR_LOCK_DEFAULT, 0);
}

/* In the parent's process pool, made once, as the member table is:
 * children of the generation a graceful restart replaces still give
 * their streams back to the table the new generation counts in. */
apr_status_t sse_limits_post_config(apr_pool_t *pconf, server_rec *s)
{
    apr_pool_t *pproc = s->process->pool;
    apr_size_t size = sizeof(sse_limit_table);
    shared_limits *t = NULL;
    apr_status_t rv;

    (void)pconf;
    apr_pool_userdata_get((void **)&t, USERDATA_KEY, pproc);
    if (t) {
        shared = t;
        return APR_SUCCESS;
    }
    t = apr_pcalloc(pproc, sizeof(*t));
    rv = apr_shm_create(&t->shm, size, NULL, pproc);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     "SSE00103: cannot create the shared stream limits "
                     "(%" APR_SIZE_T_FMT " bytes)", size);
        return rv;
    }
    t->table = apr_shm_baseaddr_get(t->shm);
    memset(t->table, 0, size);
    rv = ap_global_mutex_create(&t->lock, NULL, MUTEX_TYPE, NULL, s, pproc, 0);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     "SSE00104: cannot create the stream limits mutex");
        return rv;
    }
    apr_pool_userdata_set(t, apr_pstrdup(pproc, USERDATA_KEY),
                          apr_pool_cleanup_null, pproc);
    shared = t;
    return APR_SUCCESS;
}

/* A zombie not reaped yet still counts as alive: the parent reaps its
 * children within a second. */
static int process_alive(apr_int64_t pid)
{
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

static int lock(server_rec *s)
{
    apr_status_t rv = apr_global_mutex_lock(shared->lock);

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     "SSE00104: cannot lock the stream limits");
        return 0;
    }
    return 1;
}

void sse_limits_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;
    apr_uint64_t before;

    if (!shared)
        return;
    rv = apr_global_mutex_child_init(&shared->lock,
                                     apr_global_mutex_lockfile(shared->lock),
                                     pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     "SSE00104: cannot attach to the stream limits mutex");
        shared = NULL;
        return;
    }
    if (!lock(s))
        return;
    before = shared->table->counters.reclaimed;
    my_owner = sse_limit_owner_claim(shared->table, getpid(), apr_time_now(),
                                     process_alive);
    before = shared->table->counters.reclaimed - before;
    apr_global_mutex_unlock(shared->lock);
    if (before)
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     "SSE00105: %" APR_UINT64_T_FMT " streams of children "
                     "that exited without ending them no longer count "
                     "against the stream caps", before);
    if (my_owner < 0)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "SSE00106: %d children already count streams; this "
                     "one's streams are not counted against the stream "
                     "caps (reconnect limits still apply)", SSE_LIMIT_OWNERS);
}

typedef struct {
    int          slot[2];     /* the client's, the location's; -1 none */
    apr_uint64_t key[2];
    int          owner;
} lease;

static apr_status_t give_back(void *data)
{
    lease *l = data;
    int i;

    if (!shared || apr_global_mutex_lock(shared->lock) != APR_SUCCESS)
        return APR_SUCCESS;
    for (i = 0; i < 2; i++)
        if (l->slot[i] >= 0)
            sse_limit_release(shared->table, l->slot[i], l->owner,
                              l->key[i]);
    apr_global_mutex_unlock(shared->lock);
    return APR_SUCCESS;
}

/* The client's key: its address unless the configured header or
 * variable has a value.  Header and variable values may be secrets (an
 * API key): only a hash of them is shown or logged. */
static apr_uint64_t client_key(request_rec *r, const sse_limits_conf *lc,
                               const char **label)
{
    const char *v = NULL;
    char kind = 'i';
    apr_uint64_t key;

    if (lc->key_kind == SSE_LIMIT_BY_HEADER && lc->key_name)
        v = apr_table_get(r->headers_in, lc->key_name);
    else if (lc->key_kind == SSE_LIMIT_BY_ENV && lc->key_name)
        v = apr_table_get(r->subprocess_env, lc->key_name);
    if (v && *v) {
        kind = lc->key_kind == SSE_LIMIT_BY_HEADER ? 'h' : 'e';
        key = sse_limit_key(kind, v, strlen(v));
        *label = apr_psprintf(r->pool, "%s %s#%08x",
                              kind == 'h' ? "header" : "env", lc->key_name,
                              (unsigned)(key >> 32));
        return key;
    }
    *label = r->useragent_ip;
    return sse_limit_key(kind, r->useragent_ip, strlen(r->useragent_ip));
}

static apr_uint64_t location_key(request_rec *r, const sse_limits_conf *lc,
                                 const char **label)
{
    const char *name = apr_psprintf(r->pool, "%s:%u %s",
                                    r->server->server_hostname
                                    ? r->server->server_hostname : "",
                                    (unsigned)r->server->port, lc->where);

    *label = *lc->where ? lc->where : "(server)";
    return sse_limit_key('L', name, strlen(name));
}

typedef enum {
    LET_IN = 0, BY_RATE, BY_CLIENT, BY_LOCATION
} verdict;

static int limits_handler(request_rec *r)
{
    sse_dir_conf *dconf;
    const sse_limits_conf *lc;
    sse_server_conf *sc;
    sse_limit_table *t;
    const char *clabel = NULL, *llabel = NULL;
    apr_uint64_t ckey = 0, lkey = 0, reclaimed = 0;
    apr_time_t now;
    apr_int64_t hint = 0, wait;
    lease *l;
    verdict v = LET_IN;
    int log_full = 0;
    apr_uint32_t held = 0;

    if (!r->handler || strcmp(r->handler, "proxy-server") || r->main
        || r->method_number == M_OPTIONS || !shared)
        return DECLINED;
    dconf = ap_get_module_config(r->per_dir_config, &sse_proxy_module);
    if (!sse_conf_enabled(dconf))
        return DECLINED;
    lc = &dconf->limits;
    if (!lc->per_client && !lc->per_location && !lc->rate_n)
        return DECLINED;
    /* the handler chain runs again for a stream that may wait without a
     * thread: one decision per request */
    if (apr_table_get(r->notes, "sse-limits-seen"))
        return DECLINED;
    apr_table_setn(r->notes, "sse-limits-seen", "1");

    sc = ap_get_module_config(r->server->module_config, &sse_proxy_module);
    l = apr_pcalloc(r->pool, sizeof(*l));
    l->slot[0] = l->slot[1] = -1;
    l->owner = my_owner;
    if (lc->per_client || lc->rate_n)
        ckey = client_key(r, lc, &clabel);
    if (lc->per_location)
        lkey = location_key(r, lc, &llabel);

    if (!lock(r->server))
        return DECLINED;   /* fail open: the lock is the module's fault */
    t = shared->table;
    now = apr_time_now();
    if (now - t->reconciled > RECONCILE_EVERY) {
        t->reconciled = now;
        reclaimed = sse_limit_reconcile(t, process_alive);
        t->counters.reclaimed += reclaimed;
    }
    if (ckey) {
        l->slot[0] = sse_limit_find(t, ckey, clabel, now, 1);
        l->key[0] = ckey;
    }
    if (lkey) {
        l->slot[1] = sse_limit_find(t, lkey, llabel, now, 1);
        l->key[1] = lkey;
        if (l->slot[1] >= 0)
            t->entries[l->slot[1]].location = 1;
    }
    if ((ckey && l->slot[0] < 0) || (lkey && l->slot[1] < 0)) {
        t->counters.untracked++;
        if (now - t->full_logged > FULL_LOG_EVERY) {
            t->full_logged = now;
            log_full = 1;
        }
    }
    if (lc->rate_n && l->slot[0] >= 0) {
        sse_limit_entry *e = &t->entries[l->slot[0]];

        wait = sse_limit_rate(e, lc->rate_n, lc->rate_period, now);
        if (wait >= 0) {
            v = BY_RATE;
            hint = sse_limit_retry_hint(r, sc, e->strikes, wait);
            e->penalty_until = now + hint * 1000;
            held = e->strikes;
            t->counters.limited_rate++;
        }
    }
    if (v == LET_IN && lc->per_client && l->slot[0] >= 0
        && t->entries[l->slot[0]].open >= (apr_uint64_t)lc->per_client) {
        v = BY_CLIENT;
        held = t->entries[l->slot[0]].open;
        t->counters.limited_client++;
    }
    if (v == LET_IN && lc->per_location && l->slot[1] >= 0
        && t->entries[l->slot[1]].open >= (apr_uint64_t)lc->per_location) {
        v = BY_LOCATION;
        held = t->entries[l->slot[1]].open;
        t->counters.limited_location++;
    }
    if (v == LET_IN && my_owner >= 0) {
        /* only the caps count open streams */
        if (!lc->per_client || l->slot[0] < 0
            || !sse_limit_acquire(t, l->slot[0], my_owner))
            l->slot[0] = -1;
        if (!lc->per_location || l->slot[1] < 0
            || !sse_limit_acquire(t, l->slot[1], my_owner))
            l->slot[1] = -1;
        if (l->slot[0] >= 0 || l->slot[1] >= 0)
            apr_pool_cleanup_register(r->pool, l, give_back,
                                      apr_pool_cleanup_null);
    }
    apr_global_mutex_unlock(shared->lock);

    if (reclaimed)
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "SSE00105: %" APR_UINT64_T_FMT " streams of children "
                      "that exited without ending them no longer count "
                      "against the stream caps", reclaimed);
    if (log_full)
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "SSE00089: the stream limits table is full (%d keys "
                      "near this one's slot); streams of new keys are let "
                      "in uncounted (said once a minute)", SSE_LIMIT_PROBES);
    switch (v) {
    case LET_IN:
        return DECLINED;
    case BY_RATE:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "SSE00088: client %s reconnects faster than "
                      "SSEProxyReconnectRate %u/%" APR_TIME_T_FMT "s "
                      "(strike %u): told to come back in %" APR_INT64_T_FMT
                      " ms", clabel, lc->rate_n,
                      apr_time_sec(lc->rate_period), held, hint);
        return sse_answer_later(r, dconf, hint, "reconnect-rate",
                                "reconnecting too fast");
    case BY_CLIENT:
        hint = sse_limit_retry_hint(r, sc, 0, -1);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "SSE00086: client %s holds %u streams "
                      "(SSEProxyMaxStreamsPerClient %" APR_INT64_T_FMT
                      "): told to come back in %" APR_INT64_T_FMT " ms",
                      clabel, held, lc->per_client, hint);
        return sse_answer_later(r, dconf, hint, "client-streams",
                                "too many streams for this client");
    case BY_LOCATION:
    default:
        hint = sse_limit_retry_hint(r, sc, 0, -1);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "SSE00087: %s holds %u streams (SSEProxyMaxStreams %"
                      APR_INT64_T_FMT "): told to come back in %"
                      APR_INT64_T_FMT " ms", llabel, held, lc->per_location,
                      hint);
        return sse_answer_later(r, dconf, hint, "location-streams",
                                "too many streams on this location");
    }
}

static int better(const sse_limits_top *a, const sse_limits_top *b)
{
    return a->open > b->open || (a->open == b->open && a->strikes > b->strikes);
}

int sse_limits_snapshot(sse_limit_counters *counters, apr_uint32_t *keys,
                        sse_limits_top *top, int max, int *ntop)
{
    sse_limit_table *t;
    apr_time_t now = apr_time_now();
    int i, j, n = 0;

    *ntop = 0;
    *keys = 0;
    if (!shared || apr_global_mutex_lock(shared->lock) != APR_SUCCESS)
        return 0;
    t = shared->table;
    *counters = t->counters;
    for (i = 0; i < SSE_LIMIT_SLOTS; i++) {
        const sse_limit_entry *e = &t->entries[i];
        sse_limits_top cand;

        if (!e->key || (!e->open && e->tat <= now && e->penalty_until <= now))
            continue;
        (*keys)++;
        if (!e->open && !e->strikes)
            continue;
        memcpy(cand.label, e->label, sizeof(cand.label));
        cand.open = e->open;
        cand.strikes = e->strikes;
        cand.location = e->location != 0;
        if (n < max)
            top[n++] = cand;
        else if (n && better(&cand, &top[n - 1]))
            top[n - 1] = cand;
        else
            continue;
        for (j = n - 1; j > 0 && better(&top[j], &top[j - 1]); j--) {
            sse_limits_top tmp = top[j];
            top[j] = top[j - 1];
            top[j - 1] = tmp;
        }
    }
    apr_global_mutex_unlock(shared->lock);
    *ntop = n;
    return 1;
}

void sse_limits_register_hooks(void)
{
    static const char *const before_proxy[] = { "mod_proxy.c", NULL };

    ap_hook_handler(limits_handler, NULL, before_proxy, APR_HOOK_FIRST);
}
