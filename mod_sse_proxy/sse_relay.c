/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include "httpd.h"
#include "apr_poll.h"
#include "apr_strings.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_mpm.h"

#include "ssepolicy.h"
#include "sse_channel.h"
#include "sse_nonblock.h"
#include "sse_relay.h"
#include "sse_stats.h"
#include "sse_websocket.h"
#include "sse_ws_frame.h"

APLOG_USE_MODULE(sse_proxy);

#define READ_CHUNK (64 * 1024)
/* What one turn of a stream relays at most before its thread goes on to
 * the next ready stream: two backend reads.  A saturating stream then
 * holds a worker for a fraction of a millisecond at a time, and a stream
 * that just became ready waits for the ones ahead of it in the queue,
 * not for their whole backlog. */
#define SLICE (2 * READ_CHUNK)
/* The slice of a turn on the stream watcher's thread, which every
 * waiting stream of the child needs: a stream that has more goes on on a
 * worker, and so do its next turns until one is light again. */
#define LIGHT_TURN (8 * 1024)
/* How often a quiet stream looks whether httpd is stopping. */
#define STATE_CHECK apr_time_from_sec(1)
static const char heartbeat_line[] = ": heartbeat\n\n";

struct sse_relay {
    request_rec        *r;
    conn_rec           *origin;
    proxy_conn_rec     *backend;
    const sse_dir_conf *conf;
    sse_body            body;
    ssep_parser        *parser;   /* NULL when relaying a non-SSE answer */
    apr_bucket_brigade *in, *out;
    apr_socket_t       *client_sock; /* NULL: not watched (HTTP/2, data) */
    sse_nonblock       *nb;          /* NULL: writes may block (HTTP/2) */
    /* Since when output waits for a client that drained nothing: 0 when
     * none waits. */
    apr_time_t          write_stalled;
    apr_size_t          slice_left;
    apr_time_t          last_backend;
    apr_time_t          last_heartbeat;
    apr_size_t          unflushed;
    int                 complete_events; /* unflushed bytes end events */
    /* added to the shared counters once per flush: an atomic add per
     * event on a line every child writes would cost more than the relay */
    apr_uint64_t        stat_events, stat_bytes;
    apr_int64_t         initial_retry;
    int                 keepalive;    /* the backend allows reuse */
    /* A short read leaves no backend bytes above the socket */
    int                 short_read_drains;
    int                 parser_failed;
    int                 stopped_rc;   /* 0: the body ended, -1: res->end */
    /* The response's end may wait for the client without a thread: the
     * writes stay non-blocking after sse_relay_finish(). */
    int                 tail_waits;
    sse_relay_result   *res;
    sse_relay_result    own_result;
    /* Non-NULL on a WebSocket: events go out as frames, heartbeats as
     * pings, and the client's socket carries its frames. */
    sse_ws             *ws;
    /* Resuming a broken backend stream (NULL resumer: never). */
    const sse_relay_resumer *resumer;
    void               *resumer_baton;
    int                 resuming;     /* no backend until resume_at */
    apr_time_t          resume_at;
    sse_end_reason      broke_end;    /* the end if the resume gives up */
    apr_status_t        broke_error;
    const char         *resume_id;    /* the last id the client got */
    /* After a resume, until the first new event: events the backend
     * replays are dropped, so each is held until its id is known. */
    int                 skipping;
    apr_bucket_brigade *held;
    /* A shared stream's founder (SSEProxyShare): each event it reads goes
     * to the channel too, and the backend is read at the backend's pace,
     * not its client's.  Once its own client is gone (or dropped for
     * falling behind) it goes on headless while the channel has
     * followers, and for the grace time after the last left. */
    sse_channel        *channel;
    int                 headless;
    apr_time_t          headless_since;
    apr_interval_time_t grace;
    apr_off_t           founder_backlog; /* most output its client may owe */
    /* A follower: its events come from a channel, not from a backend. */
    sse_feed           *feed;
    /* The turn runs on the stream watcher's thread, which must not wait:
     * a break is left for a worker (broke_pending), which goes on from
     * there. */
    int                 on_watcher;
    int                 broke_pending;
    int                 busy;         /* its last turn was not light */
};
typedef struct sse_relay relay;

const char *sse_end_name(sse_end_reason why)
{
    switch (why) {
    case SSE_END_NONE:      return "none";
    case SSE_END_BACKEND:   return "backend";
    case SSE_END_CLIENT:    return "client";
    case SSE_END_IDLE:      return "idle";
    case SSE_END_OVERSIZE:  return "oversize";
    case SSE_END_PREMATURE: return "premature";
    case SSE_END_ERROR:     return "error";
    case SSE_END_SHUTDOWN:  return "shutdown";
    }
    return "unknown";
}

static sse_relay_state stop(relay *rl, int rc)
{
    rl->stopped_rc = rc;
    return SSE_RELAY_DONE;
}

static apr_status_t parser_cleanup(void *data)
{
    ssep_parser_destroy(data);
    return APR_SUCCESS;
}

/* Passes what is in the output brigade, with a FLUSH when asked.  Returns
 * 0, or -1 when the client is gone. */
static void go_headless(relay *rl, const char *why);

static void note_behind(relay *rl)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, rl->r,
                  "SSE00096: client fell behind its shared stream by more "
                  "than the ring holds (SSEProxyReplay); dropping it");
    SSE_STAT_ADD(shared_dropped, 1);
}

static int pass_out(relay *rl, int flush)
{
    conn_rec *c = rl->r->connection;
    apr_status_t rv;

    apr_uint64_t passed_events = rl->stat_events;

    if (rl->headless) {
        apr_brigade_cleanup(rl->out);
        rl->unflushed = 0;
        rl->complete_events = 0;
        rl->stat_events = rl->stat_bytes = 0;
        return 0;
    }
    if (flush) {
        APR_BRIGADE_INSERT_TAIL(rl->out,
                                apr_bucket_flush_create(c->bucket_alloc));
        rl->unflushed = 0;
        rl->complete_events = 0;
    }
    if (rl->stat_events) {
        SSE_STAT_ADD(events, rl->stat_events);
        rl->stat_events = 0;
    }
    if (rl->stat_bytes) {
        SSE_STAT_ADD(bytes, rl->stat_bytes);
        rl->stat_bytes = 0;
    }
    if (APR_BRIGADE_EMPTY(rl->out))
        return 0;
    rv = ap_pass_brigade(rl->r->output_filters, rl->out);
    apr_brigade_cleanup(rl->out);
    if ((rv != APR_SUCCESS || c->aborted) && rl->channel) {
        go_headless(rl, "its client left");
        return 0;
    }
    if (rv != APR_SUCCESS || c->aborted) {
        /* Without the non-blocking filter (HTTP/2), a client that stops
         * reading blocks the write for Timeout at most; its stream is
         * then dropped. */
        if (APR_STATUS_IS_TIMEUP(rv))
            ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, rl->r,
                          "SSE00025: client not reading for Timeout; "
                          "dropping the stream");
        rl->res->end = SSE_END_CLIENT;
        return -1;
    }
    if (rl->nb && sse_nonblock_pending(rl->nb)) {
        if (!rl->write_stalled) {
            rl->write_stalled = apr_time_now();
            SSE_STAT_ADD(streams_held, 1);
        }
        /* the others are not held back for it: it falls behind on its
         * own, as far as the ring reaches */
        if (rl->channel
            && sse_nonblock_pending_bytes(rl->nb) > rl->founder_backlog) {
            note_behind(rl);
            go_headless(rl, "its client fell behind the ring");
            return 0;
        }
    }
    else if (rl->write_stalled) {
        rl->write_stalled = 0;
        SSE_STAT_ADD(streams_held, -1);
    }
    /* the events passed on here arrived with the last backend read */
    if (passed_events)
        sse_latency_record(apr_time_now() - rl->last_backend,
                           passed_events);
    return 0;
}

