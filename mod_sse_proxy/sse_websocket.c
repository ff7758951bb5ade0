/*
 * Copyright 2025-2026 The mod_sse_proxy authors
 * SPDX-License-Identifier: Apache-2.0
 */

/*
 * The WebSocket side of an SSE route (SSEProxyWebSocket On).
 *
 * Clients behind proxies that hold event streams back can still get a
 * route's events: the handshake (RFC 6455 4.2) is checked ahead of
 * mod_proxy, the member is chosen and asked for the event stream exactly
 * as for an EventSource, and only once it answers with one does the
 * client get its 101.  From there the relay writes one text frame per
 * event, pings for heartbeats, and reads the client's frames where it
 * watches the client's socket anyway, in both relay modes.
 */
#include "apr_base64.h"
#include "apr_lib.h"
#include "apr_sha1.h"
#include "apr_strings.h"
#include "httpd.h"
#include "http_config.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"

#include "sse_cors.h"
#include "sse_stream.h"
#include "sse_websocket.h"
#include "sse_ws_frame.h"

APLOG_USE_MODULE(sse_proxy);

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define LEID_PARAM "lastEventId"
#define LEID_PROTOCOL "last-event-id."
/* What one read takes; a wake reads at most this many times, so that a
 * client sending without pause cannot keep a worker to itself. */
#define READ_SIZE 8192
#define MAX_READS 64

struct sse_ws {
    request_rec        *r;
    const char         *accept;       /* Sec-WebSocket-Accept */
    const char         *protocol;     /* chosen subprotocol, or NULL */
    const char         *last_event_id;
    sse_ws_parser      *parser;
    apr_bucket_brigade *in;
    int                 close_sent;
};

sse_ws *sse_ws_of(request_rec *r)
{
    sse_stream *st = ap_get_module_config(r->request_config,
                                          &sse_proxy_module);

    return st ? st->ws : NULL;
}

static int valid_key(const char *key)
{
    size_t i;

    /* 16 random bytes in base64 */
    if (!key || strlen(key) != 24 || strcmp(key + 22, "=="))
        return 0;
    for (i = 0; i < 22; i++)
        if (!apr_isalnum(key[i]) && key[i] != '+' && key[i] != '/')
            return 0;
    return 1;
}

static const char *accept_key(apr_pool_t *p, const char *key)
{
    apr_sha1_ctx_t sha;
    unsigned char digest[APR_SHA1_DIGESTSIZE];
    char *out = apr_palloc(p, apr_base64_encode_len(sizeof(digest)));

    apr_sha1_init(&sha);
    apr_sha1_update(&sha, key, (unsigned int)strlen(key));
    apr_sha1_update(&sha, WS_GUID, (unsigned int)strlen(WS_GUID));
    apr_sha1_final(digest, &sha);
    apr_base64_encode(out, (const char *)digest, sizeof(digest));
    return out;
}

/* The value of the lastEventId query parameter, decoded, or NULL. */
static const char *query_last_event_id(request_rec *r)
{
    char *args, *tok, *state;

    if (!r->args)
        return NULL;
    args = apr_pstrdup(r->pool, r->args);
    for (tok = apr_strtok(args, "&", &state); tok;
         tok = apr_strtok(NULL, "&", &state)) {
        size_t n = strlen(LEID_PARAM);
        if (!strncmp(tok, LEID_PARAM, n) && tok[n] == '=') {
            char *v = tok + n + 1;
            return ap_unescape_urlencoded(v) == OK ? v : NULL;
        }
    }
    return NULL;
}

/* Sec-WebSocket-Protocol: "sse" is chosen when offered; a token
 * "last-event-id.<id>" carries the resumption point for clients that
 * cannot change the URL (chosen itself when "sse" is not offered, since
 * a browser refuses an answer naming none of its offers). */
static void read_protocols(sse_ws *ws, const char *offered)
{
    apr_pool_t *p = ws->r->pool;
    char *list, *tok, *state;
    const char *leid_token = NULL;

    if (!offered)
        return;
    list = apr_pstrdup(p, offered);
    for (tok = apr_strtok(list, ", \t", &state); tok;
         tok = apr_strtok(NULL, ", \t", &state)) {
        size_t n = strlen(LEID_PROTOCOL);
        if (!strcmp(tok, "sse"))
            ws->protocol = "sse";
        else if (!leid_token && !strncasecmp(tok, LEID_PROTOCOL, n)
                 && tok[n])
            leid_token = tok;
    }
    if (leid_token) {
        if (!ws->last_event_id)
            ws->last_event_id = leid_token + strlen(LEID_PROTOCOL);
        if (!ws->protocol)
            ws->protocol = leid_token;
    }
}

