/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include "internal.h"

int ssep__ascii_casecmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        int ca = ssep_ascii_lower((unsigned char)*a);
        int cb = ssep_ascii_lower((unsigned char)*b);
        if (ca != cb || ca == 0)
            return ca - cb;
    }
}

int ssep__ascii_contains(const char *haystack, const char *needle)
{
    if (!*needle)
        return 1;
    for (; *haystack; haystack++) {
        const char *h = haystack, *n = needle;
        while (*h && *n && ssep_ascii_lower((unsigned char)*h)
                           == ssep_ascii_lower((unsigned char)*n)) {
            h++;
            n++;
        }
        if (!*n)
            return 1;
    }
    return 0;
}
