/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* An httpd socache named by a directive ("provider[:args]"), opened once
 * in the parent's process pool so that graceful restarts keep it and
 * children inherit it (the session map, the fleet's store). */
#ifndef SSE_SOCACHE_H
#define SSE_SOCACHE_H

#include "httpd.h"
#include "ap_socache.h"
#include "apr_global_mutex.h"

typedef struct {
    const char                  *spec;
    ap_socache_instance_t       *inst;
    apr_global_mutex_t          *lock;  /* for providers not MP-safe */
    /* looked up each generation: its module may have been reloaded at
     * another address */
    const ap_socache_provider_t *provider;
} sse_socache;

/* The cache of spec, made or found again under key.  directive names it
 * in errors (logged with tag); mutex_type is the registered mutex a
 * provider that is not MP-safe gets, or NULL to refuse such providers.
 * NULL on error. */
sse_socache *sse_socache_open(const char *spec, const char *directive,
                              const char *tag, const char *key,
                              const char *name_space,
                              struct ap_socache_hints *hints,
                              const char *mutex_type, apr_pool_t *ptemp,
                              server_rec *s);

#endif
