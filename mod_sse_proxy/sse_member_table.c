/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include <string.h>

#include "sse_member_table.h"

/* FNV-1a over both names, with a NUL between them so that ("ab", "c")
 * and ("a", "bc") differ. */
static apr_uint64_t key_of(const char *balancer, const char *member)
{
    apr_uint64_t h = APR_UINT64_C(14695981039346656037);
    const unsigned char *s;

    for (s = (const unsigned char *)balancer; *s; s++)
        h = (h ^ *s) * APR_UINT64_C(1099511628211);
    h *= APR_UINT64_C(1099511628211);
    for (s = (const unsigned char *)member; *s; s++)
        h = (h ^ *s) * APR_UINT64_C(1099511628211);
    return h;
}

sse_member_state *sse_member_table_find(sse_member_state *table, unsigned n,
                                        const char *balancer,
                                        const char *member, int create,
                                        int *created)
{
    size_t blen = strlen(balancer), mlen = strlen(member);
    apr_uint64_t key;
    unsigned i, probe;

    if (created)
        *created = 0;
    if (!n || blen >= SSE_BALANCER_NAME_SIZE || mlen >= SSE_MEMBER_NAME_SIZE)
        return NULL;
    key = key_of(balancer, member);
    /* slots are never given back, so the first free one ends the search */
    for (probe = 0, i = (unsigned)(key % n); probe < n;
         probe++, i = (i + 1) % n) {
        sse_member_state *m = &table[i];

        if (!m->used) {
            if (!create)
                return NULL;
            memset(m, 0, sizeof(*m));
            m->key = key;
            memcpy(m->balancer, balancer, blen + 1);
            memcpy(m->member, member, mlen + 1);
            m->used = 1;
            if (created)
                *created = 1;
            return m;
        }
        if (m->key == key && !strcmp(m->member, member)
            && !strcmp(m->balancer, balancer))
            return m;
    }
    return NULL;
}
