# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""SSEProxyWebSocket: an SSE route's stream over a WebSocket, with a
raw-socket client (no WebSocket library): the handshake and its errors,
each event one JSON text message, pings for heartbeats, the client's
frames (masked, fragmented, pings between fragments, oversize,
unmasked), the close handshake that lets the backend go, and resumption
by lastEventId or subprotocol.  sync_mode.py runs it again with
SSEProxyAsync Off."""
import base64
import hashlib
import json
import os
import socket
import ssl
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import wait_for  # noqa: E402

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG, CONT = 1, 2, 8, 9, 10, 0


def accept_for(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


class WSClient:
    """A WebSocket client on a raw socket: the handshake, frames both
    ways, nothing hidden."""

    def __init__(self, port, path, headers=None, key=None, method="GET",
                 version="HTTP/1.1", timeout=10, replace=None, tls=False):
        self.key = key or base64.b64encode(os.urandom(16)).decode()
        self.sock = socket.create_connection(("127.0.0.1", port), timeout)
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["http/1.1"])
            self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")
        self.sock.settimeout(timeout)
        h = {"Host": "127.0.0.1:%d" % port, "Upgrade": "websocket",
             "Connection": "Upgrade", "Sec-WebSocket-Key": self.key,
             "Sec-WebSocket-Version": "13"}
        h.update(headers or {})
        for k, v in (replace or {}).items():
            if v is None:
                h.pop(k, None)
            else:
                h[k] = v
        lines = ["%s %s %s" % (method, path, version)]
        lines += ["%s: %s" % kv for kv in h.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("closed before a response head")
            self.buf += data
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split(" ")[1])
        self.headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            self.headers[k.strip().lower()] = v.strip()

    def body(self):
        """The rest of a non-101 answer (Content-Length or chunked)."""
        n = self.headers.get("content-length")
        if n is not None:
            while len(self.buf) < int(n):
                self.buf += self._recv()
            return self.buf[:int(n)]
        return self.buf

    def _recv(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        return data

    def _need(self, n):
        while len(self.buf) < n:
            self.buf += self._recv()

    def send_frame(self, opcode, payload=b"", fin=True, mask=True, rsv=0):
        b0 = (0x80 if fin else 0) | rsv | opcode
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
        elif n < 65536:
            head = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
        else:
            head = struct.pack("!BBQ", b0, (0x80 if mask else 0) | 127, n)
        if mask:
            key = os.urandom(4)
            payload = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
            head += key
        self.sock.sendall(head + payload)

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv_frame(self, timeout=10):
        """(fin, opcode, payload) of the next server frame."""
        self.sock.settimeout(timeout)
        self._need(2)
        b0, b1 = self.buf[0], self.buf[1]
        assert not b1 & 0x80, "server frames must not be masked"
        assert not b0 & 0x70, "no extension was agreed"
        n, at = b1 & 0x7F, 2
        if n == 126:
            self._need(4)
            n, at = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10)
            n, at = struct.unpack("!Q", self.buf[2:10])[0], 10
        self._need(at + n)
        payload, self.buf = self.buf[at:at + n], self.buf[at + n:]
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def next_frame(self, opcodes, timeout=10):
        """The next frame with one of opcodes, skipping pings."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no frame of %r in time" % (opcodes,))
            fin, op, payload = self.recv_frame(left)
            if op in opcodes:
                return op, payload

    def messages(self, n, timeout=10):
        out = []
        while len(out) < n:
            op, payload = self.next_frame((TEXT, CLOSE), timeout)
            if op == CLOSE:
                raise AssertionError("closed after %d messages: %r"
                                     % (len(out), payload))
            out.append(json.loads(payload.decode("utf-8")))
        return out

    def until_close(self, timeout=10):
        """(code, reason, messages before it)."""
        msgs = []
        while True:
            op, payload = self.next_frame((TEXT, CLOSE), timeout)
            if op == CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                return code, payload[2:].decode("utf-8"), msgs
            msgs.append(json.loads(payload.decode("utf-8")))

    def at_eof(self, timeout=5):
        """True once the server closed the TCP connection."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
        except (socket.timeout, ConnectionResetError):
            return False
        except ssl.SSLError:
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class WebSocketTest(harness.ProxyTestCase):
    conf = """
