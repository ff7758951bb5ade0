# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""How long a finished stream's connection is held (streams that waited
without a thread: the module, not the MPM, closes their connections).

A connection whose client has already gone is closed at once, without a
lingering close; one whose stream ended for another reason gets its FIN
(the write side shut down) and is closed as soon as the client's own
close arrives; only a client that keeps its socket open after the end
holds it, for the linger's two seconds at most.  The module's debug
line SSE00102 says, for each connection, when and why it was closed: the
tests count those lines, not time.
"""
import os
import re
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Httpd, Origin, wait_for  # noqa: E402
from test_async import Fleet  # noqa: E402

N = 200
CONF = """
AsyncRequestWorkerFactor 200
ProxyPass /events {origin}/events
<Location /events>
    SSEProxy On
</Location>
"""
GONE = "closed at once: the client is gone"
CLIENT_CLOSED = "closed on the client's close"
TIMED_OUT = "closed after the linger: the client kept it open"


@unittest.skipIf(harness.ASYNC != "on", "streams keep their thread")
class LingerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = harness.workdir()
        cls.origin = Origin(cls.work)
        cls.httpd = Httpd(cls.work, CONF.format(origin=cls.origin.url),
                          servers=2, threads=16,
                          loglevel="warn sse_proxy:debug").start()

    @classmethod
    def tearDownClass(cls):
        cls.httpd.stop()
        cls.origin.stop()
        # 200 connections opened, and later ended, in one burst on 32
        # workers: on a slow build (the sanitizers) beside other tests,
        # every worker can be busy at the parent's once-a-second look
        bad = cls.httpd.unexpected_log_lines(allowed=[r"AH00484"])
        harness.remove_workdir(cls.work, keep=bool(bad))
        if bad:
            raise AssertionError("unexpected error-log lines:\n"
                                 + "\n".join(bad))

    def reasons(self):
        """How many connections were closed for each reason so far."""
        out = {}
        for m in re.finditer(r"SSE00102: connection \d+ (closed .*)",
                             self.httpd.error_log()):
            out[m.group(1)] = out.get(m.group(1), 0) + 1
        return out

    def closed_since(self, before, reason, n):
        """Waits until n more connections were closed for reason than in
        before; returns the counts added since before."""
        def enough():
            return self.reasons().get(reason, 0) - before.get(reason, 0) >= n
        wait_for(enough, timeout=30, what="%d connections %s" % (n, reason))
        now = self.reasons()
        return {k: v - before.get(k, 0) for k, v in now.items()
                if v != before.get(k, 0)}

    def test_client_gone_is_closed_at_once(self):
        before = self.reasons()
        fleet = Fleet(self.httpd.port, "/events?rate=1", N)
        try:
            self.assertTrue(fleet.pump(lambda f: f.all(
                lambda r: b"\nid: " in r), 60), "streams did not start")
            # Every client leaves mid-stream: its FIN.  Each keeps reading,
            # so that writes to it would still succeed, as they do over a
            # real network until the client's RST comes back.
            for s in fleet.raw:
                s.shutdown(socket.SHUT_WR)
            self.assertTrue(fleet.pump(lambda f: not f.sel.get_map(), 60,
                                       close_at_eof=True),
                            "the server did not close every connection")
        finally:
            fleet.close()
        self.assertEqual(self.closed_since(before, GONE, N), {GONE: N})

    def test_ended_stream_closed_on_the_clients_close(self):
        before = self.reasons()
        # the first event comes late enough for the stream to wait
        # without a thread first
        fleet = Fleet(self.httpd.port, "/events?count=1&first_delay_ms=300",
                      N)
        try:
            # each client reads its stream to the end and to the server's
            # FIN, then closes
            self.assertTrue(fleet.pump(lambda f: not f.sel.get_map(), 60,
                                       close_at_eof=True),
                            "the server did not end every connection")
            self.assertTrue(all(s == 200 and complete
                                for s, _, complete in fleet.responses()))
        finally:
            fleet.close()
        self.assertEqual(self.closed_since(before, CLIENT_CLOSED, N),
                         {CLIENT_CLOSED: N})

    def test_client_that_stays_is_closed_after_the_linger(self):
        before = self.reasons()
        s = socket.create_connection(("127.0.0.1", self.httpd.port), 10)
        try:
            s.sendall(b"GET /events?count=1&first_delay_ms=300 HTTP/1.1\r\n"
                      b"Host: x\r\nAccept: text/event-stream\r\n\r\n")
            s.settimeout(10)
            raw = b""
            while True:   # the whole answer, then the server's FIN
                data = s.recv(65536)
                if not data:
                    break
                raw += data
            self.assertTrue(raw.endswith(b"\r\n0\r\n\r\n"))
            # the socket stays open on this side
            self.assertEqual(self.closed_since(before, TIMED_OUT, 1),
                             {TIMED_OUT: 1})
        finally:
            s.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