/* Why r is not a handshake this module accepts (NULL: it is one), and
 * the status that says so. */
static const char *handshake_error(request_rec *r, int *status)
{
    const char *conn = apr_table_get(r->headers_in, "Connection");
    const char *version = apr_table_get(r->headers_in,
                                        "Sec-WebSocket-Version");

    *status = HTTP_BAD_REQUEST;
    if (r->method_number != M_GET || r->header_only)
        return "not a GET";
    if (r->connection->master || r->proto_num < HTTP_VERSION(1, 1))
        return "not HTTP/1.1";
    if (!conn || !ap_find_token(r->pool, conn, "upgrade"))
        return "no Connection: Upgrade";
    if (!apr_table_get(r->headers_in, "Host"))
        return "no Host";
    if (!version || strcmp(version, "13")) {
        *status = HTTP_UPGRADE_REQUIRED;
        return "Sec-WebSocket-Version is not 13";
    }
    if (!valid_key(apr_table_get(r->headers_in, "Sec-WebSocket-Key")))
        return "missing or malformed Sec-WebSocket-Key";
    return NULL;
}

/* Browsers send any page's WebSocket to any host, cookies included, and
 * apply no CORS: the page's origin must be this host or one that
 * SSEProxyAllowOrigin lists.  Clients that are not browsers send no
 * Origin. */
static int origin_allowed(request_rec *r, const sse_dir_conf *d)
{
    const char *origin = apr_table_get(r->headers_in, "Origin");
    const char *host = apr_table_get(r->headers_in, "Host");
    const char *sep;

    if (!origin)
        return 1;
    sep = strstr(origin, "://");
    if (sep && host && !strcasecmp(sep + 3, host))
        return 1;
    return sse_cors_origin_listed(d, origin);
}

/* Ahead of mod_proxy: a handshake on a route that serves WebSockets is
 * checked before any member is chosen.  Routes without
 * SSEProxyWebSocket On are left as they were. */
static int handshake_handler(request_rec *r)
{
    const char *upgrade, *why;
    sse_stream *st;
    sse_ws *ws;
    int status;

    if (!r->handler || strcmp(r->handler, "proxy-server")
        || r->proxyreq != PROXYREQ_REVERSE)
        return DECLINED;
    upgrade = apr_table_get(r->headers_in, "Upgrade");
    if (!upgrade || !ap_find_token(r->pool, upgrade, "websocket"))
        return DECLINED;
    st = sse_stream_of(r);
    if (!sse_conf_enabled(st->dconf) || !sse_conf_websocket(st->dconf)
        || st->ws)
        return DECLINED;
    why = handshake_error(r, &status);
    if (why) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "SSE00074: WebSocket handshake refused (%d): %s",
                      status, why);
        apr_table_setn(r->err_headers_out, "Sec-WebSocket-Version", "13");
        /* a 426 names the protocol it requires (RFC 9110 15.5.22) */
        if (status == HTTP_UPGRADE_REQUIRED)
            apr_table_setn(r->err_headers_out, "Upgrade", "websocket");
        apr_table_setn(r->notes, "sse-end", "ws-handshake");
        return status;
    }
    if (!origin_allowed(r, st->dconf)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "SSE00076: WebSocket from origin %s refused: neither "
                      "this host nor listed by SSEProxyAllowOrigin",
                      apr_table_get(r->headers_in, "Origin"));
        apr_table_setn(r->notes, "sse-end", "ws-origin");
        return HTTP_FORBIDDEN;
    }
    ws = apr_pcalloc(r->pool, sizeof(*ws));
    ws->r = r;
    ws->accept = accept_key(r->pool, apr_table_get(r->headers_in,
                                                   "Sec-WebSocket-Key"));
    ws->last_event_id = query_last_event_id(r);
    read_protocols(ws, apr_table_get(r->headers_in,
                                     "Sec-WebSocket-Protocol"));
    st->ws = ws;
    return DECLINED;
}

void sse_ws_register_hooks(void)
{
    static const char *const before_proxy[] = { "mod_proxy.c", NULL };

    ap_hook_handler(handshake_handler, NULL, before_proxy, APR_HOOK_FIRST);
}

