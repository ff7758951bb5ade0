/* Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0 */

#ifndef LOAD_REPORT_H
#define LOAD_REPORT_H

/* Opens the --timeline and --json files before the run. */
int open_outputs(void);

/* Writes the summary and closes the outputs; 1 if one could not be
 * written. */
int finish(void);

#endif
