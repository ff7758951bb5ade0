/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/*
 * Incremental parser for text/event-stream, following the WHATWG HTML
 * "server-sent events" interpretation rules.
 *
 * It never needs a whole line in memory: names and values are taken in
 * runs up to the next colon or line end, field names are short, and
 * values are only kept when the caller asked to collect them.  That is what lets a proxy run one parser per stream in
 * O(1) memory while still knowing where every event ends.
 */
#include <stdlib.h>
#include <string.h>

#include "ssepolicy.h"

#define SCAN_ID_MAX 1024 /* ids kept when not collecting */

typedef enum {
    LINE_START,   /* nothing of the current line seen yet */
    LINE_NAME,    /* in the field name */
    LINE_SPACE,   /* right after the colon: one space may be dropped */
    LINE_VALUE,   /* in the field value */
    LINE_COMMENT  /* the line began with a colon */
} line_state;

typedef enum {
    FIELD_OTHER,
    FIELD_EVENT,
    FIELD_DATA,
    FIELD_ID,
    FIELD_RETRY
} field_kind;

typedef struct {
    char  *p;
    size_t len, cap;
} growbuf;

struct ssep_parser {
    ssep_parser_limits limits;

    unsigned   bom_matched; /* 0..2 bytes of a BOM held; 3: past it */
    line_state state;
    int        after_cr;
    int        error;

    char       name[8];     /* enough to tell the four known fields apart */
    size_t     name_len;
    field_kind field;
    size_t     line_len;
    int        id_has_nul;
    int        id_too_long;
    int        retry_valid;
    size_t     retry_digits;
    uint64_t   retry_acc;

    int        event_has_fields; /* a field line since the last blank line */
    int        data_seen;        /* the data buffer is not empty */
    size_t     event_size;       /* bytes of the event's field lines */
    size_t     data_len;         /* counted even when not collecting */
    size_t     wire_len;         /* bytes since the previous dispatch */

    growbuf    data, type, id_value, last_id;
    int        last_id_known;
    /* The spec's "last event ID string": the buffer's value at the last
     * blank line, what an EventSource sends back as Last-Event-ID.  The
     * buffer itself may already hold the id of an unfinished event. */
    growbuf    last_id_string;
    int        last_id_string_known;

    int64_t    retry;
    uint64_t   events;
    uint64_t   bytes;
};

static const unsigned char bom[3] = { 0xEF, 0xBB, 0xBF };