char *sse_ws_backend_url(request_rec *r, char *url)
{
    char *q = strchr(url, '?'), *tok, *state, *out;
    size_t n = strlen(LEID_PARAM);

    if (!q)
        return url;
    out = apr_pstrmemdup(r->pool, url, (apr_size_t)(q - url));
    q = apr_pstrdup(r->pool, q + 1);
    for (tok = apr_strtok(q, "&", &state); tok;
         tok = apr_strtok(NULL, "&", &state)) {
        if (!strncmp(tok, LEID_PARAM, n) && (tok[n] == '=' || !tok[n]))
            continue;
        out = apr_pstrcat(r->pool, out, strchr(out, '?') ? "&" : "?", tok,
                          NULL);
    }
    return out;
}

const char *sse_ws_last_event_id(const sse_ws *ws)
{
    return ws->last_event_id;
}

void sse_ws_backend_headers(sse_ws *ws, apr_table_t *headers)
{
    apr_table_unset(headers, "Upgrade");
    apr_table_unset(headers, "Connection");
    apr_table_unset(headers, "Sec-WebSocket-Key");
    apr_table_unset(headers, "Sec-WebSocket-Version");
    apr_table_unset(headers, "Sec-WebSocket-Protocol");
    apr_table_unset(headers, "Sec-WebSocket-Extensions");
    if (ws->last_event_id)
        apr_table_setn(headers, "Last-Event-ID", ws->last_event_id);
}

static apr_status_t parser_cleanup(void *data)
{
    sse_ws_parser_destroy(data);
    return APR_SUCCESS;
}

void sse_ws_accept(sse_ws *ws, apr_bucket_brigade *bb)
{
    request_rec *r = ws->r;
    conn_rec *c = r->connection;

    ws->parser = sse_ws_parser_create(SSE_WS_MAX_MESSAGE, 1);
    if (ws->parser)
        apr_pool_cleanup_register(r->pool, ws->parser, parser_cleanup,
                                  apr_pool_cleanup_null);
    ws->in = apr_brigade_create(r->pool, c->bucket_alloc);
    apr_brigade_printf(bb, NULL, NULL,
                       "HTTP/1.1 101 Switching Protocols\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Accept: %s\r\n"
                       "%s%s%s"
                       "\r\n", ws->accept,
                       ws->protocol ? "Sec-WebSocket-Protocol: " : "",
                       ws->protocol ? ws->protocol : "",
                       ws->protocol ? "\r\n" : "");
    /* From here the connection speaks WebSocket: no HTTP filter may touch
     * the bytes (chunking, the response head), no request timeout applies
     * to what the client sends, and the connection never serves another
     * request. */
    r->status = HTTP_SWITCHING_PROTOCOLS;
    r->status_line = "101 Switching Protocols";
    r->sent_bodyct = 1;
    r->output_filters = r->proto_output_filters = c->output_filters;
    ap_remove_input_filter_byhandle(c->input_filters, "reqtimeout");
    c->keepalive = AP_CONN_CLOSE;
}

/* One frame into bb, its payload from one or two pieces, in a single heap
 * bucket of the connection's allocator (freed once written: a long
 * stream does not grow any pool). */
static apr_size_t frame(sse_ws *ws, apr_bucket_brigade *bb, int opcode,
                        const void *payload, apr_size_t len)
{
    apr_bucket_alloc_t *ba = ws->r->connection->bucket_alloc;
    unsigned char head[SSE_WS_MAX_HEAD];
    apr_size_t hl = sse_ws_frame_head(head, opcode, len);
    char *buf = apr_bucket_alloc(hl + len, ba);

    memcpy(buf, head, hl);
    if (len)
        memcpy(buf + hl, payload, len);
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_heap_create(buf, hl + len,
                                                       apr_bucket_free, ba));
    return hl + len;
}

static apr_size_t json_message(sse_ws *ws, apr_bucket_brigade *bb,
                               const char *id, size_t id_len,
                               const char *type, size_t type_len,
                               const char *data, size_t data_len)
{
    apr_bucket_alloc_t *ba = ws->r->connection->bucket_alloc;
    size_t n = sse_ws_event_json(NULL, 0, id, id_len, type, type_len, data,
                                 data_len);
    unsigned char head[SSE_WS_MAX_HEAD];
    apr_size_t hl = sse_ws_frame_head(head, SSE_WS_OP_TEXT, n);
    char *buf = apr_bucket_alloc(hl + n, ba);

    memcpy(buf, head, hl);
    sse_ws_event_json(buf + hl, n, id, id_len, type, type_len, data,
                      data_len);
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_heap_create(buf, hl + n,
                                                       apr_bucket_free, ba));
    return hl + n;
}

