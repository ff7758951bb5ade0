/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/*
 * libssepolicy: reconnect/backoff policy and SSE parsing shared by
 * mod_sse_proxy and its clients.
 *
 * Every state struct declared here (ssep_strategy, ssep_tracker,
 * ssep_policy) is fixed-size and free of pointers so that it can live in
 * shared memory or be copied between processes.  The SSE parser is an
 * opaque handle because it owns per-stream buffers.
 *
 * ABI: symbols are versioned by the library soname; only ssep_* is
 * exported.  Thread safety: functions that take a state pointer are not
 * synchronised; the caller serialises access to one state.
 */
#ifndef SSEPOLICY_H
#define SSEPOLICY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(SSEP_STATIC)
#define SSEP_API __attribute__((visibility("default")))
#else
#define SSEP_API
#endif

#define SSEP_VERSION_MAJOR 0
#define SSEP_VERSION_MINOR 1
#define SSEP_VERSION_PATCH 0
#define SSEP_VERSION_STRING "0.1.0"

/* Returns SSEP_VERSION_STRING of the library actually loaded. */
SSEP_API const char *ssep_version(void);

/* ---------------------------------------------------------------------
 * Error codes returned by the library's own functions.
 * ------------------------------------------------------------------ */
#define SSEP_ERRNO_MAP(XX)                                                   \
    XX(OK,             0, "success")                                         \
    XX(EINVAL,        -1, "invalid argument")                                \
    XX(ENOMEM,        -2, "out of memory")                                   \
    XX(ELINE,         -3, "line longer than the configured maximum")         \
    XX(EEVENT,        -4, "event larger than the configured maximum")        \
    XX(ENOSPC,        -5, "output buffer too small")

typedef enum {
#define SSEP_ERR_ENUM(name, val, msg) SSEP_##name = (val),
    SSEP_ERRNO_MAP(SSEP_ERR_ENUM)
#undef SSEP_ERR_ENUM
    SSEP_ERRNO_END_ /* not an error code */
} ssep_errno;

/* Human-readable message / symbolic name ("ELINE") for an error code. */
SSEP_API const char *ssep_strerror(int err);
SSEP_API const char *ssep_err_name(int err);

/* ---------------------------------------------------------------------
 * Error classes and the classifier.
 * ------------------------------------------------------------------ */
typedef enum {
    SSEP_CLASS_NONE = 0,
    SSEP_CLASS_NETWORK,
    SSEP_CLASS_AUTH,
    SSEP_CLASS_SERVER,
    SSEP_CLASS_PROXY,
    SSEP_CLASS_COUNT     /* the number of classes, not a class */
} ssep_class;

/* "NONE", "NETWORK_ERROR", "AUTH_ERROR", "SERVER_ERROR", "PROXY_ERROR";
 * "UNKNOWN" for a value outside the enum. */
SSEP_API const char *ssep_class_name(ssep_class c);
/* Accepts the names above, case-insensitively, with or without the
 * "_ERROR" suffix ("proxy", "PROXY_ERROR").  0 on success, -1 otherwise. */
SSEP_API int ssep_class_parse(const char *name, ssep_class *out);

typedef enum {
    SSEP_COND_NONE = 0,
    SSEP_COND_CONNECT_REFUSED,
    SSEP_COND_CONNECT_TIMEOUT,
    SSEP_COND_DNS,
    SSEP_COND_RESET,
    SSEP_COND_READ_TIMEOUT,
    SSEP_COND_PREMATURE_EOF,
    SSEP_COND_TLS,
    SSEP_COND_OTHER
} ssep_condition;

SSEP_API const char *ssep_condition_name(ssep_condition cond);

/* http_status 0 = no response; message may be NULL.  The rules, in order:
 *   404 -> PROXY; 502/503 -> PROXY; 401/403 -> AUTH; >= 500 -> SERVER;
 *   message contains "network" or "connection" (any case) -> NETWORK;
 *   message contains "stream closed" or "premature" (any case) -> PROXY;
 *   condition PREMATURE_EOF -> PROXY; any other condition -> NETWORK;
 *   a 1xx-3xx status with no condition and no message -> NONE;
 *   anything else -> NETWORK. */
