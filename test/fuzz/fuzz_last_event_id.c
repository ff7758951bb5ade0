/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/*
 * libFuzzer target for the Last-Event-ID check.  The input is the header
 * value, NUL bytes included, exactly sized so that ASan sees any read
 * past it.  A value the check accepts goes verbatim into the request
 * line block sent to a backend, so it must not be able to end the header
 * line (CR, LF, NUL) and must respect the length limit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sse_validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *value = (const char *)data;
    const char *why = sse_last_event_id_check(value, size);
    char *cstr;

    if (why) {
        if (!*why)
            abort();
    } else if (size > SSE_MAX_LAST_EVENT_ID || memchr(value, '\r', size)
               || memchr(value, '\n', size) || memchr(value, '\0', size)) {
        abort();
    }

    /* the module passes a C string and its strlen: same verdict on the
     * part a C string can carry */
    cstr = malloc(size + 1);
    if (!cstr)
        return 0;
    memcpy(cstr, data, size);
    cstr[size] = 0;
    if (strlen(cstr) == size
        && !sse_last_event_id_check(cstr, strlen(cstr)) != !why)
        abort();
    free(cstr);
    return 0;
}