/* Lines of our own (heartbeats, retry hints): copied, and not counted
 * as relayed bytes. */
static void append(relay *rl, const char *data, apr_size_t len)
{
    if (!len)
        return;
    apr_brigade_write(rl->out, NULL, NULL, data, len);
    rl->unflushed += len;
}

/* Backend bytes go out without a copy: the bucket points into the read
 * brigade's data, and is always passed on (the output filters set aside
 * whatever they cannot write at once) before that brigade is emptied. */
static void append_backend(relay *rl, const char *data, apr_size_t len)
{
    if (!len)
        return;
    APR_BRIGADE_INSERT_TAIL(rl->out,
        apr_bucket_transient_create(data, len,
                                    rl->r->connection->bucket_alloc));
    rl->unflushed += len;
    rl->res->bytes += len;
    rl->stat_bytes += len;
}

/* One span of body payload: cut into events, each flushed as it ends. */
/* Bytes of an event whose id is not known yet, copied: the read
 * brigade is reused before the event may end. */
static void hold(relay *rl, const char *data, apr_size_t len)
{
    if (len)
        apr_brigade_write(rl->held, NULL, NULL, data, len);
}

/* What is held goes to the client after all. */
static void release_held(relay *rl)
{
    apr_off_t len = 0;

    apr_brigade_length(rl->held, 0, &len);
    if (rl->channel) {
        apr_bucket *b;

        for (b = APR_BRIGADE_FIRST(rl->held);
             b != APR_BRIGADE_SENTINEL(rl->held); b = APR_BUCKET_NEXT(b)) {
            const char *data;
            apr_size_t n;

            if (apr_bucket_read(b, &data, &n, APR_BLOCK_READ)
                == APR_SUCCESS)
                sse_channel_write(rl->channel, data, n);
        }
    }
    APR_BRIGADE_CONCAT(rl->out, rl->held);
    rl->unflushed += (apr_size_t)len;
    rl->res->bytes += (apr_uint64_t)len;
    rl->stat_bytes += (apr_uint64_t)len;
}

/* Decimal ids are ordered; others can only be matched. */
static int decimal_id(const char *id, apr_size_t len, apr_uint64_t *out)
{
    apr_uint64_t v = 0;
    apr_size_t i;

    if (!len || len > 18)
        return 0;
    for (i = 0; i < len; i++) {
        if (id[i] < '0' || id[i] > '9')
            return 0;
        v = v * 10 + (apr_uint64_t)(id[i] - '0');
    }
    *out = v;
    return 1;
}

/* The skip rule, for the event just dispatched after a resume: with
 * decimal ids, an event numbered up to the client's last id is a replay;
 * otherwise only the event carrying that very id is (a backend that
 * starts again at the last id it was given), and whatever follows it is
 * new.  Ends the skip phase at the first new event. */
static int replayed(relay *rl)
{
    apr_size_t len = 0, last_len = strlen(rl->resume_id);
    const char *id = ssep_parser_last_id(rl->parser, &len);
    apr_uint64_t a, b;
    int skip;

    if (!id)
        skip = 0;
    else if (decimal_id(id, len, &a) && decimal_id(rl->resume_id, last_len,
                                                    &b))
        skip = a <= b;
    else
        skip = len == last_len && !memcmp(id, rl->resume_id, len);
    if (!skip || !decimal_id(rl->resume_id, last_len, &b))
        rl->skipping = 0;
    return skip;
}

static void count_events(relay *rl, apr_size_t n)
{
    if (!n)
        return;
    if (rl->res->events == 0) {
        SSE_STAT_ADD(first_event_us,
                     (apr_uint64_t)(apr_time_now() - rl->r->request_time));
        SSE_STAT_ADD(first_events, 1);
    }
    rl->res->events += n;
    rl->stat_events += n;
    /* flushed at the end of this read: every event of it is already
     * here, so none waits for anything */
    rl->complete_events = 1;
}

static int relay_payload(relay *rl, const char *data, apr_size_t len)
{
    apr_size_t off = 0;

    if (!rl->parser) {
        append_backend(rl, data, len);
        return 0;
    }
    while (off < len) {
        ssep_event ev;
        apr_size_t used;
        int rc = ssep_parser_feed(rl->parser, data + off, len - off, &used,
                                  &ev);

        if (rl->channel && !rl->skipping)
            sse_channel_write(rl->channel, data + off, used);
        if (rl->skipping) {
            hold(rl, data + off, used);
        } else if (rl->ws) {
            rl->res->bytes += used;
            rl->stat_bytes += used;
        } else {
            append_backend(rl, data + off, used);
        }
        off += used;
        if (rl->skipping && rc == SSEP_PARSE_EVENT) {
            int skip = replayed(rl);

            if (skip) {
                apr_brigade_cleanup(rl->held);
                continue;
            }
            release_held(rl);
        } else if (rl->skipping && rc == SSEP_PARSE_MORE
                   && ssep_parser_at_boundary(rl->parser)) {
            /* comments and blank lines: nothing to match them by */
            release_held(rl);
        }
        if (rc == SSEP_PARSE_EVENT) {
            if (rl->channel) {
                apr_size_t id_len = 0;
                const char *id = ssep_parser_last_id(rl->parser, &id_len);

                sse_channel_publish(rl->channel, id, id_len,
                                    rl->last_backend);
            }
            if (rl->ws)
                rl->unflushed += sse_ws_event(rl->ws, rl->out, &ev);
            count_events(rl, 1);
        } else if (rc < 0) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, rl->r,
                          "SSE00020: closing stream: backend sent %s "
                          "(SSEProxyMaxEventSize %" APR_SIZE_T_FMT ")",
                          rc == SSEP_ELINE ? "a line longer than allowed"
                                           : "an event larger than allowed",
                          sse_conf_max_event_size(rl->conf));
            rl->res->end = SSE_END_OVERSIZE;
            return -1;
        }
    }
    return 0;
}

