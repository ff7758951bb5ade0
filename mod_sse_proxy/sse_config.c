#include "apr_strings.h"
#include "apr_lib.h"

#include "sse_config.h"

#define MAX_SECONDS (7 * 24 * 3600)
#define MIN_EVENT_SIZE 256
#define MAX_EVENT_SIZE (APR_INT64_C(1) << 30)

void *sse_create_dir_conf(apr_pool_t *p, char *dir)
{
    sse_dir_conf *c = apr_pcalloc(p, sizeof(*c));

    (void)dir;
    c->enabled = 0;
    c->heartbeat_s = SSE_DEFAULT_HEARTBEAT_S;
    c->idle_timeout_s = SSE_DEFAULT_IDLE_TIMEOUT_S;
    c->max_event_size = SSE_DEFAULT_MAX_EVENT_SIZE;
    return c;
}

#define MERGE(field) \
    do { \
        c->field = add->field##_set ? add->field : base->field; \
        c->field##_set = add->field##_set || base->field##_set; \
    } while (0)

void *sse_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    sse_dir_conf *base = basev, *add = addv;
    sse_dir_conf *c = apr_pcalloc(p, sizeof(*c));

    MERGE(enabled);
    MERGE(heartbeat_s);
    MERGE(idle_timeout_s);
    MERGE(max_event_size);
    return c;
}

int sse_conf_enabled(const sse_dir_conf *c)
{
    return c && c->enabled;
}

apr_interval_time_t sse_conf_heartbeat(const sse_dir_conf *c)
{
    return apr_time_from_sec(c->heartbeat_s);
}

apr_interval_time_t sse_conf_idle_timeout(const sse_dir_conf *c)
{
    return apr_time_from_sec(c->idle_timeout_s);
}

apr_size_t sse_conf_max_event_size(const sse_dir_conf *c)
{
    return (apr_size_t)c->max_event_size;
}

static int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!apr_isdigit(*s))
            return 0;
    return 1;
}

const char *sse_parse_seconds_or_off(apr_pool_t *p, const char *directive,
                                     const char *arg, apr_int64_t max,
                                     apr_int64_t *out)
{
    apr_int64_t v;

    if (!strcasecmp(arg, "off")) {
        *out = 0;
        return NULL;
    }
    if (!all_digits(arg) || strlen(arg) > 9
        || (v = apr_atoi64(arg)) < 1 || v > max)
        return apr_psprintf(p, "%s: '%s' is not valid; use a whole number of "
                            "seconds from 1 to %" APR_INT64_T_FMT ", or 'off'",
                            directive, arg, max);
    *out = v;
    return NULL;
}

const char *sse_parse_size(apr_pool_t *p, const char *directive,
                           const char *arg, apr_int64_t min, apr_int64_t max,
                           apr_int64_t *out)
{
    char digits[16];
    apr_size_t n = strlen(arg);
    apr_int64_t scale = 1, v;

    if (n > 0 && n < sizeof(digits)) {
        switch (apr_tolower(arg[n - 1])) {
        case 'k': scale = 1024; n--; break;
        case 'm': scale = 1024 * 1024; n--; break;
        case 'g': scale = 1024 * 1024 * 1024; n--; break;
        default: break;
        }
        memcpy(digits, arg, n);
        digits[n] = 0;
        if (all_digits(digits) && n <= 10) {
            v = apr_atoi64(digits) * scale;
            if (v >= min && v <= max) {
                *out = v;
                return NULL;
            }
        }
    }
    return apr_psprintf(p, "%s: '%s' is not valid; use a size in bytes from "
                        "%" APR_INT64_T_FMT " to %" APR_INT64_T_FMT
                        ", optionally with K, M or G (e.g. 1M)",
                        directive, arg, min, max);
}

static const char *set_heartbeat(cmd_parms *cmd, void *dconf, const char *arg)
{
    sse_dir_conf *c = dconf;
    const char *err = sse_parse_seconds_or_off(cmd->pool, cmd->cmd->name, arg,
                                               MAX_SECONDS, &c->heartbeat_s);
    c->heartbeat_s_set = 1;
    return err;
}

static const char *set_idle_timeout(cmd_parms *cmd, void *dconf,
                                    const char *arg)
{
    sse_dir_conf *c = dconf;
    const char *err = sse_parse_seconds_or_off(cmd->pool, cmd->cmd->name, arg,
                                               MAX_SECONDS, &c->idle_timeout_s);
    c->idle_timeout_s_set = 1;
    return err;
}

static const char *set_max_event_size(cmd_parms *cmd, void *dconf,
                                      const char *arg)
{
    sse_dir_conf *c = dconf;
    const char *err = sse_parse_size(cmd->pool, cmd->cmd->name, arg,
                                     MIN_EVENT_SIZE, MAX_EVENT_SIZE,
                                     &c->max_event_size);
    c->max_event_size_set = 1;
    return err;
}

static const char *set_enabled(cmd_parms *cmd, void *dconf, const char *arg)
{
    sse_dir_conf *c = dconf;

    if (!strcasecmp(arg, "on"))
        c->enabled = 1;
    else if (!strcasecmp(arg, "off"))
        c->enabled = 0;
    else
        return apr_psprintf(cmd->pool, "%s: '%s' is not valid; use On or Off",
                            cmd->cmd->name, arg);
    c->enabled_set = 1;
    return NULL;
}

const command_rec sse_cmds[] = {
    AP_INIT_TAKE1("SSEProxy", set_enabled, NULL, RSRC_CONF | ACCESS_CONF,
                  "On to relay proxied requests of this location as "
                  "Server-Sent Events streams (default Off)"),
    AP_INIT_TAKE1("SSEProxyHeartbeat", set_heartbeat, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Seconds of backend silence before a heartbeat comment is "
                  "sent to the client, or 'off' (default 15)"),
    AP_INIT_TAKE1("SSEProxyIdleTimeout", set_idle_timeout, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Seconds of backend silence after which the stream is "
                  "ended, or 'off' (default off)"),
    AP_INIT_TAKE1("SSEProxyMaxEventSize", set_max_event_size, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Largest event or line accepted from the backend, in bytes "
                  "(K, M, G suffixes; default 1M)"),
    { NULL }
};
