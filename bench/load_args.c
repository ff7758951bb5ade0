/* Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0 */

/* The command line; README-load.md documents it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "load.h"
#include "load_args.h"

const char *const mode_names[MODE_COUNT] = { "none", "eventsource", "naive" };

static void usage(FILE *f)
{
    fprintf(f,
        "usage: sse-load --port P --path PATH --streams N --duration SECONDS\n"
        "                [--host 127.0.0.1] [--mode none|eventsource|naive]\n"
        "                [--connect-rate R] [--pace-reconnects]\n"
        "                [--initial-retry-ms MS] [--naive-interval-ms MS]\n"
        "                [--timeout-ms MS] [--warmup SECONDS]\n"
        "                [--csv-latency FILE] [--timeline FILE] [--json FILE]\n"
        "                [--source-base 127.0.1.1] [--quiet]\n");
}

static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
    return sse_opt_value("sse-load", argc, argv, i, name);
}

static int arg_u64(const char *v, uint64_t max, uint64_t *out)
{
    return parse_dec(v, strlen(v), out) == 0 && *out <= max ? 0 : -1;
}

static int arg_double(const char *v, double min, double max, double *out)
{
    char *end;
    double d;

    errno = 0;
    d = strtod(v, &end);
    if (errno || end == v || *end || !(d >= min && d <= max))
        return -1;
    *out = d;
    return 0;
}

static int arg_mode(const char *v)
{
    int m;

    for (m = 0; m < (int)(sizeof(mode_names) / sizeof(mode_names[0])); m++)
        if (!strcmp(v, mode_names[m])) {
            cfg.mode = (enum mode)m;
            return 0;
        }
    return -1;
}

/* A request target that goes on the wire as given: origin-form, and
 * nothing that would break the request line. */
static int valid_path(const char *p)
{
    if (*p != '/')
        return 0;
    for (; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return 0;
    return 1;
}

static int parse_option(int argc, char **argv, int *i, unsigned *seen)
{
    const char *v;
    uint64_t u;

    if ((v = opt_value(argc, argv, i, "--host"))) {
        cfg.host = v;
    } else if ((v = opt_value(argc, argv, i, "--port"))) {
        if (arg_u64(v, 65535, &u) < 0 || u == 0)
            return -1;
        cfg.port = (unsigned)u;
        *seen |= 1;
    } else if ((v = opt_value(argc, argv, i, "--path"))) {
        if (!valid_path(v))
            return -1;
        cfg.path = v;
        *seen |= 2;
    } else if ((v = opt_value(argc, argv, i, "--streams"))) {
        if (arg_u64(v, 10000000, &u) < 0 || u == 0)
            return -1;
        cfg.streams = (uint32_t)u;
        *seen |= 4;
    } else if ((v = opt_value(argc, argv, i, "--duration"))) {
        if (arg_double(v, 0.001, 31536000, &cfg.duration_s) < 0)
            return -1;
        *seen |= 8;
    } else if ((v = opt_value(argc, argv, i, "--warmup"))) {
        if (arg_double(v, 0, 31536000, &cfg.warmup_s) < 0)
            return -1;
    } else if ((v = opt_value(argc, argv, i, "--mode"))) {
        if (arg_mode(v) < 0)
            return -1;
    } else if ((v = opt_value(argc, argv, i, "--connect-rate"))) {
        if (arg_double(v, 0.01, 1e7, &cfg.connect_rate) < 0)
            return -1;
    } else if ((v = opt_value(argc, argv, i, "--initial-retry-ms"))) {
        if (arg_u64(v, 86400000, &cfg.initial_retry_ms) < 0)
            return -1;
    } else if ((v = opt_value(argc, argv, i, "--naive-interval-ms"))) {
        if (arg_u64(v, 86400000, &cfg.naive_ms) < 0)
            return -1;
    } else if ((v = opt_value(argc, argv, i, "--timeout-ms"))) {
        if (arg_u64(v, 86400000, &cfg.timeout_ms) < 0 || cfg.timeout_ms == 0)
            return -1;
    } else if ((v = opt_value(argc, argv, i, "--csv-latency"))) {
        cfg.csv_path = v;
    } else if ((v = opt_value(argc, argv, i, "--timeline"))) {
        cfg.timeline_path = v;
    } else if ((v = opt_value(argc, argv, i, "--json"))) {
        cfg.json_path = v;
    } else if ((v = opt_value(argc, argv, i, "--source-base"))) {
        struct in_addr a;

        if (inet_pton(AF_INET, v, &a) != 1 || !a.s_addr)
            return -1;
        cfg.source_base = ntohl(a.s_addr);
    } else if (!strcmp(argv[*i], "--pace-reconnects")) {
        cfg.pace_reconnects = 1;
    } else if (!strcmp(argv[*i], "--quiet")) {
        cfg.quiet = 1;
    } else {
        return -1;
    }
    return 0;
}

void parse_args(int argc, char **argv)
{
    unsigned seen = 0;
    int i;

    cfg.host = "127.0.0.1";
    cfg.mode = MODE_NONE;
    cfg.connect_rate = 2000;
    cfg.initial_retry_ms = 3000;
    cfg.naive_ms = 1000;
    cfg.timeout_ms = 10000;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            exit(0);
        }
        if (parse_option(argc, argv, &i, &seen) < 0) {
            fprintf(stderr, "sse-load: bad argument '%s'\n", argv[i]);
            usage(stderr);
            exit(2);
        }
    }
    if (cfg.source_base && (uint64_t)cfg.source_base + cfg.streams
                           > UINT32_MAX) {
        fprintf(stderr, "sse-load: --source-base leaves no address for "
                "every stream\n");
        exit(2);
    }
    if (seen != 15) {
        fprintf(stderr, "sse-load: --port, --path, --streams and --duration "
                "are required\n");
        usage(stderr);
        exit(2);
    }
}