/* What the backend has ready, without blocking, up to a slice.  Returns
 * DRAINED when it would block, 0 at the end of the body, -1 when the
 * stream must end, CLIENT_FULL when output waits for the client (the
 * backend is not read meanwhile: it feels the client's pace), SLICE_USED
 * when the turn is over. */
enum { DRAINED = 1, CLIENT_FULL, SLICE_USED };

static int drain_backend(relay *rl)
{
    for (;;) {
        apr_status_t rv;
        apr_bucket *b;
        apr_off_t got = 0;
        apr_size_t ask;
        int eof = 0;

        if (rl->write_stalled && !rl->channel)
            return CLIENT_FULL;
        if (!rl->slice_left)
            return SLICE_USED;
        ask = rl->slice_left < READ_CHUNK ? rl->slice_left : READ_CHUNK;
        apr_brigade_cleanup(rl->in);
        rv = ap_get_brigade(rl->origin->input_filters, rl->in,
                            AP_MODE_READBYTES, APR_NONBLOCK_READ, ask);
        if (APR_STATUS_IS_EAGAIN(rv)
            || (rv == APR_SUCCESS && APR_BRIGADE_EMPTY(rl->in)))
            return DRAINED;
        if (APR_STATUS_IS_EOF(rv)) {
            eof = 1;
        } else if (rv != APR_SUCCESS) {
            rl->res->end = SSE_END_ERROR;
            rl->res->backend_error = rv;
            return -1;
        }
        apr_brigade_length(rl->in, 0, &got);
        rl->slice_left -= (apr_size_t)got < rl->slice_left
                          ? (apr_size_t)got : rl->slice_left;
        rl->last_backend = apr_time_now();
        for (b = APR_BRIGADE_FIRST(rl->in);
             !eof && b != APR_BRIGADE_SENTINEL(rl->in);
             b = APR_BUCKET_NEXT(b)) {
            const char *data;
            apr_size_t len, off = 0;

            if (APR_BUCKET_IS_EOS(b)) {
                eof = 1;
                break;
            }
            if (APR_BUCKET_IS_METADATA(b))
                continue;
            rv = apr_bucket_read(b, &data, &len, APR_BLOCK_READ);
            if (rv != APR_SUCCESS) {
                rl->res->end = SSE_END_ERROR;
                rl->res->backend_error = rv;
                return -1;
            }
            while (off < len) {
                const char *span;
                apr_size_t used, span_len;
                sse_body_status st = sse_body_next(&rl->body, data + off,
                                                   len - off, &used, &span,
                                                   &span_len);
                off += used;
                if (st == SSE_BODY_BAD) {
                    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, rl->r,
                                  "SSE00021: malformed chunked body from "
                                  "backend");
                    rl->res->end = SSE_END_ERROR;
                    return -1;
                }
                if (span_len && relay_payload(rl, span, span_len) < 0)
                    return -1;
                if (st == SSE_BODY_DONE || (used == 0 && span_len == 0))
                    break;
            }
            if (rl->body.done)
                return 0;
        }
        /* One flush per read: the events that arrived together leave
         * together, in one chunk (one DATA frame on HTTP/2).  A partial
         * event is passed on too (not flushed yet): the read brigade its
         * bytes point into is about to be reused. */
        if (rl->unflushed && pass_out(rl, rl->complete_events) < 0)
            return -1;
        if (eof) {
            if (rl->body.framing == SSE_BODY_CLOSE)
                return 0;
            rl->res->end = SSE_END_PREMATURE;
            return -1;
        }
        /* One read less per turn: the read that would only say EAGAIN.
         * What arrives later wakes the watch this stream re-arms. */
        if (rl->short_read_drains && (apr_size_t)got < ask)
            return DRAINED;
    }
}

/* A follower whose next event has left the ring: it is dropped, and
 * what is set aside for it goes nowhere (its reconnection resumes from
 * the ring or the backend).  Returns -1. */
static int fell_behind(relay *rl)
{
    note_behind(rl);
    rl->r->connection->aborted = 1;
    rl->res->end = SSE_END_CLIENT;
    return -1;
}

/* A follower's drain: what the channel has that it has not, up to a
 * slice, passed on as it is (the ring holds whole events), or cut into
 * events by its own parser for a WebSocket, whose frames need the
 * fields.  Returns as drain_backend() does. */
static int drain_feed(relay *rl)
{
    for (;;) {
        apr_bucket *b;
        apr_time_t read_at = 0;
        apr_off_t got = 0;
        apr_size_t events = 0;
        int rc;

        if (rl->write_stalled)
            return CLIENT_FULL;
        if (!rl->slice_left)
            return SLICE_USED;
        apr_brigade_cleanup(rl->in);
        rc = sse_feed_read(rl->feed, rl->in, rl->slice_left, &read_at,
                           &events);
        if (rc == SSE_FEED_NONE)
            return DRAINED;
        if (rc == SSE_FEED_BEHIND)
            return fell_behind(rl);
        if (rc == SSE_FEED_END) {
            apr_int64_t hint;
            const char *cls;

            sse_feed_end(rl->feed, &rl->res->end, &hint, &cls);
            /* a channel that outlived its grace ended cleanly for it */
            if (rl->res->end == SSE_END_BACKEND
                || rl->res->end == SSE_END_CLIENT)
                return 0;
            return -1;
        }
        apr_brigade_length(rl->in, 0, &got);
        rl->slice_left -= (apr_size_t)got < rl->slice_left
                          ? (apr_size_t)got : rl->slice_left;
        rl->last_backend = read_at;
        if (!rl->ws) {
            /* whole events, as they are: no parsing, no copy */
            APR_BRIGADE_CONCAT(rl->out, rl->in);
            rl->unflushed += (apr_size_t)got;
            rl->res->bytes += (apr_uint64_t)got;
            rl->stat_bytes += (apr_uint64_t)got;
            count_events(rl, events);
        }
        for (b = APR_BRIGADE_FIRST(rl->in); b != APR_BRIGADE_SENTINEL(rl->in);
             b = APR_BUCKET_NEXT(b)) {
            const char *data;
            apr_size_t len;

            if (apr_bucket_read(b, &data, &len, APR_BLOCK_READ)
                != APR_SUCCESS
                || relay_payload(rl, data, len) < 0)
                return -1;
        }
        if (rl->unflushed && pass_out(rl, rl->complete_events) < 0)
            return -1;
    }
}

