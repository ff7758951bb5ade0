/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssepolicy.h"
#include "suites.h"

#define OUT_MAX 8192

/* Events rendered as "type|data|id;" with '\n' in data shown as "\n"
 * so that expectations read naturally. */
typedef struct {
    char   text[OUT_MAX];
    size_t len;
    int    err;
    size_t wire_total;
    int    events;
} result;

static void render(result *r, const ssep_event *ev)
{
    size_t i;
    char *o = r->text + r->len;
    size_t room = OUT_MAX - r->len;
    int n;

    n = snprintf(o, room, "%.*s|", (int)ev->type_len, ev->type);
    for (i = 0; i < ev->data_len && n < (int)room - 4; i++) {
        if (ev->data[i] == '\n') {
            o[n++] = '\\';
            o[n++] = 'n';
        } else {
            o[n++] = ev->data[i];
        }
    }
    n += snprintf(o + n, room - n, "|%s;", ev->id ? ev->id : "(none)");
    r->len += (size_t)n;
    r->wire_total += ev->wire_len;
    r->events++;
}

/* Feeds the stream in chunks of the given sizes (cycled); chunk 0 means
 * all at once. */
static void run_chunks(ssep_parser *p, const char *s, size_t len,
                       const size_t *chunks, size_t nchunks, result *r)
{
    size_t pos = 0, k = 0;

    memset(r, 0, sizeof(*r));
    while (pos < len) {
        size_t want = nchunks ? chunks[k++ % nchunks] : len;
        size_t n = want < len - pos ? want : len - pos;
        size_t off = 0;
        while (off < n) {
            ssep_event ev;
            size_t used;
            int rc = ssep_parser_feed(p, s + pos + off, n - off, &used, &ev);
            off += used;
            if (rc == SSEP_PARSE_EVENT) {
                render(r, &ev);
            } else if (rc < 0) {
                r->err = rc;
                return;
            } else {
                CU_ASSERT_EQUAL(off, n);
            }
        }
        pos += n;
    }
    ssep_parser_finish(p);
}

static void parse_whole(const char *s, size_t len, result *r)
{
    ssep_parser *p = ssep_parser_create(NULL);

    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    run_chunks(p, s, len, NULL, 0, r);
    ssep_parser_destroy(p);
}

static void expect(const char *stream, const char *want)
{
    result r;

    parse_whole(stream, strlen(stream), &r);
    if (strcmp(r.text, want) != 0)
        fprintf(stderr, "\n  stream: %s\n  got:  %s\n  want: %s\n", stream,
                r.text, want);
    CU_ASSERT_STRING_EQUAL(r.text, want);
    CU_ASSERT_EQUAL(r.err, 0);
}

/* The examples of the WHATWG HTML standard, section "server-sent events". */
static void test_spec_examples(void)
{
    expect("data: YHOO\ndata: +2\ndata: 10\n\n", "message|YHOO\\n+2\\n10|(none);");
    expect(": test stream\n\ndata: first event\nid: 1\n\n"
           "data:second event\nid\n\ndata:  third event\n\n",
           "message|first event|1;message|second event|;message| third event|;");
    expect("data\n\ndata\ndata\n\ndata:", "message||(none);message|\\n|(none);");
    expect("data:test\n\ndata: test\n\n", "message|test|(none);message|test|(none);");
    expect("event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\n"
           "event: add\ndata: 113411\n\n",
           "add|73857293|(none);remove|2153|(none);add|113411|(none);");
}

static void test_line_ends(void)
{
    expect("data: a\r\rdata: b\r\n\r\ndata: c\n\n",
           "message|a|(none);message|b|(none);message|c|(none);");
    expect("data: a\r\ndata: b\rdata: c\n\r", "message|a\\nb\\nc|(none);");
    /* a CR LF pair is one line end, never a blank line */
    expect("data: a\r\ndata: b\r\n\r\n", "message|a\\nb|(none);");
    /* LF CR is two line ends */
    expect("data: a\n\rdata: b\n\n", "message|a|(none);message|b|(none);");
}