static int buf_append(growbuf *b, const char *s, size_t n, size_t limit)
{
    if (n > limit || b->len > limit - n)
        return -1;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        char *np;
        while (cap < b->len + n + 1)
            cap = cap > ((size_t)-1) / 2 ? b->len + n + 1 : cap * 2;
        np = realloc(b->p, cap);
        if (!np)
            return -1;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

static void buf_free(growbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

void ssep_parser_limits_init(ssep_parser_limits *l)
{
    if (!l)
        return;
    l->max_line = SSEP_PARSER_DEFAULT_MAX_LINE;
    l->max_event = SSEP_PARSER_DEFAULT_MAX_EVENT;
    l->collect = 1;
}

static size_t id_cap(const ssep_parser *p)
{
    return p->limits.collect ? p->limits.max_line : SCAN_ID_MAX;
}

static void reset_line(ssep_parser *p)
{
    p->state = LINE_START;
    p->name_len = 0;
    p->field = FIELD_OTHER;
    p->line_len = 0;
    p->id_has_nul = 0;
    p->id_too_long = 0;
    p->retry_valid = 1;
    p->retry_digits = 0;
    p->retry_acc = 0;
    p->id_value.len = 0;
}

static void reset_event(ssep_parser *p)
{
    p->event_has_fields = 0;
    p->data_seen = 0;
    p->event_size = 0;
    p->data_len = 0;
    p->data.len = 0;
    p->type.len = 0;
}

ssep_parser *ssep_parser_create(const ssep_parser_limits *l)
{
    ssep_parser *p = calloc(1, sizeof(*p));

    if (!p)
        return NULL;
    if (l)
        p->limits = *l;
    else
        ssep_parser_limits_init(&p->limits);
    if (p->limits.max_line == 0)
        p->limits.max_line = SSEP_PARSER_DEFAULT_MAX_LINE;
    if (p->limits.max_event == 0)
        p->limits.max_event = SSEP_PARSER_DEFAULT_MAX_EVENT;
    p->retry = -1;
    reset_line(p);
    reset_event(p);
    return p;
}

void ssep_parser_destroy(ssep_parser *p)
{
    if (!p)
        return;
    buf_free(&p->data);
    buf_free(&p->type);
    buf_free(&p->id_value);
    buf_free(&p->last_id);
    buf_free(&p->last_id_string);
    free(p);
}

void ssep_parser_reset(ssep_parser *p)
{
    if (!p)
        return;
    /* a new connection starts from the last id string, not from an id
     * an unfinished event had set */
    p->last_id.len = 0;
    p->last_id_known = p->last_id_string_known
        && buf_append(&p->last_id, p->last_id_string.p
                                   ? p->last_id_string.p : "",
                      p->last_id_string.len, id_cap(p)) == 0;
    p->bom_matched = 0;
    p->after_cr = 0;
    p->error = 0;
    p->wire_len = 0;
    reset_line(p);
    reset_event(p);
}

/* Which of the four known fields a name is.  It runs once per line, so
 * the name's length picks the candidates before any comparison. */
static field_kind field_of(const char *name, size_t len)
{
    switch (len) {
    case 2:
        return memcmp(name, "id", 2) == 0 ? FIELD_ID : FIELD_OTHER;
    case 4:
        return memcmp(name, "data", 4) == 0 ? FIELD_DATA : FIELD_OTHER;
    case 5:
        if (memcmp(name, "event", 5) == 0)
            return FIELD_EVENT;
        return memcmp(name, "retry", 5) == 0 ? FIELD_RETRY : FIELD_OTHER;
    default:
        return FIELD_OTHER;
    }
}

static void classify_field(ssep_parser *p)
{
    p->field = field_of(p->name, p->name_len);
    /* "event:" with no value still replaces the type with "" */
    if (p->field == FIELD_EVENT)
        p->type.len = 0;
}

/* One byte of a field value. */
static int value_byte(ssep_parser *p, char c)
{
    switch (p->field) {
    case FIELD_DATA:
        p->data_len++;
        /* event_size already holds the data within max_event, so only
         * the allocation can fail here */
        if (p->limits.collect
            && buf_append(&p->data, &c, 1, p->limits.max_event) < 0)
            return SSEP_ENOMEM;
        break;
    case FIELD_EVENT:
        if (p->limits.collect
            && buf_append(&p->type, &c, 1, p->limits.max_line) < 0)
            return SSEP_ENOMEM;
        break;
    case FIELD_ID:
        if (c == 0)
            p->id_has_nul = 1;
        else if (!p->id_too_long
                 && buf_append(&p->id_value, &c, 1, id_cap(p)) < 0)
            p->id_too_long = 1;
        break;
    case FIELD_RETRY:
        if (c < '0' || c > '9') {
            p->retry_valid = 0;
            break;
        }
        p->retry_digits++;
        if (p->retry_acc > ((uint64_t)INT64_MAX - 9) / 10)
            p->retry_acc = (uint64_t)INT64_MAX; /* saturate */
        else
            p->retry_acc = p->retry_acc * 10 + (uint64_t)(c - '0');
        break;
    case FIELD_OTHER:
        break;
    }
    return 0;
}

/* The end of a non-blank line: apply the field. */
static int end_field_line(ssep_parser *p)
{
    if (p->state == LINE_NAME)
        classify_field(p); /* a line with no colon: the value is "" */
    switch (p->field) {
    case FIELD_DATA:
        p->data_seen = 1;
        p->data_len++;
        if (p->limits.collect
            && buf_append(&p->data, "\n", 1, p->limits.max_event) < 0)
            return SSEP_ENOMEM;
        break;
    case FIELD_ID:
        if (!p->id_has_nul) {
            p->last_id.len = 0;
            p->last_id_known = !p->id_too_long;
            if (p->last_id_known
                && buf_append(&p->last_id, p->id_value.p ? p->id_value.p : "",
                              p->id_value.len, id_cap(p)) < 0)
                p->last_id_known = 0;
        }
        break;
    case FIELD_RETRY:
        /* "only ASCII digits": browsers, like this, want at least one */
        if (p->retry_valid && p->retry_digits > 0)
            p->retry = (int64_t)p->retry_acc;
        break;
    default:
        break;
    }
    return 0;
}

/* A blank line: dispatch when there is data.  Returns 1 if an event was
 * dispatched. */
static int blank_line(ssep_parser *p, ssep_event *ev)
{
    int dispatched = 0;

    /* step 1 of dispatching, done even when no event follows */
    p->last_id_string.len = 0;
    p->last_id_string_known = p->last_id_known
        && buf_append(&p->last_id_string, p->last_id.p ? p->last_id.p : "",
                      p->last_id.len, id_cap(p)) == 0;

    if (p->data_seen) {
        dispatched = 1;
        p->events++;
        if (ev) {
            memset(ev, 0, sizeof(*ev));
            if (p->limits.collect) {
                if (p->data.len && p->data.p[p->data.len - 1] == '\n')
                    p->data.p[--p->data.len] = 0;
                ev->data = p->data.p ? p->data.p : "";
                ev->data_len = p->data.len;
                ev->type = p->type.len ? p->type.p : "message";
                ev->type_len = p->type.len ? p->type.len : 7;
            } else {
                ev->data_len = p->data_len ? p->data_len - 1 : 0;
            }
            if (p->last_id_known) {
                ev->id = p->last_id.p ? p->last_id.p : "";
                ev->id_len = p->last_id.len;
            }
            ev->wire_len = p->wire_len;
        }
        p->wire_len = 0;
    }
    reset_event(p);
    return dispatched;
}

/* Feeds one byte that is past the BOM check.  Returns 1 when an event
 * was dispatched, 0 to go on, or a negative error. */
static int step(ssep_parser *p, char c, ssep_event *ev)
{
    int rc;

    p->wire_len++;
    if (p->after_cr) {
        p->after_cr = 0;
        if (c == '\n')
            return 0;
    }
    if (c == '\r' || c == '\n') {
        p->after_cr = (c == '\r');
        if (p->state == LINE_START) {
            reset_line(p);
            return blank_line(p, ev);
        }
        rc = p->state == LINE_COMMENT ? 0 : end_field_line(p);
        reset_line(p);
        return rc;
    }

    if (++p->line_len > p->limits.max_line)
        return SSEP_ELINE;
    if (p->state != LINE_COMMENT && !(p->state == LINE_START && c == ':')) {
        if (++p->event_size > p->limits.max_event)
            return SSEP_EEVENT;
        p->event_has_fields = 1;
    }

    switch (p->state) {
    case LINE_START:
        if (c == ':') {
            p->state = LINE_COMMENT;
            return 0;
        }
        p->state = LINE_NAME;
        /* fall through */
    case LINE_NAME:
        if (c == ':') {
            classify_field(p);
            p->state = LINE_SPACE;
        } else if (p->name_len < sizeof(p->name)) {
            p->name[p->name_len++] = c;
        } else {
            p->name_len = sizeof(p->name) + 1; /* longer than any known */
        }
        return 0;
    case LINE_SPACE:
        p->state = LINE_VALUE;
        if (c == ' ')
            return 0;
        /* fall through */
    case LINE_VALUE:
        return value_byte(p, c);
    case LINE_COMMENT:
        return 0;
    }
    return 0;
}

/* Length of the run of bytes before the next CR or LF.  Two memchr
 * passes (the second only up to the LF) beat a loop over both bytes:
 * this is where a relay spends most of its parsing time. */
static size_t run_length(const unsigned char *s, size_t n)
{
    const unsigned char *lf = memchr(s, '\n', n);
    size_t end = lf ? (size_t)(lf - s) : n;
    const unsigned char *cr = memchr(s, '\r', end);

    return cr ? (size_t)(cr - s) : end;
}

/* n cut to what the line's limit, and the event's when the bytes count
 * towards it, still allow. */
static size_t within_limits(const ssep_parser *p, size_t n, int in_event)
{
    size_t room = p->limits.max_line - p->line_len;

    if (n > room)
        n = room;
    if (in_event) {
        room = p->limits.max_event - p->event_size;
        if (n > room)
            n = room;
    }
    return n;
}

/* The rest of a field name in one go, with the result of step() on each
 * byte (and stopping short of a limit, like bulk_run): step() has taken
 * the name's first byte and takes the colon or line end after it. */
static long bulk_name(ssep_parser *p, const unsigned char *in, size_t n)
{
    size_t k, total;

    for (k = 0; k < n; k++)
        if (in[k] == ':' || in[k] == '\r' || in[k] == '\n')
            break;
    n = within_limits(p, k, 1);
    if (n == 0)
        return 0;
    p->wire_len += n;
    p->line_len += n;
    p->event_size += n;
    p->event_has_fields = 1;
    if (p->name_len < sizeof(p->name)) {
        total = p->name_len + n;
        k = total < sizeof(p->name) ? n : sizeof(p->name) - p->name_len;
        memcpy(p->name + p->name_len, in, k);
        p->name_len = total <= sizeof(p->name) ? total
                                                : sizeof(p->name) + 1;
    } else {
        p->name_len = sizeof(p->name) + 1; /* longer than any known */
    }
    return (long)n;
}

/* The middle of a value or comment line, taken in one go: the result is
 * exactly that of step() on each byte, but a data line costs one copy
 * instead of one call per byte.  Returns how many bytes it took (it
 * stops short of a limit so that step() reports the exact byte), or a
 * negative error. */
static long bulk_run(ssep_parser *p, const unsigned char *in, size_t n)
{
    if (p->after_cr)
        return 0;
    if (p->state == LINE_NAME)
        return bulk_name(p, in, n);
    if (p->state != LINE_VALUE && p->state != LINE_COMMENT)
        return 0;
    n = within_limits(p, run_length(in, n), p->state == LINE_VALUE);
    if (n == 0)
        return 0;
    p->wire_len += n;
    p->line_len += n;
    if (p->state == LINE_COMMENT)
        return (long)n;
    p->event_size += n;
    switch (p->field) {
    case FIELD_DATA:
        p->data_len += n;
        if (p->limits.collect
            && buf_append(&p->data, (const char *)in, n,
                          p->limits.max_event) < 0)
            return SSEP_ENOMEM;
        break;
    case FIELD_EVENT:
        if (p->limits.collect
            && buf_append(&p->type, (const char *)in, n,
                          p->limits.max_line) < 0)
            return SSEP_ENOMEM;
        break;
    case FIELD_ID:
        if (memchr(in, 0, n))
            p->id_has_nul = 1;
        else if (!p->id_too_long
                 && buf_append(&p->id_value, (const char *)in, n,
                               id_cap(p)) < 0)
            p->id_too_long = 1;
        break;
    case FIELD_RETRY: {
        size_t k;
        for (k = 0; k < n; k++)
            value_byte(p, (char)in[k]);
        break;
    }
    case FIELD_OTHER:
        break;
    }
    return (long)n;
}

int ssep_parser_feed(ssep_parser *p, const void *buf, size_t len,
                     size_t *consumed, ssep_event *ev)
{
    const unsigned char *in = buf;
    size_t i = 0;
    int rc = SSEP_PARSE_MORE;

    if (consumed)
        *consumed = 0;
    if (!p || (!buf && len))
        return SSEP_EINVAL;
    if (p->error)
        return p->error;

    while (i < len && p->bom_matched < 3) {
        if (in[i] == bom[p->bom_matched]) {
            p->bom_matched++;
            p->wire_len++;
            i++;
            continue;
        }
        /* Not a BOM after all: the held bytes are ordinary line bytes
         * (neither is a line end, so no event can complete here). */
        {
            unsigned held = p->bom_matched, k;
            p->bom_matched = 3;
            p->wire_len -= held; /* step() counts them again */
            for (k = 0; k < held; k++) {
                rc = step(p, (char)bom[k], ev);
                if (rc < 0) {
                    p->error = rc;
                    goto out;
                }
            }
        }
    }

    while (i < len) {
        long taken = bulk_run(p, in + i, len - i);
        if (taken < 0) {
            rc = (int)taken;
            p->error = rc;
            break;
        }
        i += (size_t)taken;
        if (i == len)
            break;
        rc = step(p, (char)in[i++], ev);
        if (rc == 0)
            continue;
        if (rc < 0) {
            p->error = rc;
            i--;
        }
        break;
    }
out:
    p->bytes += i;
    if (consumed)
        *consumed = i;
    if (rc < 0)
        return rc;
    return rc == 1 ? SSEP_PARSE_EVENT : SSEP_PARSE_MORE;
}

int ssep_parser_finish(ssep_parser *p)
{
    int pending;

    if (!p)
        return 0;
    pending = p->event_has_fields || p->state != LINE_START
              || (p->bom_matched > 0 && p->bom_matched < 3);
    /* the spec discards an unfinished event; the id it set stays */
    reset_line(p);
    reset_event(p);
    p->after_cr = 0;
    return pending;
}

int ssep_parser_at_boundary(const ssep_parser *p)
{
    return p && !p->error && p->state == LINE_START && !p->event_has_fields
           && (p->bom_matched == 0 || p->bom_matched == 3);
}

int ssep_parser_at_line_start(const ssep_parser *p)
{
    return p && p->state == LINE_START
           && (p->bom_matched == 0 || p->bom_matched == 3);
}

int64_t ssep_parser_retry(const ssep_parser *p)
{
    return p ? p->retry : -1;
}

uint64_t ssep_parser_events(const ssep_parser *p)
{
    return p ? p->events : 0;
}

uint64_t ssep_parser_bytes(const ssep_parser *p)
{
    return p ? p->bytes : 0;
}

const char *ssep_parser_last_id(const ssep_parser *p, size_t *len)
{
    if (len)
        *len = 0;
    if (!p || !p->last_id_string_known)
        return NULL;
    if (len)
        *len = p->last_id_string.len;
    return p->last_id_string.p ? p->last_id_string.p : "";
}
