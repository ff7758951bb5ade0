/* Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0 */

#include <string.h>

#include "sse_tail_output.h"

static void put_codepoint(FILE *f, unsigned long cp)
{
    static const char hex[] = "0123456789abcdef";

    if (cp < 0x80) {
        switch (cp) {
        case '"':  fputs("\\\"", f); return;
        case '\\': fputs("\\\\", f); return;
        case '\n': fputs("\\n", f); return;
        case '\r': fputs("\\r", f); return;
        case '\t': fputs("\\t", f); return;
        case '\b': fputs("\\b", f); return;
        case '\f': fputs("\\f", f); return;
        default:
            if (cp < 0x20 || cp == 0x7f)
                fprintf(f, "\\u00%c%c", hex[cp >> 4], hex[cp & 15]);
            else
                putc((int)cp, f);
            return;
        }
    }
    if (cp == 0x2028 || cp == 0x2029) {
        fprintf(f, "\\u%04lx", cp);
        return;
    }
    if (cp < 0x800) {
        putc((int)(0xc0 | (cp >> 6)), f);
    } else if (cp < 0x10000) {
        putc((int)(0xe0 | (cp >> 12)), f);
        putc((int)(0x80 | ((cp >> 6) & 0x3f)), f);
    } else {
        putc((int)(0xf0 | (cp >> 18)), f);
        putc((int)(0x80 | ((cp >> 12) & 0x3f)), f);
        putc((int)(0x80 | ((cp >> 6) & 0x3f)), f);
    }
    putc((int)(0x80 | (cp & 0x3f)), f);
}

void sse_tail_json_string(FILE *f, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    unsigned long cp = 0;
    unsigned needed = 0, seen = 0;
    unsigned char lo = 0x80, hi = 0xbf;

    putc('"', f);
    while (i < len) {
        unsigned char b = p[i];

        if (needed == 0) {
            i++;
            if (b < 0x80) {
                put_codepoint(f, b);
            } else if (b >= 0xc2 && b <= 0xdf) {
                needed = 1;
                cp = b & 0x1f;
            } else if (b >= 0xe0 && b <= 0xef) {
                if (b == 0xe0)
                    lo = 0xa0;
                if (b == 0xed)
                    hi = 0x9f;
                needed = 2;
                cp = b & 0x0f;
            } else if (b >= 0xf0 && b <= 0xf4) {
                if (b == 0xf0)
                    lo = 0x90;
                if (b == 0xf4)
                    hi = 0x8f;
                needed = 3;
                cp = b & 0x07;
            } else {
                put_codepoint(f, 0xfffd);
            }
            continue;
        }
        if (b < lo || b > hi) {
            /* the sequence so far is one error; b is looked at again */
            needed = seen = 0;
            lo = 0x80;
            hi = 0xbf;
            put_codepoint(f, 0xfffd);
            continue;
        }
        i++;
        lo = 0x80;
        hi = 0xbf;
        cp = (cp << 6) | (b & 0x3f);
        if (++seen == needed) {
            put_codepoint(f, cp);
            needed = seen = 0;
        }
    }
    if (needed)
        put_codepoint(f, 0xfffd);
    putc('"', f);
}

static void raw_field(FILE *f, const char *name, const char *v, size_t len)
{
    fputs(name, f);
    if (len) {
        fputs(": ", f);
        fwrite(v, 1, len, f);
    }
    putc('\n', f);
}

int sse_tail_print_event(sse_tail_output *o, FILE *f,
                         const sse_tail_event *ev)
{
    if (o->json) {
        fputs("{\"id\":", f);
        sse_tail_json_string(f, ev->id, ev->id_len);
        fputs(",\"event\":", f);
        sse_tail_json_string(f, ev->type, ev->type_len);
        fputs(",\"data\":", f);
        sse_tail_json_string(f, ev->data, ev->data_len);
        fputs("}\n", f);
    } else {
        const char *d = ev->data, *end = ev->data + ev->data_len;

        /* The event in canonical form: read back by an SSE parser it
         * gives the same type, data and last event ID. */
        if (ev->id_len || o->id_printed)
            raw_field(f, "id", ev->id, ev->id_len);
        o->id_printed = ev->id_len != 0;
        if (!(ev->type_len == 7 && memcmp(ev->type, "message", 7) == 0))
            raw_field(f, "event", ev->type, ev->type_len);
        for (;;) {
            const char *nl = memchr(d, '\n', (size_t)(end - d));
            size_t n = nl ? (size_t)(nl - d) : (size_t)(end - d);
            raw_field(f, "data", d, n);
            if (!nl)
                break;
            d = nl + 1;
        }
        putc('\n', f);
    }
    if (fflush(f) != 0 || ferror(f))
        return -1;
    return 0;
}
