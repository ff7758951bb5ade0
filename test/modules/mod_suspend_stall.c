/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/*
 * A test module: a worker thread that stalls right after suspending a
 * connection, as the event MPM's thread may (preempted, paged out)
 * between its last stores into the connection's memory.
 *
 * A request that carries "X-Suspend-Stall: <ms>" and is suspended gets
 * a suspend_connection hook that runs after mod_sse_proxy's.  It does
 * what event.c's notify_suspend() does next (c->sbh = NULL), logs
 * "stall begins", sleeps, logs "stall over", then stores into the
 * connection's memory again, as the MPM's cs->suspended = 1 does.  If
 * that memory was freed meanwhile the store is a use after free: the
 * sanitizer build reports it, and the log order shows it in any build
 * (mod_sse_proxy logs SSE00061 when it frees a connection).
 */
#include "apr_strings.h"
#include "httpd.h"
#include "http_config.h"
#include "http_connection.h"
#include "http_log.h"
#include "http_main.h"
#include "mpm_common.h"

module AP_MODULE_DECLARE_DATA suspend_stall_module;

typedef struct {
    apr_interval_time_t stall;
} stall_conf;

/* Early, while the request is ours to read: how long to stall. */
static void note_stall(conn_rec *c, request_rec *r)
{
    const char *ms;
    stall_conf *sc;

    if (!r || !(ms = apr_table_get(r->headers_in, "X-Suspend-Stall")))
        return;
    sc = apr_pcalloc(c->pool, sizeof(*sc));
    sc->stall = apr_time_from_msec(apr_atoi64(ms));
    ap_set_module_config(c->conn_config, &suspend_stall_module, sc);
}

static void stall(conn_rec *c, request_rec *r)
{
    stall_conf *sc = ap_get_module_config(c->conn_config,
                                          &suspend_stall_module);
    apr_interval_time_t how_long;
    long id = c->id;

    (void)r;    /* possibly finished by another thread already */
    if (!sc || !sc->stall || !c->cs || c->cs->state != CONN_STATE_SUSPENDED)
        return;
    how_long = sc->stall;
    sc->stall = 0;
    c->sbh = NULL;
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, ap_server_conf,
                 "STALL: stall begins conn=%ld", id);
    apr_sleep(how_long);
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, ap_server_conf,
                 "STALL: stall over conn=%ld", id);
    c->sbh = NULL;
}

static void register_hooks(apr_pool_t *p)
{
    static const char *const after_sse[] = { "mod_sse_proxy.c", NULL };

    (void)p;
    ap_hook_suspend_connection(note_stall, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_suspend_connection(stall, after_sse, NULL, APR_HOOK_REALLY_LAST);
}

AP_DECLARE_MODULE(suspend_stall) = {
    STANDARD20_MODULE_STUFF,
    NULL, NULL, NULL, NULL, NULL,
    register_hooks,
    AP_MODULE_FLAG_NONE
};
