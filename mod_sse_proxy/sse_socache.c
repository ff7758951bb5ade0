/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "ap_provider.h"
#include "apr_strings.h"
#include "util_mutex.h"

#include "sse_socache.h"

APLOG_USE_MODULE(sse_proxy);

sse_socache *sse_socache_open(const char *spec, const char *directive,
                              const char *tag, const char *key,
                              const char *name_space,
                              struct ap_socache_hints *hints,
                              const char *mutex_type, apr_pool_t *ptemp,
                              server_rec *s)
{
    apr_pool_t *pproc = s->process->pool;
    const char *colon = strchr(spec, ':');
    const char *name = colon ? apr_pstrmemdup(ptemp, spec, colon - spec)
                             : spec;
    const ap_socache_provider_t *provider;
    sse_socache *t = NULL;
    const char *err;
    apr_status_t rv;

    provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name,
                                  AP_SOCACHE_PROVIDER_VERSION);
    if (!provider) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     "%s: %s needs the socache provider '%s', which is not "
                     "loaded (LoadModule socache_%s_module)", tag, directive,
                     name, name);
        return NULL;
    }
    if ((provider->flags & AP_SOCACHE_FLAG_NOTMPSAFE) && !mutex_type) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     "%s: %s %s: a store the nodes share over the network "
                     "is needed (redis, memcache)", tag, directive, spec);
        return NULL;
    }
    apr_pool_userdata_get((void **)&t, key, pproc);
    if (t && !strcmp(t->spec, spec)) {
        t->provider = provider;
        return t;
    }
    t = apr_pcalloc(pproc, sizeof(*t));
    t->provider = provider;
    err = provider->create(&t->inst, colon ? colon + 1 : NULL, ptemp, pproc);
    if (err) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "%s: %s %s: %s", tag,
                     directive, spec, err);
        return NULL;
    }
    if (provider->flags & AP_SOCACHE_FLAG_NOTMPSAFE) {
        rv = ap_global_mutex_create(&t->lock, NULL, mutex_type, NULL, s,
                                    pproc, 0);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                         "%s: %s %s: cannot create its mutex", tag,
                         directive, spec);
            return NULL;
        }
    }
    rv = provider->init(t->inst, name_space, hints, s, pproc);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     "%s: %s %s: cannot set it up", tag, directive, spec);
        return NULL;
    }
    t->spec = apr_pstrdup(pproc, spec);
    apr_pool_userdata_set(t, apr_pstrdup(pproc, key), apr_pool_cleanup_null,
                          pproc);
    return t;
}
