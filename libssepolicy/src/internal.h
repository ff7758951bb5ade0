/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/* Helpers shared by the library's own files; never exported. */
#ifndef SSEP_INTERNAL_H
#define SSEP_INTERNAL_H

#include <stddef.h>

#define SSEP_HIDDEN __attribute__((visibility("hidden")))

/* Locale-independent ASCII case folding: the classifier and the config
 * parsers must behave the same under any LC_CTYPE. */
static inline int ssep_ascii_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

SSEP_HIDDEN int ssep__ascii_casecmp(const char *a, const char *b);
SSEP_HIDDEN int ssep__ascii_contains(const char *haystack, const char *needle);

#endif
