/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* Shared streams on the status page: the server's counters, and the
 * channels of the child that answers (each child has its own). */
#include "httpd.h"
#include "http_protocol.h"
#include "apr_strings.h"

#include "sse_channel.h"
#include "sse_status.h"

/* The key without what only tells locations apart: the backend URL and
 * the listed headers' values. */
static const char *shown_key(const char *key)
{
    const char *nl = strchr(key, '\n');

    return nl ? nl + 1 : key;
}

void sse_share_status_json(request_rec *r, sse_counters *c)
{
    apr_array_header_t *chs = sse_channels_snapshot(r->pool);
    int i;

    ap_rprintf(r, ",\"shared\":{\"streams\":%" APR_INT64_T_FMT
               ",\"clients\":%" APR_INT64_T_FMT ",\"replays\":%"
               APR_UINT64_T_FMT ",\"failovers\":%" APR_UINT64_T_FMT
               ",\"dropped\":%" APR_UINT64_T_FMT ",\"this_child\":{\"pid\":"
               "%" APR_PID_T_FMT ",\"channels\":[",
               SSE_STAT_GET(c, shared_streams),
               SSE_STAT_GET(c, shared_clients),
               SSE_STAT_GET(c, shared_replays),
               SSE_STAT_GET(c, shared_failovers),
               SSE_STAT_GET(c, shared_dropped), getpid());
    for (i = 0; i < chs->nelts; i++) {
        sse_channel_info *ch = &APR_ARRAY_IDX(chs, i, sse_channel_info);

        ap_rprintf(r, "%s{\"key\":%s,\"open\":%s,\"clients\":%"
                   APR_SIZE_T_FMT ",\"events\":%" APR_UINT64_T_FMT
                   ",\"ring\":{\"events\":%" APR_SIZE_T_FMT ",\"bytes\":%"
                   APR_SIZE_T_FMT "},\"replays\":%" APR_UINT64_T_FMT
                   ",\"failovers\":%" APR_UINT64_T_FMT "}", i ? "," : "",
                   sse_status_json_str(r->pool, shown_key(ch->key)),
                   ch->open ? "true" : "false", ch->clients, ch->events,
                   ch->ring_events, ch->ring_bytes, ch->replays,
                   ch->failovers);
    }
    ap_rputs("]}}", r);
}

void sse_share_status_prometheus(request_rec *r, sse_counters *c)
{
    sse_status_prom_metric(r, "sse_proxy_shared_streams", "gauge",
                           "Backend streams shared by several clients "
                           "(SSEProxyShare), over every child.",
                           SSE_STAT_GET(c, shared_streams));
    sse_status_prom_metric(r, "sse_proxy_shared_clients", "gauge",
                           "Clients served from another request's backend "
                           "stream.", SSE_STAT_GET(c, shared_clients));
    sse_status_prom_metric(r, "sse_proxy_shared_replays_total", "counter",
                           "Reconnections served from a shared stream's "
                           "replay ring, without a backend request.",
                           (apr_int64_t)SSE_STAT_GET(c, shared_replays));
    sse_status_prom_metric(r, "sse_proxy_shared_failovers_total", "counter",
                           "Shared streams continued on another backend "
                           "connection by the proxy.",
                           (apr_int64_t)SSE_STAT_GET(c, shared_failovers));
    sse_status_prom_metric(r, "sse_proxy_shared_dropped_total", "counter",
                           "Clients dropped for falling behind their "
                           "shared stream's ring.",
                           (apr_int64_t)SSE_STAT_GET(c, shared_dropped));
}

void sse_share_status_html(request_rec *r, sse_counters *c)
{
    apr_array_header_t *chs = sse_channels_snapshot(r->pool);
    int i;

    if (!SSE_STAT_GET(c, shared_streams) && !SSE_STAT_GET(c, shared_replays)
        && !chs->nelts)
        return;
    ap_rprintf(r, "<h2>Shared streams</h2>\n<p>%" APR_INT64_T_FMT
               " shared streams, %" APR_INT64_T_FMT " clients served from "
               "them &middot; replays from the ring %" APR_UINT64_T_FMT
               " &middot; failovers %" APR_UINT64_T_FMT " &middot; dropped "
               "for falling behind %" APR_UINT64_T_FMT "</p>\n",
               SSE_STAT_GET(c, shared_streams),
               SSE_STAT_GET(c, shared_clients),
               SSE_STAT_GET(c, shared_replays),
               SSE_STAT_GET(c, shared_failovers),
               SSE_STAT_GET(c, shared_dropped));
    if (!chs->nelts)
        return;
    ap_rprintf(r, "<table><tr><th>stream (child %" APR_PID_T_FMT ")</th>"
               "<th>clients</th><th>events</th><th>ring</th>"
               "<th>replays</th><th>failovers</th></tr>\n", getpid());
    for (i = 0; i < chs->nelts; i++) {
        sse_channel_info *ch = &APR_ARRAY_IDX(chs, i, sse_channel_info);

        ap_rprintf(r, "<tr><td>%s%s</td><td>%" APR_SIZE_T_FMT "</td><td>%"
                   APR_UINT64_T_FMT "</td><td>%" APR_SIZE_T_FMT " events, %"
                   APR_SIZE_T_FMT " bytes</td><td>%" APR_UINT64_T_FMT
                   "</td><td>%" APR_UINT64_T_FMT "</td></tr>\n",
                   ap_escape_html2(r->pool, shown_key(ch->key), 1),
                   ch->open ? "" : " (opening)", ch->clients, ch->events,
                   ch->ring_events, ch->ring_bytes, ch->replays,
                   ch->failovers);
    }
    ap_rputs("</table>\n", r);
}
