/* Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0 */

/* The client models: how a client comes back after a stream ends (as an
 * EventSource does with its reconnection time and Last-Event-ID, as a
 * naive fixed-interval poller, or not at all), and what it makes of the
 * events it receives: sequence, gaps, duplicates and latency. */
#include <stdlib.h>
#include <string.h>

#include "load.h"
#include "load_client.h"
#include "load_conn.h"
#include "load_hist.h"

static int in_window(int64_t now)
{
    return now >= g.window_start;
}

/* Reconnection time of an EventSource: the stream's last valid retry
 * field, or the initial value while it never sent one. */
static int64_t eventsource_delay_ms(const struct client *c)
{
    return c->retry_ms >= 0 ? c->retry_ms : (int64_t)cfg.initial_retry_ms;
}

static void schedule_next(struct client *c, enum end_kind k, int64_t now)
{
    int64_t delay_ms;

    switch (cfg.mode) {
    case MODE_NONE:
        c->state = ST_DONE;
        return;
    case MODE_NAIVE:
        delay_ms = (int64_t)cfg.naive_ms;
        break;
    case MODE_EVENTSOURCE:
    default:
        /* "fail the connection": a browser never comes back on its own */
        if (k == END_NOT_SSE) {
            if (c->status == 204)
                st.stopped_204++;
            else
                st.failed_for_good++;
            c->state = ST_DONE;
            return;
        }
        delay_ms = eventsource_delay_ms(c);
        break;
    }
    if (delay_ms > INT64_MAX / NS_PER_MS - now / NS_PER_MS)
        delay_ms = INT64_MAX / NS_PER_MS - now / NS_PER_MS;
    c->state = ST_WAIT;
    timer_set(c, now + delay_ms * NS_PER_MS);
}

static void count_end(const struct client *c, enum end_kind k)
{
    switch (k) {
    case END_CLEAN:   st.ends_clean++; break;
    case END_NOT_SSE: break;
    case END_REFUSED: st.refused++; break;
    case END_RESET:   st.reset++; break;
    case END_TIMEOUT: st.timeout++; break;
    case END_EOF_MID: st.eof_mid++; break;
    case END_EMPTY:   st.empty++; break;
    case END_BAD:     st.bad++; break;
    case END_OTHER:   st.other++; break;
    }
    /* what a storm looks like from outside: attempts that never got an
     * answer */
    if (k != END_CLEAN && k != END_NOT_SSE && !c->got_byte)
        st.sec_conn_errors++;
}

static int set_lei(struct client *c, const char *id, size_t len)
{
    if (len == c->lei_len && c->lei && memcmp(c->lei, id, len) == 0)
        return 0;
    if (len > c->lei_cap) {
        char *np = realloc(c->lei, len);

        if (!np)
            return -1;
        c->lei = np;
        c->lei_cap = len;
    }
    if (len)
        memcpy(c->lei, id, len);
    c->lei_len = len;
    return 0;
}

/* The parser's id is the last event ID *buffer*, which an unfinished event
 * may already have changed; the string a browser resends only takes the
 * buffer's value at a blank line.  So the buffer is adopted here only when
 * the stream stopped at an event boundary (it may end with an id-only
 * block), and otherwise on_event() has kept the string. */
static void stream_closed(struct client *c)
{
    int64_t r = ssep_parser_retry(c->parser);
    const char *id;
    size_t len;

    if (r >= 0)
        c->retry_ms = r;
    if (ssep_parser_finish(c->parser) == 0
        && (id = ssep_parser_last_id(c->parser, &len)))
        set_lei(c, id, len);
    c->streaming = 0;
    g.streaming--;
}

/* A break is a stream that carried the sequence and ended while the client
 * still wanted it; the run's own end is not one (it goes through
 * conn_release() alone).  Mode none never comes back, so it has none. */
