/* Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0 */

/*
 * libFuzzer target for sse-tail's command line: the input split at NUL
 * bytes is argv; every piece also goes through the URL and header
 * checks and the output printers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse_tail_args.h"
#include "sse_tail_output.h"

#define MAX_ARGS 64

static FILE *sink(void)
{
    static FILE *f;

    if (!f)
        f = fopen("/dev/null", "w");
    return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    char *argv[MAX_ARGS + 1];
    char err[256];
    int argc = 1, i;
    size_t start = 0, k;
    sse_tail_args a;

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    argv[0] = (char *)"sse-tail";
    for (k = 0; k <= size && argc < MAX_ARGS; k++) {
        if (k == size || text[k] == 0) {
            argv[argc++] = text + start;
            start = k + 1;
        }
    }
    argv[argc] = NULL;
    err[0] = 0;
    if (sse_tail_args_parse(&a, argc, argv, err, sizeof(err)) == 0) {
        ssep_policy p;

        if (!a.help && !a.version
            && (!a.url || sse_tail_url_check(a.url, NULL, 0) != 0))
            abort();
        for (k = 0; k < a.n_headers; k++)
            if (sse_tail_header_check(a.headers[k], NULL, NULL, NULL, 0) != 0
                || strpbrk(a.headers[k], "\r\n"))
                abort();
        ssep_policy_init(&p);
        if (sse_tail_args_apply_policy(&a, &p, err, sizeof(err)) == 0)
            for (k = SSEP_CLASS_NETWORK; k < SSEP_CLASS_COUNT; k++)
                if (ssep_strategy_validate(&p.strategy[k]) != 0)
                    abort();
    } else {
        /* one line, always */
        if (err[0] == 0 || strchr(err, '\n') || strchr(err, '\r'))
            abort();
    }
    for (i = 1; i < argc; i++) {
        size_t name_len;
        const char *value;
        int64_t ms;
        sse_tail_output o = { 0, 0 };
        sse_tail_event ev;
        size_t n = strlen(argv[i]);

        (void)sse_tail_url_check(argv[i], err, sizeof(err));
        if (sse_tail_header_check(argv[i], &name_len, &value, err,
                                  sizeof(err)) == 0
            && (name_len == 0 || value < argv[i] || value > argv[i] + n))
            abort();
        if (sse_tail_parse_seconds(argv[i], &ms) == 0
            && (ms < 0 || ms > 31536000000LL + 999))
            abort();
        ev.type = argv[i];
        ev.type_len = n;
        ev.data = argv[i];
        ev.data_len = n;
        ev.id = argv[i];
        ev.id_len = n / 2;
        o.json = i & 1;
        if (sink())
            (void)sse_tail_print_event(&o, sink(), &ev);
    }
    /* the JSON printer over the raw bytes, NULs included */
    if (sink())
        sse_tail_json_string(sink(), (const char *)data, size);
    free(text);
    return 0;
}
