/* Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sse_tail_policy.h"

#define MAX_DEPTH 16
#define MAX_KEY   64

typedef struct {
    const char *s;
    size_t      len;
    size_t      pos;
    char       *err;
    size_t      errlen;
    int         failed;
} reader;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int fail(reader *r, const char *fmt, ...)
{
    va_list ap;
    char msg[160];

    if (r->failed)
        return -1;
    r->failed = 1;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (r->err && r->errlen)
        snprintf(r->err, r->errlen, "policy document, byte %lu: %s",
                 (unsigned long)r->pos, msg);
    return -1;
}

static void skip_ws(reader *r)
{
    while (r->pos < r->len && (r->s[r->pos] == ' ' || r->s[r->pos] == '\t'
                               || r->s[r->pos] == '\n'
                               || r->s[r->pos] == '\r'))
        r->pos++;
}

static int peek(reader *r)
{
    skip_ws(r);
    return r->pos < r->len ? (unsigned char)r->s[r->pos] : -1;
}

static int expect(reader *r, char c)
{
    if (peek(r) != (unsigned char)c)
        return fail(r, "expected '%c'", c);
    r->pos++;
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A JSON string.  Its ASCII content (escapes decoded when they are
 * ASCII) goes to out when out is not NULL; a string that does not fit,
 * or has non-ASCII content, is cut and flagged with *ascii = 0. */
static int read_string(reader *r, char *out, size_t outlen, int *ascii)
{
    size_t n = 0;
    int ok = 1;

    if (expect(r, '"') != 0)
        return -1;
    for (;;) {
        unsigned c;

        if (r->pos >= r->len)
            return fail(r, "unterminated string");
        c = (unsigned char)r->s[r->pos++];
        if (c == '"')
            break;
        if (c < 0x20)
            return fail(r, "control byte in a string");
        if (c == '\\') {
            if (r->pos >= r->len)
                return fail(r, "unterminated string");
            c = (unsigned char)r->s[r->pos++];
            switch (c) {
            case '"': case '\\': case '/': break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u': {
                unsigned v = 0;
                int k;
                for (k = 0; k < 4; k++) {
                    int h = r->pos < r->len ? hexval(r->s[r->pos]) : -1;
                    if (h < 0)
                        return fail(r, "bad \\u escape");
                    v = v * 16 + (unsigned)h;
                    r->pos++;
                }
                c = v;
                break;
            }
            default:
                return fail(r, "bad escape");
            }
        }
        if (c >= 0x80 || c < 0x20 || c == 0x7f)
            ok = 0; /* keys and names are printable ASCII */
        else if (out) {
            if (n + 1 < outlen)
                out[n++] = (char)c;
            else
                ok = 0;
        }
    }
    if (out && outlen)
        out[n] = 0;
    if (ascii)
        *ascii = ok;
    return 0;
}

/* A JSON number, strictly by the grammar; its value as a double (exact
 * for the integers and the short decimals the policy uses). */
static int read_number(reader *r, double *out, int *integer)
{
    const char *s = r->s;
    size_t p;
    double v = 0, scale = 1;
    int neg = 0, exp = 0, eneg = 0, digits = 0, is_int = 1;

    skip_ws(r);
    p = r->pos;
    if (p < r->len && s[p] == '-') {
        neg = 1;
        p++;
    }
    if (p < r->len && s[p] == '0') {
        p++;
        digits = 1;
    } else {
        while (p < r->len && s[p] >= '0' && s[p] <= '9') {
            if (v < 1e300)
                v = v * 10 + (s[p] - '0');
            p++;
            digits++;
        }
    }
    if (!digits)
        return fail(r, "expected a number");
    if (p < r->len && s[p] == '.') {
        int fd = 0;
        p++;
        while (p < r->len && s[p] >= '0' && s[p] <= '9') {
            if (fd < 30) {
                scale /= 10;
                v += (s[p] - '0') * scale;
            }
            if (s[p] != '0')
                is_int = 0;
            p++;
            fd++;
        }
        if (!fd)
            return fail(r, "bad number");
    }
    if (p < r->len && (s[p] == 'e' || s[p] == 'E')) {
        int ed = 0;
        p++;
        if (p < r->len && (s[p] == '+' || s[p] == '-'))
            eneg = s[p++] == '-';
        while (p < r->len && s[p] >= '0' && s[p] <= '9') {
            if (exp < 10000)
                exp = exp * 10 + (s[p] - '0');
            p++;
            ed++;
        }
        if (!ed)
            return fail(r, "bad number");
        while (exp-- > 0 && v != 0 && v < 1e300)
            v = eneg ? v / 10 : v * 10;
        if (v >= 1e19 || v != (double)(unsigned long long)v)
            is_int = 0;
    }
    r->pos = p;
    *out = neg ? -v : v;
    if (integer)
        *integer = is_int;
    return 0;
}