int sse_mpm_stopping(void)
{
    int state = AP_MPMQ_RUNNING;

    return ap_mpm_query(AP_MPMQ_MPM_STATE, &state) == APR_SUCCESS
           && state == AP_MPMQ_STOPPING;
}

static apr_interval_time_t until(apr_time_t deadline, apr_time_t now)
{
    return deadline > now ? deadline - now : 0;
}

/* A plain (not event-stream) answer waits for its backend as long as
 * mod_proxy_http would: the worker's timeout, else the server's. */
static apr_interval_time_t plain_timeout(const relay *rl)
{
    return rl->backend->worker->s->timeout_set
           ? rl->backend->worker->s->timeout
           : rl->r->server->timeout;
}

/* Heartbeats count from the backend's last bytes or the last heartbeat. */
static apr_time_t next_heartbeat(const relay *rl, apr_interval_time_t hb)
{
    return (rl->last_backend > rl->last_heartbeat ? rl->last_backend
                                                  : rl->last_heartbeat) + hb;
}

/* When the stream must be looked at again even if nothing arrives: the
 * next heartbeat or the idle deadline, whichever comes first; 0 for
 * never. */
/* How long a client may drain nothing before its stream is dropped. */
static apr_interval_time_t write_timeout(const relay *rl)
{
    return rl->r->server->timeout;
}

apr_time_t sse_relay_deadline(const sse_relay *rl)
{
    apr_interval_time_t hb = rl->parser ? sse_conf_heartbeat(rl->conf) : 0;
    apr_interval_time_t idle = rl->parser ? sse_conf_idle_timeout(rl->conf)
                                          : 0;
    apr_time_t deadline = 0;

    /* the backend is not read, nor heartbeats sent, while output waits */
    if (rl->write_stalled && !rl->channel)
        return rl->write_stalled + write_timeout(rl);
    if (rl->resuming) {
        /* backend silence is the resume's business, not idle's */
        deadline = rl->resume_at;
        if (hb > 0 && next_heartbeat(rl, hb) < deadline)
            deadline = next_heartbeat(rl, hb);
        return deadline ? deadline : 1;
    }
    if (hb > 0 && !rl->headless)
        deadline = next_heartbeat(rl, hb);
    if (idle > 0 && !rl->feed
        && (!deadline || rl->last_backend + idle < deadline))
        deadline = rl->last_backend + idle;
    if (rl->write_stalled) {
        apr_time_t t = rl->write_stalled + write_timeout(rl);

        if (!deadline || t < deadline)
            deadline = t;
    }
    if (rl->headless) {
        /* whether its followers are all gone, and for how long */
        apr_time_t t = apr_time_now() + STATE_CHECK;

        if (!deadline || t < deadline)
            deadline = t;
    }
    return deadline;
}

/* The client is gone: its stream ends, unless it is a founder's, which
 * goes on headless for the channel.  -1 when the stream ends. */
static int client_left(relay *rl)
{
    if (!rl->channel) {
        rl->res->end = SSE_END_CLIENT;
        return -1;
    }
    go_headless(rl, "its client left");
    return 0;
}

/* What a wait ended with: the client may have left or sent something,
 * httpd may be stopping, the backend may have been silent too long, a
 * heartbeat may be due.  Returns 0 to go on reading, -1 to end. */
static int after_wait(relay *rl, int backend_ready, int client_ready,
                      int timed_out)
{
    apr_interval_time_t hb = rl->parser ? sse_conf_heartbeat(rl->conf) : 0;
    apr_interval_time_t idle = rl->parser ? sse_conf_idle_timeout(rl->conf)
                                          : 0;
    apr_time_t now;

    if (rl->r->connection->aborted && !rl->headless && client_left(rl) < 0)
        return -1;
    if (client_ready && rl->client_sock && rl->ws) {
        int rc = sse_ws_read_client(rl->ws, rl->out);

        if ((pass_out(rl, 1) < 0 || rc < 0) && client_left(rl) < 0)
            return -1;
    } else if (client_ready && rl->client_sock) {
        if (!ap_proxy_is_socket_connected(rl->client_sock)) {
            /* closed: nothing more reaches it, and no lingering close
             * should hold its connection */
            rl->r->connection->aborted = 1;
            if (client_left(rl) < 0)
                return -1;
        }
        /* The client sent data (a pipelined request): it is still there,
         * but its socket can no longer tell us when it leaves.  Writes
         * (heartbeats) will. */
        rl->client_sock = NULL;
    }
    if (sse_mpm_stopping()) {
        rl->res->end = SSE_END_SHUTDOWN;
        return -1;
    }
    now = apr_time_now();
    if (rl->headless) {
        apr_time_t alone = sse_channel_alone_since(rl->channel);

        /* alone since its own client left, at the earliest */
        if (alone && alone < rl->headless_since)
            alone = rl->headless_since;
        if (alone && now - alone >= rl->grace) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, rl->r,
                          "SSE00097: shared stream closed: no client for "
                          "its grace time");
            rl->res->end = SSE_END_CLIENT;
            return -1;
        }
    }
    if (idle > 0 && now - rl->last_backend >= idle && !backend_ready
        && !rl->resuming && !rl->feed) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, rl->r,
                      "SSE00022: ending stream: backend silent for %"
                      APR_TIME_T_FMT "s (SSEProxyIdleTimeout)",
                      apr_time_sec(now - rl->last_backend));
        rl->res->end = SSE_END_IDLE;
        return -1;
    }
    if (!rl->parser && timed_out
        && now - rl->last_backend >= plain_timeout(rl)) {
        rl->res->end = SSE_END_ERROR;
        rl->res->backend_error = APR_TIMEUP;
        return -1;
    }
    if (hb > 0 && !rl->headless && now >= next_heartbeat(rl, hb)) {
        rl->last_heartbeat = now;
        if (rl->ws) {
            /* frames are whole: a ping may go between any two */
            rl->unflushed += sse_ws_ping(rl->ws, rl->out);
            rl->res->heartbeats++;
            SSE_STAT_ADD(heartbeats, 1);
            if (pass_out(rl, 1) < 0)
                return -1;
        }
        /* never inside an event: the client would see it as part of one */
        else if (ssep_parser_at_boundary(rl->parser)) {
            append(rl, heartbeat_line, sizeof(heartbeat_line) - 1);
            rl->res->heartbeats++;
            SSE_STAT_ADD(heartbeats, 1);
            if (pass_out(rl, 1) < 0)
                return -1;
        }
    }
    return 0;
}

/* Output waits for the client: write what its socket takes now.
 * Returns 0 when nothing is left, 1 when output still waits, -1 when the
 * stream must end.  A writable socket means the client drained some:
 * the stall counts from there; a client that drains nothing for Timeout
 * is dropped, and its backend connection closed. */
