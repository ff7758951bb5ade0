/* Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0 */

/* What a run reports: the summary on stderr, the same as one JSON object
 * (bench/run.py reads it), the per-second timeline and the latency
 * histogram as CSV. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>

#include "load.h"
#include "load_hist.h"
#include "load_report.h"

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* ------------------------------------------------------------------ */
/* Output                                                               */
/* ------------------------------------------------------------------ */

static void json_hist_us(FILE *f, const char *name, const struct hist *h)
{
    if (h->count == 0) {
        fprintf(f, "\"%s\":{\"count\":0,\"mean\":null,\"min\":null,\"p50\":null,"
                "\"p90\":null,\"p99\":null,\"p999\":null,\"max\":null}", name);
        return;
    }
    fprintf(f, "\"%s\":{\"count\":%" PRIu64 ",\"mean\":%.1f,\"min\":%.1f,"
            "\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f}",
            name, h->count, h->sum / (double)h->count / 1e3,
            (double)h->min / 1e3, hist_quantile(h, 0.5) / 1e3,
            hist_quantile(h, 0.9) / 1e3, hist_quantile(h, 0.99) / 1e3,
            hist_quantile(h, 0.999) / 1e3, (double)h->max / 1e3);
}

static void json_hist_ms(FILE *f, const char *name, const struct hist *h)
{
    if (h->count == 0) {
        fprintf(f, "\"%s\":{\"count\":0,\"p50\":null,\"p99\":null,"
                "\"max\":null}", name);
        return;
    }
    fprintf(f, "\"%s\":{\"count\":%" PRIu64 ",\"p50\":%.3f,\"p99\":%.3f,"
            "\"max\":%.3f}", name, h->count, hist_quantile(h, 0.5) / 1e6,
            hist_quantile(h, 0.99) / 1e6, (double)h->max / 1e6);
}

static void json_statuses(FILE *f)
{
    int s, first = 1;

    fputs("\"responses_by_status\":{", f);
    for (s = 0; s < MAX_STATUS; s++) {
        if (!st.responses[s])
            continue;
        fprintf(f, "%s\"%d\":%" PRIu64, first ? "" : ",", s, st.responses[s]);
        first = 0;
    }
    fputs("},", f);
}

struct summary {
    double wall_s, ramp_s, window_s;
    double user_s, sys_s, win_user_s, win_sys_s;
    uint64_t open_at_end, streaming_at_end, breaks_pending;
};

