/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* Shared streams (SSEProxyShare): one backend stream per child read by
 * its founding request and handed to every client of the same key
 * through a bounded ring of recent events, which also serves replays. */
#ifndef SSE_CHANNEL_H
#define SSE_CHANNEL_H

#include "httpd.h"
#include "apr_buckets.h"

#include "sse_backend.h"
#include "sse_relay.h"

struct sse_waiter;
typedef struct sse_channel sse_channel;
typedef struct sse_feed sse_feed;       /* one follower's place */

/* This child's channel table (pchild: its pool). */
apr_status_t sse_channels_init(apr_pool_t *pchild);

typedef enum {
    SSE_JOIN_ALONE = 0,   /* the request goes to a member on its own */
    SSE_JOIN_FOUNDER,     /* it opens the channel: a member is asked */
    SSE_JOIN_FOLLOWER     /* it is served from the channel */
} sse_join;

typedef struct {
    apr_size_t  events;      /* most events the ring keeps */
    apr_size_t  bytes;       /* most bytes the ring keeps */
} sse_ring_limits;

/* Joins the channel of key: a follower gets *feed, from after last_id
 * (NULL: from the next event); a founder gets *ch, a claim pending until
 * sse_channel_open() or sse_channel_abandon(), unless may_found is 0.  A
 * claim pending in another request is waited for, in this thread, up to
 * wait.  ALONE when last_id is not in the ring, the claim failed or
 * memory ran out; *why says which. */
sse_join sse_channel_join(const char *key, const char *last_id,
                          int may_found, const sse_ring_limits *lim,
                          apr_interval_time_t wait, sse_channel **ch,
                          sse_feed **feed, const char **why);

/* The founder got its stream: followers get this head and the events
 * published from here. */
void sse_channel_open(sse_channel *ch, const sse_response *resp);
/* The founder did not get a stream: waiting requests go alone. */
void sse_channel_abandon(sse_channel *ch);

/* The founder's relay: bytes of the event being read, then its end
 * (id: the event's id, if it has one). */
void sse_channel_write(sse_channel *ch, const char *data, apr_size_t len);
void sse_channel_publish(sse_channel *ch, const char *id, apr_size_t id_len,
                         apr_time_t read_at);
/* Since when the channel has had no follower (0: it has some). */
apr_time_t sse_channel_alone_since(sse_channel *ch);
/* The founder's own client is gone: the founder serves only the ring. */
void sse_channel_founder_left(sse_channel *ch);
/* The backend stream of the channel moved to another connection. */
void sse_channel_failed_over(sse_channel *ch);
/* The founder's relay ended: followers end the same way once they have
 * the ring's last event, with this hint and class (NULL: none).  New
 * requests of the key found a new channel.  The founder's reference
 * goes. */
void sse_channel_end(sse_channel *ch, sse_end_reason end,
                     apr_int64_t hint_ms, const char *class_name);

/* The head the founder got. */
const sse_response *sse_feed_head(const sse_feed *f);

#define SSE_FEED_NONE   0   /* caught up: nothing new yet */
#define SSE_FEED_DATA   1   /* events were added to bb */
#define SSE_FEED_END    2   /* the channel ended and all was read */
#define SSE_FEED_BEHIND 3   /* the ring no longer has the next event */
/* Adds the events after the follower's place to bb, about max bytes at
 * most, *events of them, whole: buckets that share the ring's memory
 * (no copy; setting them aside costs nothing).  *read_at: when the first
 * of them came from the backend. */
int sse_feed_read(sse_feed *f, apr_bucket_brigade *bb, apr_size_t max,
                  apr_time_t *read_at, apr_size_t *events);
/* The ring no longer has the follower's next event. */
int sse_feed_behind(sse_feed *f);
/* How the channel ended (after SSE_FEED_END). */
void sse_feed_end(const sse_feed *f, sse_end_reason *end, apr_int64_t *hint,
                  const char **class_name);
/* A follower that waits without a thread: 1 when wt will be poked by
 * the next event or the end, 0 when there is something already (then
 * it is not parked).  Unparked before the stream touches its state.
 * From its first park, wt is also poked when the follower falls behind
 * the ring: it must stay registered until the follower leaves. */
int sse_feed_park(sse_feed *f, struct sse_waiter *wt);
void sse_feed_unpark(sse_feed *f);
/* A follower that waits in its thread: until there is something, or
 * timeout. */
void sse_feed_wait(sse_feed *f, apr_interval_time_t timeout);
/* The follower leaves (its reference goes). */
void sse_feed_leave(sse_feed *f);

/* One line per channel of this child, for the status page. */
typedef struct {
    const char  *key;
    apr_size_t   clients;        /* followers and the founder's client */
    apr_size_t   ring_events, ring_bytes;
    apr_uint64_t events;         /* published */
    apr_uint64_t replays;        /* joins served from the ring */
    apr_uint64_t failovers;
    int          open;
} sse_channel_info;
apr_array_header_t *sse_channels_snapshot(apr_pool_t *p);

#endif
