/* Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0 */

#ifndef LOAD_CLIENT_H
#define LOAD_CLIENT_H

#include "load.h"

/* Ends the client's connection: counts how it ended, keeps what an
 * EventSource keeps, and schedules the next attempt as the mode says. */
void conn_end(struct client *c, enum end_kind k, int64_t now);

/* Event-stream bytes of the current response.  Returns -1 when the
 * connection ended. */
int sse_input(struct client *c, const char *p, size_t n, int64_t now);

#endif
