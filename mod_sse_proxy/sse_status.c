/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include <stdio.h>

#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_strings.h"
#include "mod_proxy.h"

#include "ssepolicy.h"
#include "sse_balance.h"
#include "sse_fleet.h"
#include "sse_limits.h"
#include "sse_config.h"
#include "sse_members.h"
#include "sse_stats.h"
#include "sse_status.h"

static const char *const answer_names[SSE_ANSWER_KINDS] = {
    "retry", "no_content", "unavailable"
};

/* One member as shown: mod_proxy's view joined with the policy's. */
typedef struct {
    const char      *balancer;  /* without "balancer://", "" if none */
    const char      *member;
    const char      *state;     /* mod_proxy's status flags, or NULL */
    int              usable;
    int              known;     /* the policy has state for it */
    apr_int64_t      open_streams; /* mod_proxy's busy; -1: no worker */
    int              lbfactor;
    sse_member_state m;
} member_view;

typedef struct {
    request_rec        *r;
    apr_array_header_t *members;
} collect_ctx;

static member_view *find_view(apr_array_header_t *a, const char *balancer,
                              const char *member)
{
    int i;

    for (i = 0; i < a->nelts; i++) {
        member_view *v = &APR_ARRAY_IDX(a, i, member_view);
        if (!strcmp(v->balancer, balancer) && !strcmp(v->member, member))
            return v;
    }
    return NULL;
}

static void add_known(const sse_member_state *m, void *baton)
{
    collect_ctx *ctx = baton;
    const char *b = sse_balancer_short_name(m->balancer);
    member_view *v = find_view(ctx->members, b, m->member);

    if (!v) {
        v = apr_array_push(ctx->members);
        memset(v, 0, sizeof(*v));
        v->balancer = apr_pstrdup(ctx->r->pool, b);
        v->member = apr_pstrdup(ctx->r->pool, m->member);
        v->usable = -1;
        v->open_streams = -1;
    }
    v->known = 1;
    v->m = *m;
}

static apr_array_header_t *collect(request_rec *r)
{
    proxy_server_conf *pconf = ap_get_module_config(r->server->module_config,
                                                    &proxy_module);
    collect_ctx ctx;
    int i, j;

    ctx.r = r;
    ctx.members = apr_array_make(r->pool, 16, sizeof(member_view));
    for (i = 0; pconf && i < pconf->balancers->nelts; i++) {
        proxy_balancer *b = &APR_ARRAY_IDX(pconf->balancers, i, proxy_balancer);
        proxy_worker **workers = (proxy_worker **)b->workers->elts;
        for (j = 0; j < b->workers->nelts; j++) {
            member_view *v = apr_array_push(ctx.members);
            memset(v, 0, sizeof(*v));
            v->balancer = sse_balancer_short_name(b->s->name);
            v->member = workers[j]->s->name_ex;
            v->state = ap_proxy_parse_wstatus(r->pool, workers[j]);
            v->usable = PROXY_WORKER_IS_USABLE(workers[j]) ? 1 : 0;
            v->open_streams = (apr_int64_t)workers[j]->s->busy;
            v->lbfactor = workers[j]->s->lbfactor;
        }
    }
    sse_members_each(add_known, &ctx);
    return ctx.members;
}

const char *sse_status_json_str(apr_pool_t *p, const char *s)
{
    apr_size_t n = strlen(s), i;
    char *out = apr_palloc(p, n * 6 + 3), *o = out;

    *o++ = '"';
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            o += apr_snprintf(o, 7, "\\u%04x", c);
        } else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    *o = 0;
    return out;
}

/* Label values of the text exposition format: \ " and newline escaped. */
static const char *prom_label(apr_pool_t *p, const char *s)
{
    apr_size_t n = strlen(s), i;
    char *out = apr_palloc(p, n * 2 + 1), *o = out;

    for (i = 0; i < n; i++) {
        if (s[i] == '\\' || s[i] == '"') {
            *o++ = '\\';
            *o++ = s[i];
        } else if (s[i] == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        } else {
            *o++ = s[i];
        }
    }
    *o = 0;
    return out;
}

static double ratio(apr_uint64_t a, apr_uint64_t b)
{
    return b ? (double)a / (double)b : 0.0;
}

static apr_int64_t ms_until(apr_time_t t, apr_time_t now)
{
    return t > now ? (t - now) / 1000 : 0;
}

/* The member has had an outage that ended (its last recovery is known). */
static int has_recovered(const member_view *v)
{
    return v->m.outages > (v->m.consecutive_failures ? 1u : 0u);
}

/* The grade from this node's samples; for an outage another node
 * decided, the grade its backoff was scaled by. */
static const char *member_quality(const member_view *v, apr_uint64_t now_ms)
{
    if (v->known && v->m.from_fleet && v->m.consecutive_failures)
        return ssep_quality_name((ssep_quality)v->m.last_quality);
    return ssep_quality_name(v->known ? ssep_tracker_grade(&v->m.tracker,
                                                           now_ms)
                                      : SSEP_Q_GOOD);
}

/* Slow start: the member's share of new streams now (1 outside its
 * window), and how long its window still runs (0 outside). */
static double slow_start_share(const member_view *v, apr_time_t now)
{
    return sse_slow_start_share(v->m.slow_start_from, v->m.slow_start_ms,
                                now);
}

static apr_int64_t slow_start_left_ms(const member_view *v, apr_time_t now)
{
    if (slow_start_share(v, now) >= 1.0)
        return 0;
    return ms_until(v->m.slow_start_from
                    + apr_time_from_msec(v->m.slow_start_ms), now);
}

/* Its weight under lbmethod=bystreams: loadfactor times its grade's. */
static double stream_weight(const member_view *v, apr_uint64_t now_ms)
{
    ssep_quality q = v->known && v->m.from_fleet && v->m.consecutive_failures
                     ? (ssep_quality)v->m.last_quality
                     : v->known ? ssep_tracker_grade(&v->m.tracker, now_ms)
                                : SSEP_Q_GOOD;

    return (double)sse_stream_weight(v->lbfactor, q) / 300.0;
}