<Location /ws/events>
    ProxyPass {o1}/events
    SSEProxy On
    SSEProxyHeartbeat 1
    SSEProxyWebSocket On
</Location>
<Location /cors/events>
    ProxyPass {o1}/events
    SSEProxy On
    SSEProxyWebSocket On
    SSEProxyAllowOrigin http://app.example
</Location>
<Location /sse/events>
    ProxyPass {o1}/events
    SSEProxy On
</Location>
<Location /dead/events>
    ProxyPass http://127.0.0.1:{dead}/events
    SSEProxy On
    SSEProxyWebSocket On
</Location>
<Location /idle/events>
    ProxyPass {o1}/events
    SSEProxy On
    SSEProxyWebSocket On
    SSEProxyHeartbeat off
    SSEProxyIdleTimeout 1
</Location>
<Location /small/events>
    ProxyPass {o1}/events
    SSEProxy On
    SSEProxyWebSocket On
    SSEProxyMaxEventSize 1K
</Location>
"""
    # a bad lastEventId, a backend event over SSEProxyMaxEventSize, the
    # member that is down
    allowed = [r"SSE00010", r"SSE00020", r"SSE00002", r"SSE0003\d",
               r"AH00957", r"AH00959"]

    @classmethod
    def conf_names(cls):
        return {"dead": harness.free_port()}

    def ws(self, path, **kw):
        c = WSClient(self.httpd.port, path, **kw)
        self.addCleanup(c.close)
        return c

    def opened(self, path, **kw):
        c = self.ws(path, **kw)
        self.assertEqual(c.status, 101, c.headers)
        self.assertEqual(c.headers.get("upgrade", "").lower(), "websocket")
        self.assertEqual(c.headers.get("connection", "").lower(), "upgrade")
        self.assertEqual(c.headers.get("sec-websocket-accept"), accept_for(c.key))
        return c

    def origin_reqs(self, marker):
        return [q for q in self.o[0].requests() if marker in q["path"]]

    # -- the stream --------------------------------------------------------

    def test_events_as_json_messages(self):
        c = self.opened("/ws/events?rate=50&count=5&m=json")
        code, reason, msgs = c.until_close()
        self.assertEqual([m["id"] for m in msgs], ["1", "2", "3", "4", "5"])
        for m in msgs:
            self.assertEqual(set(m), {"id", "event", "data"})
            self.assertIsNone(m["event"])
            self.assertEqual(json.loads(m["data"])["id"], int(m["id"]))
        # the backend's stream ended: a normal close, saying why and when
        # to come back
        self.assertEqual(code, 1000)
        self.assertTrue(reason.startswith("backend"), reason)
        self.assertIn("retry=", reason)
        c.send_frame(CLOSE, struct.pack("!H", 1000))
        self.assertTrue(c.at_eof())
        # asked exactly as an EventSource asks
        req = self.origin_reqs("m=json")[0]
        self.assertEqual(req["method"], "GET")
        self.assertEqual(req["accept"], "text/event-stream")

    def test_rfc_example_key(self):
        c = self.opened("/ws/events?rate=50&count=1",
                        key="dGhlIHNhbXBsZSBub25jZQ==")
        self.assertEqual(c.headers["sec-websocket-accept"],
                         "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")

    def test_events_without_ids(self):
        c = self.opened("/ws/events?rate=50&count=2&noid=1")
        code, _, msgs = c.until_close()
        self.assertEqual(len(msgs), 2)
        self.assertTrue(all(m["id"] is None for m in msgs), msgs)

    def test_heartbeat_becomes_ping(self):
        c = self.opened("/ws/events?first_delay_ms=4000&count=1")
        fin, op, payload = c.recv_frame(timeout=5)
        self.assertEqual(op, PING)
        c.send_frame(PONG, payload)
        msgs = c.messages(1, timeout=10)
        self.assertEqual(msgs[0]["id"], "1")

    def test_oversize_backend_event_ends_stream(self):
        c = self.opened("/small/events?rate=50&count=3&huge=4000&huge_at=2")
        code, reason, msgs = c.until_close()
        self.assertEqual([m["id"] for m in msgs], ["1"])
        self.assertEqual(code, 1011)
        self.assertTrue(reason.startswith("oversize"), reason)

    # -- resumption --------------------------------------------------------

    def test_resume_with_last_event_id_parameter(self):
        c = self.opened("/ws/events?rate=50&count=6&lastEventId=3&m=resume")
        code, _, msgs = c.until_close()
        self.assertEqual([m["id"] for m in msgs], ["4", "5", "6"])
        req = self.origin_reqs("m=resume")[0]
        self.assertEqual(req["last_event_id"], "3")
        self.assertNotIn("lastEventId", req["path"])
        self.assertEqual(req["path"], "/events?rate=50&count=6&m=resume")

    def test_resume_with_subprotocol(self):
        c = self.opened("/ws/events?rate=50&count=9&m=proto",
                        headers={"Sec-WebSocket-Protocol": "sse, last-event-id.7"})
        self.assertEqual(c.headers.get("sec-websocket-protocol"), "sse")
        code, _, msgs = c.until_close()
        self.assertEqual([m["id"] for m in msgs], ["8", "9"])
        self.assertEqual(self.origin_reqs("m=proto")[0]["last_event_id"], "7")

    def test_last_event_id_first_in_query(self):
        c = self.opened("/ws/events?lastEventId=4&count=5&m=first")
        code, _, msgs = c.until_close()
        self.assertEqual([m["id"] for m in msgs], ["5"])
        req = self.origin_reqs("m=first")[0]
        self.assertEqual(req["path"], "/events?count=5&m=first")
        self.assertEqual(req["last_event_id"], "4")

    def test_resume_with_subprotocol_alone(self):
        """Without "sse" on offer the answer names the token itself: a
        browser refuses an answer naming none of its offers."""
        c = self.opened("/ws/events?rate=50&count=3&m=protoalone",
                        headers={"Sec-WebSocket-Protocol": "last-event-id.2"})
        self.assertEqual(c.headers.get("sec-websocket-protocol"), "last-event-id.2")
        code, _, msgs = c.until_close()
        self.assertEqual([m["id"] for m in msgs], ["3"])

    def test_query_wins_over_subprotocol(self):
        c = self.opened("/ws/events?rate=50&count=5&m=both&lastEventId=3",
                        headers={"Sec-WebSocket-Protocol": "sse, last-event-id.1"})
        code, _, msgs = c.until_close()
        self.assertEqual([m["id"] for m in msgs], ["4", "5"])
        self.assertEqual(self.origin_reqs("m=both")[0]["last_event_id"], "3")

    def test_idle_timeout_closes(self):
        c = self.opened("/idle/events?first_delay_ms=10000")
        code, reason, msgs = c.until_close(timeout=10)
        self.assertEqual((code, msgs), (1000, []))
        self.assertRegex(reason, r"^idle; retry=\d+$")

    def test_bad_last_event_id_not_forwarded(self):
        c = self.opened("/ws/events?rate=50&count=2&m=badleid&lastEventId=a%0Ab")
        c.until_close()
        self.assertEqual(self.origin_reqs("m=badleid")[0]["last_event_id"], "-")

    # -- handshake errors --------------------------------------------------

    def refused(self, status, path="/ws/events?m=refused", **kw):
        before = len(self.origin_reqs("m=refused"))
        c = self.ws(path, **kw)
        self.assertEqual(c.status, status, c.headers)
        self.assertNotIn("sec-websocket-accept", c.headers)
        time.sleep(0.2)
        self.assertEqual(len(self.origin_reqs("m=refused")), before,
                         "no backend is asked")
        return c

    def test_bad_version(self):
        c = self.refused(426, replace={"Sec-WebSocket-Version": "8"})
        self.assertEqual(c.headers.get("sec-websocket-version"), "13")
        self.assertEqual(c.headers.get("upgrade"), "websocket")
        c = self.refused(426, replace={"Sec-WebSocket-Version": None})
        self.assertEqual(c.headers.get("sec-websocket-version"), "13")

    def test_missing_or_bad_key(self):
        self.refused(400, replace={"Sec-WebSocket-Key": None})
        self.refused(400, replace={"Sec-WebSocket-Key": "short"})

    def test_not_get(self):
        self.refused(400, method="POST", replace={"Content-Length": "0"})

    def test_not_http11(self):
        self.refused(400, version="HTTP/1.0")

    def test_no_connection_upgrade(self):
        self.refused(400, replace={"Connection": "keep-alive"})

    def test_foreign_origin(self):
        self.refused(403, headers={"Origin": "http://evil.example"})
        self.refused(403, path="/cors/events?m=refused",
                     headers={"Origin": "http://evil.example"})
        # the page's own host, and an origin the route lists
        c = self.opened("/ws/events?rate=50&count=1",
                        headers={"Origin": "http://127.0.0.1:%d" % self.httpd.port})
        c.until_close()
        c = self.opened("/cors/events?rate=50&count=1",
                        headers={"Origin": "http://app.example"})
        c.until_close()

    def test_route_without_websocket(self):
        """SSEProxyWebSocket Off (the default): the upgrade is ignored and
        the request relayed as an event stream; no 101."""
        c = self.ws("/sse/events?rate=50&count=1")
        self.assertEqual(c.status, 200)
        self.assertTrue(c.headers["content-type"].startswith("text/event-stream"))
        self.assertNotIn("sec-websocket-accept", c.headers)

    def test_no_member_available(self):
        """The member is down: as for any client that is not an
        EventSource, 503 with Retry-After, and no 101."""
        c = self.ws("/dead/events")
        self.assertEqual(c.status, 503)
        self.assertGreater(int(c.headers["retry-after"]), 0)
        self.assertNotIn("sec-websocket-accept", c.headers)

    def test_backend_answer_not_a_stream(self):
        c = self.ws("/ws/events?status=404")
        self.assertEqual(c.status, 404)
        self.assertNotIn("sec-websocket-accept", c.headers)

    # -- the client's frames -----------------------------------------------

    def test_ping_pong_echo(self):
        c = self.opened("/ws/events?rate=5")
        c.send_frame(PING, b"hello \xe2\x9c\x93")
        op, payload = c.next_frame((PONG,))
        self.assertEqual(payload, b"hello \xe2\x9c\x93")
        c.send_frame(PING, b"")
        op, payload = c.next_frame((PONG,))
        self.assertEqual(payload, b"")
        self.assertEqual(len(c.messages(2)), 2)

    def test_fragmented_message_with_ping_between(self):
        c = self.opened("/ws/events?rate=5")
        c.send_frame(TEXT, b"hel", fin=False)
        c.send_frame(PING, b"between")
        c.send_frame(CONT, b"lo", fin=True)
        op, payload = c.next_frame((PONG,))
        self.assertEqual(payload, b"between")
        # messages from the client are ignored; the stream goes on
        first = c.messages(1)[0]
        self.assertEqual(len(c.messages(2)), 2)
        self.assertTrue(int(first["id"]) >= 1)
        c.send_frame(BINARY, b"\x00\x01")
        c.send_frame(PING, b"after")
        op, payload = c.next_frame((PONG,))
        self.assertEqual(payload, b"after")

    def test_frame_split_across_writes(self):
        c = self.opened("/ws/events?rate=5")
        key = os.urandom(4)
        payload = bytes(ch ^ key[i % 4] for i, ch in enumerate(b"slow ping"))
        raw = bytes([0x89, 0x80 | 9]) + key + payload
        for i in range(len(raw)):
            c.send_raw(raw[i:i + 1])
            time.sleep(0.01)
        op, got = c.next_frame((PONG,))
        self.assertEqual(got, b"slow ping")

    def assert_closed_with(self, c, code):
        op, payload = c.next_frame((CLOSE,))
        self.assertEqual(struct.unpack("!H", payload[:2])[0], code, payload)
        self.assertTrue(c.at_eof())

    def test_oversize_frame(self):
        c = self.opened("/ws/events?rate=5")
        # the head alone says too much: closed before the payload comes
        c.send_raw(bytes([0x81, 0x80 | 127]) + struct.pack("!Q", 70000) + os.urandom(4))
        self.assert_closed_with(c, 1009)

    def test_oversize_fragmented_message(self):
        c = self.opened("/ws/events?rate=5")
        c.send_frame(BINARY, b"x" * 40000, fin=False)
        c.send_frame(CONT, b"x" * 40000, fin=True)
        self.assert_closed_with(c, 1009)

    def test_unmasked_frame(self):
        c = self.opened("/ws/events?rate=5")
        c.send_frame(PING, b"x", mask=False)
        self.assert_closed_with(c, 1002)

    def test_protocol_errors(self):
        cases = [
            lambda c: c.send_frame(TEXT, b"x", rsv=0x40),         # RSV1
            lambda c: c.send_frame(3, b"x"),                       # opcode 3
            lambda c: c.send_frame(PING, b"x", fin=False),         # fragmented ping
            lambda c: c.send_frame(PING, b"x" * 126),              # long ping
            lambda c: c.send_frame(CONT, b"x"),                    # nothing to continue
            lambda c: c.send_frame(CLOSE, b"\x03"),                # 1-byte close
            lambda c: c.send_frame(CLOSE, struct.pack("!H", 1005)),
        ]
        for send in cases:
            c = self.opened("/ws/events?rate=5")
            send(c)
            self.assert_closed_with(c, 1002)
        c = self.opened("/ws/events?rate=5")
        c.send_frame(TEXT, b"\xff\xfe")
        self.assert_closed_with(c, 1007)

    def test_client_close_releases_backend(self):
        c = self.opened("/ws/events?rate=5&m=close")
        self.assertEqual(len(c.messages(1)), 1)
        conn = self.origin_reqs("m=close")[0]["conn"]
        c.send_frame(CLOSE, struct.pack("!H", 1000) + b"bye")
        op, payload = c.next_frame((CLOSE,))
        self.assertEqual(struct.unpack("!H", payload[:2])[0], 1000)
        self.assertTrue(c.at_eof())
        wait_for(lambda: [x for x in self.o[0].closes() if x["conn"] == conn],
                 timeout=5, what="backend connection closed")

    def test_client_vanishes_releases_backend(self):
        c = self.opened("/ws/events?rate=5&m=vanish")
        self.assertEqual(len(c.messages(1)), 1)
        conn = self.origin_reqs("m=vanish")[0]["conn"]
        c.close()
        wait_for(lambda: [x for x in self.o[0].closes() if x["conn"] == conn],
                 timeout=5, what="backend connection closed")

    def test_close_without_code(self):
        c = self.opened("/ws/events?rate=5")
        c.send_frame(CLOSE, b"")
        op, payload = c.next_frame((CLOSE,))
        self.assertEqual(payload, b"")
        self.assertTrue(c.at_eof())


@unittest.skipIf(harness.ASYNC == "off",
                 "needs streams that wait without a thread")
class WebSocketWithoutThreadTest(harness.ProxyTestCase):
    """WebSockets wait without a worker thread as event streams do: more
    of them than the child has threads, every one answering pings."""
    threads = 4
    conf = """
