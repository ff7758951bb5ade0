/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include <string.h>

#include "ssepolicy.h"
#include "internal.h"

static const char *const class_names[SSEP_CLASS_COUNT] = {
    "NONE", "NETWORK_ERROR", "AUTH_ERROR", "SERVER_ERROR", "PROXY_ERROR"
};

const char *ssep_class_name(ssep_class c)
{
    if ((unsigned)c >= SSEP_CLASS_COUNT)
        return "UNKNOWN";
    return class_names[c];
}

int ssep_class_parse(const char *name, ssep_class *out)
{
    static const char *const short_names[SSEP_CLASS_COUNT] = {
        "NONE", "NETWORK", "AUTH", "SERVER", "PROXY"
    };
    unsigned i;

    if (!name || !out)
        return -1;
    for (i = 0; i < SSEP_CLASS_COUNT; i++) {
        if (!ssep__ascii_casecmp(name, class_names[i])
            || !ssep__ascii_casecmp(name, short_names[i])) {
            *out = (ssep_class)i;
            return 0;
        }
    }
    return -1;
}

const char *ssep_condition_name(ssep_condition cond)
{
    switch (cond) {
    case SSEP_COND_NONE:            return "none";
    case SSEP_COND_CONNECT_REFUSED: return "connect-refused";
    case SSEP_COND_CONNECT_TIMEOUT: return "connect-timeout";
    case SSEP_COND_DNS:             return "dns";
    case SSEP_COND_RESET:           return "reset";
    case SSEP_COND_READ_TIMEOUT:    return "read-timeout";
    case SSEP_COND_PREMATURE_EOF:   return "premature-eof";
    case SSEP_COND_TLS:             return "tls";
    case SSEP_COND_OTHER:           return "other";
    }
    return "unknown";
}

ssep_class ssep_classify(int http_status, ssep_condition cond,
                         const char *message)
{
    /* A 404 from behind a proxy is almost always a routing mistake in
     * the proxy, not a missing stream, so it is treated like 502/503. */
    if (http_status == 404 || http_status == 502 || http_status == 503)
        return SSEP_CLASS_PROXY;
    if (http_status == 401 || http_status == 403)
        return SSEP_CLASS_AUTH;
    if (http_status >= 500)
        return SSEP_CLASS_SERVER;

    if (message) {
        if (ssep__ascii_contains(message, "network")
            || ssep__ascii_contains(message, "connection"))
            return SSEP_CLASS_NETWORK;
        if (ssep__ascii_contains(message, "stream closed")
            || ssep__ascii_contains(message, "premature"))
            return SSEP_CLASS_PROXY;
    }

    switch (cond) {
    case SSEP_COND_NONE:
        break;
    case SSEP_COND_PREMATURE_EOF:
        return SSEP_CLASS_PROXY;
    case SSEP_COND_CONNECT_REFUSED:
    case SSEP_COND_CONNECT_TIMEOUT:
    case SSEP_COND_DNS:
    case SSEP_COND_RESET:
    case SSEP_COND_READ_TIMEOUT:
    case SSEP_COND_TLS:
    case SSEP_COND_OTHER:
    default:
        return SSEP_CLASS_NETWORK;
    }

    if ((message == NULL || *message == 0) && http_status >= 100 && http_status < 400)
        return SSEP_CLASS_NONE;
    return SSEP_CLASS_NETWORK;
}
