/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* lbmethod=bystreams: the balancer method that elects the usable member
 * with the fewest open streams for its weight (loadfactor times its
 * quality grade's weight). */
#ifndef SSE_LBMETHOD_BYSTREAMS_H
#define SSE_LBMETHOD_BYSTREAMS_H

#include "apr_pools.h"

/* Registers the provider: at module load, so that <Proxy balancer://>
 * sections after LoadModule can name it. */
void sse_bystreams_register(apr_pool_t *p);

#endif