AsyncRequestWorkerFactor 200
<Location /ws/events>
    ProxyPass {o1}/events
    SSEProxy On
    SSEProxyWebSocket On
</Location>
"""

    def test_more_websockets_than_threads(self):
        n = 40
        clients = [WSClient(self.httpd.port, "/ws/events?rate=2")
                   for _ in range(n)]
        try:
            self.assertEqual([c.status for c in clients], [101] * n)
            wait_for(lambda: self.o[0].stats()["open_streams"] >= n,
                     timeout=20, what="%d streams open at once" % n)
            for i, c in enumerate(clients):
                c.send_frame(PING, b"%d" % i)
            for i, c in enumerate(clients):
                op, payload = c.next_frame((PONG,))
                self.assertEqual(payload, b"%d" % i)
                self.assertGreaterEqual(len(c.messages(1)), 1)
            for c in clients:
                c.send_frame(CLOSE, struct.pack("!H", 1000))
            for c in clients:
                op, payload = c.next_frame((CLOSE,))
                self.assertEqual(struct.unpack("!H", payload[:2])[0], 1000)
            wait_for(lambda: self.o[0].stats()["open_streams"] == 0,
                     timeout=10, what="backends released")
        finally:
            for c in clients:
                c.close()


class WebSocketRestartTest(harness.ProxyTestCase):
    """A graceful restart ends WebSockets as it ends event streams:
    a close frame saying so and when to come back."""
    conf = """
