/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* Each worker thread's count of the jobs it has started.  The event MPM
 * goes on using a suspended connection's memory on the thread that
 * suspended it, after the suspend_connection hooks return (event.c,
 * notify_suspend() and worker_thread()), and says nothing when it is
 * done.  That thread starting its next job is what says it: a count
 * read in the hook that has moved since proves the MPM's last store is
 * behind us (docs/architecture.md). */
#ifndef SSE_THREAD_MARK_H
#define SSE_THREAD_MARK_H

#include "apr.h"

typedef struct sse_thread_mark sse_thread_mark;

/* The calling thread's mark, made on first use; NULL when out of
 * memory.  A mark is never freed. */
sse_thread_mark *sse_thread_mark_mine(void);

/* The count of m, read so that what its thread did before counting is
 * visible to the reader. */
apr_uint32_t sse_thread_mark_jobs(const sse_thread_mark *m);

/* The calling thread starts a job (or ends): counted if it has a mark. */
void sse_thread_starts_job(void);

#endif