static void json_escaped(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;

        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void write_json(FILE *f, const struct summary *s)
{
    double window = s->window_s > 0 ? s->window_s : 0;

    fprintf(f, "{\"mode\":\"%s\",\"host\":", mode_names[cfg.mode]);
    json_escaped(f, cfg.host);
    fprintf(f, ",\"port\":%u,\"path\":", cfg.port);
    json_escaped(f, cfg.path);
    fprintf(f, ",\"streams_requested\":%" PRIu32 ",\"streams_established\":%"
            PRIu64 ",\"streams_open_at_end\":%" PRIu64 ",\"connects\":%" PRIu64
            ",\"requests_sent\":%" PRIu64 ",\"peak_requests_per_sec\":%" PRIu64
            ",", cfg.streams, g.established, s->open_at_end, st.connects,
            st.requests, st.peak_requests);
    json_statuses(f);
    fprintf(f, "\"events\":%" PRIu64 ",\"events_total\":%" PRIu64
            ",\"bytes\":%" PRIu64 ",\"bytes_total\":%" PRIu64
            ",\"wire_bytes\":%" PRIu64 ",\"events_per_sec\":%.1f,",
            st.events, st.events_total, st.bytes, st.bytes_total,
            st.wire_bytes, window > 0 ? (double)st.events / window : 0.0);
    json_hist_us(f, "latency_us", &st.latency);
    fputc(',', f);
    json_hist_ms(f, "first_byte_ms", &st.first_byte);
    fputc(',', f);
    json_hist_ms(f, "first_event_ms", &st.first_event);
    fprintf(f, ",\"errors\":{\"connect_refused\":%" PRIu64 ",\"reset\":%" PRIu64
            ",\"timeout\":%" PRIu64 ",\"eof_mid_stream\":%" PRIu64
            ",\"empty_reply\":%" PRIu64 ",\"bad_response\":%" PRIu64
            ",\"other\":%" PRIu64 "},", st.refused, st.reset, st.timeout,
            st.eof_mid, st.empty, st.bad, st.other);
    fprintf(f, "\"eventsource\":{\"failed_for_good\":%" PRIu64
            ",\"stopped_204\":%" PRIu64 ",\"reconnects\":%" PRIu64
            ",\"reconnect_interval_ms_mean\":", st.failed_for_good,
            st.stopped_204, st.reconnects);
    if (st.reconnects)
        fprintf(f, "%.1f", st.reconnect_ms_sum / (double)st.reconnects);
    else
        fputs("null", f);
    fprintf(f, ",\"clients_streaming_at_end\":%" PRIu64 ",\"breaks\":%" PRIu64
            ",\"resumes\":%" PRIu64 ",\"resumes_without_id\":%" PRIu64
            ",\"breaks_pending_at_end\":%" PRIu64 "},", s->streaming_at_end,
            st.breaks, st.resumes, st.resumes_without_id, s->breaks_pending);
    fprintf(f, "\"duplicates\":%" PRIu64 ",\"gaps\":%" PRIu64
            ",\"lost_events\":%" PRIu64 ",\"events_without_timestamp\":%" PRIu64
            ",\"negative_latency\":%" PRIu64 ",\"ends_clean\":%" PRIu64 ",",
            st.duplicates, st.gaps, st.lost, st.no_timestamp,
            st.negative_latency, st.ends_clean);
    fprintf(f, "\"ramp_s\":%.3f,\"warmup_s\":%.3f,\"window_s\":%.3f,"
            "\"wall_s\":%.3f,\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,"
            "\"cpu_window_user_s\":%.3f,\"cpu_window_sys_s\":%.3f}\n",
            s->ramp_s, cfg.warmup_s, window, s->wall_s, s->user_s, s->sys_s,
            s->win_user_s, s->win_sys_s);
}

static void write_human(const struct summary *s)
{
    const struct hist *l = &st.latency;
    double window = s->window_s > 0 ? s->window_s : 0;

    fprintf(stderr, "sse-load: mode=%s streams=%" PRIu32 " established=%" PRIu64
            " open_at_end=%" PRIu64 " streaming_at_end=%" PRIu64 "\n",
            mode_names[cfg.mode], cfg.streams, g.established, s->open_at_end,
            s->streaming_at_end);
    fprintf(stderr, "  window %.2f s: %" PRIu64 " events (%.0f/s), %" PRIu64
            " bytes; %" PRIu64 " events in all\n", window, st.events,
            window > 0 ? (double)st.events / window : 0.0, st.bytes,
            st.events_total);
    fprintf(stderr, "  latency us: p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f "
            "max %.1f mean %.1f (n=%" PRIu64 ")\n",
            hist_quantile(l, 0.5) / 1e3, hist_quantile(l, 0.9) / 1e3,
            hist_quantile(l, 0.99) / 1e3, hist_quantile(l, 0.999) / 1e3,
            (double)l->max / 1e3,
            l->count ? l->sum / (double)l->count / 1e3 : 0.0, l->count);
    fprintf(stderr, "  first byte ms: p50 %.2f p99 %.2f; first event ms: "
            "p50 %.2f p99 %.2f\n", hist_quantile(&st.first_byte, 0.5) / 1e6,
            hist_quantile(&st.first_byte, 0.99) / 1e6,
            hist_quantile(&st.first_event, 0.5) / 1e6,
            hist_quantile(&st.first_event, 0.99) / 1e6);
    fprintf(stderr, "  connects %" PRIu64 " requests %" PRIu64 " (peak %" PRIu64
            "/s) reconnects %" PRIu64 " failed_for_good %" PRIu64
            " stopped_204 %" PRIu64 "\n", st.connects, st.requests,
            st.peak_requests, st.reconnects, st.failed_for_good,
            st.stopped_204);
    fprintf(stderr, "  breaks %" PRIu64 " resumed %" PRIu64 " (without "
            "Last-Event-ID %" PRIu64 ", pending at end %" PRIu64 ")\n",
            st.breaks, st.resumes, st.resumes_without_id, s->breaks_pending);
    fprintf(stderr, "  errors: refused %" PRIu64 " reset %" PRIu64 " timeout %"
            PRIu64 " eof_mid %" PRIu64 " empty %" PRIu64 " bad %" PRIu64
            " other %" PRIu64 "; duplicates %" PRIu64 " gaps %" PRIu64 "\n",
            st.refused, st.reset, st.timeout, st.eof_mid, st.empty, st.bad,
            st.other, st.duplicates, st.gaps);
    fprintf(stderr, "  cpu user %.2f s sys %.2f s (window %.2f + %.2f) over "
            "%.2f s wall\n", s->user_s, s->sys_s, s->win_user_s,
            s->win_sys_s, s->wall_s);
}

static int write_csv(const char *path)
{
    FILE *f = fopen(path, "w");
    uint64_t seen = 0;
    unsigned i;

    if (!f)
        return -1;
    fputs("lo_us,hi_us,count,cum_fraction\n", f);
    for (i = 0; i < HIST_BUCKETS; i++) {
        uint64_t lo, hi;

        if (!st.latency.n[i])
            continue;
        seen += st.latency.n[i];
        hist_bounds(i, &lo, &hi);
        fprintf(f, "%.3f,%.3f,%" PRIu64 ",%.6f\n", (double)lo / 1e3,
                (double)(hi + 1) / 1e3, st.latency.n[i],
                (double)seen / (double)st.latency.count);
    }
    return fclose(f);
}

static void summarise(struct summary *s, int64_t now)
{
    struct rusage ru;
    uint32_t i;

    memset(s, 0, sizeof(*s));
    getrusage(RUSAGE_SELF, &ru);
    s->wall_s = (double)(now - g.t0) / (double)NS_PER_S;
    s->ramp_s = g.ramp_end ? (double)(g.ramp_end - g.t0) / (double)NS_PER_S
                           : s->wall_s;
    if (g.window_open)
        s->window_s = (double)(now - g.window_start) / (double)NS_PER_S;
    s->user_s = tv_s(ru.ru_utime);
    s->sys_s = tv_s(ru.ru_stime);
    if (g.window_open) {
        s->win_user_s = s->user_s - tv_s(g.ru_window.ru_utime);
        s->win_sys_s = s->sys_s - tv_s(g.ru_window.ru_stime);
    }
    s->open_at_end = g.open;
    s->streaming_at_end = g.streaming;
    for (i = 0; i < cfg.streams; i++)
        s->breaks_pending += g.clients[i].broken;
}

int open_outputs(void)
{
    if (cfg.timeline_path) {
        g.timeline = fopen(cfg.timeline_path, "w");
        if (!g.timeline) {
            perror(cfg.timeline_path);
            return -1;
        }
        fputs("t_s,streams_open,clients_streaming,requests_sent_in_second,"
              "events_in_second,connect_errors_in_second\n", g.timeline);
    }
    if (cfg.json_path) {
        g.json = fopen(cfg.json_path, "w");
        if (!g.json) {
            perror(cfg.json_path);
            return -1;
        }
    }
    return 0;
}

int finish(void)
{
    struct summary s;
    int rc = 0;

    summarise(&s, sse_mono_ns());
    write_human(&s);
    if (!cfg.quiet)
        write_json(stdout, &s);
    if (g.json) {
        write_json(g.json, &s);
        if (fclose(g.json) != 0) {
            perror(cfg.json_path);
            rc = 1;
        }
    }
    if (g.timeline && fclose(g.timeline) != 0) {
        perror(cfg.timeline_path);
        rc = 1;
    }
    if (cfg.csv_path && write_csv(cfg.csv_path) != 0) {
        perror(cfg.csv_path);
        rc = 1;
    }
    return rc;
}