static int skip_value(reader *r, int depth)
{
    int c = peek(r);

    if (depth > MAX_DEPTH)
        return fail(r, "nested more than %d deep", MAX_DEPTH);
    if (c == '"')
        return read_string(r, NULL, 0, NULL);
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        r->pos++;
        if (peek(r) == close) {
            r->pos++;
            return 0;
        }
        for (;;) {
            if (c == '{') {
                if (read_string(r, NULL, 0, NULL) != 0 || expect(r, ':') != 0)
                    return -1;
            }
            if (skip_value(r, depth + 1) != 0)
                return -1;
            if (peek(r) == ',') {
                r->pos++;
                continue;
            }
            return expect(r, close);
        }
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        double d;
        return read_number(r, &d, NULL);
    }
    {
        static const char *const words[] = { "true", "false", "null" };
        size_t k;
        for (k = 0; k < 3; k++) {
            size_t n = strlen(words[k]);
            if (r->len - r->pos >= n && memcmp(r->s + r->pos, words[k], n) == 0) {
                r->pos += n;
                return 0;
            }
        }
    }
    return fail(r, "expected a value");
}

/* Iterates over an object's members: calls member(r, key, ctx, depth)
 * with r positioned at the value, which member must consume.  Keys are
 * compared as ASCII; a duplicate key is an error. */
typedef int (*member_fn)(reader *r, const char *key, void *ctx, int depth);

static int read_object(reader *r, member_fn member, void *ctx, int depth)
{
    char keys[32][MAX_KEY];
    size_t nkeys = 0, k;

    if (depth > MAX_DEPTH)
        return fail(r, "nested more than %d deep", MAX_DEPTH);
    if (expect(r, '{') != 0)
        return -1;
    if (peek(r) == '}') {
        r->pos++;
        return 0;
    }
    for (;;) {
        char key[MAX_KEY];
        int ascii;

        if (read_string(r, key, sizeof(key), &ascii) != 0
            || expect(r, ':') != 0)
            return -1;
        if (ascii) {
            for (k = 0; k < nkeys; k++)
                if (strcmp(keys[k], key) == 0)
                    return fail(r, "duplicate key \"%s\"", key);
            if (nkeys == sizeof(keys) / sizeof(keys[0]))
                return fail(r, "more than %lu keys in an object",
                            (unsigned long)nkeys);
            memcpy(keys[nkeys++], key, sizeof(key));
            if (member(r, key, ctx, depth) != 0)
                return -1;
        } else if (skip_value(r, depth + 1) != 0) {
            return -1;
        }
        if (peek(r) == ',') {
            r->pos++;
            continue;
        }
        return expect(r, '}');
    }
}

typedef struct {
    ssep_strategy s;
    unsigned      seen; /* bit per field */
} strategy_ctx;

static int read_uint(reader *r, const char *key, double lo, double hi,
                     uint32_t *out)
{
    double v;
    int integer;

    if (read_number(r, &v, &integer) != 0)
        return -1;
    if (!integer || v < lo || v > hi)
        return fail(r, "\"%s\" must be a whole number from %.0f to %.0f",
                    key, lo, hi);
    *out = (uint32_t)v;
    return 0;
}

