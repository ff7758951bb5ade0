/* The relay loop: backend body -> client, cut into events. */
#ifndef SSE_RELAY_H
#define SSE_RELAY_H

#include "httpd.h"
#include "mod_proxy.h"

#include "sse_backend.h"
#include "sse_config.h"

typedef enum {
    SSE_END_NONE = 0,
    SSE_END_BACKEND,    /* the backend ended the body as its framing says */
    SSE_END_CLIENT,     /* the client went away */
    SSE_END_IDLE,       /* SSEProxyIdleTimeout */
    SSE_END_OVERSIZE,   /* SSEProxyMaxEventSize */
    SSE_END_PREMATURE,  /* the backend broke off mid-body or mid-event */
    SSE_END_ERROR,      /* a read error or malformed framing */
    SSE_END_SHUTDOWN    /* httpd is stopping or restarting gracefully */
} sse_end_reason;

const char *sse_end_name(sse_end_reason why);

typedef struct {
    apr_uint64_t   events;
    apr_uint64_t   bytes;
    apr_uint64_t   heartbeats;
    sse_end_reason end;
    apr_status_t   backend_error;  /* the read error with SSE_END_ERROR */
} sse_relay_result;

typedef struct sse_relay sse_relay;

/* Prepares the relay of resp's body to r (allocated from r->pool).
 * initial_retry_ms >= 0 starts an event stream with that retry: line. */
sse_relay *sse_relay_create(request_rec *r, proxy_conn_rec *backend,
                            const sse_dir_conf *conf,
                            const sse_response *resp,
                            apr_int64_t initial_retry_ms);

/* Sends the response head already copied to r, then relays the body
 * until it ends, the client leaves or a limit is hit.  The backend
 * connection is marked for closing unless the body ended cleanly on a
 * reusable connection. */
void sse_relay_run(sse_relay *rl, sse_relay_result *res);

/* Ends the client's response cleanly (unless the client left), with a
 * retry: line first when retry_ms >= 0, placed so that it cannot become
 * part of an event.  With a class name, and only between events, the
 * hint is also sent as the named event "sse-proxy" for pages to show. */
void sse_relay_finish(sse_relay *rl, apr_int64_t retry_ms,
                      const char *class_name);

#endif
