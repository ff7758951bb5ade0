/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/*
 * The cost of the SSE parser per event, for instruction counts under
 * callgrind (repeatable where wall-clock time is not):
 *
 *   valgrind --tool=callgrind --toggle-collect=ssep_parser_feed \
 *       bench/parser-cost --shape SHAPE --mode MODE
 *
 * It builds a stream of --events events of one shape in memory and feeds
 * it through one parser in --chunk byte pieces, the way the relay does:
 * after each dispatched event, the rest of the piece goes back in.  The
 * instructions counted inside ssep_parser_feed divided by the events it
 * prints is the parser's cost per event.
 *
 * Shapes:
 *   update  ~100 bytes: id, event type and a JSON data line
 *   token   a token of a language model's stream: data: {"token":"x"}
 *   multi   ~100 bytes of data on four data lines, CRLF line ends
 * Modes: scan (what the relay runs: no values kept), collect.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssepolicy.h"

static size_t put_event(char *out, const char *shape, unsigned long n)
{
    if (strcmp(shape, "token") == 0)
        return (size_t)sprintf(out, "data: {\"token\":\"%c\"}\n\n",
                               'a' + (int)(n % 26));
    if (strcmp(shape, "multi") == 0)
        return (size_t)sprintf(out,
                               "data: {\"seq\":%08lu,\r\n"
                               "data:  \"price\":101.25,\r\n"
                               "data:  \"symbol\":\"ACME\",\r\n"
                               "data:  \"venue\":\"XNAS\"}\r\n\r\n", n);
    if (strcmp(shape, "update") == 0)
        return (size_t)sprintf(out,
                               "id: %08lu\nevent: update\n"
                               "data: {\"seq\":%08lu,\"price\":101.25,"
                               "\"symbol\":\"ACME\",\"venue\":\"XNAS\"}\n\n",
                               n, n);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: parser-cost [--shape update|token|multi] "
                    "[--mode scan|collect] [--events N] [--chunk BYTES]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *shape = "update", *mode = "scan";
    unsigned long events = 100000, i, dispatched = 0;
    size_t chunk = 4096, len = 0, pos;
    ssep_parser_limits lim;
    ssep_parser *p;
    char *stream;
    int k;

    for (k = 1; k + 1 < argc; k += 2) {
        if (strcmp(argv[k], "--shape") == 0)
            shape = argv[k + 1];
        else if (strcmp(argv[k], "--mode") == 0)
            mode = argv[k + 1];
        else if (strcmp(argv[k], "--events") == 0)
            events = strtoul(argv[k + 1], NULL, 10);
        else if (strcmp(argv[k], "--chunk") == 0)
            chunk = strtoul(argv[k + 1], NULL, 10);
        else
            usage();
    }
    if (k != argc || chunk == 0 || events == 0
        || (strcmp(mode, "scan") != 0 && strcmp(mode, "collect") != 0))
        usage();

    stream = malloc(events * 160);
    if (!stream)
        return 1;
    for (i = 0; i < events; i++) {
        size_t n = put_event(stream + len, shape, i);
        if (n == 0)
            usage();
        len += n;
    }

    ssep_parser_limits_init(&lim);
    lim.collect = strcmp(mode, "collect") == 0;
    p = ssep_parser_create(&lim);
    if (!p)
        return 1;
    for (pos = 0; pos < len; pos += chunk) {
        size_t n = len - pos < chunk ? len - pos : chunk, off = 0;
        while (off < n) {
            ssep_event ev;
            size_t used;
            int rc = ssep_parser_feed(p, stream + pos + off, n - off, &used,
                                      &ev);
            off += used;
            if (rc == SSEP_PARSE_EVENT)
                dispatched++;
            else if (rc < 0) {
                fprintf(stderr, "parser error %d\n", rc);
                return 1;
            }
        }
    }
    printf("shape=%s mode=%s chunk=%zu events=%lu bytes=%zu "
           "bytes/event=%.1f\n", shape, mode, chunk, dispatched, len,
           (double)len / (double)(dispatched ? dispatched : 1));
    ssep_parser_destroy(p);
    free(stream);
    return dispatched == events ? 0 : 1;
}
