/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/*
 * mod_proxy_balancer elects a member by calling its lbmethod's finder
 * on the balancer, and httpd 2.4 has no way to leave a member out of one
 * election only: its usable state is in shared memory, for every
 * request of every child.  So each balancer's lbmethod is put behind a
 * filter with the same name and callbacks, whose finder rolls each
 * member in slow start in or out by its share and runs the lbmethod's
 * own finder on a copy of the balancer that lists only the members
 * rolled in.  Any lbmethod works so, bystreams included.
 *
 * mod_proxy_balancer installs the plain lbmethod again when a balancer
 * changes (ap_proxy_sync_balancer, the balancer-manager); the
 * pre_request hook, which runs ahead of the balancer's, puts the filter
 * back.  Both happen under the balancer's thread lock, as the finder
 * runs, so a finder never sees a half-changed balancer.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "ap_provider.h"
#include "apr_strings.h"
#include "mod_proxy.h"

#include "sse_balance.h"
#include "sse_members.h"
#include "sse_slow_start.h"

APLOG_USE_MODULE(sse_proxy);

#define HOLD_NOTE "sse-slow-start"

static int wanted;
/* The filtered method of each lbmethod provider, made in child_init and
 * only read afterwards. */
static apr_array_header_t *filters;

void sse_slow_start_wanted(void)
{
    wanted = 1;
}

static int slow_start_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                                 apr_pool_t *ptemp)
{
    (void)pconf; (void)plog; (void)ptemp;
    wanted = 0;
    filters = NULL;
    return OK;
}

static apr_uint64_t draw(void)
{
    apr_uint64_t v;

    ap_random_insecure_bytes(&v, sizeof(v));
    return v;
}

static proxy_worker *filtered_finder(proxy_balancer *b, request_rec *r)
{
    const proxy_balancer_method *inner = b->lbmethod->context;
    proxy_worker **workers = (proxy_worker **)b->workers->elts;
    int i, n = b->workers->nelts, out = 0;
    apr_array_header_t *kept;
    proxy_balancer view;
    proxy_worker *best;
    double *shares;
    char *left_out;

    apr_table_unset(r->notes, HOLD_NOTE);
    if (!n)
        return inner->finder(b, r);
    shares = apr_palloc(r->pool, sizeof(*shares) * (apr_size_t)n);
    if (!sse_members_balance_view(b->s->name, workers, n, apr_time_now(),
                                  shares, NULL))
        return inner->finder(b, r);
    left_out = apr_pcalloc(r->pool, (apr_size_t)n);
    kept = apr_array_make(r->pool, n, sizeof(proxy_worker *));
    for (i = 0; i < n; i++) {
        if (shares[i] < 1.0 && !sse_slow_start_admits(shares[i], draw())) {
            left_out[i] = 1;
            out++;
        }
        else {
            APR_ARRAY_PUSH(kept, proxy_worker *) = workers[i];
        }
    }
    if (!out)
        return inner->finder(b, r);
    view = *b;
    view.workers = kept;
    view.lbmethod = (proxy_balancer_method *)inner;
    best = kept->nelts ? inner->finder(&view, r) : NULL;
    if (best)
        return best;
    /* No other member can take it: the election is the lbmethod's over
     * them all, and a stream it gives to a member that was left out is
     * held back (the scheme handler answers it). */
    best = inner->finder(b, r);
    for (i = 0; best && i < n; i++)
        if (workers[i] == best && left_out[i])
            apr_table_setn(r->notes, HOLD_NOTE, "hold");
    return best;
}

static const proxy_balancer_method *filter_of(const proxy_balancer_method *m)
{
    int i;

    for (i = 0; filters && i < filters->nelts; i++) {
        const proxy_balancer_method *f =
            APR_ARRAY_IDX(filters, i, const proxy_balancer_method *);
        if (f->context == m)
            return f;
    }
    return NULL;
}

/* Puts b's lbmethod behind the filter, unless it is already.  Takes the
 * balancer's thread lock unless locked says it is held. */
static void filter_balancer(proxy_balancer *b, int locked)
{
    const proxy_balancer_method *f;

    if (!b->lbmethod || b->lbmethod->finder == filtered_finder)
        return;
    if (!locked && PROXY_THREAD_LOCK(b) != APR_SUCCESS)
        return;
    if (b->lbmethod && b->lbmethod->finder != filtered_finder
        && (f = filter_of(b->lbmethod)))
        b->lbmethod = (proxy_balancer_method *)f;
    if (!locked)
        PROXY_THREAD_UNLOCK(b);
}

static void slow_start_child_init(apr_pool_t *p, server_rec *s)
{
    apr_array_header_t *names;
    int i;

    if (!wanted)
        return;
    /* every provider: the balancer-manager may switch to any of them */
    names = ap_list_provider_names(p, PROXY_LBMETHOD, "0");
    filters = apr_array_make(p, names->nelts,
                             sizeof(const proxy_balancer_method *));
    for (i = 0; i < names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(names, i,
                                         ap_list_provider_names_t).provider_name;
        const proxy_balancer_method *m = ap_lookup_provider(PROXY_LBMETHOD,
                                                            name, "0");
        proxy_balancer_method *f;

        if (!m || m->finder == filtered_finder)
            continue;
        f = apr_pmemdup(p, m, sizeof(*m));
        f->finder = filtered_finder;
        f->context = (void *)m;
        APR_ARRAY_PUSH(filters, const proxy_balancer_method *) = f;
    }
    /* children have no other threads yet: no lock needed */
    for (; s; s = s->next) {
        proxy_server_conf *conf = ap_get_module_config(s->module_config,
                                                       &proxy_module);
        for (i = 0; conf && i < conf->balancers->nelts; i++)
            filter_balancer(&APR_ARRAY_IDX(conf->balancers, i,
                                           proxy_balancer), 1);
    }
}

static int slow_start_pre_request(proxy_worker **worker,
                                  proxy_balancer **balancer, request_rec *r,
                                  proxy_server_conf *conf, char **url)
{
    proxy_balancer *b = *balancer;

    (void)worker;
    if (!filters)
        return DECLINED;
    if (!b && !ap_cstr_casecmpn(*url, "balancer://", 11))
        b = ap_proxy_get_balancer(r->pool, conf, *url, 1);
    if (b)
        filter_balancer(b, 0);
    return DECLINED;
}

int sse_slow_start_held(request_rec *r, proxy_worker *worker)
{
    const char *note = apr_table_get(r->notes, HOLD_NOTE);

    if (!note || strcmp(note, "hold"))
        return 0;
    apr_table_setn(r->notes, HOLD_NOTE, "held");
    sse_member_slow_start_held(r, sse_request_balancer(r), worker);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  "SSE00083: stream held back from member=%s: it is in slow "
                  "start and no other member can take the stream",
                  worker->s->name_ex);
    return 1;
}

void sse_slow_start_register_hooks(void)
{
    static const char *const balancer[] = { "mod_proxy_balancer.c", NULL };

    ap_hook_pre_config(slow_start_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(slow_start_child_init, balancer, NULL,
                       APR_HOOK_MIDDLE);
    proxy_hook_pre_request(slow_start_pre_request, NULL, balancer,
                           APR_HOOK_FIRST);
}
