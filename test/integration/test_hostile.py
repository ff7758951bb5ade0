# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""Hostile peers: every case ends bounded, logged, and harms no other
stream."""
import os
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Httpd, Origin, RawClient, data_events, wait_for  # noqa: E402

SSE = {"Accept": "text/event-stream"}


class HostileBackend:
    """A TCP server that misbehaves in one chosen way per connection."""

    def __init__(self, mode):
        self.mode = mode
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stop_flag = threading.Event()
        self.conns = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stop_flag.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._handle, args=(c,), daemon=True).start()

    def _read_head(self, c):
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = c.recv(4096)
            if not data:
                return None
            buf += data
        return buf

    def _handle(self, c):
        try:
            if self.mode == "silent":
                # accepts, reads, never answers
                self._read_head(c)
                self.stop_flag.wait(60)
                return
            if self._read_head(c) is None:
                return
            if self.mode == "garbage":
                c.sendall(os.urandom(4096))
            elif self.mode == "bad-status":
                c.sendall(b"HTTP/9.9 abc nonsense\r\n\r\n")
            elif self.mode == "trickle":
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream"
                          b"\r\nConnection: close\r\n\r\n")
                for b in b"id: 1\ndata: slow\n\n":
                    if self.stop_flag.wait(0.3):
                        return
                    c.sendall(bytes([b]))
                self.stop_flag.wait(30)
        except OSError:
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass

    def stop(self):
        self.stop_flag.set()
        self.sock.close()


class HostileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = harness.workdir()
        cls.origin = Origin(cls.work)
        cls.peers = {m: HostileBackend(m) for m in
                     ("silent", "garbage", "bad-status", "trickle")}
        routes = "".join("""
<Location /{m}>
    ProxyPass http://127.0.0.1:{p}/events timeout=2
    SSEProxy On
    SSEProxyHeartbeat 1
</Location>
""".format(m=m, p=b.port) for m, b in cls.peers.items())
        cls.httpd = Httpd(cls.work, routes + """
<Location /events>
    ProxyPass {o}/events
    SSEProxy On
    SSEProxyHeartbeat 1
