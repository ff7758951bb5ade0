/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/*
 * The channels of one child.  A channel is created by the request that
 * finds no channel for its key (the founder): while it asks a member, it
 * is pending, and requests of the same key wait for it instead of asking
 * too.  Once open, the founder's relay writes each event it reads into
 * the channel's ring, whole, and pokes the followers that wait for it;
 * each follower copies what it has not had yet from the ring, at its own
 * pace.  The ring is bounded in events and bytes: a follower whose next
 * event has left it has fallen behind and is dropped, and nobody waits
 * for it.
 *
 * Threads: the founder and each follower run on whatever worker has
 * them, so the channel has a mutex; followers that wait in their own
 * thread (HTTP/2, no watcher) wait on its condition.  Memory: a channel
 * has its own unmanaged pool (any thread may create or free it) and
 * malloc()ed ring entries, and goes with its last reference: the
 * founder's and each follower's.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "apr_hash.h"
#include "apr_strings.h"
#include "apr_thread_cond.h"
#include "apr_thread_mutex.h"
#include "http_log.h"

#include "sse_channel.h"
#include "sse_stats.h"
#include "sse_validate.h"
#include "sse_watcher.h"

APLOG_USE_MODULE(sse_proxy);

/* A ring smaller than this would drop followers at every burst. */
#define MIN_RING_EVENTS 16
/* What all the rings of a child may hold together.  Each distinct URL
 * may be a shared stream, and a client can ask for many: beyond this,
 * a ring that receives an event keeps only its newest ones, so that the
 * memory a child spends on history stays bounded whatever the clients
 * ask for (their followers may then fall behind sooner). */
#define CHILD_RING_BUDGET (APR_UINT64_C(256) << 20)

/* An event, written once and read by every follower without a copy:
 * each follower's bucket holds a reference, and so does the ring; the
 * last one to let go frees it. */
typedef struct ring_event {
    apr_uint32_t refs;
    apr_uint64_t seq;
    apr_time_t   read_at;
    apr_size_t   len;
    apr_size_t   id_len;
    int          has_id;
    char        *id;            /* in data's block, after the bytes */
    char         data[1];
} ring_event;

enum { CH_PENDING, CH_OPEN, CH_ENDED };

struct sse_feed {
    sse_channel *ch;
    apr_uint64_t next;          /* seq of the next event it needs */
    sse_waiter  *parked;        /* poked by the next event */
    /* Its stream's registration (once it has waited without a thread),
     * poked once when the ring loses its next event: a client whose
     * output waits is not parked, and must hear that it fell behind. */
    sse_waiter  *waiter;
    int          told_behind;
    sse_feed    *prev, *nxt;    /* the channel's followers */
};

struct sse_channel {
    apr_pool_t          *pool;
    apr_thread_mutex_t  *lock;
    apr_thread_cond_t   *changed;
    const char          *key;
    /* The Last-Event-ID the founder asked the member with: the stream
     * starts after it, so a request with the same one may join from the
     * first event (as the crowd an outage cut off comes back). */
    const char          *start_id;
    int                  state;
    int                  listed;    /* in the table */
    apr_size_t           refs;
    sse_response         head;
    sse_ring_limits      lim;
    ring_event         **ring;      /* ring[(first + i) % cap] */
    apr_size_t           cap, first, count, bytes;
    apr_uint64_t         next_seq;
    char                *partial;   /* the event being read */
    apr_size_t           partial_len, partial_cap;
    int                  partial_lost;  /* out of memory while read */
    sse_feed            *feeds;
    apr_size_t           followers;
    int                  founder_gone;   /* its founder's own client */
    apr_time_t           alone_since;
    sse_end_reason       end;
    apr_int64_t          hint;
    const char          *class_name;
    apr_uint64_t         replays, failovers;
    sse_channel         *all_prev, *all_next;
};

static struct {
    apr_thread_mutex_t *lock;
    apr_hash_t         *by_key;
    sse_channel        *all;
    apr_uint64_t        ring_bytes;   /* in every ring of the child */
} table;

apr_status_t sse_channels_init(apr_pool_t *pchild)
{
    apr_status_t rv = apr_thread_mutex_create(&table.lock,
                                              APR_THREAD_MUTEX_DEFAULT,
                                              pchild);

    table.by_key = apr_hash_make(pchild);
    return rv;
}

