/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include "ssepolicy.h"

const char *ssep_version(void)
{
    return SSEP_VERSION_STRING;
}

const char *ssep_strerror(int err)
{
    switch (err) {
#define SSEP_STRERROR_CASE(name, val, msg) case SSEP_##name: return msg;
        SSEP_ERRNO_MAP(SSEP_STRERROR_CASE)
#undef SSEP_STRERROR_CASE
    default:
        return "unknown error";
    }
}

const char *ssep_err_name(int err)
{
    switch (err) {
#define SSEP_ERR_NAME_CASE(name, val, msg) case SSEP_##name: return #name;
        SSEP_ERRNO_MAP(SSEP_ERR_NAME_CASE)
#undef SSEP_ERR_NAME_CASE
    default:
        return "UNKNOWN";
    }
}
