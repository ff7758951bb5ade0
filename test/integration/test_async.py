# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""Streams that wait without a thread: more streams than MaxRequestWorkers
through a deliberately small event MPM, and graceful restart and stop
with hundreds of them open."""
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Httpd, Origin, parse_events  # noqa: E402

SERVERS, THREADS = 2, 8
# The event MPM accepts at most ThreadsPerChild + idle threads x this
# factor connections per child; waiting streams count as connections.
CONF = """
AsyncRequestWorkerFactor 200
# children wait for their connections however long: a stop that ends
# only because every stream ended shows that the streams were ended
GracefulShutdownTimeout 0
ProxyPass /events {origin}/events
<Location /events>
    SSEProxy On
    SSEProxyHeartbeat 1
</Location>
"""


def dechunk(raw):
    """(body, complete) of a chunked body."""
    body, pos = b"", 0
    while True:
        end = raw.find(b"\r\n", pos)
        if end < 0:
            return body, False
        size = int(raw[pos:end].split(b";")[0], 16)
        if size == 0:
            return body, True
        body += raw[end + 2:end + 2 + size]
        pos = end + 2 + size + 2


class Fleet:
    """Many raw HTTP/1.1 stream clients on one selector; remembers which
    connections the server closed."""

    def __init__(self, port, path, n):
        self.sel = selectors.DefaultSelector()
        self.raw = {}
        self.closed = set()
        request = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   "Accept: text/event-stream\r\n\r\n" % path).encode()
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port), 10)
            s.setblocking(False)
            s.sendall(request)
            self.raw[s] = b""
            self.sel.register(s, selectors.EVENT_READ)

    def pump(self, until, timeout, close_at_eof=False):
        """Reads until until(self) holds; False on timeout.  close_at_eof
        closes each connection as soon as the server's FIN arrives, as a
        browser does."""
        deadline = time.monotonic() + timeout
        while not until(self):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            for key, _ in self.sel.select(min(left, 0.5)):
                try:
                    data = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                except ConnectionResetError:
                    data = b""
                if data:
                    self.raw[key.fileobj] += data
                else:
                    self.sel.unregister(key.fileobj)
                    self.closed.add(key.fileobj)
                    if close_at_eof:
                        key.fileobj.close()
        return True

    def responses(self):
        """(status, body, complete) of each stream."""
        out = []
        for raw in self.raw.values():
            head, _, rest = raw.partition(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1]) if head else 0
            body, complete = dechunk(rest)
            out.append((status, body, complete))
        return out

    def all(self, pred):
        return all(pred(raw) for raw in self.raw.values())

    def close(self):
        for s in self.raw:
            s.close()
        self.sel.close()


def ids(body):
    return [int(e["id"]) for e in parse_events(body) if "id" in e]


def child_pids(httpd):
    out = subprocess.run(["pgrep", "-P", str(httpd.proc.pid)],
                         capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def threads_of(pids):
    return sum(len(os.listdir("/proc/%d/task" % p)) for p in pids
               if os.path.isdir("/proc/%d" % p))


@unittest.skipIf(harness.ASYNC == "off",
                 "needs streams that wait without a thread")
class AsyncBase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.work = harness.workdir()
        cls.origin = Origin(cls.work)
        cls.httpd = Httpd(cls.work, CONF.format(origin=cls.origin.url),
                          servers=SERVERS, threads=THREADS).start()

    @classmethod
    def tearDownClass(cls):
        cls.httpd.stop()
        cls.origin.stop()
        bad = cls.httpd.unexpected_log_lines()
        harness.remove_workdir(cls.work, keep=bool(bad))
        if bad:
            raise AssertionError("unexpected error-log lines:\n"
                                 + "\n".join(bad))


class ManyStreamsTest(AsyncBase):
    def test_more_streams_than_workers_get_every_event(self):
        n, count = 1000, 12
        self.assertGreater(n, SERVERS * THREADS)
        fleet = Fleet(self.httpd.port, "/events?rate=2&count=%d" % count, n)
        try:
            # all open at once, on 2 x 8 worker threads
            deadline = time.monotonic() + 20
            while self.origin.stats()["open_streams"] < n:
                self.assertLess(time.monotonic(), deadline,
                                "%d streams never open at once" % n)
                fleet.pump(lambda f: False, 0.3)
            self.assertLess(threads_of(child_pids(self.httpd)), 2 * 40,
                            "children hold a thread per stream")
            done = fleet.pump(lambda f: f.all(lambda r: r.endswith(
                b"\r\n0\r\n\r\n")), timeout=60)
            resps = fleet.responses()
        finally:
            fleet.close()
        self.assertTrue(done, "not every stream ended in time")
        bad = [(s, ids(b)) for s, b, c in resps
               if s != 200 or not c or ids(b) != list(range(1, count + 1))]
        self.assertEqual(bad[:3], [], "%d of %d streams lost events"
                         % (len(bad), n))


class GracefulManyTest(AsyncBase):
    def check_clean_ends(self, fleet):
        self.assertTrue(fleet.pump(lambda f: f.all(lambda r: r.endswith(
            b"\r\n0\r\n\r\n")), timeout=15), "streams did not end")
        for status, body, complete in fleet.responses():
            self.assertEqual((status, complete), (200, True))
            self.assertGreaterEqual(len(ids(body)), 2)
            tail = body.rsplit(b"}\n\n", 1)[1]
            self.assertRegex(tail, rb"retry: \d+\n")

    def open_fleet(self, n):
        fleet = Fleet(self.httpd.port, "/events?rate=4", n)
        self.assertTrue(fleet.pump(lambda f: f.all(
            lambda r: r.count(b"\nid: ") >= 2), timeout=30),
            "streams did not start")
        return fleet

    def test_1_restart_ends_every_stream_cleanly(self):
        n = 400
        fleet = self.open_fleet(n)
        try:
            self.httpd.graceful()
            self.check_clean_ends(fleet)
        finally:
            fleet.close()
        # the new generation serves streams
        again = Fleet(self.httpd.port, "/events?count=2", 20)
        try:
            self.assertTrue(again.pump(lambda f: f.all(lambda r: r.endswith(
                b"\r\n0\r\n\r\n")), timeout=20))
            self.assertTrue(all(ids(b) == [1, 2]
                                for _, b, _ in again.responses()))
        finally:
            again.close()

    def test_2_stop_ends_every_stream_cleanly(self):
        n = 400
        fleet = self.open_fleet(n)
        try:
            os.kill(self.httpd.proc.pid, signal.SIGWINCH)
            self.check_clean_ends(fleet)
            # without GracefulShutdownTimeout, only the end of every
            # stream and connection lets the children exit
            self.httpd.proc.wait(60)
        finally:
            fleet.close()


class FallbackTest(unittest.TestCase):
    """The worker MPM cannot suspend requests: streams keep their thread,
    work as usual, and the log says why, once."""

    def test_worker_mpm_relays_synchronously(self):
        work = harness.workdir()
        origin = Origin(work)
        httpd = Httpd(work, """