static int write_waiting(relay *rl, int client_writable, int client_ready)
{
    conn_rec *c = rl->r->connection;
    apr_time_t now;

    if (client_ready && rl->client_sock) {
        if (!ap_proxy_is_socket_connected(rl->client_sock)) {
            rl->res->end = SSE_END_CLIENT;
            return -1;
        }
        rl->client_sock = NULL;   /* it sent data: see after_wait() */
    }
    if (c->aborted || sse_nonblock_write(rl->nb) != APR_SUCCESS) {
        rl->res->end = SSE_END_CLIENT;
        return -1;
    }
    if (sse_mpm_stopping()) {
        /* its retry: hint would wait behind what it does not read: the
         * connection is closed instead, and no worker waits for it */
        if (sse_nonblock_pending(rl->nb))
            c->aborted = 1;
        rl->res->end = SSE_END_SHUTDOWN;
        return -1;
    }
    now = apr_time_now();
    if (!sse_nonblock_pending(rl->nb)) {
        rl->write_stalled = 0;
        SSE_STAT_ADD(streams_held, -1);
        return 0;
    }
    if (client_writable)
        rl->write_stalled = now;
    else if (now - rl->write_stalled >= write_timeout(rl)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, rl->r,
                      "SSE00025: client not reading for Timeout; "
                      "dropping the stream");
        /* what is set aside goes nowhere: the connection is closed */
        c->aborted = 1;
        rl->res->end = SSE_END_CLIENT;
        return -1;
    }
    return 1;
}

/* A founder waits for its backend even while its client owes output:
 * what it owes is written at its next turn. */
static sse_relay_state stopped_or_waiting(relay *rl)
{
    return rl->write_stalled && !rl->channel ? SSE_RELAY_WRITING
                                             : SSE_RELAY_WAITING;
}

/* What a wait ended with; then the backend is read (a slice of it). */
static sse_relay_state wake(relay *rl, int backend_ready, int client_ready,
                            int client_writable, int timed_out)
{
    if (rl->write_stalled) {
        int rc = write_waiting(rl, client_writable, client_ready);

        if (rc < 0 && rl->channel && rl->res->end == SSE_END_CLIENT) {
            rl->res->end = SSE_END_NONE;
            go_headless(rl, "its client stopped reading");
        }
        else if (rc < 0) {
            return stop(rl, -1);
        }
        else if (rc > 0 && rl->feed && sse_feed_behind(rl->feed)) {
            return stop(rl, fell_behind(rl));
        }
        else if (rc > 0 && !rl->channel) {
            return SSE_RELAY_WRITING;
        }
        client_ready = 0;   /* looked at above */
    }
    if (after_wait(rl, backend_ready, client_ready, timed_out) < 0)
        return stop(rl, -1);
    /* a heartbeat the client could not take */
    if (rl->write_stalled && !rl->channel)
        return SSE_RELAY_WRITING;
    return sse_relay_pump(rl);
}

/* Waits in this thread for the backend or the client, at most until the
 * stream's deadline; then goes on as after a watcher's wait. */
static sse_relay_state wait_for_activity(relay *rl)
{
    apr_pollfd_t pfd[2];
    apr_int32_t n = 0, signalled = 0;
    apr_time_t now = apr_time_now(), deadline = sse_relay_deadline(rl);
    apr_interval_time_t timeout = -1;
    apr_socket_t *client = rl->client_sock;
    apr_status_t rv;
    int backend = -1, cl = -1;

    if (!rl->parser && !rl->write_stalled)
        timeout = until(rl->last_backend + plain_timeout(rl), now);
    if (deadline)
        timeout = until(deadline, now);
    if (timeout < 0 || timeout > STATE_CHECK)
        timeout = STATE_CHECK;
    if (!rl->client_sock && timeout > SSE_CLIENT_CHECK)
        timeout = SSE_CLIENT_CHECK;

    if (rl->feed && !rl->write_stalled) {
        /* news of the channel, then a look at the client's socket */
        int client_ready = 0;

        sse_feed_wait(rl->feed, timeout);
        if (client) {
            apr_pollfd_t one;

            memset(&one, 0, sizeof(one));
            one.p = rl->r->pool;
            one.desc_type = APR_POLL_SOCKET;
            one.desc.s = client;
            one.reqevents = APR_POLLIN;
            client_ready = apr_poll(&one, 1, &signalled, 0) == APR_SUCCESS
                           && signalled;
        }
        return wake(rl, 1, client_ready, 0, 0);
    }
    memset(pfd, 0, sizeof(pfd));
    /* a founder reads its backend whatever its client's pace */
    if ((!rl->write_stalled || rl->channel) && rl->backend) {
        pfd[n].p = rl->r->pool;
        pfd[n].desc_type = APR_POLL_SOCKET;
        pfd[n].desc.s = rl->backend->sock;
        pfd[n].reqevents = APR_POLLIN;
        backend = n++;
    }
    if (rl->write_stalled || !rl->backend)
        client = ap_get_conn_socket(rl->r->connection);
    if (client) {
        pfd[n].p = rl->r->pool;
        pfd[n].desc_type = APR_POLL_SOCKET;
        pfd[n].desc.s = client;
        pfd[n].reqevents = (rl->client_sock ? APR_POLLIN : 0)
                           | (rl->write_stalled ? APR_POLLOUT : 0);
        cl = n++;
    }
    if (!n) {
        /* waiting to resume, with no client socket to watch (HTTP/2) */
        apr_sleep(timeout);
        return wake(rl, 0, 0, 0, 1);
    }
    rv = apr_poll(pfd, n, &signalled, timeout);
    if (rv != APR_SUCCESS && !APR_STATUS_IS_TIMEUP(rv)
        && !APR_STATUS_IS_EINTR(rv)) {
        rl->res->end = SSE_END_ERROR;
        rl->res->backend_error = rv;
        return stop(rl, -1);
    }
    if (rv != APR_SUCCESS)
        return wake(rl, 0, 0, 0, APR_STATUS_IS_TIMEUP(rv));
    return wake(rl, backend >= 0 && pfd[backend].rtnevents,
                cl >= 0 && rl->client_sock
                && (pfd[cl].rtnevents & ~APR_POLLOUT),
                cl >= 0 && (pfd[cl].rtnevents & APR_POLLOUT), 0);
}

/* Whether the backend connection's input filters keep none of the
 * socket's bytes after a read that returned less than asked: httpd's core
 * input filter reads its socket until it would block (or ends) before it
 * returns short, and mod_logio's filter only counts bytes.  Any other
 * filter (mod_ssl's, with decrypted bytes no poll sees) may keep some, so
 * its streams read until EAGAIN. */
