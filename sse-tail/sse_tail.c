/* Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0 */

/*
 * sse-tail: an EventSource client for scripts.  Prints the events of one
 * stream and reconnects after failures by libssepolicy's classified,
 * quality-scaled, jittered backoff, resuming with Last-Event-ID.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "ssepolicy.h"
#include "sse_tail_args.h"
#include "sse_tail_output.h"
#include "sse_tail_policy.h"

#define PROGRAM "sse-tail"

static const char usage_text[] =
"Usage: sse-tail [options] URL\n"
"Print the events of a Server-Sent Events stream; reconnect after failures\n"
"by the classified, quality-scaled, jittered policy of libssepolicy.\n"
"\n"
"Options:\n"
"  -j, --json               one JSON object per event: {\"id\",\"event\",\"data\"}\n"
"  -H, --header 'N: v'      add a request header (repeatable);\n"
"                           'Last-Event-ID: x' sets the first id to resume from\n"
"      --max-events N       exit 0 after N events\n"
"      --timeout SECONDS    end the whole run after SECONDS (exit 5)\n"
"      --connect-timeout SECONDS  limit each connection attempt\n"
"      --strategy CLASS=SPEC  backoff of one class (repeatable), e.g.\n"
"                           network=initial=5s,max=5m,factor=1.5,attempts=8;\n"
"                           CLASS: network, auth, server, proxy\n"
"      --jitter MODE        none, full, equal (default) or decorrelated\n"
"      --policy-from URL    take strategies and jitter from a proxy's\n"
"                           ?format=policy document (--strategy and\n"
"                           --jitter still override)\n"
"      --http2              use HTTP/2 (ALPN over TLS, Upgrade on http://)\n"
"      --http2-prior-knowledge  HTTP/2 without Upgrade (h2c)\n"
"  -q, --quiet              no reconnect log lines on stderr\n"
"  -V, --version            print versions and exit\n"
"  -h, --help               print this help and exit\n"
"\n"
"A stream that ends without error is reopened after the server's retry:\n"
"time (the policy's first network delay when it sent none); after a failure\n"
"the policy's delay applies, never shorter than the server's retry: or\n"
"Retry-After.  Each scheduled reconnect logs to stderr:\n"
"  [SSE] Smart reconnect: CLASS, quality: GRADE, delay: Nms\n"
"\n"
"Exit status:\n"
"  0  the server answered 204, --max-events were printed, or --help/--version\n"
"  1  runtime error (out of memory, libcurl, writing the output)\n"
"  2  bad input: option, URL, header or strategy\n"
"  3  gave up: a class's max_attempts were used up\n"
"  4  authentication refused (401 or 403)\n"
"  5  --timeout elapsed\n"
"  6  --policy-from: the document could not be fetched or is invalid\n";

/* ------------------------------------------------------------------ */

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts;

    if (ms <= 0)
        return;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ------------------------------------------------------------------ */

typedef struct {
    const sse_tail_args *args;
    ssep_parser   *parser;
    sse_tail_output out;
    uint64_t       events;         /* printed in the whole run */
    /* per connection */
    uint64_t       conn_events;
    uint64_t       started_ms;
    int64_t        latency_ms;     /* -1 until the first response byte */
    long           status;
    int            checked;        /* status and type looked at */
    int            is_stream;      /* 200 text/event-stream */
    int64_t        retry_after_ms; /* Retry-After, -1 if none */
    int            stop;           /* why the write callback aborted */
    int            parse_error;
    int            output_errno;
} tail_state;

enum { STOP_NONE = 0, STOP_MAX_EVENTS, STOP_NOT_STREAM, STOP_OUTPUT };

static int ascii_prefix_nocase(const char *s, size_t len, const char *p)
{
    size_t n = strlen(p), i;

    if (len < n)
        return 0;
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != p[i])
            return 0;
    }
    return 1;
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
    tail_state *st = ud;
    size_t len = size * n;

    if (st->latency_ms < 0)
        st->latency_ms = (int64_t)(now_ms() - st->started_ms);
    if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0)
        st->retry_after_ms = -1; /* a new response head */
    else if (ascii_prefix_nocase(buf, len, "retry-after:")) {
        size_t i = 12;
        int64_t v = 0;
        int digits = 0;
        while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
            i++;
        for (; i < len && buf[i] >= '0' && buf[i] <= '9'; i++, digits++)
            if (v < 86400)
                v = v * 10 + (buf[i] - '0');
        /* delta-seconds only; an HTTP date is ignored */
        if (digits && (i == len || buf[i] == '\r' || buf[i] == '\n'))
            st->retry_after_ms = (v > 86400 ? 86400 : v) * 1000;
    }
    return len;
}

