/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/*
 * lbmethod=bystreams, in the shape of httpd's mod_lbmethod_bybusyness,
 * for balancers of streams.
 *
 * A member's open streams are mod_proxy_balancer's busy count: it is
 * raised when the member is elected and lowered when the request's pool
 * goes, which for a stream is its end, waiting without a thread or not
 * (and sessions pinned by SSEProxySessionHeader count the same way).  A
 * stream is one backend connection, so that is the count per backend
 * connection.  The weight is loadfactor times the grade's weight
 * (sse_balance.h): a POOR member takes a third of a GOOD one's streams.
 * The elected member is the one whose load, (streams + 1) / weight,
 * would be lowest with the new stream; ties go round by lbstatus, as in
 * bybusyness.
 */
#include "httpd.h"
#include "ap_provider.h"
#include "mod_proxy.h"

#include "sse_balance.h"
#include "sse_lbmethod_bystreams.h"
#include "sse_members.h"

typedef struct {
    proxy_worker **workers;
    apr_uint64_t  *weights;
    int            n;
    int            total_factor;
} election;

static apr_uint64_t weight_of(const election *e, const proxy_worker *w)
{
    int i;

    for (i = 0; i < e->n; i++)
        if (e->workers[i] == w)
            return e->weights[i];
    return sse_stream_weight(w->s->lbfactor, SSEP_Q_GOOD);
}

static int is_best_bystreams(proxy_worker *current, proxy_worker *prev_best,
                             void *baton)
{
    election *e = baton;
    int c;

    current->s->lbstatus += current->s->lbfactor;
    e->total_factor += current->s->lbfactor;
    if (!prev_best)
        return 1;
    c = sse_streams_compare(current->s->busy, weight_of(e, current),
                            prev_best->s->busy, weight_of(e, prev_best));
    return c < 0 || (c == 0 && current->s->lbstatus > prev_best->s->lbstatus);
}

static proxy_worker *find_best_bystreams(proxy_balancer *balancer,
                                         request_rec *r)
{
    election e;
    ssep_quality *grades;
    proxy_worker *best;
    int i;

    e.workers = (proxy_worker **)balancer->workers->elts;
    e.n = balancer->workers->nelts;
    e.total_factor = 0;
    e.weights = apr_palloc(r->pool, sizeof(*e.weights) * (apr_size_t)(e.n + 1));
    grades = apr_palloc(r->pool, sizeof(*grades) * (apr_size_t)(e.n + 1));
    sse_members_balance_view(balancer->s->name, e.workers, e.n,
                             apr_time_now(), NULL, grades);
    for (i = 0; i < e.n; i++)
        e.weights[i] = sse_stream_weight(e.workers[i]->s->lbfactor,
                                         grades[i]);
    best = ap_proxy_balancer_get_best_worker(balancer, r, is_best_bystreams,
                                             &e);
    if (best)
        best->s->lbstatus -= e.total_factor;
    return best;
}

/* Unlike bybusyness, busy is left alone: it counts streams that are
 * still open, and zeroing it would make the next ones pile up on the
 * busiest members.  Called with the balancer locked. */
static apr_status_t reset(proxy_balancer *balancer, server_rec *s)
{
    proxy_worker **workers = (proxy_worker **)balancer->workers->elts;
    int i;

    (void)s;
    for (i = 0; i < balancer->workers->nelts; i++)
        workers[i]->s->lbstatus = 0;
    return APR_SUCCESS;
}

static apr_status_t age(proxy_balancer *balancer, server_rec *s)
{
    (void)balancer; (void)s;
    return APR_SUCCESS;
}

static const proxy_balancer_method bystreams = {
    "bystreams",
    &find_best_bystreams,
    NULL,
    &reset,
    &age,
    NULL
};

void sse_bystreams_register(apr_pool_t *p)
{
    ap_register_provider(p, PROXY_LBMETHOD, "bystreams", "0", &bystreams);
}