static int short_read_drains(conn_rec *origin)
{
    ap_filter_rec_t *logio = ap_get_input_filter_handle("log_input_output");
    ap_filter_t *f;

    for (f = origin->input_filters; f; f = f->next) {
        if (f->frec == ap_core_input_filter_handle)
            return 1;
        if (!logio || f->frec != logio)
            return 0;
    }
    return 0;
}

sse_relay *sse_relay_create(request_rec *r, proxy_conn_rec *backend,
                            const sse_dir_conf *conf,
                            const sse_response *resp,
                            apr_int64_t initial_retry_ms)
{
    relay *rl = apr_pcalloc(r->pool, sizeof(*rl));

    rl->r = r;
    rl->origin = backend ? backend->connection : NULL;
    rl->backend = backend;
    rl->conf = conf;
    rl->res = &rl->own_result;
    rl->in = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    rl->out = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    rl->last_backend = rl->last_heartbeat = apr_time_now();
    rl->initial_retry = -1;
    rl->keepalive = resp->keepalive;
    rl->short_read_drains = rl->origin && short_read_drains(rl->origin);
    sse_body_init(&rl->body, resp->framing, resp->length);
    /* On HTTP/2 the socket belongs to the whole connection, not to this
     * stream; there, a failed heartbeat write tells that the client left. */
    if (!r->connection->master)
        rl->client_sock = ap_get_conn_socket(r->connection);
    rl->nb = sse_nonblock_start(r->connection);

    if (resp->is_event_stream && !r->header_only) {
        ssep_parser_limits lim;
        ssep_parser_limits_init(&lim);
        lim.collect = 0;
        lim.max_line = lim.max_event = sse_conf_max_event_size(conf);
        rl->parser = ssep_parser_create(&lim);
        if (rl->parser)
            apr_pool_cleanup_register(r->pool, rl->parser, parser_cleanup,
                                      apr_pool_cleanup_null);
        else
            rl->parser_failed = 1;
        rl->initial_retry = initial_retry_ms;
    }
    return rl;
}

static void append_retry(relay *rl, apr_int64_t retry_ms)
{
    char line[48];
    int n;

    if (retry_ms < 0 || !rl->parser || rl->ws)
        return;
    /* Mid-line, end the line first; mid-event, no blank line, so that an
     * unfinished event is never completed by us (the client drops it). */
    n = apr_snprintf(line, sizeof(line), "%sretry: %" APR_INT64_T_FMT "\n%s",
                     ssep_parser_at_line_start(rl->parser) ? "" : "\n",
                     retry_ms,
                     ssep_parser_at_boundary(rl->parser) ? "\n" : "");
    append(rl, line, (apr_size_t)n);
}

sse_relay_state sse_relay_begin(sse_relay *rl, sse_relay_result *res)
{
    memset(res, 0, sizeof(*res));
    rl->res = res;
    if (rl->parser_failed) {
        rl->ws = NULL;            /* no 101: the handshake fails */
        res->end = SSE_END_ERROR; /* out of memory */
        return stop(rl, -1);
    }
    if (rl->ws)
        sse_ws_accept(rl->ws, rl->out);
    append_retry(rl, rl->initial_retry);

    /* The head goes out at once: an EventSource is "open" from here, even
     * if the first event is minutes away. */
    if (pass_out(rl, 1) < 0)
        return stop(rl, -1);
    if (rl->body.done)
        return stop(rl, 0);
    return SSE_RELAY_WAITING;
}

void sse_relay_resumable(sse_relay *rl, const sse_relay_resumer *how,
                         void *baton)
{
    rl->resumer = how;
    rl->resumer_baton = baton;
}

/* The client stands between events: after a resume, held bytes were
 * never sent. */
static int client_at_boundary(const relay *rl)
{
    return rl->skipping || ssep_parser_at_boundary(rl->parser);
}

static const char *client_last_id(relay *rl)
{
    apr_size_t len = 0;
    const char *id;

    if (rl->skipping)
        return rl->resume_id;
    id = ssep_parser_last_id(rl->parser, &len);
    return id ? apr_pstrmemdup(rl->r->pool, id, len) : NULL;
}

/* The backend broke off: the stream may go on from another connection
 * if the client stands between events (an unfinished event cannot be
 * taken back from it) and has an id to ask from.  Returns 1 when it
 * waits to resume, with the old connection given up. */
static int break_off(relay *rl)
{
    sse_relay_result *res = rl->res;
    const char *id;
    apr_time_t at;

    if (!rl->resumer || !rl->parser || rl->ws || rl->r->connection->aborted
        || (res->end != SSE_END_PREMATURE && res->end != SSE_END_ERROR)
        || !client_at_boundary(rl) || !(id = client_last_id(rl)))
        return 0;
    /* whole events read before the break go out (the filters copy what
     * they keep), and the read brigade's buckets, of the backend
     * connection's allocator, go before the connection may */
    if (rl->unflushed && pass_out(rl, 1) < 0)
        return 0;
    apr_brigade_cleanup(rl->in);
    at = rl->resumer->broke(rl->resumer_baton, res->end, res->backend_error,
                            id);
    if (!at)
        return 0;
    if (rl->skipping) {
        /* the parser stands in an event the client never saw */
        apr_brigade_cleanup(rl->held);
        ssep_parser_reset(rl->parser);
    }
    rl->resuming = 1;
    rl->resume_at = at;
    rl->resume_id = id;
    rl->broke_end = res->end;
    rl->broke_error = res->backend_error;
    res->end = SSE_END_NONE;
    res->backend_error = APR_SUCCESS;
    rl->backend = NULL;
    rl->origin = NULL;
    return 1;
}

/* A parser that knows no id yet: an event without one is then new, not
 * a replay of the client's last.  Short of memory, the old one starts
 * again (keeping the client's id). */
static void new_stream_parser(relay *rl)
{
    ssep_parser_limits lim;
    ssep_parser *p;

    ssep_parser_limits_init(&lim);
    lim.collect = 0;
    lim.max_line = lim.max_event = sse_conf_max_event_size(rl->conf);
    p = ssep_parser_create(&lim);
    if (!p) {
        ssep_parser_reset(rl->parser);
        return;
    }
    apr_pool_cleanup_run(rl->r->pool, rl->parser, parser_cleanup);
    rl->parser = p;
    apr_pool_cleanup_register(rl->r->pool, p, parser_cleanup,
                              apr_pool_cleanup_null);
}

/* The relay goes on from a new connection's body.  The parser starts
 * afresh, and events are held until the skip rule says whether the
 * backend replays them. */