SSEP_API ssep_class ssep_classify(int http_status, ssep_condition cond,
                                  const char *message);

/* ---------------------------------------------------------------------
 * Strategies: one per error class.
 * ------------------------------------------------------------------ */
typedef struct {
    uint32_t initial_ms;
    uint32_t max_ms;
    double   factor;
    uint32_t max_attempts;
} ssep_strategy;

/* The default table; NULL for SSEP_CLASS_NONE or an unknown class. */
SSEP_API const ssep_strategy *ssep_default_strategy(ssep_class c);

/* Parses "initial=5s max=5m factor=1.5 attempts=8" (any subset, any
 * order, separated by blanks or commas; durations take a unit of ms, s, m
 * or h and may be decimal; factor is 1..100; attempts is 1..1000000).
 * Keys not given keep their value in *s.  On success returns 0 and updates
 * *s.  On failure returns -1, leaves *s untouched and writes a message
 * naming the offending token to err (if errlen > 0). */
SSEP_API int ssep_strategy_parse(ssep_strategy *s, const char *text,
                                 char *err, size_t errlen);

/* Checks the invariants the parser enforces (0 < initial <= max,
 * 1 <= factor <= 100, attempts >= 1).  0 when valid, -1 otherwise. */
SSEP_API int ssep_strategy_validate(const ssep_strategy *s);

/* Writes the canonical spec ("initial=5000ms max=300000ms factor=1.5
 * attempts=8") to buf; returns what snprintf would. */
SSEP_API int ssep_strategy_format(const ssep_strategy *s, char *buf,
                                  size_t len);

/* ---------------------------------------------------------------------
 * Connection quality.
 * ------------------------------------------------------------------ */
typedef enum {
    SSEP_Q_EXCELLENT = 0,
    SSEP_Q_GOOD,
    SSEP_Q_FAIR,
    SSEP_Q_POOR
} ssep_quality;
#define SSEP_QUALITY_COUNT 4

SSEP_API const char *ssep_quality_name(ssep_quality q);
/* 0.5, 1.0, 1.5, 3.0; 1.0 for an unknown value. */
SSEP_API double ssep_quality_multiplier(ssep_quality q);
/* The latency threshold of a grade in ms: 100, 500, 2000, 5000. */
SSEP_API uint32_t ssep_quality_threshold_ms(ssep_quality q);

#define SSEP_TRACKER_SAMPLES     10      /* latency samples kept */
#define SSEP_TRACKER_MIN_SAMPLES 3       /* below this the grade is GOOD */
#define SSEP_TRACKER_WINDOW_MS   300000u /* error-rate window: 5 minutes */
#define SSEP_TRACKER_BUCKET_MS   5000u   /* error-rate resolution */
#define SSEP_TRACKER_BUCKETS (SSEP_TRACKER_WINDOW_MS / SSEP_TRACKER_BUCKET_MS)

typedef struct {
    uint64_t slot;          /* now_ms / SSEP_TRACKER_BUCKET_MS, +1 (0 = unused) */
    uint32_t attempts;
    uint32_t failures;
} ssep_tracker_bucket;

/* Fixed size, no pointers: may live in shared memory.  Treat the fields
 * as private; use the functions below. */
typedef struct {
    uint32_t latency_ms[SSEP_TRACKER_SAMPLES];
    uint32_t latency_next;    /* ring position of the next sample */
    uint32_t latency_count;   /* samples held, <= SSEP_TRACKER_SAMPLES */
    uint64_t total_attempts;
    uint64_t total_failures;
    ssep_tracker_bucket buckets[SSEP_TRACKER_BUCKETS];
} ssep_tracker;

SSEP_API void ssep_tracker_init(ssep_tracker *t);
/* Records one latency sample, keeping the last SSEP_TRACKER_SAMPLES. */
SSEP_API void ssep_tracker_latency(ssep_tracker *t, uint32_t ms);
/* Records one attempt's outcome at now_ms (any monotonic millisecond
 * clock, the same one for every call on t). */
