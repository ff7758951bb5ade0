/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* The stream caps and reconnect limits on the status page: how often
 * each limit was hit, and the keys holding the most streams. */
#include "httpd.h"
#include "http_protocol.h"
#include "apr_strings.h"

#include "sse_limits.h"
#include "sse_status.h"

#define TOP 10

void sse_limits_status_json(request_rec *r)
{
    sse_limit_counters c;
    sse_limits_top top[TOP];
    apr_uint32_t keys;
    int n, i;

    if (!sse_limits_snapshot(&c, &keys, top, TOP, &n))
        return;
    ap_rprintf(r, ",\"limits\":{\"limited\":{\"client_streams\":%"
               APR_UINT64_T_FMT ",\"location_streams\":%" APR_UINT64_T_FMT
               ",\"reconnect_rate\":%" APR_UINT64_T_FMT "},\"untracked\":%"
               APR_UINT64_T_FMT ",\"reclaimed\":%" APR_UINT64_T_FMT
               ",\"keys\":%u,\"slots\":%d,\"top\":[",
               c.limited_client, c.limited_location, c.limited_rate,
               c.untracked, c.reclaimed, keys, SSE_LIMIT_SLOTS);
    for (i = 0; i < n; i++)
        ap_rprintf(r, "%s{\"key\":%s,\"kind\":\"%s\",\"open\":%u,"
                   "\"strikes\":%u}", i ? "," : "",
                   sse_status_json_str(r->pool, top[i].label),
                   top[i].location ? "location" : "client", top[i].open,
                   top[i].strikes);
    ap_rputs("]}", r);
}

void sse_limits_status_prometheus(request_rec *r)
{
    sse_limit_counters c;
    sse_limits_top top[TOP];
    apr_uint32_t keys;
    int n;

    if (!sse_limits_snapshot(&c, &keys, top, TOP, &n))
        return;
    ap_rputs("# HELP sse_proxy_limited_total Stream requests told to come "
             "back later by a limit.\n# TYPE sse_proxy_limited_total "
             "counter\n", r);
    ap_rprintf(r, "sse_proxy_limited_total{limit=\"client_streams\"} %"
               APR_UINT64_T_FMT "\n", c.limited_client);
    ap_rprintf(r, "sse_proxy_limited_total{limit=\"location_streams\"} %"
               APR_UINT64_T_FMT "\n", c.limited_location);
    ap_rprintf(r, "sse_proxy_limited_total{limit=\"reconnect_rate\"} %"
               APR_UINT64_T_FMT "\n", c.limited_rate);
    ap_rprintf(r, "# HELP sse_proxy_limit_untracked_total Stream requests "
               "let in uncounted: the limits table was full.\n"
               "# TYPE sse_proxy_limit_untracked_total counter\n"
               "sse_proxy_limit_untracked_total %" APR_UINT64_T_FMT "\n",
               c.untracked);
    ap_rprintf(r, "# HELP sse_proxy_limit_reclaimed_total Streams of "
               "children that exited without ending them, dropped from the "
               "counts.\n# TYPE sse_proxy_limit_reclaimed_total counter\n"
               "sse_proxy_limit_reclaimed_total %" APR_UINT64_T_FMT "\n",
               c.reclaimed);
    ap_rprintf(r, "# HELP sse_proxy_limit_keys Client keys and locations "
               "the limits table holds.\n# TYPE sse_proxy_limit_keys gauge\n"
               "sse_proxy_limit_keys %u\n", keys);
}

void sse_limits_status_html(request_rec *r)
{
    sse_limit_counters c;
    sse_limits_top top[TOP];
    apr_uint32_t keys;
    int n, i;

    if (!sse_limits_snapshot(&c, &keys, top, TOP, &n))
        return;
    ap_rprintf(r, "<h2>Limits</h2>\n<table><tr><th>told to come back: "
               "client's streams</th><th>location's streams</th>"
               "<th>reconnect rate</th><th>let in uncounted (table full)"
               "</th><th>streams of exited children dropped</th>"
               "<th>keys held</th></tr>\n<tr><td>%" APR_UINT64_T_FMT
               "</td><td>%" APR_UINT64_T_FMT "</td><td>%" APR_UINT64_T_FMT
               "</td><td>%" APR_UINT64_T_FMT "</td><td>%" APR_UINT64_T_FMT
               "</td><td>%u of %d</td></tr></table>\n", c.limited_client,
               c.limited_location, c.limited_rate, c.untracked, c.reclaimed,
               keys, SSE_LIMIT_SLOTS);
    if (!n)
        return;
    ap_rputs("<table><tr><th class=l>key</th><th class=l>kind</th>"
             "<th>open streams</th><th>strikes</th></tr>\n", r);
    for (i = 0; i < n; i++)
        ap_rprintf(r, "<tr><td class=l>%s</td><td class=l>%s</td><td>%u"
                   "</td><td>%u</td></tr>\n",
                   ap_escape_html2(r->pool, top[i].label, 1),
                   top[i].location ? "location" : "client", top[i].open,
                   top[i].strikes);
    ap_rputs("</table>\n", r);
}
