/* Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0 */

#ifndef LOAD_LOOP_H
#define LOAD_LOOP_H

#include <signal.h>

/* Set by SIGINT or SIGTERM: the run ends and reports what it has. */
extern volatile sig_atomic_t stop_requested;

/* Runs until the measurement window is over or a stop is requested. */
void run(void);

#endif
