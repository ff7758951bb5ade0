/* Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0 */

#ifndef LOAD_ARGS_H
#define LOAD_ARGS_H

/* Fills cfg; prints usage and exits with 2 on a bad command line. */
void parse_args(int argc, char **argv);

#endif