static void test_fields(void)
{
    /* only one leading space is removed */
    expect("data:  x\n\n", "message| x|(none);");
    /* unknown fields and comments are ignored */
    expect("foo: bar\n:comment\ndata: x\nDATA: y\n\n", "message|x|(none);");
    /* a field with no colon is the whole line as name, "" as value */
    expect("data\ndata: x\n\n", "message|\\nx|(none);");
    /* event without data is not dispatched, its type is reset */
    expect("event: a\n\ndata: x\n\n", "message|x|(none);");
    /* "event" with an empty value gives "message" */
    expect("event: a\nevent\ndata: x\n\n", "message|x|(none);");
    /* id persists across events, empty id resets it */
    expect("id: 7\ndata: a\n\ndata: b\n\nid:\ndata: c\n\n",
           "message|a|7;message|b|7;message|c|;");
    /* an id alone still sets the last event id */
    expect("id: 9\n\ndata: a\n\n", "message|a|9;");
    /* colons after the first stay in the value */
    expect("data: a:b: c\n\n", "message|a:b: c|(none);");
    /* long unknown field names */
    expect("datadatadata: z\ndata: x\n\n", "message|x|(none);");
}

static void test_nul_in_id(void)
{
    static const char s[] = "id: 5\ndata: a\n\nid: 6\0x\ndata: b\n\n";
    result r;

    parse_whole(s, sizeof(s) - 1, &r);
    CU_ASSERT_STRING_EQUAL(r.text, "message|a|5;message|b|5;");
}

static void test_nul_in_data(void)
{
    static const char s[] = "data: a\0b\n\n";
    ssep_parser *p = ssep_parser_create(NULL);
    ssep_event ev;
    size_t used;

    CU_ASSERT_EQUAL(ssep_parser_feed(p, s, sizeof(s) - 1, &used, &ev),
                    SSEP_PARSE_EVENT);
    CU_ASSERT_EQUAL(ev.data_len, 3);
    CU_ASSERT_EQUAL(memcmp(ev.data, "a\0b", 3), 0);
    ssep_parser_destroy(p);
}

static void test_retry(void)
{
    static const struct { const char *s; int64_t want; } rows[] = {
        { "retry: 1500\n", 1500 },
        { "retry:0\n", 0 },
        { "retry: 15s\n", -1 },
        { "retry: -1\n", -1 },
        { "retry: 1 5\n", -1 },
        { "retry:\n", -1 },
        { "retry: \n", -1 },
        { "retry\n", -1 },
        { "retry:  100\n", -1 },           /* second space is not a digit */
        { "retry: 3000\nretry: x\n", 3000 },  /* an invalid one is ignored */
        { "retry: 99999999999999999999999\n", INT64_MAX },
    };
    size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        ssep_parser *p = ssep_parser_create(NULL);
        size_t used;
        ssep_parser_feed(p, rows[i].s, strlen(rows[i].s), &used, NULL);
        if (ssep_parser_retry(p) != rows[i].want)
            fprintf(stderr, "\n  %s -> %lld\n", rows[i].s,
                    (long long)ssep_parser_retry(p));
        CU_ASSERT_EQUAL(ssep_parser_retry(p), rows[i].want);
        ssep_parser_destroy(p);
    }
    /* retry does not dispatch anything */
    expect("retry: 10\n\n", "");
}

static void test_bom(void)
{
    expect("\xEF\xBB\xBF" "data: a\n\n", "message|a|(none);");
    /* only one BOM is stripped: the second makes an unknown field */
    expect("\xEF\xBB\xBF\xEF\xBB\xBF" "data: a\n\ndata: b\n\n", "message|b|(none);");
    /* not a BOM after all: the bytes belong to the first line */
    expect("\xEF\xBB" "data: a\n\ndata: b\n\n", "message|b|(none);");
    expect("\xEF" ":x\ndata: b\n\n", "message|b|(none);");
    /* a BOM later in the stream is not special */
    expect("data: a\n\n\xEF\xBB\xBF" "data: b\n\n", "message|a|(none);");
}