static int strategy_member(reader *r, const char *key, void *vctx, int depth)
{
    strategy_ctx *c = vctx;

    if (strcmp(key, "initial_ms") == 0) {
        c->seen |= 1;
        return read_uint(r, key, 1, 4294967295.0, &c->s.initial_ms);
    }
    if (strcmp(key, "max_ms") == 0) {
        c->seen |= 2;
        return read_uint(r, key, 1, 4294967295.0, &c->s.max_ms);
    }
    if (strcmp(key, "max_attempts") == 0) {
        c->seen |= 4;
        return read_uint(r, key, 1, 1000000, &c->s.max_attempts);
    }
    if (strcmp(key, "factor") == 0) {
        double v;
        c->seen |= 8;
        if (read_number(r, &v, NULL) != 0)
            return -1;
        if (!(v >= 1 && v <= 100))
            return fail(r, "\"factor\" must be from 1 to 100");
        c->s.factor = v;
        return 0;
    }
    return skip_value(r, depth + 1);
}

static int strategies_member(reader *r, const char *key, void *vctx,
                             int depth)
{
    ssep_policy *p = vctx;
    strategy_ctx c;
    ssep_class cls;

    memset(&c, 0, sizeof(c));
    if (ssep_class_parse(key, &cls) != 0 || cls == SSEP_CLASS_NONE)
        return fail(r, "unknown class \"%s\"", key);
    if (peek(r) != '{')
        return fail(r, "strategy \"%s\" is not an object", key);
    if (read_object(r, strategy_member, &c, depth + 1) != 0)
        return -1;
    if (c.seen != 15)
        return fail(r, "strategy \"%s\" lacks one of initial_ms, max_ms, "
                    "factor, max_attempts", key);
    if (ssep_strategy_validate(&c.s) != 0)
        return fail(r, "strategy \"%s\" is invalid (initial_ms > max_ms?)",
                    key);
    p->strategy[cls] = c.s;
    return 0;
}

typedef struct {
    ssep_policy *p;
    int          have_strategies;
} top_ctx;

static int top_member(reader *r, const char *key, void *vctx, int depth)
{
    top_ctx *t = vctx;

    if (strcmp(key, "jitter") == 0) {
        char name[32];
        int ascii;
        if (peek(r) != '"')
            return fail(r, "\"jitter\" is not a string");
        if (read_string(r, name, sizeof(name), &ascii) != 0)
            return -1;
        if (!ascii)
            return fail(r, "unknown jitter");
        if (ssep_jitter_parse(name, &t->p->jitter) != 0)
            return fail(r, "unknown jitter \"%.31s\"", name);
        return 0;
    }
    if (strcmp(key, "strategies") == 0) {
        t->have_strategies = 1;
        if (peek(r) != '{')
            return fail(r, "\"strategies\" is not an object");
        return read_object(r, strategies_member, t->p, depth + 1);
    }
    return skip_value(r, depth + 1);
}

int sse_tail_policy_parse(ssep_policy *p, const char *doc, size_t len,
                          char *err, size_t errlen)
{
    reader r;
    ssep_policy work;
    top_ctx t;

    if (err && errlen)
        err[0] = 0;
    memset(&r, 0, sizeof(r));
    r.err = err;
    r.errlen = errlen;
    if (!p || !doc)
        return fail(&r, "no document");
    if (len > SSE_TAIL_POLICY_MAX)
        return fail(&r, "larger than %d bytes", SSE_TAIL_POLICY_MAX);
    r.s = doc;
    r.len = len;
    work = *p;
    t.p = &work;
    t.have_strategies = 0;
    if (peek(&r) != '{')
        return fail(&r, "not a JSON object");
    if (read_object(&r, top_member, &t, 1) != 0)
        return -1;
    if (peek(&r) != -1)
        return fail(&r, "trailing bytes after the object");
    if (!t.have_strategies)
        return fail(&r, "no \"strategies\"");
    *p = work;
    return 0;
}
