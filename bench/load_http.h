/* Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0 */

#ifndef LOAD_HTTP_H
#define LOAD_HTTP_H

#include "load.h"

/* Bytes of a response head, then of its body.  Both return -1 when the
 * connection ended. */
int head_input(struct client *c, const char *p, size_t n, int64_t now);
int body_input(struct client *c, const char *p, size_t n, int64_t now);

#endif