apr_size_t sse_ws_event(sse_ws *ws, apr_bucket_brigade *bb,
                        const ssep_event *ev)
{
    if (ws->close_sent)
        return 0;
    return json_message(ws, bb, ev->id, ev->id_len, ev->type, ev->type_len,
                        ev->data, ev->data_len);
}

apr_size_t sse_ws_named_message(sse_ws *ws, apr_bucket_brigade *bb,
                                const char *type, const char *data)
{
    if (ws->close_sent)
        return 0;
    return json_message(ws, bb, NULL, 0, type, strlen(type), data,
                        strlen(data));
}

apr_size_t sse_ws_ping(sse_ws *ws, apr_bucket_brigade *bb)
{
    if (ws->close_sent)
        return 0;
    return frame(ws, bb, SSE_WS_OP_PING, NULL, 0);
}

apr_size_t sse_ws_close(sse_ws *ws, apr_bucket_brigade *bb, int code,
                        const char *reason)
{
    unsigned char payload[SSE_WS_MAX_CONTROL];
    apr_size_t n;

    if (ws->close_sent)
        return 0;
    ws->close_sent = 1;
    n = code == SSE_WS_CLOSE_NO_STATUS
        ? 0 : sse_ws_close_payload(payload, code, reason);
    return frame(ws, bb, SSE_WS_OP_CLOSE, payload, n);
}

/* One complete frame or message from the client.  Returns -1 when the
 * stream must end. */
static int on_frame(sse_ws *ws, apr_bucket_brigade *bb, sse_ws_result rc,
                    const sse_ws_frame *f)
{
    if (rc == SSE_WS_FAIL) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, ws->r,
                      "SSE00075: closing WebSocket (%d): client %s",
                      f->fail_code, f->why);
        sse_ws_close(ws, bb, f->fail_code, f->why);
        return -1;
    }
    if (rc == SSE_WS_MESSAGE)
        return 0;  /* the stream flows one way: messages are ignored */
    if (f->opcode == SSE_WS_OP_PING && !ws->close_sent)
        frame(ws, bb, SSE_WS_OP_PONG, f->payload, f->len);
    else if (f->opcode == SSE_WS_OP_CLOSE) {
        /* the close handshake: the same code back, then the end */
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, ws->r,
                      "SSE00077: client closed the WebSocket (%d)",
                      f->close_code);
        sse_ws_close(ws, bb, f->close_code, NULL);
        return -1;
    }
    return 0;
}

static int feed(sse_ws *ws, apr_bucket_brigade *bb, const char *data,
                apr_size_t len)
{
    apr_size_t off = 0;

    while (off < len) {
        sse_ws_frame f;
        size_t used;
        sse_ws_result rc = sse_ws_parser_feed(ws->parser, data + off,
                                              len - off, &used, &f);

        off += used;
        if (rc != SSE_WS_MORE && on_frame(ws, bb, rc, &f) < 0)
            return -1;
    }
    return 0;
}

int sse_ws_read_client(sse_ws *ws, apr_bucket_brigade *bb)
{
    conn_rec *c = ws->r->connection;
    int reads;

    if (!ws->parser) {
        sse_ws_close(ws, bb, SSE_WS_CLOSE_ERROR, "out of memory");
        return -1;
    }
    for (reads = 0; reads < MAX_READS; reads++) {
        apr_status_t rv;
        apr_bucket *b;

        apr_brigade_cleanup(ws->in);
        rv = ap_get_brigade(c->input_filters, ws->in, AP_MODE_READBYTES,
                            APR_NONBLOCK_READ, READ_SIZE);
        if (APR_STATUS_IS_EAGAIN(rv)
            || (rv == APR_SUCCESS && APR_BRIGADE_EMPTY(ws->in)))
            return 0;
        if (rv != APR_SUCCESS) {
            /* gone without a close frame */
            apr_brigade_cleanup(ws->in);
            c->aborted = 1;
            return -1;
        }
        for (b = APR_BRIGADE_FIRST(ws->in); b != APR_BRIGADE_SENTINEL(ws->in);
             b = APR_BUCKET_NEXT(b)) {
            const char *data;
            apr_size_t len;

            if (APR_BUCKET_IS_EOS(b)) {
                apr_brigade_cleanup(ws->in);
                c->aborted = 1;
                return -1;
            }
            if (APR_BUCKET_IS_METADATA(b))
                continue;
            if (apr_bucket_read(b, &data, &len, APR_BLOCK_READ)
                != APR_SUCCESS
                || feed(ws, bb, data, len) < 0) {
                apr_brigade_cleanup(ws->in);
                return -1;
            }
        }
    }
    apr_brigade_cleanup(ws->in);
    return 0;
}