static const char *const streams[] = {
    "data: YHOO\ndata: +2\ndata: 10\n\n",
    ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\n"
    "data:  third event\n\n",
    "\xEF\xBB\xBF" "event: add\r\ndata: 73857293\r\n\r\nevent: remove\rdata: 2153"
    "\r\rretry: 5\nid: x\r\ndata: 113411\n\n:tail\r\n",
    "data: a\r\n\r\ndata: b\r\r\ndata: c\n\n\n\ndata: unfinished",
    "\xEF\xBB" "data: no bom\n\ndata: \xEF\xBB\xBF\n\n",
};

/* Splits at every position, and byte by byte, give the events of one
 * whole feed, with the same boundaries. */
static void test_every_split(void)
{
    size_t si;

    for (si = 0; si < sizeof(streams) / sizeof(streams[0]); si++) {
        const char *s = streams[si];
        size_t len = strlen(s), cut;
        result whole, part;
        static const size_t one[] = { 1 }, odd[] = { 3, 1, 7, 2 };
        ssep_parser *p;

        parse_whole(s, len, &whole);
        CU_ASSERT(whole.events > 0);
        for (cut = 1; cut < len; cut++) {
            size_t chunks[2];
            chunks[0] = cut;
            chunks[1] = len;
            p = ssep_parser_create(NULL);
            run_chunks(p, s, len, chunks, 2, &part);
            ssep_parser_destroy(p);
            CU_ASSERT_STRING_EQUAL(part.text, whole.text);
            CU_ASSERT_EQUAL(part.wire_total, whole.wire_total);
        }
        p = ssep_parser_create(NULL);
        run_chunks(p, s, len, one, 1, &part);
        ssep_parser_destroy(p);
        CU_ASSERT_STRING_EQUAL(part.text, whole.text);
        p = ssep_parser_create(NULL);
        run_chunks(p, s, len, odd, 4, &part);
        ssep_parser_destroy(p);
        CU_ASSERT_STRING_EQUAL(part.text, whole.text);
    }
}

/* The boundaries the proxy flushes at: the bytes consumed up to each
 * event end exactly after that event's dispatching line end. */