static const char *fleet_state_name(const sse_counters *c)
{
    if (!sse_fleet_spec())
        return "none";
    (void)sse_fleet_usable(); /* notices a store that stopped answering */
    return c->fleet_state == SSE_FLEET_UNREACHABLE ? "unreachable" : "ok";
}

/* Whether this node is in a fleet, and how its store is doing. */
static void fleet_json(request_rec *r, const sse_counters *c, apr_time_t now)
{
    if (!sse_fleet_spec()) {
        ap_rputs("{\"store\":null,\"state\":\"none\"}", r);
        return;
    }
    ap_rprintf(r, "{\"store\":%s,\"state\":\"%s\",\"leader_pid\":%u,"
               "\"synced_ms_ago\":%s,\"pulled\":%" APR_UINT64_T_FMT
               ",\"pushed\":%" APR_UINT64_T_FMT ",\"errors\":%"
               APR_UINT64_T_FMT ",\"lookups_not_waited_for\":%"
               APR_UINT64_T_FMT "}",
               sse_status_json_str(r->pool, sse_fleet_spec()), fleet_state_name(c),
               c->fleet_leader,
               c->fleet_synced ? apr_psprintf(r->pool, "%" APR_INT64_T_FMT,
                                              (now - c->fleet_synced) / 1000)
                               : "null",
               SSE_STAT_GET(c, fleet_pulled), SSE_STAT_GET(c, fleet_pushed),
               SSE_STAT_GET(c, fleet_errors), SSE_STAT_GET(c, fleet_skipped));
}

static void policy_json(request_rec *r)
{
    sse_server_conf *sc = ap_get_module_config(r->server->module_config,
                                               &sse_proxy_module);
    int n = ssep_policy_json(&sc->policy, NULL, 0);
    char *buf;

    if (n < 0) {
        ap_rputs("null", r);
        return;
    }
    buf = apr_palloc(r->pool, (apr_size_t)n + 1);
    ssep_policy_json(&sc->policy, buf, (apr_size_t)n + 1);
    ap_rputs(buf, r);
}

/* The added latency per event: the histogram and what an operator
 * checks first, p50 and p99 (bucket upper bounds). */
static void latency_json(request_rec *r, const sse_counters *c)
{
    apr_uint64_t counts[SSE_LATENCY_BUCKETS];
    apr_uint64_t total = sse_latency_snapshot(&c->event_latency, counts);
    int i;

    ap_rprintf(r, "\"event_latency\":{\"events\":%" APR_UINT64_T_FMT
               ",\"mean_us\":%.1f,\"p50_us\":%" APR_INT64_T_FMT
               ",\"p99_us\":%" APR_INT64_T_FMT ",\"buckets\":[", total,
               ratio(SSE_STAT_GET(c, event_latency.sum_us), total),
               sse_latency_quantile(counts, total, 0.5),
               sse_latency_quantile(counts, total, 0.99));
    for (i = 0; i < SSE_LATENCY_BUCKETS; i++) {
        if (i < SSE_LATENCY_BOUNDS)
            ap_rprintf(r, "%s{\"le_us\":%u,", i ? "," : "",
                       (unsigned)sse_latency_bounds_us[i]);
        else
            ap_rputs(",{\"le_us\":null,", r);
        ap_rprintf(r, "\"events\":%" APR_UINT64_T_FMT "}", counts[i]);
    }
    ap_rputs("]},", r);
}

/* Microseconds as decimal seconds, exact and without trailing zeros
 * (apr's %g writes "5.e-5"). */
static const char *seconds_of_us(request_rec *r, apr_uint32_t us)
{
    char *s = apr_psprintf(r->pool, "%u.%06u", (unsigned)(us / 1000000),
                           (unsigned)(us % 1000000));
    char *end = s + strlen(s) - 1;

    while (*end == '0')
        *end-- = '\0';
    if (*end == '.')
        *end = '\0';
    return s;
}

static void latency_prometheus(request_rec *r, const sse_counters *c)
{
    apr_uint64_t counts[SSE_LATENCY_BUCKETS], below = 0;
    apr_uint64_t total = sse_latency_snapshot(&c->event_latency, counts);
    int i;

    ap_rputs("# HELP sse_proxy_event_latency_seconds Time from the backend "
             "read that completed an event to its write to the client.\n"
             "# TYPE sse_proxy_event_latency_seconds histogram\n", r);
    for (i = 0; i < SSE_LATENCY_BOUNDS; i++) {
        below += counts[i];
        ap_rprintf(r, "sse_proxy_event_latency_seconds_bucket{le=\"%s\"} %"
                   APR_UINT64_T_FMT "\n",
                   seconds_of_us(r, sse_latency_bounds_us[i]), below);
    }
    ap_rprintf(r, "sse_proxy_event_latency_seconds_bucket{le=\"+Inf\"} %"
               APR_UINT64_T_FMT "\nsse_proxy_event_latency_seconds_sum %.6f\n"
               "sse_proxy_event_latency_seconds_count %" APR_UINT64_T_FMT
               "\n", total,
               (double)SSE_STAT_GET(c, event_latency.sum_us) / 1e6, total);
}

static const char *us_label(request_rec *r, apr_uint32_t us)
{
    return us < 1000 ? apr_psprintf(r->pool, "%u &micro;s", (unsigned)us)
           : us % 1000 ? apr_psprintf(r->pool, "%u.%u ms", (unsigned)(us / 1000),
                                     (unsigned)(us % 1000 / 100))
                     : apr_psprintf(r->pool, "%u ms", (unsigned)(us / 1000));
}

static void latency_html(request_rec *r, const sse_counters *c)
{
    apr_uint64_t counts[SSE_LATENCY_BUCKETS], most = 0;
    apr_uint64_t total = sse_latency_snapshot(&c->event_latency, counts);
    int i;

    for (i = 0; i < SSE_LATENCY_BUCKETS; i++)
        if (counts[i] > most)
            most = counts[i];
    ap_rprintf(r, "<h2>Added latency per event</h2>\n<p>backend read to "
               "client write &middot; %" APR_UINT64_T_FMT " events &middot; "
               "mean %.0f &micro;s</p>\n<table><tr><th class=l>up to</th>"
               "<th>events</th><th>share</th><th class=l></th></tr>\n",
               total, ratio(SSE_STAT_GET(c, event_latency.sum_us), total));
    for (i = 0; i < SSE_LATENCY_BUCKETS; i++)
        ap_rprintf(r, "<tr><td class=l>%s</td><td>%" APR_UINT64_T_FMT
                   "</td><td>%.1f%%</td><td class=l><span style=\"display:"
                   "inline-block;background:#48c;height:.8em;width:%.1fem\">"
                   "</span></td></tr>\n",
                   i < SSE_LATENCY_BOUNDS
                       ? us_label(r, sse_latency_bounds_us[i])
                       : "more", counts[i],
                   100 * ratio(counts[i], total),
                   most ? 20.0 * (double)counts[i] / (double)most : 0.0);
    ap_rputs("</table>\n", r);
}