static int content_type_is_sse(const char *ct)
{
    size_t n = strlen("text/event-stream");

    if (!ct || !ascii_prefix_nocase(ct, strlen(ct), "text/event-stream"))
        return 0;
    return ct[n] == 0 || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t';
}

static void check_response(tail_state *st, CURL *h)
{
    char *ct = NULL;

    if (st->checked)
        return;
    st->checked = 1;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st->status);
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
    st->is_stream = st->status == 200 && content_type_is_sse(ct);
}

typedef struct {
    tail_state *st;
    CURL       *h;
} write_ctx;

static size_t on_body(char *buf, size_t size, size_t n, void *ud)
{
    write_ctx *w = ud;
    tail_state *st = w->st;
    size_t len = size * n, used = 0;

    check_response(st, w->h);
    if (!st->is_stream) {
        st->stop = STOP_NOT_STREAM;
        return 0;
    }
    while (used < len) {
        ssep_event ev;
        size_t consumed = 0;
        int rc = ssep_parser_feed(st->parser, buf + used, len - used,
                                  &consumed, &ev);
        used += consumed;
        if (rc < 0) {
            st->parse_error = rc;
            return 0;
        }
        if (rc == SSEP_PARSE_EVENT) {
            sse_tail_event out;
            out.type = ev.type;
            out.type_len = ev.type_len;
            out.data = ev.data;
            out.data_len = ev.data_len;
            out.id = ev.id ? ev.id : "";
            out.id_len = ev.id ? ev.id_len : 0;
            if (sse_tail_print_event(&st->out, stdout, &out) != 0) {
                st->output_errno = errno;
                st->stop = STOP_OUTPUT;
                return 0;
            }
            st->events++;
            st->conn_events++;
            if (st->args->max_events && st->events >= st->args->max_events) {
                st->stop = STOP_MAX_EVENTS;
                return 0;
            }
        }
    }
    return len;
}

/* ------------------------------------------------------------------ */

/* What one connection came to. */
typedef enum {
    END_CLEAN,      /* a stream ended without error: reconnect */
    END_FAILED,     /* classified failure: back off */
    END_NO_CONTENT, /* 204: stop */
    END_AUTH,       /* 401/403 */
    END_MAX_EVENTS,
    END_TIMEOUT,
    END_OUTPUT,     /* stdout failed */
    END_FATAL       /* libcurl could not even start */
} conn_end;

static ssep_condition condition_of(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        return SSEP_COND_CONNECT_REFUSED;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return SSEP_COND_DNS;
    case CURLE_OPERATION_TIMEDOUT:
        return SSEP_COND_READ_TIMEOUT;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
        return SSEP_COND_RESET;
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
        return SSEP_COND_PREMATURE_EOF;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
        return SSEP_COND_TLS;
    default:
        return SSEP_COND_OTHER;
    }
}

typedef struct {
    const sse_tail_args *args;
    struct curl_slist *headers; /* user headers + Accept */
    uint64_t deadline_ms;       /* 0: none */
    ssep_class cls;             /* of the last failure */
    char     last_id[1024];
    int      have_id;
} run_ctx;