static void test_boundaries(void)
{
    static const char s[] = ":hi\n\ndata: a\nid: 1\n\ndata: b\r\n\r\ndata: c";
    ssep_parser *p = ssep_parser_create(NULL);
    ssep_event ev;
    size_t used, off = 0;
    int rc;

    CU_ASSERT(ssep_parser_at_boundary(p));
    rc = ssep_parser_feed(p, s, strlen(s), &used, &ev);
    CU_ASSERT_EQUAL(rc, SSEP_PARSE_EVENT);
    off += used;
    CU_ASSERT_EQUAL(off, strlen(":hi\n\ndata: a\nid: 1\n\n"));
    CU_ASSERT_EQUAL(ev.wire_len, off);
    CU_ASSERT(ssep_parser_at_boundary(p));

    rc = ssep_parser_feed(p, s + off, strlen(s) - off, &used, &ev);
    CU_ASSERT_EQUAL(rc, SSEP_PARSE_EVENT);
    off += used;
    /* stops right after the CR that dispatched; the LF follows */
    CU_ASSERT_EQUAL(off, strlen(":hi\n\ndata: a\nid: 1\n\ndata: b\r\n\r"));
    CU_ASSERT(ssep_parser_at_boundary(p));

    rc = ssep_parser_feed(p, s + off, strlen(s) - off, &used, &ev);
    CU_ASSERT_EQUAL(rc, SSEP_PARSE_MORE);
    CU_ASSERT_FALSE(ssep_parser_at_boundary(p));  /* inside "data: c" */
    CU_ASSERT_EQUAL(ssep_parser_events(p), 2);
    CU_ASSERT_EQUAL(ssep_parser_bytes(p), strlen(s));
    CU_ASSERT_EQUAL(ssep_parser_finish(p), 1);     /* discarded */
    CU_ASSERT(ssep_parser_at_boundary(p));
    CU_ASSERT_EQUAL(ssep_parser_finish(p), 0);
    ssep_parser_destroy(p);

    /* a completed field line still means "inside an event" */
    p = ssep_parser_create(NULL);
    CU_ASSERT(ssep_parser_at_line_start(p));
    ssep_parser_feed(p, "data: x", 7, &used, &ev);
    CU_ASSERT_FALSE(ssep_parser_at_line_start(p));
    ssep_parser_feed(p, "\n", 1, &used, &ev);
    CU_ASSERT(ssep_parser_at_line_start(p));
    CU_ASSERT_FALSE(ssep_parser_at_boundary(p));
    ssep_parser_feed(p, ":c\n", 3, &used, &ev);
    CU_ASSERT_FALSE(ssep_parser_at_boundary(p));
    /* comments between events keep the boundary */
    ssep_parser_feed(p, "\n: ping\n", 8, &used, &ev);
    CU_ASSERT(ssep_parser_at_boundary(p));
    ssep_parser_destroy(p);
}

/* Scan mode (what the proxy uses) finds the same boundaries and sizes
 * without keeping the data. */
static void test_scan_mode_matches(void)
{
    size_t si;

    for (si = 0; si < sizeof(streams) / sizeof(streams[0]); si++) {
        const char *s = streams[si];
        size_t len = strlen(s), off_c = 0, off_s = 0;
        ssep_parser_limits lim;
        ssep_parser *pc, *ps;

        ssep_parser_limits_init(&lim);
        pc = ssep_parser_create(&lim);
        lim.collect = 0;
        ps = ssep_parser_create(&lim);
        for (;;) {
            ssep_event ec, es;
            size_t uc, us;
            int rc = ssep_parser_feed(pc, s + off_c, len - off_c, &uc, &ec);
            int rs = ssep_parser_feed(ps, s + off_s, len - off_s, &us, &es);
            off_c += uc;
            off_s += us;
            CU_ASSERT_EQUAL(rc, rs);
            CU_ASSERT_EQUAL(off_c, off_s);
            if (rc != SSEP_PARSE_EVENT)
                break;
            CU_ASSERT_EQUAL(ec.data_len, es.data_len);
            CU_ASSERT_EQUAL(ec.wire_len, es.wire_len);
            CU_ASSERT_PTR_NULL(es.data);
            CU_ASSERT_EQUAL(ec.id_len, es.id_len);
        }
        ssep_parser_destroy(pc);
        ssep_parser_destroy(ps);
    }
}

static void test_oversized_line(void)
{
    ssep_parser_limits lim;
    ssep_parser *p, *other;
    size_t used, fed = 0;
    char chunk[100];
    int rc = 0, i;

    ssep_parser_limits_init(&lim);
    lim.max_line = 1000;
    lim.max_event = 100000;
    p = ssep_parser_create(&lim);
    other = ssep_parser_create(&lim);
    memset(chunk, 'x', sizeof(chunk));
    rc = ssep_parser_feed(p, "data: ", 6, &used, NULL);
    fed = 6;
    for (i = 0; i < 100 && rc == 0; i++) {
        rc = ssep_parser_feed(p, chunk, sizeof(chunk), &used, NULL);
        fed += used;
    }
    CU_ASSERT_EQUAL(rc, SSEP_ELINE);
    CU_ASSERT_EQUAL(fed, 1000);          /* stopped at the byte past 1000 */
    /* sticky: nothing more is parsed */
    CU_ASSERT_EQUAL(ssep_parser_feed(p, "\n\n", 2, &used, NULL), SSEP_ELINE);
    CU_ASSERT_EQUAL(used, 0);
    CU_ASSERT_FALSE(ssep_parser_at_boundary(p));
    /* another stream is unaffected */
    CU_ASSERT_EQUAL(ssep_parser_feed(other, "data: ok\n\n", 10, &used, NULL),
                    SSEP_PARSE_EVENT);
    /* a reset parser is usable again */
    ssep_parser_reset(p);
    CU_ASSERT_EQUAL(ssep_parser_feed(p, "data: ok\n\n", 10, &used, NULL),
                    SSEP_PARSE_EVENT);
    ssep_parser_destroy(p);
    ssep_parser_destroy(other);
}

