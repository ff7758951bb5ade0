/* Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0 */

/*
 * Reads the policy document a proxy serves at its status handler's
 * ?format=policy (what ssep_policy_json writes).  No libcurl here.
 */
#ifndef SSE_TAIL_POLICY_H
#define SSE_TAIL_POLICY_H

#include <stddef.h>

#include "ssepolicy.h"

/* The largest document read from the network. */
#define SSE_TAIL_POLICY_MAX (64 * 1024)

/* Parses the JSON document doc[0..len) onto *p (which holds the defaults
 * or whatever came before).  Strict: one JSON object (RFC 8259, nesting
 * at most 16 deep, no duplicate keys), "jitter" a known mode,
 * "strategies" an object of known class names, each an object with the
 * integers initial_ms, max_ms (1..2^32-1), max_attempts (1..1000000) and
 * the number factor (1..100), valid together (initial <= max).  Classes
 * missing keep their strategy; unknown keys ("version", "quality", later
 * additions) are skipped.  0 on success; -1 with a one-line reason in err
 * and *p unchanged. */
int sse_tail_policy_parse(ssep_policy *p, const char *doc, size_t len,
                          char *err, size_t errlen);

#endif