/* Where the open streams are, a gauge each: never shown below zero
 * (their updates are not one transaction with each other). */
static apr_int64_t gauge(apr_int64_t v)
{
    return v > 0 ? v : 0;
}

static const struct {
    const char *name;   /* JSON key, Prometheus suffix */
    const char *label;  /* HTML */
    const char *help;
} places[] = {
    { "waiting", "waiting without a thread",
      "Streams waiting without a thread for their sockets or a deadline." },
    { "queued", "ready, queued for a worker",
      "Streams ready to be relayed, waiting for a worker thread." },
    { "relaying", "being relayed",
      "Streams being relayed now, by a worker thread or the watcher." },
    { "held", "output set aside (client not reading)",
      "Streams whose output waits for their client's socket to drain." },
};
#define PLACES (sizeof(places) / sizeof(places[0]))

static apr_int64_t place_count(sse_counters *c, apr_size_t i)
{
    switch (i) {
    case 0:  return gauge(SSE_STAT_GET(c, streams_waiting));
    case 1:  return gauge(SSE_STAT_GET(c, streams_queued));
    case 2:  return gauge(SSE_STAT_GET(c, streams_relaying));
    default: return gauge(SSE_STAT_GET(c, streams_held));
    }
}

static void render_json(request_rec *r, sse_counters *c,
                        apr_array_header_t *members)
{
    apr_time_t now = apr_time_now();
    apr_uint64_t now_ms = (apr_uint64_t)(now / 1000);
    apr_uint64_t requests = SSE_STAT_GET(c, stream_requests);
    apr_uint64_t established = SSE_STAT_GET(c, streams_established);
    apr_uint64_t firsts = SSE_STAT_GET(c, first_events);
    int i, k;

    ap_set_content_type(r, "application/json");
    ap_rprintf(r, "{\"version\":\"%s\",\"uptime_seconds\":%" APR_INT64_T_FMT
               ",\"streams\":{\"open\":%" APR_INT64_T_FMT ",\"requests\":%"
               APR_UINT64_T_FMT ",\"established\":%" APR_UINT64_T_FMT
               ",\"success_rate\":%.4f", SSEP_VERSION_STRING,
               (apr_int64_t)apr_time_sec(now - c->started),
               SSE_STAT_GET(c, streams_open), requests, established,
               ratio(established, requests));
    for (k = 0; k < (int)PLACES; k++)
        ap_rprintf(r, ",\"%s\":%" APR_INT64_T_FMT, places[k].name,
                   place_count(c, (apr_size_t)k));
    ap_rputs("},", r);
    ap_rprintf(r, "\"relayed\":{\"events\":%" APR_UINT64_T_FMT ",\"bytes\":%"
               APR_UINT64_T_FMT ",\"heartbeats\":%" APR_UINT64_T_FMT "},",
               SSE_STAT_GET(c, events), SSE_STAT_GET(c, bytes),
               SSE_STAT_GET(c, heartbeats));
    ap_rprintf(r, "\"first_event\":{\"streams\":%" APR_UINT64_T_FMT
               ",\"mean_ms\":%.1f},", firsts,
               ratio(SSE_STAT_GET(c, first_event_us), firsts) / 1000.0);
    latency_json(r, c);
    ap_rputs("\"errors\":{", r);
    for (k = SSEP_CLASS_NETWORK; k < SSEP_CLASS_COUNT; k++)
        ap_rprintf(r, "%s\"%s\":%" APR_UINT64_T_FMT,
                   k == SSEP_CLASS_NETWORK ? "" : ",",
                   ssep_class_name((ssep_class)k), SSE_STAT_GET(c, errors[k]));
    ap_rputs("},\"ends\":{", r);
    for (k = SSE_END_BACKEND; k < SSE_END_REASONS; k++)
        ap_rprintf(r, "%s\"%s\":%" APR_UINT64_T_FMT,
                   k == SSE_END_BACKEND ? "" : ",",
                   sse_end_name((sse_end_reason)k), SSE_STAT_GET(c, ends[k]));
    ap_rputs("},\"answers\":{", r);
    for (k = 0; k < SSE_ANSWER_KINDS; k++)
        ap_rprintf(r, "%s\"%s\":%" APR_UINT64_T_FMT, k ? "," : "",
                   answer_names[k], SSE_STAT_GET(c, answers[k]));
    ap_rprintf(r, "},\"resumes\":{\"attempted\":%" APR_UINT64_T_FMT
               ",\"succeeded\":%" APR_UINT64_T_FMT ",\"given_up\":%"
               APR_UINT64_T_FMT, SSE_STAT_GET(c, resumes_attempted),
               SSE_STAT_GET(c, resumes_succeeded),
               SSE_STAT_GET(c, resumes_given_up));
    ap_rputs("}", r);
    sse_share_status_json(r, c);
    sse_limits_status_json(r);
    ap_rputs(",\"fleet\":", r);
    fleet_json(r, c, now);
    ap_rputs(",\"members\":[", r);
    for (i = 0; i < members->nelts; i++) {
        member_view *v = &APR_ARRAY_IDX(members, i, member_view);
        ap_rprintf(r, "%s{\"balancer\":%s,\"member\":%s,\"state\":%s,"
                   "\"usable\":%s,", i ? "," : "",
                   sse_status_json_str(r->pool, v->balancer),
                   sse_status_json_str(r->pool, v->member),
                   v->state ? sse_status_json_str(r->pool, v->state) : "null",
                   v->usable < 0 ? "null" : v->usable ? "true" : "false");
        if (v->open_streams >= 0)
            ap_rprintf(r, "\"open_streams\":%" APR_INT64_T_FMT
                       ",\"stream_weight\":%.4f,", v->open_streams,
                       stream_weight(v, now_ms));
        else
            ap_rputs("\"open_streams\":null,\"stream_weight\":null,", r);
        ap_rprintf(r, "\"slow_start\":{\"share\":%.4f,\"remaining_ms\":%"
                   APR_INT64_T_FMT ",\"held\":%" APR_UINT64_T_FMT "},",
                   slow_start_share(v, now), slow_start_left_ms(v, now),
                   v->m.slow_start_held);
        ap_rprintf(r, "\"last_class\":%s,\"consecutive_failures\":%u,"
                   "\"status_streak\":%u,"
                   "\"gave_up\":%s,\"delay_ms\":%" APR_INT64_T_FMT
                   ",\"next_retry_in_ms\":%" APR_INT64_T_FMT ",",
                   v->known && v->m.consecutive_failures
                       ? sse_status_json_str(r->pool,
                                  ssep_class_name((ssep_class)v->m.last_class))
                       : "null",
                   v->m.consecutive_failures, v->m.status_streak,
                   v->m.gave_up ? "true" : "false",
                   v->m.delay_ms, ms_until(v->m.next_retry, now));
        ap_rprintf(r, "\"source\":\"%s\",",
                   v->m.from_fleet ? "fleet" : "local");
        ap_rprintf(r, "\"quality\":\"%s\",\"mean_latency_ms\":%.1f,"
                   "\"latency_samples\":%u,\"error_rate\":%.4f,\"attempts\":%"
                   APR_UINT64_T_FMT ",\"outages\":%" APR_UINT64_T_FMT ",",
                   member_quality(v, now_ms),
                   ssep_tracker_mean_latency(&v->m.tracker),
                   ssep_tracker_samples(&v->m.tracker),
                   ssep_tracker_error_rate(&v->m.tracker, now_ms),
                   v->m.attempts, v->m.outages);
        if (v->m.outage_start && v->m.consecutive_failures)
            ap_rprintf(r, "\"current_outage_ms\":%" APR_INT64_T_FMT ",",
                       (now - v->m.outage_start) / 1000);
        else
            ap_rputs("\"current_outage_ms\":null,", r);
        if (has_recovered(v))
            ap_rprintf(r, "\"last_recovery_ms\":%" APR_INT64_T_FMT ",",
                       v->m.last_recovery_ms);
        else
            ap_rputs("\"last_recovery_ms\":null,", r);
        ap_rputs("\"failures\":{", r);
        for (k = SSEP_CLASS_NETWORK; k < SSEP_CLASS_COUNT; k++)
            ap_rprintf(r, "%s\"%s\":%" APR_UINT64_T_FMT,
                       k == SSEP_CLASS_NETWORK ? "" : ",",
                       ssep_class_name((ssep_class)k),
                       v->m.failures_by_class[k]);
        ap_rputs("}}", r);
    }
    ap_rputs("],\"policy\":", r);
    policy_json(r);
    ap_rputs("}\n", r);
}