SSEP_API void ssep_tracker_attempt(ssep_tracker *t, int failed,
                                   uint64_t now_ms);
/* True mean of the samples held; 0 when there are none. */
SSEP_API double ssep_tracker_mean_latency(const ssep_tracker *t);
/* Number of latency samples held (0..SSEP_TRACKER_SAMPLES). */
SSEP_API uint32_t ssep_tracker_samples(const ssep_tracker *t);
/* failures / attempts over the attempts of the last 5 minutes (at 5 s
 * resolution); 0 when there were none. */
SSEP_API double ssep_tracker_error_rate(const ssep_tracker *t,
                                        uint64_t now_ms);
/* EXCELLENT if mean < 100 ms and rate < 0.1; GOOD if < 500 and < 0.3;
 * FAIR if < 2000 and < 0.5; POOR otherwise.  GOOD while fewer than
 * SSEP_TRACKER_MIN_SAMPLES latency samples are held. */
SSEP_API ssep_quality ssep_tracker_grade(const ssep_tracker *t,
                                         uint64_t now_ms);

/* ---------------------------------------------------------------------
 * Backoff.
 * ------------------------------------------------------------------ */
#define SSEP_GIVE_UP (-1)

/* attempt counts from 0.  floor(min(initial * factor^attempt, max) *
 * multiplier(q)) in ms, or SSEP_GIVE_UP when attempt >= max_attempts or
 * when s is NULL or invalid.  No overflow or undefined behaviour for any
 * input. */
SSEP_API int64_t ssep_backoff_delay(const ssep_strategy *s, uint32_t attempt,
                                    ssep_quality q);

typedef enum {
    SSEP_JITTER_NONE = 0,
    SSEP_JITTER_FULL,
    SSEP_JITTER_EQUAL,
    SSEP_JITTER_DECORRELATED
} ssep_jitter;
#define SSEP_JITTER_COUNT 4

SSEP_API const char *ssep_jitter_name(ssep_jitter j); /* "none", "full", ... */
SSEP_API int ssep_jitter_parse(const char *name, ssep_jitter *out);

/* The same delay d as ssep_backoff_delay, jittered with a caller-owned
 * PRNG state: NONE d; FULL uniform in [0, d]; EQUAL uniform in [d/2, d];
 * DECORRELATED min(max_ms * multiplier, uniform in [initial,
 * max(initial, 3 * prev_ms)]), where prev_ms <= 0 (no previous delay)
 * counts as initial.  SSEP_GIVE_UP as for ssep_backoff_delay.  A NULL rng
 * gives the unjittered delay. */
SSEP_API int64_t ssep_backoff_jittered(const ssep_strategy *s,
                                       uint32_t attempt, ssep_quality q,
                                       ssep_jitter j, int64_t prev_ms,
                                       uint64_t *rng);

/* Seeds a PRNG state (any seed, 0 included, gives a usable state). */
SSEP_API void ssep_rng_seed(uint64_t *rng, uint64_t seed);
/* Next 64 random bits from the state (splitmix64). */
SSEP_API uint64_t ssep_rng_next(uint64_t *rng);
/* Uniform in [lo, hi] without modulo bias; lo when hi <= lo. */
SSEP_API uint64_t ssep_rng_between(uint64_t *rng, uint64_t lo, uint64_t hi);

/* ---------------------------------------------------------------------
 * A whole policy: one strategy per class plus the jitter mode.
 * ------------------------------------------------------------------ */
typedef struct {
    ssep_strategy strategy[SSEP_CLASS_COUNT]; /* index NONE is unused */
    ssep_jitter   jitter;
} ssep_policy;

/* The default table and SSEP_JITTER_EQUAL. */
SSEP_API void ssep_policy_init(ssep_policy *p);
/* The strategy of class c in p; NULL for NONE or an unknown class. */
SSEP_API const ssep_strategy *ssep_policy_strategy(const ssep_policy *p,
                                                   ssep_class c);

/* Writes p as one JSON object to buf (always NUL-terminated when
 * len > 0).  Returns the length the whole document needs, excluding the
 * NUL, like snprintf: the output is complete when the result < len. */
