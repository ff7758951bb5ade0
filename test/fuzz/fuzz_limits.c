/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/*
 * libFuzzer target for the stream limits (sse_limit_table.c).  The first
 * byte picks what is fuzzed: SSEProxyReconnectRate's argument,
 * SSEProxyMaxStreams's argument, or a sequence of table operations
 * (keys found and claimed, streams taken and given back by owners,
 * owners dying, reconnects at moving times) after each of which every
 * slot's total must equal the sum of its owners' counts, and a rate
 * decision must stay within what the rate allows.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apr_general.h"
#include "apr_pools.h"

#include "sse_limit_table.h"

#define SENTINEL 7777

static apr_pool_t *pool;
static sse_limit_table *table;
static apr_int64_t dead = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (apr_initialize() != APR_SUCCESS
        || apr_pool_create(&pool, NULL) != APR_SUCCESS)
        abort();
    table = calloc(1, sizeof(*table));
    if (!table)
        abort();
    return 0;
}

static int alive(apr_int64_t pid)
{
    return pid != dead;
}

static void refused_or_ranged(const char *err, int ok)
{
    if (err ? strncmp(err, "D: ", 3) != 0 : !ok)
        abort();
}

/* The slots the operations can reach: those of the eight keys. */
static void check_totals(apr_time_t now)
{
    unsigned k;
    int o;

    for (k = 0; k < 8; k++) {
        apr_uint64_t key = sse_limit_key('i', (const char *)&k, sizeof(k));
        int i = sse_limit_find(table, key, NULL, now, 0);
        apr_uint64_t sum = 0;

        if (i < 0)
            continue;
        for (o = 0; o < SSE_LIMIT_OWNERS; o++)
            sum += table->counts[o][i];
        if (sum != table->entries[i].open)
            abort();
    }
}

/* Small key and owner spaces, so that operations meet each other. */
static void operations(const uint8_t *d, size_t n)
{
    int owners[4], slot[8];
    apr_time_t now = apr_time_from_sec(100);
    size_t i;

    memset(table, 0, sizeof(*table));
    dead = -1;
    for (i = 0; i < 4; i++)
        owners[i] = sse_limit_owner_claim(table, (apr_int64_t)i + 1, now,
                                          alive);
    for (i = 0; i < 8; i++)
        slot[i] = -1;
    for (i = 0; i < n; i++) {
        unsigned k = d[i] & 7, o = (d[i] >> 3) & 3, op = d[i] >> 5;
        apr_uint64_t key = sse_limit_key('i', (const char *)&k, sizeof(k));

        switch (op) {
        case 0:
        case 1:
            slot[k] = sse_limit_find(table, key, "k", now, 1);
            if (slot[k] >= 0 && owners[o] >= 0)
                sse_limit_acquire(table, slot[k], owners[o]);
            break;
        case 2:
        case 3:
            if (slot[k] >= 0 && owners[o] >= 0)
                sse_limit_release(table, slot[k], owners[o], key);
            break;
        case 4:
            dead = (apr_int64_t)o + 1;
            sse_limit_reconcile(table, alive);
            owners[o] = sse_limit_owner_claim(table, (apr_int64_t)o + 1,
                                              now, alive);
            dead = -1;
            break;
        case 5: {
            apr_int64_t w;
            int s = sse_limit_find(table, key, "k", now, 1);

            if (s < 0)
                break;
            w = sse_limit_rate(&table->entries[s], 3,
                               apr_time_from_sec(2), now);
            if (w > 2000 && now >= table->entries[s].penalty_until)
                abort();
            if (w >= 0 && d[i] & 1)
                table->entries[s].penalty_until = now + w * 1000 + 1000;
            break;
        }
        default:
            now += (apr_time_t)(d[i] & 31) * 50000;
            break;
        }
        check_totals(now);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char arg[64];
    size_t n;

    if (size < 1)
        return 0;
    n = size - 1 < sizeof(arg) - 1 ? size - 1 : sizeof(arg) - 1;
    memcpy(arg, data + 1, n);
    arg[n] = 0;
    switch (data[0] % 3) {
    case 0: {
        apr_uint32_t r = SENTINEL;
        apr_interval_time_t p = SENTINEL;
        const char *err = sse_parse_rate(pool, "D", arg, &r, &p);

        refused_or_ranged(err, r >= 1 && r <= 1000000
                          && p >= apr_time_from_sec(1)
                          && p <= apr_time_from_sec(3600)
                          && p % apr_time_from_sec(1) == 0);
        if (err && (r != SENTINEL || p != SENTINEL))
            abort();
        break;
    }
    case 1: {
        apr_int64_t c = SENTINEL;
        const char *err = sse_parse_cap(pool, "D", arg, &c);

        refused_or_ranged(err, c >= 0 && c <= 10000000);
        if (err && c != SENTINEL)
            abort();
        break;
    }
    default:
        operations(data + 1, size - 1);
        break;
    }
    apr_pool_clear(pool);
    return 0;
}