void sse_status_prom_head(request_rec *r, const char *name,
                          const char *type, const char *help)
{
    ap_rprintf(r, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void sse_status_prom_metric(request_rec *r, const char *name,
                            const char *type, const char *help,
                            apr_int64_t value)
{
    sse_status_prom_head(r, name, type, help);
    ap_rprintf(r, "%s %" APR_INT64_T_FMT "\n", name, value);
}

static void render_prometheus(request_rec *r, sse_counters *c,
                              apr_array_header_t *members)
{
    apr_time_t now = apr_time_now();
    apr_uint64_t now_ms = (apr_uint64_t)(now / 1000);
    int i, k;

    ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
    sse_status_prom_head(r, "sse_proxy_uptime_seconds", "gauge",
                         "Seconds since the shared counters were created.");
    ap_rprintf(r, "sse_proxy_uptime_seconds %" APR_INT64_T_FMT "\n",
               (apr_int64_t)apr_time_sec(now - c->started));
    sse_status_prom_head(r, "sse_proxy_streams_open", "gauge",
                         "SSE streams being relayed now.");
    ap_rprintf(r, "sse_proxy_streams_open %" APR_INT64_T_FMT "\n",
               SSE_STAT_GET(c, streams_open));
    for (k = 0; k < (int)PLACES; k++) {
        const char *name = apr_pstrcat(r->pool, "sse_proxy_streams_",
                                       places[k].name, NULL);

        sse_status_prom_head(r, name, "gauge", places[k].help);
        ap_rprintf(r, "%s %" APR_INT64_T_FMT "\n", name,
                   place_count(c, (apr_size_t)k));
    }
    sse_status_prom_head(r, "sse_proxy_stream_requests_total", "counter",
                         "GET/HEAD requests on SSE routes.");
    ap_rprintf(r, "sse_proxy_stream_requests_total %" APR_UINT64_T_FMT "\n",
               SSE_STAT_GET(c, stream_requests));
    sse_status_prom_head(r, "sse_proxy_streams_established_total", "counter",
                         "Stream requests that reached a backend 200 event stream.");
    ap_rprintf(r, "sse_proxy_streams_established_total %" APR_UINT64_T_FMT
               "\n", SSE_STAT_GET(c, streams_established));
    sse_status_prom_head(r, "sse_proxy_events_total", "counter", "Events relayed.");
    ap_rprintf(r, "sse_proxy_events_total %" APR_UINT64_T_FMT "\n",
               SSE_STAT_GET(c, events));
    sse_status_prom_head(r, "sse_proxy_bytes_total", "counter",
                         "Stream bytes relayed from backends.");
    ap_rprintf(r, "sse_proxy_bytes_total %" APR_UINT64_T_FMT "\n",
               SSE_STAT_GET(c, bytes));
    sse_status_prom_head(r, "sse_proxy_heartbeats_total", "counter",
                         "Heartbeat comments sent during backend silence.");
    ap_rprintf(r, "sse_proxy_heartbeats_total %" APR_UINT64_T_FMT "\n",
               SSE_STAT_GET(c, heartbeats));
    sse_status_prom_head(r, "sse_proxy_first_event_seconds", "summary",
                         "Time from a stream request to its first event.");
    ap_rprintf(r, "sse_proxy_first_event_seconds_sum %.6f\n"
               "sse_proxy_first_event_seconds_count %" APR_UINT64_T_FMT "\n",
               (double)SSE_STAT_GET(c, first_event_us) / 1e6,
               SSE_STAT_GET(c, first_events));
    latency_prometheus(r, c);
    sse_limits_status_prometheus(r);
    sse_share_status_prometheus(r, c);
    sse_status_prom_metric(r, "sse_proxy_resumes_attempted_total", "counter",
                           "Streams whose backend broke off that the proxy "
                           "tried to resume (SSEProxyResume).",
                           (apr_int64_t)SSE_STAT_GET(c, resumes_attempted));
    sse_status_prom_metric(r, "sse_proxy_resumes_succeeded_total", "counter",
                           "Broken streams resumed on another backend "
                           "connection.",
                           (apr_int64_t)SSE_STAT_GET(c, resumes_succeeded));
    sse_status_prom_metric(r, "sse_proxy_resumes_given_up_total", "counter",
                           "Broken streams not resumed within the window: "
                           "their clients got the end with retry:.",
                           (apr_int64_t)SSE_STAT_GET(c, resumes_given_up));
    sse_status_prom_head(r, "sse_proxy_errors_total", "counter",
                         "Classified failures on SSE routes.");
    for (k = SSEP_CLASS_NETWORK; k < SSEP_CLASS_COUNT; k++)
        ap_rprintf(r, "sse_proxy_errors_total{class=\"%s\"} %"
                   APR_UINT64_T_FMT "\n", ssep_class_name((ssep_class)k),
                   SSE_STAT_GET(c, errors[k]));
    sse_status_prom_head(r, "sse_proxy_stream_ends_total", "counter",
                         "Ended streams, by how they ended.");
    for (k = SSE_END_BACKEND; k < SSE_END_REASONS; k++)
        ap_rprintf(r, "sse_proxy_stream_ends_total{reason=\"%s\"} %"
                   APR_UINT64_T_FMT "\n", sse_end_name((sse_end_reason)k),
                   SSE_STAT_GET(c, ends[k]));
    sse_status_prom_head(r, "sse_proxy_policy_answers_total", "counter",
                         "Clients answered by the policy when no member could serve.");
    for (k = 0; k < SSE_ANSWER_KINDS; k++)
        ap_rprintf(r, "sse_proxy_policy_answers_total{answer=\"%s\"} %"
                   APR_UINT64_T_FMT "\n", answer_names[k],
                   SSE_STAT_GET(c, answers[k]));

#define MEMBER_LABELS "balancer=\"%s\",member=\"%s\""
#define LABEL_ARGS(v) prom_label(r->pool, (v)->balancer), \
                      prom_label(r->pool, (v)->member)
    sse_status_prom_head(r, "sse_proxy_member_usable", "gauge",
                         "1 when mod_proxy would send requests to the member now.");
    for (i = 0; i < members->nelts; i++) {
        member_view *v = &APR_ARRAY_IDX(members, i, member_view);
        if (v->usable >= 0)
            ap_rprintf(r, "sse_proxy_member_usable{" MEMBER_LABELS "} %d\n",
                       LABEL_ARGS(v), v->usable);
    }
    sse_status_prom_head(r, "sse_proxy_member_open_streams", "gauge",
                         "Open streams of the member (mod_proxy's busy count: waiting "
                         "streams included), what lbmethod=bystreams balances.");
    for (i = 0; i < members->nelts; i++) {
        member_view *v = &APR_ARRAY_IDX(members, i, member_view);
        if (v->open_streams >= 0)
            ap_rprintf(r, "sse_proxy_member_open_streams{" MEMBER_LABELS
                       "} %" APR_INT64_T_FMT "\n", LABEL_ARGS(v),
                       v->open_streams);
    }
    sse_status_prom_head(r, "sse_proxy_member_slow_start_share", "gauge",
                         "The member's share of new streams in its slow start "
                         "(SSEProxySlowStart), 1 outside it.");
    for (i = 0; i < members->nelts; i++) {
        member_view *v = &APR_ARRAY_IDX(members, i, member_view);
        ap_rprintf(r, "sse_proxy_member_slow_start_share{" MEMBER_LABELS
                   "} %.4f\n", LABEL_ARGS(v), slow_start_share(v, now));
    }
    sse_status_prom_head(r, "sse_proxy_member_slow_start_held_total", "counter",
                         "Streams told to come back later because the member, the "
                         "only one that could take them, was in slow start.");
    for (i = 0; i < members->nelts; i++) {
        member_view *v = &APR_ARRAY_IDX(members, i, member_view);
        ap_rprintf(r, "sse_proxy_member_slow_start_held_total{" MEMBER_LABELS
                   "} %" APR_UINT64_T_FMT "\n", LABEL_ARGS(v),
                   v->m.slow_start_held);
    }
    sse_status_prom_head(r, "sse_proxy_member_consecutive_failures", "gauge",
                         "Failures of the member since its last success.");
    for (i = 0; i < members->nelts; i++) {
        member_view *v = &APR_ARRAY_IDX(members, i, member_view);
        ap_rprintf(r, "sse_proxy_member_consecutive_failures{" MEMBER_LABELS
                   "} %u\n", LABEL_ARGS(v), v->m.consecutive_failures);
    }
    sse_status_prom_head(r, "sse_proxy_member_from_fleet", "gauge",
                         "1 when the member's outage state came from another node of "
                         "the fleet (SSEProxyStateCache).");
    for (i = 0; i < members->nelts; i++) {
        member_view *v = &APR_ARRAY_IDX(members, i, member_view);
        ap_rprintf(r, "sse_proxy_member_from_fleet{" MEMBER_LABELS "} %u\n",
                   LABEL_ARGS(v), v->m.from_fleet);
    }
    sse_status_prom_head(r, "sse_proxy_fleet_up", "gauge",
                         "1 in a fleet whose store answers, 0 when it does not; absent "
                         "outside a fleet.");
    if (sse_fleet_spec()) {
        ap_rprintf(r, "sse_proxy_fleet_up %d\n",
                   c->fleet_state != SSE_FLEET_UNREACHABLE);
        sse_status_prom_head(r, "sse_proxy_fleet_calls_total", "counter",
                  "Member states taken from and given to the fleet, failed "
                  "store calls, and request lookups not waited for.");
        ap_rprintf(r, "sse_proxy_fleet_calls_total{kind=\"pulled\"} %"
                   APR_UINT64_T_FMT "\n"
                   "sse_proxy_fleet_calls_total{kind=\"pushed\"} %"
                   APR_UINT64_T_FMT "\n"
                   "sse_proxy_fleet_calls_total{kind=\"error\"} %"
                   APR_UINT64_T_FMT "\n"
                   "sse_proxy_fleet_calls_total{kind=\"not_waited\"} %"
                   APR_UINT64_T_FMT "\n",
                   SSE_STAT_GET(c, fleet_pulled), SSE_STAT_GET(c, fleet_pushed),
                   SSE_STAT_GET(c, fleet_errors),
                   SSE_STAT_GET(c, fleet_skipped));
    }
    sse_status_prom_head(r, "sse_proxy_member_status_streak", "gauge",
                         "Answers in a row with a status counted against the member "
                         "(SSEProxyMemberFailure), not yet acted on.");
    for (i = 0; i < members->nelts; i++) {
        member_view *v = &APR_ARRAY_IDX(members, i, member_view);
        ap_rprintf(r, "sse_proxy_member_status_streak{" MEMBER_LABELS
                   "} %u\n", LABEL_ARGS(v), v->m.status_streak);
    }
    sse_status_prom_head(r, "sse_proxy_member_backoff_seconds", "gauge",
                         "The member's current backoff delay.");
    for (i = 0; i < members->nelts; i++) {
        member_view *v = &APR_ARRAY_IDX(members, i, member_view);
        ap_rprintf(r, "sse_proxy_member_backoff_seconds{" MEMBER_LABELS
                   "} %.3f\n", LABEL_ARGS(v), (double)v->m.delay_ms / 1000);
    }
    sse_status_prom_head(r, "sse_proxy_member_next_retry_seconds", "gauge",
                         "Seconds until the member is due again (0 when it is).");
    for (i = 0; i < members->nelts; i++) {
        member_view *v = &APR_ARRAY_IDX(members, i, member_view);
        ap_rprintf(r, "sse_proxy_member_next_retry_seconds{" MEMBER_LABELS
                   "} %.3f\n", LABEL_ARGS(v),
                   (double)ms_until(v->m.next_retry, now) / 1000);
    }
    sse_status_prom_head(r, "sse_proxy_member_quality", "gauge",
                         "The member's quality grade: 0 EXCELLENT, 1 GOOD, 2 FAIR, 3 POOR.");
    for (i = 0; i < members->nelts; i++) {
        member_view *v = &APR_ARRAY_IDX(members, i, member_view);
        ap_rprintf(r, "sse_proxy_member_quality{" MEMBER_LABELS "} %d\n",
                   LABEL_ARGS(v),
                   (int)(v->known ? ssep_tracker_grade(&v->m.tracker, now_ms)
                                  : SSEP_Q_GOOD));
    }
    sse_status_prom_head(r, "sse_proxy_member_latency_seconds", "gauge",
                         "Mean time to get a stream going, over the last 10 attempts.");
    for (i = 0; i < members->nelts; i++) {
        member_view *v = &APR_ARRAY_IDX(members, i, member_view);
        ap_rprintf(r, "sse_proxy_member_latency_seconds{" MEMBER_LABELS
                   "} %.4f\n", LABEL_ARGS(v),
                   ssep_tracker_mean_latency(&v->m.tracker) / 1000);
    }
    sse_status_prom_head(r, "sse_proxy_member_error_rate", "gauge",
                         "Failed attempts / attempts over the last 5 minutes.");
    for (i = 0; i < members->nelts; i++) {
        member_view *v = &APR_ARRAY_IDX(members, i, member_view);
        ap_rprintf(r, "sse_proxy_member_error_rate{" MEMBER_LABELS "} %.4f\n",
                   LABEL_ARGS(v),
                   ssep_tracker_error_rate(&v->m.tracker, now_ms));
    }
    sse_status_prom_head(r, "sse_proxy_member_failures_total", "counter",
                         "Failures of the member, by class.");
    for (i = 0; i < members->nelts; i++) {
        member_view *v = &APR_ARRAY_IDX(members, i, member_view);
        for (k = SSEP_CLASS_NETWORK; k < SSEP_CLASS_COUNT; k++)
            ap_rprintf(r, "sse_proxy_member_failures_total{" MEMBER_LABELS
                       ",class=\"%s\"} %" APR_UINT64_T_FMT "\n", LABEL_ARGS(v),
                       ssep_class_name((ssep_class)k),
                       v->m.failures_by_class[k]);
    }
    sse_status_prom_head(r, "sse_proxy_member_recovery_seconds", "gauge",
                         "How long the member's last outage lasted.");
    for (i = 0; i < members->nelts; i++) {
        member_view *v = &APR_ARRAY_IDX(members, i, member_view);
        if (has_recovered(v))
            ap_rprintf(r, "sse_proxy_member_recovery_seconds{" MEMBER_LABELS
                       "} %.3f\n", LABEL_ARGS(v),
                       (double)v->m.last_recovery_ms / 1000);
    }
#undef MEMBER_LABELS
#undef LABEL_ARGS
}

/* apr's formatter prints 0.5 as ".5": numbers for people go through libc */
static const char *num(request_rec *r, double v)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%g", v);
    return apr_pstrdup(r->pool, buf);
}

static const char *esc(request_rec *r, const char *s)
{
    return ap_escape_html2(r->pool, s, 1);
}

/* The member's open streams and slow start; ends the row. */
static void member_balance_html(request_rec *r, const member_view *v,
                                apr_time_t now)
{
    double share = slow_start_share(v, now);

    if (v->open_streams >= 0)
        ap_rprintf(r, "<td>%" APR_INT64_T_FMT "</td>", v->open_streams);
    else
        ap_rputs("<td>&ndash;</td>", r);
    if (share < 1.0)
        ap_rprintf(r, "<td>%.0f%% of new streams, %.1f s left", 100 * share,
                   (double)slow_start_left_ms(v, now) / 1000);
    else
        ap_rputs(v->m.slow_start_held ? "<td>over" : "<td>&ndash;", r);
    if (v->m.slow_start_held)
        ap_rprintf(r, "; %" APR_UINT64_T_FMT " streams held back",
                   v->m.slow_start_held);
    ap_rputs("</td></tr>\n", r);
}

static void render_html(request_rec *r, sse_counters *c,
                        apr_array_header_t *members, int refresh)
{
    sse_server_conf *sc = ap_get_module_config(r->server->module_config,
                                               &sse_proxy_module);
    apr_time_t now = apr_time_now();
    apr_uint64_t now_ms = (apr_uint64_t)(now / 1000);
    apr_uint64_t requests = SSE_STAT_GET(c, stream_requests);
    apr_uint64_t established = SSE_STAT_GET(c, streams_established);
    apr_uint64_t firsts = SSE_STAT_GET(c, first_events);
    int i, k;

    ap_set_content_type(r, "text/html; charset=utf-8");
    ap_rputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n"
             "<title>SSE proxy status</title>\n", r);
    if (refresh > 0)
        ap_rprintf(r, "<meta http-equiv=\"refresh\" content=\"%d\">\n",
                   refresh);
    ap_rputs("<style>body{font-family:sans-serif;margin:1.5em}"
             "table{border-collapse:collapse;margin-bottom:1.5em}"
             "th,td{border:1px solid #bbb;padding:.25em .6em;text-align:right}"
             "th{background:#eee}td.l,th.l{text-align:left}"
             ".bad{color:#b00}.ok{color:#070}</style></head><body>\n", r);
    ap_rprintf(r, "<h1>SSE proxy status</h1>\n<p>mod_sse_proxy with "
               "libssepolicy %s &middot; up %" APR_INT64_T_FMT " s &middot; "
               "<a href=\"?format=json\">JSON</a> &middot; "
               "<a href=\"?format=prometheus\">Prometheus</a> &middot; "
               "<a href=\"?format=policy\">policy</a></p>\n",
               esc(r, ssep_version()),
               (apr_int64_t)apr_time_sec(now - c->started));

    ap_rputs("<h2>Streams</h2>\n<table><tr><th class=l>open now</th>"
             "<th>requests</th><th>established</th><th>success rate</th>"
             "<th>events</th><th>bytes</th><th>heartbeats</th>"
             "<th>mean time to first event</th></tr>\n", r);
    ap_rprintf(r, "<tr><td class=l>%" APR_INT64_T_FMT "</td><td>%"
               APR_UINT64_T_FMT "</td><td>%" APR_UINT64_T_FMT "</td><td>%.1f%%"
               "</td><td>%" APR_UINT64_T_FMT "</td><td>%" APR_UINT64_T_FMT
               "</td><td>%" APR_UINT64_T_FMT "</td><td>%.1f ms</td></tr>"
               "</table>\n", SSE_STAT_GET(c, streams_open), requests,
               established, 100 * ratio(established, requests),
               SSE_STAT_GET(c, events), SSE_STAT_GET(c, bytes),
               SSE_STAT_GET(c, heartbeats),
               ratio(SSE_STAT_GET(c, first_event_us), firsts) / 1000.0);
    ap_rputs("<table><tr>", r);
    for (k = 0; k < (int)PLACES; k++)
        ap_rprintf(r, "<th>%s</th>", places[k].label);
    ap_rputs("</tr>\n<tr>", r);
    for (k = 0; k < (int)PLACES; k++)
        ap_rprintf(r, "<td>%" APR_INT64_T_FMT "</td>",
                   place_count(c, (apr_size_t)k));
    ap_rputs("</tr></table>\n", r);

    latency_html(r, c);
    ap_rputs("<h2>Errors and outcomes</h2>\n<table><tr>", r);
    for (k = SSEP_CLASS_NETWORK; k < SSEP_CLASS_COUNT; k++)
        ap_rprintf(r, "<th>%s</th>", ssep_class_name((ssep_class)k));
    for (k = SSE_END_BACKEND; k < SSE_END_REASONS; k++)
        ap_rprintf(r, "<th>ended: %s</th>", sse_end_name((sse_end_reason)k));
    for (k = 0; k < SSE_ANSWER_KINDS; k++)
        ap_rprintf(r, "<th>answered: %s</th>", answer_names[k]);
    ap_rputs("</tr>\n<tr>", r);
    for (k = SSEP_CLASS_NETWORK; k < SSEP_CLASS_COUNT; k++)
        ap_rprintf(r, "<td>%" APR_UINT64_T_FMT "</td>",
                   SSE_STAT_GET(c, errors[k]));
    for (k = SSE_END_BACKEND; k < SSE_END_REASONS; k++)
        ap_rprintf(r, "<td>%" APR_UINT64_T_FMT "</td>",
                   SSE_STAT_GET(c, ends[k]));
    for (k = 0; k < SSE_ANSWER_KINDS; k++)
        ap_rprintf(r, "<td>%" APR_UINT64_T_FMT "</td>",
                   SSE_STAT_GET(c, answers[k]));
    ap_rputs("</tr></table>\n", r);

    sse_limits_status_html(r);
    ap_rprintf(r, "<h2>Failover</h2>\n<table><tr><th>resumes attempted"
               "</th><th>succeeded</th><th>given up</th></tr>\n<tr><td>%"
               APR_UINT64_T_FMT "</td><td>%" APR_UINT64_T_FMT "</td><td>%"
               APR_UINT64_T_FMT "</td></tr></table>\n",
               SSE_STAT_GET(c, resumes_attempted),
               SSE_STAT_GET(c, resumes_succeeded),
               SSE_STAT_GET(c, resumes_given_up));
    sse_share_status_html(r, c);

    if (sse_fleet_spec())
        ap_rprintf(r, "<h2>Fleet</h2>\n<p>store %s: <span class=%s>%s</span>"
                   " &middot; syncing child %u &middot; member states taken "
                   "%" APR_UINT64_T_FMT ", given %" APR_UINT64_T_FMT
                   " &middot; failed calls %" APR_UINT64_T_FMT "</p>\n",
                   esc(r, sse_fleet_spec()),
                   c->fleet_state == SSE_FLEET_UNREACHABLE ? "bad" : "ok",
                   fleet_state_name(c), c->fleet_leader,
                   SSE_STAT_GET(c, fleet_pulled),
                   SSE_STAT_GET(c, fleet_pushed),
                   SSE_STAT_GET(c, fleet_errors));
    else
        ap_rputs("<h2>Fleet</h2>\n<p>none: this node keeps its own member "
                 "state</p>\n", r);
    ap_rputs("<h2>Members</h2>\n<table><tr><th class=l>balancer</th>"
             "<th class=l>member</th><th class=l>state</th>"
             "<th class=l>last class</th><th>consecutive failures</th>"
             "<th>failing statuses in a row</th>"
             "<th>current delay</th><th>next retry in</th><th>quality</th>"
             "<th>mean latency</th><th>error rate (5 min)</th>"
             "<th>attempts</th><th>last recovery</th>"
             "<th>open streams</th><th>slow start</th></tr>\n", r);
    for (i = 0; i < members->nelts; i++) {
        member_view *v = &APR_ARRAY_IDX(members, i, member_view);
        int failing = v->m.consecutive_failures > 0;
        ap_rprintf(r, "<tr><td class=l>%s</td><td class=l>%s</td>"
                   "<td class=\"l %s\">%s%s</td><td class=l>%s</td>"
                   "<td>%u</td><td>%u</td><td>%.1f s</td><td>%.1f s</td>"
                   "<td>%s</td>"
                   "<td>%.0f ms</td><td>%.0f%%</td><td>%" APR_UINT64_T_FMT
                   "</td>",
                   *v->balancer ? esc(r, v->balancer) : "&ndash;",
                   esc(r, v->member), failing ? "bad" : "ok",
                   v->state ? esc(r, v->state) : "(plain worker)",
                   v->m.gave_up ? " (gave up)"
                   : v->m.from_fleet ? " (from the fleet)" : "",
                   failing ? ssep_class_name((ssep_class)v->m.last_class)
                           : "&ndash;",
                   v->m.consecutive_failures, v->m.status_streak,
                   (double)v->m.delay_ms / 1000,
                   (double)ms_until(v->m.next_retry, now) / 1000,
                   member_quality(v, now_ms),
                   ssep_tracker_mean_latency(&v->m.tracker),
                   100 * ssep_tracker_error_rate(&v->m.tracker, now_ms),
                   v->m.attempts);
        if (has_recovered(v))
            ap_rprintf(r, "<td>%.1f s</td>",
                       (double)v->m.last_recovery_ms / 1000);
        else
            ap_rputs("<td>&ndash;</td>", r);
        member_balance_html(r, v, now);
    }
    ap_rputs("</table>\n", r);

    ap_rprintf(r, "<h2>Policy</h2>\n<p>jitter: %s</p>\n<table><tr>"
               "<th class=l>class</th><th>initial</th><th>max</th>"
               "<th>factor</th><th>attempts</th></tr>\n",
               ssep_jitter_name(sc->policy.jitter));
    for (k = SSEP_CLASS_NETWORK; k < SSEP_CLASS_COUNT; k++) {
        const ssep_strategy *s = ssep_policy_strategy(&sc->policy,
                                                      (ssep_class)k);
        ap_rprintf(r, "<tr><td class=l>%s</td><td>%.1f s</td><td>%.1f s</td>"
                   "<td>%s</td><td>%u</td></tr>\n",
                   ssep_class_name((ssep_class)k), s->initial_ms / 1000.0,
                   s->max_ms / 1000.0, num(r, s->factor), s->max_attempts);
    }
    ap_rputs("</table>\n<table><tr><th class=l>quality</th>"
             "<th>latency below</th><th>delay multiplier</th></tr>\n", r);
    for (k = 0; k < SSEP_QUALITY_COUNT; k++)
        ap_rprintf(r, "<tr><td class=l>%s</td><td>%u ms</td><td>%s</td>"
                   "</tr>\n", ssep_quality_name((ssep_quality)k),
                   ssep_quality_threshold_ms((ssep_quality)k),
                   num(r, ssep_quality_multiplier((ssep_quality)k)));
    ap_rputs("</table>\n</body></html>\n", r);
}

