/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* The table of per-member failure state, keyed by the full balancer and
 * member names.  Free of httpd types (APR and libssepolicy only): it
 * lives in shared memory, and the unit tests use it without an httpd.
 * Callers serialise access. */
#ifndef SSE_MEMBER_TABLE_H
#define SSE_MEMBER_TABLE_H

#include "apr.h"
#include "apr_time.h"

#include "ssepolicy.h"

/* As long as httpd's own names can be (PROXY_BALANCER_MAX_NAME_SIZE and
 * PROXY_WORKER_EXT_NAME_SIZE in mod_proxy.h), terminator included: a
 * name is stored whole or not at all, never cut. */
#define SSE_BALANCER_NAME_SIZE 96
#define SSE_MEMBER_NAME_SIZE   384
#define SSE_MEMBER_SLOTS       512

typedef struct {
    apr_uint64_t key;              /* hash of the two names */
    apr_uint32_t used;
    char         balancer[SSE_BALANCER_NAME_SIZE]; /* "" for a plain worker */
    char         member[SSE_MEMBER_NAME_SIZE];
    apr_uint32_t consecutive_failures;
    apr_uint32_t status_streak;    /* counted statuses not yet acted on */
    apr_uint32_t held_in;          /* the share cap kept it in (logged) */
    apr_uint32_t last_class;       /* ssep_class */
    apr_uint32_t last_quality;     /* ssep_quality the last backoff used */
    apr_uint32_t gave_up;
    apr_int64_t  delay_ms;         /* current backoff, 0 when healthy */
    apr_time_t   next_retry;       /* when the member is due again */
    apr_time_t   outage_start;     /* first failure of the current outage */
    apr_time_t   last_failure;     /* when the last counted failure was */
    apr_time_t   last_success;     /* when a success last ended an outage */
    apr_uint32_t fleet_dirty;      /* changed here since the fleet saw it */
    apr_uint32_t from_fleet;       /* its outage state came from another node */
    apr_interval_time_t configured_retry; /* worker's retry= before us */
    apr_int64_t  last_recovery_ms; /* how long the last outage lasted */
    apr_uint64_t rng;
    apr_uint64_t attempts;
    apr_uint64_t outages;
    apr_uint64_t failures_by_class[SSEP_CLASS_COUNT];
    /* Slow start (SSEProxySlowStart): the member's share of new streams
     * grows from 0 at slow_start_from to all of it slow_start_ms later.
     * A failure within the window continues the outage it came back
     * from, whose count is kept in slow_start_failures. */
    apr_time_t   slow_start_from;
    apr_int64_t  slow_start_ms;    /* 0: no slow start */
    apr_uint32_t slow_start_failures;
    apr_uint64_t slow_start_held;  /* streams it was not given meanwhile */
    ssep_tracker tracker;
} sse_member_state;

/* The slot of (balancer, member) in a table of n slots, found by hash
 * with linear probing.  With create, a missing member gets a free slot,
 * zeroed but for its names and key, and *created is set.  NULL when the
 * member is not there (without create), the table is full, or a name
 * does not fit. */
sse_member_state *sse_member_table_find(sse_member_state *table, unsigned n,
                                        const char *balancer,
                                        const char *member, int create,
                                        int *created);

#endif