static int set_common(CURL *h, const sse_tail_args *a)
{
    CURLcode rc = CURLE_OK;

    rc |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    rc |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    rc |= curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    rc |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    rc |= curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    rc |= curl_easy_setopt(h, CURLOPT_USERAGENT, PROGRAM "/" SSEP_VERSION_STRING);
    if (a->connect_timeout_ms)
        rc |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                               (long)a->connect_timeout_ms);
    if (a->http == SSE_TAIL_HTTP_2)
        rc |= curl_easy_setopt(h, CURLOPT_HTTP_VERSION,
                               (long)CURL_HTTP_VERSION_2_0);
    else if (a->http == SSE_TAIL_HTTP_2_PRIOR)
        rc |= curl_easy_setopt(h, CURLOPT_HTTP_VERSION,
                               (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
    return rc == CURLE_OK ? 0 : -1;
}

/* One connection: open, print events until it ends; *out_rc is libcurl's
 * result. */
static conn_end run_connection(CURL *h, run_ctx *rc, tail_state *st,
                               ssep_condition *cond, int64_t *floor_ms)
{
    struct curl_slist *hdrs = NULL, *l;
    write_ctx w;
    CURLcode res;
    char idh[1100];
    uint64_t now = now_ms();
    int unfinished;

    *cond = SSEP_COND_NONE;
    *floor_ms = -1;
    for (l = rc->headers; l; l = l->next) {
        struct curl_slist *n = curl_slist_append(hdrs, l->data);
        if (!n) {
            curl_slist_free_all(hdrs);
            return END_FATAL;
        }
        hdrs = n;
    }
    if (rc->have_id) {
        struct curl_slist *n;
        snprintf(idh, sizeof(idh), "Last-Event-ID: %s", rc->last_id);
        n = curl_slist_append(hdrs, idh);
        if (!n) {
            curl_slist_free_all(hdrs);
            return END_FATAL;
        }
        hdrs = n;
    }
    curl_easy_reset(h);
    if (set_common(h, rc->args) != 0) {
        curl_slist_free_all(hdrs);
        return END_FATAL;
    }
    st->conn_events = 0;
    st->started_ms = now;
    st->latency_ms = -1;
    st->status = 0;
    st->checked = 0;
    st->is_stream = 0;
    st->retry_after_ms = -1;
    st->stop = STOP_NONE;
    st->parse_error = 0;
    ssep_parser_reset(st->parser);
    w.st = st;
    w.h = h;
    curl_easy_setopt(h, CURLOPT_URL, rc->args->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, st);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &w);
    if (rc->deadline_ms) {
        if (now >= rc->deadline_ms) {
            curl_slist_free_all(hdrs);
            return END_TIMEOUT;
        }
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                         (long)(rc->deadline_ms - now));
    }
    res = curl_easy_perform(h);
    curl_slist_free_all(hdrs);
    if (res != CURLE_COULDNT_CONNECT && res != CURLE_COULDNT_RESOLVE_HOST)
        check_response(st, h);
    unfinished = ssep_parser_finish(st->parser);
    {
        size_t idlen = 0;
        const char *id = ssep_parser_last_id(st->parser, &idlen);
        if (id && idlen < sizeof(rc->last_id) && !memchr(id, 0, idlen)) {
            memcpy(rc->last_id, id, idlen);
            rc->last_id[idlen] = 0;
            rc->have_id = idlen > 0;
        }
    }
    if (st->stop == STOP_MAX_EVENTS)
        return END_MAX_EVENTS;
    if (st->stop == STOP_OUTPUT)
        return END_OUTPUT;
    if (rc->deadline_ms && now_ms() >= rc->deadline_ms
        && (res == CURLE_OPERATION_TIMEDOUT || res == CURLE_OK))
        return END_TIMEOUT;
    *floor_ms = st->retry_after_ms;
    if (st->status == 204)
        return END_NO_CONTENT;
    if (st->status == 401 || st->status == 403)
        return END_AUTH;
    if (st->checked && st->status && !st->is_stream) {
        /* an answer, but not a stream: 4xx/5xx by status, a wrong
         * Content-Type as a failure of its own */
        rc->cls = ssep_classify((int)st->status, SSEP_COND_OTHER,
                                "not an event stream");
        return END_FAILED;
    }
    if (st->parse_error) {
        rc->cls = ssep_classify(0, SSEP_COND_OTHER, NULL);
        return END_FAILED;
    }
    if (res != CURLE_OK) {
        *cond = condition_of(res);
        rc->cls = ssep_classify(st->is_stream ? 0 : (int)st->status, *cond,
                                NULL);
        return END_FAILED;
    }
    if (unfinished) {
        *cond = SSEP_COND_PREMATURE_EOF;
        rc->cls = ssep_classify(0, *cond, NULL);
        return END_FAILED;
    }
    return END_CLEAN;
}

typedef struct {
    char   buf[SSE_TAIL_POLICY_MAX + 1];
    size_t len;
    int    too_big;
} policy_buf;

static size_t on_policy_body(char *buf, size_t size, size_t n, void *ud)
{
    policy_buf *d = ud;
    size_t len = size * n;

    if (len > SSE_TAIL_POLICY_MAX - d->len) {
        d->too_big = 1;
        return 0;
    }
    memcpy(d->buf + d->len, buf, len);
    d->len += len;
    return len;
}