static void count_break(struct client *c)
{
    if (!c->got_seq || cfg.mode == MODE_NONE)
        return;
    st.breaks++;
    c->broken = 1;
}

void conn_end(struct client *c, enum end_kind k, int64_t now)
{
    count_end(c, k);
    count_break(c);
    if (c->streaming)
        stream_closed(c);
    conn_release(c);
    c->ended_at = now;
    schedule_next(c, k, now);
}

/* The unsigned number after a key such as "\"t\":" in event data.  A plain
 * search is enough: the origin's events are flat objects whose string
 * values (name, pad) cannot contain a quote. */
static int json_u64(const char *s, size_t n, const char *key, size_t klen,
                    uint64_t *out)
{
    size_t len = 0;
    const char *p = memmem(s, n, key, klen), *end = s + n;

    if (!p)
        return -1;
    p += klen;
    while (p < end && *p == ' ')
        p++;
    while (p + len < end && len < 20 && p[len] >= '0' && p[len] <= '9')
        len++;
    return parse_dec(p, len, out);
}

/* ------------------------------------------------------------------ */
/* Events                                                               */
/* ------------------------------------------------------------------ */

static int event_id(const ssep_event *ev, uint64_t *id)
{
    if (ev->data && json_u64(ev->data, ev->data_len, "\"id\":", 5, id) == 0)
        return 0;
    if (ev->id && parse_dec(ev->id, ev->id_len, id) == 0)
        return 0;
    return -1;
}

static void track_id(struct client *c, const ssep_event *ev)
{
    uint64_t id;

    /* the origin's events are "message"s; a proxy's own named events
     * (such as the policy's "sse-proxy" hint) carry no sequence */
    if (ev->type && (ev->type_len != 7 || memcmp(ev->type, "message", 7)))
        return;
    if (event_id(ev, &id) < 0)
        return;
    /* the first sequence event after a break closes it: resumed if the
     * request asked for what followed the last event seen */
    if (!c->got_seq) {
        c->got_seq = 1;
        if (c->broken) {
            c->broken = 0;
            if (c->sent_lei)
                st.resumes++;
            else
                st.resumes_without_id++;
        }
    }
    if (c->have_id && id <= c->last_id) {
        st.duplicates++;
        return;
    }
    if (c->have_id && id > c->last_id + 1) {
        st.gaps++;
        st.lost += id - c->last_id - 1;
    }
    c->last_id = id;
    c->have_id = 1;
}

static void on_event(struct client *c, const ssep_event *ev)
{
    int64_t now = sse_mono_ns();
    uint64_t t;

    st.events_total++;
    st.sec_events++;
    if (!c->got_event) {
        c->got_event = 1;
        hist_add(&st.first_event, (uint64_t)(now - c->conn_start));
    }
    track_id(c, ev);
    /* No id at all means this connection's parser never saw one; a browser
     * starts each connection's buffer from the string, so it stays. */
    if (ev->id)
        set_lei(c, ev->id, ev->id_len);
    if (!in_window(now))
        return;
    st.events++;
    if (!ev->data || json_u64(ev->data, ev->data_len, "\"t\":", 4, &t) < 0) {
        st.no_timestamp++;
        return;
    }
    if ((int64_t)t > now) {
        st.negative_latency++;
        return;
    }
    hist_add(&st.latency, (uint64_t)(now - (int64_t)t));
}

/* Returns -1 when the connection ended. */
int sse_input(struct client *c, const char *p, size_t n, int64_t now)
{
    st.bytes_total += n;
    if (in_window(now))
        st.bytes += n;
    while (n > 0) {
        ssep_event ev;
        size_t used = 0;
        int rc = ssep_parser_feed(c->parser, p, n, &used, &ev);

        if (rc < 0) {
            conn_end(c, END_BAD, now);
            return -1;
        }
        p += used;
        n -= used;
        if (rc == SSEP_PARSE_EVENT)
            on_event(c, &ev);
    }
    return 0;
}