static void test_oversized_event(void)
{
    ssep_parser_limits lim;
    ssep_parser *p;
    size_t used;
    int rc = 0, i;

    ssep_parser_limits_init(&lim);
    lim.max_line = 100;
    lim.max_event = 500;
    for (lim.collect = 0; lim.collect <= 1; lim.collect++) {
        p = ssep_parser_create(&lim);
        /* many short lines, none too long, together too big */
        for (i = 0; i < 100 && rc >= 0; i++)
            rc = ssep_parser_feed(p, "data: 0123456789\n", 17, &used, NULL);
        CU_ASSERT_EQUAL(rc, SSEP_EEVENT);
        CU_ASSERT(ssep_parser_bytes(p) <= 500 + 17 * 2);
        rc = 0;
        ssep_parser_destroy(p);
    }
    /* comments do not count towards the event size */
    lim.collect = 1;
    p = ssep_parser_create(&lim);
    for (i = 0; i < 200; i++)
        CU_ASSERT_EQUAL(ssep_parser_feed(p, ": keepalive\n", 12, &used, NULL), 0);
    CU_ASSERT_EQUAL(ssep_parser_feed(p, "data: x\n\n", 9, &used, NULL),
                    SSEP_PARSE_EVENT);
    ssep_parser_destroy(p);
}

static void test_huge_id_in_scan_mode(void)
{
    ssep_parser_limits lim;
    ssep_parser *p;
    char *big;
    size_t used, len = 5000;
    ssep_event ev;
    const char *id;

    ssep_parser_limits_init(&lim);
    lim.collect = 0;
    p = ssep_parser_create(&lim);
    big = malloc(len + 8);
    memcpy(big, "id: ", 4);
    memset(big + 4, '7', len);
    memcpy(big + 4 + len, "\n", 1);
    ssep_parser_feed(p, big, len + 5, &used, NULL);
    /* too long to keep in scan mode: known to be unknown, not truncated */
    CU_ASSERT_PTR_NULL(ssep_parser_last_id(p, &used));
    CU_ASSERT_EQUAL(ssep_parser_feed(p, "id: 8\ndata: x\n\n", 15, &used, &ev),
                    SSEP_PARSE_EVENT);
    id = ssep_parser_last_id(p, &used);
    CU_ASSERT_PTR_NOT_NULL_FATAL(id);
    CU_ASSERT_EQUAL(used, 1);
    CU_ASSERT_EQUAL(id[0], '8');
    free(big);
    ssep_parser_destroy(p);
}

/* Resuming must not skip the event whose id arrived but which was cut off:
 * the last id is the one in force at the last blank line. */
