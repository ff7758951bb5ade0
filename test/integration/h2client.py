# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""A small HTTP/2 client on the python h2 library (Debian's python3-h2,
which ./bootstrap installs), for the tests and benchmarks that speak
HTTP/2 to httpd or nginx: prior knowledge on h2c, ALPN on TLS, many GET
streams on one connection, and a loop that reads many connections at
once."""
import os
import selectors
import socket
import ssl
import sys
import time

try:
    import h2.config
    import h2.connection
    import h2.errors
    import h2.events
    import h2.settings
except ImportError:
    # Debian's package, when python3 is another interpreter
    sys.path.append("/usr/lib/python3/dist-packages")
    import h2.config
    import h2.connection
    import h2.errors
    import h2.events
    import h2.settings

# mod_http2 runs at most 6 streams of a new connection at once, and
# doubles that (up to H2MaxWorkers or H2MaxSessionStreams) when a stream
# that started at least 100 ms after the last change completes
# (h2_mplx.c, processing_limit and s_mplx_be_happy()).
H2_FIRST_LIMIT = 6


def shipped_settings(top_srcdir):
    """The server-wide part of conf/examples/http2.conf, the HTTP/2
    settings the project recommends: what comes before its example
    virtual host."""
    with open(os.path.join(top_srcdir, "conf", "examples",
                           "http2.conf")) as f:
        head = f.read().split("<VirtualHost", 1)[0]
    if os.environ.get("SSE_HTTPD_PRELOAD", "").strip():
        # sanitizer runtimes want the default stack size, and a thousand
        # instrumented threads a child from the start are a lot
        head = "\n".join(l for l in head.splitlines()
                         if not l.startswith(("ThreadStackSize",
                                              "H2MinWorkers")))
    return head


class H2Client:
    """One HTTP/2 connection that opens GET streams and reads what each
    one receives."""

    def __init__(self, port, tls, reads=True, host="127.0.0.1", timeout=5,
                 window=None):
        sock = socket.create_connection((host, port), timeout)
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["h2"])
            sock = ctx.wrap_socket(sock, server_hostname=host)
            assert sock.selected_alpn_protocol() == "h2"
        self.sock = sock
        self.authority = "%s:%d" % (host, port)
        self.scheme = "https" if tls else "http"
        self.conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=True,
                                             header_encoding="utf-8"))
        self.conn.initiate_connection()
        if window:
            # room for busy streams' data between WINDOW_UPDATEs
            self.conn.update_settings(
                {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
            self.conn.increment_flow_control_window(16 * window)
        self.flush()
        # reads=False: DATA is never acknowledged, so the flow-control
        # windows close, as for a client that stopped reading
        self.reads = reads
        self.status = {}
        self.body = {}
        self.ended = {}
        # per stream, a callback for each DATA frame: on_data(sid, data)
        self.on_data = None

    def fileno(self):
        return self.sock.fileno()

    def flush(self):
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)

    def get(self, path, headers=()):
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(sid, [
            (":method", "GET"), (":scheme", self.scheme),
            (":authority", self.authority), (":path", path),
            ("accept", "text/event-stream")] + list(headers),
            end_stream=True)
        self.flush()
        self.body[sid] = b""
        return sid

    def reset(self, sid):
        # what a browser sends when a page closes its EventSource
        self.conn.reset_stream(sid, error_code=h2.errors.ErrorCodes.CANCEL)
        self.flush()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def receive(self, data):
        for ev in self.conn.receive_data(data):
            if isinstance(ev, h2.events.ResponseReceived):
                self.status[ev.stream_id] = dict(ev.headers)[":status"]
            elif isinstance(ev, h2.events.DataReceived):
                if self.on_data:
                    self.on_data(ev.stream_id, ev.data)
                else:
                    self.body[ev.stream_id] += ev.data
                if self.reads:
                    self.conn.acknowledge_received_data(
                        ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, (h2.events.StreamEnded,
                                 h2.events.StreamReset)):
                self.ended[ev.stream_id] = ev
        self.flush()

    def read_until(self, pred, timeout=10):
        end = time.monotonic() + timeout
        while not pred():
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out; got %r" % self.body)
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                raise AssertionError("connection closed; got %r" % self.body)
            self.receive(data)


def pump(clients, until, timeout, what="the streams"):
    """Reads every client's connection until until() holds; raises
    AssertionError after timeout seconds, or when a connection closes."""
    sel = selectors.DefaultSelector()
    for c in clients:
        sel.register(c.sock, selectors.EVENT_READ, c)
    end = time.monotonic() + timeout
    try:
        while not until():
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out waiting for " + what)
            for key, _ in sel.select(min(left, 0.5)):
                c = key.data
                # readable: one recv does not wait (on TLS at most for
                # the rest of a record), and TLS may hold more already
                c.sock.settimeout(5)
                while True:
                    data = c.sock.recv(262144)
                    if not data:
                        raise AssertionError("a connection closed while "
                                             "waiting for " + what)
                    c.receive(data)
                    if not (isinstance(c.sock, ssl.SSLSocket)
                            and c.sock.pending()):
                        break
    finally:
        sel.close()


def warm_up(clients, path, rounds):
    """Completes short requests (GET path) on every connection so that
    mod_http2 lets more of their streams run at once: 6 at first
    (H2_FIRST_LIMIT), doubled when a stream that started after the last
    change completes 100 ms after it (by mod_http2's clock, which takes
    the change once its worker is done with the request, some time after
    the client had the answer), or when more streams than the limit
    complete.  Each round does both, sending one request more than the
    limit it should double.  Returns the answers' statuses."""
    statuses = []
    for r in range(rounds):
        time.sleep(0.25)
        n = min((H2_FIRST_LIMIT << r) + 1, 50)
        sids = [(c, c.get(path)) for c in clients for _ in range(n)]
        pump(clients, lambda: all(s in c.ended for c, s in sids), 30,
             "the warm-up requests")
        statuses += [c.status.get(s) for c, s in sids]
    return statuses