/* --policy-from: fetches the document and reads it onto *p. */
static int fetch_policy(const sse_tail_args *a, ssep_policy *p)
{
    CURL *h = curl_easy_init();
    policy_buf *d = calloc(1, sizeof(*d));
    char err[256];
    long status = 0;
    CURLcode res;
    int ret = -1;

    if (!h || !d) {
        fprintf(stderr, PROGRAM ": out of memory\n");
        goto out;
    }
    if (set_common(h, a) != 0) {
        fprintf(stderr, PROGRAM ": --policy-from: libcurl refused an option\n");
        goto out;
    }
    curl_easy_setopt(h, CURLOPT_URL, a->policy_from);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_policy_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, d);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                     (long)(a->timeout_ms ? a->timeout_ms : 30000));
    res = curl_easy_perform(h);
    if (d->too_big) {
        fprintf(stderr, PROGRAM ": --policy-from: document larger than %d "
                "bytes\n", SSE_TAIL_POLICY_MAX);
        goto out;
    }
    if (res != CURLE_OK) {
        fprintf(stderr, PROGRAM ": --policy-from: %s\n",
                curl_easy_strerror(res));
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        fprintf(stderr, PROGRAM ": --policy-from: HTTP status %ld\n", status);
        goto out;
    }
    if (sse_tail_policy_parse(p, d->buf, d->len, err, sizeof(err)) != 0) {
        fprintf(stderr, PROGRAM ": --policy-from: %s\n", err);
        goto out;
    }
    ret = 0;
out:
    if (h)
        curl_easy_cleanup(h);
    free(d);
    return ret;
}

static void print_version(void)
{
    curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

    printf(PROGRAM " %s (libssepolicy %s, libcurl %s%s)\n",
           SSEP_VERSION_STRING, ssep_version(), v ? v->version : "?",
           v && (v->features & CURL_VERSION_HTTP2) ? ", HTTP/2" : "");
}

static int have_http2(void)
{
    curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

    return v && (v->features & CURL_VERSION_HTTP2);
}

/* The reconnect loop; returns the exit status. */
static int run(const sse_tail_args *a, const ssep_policy *policy,
               struct curl_slist *headers)
{
    CURL *h = curl_easy_init();
    tail_state st;
    run_ctx rc;
    ssep_tracker tracker;
    ssep_parser_limits lim;
    uint64_t rng;
    uint32_t failures = 0;   /* consecutive, since the last event */
    int64_t prev_delay = 0, server_retry;
    int status = SSE_TAIL_EXIT_ERROR;

    memset(&st, 0, sizeof(st));
    memset(&rc, 0, sizeof(rc));
    st.args = a;
    st.out.json = a->json;
    rc.args = a;
    rc.headers = headers;
    if (a->timeout_ms)
        rc.deadline_ms = now_ms() + (uint64_t)a->timeout_ms;
    if (a->initial_id && strlen(a->initial_id) < sizeof(rc.last_id)) {
        strcpy(rc.last_id, a->initial_id);
        rc.have_id = rc.last_id[0] != 0;
    }
    ssep_parser_limits_init(&lim);
    lim.collect = 1;
    st.parser = ssep_parser_create(&lim);
    ssep_tracker_init(&tracker);
    {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ssep_rng_seed(&rng, (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20)
                             ^ (uint64_t)getpid());
    }
    if (!h || !st.parser) {
        fprintf(stderr, PROGRAM ": out of memory\n");
        goto out;
    }
    for (;;) {
        ssep_condition cond;
        int64_t floor_ms, delay;
        const ssep_strategy *s;
        ssep_quality q;
        ssep_class cls;
        conn_end end = run_connection(h, &rc, &st, &cond, &floor_ms);
        uint64_t now = now_ms();

        if (st.latency_ms >= 0 && st.is_stream)
            ssep_tracker_latency(&tracker, (uint32_t)(st.latency_ms > 0xffffffffLL
                                                      ? 0xffffffffLL
                                                      : st.latency_ms));
        if (st.conn_events)
            failures = 0;
        switch (end) {
        case END_MAX_EVENTS:
        case END_NO_CONTENT:
            status = SSE_TAIL_EXIT_OK;
            goto out;
        case END_AUTH:
            fprintf(stderr, PROGRAM ": authentication refused (HTTP %ld)\n",
                    st.status);
            status = SSE_TAIL_EXIT_AUTH;
            goto out;
        case END_TIMEOUT:
            status = SSE_TAIL_EXIT_TIMEOUT;
            goto out;
        case END_OUTPUT:
            if (st.output_errno == EPIPE) {
                status = SSE_TAIL_EXIT_OK;
            } else {
                fprintf(stderr, PROGRAM ": cannot write the output: %s\n",
                        strerror(st.output_errno));
                status = SSE_TAIL_EXIT_ERROR;
            }
            goto out;
        case END_FATAL:
            fprintf(stderr, PROGRAM ": libcurl could not set up a transfer\n");
            status = SSE_TAIL_EXIT_ERROR;
            goto out;
        case END_CLEAN:
        case END_FAILED:
            break;
        }
        ssep_tracker_attempt(&tracker, end == END_FAILED, now);
        q = ssep_tracker_grade(&tracker, now);
        server_retry = ssep_parser_retry(st.parser);
        if (end == END_CLEAN) {
            /* what an EventSource does: wait the server's retry: time */
            cls = SSEP_CLASS_NONE;
            if (server_retry >= 0) {
                delay = server_retry;
            } else {
                s = ssep_policy_strategy(policy, SSEP_CLASS_NETWORK);
                delay = ssep_backoff_jittered(s, 0, q, policy->jitter, 0, &rng);
                if (delay < 0)
                    delay = s->initial_ms;
            }
        } else {
            cls = rc.cls;
            s = ssep_policy_strategy(policy, cls);
            delay = ssep_backoff_jittered(s, failures, q, policy->jitter,
                                          prev_delay, &rng);
            if (delay == SSEP_GIVE_UP) {
                fprintf(stderr, PROGRAM ": giving up after %lu failed attempts "
                        "(%s)\n", (unsigned long)failures + 1,
                        ssep_class_name(cls));
                status = SSE_TAIL_EXIT_GAVE_UP;
                goto out;
            }
            failures++;
            /* the server's own word is a floor, capped at the class's
             * max_ms as the module caps Retry-After */
            if (server_retry > floor_ms)
                floor_ms = server_retry;
            if (floor_ms > delay)
                delay = floor_ms < (int64_t)s->max_ms ? floor_ms
                                                      : (int64_t)s->max_ms;
            prev_delay = delay;
        }
        if (rc.deadline_ms && now + (uint64_t)delay >= rc.deadline_ms) {
            if (!a->quiet)
                fprintf(stderr, "[SSE] Smart reconnect: %s, quality: %s, "
                        "delay: %lldms\n", ssep_class_name(cls),
                        ssep_quality_name(q), (long long)delay);
            sleep_ms((int64_t)(rc.deadline_ms - now));
            status = SSE_TAIL_EXIT_TIMEOUT;
            goto out;
        }
        if (!a->quiet)
            fprintf(stderr, "[SSE] Smart reconnect: %s, quality: %s, "
                    "delay: %lldms\n", ssep_class_name(cls),
                    ssep_quality_name(q), (long long)delay);
        sleep_ms(delay);
    }
out:
    if (h)
        curl_easy_cleanup(h);
    ssep_parser_destroy(st.parser);
    return status;
}