</Location>
""".format(o=cls.origin.url), timeout=2, threads=64, servers=2,
                            loglevel="warn sse_proxy:info").start()

    @classmethod
    def tearDownClass(cls):
        cls.httpd.stop()
        cls.origin.stop()
        for b in cls.peers.values():
            b.stop()
        bad = cls.httpd.unexpected_log_lines(allowed=[
            r"SSE000(0[2-7]|1[0-4]|2[0-5]|3\d)", r"AH00957", r"AH01114",
            r"AH00959", r"AH01102", r"AH00898", r"AH01097", r"AH02429",
            r"AH00126", r"AH02430", r"AH00484"])
        harness.remove_workdir(cls.work, keep=bool(bad))
        if bad:
            raise AssertionError("unexpected error-log lines:\n" + "\n".join(bad))

    def setUp(self):
        # a healthy stream runs beside every hostile case
        self.witness = RawClient(self.httpd.port, "/events?rate=20",
                                 headers=SSE)
        self.witness.read_until(lambda b: b.count(b"}\n\n") >= 2)

    def tearDown(self):
        n = self.witness.resp.body.count(b"}\n\n")
        self.witness.read_until(lambda b: b.count(b"}\n\n") >= n + 5)
        self.witness.close()

    def get(self, path, headers=SSE, timeout=15):
        c = RawClient(self.httpd.port, path, headers=headers, timeout=timeout)
        body = c.read_to_end(timeout=timeout)
        c.close()
        return c.resp, body

    def test_10mb_line(self):
        t = time.monotonic()
        resp, body = self.get("/events?count=2&huge=10000000", timeout=30)
        self.assertLess(len(body), 2 * 1024 * 1024)
        self.assertLess(time.monotonic() - t, 20)
        self.assertIn("SSE00020", self.httpd.error_log())

    def test_garbage_and_bad_status(self):
        for path in ("/garbage", "/bad-status"):
            resp, body = self.get(path)
            # treated as a failed member: the client gets the policy's answer
            self.assertEqual(resp.status, 200, path)
            self.assertIn(b"retry:", body)
        self.assertIn("SSE00012", self.httpd.error_log())

    def test_never_answers(self):
        t = time.monotonic()
        resp, body = self.get("/silent", timeout=20)
        self.assertEqual(resp.status, 200)
        self.assertIn(b"retry:", body)
        self.assertLess(time.monotonic() - t, 10)

    def test_trickle(self):
        c = RawClient(self.httpd.port, "/trickle", headers=SSE, timeout=20)
        # bytes pass as they come; heartbeats never land inside the event
        body = c.read_until(lambda b: b"data: slow\n\n" in b, timeout=20)
        c.close()
        self.assertIn(b"id: 1\ndata: slow\n\n", body)

    def test_slow_consumer(self):
        s = socket.create_connection(("127.0.0.1", self.httpd.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b"GET /events?rate=0&size=4000&marker=slow HTTP/1.1\r\n"
                  b"Host: x\r\nAccept: text/event-stream\r\n\r\n")
        # never read: the proxy blocks for Timeout (2 s), then drops it
        req = wait_for(lambda: [q for q in self.origin.requests()
                                if "marker=slow" in q["path"]], timeout=10)[-1]
        wait_for(lambda: [x for x in self.origin.closes()
                          if x["conn"] == req["conn"]], timeout=20,
                 what="slow stream dropped")
        s.close()
        wait_for(lambda: "SSE00025" in self.httpd.error_log(), timeout=5)

    def test_smuggling_is_refused(self):
        s = socket.create_connection(("127.0.0.1", self.httpd.port))
        s.sendall(b"GET /events?marker=smuggle HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"0\r\n\r\nGET /events?marker=smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(5)
        head = s.recv(4096)
        time.sleep(0.5)
        s.close()
        # httpd reads the body as chunked (empty), as RFC 9112 says, and
        # closes the connection after the answer: the bytes after it never
        # become a request, here or at the origin, and the origin is sent
        # one request with an unambiguous empty body
        self.assertRegex(head, rb"^HTTP/1\.1 (200|400) ")
        self.assertRegex(head, rb"(?i)\r\nConnection: [^\r]*close")
        self.assertFalse([q for q in self.origin.requests()
                          if "marker=smuggled" in q["path"]])
        conns = {q["conn"] for q in self.origin.requests()
                 if "marker=smuggle" in q["path"]}
        self.assertFalse([b for b in self.origin.lines("BODY")
                          if b["conn"] in conns and b["bytes"] != "0"])

    def test_header_injection_through_last_event_id(self):
        s = socket.create_connection(("127.0.0.1", self.httpd.port))
        s.sendall(b"GET /events?count=1&marker=inject HTTP/1.1\r\nHost: x\r\n"
                  b"Last-Event-ID: 5\rX-Evil: 1\r\n\r\n")
        s.settimeout(5)
        head = s.recv(4096)
        s.close()
        reqs = [q for q in self.origin.requests() if "marker=inject" in q["path"]]
        # httpd refuses the bare CR, or the value never reaches the origin
        if reqs:
            self.assertNotIn("\r", reqs[-1]["last_event_id"])
            self.assertNotIn("evil", str(reqs[-1]).lower())
        else:
            self.assertRegex(head, rb"^HTTP/1\.1 400")

    def test_zz_thousands_of_connections_dropped(self):
        # last: it fills every worker on purpose (sync relay: one per stream)
        socks = []
        for i in range(1500):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", self.httpd.port))
            except BlockingIOError:
                pass
            socks.append(s)
        time.sleep(0.5)
        for s in socks:
            try:
                s.send(b"GET /events?rate=1 HTTP/1.1\r\nHost: x\r\n"
                       b"Accept: text/event-stream\r\n\r\n")
            except OSError:
                pass
        time.sleep(1)
        for s in socks:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()
        # every backend stream the proxy opened is closed again
        wait_for(lambda: self.origin.stats()["open_streams"] <= 1, timeout=30,
                 what="origin streams closed")
        self.assertIsNone(self.httpd.proc.poll())


if __name__ == "__main__":
    unittest.main(verbosity=2)
