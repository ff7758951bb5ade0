/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* A member's state as the nodes of a fleet share it, and the merge rule
 * that makes concurrent updates safe without locks: every field is
 * ordered by a wall-clock time, so merging is commutative, associative
 * and idempotent, and a write lost to another node's is restored by the
 * next merge.  Free of httpd types, for the unit tests. */
#ifndef SSE_FLEET_RECORD_H
#define SSE_FLEET_RECORD_H

#include "apr.h"
#include "apr_time.h"

#include "sse_member_table.h"

typedef struct sse_fleet_record {
    /* the outage, if last_failure > last_success */
    apr_uint32_t failures;      /* consecutive counted failures */
    apr_uint32_t last_class;
    apr_uint32_t quality;       /* the grade the backoff was scaled by */
    apr_uint32_t gave_up;
    apr_int64_t  delay_ms;
    apr_time_t   outage_start;
    apr_time_t   last_failure;
    apr_time_t   next_retry;    /* wall clock: nodes must agree on time */
    /* the last success that ended an outage */
    apr_time_t   last_success;
    char         balancer[SSE_BALANCER_NAME_SIZE];
    char         member[SSE_MEMBER_NAME_SIZE];
} sse_fleet_record;

/* The store key of (balancer, member): 16 bytes of two hashes of the
 * names (the names themselves are too long for some stores' keys and
 * are kept in the value instead). */
#define SSE_FLEET_KEY_SIZE 16
void sse_fleet_key(const char *kind, const char *a, const char *b,
                   unsigned char key[SSE_FLEET_KEY_SIZE]);

/* Text form: "sse2 <fields>\n<balancer>\n<member>".  Returns the length
 * written (< size), or 0 when it does not fit. */
apr_size_t sse_fleet_record_format(const sse_fleet_record *rec, char *buf,
                                   apr_size_t size);
/* 0 on success; -1 for anything malformed. */
int sse_fleet_record_parse(const char *buf, apr_size_t len,
                           sse_fleet_record *rec);

/* 1 when the record says the member is in an outage. */
int sse_fleet_record_out(const sse_fleet_record *rec);

/* into := the merge of into and other (same names).  Returns 1 when into
 * changed. */
int sse_fleet_record_merge(sse_fleet_record *into,
                           const sse_fleet_record *other);

/* The record of a member's local state, and the local state updated from
 * a merged record (the fields the fleet shares; the rest is local). */
void sse_fleet_record_from_state(sse_fleet_record *rec,
                                 const sse_member_state *m);
void sse_fleet_record_to_state(const sse_fleet_record *rec,
                               sse_member_state *m);

#endif