ProxyPass /events {origin}/events
<Location /events>
    SSEProxy On
</Location>
""".format(origin=origin.url), loglevel="notice", mpm="worker").start()
        try:
            fleet = Fleet(httpd.port, "/events?rate=20&count=3", 5)
            try:
                self.assertTrue(fleet.pump(lambda f: f.all(lambda r: r.endswith(
                    b"\r\n0\r\n\r\n")), timeout=20))
                self.assertTrue(all(s == 200 and ids(b) == [1, 2, 3]
                                    for s, b, _ in fleet.responses()))
            finally:
                fleet.close()
        finally:
            httpd.stop()
            origin.stop()
        log = httpd.error_log()
        harness.remove_workdir(work)
        if harness.ASYNC == "on":
            self.assertEqual(log.count("SSE00051"), 1, log[-2000:])
            self.assertIn("worker MPM cannot suspend", log)
        else:
            self.assertNotIn("SSE00051", log)


class BusynessTest(unittest.TestCase):
    """lbmethod=bybusyness sees streams that wait without a thread: mod_proxy_balancer
    counts a request busy until its pool goes, which is when its stream
    ends, not when the handler returns."""

    def test_waiting_streams_count_as_busy(self):
        work = harness.workdir()
        origins = [Origin(work, "b%d" % i) for i in (1, 2)]
        httpd = Httpd(work, """
<Proxy balancer://b>
    BalancerMember {o1}
    BalancerMember {o2}
    ProxySet lbmethod=bybusyness
</Proxy>
ProxyPass /events balancer://b/events
<Location /events>
    SSEProxy On
</Location>
<Location /manager>
    SetHandler balancer-manager
</Location>
""".format(o1=origins[0].url, o2=origins[1].url),
                      extra_modules=[("lbmethod_bybusyness_module",
                                      "mod_lbmethod_bybusyness.so")]).start()
        try:
            fleet = Fleet(httpd.port, "/events?rate=2", 20)
            try:
                self.assertTrue(fleet.pump(lambda f: f.all(
                    lambda r: r.count(b"\nid: ") >= 2), timeout=20))
                c = harness.RawClient(httpd.port, "/manager")
                page = c.read_to_end().decode()
                c.close()
                # Status, Elected, Busy
                busy = sorted(int(b) for b in re.findall(
                    r"<td>Init Ok\s*</td><td>\d+</td><td>(\d+)</td>", page))
            finally:
                fleet.close()
        finally:
            httpd.stop()
            for o in origins:
                o.stop()
        harness.remove_workdir(work)
        self.assertEqual(busy, [10, 10], page[:3000])


if __name__ == "__main__":
    unittest.main(verbosity=2)
