/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include <pthread.h>
#include <stdlib.h>

#include "sse_thread_mark.h"

struct sse_thread_mark {
    apr_uint32_t jobs;
};

static pthread_key_t key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static int have_key;

static void count(sse_thread_mark *m)
{
    /* release: the thread's earlier stores happen before the new count */
    __atomic_add_fetch(&m->jobs, 1, __ATOMIC_RELEASE);
}

/* A thread that ends is done with every connection it suspended; its
 * mark stays, since a connection waiting on it still reads it. */
static void thread_ends(void *data)
{
    count(data);
}

static void make_key(void)
{
    have_key = pthread_key_create(&key, thread_ends) == 0;
}

static int key_ready(void)
{
    pthread_once(&key_once, make_key);
    return have_key;
}

sse_thread_mark *sse_thread_mark_mine(void)
{
    sse_thread_mark *m;

    if (!key_ready())
        return NULL;
    m = pthread_getspecific(key);
    if (!m) {
        m = calloc(1, sizeof(*m));
        if (m && pthread_setspecific(key, m) != 0) {
            free(m);
            m = NULL;
        }
    }
    return m;
}

apr_uint32_t sse_thread_mark_jobs(const sse_thread_mark *m)
{
    return __atomic_load_n(&m->jobs, __ATOMIC_ACQUIRE);
}

void sse_thread_starts_job(void)
{
    sse_thread_mark *m;

    if (key_ready() && (m = pthread_getspecific(key)) != NULL)
        count(m);
}
