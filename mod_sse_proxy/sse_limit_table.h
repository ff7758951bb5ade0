/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* The table behind the stream caps and reconnect limits: one slot per
 * client key (or per location), holding how many streams each child has
 * open under that key and the key's reconnect-rate state.  Free of httpd
 * types: it lives in shared memory, and the unit tests use it without an
 * httpd.  Callers serialise access. */
#ifndef SSE_LIMIT_TABLE_H
#define SSE_LIMIT_TABLE_H

#include "apr.h"
#include "apr_pools.h"
#include "apr_time.h"

#define SSE_LIMIT_SLOTS   4096
/* Children that may count streams at once, old and new generations of a
 * graceful restart together. */
#define SSE_LIMIT_OWNERS  128
/* A key lives within this many slots of its hash. */
#define SSE_LIMIT_PROBES  64
#define SSE_LIMIT_LABEL   48
/* Strikes stop growing here (the retry: is long capped by then). */
#define SSE_LIMIT_MAX_STRIKES 64

typedef struct {
    apr_uint64_t key;            /* 0: free */
    apr_uint32_t open;           /* streams open, over every owner */
    apr_uint32_t strikes;        /* limited attempts, for the growing retry */
    apr_uint32_t location;       /* a location's count, not a client's */
    apr_time_t   tat;            /* reconnect rate: theoretical arrival */
    apr_time_t   penalty_until;  /* told not to come back before */
    char         label[SSE_LIMIT_LABEL]; /* the key as shown, maybe cut */
} sse_limit_entry;

typedef struct {
    apr_int64_t  pid;            /* 0: free */
    apr_time_t   since;
} sse_limit_owner;

typedef struct {
    apr_uint64_t limited_client;   /* SSEProxyMaxStreamsPerClient */
    apr_uint64_t limited_location; /* SSEProxyMaxStreams */
    apr_uint64_t limited_rate;     /* SSEProxyReconnectRate */
    apr_uint64_t untracked;        /* admitted without a slot: table full */
    apr_uint64_t reclaimed;        /* streams of children that died */
} sse_limit_counters;

typedef struct {
    sse_limit_counters counters;
    apr_time_t         reconciled;   /* owners last checked for life */
    apr_time_t         full_logged;  /* "table full" last said */
    sse_limit_owner    owners[SSE_LIMIT_OWNERS];
    sse_limit_entry    entries[SSE_LIMIT_SLOTS];
    apr_uint16_t       counts[SSE_LIMIT_OWNERS][SSE_LIMIT_SLOTS];
} sse_limit_table;

/* FNV-1a of a key's kind and text. */
apr_uint64_t sse_limit_key(char kind, const char *text, apr_size_t len);

/* The slot of key, or with create a free or idle one claimed for it (its
 * label copied, cut to fit).  -1 when key is absent (without create), or
 * no slot near its hash is free: the table is full. */
int sse_limit_find(sse_limit_table *t, apr_uint64_t key, const char *label,
                   apr_time_t now, int create);

/* One more stream of owner in slot; 0 when its count cannot grow. */
int sse_limit_acquire(sse_limit_table *t, int slot, int owner);
/* One stream less, if owner still holds one under key in slot. */
void sse_limit_release(sse_limit_table *t, int slot, int owner,
                       apr_uint64_t key);

/* The streams owner held are dropped from every slot and owner is free;
 * returns how many there were. */
apr_uint64_t sse_limit_reclaim(sse_limit_table *t, int owner);

/* Claims an owner for pid: first every owner that is pid itself (an
 * earlier process of that id, gone) or for which alive() says no is
 * reclaimed.  -1 when all are taken. */
int sse_limit_owner_claim(sse_limit_table *t, apr_int64_t pid,
                          apr_time_t now, int (*alive)(apr_int64_t pid));

/* Reclaims the owners alive() says are gone; returns the streams
 * dropped. */
apr_uint64_t sse_limit_reconcile(sse_limit_table *t,
                                 int (*alive)(apr_int64_t pid));

/* A reconnect of e's key at now, against n per period (generic cell
 * rate: a burst of n, then one per period/n).  -1 when it is let in,
 * else the ms until it would be (0 while only a penalty holds it): the
 * key's strikes then count one more.  Strikes are forgiven once a
 * period passed without one. */
apr_int64_t sse_limit_rate(sse_limit_entry *e, apr_uint32_t n,
                           apr_interval_time_t period, apr_time_t now);

/* SSEProxyReconnectRate's argument: "n/period" with n of 1..1000000 and
 * period a whole number of seconds (s, default), minutes (m) or hours
 * (h), the number 1 optional ("10/s", "30/5m"), from 1 s to 1 h.  NULL
 * on success, else a message from p starting with directive. */
const char *sse_parse_rate(apr_pool_t *p, const char *directive,
                           const char *arg, apr_uint32_t *n,
                           apr_interval_time_t *period);

/* A cap of 1..10000000 streams, or "off" as 0. */
const char *sse_parse_cap(apr_pool_t *p, const char *directive,
                          const char *arg, apr_int64_t *out);

#endif
