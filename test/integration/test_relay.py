# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""The relay: real httpd (event MPM) + mod_sse_proxy + real origins."""
import json
import os
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Httpd, Origin, RawClient, wait_for  # noqa: E402
from harness import data_events, parse_events  # noqa: E402

ROUTES = """
ProxyPass /events {origin}/events
ProxyPass /stream {origin}/stream
ProxyPass /api {origin}/api
ProxyPass /health {origin}/health
<Location /events>
    SSEProxy On
    SSEProxyHeartbeat {heartbeat}
    SSEProxyMaxEventSize {max_event}
</Location>
<Location /stream>
    SSEProxy On
</Location>
AddOutputFilterByType DEFLATE text/event-stream text/plain application/json
"""


class RelayTest(unittest.TestCase):
    heartbeat = 1
    timeout = 2
    max_event = "64K"

    @classmethod
    def setUpClass(cls):
        cls.work = harness.workdir()
        cls.origin = Origin(cls.work)
        cls.httpd = Httpd(cls.work, ROUTES.format(
            origin=cls.origin.url, heartbeat=cls.heartbeat,
            max_event=cls.max_event), timeout=cls.timeout).start()

    @classmethod
    def tearDownClass(cls):
        cls.httpd.stop()
        cls.origin.stop()
        bad = cls.httpd.unexpected_log_lines(allowed=[r"SSE00020", r"SSE00010"])
        harness.remove_workdir(cls.work, keep=bool(bad))
        if bad:
            raise AssertionError("unexpected error-log lines:\n" + "\n".join(bad))

    def client(self, path, **kw):
        return RawClient(self.httpd.port, path, **kw)

    # 1. SSE routes answer 200 text/event-stream; /api is mod_proxy_http's
    def test_routes(self):
        for path in ("/events?count=2", "/stream?count=2"):
            c = self.client(path, headers={"Accept": "text/event-stream"})
            self.assertEqual(c.resp.status, 200, path)
            self.assertTrue(c.resp.headers["content-type"].startswith(
                "text/event-stream"), path)
            body = c.read_to_end()
            self.assertEqual([e["id"] for e in data_events(body)], ["1", "2"])
            c.close()
        # /api: plain JSON through mod_proxy_http, untouched by the module
        c = self.client("/api/events?count=1&type=application/json")
        self.assertEqual(c.resp.status, 200)
        self.assertNotIn("x-accel-buffering", c.resp.headers)
        c.read_to_end()
        c.close()
        c = self.client("/health")
        self.assertEqual(c.read_to_end(), b"ok\n")
        c.close()

    # 2. headers, chunked, no Content-Length, never compressed
    def test_headers_not_compressed(self):
        c = self.client("/events?count=3&size=2000",
                        headers={"Accept-Encoding": "gzip, deflate, br"})
        h = c.resp.headers
        self.assertEqual(c.resp.status, 200)
        self.assertTrue(h["content-type"].startswith("text/event-stream"))
        self.assertEqual(h.get("cache-control"), "no-cache")
        self.assertEqual(h.get("x-accel-buffering"), "no")
        self.assertEqual(h.get("transfer-encoding"), "chunked")
        self.assertNotIn("content-length", h)
        self.assertNotIn("content-encoding", h)
        body = c.read_to_end()
        self.assertTrue(c.resp.complete)
        self.assertEqual(len(data_events(body)), 3)
        c.close()
        # the backend was not asked for compression either
        req = [q for q in self.origin.requests() if "size=2000" in q["path"]][-1]
        self.assertEqual(req["accept_encoding"], "-")
        self.assertEqual(req["accept"], "text/event-stream")
        # mod_deflate is active for other types: the check above is real
        c = self.client("/api/stats", headers={"Accept-Encoding": "gzip"})
        c.read_to_end()
        c.close()

    # 3. unbuffered: event 1 arrives before event 2 is even sent
    def test_unbuffered(self):
        c = self.client("/events?count=2&gap_after=1&gap_ms=700")
        c.read_until(lambda b: b.count(b"}\n\n") >= 1)
        first_arrival = harness.monotonic_ns()
        c.read_until(lambda b: b.count(b"}\n\n") >= 2)
        events = data_events(c.resp.body)
        sent2 = json.loads(events[1]["data"])["t"]
        self.assertLess(first_arrival, sent2,
                        "event 1 arrived only after event 2 was sent")
        # and each event came as its own chunk
        self.assertGreaterEqual(len(c.resp.chunks), 2)
        c.close()

    # 4. heartbeat during silence, never inside an event; a stream silent
    #    for three times Timeout survives
    def test_heartbeat_and_long_silence(self):
        silence_ms = self.timeout * 3 * 1000 + 500
        c = self.client("/events?count=2&gap_after=1&gap_ms=%d" % silence_ms,
                        timeout=silence_ms / 1000 + 10)
        body = c.read_to_end(timeout=silence_ms / 1000 + 10)
        self.assertTrue(c.resp.complete)
        events = parse_events(body)
        data_events = [e for e in events if "data" in e]
        self.assertEqual([e["id"] for e in data_events], ["1", "2"])
        heartbeats = [e for e in events if ":" in e and "data" not in e]
        self.assertGreaterEqual(len(heartbeats), 3)
        # no event carries a comment in its middle
        for e in data_events:
            self.assertNotIn(":", e)
        c.close()

    # 5. Last-Event-ID reaches the origin; a malformed one does not
    def test_last_event_id(self):
        c = self.client("/events?count=43", headers={"Last-Event-ID": "41"})
        events = data_events(c.read_to_end())
        self.assertEqual([e["id"] for e in events], ["42", "43"])
        c.close()
        req = self.origin.requests()[-1]
        self.assertEqual(req["last_event_id"], "41")

        long_id = "7" * 1100
        c = self.client("/events?count=1&marker=long",
                        headers={"Last-Event-ID": long_id})
        events = data_events(c.read_to_end())
        self.assertEqual([e["id"] for e in events], ["1"])
        c.close()
        req = [q for q in self.origin.requests() if "marker=long" in q["path"]][-1]
        self.assertEqual(req["last_event_id"], "-")
        self.assertIn("SSE00010", self.httpd.error_log())

    # 6. a client leaving during backend silence is noticed at once
    def test_client_gone_while_silent(self):
        c = self.client("/events?count=2&gap_after=1&gap_ms=60000&marker=gone")
        c.read_until(lambda b: b"id: 1" in b)
        wait_for(lambda: [q for q in self.origin.requests()
                          if "marker=gone" in q["path"]], what="request")
        req = [q for q in self.origin.requests() if "marker=gone" in q["path"]][-1]
        left = time.monotonic()
        c.close()

        def closed():
            return [x for x in self.origin.closes()
                    if x["conn"] == req["conn"] and x["by"] == "peer"]
        wait_for(closed, timeout=self.heartbeat + 2, what="origin to see close")
        self.assertLess(time.monotonic() - left, self.heartbeat + 2)

    # 7. HEAD: SSE headers, no body
    def test_head(self):
        c = self.client("/events", method="HEAD")
        self.assertEqual(c.resp.status, 200)
        self.assertTrue(c.resp.headers["content-type"].startswith(
            "text/event-stream"))
        self.assertEqual(c.resp.headers.get("cache-control"), "no-cache")
        self.assertNotIn("content-length", c.resp.headers)
        c.sock.settimeout(1)
        try:
            extra = c.sock.recv(100)
        except socket.timeout:
            extra = b""
        self.assertEqual(extra, b"")
        c.close()

    # 8. HTTP/2 (h2c): events arrive unbuffered
    def test_http2_unbuffered(self):
        url = "%s/events?count=2&gap_after=1&gap_ms=1500" % self.httpd.url
        proc = subprocess.Popen(
            ["curl", "-sN", "--http2-prior-knowledge", "-D", "-", url],
            stdout=subprocess.PIPE)
        try:
            got = b""
            while b"id: 1" not in got:
                chunk = proc.stdout.read1(4096)
                if not chunk:
                    break
                got += chunk
            first_arrival = harness.monotonic_ns()
            rest = proc.stdout.read()
        finally:
            proc.wait(10)
            proc.stdout.close()
        text = (got + rest).decode()
        self.assertIn("HTTP/2 200", text)
        self.assertIn("content-type: text/event-stream", text.lower())
        events = data_events((got + rest).split(b"\r\n\r\n", 1)[1])
        self.assertEqual([e["id"] for e in events], ["1", "2"])
        self.assertLess(first_arrival, json.loads(events[1]["data"])["t"])

    # 9. an oversized event ends that stream; another keeps flowing
    def test_oversized_event(self):
        other = self.client("/events?rate=20&count=40")
        big = self.client("/events?count=3&huge=200000&huge_at=2")
        body = big.read_to_end()
        self.assertTrue(big.resp.complete, "stream must end cleanly")
        ids = [e.get("id") for e in parse_events(body) if "data" in e]
        self.assertEqual(ids[:1], ["1"])
        self.assertNotIn("3", ids)
        self.assertLess(len(body), 150000)
        big.close()
        events = data_events(other.read_to_end())
        self.assertEqual(len(events), 40)
        other.close()
        self.assertIn("SSE00020", self.httpd.error_log())