static void rebind(relay *rl, proxy_conn_rec *backend,
                   const sse_response *resp)
{
    rl->backend = backend;
    rl->origin = backend->connection;
    rl->keepalive = resp->keepalive;
    rl->short_read_drains = short_read_drains(rl->origin);
    sse_body_init(&rl->body, resp->framing, resp->length);
    new_stream_parser(rl);
    if (!rl->held)
        rl->held = apr_brigade_create(rl->r->pool,
                                      rl->r->connection->bucket_alloc);
    rl->skipping = 1;
    rl->resuming = 0;
    rl->last_backend = apr_time_now();
}

/* Waiting to resume: tries when it is time.  1 when a new backend is in
 * place, 0 when the stream goes on waiting, -1 when it ends. */
static int try_again(relay *rl)
{
    proxy_conn_rec *backend = NULL;
    sse_response resp;
    apr_time_t next = 0;
    int rc;

    if (apr_time_now() < rl->resume_at)
        return 0;
    memset(&resp, 0, sizeof(resp));
    rc = rl->resumer->attempt(rl->resumer_baton, rl->resume_id, &backend,
                              &resp, &next);
    if (rc == SSE_RESUME_DONE) {
        rebind(rl, backend, &resp);
        return 1;
    }
    if (rc == SSE_RESUME_LATER) {
        rl->resume_at = next;
        return 0;
    }
    rl->resuming = 0;
    if (rc == SSE_RESUME_CLIENT_GONE) {
        rl->res->end = SSE_END_CLIENT;
    } else {
        rl->res->end = rl->broke_end;
        rl->res->backend_error = rl->broke_error;
    }
    return -1;
}

sse_relay_state sse_relay_pump(sse_relay *rl)
{
    apr_size_t slice;
    int rc;

    for (;;) {
        if (rl->resuming) {
            rc = try_again(rl);
            if (rc < 0)
                return stop(rl, -1);
            if (rc == 0)
                return stopped_or_waiting(rl);
        }
        slice = rl->on_watcher ? LIGHT_TURN : SLICE;
        rl->slice_left = slice;
        if (rl->broke_pending) {
            rl->broke_pending = 0;
            rc = -1;
        }
        else {
            rc = rl->feed ? drain_feed(rl) : drain_backend(rl);
            rl->busy = rc == SLICE_USED
                       || slice - rl->slice_left > LIGHT_TURN;
        }
        /* what follows a break (the member's shared state, a resume's
         * connect) may wait */
        if (rc < 0 && rl->on_watcher) {
            rl->broke_pending = 1;
            return SSE_RELAY_MORE;
        }
        /* a try that is due at once (the first of a break) is made in
         * this turn: a wait for the watcher's next look would be a gap
         * the client sees */
        if (rc >= 0 || !break_off(rl) || rl->resume_at > apr_time_now())
            break;
    }
    if (rl->resuming)
        return stopped_or_waiting(rl);
    if (rc <= 0)
        return stop(rl, rc);
    if (rc == SLICE_USED)
        return SSE_RELAY_MORE;
    /* a partial event waits in the client's socket, not in ours */
    if (rl->unflushed && pass_out(rl, 1) < 0)
        return stop(rl, -1);
    return stopped_or_waiting(rl);
}

sse_relay_state sse_relay_wake(sse_relay *rl, int backend_ready,
                               int client_ready, int client_writable)
{
    return wake(rl, backend_ready, client_ready, client_writable, 0);
}

int sse_relay_may_run_on_watcher(const sse_relay *rl)
{
    return rl->nb && rl->origin && !rl->ws && !rl->channel && !rl->feed
           && !rl->resuming && !rl->write_stalled && !rl->headless
           && !rl->busy;
}

sse_relay_state sse_relay_wake_on_watcher(sse_relay *rl)
{
    sse_relay_state state;

    rl->on_watcher = 1;
    state = wake(rl, 1, 0, 0, 0);
    rl->on_watcher = 0;
    return state;
}

int sse_relay_suspendable(const sse_relay *rl)
{
    return rl->parser != NULL;
}

apr_socket_t *sse_relay_backend_socket(const sse_relay *rl)
{
    return rl->backend ? rl->backend->sock : NULL;
}

apr_socket_t *sse_relay_client_socket(const sse_relay *rl)
{
    return rl->client_sock;
}

apr_socket_t *sse_relay_write_socket(const sse_relay *rl)
{
    return ap_get_conn_socket(rl->r->connection);
}

void sse_relay_follow(sse_relay *rl, sse_relay_state state)
{
    SSE_STAT_ADD(streams_relaying, 1);
    while (state != SSE_RELAY_DONE)
        state = state == SSE_RELAY_MORE ? sse_relay_pump(rl)
                                        : wait_for_activity(rl);
    SSE_STAT_ADD(streams_relaying, -1);
}

void sse_relay_run(sse_relay *rl, sse_relay_result *res)
{
    if (sse_relay_begin(rl, res) == SSE_RELAY_WAITING)
        sse_relay_follow(rl, SSE_RELAY_MORE);
    sse_relay_end(rl);
}

void sse_relay_end(sse_relay *rl)
{
    sse_relay_result *res = rl->res;
    request_rec *r = rl->r;

    if (rl->stopped_rc == 0) {
        res->end = SSE_END_BACKEND;
        if (rl->parser && !ssep_parser_at_boundary(rl->parser)) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          "SSE00023: backend ended the stream inside an "
                          "event; clients drop the unfinished event");
            res->end = SSE_END_PREMATURE;
        }
    }
    /* Nothing may point into the read brigade once it is emptied below:
     * hand what is left to the output filters, or drop it if the client
     * is gone. */
    if (!APR_BRIGADE_EMPTY(rl->out)) {
        if (res->end == SSE_END_CLIENT)
            apr_brigade_cleanup(rl->out);
        else
            pass_out(rl, 0);
    }
    SSE_STAT_ADD(events, rl->stat_events);
    SSE_STAT_ADD(bytes, rl->stat_bytes);
    rl->stat_events = rl->stat_bytes = 0;
    if (rl->write_stalled) {
        rl->write_stalled = 0;
        SSE_STAT_ADD(streams_held, -1);
    }
    /* The read brigade holds buckets of the backend connection's
     * allocator; they must be gone before that connection is released. */
    apr_brigade_cleanup(rl->in);
    if (rl->held)
        apr_brigade_cleanup(rl->held);
    /* none when a resume gave up: the last one was given back then */
    if (rl->backend && (res->end != SSE_END_BACKEND
                        || !sse_body_complete(&rl->body) || !rl->keepalive))
        rl->backend->close = 1;
    /* a follower's end is its channel's, said once by the founder */
    if ((res->end == SSE_END_PREMATURE || res->end == SSE_END_ERROR)
        && !rl->feed)
        ap_log_rerror(APLOG_MARK, APLOG_INFO, res->backend_error, r,
                      "SSE00024: backend stream broke off (%s) after %"
                      APR_UINT64_T_FMT " events", sse_end_name(res->end),
                      res->events);
}