<Location /ws/events>
    ProxyPass {o1}/events
    SSEProxy On
    SSEProxyWebSocket On
</Location>
"""

    def test_graceful_restart_closes_with_going_away(self):
        clients = [WSClient(self.httpd.port, "/ws/events?rate=5")
                   for _ in range(3)]
        try:
            for c in clients:
                self.assertEqual(c.status, 101)
                c.messages(1)
            self.httpd.graceful()
            for c in clients:
                code, reason, _ = c.until_close(timeout=15)
                self.assertEqual(code, 1001)
                self.assertRegex(reason, r"^shutdown; retry=\d+$")
        finally:
            for c in clients:
                c.close()


class WebSocketTLSTest(harness.ProxyTestCase):
    """wss: the frames go through mod_ssl's filters both ways."""
    conf = """
<Location /ws/events>
    ProxyPass {o1}/events
    SSEProxy On
    SSEProxyHeartbeat 1
    SSEProxyWebSocket On
</Location>
"""

    @classmethod
    def setUpClass(cls):
        cls.work = harness.workdir()
        cls.o = [harness.Origin(cls.work, "origin1")]
        try:
            cls.httpd = harness.Httpd(cls.work, cls.conf.format(o1=cls.o[0].url),
                                      tls=True).start()
        except BaseException:
            cls.o[0].stop()
            raise

    def test_secure_websocket(self):
        c = WSClient(self.httpd.port, "/ws/events?rate=20&lastEventId=2&m=tls",
                     tls=True)
        self.addCleanup(c.close)
        self.assertEqual(c.status, 101, c.headers)
        self.assertEqual(c.headers["sec-websocket-accept"], accept_for(c.key))
        msgs = c.messages(3)
        self.assertEqual([m["id"] for m in msgs], ["3", "4", "5"])
        c.send_frame(TEXT, b"ignored", fin=False)
        c.send_frame(PING, b"tls")
        c.send_frame(CONT, b"!")
        op, payload = c.next_frame((PONG,))
        self.assertEqual(payload, b"tls")
        conn = [q for q in self.o[0].requests() if "m=tls" in q["path"]][0]["conn"]
        c.send_frame(CLOSE, struct.pack("!H", 1000))
        op, payload = c.next_frame((CLOSE,))
        self.assertEqual(struct.unpack("!H", payload[:2])[0], 1000)
        wait_for(lambda: [x for x in self.o[0].closes() if x["conn"] == conn],
                 timeout=5, what="backend connection closed")


if __name__ == "__main__":
    unittest.main(verbosity=2)