static void event_unref(ring_event *ev)
{
    if (__atomic_sub_fetch(&ev->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free(ev);
}

/* A follower's bucket is destroyed: data is the event's. */
static void bucket_let_go(void *data)
{
    event_unref((ring_event *)(void *)((char *)data
                                       - offsetof(ring_event, data)));
}

static void free_channel(sse_channel *ch)
{
    apr_size_t i;

    for (i = 0; i < ch->count; i++)
        event_unref(ch->ring[(ch->first + i) % ch->cap]);
    __atomic_fetch_sub(&table.ring_bytes, ch->bytes, __ATOMIC_RELAXED);
    free(ch->ring);
    free(ch->partial);
    apr_pool_destroy(ch->pool);
}

/* Under table.lock. */
static void unlist(sse_channel *ch)
{
    if (!ch->listed)
        return;
    if (apr_hash_get(table.by_key, ch->key, APR_HASH_KEY_STRING) == ch)
        apr_hash_set(table.by_key, ch->key, APR_HASH_KEY_STRING, NULL);
    ch->listed = 0;
}

/* Drops a reference; the last frees the channel.  The channel's lock is
 * not held.  The table's is taken: a snapshot may be reading it. */
static void release(sse_channel *ch)
{
    int last;

    apr_thread_mutex_lock(table.lock);
    apr_thread_mutex_lock(ch->lock);
    last = --ch->refs == 0;
    apr_thread_mutex_unlock(ch->lock);
    if (last) {
        unlist(ch);
        if (ch->all_prev)
            ch->all_prev->all_next = ch->all_next;
        else
            table.all = ch->all_next;
        if (ch->all_next)
            ch->all_next->all_prev = ch->all_prev;
        SSE_STAT_ADD(shared_streams, -1);
    }
    apr_thread_mutex_unlock(table.lock);
    if (last)
        free_channel(ch);
}

/* Under table.lock. */
static sse_channel *create(const char *key, const sse_ring_limits *lim)
{
    apr_pool_t *p = NULL;
    sse_channel *ch;

    if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS)
        return NULL;
    apr_pool_tag(p, "sse_channel");
    ch = apr_pcalloc(p, sizeof(*ch));
    ch->pool = p;
    ch->lim = *lim;
    ch->cap = lim->events > MIN_RING_EVENTS ? lim->events : MIN_RING_EVENTS;
    ch->ring = calloc(ch->cap, sizeof(*ch->ring));
    if (!ch->ring
        || apr_thread_mutex_create(&ch->lock, APR_THREAD_MUTEX_DEFAULT, p)
           != APR_SUCCESS
        || apr_thread_cond_create(&ch->changed, p) != APR_SUCCESS) {
        free(ch->ring);
        apr_pool_destroy(p);
        return NULL;
    }
    ch->key = apr_pstrdup(p, key);
    ch->state = CH_PENDING;
    ch->refs = 1;
    ch->next_seq = 1;
    ch->alone_since = apr_time_now();
    ch->listed = 1;
    apr_hash_set(table.by_key, ch->key, APR_HASH_KEY_STRING, ch);
    ch->all_next = table.all;
    if (table.all)
        table.all->all_prev = ch;
    table.all = ch;
    SSE_STAT_ADD(shared_streams, 1);
    return ch;
}

/* Under ch->lock: the seq after the newest event carrying id, or 0. */
static apr_uint64_t after_id(sse_channel *ch, const char *id)
{
    apr_size_t len = strlen(id), i = ch->count;

    while (i-- > 0) {
        ring_event *ev = ch->ring[(ch->first + i) % ch->cap];

        if (ev->has_id && ev->id_len == len && !memcmp(ev->id, id, len))
            return ev->seq + 1;
    }
    return 0;
}

/* Under ch->lock: 1 when a request resuming after id wants the stream
 * from its start, and the ring still has that. */
static int starts_after(sse_channel *ch, const char *id)
{
    apr_uint64_t oldest = ch->count ? ch->ring[ch->first]->seq
                                    : ch->next_seq;

    return ch->start_id && !strcmp(ch->start_id, id) && oldest == 1;
}

/* Under ch->lock. */
static sse_feed *add_feed(sse_channel *ch, apr_uint64_t next)
{
    sse_feed *f = calloc(1, sizeof(*f));

    if (!f)
        return NULL;
    f->ch = ch;
    f->next = next;
    f->nxt = ch->feeds;
    if (ch->feeds)
        ch->feeds->prev = f;
    ch->feeds = f;
    ch->followers++;
    ch->alone_since = 0;
    ch->refs++;
    SSE_STAT_ADD(shared_clients, 1);
    return f;
}

sse_join sse_channel_join(const char *key, const char *last_id,
                          int may_found, const sse_ring_limits *lim,
                          apr_interval_time_t wait, sse_channel **out,
                          sse_feed **feed, const char **why)
{
    apr_time_t until = apr_time_now() + wait;
    sse_channel *ch;
    sse_join join = SSE_JOIN_ALONE;

    *why = NULL;
    if (!table.lock) {
        *why = "shared streams could not be set up in this child";
        return SSE_JOIN_ALONE;
    }
    apr_thread_mutex_lock(table.lock);
    ch = apr_hash_get(table.by_key, key, APR_HASH_KEY_STRING);
    if (!ch && !may_found) {
        apr_thread_mutex_unlock(table.lock);
        *why = "no shared stream is open for it";
        return SSE_JOIN_ALONE;
    }
    if (!ch) {
        *out = create(key, lim);
        /* the one it will send the member: sse_backend.c drops an
         * invalid one */
        if (*out && last_id
            && !sse_last_event_id_check(last_id, strlen(last_id)))
            (*out)->start_id = apr_pstrdup((*out)->pool, last_id);
        apr_thread_mutex_unlock(table.lock);
        if (!*out)
            *why = "out of memory";
        return *out ? SSE_JOIN_FOUNDER : SSE_JOIN_ALONE;
    }
    apr_thread_mutex_lock(ch->lock);
    ch->refs++;   /* while it is waited for */
    apr_thread_mutex_unlock(table.lock);

    while (ch->state == CH_PENDING) {
        apr_time_t now = apr_time_now();

        if (now >= until)
            break;
        apr_thread_cond_timedwait(ch->changed, ch->lock, until - now);
    }
    if (ch->state != CH_OPEN) {
        *why = ch->state == CH_PENDING
               ? "the member has not answered its first client yet"
               : "its first client did not get a stream";
    }
    else if (!last_id) {
        *feed = add_feed(ch, ch->next_seq);
    }
    else {
        apr_uint64_t next = after_id(ch, last_id);

        if (!next && starts_after(ch, last_id))
            next = 1;
        if (!next) {
            *why = "its Last-Event-ID is not in the replay ring";
        }
        else if ((*feed = add_feed(ch, next)) != NULL) {
            ch->replays++;
            SSE_STAT_ADD(shared_replays, 1);
        }
    }
    if (*feed)
        join = SSE_JOIN_FOLLOWER;
    else if (!*why)
        *why = "out of memory";
    apr_thread_mutex_unlock(ch->lock);
    release(ch);   /* a follower holds its own */
    return join;
}

void sse_channel_open(sse_channel *ch, const sse_response *resp)
{
    apr_thread_mutex_lock(ch->lock);
    ch->head = *resp;
    ch->head.reason = apr_pstrdup(ch->pool, resp->reason);
    ch->head.headers = apr_table_copy(ch->pool, resp->headers);
    {
        /* the table's strings are the founder's request's */
        const apr_array_header_t *a = apr_table_elts(ch->head.headers);
        apr_table_entry_t *e = (apr_table_entry_t *)a->elts;
        int i;

        for (i = 0; i < a->nelts; i++) {
            e[i].key = apr_pstrdup(ch->pool, e[i].key);
            e[i].val = apr_pstrdup(ch->pool, e[i].val);
        }
    }
    ch->state = CH_OPEN;
    apr_thread_cond_broadcast(ch->changed);
    apr_thread_mutex_unlock(ch->lock);
}

void sse_channel_abandon(sse_channel *ch)
{
    apr_thread_mutex_lock(table.lock);
    unlist(ch);
    apr_thread_mutex_unlock(table.lock);
    apr_thread_mutex_lock(ch->lock);
    ch->state = CH_ENDED;
    ch->end = SSE_END_ERROR;
    ch->hint = -1;
    apr_thread_cond_broadcast(ch->changed);
    apr_thread_mutex_unlock(ch->lock);
    release(ch);
}

void sse_channel_write(sse_channel *ch, const char *data, apr_size_t len)
{
    /* only the founder writes it: no lock */
    if (ch->partial_len + len > ch->partial_cap) {
        apr_size_t cap = ch->partial_cap ? ch->partial_cap * 2 : 1024;
        char *p;

        while (cap < ch->partial_len + len)
            cap *= 2;
        p = realloc(ch->partial, cap);
        if (!p) {
            ch->partial_lost = 1;   /* said and dropped at publish */
            return;
        }
        ch->partial = p;
        ch->partial_cap = cap;
    }
    memcpy(ch->partial + ch->partial_len, data, len);
    ch->partial_len += len;
}

/* Under ch->lock: the oldest events go until the ring has room, and
 * while the child's rings are over their budget, down to the newest. */
static void make_room(sse_channel *ch, apr_size_t len)
{
    while (ch->count
           && (ch->count >= ch->cap || ch->bytes + len > ch->lim.bytes
               || __atomic_load_n(&table.ring_bytes, __ATOMIC_RELAXED) + len
                  > CHILD_RING_BUDGET)) {
        ring_event *old = ch->ring[ch->first];

        ch->ring[ch->first] = NULL;
        ch->first = (ch->first + 1) % ch->cap;
        ch->count--;
        ch->bytes -= old->len;
        __atomic_fetch_sub(&table.ring_bytes, old->len, __ATOMIC_RELAXED);
        event_unref(old);
    }
}

/* Under ch->lock: the followers that wait for news get it, and those
 * the ring just left behind are told.  Returns the waiters to queue
 * (sse_waiter_queue_batch(), once the lock is released: they are the
 * caller's until then). */
static sse_waiter *poke_parked(sse_channel *ch)
{
    apr_uint64_t first = ch->count ? ch->ring[ch->first]->seq : 0;
    sse_waiter *batch = NULL;
    sse_feed *f;

    for (f = ch->feeds; f; f = f->nxt) {
        if (f->parked) {
            sse_waiter_poke_into(f->parked, &batch);
            f->parked = NULL;
        }
        else if (f->waiter && !f->told_behind && f->next < first) {
            sse_waiter_poke_into(f->waiter, &batch);
            f->told_behind = 1;
        }
    }
    apr_thread_cond_broadcast(ch->changed);
    return batch;
}

void sse_channel_publish(sse_channel *ch, const char *id, apr_size_t id_len,
                         apr_time_t read_at)
{
    apr_size_t len = ch->partial_len;
    ring_event *ev = ch->partial_lost ? NULL
                                      : malloc(sizeof(*ev) + len + id_len);
    sse_waiter *batch;

    ch->partial_len = 0;
    ch->partial_lost = 0;
    if (!ev) {
        ap_log_error(APLOG_MARK, APLOG_ERR, APR_ENOMEM, ap_server_conf,
                     "SSE00095: out of memory: an event of a shared stream "
                     "is lost to its followers");
        return;
    }
    ev->refs = 1;
    ev->len = len;
    ev->read_at = read_at;
    memcpy(ev->data, ch->partial, len);
    ev->has_id = id != NULL;
    ev->id_len = id_len;
    ev->id = ev->data + len;
    if (id_len)
        memcpy(ev->id, id, id_len);

    apr_thread_mutex_lock(ch->lock);
    make_room(ch, len);
    ev->seq = ch->next_seq++;
    ch->ring[(ch->first + ch->count) % ch->cap] = ev;
    ch->count++;
    ch->bytes += len;
    __atomic_fetch_add(&table.ring_bytes, len, __ATOMIC_RELAXED);
    batch = poke_parked(ch);
    apr_thread_mutex_unlock(ch->lock);
    sse_waiter_queue_batch(batch);
}

apr_time_t sse_channel_alone_since(sse_channel *ch)
{
    apr_time_t t;

    apr_thread_mutex_lock(ch->lock);
    t = ch->alone_since;
    apr_thread_mutex_unlock(ch->lock);
    return t;
}

void sse_channel_founder_left(sse_channel *ch)
{
    apr_thread_mutex_lock(ch->lock);
    ch->founder_gone = 1;
    apr_thread_mutex_unlock(ch->lock);
}

void sse_channel_failed_over(sse_channel *ch)
{
    apr_thread_mutex_lock(ch->lock);
    ch->failovers++;
    apr_thread_mutex_unlock(ch->lock);
    SSE_STAT_ADD(shared_failovers, 1);
}

void sse_channel_end(sse_channel *ch, sse_end_reason end,
                     apr_int64_t hint_ms, const char *class_name)
{
    sse_waiter *batch;

    apr_thread_mutex_lock(table.lock);
    unlist(ch);
    apr_thread_mutex_unlock(table.lock);
    apr_thread_mutex_lock(ch->lock);
    ch->state = CH_ENDED;
    ch->end = end;
    ch->hint = hint_ms;
    ch->class_name = class_name ? apr_pstrdup(ch->pool, class_name) : NULL;
    batch = poke_parked(ch);
    apr_thread_mutex_unlock(ch->lock);
    sse_waiter_queue_batch(batch);
    release(ch);
}

const sse_response *sse_feed_head(const sse_feed *f)
{
    return &f->ch->head;
}

int sse_feed_read(sse_feed *f, apr_bucket_brigade *bb, apr_size_t max,
                  apr_time_t *read_at, apr_size_t *events)
{
    sse_channel *ch = f->ch;
    apr_size_t took = 0;
    int rc;

    *events = 0;
    apr_thread_mutex_lock(ch->lock);
    if (f->next < ch->next_seq && ch->count
        && f->next < ch->ring[ch->first]->seq) {
        rc = SSE_FEED_BEHIND;
    }
    else if (f->next >= ch->next_seq) {
        rc = ch->state == CH_ENDED ? SSE_FEED_END : SSE_FEED_NONE;
    }
    else {
        apr_size_t i = (apr_size_t)(f->next - ch->ring[ch->first]->seq);

        for (; i < ch->count && (!took || took < max); i++) {
            ring_event *ev = ch->ring[(ch->first + i) % ch->cap];

            if (!took)
                *read_at = ev->read_at;
            if (ev->len) {
                __atomic_add_fetch(&ev->refs, 1, __ATOMIC_RELAXED);
                APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_heap_create(
                    ev->data, ev->len, bucket_let_go, bb->bucket_alloc));
            }
            took += ev->len;
            f->next = ev->seq + 1;
            ++*events;
        }
        rc = SSE_FEED_DATA;
    }
    apr_thread_mutex_unlock(ch->lock);
    return rc;
}