static void test_last_id_is_that_of_the_last_dispatch(void)
{
    static const char s[] = "id: 5\ndata: x\n\nid: 6\ndata: cut of";
    ssep_parser_limits lim;
    size_t used, len, off = 0;
    const char *id;
    int collect;

    ssep_parser_limits_init(&lim);
    for (collect = 0; collect <= 1; collect++) {
        ssep_parser *p;
        lim.collect = collect;
        p = ssep_parser_create(&lim);
        off = 0;
        while (off < sizeof(s) - 1) {
            ssep_parser_feed(p, s + off, sizeof(s) - 1 - off, &used, NULL);
            off += used;
        }
        ssep_parser_finish(p);
        id = ssep_parser_last_id(p, &len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(id);
        CU_ASSERT_EQUAL(len, 1);
        CU_ASSERT_EQUAL(id[0], '5');
        /* after a reset (a new connection) the next stream's events carry
         * the same last id until they set one */
        ssep_parser_reset(p);
        ssep_parser_feed(p, "data: y\n\n", 9, &used, NULL);
        id = ssep_parser_last_id(p, &len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(id);
        CU_ASSERT_EQUAL(id[0], '5');
        ssep_parser_destroy(p);
    }
}

static void test_bad_arguments(void)
{
    ssep_parser *p = ssep_parser_create(NULL);
    size_t used = 99;

    CU_ASSERT_EQUAL(ssep_parser_feed(NULL, "x", 1, &used, NULL), SSEP_EINVAL);
    CU_ASSERT_EQUAL(ssep_parser_feed(p, NULL, 1, &used, NULL), SSEP_EINVAL);
    CU_ASSERT_EQUAL(ssep_parser_feed(p, NULL, 0, &used, NULL), SSEP_PARSE_MORE);
    CU_ASSERT_EQUAL(used, 0);
    CU_ASSERT_EQUAL(ssep_parser_feed(p, "data: a\n\n", 9, NULL, NULL),
                    SSEP_PARSE_EVENT);
    CU_ASSERT_EQUAL(ssep_parser_retry(NULL), -1);
    CU_ASSERT_EQUAL(ssep_parser_events(NULL), 0);
    CU_ASSERT_PTR_NULL(ssep_parser_last_id(NULL, NULL));
    CU_ASSERT_FALSE(ssep_parser_at_boundary(NULL));
    CU_ASSERT_FALSE(ssep_parser_at_line_start(NULL));
    ssep_parser_reset(NULL);
    ssep_parser_destroy(NULL);
    ssep_parser_destroy(p);
}

static void test_reset_keeps_last_id(void)
{
    static const char s[] = "id: 41\ndata: a\n\ndata: half";
    ssep_parser *p = ssep_parser_create(NULL);
    size_t used, len;
    const char *id;

    ssep_parser_feed(p, s, sizeof(s) - 1, &used, NULL);
    ssep_parser_feed(p, s + used, sizeof(s) - 1 - used, &used, NULL);
    ssep_parser_reset(p);
    id = ssep_parser_last_id(p, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(id);
    CU_ASSERT_EQUAL(len, 2);
    CU_ASSERT_EQUAL(memcmp(id, "41", 2), 0);
    CU_ASSERT(ssep_parser_at_boundary(p));
    ssep_parser_destroy(p);
}

int register_parser_suite(void)
{
    static const unit_test tests[] = {
        { "spec examples", test_spec_examples },
        { "line ends CR LF CRLF", test_line_ends },
        { "fields", test_fields },
        { "NUL in id ignored", test_nul_in_id },
        { "NUL in data kept", test_nul_in_data },
        { "retry only when all digits", test_retry },
        { "one leading BOM stripped", test_bom },
        { "every split gives the same events", test_every_split },
        { "event boundaries", test_boundaries },
        { "scan mode matches collect mode", test_scan_mode_matches },
        { "oversized line", test_oversized_line },
        { "oversized event", test_oversized_event },
        { "huge id in scan mode", test_huge_id_in_scan_mode },
        { "last id is that of the last dispatch", test_last_id_is_that_of_the_last_dispatch },
        { "bad arguments", test_bad_arguments },
        { "reset keeps the last event id", test_reset_keeps_last_id },
        { NULL, NULL }
    };
    return add_suite("parser", tests);
}