static const char *query_param(request_rec *r, const char *name)
{
    char *args, *tok, *state;
    apr_size_t n = strlen(name);

    if (!r->args)
        return NULL;
    args = apr_pstrdup(r->pool, r->args);
    for (tok = apr_strtok(args, "&", &state); tok;
         tok = apr_strtok(NULL, "&", &state))
        if (!strncmp(tok, name, n) && tok[n] == '=')
            return tok + n + 1;
    return NULL;
}

int sse_status_handler(request_rec *r)
{
    sse_counters *c;
    apr_array_header_t *members;
    const char *format, *refresh;
    int secs = 0;

    if (strcmp(r->handler, SSE_STATUS_HANDLER))
        return DECLINED;
    r->allowed |= (AP_METHOD_BIT << M_GET);
    if (r->method_number != M_GET)
        return HTTP_METHOD_NOT_ALLOWED;
    c = sse_stats();
    if (!c)
        return HTTP_SERVICE_UNAVAILABLE;
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    members = collect(r);
    format = query_param(r, "format");
    if (format && !strcmp(format, "json")) {
        render_json(r, c, members);
    } else if (format && !strcmp(format, "prometheus")) {
        render_prometheus(r, c, members);
    } else if (format && !strcmp(format, "policy")) {
        /* the configured table, for clients that reconnect by the same
         * policy as the proxy (browser code, command-line clients) */
        ap_set_content_type(r, "application/json");
        policy_json(r);
        ap_rputs("\n", r);
    } else if (format && strcmp(format, "html")) {
        return HTTP_BAD_REQUEST;
    } else {
        refresh = query_param(r, "refresh");
        if (refresh) {
            secs = atoi(refresh);
            if (secs < 1 || secs > 3600)
                secs = 0;
        }
        render_html(r, c, members, secs);
    }
    return OK;
}