int sse_feed_behind(sse_feed *f)
{
    sse_channel *ch = f->ch;
    int behind;

    apr_thread_mutex_lock(ch->lock);
    behind = ch->count && f->next < ch->ring[ch->first]->seq;
    apr_thread_mutex_unlock(ch->lock);
    return behind;
}

void sse_feed_end(const sse_feed *f, sse_end_reason *end, apr_int64_t *hint,
                  const char **class_name)
{
    *end = f->ch->end;
    *hint = f->ch->hint;
    *class_name = f->ch->class_name;
}

/* Under ch->lock: something for the follower now. */
static int has_news(const sse_feed *f)
{
    return f->next < f->ch->next_seq || f->ch->state == CH_ENDED;
}

int sse_feed_park(sse_feed *f, sse_waiter *wt)
{
    int parked;

    apr_thread_mutex_lock(f->ch->lock);
    parked = !has_news(f);
    f->parked = parked ? wt : NULL;
    f->waiter = wt;
    apr_thread_mutex_unlock(f->ch->lock);
    return parked;
}

void sse_feed_unpark(sse_feed *f)
{
    apr_thread_mutex_lock(f->ch->lock);
    f->parked = NULL;
    apr_thread_mutex_unlock(f->ch->lock);
}

void sse_feed_wait(sse_feed *f, apr_interval_time_t timeout)
{
    apr_thread_mutex_lock(f->ch->lock);
    if (!has_news(f) && timeout > 0)
        apr_thread_cond_timedwait(f->ch->changed, f->ch->lock, timeout);
    apr_thread_mutex_unlock(f->ch->lock);
}