/* A WebSocket's end: the hint as a message, then a close frame whose
 * reason says why and when to come back. */
static void finish_ws(relay *rl, apr_int64_t retry_ms,
                      const char *class_name)
{
    sse_relay_result *res = rl->res;
    int code = res->end == SSE_END_BACKEND || res->end == SSE_END_IDLE
               ? SSE_WS_CLOSE_NORMAL
               : res->end == SSE_END_SHUTDOWN ? SSE_WS_CLOSE_GOING_AWAY
                                              : SSE_WS_CLOSE_ERROR;
    apr_int64_t retry = retry_ms >= 0 ? retry_ms : rl->initial_retry;
    char reason[64];

    if (class_name && retry_ms >= 0) {
        char *data = apr_psprintf(rl->r->pool, "{\"retry\":%"
                                  APR_INT64_T_FMT ",\"class\":\"%s\"}",
                                  retry_ms, class_name);
        rl->unflushed += sse_ws_named_message(rl->ws, rl->out, "sse-proxy",
                                              data);
    }
    if (retry >= 0)
        apr_snprintf(reason, sizeof(reason), "%s; retry=%" APR_INT64_T_FMT,
                     sse_end_name(res->end), retry);
    else
        apr_snprintf(reason, sizeof(reason), "%s", sse_end_name(res->end));
    rl->unflushed += sse_ws_close(rl->ws, rl->out, code, reason);
    APR_BRIGADE_INSERT_TAIL(rl->out,
                            apr_bucket_eos_create(rl->r->connection->bucket_alloc));
    pass_out(rl, 1);
}

/* Its own client is gone (or dropped): the founder goes on for the
 * channel's followers, writing to nobody. */
static void go_headless(relay *rl, const char *why)
{
    conn_rec *c = rl->r->connection;
    apr_socket_t *sock = ap_get_conn_socket(c);

    if (rl->headless)
        return;
    rl->headless = 1;
    rl->headless_since = apr_time_now();
    rl->client_sock = NULL;
    apr_brigade_cleanup(rl->out);
    rl->unflushed = 0;
    if (rl->write_stalled) {
        rl->write_stalled = 0;
        SSE_STAT_ADD(streams_held, -1);
    }
    /* a client that is still there sees the end of what it was sent and
     * reconnects: from the ring, if it still has its last event */
    if (!c->aborted && !c->master && sock)
        apr_socket_shutdown(sock, APR_SHUTDOWN_WRITE);
    c->aborted = 1;
    sse_channel_founder_left(rl->channel);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, rl->r,
                  "SSE00098: the first client of a shared stream is gone "
                  "(%s); the stream goes on for its followers", why);
}

void sse_relay_publish(sse_relay *rl, sse_channel *ch,
                       apr_interval_time_t grace, apr_off_t backlog)
{
    rl->channel = ch;
    rl->grace = grace;
    rl->founder_backlog = backlog;
}

void sse_relay_feed(sse_relay *rl, sse_feed *feed)
{
    rl->feed = feed;
}

void sse_relay_websocket(sse_relay *rl, sse_ws *ws)
{
    ssep_parser_limits lim;

    if (!rl->parser)
        return;
    /* the frames need each event's fields: a parser that keeps them, up
     * to the same limits */
    apr_pool_cleanup_run(rl->r->pool, rl->parser, parser_cleanup);
    ssep_parser_limits_init(&lim);
    lim.collect = 1;
    lim.max_line = lim.max_event = sse_conf_max_event_size(rl->conf);
    rl->parser = ssep_parser_create(&lim);
    if (rl->parser)
        apr_pool_cleanup_register(rl->r->pool, rl->parser, parser_cleanup,
                                  apr_pool_cleanup_null);
    else
        rl->parser_failed = 1;
    rl->ws = ws;
}

void sse_relay_finish(sse_relay *rl, apr_int64_t retry_ms,
                      const char *class_name)
{
    if (rl->res->end == SSE_END_CLIENT || rl->r->connection->aborted) {
        sse_nonblock_stop(rl->nb);
        return;
    }
    if (rl->ws) {
        finish_ws(rl, retry_ms, class_name);
        if (!rl->tail_waits)
            sse_relay_release_output(rl);
        return;
    }
    if (class_name && retry_ms >= 0 && rl->parser
        && ssep_parser_at_boundary(rl->parser)) {
        char *ev = apr_psprintf(rl->r->pool, "event: sse-proxy\ndata: "
                                "{\"retry\":%" APR_INT64_T_FMT ",\"class\":"
                                "\"%s\"}\n\n", retry_ms, class_name);
        append(rl, ev, strlen(ev));
    }
    append_retry(rl, retry_ms);
    /* A stopping child cannot take the connection back for keep-alive;
     * the headers are out, so this no longer affects chunking. */
    if (rl->res->end == SSE_END_SHUTDOWN)
        rl->r->connection->keepalive = AP_CONN_CLOSE;
    /* A clean end for the client: the final chunk on HTTP/1.1, an
     * END_STREAM on HTTP/2, never a truncated chunk. */
    APR_BRIGADE_INSERT_TAIL(rl->out,
                            apr_bucket_eos_create(rl->r->connection->bucket_alloc));
    pass_out(rl, 0);
    if (!rl->tail_waits)
        sse_relay_release_output(rl);
}

void sse_relay_tail_may_wait(sse_relay *rl)
{
    rl->tail_waits = 1;
}

int sse_relay_tail_pending(sse_relay *rl)
{
    if (!rl->nb || rl->r->connection->aborted
        || !sse_nonblock_pending(rl->nb))
        return 0;
    if (!rl->write_stalled) {
        rl->write_stalled = apr_time_now();
        SSE_STAT_ADD(streams_held, 1);
    }
    return 1;
}

sse_relay_state sse_relay_tail(sse_relay *rl, int client_ready,
                               int client_writable)
{
    sse_end_reason end = rl->res->end;
    int rc = write_waiting(rl, client_writable, client_ready);

    rl->res->end = end;   /* already told: the tail changes nothing */
    return rc > 0 ? SSE_RELAY_WRITING : SSE_RELAY_DONE;
}

void sse_relay_release_output(sse_relay *rl)
{
    /* What the client has not taken yet is written by httpd's ordinary
     * means from here (bounded by Timeout). */
    sse_nonblock_stop(rl->nb);
    if (rl->write_stalled) {
        rl->write_stalled = 0;
        SSE_STAT_ADD(streams_held, -1);
    }
}