SSEP_API int ssep_policy_json(const ssep_policy *p, char *buf, size_t len);

/* ---------------------------------------------------------------------
 * Incremental SSE parser (WHATWG HTML, "server-sent events").
 * ------------------------------------------------------------------ */
typedef struct ssep_parser ssep_parser;

typedef struct {
    size_t max_line;  /* longest line accepted, bytes, line end excluded */
    size_t max_event; /* largest event accepted: all of its lines' bytes */
    int    collect;   /* 0: only find boundaries and count (O(1) memory);
                       * 1: also keep type, data and id for the caller */
} ssep_parser_limits;

#define SSEP_PARSER_DEFAULT_MAX_LINE  (1024 * 1024)
#define SSEP_PARSER_DEFAULT_MAX_EVENT (1024 * 1024)

/* max_line = max_event = 1 MiB, collect = 1. */
SSEP_API void ssep_parser_limits_init(ssep_parser_limits *l);

/* NULL limits means the defaults; returns NULL when out of memory. */
SSEP_API ssep_parser *ssep_parser_create(const ssep_parser_limits *l);
SSEP_API void ssep_parser_destroy(ssep_parser *p);
/* Back to the state of a new stream (the last event ID string is kept,
 * as an EventSource keeps it across reconnections). */
SSEP_API void ssep_parser_reset(ssep_parser *p);

/* A dispatched event.  The pointers stay valid until the next call on
 * the parser; they are NULL when the parser does not collect.  data is
 * NUL-terminated for convenience and may contain NUL bytes itself. */
typedef struct {
    const char *type;   size_t type_len;  /* "message" if not given */
    const char *data;   size_t data_len;  /* lines joined with LF */
    const char *id;     size_t id_len;    /* the last event id buffer */
    size_t      wire_len; /* bytes of the stream this event spanned */
} ssep_event;

#define SSEP_PARSE_MORE  0  /* input used up, no event completed */
#define SSEP_PARSE_EVENT 1  /* an event was dispatched; see *ev */

/* Feeds len bytes.  Stops right after the line end that dispatches an
 * event: returns SSEP_PARSE_EVENT with *consumed set to the bytes used
 * so far (call again with the rest).  Otherwise returns SSEP_PARSE_MORE
 * with *consumed = len.  Errors (SSEP_ELINE, SSEP_EEVENT) are sticky:
 * the stream cannot be parsed further; *consumed then tells where the
 * limit was crossed. */
SSEP_API int ssep_parser_feed(ssep_parser *p, const void *buf, size_t len,
                              size_t *consumed, ssep_event *ev);

/* Ends the stream: an unfinished event is discarded, as the spec says.
 * Returns 1 when bytes of an unfinished event were discarded. */
SSEP_API int ssep_parser_finish(ssep_parser *p);

/* 1 when the parser stands between events: at the start of a line and
 * with no field of a new event seen, so that a caller may insert its own
 * lines (a comment, a retry field) without changing any event. */
SSEP_API int ssep_parser_at_boundary(const ssep_parser *p);

/* 1 at the start of a line (no byte of an unfinished line pending). */
SSEP_API int ssep_parser_at_line_start(const ssep_parser *p);

/* The reconnection time the stream set with a valid "retry" field, in
 * ms (saturated at INT64_MAX), or -1 if it never set one. */
SSEP_API int64_t ssep_parser_retry(const ssep_parser *p);

/* Counters since creation: events dispatched, bytes fed. */
SSEP_API uint64_t ssep_parser_events(const ssep_parser *p);
SSEP_API uint64_t ssep_parser_bytes(const ssep_parser *p);

/* The "last event ID string" of the spec: the id in force at the last
 * blank line (an event's end), which is what a client sends back as
 * Last-Event-ID.  An id field of an unfinished event does not count.
 * Kept in both modes (up to max_line when collecting, 1 KiB otherwise);
 * NULL when no id was set or it was too long to keep. */
SSEP_API const char *ssep_parser_last_id(const ssep_parser *p, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* SSEPOLICY_H */