void sse_feed_leave(sse_feed *f)
{
    sse_channel *ch = f->ch;

    apr_thread_mutex_lock(ch->lock);
    if (f->prev)
        f->prev->nxt = f->nxt;
    else
        ch->feeds = f->nxt;
    if (f->nxt)
        f->nxt->prev = f->prev;
    if (--ch->followers == 0)
        ch->alone_since = apr_time_now();
    apr_thread_mutex_unlock(ch->lock);
    SSE_STAT_ADD(shared_clients, -1);
    free(f);
    release(ch);
}

apr_array_header_t *sse_channels_snapshot(apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, 4, sizeof(sse_channel_info));
    sse_channel *ch;

    if (!table.lock)
        return out;
    apr_thread_mutex_lock(table.lock);
    for (ch = table.all; ch; ch = ch->all_next) {
        sse_channel_info *i = apr_array_push(out);

        apr_thread_mutex_lock(ch->lock);
        i->key = apr_pstrdup(p, ch->key);
        i->clients = ch->followers + (ch->state == CH_OPEN
                                      && !ch->founder_gone);
        i->ring_events = ch->count;
        i->ring_bytes = ch->bytes;
        i->events = ch->next_seq - 1;
        i->replays = ch->replays;
        i->failovers = ch->failovers;
        i->open = ch->state == CH_OPEN;
        apr_thread_mutex_unlock(ch->lock);
    }
    apr_thread_mutex_unlock(table.lock);
    return out;
}
