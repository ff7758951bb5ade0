/* Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sse_tail_args.h"

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* A short, printable copy of user input for a one-line message: control
 * bytes become \r, \n or ?, and a long value is cut with "...". */
static const char *shown(const char *in, char *buf, size_t len)
{
    size_t o = 0;

    for (; *in && o + 5 < len; in++) {
        unsigned char c = (unsigned char)*in;
        if (c == '\r' || c == '\n') {
            buf[o++] = '\\';
            buf[o++] = c == '\r' ? 'r' : 'n';
        } else {
            buf[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
        }
    }
    if (*in) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = 0;
    return buf;
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int prefix_nocase(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++)
        if (lower((unsigned char)*s) != *prefix)
            return 0;
    return 1;
}

static int equal_nocase(const char *a, size_t alen, const char *b)
{
    size_t i;

    if (alen != strlen(b))
        return 0;
    for (i = 0; i < alen; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return 0;
    return 1;
}

/* RFC 9110 tchar */
static int is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
           || (c >= 'A' && c <= 'Z') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

int sse_tail_url_check(const char *url, char *err, size_t errlen)
{
    const char *host, *p;
    size_t len;

    if (!url || !*url)
        return fail(err, errlen, "empty URL");
    len = strlen(url);
    if (len > SSE_TAIL_MAX_URL)
        return fail(err, errlen, "URL longer than %d bytes", SSE_TAIL_MAX_URL);
    for (p = url; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7f)
            return fail(err, errlen, "URL contains a blank or control byte");
    if (prefix_nocase(url, "http://"))
        host = url + 7;
    else if (prefix_nocase(url, "https://"))
        host = url + 8;
    else
        return fail(err, errlen, "URL must start with http:// or https://");
    /* userinfo@ is allowed by URLs; the host follows it */
    p = host + strcspn(host, "/?#");
    {
        const char *at = NULL, *q;
        for (q = host; q < p; q++)
            if (*q == '@')
                at = q;
        if (at)
            host = at + 1;
    }
    if (host == p || *host == ':')
        return fail(err, errlen, "URL has no host");
    return 0;
}

int sse_tail_header_check(const char *h, size_t *name_len,
                          const char **value, char *err, size_t errlen)
{
    const char *colon, *p;

    if (!h)
        return fail(err, errlen, "empty header");
    if (strlen(h) > SSE_TAIL_MAX_HEADER)
        return fail(err, errlen, "header longer than %d bytes",
                    SSE_TAIL_MAX_HEADER);
    for (p = h; *p; p++)
        if (*p == '\r' || *p == '\n')
            return fail(err, errlen, "header contains CR or LF");
    colon = strchr(h, ':');
    if (!colon)
        return fail(err, errlen, "header has no colon (want 'Name: value')");
    if (colon == h)
        return fail(err, errlen, "header has an empty name");
    for (p = h; p < colon; p++)
        if (!is_tchar((unsigned char)*p))
            return fail(err, errlen, "header name contains an invalid byte");
    for (p = colon + 1; *p; p++)
        if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
            return fail(err, errlen, "header value contains a control byte");
    p = colon + 1;
    while (*p == ' ' || *p == '\t')
        p++;
    if (name_len)
        *name_len = (size_t)(colon - h);
    if (value)
        *value = p;
    return 0;
}

int sse_tail_parse_seconds(const char *s, int64_t *ms)
{
    int64_t whole = 0, frac = 0;
    int digits = 0, decimals = 0;

    if (!s || !*s)
        return -1;
    for (; *s >= '0' && *s <= '9'; s++, digits++) {
        whole = whole * 10 + (*s - '0');
        if (whole > 31536000)
            return -1;
    }
    if (*s == '.') {
        for (s++; *s >= '0' && *s <= '9'; s++, decimals++) {
            if (decimals == 3)
                return -1;
            frac = frac * 10 + (*s - '0');
        }
        if (decimals == 0)
            return -1;
    }
    if (*s || digits == 0)
        return -1;
    while (decimals++ < 3)
        frac *= 10;
    *ms = whole * 1000 + frac;
    return 0;
}

static int parse_count(const char *s, uint64_t *out)
{
    uint64_t v = 0;

    if (!s || !*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > 1000000000000ull)
            return -1;
    }
    if (v == 0)
        return -1;
    *out = v;
    return 0;
}

/* "CLASS=spec": checks the class and the spec against the defaults */
static int strategy_arg(sse_tail_args *a, const char *arg, char *err,
                        size_t errlen)
{
    const char *eq = strchr(arg, '=');
    char name[32], why[128], tmp[48];
    ssep_class c;
    ssep_strategy s;
    size_t n;

    if (!eq)
        return fail(err, errlen, "--strategy wants CLASS=spec, got '%s'",
                    shown(arg, tmp, sizeof(tmp)));
    n = (size_t)(eq - arg);
    if (n == 0 || n >= sizeof(name))
        return fail(err, errlen, "--strategy: bad class in '%s'",
                    shown(arg, tmp, sizeof(tmp)));
    memcpy(name, arg, n);
    name[n] = 0;
    if (ssep_class_parse(name, &c) != 0 || c == SSEP_CLASS_NONE)
        return fail(err, errlen, "--strategy: unknown class '%s' (network, "
                    "auth, server or proxy)", shown(name, tmp, sizeof(tmp)));
    s = *ssep_default_strategy(c);
    why[0] = 0;
    if (ssep_strategy_parse(&s, eq + 1, why, sizeof(why)) != 0) {
        char msg[160];
        return fail(err, errlen, "--strategy %s: %s", name,
                    shown(why, msg, sizeof(msg)));
    }
    if (a->n_strategies == SSE_TAIL_MAX_STRATEGY)
        return fail(err, errlen, "more than %d --strategy options",
                    SSE_TAIL_MAX_STRATEGY);
    a->strategies[a->n_strategies].cls = c;
    a->strategies[a->n_strategies].spec = eq + 1;
    a->n_strategies++;
    return 0;
}

static int header_arg(sse_tail_args *a, const char *h, char *err,
                      size_t errlen)
{
    size_t name_len;
    const char *value;
    char why[128];

    if (sse_tail_header_check(h, &name_len, &value, why, sizeof(why)) != 0)
    {
        char tmp[48];
        return fail(err, errlen, "bad header '%s': %s",
                    shown(h, tmp, sizeof(tmp)), why);
    }
    if (equal_nocase(h, name_len, "Last-Event-ID")) {
        a->initial_id = value;
        return 0;
    }
    if (equal_nocase(h, name_len, "Accept"))
        a->have_accept = 1;
    if (a->n_headers == SSE_TAIL_MAX_HEADERS)
        return fail(err, errlen, "more than %d headers", SSE_TAIL_MAX_HEADERS);
    a->headers[a->n_headers++] = h;
    return 0;
}

/* Options that take a value. */
enum {
    OPT_NONE = 0, OPT_HEADER, OPT_STRATEGY, OPT_JITTER, OPT_MAX_EVENTS,
    OPT_TIMEOUT, OPT_CONNECT_TIMEOUT, OPT_POLICY_FROM
};

static const struct {
    const char *name;
    int         id;
} value_opts[] = {
    { "header", OPT_HEADER },
    { "strategy", OPT_STRATEGY },
    { "jitter", OPT_JITTER },
    { "max-events", OPT_MAX_EVENTS },
    { "timeout", OPT_TIMEOUT },
    { "connect-timeout", OPT_CONNECT_TIMEOUT },
    { "policy-from", OPT_POLICY_FROM },
};

static int set_value(sse_tail_args *a, int id, const char *name,
                     const char *v, char *err, size_t errlen)
{
    char tmp[48];

    switch (id) {
    case OPT_HEADER:
        return header_arg(a, v, err, errlen);
    case OPT_STRATEGY:
        return strategy_arg(a, v, err, errlen);
    case OPT_JITTER:
        if (ssep_jitter_parse(v, &a->jitter) != 0)
            return fail(err, errlen, "--jitter: unknown mode '%s' (none, "
                        "full, equal or decorrelated)", shown(v, tmp, sizeof(tmp)));
        a->have_jitter = 1;
        return 0;
    case OPT_MAX_EVENTS:
        if (parse_count(v, &a->max_events) != 0)
            return fail(err, errlen, "--max-events wants a whole number "
                        "from 1 to 10^12, got '%s'", shown(v, tmp, sizeof(tmp)));
        return 0;
    case OPT_TIMEOUT:
    case OPT_CONNECT_TIMEOUT: {
        int64_t ms;
        if (sse_tail_parse_seconds(v, &ms) != 0 || ms == 0)
            return fail(err, errlen, "--%s wants seconds (up to three "
                        "decimals, more than 0, at most a year), got '%s'",
                        name, shown(v, tmp, sizeof(tmp)));
        if (id == OPT_TIMEOUT)
            a->timeout_ms = ms;
        else
            a->connect_timeout_ms = ms;
        return 0;
    }
    case OPT_POLICY_FROM: {
        char why[128];
        if (sse_tail_url_check(v, why, sizeof(why)) != 0)
            return fail(err, errlen, "--policy-from: %s", why);
        a->policy_from = v;
        return 0;
    }
    default:
        return fail(err, errlen, "internal: option %d", id);
    }
}

int sse_tail_args_parse(sse_tail_args *a, int argc, char **argv,
                        char *err, size_t errlen)
{
    int i, only_args = 0;
    size_t k;
    char why[160];

    memset(a, 0, sizeof(*a));
    if (err && errlen)
        err[0] = 0;
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *val = NULL, *name;
        size_t name_len;
        int id = OPT_NONE;

        if (!arg)
            return fail(err, errlen, "missing argument");
        if (only_args || arg[0] != '-' || arg[1] == 0) {
            if (a->url)
                return fail(err, errlen, "more than one URL ('%s')",
                            shown(arg, why, sizeof(why)));
            a->url = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_args = 1;
            continue;
        }
        if (arg[1] != '-') {
            /* short options: -h -V -q -j, -H value or -Hvalue */
            switch (arg[1]) {
            case 'h': case 'V': case 'q': case 'j':
                if (arg[2])
                    return fail(err, errlen, "unknown option '%s'",
                                shown(arg, why, sizeof(why)));
                if (arg[1] == 'h')
                    a->help = 1;
                else if (arg[1] == 'V')
                    a->version = 1;
                else if (arg[1] == 'q')
                    a->quiet = 1;
                else
                    a->json = 1;
                continue;
            case 'H':
                val = arg[2] ? arg + 2 : (i + 1 < argc ? argv[++i] : NULL);
                if (!val)
                    return fail(err, errlen, "-H needs a value");
                if (header_arg(a, val, err, errlen) != 0)
                    return -1;
                continue;
            default:
                return fail(err, errlen, "unknown option '%s'",
                                shown(arg, why, sizeof(why)));
            }
        }
        name = arg + 2;
        name_len = strcspn(name, "=");
        if (name[name_len] == '=')
            val = name + name_len + 1;
        for (k = 0; k < sizeof(value_opts) / sizeof(value_opts[0]); k++)
            if (strlen(value_opts[k].name) == name_len
                && strncmp(value_opts[k].name, name, name_len) == 0)
                id = value_opts[k].id;
        if (id != OPT_NONE) {
            if (!val) {
                if (i + 1 >= argc)
                    return fail(err, errlen, "--%s needs a value",
                                shown(name, why, sizeof(why)));
                val = argv[++i];
            }
            snprintf(why, sizeof(why), "%.*s", (int)name_len, name);
            if (set_value(a, id, why, val, err, errlen) != 0)
                return -1;
            continue;
        }
        if (val)
        {
            snprintf(why, sizeof(why), "%.*s",
                     (int)(name_len > 32 ? 32 : name_len), name);
            return fail(err, errlen, "option '--%s' takes no value",
                        shown(why, why + 80, 80));
        }
        if (strcmp(name, "help") == 0)
            a->help = 1;
        else if (strcmp(name, "version") == 0)
            a->version = 1;
        else if (strcmp(name, "quiet") == 0)
            a->quiet = 1;
        else if (strcmp(name, "json") == 0)
            a->json = 1;
        else if (strcmp(name, "http2") == 0)
            a->http = SSE_TAIL_HTTP_2;
        else if (strcmp(name, "http2-prior-knowledge") == 0)
            a->http = SSE_TAIL_HTTP_2_PRIOR;
        else
            return fail(err, errlen, "unknown option '%s'",
                                shown(arg, why, sizeof(why)));
    }
    if (a->help || a->version)
        return 0;
    if (!a->url)
        return fail(err, errlen, "no URL given (try --help)");
    if (sse_tail_url_check(a->url, why, sizeof(why)) != 0)
        return fail(err, errlen, "bad URL: %s", why);
    return 0;
}

int sse_tail_args_apply_policy(const sse_tail_args *a, ssep_policy *p,
                               char *err, size_t errlen)
{
    size_t i;
    char why[128], msg[160];

    for (i = 0; i < a->n_strategies; i++) {
        ssep_class c = a->strategies[i].cls;
        why[0] = 0;
        if (ssep_strategy_parse(&p->strategy[c], a->strategies[i].spec, why,
                                sizeof(why)) != 0)
            return fail(err, errlen, "--strategy %s: %s", ssep_class_name(c),
                        shown(why, msg, sizeof(msg)));
    }
    if (a->have_jitter)
        p->jitter = a->jitter;
    return 0;
}