class DirectiveTest(unittest.TestCase):
    """10. every directive's bad arguments are refused by httpd -t."""

    BAD = [
        ("SSEProxy maybe", "SSEProxy"),
        ("SSEProxy", "SSEProxy"),
        ("SSEProxyHeartbeat 0", "SSEProxyHeartbeat"),
        ("SSEProxyHeartbeat -5", "SSEProxyHeartbeat"),
        ("SSEProxyHeartbeat 15s", "SSEProxyHeartbeat"),
        ("SSEProxyHeartbeat 99999999999", "SSEProxyHeartbeat"),
        ("SSEProxyIdleTimeout never", "SSEProxyIdleTimeout"),
        ("SSEProxyIdleTimeout 0", "SSEProxyIdleTimeout"),
        ("SSEProxyMaxEventSize 10", "SSEProxyMaxEventSize"),
        ("SSEProxyMaxEventSize 5X", "SSEProxyMaxEventSize"),
        ("SSEProxyMaxEventSize 2G", "SSEProxyMaxEventSize"),
        ("SSEProxyMaxEventSize 9999999999G", "SSEProxyMaxEventSize"),
        ("SSEProxyMaxEventSize", "SSEProxyMaxEventSize"),
    ]

    def test_bad_arguments(self):
        work = harness.workdir()
        try:
            for line, name in self.BAD:
                h = Httpd(work, "<Location /x>\n%s\n</Location>\n" % line)
                rc, out = h.check_config()
                self.assertNotEqual(rc, 0, line)
                self.assertIn(name, out, line)
            good = Httpd(work, "<Location /x>\nSSEProxy on\nSSEProxyHeartbeat off\n"
                               "SSEProxyIdleTimeout 3600\nSSEProxyMaxEventSize 4M\n"
                               "</Location>\n")
            rc, out = good.check_config()
            self.assertEqual(rc, 0, out)
        finally:
            harness.remove_workdir(work)


if __name__ == "__main__":
    unittest.main(verbosity=2)