int main(int argc, char **argv)
{
    sse_tail_args a;
    ssep_policy policy;
    struct curl_slist *headers = NULL;
    char err[256];
    size_t i;
    int status;

    if (sse_tail_args_parse(&a, argc, argv, err, sizeof(err)) != 0) {
        fprintf(stderr, PROGRAM ": %s\n", err);
        return SSE_TAIL_EXIT_USAGE;
    }
    if (a.help) {
        fputs(usage_text, stdout);
        return SSE_TAIL_EXIT_OK;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, PROGRAM ": libcurl failed to initialise\n");
        return SSE_TAIL_EXIT_ERROR;
    }
    if (a.version) {
        print_version();
        curl_global_cleanup();
        return SSE_TAIL_EXIT_OK;
    }
    if (a.http != SSE_TAIL_HTTP_DEFAULT && !have_http2()) {
        fprintf(stderr, PROGRAM ": this libcurl has no HTTP/2\n");
        curl_global_cleanup();
        return SSE_TAIL_EXIT_USAGE;
    }
    ssep_policy_init(&policy);
    if (a.policy_from && fetch_policy(&a, &policy) != 0) {
        curl_global_cleanup();
        return SSE_TAIL_EXIT_POLICY;
    }
    if (sse_tail_args_apply_policy(&a, &policy, err, sizeof(err)) != 0) {
        fprintf(stderr, PROGRAM ": %s\n", err);
        curl_global_cleanup();
        return SSE_TAIL_EXIT_USAGE;
    }
    status = SSE_TAIL_EXIT_ERROR;
    for (i = 0; i < a.n_headers; i++) {
        struct curl_slist *n = curl_slist_append(headers, a.headers[i]);
        if (!n)
            goto oom;
        headers = n;
    }
    if (!a.have_accept) {
        struct curl_slist *n = curl_slist_append(headers,
                                                 "Accept: text/event-stream");
        if (!n)
            goto oom;
        headers = n;
    }
    {
        struct curl_slist *n = curl_slist_append(headers,
                                                 "Cache-Control: no-cache");
        if (!n)
            goto oom;
        headers = n;
    }
    signal(SIGPIPE, SIG_IGN);
    status = run(&a, &policy, headers);
    goto done;
oom:
    fprintf(stderr, PROGRAM ": out of memory\n");
done:
    curl_slist_free_all(headers);
    curl_global_cleanup();
    return status;
}
